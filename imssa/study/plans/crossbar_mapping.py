"""The plan of the chapter crossbar_mapping: the models it maps, one per fold
(``mapping_tables.mapped_specs``, the call the chapter's cells make), and the float runs they are
fine-tuned from. No grid, no run fixed by a choice."""

from __future__ import annotations

from ..mapping_tables import mapped_specs
from ..params import MappingParams
from . import ChapterPlan


def plan(cfg: MappingParams) -> ChapterPlan:
    """Stage 'mapped models' ({fold: run}); the float runs they start from are planned with them
    (``ChapterPlan.all_runs``)."""
    return ChapterPlan(runs={"mapped models": mapped_specs(cfg)})
