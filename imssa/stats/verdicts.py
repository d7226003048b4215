"""The book's one verdict: an interval and a test's p against a ``Rule``'s threshold, in one
word set (``VERDICT_WORDS``), for every chapter's ``verdict`` column and the report.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

__all__ = [
    "ABOVE",
    "ALPHA",
    "BELOW",
    "DEFAULT_RULE",
    "FAILS",
    "HOLDS",
    "NOT_RESOLVED",
    "VERDICT_WORDS",
    "Rule",
    "contrast_phrase",
    "table_verdicts",
    "verdict",
]

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


#: The rule a verdict reads unless told otherwise: threshold 0, either side, level ``ALPHA``.
DEFAULT_RULE = Rule()


def verdict(
    ci_low: float, ci_high: float, p: float | None = None, rule: Rule = DEFAULT_RULE
) -> str:
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


def table_verdicts(
    table: pd.DataFrame, p: str | None = "p_holm", rule: Rule = DEFAULT_RULE
) -> list[str]:
    """``verdict`` of every row of ``table`` (columns ``ci_low``, ``ci_high`` and ``p``; ``p`` None:
    the interval alone)."""
    ps = [None] * len(table) if p is None else table[p].to_numpy(float)
    return [
        verdict(lo, hi, q, rule)
        for lo, hi, q in zip(
            table["ci_low"].to_numpy(float), table["ci_high"].to_numpy(float), ps, strict=True
        )
    ]


def contrast_phrase(a: Any, b: Any, word: str) -> str:
    """A contrast a - b in words: '<a> above <b>', '<a> below <b>' or '<a> against <b>: not
    resolved'."""
    if word not in (ABOVE, BELOW, NOT_RESOLVED):
        raise ValueError(f"a contrast reads {ABOVE!r}, {BELOW!r} or {NOT_RESOLVED!r}, not {word!r}")
    return f"{a} against {b}: {word}" if word == NOT_RESOLVED else f"{a} {word} {b}"
