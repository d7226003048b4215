"""Power of a cut: how much wider the book's fold-level interval gets when a chapter runs fewer
training seeds or programmings, predicted from the variances of a run it already made.

The book's interval of a model's (or a paired difference's) value is a t interval over F folds of
the per-fold means (``intervals.fold_t_interval``), each averaging the fold's S training seeds and
each seed's R programmings. With one value y[fold, seed, realisation] per programming and the
nested model y = mu + a_fold + b_seed + e_programming (independent, variances s2_fold, s2_seed,
s2_prog), a fold mean varies by

    Var(fold mean) = s2_fold + s2_seed / S + s2_prog / (S R)

and the t interval's half-width is, in root mean square over studies,

    half_width(S, R) = t_{(1 + confidence) / 2, F - 1} * sqrt(Var(fold mean) / F)

(its mean over studies is c4(F) times that: 0.886 at F = 3, 0.952 at F = 6; a ratio of two
half-widths at the same F, a cut's ``growth``, is the same either way). Folds (speakers) are never
cut, so F stays. The components are estimated by the method of moments of the one-way nested
analysis of variance and clipped at 0 (``variance_components``); at the run's own S and R the
prediction then equals the half-width the book computed, unless a component was clipped.

Units are those of the value column: the study passes accuracies in points (100 x the fraction
correct) or paired differences in points, so half-widths are in points.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import gammaln
from scipy.stats import t as student_t

__all__ = [
    "COMPONENTS",
    "c4",
    "cut_half_width",
    "fold_mean_variance",
    "predicted_half_width",
    "variance_components",
]

#: the keys of ``variance_components``' answer: three variances (value units squared), the folds,
#: the seeds per fold and the programmings per seed (means over folds and seeds where unbalanced)
COMPONENTS = ("s2_fold", "s2_seed", "s2_prog", "F", "S", "R")


def _pooled_within(values: pd.Series, groups: list[pd.Series]) -> tuple[float, int]:
    """(sum of squares about each group's mean, degrees of freedom) of ``values`` within the
    groups of ``groups`` (Series aligned with ``values``)."""
    centred = values - values.groupby(groups).transform("mean")
    dof = int((values.groupby(groups).size() - 1).sum())
    return float((centred**2).sum()), dof


def variance_components(
    rows: pd.DataFrame,
    value: str,
    fold: str = "fold",
    seed: str = "seed",
    realisation: str = "realisation",
) -> dict[str, float]:
    """The nested variance components of ``value`` in ``rows`` (one row per programming: fold,
    training seed, realisation), by the method of moments, each clipped at 0.

    * ``s2_prog``: the pooled variance between programmings of one model (fold, seed);
    * ``s2_seed``: the pooled variance between a fold's seed means, less the programmings' share
      s2_prog x mean(1/n) (n programmings per model);
    * ``s2_fold``: the variance between fold means (each the mean of its seed means), less the
      seeds' and programmings' shares s2_seed x mean(1/S_f) + s2_prog x mean(sum_s 1/n_fs / S_f^2).

    A ``seed`` or ``realisation`` column that ``rows`` lacks counts as one level: its variance is 0
    and whatever it holds stays in the level above (with one seed per fold, s2_seed is part of
    s2_fold). Units: those of ``value`` squared (points^2 for accuracies in points). ``F``: the
    folds; ``S``: seeds per fold and ``R``: programmings per model (means where unbalanced). Rows
    whose ``value`` is missing are left out.
    """
    if value not in rows.columns or fold not in rows.columns:
        raise ValueError(f"rows need the columns {fold!r} and {value!r}; have {list(rows.columns)}")
    data = pd.DataFrame({"fold": rows[fold], "y": pd.to_numeric(rows[value], errors="coerce")})
    data["seed"] = rows[seed].to_numpy() if seed in rows.columns else 0
    data["realisation"] = rows[realisation].to_numpy() if realisation in rows.columns else 0
    data = data.dropna(subset=["y"])
    if data.empty:
        raise ValueError(f"no finite {value!r} to estimate variances from")
    if data.duplicated(["fold", "seed", "realisation"]).any():
        raise ValueError("more than one row per (fold, seed, realisation): a key is missing")

    ss_prog, dof_prog = _pooled_within(data["y"], [data["fold"], data["seed"]])
    s2_prog = ss_prog / dof_prog if dof_prog else 0.0

    models = data.groupby(["fold", "seed"], sort=True)["y"].agg(["mean", "size"]).reset_index()
    ss_seed, dof_seed = _pooled_within(models["mean"], [models["fold"]])
    inv_n = 1.0 / models["size"].to_numpy(float)
    s2_seed = max(ss_seed / dof_seed - s2_prog * inv_n.mean(), 0.0) if dof_seed else 0.0

    per_fold = models.assign(inv_n=inv_n).groupby("fold", sort=True)
    fold_means = per_fold["mean"].mean().to_numpy(float)
    seeds = per_fold.size().to_numpy(float)
    prog_share = (per_fold["inv_n"].sum().to_numpy(float) / seeds**2).mean()
    var_folds = float(np.var(fold_means, ddof=1)) if fold_means.size > 1 else 0.0
    s2_fold = max(var_folds - s2_seed * float(np.mean(1 / seeds)) - s2_prog * prog_share, 0.0)
    return dict(
        s2_fold=s2_fold,
        s2_seed=s2_seed,
        s2_prog=s2_prog,
        F=int(fold_means.size),
        S=float(seeds.mean()),
        R=float(models["size"].mean()),
    )


def fold_mean_variance(components: dict[str, float], seeds: float, realisations: float) -> float:
    """Var(fold mean) = s2_fold + s2_seed / S + s2_prog / (S R) with ``seeds`` = S training seeds
    per fold and ``realisations`` = R programmings per model (value units squared)."""
    if seeds < 1 or realisations < 1:
        raise ValueError(f"need seeds >= 1 and realisations >= 1, got {seeds}, {realisations}")
    return (
        components["s2_fold"]
        + components["s2_seed"] / seeds
        + components["s2_prog"] / (seeds * realisations)
    )


def c4(folds: int) -> float:
    """E[s] / sigma for the sample sd s of ``folds`` normal values: sqrt(2 / (F - 1)) x
    Gamma(F / 2) / Gamma((F - 1) / 2); 0.886 at F = 3, 0.952 at F = 6."""
    if folds < 2:
        raise ValueError(f"need at least 2 folds, got {folds}")
    return float(np.sqrt(2 / (folds - 1)) * np.exp(gammaln(folds / 2) - gammaln((folds - 1) / 2)))


def predicted_half_width(
    components: dict[str, float],
    seeds: float,
    realisations: float,
    confidence: float = 0.95,
    mean: bool = False,
) -> float:
    """The half-width of the t interval over ``components["F"]`` folds with ``seeds`` training
    seeds per fold and ``realisations`` programmings per model:
    t_{(1 + confidence) / 2, F - 1} x sqrt(Var(fold mean) / F) (``fold_mean_variance``), in the
    value's units (points). That is its root mean square over studies; ``mean``: its mean,
    c4(F) times as wide. NaN with fewer than 2 folds (no interval)."""
    folds = int(components["F"])
    if folds < 2:
        return float("nan")
    t = float(student_t.ppf(0.5 + confidence / 2, folds - 1))
    half = t * np.sqrt(fold_mean_variance(components, seeds, realisations) / folds)
    return float(half * (c4(folds) if mean else 1.0))


def cut_half_width(
    components: dict[str, float],
    seeds: float,
    realisations: float,
    confidence: float = 0.95,
) -> dict[str, float]:
    """The half-width before a cut (at the run's own ``components["S"]`` seeds and ``["R"]``
    programmings) and after it (at ``seeds`` and ``realisations``), both in the value's units
    (points), and ``growth``, after / before (1.0 when both are 0, NaN without an interval)."""
    before = predicted_half_width(components, components["S"], components["R"], confidence)
    after = predicted_half_width(components, seeds, realisations, confidence)
    growth = after / before if before > 0 else (1.0 if after == 0 else float("nan"))
    return dict(half_width_before=before, half_width_after=after, growth=growth)
