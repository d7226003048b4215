"""A chapter of the book as one object: its name, its validated parameters, and where its tables
and resumable sweeps go, so that a chapter's cells name a table or a sweep once.

    ch = Chapter("hardware_deployment", params)   # validated; the figure style set
    models = ch.models(specs)                     # trained where missing, then loaded
    ch.save(table, "fig4")                        # results/<profile>/hardware_deployment/fig4.csv
    rows = ch.grid("fig4", cells, compute)        # checkpointed under the whole configuration
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import TqdmWarning

from .. import ledger
from ..model.cache import Run
from .deployed import TrainedModel, load_model
from .params import ChapterParams, ModelParams, validate_params
from .plans import UNDECLARED, ChapterPlan, plan_of
from .plots import set_style
from .results import checkpoint_path, save_table
from .sweep import resumable_grid, train_all

__all__ = ["Chapter", "VALUE_CHARS"]

#: a parameter value longer than this is cut (with "...") in the reader's table
VALUE_CHARS = 70
#: keys every chapter has (the profile) or contains (the shared settings): not the chapter's own
_BASE_KEYS = frozenset(ModelParams.model_fields)


def _compact(value: Any) -> Any:
    """``value`` as plain data: a schema as the dict of its fields, lists and dicts element-wise."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, (list, tuple)):
        return [_compact(v) for v in value]
    return value


def _parameter_row(key: str, value: Any, meaning: str | None) -> dict[str, str]:
    text = value if isinstance(value, str) else json.dumps(_compact(value), separators=(", ", ": "))
    text = text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 3] + "..."
    return {"key": key, "value": text, "meaning": meaning or ""}


class Chapter:
    """Chapter ``name`` with the parameters ``params`` (the values papermill injects, validated by
    ``validate_params``; a bad value fails here, before any work). ``cfg``: the parameters."""

    def __init__(self, name: str, params: dict[str, Any] | None = None) -> None:
        self.name = name
        self.cfg: ChapterParams = validate_params(name, params or {})
        self._plan: ChapterPlan | None = None
        os.environ[ledger.CHAPTER_VAR] = name  # the ledger's lines, here and in worker processes
        set_style()
        # A notebook without ipywidgets draws text progress bars; tqdm.auto says so once, in
        # whichever cell first imports it (librosa's pooch, lazily): noise that would move between
        # cells.
        warnings.filterwarnings("ignore", message="IProgress not found", category=TqdmWarning)

    def save(self, table: pd.DataFrame, name: str) -> Path:
        """Write ``table`` as ``<name>.csv`` in this chapter's results folder of its profile, with
        the provenance columns (``results.save_table``); returns the path. The ledger notes the
        table (with the kernel's peak memory so far)."""
        ledger.record("table", table=name, rows=len(table))
        return save_table(table, self.cfg.profile, self.name, name)

    def grid(
        self,
        name: str,
        cells: list[dict[str, Any]],
        compute: Callable[..., list[dict[str, Any]]],
        desc: str | None = None,
        depends_on: str = "",
        defaults: dict[str, Any] | None = None,
        models: list[tuple[int, int]] | None = None,
    ) -> pd.DataFrame:
        """``sweep.resumable_grid`` of ``cells`` with its checkpoint ``name`` in this chapter's
        results folder, keyed by the whole configuration (``checkpoint_key``), the library's
        version and ``depends_on`` (text of what ``compute`` reads beyond the configuration and
        the cells, e.g. a value the chapter chose earlier), side by side on the parameters'
        ``workers``; ``desc`` labels the progress bar; ``defaults``: the value of a key some cells
        do not set (``sweep.fill_cells``); ``models``: one task per cell and model, ``compute(cell,
        [model])`` (``resumable_grid``), for cells that cost more than a worker should run alone."""
        cfg = self._model_params()
        tasks = len(cells) * (1 if models is None else len(models))
        self._check_planned(name, tasks)
        path = checkpoint_path(cfg.profile, self.name, name, cfg.checkpoint_key() + depends_on)
        return resumable_grid(
            cells,
            compute,
            path,
            desc or name,
            workers=cfg.shared.workers,
            defaults=defaults,
            models=models,
        )

    def plan(self) -> ChapterPlan:
        """What this chapter trains and simulates with its parameters (``plans.plan_of``; made
        once per chapter object)."""
        if self._plan is None:
            self._plan = plan_of(self.name, self.cfg)
        return self._plan

    def models(
        self, specs: dict[Any, Run] | str, desc: str | None = None
    ) -> dict[Any, TrainedModel]:
        """The trained models of the run specifications ``specs`` (any keys), or of the plan's
        stage named ``specs`` (``plan().stage``), trained first where the model cache lacks them,
        side by side on the parameters' ``workers`` (``sweep.train_all``), then loaded
        (``deployed.load_model``) under the same keys."""
        if isinstance(specs, str):
            desc, specs = desc or specs, dict(self.plan().stage(specs))
        train_all(
            list(specs.values()), workers=self._model_params().shared.workers, desc=desc or "models"
        )
        return {k: load_model(run, run.data.n_classes) for k, run in specs.items()}

    def parameters(self, shared: bool = False) -> pd.DataFrame:
        """The chapter's parameters as a reader's table, one row per key of its own file (the keys
        its schema declares beyond every chapter's): ``key``, ``value`` (nested values written
        compactly, cut at ``VALUE_CHARS``) and ``meaning`` (the schema's description). ``shared``:
        the keys of the profile's ``_shared.yaml`` too, prefixed ``shared.``."""
        own = [k for k in type(self.cfg).model_fields if k not in _BASE_KEYS]
        rows = [
            _parameter_row(k, getattr(self.cfg, k), type(self.cfg).model_fields[k].description)
            for k in own
        ]
        if shared and isinstance(self.cfg, ModelParams):
            fields = type(self.cfg.shared).model_fields
            rows += [
                _parameter_row(f"shared.{k}", getattr(self.cfg.shared, k), f.description)
                for k, f in fields.items()
            ]
        return pd.DataFrame(rows, columns=["key", "value", "meaning"]).set_index("key")

    def _check_planned(self, grid: str, tasks: int) -> None:
        """A grid the chapter's declared plan lacks, or with other than its planned number of
        ``tasks``, is a ValueError before any work: the plan and the build may not drift."""
        if self.name in UNDECLARED:
            return
        planned = self.plan().grids
        if planned.get(grid) != tasks:
            raise ValueError(
                f"chapter {self.name!r}: grid {grid!r} of {tasks} tasks is not in its plan "
                f"(imssa.study.plans.{self.name}: {dict(planned)})"
            )

    def _model_params(self) -> ModelParams:
        if not isinstance(self.cfg, ModelParams):
            raise TypeError(f"chapter {self.name!r} runs no models: it has no resumable sweeps")
        return self.cfg

    def __repr__(self) -> str:
        return f"Chapter({self.name!r}, profile={self.cfg.profile!r})"
