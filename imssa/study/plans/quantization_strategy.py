"""The plan of the chapter quantization_strategy: the float models and every QAT strategy's models
of each (seed, fold) (``strategy.strategy_runs``: PTQ strategies reuse the float models, a
strategy whose run another one already is adds none); the hardware grid, one task per strategy
and model (``strategy_cells``); the converter check, plain QAT and the recommended strategy, each
split by model (``strategy_converter_cells``: the same tasks whatever the recommendation). The
recommendation trains nothing: it picks one of the strategies already trained."""

from __future__ import annotations

from ..strategy import strategy_cells, strategy_converter_cells, strategy_keys, strategy_runs
from . import ChapterPlan


def plan(cfg) -> ChapterPlan:
    converters = len(strategy_converter_cells(cfg, cfg.baseline)) * len(strategy_keys(cfg))
    return ChapterPlan(
        runs=strategy_runs(cfg),
        grids={"hardware": len(strategy_cells(cfg)), "converters": converters},
    )
