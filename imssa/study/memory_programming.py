"""Chapter 'Memory that survives programming': the designs, front ends, runs and nested choices.

* Designs (``design``): A_bar, B_bar and C on one fixed range with a pole cap near the circle,
  A_bar at its own bits on the Cartesian or the log-radius grid, trained by either recipe
  (QAT fine-tuned from the float model, or from the start).
* Front ends (``front_end``, ``task_base``): the waveform at the audio rate, or log-mel frames at
  a lower step rate; the recurrence runs at the front end's rate.
* Runs: ``run_spec``, the bits sweeps and the recipe comparison (``sweep_runs``), the chosen
  design on each task (``chosen_runs``, ``chosen_count``); the chapter's plan
  (``plans.memory_programming``) lists them from the same functions.
* Choices made on validation speakers, nested (``nested_pick``): the recipe of a design
  (``recipe_pick``), and the fewest bits of A_bar a front end needs (``bits_needed``,
  ``bits_needed_table``).
* How the chapter shows its tables (``VIEWS``, ``show``) and where A_bar lives when programmed
  (``PLACEMENTS``).

The mechanism and the law are in ``memory_laws``, the cost in ``memory_cost``, programming noise
in ``design_noise``, the comparisons and the answer in ``memory_answers``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..data.audio import fold_table
from ..model.cache import Run
from .memory_task import FLOAT_S4D, memory_base, memory_spec
from .params import FrontEndChoice, MemoryModel, ModelParams, ProgrammedMemoryParams, fold_params
from .selection import nested_folds

__all__ = [
    "PLACEMENTS",
    "VIEWS",
    "bits_by_front_end",
    "bits_needed",
    "bits_needed_table",
    "chosen_count",
    "chosen_design",
    "chosen_runs",
    "design",
    "fold_speakers",
    "front_end",
    "nested_pick",
    "recipe_pick",
    "run_spec",
    "show",
    "step_rates",
    "sweep_runs",
    "task_base",
]


#: how the chapter shows each table: its index, the columns shown and the decimals
VIEWS: dict[str, tuple[list[str], list[str], int]] = {
    "recipe": (["model"], ["estimate", "ci_low", "ci_high", "tau_max_ms"], 3),
    "recipe_paired": (
        ["bits_A", "a", "b"],
        ["difference_points", "ci_low", "ci_high", "p_sign_flip"],
        2,
    ),
    "bits": (
        ["front_end", "model"],
        [
            "estimate",
            "ci_low",
            "ci_high",
            "tau_max_steps",
            "grid_real_ms",
            "grid_any_ms",
            "retention_real",
            "retention_any",
            "kept",
        ],
        3,
    ),
    "step_rates": (
        ["task", "front_end", "model"],
        ["estimate", "ci_low", "ci_high", "tau_max_ms", "tau_max_steps"],
        3,
    ),
    "cost": (
        ["task", "front_end", "placement"],
        [
            "steps",
            "bits_A",
            "energy_pJ_per_inference",
            "front_end_pJ_per_inference",
            "latency_ms_per_inference",
        ],
        1,
    ),
    "four_class": (
        ["model"],
        ["estimate", "ci_low", "ci_high", "order_pairs_accuracy", "tau_max_ms"],
        3,
    ),
    "planned": (
        ["section", "front_end"],
        [
            "task",
            "placement",
            "sigma_uS",
            "a",
            "b",
            "difference_points",
            "ci_low",
            "ci_high",
            "p_holm",
            "verdict",
        ],
        3,
    ),
}


def show(table: pd.DataFrame, view: str) -> pd.DataFrame:
    """``table`` as the chapter shows it (``VIEWS[view]``): indexed, its columns chosen, rounded."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; known: {sorted(VIEWS)}")
    index, columns, decimals = VIEWS[view]
    return table.set_index(index)[[c for c in columns if c in table.columns]].round(decimals)


#: where A_bar lives when the design is programmed: on the array with B_bar and C, or digital
#: (hybrid)
PLACEMENTS = ("array", "digital A_bar")


