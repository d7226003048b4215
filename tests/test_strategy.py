import numpy as np
import pandas as pd
import pytest

from imssa.study.params import ParamsError, Strategy, load_params, validate_params
from imssa.study.runs import qat_spec
from imssa.study.strategy import strategy_quant, strategy_spec
from imssa.study.strategy_verdicts import pareto_front, recommend, works_at


def test_pareto_front_keeps_exactly_the_undominated_points():
    t = pd.DataFrame(
        {
            "strategy": list("abcdef"),
            "energy": [1.0, 2.0, 2.0, 3.0, 0.5, np.nan],
            "acc": [0.80, 0.90, 0.85, 0.90, 0.70, 0.99],
        }
    )
    assert pareto_front(t, "energy", "acc").tolist() == [True, True, False, False, True, False]
    assert pareto_front(
        t.assign(acc=[0.8, 0.9, 0.85, 0.9, 0.52, 0.99]), "energy", "acc", n_clips=100
    ).tolist() == [True, True, False, False, False, False]  # 0.52 on 100 clips is not above chance


def test_energy_verdict_needs_one_side_of_parity_over_every_corner():
    from imssa.study.strategy_cost import energy_verdict

    assert energy_verdict(pd.DataFrame({"analog_over_digital": [0.5, 0.9]})) == "analog cheaper"
    assert energy_verdict(pd.DataFrame({"analog_over_digital": [1.5, 1.1]})) == "digital cheaper"
    assert (
        energy_verdict(pd.DataFrame({"analog_over_digital": [0.8, 1.6]}))
        == "depends on the constants"
    )


def test_recommendation_takes_the_best_validation_accuracy_and_breaks_ties_by_energy():
    t = pd.DataFrame(
        {
            "strategy": ["plain", "noisy", "wide"],
            "accuracy_hardware_val": [0.80, 0.905, 0.91],
            "energy_pJ_per_inference": [1.0, 1.0, 5.0],
        }
    )
    assert recommend(t) == "noisy"  # within 1 point of the best, and cheaper
    assert recommend(t, tie_points=0.0) == "wide"
    with pytest.raises(ValueError, match="no strategy"):
        recommend(t.assign(accuracy_hardware_val=np.nan))


def test_works_at_is_the_largest_sigma_whose_interval_clears_chance():
    rng = np.random.default_rng(0)
    rows = [
        {
            "strategy": "s",
            "sigma_uS": s,
            "fold": f,
            "realisation": r,
            "accuracy": a + rng.normal(0, 0.01),
        }
        for s, a in [(0.0, 0.9), (10.0, 0.8), (20.0, 0.5)]
        for f in range(6)
        for r in range(3)
    ]
    df = pd.DataFrame(rows)
    assert works_at(df, "s") == 10.0
    assert works_at(df.assign(accuracy=0.4), "s") is None
    with pytest.raises(ValueError, match="no hardware rows"):
        works_at(df, "other")


def test_strategies_are_validated_before_any_work():
    with pytest.raises(ValueError, match="no training"):
        Strategy(name="x", training="ptq", noise_sigma_uS=5.0)
    with pytest.raises(ValueError, match="go together"):
        Strategy(name="x", pole_penalty=1.0)
    cfg = load_params("quantization_strategy", "params/ci/quantization_strategy.yaml")
    values = cfg.model_dump()
    with pytest.raises(ParamsError, match="baseline"):
        validate_params("quantization_strategy", values | {"baseline": "nope"})
    with pytest.raises(ParamsError, match="distinct"):
        validate_params(
            "quantization_strategy", values | {"strategies": values["strategies"][:2] * 2}
        )
    with pytest.raises(ParamsError, match="include 0"):
        validate_params("quantization_strategy", values | {"sigmas_uS": [5.0, 10.0]})


def test_plain_qat_is_the_qat_chapters_run_and_options_change_only_their_key():
    cfg = load_params("quantization_strategy", "params/ci/quantization_strategy.yaml")
    plain = Strategy(name="p")
    assert strategy_spec(cfg, plain, 0, 0) == qat_spec(cfg, 2, "fixed", 0, 0)  # shared model cache
    mixed = strategy_quant(cfg, Strategy(name="m", bits_A=2, bits_B=4, bits_C=4))
    assert mixed.bits_per_matrix == (2, 4, 4) and mixed.bits == 4
    noisy = strategy_quant(cfg, Strategy(name="n", noise_sigma_uS=10.0, devices_per_element=8))
    assert (
        noisy.noise_pairs == 1
        and noisy.noise_window_uS == cfg.shared.g_max_uS - cfg.shared.g_min_uS
    )
    assert noisy.weight_noise == pytest.approx(
        2**0.5 * 10.0 / (cfg.shared.g_max_uS - cfg.shared.g_min_uS)
    )
    assert strategy_spec(cfg, Strategy(name="f", training="ptq"), 0, 0).model.quant is None


def test_gap_recovery_is_the_paired_gain_over_the_baselines_gap():
    from imssa.study.strategy_verdicts import gap_recovery

    rows, soft = [], []
    for f in range(4):
        for name, sw, hw in (("plain", 0.9, 0.6), ("best", 0.9, 0.8)):
            soft.append({"strategy": name, "seed": 0, "fold": f, "accuracy": sw})
            rows += [
                {
                    "strategy": name,
                    "sigma_uS": 15.0,
                    "seed": 0,
                    "fold": f,
                    "realisation": r,
                    "accuracy": hw,
                }
                for r in range(3)
            ]
    g = gap_recovery(pd.DataFrame(rows), pd.DataFrame(soft), "plain", "best", 15.0)
    assert g["gap_points"] == pytest.approx(30.0) and g["best_gap_points"] == pytest.approx(10.0)
    assert g["recovered_points"] == pytest.approx(20.0) and g["recovered_share"] == pytest.approx(
        2 / 3
    )
    with pytest.raises(ValueError, match="need hardware rows"):
        gap_recovery(pd.DataFrame(rows), pd.DataFrame(soft), "plain", "best", 5.0)


