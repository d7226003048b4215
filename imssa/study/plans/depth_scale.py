"""The plan of the chapter depth_scale: not yet declared."""

from __future__ import annotations

from . import ChapterPlan

UNDECLARED = True


def plan(cfg) -> ChapterPlan:
    return ChapterPlan()
