"""Verdicts on noise claims: paired drops by fold, intervals, three outcomes."""

import numpy as np
import pandas as pd
import pytest

from imssa.stats.verdicts import FAILS, HOLDS, NOT_RESOLVED, verdict
from imssa.study.claims import (
    NoiseClaim,
    claim_rule,
    noise_claims,
    reference_region,
)
from imssa.study.technology_claims import noise_model_verdict


def test_a_claim_is_judged_by_the_one_verdict_rule_with_its_side():
    assert verdict(0.1, 1.5, None, claim_rule("tolerates", 2)) == HOLDS
    assert verdict(2.5, 9.0, None, claim_rule("tolerates", 2)) == FAILS
    assert verdict(1.0, 3.0, None, claim_rule("tolerates", 2)) == NOT_RESOLVED
    assert verdict(6.0, 9.0, None, claim_rule("suffers", 5)) == HOLDS
    assert verdict(0.0, 4.0, None, claim_rule("suffers", 5)) == FAILS
    with pytest.raises(ValueError, match="kind must be"):
        claim_rule("improves", 2)


def test_noise_claims_pair_each_fold_with_its_own_noise_free_accuracy():
    rng = np.random.default_rng(1)
    rows = []
    for f, base in enumerate([0.8, 0.9, 1.0]):  # speakers of different difficulty
        rows += [
            {"bits": 2, "sigma_uS": 0.0, "fold": f, "realisation": r, "accuracy": base}
            for r in range(5)
        ]
        rows += [
            {
                "bits": 2,
                "sigma_uS": 15.0,
                "fold": f,
                "realisation": r,
                "accuracy": base - 0.005 + 0.002 * rng.standard_normal(),
            }
            for r in range(5)
        ]
        rows += [
            {"bits": 5, "sigma_uS": 0.0, "fold": f, "realisation": r, "accuracy": base}
            for r in range(5)
        ]
        rows += [
            {"bits": 5, "sigma_uS": 5.0, "fold": f, "realisation": r, "accuracy": 0.5}
            for r in range(5)
        ]
    claims = [
        NoiseClaim("2-bit tolerates 15 uS", 2, 15.0, "tolerates", 2.0),
        NoiseClaim("5-bit suffers at 5 uS", 5, 5.0, "suffers", 5.0),
        NoiseClaim("8-bit", 8, 5.0, "suffers", 5.0),
    ]
    table = noise_claims(pd.DataFrame(rows), claims, n_clips=100).set_index("text")
    assert table.loc["2-bit tolerates 15 uS", "drop (points)"] == pytest.approx(0.5, abs=0.2)
    assert table.loc["2-bit tolerates 15 uS", "verdict"] == "holds"
    assert table.loc["5-bit suffers at 5 uS", "verdict"] == "holds"
    assert table.loc["5-bit suffers at 5 uS", "failure share"] == 1.0
    assert table.loc["8-bit", "verdict"] == "not in this sweep"


def test_noise_claims_pair_by_seed_and_fold_when_seeds_differ():
    rows = []
    for f in range(3):
        for seed, base in [(0, 0.7), (1, 0.95)]:  # a weak and a strong seed in every fold
            rows += [
                {
                    "bits": 2,
                    "seed": seed,
                    "fold": f,
                    "sigma_uS": 0.0,
                    "realisation": 0,
                    "accuracy": base,
                }
            ]
            rows += [
                {
                    "bits": 2,
                    "seed": seed,
                    "fold": f,
                    "sigma_uS": 15.0,
                    "realisation": r,
                    "accuracy": base - 0.01,
                }
                for r in range(3)
            ]
    claim = NoiseClaim("2-bit tolerates 15 uS", 2, 15.0, "tolerates", 2.0)
    table = noise_claims(pd.DataFrame(rows), [claim], n_clips=100)
    assert table.loc[0, "drop (points)"] == pytest.approx(1.0) and table.loc[
        0, "drop ci_high"
    ] == pytest.approx(1.0)


def test_paper_pattern_crosses_the_configurations_of_both_claims():
    from imssa.study.claims import paper_pattern

    claims = pd.DataFrame(
        [
            {"kind": "tolerates", "r_max": 0.85, "verdict": "holds"},
            {"kind": "tolerates", "r_max": 0.999, "verdict": "fails"},
            {"kind": "suffers", "r_max": 0.85, "verdict": "fails"},
            {"kind": "suffers", "r_max": 0.999, "verdict": "holds"},
        ]
    )
    pairs = paper_pattern(claims, "r_max")
    assert len(pairs) == 4
    hold = pairs[pairs["both_hold"]]
    assert hold[["tolerates: r_max", "suffers: r_max"]].values.tolist() == [[0.85, 0.999]]
    with pytest.raises(ValueError, match="column"):
        paper_pattern(claims, "bits")


def test_reference_region_marks_the_settings_whose_drop_interval_holds_the_target():
    rng = np.random.default_rng(0)
    rows = pd.DataFrame(
        [
            {"sigma_uS": s, "fold": f, "realisation": r, "drop_points": d + rng.normal(0, 1)}
            for s, d in ((0.0, 0.0), (10.0, 13.0), (20.0, 30.0))
            for f in range(6)
            for r in range(3)
        ]
    )
    wide = pd.DataFrame(
        [
            {"sigma_uS": 30.0, "fold": f, "realisation": r, "drop_points": 5.0 + 20 * (-1) ** f}
            for f in range(6)
            for r in range(3)
        ]
    )  # mean 5 points off, interval wide enough to hold 13.37
    rows = pd.concat([rows, wide])
    rows["accuracy"] = 0.75 - rows["drop_points"] / 100
    region = reference_region(rows, ["sigma_uS"], 13.37, n_clips=100).set_index("sigma_uS")
    assert list(region["reproduces"]) == [False, True, False, False]
    assert region.loc[30.0, "drop_ci_low"] <= 13.37 <= region.loc[30.0, "drop_ci_high"]
    assert region.loc[10.0, "drop_ci_low"] <= 13.37 <= region.loc[10.0, "drop_ci_high"]
    assert region.loc[20.0, "accuracy"] == pytest.approx(
        rows[rows["sigma_uS"] == 20.0]["accuracy"].mean()
    )


def test_noise_model_verdict_compares_the_difference_with_the_drop_it_should_predict():
    def rows(diffs, drops, half=1.0):
        return pd.DataFrame(
            [
                {
                    "a": "gaussian",
                    "sigma_scale": k,
                    "difference_points": d,
                    "ci_low": d - half,
                    "ci_high": d + half,
                    "state_dependent_drop_points": dr,
                }
                for (k, d), dr in zip(diffs, drops, strict=True)
            ]
        )

    good = noise_model_verdict(rows([(1.0, 0.5), (4.0, -2.0)], [1.0, 20.0]))  # band: 2 and 4 points
    assert "predicts the accuracy" in good and "1 of 1 intervals lie below zero" in good
    bad = noise_model_verdict(
        rows([(1.0, 0.5), (4.0, -8.0)], [1.0, 20.0])
    )  # [-9, -7] wholly outside +-4
    assert "does not predict" in bad
    unsure = noise_model_verdict(
        rows([(1.0, 0.5), (4.0, -5.0)], [1.0, 20.0], half=3.0)
    )  # [-8, -2] straddles -4
    assert "Not resolved" in unsure
    with pytest.raises(ValueError, match="no contrasts"):
        noise_model_verdict(rows([(1.0, 0.5)], [1.0]), model="laplace")
