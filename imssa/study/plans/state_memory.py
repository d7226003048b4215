"""The plan of the chapter state_memory ('What the state remembers'), from the same library calls
its cells make.

* ``main-task models`` (``stateless_controls.main_task_runs``): the float and ternary S4D models,
  the memoryless control and the FIR banks on the main task, per fold and seed.
* ``memory schedule`` (``memory_task.schedule_runs``): the float S4D model's validation sweep on
  the memory task.
* ``memory models``, chosen (``memory_task.memory_runs``): every family of ``memory_models`` on
  the schedule the nested rule chooses per fold, so trained in the chapter (the post-training
  quantization and the noise grid load the same runs). Counted as the most runs outside the plan
  that any schedule the rule can choose gives (``memory_beyond``); with one swept parameter the
  float S4D family's runs are the validation sweep's own, and the count is exact.
* Grids ``memory_noise`` (``memory_noise.noise_cells``) and ``main_noise``
  (``memory_noise.main_noise_cells``), one task per cell.

The spectral baseline is fitted through its own cache (``model.spectral``), not a training run.
"""

from __future__ import annotations

import itertools

from ...model.cache import Run, run_key
from ..memory_noise import main_noise_cells, noise_cells
from ..memory_task import memory_base, memory_runs, schedule_runs
from ..params import MemoryParams
from ..runs import current_value
from ..stateless_controls import main_task_runs
from . import ChapterPlan


def _by_label(points: list[dict], runs: list[Run], name: str) -> dict[tuple, Run]:
    """{(label ``name``, the run's fold, seed): run}: the keys the cells' labels give a run."""
    return {(p[name], r.data.fold, r.train.seed): r for p, r in zip(points, runs, strict=True)}


def memory_beyond(cfg: MemoryParams, planned: set[str]) -> int:
    """The most runs (``cache.run_key``) the memory models ask for beyond ``planned``, whatever
    schedule the nested rule chooses: per fold, the most over the schedules that fold can take
    (each parameter of ``memory_selection`` at any value its validation sweep tried, others at the
    file's; ``memory_task.nested_schedule`` keeps a value's type) of the fold's runs of
    ``memory_task.memory_runs``, and the float runs they fine-tune from, outside ``planned``."""
    tried: dict[str, dict] = {}
    for p in schedule_runs(cfg)[0]:
        tried.setdefault(p["parameter"], {})[p["value"]] = None
    base = memory_base(cfg)
    used = {path: current_value(base, path) for path in tried}
    total = 0
    for fold in cfg.shared.folds:
        most = 0
        for values in itertools.product(*tried.values()):
            moved = {
                path: type(used[path])(v)
                for path, v in zip(tried, values, strict=True)
                if v != used[path]
            }
            runs = [r for r in memory_runs(cfg, {fold: moved})[1] if r.data.fold == fold]
            starts = [Run(r.data, *r.init_from) for r in runs if r.init_from is not None]
            most = max(most, len({run_key(r) for r in runs + starts} - planned))
        total += most
    return total


def plan(cfg: MemoryParams) -> ChapterPlan:
    """The chapter's stages, chosen runs and grids with the parameters ``cfg``."""
    sweep_points, sweep_runs = schedule_runs(cfg)
    schedule = {
        (p["parameter"], p["value"], r.data.fold, p["seed"]): r
        for p, r in zip(sweep_points, sweep_runs, strict=True)
    }
    runs = {
        "main-task models": _by_label(*main_task_runs(cfg), "label"),
        "memory schedule": schedule,
    }
    planned = ChapterPlan(runs=runs).keys()
    return ChapterPlan(
        runs=runs,
        chosen={"memory models": memory_beyond(cfg, planned)},
        grids={"memory_noise": len(noise_cells(cfg)), "main_noise": len(main_noise_cells(cfg))},
    )
