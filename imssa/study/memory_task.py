"""Chapter 'What the state remembers', the memory task's runs (``MemoryParams.order_data``).

* Parameters and runs: ``memory_base`` (the file's values on the memory task), ``memory_spec``
  (the run of one model family for a (fold, seed)), ``family_quant`` (a quantized family's
  quantization) and ``FLOAT_S4D``, the float S4D model whose schedule the validation sweep chooses.
* The runs the chapter trains, shared with its plan (``plans.state_memory``): the schedule's
  validation sweep (``schedule_runs``, trained by ``schedule_sweep``) and the memory models on the
  chosen schedule (``memory_runs``).
* The schedule chosen per fold on validation speakers without the fold's test speaker
  (``nested_schedule``, ``schedule_table``).
* Post-training quantization beside QAT (``ptq_rows``).
* The table of trained models (``memory_task_table``, ``MEMORY_TASK_COLUMNS``) with the
  conductance precision a slowest pole needs (``pole_precision_uS``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from ..model.cache import Run
from ..model.config import QuantConfig
from .deployed import load_model, software_row
from .params import MemoryModel, MemoryParams, ModelParams, global_params, variant
from .runs import current_value, fold_data
from .selection import choose, nested_folds, validation_specs, validation_sweep

__all__ = [
    "FLOAT_S4D",
    "MEMORY_TASK_COLUMNS",
    "family_quant",
    "memory_base",
    "memory_runs",
    "memory_spec",
    "memory_task_table",
    "nested_schedule",
    "pole_precision_uS",
    "ptq_rows",
    "schedule_runs",
    "schedule_sweep",
    "schedule_table",
]


def memory_base(cfg: MemoryParams) -> ModelParams:
    """The parameters of the memory task: the file's values (no main-task ``fold_choices``) on
    ``cfg.order_data()``. Its validation sweep varies around these."""
    base = ModelParams(profile=cfg.profile, shared=cfg.shared)
    shared = global_params(base).shared
    return base.model_copy(update={"shared": shared.model_copy(update={"data": cfg.order_data()})})


#: the float S4D model of the memory task, whose schedule the validation sweep chooses
FLOAT_S4D = MemoryModel(name="float S4D")


def memory_spec(
    cfg: MemoryParams,
    m: MemoryModel,
    seed: int,
    fold: int,
    schedule: Mapping[int, Mapping[str, Any]] | None = None,
    base: ModelParams | None = None,
) -> Run:
    """The run of model family ``m`` on the memory task for (``fold``, ``seed``), with the fold's
    ``schedule`` (``nested_schedule``: {fold: {path: value}}) applied to the float S4D model that
    a quantized family starts from; the float controls (memoryless, FIR) are trained the same way.
    ``base``: the memory task's parameters to start from (default ``memory_base(cfg)``; a
    validation sweep passes its variants)."""
    base = memory_base(cfg) if base is None else base
    for path, value in (schedule or {}).get(fold, {}).items():
        base = variant(base, path, value)
    shared = base.shared
    data, train = fold_data(shared.data, fold), shared.train.model_copy(update={"seed": seed})
    model = shared.model.model_copy(update={"ssm": m.ssm, "taps": m.taps})
    if m.bits is None:
        return Run(data, model, train)
    quantized = model.model_copy(update={"quant": family_quant(cfg, m)})
    if m.recipe == "scratch":  # QAT from the start, on the float model's schedule
        return Run(data, quantized, train)
    return Run(data, quantized, shared.qat_train.model_copy(update={"seed": seed}), (model, train))


def _float_s4d(cfg: MemoryParams, params: ModelParams, seed: int, fold: int) -> Run:
    """The float S4D model of (``fold``, ``seed``) with the memory task's parameters ``params``
    (a variant of ``memory_base``): a run of the schedule's validation sweep."""
    return memory_spec(cfg, FLOAT_S4D, seed, fold, base=params)


