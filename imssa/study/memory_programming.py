"""Chapter 'Memory that survives programming': which design keeps the memory task once programmed.

* Designs (``design``): A_bar, B_bar and C on one fixed range with a pole cap near the circle,
  A_bar at its own bits on the Cartesian or the log-radius grid, trained by either recipe
  (QAT fine-tuned from the float model, or from the start).
* Front ends (``task_base``): the waveform at the audio rate, or log-mel frames at a lower step
  rate; the recurrence runs at the front end's rate.
* Choices made on validation speakers, nested (``nested_pick``): the recipe of a design, and the
  fewest bits of A_bar a front end needs (``bits_needed``).
* The mechanism (``pole_survival``): the float model's slow modes rounded onto each grid.
* Programming (``noise_cell``): the chosen design on the array, and the hybrid with A_bar held
  digitally (``deploy.deployed_weights``' ``digital_A``); every model its own draws, the two
  placements variants of one model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from ..data.audio import fold_table
from ..hardware.cost import CostConstants, analog_cost, device_conductances, front_end_J
from ..hardware.crossbar import layout, pairs_per_weight
from ..hardware.deploy import target_conductances
from ..hardware.devices import DeviceConfig
from ..hardware.margin import longest_memory_ms, weight_noise_std
from ..model.memory import time_constants_ms
from ..model.quant import quantize_log_radius, quantize_pole, slowest_grid_pole
from ..model.train import Run, load_splits
from ..stats.intervals import accuracy_table, fold_accuracy, fold_stats
from ..stats.paired import holm_family, paired_difference
from ..stats.programmings import paired_contrast
from ..stats.verdicts import ABOVE, BELOW, Rule, table_verdicts
from . import state_memory as sm
from .deployed import load_model
from .params import FrontEndChoice, MemoryModel, ModelParams, ProgrammedMemoryParams, fold_params
from .runs import fold_data
from .selection import nested_folds

__all__ = [
    "PLACEMENTS",
    "VIEWS",
    "between_words_ms",
    "show",
    "survival_summary",
    "bits_by_front_end",
    "bits_figure",
    "bits_needed",
    "bits_needed_table",
    "bits_table",
    "chosen_design",
    "chosen_runs",
    "conclusion",
    "cost_table",
    "design",
    "fold_speakers",
    "four_class_table",
    "front_end",
    "front_end_table",
    "headline",
    "held_up_to",
    "law_separation",
    "law_table",
    "law_text",
    "mechanism_text",
    "memory_figure",
    "nested_pick",
    "noise_cell",
    "noise_contrasts",
    "noise_figure",
    "noise_summary",
    "paired_points",
    "picked_answers",
    "planned_family",
    "planned_parts",
    "pole_survival",
    "pole_survival_table",
    "rate_table",
    "recipe_pick",
    "recipe_table",
    "run_spec",
    "sigma_star_table",
    "step_rates",
    "sweep_runs",
    "task_base",
    "theory_table",
    "verdicts_text",
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


def survival_summary(survival: pd.DataFrame) -> pd.DataFrame:
    """``pole_survival`` as the chapter shows it: the mean over folds per front end, grid and width."""
    cols = [
        "slow_modes",
        "kept_share",
        "median_ratio",
        "rounded_longest_ms",
        "grid_slowest_real_steps",
    ]
    return survival.groupby(["front_end", "a_grid", "bits_A"])[cols].mean().round(2)


#: where A_bar lives when the design is programmed: on the array with B_bar and C, or digital (hybrid)
PLACEMENTS = ("array", "digital A_bar")


def front_end(cfg: ProgrammedMemoryParams, name: str) -> FrontEndChoice:
    """The front end ``name`` of ``cfg.front_ends`` (a clear error naming the known ones otherwise)."""
    known = {f.name: f for f in cfg.front_ends}
    if name not in known:
        raise ValueError(f"unknown front end {name!r}; known: {sorted(known)}")
    return known[name]


def task_base(cfg: ProgrammedMemoryParams, fe: str, task: str, classes: int = 2) -> ModelParams:
    """The parameters of ``task`` at front end ``fe``: 'order' (the memory task of ``classes``
    classes, its file schedule, no main-task fold choices: ``state_memory.memory_base``) or 'main'
    (the digits, with the main task's fold choices applied per fold by ``run_spec``)."""
    if task == "order":
        base = sm.memory_base(cfg)
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
        return sm.FLOAT_S4D
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
    (``state_memory.memory_spec`` on ``task_base``; the main task with the fold's choices)."""
    base = task_base(cfg, fe, task, classes)
    if task == "main":
        base = fold_params(base, fold)
    return sm.memory_spec(cfg, m, seed, fold, base=base)


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
    labelled = [(f.name, "order", sm.FLOAT_S4D, 2, None) for f in cfg.front_ends]
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
    bits: Mapping[str, Mapping[int, int]],
    task: str,
    fes: list[str],
    classes: int = 2,
    paper_method: bool = False,
) -> tuple[list[dict[str, Any]], list[Run]]:
    """``task``'s runs at each front end of ``fes``: the float S4D model and, per fold, the design
    at the bits that front end needs on the memory task (``bits[fe][fold]``, labelled 'chosen
    design'); with ``paper_method``, also the paper's method (the shared 2-bit fixed range and cap)."""
    paper = MemoryModel(name="2-bit, fixed range (paper)", bits=cfg.shared.map_bits)
    labelled: list[tuple[str, str, Any, int, str | None]] = []
    for fe in fes:
        labelled += [
            (fe, task, sm.FLOAT_S4D, classes, "float S4D"),
            (fe, task, lambda fold, fe=fe: design(cfg, bits[fe][fold]), classes, "chosen design"),
        ]
        labelled += [(fe, task, paper, classes, paper.name)] if paper_method else []
    return _runs(cfg, labelled)


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
    """The design a front end uses on ``fold``: Cartesian A_bar at the fold's ``bits`` (``bits_needed``),
    B_bar and C at ``design_bits``, fine-tuned."""
    return design(cfg, bits[fold])


def pole_survival(
    cfg: ProgrammedMemoryParams,
    fe: str,
    float_runs: Mapping[int, Run],
    grids: list[tuple[int, str]],
) -> pd.DataFrame:
    """The mechanism, measured: each float model's modes (one run per fold of ``float_runs``) whose
    time constant reaches the gap of the memory task (the modes that can carry the first word
    across it), rounded onto each grid of ``grids`` ((bits_A, a_grid), on the designs' range and
    cap) as QAT's forward pass rounds them. One row per (fold, grid): how many such modes, the
    share whose rounded time constant keeps at least half its value (``kept_share``), the median
    ratio rounded / float of their time constants, and the longest time constant after rounding
    (ms and steps), beside the grid's slowest poles (``quant.slowest_grid_pole``)."""
    rate = front_end(cfg, fe).data(cfg.order_data()).step_rate
    gap_ms = 1000 * cfg.order.gap_s
    rows = []
    for fold, run in float_runs.items():
        net = load_model(run, run.data.n_classes)[0]
        A = net.layers[0].discrete().A_bar.detach().to(torch.complex128)  # (H, N)
        tau = time_constants_ms(A, rate)
        slow = tau >= gap_ms
        for bits, grid in grids:
            if grid == "log_radius":
                q = quantize_log_radius(A, bits, cfg.design_r_max)
            else:
                q = quantize_pole(A, bits, cfg.design_fscale, cfg.design_fscale, cfg.design_r_max)
            tq = time_constants_ms(q.detach(), rate)
            ratio = (tq[slow] / tau[slow]).numpy()
            g = slowest_grid_pole(bits, cfg.design_fscale, cfg.design_r_max, grid)
            rows.append(
                {
                    "front_end": fe,
                    "fold": fold,
                    "bits_A": bits,
                    "a_grid": grid,
                    "slow_modes": int(slow.sum()),
                    "kept_share": float((ratio >= 0.5).mean()) if ratio.size else float("nan"),
                    "median_ratio": float(np.median(ratio)) if ratio.size else float("nan"),
                    "float_longest_ms": float(tau.max()),
                    "rounded_longest_ms": float(tq.max()),
                    "rounded_longest_steps": float(tq.max()) * rate / 1000,
                    "grid_slowest_steps": g["steps"],
                    "grid_slowest_real_steps": g["real_steps"],
                }
            )
    return pd.DataFrame(rows)


def silence_ms(cfg: ProgrammedMemoryParams, fe: str, between_ms: float | None = None) -> float:
    """The silence the state must bridge on the memory task at front end ``fe``, ms: the silence
    between the words (``between_words_ms``, or ``between_ms`` where the caller measured it), less
    ``frame_ms - hop_ms`` for a front end with frames longer than its hop (a frame that ends in the
    silence still holds some of the first word)."""
    between = between_words_ms(cfg) if between_ms is None else between_ms
    f = front_end(cfg, fe)
    return max(between - ((f.frame_ms or 0.0) - (f.hop_ms or 0.0)), 0.0)


def between_words_ms(cfg: ProgrammedMemoryParams) -> float:
    """The zeros between the two words of the memory task's waveforms, ms (the first word's
    padding to ``order.duration_s``, the gap, any leading zeros of the second): median over the
    test sequences of every fold."""
    order = cfg.order_data()
    g, W = order.gap_length, round(order.sample_rate * order.duration_s)
    runs = []
    for fold in cfg.shared.folds:
        x = load_splits(fold_data(order, fold)).test.x.numpy()  # (n, L) waveforms
        first, second = x[:, g : g + W] != 0, x[:, 2 * g + W : 2 * g + 2 * W] != 0
        trailing = np.where(first.any(1), np.argmax(first[:, ::-1], 1), W)
        leading = np.where(second.any(1), np.argmax(second, 1), W)
        runs.append(trailing + g + leading)
    return 1000 * float(np.median(np.concatenate(runs))) / order.sample_rate


def law_table(cfg: ProgrammedMemoryParams, sweep: pd.DataFrame) -> pd.DataFrame:
    """The law beside the measurements: per row of ``sweep`` (one per front end and design, with
    ``estimate``, ``ci_low`` of the accuracy and ``step_rate``), the grid's slowest pole near DC
    and at any angle (steps and ms, ``quant.slowest_grid_pole``) and what it keeps of the first
    word across the silence the state must bridge (``silence_ms``): the retention
    exp(-silence / tau). ``kept`` is the measurement (the accuracy's interval above chance);
    ``law_separation`` says whether, and where, the retention separates kept from lost."""
    chance = 1 / cfg.order_data().n_classes
    out = sweep.copy()
    g = [
        slowest_grid_pole(int(b), cfg.design_fscale, cfg.design_r_max, grid)
        for b, grid in zip(out["bits_A"], out["a_grid"])
    ]
    out["grid_real_steps"] = [x["real_steps"] for x in g]
    out["grid_any_steps"] = [x["steps"] for x in g]
    out["grid_real_ms"] = 1000 * out["grid_real_steps"] / out["step_rate"]
    out["grid_any_ms"] = 1000 * out["grid_any_steps"] / out["step_rate"]
    between = between_words_ms(cfg)  # one pass over the audio for every front end
    silence = {fe: silence_ms(cfg, fe, between) for fe in out["front_end"].unique()}
    out["silence_ms"] = out["front_end"].map(silence)
    out["retention_real"] = np.exp(-out["silence_ms"] / out["grid_real_ms"])
    out["retention_any"] = np.exp(-out["silence_ms"] / out["grid_any_ms"])
    out["kept"] = [w == ABOVE for w in table_verdicts(out, p=None, rule=Rule(chance))]
    return out


def law_separation(law: pd.DataFrame) -> pd.DataFrame:
    """Per form of the law (the grid's slowest pole near DC, or at any angle): the largest
    retention among the designs that lost the task and the smallest among those that kept it; the
    form separates them where the first is below the second, and its threshold lies between."""
    rows = []
    for form in ("real", "any"):
        r = law[f"retention_{form}"]
        lost, kept = r[~law["kept"]], r[law["kept"]]
        hi_lost = float(lost.max()) if len(lost) else float("nan")
        lo_kept = float(kept.min()) if len(kept) else float("nan")
        rows.append(
            {
                "form": "near DC" if form == "real" else "at any angle",
                "lost_max_retention": hi_lost,
                "kept_min_retention": lo_kept,
                "separates": bool(hi_lost < lo_kept),
            }
        )
    return pd.DataFrame(rows)


def bits_table(
    answers: pd.DataFrame, rows: pd.DataFrame, rates: Mapping[str, float]
) -> pd.DataFrame:
    """One row per (front end, design) of a bits sweep: accuracy over held-out speakers (95%
    interval over folds) and the slowest trained mode (ms, and steps at the front end's rate)."""
    acc = [
        {"front_end": fe, "model": m} | fold_accuracy(part)
        for (fe, m), part in answers.groupby(["front_end", "model"], sort=False)
    ]
    mem = (
        rows.groupby(["front_end", "model"], sort=False)
        .agg(
            bits_A=("bits_A", "first"),
            a_grid=("a_grid", "first"),
            bits_BC=("bits_BC", "first"),
            tau_max_ms=("tau_max_ms", "mean"),
            failed_runs=("failure", lambda f: int((f != "").sum())),
        )
        .reset_index()
    )
    out = pd.DataFrame(acc).merge(mem, on=["front_end", "model"], how="right")
    out["step_rate"] = out["front_end"].map(rates)
    out["tau_max_steps"] = out["tau_max_ms"] * out["step_rate"] / 1000
    return out


def noise_cell(
    cfg: ProgrammedMemoryParams,
    fe: str,
    placement: str,
    bits: Mapping[int, int],
    cell: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """The programmings of front end ``fe``'s chosen design (per fold its ``bits``) at ``cell``'s
    ``sigma_uS`` and ``devices_per_element``, on every (seed, fold), with A_bar ``placement`` on
    the array or digital (``PLACEMENTS``). The draws come from the model (front end, design,
    seed, fold) and sigma: the two placements meet the same ones."""
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
    rate = front_end(cfg, fe).data(cfg.order_data()).step_rate
    rows = []
    for fold in cfg.shared.folds:
        for seed in cfg.memory_seeds:
            m = chosen_design(cfg, bits, fold)
            model = load_model(
                run_spec(cfg, fe, "order", m, seed, fold), cfg.order_data().n_classes
            )
            rows += [
                r | {"seed": seed, "fold": fold, "bits_A": m.bits_A}
                for r in sm.memory_rows(
                    cfg,
                    model,
                    ("order", fe, m.name, seed, fold),
                    cell["sigma_uS"],
                    cell["devices_per_element"],
                    rate,
                    digital_A=placement == PLACEMENTS[1],
                )
            ]
    return rows


def theory_table(cfg: ProgrammedMemoryParams, fes: list[str]) -> pd.DataFrame:
    """The longest memory one complex mode can keep (``margin.longest_memory_ms`` at ``unstable_share_limit``) on
    the designs' range, per front end (its step rate), device count and sigma > 0: in steps and ms."""
    rows = []
    for fe in fes:
        rate = front_end(cfg, fe).data(cfg.order_data()).step_rate
        for d in cfg.shared.devices_per_element:
            for x in (x for x in cfg.sigmas_uS if x > 0):
                s = weight_noise_std(
                    x, cfg.design_fscale, cfg.shared.g_min_uS, cfg.shared.g_max_uS, d
                )
                ms = longest_memory_ms(s, rate, cfg.unstable_share_limit)
                rows.append(
                    {
                        "front_end": fe,
                        "step_rate": rate,
                        "devices_per_element": d,
                        "sigma_uS": x,
                        "s": s,
                        "longest_ms": ms,
                        "longest_steps": ms * rate / 1000,
                    }
                )
    return pd.DataFrame(rows)


def noise_contrasts(
    noise: pd.DataFrame, float_answers: pd.DataFrame, chance: float
) -> pd.DataFrame:
    """Each programmed design (per ``front_end``, ``placement``, ``devices_per_element``,
    ``sigma_uS``) against the float S4D model of the same fold in software, and against chance:
    per fold, the mean accuracy over its programmings minus the float model's test accuracy (or
    minus ``chance``); over folds the t interval, ``p_t`` and the exact ``p_sign_flip``, in points.
    ``float_answers``: per-clip answers of the float models with ``front_end`` and ``fold``."""
    ref = float_answers.groupby(["front_end", "fold"])["correct"].mean()
    by = ["front_end", "placement", "devices_per_element", "sigma_uS"]
    rows = []
    for key, part in noise.dropna(subset=["accuracy"]).groupby(by, sort=True):
        per_fold = part.groupby("fold")["accuracy"].mean()
        for against, base in (
            ("float S4D", np.array([ref[(key[0], f)] for f in per_fold.index])),
            ("chance", chance),
        ):
            d = 100 * (per_fold.to_numpy() - base)
            st = fold_stats(d)
            rows.append(
                dict(zip(by, key))
                | {"a": "programmed design", "b": against, "difference_points": st.pop("estimate")}
                | st
                | {"folds": int(d.size)}
            )
    return pd.DataFrame(rows)


def cost_table(
    cfg: ProgrammedMemoryParams,
    fes: list[str],
    bits: Mapping[str, Mapping[int, int]],
    c: CostConstants = CostConstants(),
) -> pd.DataFrame:
    """Energy and latency of one inference of each task (the memory task, the digits) per front
    end, for its chosen design with A_bar on the array and held digitally: ``cost.analog_cost``
    (ISAAC's bit-serial converters, 8-bit ADCs) over the front end's steps, on the programmed
    conductances of each fold's chosen model of that task (its fold's bits), plus the front end's
    own energy (``cost.front_end_J``); the mean over folds, and the bits each fold used."""
    H, N = cfg.shared.model.H, cfg.shared.model.N
    d = cfg.shared.devices_per_element[0]
    lay = layout(
        H, 2 * N + 1, cfg.shared.rows, cfg.shared.cols, kind="block", devices_per_element=d
    )
    dev = DeviceConfig(**cfg.shared.window)
    rows = []
    for task, fe in ((t, fe) for t in ("order", "main") for fe in fes):
        data = front_end(cfg, fe).data(cfg.order_data() if task == "order" else cfg.shared.data)
        fe_J = (
            front_end_J(data.n_fft, data.hop_length, data.n_mels or 1, c)
            if data.front_end == "logmel"
            else 0.0
        )
        for placement in PLACEMENTS:
            digital, per_fold = placement == PLACEMENTS[1], []
            for fold in cfg.shared.folds:
                b = bits[fe][fold]
                net = load_model(
                    run_spec(cfg, fe, task, design(cfg, b), cfg.memory_seeds[0], fold),
                    data.n_classes,
                )[0]
                G = device_conductances(
                    target_conductances(net, dev, "block", digital_A=digital), pairs_per_weight(d)
                )
                per_fold.append(
                    analog_cost(
                        G,
                        lay,
                        N,
                        data.steps,
                        data.n_classes,
                        8,
                        c,
                        digital_A_bits=b if digital else None,
                        front_end_J=fe_J,
                    )
                )
            latency = float(np.mean([e.latency_us_per_step for e in per_fold]))
            rows.append(
                {
                    "task": task,
                    "front_end": fe,
                    "step_rate": data.step_rate,
                    "steps": data.steps,
                    "placement": placement,
                    "bits_A": "/".join(str(b) for b in sorted(set(bits[fe].values()))),
                    "energy_pJ_per_inference": float(
                        np.mean([e.energy_pJ_per_inference for e in per_fold])
                    ),
                    "front_end_pJ_per_inference": float(
                        np.mean(
                            [e.breakdown_pJ_per_inference.get("front_end", 0.0) for e in per_fold]
                        )
                    ),
                    "latency_us_per_step": latency,
                    "latency_ms_per_inference": latency * data.steps / 1000,
                }
            )
    return pd.DataFrame(rows)


def paired_points(
    answers: pd.DataFrame, by: list[str], column: str, a: Any, b: Any
) -> pd.DataFrame:
    """Per group of ``by``: accuracy of ``column == a`` minus ``column == b`` on the same (fold,
    seed, clip), in points (``stats.paired_difference``): ``difference_points``, its t
    interval over folds, ``p_t`` and the exact ``p_sign_flip``. Groups where either side is
    missing are left out."""
    rows = []
    for key, part in answers.groupby(by, sort=False) if by else [((), answers)]:
        A, B = part[part[column] == a], part[part[column] == b]
        if A.empty or B.empty:
            continue
        keys = ["fold", "seed", "clip"]
        both = A[keys].merge(B[keys], on=keys)
        d = paired_difference(A.merge(both, on=keys), B.merge(both, on=keys))
        rows.append(
            dict(zip(by, key if isinstance(key, tuple) else (key,)))
            | {
                "a": str(a),
                "b": str(b),
                "difference_points": d["difference_points"],
                "ci_low": d["ci_low"],
                "ci_high": d["ci_high"],
                "p_t": d["p_t"],
                "p_sign_flip": d["p_sign_flip"],
                "folds": d["folds"],
            }
        )
    return pd.DataFrame(rows)


def picked_answers(answers: pd.DataFrame, picks: pd.DataFrame, on: list[str]) -> pd.DataFrame:
    """The answers of the runs that ``picks`` chose (one row per fold and values of the other
    columns of ``on``, e.g. a recipe per (bits_A, fold)): ``answers`` restricted to them."""
    return answers.merge(picks[on], on=on)


def planned_family(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The chapter's planned comparisons as one family (``stats.holm_family`` over ``p_t``): rows
    with ``a``, ``b``, ``difference_points``, ``ci_low``, ``ci_high``, ``p_t``, ``p_sign_flip``.
    The exact sign-flip p over six folds stops at 1/32, so in a family of more than one it could
    resolve nothing after Holm: it is reported beside the t test's, which the family adjusts. Its
    ``verdict``: a - b ``ABOVE`` / ``BELOW`` 0 or ``NOT_RESOLVED`` (``stats.verdict``)."""
    return holm_family(pd.concat(parts, ignore_index=True), "memory that survives programming")


def held_up_to(family: pd.DataFrame, fe: str, placement: str, devices: int) -> float:
    """The largest sigma (uS) of the planned family up to which the programmed design of front end
    ``fe`` and ``placement`` is shown above chance (Holm) at every sigma of the sweep: a claim
    'up to x' holds at each sigma below x as well. 0 where it is not shown at the smallest sigma."""
    own = family[
        (family["section"] == "noise")
        & (family["b"] == "chance")
        & (family["front_end"] == fe)
        & (family["placement"] == placement)
        & (family["devices_per_element"] == devices)
    ]
    held = 0.0
    for r in own.sort_values("sigma_uS").itertuples():
        if r.verdict != ABOVE:
            break
        held = float(r.sigma_uS)
    return held


def verdicts_text(cfg: ProgrammedMemoryParams, family: pd.DataFrame, noise_fes: list[str]) -> str:
    """The noise answer in sentences, per front end and placement (the planned family's device
    count): the sigma up to which the programmed design is shown above chance at every sigma
    (``held_up_to``), the sigmas where it is shown below the float model, and where A_bar digital
    is shown better or worse than on the array."""
    d0 = cfg.shared.devices_per_element[0]
    parts = []
    for fe in noise_fes:
        for placement in PLACEMENTS:
            own = family[
                (family["section"] == "noise")
                & (family["front_end"] == fe)
                & (family["placement"] == placement)
            ]
            below = own[(own["b"] == "float S4D") & (own["verdict"] == BELOW)]["sigma_uS"].tolist()
            held = held_up_to(family, fe, placement, d0)
            parts.append(
                f"{fe}, A_bar {'on the array' if placement == 'array' else 'digital'}: "
                + (
                    f"above chance (Holm) at every sigma up to {held:g} uS"
                    if held
                    else "not shown above chance at the smallest sigma"
                )
                + (
                    "; shown below the float model at " + ", ".join(f"{x:g}" for x in below) + " uS"
                    if below
                    else "; not shown below the float model at any sigma"
                )
            )
        pl = family[(family["section"] == "placement") & (family["front_end"] == fe)]
        better = pl[(pl["b"] == PLACEMENTS[0]) & (pl["verdict"] == ABOVE)]["sigma_uS"].tolist()
        parts.append(
            f"{fe}, A_bar digital against on the array (same draws): "
            + (
                "shown better at " + ", ".join(f"{x:g}" for x in better) + " uS"
                if better
                else "not shown better at any sigma"
            )
        )
    return f"With {d0} devices per element: " + "; ".join(parts) + "."


# --------------------------------------------------------------------------- the chapter's tables


def fold_speakers(cfg: ProgrammedMemoryParams) -> dict[int, tuple[str, str]]:
    """Each fold's (test speaker, validation speaker) of the memory task (``audio.fold_table``)."""
    table = fold_table(cfg.order_data())
    return {int(r.fold): (r.test_speaker, r.val_speaker) for r in table.itertuples()}


def step_rates(cfg: ProgrammedMemoryParams) -> dict[str, float]:
    """Steps per second of each front end."""
    return {f.name: f.data(cfg.order_data()).step_rate for f in cfg.front_ends}


def front_end_table(
    cfg: ProgrammedMemoryParams, c: CostConstants = CostConstants()
) -> pd.DataFrame:
    """One row per front end: step rate, features per step, steps per memory-task sequence, the gap
    in steps, and the front end's energy per step (pJ, ``cost.front_end_J``)."""
    rows = []
    for f in cfg.front_ends:
        d = f.data(cfg.order_data())
        rows.append(
            {
                "front_end": f.name,
                "step_rate": d.step_rate,
                "features": d.features,
                "steps": d.steps,
                "gap_steps": cfg.order.gap_s * d.step_rate,
                "front_end_pJ_per_step": 1e12
                * front_end_J(d.n_fft, d.hop_length, d.n_mels or 1, c),
            }
        )
    return pd.DataFrame(rows)


def _memory(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return (
        rows.groupby(by, sort=False)
        .agg(
            tau_max_ms=("tau_max_ms", "mean"),
            failed_runs=("failure", lambda f: int((f != "").sum())),
        )
        .reset_index()
    )


def recipe_table(
    answers: pd.DataFrame,
    rows: pd.DataFrame,
    cfg: ProgrammedMemoryParams,
    speakers: Mapping[int, tuple[str, str]],
) -> dict[str, pd.DataFrame]:
    """The recipe comparison at the first front end: ``accuracy`` (one row per design of
    ``recipe_bits_A`` under each recipe, the design with its recipe picked per fold, and the float
    model: accuracy with its interval, slowest mode), ``picks`` (``recipe_pick``) and ``paired``
    (per design, from scratch minus fine-tuned, and the design with the picked recipe minus the
    float model; ``paired_points``)."""
    fe = cfg.front_ends[0].name

    def mine(t: pd.DataFrame) -> pd.DataFrame:
        design_rows = (
            t["bits_A"].isin(cfg.recipe_bits_A)
            & (t["a_grid"] == "cartesian")
            & (t["bits_BC"] == cfg.design_bits)
        )
        return t[
            (t["front_end"] == fe) & (t["task"] == "order") & (design_rows | t["bits_A"].isna())
        ]

    a, r = mine(answers), mine(rows)
    picks = recipe_pick(r, speakers)
    chosen = picked_answers(a.dropna(subset=["bits_A"]), picks, ["bits_A", "fold", "recipe"])
    chosen["model"] = [
        design(cfg, int(b)).name + ", recipe picked on validation" for b in chosen["bits_A"]
    ]
    acc = pd.DataFrame(
        [
            {"model": m} | fold_accuracy(part)
            for m, part in pd.concat([a, chosen]).groupby("model", sort=False)
        ]
    )
    acc = acc.merge(_memory(r, ["model"]), on="model", how="left")
    paired = pd.concat(
        [
            paired_points(
                a.dropna(subset=["bits_A"]), ["bits_A"], "recipe", "scratch", "fine_tune"
            ),
            *[
                paired_points(
                    pd.concat([c, a[a["bits_A"].isna()]]), [], "model", m, "float S4D"
                ).assign(bits_A=float(c["bits_A"].iloc[0]))
                for m, c in chosen.groupby("model")
            ],
        ],
        ignore_index=True,
    )
    return {
        "accuracy": acc,
        "picks": picks,
        "paired": paired.assign(front_end=fe, section="recipe"),
    }


def pole_survival_table(cfg: ProgrammedMemoryParams) -> pd.DataFrame:
    """``pole_survival`` at every front end, on the grids of its bits sweeps (seed ``memory_seeds[0]``)."""
    parts = []
    for f in cfg.front_ends:
        grids = list(
            dict.fromkeys(
                (b, g)
                for sw in cfg.bits_sweeps
                if sw.front_end == f.name
                for g in sw.a_grids
                for b in sw.bits_A
            )
        )
        runs = {
            fold: run_spec(cfg, f.name, "order", sm.FLOAT_S4D, cfg.memory_seeds[0], fold)
            for fold in cfg.shared.folds
        }
        parts.append(pole_survival(cfg, f.name, runs, grids))
    return pd.concat(parts, ignore_index=True)


def mechanism_text(survival: pd.DataFrame, law: pd.DataFrame, cfg: ProgrammedMemoryParams) -> str:
    """The mechanism in sentences: per front end, how slow the float models' modes are, how many of
    their slow modes each Cartesian width keeps (``pole_survival``), and the QAT models' slowest
    mode against the grid's slowest pole (``law_table``): QAT moves its slowest mode to the
    grid's, so the grid, not training, sets the memory."""
    parts = []
    cart = survival[survival["a_grid"] == "cartesian"]
    for fe, part in cart.groupby("front_end", sort=False):
        m = part.groupby("bits_A")[["slow_modes", "kept_share", "float_longest_ms"]].mean()
        own = law[
            (law["front_end"] == fe)
            & (law["a_grid"] == "cartesian")
            & (law["bits_BC"] == cfg.design_bits)
            & ~law["model"].str.contains("scratch")
        ].set_index("bits_A")
        each = ", ".join(
            f"{b:g} bits: {r.kept_share:.0%} kept, slowest trained mode "
            f"{own.loc[b, 'tau_max_steps']:.0f} steps (grid {own.loc[b, 'grid_any_steps']:.0f})"
            for b, r in m.iterrows()
            if b in own.index
        )
        parts.append(
            f"At {fe} the float models' slowest mode lasts {m['float_longest_ms'].iloc[0]:.0f} ms and "
            f"{m['slow_modes'].iloc[0]:.0f} of their modes reach the {1000 * cfg.order.gap_s:g} ms gap; "
            f"rounded onto the Cartesian grid, the share of those that keep at least half their time "
            f"constant, and the QAT model's slowest mode against the grid's slowest pole, are: {each}"
        )
    return (
        "; ".join(parts)
        + ". The QAT model's slowest mode sits at the grid's slowest pole: training pushes "
        "its memory to what the grid allows, and the grid (its resolution near the circle, and the cap "
        f"{cfg.design_r_max:g}, at most {-1 / np.log(cfg.design_r_max):.0f} steps) sets it. The float models use "
        "modes far slower than any grid holds, so every grid shortens them. Which of the grid's slow poles the "
        "task needs, the slowest near DC or the slowest at any angle (which turns every step), is what the "
        "law above tests."
    )


def law_text(law: pd.DataFrame, needed: pd.DataFrame, cfg: ProgrammedMemoryParams) -> str:
    """Which form of the law separates the designs that keep the task from those that lose it,
    and where the bits A_bar needs (chosen on validation, ``bits_needed_table``) stand against
    Q-S5's 'at least 8 bits'."""
    sep = law_separation(law).set_index("form")
    parts = []
    for form, r in sep.iterrows():
        if r.separates:
            parts.append(
                f"the slowest pole {form} separates them: every design that loses the task keeps at most "
                f"{r.lost_max_retention:.2f} of the first word across the silence, every design that keeps "
                f"it at least {r.kept_min_retention:.2f}"
            )
        else:
            parts.append(
                f"the slowest pole {form} does not separate them (a lost design keeps "
                f"{r.lost_max_retention:.2f}, a kept one only {r.kept_min_retention:.2f})"
            )
    silence = law.groupby("front_end", sort=False)["silence_ms"].first()
    bits = needed.groupby("front_end", sort=False)["bits_A"].agg(
        lambda b: "/".join(str(int(x)) for x in sorted(set(b)))
    )
    return (
        "The silence the state must bridge (median over test sequences, less the frame's overlap): "
        + ", ".join(f"{v:.0f} ms at {fe}" for fe, v in silence.items())
        + ". Over "
        f"{len(law)} designs, "
        + "; ".join(parts)
        + ". The threshold is read off these runs, not predicted. "
        "The bits of A_bar chosen on validation (fewest within "
        f"{cfg.tolerance_points:g} points of the float model): "
        + ", ".join(f"{b} at {fe}" for fe, b in bits.items())
        + ". Q-S5 (Abreu et al., arXiv 2406.09477) finds that S5's recurrent weights need at least 8 bits "
        "(digital; sMNIST and the Long Range Arena). Here the bits A_bar needs change with the step rate, because "
        "a grid's memory is counted in steps."
    )


def bits_figure(law: pd.DataFrame, bits: pd.DataFrame, chance: float) -> Any:
    """Accuracy against A_bar bits, a panel per front end, a line per grid and B/C width."""
    fes = list(dict.fromkeys(law["front_end"]))
    fig, axes = plt.subplots(1, len(fes), figsize=(3.2 * len(fes), 3), sharey=True, squeeze=False)
    for ax, fe in zip(axes[0], fes):
        part = law[law["front_end"] == fe]
        for (g, bc), line in part.groupby(["a_grid", "bits_BC"]):
            line = line.sort_values("bits_A")
            ax.errorbar(
                line["bits_A"],
                line["estimate"],
                yerr=[line["estimate"] - line["ci_low"], line["ci_high"] - line["estimate"]],
                marker="o",
                capsize=2,
                label=f"{g}, B/C {bc:g}-bit",
            )
        ref = bits[(bits["front_end"] == fe) & bits["bits_A"].isna()]["estimate"]
        if len(ref):
            ax.axhline(float(ref.iloc[0]), color="0.3", ls=":", lw=1)
        ax.axhline(chance, color="0.4", ls="--", lw=1)
        ax.set(title=fe, xlabel="bits of A_bar")
    axes[0][0].set_ylabel("memory-task accuracy")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    return fig


def bits_needed_table(
    rows: pd.DataFrame, cfg: ProgrammedMemoryParams, speakers: Mapping[int, tuple[str, str]]
) -> pd.DataFrame:
    """``bits_needed`` per front end (Cartesian designs at ``design_bits``, fine-tuned, and the float
    model): one row per (front end, fold) with ``bits_A``."""
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


def rate_table(
    answers: pd.DataFrame, rows: pd.DataFrame, cfg: ProgrammedMemoryParams
) -> pd.DataFrame:
    """One row per (task, front end, model): accuracy with its interval and the slowest trained mode
    in ms and steps."""
    acc = pd.DataFrame(
        [
            {"task": t, "front_end": fe, "model": m} | fold_accuracy(part)
            for (t, fe, m), part in answers.groupby(["task", "front_end", "model"], sort=False)
        ]
    )
    out = acc.merge(
        _memory(rows, ["task", "front_end", "model"]), on=["task", "front_end", "model"], how="left"
    )
    out["step_rate"] = out["front_end"].map(step_rates(cfg))
    out["tau_max_steps"] = out["tau_max_ms"] * out["step_rate"] / 1000
    return out


def noise_summary(noise: pd.DataFrame, cfg: ProgrammedMemoryParams) -> pd.DataFrame:
    """``state_memory.noise_summary`` per (front end, placement, devices per element, sigma)."""
    return sm.noise_summary(
        noise, _test_clips(cfg), ("front_end", "placement", "devices_per_element", "sigma_uS")
    )


def _test_clips(cfg: ProgrammedMemoryParams) -> int:
    return len(load_splits(fold_data(cfg.order_data(), cfg.shared.folds[0])).test)


def sigma_star_table(noise: pd.DataFrame, cfg: ProgrammedMemoryParams) -> pd.DataFrame:
    """``state_memory.memory_sigma_star`` per (front end, placement, devices per element), beside
    the theory's longest memory at that sigma (steps and ms; A_bar on the array only) and the
    chosen design's slowest trained mode at sigma = 0 is not in these rows (see ``rate_table``)."""
    labelled = noise.assign(model=noise["front_end"] + " | " + noise["placement"])
    stars = sm.memory_sigma_star(labelled, _test_clips(cfg), 1 / cfg.order_data().n_classes)
    stars[["front_end", "placement"]] = stars["model"].str.split(" \\| ", expand=True)
    theory = theory_table(cfg, list(dict.fromkeys(noise["front_end"]))).set_index(
        ["front_end", "devices_per_element", "sigma_uS"]
    )
    at = [
        theory.loc[(r.front_end, r.devices_per_element, r.sigma_star_uS)]
        if r.placement == "array"
        and (r.front_end, r.devices_per_element, r.sigma_star_uS) in theory.index
        else None
        for r in stars.itertuples()
    ]
    stars["theory_longest_steps_at_star"] = [
        np.nan if t is None else t["longest_steps"] for t in at
    ]
    stars["theory_longest_ms_at_star"] = [np.nan if t is None else t["longest_ms"] for t in at]
    return stars.drop(columns="model")[
        [
            "front_end",
            "placement",
            "devices_per_element",
            "models",
            "working",
            "sigma_star_uS",
            "sigma_fail_uS",
            "fails_by",
            "theory_longest_steps_at_star",
            "theory_longest_ms_at_star",
        ]
    ]


def noise_figure(noise: pd.DataFrame, cfg: ProgrammedMemoryParams) -> Any:
    """Accuracy against sigma (symlog), a panel per front end, a line per placement and device count."""
    curves = (
        noise.dropna(subset=["accuracy"])
        .groupby(["front_end", "placement", "devices_per_element", "sigma_uS"])["accuracy"]
        .mean()
        .reset_index()
    )
    curves["design"] = (
        curves["placement"] + ", " + curves["devices_per_element"].astype(str) + " devices"
    )
    g = sns.relplot(
        curves,
        x="sigma_uS",
        y="accuracy",
        hue="design",
        col="front_end",
        kind="line",
        marker="o",
        height=3,
    )
    for ax in g.axes.flat:
        ax.set_xscale("symlog", linthresh=0.5)
        ax.axhline(1 / cfg.order_data().n_classes, color="0.4", ls="--", lw=1)
        ax.axvspan(*cfg.write_verified_uS, color="0.9", zorder=0)
    g.set_axis_labels("sigma (uS)", "memory-task accuracy")
    return g


def four_class_table(answers: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """One row per model of the four-class task: accuracy with its interval, the accuracy on the XY
    and YX sequences alone (``order_pairs_accuracy``, classes 0 and 1) and the slowest trained mode."""
    acc = accuracy_table(answers, "model")
    pairs = (
        answers[answers["target"] < 2]
        .groupby("model")["correct"]
        .mean()
        .rename("order_pairs_accuracy")
    )
    return acc.merge(pairs.reset_index(), on="model").merge(
        _memory(rows, ["model"]), on="model", how="left"
    )


def planned_parts(
    recipe: Mapping[str, pd.DataFrame],
    answers: pd.DataFrame,
    main_answers: pd.DataFrame,
    order_answers: pd.DataFrame,
    four_answers: pd.DataFrame,
    noise: pd.DataFrame,
    cfg: ProgrammedMemoryParams,
) -> list[pd.DataFrame]:
    """The rows of the chapter's planned family, by section (column ``section``): recipe, step rate
    (chosen design - float per task and front end), noise (``noise_contrasts`` at sigma > 0 with the
    first count of ``devices_per_element``, the paper's; sigma = 0 is the step-rate row, and the
    other count is shown, not tested), placement (A_bar digital minus on the array, paired on the
    same programming draws, ``stats.paired_contrast``), four classes."""
    rates = pd.concat([main_answers, order_answers], ignore_index=True)
    step = paired_points(
        rates, ["task", "front_end"], "model", "chosen design", "float S4D"
    ).assign(section="step rate")
    float_answers = answers[(answers["task"] == "order") & answers["bits_A"].isna()]
    planned = noise[
        (noise["devices_per_element"] == cfg.shared.devices_per_element[0])
        & (noise["sigma_uS"] > 0)
    ]
    programmed = noise_contrasts(planned, float_answers, 1 / cfg.order_data().n_classes).assign(
        section="noise"
    )
    placement = paired_contrast(
        planned.dropna(subset=["accuracy"]),
        "placement",
        PLACEMENTS[1],
        PLACEMENTS[0],
        ["front_end", "devices_per_element", "sigma_uS"],
    ).assign(section="placement")
    four = pd.concat(
        [
            paired_points(four_answers, ["front_end"], "model", m, "float S4D")
            for m in ("2-bit, fixed range (paper)", "chosen design")
        ]
    ).assign(section="four classes")
    return [recipe["paired"], step, programmed, placement, four]


def headline(stars: pd.DataFrame, family: pd.DataFrame, cfg: ProgrammedMemoryParams) -> str:
    """The chapter's answer in one paragraph, per programmed front end and placement of A_bar (the
    planned family's device count): the measured sigma* (descriptive: the largest sigma with a
    mean drop of at most 2 points and under 10% failures) against the write-verified range
    ``write_verified_uS``, and the sigma up to which the design is shown above chance (Holm,
    ``held_up_to``)."""
    d0 = cfg.shared.devices_per_element[0]
    st = stars[stars["devices_per_element"] == d0].set_index(["front_end", "placement"])
    lo, hi = cfg.write_verified_uS
    parts = []
    for fe in cfg.noise_front_ends:
        for placement in PLACEMENTS:
            if (fe, placement) not in st.index or pd.isna(st.loc[(fe, placement), "sigma_star_uS"]):
                continue
            star = float(st.loc[(fe, placement), "sigma_star_uS"])
            where = "below" if star < lo else "inside" if star <= hi else "above"
            held = held_up_to(family, fe, placement, d0)
            parts.append(
                f"at {fe} with A_bar {'on the array' if placement == 'array' else 'held digitally'}, "
                f"sigma* = {star:g} uS ({where} the write-verified {lo:g}-{hi:g} uS), above chance at "
                + (f"every sigma up to {held:g} uS" if held else "no sigma > 0")
            )
    return (
        ("**Answer** (" + f"{d0} devices per element): " + "; ".join(parts) + ".") if parts else ""
    )


def conclusion(
    recipe: Mapping[str, pd.DataFrame],
    law: pd.DataFrame,
    rates: pd.DataFrame,
    cost: pd.DataFrame,
    stars: pd.DataFrame,
    family: pd.DataFrame,
    four: pd.DataFrame,
    cfg: ProgrammedMemoryParams,
) -> str:
    """The chapter's answer in numbers: the recipe, the bits A_bar needs per step rate, the step
    rate's cost, the noise each placement holds, and the four-class task."""
    fe0 = cfg.front_ends[0].name
    acc = recipe["accuracy"].set_index("model")
    rec = "; ".join(
        f"{m}: {r.estimate:.1%} [{r.ci_low:.1%}, {r.ci_high:.1%}]" for m, r in acc.iterrows()
    )
    order = rates[rates["task"] == "order"].set_index(["front_end", "model"])
    per_rate = "; ".join(
        f"{fe}: float {order.loc[(fe, 'float S4D'), 'estimate']:.1%}, chosen design "
        f"{order.loc[(fe, 'chosen design'), 'estimate']:.1%}"
        for fe in dict.fromkeys(order.index.get_level_values(0))
        if (fe, "chosen design") in order.index
    )
    energy = "; ".join(
        f"{r.front_end} ({r.placement}): {r.energy_pJ_per_inference / 1e6:.3g} uJ"
        for r in cost[cost["task"] == "order"].itertuples()
    )
    d0 = cfg.shared.devices_per_element[0]
    st = stars[stars["devices_per_element"] == d0]
    held = "; ".join(
        f"{r.front_end}, A_bar {'on the array' if r.placement == 'array' else 'digital'}: sigma* "
        f"{r.sigma_star_uS:g} uS ({int(r.working)} of {int(r.models)} models work at 0)"
        for r in st.itertuples()
    )
    f4 = four.set_index("model")
    return (
        headline(stars, family, cfg) + "\n\n"
        f"**Recipe** (at {fe0}, memory task): {rec}. "
        f"**Step rate** (memory task, accuracy over held-out speakers): {per_rate}. "
        f"**Energy per inference** of the chosen design: {energy}. "
        f"**Under programming noise**, with {d0} devices per element: {held}. "
        + verdicts_text(cfg, family, cfg.noise_front_ends)
        + " "
        f"**Four classes** at {cfg.four_class_front_end}: "
        + "; ".join(
            f"{m} {r.estimate:.1%} (XY/YX alone {r.order_pairs_accuracy:.1%})"
            for m, r in f4.iterrows()
        )
        + ". These findings hold for the designs, grids, step rates and recipes named here, on this task and "
        "these six speakers."
    )


def memory_figure(
    theory: pd.DataFrame, stars: pd.DataFrame, rates: pd.DataFrame, cfg: ProgrammedMemoryParams
) -> Any:
    """The theory's longest memory (steps, log axis) against sigma per front end (first device
    count), with the chosen design's slowest trained mode (dotted) and each placement's measured
    sigma* (vertical lines): where the dotted line crosses the curve, the theory says the
    design's modes start to leave the circle."""
    d0 = cfg.shared.devices_per_element[0]
    fes = list(dict.fromkeys(theory["front_end"]))
    fig, axes = plt.subplots(1, len(fes), figsize=(3.4 * len(fes), 3), sharey=True, squeeze=False)
    order = rates[(rates["task"] == "order") & (rates["model"] == "chosen design")].set_index(
        "front_end"
    )
    for ax, fe in zip(axes[0], fes):
        th = theory[(theory["front_end"] == fe) & (theory["devices_per_element"] == d0)]
        ax.plot(
            th["sigma_uS"], th["longest_steps"], color="k", lw=1, label="theory: longest memory"
        )
        if fe in order.index:
            ax.axhline(
                float(order.loc[fe, "tau_max_steps"]),
                color="0.3",
                ls=":",
                lw=1,
                label="chosen design's slowest mode",
            )
        for r in stars[
            (stars["front_end"] == fe) & (stars["devices_per_element"] == d0)
        ].itertuples():
            if pd.notna(r.sigma_star_uS):
                ax.axvline(
                    r.sigma_star_uS,
                    ls="--",
                    lw=1,
                    color="C0" if r.placement == "array" else "C1",
                    label=f"sigma*, A_bar {'on the array' if r.placement == 'array' else 'digital'}",
                )
        ax.set(xscale="log", yscale="log", title=fe, xlabel="sigma (uS)")
    axes[0][0].set_ylabel("memory (steps)")
    axes[0][-1].legend(fontsize=7, loc="upper right")
    return fig
