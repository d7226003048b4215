"""Data loaders: FSDD on the project's copy, Heidelberg Digits on tiny files written here."""

import io
import zipfile

import numpy as np
import pandas as pd
import pytest
import soundfile
import torch

from imssa.data import audio as D
from imssa.data import sources as S
from imssa.study.params import DataConfig


def test_fsdd_official_split(fsdd_root):
    s = D.load_dataset(
        DataConfig(split="official", sample_rate=4000, duration_s=0.5, val_fraction=0.1), fsdd_root
    )
    assert (len(s.train), len(s.val), len(s.test)) == (486, 54, 60)
    assert s.test.meta["index"].max() == 4 and s.train.meta["index"].min() == 5
    assert s.train.x.shape == (486, 2000) and s.train.x.dtype.is_floating_point
    assert s.test.y.sum().item() == 30  # balanced: 30 "one" clips
    assert set(s.train.meta["file"]).isdisjoint(s.val.meta["file"])


def test_loso_folds_hold_out_test_and_validation_speakers(fsdd_root):
    tested, validated = [], []
    for fold in range(6):
        s = D.load_dataset(DataConfig(fold=fold, sample_rate=1000, duration_s=0.1), fsdd_root)
        test, val, train = (set(part.meta["speaker"]) for part in (s.test, s.val, s.train))
        assert len(test) == len(val) == 1 and len(train) == 4 and not (test | val) & train
        assert (len(s.train), len(s.val), len(s.test)) == (400, 100, 100)
        assert int(s.test.y.sum()) == 50  # 50 "one" clips of the test speaker
        tested += test
        validated += val
    assert sorted(tested) == sorted(validated) == sorted(set(tested)) and len(tested) == 6
    assert D.loso_speakers(["b", "a", "c"], 2) == ("c", "a")
    with pytest.raises(ValueError, match="fold 6 out of range"):
        D.load_dataset(DataConfig(fold=6, duration_s=0.1), fsdd_root)
    with pytest.raises(ValueError, match="at least 3 speakers"):
        D.loso_speakers(["a", "b"], 0)


def test_fsdd_leave_speakers_out_and_seeded_validation(fsdd_root):
    cfg = DataConfig(
        digits=[3, 7], split="leave_speakers_out", test_speakers=["theo"], duration_s=0.2
    )
    s = D.load_dataset(cfg, fsdd_root)
    assert set(s.test.meta["speaker"]) == {"theo"} and "theo" not in set(s.train.meta["speaker"])
    assert sorted(set(s.test.meta["digit"])) == [3, 7]
    again = D.load_dataset(cfg, fsdd_root)
    other = D.load_dataset(cfg.model_copy(update={"seed": 1}), fsdd_root)
    assert list(again.val.meta["file"]) == list(s.val.meta["file"])
    assert list(other.val.meta["file"]) != list(s.val.meta["file"])
    with pytest.raises(ValueError, match="not in the data"):
        D.load_dataset(cfg.model_copy(update={"test_speakers": ["nobody"]}), fsdd_root)
    by_speaker = D.load_dataset(cfg.model_copy(update={"val_speakers": ["lucas"]}), fsdd_root)
    assert set(by_speaker.val.meta["speaker"]) == {"lucas"} and "lucas" not in set(
        by_speaker.train.meta["speaker"]
    )


def test_fsdd_copy_matches_manifest(fsdd_root):
    assert S.fsdd_manifest_digest(fsdd_root / "fsdd" / "recordings") == S.FSDD_MANIFEST_SHA256


def test_resampling_keeps_frequency_and_length(tmp_path):
    t = np.arange(8000) / 8000
    soundfile.write(tmp_path / "tone.wav", 0.5 * np.sin(2 * np.pi * 440 * t), 8000)
    x = D.read_audio(tmp_path / "tone.wav", sample_rate=4000, duration_s=1.5, normalize="peak")
    assert x.shape == (6000,) and np.all(x[4000:] == 0)  # 1 s of tone, zero padding after
    spectrum = np.abs(np.fft.rfft(x[:4000]))
    assert abs(np.argmax(spectrum) * 4000 / 4000 - 440) <= 1
    assert np.isclose(np.abs(x).max(), 1.0, atol=1e-3)
    rms = D.read_audio(tmp_path / "tone.wav", sample_rate=8000, duration_s=0.5, normalize="rms")
    assert rms.shape == (4000,) and np.isclose(np.sqrt(np.mean(rms**2)), 1.0, rtol=1e-3)


