"""The plan of the chapter hardware_deployment: its fixed-range QAT models (``QAT models``, every
bit width a grid programs, on every seed and fold) with the float runs they start from, and its
five grids, all from ``study.deployment_sweeps``, the functions the chapter's cells call."""

from __future__ import annotations

from ..deployment_sweeps import BY_MODEL, deployment_cells, deployment_keys, deployment_models
from ..params import DeploymentParams
from . import ChapterPlan


def plan(cfg: DeploymentParams) -> ChapterPlan:
    """``QAT models`` ((bits, seed, fold) -> run; ``Chapter.models("QAT models")``; the float runs
    they start from are planned with them, ``ChapterPlan.all_runs``), and each grid of
    ``deployment_cells``: its cells, times the models of ``deployment_keys`` for the grids split
    by model (``BY_MODEL``)."""
    models = deployment_models(cfg)
    per_model = len(deployment_keys(cfg))
    return ChapterPlan(
        runs={"QAT models": models},
        grids={
            name: len(cells) * (per_model if name in BY_MODEL else 1)
            for name, cells in deployment_cells(cfg).items()
        },
    )