def front_end(cfg: ProgrammedMemoryParams, name: str) -> FrontEndChoice:
    """The front end ``name`` of ``cfg.front_ends`` (a clear error naming the known ones
    otherwise)."""
    known = {f.name: f for f in cfg.front_ends}
    if name not in known:
        raise ValueError(f"unknown front end {name!r}; known: {sorted(known)}")
    return known[name]


def task_base(cfg: ProgrammedMemoryParams, fe: str, task: str, classes: int = 2) -> ModelParams:
    """The parameters of ``task`` at front end ``fe``: 'order' (the memory task of ``classes``
    classes, its file schedule, no main-task fold choices: ``memory_task.memory_base``) or 'main'
    (the digits, with the main task's fold choices applied per fold by ``run_spec``)."""
    if task == "order":
        base = memory_base(cfg)
        data = base.shared.data.model_copy(update={"order_classes": classes})
    elif task == "main":
        if classes != 2:
            raise ValueError("classes belong to the order task")
        base, data = cfg, cfg.shared.data
    else:
        raise ValueError(f"task must be 'order' or 'main', got {task!r}")
    data = front_end(cfg, fe).data(data)
    return base.model_copy(update={"shared": base.shared.model_copy(update={"data": data})})


def design(
    cfg: ProgrammedMemoryParams,
    bits_A: int | None,
    a_grid: str = "cartesian",
    bits_BC: int | None = None,
    recipe: str = "fine_tune",
) -> MemoryModel:
    """A quantized design on the designs' range and cap (``design_fscale``, ``design_r_max``), its
    name spelling it out: 'A 8-bit cartesian, B/C 8-bit' (+ ', from scratch'). ``bits_A`` None:
    the float S4D model."""
    if bits_A is None:
        return FLOAT_S4D
    b = cfg.design_bits if bits_BC is None else bits_BC
    name = f"A {bits_A}-bit {a_grid.replace('_', '-')}, B/C {b}-bit" + (
        ", from scratch" if recipe == "scratch" else ""
    )
    return MemoryModel(
        name=name,
        bits=b,
        bits_A=bits_A,
        fscale=cfg.design_fscale,
        r_max=cfg.design_r_max,
        a_grid=a_grid,
        recipe=recipe,
    )


def run_spec(
    cfg: ProgrammedMemoryParams,
    fe: str,
    task: str,
    m: MemoryModel,
    seed: int,
    fold: int,
    classes: int = 2,
) -> Run:
    """The run of model ``m`` on ``task`` at front end ``fe`` for (``fold``, ``seed``)
    (``memory_task.memory_spec`` on ``task_base``; the main task with the fold's choices)."""
    base = task_base(cfg, fe, task, classes)
    if task == "main":
        base = fold_params(base, fold)
    return memory_spec(cfg, m, seed, fold, base=base)


def _point(fe: str, task: str, m: MemoryModel, seed: int, classes: int = 2) -> dict[str, Any]:
    """The labels of a run: front end, task, model and its design, seed."""
    return {
        "front_end": fe,
        "task": task if classes == 2 else f"{task} ({classes} classes)",
        "model": m.name,
        "bits_A": np.nan if m.bits is None else (m.bits_A or m.bits),
        "a_grid": m.a_grid if m.bits else "",
        "bits_BC": np.nan if m.bits is None else m.bits,
        "recipe": m.recipe if m.bits else "",
        "seed": seed,
    }


def _runs(
    cfg: ProgrammedMemoryParams, labelled: list[tuple[str, str, Any, int, str | None]]
) -> tuple[list[dict[str, Any]], list[Run]]:
    """Parallel labels and runs, one per (entry, fold, seed) of ``labelled``: (front end, task,
    model, classes, label), the model a ``MemoryModel`` or a function fold -> ``MemoryModel``;
    ``label`` (None: the model's name) names it in column ``model``."""
    points, runs = [], []
    for fe, task, model, classes, label in labelled:
        for fold in cfg.shared.folds:
            m = model(fold) if callable(model) else model
            for seed in cfg.memory_seeds:
                points.append(
                    _point(fe, task, m, seed, classes) | ({} if label is None else {"model": label})
                )
                runs.append(run_spec(cfg, fe, task, m, seed, fold, classes))
    return points, runs


