"""The plan of the chapter periphery: the deployment chapter's ``map_bits`` QAT models of every
seed and fold (stage 'QAT models', ``periphery_designs.qat_models``), and each grid of
``periphery_designs.grid_cells`` at a task per cell and model. The converter-aware fine-tunes are
not model-cache runs (``aware.finetune`` caches them itself), so they are no stage here."""

from __future__ import annotations

from ..params import PeripheryParams
from ..periphery_designs import grid_cells, qat_models
from . import ChapterPlan


def plan(cfg: PeripheryParams) -> ChapterPlan:
    """Stage 'QAT models': ``qat_models``; grids: len(cells) x models each."""
    models = qat_models(cfg)
    grids = {name: len(cells) * len(models) for name, cells in grid_cells(cfg).items()}
    return ChapterPlan(runs={"QAT models": models}, grids=grids)
