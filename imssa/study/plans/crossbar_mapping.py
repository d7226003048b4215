"""The plan of the chapter crossbar_mapping: the models it maps, one per fold
(``mapping_tables.mapped_specs``, the call the chapter's cells make), and the float runs they are
fine-tuned from. No grid, no run fixed by a choice."""

from __future__ import annotations

from ..mapping_tables import mapped_specs
from ..params import MappingParams
from ..runs import with_starting_points
from . import ChapterPlan


def plan(cfg: MappingParams) -> ChapterPlan:
    """Stage 'mapped models' ({fold: run}) and ``runs.STARTING_POINTS``: the float runs of the
    first seed that the QAT chapter trains them from, asked for when a mapped model is trained
    here (this chapter run before the QAT chapter)."""
    return ChapterPlan(runs=with_starting_points({"mapped models": mapped_specs(cfg)}))
