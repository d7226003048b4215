"""The power of a cut (``imssa.stats.power``): the predicted half-width against the t half-widths
of simulated studies from a known nested Gaussian model at 3 and 6 folds, the variance components
recovered from such studies, and the prediction at the run's own counts equal to the book's
interval."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as student_t

from imssa.stats.intervals import fold_t_interval
from imssa.stats.power import (
    c4,
    cut_half_width,
    fold_mean_variance,
    predicted_half_width,
    variance_components,
)

#: a known nested model (points^2): speakers, seeds and programmings each matter
TRUTH = dict(s2_fold=4.0, s2_seed=6.0, s2_prog=16.0)


def simulated_values(
    studies: int, folds: int, seeds: int, realisations: int, rng: np.random.Generator
) -> np.ndarray:
    """(studies, folds, seeds, realisations) values of the nested Gaussian model ``TRUTH``:
    a fold draw + a seed draw + a programming draw, around 80 points."""
    shape = (studies, folds, seeds, realisations)
    sd = {k: np.sqrt(v) for k, v in TRUTH.items()}
    return (
        80.0
        + rng.normal(0, sd["s2_fold"], shape[:2])[..., None, None]
        + rng.normal(0, sd["s2_seed"], shape[:3])[..., None]
        + rng.normal(0, sd["s2_prog"], shape)
    )


def t_half_widths(values: np.ndarray, confidence: float = 0.95) -> np.ndarray:
    """(studies,) half-widths of the book's t interval over folds of each study's fold means."""
    folds = values.shape[1]
    fold_means = values.mean(axis=(2, 3))
    t = student_t.ppf(0.5 + confidence / 2, folds - 1)
    return t * fold_means.std(axis=1, ddof=1) / np.sqrt(folds)


def rows_of(values: np.ndarray) -> pd.DataFrame:
    """One study's (folds, seeds, realisations) values as rows: fold, seed, realisation, y."""
    f, s, r = np.meshgrid(*(np.arange(n) for n in values.shape), indexing="ij")
    return pd.DataFrame(
        {"fold": f.ravel(), "seed": s.ravel(), "realisation": r.ravel(), "y": values.ravel()}
    )


@pytest.mark.parametrize("folds", [3, 6])
@pytest.mark.parametrize(("seeds", "realisations"), [(2, 2), (1, 3), (3, 1)])
def test_predicted_half_width_matches_simulated_t_half_widths(folds, seeds, realisations):
    components = TRUTH | {"F": folds}
    half = t_half_widths(
        simulated_values(20_000, folds, seeds, realisations, np.random.default_rng(folds))
    )
    predicted = predicted_half_width(components, seeds, realisations)
    # root mean square over studies: E[s^2] is Var(fold mean) exactly
    assert np.sqrt(np.mean(half**2)) == pytest.approx(predicted, rel=0.03)
    # mean over studies: c4(F) of it (0.886 at 3 folds, 0.952 at 6)
    assert np.mean(half) == pytest.approx(
        predicted_half_width(components, seeds, realisations, mean=True), rel=0.03
    )


def test_c4_is_the_mean_sample_sd_of_normal_values():
    assert c4(3) == pytest.approx(0.8862, abs=1e-4)
    assert c4(6) == pytest.approx(0.9515, abs=1e-4)


@pytest.mark.parametrize(("folds", "bias"), [(3, 0.10), (6, 0.05)])
def test_a_cut_predicted_from_one_design_matches_the_cut_design_simulated(folds, bias):
    """Components estimated from studies at 2 seeds x 4 programmings predict the half-width of
    studies at 1 seed x 2 programmings; the growth they predict is the true one or (the fold
    component clipped at 0 in some studies) up to ``bias`` more: conservative, never less."""
    rng = np.random.default_rng(10 + folds)
    full = simulated_values(600, folds, 2, 4, rng)
    cuts = pd.DataFrame([cut_half_width(variance_components(rows_of(v), "y"), 1, 2) for v in full])
    simulated = t_half_widths(simulated_values(20_000, folds, 1, 2, rng))
    rms = lambda x: np.sqrt(np.mean(np.square(x)))  # noqa: E731
    assert rms(cuts["half_width_after"]) == pytest.approx(rms(simulated), rel=0.06)
    truth = TRUTH | {"F": folds}
    true_growth = predicted_half_width(truth, 1, 2) / predicted_half_width(truth, 2, 4)
    assert true_growth <= cuts["growth"].mean() <= true_growth * (1 + bias)


