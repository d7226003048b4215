"""The plan of the chapter hardware_deployment: not yet declared."""

from __future__ import annotations

from . import ChapterPlan

UNDECLARED = True


def plan(cfg) -> ChapterPlan:
    return ChapterPlan()
