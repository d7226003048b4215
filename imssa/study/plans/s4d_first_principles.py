"""The plan of the chapter s4d_first_principles: not yet declared."""

from __future__ import annotations

from . import ChapterPlan

UNDECLARED = True


def plan(cfg) -> ChapterPlan:
    return ChapterPlan()
