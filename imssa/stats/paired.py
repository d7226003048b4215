"""Paired comparisons of two configurations on the same clips: the difference in points with its
t interval over folds and exact sign-flip p, the discordant counts (McNemar), and a chapter's
planned comparisons as one family with Holm's step-down correction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binomtest
from statsmodels.stats.multitest import multipletests

from .intervals import fold_cubes, fold_stats
from .verdicts import Rule, table_verdicts

__all__ = [
    "PAIRED_COLUMNS",
    "holm",
    "holm_family",
    "mcnemar",
    "paired_difference",
    "paired_table",
]

#: The columns of ``paired_table`` a chapter shows.
PAIRED_COLUMNS = [
    "a",
    "b",
    "difference_points",
    "ci_low",
    "ci_high",
    "p_t",
    "p_sign_flip",
    "p_holm",
    "a_only",
    "b_only",
    "verdict",
]


def holm(p_values: np.ndarray | list[float], alpha: float = 0.05) -> np.ndarray:
    """Holm's step-down adjusted p-values of one family (statsmodels' ``multipletests``); NaN
    entries (comparisons that could not be tested) stay NaN and do not count in the family."""
    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], alpha=alpha, method="holm")[1]
    return out


def _aligned(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    keys = ["fold", "seed", "clip"]
    for name, frame in (("a", a), ("b", b)):
        if frame.duplicated(keys).any():
            raise ValueError(f"answers {name} hold more than one row per (fold, seed, clip)")
    m = a[keys + ["correct"]].merge(
        b[keys + ["correct"]], on=keys, how="outer", suffixes=("_a", "_b"), indicator=True
    )
    if (m["_merge"] != "both").any():
        raise ValueError(
            f"{int((m['_merge'] != 'both').sum())} (fold, seed, clip) rows are in only one "
            "of the two configurations: a paired comparison needs the same clips and seeds"
        )
    return m.assign(diff=m["correct_a"] - m["correct_b"])


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> dict[str, float]:
    """Exact McNemar test of two classifiers on the same items (0/1 arrays of equal length).

    Returns the discordant counts (``a_only``: a right and b wrong; ``b_only``) and the two-sided
    exact binomial p-value of a_only among the discordant pairs under p = 1/2 (1.0 when none).
    A description of *one* model pair on its clips: pooled over several models or speakers it
    treats dependent answers as independent, so the tables keep only the counts.
    """
    ca, cb = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if ca.shape != cb.shape:
        raise ValueError(f"the two answer vectors differ in shape: {ca.shape} vs {cb.shape}")
    a_only, b_only = int((ca & ~cb).sum()), int((~ca & cb).sum())
    p = binomtest(a_only, a_only + b_only, 0.5).pvalue if a_only + b_only else 1.0
    return {"a_only": a_only, "b_only": b_only, "p_mcnemar": float(p)}


def paired_difference(
    a: pd.DataFrame, b: pd.DataFrame, confidence: float = 0.95
) -> dict[str, float]:
    """Accuracy of ``a`` minus accuracy of ``b`` on the same (fold, seed, clip) rows, in points
    (percentage points): ``difference_points`` and its ``ci_low``, ``ci_high`` (points).

    Per fold, the mean difference over its seeds and clips; over folds, the t interval
    (``fold_t_interval``), the t test's ``p_t`` and the exact ``p_sign_flip``. The discordant
    counts ``a_only`` and ``b_only`` describe the pooled clips. Rows must match one to one.
    """
    m = _aligned(a, b)
    cubes = fold_cubes(m, "diff")
    counts = mcnemar(m["correct_a"].to_numpy(), m["correct_b"].to_numpy())
    s = fold_stats(np.array([100 * X.mean() for X in cubes]), confidence)
    return (
        {"difference_points": s.pop("estimate")}
        | s
        | dict(folds=len(cubes), pairs=len(m), a_only=counts["a_only"], b_only=counts["b_only"])
    )


def paired_table(
    answers: pd.DataFrame, by: str, pairs: list[tuple[str, str]], alpha: float = 0.05
) -> pd.DataFrame:
    """``paired_difference`` of each (a, b) in ``pairs`` (values of column ``by``), one row per
    pair (points). The rows are one family of planned comparisons: ``p_holm`` is Holm's
    adjustment of their ``p_t``, and ``verdict`` (``verdict``: a - b ``ABOVE`` or ``BELOW`` 0)
    follows it."""
    rows = [
        {"a": a, "b": b} | paired_difference(answers[answers[by] == a], answers[answers[by] == b])
        for a, b in pairs
    ]
    out = pd.DataFrame(rows)
    out["p_holm"] = holm(out["p_t"].to_numpy(), alpha)
    out["verdict"] = table_verdicts(out, rule=Rule(alpha=alpha))
    out["family"] = f"{len(out)} planned comparisons, Holm"
    return out


def holm_family(
    table: pd.DataFrame, name: str, p: str = "p_t", alpha: float = 0.05
) -> pd.DataFrame:
    """``table`` (rows of ``paired_contrast``) as one family of planned comparisons: ``p_holm``
    (Holm over its ``p``), ``verdict`` (``verdict`` of a - b against 0 with ``p_holm``) and the
    family's ``name``."""
    out = table.assign(p_holm=holm(table[p].to_numpy(), alpha))
    return out.assign(
        verdict=table_verdicts(out, rule=Rule(alpha=alpha)),
        family=f"{name} ({len(out)} comparisons, Holm)",
    )
