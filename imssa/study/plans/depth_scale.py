"""The plan of the chapter depth_scale: every model of its studies (``scale.study_cells``), float
models first, then the quantized ones fine-tuned from them (``scale.model_stages``), and the
Heidelberg Digits models where its files are present (``scale.heidelberg_present``: the one part of
the plan that reads more than the parameters); after each fold's depth is chosen on validation
speakers, the ten-digit quantized models at that depth (``scale.best_depth_cells``: as many
whatever the depths chosen; a fold that chooses depth 1 finds them trained already). Grids: 'depth'
and 'converters' on the depth study's quantized models, 'hardware' on every other quantized model,
'ten_best' on the chosen depths' quantized models."""

from __future__ import annotations

from .. import scale
from . import ChapterPlan


def plan(cfg) -> ChapterPlan:
    cells = scale.study_cells(cfg)
    runs = scale.model_stages(cfg, cells["models"])
    if scale.heidelberg_present():
        runs |= scale.model_stages(cfg, scale.heidelberg_cells(cfg), scale.HEIDELBERG_STAGES)
    best = scale.quantized_cells(
        scale.best_depth_cells(cfg, {fold: max(cfg.ten_depths) for fold in cfg.scale_folds})
    )
    return ChapterPlan(
        runs=runs,
        chosen={"ten digits, best depth": len(best)},
        grids={
            "depth": len(cells["depth"]),
            "converters": len(cells["depth"]),
            "hardware": len(cells["hardware"]),
            "ten_best": len(best),
        },
    )
