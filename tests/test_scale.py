"""Depth and scale: stacks of layers on arrays, the real-valued variant, layouts and the chapter's
rules."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from imssa.hardware.analog import simulate_saturating_inputs
from imssa.hardware.crossbar import combined_matrix, layout, structural_mask
from imssa.hardware.deploy import deployed_weights, ideal_weights
from imssa.hardware.devices import DeviceConfig
from imssa.hardware.ranges import converter_ranges, layer_converter_ranges
from imssa.hardware.realisations import realisation_rows
from imssa.hardware.stack import stack_run, stack_weights
from imssa.hardware.step import simulate_step
from imssa.model.config import ModelConfig, QuantConfig
from imssa.model.train import SpeechClassifier
from imssa.study import scale, scale_summaries
from imssa.study.params import ParamsError, validate_params


def stack(depth=3, real=False, bits=3, H=4, N=4, classes=3, seed=0):
    extra = {"ssm": "s4d_real", "init": "real"} if real else {}
    m = ModelConfig(
        H=H, N=N, depth=depth, quant=QuantConfig(bits=bits, fscale=0.6, r_max=0.95), **extra
    )
    torch.manual_seed(seed)  # the encoder, mixes and decoder draw from the global generator
    net = SpeechClassifier(m, classes, generator=torch.Generator().manual_seed(seed)).eval()
    with torch.no_grad():
        net.equalize_ranges(0.6)
        for mix in net.mixers:  # trained-looking mixes, not the init's
            mix.weight.normal_(0, 0.5, generator=torch.Generator().manual_seed(seed + 1))
    return net


@pytest.mark.parametrize("real", [False, True])
def test_multi_layer_step_and_fast_mode_equal_the_digital_model_on_ideal_arrays(real):
    net = stack(real=real)
    x = torch.randn(4, 300, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        digital = net(x).double()
        features = net.features(x).double()
    ideal = [ideal_weights(net, i) for i in range(3)]
    for mode in ("step", "fast"):
        out = stack_run(net, x, ideal, [DeviceConfig()] * 3, mode)
        assert (out.logits[0].double() - digital).abs().max() / digital.abs().max() < 1e-5, mode
        assert len(out.outputs) == 3 and out.outputs[0].shape == (1, 4, 4, 300)
    step64 = stack_run(net, x, ideal, [DeviceConfig()] * 3, "step", dtype=torch.float64)
    z = None  # rebuild the last block's output from the per-layer outputs: the stack's own features
    for i, y in enumerate(step64.outputs):
        z = net.between_layers(i, y[0], z)
    assert (z - features).abs().max() / features.abs().max() < 1e-5


def test_layer_errors_vanish_on_ideal_arrays_and_grow_with_noise():
    net = stack()
    x = torch.randn(3, 200, generator=torch.Generator().manual_seed(5))
    ideal = [ideal_weights(net, i) for i in range(3)]
    ref = stack_run(net, x, ideal, [DeviceConfig()] * 3).outputs
    same = stack_run(
        net, x, [w.expand(2, -1, -1, -1) for w in ideal], [DeviceConfig()] * 3, reference=ref
    )
    assert same.error.abs().max() < 1e-5 and same.local_error.abs().max() < 1e-5
    errs = []
    for sigma in (2.0, 10.0):
        devs = [DeviceConfig(sigma_uS=sigma)] * 3
        out = stack_run(net, x, stack_weights(net, devs, 4, seed=9), devs, reference=ref)
        assert out.error.shape == (4, 3) and (out.error[:, 0] == out.local_error[:, 0]).all()
        errs.append(out.error.mean(0))
    assert (errs[1] > errs[0]).all()


def test_every_layer_draws_its_own_devices_and_layer_one_keeps_the_single_layer_draws():
    net = stack(depth=2)
    dev = DeviceConfig(sigma_uS=5.0)
    W = stack_weights(net, [dev, dev], 2, seed=4)
    assert torch.equal(W[0], deployed_weights(net, dev, 2, 4))
    noise = [w - ideal_weights(net, i) for i, w in enumerate(W)]
    assert not torch.allclose(noise[0], noise[1])
    with pytest.raises(ValueError, match="layer 2 out of range"):
        deployed_weights(net, dev, 1, 0, layer=2)
    with pytest.raises(ValueError, match="one DeviceConfig per layer"):
        stack_weights(net, [dev], 1, 0)


def test_stack_calibration_matches_the_single_layer_one_and_splits_the_input_row():
    net = stack(depth=2)
    x = torch.randn(8, 200, generator=torch.Generator().manual_seed(1))
    per_layer = layer_converter_ranges(net, x, 1.5)
    single = converter_ranges(stack(depth=1), x, 1.5)
    one = layer_converter_ranges(stack(depth=1), x, 1.5)[0]
    assert math.isclose(
        max(one["dac_range"], one["dac_input_range"]), single["dac_range"], rel_tol=1e-12
    )
    assert math.isclose(one["adc_range"], single["adc_range"], rel_tol=1e-12)
    assert len(per_layer) == 2 and all(v > 0 for r in per_layer for v in r.values())


def test_the_input_row_has_a_dac_range_of_its_own():
    g = torch.Generator().manual_seed(0)
    W = torch.zeros(
        1, 2, 5, 5, dtype=torch.float64
    )  # small states (|x| ~ 0.1) driven by a large input (|u| ~ 10)
    W[..., :-1, :-1] = 0.5 * torch.eye(4, dtype=torch.float64)
    W[..., :-1, -1], W[..., -1, :-1] = 0.01, 1.0
    u = 10 * torch.randn(3, 2, 50, generator=g, dtype=torch.float64)
    D = torch.zeros(2, dtype=torch.float64)
    peaks: dict = {}
    y_split = simulate_step(
        u, W, D, DeviceConfig(dac_range=0.5, dac_input_range=40.0, dac_bits=8), peaks=peaks
    )
    y_shared = simulate_step(u, W, D, DeviceConfig(dac_range=40.0, dac_bits=8))
    y_ideal = simulate_step(u, W, D, DeviceConfig())
    assert peaks["dac_state"][0] < 0.5 < peaks["dac_input"][0] < 40 and not peaks["dac_over"].any()
    # one 40-unit full scale for every row rounds the states away; a range of their own keeps them
    assert (y_split - y_ideal).norm() < 0.1 * (y_shared - y_ideal).norm()
    clipped: dict = {}
    simulate_step(u, W, D, DeviceConfig(dac_range=0.5, dac_input_range=5.0), peaks=clipped)
    assert clipped["dac_over"].all()


def test_saturating_fast_mode_on_per_realisation_inputs_equals_step_mode():
    g = torch.Generator().manual_seed(3)
    W = 0.35 * torch.randn(3, 2, 5, 5, generator=g, dtype=torch.float64)
    W[2, 1, :-1, :-1] *= 4  # one unstable channel
    u = torch.randn(3, 4, 2, 120, generator=g, dtype=torch.float64)
    D = torch.randn(2, generator=g, dtype=torch.float64)
    dev = DeviceConfig(dac_range=1.5, dac_input_range=2.0, adc_range=1.0)
    y, sat = simulate_saturating_inputs(u, W, D, dev)
    peaks: dict = {}
    y_step = simulate_step(u, W, D, dev, peaks=peaks)
    assert torch.allclose(y, y_step, rtol=1e-9, atol=1e-9)
    assert sat.tolist() == ((peaks["adc"] > 1.0) | peaks["dac_over"]).tolist()
    with pytest.raises(ValueError, match="inputs for 2 realisations"):
        simulate_saturating_inputs(u[:2], W, D, dev)


def test_real_variant_maps_a_diagonal_with_three_entries_per_state():
    net = stack(depth=1, real=True, N=6)
    p = net.layers[0].discrete()
    assert (p.A_bar.imag == 0).all() and (p.B_bar.imag == 0).all() and (p.C.imag == 0).all()
    W = combined_matrix(p, real=True)
    assert W.shape == (4, 7, 7) and torch.equal(W[:, :-1, :-1], torch.diag_embed(p.A_bar.real))
    mask = structural_mask(4, 6, real=True)
    assert int(mask[0].sum()) == 3 * 6 and not (W[~mask] != 0).any()
    real, cplx = (
        layout(4, 13, kind="block", devices_per_element=16, real=True),
        layout(4, 13, kind="block", devices_per_element=16),
    )
    assert real.devices == 4 * 3 * 12 * 2 * 2 and cplx.devices == 4 * 8 * 6 * 2 * 2
    assert real.devices_per_state == 12 and cplx.devices_per_state == 16
    with pytest.raises(ValueError, match="imaginary parts"):
        combined_matrix(stack(depth=1).layers[0].discrete(), real=True)
    with pytest.raises(ValueError, match="S4D-Real"):
        ModelConfig(ssm="s4d_real")
    with pytest.raises(ValueError, match=">= 2 bits"):
        SpeechClassifier(ModelConfig(ssm="s4d_real", init="real", quant=QuantConfig(bits=1)), 2)


def test_real_variant_trains_only_real_parts():
    net = SpeechClassifier(
        ModelConfig(H=2, N=3, ssm="s4d_real", init="real"),
        2,
        generator=torch.Generator().manual_seed(0),
    )
    assert torch.allclose(
        net.layers[0].continuous_A(), -torch.arange(1.0, 4.0).expand(2, 3).to(torch.cfloat)
    )
    loss = net(torch.randn(4, 50)).sum()
    loss.backward()
    lay = net.layers[0]
    assert (
        lay.A_imag.grad is None
        and (lay.B.grad[..., 1] == 0).all()
        and (lay.C.grad[..., 1] == 0).all()
    )


def test_stack_rows_carry_every_layer_error_and_the_cause_at_the_task_chance_level(monkeypatch):
    from imssa.data.audio import AudioSet
    from imssa.hardware import realisations

    net = stack(depth=2, classes=10)
    x = torch.randn(20, 150, generator=torch.Generator().manual_seed(0))
    ideal = stack_run(net, x, [ideal_weights(net, i) for i in range(2)], [DeviceConfig()] * 2)
    y = ideal.logits.reshape(-1, 10).argmax(-1)  # labels the ideal stack gets right
    data = AudioSet(x, y, pd.DataFrame({"file": [""] * 20}), 1000)
    chances = []
    judged = realisations.failure_cause
    monkeypatch.setattr(
        realisations, "failure_cause", lambda *a: chances.append(a[-1]) or judged(*a)
    )
    dev = DeviceConfig(
        g_min_uS=10.0, g_max_uS=100.0, stuck_at_gmax=0.3
    )  # stuck devices push a pole out
    rows = realisation_rows(net, data, [dev] * 2, 6, seed=1, reference=ideal.outputs)
    assert len(rows) == 6 and {
        "error_1",
        "error_2",
        "local_error_2",
        "spectral_radius",
        "failure",
    } <= set(rows[0])
    assert chances == [pytest.approx(0.1)] * 6  # ten classes: chance is 1/10, not 1/2
    assert [r["failure"] for r in rows].count("unstable") >= 1
    assert all(
        (r["failure"] == "unstable") == (r["spectral_radius"] >= 1 and r["accuracy"] < 0.1 + 1e-9)
        for r in rows
    )
    assert all(r["failure"] == "" for r in rows if r["accuracy"] == 1.0)


def test_best_depth_takes_the_shallowest_within_the_tie_and_reads_validation_only():
    val = pd.DataFrame(
        {
            "fold": [0, 0, 0, 1, 1, 1],
            "depth": [1, 2, 4, 1, 2, 4],
            "val_accuracy": [0.80, 0.805, 0.79, 0.70, 0.75, 0.78],
            "accuracy": [0.1] * 6,
        }
    )
    chosen = scale_summaries.best_depth(val, tie_points=1.0)
    assert chosen.set_index("fold")["best_depth"].to_dict() == {0: 1, 1: 4}
    assert scale_summaries.best_depth(val, tie_points=4.0).set_index("fold")[
        "best_depth"
    ].to_dict() == {0: 1, 1: 2}
    with pytest.raises(ValueError, match="no validation accuracy"):
        scale_summaries.best_depth(val.assign(val_accuracy=np.nan), 1.0)


def test_largest_single_array_and_layouts():
    cfg = validate_params("depth_scale", {})
    assert scale.largest_single_array(cfg) == 15  # 2 (2N + 1) <= 64
    big = validate_params("depth_scale", {"shared": {"rows": 128, "cols": 128}})
    assert scale.largest_single_array(big) == 31
    lay = scale.state_layouts(cfg, [2, 15, 16, 64]).set_index("N")
    assert lay.loc[15, "block_fits_one_array"] and not lay.loc[16, "block_fits_one_array"]
    assert lay.loc[64, "arrays_per_channel"] == 25  # ceil(258 / 64) row and column tiles
    assert lay.loc[2, "channels_per_array"] == 6  # 10 x 10 blocks along the diagonal of 64 x 64


def test_ten_table_puts_each_fold_at_depth_one_and_at_its_own_best_depth():
    soft = pd.DataFrame(
        {
            "depth": [1, 2, 1, 2],
            "bits": [np.nan] * 4,
            "seed": 0,
            "fold": [0, 0, 1, 1],
            "accuracy": [0.5, 0.6, 0.55, 0.52],
            "failure": "",
        }
    )
    hw = pd.DataFrame(
        {
            "depth": [1, 2, 1],
            "bits": [2, 2, 2],
            "seed": 0,
            "fold": [0, 0, 1],
            "sigma_uS": 0.0,
            "realisation": 0,
            "accuracy": [0.4, 0.5, 0.45],
            "failure": "",
        }
    )
    t = scale_summaries.ten_table(soft, hw, pd.DataFrame({"fold": [0, 1], "best_depth": [2, 1]}))
    best = t[t["depth_role"] == "best depth"]
    assert sorted(zip(best["fold"], best["depth"], best["model"], strict=True)) == [
        (0, 2, "2-bit"),
        (0, 2, "float"),
        (1, 1, "2-bit"),
        (1, 1, "float"),
    ]
    assert len(t[t["depth_role"] == "depth 1"]) == 4
    with pytest.raises(ValueError, match="no best depth for folds \\[1\\]"):
        scale_summaries.ten_table(soft, hw, pd.DataFrame({"fold": [0], "best_depth": [2]}))


def test_specs_become_the_chapters_runs():
    cfg = validate_params("depth_scale", {"scale_folds": [0, 1]})
    deep = scale.run_spec(cfg, scale.Spec("binary", "complex", 4, cfg.shared.model.N, 2), 0, 1)
    assert deep.model.depth == 4 and deep.model.quant.bits == 2 and deep.init_from[0].depth == 4
    ten = scale.run_spec(cfg, scale.Spec("ten", "real", 1, 32, None), 0, 0)
    assert (
        ten.data.digits == cfg.ten_digits
        and ten.model.ssm == "s4d_real"
        and ten.train == cfg.ten_train
    )
    main = scale.run_spec(cfg, scale.Spec("binary", "complex", 1, cfg.shared.model.N, None), 0, 0)
    assert main.model == cfg.shared.model and main.train == cfg.shared.train.model_copy(
        update={"seed": 0}
    )  # the shared main model
    grid = scale.cells(cfg, scale.depth_specs(cfg) + scale.state_specs(cfg))
    assert len(grid) == len({tuple(c.values()) for c in grid})  # the main model once, not per sweep
    runs = scale.run_specs(cfg, grid)
    assert all(r.init_from is None for r in runs[: len(runs) // 2])
    sel = scale.select(pd.DataFrame(grid), scale.state_specs(cfg))
    assert len(sel) == 2 * len(cfg.state_sizes) * 2


@pytest.mark.parametrize(
    "values, hint",
    [
        ({"scale_folds": [7]}, "scale_folds"),
        ({"depths": [2, 3]}, "model.depth"),
        ({"ten_depths": [2]}, "ten_depths must include 1"),
        ({"converter_sigma_uS": 3.0}, "converter_sigma_uS"),
        ({"sigmas_uS": [5.0, 10.0]}, "include 0.0"),
        ({"depth_bits": [1]}, "2..16"),
    ],
)
def test_scale_parameters_reject_impossible_values(values, hint):
    with pytest.raises(ParamsError, match=hint):
        validate_params("depth_scale", values)


def test_heidelberg_is_reported_absent_without_its_file_lists(tmp_path):
    assert not scale.heidelberg_present(tmp_path)
    (tmp_path / "heidelberg").mkdir()
    assert not scale.heidelberg_present(tmp_path)
    (tmp_path / "heidelberg" / "train_filenames.txt").write_text("")
    assert scale.heidelberg_present(tmp_path)


def test_instability_share_and_the_any_layer_prediction():
    rows = pd.DataFrame(
        {
            "depth": [1] * 4 + [2] * 4 + [1],
            "sigma_uS": [15.0] * 8 + [0.0],
            "failure": ["unstable", "", "", ""] + ["unstable", "unstable", "", ""] + ["unstable"],
        }
    )
    t = scale_summaries.instability(rows, "depth").set_index("depth")
    assert (
        t.loc[1, "unstable_share"] == 0.25 and t.loc[2, "unstable_share"] == 0.5
    )  # sigma = 0 left out
    assert t.loc[2, "predicted_from_depth_1"] == pytest.approx(1 - 0.75**2)
    assert "predicted_from_depth_1" not in scale_summaries.instability(
        rows.rename(columns={"depth": "N"}), "N"
    )


def test_ten_digit_runs_keep_their_own_recipe_on_a_fold_with_main_task_choices():
    """The main task's nested choices (fold_choices) set the two-digit recipe; a ten-digit run of
    that fold trains with ten_train, not with the main task's epochs and learning rate."""
    cfg = validate_params(
        "depth_scale",
        {"shared": {"fold_choices": {0: {"train.epochs": 9, "train.lr": 0.05}}}},
    )
    main = scale.run_spec(cfg, scale.Spec("binary", "complex", 1, 4, None), 0, 0)
    assert (main.train.epochs, main.train.lr) == (9, 0.05)  # the main task keeps its choice
    for fold in (0, 1):
        ten = scale.run_spec(cfg, scale.Spec("ten", "complex", 1, 4, None), 0, fold)
        assert ten.train.epochs == cfg.ten_train.epochs and ten.train.lr == cfg.ten_train.lr
