"""Spoken-digit data as tensors: clips read and normalised, the order task, the front ends and the
speaker splits.

Both datasets (``sources``: FSDD and Heidelberg Digits, where they live and how they are listed)
load into an ``AudioSplits`` of tensors: waveforms resampled with scipy's polyphase resampler to
``sample_rate`` (Hz), cropped or zero-padded to ``duration_s`` (seconds) and normalised per clip.
Labels index into ``digits`` (label i means digit ``digits[i]``).
"""

from __future__ import annotations

import functools
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile
import torch
from scipy.signal import resample_poly
from torch import Tensor

from .config import DataConfig
from .sources import AudioError, data_root, fsdd_dir, list_fsdd, list_heidelberg

__all__ = [
    "AudioSet",
    "AudioSplits",
    "fold_table",
    "front_end",
    "log_mel_frames",
    "load_dataset",
    "order_pairs",
    "loso_speakers",
    "read_audio",
]


@dataclass(frozen=True)
class AudioSet:
    """Inputs ``x`` float32: waveforms (n, L), or a front end's frames (n, features, steps);
    labels ``y`` (n,) int64, and per-clip metadata."""

    x: Tensor
    y: Tensor
    meta: pd.DataFrame  # columns: file, digit, speaker, ...
    sample_rate: int

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class AudioSplits:
    train: AudioSet
    val: AudioSet
    test: AudioSet
    digits: tuple[int, ...]


# ---------------------------------------------------------------------------- audio

#: Clips ``read_audio`` keeps decoded per process, each with its file's bytes as the key (FSDD at
#: 8 kHz and 1 s: 32 kB decoded, about 10 kB of file).
READ_CACHE_CLIPS = 4096