def test_variance_components_recover_the_known_model_on_average():
    rng = np.random.default_rng(3)
    est = pd.DataFrame(
        [variance_components(rows_of(v), "y") for v in simulated_values(400, 6, 3, 4, rng)]
    )
    assert (est[["F", "S", "R"]].to_numpy() == [6, 3, 4]).all()
    for name in ("s2_seed", "s2_prog"):  # estimated over 12 and 54 degrees of freedom
        assert est[name].mean() == pytest.approx(TRUTH[name], rel=0.08)
    # 5 degrees of freedom and clipped at 0: on average at or somewhat above the truth
    assert TRUTH["s2_fold"] * 0.9 <= est["s2_fold"].mean() <= TRUTH["s2_fold"] * 1.35


def test_before_equals_the_books_interval_at_the_runs_own_counts():
    values = simulated_values(1, 6, 2, 3, np.random.default_rng(6))[0]
    rows = rows_of(values)
    comp = variance_components(rows, "y")
    assert min(comp["s2_fold"], comp["s2_seed"], comp["s2_prog"]) > 0  # nothing clipped
    _, low, high = fold_t_interval(rows.groupby("fold")["y"].mean().to_numpy())
    cut = cut_half_width(comp, 2, 3)
    assert cut["half_width_before"] == pytest.approx((high - low) / 2, rel=1e-9)
    assert cut["half_width_after"] == pytest.approx(cut["half_width_before"])
    assert cut["growth"] == pytest.approx(1.0)
    assert fold_mean_variance(comp, 2, 3) == pytest.approx(
        rows.groupby("fold")["y"].mean().var(ddof=1)
    )


def test_a_missing_seed_or_realisation_column_is_one_level():
    values = simulated_values(1, 6, 1, 3, np.random.default_rng(6))[0]
    rows = rows_of(values)
    no_seed = variance_components(rows.drop(columns="seed"), "y")
    assert no_seed == variance_components(rows, "y")
    assert (no_seed["S"], no_seed["s2_seed"]) == (1.0, 0.0)
    one = rows[rows["realisation"] == 0].drop(columns=["seed", "realisation"])
    comp = variance_components(one, "y")
    assert (comp["R"], comp["s2_prog"], comp["s2_seed"]) == (1.0, 0.0, 0.0)
    assert comp["s2_fold"] == pytest.approx(one["y"].var(ddof=1))
    assert cut_half_width(comp, 1, 1)["growth"] == 1.0


def test_unbalanced_rows_and_missing_values_are_handled():
    values = simulated_values(1, 6, 2, 3, np.random.default_rng(7))[0]
    rows = rows_of(values)
    rows.loc[rows.index[:2], "y"] = np.nan  # a failed programming's missing value
    rows = rows.drop(index=rows.index[5])
    comp = variance_components(rows, "y")
    assert comp["F"] == 6 and comp["S"] == 2.0 and 2.5 < comp["R"] < 3
    assert all(comp[k] >= 0 for k in ("s2_fold", "s2_seed", "s2_prog"))


def test_duplicate_programmings_and_missing_columns_are_errors():
    rows = rows_of(simulated_values(1, 3, 1, 2, np.random.default_rng(8))[0])
    with pytest.raises(ValueError, match="more than one row"):
        variance_components(rows.drop(columns="realisation"), "y")
    with pytest.raises(ValueError, match="need the columns"):
        variance_components(rows, "accuracy")


def test_one_fold_gives_no_interval():
    assert np.isnan(predicted_half_width(TRUTH | {"F": 1}, 1, 1))
    with pytest.raises(ValueError, match="seeds >= 1"):
        fold_mean_variance(TRUTH, 0, 1)
