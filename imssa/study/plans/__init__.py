"""What each chapter trains and simulates, declared from its parameters alone, so that a build can
be planned (``study.build``), its models trained first, and checked against the plan.

A chapter's module here has one function, ``plan(cfg) -> ChapterPlan``; the chapter's cells take
their runs and grids from the same library calls (``Chapter.models(stage)``, ``Chapter.grid``), so
the plan and the build cannot drift: the runner checks each executed chapter's ledger against it
(``build.check_ledger``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...model.cache import Run, run_key
from ..params import CHAPTERS, ChapterParams, ModelParams

__all__ = ["ChapterPlan", "PLANS", "UNDECLARED", "plan_of", "starting_run"]


def starting_run(run: Run) -> Run:
    """The float run a fine-tuned ``run`` starts from: its data, ``init_from``'s model and
    training."""
    if run.init_from is None:
        raise ValueError("a run trained from scratch has no starting run")
    return Run(run.data, run.init_from[0], run.init_from[1])


@dataclass(frozen=True)
class ChapterPlan:
    """A chapter's work. ``runs``: stage -> {key: run}, the training runs its parameters fix (a
    stage is what one ``Chapter.models`` call trains or loads; the models stage trains them before
    any chapter runs). ``chosen``: stage -> number of runs that a choice the chapter makes on
    validation speakers fixes (trained in the chapter, after the choice). ``grids``: resumable grid
    name -> its tasks (cells, or cells x models for a grid split by model). ``aware``: stage ->
    number of converter-aware fine-tunes (``hardware.aware.finetune``: cached apart from the model
    cache, trained in the chapter)."""

    runs: Mapping[str, Mapping[Any, Run]] = field(default_factory=dict)
    chosen: Mapping[str, int] = field(default_factory=dict)
    grids: Mapping[str, int] = field(default_factory=dict)
    aware: Mapping[str, int] = field(default_factory=dict)

    def all_runs(self) -> list[Run]:
        """Every planned run once, each fine-tuned run's float starting run (which the model cache
        trains first, ``train.train_model``) included, in the order first listed."""
        out: dict[str, Run] = {}
        for stage in self.runs.values():
            for r in stage.values():
                for one in ([starting_run(r)] if r.init_from is not None else []) + [r]:
                    out.setdefault(run_key(one), one)
        return list(out.values())

    def keys(self) -> set[str]:
        """The model-cache keys (``cache.run_key``) of every planned run (``all_runs``)."""
        return {run_key(r) for r in self.all_runs()}

    def stage(self, name: str) -> Mapping[Any, Run]:
        """The runs of stage ``name``; an undeclared stage is a KeyError naming the declared."""
        if name not in self.runs:
            raise KeyError(f"no training stage {name!r} in the plan; declared: {sorted(self.runs)}")
        return self.runs[name]


def _registry() -> dict[str, Callable[[Any], ChapterPlan]]:
    """Chapter -> the ``plan`` of its module here, for every chapter (``params.CHAPTERS``) that
    has one and has declared it (a module marked ``UNDECLARED`` is a placeholder)."""
    out = {}
    for chapter in CHAPTERS:
        try:
            module = importlib.import_module(f"{__name__}.{chapter}")
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{chapter}":
                raise
            continue  # a chapter with no work (the report)
        if not getattr(module, "UNDECLARED", False):
            out[chapter] = module.plan
    return out


#: chapter -> its plan function; a chapter that trains and simulates nothing (the report) has none
PLANS: dict[str, Callable[[Any], ChapterPlan]] = _registry()
#: chapters that train models but have no declared plan: the build does not train them first
UNDECLARED = frozenset(
    c for c, schema in CHAPTERS.items() if issubclass(schema, ModelParams)
) - set(PLANS)


def plan_of(chapter: str, cfg: ChapterParams) -> ChapterPlan:
    """The plan of ``chapter`` with the validated parameters ``cfg`` (empty for a chapter without
    work)."""
    return PLANS[chapter](cfg) if chapter in PLANS else ChapterPlan()