def test_families_name_the_question_each_strategy_answers():
    from imssa.study.strategy_verdicts import family

    base = Strategy(name="b")
    got = [
        family(s, base)
        for s in (
            base,
            Strategy(name="p", training="ptq"),
            Strategy(name="n", noise_sigma_uS=5.0),
            Strategy(name="c", r_max=0.8),
            Strategy(name="r", range_mode="dynamic"),
            Strategy(name="m", bits_A=4),
            Strategy(name="d", devices_per_element=8),
            Strategy(name="w", bits_A=4, bits_B=4, bits_C=4),
        )
    ]
    assert got == [
        "baseline",
        "floor",
        "noise-aware",
        "stability",
        "range mode",
        "mixed precision",
        "devices",
        "bit width",
    ]


def test_cost_corners_refuse_unknown_constants_before_any_work():
    from imssa.hardware.cost import CostConstants
    from imssa.study.strategy_cost import cost_corners

    cfg = load_params("quantization_strategy", "params/ci/quantization_strategy.yaml")
    with pytest.raises(ValueError, match="unknown cost constants"):
        cost_corners(cfg, cfg.strategies[0], 0, 0, 6, CostConstants(), {"adc_bitz": [4]})


def test_nested_recommendation_never_sees_the_test_speaker():
    from imssa.study.strategy_verdicts import nested_recommendation

    speakers = {0: ("a", "b"), 1: ("b", "c"), 2: ("c", "a")}
    # strategy "x" looks best only on the validation clips of speaker a (fold 2's validation set)
    val = pd.DataFrame(
        [
            {"strategy": s, "fold": f, "accuracy": acc, "energy_pJ_per_inference": 1.0}
            for f in range(3)
            for s, acc in (("x", 0.99 if f == 2 else 0.6), ("y", 0.8))
        ]
    )
    test = pd.DataFrame(
        [
            {"strategy": s, "fold": f, "accuracy": 0.5 + 0.1 * f}
            for f in range(3)
            for s in ("x", "y")
        ]
    )
    got = nested_recommendation(val, test, speakers)
    assert got.set_index("fold")["choice"].to_dict() == {0: "y", 1: "x", 2: "x"}
    assert got["accuracy"].tolist() == pytest.approx([0.5, 0.6, 0.7])


def test_each_strategys_own_gap_is_software_minus_hardware():
    from imssa.study.strategy_verdicts import strategy_gaps

    hw = pd.DataFrame(
        [
            {"strategy": s, "sigma_uS": 10.0, "seed": 0, "fold": f, "realisation": r, "accuracy": a}
            for s, a in (("p", 0.7), ("q", 0.85))
            for f in range(3)
            for r in range(2)
        ]
    )
    sw = pd.DataFrame(
        [
            {"strategy": s, "seed": 0, "fold": f, "accuracy": 0.9}
            for s in ("p", "q")
            for f in range(3)
        ]
    )
    g = strategy_gaps(hw, sw, 10.0).set_index("strategy")["gap_points"]
    assert g["p"] == pytest.approx(20.0) and g["q"] == pytest.approx(5.0)


def test_gap_verdict_counts_the_goal_only_when_gap_and_gain_are_resolved():
    from imssa.study.strategy_verdicts import gap_verdict

    g = {
        "gap_ci_low": 5.0,
        "gap_ci_high": 9.0,
        "recovered_ci_low": 1.0,
        "recovered_ci_high": 6.0,
        "recovered_share": 0.6,
    }
    assert gap_verdict(g).endswith("the goal of 50% is met.")
    assert "not met" in gap_verdict(g | {"recovered_ci_low": -1.0})
    assert "gap itself is not resolved" in gap_verdict(g | {"gap_ci_low": -2.0})
    assert "gap itself is not resolved" in gap_verdict(g | {"gap_ci_high": float("nan")})
    assert "not met" in gap_verdict(g | {"recovered_share": 0.4})


def test_the_works_at_sentence_names_the_sigma_or_says_there_is_no_gap():
    from imssa.study.strategy_verdicts import works_at_text

    assert works_at_text(7.5).startswith(
        "Plain QAT still works"
    ) and "sigma = 7.5 uS" in works_at_text(7.5)
    assert works_at_text(None).startswith(
        "Plain QAT works at no"
    ) and "no gap to close" in works_at_text(None)


def test_the_gap_sentence_reports_the_recovery_or_the_baseline_itself():
    from imssa.study.strategy_verdicts import gap_text

    g = {
        "sigma_uS": 15.0,
        "gap_points": 20.0,
        "gap_ci_low": 10.0,
        "gap_ci_high": 30.0,
        "best_gap_points": 8.0,
        "recovered_points": 12.0,
        "recovered_ci_low": 4.0,
        "recovered_ci_high": 20.0,
        "recovered_share": 0.6,
    }
    text = gap_text(g, "capped")
    assert text.startswith("Plain QAT loses **20.0 points**") and text.endswith("is met.")
    assert "at sigma = 15 uS. capped wins back **12.0 points**" in text
    assert gap_text(None, "plain QAT") == "The recommended strategy is plain QAT itself."
