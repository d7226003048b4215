"""Uncertainty of accuracies, and paired comparisons, over speakers (folds), seeds and clips.

The book's main task tests every speaker once (leave-one-speaker-out), with several training
seeds per fold and, on arrays, several programmings per model. An accuracy varies for four
reasons: which speakers are in the data (folds), how training went (seeds), which clips a
speaker recorded (clips) and how the array was programmed (realisations). With six speakers at
most, the speaker is the unit of replication:

* **Intervals** are t intervals over the per-fold means with F - 1 degrees of freedom
  (``fold_t_interval``; for accuracies on the logit scale, ``accuracy_interval``). Each fold mean already averages that fold's seeds, clips and
  programmings, so its spread between folds holds all four sources of variance, and the
  interval covers *the mean over speakers like these* (of the same seeds' and programmings'
  distribution), not only the finite test set. A percentile bootstrap over 6 clusters
  undercovers (about 87% at nominal 95%; ``interval_coverage`` measures both); the t interval
  holds its level at 3 and 6 folds (``tests/test_stats.py``).
* **p-values** come from an exact sign-flip (permutation) test over folds (``sign_flip_p``):
  under "no difference" each fold's mean difference is as likely to be + as -, so with F folds
  the smallest two-sided p is 2 / 2^F (1/32 at 6 folds, 1/4 at 3). The t test over fold means
  (``p_t``) is reported beside it: it is the test the interval inverts.
* **Families.** A chapter states its planned comparisons and corrects them together with Holm's
  step-down method (``holm``, on ``p_t``). ``paired_table`` treats its rows as one family.
* **Verdicts** (``verdict``, the book's one rule and one word set): an interval and a p-value
  (Holm-adjusted where a family) against a ``Rule``'s threshold t: ``ABOVE`` / ``BELOW`` where the
  whole interval lies strictly on one side of t and p <= alpha, else ``NOT_RESOLVED``; a paper's claim reads
  ``HOLDS`` / ``FAILS`` by the side the rule names. Every table's column is ``verdict``.
* **Units.** Paired differences (``paired_difference``, ``paired_contrast``) are in accuracy
  points (percentage points), converted here once.
* **McNemar** (``mcnemar``) describes one model pair on its clips (discordant counts) and is not a
  test of a configuration over speakers; the tables keep only its counts.

Input is a tidy frame of per-clip answers with columns ``fold``, ``seed``, ``clip`` and
``correct`` (0/1), one row per clip and run (see ``imssa.study.sweep.clip_answers``), or per
programming (``fold``, ``realisation``, ``accuracy``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import binomtest
from scipy.stats import t as student_t
from statsmodels.stats.multitest import multipletests

__all__ = [
    "ABOVE",
    "ALPHA",
    "BELOW",
    "FAILS",
    "HOLDS",
    "INTERVAL_TEXT",
    "NOT_RESOLVED",
    "Rule",
    "VERDICT_WORDS",
    "contrast_phrase",
    "table_verdicts",
    "verdict",
    "PAIRED_COLUMNS",
    "accuracy_interval",
    "accuracy_summary",
    "accuracy_table",
    "chance_failure",
    "drop_interval",
    "drop_summary",
    "drops_from",
    "failure_share",
    "holm_family",
    "fold_accuracy",
    "fold_t_interval",
    "holm",
    "interval_coverage",
    "mcnemar",
    "nested_bootstrap_accuracy",
    "paired_contrast",
    "paired_difference",
    "paired_table",
    "realisation_summary",
    "sign_flip_p",
    "t_test_p",
    "simulated_answers",
    "wilson_interval",
]

ANSWER_COLUMNS = ("fold", "seed", "clip", "correct")

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
    ``fold_t_interval`` inverts); 1.0 when all are 0, 0.0 when all are equal and not 0, NaN for one fold."""
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


def holm(p_values: np.ndarray | list[float], alpha: float = 0.05) -> np.ndarray:
    """Holm's step-down adjusted p-values of one family (statsmodels' ``multipletests``); NaN
    entries (comparisons that could not be tested) stay NaN and do not count in the family."""
    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], alpha=alpha, method="holm")[1]
    return out


# ------------------------------------------------------------------ verdicts

#: The whole interval above the rule's threshold (and p <= alpha).
ABOVE = "above"
#: The whole interval below the rule's threshold (and p <= alpha).
BELOW = "below"
#: A paper's claim on the side its rule names (``Rule.holds``), resolved.
HOLDS = "holds"
#: A paper's claim on the other side, resolved.
FAILS = "fails"
#: The interval spans the threshold, p is above alpha, or either is undefined (one fold).
NOT_RESOLVED = "not resolved"
#: Every word a ``verdict`` column holds.
VERDICT_WORDS = (ABOVE, BELOW, HOLDS, FAILS, NOT_RESOLVED)
#: The book's level: a test resolves at p <= ALPHA.
ALPHA = 0.05


class Rule(NamedTuple):
    """What a verdict tests: the ``threshold`` (in the interval's unit, e.g. points), the side on
    which a paper's claim ``holds`` (``ABOVE`` or ``BELOW``; None: the verdict says the side) and
    the level ``alpha``."""

    threshold: float = 0.0
    holds: str | None = None
    alpha: float = ALPHA


