"""The plan of the chapter fixed_range_qat: its two validation sweeps
(``selection.qat_selection_specs``), the learning curves (``runs.qat_curve_specs``), the QAT sweep
(``runs.qat_sweep_specs``), the float references (``runs.reference_specs``) and the model shown in
detail (``runs.qat_detail_spec``): the calls the chapter's cells make. No grid, no run fixed by a
choice."""

from __future__ import annotations

from ..params import QATParams
from ..runs import (
    qat_curve_specs,
    qat_detail_spec,
    qat_sweep_specs,
    reference_specs,
    stage_runs,
)
from ..selection import qat_selection_specs
from . import ChapterPlan


def plan(cfg: QATParams) -> ChapterPlan:
    """Stages 'fixed-range choices' and 'pole cap' (``qat_selection_specs``), 'learning curves',
    'QAT sweep', 'references', 'detail model' (key: (bits, seed, fold)); the float runs they start
    from (``ChapterPlan.all_runs``) include those with the file's global values that the
    validation sweeps fine-tune where a fold has its own choices (``fold_choices``)."""
    specs = dict(qat_selection_specs(cfg))
    specs["learning curves"] = qat_curve_specs(cfg)
    specs["QAT sweep"] = qat_sweep_specs(cfg)
    specs["references"] = reference_specs(cfg)
    stages = {k: stage_runs(*s) for k, s in specs.items()}
    detail = qat_detail_spec(cfg)
    stages["detail model"] = {(cfg.detail_bits, detail.train.seed, detail.data.fold): detail}
    return ChapterPlan(runs=stages)
