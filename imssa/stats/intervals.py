"""Intervals over held-out speakers (folds): accuracies and per-fold values, the t test and the
exact sign-flip test over folds, and the coverage of those intervals measured by simulation.

Input is a tidy frame of per-clip answers with columns ``fold``, ``seed``, ``clip`` and
``correct`` (0/1), one row per clip and run (see ``imssa.study.sweep.clip_answers``). The
package's docstring (``imssa.stats``) says why the speaker is the unit of replication.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import binomtest
from scipy.stats import t as student_t

__all__ = [
    "ANSWER_COLUMNS",
    "INTERVAL_TEXT",
    "accuracy_interval",
    "accuracy_summary",
    "accuracy_table",
    "fold_accuracy",
    "fold_cubes",
    "fold_stats",
    "fold_t_interval",
    "interval_coverage",
    "nested_bootstrap_accuracy",
    "sign_flip_p",
    "simulated_answers",
    "t_test_p",
    "wilson_interval",
]

#: The columns of a frame of per-clip answers.
ANSWER_COLUMNS = ("fold", "seed", "clip", "correct")

#: What every interval of the book covers, in one sentence for captions and reports.
INTERVAL_TEXT = (
    "95% t interval over held-out speakers (folds - 1 degrees of freedom; accuracies on "
    "the logit scale); it covers speakers, training seeds, clips and programmings"
)


def wilson_interval(correct: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``correct / n`` (fractions)."""
    if n < 1 or not 0 <= correct <= n:
        raise ValueError(f"need 0 <= correct <= n and n >= 1, got correct={correct}, n={n}")
    ci = binomtest(int(correct), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def accuracy_summary(
    accuracies: pd.Series | np.ndarray, n_test: int, confidence: float = 0.95
) -> pd.Series:
    """Mean and std over runs, and the Wilson interval of the mean on ``n_test`` clips.

    For one fixed test set (the official split): the interval covers the test-set sampling only,
    not training variance; the std is the spread between runs.
    """
    acc = np.asarray(accuracies, dtype=float)
    low, high = wilson_interval(int(round(acc.mean() * n_test)), n_test, confidence)
    return pd.Series(
        {
            "runs": len(acc),
            "mean": acc.mean(),
            "std": acc.std(ddof=1) if len(acc) > 1 else 0.0,
            "ci_low": low,
            "ci_high": high,
        }
    )


# ------------------------------------------------------------------ over folds


def fold_t_interval(fold_means: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of per-fold means (F,): a t interval with F - 1 degrees of freedom.

    With one fold there is no spread to estimate: the bounds are NaN. Folds that agree exactly
    give an interval of width 0.
    """
    x = np.asarray(fold_means, dtype=float).ravel()
    if x.size == 0 or np.isnan(x).any():
        raise ValueError(f"need one finite mean per fold, got {x.tolist()}")
    m = float(x.mean())
    if x.size < 2:
        return m, float("nan"), float("nan")
    half = float(student_t.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size))
    return m, m - half, m + half


def t_test_p(fold_diffs: np.ndarray) -> float:
    """Two-sided p of the t test that the mean of the per-fold differences (F,) is 0 (the test
    ``fold_t_interval`` inverts); 1.0 when all are 0, 0.0 when all are equal and not 0, NaN for one
    fold."""
    d = np.asarray(fold_diffs, dtype=float).ravel()
    if d.size < 2:
        return float("nan")
    sd = d.std(ddof=1)
    if sd == 0:
        return 1.0 if d.mean() == 0 else 0.0
    return float(2 * student_t.sf(abs(d.mean()) / (sd / np.sqrt(d.size)), d.size - 1))


def sign_flip_p(fold_diffs: np.ndarray) -> float:
    """Exact two-sided sign-flip p of per-fold mean differences (F,): the share of the 2^F sign
    patterns whose |mean| reaches the observed one. Its smallest value is 2 / 2^F."""
    d = np.asarray(fold_diffs, dtype=float).ravel()
    if d.size == 0 or d.size > 20 or np.isnan(d).any():
        raise ValueError(f"need 1 to 20 finite per-fold differences, got {d.size}")
    signs = np.array(list(itertools.product((1.0, -1.0), repeat=d.size)))  # (2^F, F)
    null = np.abs(signs @ d) / d.size
    return float(np.mean(null >= abs(d.mean()) - 1e-12))


def fold_stats(fold_values: np.ndarray, confidence: float = 0.95) -> dict[str, float]:
    """Mean, t interval, p of the t test and exact sign-flip p of per-fold values (F,)."""
    est, low, high = fold_t_interval(fold_values, confidence)
    return dict(
        estimate=est,
        ci_low=low,
        ci_high=high,
        p_t=t_test_p(fold_values),
        p_sign_flip=sign_flip_p(fold_values),
    )


def fold_cubes(answers: pd.DataFrame, value: str = "correct") -> list[np.ndarray]:
    """Per fold, the (seeds, clips) array of ``value``; every seed of a fold must score the same
    clips."""
    need = set(ANSWER_COLUMNS[:3]) | {value}
    missing = need - set(answers.columns)
    if missing:
        raise ValueError(f"answers need the columns {sorted(need)}; missing {sorted(missing)}")
    if answers[value].isna().any():
        raise ValueError(
            "answers hold missing values: leave failed runs out (and report them) "
            "before summarising"
        )
    cubes = []
    for fold, part in answers.groupby("fold", sort=True):
        table = part.pivot_table(index="seed", columns="clip", values=value, aggfunc="first")
        if table.isna().any().any():
            raise ValueError(f"fold {fold}: the seeds were not all scored on the same clips")
        cubes.append(table.to_numpy(dtype=float))
    if not cubes:
        raise ValueError("no answers to summarise")
    return cubes


def _counts(cubes: list[np.ndarray]) -> dict[str, int]:
    return dict(
        folds=len(cubes),
        runs=int(sum(X.shape[0] for X in cubes)),
        clips=int(sum(X.shape[1] for X in cubes)),
    )


def accuracy_interval(
    fold_accuracies: np.ndarray, trials_per_fold: np.ndarray | int, confidence: float = 0.95
) -> tuple[float, float, float]:
    """(mean, low, high) of per-fold accuracies (F,), fractions: the t interval with F - 1 degrees
    of freedom on the empirical logits log((k + 1/2) / (n - k + 1/2)) of the folds (k correct of
    ``trials_per_fold`` answers), mapped back, and widened to hold the mean if it does not.

    Fold accuracies near the ceiling are skewed, and a t interval on their raw values then
    undercovers (about 89% at nominal 95% with 3 folds at 95% accuracy, ``interval_coverage``); on
    the logit scale the skew is gone and the coverage holds at 3 and 6 folds.
    """
    acc = np.asarray(fold_accuracies, dtype=float).ravel()
    n = np.broadcast_to(np.asarray(trials_per_fold, dtype=float), acc.shape)
    if acc.size == 0 or np.isnan(acc).any() or ((acc < 0) | (acc > 1)).any() or (n < 1).any():
        raise ValueError(f"need accuracies in [0, 1] and >= 1 trial per fold, got {acc.tolist()}")
    k = acc * n
    _, low, high = fold_t_interval(np.log((k + 0.5) / (n - k + 0.5)), confidence)
    m = float(acc.mean())
    if np.isnan(low):
        return m, low, high
    return m, min(float(expit(low)), m), max(float(expit(high)), m)


def fold_accuracy(answers: pd.DataFrame, confidence: float = 0.95) -> dict[str, float]:
    """Accuracy over folds, seeds and clips: the mean over folds of each fold's accuracy
    (averaged over its seeds and clips), with the interval of ``accuracy_interval`` and the
    counts of folds, runs and clips."""
    cubes = fold_cubes(answers)
    est, low, high = accuracy_interval(
        np.array([X.mean() for X in cubes]), np.array([X.size for X in cubes]), confidence
    )
    return dict(estimate=est, ci_low=low, ci_high=high, **_counts(cubes))


def _nested_means(cubes: list[np.ndarray], n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap replicates (n_boot,) of the mean over folds of the per-fold (seed x clip) mean:
    folds drawn with replacement, each drawn slot resampling its fold's seeds and clips anew."""
    F = len(cubes)
    slot_means = np.empty((F, n_boot, F))  # mean of fold f if it fills slot j in replicate b
    for f, X in enumerate(cubes):
        S, n = X.shape
        ws = rng.multinomial(S, np.full(S, 1 / S), size=(n_boot, F))  # seed counts (B, F, S)
        wc = rng.multinomial(n, np.full(n, 1 / n), size=(n_boot, F))  # clip counts (B, F, n)
        slot_means[f] = np.einsum("bjs,sc,bjc->bj", ws, X, wc) / (S * n)
    pick = rng.integers(F, size=(n_boot, F))
    return np.take_along_axis(slot_means.transpose(1, 2, 0), pick[..., None], -1)[..., 0].mean(-1)


def nested_bootstrap_accuracy(
    answers: pd.DataFrame, n_boot: int = 4000, confidence: float = 0.95, seed: int = 0
) -> dict[str, float]:
    """The book's former interval, kept to measure its coverage against ``fold_accuracy``'s: a
    nested percentile bootstrap (folds with replacement, then seeds and clips within each).
    With 3 to 6 folds it undercovers; no chapter uses it for a verdict."""
    cubes = fold_cubes(answers)
    boot = _nested_means(cubes, n_boot, np.random.default_rng(seed))
    a = (1 - confidence) / 2
    return dict(
        estimate=float(np.mean([X.mean() for X in cubes])),
        ci_low=float(np.quantile(boot, a)),
        ci_high=float(np.quantile(boot, 1 - a)),
        **_counts(cubes),
    )


def accuracy_table(answers: pd.DataFrame, by: str) -> pd.DataFrame:
    """``fold_accuracy`` of each group of ``by`` (e.g. ``model``), one row per group, in the
    order the groups first appear."""
    return pd.DataFrame(
        [{by: key} | fold_accuracy(part) for key, part in answers.groupby(by, sort=False)]
    )


# ------------------------------------------------------------------ coverage by simulation


def simulated_answers(
    folds: int,
    rng: np.random.Generator,
    accuracy: float = 0.85,
    speaker_concentration: float = 12.0,
    seeds: int = 2,
    clips: int = 100,
    seed_sd: float = 0.03,
    difference: float | None = None,
    difference_sd: float = 0.03,
) -> pd.DataFrame:
    """Per-clip answers of a synthetic study whose population accuracy is ``accuracy``: each
    speaker's accuracy is Beta-distributed with that mean (concentration
    ``speaker_concentration``: a between-speaker sd of sqrt(p(1-p)/(c+1)), 0.10 at the defaults),
    each training seed shifts it by a N(0, ``seed_sd``) draw, and each clip is a Bernoulli trial
    (a uniform draw u per clip: correct when u < p).

    With ``difference``, a second configuration ``b`` of each model is scored on the same clips
    and draws u, its accuracy lower by a per-speaker N(``difference``, ``difference_sd``) draw:
    a paired study whose population difference a - b is ``difference``. Column ``config``.
    """
    if not 0 < accuracy < 1 or folds < 1 or seeds < 1 or clips < 1:
        raise ValueError("need 0 < accuracy < 1 and folds, seeds, clips >= 1")
    a, b = accuracy * speaker_concentration, (1 - accuracy) * speaker_concentration
    p = np.clip(rng.beta(a, b, size=folds)[:, None] + rng.normal(0, seed_sd, (folds, seeds)), 0, 1)
    u = rng.random((folds, seeds, clips))
    f, s, c = np.meshgrid(np.arange(folds), np.arange(seeds), np.arange(clips), indexing="ij")
    frame = pd.DataFrame({"fold": f.ravel(), "seed": s.ravel(), "clip": (f * clips + c).ravel()})
    out = frame.assign(config="a", correct=(u < p[..., None]).ravel().astype(int))
    if difference is None:
        return out
    p_b = np.clip(p - rng.normal(difference, difference_sd, (folds, 1)), 0, 1)
    return pd.concat(
        [out, frame.assign(config="b", correct=(u < p_b[..., None]).ravel().astype(int))],
        ignore_index=True,
    )


def interval_coverage(
    interval: Callable[..., dict[str, float]],
    folds: int,
    simulations: int,
    seed: int = 0,
    accuracy: float = 0.85,
    difference: float | None = None,
    **design: Any,
) -> float:
    """Share of ``simulations`` synthetic studies (``simulated_answers``) whose interval holds the
    truth: ``interval(answers)`` for the population ``accuracy``, or, with ``difference`` (a
    fraction), ``interval(answers_a, answers_b)`` for the population difference a - b in points.
    Each returns ``ci_low`` and ``ci_high``.

    The seed's and the difference's normal shifts are clipped at 0 and 1; at the defaults that
    moves the population values by far less than the coverage's own Monte Carlo error.
    """
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(simulations):
        sim = simulated_answers(folds, rng, accuracy, difference=difference, **design)
        truth = accuracy if difference is None else 100 * difference  # paired intervals: points
        ci = (
            interval(sim)
            if difference is None
            else interval(sim[sim["config"] == "a"], sim[sim["config"] == "b"])
        )
        hits += ci["ci_low"] <= truth <= ci["ci_high"]
    return hits / simulations