def verdict(ci_low: float, ci_high: float, p: float | None = None, rule: Rule = Rule()) -> str:
    """The book's one verdict on an interval [``ci_low``, ``ci_high``] and a test's ``p`` (Holm-
    adjusted where a family; None where the rule reads the interval alone) against ``rule``.

    The verdict is the side of the threshold t that holds the whole interval, strictly, where the
    test also resolves (``p <= rule.alpha``): ``ABOVE`` where ``ci_low > t``, ``BELOW`` where
    ``ci_high < t``, else ``NOT_RESOLVED`` (an interval touching t, e.g. [0, 0] from two models
    that answer alike, decides nothing; nor does a NaN interval or p). With ``rule.holds`` set,
    ``HOLDS`` on that side and ``FAILS`` on the other. Never 'no difference': an interval
    spanning the threshold may be wide."""
    if rule.holds not in (None, ABOVE, BELOW):
        raise ValueError(f"Rule.holds must be {ABOVE!r}, {BELOW!r} or None, not {rule.holds!r}")
    tested = p is None or bool(p <= rule.alpha)  # a NaN p compares False: not tested
    if not tested or np.isnan(ci_low) or np.isnan(ci_high):
        return NOT_RESOLVED
    side = ABOVE if ci_low > rule.threshold else BELOW if ci_high < rule.threshold else NOT_RESOLVED
    if side == NOT_RESOLVED:
        return NOT_RESOLVED
    if rule.holds is None:
        return side
    return HOLDS if side == rule.holds else FAILS


def table_verdicts(table: pd.DataFrame, p: str | None = "p_holm", rule: Rule = Rule()) -> list[str]:
    """``verdict`` of every row of ``table`` (columns ``ci_low``, ``ci_high`` and ``p``; ``p`` None:
    the interval alone)."""
    ps = [None] * len(table) if p is None else table[p].to_numpy(float)
    return [
        verdict(lo, hi, q, rule)
        for lo, hi, q in zip(table["ci_low"].to_numpy(float), table["ci_high"].to_numpy(float), ps)
    ]


def contrast_phrase(a: Any, b: Any, word: str) -> str:
    """A contrast a - b in words: '<a> above <b>', '<a> below <b>' or '<a> against <b>: not resolved'."""
    if word not in (ABOVE, BELOW, NOT_RESOLVED):
        raise ValueError(f"a contrast reads {ABOVE!r}, {BELOW!r} or {NOT_RESOLVED!r}, not {word!r}")
    return f"{a} against {b}: {word}" if word == NOT_RESOLVED else f"{a} {word} {b}"


def _fold_stats(fold_values: np.ndarray, confidence: float = 0.95) -> dict[str, float]:
    """Mean, t interval, p of the t test and exact sign-flip p of per-fold values (F,)."""
    est, low, high = fold_t_interval(fold_values, confidence)
    return dict(
        estimate=est,
        ci_low=low,
        ci_high=high,
        p_t=t_test_p(fold_values),
        p_sign_flip=sign_flip_p(fold_values),
    )


# ------------------------------------------------------------------ per-clip answers


def _cube(answers: pd.DataFrame, value: str = "correct") -> list[np.ndarray]:
    """Per fold, the (seeds, clips) array of ``value``; every seed of a fold must score the same clips."""
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
    cubes = _cube(answers)
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
    cubes = _cube(answers)
    boot = _nested_means(cubes, n_boot, np.random.default_rng(seed))
    a = (1 - confidence) / 2
    return dict(
        estimate=float(np.mean([X.mean() for X in cubes])),
        ci_low=float(np.quantile(boot, a)),
        ci_high=float(np.quantile(boot, 1 - a)),
        **_counts(cubes),
    )


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
    cubes = _cube(m, "diff")
    counts = mcnemar(m["correct_a"].to_numpy(), m["correct_b"].to_numpy())
    s = _fold_stats(np.array([100 * X.mean() for X in cubes]), confidence)
    return (
        {"difference_points": s.pop("estimate")}
        | s
        | dict(folds=len(cubes), pairs=len(m), a_only=counts["a_only"], b_only=counts["b_only"])
    )


def accuracy_table(answers: pd.DataFrame, by: str) -> pd.DataFrame:
    """``fold_accuracy`` of each group of ``by`` (e.g. ``model``), one row per group, in the
    order the groups first appear."""
    return pd.DataFrame(
        [{by: key} | fold_accuracy(part) for key, part in answers.groupby(by, sort=False)]
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
    return dict(zip(by, key if isinstance(key, tuple) else (key,)))


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
    difference, its t interval over folds, ``p_t`` and the exact ``p_sign_flip`` (``_fold_stats``).
    Rows of a group without a partner are an error."""
    key = [k for k in key if k in rows.columns]
    out = []
    for group, part in rows.groupby(by, sort=True):
        A = part[part[column] == a].set_index(key)["accuracy"]
        B = part[part[column] == b].set_index(key)["accuracy"]
        if A.empty or B.empty or not A.index.sort_values().equals(B.index.sort_values()):
            raise ValueError(f"{column}={a!r} and {column}={b!r} are not paired in group {group}")
        diff = (100 * (A - B.loc[A.index])).rename("d").reset_index()
        s = _fold_stats(diff.groupby("fold", sort=True)["d"].mean().to_numpy(), confidence)
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
    """Per group of ``by``: the accuracy summary of ``realisation_summary`` (mean, interval over folds,
    failure share) and the paired drop from each model's ``reference`` accuracy
    (``drop_interval`` of ``drops_from``): ``drop_points``, ``drop_ci_low``, ``drop_ci_high``."""
    return realisation_summary(rows, by, n_clips).merge(
        drop_interval(drops_from(rows, reference), by), on=by
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
