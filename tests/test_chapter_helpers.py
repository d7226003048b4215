"""The functions that hold what the chapters' cells used to compute: tables, cell lists, sentences
and figure data, each checked against an independent calculation on small inputs."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

from imssa.data.audio import AudioSet
from imssa.hardware.analog import effective_weights
from imssa.hardware.conductance import program
from imssa.hardware.crossbar import combined_matrix, layout, to_conductance
from imssa.hardware.devices import DeviceConfig
from imssa.hardware.margin import (
    instability_probability,
    pole_values,
    predicted_sigma_star,
    weight_noise_std,
)
from imssa.model.config import ModelConfig, QuantConfig
from imssa.model.poles import complex_grid
from imssa.model.s4d import init_A, zoh
from imssa.model.train import SpeechClassifier
from imssa.study import (
    claims,
    deployment_arrays,
    deployment_sweeps,
    mapping_tables,
    margin_tables,
    plots,
    runs,
    s4d_tables,
    scale,
    scale_summaries,
    strategy_verdicts,
    technology_claims,
)
from imssa.study.params import load_params


def ternary_net(H=2, N=3, seed=0, bits=2):
    torch.manual_seed(seed)
    quant = QuantConfig(bits=bits, fscale=0.6)
    return SpeechClassifier(ModelConfig(H=H, N=N, quant=quant), 2).eval()


# --- crossbar mapping ----------------------------------------------------------------------------


def test_matrix_and_placement_facts_count_the_mapped_layer():
    net = ternary_net(H=2, N=3)
    with torch.no_grad():
        q = net.layers[0].discrete()
    W = combined_matrix(q).double()
    facts = mapping_tables.matrix_facts(q, W, 0.75)
    assert facts["channels H"] == 2 and facts["complex modes N"] == 3
    assert facts["matrix size n = 2N+1"] == 7 and facts["test accuracy (digital)"] == 0.75
    assert facts["distinct weight values"] == len(set(W.flatten().tolist()))
    lay = layout(2, 7, 64, 64)
    place = mapping_tables.placement_facts(lay, W)
    assert place["block (rows x cols)"] == "7 x 14" and place["array (rows x cols)"] == "64 x 64"
    assert place["non-zero weights"] == int(np.count_nonzero(W.numpy()))
    assert place["devices programmed"] == lay.devices and place["arrays"] == lay.arrays


def test_device_counts_has_one_row_per_layout_as_crossbar_layout_counts_it():
    kinds = [("dense", 8), ("block", 8), ("block", 16)]
    counts = mapping_tables.device_counts(4, 33, 64, 64, kinds)
    assert list(zip(counts["layout"], counts["devices per element"], strict=True)) == kinds
    for (kind, d), row in zip(kinds, counts.itertuples(index=False), strict=True):
        lay = layout(4, 33, 64, 64, kind, d)
        assert (row[2], row[3], row[4]) == (lay.devices, lay.cross_points, lay.arrays)


def test_the_ideal_array_computes_what_the_digital_model_computes():
    net = ternary_net(H=2, N=3, bits=8)  # at 2 bits a fresh model's B_bar rounds to zero
    with torch.no_grad():
        q = net.layers[0].discrete()
    W = combined_matrix(q).double()
    G_pos, G_neg = to_conductance(W, 8, 0.6, 10.0, 100.0)
    ideal = DeviceConfig(g_min_uS=10.0, g_max_uS=100.0)
    W_ideal = effective_weights(*program(G_pos, G_neg, 1, ideal), 0.6, 10.0, 100.0)
    x = torch.randn(3, 50, generator=torch.Generator().manual_seed(1))
    check = mapping_tables.exactness_table(net, q, x, W_ideal, 40)
    assert list(check["mode"]) == ["step", "fast"] and set(check["steps"]) == {40}
    assert (check["relative error vs digital"] < 1e-6).all()
    # a wrong matrix is seen
    off = mapping_tables.exactness_table(net, q, x, W_ideal * 0.5, 40)
    assert (off["relative error vs digital"] > 1e-2).all()


def test_exact_accuracy_row_scores_both_models_on_the_same_clips():
    net = ternary_net(H=2, N=3)
    x = torch.randn(8, 60, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        y = net(x).argmax(-1)
    test = AudioSet(x, y, pd.DataFrame({"file": [""] * 8}), 1000)
    ideal = DeviceConfig(g_min_uS=10.0, g_max_uS=100.0)
    row = mapping_tables.exact_accuracy_row(3, net, test, ideal, seed=0)
    assert row["fold"] == 3 and row["clips"] == 8
    assert row["digital accuracy"] == 1.0  # the labels are its own answers
    assert row["clips predicted differently"] == round(8 * (1 - row["array accuracy"]))


# --- the S4D chapter -----------------------------------------------------------------------------


def small_ssms(H=2, N=4, L_seed=0):
    out = {}
    dt = torch.logspace(-3, -1, H, dtype=torch.float64)
    for init in ("lin", "inv"):
        log_A_real, A_imag = init_A(H, N, init)
        A = torch.complex(-torch.exp(log_A_real), A_imag).to(torch.complex128)
        C = torch.randn(H, N, generator=torch.Generator().manual_seed(L_seed), dtype=A.dtype)
        A_bar, B_bar = zoh(A, torch.ones_like(A), dt)
        out[init] = (A_bar, B_bar, C, torch.zeros(H, dtype=torch.float64))
    return out


def test_mode_agreement_reports_both_precisions_and_their_rounding():
    table = s4d_tables.mode_agreement(small_ssms(), 64, seed=0)
    assert list(table["precision"]) == ["float64", "float32"] * 2 and set(table["L"]) == {64}
    err = table.set_index(["init", "precision"])["relative_error"]
    assert (err.xs("float64", level=1) < 1e-10).all() and (err.xs("float32", level=1) < 1e-4).all()
    assert (err.xs("float32", level=1) > err.xs("float64", level=1)).all()


def test_frequency_response_table_starts_at_zero_and_ends_at_nyquist():
    table = s4d_tables.frequency_response_table(small_ssms(), 2000, 1, points=16)
    assert len(table) == 2 * 1 * 16 and set(table["channel"]) == {0}
    f = table[table["init"] == "lin"]["frequency_Hz"]
    assert f.iloc[0] == 0.0 and f.iloc[-1] == pytest.approx(1000.0)


# --- stability margin ----------------------------------------------------------------------------


def test_predicted_sigma_stars_are_the_margin_laws():
    net = ternary_net(H=2, N=3)
    got = margin_tables.predicted_sigma_stars(net, 0.6, 16, 0.1, 10.0, 100.0)
    assert list(got) == margin_tables.PREDICTED_SIGMA_STARS
    kw = dict(fscale=0.6, g_min_uS=10.0, g_max_uS=100.0, devices_per_element=16, p_fail=0.1)
    real = net.layers[0].real
    exact = predicted_sigma_star(pole_values(net), real_mapping=real, **kw)
    assert got["predicted_new_exact_uS"] == exact
    zeros = predicted_sigma_star(pole_values(net), real_mapping=real, real_zeros=True, **kw)
    assert got["predicted_real_zeros_uS"] == zeros


def test_one_pole_sigma_star_grows_with_the_margin_and_is_lower_for_a_real_pole():
    table = margin_tables.one_pole_sigma_stars(10.0, 100.0, 16, 0.1, np.array([0.01, 0.1, 0.3]))
    assert list(table.columns) == ["margin", "real", "complex"]
    assert table["real"].is_monotonic_increasing and table["complex"].is_monotonic_increasing
    assert (table["real"] <= table["complex"]).all()
    one = predicted_sigma_star(np.array([0.9 + 0j]), 1.0, 10.0, 100.0, 16, 0.1)
    assert table["real"].iloc[1] == one


def test_instability_chance_is_the_exact_law_at_the_weight_noise():
    net = ternary_net(H=2, N=3)
    sd = weight_noise_std(20.0, 0.6, 10.0, 100.0, 16)
    want = instability_probability(pole_values(net), sd, real_mapping=net.layers[0].real)
    assert margin_tables.instability_chance(net, 20.0, 0.6, 10.0, 100.0, 16, False) == want
    assert margin_tables.instability_chance(net, 0.0, 0.6, 10.0, 100.0, 16, False) == 0.0


# --- hardware deployment -------------------------------------------------------------------------


def test_stuck_and_periphery_cells_name_their_setting():
    stuck = deployment_sweeps.stuck_cells({"layout": "block"}, 2, [0.0, 0.01])
    assert [(c["variant"], c["value"]) for c in stuck] == [
        ("stuck at gmax", 0.0),
        ("stuck at gmax", 0.01),
        ("stuck at gmin", 0.0),
        ("stuck at gmin", 0.01),
    ]
    assert deployment_sweeps.stuck_device(stuck[3]) == {"stuck_at_gmin": 0.01}
    cells = deployment_sweeps.periphery_cells({"bits": 2}, [0.0, 0.05], [6])
    assert [(c["sweep"], c["value"]) for c in cells] == [
        ("read noise", 0.0),
        ("read noise", 0.05),
        ("converter bits", 6.0),
    ]
    assert deployment_sweeps.periphery_setting(cells[1]) == {"read_noise": 0.05}
    assert deployment_sweeps.periphery_setting(cells[2]) == {"dac_bits": 6, "adc_bits": 6}
    # every key a cell sets is a device field the sweep accepts
    for c in cells + stuck:
        setting = (
            deployment_sweeps.periphery_setting(c)
            if "sweep" in c
            else deployment_sweeps.stuck_device(c)
        )
        assert set(setting) <= set(DeviceConfig.model_fields)


def test_periphery_rows_draw_realisations_only_under_read_noise(monkeypatch):
    seen = []
    monkeypatch.setattr(
        deployment_sweeps,
        "sweep_cell",
        lambda cfg, cell, models, r, mode, seed, device: seen.append((r, mode, seed, device)),
    )

    class Step:
        realisations = 4

    class Cfg:
        step = Step()

    cells = deployment_sweeps.periphery_cells({}, [0.1], [8])
    for c in cells:
        deployment_sweeps.periphery_rows(Cfg(), c, [(0, 0)], 7)
    assert seen == [
        (4, "step", 7, {"read_noise": 0.1}),
        (1, "step", 7, {"dac_bits": 8, "adc_bits": 8}),
    ]


def fig4_rows():
    base = deployment_arrays.DEFAULT_ARRAY
    rows = []
    for clip in ("physical", "mapping"):
        for r, (radius, sat, acc) in enumerate([(0.9, False, 0.9), (1.2, True, 0.5)]):
            rows.append(
                base
                | {"noise_clip": clip, "bits": 2, "sigma_uS": 5.0, "seed": 0, "fold": r}
                | {"realisation": 0, "accuracy": acc, "spectral_radius": radius}
                | {"saturated": sat, "failure": ""}
            )
    return pd.DataFrame(rows)


def test_array_summary_labels_arrays_and_counts_unstable_and_saturated_shares():
    rows = deployment_arrays.with_array_labels(fig4_rows())
    assert (
        deployment_arrays.DEFAULT_ARRAY_LABEL in set(rows["array"]) and rows["array"].nunique() == 2
    )
    summary = deployment_arrays.array_summary(rows, None)
    assert len(summary) == 2
    assert (summary["unstable_share"] == 0.5).all() and (summary["saturated_share"] == 0.5).all()
    assert summary["mean"].tolist() == pytest.approx([0.7, 0.7])


# --- device technologies -------------------------------------------------------------------------


def noise_rows():
    rows = []
    for model, shift in [("state-dependent", 0.0), ("gaussian", 0.1)]:
        for fold in range(3):
            for r in range(2):
                rows.append(
                    {
                        "technology": "rram",
                        "bits": 2,
                        "sigma_scale": 1.0,
                        "noise_model": model,
                        "match": "rms" if model != "state-dependent" else "none",
                        "seed": 0,
                        "fold": fold,
                        "realisation": r,
                        "accuracy": 0.6 + 0.05 * fold + 0.01 * r + shift,
                        "failure": "",
                    }
                )
    return pd.DataFrame(rows)


def test_noise_model_contrasts_pair_each_constant_model_with_the_state_dependent_one():
    study = noise_rows()
    ideal = study[study["noise_model"] == "state-dependent"].assign(accuracy=0.9)
    ideal = ideal[ideal["realisation"] == 0].drop(columns=["realisation", "noise_model", "match"])
    got = technology_claims.noise_model_contrasts(study, ideal, ["gaussian"], ["rms"], 100)
    assert len(got) == 1 and got["a"].iloc[0] == "gaussian"
    assert got["difference_points"].iloc[0] == pytest.approx(10.0)  # constant minus state, points
    assert "p_holm" in got and "state_dependent_drop_points" in got


def test_technologies_text_names_every_technology_bit_width_and_the_last_time():
    tech = pd.DataFrame(
        {
            "technology": ["ideal", "rram", "rram"],
            "bits": [2, 2, 3],
            "drop_points": [0.0, 1.5, 4.0],
            "drop_ci_low": [0.0, 0.5, 2.0],
            "drop_ci_high": [0.0, 2.5, 6.0],
        }
    )
    verify = pd.DataFrame(
        {
            "bits": [2, 2],
            "tolerance": [np.inf, 1.0],
            "mean": [0.8, 0.9],
            "pulses_per_device": [1.0, 8.5],
        }
    )
    time = pd.DataFrame(
        {
            "condition": ["pcm", "pcm"],
            "bits": [2, 2],
            "t_s": [1.0, 100.0],
            "mean": [0.9, 0.7],
            "ci_low": [0.8, 0.6],
            "ci_high": [1.0, 0.8],
        }
    )
    text = technology_claims.technologies_text(tech, verify, time, [2], [1.0, 2.0], [1.0, 100.0])
    lines = text.split("\n")
    assert len(lines) == 3 and "ideal:" not in lines[0]
    assert "rram: 2-bit 1.5 [0.5, 2.5], 3-bit 4.0 [2.0, 6.0]" in lines[0]
    assert "2-bit: no verify 0.800, ±1 µS 0.900 at 8.5 pulses" in lines[1]
    assert lines[2] == "- **After 100 s**: pcm, 2-bit 0.700 [0.600, 0.800]."


# --- quantization strategy -----------------------------------------------------------------------


def test_pareto_table_takes_accuracy_at_the_noise_level_and_marks_both_fronts():
    costs = pd.DataFrame(
        {"strategy": ["a", "b", "c"], "energy_pJ_per_inference": [1.0, 2.0, 3.0]}
        | {"devices": [30, 20, 10]}
    )
    soft = pd.DataFrame({"test_accuracy": [0.9, 0.9, 0.9]}, index=["a", "b", "c"])
    rows = pd.DataFrame(
        {
            "strategy": ["a", "b", "c", "a", "b", "c"],
            "sigma_uS": [5.0, 5.0, 5.0, 0.0, 0.0, 0.0],
            "accuracy": [0.9, 0.8, 0.7, 0.1, 0.1, 0.1],
        }
    )
    table = strategy_verdicts.pareto_table(costs, soft, rows, rows, 5.0, None)
    assert table["accuracy_hardware"].tolist() == [0.9, 0.8, 0.7]
    assert table["front_energy"].tolist() == [True, False, False]
    assert table["front_devices"].tolist() == [True, True, True]
    assert set(table["sigma_uS"]) == {5.0}


def test_answer_table_writes_differences_with_their_intervals_beside_software():
    contrasts = pd.DataFrame(
        {
            "a": ["x", "x", "x"],
            "sigma_uS": [5.0, 10.0, 15.0],
            "difference_points": [1.25, -2.0, 9.0],
            "ci_low": [-0.5, -4.0, 1.0],
            "ci_high": [3.0, 0.04, 17.0],
        }
    )
    soft = pd.DataFrame({"test_accuracy": [0.8, 0.85]}, index=["base", "x"])
    table = strategy_verdicts.answer_table(contrasts, soft, [5.0, 10.0], "base")
    assert list(table.columns) == [
        "hardware, sigma = 5 uS",
        "hardware, sigma = 10 uS",
        "software",
    ]
    assert table.loc["x"].tolist() == ["+1.2 [-0.5, 3.0]", "-2.0 [-4.0, 0.0]", "+5.0"]
    plain = strategy_verdicts.interval_text(pd.Series([2.0]), pd.Series([1.0]), pd.Series([3.0]))
    assert plain.tolist() == ["2.0 [1.0, 3.0]"]


# --- fixed-range QAT -----------------------------------------------------------------------------


def test_qat_sweep_and_reference_specs_follow_the_sweep_order():
    cfg = load_params("fixed_range_qat", "params/paper/fixed_range_qat.yaml")  # 2 seeds, 6 folds
    points, specs = runs.qat_sweep_specs(cfg)
    order = [
        (b, m, f, s)
        for b in cfg.bits
        for m in cfg.range_modes
        for f in cfg.shared.folds
        for s in cfg.shared.seeds
    ]
    assert len(points) == len(specs) == len(order)
    for (b, m, f, s), p, r in zip(order, points, specs, strict=True):
        assert p == {"bits": b, "range_mode": m, "seed": s}
        assert repr(r) == repr(runs.qat_spec(cfg, b, m, s, f))
    ref_points, ref_specs = runs.reference_specs(cfg)
    n = len(cfg.shared.folds) * len(cfg.shared.seeds)
    assert [p["label"] for p in ref_points] == ["float"] * n + ["float, fine-tuned like QAT"] * n
    f0, s0 = cfg.shared.folds[-1], cfg.shared.seeds[-1]
    assert repr(ref_specs[-1]) == repr(runs.float_finetune_spec(cfg, s0, f0))


def test_pole_grid_marks_the_points_outside_the_cap():
    grid = runs.pole_grid([2, 3], [0.6, 1.0], 1.2)
    for bits, fscale in [(2, 1.0), (3, 0.6)]:
        z = complex_grid(bits, fscale)
        part = grid[(grid["fscale"] == fscale) & (grid["bits"] == bits)]
        assert len(part) == z.numel() and part["Re"].tolist() == z.real.tolist()
        assert part["inside cap"].tolist() == (z.abs() <= 1.2).tolist()
    assert not grid["inside cap"].all() and (grid[grid["Re"].abs() == 1.0]["inside cap"]).any()


def test_used_poles_counts_modes_per_grid_point_and_reads_minus_zero_as_zero():
    re, im = torch.tensor([-0.0, 0.0, 0.6, 0.6]), torch.tensor([0.6, 0.6, 0.0, 0.0])
    used = runs.used_poles(torch.complex(re, im).reshape(2, 2)).sort_values("Re")
    assert used["modes"].tolist() == [2, 2] and not np.signbit(used["Re"]).any()


def test_accuracy_by_bits_and_paper_comparison_read_the_summary():
    summary = pd.DataFrame(
        {
            "label": ["float", "2-bit fixed", "3-bit dynamic"],
            "estimate": [0.9, 0.8, 0.85],
            "ci_low": [0.85, 0.7, 0.8],
            "ci_high": [0.95, 0.9, 0.9],
        }
    )
    acc = runs.accuracy_by_bits(summary)
    assert acc["bits"].tolist() == [2, 3] and acc["range_mode"].tolist() == ["fixed", "dynamic"]
    ref = runs.paper_comparison(summary, "2-bit fixed")
    assert ref["accuracy"].tolist()[:2] == [0.8, 0.9] and ref["ci_low"].isna().tolist()[2]
    assert ref["source"].tolist() == ["this book", "this book", "paper (reference value)"]


# --- depth and scale -----------------------------------------------------------------------------


def test_hardware_only_specs_leave_out_floats_and_the_depth_study():
    a, b = scale.Spec("binary", "complex", 1, 8, 2), scale.Spec("binary", "complex", 2, 8, 2)
    c, f = scale.Spec("ten", "complex", 1, 8, 2), scale.Spec("ten", "complex", 1, 8, None)
    got = scale.hardware_only_specs({"depth": [a, b], "ten": [c, f, a], "state": [c]})
    assert got == [c]


def test_float_by_depth_and_the_ten_digit_table():
    soft = pd.DataFrame(
        {
            "task": ["binary", "binary", "binary", "ten"],
            "ssm": ["complex"] * 4,
            "N": [8, 8, 4, 8],
            "bits": [np.nan, np.nan, np.nan, np.nan],
            "depth": [1, 2, 1, 1],
            "accuracy": [0.8, 0.9, 0.1, 0.5],
        }
    )
    assert scale_summaries.float_by_depth(soft, 8).to_dict() == {1: 0.8, 2: 0.9}
    ten = pd.DataFrame(
        {
            "model": ["float", "2-bit"],
            "depth_role": ["best depth"] * 2,
            "sigma_uS": [np.nan, 5.0],
            "accuracy": [0.5, 0.4],
        }
    )
    view = scale_summaries.ten_view(ten)
    assert view.index.tolist() == [("float", "software"), ("2-bit", "5 uS")]


def test_depth_and_scale_texts():
    summary = pd.DataFrame(
        {"depth": [1, 2, 1, 2], "sigma_uS": [0.0, 0.0, 5.0, 5.0], "mean": [0.9, 0.8, 0.7, 0.6]}
    )
    contrasts = pd.DataFrame(
        {
            "a": [2],
            "sigma_uS": [5.0],
            "difference_points": [-10.0],
            "ci_low": [-20.0],
            "ci_high": [0.5],
            "verdict": ["not resolved"],
        }
    )
    text = scale_summaries.depth_text(summary, contrasts, 5.0)
    assert "in software 1: 0.900, 2: 0.800; at sigma = 5 uS 1: 0.700, 2: 0.600." in text
    assert text.endswith("depth 2 - depth 1 at 5 uS: -10.0 points [-20.0, +0.5]: not resolved.")
    state = pd.DataFrame(
        {"N": [4, 4, 64, 64], "sigma_uS": [0.0, 5.0, 0.0, 5.0], "mean": [0.8, 0.7, 0.9, 0.5]}
    )
    ten = pd.DataFrame(
        {
            "model": ["float", "2-bit", "2-bit"],
            "depth_role": ["best depth"] * 3,
            "sigma_uS": [np.nan, 0.0, 5.0],
            "accuracy": [0.6, 0.55, 0.5],
        }
    )
    chosen = pd.DataFrame({"fold": [0], "best_depth": [2]})
    text = scale_summaries.scale_text(state, ten, chosen, 16, 5.0, (64, 64), 2)
    assert "up to N = 16; the largest N trained that fits, N = 4, scores 0.800" in text
    assert "N = 4: 0.700, N = 64: 0.500." in text
    assert text.endswith(
        "(2), test: 2-bit at 0 uS 0.550, 2-bit at 5 uS 0.500, float in software 0.600."
    )


# --- figures -------------------------------------------------------------------------------------


def test_the_figure_helpers_draw_what_they_say():
    fig, ax = plt.subplots()
    table = pd.DataFrame(
        {"x": [1, 2, 1, 2], "g": [0, 0, 1, 1], "mean": [0.5, 0.6, 0.7, 0.8]}
        | {"ci_low": [0.4, 0.5, 0.6, 0.7], "ci_high": [0.6, 0.7, 0.8, 0.9]}
    )
    plots.interval_lines(ax, table, "x", "g", "{}-bit")
    assert [t.get_text() for t in ax.legend().get_texts()] == ["0-bit", "1-bit"]
    plots.unit_circle(ax)
    x, y = ax.lines[-1].get_data()
    assert np.allclose(x**2 + y**2, 1.0)
    stars = pd.DataFrame(
        {
            "predicted_old_rice_uS": [5.0],
            "predicted_new_exact_uS": [8.0],
            "sigma_star_uS": [10.0],
            "sigma_fail_uS": [np.nan],
        }
    )
    fig2, ax2 = plt.subplots()
    plots.measured_vs_predicted(ax2, stars, 40.0, 1.0)
    assert ax2.get_xscale() == "symlog" and ax2.lines[-1].get_xdata()[-1] == 40.0
    plots.one_pole_lines(ax2, pd.DataFrame({"margin": [0.1], "real": [1.0], "complex": [2.0]}))
    assert [line.get_linestyle() for line in ax2.lines[-2:]] == ["-", "--"]
    plt.close("all")


# --- the second pass: sentences and tables that stayed in cells ----------------------------------


def test_default_claims_text_reads_the_default_array_only():
    claims_table = pd.DataFrame(
        {
            "array": ["paper-like", "other"],
            "text": ["2-bit tolerates 15 uS", "2-bit tolerates 15 uS"],
            "verdict": ["holds", "fails"],
            "drop (points)": [1.25, 30.0],
            "drop ci_low": [0.5, 20.0],
            "drop ci_high": [2.0, 40.0],
            "failure share": [0.1, 0.9],
        }
    )
    text = claims.default_claims_text(claims_table, "paper-like")
    assert text == (
        "On the paper-like array: *2-bit tolerates 15 uS* **holds** (drop 1.2 points, 95% interval"
        " [0.5, 2.0], 10% of programmings failed)."
    )


def test_emulation_summary_and_factorial():
    variants = [
        deployment_arrays.ALL_NON_IDEALITIES,
        "without read noise",
        "with ideal converters",
        "without read noise, ideal converters",
    ]
    rows = []
    for v, acc in zip(variants, [0.6, 0.7, 0.65, 0.8], strict=True):
        for fold in range(3):
            failure = "unstable" if (v == variants[0] and fold == 0) else ""
            rows.append(
                {"variant": v, "seed": 0, "fold": fold, "realisation": 0, "accuracy": acc}
                | {"failure": failure}
            )
    emulation = pd.DataFrame(rows[::-1])  # any row order: the table follows ``variants``
    summary = deployment_arrays.emulation_summary(emulation, variants, 0.9, None)
    assert summary.index.tolist() == variants
    assert summary["gap to software (points)"].tolist() == pytest.approx([30, 20, 25, 10])
    assert summary["recovered vs all (points)"].tolist() == pytest.approx([0, 10, 5, 20])
    assert summary.loc[variants[0], "failures by cause"] == {"unstable": 1}
    table = deployment_arrays.emulation_factorial(summary["mean"], "6-bit ADC")
    assert table.loc["6-bit ADC"].tolist() == pytest.approx([0.6, 0.7])
    assert table.loc["ideal converters"].tolist() == pytest.approx([0.65, 0.8])


def test_software_summary_recommendation_and_per_model_accuracy():
    software = pd.DataFrame(
        {
            "strategy": ["b", "b", "a", "a"],
            "val_accuracy": [0.8, 0.6, 0.9, 0.9],
            "accuracy": [0.7, 0.5, 0.9, 0.8],
            "max_abs_A_bar": [0.6, 0.6, 0.85, 0.85],
            "failure": ["", "constant output", "", ""],
        }
    )

    class Result:
        def __init__(self, val, test):
            self.val_accuracy, self.test_accuracy = val, test

    soft, table = strategy_verdicts.software_summary(
        software, [Result(0.9, 0.8), Result(0.7, 0.6)], ["a", "b"]
    )
    assert table.index.tolist() == ["float model (reference)", "a", "b"]
    assert table.loc["float model (reference)", "test_accuracy"] == pytest.approx(0.7)
    assert soft.loc["b", "test_accuracy"] == pytest.approx(0.6)
    assert soft.loc["b", "failures"] == "constant output x1" and soft.loc["a", "failures"] == ""
    pareto = pd.DataFrame(
        {
            "strategy": ["a"],
            "accuracy_hardware_val": [0.8],
            "accuracy_hardware": [0.75],
            "accuracy_software": [0.9],
            "energy_pJ_per_inference": [2500.0],
            "analog_over_digital": [1.5],
            "digital_energy_pJ_per_inference": [1666.0],
            "devices": [1000.0],
            "arrays": [4.0],
        }
    )
    assert strategy_verdicts.recommendation_text(pareto, "a", 10.0) == (
        "Recommended: **a**, validation accuracy under hardware 0.800 at sigma = 10 uS; on test "
        "speakers 0.750 (software 0.900), 2.5 nJ per inference (1.50 x the digital MAC unit's "
        "1.7 nJ), 1000 devices on 4 arrays."
    )
    rows = pd.DataFrame(
        {
            "strategy": ["a", "a", "a", "a"],
            "fold": [0, 0, 1, 0],
            "sigma_uS": [10.0, 10.0, 10.0, 5.0],
            "accuracy": [0.5, 0.7, np.nan, 0.1],
        }
    )
    costs = pd.DataFrame({"strategy": ["a"], "energy_pJ_per_inference": [3.0]})
    got = strategy_verdicts.per_model_accuracy(rows, 10.0, costs)
    assert got.to_dict("records") == [
        {"strategy": "a", "fold": 0, "accuracy": pytest.approx(0.6), "energy_pJ_per_inference": 3.0}
    ]


def test_range_texts():
    cost = pd.DataFrame(
        {
            "a": ["2-bit fixed"],
            "difference_points": [-1.5],
            "ci_low": [-3.0],
            "ci_high": [0.25],
            "verdict": ["not resolved"],
        }
    )
    assert runs.range_cost_text(cost).startswith(
        "Fixed against dynamic range: 2-bit: -1.5 points [-3.0, +0.2], not resolved. The"
    )
    memory = pd.DataFrame(
        {
            "range_mode": ["fixed"],
            "bits": [2],
            "max_abs_A_bar": [0.85],
            "tau_median_ms": [1.0],
            "tau_max_ms": [3.0],
            "kernel_memory_median_ms": [2.0],
            "share_A_bar_zero": [0.1],
        }
    ).set_index(["range_mode", "bits"])
    text = runs.range_memory_text(memory, [("fixed", 2), ("dynamic", 8)], 8000, 0.6, None)
    assert text.startswith("The 2-bit fixed-range model") and "dynamic" not in text
    assert "min(sqrt(2) fscale, r_max) = 0.85 in modulus" in text
    assert "= 0.50 in modulus" in runs.range_memory_text(memory, [], 8000, 0.6, 0.5)


def test_median_predicted_sigma_star_is_the_median_over_models():
    nets = [ternary_net(seed=s, bits=3) for s in range(3)]
    each = [predicted_sigma_star(pole_values(n), 0.6, 10.0, 100.0, 16) for n in nets]
    got = deployment_sweeps.median_predicted_sigma_star(nets, 0.6, 10.0, 100.0, 16)
    assert got == pytest.approx(float(np.median(each)))


def test_margin_stars_count_working_models_and_take_the_margin_of_the_working_ones():
    by, model = ["devices_per_element", "bits", "r_max"], ["bits", "r_max", "seed", "fold"]
    keys = {"bits": 2, "r_max": 0.9, "seed": 0}
    pred = pd.DataFrame(
        [
            {"devices_per_element": 16, "fold": f, "works": f < 2}
            | keys
            | dict(zip(margin_tables.PREDICTED_SIGMA_STARS, [f, 2 * f, 3 * f], strict=True))
            for f in range(3)
        ]
    )
    software = pd.DataFrame([keys | {"fold": f, "max_abs_A_bar": 0.5 + 0.1 * f} for f in range(3)])
    working = pred[model + ["works"]]
    measured = pd.DataFrame(
        [{"devices_per_element": 16, "bits": 2, "r_max": 0.9, "sigma_star_uS": 5.0}]
    ).assign(sigma_fail_uS=10.0, fails_by="drop")
    stars = margin_tables.margin_stars(pred, measured, software, working, by, model)
    row = stars.iloc[0]
    assert (row["models"], row["working"]) == (3, 2)
    assert row["predicted_new_exact_uS"] == pytest.approx(1.0)  # median of 0 and 2
    assert row["margin"] == pytest.approx(1 - 0.55) and row["sigma_star_uS"] == 5.0
    none = margin_tables.margin_stars(pred, measured.iloc[:0], software, working, by, model)
    assert np.isnan(none["sigma_star_uS"].iloc[0]) and none["fails_by"].iloc[0] == ""


def test_failure_at_sigma_fail_splits_stable_and_unstable_programmings():
    by = ["bits"]
    rows = pd.DataFrame(
        {
            "bits": [2, 2, 2, 2],
            "sigma_uS": [5.0, 5.0, 5.0, 10.0],
            "spectral_radius": [1.2, 0.9, 0.8, 1.5],
            "failure": ["unstable", "weight error", "", "unstable"],
            "drop": [40.0, 20.0, 0.0, 50.0],
        }
    )
    fail = pd.DataFrame({"bits": [2], "sigma_fail_uS": [5.0]})
    causes = margin_tables.failure_at_sigma_fail(rows, fail, by).iloc[0]
    assert (causes["programmings"], causes["unstable"], causes["failed_stable"]) == (3, 1, 1)
    assert causes["drop of stable (points)"] == 10.0 and causes["drop of unstable (points)"] == 40.0


def test_real_zeros_tables_pair_programmings_with_and_without_the_zeros():
    paired = pd.DataFrame(
        {
            "bits": [2, 2, 2, 2],
            "r_max": [0.9] * 4,
            "sigma_uS": [5.0, 5.0, 5.0, 10.0],
            "full": [1.1, 0.9, 1.2, 1.3],
            "zeros": [0.9, 1.1, 1.3, 0.5],
            "predicted, full": [0.2, 0.2, 0.2, 0.4],
            "predicted, zeros": [0.1, 0.1, 0.1, 0.3],
        }
    )
    per_cell, by_sigma = margin_tables.real_zeros_tables(paired)
    row = by_sigma.loc[5.0]
    assert row["programmings"] == 3 and (row["only_full"], row["only_zeros"]) == (1, 1)
    assert row["unstable_full"] == pytest.approx(2 / 3) and row["predicted_zeros"] == pytest.approx(
        0.1
    )
    assert len(per_cell) == 2 and per_cell["only_full"].tolist() == [1, 1]


def test_compensation_contrast_pairs_compensation_on_and_off_at_the_last_time():
    rows = []
    for t in (1.0, 100.0):
        for comp in (False, True):
            for fold in range(3):
                rows.append(
                    {"technology": technology_claims.COMPENSATED_TECHNOLOGY, "bits": 2, "t_s": t}
                    | {"drift_compensation": comp, "seed": 0, "fold": fold, "realisation": 0}
                    | {"accuracy": 0.5 + 0.1 * comp * (t > 1) + 0.01 * fold, "failure": ""}
                )
    aged = pd.DataFrame(rows)
    got = technology_claims.compensation_contrast(
        aged, [1.0, 100.0], [technology_claims.COMPENSATED_TECHNOLOGY]
    )
    assert len(got) == 1 and got["difference_points"].iloc[0] == pytest.approx(10.0)
    assert technology_claims.compensation_contrast(aged, [1.0, 100.0], ["rram"]).empty


def test_real_vs_complex_contrasts_and_table():
    rows = []
    for ssm, shift in (("complex", 0.0), ("real", -0.1)):
        for fold in range(3):
            rows.append(
                {"task": "binary", "ssm": ssm, "model": "float", "sigma_uS": np.nan}
                | {"seed": 0, "fold": fold, "realisation": 0, "accuracy": 0.9 + shift}
            )
            for sigma in (0.0, 5.0):
                rows.append(
                    {"task": "binary", "ssm": ssm, "model": "2-bit", "sigma_uS": sigma}
                    | {"seed": 0, "fold": fold, "realisation": 0}
                    | {"accuracy": 0.8 + shift * (sigma > 0) + 0.01 * fold}
                )
    contrasts, table = scale_summaries.real_vs_complex(pd.DataFrame(rows))
    assert contrasts["difference_points"].tolist() == pytest.approx([0.0, -10.0])
    assert "p_holm" in contrasts
    assert table.loc["binary", "float, real"] == pytest.approx(0.8)
    assert table.loc["binary", "real - complex (points), sigma = 5.0"] == pytest.approx(-10.0)


def test_discrete_ssms_kernels_and_eigenvalues():
    dt = torch.logspace(-3, -1, 3, dtype=torch.float64)
    ssms = s4d_tables.discrete_ssms(3, 4, ["lin", "inv"], dt, seed=5)
    A_bar, B_bar, C, D = ssms["lin"]
    assert A_bar.shape == (3, 4) and D.shape == (3,) and (A_bar.abs() < 1).all()
    assert torch.equal(C, ssms["inv"][2])  # one draw of C for every initialisation
    log_A_real, A_imag = init_A(3, 4, "lin")
    A = torch.complex(-torch.exp(log_A_real), A_imag).to(torch.complex128)
    assert torch.allclose(A_bar, zoh(A, torch.ones_like(A), dt)[0])
    kernels = s4d_tables.kernel_table(ssms, 16, 2)
    assert len(kernels) == 2 * 2 * 16
    k0 = kernels[(kernels["init"] == "lin") & (kernels["channel"] == 1) & (kernels["k"] == 0)]
    assert k0["K"].iloc[0] == pytest.approx(float((2 * (C[1] * B_bar[1]).real).sum()))
    eig = s4d_tables.eigenvalue_table(ssms)
    assert len(eig) == 2 * 3 * 4 and eig["channel"].tolist()[:5] == [0, 0, 0, 0, 1]
    assert np.allclose(eig["modulus"], np.hypot(eig["Re"], eig["Im"]))


def test_noise_model_cells_skip_bit_widths_a_preset_cannot_hold():
    from imssa.hardware.deploy import fits
    from imssa.hardware.presets import TECHNOLOGIES, preset

    techs = list(TECHNOLOGIES)
    cells = technology_claims.noise_model_cells(
        techs, [1, 2, 8], [1.0, 2.0], ["gaussian"], ["rms", "mean_abs"]
    )
    pairs = {(c["technology"], c["bits"]) for c in cells}
    assert pairs == {(t, b) for t in techs for b in [1, 2, 8] if fits(preset(t), b)}
    one = [c for c in cells if (c["technology"], c["bits"], c["sigma_scale"]) == (*min(pairs), 1.0)]
    assert [(c["noise_model"], c["match"]) for c in one] == [
        ("state-dependent", "none"),
        ("gaussian", "rms"),
        ("gaussian", "mean_abs"),
    ]


def test_used_modes_reads_the_trained_models_of_one_seed(monkeypatch):
    net = ternary_net(H=2, N=3, bits=8)

    class Data:
        sample_rate, fold = 8000, 4

    class Spec:
        model, data = None, Data()

    monkeypatch.setattr(runs, "train_or_load", lambda r: None)
    monkeypatch.setattr(runs, "restore_model", lambda model, result, n: net)
    points = [
        {"model": "s4d", "seed": 0, "label": "float"},
        {"model": "memoryless", "seed": 0, "label": "memoryless"},
        {"model": "s4d", "seed": 1, "label": "float"},
    ]
    modes = runs.used_modes(points, [Spec()] * 3, 2, seed=0)
    assert set(modes["label"]) == {"float"} and set(modes["fold"]) == {4}
    assert 0 < len(modes) <= 2 * 3 and modes["used"].all()
