"""Chapter 'What the state remembers': its run specifications, schedule and verdicts."""

import numpy as np
import pandas as pd
import pytest

from imssa.data.audio import loso_speakers
from imssa.study import memory_noise as mn
from imssa.study import memory_task as mt
from imssa.study import state_memory as sm
from imssa.study import stateless_controls as sc
from imssa.study.params import MemoryModel, load_params

SPEAKERS = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]
LOSO = {f: loso_speakers(SPEAKERS, f) for f in range(6)}
CFG = load_params("state_memory", "params/paper/state_memory.yaml")


def clips(label, correct_by_fold):
    """Answers of ``label``: 100 clips per fold, the first ``correct_by_fold[f]`` of them right."""
    return pd.DataFrame(
        [
            {"label": label, "fold": f, "seed": 0, "clip": str(c), "correct": int(c < k)}
            for f, k in enumerate(correct_by_fold)
            for c in range(100)
        ]
    )


def planned(answers, pairs):
    from imssa.stats.paired import paired_table

    return paired_table(answers, "label", pairs)


def test_a_stateless_control_that_matches_or_beats_the_s4d_model_says_the_task_needs_no_state():
    s4d, fir4, fir16 = "float S4D", sc.fir_label(4, None), sc.fir_label(16, None)
    base = [90, 85, 95, 80, 92, 88]
    worse = clips(fir4, [k - 30 + (f % 2) for f, k in enumerate(base)])
    ans = pd.concat(
        [clips(s4d, base), worse, clips(fir16, [k + 1 for k in base])], ignore_index=True
    )
    v = sc.state_verdict(
        ans, planned(ans, [(s4d, fir4), (s4d, fir16)]), s4d, [fir4, fir16], [4, 16], 2000
    )
    assert (
        v["verdict"] == "does not need a state"
        and v["shortest_rival"] == fir16
        and "8 ms of taps" in v["text"]
    )
    t = v["table"].set_index("control")
    assert (
        t.loc[fir4, "s4d_better"]
        and not t.loc[fir4, "matches"]
        and t.loc[fir16, "level"] == pytest.approx(0.975)
    )
    ans = pd.concat([clips(s4d, base), worse], ignore_index=True)
    needs = sc.state_verdict(ans, planned(ans, [(s4d, fir4)]), s4d, [fir4], [4], 2000)
    assert needs["verdict"] == "needs a state"
    noisy = clips(fir16, [k + (25 if f % 2 else -25) for f, k in enumerate(base)])
    ans = pd.concat([clips(s4d, base), noisy], ignore_index=True)
    wide = sc.state_verdict(ans, planned(ans, [(s4d, fir16)]), s4d, [fir16], [16], 2000)
    assert wide["verdict"] == "not resolved" and "Six held-out speakers" in wide["text"]
    with pytest.raises(ValueError, match="no planned comparison"):
        sc.state_verdict(ans, planned(ans, [(s4d, fir16)]), s4d, [fir4], [4], 2000)


def test_the_nested_schedule_never_uses_the_fold_s_test_speaker():
    base = mt.memory_base(CFG)
    rows = pd.DataFrame(
        [
            {
                "parameter": "train.epochs",
                "value": v,
                "fold": f,
                "seed": 0,
                "failure": "",
                "val_accuracy": 0.7 + (0.2 if v == 60 and f == 1 else 0.0),
            }
            for v in (30, 60)
            for f in range(6)
        ]
    )
    schedule = mt.nested_schedule(rows, base, LOSO)
    # fold 1 is the only fold where 60 epochs help: its validation speaker is fold 2's test speaker,
    # so every fold whose nested folds include fold 1 sees a gain, but with one fold it is within
    # the noise
    assert schedule == {}
    rows.loc[(rows["value"] == 60), "val_accuracy"] += 0.05
    schedule = mt.nested_schedule(rows, base, LOSO)
    assert set(schedule) == set(range(6)) and schedule[0] == {"train.epochs": 60}
    assert isinstance(schedule[0]["train.epochs"], int)
    # 60 epochs help on every fold but fold 1, where they hurt: only the folds that do not see
    # fold 1's validation speaker (folds 1 and 2: nested_folds) choose them
    gain = {f: (-0.3 if f == 1 else 0.05) + 0.001 * f for f in range(6)}
    rows["val_accuracy"] = [
        0.7 + (gain[f] if v == 60 else 0.0)
        for v, f in zip(rows["value"], rows["fold"], strict=True)
    ]
    assert sorted(mt.nested_schedule(rows, base, LOSO)) == [1, 2]
    table = mt.schedule_table(schedule, base, {"train.epochs": [30, 60]}, [0, 1])
    assert table["fold value"].tolist() == [60, 60] and table["parameter file"].tolist() == [30, 30]