def read_audio(path: Path, sample_rate: int, duration_s: float, normalize: str) -> np.ndarray:
    """Decode one clip, resample to ``sample_rate`` Hz, crop/zero-pad to ``duration_s`` s,
    normalise.

    Returns a read-only float32 array of round(sample_rate * duration_s) samples. Stereo is
    averaged. Raises AudioError naming the file if it cannot be decoded or holds no samples.
    Memoised per process by the file's bytes and the arguments (``_decoded``): each fold of a sweep
    reads the same clips, and a file written again is decoded again.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise AudioError(f"cannot read audio file {path}: {err}") from None
    return _decoded(data, str(path), sample_rate, duration_s, normalize)


@functools.lru_cache(maxsize=READ_CACHE_CLIPS)
def _decoded(
    data: bytes, path: str, sample_rate: int, duration_s: float, normalize: str
) -> np.ndarray:
    """``read_audio`` of the file ``path`` whose bytes are ``data``."""
    try:
        audio, rate = soundfile.read(io.BytesIO(data), dtype="float64", always_2d=True)
    except Exception as err:  # soundfile raises several types (LibsndfileError, RuntimeError)
        raise AudioError(f"cannot read audio file {path}: {err}") from None
    audio = audio.mean(axis=1)
    if audio.size == 0 or not np.all(np.isfinite(audio)):
        raise AudioError(f"audio file {path} holds no (finite) samples")
    if rate != sample_rate:
        g = math.gcd(int(rate), int(sample_rate))
        audio = resample_poly(audio, sample_rate // g, int(rate) // g)
    if normalize == "peak":
        audio = audio / max(np.abs(audio).max(), 1e-12)
    elif normalize == "rms":
        audio = audio / max(np.sqrt(np.mean(audio**2)), 1e-12)
    L = round(sample_rate * duration_s)
    out = np.zeros(L, dtype=np.float32)
    n = min(L, audio.size)
    out[:n] = audio[:n]
    out.setflags(write=False)  # shared by every caller of the memo
    return out


def order_pairs(
    meta: pd.DataFrame, digits: list[int], pairs_per_clip: int, classes: int = 2
) -> pd.DataFrame:
    """The sequences of the order task from one listing: per speaker, clip i of ``digits[0]``
    (clips in index order) with clips i, ..., i + pairs_per_clip - 1 (cyclically) of ``digits[1]``,
    each pair in both orders (classes 0: digits[0] first, 1: digits[1] first). With ``classes`` 4,
    each such pair also gives XX (class 2: clip i of digits[0] and the next clip of digits[0]
    after its partner's index, cyclically) and YY (class 3: the partner and the next clip of
    digits[1]), so the four classes are balanced. One row per sequence: ``file`` and ``file_2``
    (first and second word), ``speaker``, ``order`` (the class) and ``clip`` (the two file names).
    Raises if a speaker has too few clips of a digit."""
    if classes not in (2, 4):
        raise ValueError(f"the order task has 2 or 4 classes, got {classes}")
    rows = []
    for speaker, own in meta.groupby("speaker", sort=True):
        first, second = (
            own[own["digit"] == d].sort_values("index")["file"].tolist() for d in digits
        )
        need = 1 if classes == 2 else 2  # XX and YY pair two different clips of one digit
        if len(first) < need or len(second) < max(pairs_per_clip, need):
            raise ValueError(
                f"speaker {speaker!r} has {len(first)} clips of digit {digits[0]} and "
                f"{len(second)} of {digits[1]}; the {classes}-class order task needs {need} and "
                f"{max(pairs_per_clip, need)}"
            )
        for i, a in enumerate(first):
            for s in range(pairs_per_clip):
                b = second[(i + s) % len(second)]
                pairs = [(a, b), (b, a)]
                if classes == 4:
                    pairs += [
                        (a, first[(i + s + 1) % len(first)]),
                        (b, second[(i + s + 1) % len(second)]),
                    ]
                for order, (u, v) in enumerate(pairs):
                    rows.append(
                        {
                            "file": u,
                            "file_2": v,
                            "speaker": speaker,
                            "order": order,
                            "clip": f"{Path(u).name}+{Path(v).name}",
                        }
                    )
    return pd.DataFrame(rows)


def log_mel_frames(x: np.ndarray, cfg: DataConfig) -> np.ndarray:
    """The ``logmel`` front end: clips ``x`` (n, L) float32 at ``cfg.sample_rate`` Hz to
    (n, n_mels, steps) float32, ln(1e-5 + mel power) of a Hann-windowed frame of ``cfg.n_fft``
    samples every ``cfg.hop_length``. Frame t covers samples (t + 1) hop - n_fft .. (t + 1) hop - 1
    (zeros before the clip): it ends with its own hop, so step t depends on no later sample."""
    if cfg.front_end != "logmel":
        raise ValueError(f"log_mel_frames is the 'logmel' front end, not {cfg.front_end!r}")
    import librosa  # imported here: the waveform front end needs none of it

    hop, n_fft = cfg.hop_length, cfg.n_fft
    x = np.asarray(x, dtype=np.float32)[..., : cfg.steps * hop]
    padded = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(n_fft - hop, 0)])
    mel = librosa.feature.melspectrogram(
        y=padded,
        sr=cfg.sample_rate,
        n_fft=n_fft,
        hop_length=hop,
        center=False,
        n_mels=cfg.n_mels,
        fmin=0.0,
        fmax=cfg.sample_rate / 2,
        power=2.0,
    )
    return np.log(1e-5 + mel).astype(np.float32)


def front_end(x: np.ndarray, cfg: DataConfig) -> np.ndarray:
    """What the encoder receives: the waveform (n, L) itself, or the ``logmel`` frames
    (n, n_mels, steps)."""
    return x if cfg.front_end == "waveform" else log_mel_frames(x, cfg)


def _load_set(meta: pd.DataFrame, cfg: DataConfig) -> AudioSet:
    if cfg.task == "order":
        return _load_order_set(meta, cfg)
    clips = [read_audio(f, cfg.sample_rate, cfg.duration_s, cfg.normalize) for f in meta["file"]]
    x = np.stack(clips) if clips else np.zeros((0, cfg.length), dtype=np.float32)
    label = {d: i for i, d in enumerate(cfg.digits)}
    y = np.array([label[d] for d in meta["digit"]], dtype=np.int64)
    # HD, both languages: German digits are classes of their own
    if cfg.n_classes > len(cfg.digits):
        y = y + len(cfg.digits) * (meta["language"] == "german").to_numpy(dtype=np.int64)
    meta = meta.reset_index(drop=True).assign(clip=[Path(f).name for f in meta["file"]])
    return AudioSet(torch.from_numpy(front_end(x, cfg)), torch.from_numpy(y), meta, cfg.sample_rate)


def _load_order_set(meta: pd.DataFrame, cfg: DataConfig) -> AudioSet:
    """The order task's sequences of the clips in ``meta``: gap, word, gap, word, gap (each word
    read once)."""
    pairs = order_pairs(meta, cfg.digits, cfg.pairs_per_clip, cfg.order_classes)
    words = {
        f: read_audio(f, cfg.sample_rate, cfg.duration_s, cfg.normalize)
        for f in sorted(set(pairs["file"]))
    }
    gap = np.zeros(cfg.gap_length, dtype=np.float32)
    x = np.zeros((len(pairs), cfg.length), dtype=np.float32)
    for i, (u, v) in enumerate(zip(pairs["file"], pairs["file_2"], strict=True)):
        x[i] = np.concatenate([gap, words[u], gap, words[v], gap])
    y = np.array(pairs["order"], dtype=np.int64)
    return AudioSet(
        torch.from_numpy(front_end(x, cfg)), torch.from_numpy(y), pairs, cfg.sample_rate
    )


# ---------------------------------------------------------------------------- splits


def _stratified_val(meta: pd.DataFrame, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of a validation subset: ``fraction`` of each digit, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(meta), dtype=bool)
    for _, idx in meta.groupby("digit").indices.items():
        k = round(fraction * len(idx))
        mask[rng.choice(idx, size=k, replace=False)] = True
    return mask


def loso_speakers(speakers: list[str], fold: int) -> tuple[str, str]:
    """(test speaker, validation speaker) of leave-one-speaker-out fold ``fold``.

    Speakers in sorted order; fold k tests speaker k and validates on speaker k+1 (cyclically).
    Over all folds every speaker is tested once and validated once.
    """
    order = sorted(set(speakers))
    if len(order) < 3:
        raise ValueError(
            "leave-one-speaker-out needs at least 3 speakers (test, validation, training), "
            f"got {order}"
        )
    if not 0 <= fold < len(order):
        raise ValueError(
            f"fold {fold} out of range: {len(order)} speakers give folds 0..{len(order) - 1}"
        )
    return order[fold], order[(fold + 1) % len(order)]


def _listing(
    cfg: DataConfig, data_dir: str | Path | None = None, download: bool = True
) -> pd.DataFrame:
    """The files of ``cfg.dataset`` (HD: of ``cfg.language``) holding ``cfg.digits``, one row
    each."""
    if cfg.dataset == "fsdd":
        meta = list_fsdd(fsdd_dir(data_dir, download))
    else:
        meta = list_heidelberg(data_root(data_dir) / "heidelberg")
        if cfg.language != "both":
            meta = meta[meta["language"] == cfg.language]
    return meta[meta["digit"].isin(cfg.digits)].reset_index(drop=True)


def fold_table(cfg: DataConfig, data_dir: str | Path | None = None) -> pd.DataFrame:
    """One row per leave-one-speaker-out fold of ``cfg``'s data: test, validation and training
    speakers and the number of clips of each (from the file listing; no audio is decoded)."""
    meta = _listing(cfg, data_dir)
    counts = meta["speaker"].value_counts()
    rows = []
    for fold in range(meta["speaker"].nunique()):
        test, val = loso_speakers(list(counts.index), fold)
        train = sorted(set(counts.index) - {test, val})
        rows.append(
            {
                "fold": fold,
                "test_speaker": test,
                "val_speaker": val,
                "train_speakers": ", ".join(train),
                "test_clips": int(counts[test]),
                "val_clips": int(counts[val]),
                "train_clips": int(counts[train].sum()),
            }
        )
    return pd.DataFrame(rows)


def _speaker_masks(meta: pd.DataFrame, cfg: DataConfig) -> tuple[np.ndarray, np.ndarray | None]:
    """Boolean masks (test, validation) over ``meta``; validation None: draw it from train."""
    known = sorted(set(meta["speaker"]))
    if cfg.split == "loso":
        test, val = loso_speakers(known, cfg.fold)
        return (meta["speaker"] == test).to_numpy(), (meta["speaker"] == val).to_numpy()
    if cfg.split == "leave_speakers_out":
        unknown = set(cfg.test_speakers + cfg.val_speakers) - set(known)
        if unknown:
            raise ValueError(f"speakers {sorted(unknown)} not in the data; known: {known}")
        val = meta["speaker"].isin(cfg.val_speakers).to_numpy() if cfg.val_speakers else None
        return meta["speaker"].isin(cfg.test_speakers).to_numpy(), val
    test = (meta["index"] < 5) if cfg.dataset == "fsdd" else (meta["part"] == "test")
    return test.to_numpy(), None


def load_dataset(
    cfg: DataConfig, data_dir: str | Path | None = None, download: bool = True
) -> AudioSplits:
    """Load ``cfg.dataset`` restricted to ``cfg.digits`` into train/val/test tensors.

    Split ``loso``: fold ``cfg.fold`` of leave-one-speaker-out (``loso_speakers``): one speaker
    tested, the next validated, the rest trained on. ``leave_speakers_out``: ``cfg.test_speakers``
    tested, ``cfg.val_speakers`` validated. ``official``: FSDD indices 0-4 are test (the
    dataset's README), HD uses its file lists. Without validation speakers, validation is a
    stratified ``val_fraction`` of train, drawn with ``cfg.seed``.
    """
    meta = _listing(cfg, data_dir, download)
    is_test, is_val = _speaker_masks(meta, cfg)
    if is_val is None:
        train_meta = meta[~is_test].reset_index(drop=True)
        val_mask = _stratified_val(train_meta, cfg.val_fraction, cfg.seed)
        train, val = train_meta[~val_mask], train_meta[val_mask]
    else:
        train, val = meta[~is_test & ~is_val], meta[is_val]
    return AudioSplits(
        train=_load_set(train.reset_index(drop=True), cfg),
        val=_load_set(val.reset_index(drop=True), cfg),
        test=_load_set(meta[is_test].reset_index(drop=True), cfg),
        digits=tuple(cfg.digits),
    )
