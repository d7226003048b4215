"""The plan of the chapter float_baseline: its validation sweeps, one stage per model they run on
(``selection.baseline_selection_specs``), the learning curves (``runs.float_curve_specs``), the
float model with its controls and fixed-range QAT on every fold and seed (``runs.comparison_specs``)
and the official split (``runs.official_specs``): the calls the chapter's cells make. No grid, no
run fixed by a choice."""

from __future__ import annotations

from ..params import BaselineParams
from ..runs import (
    comparison_specs,
    float_curve_specs,
    official_specs,
    stage_runs,
)
from ..selection import baseline_selection_specs
from . import ChapterPlan


def plan(cfg: BaselineParams) -> ChapterPlan:
    """Stages 'selection, <model>' (the models of ``baseline_selection_specs``: 'float' and the
    deployed QAT model), 'learning curves', 'models' (float, QAT and controls: the controls table),
    'official split'; a float run a fine-tuned run starts from is planned with it
    (``ChapterPlan.all_runs``)."""
    specs = {f"selection, {m}": s for m, s in baseline_selection_specs(cfg).items()}
    specs["learning curves"] = float_curve_specs(cfg)
    specs["models"] = comparison_specs(cfg, cfg.controls, cfg.qat_bits)
    specs["official split"] = official_specs(cfg)
    return ChapterPlan(runs={k: stage_runs(*s) for k, s in specs.items()})