def test_memory_runs_start_from_the_scheduled_float_model_on_the_order_task():
    paper = next(m for m in CFG.memory_models if m.name == "2-bit, fixed range (paper)")
    circle = next(m for m in CFG.memory_models if m.bits_A == 8)
    run = mt.memory_spec(CFG, paper, 0, 2, {2: {"train.epochs": 60}})
    assert run.data.task == "order" and run.data.fold == 2 and run.data.gap_s == CFG.order.gap_s
    assert (
        run.init_from[1].epochs == 60
        and run.model.quant.fscale == CFG.shared.fscale
        and run.model.quant.r_max == CFG.shared.r_max
    )
    assert (
        mt.memory_spec(CFG, paper, 0, 3, {2: {"train.epochs": 60}}).init_from[1].epochs
        == CFG.shared.train.epochs
    )
    q = mt.memory_spec(CFG, circle, 0, 2).model.quant
    assert (q.bits, q.bits_A, q.fscale, q.r_max) == (2, 8, 1.0, 0.999)
    # the main task's nested choices (fold_choices) are the main task's: they do not reach the
    # memory task

    assert (
        mt.memory_spec(CFG, mt.FLOAT_S4D, 0, 0).train.lr
        == CFG.shared.train.lr
        != CFG.shared.fold_choices[0]["train.lr"]
    )
    fir = sc.fir_spec(CFG, 16, 2, 0, 0)
    assert fir.model.ssm == "fir" and fir.model.taps == 16 and fir.init_from[0].quant is None
    assert (
        fir.train.lr == CFG.shared.qat_train.lr
        and fir.init_from[1].lr == CFG.shared.fold_choices[0]["train.lr"]
    )
    with pytest.raises(ValueError, match="give bits"):
        MemoryModel(name="x", r_max=0.9)
    with pytest.raises(ValueError, match="taps go with"):
        MemoryModel(name="x", ssm="fir")


def test_memory_comparisons_and_causes_of_chance():
    pairs = sm.memory_pairs(CFG)
    quantized = [m.name for m in CFG.memory_models if m.bits is not None]
    assert pairs[: len(quantized)] == [(q, "float S4D") for q in quantized]
    assert ("2-bit, range and cap at the circle", "2-bit, fixed range (paper)") in pairs
    assert (
        "8-bit, fixed range (paper)",
        "2-bit, fixed range (paper)",
    ) not in pairs  # the paper's own widths
    assert "by construction" in sm._chance_cause("memoryless", 0.0, CFG)
    assert "64 taps reach back" in sm._chance_cause("FIR 64 taps", 31.0, CFG)
    assert "shorter than the 50 ms gap" in sm._chance_cause("2-bit, fixed range (paper)", 2.0, CFG)
    assert "not explained" in sm._chance_cause("float S4D", 200.0, CFG)
    assert "every pole rounds to 0" in sm._chance_cause(
        "2-bit, range and cap at the circle", 0.0, CFG, 0.0
    )


def answers(model, correct_share, folds=6, clips=100):
    rng = np.random.default_rng(len(model))
    return pd.DataFrame(
        [
            {
                "model": model,
                "fold": f,
                "seed": 0,
                "clip": str(c),
                "target": 0,
                "pred": int(rng.random() > correct_share),
                "correct": 0,
            }
            for f in range(folds)
            for c in range(clips)
        ]
    ).assign(correct=lambda d: (d["pred"] == d["target"]).astype(int))


def test_memory_summary_and_verdict_say_which_families_keep_the_task():
    names = [
        "float S4D",
        "memoryless",
        "2-bit, fixed range (paper)",
        "2-bit, 8-bit A_bar, range and cap at the circle",
    ]
    shares = [0.9, 0.5, 0.5, 0.8]
    ans = pd.concat([answers(n, s) for n, s in zip(names, shares, strict=True)], ignore_index=True)
    task = pd.DataFrame(
        [
            {"model": n, "memory_ms": m, "tau_max_ms": m, "failure": ""}
            for n, m in zip(names, [200.0, 0.0, 2.0, 150.0], strict=True)
        ]
        + [
            {
                "model": "8-bit, fixed range (paper)",
                "memory_ms": np.nan,
                "tau_max_ms": np.nan,
                "failure": "unstable",
            }
        ]
    )
    summary = sm.memory_summary_table(ans, task, CFG)
    s = summary.set_index("model")
    assert s.loc["memoryless", "at_chance"].startswith("by construction")
    assert "shorter than" in s.loc["2-bit, fixed range (paper)", "at_chance"]
    assert (
        s.loc["float S4D", "at_chance"] == ""
        and s.loc["8-bit, fixed range (paper)", "at_chance"] == "unstable"
    )
    v = sm.memory_verdict(summary, None, CFG)
    assert v["paper_state"] == "at chance" and v["float_state"] == "above chance"
    assert v["kept"] == names[3] and v["fewest_bits_A"] == 8
    assert "f_scale = 0.6" in v["text"] and "Q-S5" in v["text"]
    # the verdict names what was tried: the grids, the step rate and the recipe
    assert (
        "at most 8 bits" in v["text"] and "2000 steps/s" in v["text"] and "fine-tune" in v["text"]
    )


