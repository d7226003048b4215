"""The plan of the chapter memory_programming ('Memory that survives programming'), from the same
library calls its cells make (``memory_programming.sweep_runs``, ``chosen_runs``,
``design_noise.noise_cells``).

* ``memory designs``: the float S4D model and every design of the bits sweeps and the recipe
  comparison on the memory task, per front end, fold and seed.
* ``main task``, ``memory task``, ``four-class task``: what ``chosen_runs`` gives without the
  bits a front end needs (the float S4D model, and on the four-class task the paper's method).
  The chosen design, fixed per fold by the nested choice of those bits on validation speakers,
  is counted in ``chosen`` on the main and the four-class task (``chosen_count``). On the memory
  task it adds nothing: it is one of the Cartesian designs at ``design_bits`` that the bits sweep
  of its front end trained (the schema requires that sweep, and the choice is made among its
  widths), and so are the models the mechanism, the cost table and the noise grid load.
* Grid ``noise``: one task per cell.
"""

from __future__ import annotations

from typing import Any

from ...model.cache import Run
from ..design_noise import noise_cells
from ..memory_programming import chosen_count, chosen_runs, sweep_runs
from ..params import ProgrammedMemoryParams
from . import ChapterPlan


def _keyed(labelled: tuple[list[dict[str, Any]], list[Run]]) -> dict[tuple, Run]:
    """{(front end, model, fold, seed): run} of parallel labels and runs."""
    points, runs = labelled
    return {
        (p["front_end"], p["model"], r.data.fold, p["seed"]): r
        for p, r in zip(points, runs, strict=True)
    }


def plan(cfg: ProgrammedMemoryParams) -> ChapterPlan:
    """The chapter's stages, chosen runs and grids with the parameters ``cfg``."""
    fes, fe4 = [f.name for f in cfg.front_ends], [cfg.four_class_front_end]
    return ChapterPlan(
        runs={
            "memory designs": _keyed(sweep_runs(cfg)),
            "main task": _keyed(chosen_runs(cfg, None, "main", fes)),
            "memory task": _keyed(chosen_runs(cfg, None, "order", fes)),
            "four-class task": _keyed(
                chosen_runs(cfg, None, "order", fe4, classes=4, paper_method=True)
            ),
        },
        chosen={"main task": chosen_count(cfg, fes), "four-class task": chosen_count(cfg, fe4)},
        grids={"noise": len(noise_cells(cfg))},
    )
