"""Uncertainty of accuracies, and paired comparisons, over speakers (folds), seeds and clips.

The book's main task tests every speaker once (leave-one-speaker-out), with several training
seeds per fold. An accuracy then varies for three reasons: which speakers happen to be in the
data (folds), how training went (seeds), and which clips of a speaker were recorded (clips).
``bootstrap_accuracy`` and ``paired_difference`` resample all three, nested: folds with
replacement, then within each drawn fold its seeds and its clips (crossed: every seed was
scored on the same clips). Their intervals therefore cover training variance and speaker
variation, not only the finite test set. Paired comparisons resample the *difference* of two
configurations on the same clips and seeds, which removes the shared difficulty of each clip.

Input is a tidy frame of per-clip answers with columns ``fold``, ``seed``, ``clip`` and
``correct`` (0/1), one row per clip and run (see ``imssa.study.sweep.clip_answers``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest

__all__ = [
    "accuracy_summary",
    "drop_interval",
    "drop_summary",
    "drops_from",
    "paired_contrast",
    "accuracy_table",
    "bootstrap_accuracy",
    "chance_failure",
    "failure_share",
    "mcnemar",
    "paired_difference",
    "paired_table",
    "realisation_summary",
    "wilson_interval",
]

ANSWER_COLUMNS = ("fold", "seed", "clip", "correct")


def wilson_interval(correct: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``correct / n`` (fractions)."""
    if n < 1 or not 0 <= correct <= n:
        raise ValueError(f"need 0 <= correct <= n and n >= 1, got correct={correct}, n={n}")
    ci = binomtest(int(correct), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def accuracy_summary(accuracies: pd.Series | np.ndarray, n_test: int, confidence: float = 0.95) -> pd.Series:
    """Mean and std over runs, and the Wilson interval of the mean on ``n_test`` clips.

    For one fixed test set (the official split): the interval covers the test-set sampling only,
    not training variance; the std is the spread between runs.
    """
    acc = np.asarray(accuracies, dtype=float)
    low, high = wilson_interval(int(round(acc.mean() * n_test)), n_test, confidence)
    return pd.Series({"runs": len(acc), "mean": acc.mean(), "std": acc.std(ddof=1) if len(acc) > 1 else 0.0,
                      "ci_low": low, "ci_high": high})


# ------------------------------------------------------------------ nested bootstrap


def _cube(answers: pd.DataFrame, value: str = "correct") -> list[np.ndarray]:
    """Per fold, the (seeds, clips) array of ``value``; every seed of a fold must score the same clips."""
    missing = set(ANSWER_COLUMNS[:3]) - set(answers.columns) | ({value} - set(answers.columns))
    if missing:
        raise ValueError(f"answers need the columns {sorted(set(ANSWER_COLUMNS[:3]) | {value})}; missing {sorted(missing)}")
    if answers[value].isna().any():
        raise ValueError("answers hold missing values: leave failed runs out (and report them) before resampling")
    cubes = []
    for fold, part in answers.groupby("fold", sort=True):
        table = part.pivot_table(index="seed", columns="clip", values=value, aggfunc="first")
        if table.isna().any().any():
            raise ValueError(f"fold {fold}: the seeds were not all scored on the same clips")
        cubes.append(table.to_numpy(dtype=float))
    if not cubes:
        raise ValueError("no answers to resample")
    return cubes


def _nested_means(cubes: list[np.ndarray], n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap replicates (n_boot,) of the mean over folds of the per-fold (seed x clip) mean.

    Folds are drawn with replacement; each drawn slot resamples its fold's seeds and clips anew.
    """
    F = len(cubes)
    slot_means = np.empty((F, n_boot, F))  # mean of fold f if it fills slot j in replicate b
    for f, X in enumerate(cubes):
        S, n = X.shape
        ws = rng.multinomial(S, np.full(S, 1 / S), size=(n_boot, F))  # seed counts (B, F, S)
        wc = rng.multinomial(n, np.full(n, 1 / n), size=(n_boot, F))  # clip counts (B, F, n)
        slot_means[f] = np.einsum("bjs,sc,bjc->bj", ws, X, wc) / (S * n)
    pick = rng.integers(F, size=(n_boot, F))
    return np.take_along_axis(slot_means.transpose(1, 2, 0), pick[..., None], -1)[..., 0].mean(-1)


def bootstrap_accuracy(answers: pd.DataFrame, n_boot: int = 4000, confidence: float = 0.95,
                       seed: int = 0) -> dict[str, float]:
    """Accuracy over folds, seeds and clips with a nested-bootstrap percentile interval.

    The estimate is the mean over folds of each fold's accuracy averaged over its seeds. The
    interval covers speakers (folds), training seeds and clips. Also returns the counts.
    """
    cubes = _cube(answers)
    rng = np.random.default_rng(seed)
    boot = _nested_means(cubes, n_boot, rng)
    a = (1 - confidence) / 2
    return dict(estimate=float(np.mean([X.mean() for X in cubes])), ci_low=float(np.quantile(boot, a)),
                    ci_high=float(np.quantile(boot, 1 - a)), folds=len(cubes),
                    runs=int(sum(X.shape[0] for X in cubes)), clips=int(sum(X.shape[1] for X in cubes)))


def _aligned(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    keys = ["fold", "seed", "clip"]
    for name, frame in (("a", a), ("b", b)):
        if frame.duplicated(keys).any():
            raise ValueError(f"answers {name} hold more than one row per (fold, seed, clip)")
    m = a[keys + ["correct"]].merge(b[keys + ["correct"]], on=keys, how="outer", suffixes=("_a", "_b"),
                                    indicator=True)
    if (m["_merge"] != "both").any():
        raise ValueError(f"{int((m['_merge'] != 'both').sum())} (fold, seed, clip) rows are in only one of the two "
                         "configurations: a paired comparison needs the same clips and seeds in both")
    return m.assign(diff=m["correct_a"] - m["correct_b"])


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> dict[str, float]:
    """Exact McNemar test of two classifiers on the same items (0/1 arrays of equal length).

    Returns the discordant counts (``a_only``: a right and b wrong; ``b_only``) and the two-sided
    exact binomial p-value of a_only among the discordant pairs under p = 1/2 (1.0 when none).
    """
    ca, cb = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if ca.shape != cb.shape:
        raise ValueError(f"the two answer vectors differ in shape: {ca.shape} vs {cb.shape}")
    a_only, b_only = int((ca & ~cb).sum()), int((~ca & cb).sum())
    p = binomtest(a_only, a_only + b_only, 0.5).pvalue if a_only + b_only else 1.0
    return {"a_only": a_only, "b_only": b_only, "p_mcnemar": float(p)}


def paired_difference(a: pd.DataFrame, b: pd.DataFrame, n_boot: int = 4000, confidence: float = 0.95,
                      seed: int = 0) -> dict[str, float]:
    """Accuracy of ``a`` minus accuracy of ``b`` on the same (fold, seed, clip) rows.

    The interval and the two-sided bootstrap p-value (never below 1/n_boot, its resolution) come
    from the nested bootstrap of the per-clip differences (folds, seeds, clips); the exact McNemar
    test on the pooled pairs is
    reported beside them (it treats every (seed, clip) pair as independent, so it is the more
    optimistic of the two). Rows must match one to one.
    """
    m = _aligned(a, b)
    cubes = _cube(m, "diff")
    boot = _nested_means(cubes, n_boot, np.random.default_rng(seed))
    alpha = (1 - confidence) / 2
    p_boot = min(1.0, max(2 * min(np.mean(boot <= 0), np.mean(boot >= 0)), 1 / n_boot))  # resolution: 1/n_boot
    return dict(estimate=float(np.mean([X.mean() for X in cubes])), ci_low=float(np.quantile(boot, alpha)),
                    ci_high=float(np.quantile(boot, 1 - alpha)), p_boot=float(p_boot), folds=len(cubes),
                    pairs=len(m), **mcnemar(m["correct_a"].to_numpy(), m["correct_b"].to_numpy()))


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


def failure_share(accuracies: pd.Series | np.ndarray, n: int, chance: float = 0.5, alpha: float = 0.05) -> float:
    """Share of runs or programmings that failed (``chance_failure``), for bimodal outcomes where
    a mean alone hides that some programmings work and others collapse."""
    acc = np.asarray(accuracies, dtype=float)
    if acc.size == 0:
        raise ValueError("no accuracies given")
    return float(np.mean([chance_failure(a, n, chance, alpha) for a in acc]))


# ------------------------------------------------------------------ tables for the book


def accuracy_table(answers: pd.DataFrame, by: str, n_boot: int = 4000, seed: int = 0) -> pd.DataFrame:
    """``bootstrap_accuracy`` of each group of ``by`` (e.g. ``model``), one row per group, in the
    order the groups first appear."""
    rows = [{by: key} | bootstrap_accuracy(part, n_boot=n_boot, seed=seed)
            for key, part in answers.groupby(by, sort=False)]
    return pd.DataFrame(rows)


def paired_table(answers: pd.DataFrame, by: str, pairs: list[tuple[str, str]], n_boot: int = 4000,
                 seed: int = 0) -> pd.DataFrame:
    """``paired_difference`` of each (a, b) in ``pairs`` (values of column ``by``), one row per pair,
    with a ``verdict``: which one is better when the interval of a - b excludes 0, else
    'no difference shown'."""
    rows = []
    for a, b in pairs:
        d = paired_difference(answers[answers[by] == a], answers[answers[by] == b], n_boot=n_boot, seed=seed)
        verdict = f"{a} better" if d["ci_low"] > 0 else (f"{b} better" if d["ci_high"] < 0 else "no difference shown")
        rows.append({"a": a, "b": b} | d | {"verdict": verdict})
    return pd.DataFrame(rows)


def realisation_summary(rows: pd.DataFrame, by: list[str], n_clips: int | None, n_boot: int = 2000, seed: int = 0,
                        confidence: float = 0.95) -> pd.DataFrame:
    """Summary of Monte Carlo programmings (one row per fold and realisation, column ``accuracy``)
    per group of ``by``: the mean over folds of each fold's mean, a nested-bootstrap interval
    that resamples folds (speakers) and then realisations within each fold, and the share of
    programmings that failed (``chance_failure`` on ``n_clips`` clips; None: the column holds
    something other than an accuracy, no failure share), reported beside the mean because such
    outcomes are often bimodal."""
    rng = np.random.default_rng(seed)
    alpha = (1 - confidence) / 2
    out = []
    for key, group in rows.groupby(by, sort=True):
        per_fold = [part["accuracy"].to_numpy(dtype=float) for _, part in group.groupby("fold", sort=True)]
        slot = np.stack([[rng.choice(a, size=len(a)).mean() for a in per_fold] for _ in range(n_boot)])  # (B, F)
        pick = rng.integers(len(per_fold), size=(n_boot, len(per_fold)))
        boot = np.take_along_axis(slot, pick, 1).mean(1)
        out.append(dict(zip(by, key if isinstance(key, tuple) else (key,)))
                   | {"mean": float(np.mean([a.mean() for a in per_fold])), "ci_low": float(np.quantile(boot, alpha)),
                      "ci_high": float(np.quantile(boot, 1 - alpha)), "folds": len(per_fold),
                      "programmings": int(len(group))}
                   | ({} if n_clips is None else {"failure_share": failure_share(group["accuracy"], n_clips)}))
    return pd.DataFrame(out)


def drops_from(rows: pd.DataFrame, reference: pd.DataFrame, key: tuple[str, ...] = ("bits", "seed", "fold")) -> pd.DataFrame:
    """``rows`` (one per programming, column ``accuracy``) with ``drop_points``: 100 x (the same
    model's ``reference`` accuracy - its accuracy), paired by model ``key``. ``reference`` holds one
    or more rows per model (averaged), e.g. the model on an ideal array."""
    key = [k for k in key if k in rows.columns]
    ref = reference.groupby(key)["accuracy"].mean()
    missing = rows.set_index(key).index.difference(ref.index)
    if len(missing):
        raise ValueError(f"no reference accuracy for models {list(missing)[:3]}")
    return rows.assign(drop_points=100 * (rows.set_index(key).index.map(ref).to_numpy(float) - rows["accuracy"].to_numpy(float)))


def paired_contrast(rows: pd.DataFrame, column: str, a: Any, b: Any, by: list[str],
                    key: tuple[str, ...] = ("seed", "fold", "realisation"), n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Accuracy under ``column == a`` minus under ``column == b`` (points), paired on the same model
    and programming draw ``key``, per group of ``by``: mean with a nested-bootstrap interval over
    folds, then programmings (``realisation_summary``). Rows of a group without a partner are an error."""
    key = [k for k in key if k in rows.columns]
    out = []
    for group, part in rows.groupby(by, sort=True):
        A = part[part[column] == a].set_index(key)["accuracy"]
        B = part[part[column] == b].set_index(key)["accuracy"]
        if A.empty or B.empty or not A.index.sort_values().equals(B.index.sort_values()):
            raise ValueError(f"{column}={a!r} and {column}={b!r} are not paired in group {group}")
        diff = (100 * (A - B.loc[A.index])).rename("accuracy").reset_index()
        s = realisation_summary(diff.assign(_g=0), ["_g"], None, n_boot, seed).iloc[0]
        out.append(dict(zip(by, group if isinstance(group, tuple) else (group,)))
                   | {"a": a, "b": b, "difference_points": s["mean"], "ci_low": s["ci_low"], "ci_high": s["ci_high"],
                      "programmings": int(s["programmings"])})
    return pd.DataFrame(out)


def drop_interval(drops: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group of ``by``: the mean of ``drops_from``'s ``drop_points`` with its interval over folds
    then programmings (``realisation_summary``), as ``drop_points``, ``drop_ci_low``, ``drop_ci_high``."""
    d = realisation_summary(drops.assign(accuracy=drops["drop_points"]), by, None)[by + ["mean", "ci_low", "ci_high"]]
    return d.rename(columns={"mean": "drop_points", "ci_low": "drop_ci_low", "ci_high": "drop_ci_high"})


def drop_summary(rows: pd.DataFrame, reference: pd.DataFrame, by: list[str], n_clips: int) -> pd.DataFrame:
    """Per group of ``by``: the accuracy summary of ``realisation_summary`` (mean, interval over folds
    then programmings, failure share) and the paired drop from each model's ``reference`` accuracy
    (``drop_interval`` of ``drops_from``): ``drop_points``, ``drop_ci_low``, ``drop_ci_high``."""
    return realisation_summary(rows, by, n_clips).merge(drop_interval(drops_from(rows, reference), by), on=by)
