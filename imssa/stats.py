"""Uncertainty of accuracies measured on a finite test set."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binomtest

__all__ = ["accuracy_summary", "summarize_by", "wilson_interval"]


def wilson_interval(correct: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``correct / n`` (fractions)."""
    if n < 1 or not 0 <= correct <= n:
        raise ValueError(f"need 0 <= correct <= n and n >= 1, got correct={correct}, n={n}")
    ci = binomtest(int(correct), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def accuracy_summary(accuracies: pd.Series | np.ndarray, n_test: int, confidence: float = 0.95) -> pd.Series:
    """Mean and std over runs, and the Wilson interval of the mean on ``n_test`` clips.

    ``accuracies`` are fractions, one per seed or realisation, all on the same ``n_test`` clips.
    The std is the spread between runs; the interval is the test-set sampling uncertainty of the
    mean, computed for n_test clips (runs on the same clips are not independent trials).
    """
    acc = np.asarray(accuracies, dtype=float)
    low, high = wilson_interval(int(round(acc.mean() * n_test)), n_test, confidence)
    return pd.Series({"runs": len(acc), "mean": acc.mean(), "std": acc.std(ddof=1) if len(acc) > 1 else 0.0,
                      "ci_low": low, "ci_high": high})


def summarize_by(runs: pd.DataFrame, by: list[str], n_test: int, confidence: float = 0.95) -> pd.DataFrame:
    """``accuracy_summary`` of the ``accuracy`` column per group of ``by``, one row per group.

    Runs with a missing accuracy (diverged) are left out of the statistics and counted in
    ``missing``.
    """
    rows = []
    for key, group in runs.groupby(by, sort=True):
        ok = group["accuracy"].dropna()
        stats = accuracy_summary(ok, n_test, confidence).to_dict() if len(ok) else {"runs": 0}
        rows.append(dict(zip(by, key if isinstance(key, tuple) else (key,))) | stats
                    | {"missing": int(group["accuracy"].isna().sum())})
    return pd.DataFrame(rows)