def schedule_runs(cfg: MemoryParams) -> tuple[list[dict[str, Any]], list[Run]]:
    """The validation sweep of the float S4D model's schedule on the memory task
    (``memory_selection`` one at a time around ``memory_base``, ``selection.validation_specs``):
    parallel lists of labels (``parameter``, ``value``, ``seed``) and runs, one per variant, fold
    and selection seed."""
    return validation_specs(memory_base(cfg), cfg.memory_selection, partial(_float_s4d, cfg))


def schedule_sweep(cfg: MemoryParams) -> pd.DataFrame:
    """Train the runs of ``schedule_runs`` on the parameters' ``workers`` and return their
    validation scores (``selection.validation_sweep``: one row per run, ``VALIDATION_COLUMNS``),
    the table ``nested_schedule`` chooses from."""
    return validation_sweep(
        memory_base(cfg),
        cfg.memory_selection,
        partial(_float_s4d, cfg),
        cfg.order_data().n_classes,
        cfg.shared.workers,
        desc="memory schedule",
    )


def memory_runs(
    cfg: MemoryParams, schedule: Mapping[int, Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], list[Run]]:
    """The memory task's models: each family of ``memory_models`` on every fold and seed of
    ``memory_seeds`` (``memory_spec`` with the fold's ``schedule``, ``nested_schedule``). Parallel
    lists of labels (``model``: the family's name, ``seed``) and runs, family outer, then fold, then
    seed. The chapter's plan counts those a schedule can add (``plans.state_memory``)."""
    order = [
        (m, f, s) for m in cfg.memory_models for f in cfg.shared.folds for s in cfg.memory_seeds
    ]
    points = [{"model": m.name, "seed": s} for m, _, s in order]
    return points, [memory_spec(cfg, m, s, f, schedule) for m, f, s in order]


def family_quant(cfg: MemoryParams, m: MemoryModel) -> QuantConfig:
    """The quantization of a quantized family: its bits, A_bar bits and grid, its range and cap or
    the shared ones."""
    if m.bits is None:
        raise ValueError(f"{m.name} is a float family")
    return QuantConfig(
        bits=m.bits,
        bits_A=m.bits_A,
        fscale=cfg.shared.fscale if m.fscale is None else m.fscale,
        r_max=cfg.shared.r_max if m.r_max is None else m.r_max,
        a_grid=m.a_grid,
    )


def ptq_rows(cfg: MemoryParams, schedule: Mapping[int, Mapping[str, Any]]) -> pd.DataFrame:
    """Where a quantized family loses the memory task: each family's quantization applied to the
    float S4D model of every (seed, fold) after training (post-training quantization, after the
    range equalisation QAT starts from: ``deployed.load_model`` with ``ptq``), scored in software
    beside the family's QAT model. One row per (family, seed, fold): ``ptq_accuracy`` (NaN with
    ``ptq_failure`` 'unstable' where rounding puts a pole on the circle) and ``qat_accuracy``."""
    rows = []
    for m in (m for m in cfg.memory_models if m.bits is not None):
        q = family_quant(cfg, m)
        for fold in cfg.shared.folds:
            for seed in cfg.memory_seeds:
                base = memory_spec(cfg, FLOAT_S4D, seed, fold, schedule)
                ptq = software_row(load_model(base, 2, ptq=q, fscale=q.fscale))
                qat = software_row(load_model(memory_spec(cfg, m, seed, fold, schedule), 2))
                rows.append(
                    {
                        "model": m.name,
                        "seed": seed,
                        "fold": fold,
                        "ptq_accuracy": ptq["accuracy"],
                        "ptq_failure": ptq["failure"],
                        "ptq_max_abs_A_bar": ptq["max_abs_A_bar"],
                        "qat_accuracy": qat["accuracy"],
                    }
                )
    return pd.DataFrame(rows)