def test_read_audio_is_memoised_by_content(tmp_path):
    """A second read of the same file comes from the memo with the same samples; a file written
    again with other samples of the same length is decoded again."""
    path = tmp_path / "tone.wav"
    t = np.arange(4000) / 8000
    soundfile.write(path, 0.5 * np.sin(2 * np.pi * 440 * t), 8000)
    first = D.read_audio(path, 2000, 0.5, "none")
    hits = D._decoded.cache_info().hits
    again = D.read_audio(path, 2000, 0.5, "none")
    assert D._decoded.cache_info().hits == hits + 1 and again.tobytes() == first.tobytes()
    assert not again.flags.writeable  # shared: a caller cannot change what the next one reads
    soundfile.write(path, 0.5 * np.sin(2 * np.pi * 220 * t), 8000)  # same size, other samples
    changed = D.read_audio(path, 2000, 0.5, "none")
    assert changed.shape == first.shape and not np.array_equal(changed, first)


def test_corrupt_audio_names_the_file(tmp_path):
    bad = tmp_path / "0_bob_0.wav"
    bad.write_bytes(b"RIFF not really a wave file")
    with pytest.raises(S.AudioError, match=r"0_bob_0\.wav"):
        D.read_audio(bad, 8000, 1.0, "none")


def test_missing_data_is_one_clear_message(tmp_path, monkeypatch):
    monkeypatch.delenv("IMSSA_DATA_DIR", raising=False)
    with pytest.raises(S.DataMissingError, match="IMSSA_DATA_DIR"):
        S.fsdd_dir(tmp_path, download=False)

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(S.urllib.request, "urlopen", offline)
    with pytest.raises(S.DataMissingError, match=S.FSDD_COMMIT) as err:
        D.load_dataset(DataConfig(), tmp_path)
    assert "network unreachable" in str(err.value) and "IMSSA_DATA_DIR" in str(err.value)


def test_download_rejects_archive_that_fails_the_checksum(tmp_path, monkeypatch):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("fsdd-x/recordings/0_bob_0.wav", b"not the real data")

    class Response(io.BytesIO):
        headers = {"Content-Length": str(len(buf.getvalue()))}

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(S.urllib.request, "urlopen", lambda *a, **k: Response(buf.getvalue()))
    with pytest.raises(S.DataMissingError, match="checksum mismatch"):
        S.download_fsdd(tmp_path)
    assert not (tmp_path / "fsdd" / "recordings").exists()


def test_data_root_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("IMSSA_DATA_DIR", str(tmp_path / "env"))
    assert S.data_root(tmp_path / "arg") == tmp_path / "arg"
    assert S.data_root() == tmp_path / "env"
    monkeypatch.delenv("IMSSA_DATA_DIR")
    assert S.data_root().name == "data"


