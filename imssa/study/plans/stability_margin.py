"""The plan of the chapter stability_margin: its models (``margin models``, every bit width and
pole cap on every margin seed and fold) with the float runs they start from, and its two grids,
all from ``study.margin_tables``, the functions the chapter's cells call."""

from __future__ import annotations

from ..margin_tables import margin_cells, margin_models
from ..params import MarginParams
from . import ChapterPlan


def plan(cfg: MarginParams) -> ChapterPlan:
    """``margin models`` ((bits, r_max, seed, fold) -> run; ``Chapter.models("margin models")``;
    with the float runs they start from, ``ChapterPlan.all_runs``), and one task per
    cell of each grid of ``margin_cells``."""
    models = margin_models(cfg)
    return ChapterPlan(
        runs={"margin models": models},
        grids={name: len(cells) for name, cells in margin_cells(cfg).items()},
    )