def sweep_runs(cfg: ProgrammedMemoryParams) -> tuple[list[dict[str, Any]], list[Run]]:
    """The memory task's runs of the bits sweeps and the recipe comparison: at every front end the
    float S4D model and each design of its ``bits_sweeps`` (fine-tuned), and at the first front end
    the designs of ``recipe_bits_A`` from scratch. Parallel lists of labels and runs, one per
    (model, fold, seed); a design listed twice is run once."""
    labelled = [(f.name, "order", FLOAT_S4D, 2, None) for f in cfg.front_ends]
    for sw in cfg.bits_sweeps:
        labelled += [
            (sw.front_end, "order", design(cfg, b, g, bc), 2, None)
            for bc in sw.bits_BC
            for g in sw.a_grids
            for b in sw.bits_A
        ]
    labelled += [
        (cfg.front_ends[0].name, "order", design(cfg, b, recipe="scratch"), 2, None)
        for b in cfg.recipe_bits_A
    ]
    return _runs(cfg, list(dict.fromkeys(labelled)))


def chosen_runs(
    cfg: ProgrammedMemoryParams,
    bits: Mapping[str, Mapping[int, int]] | None,
    task: str,
    fes: list[str],
    classes: int = 2,
    paper_method: bool = False,
) -> tuple[list[dict[str, Any]], list[Run]]:
    """``task``'s runs at each front end of ``fes``: the float S4D model and, per fold, the design
    at the bits that front end needs on the memory task (``bits[fe][fold]``, labelled 'chosen
    design'); with ``paper_method``, also the paper's method (the shared 2-bit fixed range and
    cap). ``bits`` None: only the runs no choice fixes (the float model, the paper's method), the
    ones the chapter's plan trains first; the chosen design adds ``chosen_count`` runs."""
    paper = MemoryModel(name="2-bit, fixed range (paper)", bits=cfg.shared.map_bits)
    labelled: list[tuple[str, str, Any, int, str | None]] = []
    for fe in fes:
        labelled += [(fe, task, FLOAT_S4D, classes, "float S4D")]
        if bits is not None:

            def made(fold: int, fe: str = fe) -> MemoryModel:
                return design(cfg, bits[fe][fold])

            labelled += [(fe, task, made, classes, "chosen design")]
        labelled += [(fe, task, paper, classes, paper.name)] if paper_method else []
    return _runs(cfg, labelled)


def chosen_count(cfg: ProgrammedMemoryParams, fes: list[str]) -> int:
    """How many runs the chosen design adds to ``chosen_runs`` at the front ends ``fes``: one per
    front end, fold and seed of ``memory_seeds``."""
    return len(fes) * len(cfg.shared.folds) * len(cfg.memory_seeds)


def nested_pick(
    rows: pd.DataFrame,
    option: str,
    speakers: Mapping[int, tuple[str, str]],
    default: Any,
    prefer: list[Any] | None = None,
) -> dict[int, Any]:
    """Per fold of ``rows`` (one row per run: ``fold``, ``val_accuracy`` and the column
    ``option``), the option with the highest mean validation accuracy over the fold's nested folds
    (``selection.nested_folds``: never its test speaker); ties go to the earliest of ``prefer``
    (default: ``default`` first). With fewer than two nested folds: ``default``."""
    order = prefer or [default]
    out = {}
    for fold in sorted(int(f) for f in rows["fold"].unique()):
        inner = rows[rows["fold"].isin(nested_folds(fold, speakers))]
        if inner["fold"].nunique() < 2:
            out[fold] = default
            continue
        score = inner.groupby(option)["val_accuracy"].mean()
        best = score.max()
        tied = [o for o in score.index if score[o] >= best - 1e-12]
        out[fold] = min(tied, key=lambda o: order.index(o) if o in order else len(order))
    return out