def write_heidelberg(root, rate=48000):
    """A tiny Heidelberg Digits tree in the published layout: audio/*.flac + two file lists."""
    (root / "audio").mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = {"train": [], "test": []}
    for lang in ("english", "german"):
        for speaker, part in ((0, "train"), (1, "train"), (4, "test")):
            for digit in (0, 1, 2):
                name = f"lang-{lang}_speaker-{speaker:02d}_trial-{digit}_digit-{digit}.flac"
                soundfile.write(root / "audio" / name, 0.1 * rng.standard_normal(rate // 10), rate)
                names[part].append(name)
    for part, files in names.items():
        (root / f"{part}_filenames.txt").write_text("\n".join(files) + "\n")


def test_heidelberg_layout_official_split(tmp_path):
    write_heidelberg(tmp_path / "heidelberg")
    cfg = DataConfig(
        dataset="heidelberg",
        split="official",
        digits=[0, 1],
        sample_rate=8000,
        duration_s=0.2,
        val_fraction=0.5,
    )
    s = D.load_dataset(cfg, tmp_path)
    assert len(s.test) == 2 and set(s.test.meta["speaker"]) == {"04"}
    assert len(s.train) + len(s.val) == 4 and len(s.val) == 2
    assert s.train.x.shape[1] == 1600 and set(s.train.meta["language"]) == {"english"}
    both = D.load_dataset(
        cfg.model_copy(update={"language": "both", "val_fraction": 0.0}), tmp_path
    )
    assert len(both.test) == 4 and len(both.val) == 0 and both.val.x.shape == (0, 1600)
    # HD's classes: digit x language
    german = torch.tensor((both.test.meta["language"] == "german").to_numpy())
    assert both.test.y[german].tolist() == [2, 3] and both.test.y[~german].tolist() == [0, 1]
    assert cfg.n_classes == 2 and cfg.model_copy(update={"language": "both"}).n_classes == 4


def test_heidelberg_leave_one_speaker_out(tmp_path):
    write_heidelberg(tmp_path / "heidelberg")
    cfg = DataConfig(dataset="heidelberg", digits=[0, 1], sample_rate=8000, duration_s=0.2, fold=2)
    s = D.load_dataset(cfg, tmp_path)  # speakers 00, 01, 04: fold 2 tests 04, validates on 00
    assert set(s.test.meta["speaker"]) == {"04"} and set(s.val.meta["speaker"]) == {"00"}
    assert set(s.train.meta["speaker"]) == {"01"}


def test_heidelberg_missing_and_misnamed(tmp_path):
    with pytest.raises(S.DataMissingError, match=r"train_filenames\.txt"):
        S.list_heidelberg(tmp_path / "heidelberg")
    write_heidelberg(tmp_path / "heidelberg")
    (tmp_path / "heidelberg" / "test_filenames.txt").write_text("speaker4_digit1.wav\n")
    with pytest.raises(S.AudioError, match=r"speaker4_digit1\.wav"):
        S.list_heidelberg(tmp_path / "heidelberg")


def test_fold_table_lists_every_fold(fsdd_root):
    table = D.fold_table(DataConfig(digits=[0, 1]), fsdd_root)
    assert len(table) == 6 and list(table["fold"]) == list(range(6))
    assert (table["test_clips"] == 100).all() and (table["train_clips"] == 400).all()
    assert set(table["test_speaker"]) == set(table["val_speaker"])
    for row in table.itertuples():
        assert (
            row.test_speaker not in row.train_speakers and row.val_speaker not in row.train_speakers
        )


def test_order_task_holds_every_pair_in_both_orders_and_speakers_apart(fsdd_root):
    cfg = DataConfig(
        task="order", fold=2, sample_rate=1000, duration_s=0.3, gap_s=0.02, pairs_per_clip=2
    )
    s = D.load_dataset(cfg, fsdd_root)
    assert cfg.length == 2 * 300 + 3 * 20 and s.train.x.shape == (800, 660) and cfg.n_classes == 2
    assert (len(s.val), len(s.test)) == (200, 200)  # 50 clips x 2 partners x 2 orders per speaker
    for part in (s.train, s.val, s.test):
        m = part.meta
        assert int(part.y.sum()) == len(part) // 2
        forward = set(
            zip(m.loc[m["order"] == 0, "file"], m.loc[m["order"] == 0, "file_2"], strict=True)
        )
        backward = set(
            zip(m.loc[m["order"] == 1, "file_2"], m.loc[m["order"] == 1, "file"], strict=True)
        )
        assert forward == backward and len(forward) == len(part) // 2  # each pair once per order
        assert m["clip"].is_unique
        first = m.loc[m["order"] == 0, "file"].map(lambda f: f.name[0])
        assert (first == "0").all()  # order 0: the zero first
    test, val, train = (set(p.meta["speaker"]) for p in (s.test, s.val, s.train))
    assert len(test) == len(val) == 1 and not (test | val) & train and len(train) == 4
    # the sequence: gap, word, gap, word, gap
    m, x = s.test.meta, s.test.x[0].numpy()
    word = D.read_audio(m["file"][0], 1000, 0.3, "rms")
    second = D.read_audio(m["file_2"][0], 1000, 0.3, "rms")
    assert np.array_equal(x[20:320], word) and np.array_equal(x[340:640], second)
    assert not x[:20].any() and not x[320:340].any() and not x[640:].any()


def test_order_task_options_are_checked():
    with pytest.raises(ValueError, match="pairs two FSDD digits"):
        DataConfig(task="order", digits=[0, 1, 2])
    with pytest.raises(ValueError, match="belong to task 'order'"):
        DataConfig(gap_s=0.1)
    one_speaker = pd.DataFrame(
        {"file": ["a", "b"], "digit": [0, 1], "speaker": ["s", "s"], "index": [0, 1]}
    )
    assert len(D.order_pairs(one_speaker, [0, 1], 1)) == 2
    with pytest.raises(ValueError, match="the 2-class order task needs 1 and 2"):
        D.order_pairs(one_speaker, [0, 1], 2)


def test_four_class_order_task_sequences_and_a_memoryless_ceiling(fsdd_root):
    cfg = DataConfig(
        task="order",
        fold=2,
        sample_rate=1000,
        duration_s=0.3,
        gap_s=0.02,
        order_classes=4,
        front_end="logmel",
        hop_ms=10.0,
        frame_ms=32.0,
        n_mels=8,
    )
    s = D.load_dataset(cfg, fsdd_root)
    assert s.test.x.shape == (200, 8, cfg.steps) and cfg.steps == 66 and cfg.n_classes == 4
    assert np.bincount(s.test.y.numpy()).tolist() == [50, 50, 50, 50]
    # XY and YX hold the same frames away from the words' edges: pooled over time, a model
    # without memory scores their pairs alike, so it is at most 3/4 right by construction
    m, x = s.test.meta, s.test.x
    pairs = {(u, v): i for i, (u, v) in enumerate(zip(m["file"], m["file_2"], strict=True))}
    for (u, v), i in pairs.items():
        if m["order"][i] == 0:
            j = pairs[(v, u)]
            assert torch.allclose(x[i].mean(-1), x[j].mean(-1), atol=0.3)
