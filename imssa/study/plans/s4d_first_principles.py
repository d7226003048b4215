"""The plan of the chapter s4d_first_principles: nothing to train and no grid. Its layers are drawn
from a seed at initialisation (``s4d_tables.discrete_ssms``) and never trained."""

from __future__ import annotations

from ..params import FirstPrinciplesParams
from . import ChapterPlan


def plan(cfg: FirstPrinciplesParams) -> ChapterPlan:
    """The empty plan: the chapter trains and simulates nothing that a build need schedule."""
    return ChapterPlan()