def recipe_pick(rows: pd.DataFrame, speakers: Mapping[int, tuple[str, str]]) -> pd.DataFrame:
    """The recipe of each design (column ``bits_A``) chosen per fold on validation speakers
    (``nested_pick`` of column ``recipe``; ties: fine-tuning, the book's recipe): one row per
    (bits_A, fold) with ``recipe``."""
    out = []
    for b, part in rows.dropna(subset=["bits_A"]).groupby("bits_A"):
        picks = nested_pick(part, "recipe", speakers, "fine_tune", ["fine_tune", "scratch"])
        out += [{"bits_A": int(b), "fold": f, "recipe": r} for f, r in picks.items()]
    return pd.DataFrame(out)


def bits_needed(
    rows: pd.DataFrame, speakers: Mapping[int, tuple[str, str]], tolerance_points: float
) -> dict[int, int]:
    """The fewest bits of A_bar a front end needs, per fold: among the Cartesian designs of
    ``rows`` (one row per run: ``bits_A``, NaN for the float model, ``fold``, ``val_accuracy``),
    the fewest bits whose mean validation accuracy over the fold's nested folds is at least the
    float model's minus ``tolerance_points``; none within it: the most bits. Fewer than two
    nested folds: the most bits."""
    widths = sorted(int(b) for b in rows["bits_A"].dropna().unique())
    if not widths:
        raise ValueError("no quantized design in the rows")
    out = {}
    for fold in sorted(int(f) for f in rows["fold"].unique()):
        inner = rows[rows["fold"].isin(nested_folds(fold, speakers))]
        if inner["fold"].nunique() < 2:
            out[fold] = widths[-1]
            continue
        ref = inner[inner["bits_A"].isna()]["val_accuracy"].mean()
        score = inner.dropna(subset=["bits_A"]).groupby("bits_A")["val_accuracy"].mean()
        ok = [b for b in widths if b in score.index and score[b] >= ref - tolerance_points / 100]
        out[fold] = ok[0] if ok else widths[-1]
    return out


def chosen_design(cfg: ProgrammedMemoryParams, bits: Mapping[int, int], fold: int) -> MemoryModel:
    """The design a front end uses on ``fold``: Cartesian A_bar at the fold's ``bits``
    (``bits_needed``), B_bar and C at ``design_bits``, fine-tuned."""
    return design(cfg, bits[fold])


def fold_speakers(cfg: ProgrammedMemoryParams) -> dict[int, tuple[str, str]]:
    """Each fold's (test speaker, validation speaker) of the memory task (``audio.fold_table``)."""
    table = fold_table(cfg.order_data())
    return {int(r.fold): (r.test_speaker, r.val_speaker) for r in table.itertuples()}


def step_rates(cfg: ProgrammedMemoryParams) -> dict[str, float]:
    """Steps per second of each front end."""
    return {f.name: f.data(cfg.order_data()).step_rate for f in cfg.front_ends}


def bits_needed_table(
    rows: pd.DataFrame, cfg: ProgrammedMemoryParams, speakers: Mapping[int, tuple[str, str]]
) -> pd.DataFrame:
    """``bits_needed`` per front end (Cartesian designs at ``design_bits``, fine-tuned, and the
    float model): one row per (front end, fold) with ``bits_A``."""

    out = []
    for f in cfg.front_ends:
        r = rows[
            (rows["front_end"] == f.name)
            & (rows["task"] == "order")
            & (
                rows["bits_A"].isna()
                | (
                    (rows["a_grid"] == "cartesian")
                    & (rows["bits_BC"] == cfg.design_bits)
                    & (rows["recipe"] == "fine_tune")
                )
            )
        ]
        out += [
            {"front_end": f.name, "fold": k, "bits_A": b}
            for k, b in bits_needed(r, speakers, cfg.tolerance_points).items()
        ]
    return pd.DataFrame(out)


def bits_by_front_end(needed: pd.DataFrame) -> dict[str, dict[int, int]]:
    """``bits_needed_table`` as {front end: {fold: bits}}."""
    return {
        fe: {int(r.fold): int(r.bits_A) for r in part.itertuples()}
        for fe, part in needed.groupby("front_end", sort=False)
    }
