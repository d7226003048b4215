"""The plan of the chapter stability_margin: not yet declared."""

from __future__ import annotations

from . import ChapterPlan

UNDECLARED = True


def plan(cfg) -> ChapterPlan:
    return ChapterPlan()
