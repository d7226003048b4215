"""Chapter 'Memory that survives programming': the front ends, the four-class task, the grids'
slowest poles, A_bar held digitally, the cost of both, and the nested choices."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from imssa.data.audio import log_mel_frames, loso_speakers, order_pairs
from imssa.data.config import DataConfig
from imssa.hardware.cost import CostConstants, analog_cost, digital_A_J, front_end_J
from imssa.hardware.crossbar import layout
from imssa.hardware.deploy import deployed_weights, ideal_weights, target_conductances
from imssa.hardware.devices import DeviceConfig
from imssa.model.cache import restore_model
from imssa.model.config import ModelConfig, QuantConfig
from imssa.model.poles import log_radius_grid, slowest_grid_pole
from imssa.model.quant import grid_levels
from imssa.model.train import SpeechClassifier, TrainResult
from imssa.study import design_noise as dn
from imssa.study import memory_answers as ma
from imssa.study import memory_laws as ml
from imssa.study import memory_programming as mp
from imssa.study.params import ParamsError, fold_params, load_params, validate_params
from imssa.study.selection import nested_folds

SPEAKERS = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]
LOSO = {f: loso_speakers(SPEAKERS, f) for f in range(6)}
CFG = load_params("memory_programming", "params/paper/memory_programming.yaml")
LOGMEL = {"front_end": "logmel", "hop_ms": 10.0, "frame_ms": 32.0, "n_mels": 8}


# --------------------------------------------------------------------------- front ends


def test_a_log_mel_front_end_sets_the_step_rate_and_is_checked():
    d = DataConfig(sample_rate=2000, duration_s=1.0, **LOGMEL)
    assert (d.hop_length, d.n_fft, d.step_rate, d.steps, d.features) == (20, 64, 100.0, 100, 8)
    w = DataConfig(sample_rate=2000)
    assert (w.hop_length, w.step_rate, w.steps, w.features) == (1, 2000, 2000, 1)
    with pytest.raises(ValueError, match="whole number of samples"):
        DataConfig(sample_rate=2000, **(LOGMEL | {"hop_ms": 0.3}))
    with pytest.raises(ValueError, match="belong to front_end 'logmel'"):
        DataConfig(hop_ms=10.0)
    with pytest.raises(ValueError, match="needs hop_ms, frame_ms and n_mels"):
        DataConfig(front_end="logmel", hop_ms=10.0)
    with pytest.raises(ValueError, match="exceeds the"):
        DataConfig(sample_rate=2000, **(LOGMEL | {"n_mels": 40}))
    with pytest.raises(ValueError, match="frame_ms"):
        DataConfig(sample_rate=2000, **(LOGMEL | {"frame_ms": 5.0}))


def test_log_mel_frames_have_their_shape_and_look_at_no_later_sample():
    cfg = DataConfig(sample_rate=2000, duration_s=0.5, **LOGMEL)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, cfg.length)).astype(np.float32)
    f = log_mel_frames(x, cfg)
    assert f.shape == (3, 8, cfg.steps) and f.dtype == np.float32 and np.isfinite(f).all()
    for s in (
        0,
        137,
        500,
        cfg.length - 1,
    ):  # a change at sample s reaches only the frames from s's own hop on
        y = x.copy()
        y[:, s] += 5.0
        g = log_mel_frames(y, cfg)
        first = s // cfg.hop_length
        assert np.array_equal(f[..., :first], g[..., :first])
        assert not np.array_equal(f[..., first], g[..., first])
    with pytest.raises(ValueError, match="'logmel' front end"):
        log_mel_frames(x, DataConfig(sample_rate=2000))


def test_a_classifier_on_frames_is_the_same_in_both_modes_and_restores_its_width():
    torch.manual_seed(0)
    net = SpeechClassifier(ModelConfig(H=3, N=2), 2, features=5).eval()
    x = torch.randn(4, 5, 30)
    assert torch.allclose(net(x, "conv"), net(x, "recurrent"), atol=1e-5)
    assert torch.allclose(
        net.encode(x),
        torch.einsum("hf,bfl->bhl", net.encoder.weight, x) + net.encoder.bias[:, None],
    )
    wave = SpeechClassifier(ModelConfig(H=3, N=2), 2).eval()
    u = torch.randn(4, 30)
    assert torch.equal(
        wave.encode(u),
        wave.encoder.weight[:, 0, None] * u.unsqueeze(1) + wave.encoder.bias[:, None],
    )
    result = TrainResult(net.state_dict(), pd.DataFrame(), 0.0, np.zeros(0), np.zeros(0), 0.0)
    assert restore_model(ModelConfig(H=3, N=2), result, 2).encoder.in_features == 5


# --------------------------------------------------------------------------- the four-class task


def _listing(first=3, second=4):
    return pd.DataFrame(
        [
            {"file": f"{d}_{s}_{i}.wav", "digit": d, "speaker": s, "index": i}
            for s in ("a", "b")
            for d, n in ((0, first), (1, second))
            for i in range(n)
        ]
    )


def test_the_four_class_order_task_is_balanced_and_pairs_distinct_clips():
    p = order_pairs(_listing(), [0, 1], 1, classes=4)
    assert p["order"].value_counts().to_dict() == {0: 6, 1: 6, 2: 6, 3: 6}
    digit = lambda f: int(f.split("/")[-1][0])  # noqa: E731
    for cls, (d1, d2) in {0: (0, 1), 1: (1, 0), 2: (0, 0), 3: (1, 1)}.items():
        rows = p[p["order"] == cls]
        assert all(
            digit(u) == d1 and digit(v) == d2 and u != v
            for u, v in zip(rows["file"], rows["file_2"], strict=True)
        )
    assert (
        p["file"].str.split("_").str[1] == p["file_2"].str.split("_").str[1]
    ).all()  # one speaker per sequence
    assert DataConfig(task="order", gap_s=0.05, order_classes=4).n_classes == 4
    with pytest.raises(ValueError, match="needs 2"):
        order_pairs(_listing(first=1), [0, 1], 1, classes=4)
    with pytest.raises(ValueError, match="belong to task 'order'"):
        DataConfig(order_classes=4)


# ------------------------------------------------------------------------- the grids' slowest poles


@pytest.mark.parametrize(
    "bits,fscale,r_max", [(3, 1.0, 0.999), (5, 1.0, 0.95), (6, 0.6, 0.95), (8, 1.0, 0.999)]
)
def test_the_slowest_cartesian_pole_is_the_grid_point_nearest_the_cap(bits, fscale, r_max):
    levels = grid_levels(bits, fscale)
    mod = torch.sqrt(levels[:, None] ** 2 + levels[None, :] ** 2)
    g = slowest_grid_pole(bits, fscale, r_max)
    assert g["radius"] == pytest.approx(float(mod[mod <= r_max + 1e-12].max()))
    assert g["real_radius"] == pytest.approx(float(levels[levels.abs() <= r_max].abs().max()))
    assert g["steps"] == pytest.approx(-1 / math.log(g["radius"]))


def test_the_book_s_grids_hold_the_slow_poles_the_chapter_says():
    assert slowest_grid_pole(8, 1.0, 0.999)["real_steps"] == pytest.approx(
        -1 / math.log(126 / 127)
    )  # 127 steps
    assert slowest_grid_pole(16, 0.6, 0.95)["radius"] == pytest.approx(
        0.6 * math.sqrt(2)
    )  # the range caps it
    assert slowest_grid_pole(8, 1.0, 0.999, "log_radius")["radius"] == pytest.approx(
        float(log_radius_grid(8, 0.999)[0][-1])
    )
    with pytest.raises(ValueError, match="a_grid"):
        slowest_grid_pole(8, 1.0, 0.999, "polar")


# --------------------------------------------------------------------------- A_bar held digitally


def _qnet():
    torch.manual_seed(1)
    return SpeechClassifier(
        ModelConfig(H=2, N=3, quant=QuantConfig(bits=4, fscale=1.0, r_max=0.99)), 2
    ).eval()


def test_a_digital_a_bar_is_exact_while_b_bar_and_c_meet_the_same_draws():
    net, dev = _qnet(), DeviceConfig(sigma_uS=5.0)
    on_array = deployed_weights(net, dev, 3, seed=7)
    hybrid = deployed_weights(net, dev, 3, seed=7, digital_A=True)
    ideal = ideal_weights(net)
    assert torch.equal(hybrid[..., :-1, :-1], ideal.expand_as(hybrid)[..., :-1, :-1])
    assert torch.equal(hybrid[..., -1, :], on_array[..., -1, :]) and torch.equal(
        hybrid[..., :, -1], on_array[..., :, -1]
    )
    assert not torch.equal(on_array[..., :-1, :-1], ideal.expand_as(on_array)[..., :-1, :-1])


def test_the_hybrid_programs_only_b_bar_and_c_and_pays_for_a_bar_digitally():
    net, dev, c = _qnet(), DeviceConfig(), CostConstants()
    full, part = target_conductances(net, dev), target_conductances(net, dev, digital_A=True)
    H, N = 2, 3
    assert len(full) == H * 2 * (4 * N + 2 * N + 2 * N) and len(part) == H * 2 * (2 * N + 2 * N)
    lay = layout(H, 2 * N + 1, 64, 64, kind="block", devices_per_element=8)
    array = analog_cost(full, lay, N, 10, 2, 8, c)
    hybrid = analog_cost(part, lay, N, 10, 2, 8, c, digital_A_bits=6)
    assert hybrid.breakdown_pJ_per_inference["digital_A"] == pytest.approx(
        10 * 1e12 * digital_A_J(H, N, 6, c)
    )
    assert hybrid.breakdown_pJ_per_inference["array"] < array.breakdown_pJ_per_inference["array"]
    assert hybrid.breakdown_pJ_per_inference["adc"] == array.breakdown_pJ_per_inference["adc"]
    with pytest.raises(ValueError, match="conductances for a layout"):
        analog_cost(part, lay, N, 10, 2, 8, c)


def test_a_front_end_costs_nothing_for_the_waveform_and_grows_with_its_frame():
    c = CostConstants()
    assert front_end_J(1, 1, 1, c) == 0.0
    assert 0 < front_end_J(64, 20, 16, c) < front_end_J(128, 20, 16, c)
    with pytest.raises(ValueError, match="hop <= n_fft"):
        front_end_J(16, 20, 8, c)


# --------------------------------------------------------------------------- nested choices


def _val_rows(score):
    """Validation rows: the float model at 0.9 and designs of 4, 8, 12 bits scored by
    ``score(fold, bits)``."""
    rows = [{"fold": f, "bits_A": np.nan, "val_accuracy": 0.9} for f in range(6)]
    return pd.DataFrame(
        rows
        + [
            {"fold": f, "bits_A": b, "val_accuracy": score(f, b)}
            for f in range(6)
            for b in (4, 8, 12)
        ]
    )


def test_the_bits_a_fold_needs_are_chosen_without_its_test_speaker():
    base = lambda f, b: {4: 0.5, 8: 0.6, 12: 0.89}[b]  # noqa: E731
    assert mp.bits_needed(_val_rows(base), LOSO, 2.0) == {f: 12 for f in range(6)}
    # fold 0 validates on fold 1's test speaker: its high 8-bit score may not decide fold 1, and it
    # tips the mean over the folds that may use it (fold 2's nested folds) to 8 bits
    planted = _val_rows(
        lambda f, b: 0.99 if (f == 0 and b == 8) else 0.86 if b == 8 else base(f, b)
    )
    picks = mp.bits_needed(planted, LOSO, 2.0)
    assert 0 not in nested_folds(1, LOSO) and 0 in nested_folds(2, LOSO)
    assert (picks[0], picks[1], picks[2]) == (12, 12, 8)
    everywhere = mp.bits_needed(_val_rows(lambda f, b: 0.95 if b >= 8 else 0.5), LOSO, 2.0)
    assert everywhere == {f: 8 for f in range(6)}


def test_a_recipe_tie_goes_to_fine_tuning():
    rows = pd.DataFrame(
        [
            {"fold": f, "bits_A": 8, "recipe": r, "val_accuracy": 0.7}
            for f in range(6)
            for r in ("fine_tune", "scratch")
        ]
    )
    assert set(mp.recipe_pick(rows, LOSO)["recipe"]) == {"fine_tune"}
    better = rows.assign(val_accuracy=np.where(rows["recipe"] == "scratch", 0.8, 0.7))
    assert set(mp.recipe_pick(better, LOSO)["recipe"]) == {"scratch"}


# --------------------------------------------------------------------------- parameters


def test_the_chapter_parameters_name_front_ends_that_exist_and_sweep_each():
    values = CFG.model_dump()
    with pytest.raises(ParamsError, match="not in front_ends"):
        validate_params("memory_programming", values | {"noise_front_ends": ["log-mel 7/s"]})
    with pytest.raises(ParamsError, match="no Cartesian sweep"):
        validate_params("memory_programming", values | {"bits_sweeps": values["bits_sweeps"][:1]})
    bad = values["front_ends"] + [
        {"name": "odd", "front_end": "logmel", "hop_ms": 0.3, "frame_ms": 32.0, "n_mels": 8}
    ]
    with pytest.raises(ParamsError, match="whole number of samples"):
        validate_params("memory_programming", values | {"front_ends": bad})

    rates = mp.step_rates(CFG)
    assert rates == {"waveform 2000/s": 2000, "log-mel 500/s": 500, "log-mel 100/s": 100}


def test_a_design_is_named_by_its_grids_and_trained_by_its_recipe():
    d = mp.design(CFG, 12, "log_radius")
    assert (
        d.name == "A 12-bit log-radius, B/C 8-bit"
        and d.fscale == CFG.design_fscale
        and d.r_max == CFG.design_r_max
    )
    ft = mp.run_spec(CFG, "log-mel 100/s", "order", mp.design(CFG, 8), 0, 2)
    scratch = mp.run_spec(CFG, "log-mel 100/s", "order", mp.design(CFG, 8, recipe="scratch"), 0, 2)
    assert ft.init_from is not None and scratch.init_from is None
    assert scratch.train == ft.init_from[1] and ft.data.step_rate == 100 and ft.data.task == "order"
    main = mp.run_spec(CFG, "waveform 2000/s", "main", mp.design(CFG, 8), 0, 0)
    assert (
        main.data.task == "digits" and CFG.shared.fold_choices[0]
    )  # fold 0 has nested choices, and they apply
    assert (
        main.init_from[1]
        == fold_params(CFG, 0).shared.train.model_copy(update={"seed": 0})
        != CFG.shared.train
    )


def test_the_hybrid_on_frames_runs_in_both_modes_and_never_leaves_the_circle():
    from imssa.data.audio import AudioSet
    from imssa.hardware.ranges import converter_ranges
    from imssa.hardware.realisations import realisation_rows
    from imssa.hardware.stack import stack_run

    torch.manual_seed(0)
    net = SpeechClassifier(
        ModelConfig(H=3, N=2, quant=QuantConfig(bits=4, fscale=1.0, r_max=0.99)), 2, features=4
    ).eval()
    x = torch.randn(10, 4, 60)  # frames: (clips, features, steps)
    data = AudioSet(x, torch.arange(10) % 2, None, 100)
    dev = DeviceConfig(sigma_uS=10.0).model_copy(update=converter_ranges(net, x, headroom=2.0))
    W = deployed_weights(net, dev, R=4, seed=3, digital_A=True)
    fast, step = (stack_run(net, x, [W], [dev], mode, chunk=4) for mode in ("fast", "step"))
    assert torch.allclose(fast.logits, step.logits.to(fast.logits.dtype), atol=1e-4)
    ideal = stack_run(net, x, [ideal_weights(net)], [DeviceConfig()]).logits[0]
    assert torch.allclose(ideal, net(x), atol=1e-4)  # the arrays' frames path is the classifier's
    rows = realisation_rows(net, data, [dev], 4, seed=3, digital_A=True)
    exact = float(
        net.layers[0].discrete().A_bar.detach().abs().max()
    )  # A_bar digital: the trained poles, unmoved
    assert all(r["spectral_radius"] == pytest.approx(exact) for r in rows) and exact < 1


def test_the_law_separates_only_where_every_lost_design_keeps_less_than_every_kept_one():
    law = pd.DataFrame(
        {
            "kept": [False, False, True, True],
            "retention_real": [0.0, 0.19, 0.27, 0.8],
            "retention_any": [0.4, 0.77, 0.7, 0.8],
        }
    )
    sep = ml.law_separation(law).set_index("form")
    assert sep.loc["near DC", "separates"] and sep.loc[
        "near DC", "lost_max_retention"
    ] == pytest.approx(0.19)
    assert (
        not sep.loc["at any angle", "separates"]
        and sep.loc["at any angle", "kept_min_retention"] == 0.7
    )


def test_held_up_to_stops_at_the_first_sigma_not_shown_above_chance():
    words = {0.5: "above", 1.0: "above", 2.0: "not resolved", 5.0: "above"}
    fam = pd.DataFrame(
        [
            {
                "section": "noise",
                "b": "chance",
                "front_end": "f",
                "placement": "array",
                "devices_per_element": 16,
                "sigma_uS": x,
                "verdict": r,
            }
            for x, r in words.items()
        ]
    )
    assert (
        ma.held_up_to(fam, "f", "array", 16) == 1.0
    )  # not 5: the claim 'up to' holds below it too
    assert ma.held_up_to(fam.assign(verdict="not resolved"), "f", "array", 16) == 0.0


def test_the_silence_between_the_words_is_the_gap_and_the_first_word_s_padding(fsdd_root):
    ci = load_params("memory_programming", "params/ci/memory_programming.yaml")
    gap_ms = 1000 * ci.order.gap_s
    wave, mel = ml.silence_ms(ci, ci.front_ends[0].name), ml.silence_ms(ci, ci.front_ends[-1].name)
    assert wave >= gap_ms and mel == pytest.approx(max(wave - (32.0 - 10.0), 0.0))


def test_both_placements_of_a_model_meet_the_same_draws_and_each_model_its_own(monkeypatch):
    calls = []
    monkeypatch.setattr(dn, "load_model", lambda run, n: ("net", None, ""))
    monkeypatch.setattr(
        dn,
        "memory_rows",
        lambda cfg, model, identity, sigma, d, rate, digital_A=False: (
            calls.append((identity, sigma, d, digital_A)) or [{"accuracy": 1.0}]
        ),
    )
    bits = {f: 8 for f in CFG.shared.folds}
    for placement in mp.PLACEMENTS:
        dn.noise_cell(
            CFG, "log-mel 100/s", placement, bits, {"sigma_uS": 5.0, "devices_per_element": 16}
        )
    array, digital = calls[: len(calls) // 2], calls[len(calls) // 2 :]
    assert [c[0] for c in array] == [c[0] for c in digital]  # the same identity: the same draws
    assert [c[3] for c in array] == [False] * len(array) and all(c[3] for c in digital)
    assert len({c[0] for c in array}) == len(CFG.shared.folds) * len(
        CFG.memory_seeds
    )  # every model its own
    with pytest.raises(ValueError, match="placement must be one of"):
        dn.noise_cell(
            CFG, "log-mel 100/s", "analog", bits, {"sigma_uS": 5.0, "devices_per_element": 16}
        )