def test_slowest_mode_and_theory():
    assert mn.slowest_mode_ms(1.2, 2000) == np.inf and mn.slowest_mode_ms(0.0, 2000) == 0.0
    assert mn.slowest_mode_ms(np.exp(-1 / 20), 2000) == pytest.approx(10.0)
    th = mn.memory_theory(CFG, [0.6, 1.0])
    assert len(th) == 2 * len(CFG.shared.devices_per_element) * (len(CFG.sigmas_uS) - 1)
    a = th.set_index(["fscale", "devices_per_element", "sigma_uS"])
    assert a.loc[(0.6, 16, 5.0), "longest_complex_ms"] > a.loc[(1.0, 16, 5.0), "longest_complex_ms"]
    assert (
        a.loc[(0.6, 16, 5.0), "longest_complex_ms"] > a.loc[(0.6, 16, 15.0), "longest_complex_ms"]
    )
    assert (a["longest_real_ms"] < a["longest_complex_ms"]).all()


def test_pole_precision_is_half_the_distance_to_the_circle_in_conductance():
    assert mt.pole_precision_uS(0.99, 1.0, 10.0, 100.0) == pytest.approx(0.45)
    assert mt.pole_precision_uS(0.99, 0.5, 10.0, 100.0) == pytest.approx(0.9)
    assert np.isnan(mt.pole_precision_uS(1.0, 1.0, 10.0, 100.0)) and np.isnan(
        mt.pole_precision_uS(0.0, 1.0, 10, 100)
    )
    polar = next(m for m in CFG.memory_models if m.a_grid == "log_radius")
    assert mt.memory_spec(CFG, polar, 0, 0).model.quant.polar_bits == 8
    with pytest.raises(ValueError, match="give bits"):
        MemoryModel(name="x", a_grid="log_radius")
    from imssa.study.params import MemoryParams

    with pytest.raises(ValueError, match="not quantized families"):
        MemoryParams(memory_noise_models=["float S4D"])


def test_fir_on_the_array_is_paired_on_folds_and_a_failed_model_drops_its_fold():
    def rows(label, acc, folds=range(6)):
        return [
            {
                "label": label,
                "sigma_uS": x,
                "devices_per_element": 16,
                "seed": 0,
                "fold": f,
                "realisation": r,
                "accuracy": acc + 0.01 * f,
            }
            for x in (0.0, 15.0)
            for f in folds
            for r in range(2)
        ]

    main = pd.DataFrame(
        rows("2-bit S4D, fixed range", 0.8)
        + rows("FIR 4 taps, 2-bit", 0.9)
        + rows("FIR 16 taps, 2-bit", 0.7, folds=range(5))
    )
    out = mn.main_noise_contrasts(main, "2-bit S4D, fixed range")
    assert len(out) == 4
    d = out.set_index(["a", "sigma_uS"])["difference_points"]
    assert d[("FIR 4 taps, 2-bit", 15.0)] == pytest.approx(10.0) and d[
        ("FIR 16 taps, 2-bit", 0.0)
    ] == pytest.approx(-10.0)
    assert out.set_index(["a", "sigma_uS"]).loc[("FIR 16 taps, 2-bit", 15.0), "folds"] == 5
    assert out["family"].str.contains("Holm").all() and "p_holm" in out
    assert "FIR 4 taps, 2-bit +10.0 points" in mn.main_noise_text(out, "2-bit S4D, fixed range")


def test_the_noise_that_still_holds_a_memory_inverts_the_theory():
    from imssa.hardware.margin import longest_memory_ms, weight_noise_std

    x = mn.sigma_for_memory_uS(50.0, 1.0, CFG, 16)
    s = weight_noise_std(x, 1.0, CFG.shared.g_min_uS, CFG.shared.g_max_uS, 16)
    assert longest_memory_ms(
        s, CFG.order_data().sample_rate, CFG.unstable_share_limit
    ) == pytest.approx(50.0, rel=1e-4)
    assert (
        mn.sigma_for_memory_uS(50.0, 0.6, CFG, 16) > x > mn.sigma_for_memory_uS(50.0, 1.0, CFG, 8)
    )
    assert mn.sigma_for_memory_uS(100.0, 1.0, CFG, 16) < x


def test_every_quantized_family_has_its_quantization_for_qat_and_ptq():
    for m in CFG.memory_models:
        if m.bits is None:
            with pytest.raises(ValueError, match="float family"):
                mt.family_quant(CFG, m)
            continue
        q = mt.family_quant(CFG, m)
        assert mt.memory_spec(CFG, m, 0, 1).model.quant == q and q.fscale == (
            m.fscale or CFG.shared.fscale
        )
