"""Verdicts on noise claims: paired drops by fold, intervals, three outcomes."""

import numpy as np
import pandas as pd
import pytest

from imssa.claims import NoiseClaim, noise_claims, verdict


def test_verdict_needs_the_whole_interval_on_one_side():
    assert verdict(0.1, 1.5, "tolerates", 2) == "holds"
    assert verdict(2.5, 9.0, "tolerates", 2) == "fails"
    assert verdict(1.0, 3.0, "tolerates", 2) == "undecided"
    assert verdict(6.0, 9.0, "suffers", 5) == "holds" and verdict(0.0, 4.0, "suffers", 5) == "fails"
    with pytest.raises(ValueError):
        verdict(0, 1, "improves", 2)


def test_noise_claims_pair_each_fold_with_its_own_noise_free_accuracy():
    rng = np.random.default_rng(1)
    rows = []
    for f, base in enumerate([0.8, 0.9, 1.0]):  # speakers of different difficulty
        rows += [{"bits": 2, "sigma_uS": 0.0, "fold": f, "realisation": r, "accuracy": base} for r in range(5)]
        rows += [{"bits": 2, "sigma_uS": 15.0, "fold": f, "realisation": r,
                  "accuracy": base - 0.005 + 0.002 * rng.standard_normal()} for r in range(5)]
        rows += [{"bits": 5, "sigma_uS": 0.0, "fold": f, "realisation": r, "accuracy": base} for r in range(5)]
        rows += [{"bits": 5, "sigma_uS": 5.0, "fold": f, "realisation": r, "accuracy": 0.5} for r in range(5)]
    claims = [NoiseClaim("2-bit tolerates 15 uS", 2, 15.0, "tolerates", 2.0),
              NoiseClaim("5-bit suffers at 5 uS", 5, 5.0, "suffers", 5.0),
              NoiseClaim("8-bit", 8, 5.0, "suffers", 5.0)]
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
            rows += [{"bits": 2, "seed": seed, "fold": f, "sigma_uS": 0.0, "realisation": 0, "accuracy": base}]
            rows += [{"bits": 2, "seed": seed, "fold": f, "sigma_uS": 15.0, "realisation": r, "accuracy": base - 0.01}
                     for r in range(3)]
    claim = NoiseClaim("2-bit tolerates 15 uS", 2, 15.0, "tolerates", 2.0)
    table = noise_claims(pd.DataFrame(rows), [claim], n_clips=100)
    assert table.loc[0, "drop (points)"] == pytest.approx(1.0) and table.loc[0, "drop ci_high"] == pytest.approx(1.0)


def test_paper_pattern_crosses_the_configurations_of_both_claims():
    from imssa.claims import paper_pattern

    claims = pd.DataFrame([{"kind": "tolerates", "r_max": 0.85, "verdict": "holds"},
                           {"kind": "tolerates", "r_max": 0.999, "verdict": "fails"},
                           {"kind": "suffers", "r_max": 0.85, "verdict": "fails"},
                           {"kind": "suffers", "r_max": 0.999, "verdict": "holds"}])
    pairs = paper_pattern(claims, "r_max")
    assert len(pairs) == 4
    hold = pairs[pairs["both_hold"]]
    assert hold[["tolerates: r_max", "suffers: r_max"]].values.tolist() == [[0.85, 0.999]]
    with pytest.raises(ValueError, match="column"):
        paper_pattern(claims, "bits")
