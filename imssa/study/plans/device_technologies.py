"""The plan of the chapter device_technologies: the QAT chapter's fixed-range models at every width
of ``tech_bits`` (stage 'QAT models', ``technology_claims.technology_runs``), and each sweep of
``technology_claims.technology_grids`` at a task per cell and (seed, fold) model."""

from __future__ import annotations

from ..params import TechnologyParams
from ..technology_claims import technology_grids, technology_model_keys, technology_runs
from . import ChapterPlan


def plan(cfg: TechnologyParams) -> ChapterPlan:
    """Stage 'QAT models': ``technology_runs``; grids: len(cells) x ``technology_model_keys``."""
    keys = technology_model_keys(cfg)
    grids = {name: len(cells) * len(keys) for name, cells in technology_grids(cfg).items()}
    return ChapterPlan(runs={"QAT models": technology_runs(cfg)}, grids=grids)
