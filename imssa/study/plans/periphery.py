"""The plan of the chapter periphery: the deployment chapter's ``map_bits`` QAT models of every
seed and fold (stage 'QAT models', ``periphery_designs.qat_models``), and each grid of
``periphery_designs.grid_cells`` at a task per cell and model. The converter-aware fine-tunes
(``aware.finetune``, cached apart from the model cache) are counted in ``aware``: one per model of
``aware_seeds`` (``periphery_designs.aware_model_keys``)."""

from __future__ import annotations

from ..params import PeripheryParams
from ..periphery_designs import aware_model_keys, grid_cells, qat_models
from . import ChapterPlan


def plan(cfg: PeripheryParams) -> ChapterPlan:
    """Stage 'QAT models': ``qat_models``; grids: len(cells) x models each; the converter-aware
    fine-tunes of ``aware_seeds``."""
    models = qat_models(cfg)
    grids = {name: len(cells) * len(models) for name, cells in grid_cells(cfg).items()}
    aware = {"converter-aware models": len(aware_model_keys(cfg, list(models)))}
    return ChapterPlan(runs={"QAT models": models}, grids=grids, aware=aware)