def nested_schedule(
    rows: pd.DataFrame, cfg: ModelParams, speakers: Mapping[int, tuple[str, str]]
) -> dict[int, dict[str, Any]]:
    """Per fold of ``rows`` (a ``selection.validation_sweep`` of ``cfg``), the values that differ
    from ``cfg``'s of each swept parameter's nested choice (``selection.choose`` on the folds of
    ``selection.nested_folds``: never the fold's test speaker; fewer than two folds: the file's
    value). Values keep their type (an epoch count stays an int)."""
    out: dict[int, dict[str, Any]] = {}
    for path, part in rows.groupby("parameter", sort=False):
        used = current_value(cfg, path)
        for fold in sorted(int(f) for f in part["fold"].unique()):
            inner = part[part["fold"].isin(nested_folds(fold, speakers))]
            choice = choose(inner, used)["choice"] if inner["fold"].nunique() >= 2 else used
            if choice != used:
                out.setdefault(fold, {})[path] = type(used)(choice)
    return out


#: the columns of the memory task's table, one row per trained model
MEMORY_TASK_COLUMNS = [
    "model",
    "bits",
    "bits_A",
    "fscale",
    "r_max",
    "a_grid",
    "fold",
    "seed",
    "split",
    "accuracy",
    "val_accuracy",
    "memory_ms",
    "tau_max_ms",
    "max_abs_A_bar",
    "precision_uS",
    "failure",
]


def pole_precision_uS(radius: float, fscale: float, g_min_uS: float, g_max_uS: float) -> float:
    """The conductance change (uS) of one part of a pole of radius ``radius`` that moves its time
    constant by half: tau ~ 1 / (f_s (1 - r)) at first order, so a radius error of (1 - r) / 2,
    which is (1 - r) / 2 (g_max - g_min) / fscale on a pair mapped with range ``fscale``. A device
    must hold the part to better than this (programming noise sigma well below it) for the mode
    to keep its memory. NaN for a radius outside (0, 1) (radius 0: no memory to keep)."""
    if not 0 < radius < 1 or not fscale > 0 or g_max_uS <= g_min_uS:
        return float("nan")
    return 0.5 * (1 - radius) * (g_max_uS - g_min_uS) / fscale


def schedule_table(
    schedule: Mapping[int, Mapping[str, Any]],
    base: ModelParams,
    grid: Mapping[str, Any],
    folds: list[int],
) -> pd.DataFrame:
    """One row per (fold, swept parameter): the file's value and the value the fold's runs use
    (its nested choice, ``nested_schedule``)."""
    return pd.DataFrame(
        [
            {
                "fold": f,
                "parameter": path,
                "parameter file": current_value(base, path),
                "fold value": schedule.get(f, {}).get(path, current_value(base, path)),
            }
            for f in folds
            for path in grid
        ]
    )


def memory_task_table(rows: pd.DataFrame, cfg: MemoryParams) -> pd.DataFrame:
    """``MEMORY_TASK_COLUMNS`` of a ``sweep.train_sweep`` of the memory models (column ``model``):
    each family's bits, A_bar bits, range, cap and grid ('' for a float model) beside the run's
    accuracy, its memory (kernel memory ``memory_ms``, slowest mode ``tau_max_ms``) and the
    conductance precision its slowest pole needs (``pole_precision_uS`` at the family's range, the
    shared one for a float S4D model; NaN without a pole)."""
    spec = {m.name: m for m in cfg.memory_models}
    out = rows.assign(
        bits=[spec[n].bits for n in rows["model"]],
        bits_A=[(spec[n].bits_A or spec[n].bits) for n in rows["model"]],
        fscale=[
            (spec[n].fscale or cfg.shared.fscale) if spec[n].bits else np.nan for n in rows["model"]
        ],
        r_max=[
            (spec[n].r_max or cfg.shared.r_max) if spec[n].bits else np.nan for n in rows["model"]
        ],
        a_grid=[spec[n].a_grid if spec[n].bits else "" for n in rows["model"]],
        memory_ms=rows.get("kernel_memory_median_ms", np.nan),
    )
    out["precision_uS"] = [
        pole_precision_uS(
            r, cfg.shared.fscale if np.isnan(f) else f, cfg.shared.g_min_uS, cfg.shared.g_max_uS
        )
        for r, f in zip(
            out.get("max_abs_A_bar", np.nan * out["fscale"]), out["fscale"], strict=True
        )
    ]
    return out.reindex(columns=MEMORY_TASK_COLUMNS)
