"""The reproduction report's vocabulary: the kinds of test that decide a claim (``TESTS``), the
report's words (``VERDICTS``, described in ``imssa.study.report``) and how a claim's verdict
(``stats.verdicts.verdict``) becomes one of them (``grade``, ``difference_rule``), and the
records a rule reads (``Claim``) and returns (``Finding``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

import pandas as pd

from ..stats.verdicts import ABOVE, FAILS, HOLDS, NOT_RESOLVED, Rule, verdict
from .paper import PAPER

__all__ = [
    "Claim",
    "Finding",
    "TESTS",
    "TWO_CLASSES_CHANCE",
    "Test",
    "VERDICTS",
    "agreement_grade",
    "difference_grade",
    "difference_rule",
    "grade",
    "paper_figure",
    "percent",
]

Test = Literal["agreement", "superiority", "non-inferiority", "noise", "exactness", "open"]
TESTS: tuple[str, ...] = Test.__args__  # type: ignore[attr-defined]
VERDICTS = (
    "reproduced",
    "consistent",
    "not consistent",
    "not reproduced",
    "not resolved",
    "explained",
    "answered",
    "open",
    "not run",
)


def agreement_grade(agrees: bool, same_setting: bool) -> str:
    """The word for a result that agrees (or not) with a claim, on the paper's setting or
    another."""
    if same_setting:
        return "reproduced" if agrees else "not reproduced"
    return "consistent" if agrees else "not consistent"


def grade(word: str, same_setting: bool) -> str:
    """The report's word for a claim's ``stats.verdicts.verdict`` (``HOLDS``, ``FAILS`` or
    ``NOT_RESOLVED``), on the paper's setting (reproduced / not reproduced) or another (consistent /
    not consistent)."""
    if word == NOT_RESOLVED:
        return NOT_RESOLVED
    if word not in (HOLDS, FAILS):
        raise ValueError(
            f"a claim's verdict is {HOLDS!r}, {FAILS!r} or {NOT_RESOLVED!r}, not {word!r}"
        )
    return agreement_grade(word == HOLDS, same_setting)


def difference_rule(test: str, tolerance: float) -> Rule:
    """The ``stats.verdicts.Rule`` of a paired difference a - b (points): ``superiority`` (a better
    than b: the interval above 0) or ``non-inferiority`` (a no worse than b by more than
    ``tolerance``: the interval above -tolerance)."""
    bound = {"superiority": 0.0, "non-inferiority": -tolerance}.get(test)
    if bound is None:
        raise ValueError(
            f"a difference is judged by 'superiority' or 'non-inferiority', not {test!r}"
        )
    return Rule(bound, holds=ABOVE)


def difference_grade(c: Claim, ci_low: float, ci_high: float, tolerance: float) -> str:
    """The report's word for the difference interval of claim ``c`` (``difference_rule``,
    ``grade``)."""
    return grade(verdict(ci_low, ci_high, None, difference_rule(c.test, tolerance)), c.same_setting)


class Finding(NamedTuple):
    """What a rule reads from a table: our figure (text), its interval (NaN if none), verdict,
    reason."""

    ours: str
    ci_low: float
    ci_high: float
    verdict: str
    reason: str


class Claim(NamedTuple):
    """A claim of the paper ('claim'), our own check ('check') or an open question ('open
    question'): the chapter and tables (CSV names) it is judged on, its kind of ``test``, whether
    our setting matches the paper's (``same_setting``, with the reason in ``setting``), and the
    rule ``(tables, tolerance_points, claim) -> Finding``."""

    kind: str
    claim: str
    paper: str
    chapter: str
    tables: tuple[str, ...]
    test: Test
    same_setting: bool
    setting: str
    rule: Callable[[dict[str, pd.DataFrame], float, Claim], Finding]


#: Chance on the two-class tasks the report reads (accuracy, fraction).
TWO_CLASSES_CHANCE = 0.5


def paper_figure(name: str) -> float:
    return PAPER[name][0]


def percent(x: float) -> str:
    return f"{100 * x:.1f}%"
