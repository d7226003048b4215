"""Monte Carlo programmings of an array: which ones failed (scored at chance), their accuracy
over folds, their drop from the same model's reference accuracy, and paired contrasts between
two settings on the same models and programming draws (points).

Input is one row per programming, columns ``fold``, ``realisation`` and ``accuracy``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from .intervals import accuracy_interval, fold_stats, fold_t_interval

__all__ = [
    "chance_failure",
    "drop_interval",
    "drop_summary",
    "drops_from",
    "failure_share",
    "paired_contrast",
    "realisation_summary",
]


# ------------------------------------------------------------------ bimodal outcomes


def chance_failure(accuracy: float, n: int, chance: float = 0.5, alpha: float = 0.05) -> bool:
    """True when ``accuracy`` on ``n`` clips is not significantly above ``chance`` (one-sided
    exact binomial test at level ``alpha``): the programming (or run) has failed."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if np.isnan(accuracy):
        return True
    k = int(round(accuracy * n))
    return binomtest(k, n, chance, alternative="greater").pvalue > alpha


def failure_share(
    accuracies: pd.Series | np.ndarray, n: int, chance: float = 0.5, alpha: float = 0.05
) -> float:
    """Share of runs or programmings that failed (``chance_failure``), for bimodal outcomes where
    a mean alone hides that some programmings work and others collapse."""
    acc = np.asarray(accuracies, dtype=float)
    if acc.size == 0:
        raise ValueError("no accuracies given")
    return float(np.mean([chance_failure(a, n, chance, alpha) for a in acc]))


# ------------------------------------------------------------------ programmings


def _key_of(key: Any, by: list[str]) -> dict[str, Any]:
    return dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))


def realisation_summary(
    rows: pd.DataFrame, by: list[str], n_clips: int | None, confidence: float = 0.95
) -> pd.DataFrame:
    """Summary of Monte Carlo programmings (one row per programming, columns ``fold`` and
    ``accuracy``) per group of ``by``: the mean over folds of each fold's mean (over its models
    and programmings), its interval over folds (``accuracy_interval`` for accuracies on
    ``n_clips`` clips each, ``fold_t_interval`` for other values, e.g. drops) and the share of
    programmings that failed (``chance_failure`` on ``n_clips`` clips; None: the column holds
    something other than an accuracy, no failure share), reported beside the mean because such
    outcomes are often bimodal."""
    out = []
    for key, group in rows.groupby(by, sort=True):
        folds = group.groupby("fold", sort=True)["accuracy"]
        per_fold = folds.mean().to_numpy(dtype=float)
        est, low, high = (
            fold_t_interval(per_fold, confidence)
            if n_clips is None
            else accuracy_interval(per_fold, n_clips * folds.size().to_numpy(), confidence)
        )
        out.append(
            _key_of(key, by)
            | {
                "mean": est,
                "ci_low": low,
                "ci_high": high,
                "folds": len(per_fold),
                "programmings": int(len(group)),
            }
            | (
                {}
                if n_clips is None
                else {"failure_share": failure_share(group["accuracy"], n_clips)}
            )
        )
    return pd.DataFrame(out)


def drops_from(
    rows: pd.DataFrame, reference: pd.DataFrame, key: tuple[str, ...] = ("bits", "seed", "fold")
) -> pd.DataFrame:
    """``rows`` (one per programming, column ``accuracy``) with ``drop_points``: 100 x (the same
    model's ``reference`` accuracy - its accuracy), paired by model ``key``. ``reference`` holds one
    or more rows per model (averaged), e.g. the model on an ideal array."""
    key = [k for k in key if k in rows.columns]
    ref = reference.groupby(key)["accuracy"].mean()
    missing = rows.set_index(key).index.difference(ref.index)
    if len(missing):
        raise ValueError(f"no reference accuracy for models {list(missing)[:3]}")
    ref_acc = rows.set_index(key).index.map(ref).to_numpy(float)
    return rows.assign(drop_points=100 * (ref_acc - rows["accuracy"].to_numpy(float)))


def paired_contrast(
    rows: pd.DataFrame,
    column: str,
    a: Any,
    b: Any,
    by: list[str],
    key: tuple[str, ...] = ("seed", "fold", "realisation"),
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Accuracy under ``column == a`` minus under ``column == b`` (points), paired on the same model
    and programming draw ``key``, per group of ``by``: the mean over folds of each fold's mean
    difference, its t interval over folds, ``p_t`` and the exact ``p_sign_flip`` (``fold_stats``).
    Rows of a group without a partner are an error."""
    key = [k for k in key if k in rows.columns]
    out = []
    for group, part in rows.groupby(by, sort=True):
        A = part[part[column] == a].set_index(key)["accuracy"]
        B = part[part[column] == b].set_index(key)["accuracy"]
        if A.empty or B.empty or not A.index.sort_values().equals(B.index.sort_values()):
            raise ValueError(f"{column}={a!r} and {column}={b!r} are not paired in group {group}")
        diff = (100 * (A - B.loc[A.index])).rename("d").reset_index()
        s = fold_stats(diff.groupby("fold", sort=True)["d"].mean().to_numpy(), confidence)
        out.append(
            _key_of(group, by)
            | {
                "a": a,
                "b": b,
                "difference_points": s["estimate"],
                "ci_low": s["ci_low"],
                "ci_high": s["ci_high"],
                "p_t": s["p_t"],
                "p_sign_flip": s["p_sign_flip"],
                "folds": int(diff["fold"].nunique()),
                "programmings": int(len(diff)),
            }
        )
    return pd.DataFrame(out)


def drop_interval(drops: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group of ``by``: the mean of ``drops_from``'s ``drop_points`` with its t interval over
    folds (``realisation_summary``), as ``drop_points``, ``drop_ci_low``, ``drop_ci_high``."""
    d = realisation_summary(drops.assign(accuracy=drops["drop_points"]), by, None)
    d = d[by + ["mean", "ci_low", "ci_high"]]
    return d.rename(
        columns={"mean": "drop_points", "ci_low": "drop_ci_low", "ci_high": "drop_ci_high"}
    )


def drop_summary(
    rows: pd.DataFrame, reference: pd.DataFrame, by: list[str], n_clips: int
) -> pd.DataFrame:
    """Per group of ``by``: the accuracy summary of ``realisation_summary`` (mean, interval over
    folds, failure share) and the paired drop from each model's ``reference`` accuracy
    (``drop_interval`` of ``drops_from``): ``drop_points``, ``drop_ci_low``, ``drop_ci_high``."""
    return realisation_summary(rows, by, n_clips).merge(
        drop_interval(drops_from(rows, reference), by), on=by
    )
