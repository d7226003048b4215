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
from ..stats import (accuracy_table, fold_accuracy, fold_t_interval, holm_family, paired_difference,
                     realisation_summary, sign_flip_p, t_test_p)
from . import state_memory as sm
from .deployed import load_model
from .params import FrontEndChoice, MemoryModel, ModelParams, ProgrammedMemoryParams, fold_params
from .runs import fold_data
from .selection import nested_folds

__all__ = ["PLACEMENTS", "bits_by_front_end", "bits_figure", "bits_needed", "bits_needed_table", "bits_table",
           "chosen_design", "chosen_runs", "conclusion", "cost_table", "design", "fold_speakers", "four_class_table",
           "front_end", "front_end_table", "headline", "law_table", "law_text", "mechanism_text", "memory_figure", "nested_pick",
           "noise_cell", "noise_contrasts", "noise_figure", "noise_summary", "paired_points", "picked_answers",
           "planned_family", "planned_parts", "pole_survival", "pole_survival_table", "rate_table", "recipe_pick",
           "recipe_table", "run_spec", "sigma_star_table", "step_rates", "sweep_runs", "task_base", "theory_table",
           "verdicts_text"]

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


def design(cfg: ProgrammedMemoryParams, bits_A: int | None, a_grid: str = "cartesian", bits_BC: int | None = None,
           recipe: str = "fine_tune") -> MemoryModel:
    """A quantized design on the designs' range and cap (``design_fscale``, ``design_r_max``), its
    name spelling it out: 'A 8-bit cartesian, B/C 8-bit' (+ ', from scratch'). ``bits_A`` None:
    the float S4D model."""
    if bits_A is None:
        return sm.FLOAT_S4D
    b = cfg.design_bits if bits_BC is None else bits_BC
    name = f"A {bits_A}-bit {a_grid.replace('_', '-')}, B/C {b}-bit" + (", from scratch" if recipe == "scratch" else "")
    return MemoryModel(name=name, bits=b, bits_A=bits_A, fscale=cfg.design_fscale, r_max=cfg.design_r_max,
                       a_grid=a_grid, recipe=recipe)


def run_spec(cfg: ProgrammedMemoryParams, fe: str, task: str, m: MemoryModel, seed: int, fold: int,
             classes: int = 2) -> Run:
    """The run of model ``m`` on ``task`` at front end ``fe`` for (``fold``, ``seed``)
    (``state_memory.memory_spec`` on ``task_base``; the main task with the fold's choices)."""
    base = task_base(cfg, fe, task, classes)
    if task == "main":
        base = fold_params(base, fold)
    return sm.memory_spec(cfg, m, seed, fold, base=base)


def _point(fe: str, task: str, m: MemoryModel, seed: int, classes: int = 2) -> dict[str, Any]:
    """The labels of a run: front end, task, model and its design, seed."""
    return {"front_end": fe, "task": task if classes == 2 else f"{task} ({classes} classes)", "model": m.name,
            "bits_A": np.nan if m.bits is None else (m.bits_A or m.bits), "a_grid": m.a_grid if m.bits else "",
            "bits_BC": np.nan if m.bits is None else m.bits, "recipe": m.recipe if m.bits else "", "seed": seed}


def _runs(cfg: ProgrammedMemoryParams, labelled: list[tuple[str, str, MemoryModel, int]]
          ) -> tuple[list[dict[str, Any]], list[Run]]:
    points, runs = [], []
    for fe, task, m, classes in labelled:
        for fold in cfg.shared.folds:
            for seed in cfg.memory_seeds:
                points.append(_point(fe, task, m, seed, classes))
                runs.append(run_spec(cfg, fe, task, m, seed, fold, classes))
    return points, runs


def sweep_runs(cfg: ProgrammedMemoryParams) -> tuple[list[dict[str, Any]], list[Run]]:
    """The memory task's runs of the bits sweeps and the recipe comparison: at every front end the
    float S4D model and each design of its ``bits_sweeps`` (fine-tuned), and at the first front end
    the designs of ``recipe_bits_A`` from scratch. Parallel lists of labels and runs, one per
    (model, fold, seed); a design listed twice is run once."""
    labelled = [(f.name, "order", sm.FLOAT_S4D, 2) for f in cfg.front_ends]
    for sw in cfg.bits_sweeps:
        labelled += [(sw.front_end, "order", design(cfg, b, g, bc), 2) for bc in sw.bits_BC for g in sw.a_grids
                     for b in sw.bits_A]
    labelled += [(cfg.front_ends[0].name, "order", design(cfg, b, recipe="scratch"), 2) for b in cfg.recipe_bits_A]
    return _runs(cfg, list(dict.fromkeys(labelled)))


def chosen_runs(cfg: ProgrammedMemoryParams, bits: Mapping[str, Mapping[int, int]], task: str, fes: list[str],
                classes: int = 2, paper: bool = False) -> tuple[list[dict[str, Any]], list[Run]]:
    """``task``'s runs at each front end of ``fes``: the float S4D model and, per fold, the design
    at the bits that front end needs on the memory task (``bits[fe][fold]``, labelled 'chosen
    design'); with ``paper``, also the paper's method (the shared 2-bit fixed range and cap)."""
    points, runs = [], []
    for fe in fes:
        models = [("float S4D", lambda fold: sm.FLOAT_S4D), ("chosen design", lambda fold: design(cfg, bits[fe][fold]))]
        if paper:
            models.append(("2-bit, fixed range (paper)", lambda fold: MemoryModel(name="2-bit, fixed range (paper)",
                                                                                  bits=cfg.shared.map_bits)))
        for label, model_of in models:
            for fold in cfg.shared.folds:
                for seed in cfg.memory_seeds:
                    m = model_of(fold)
                    points.append(_point(fe, task, m, seed, classes) | {"model": label})
                    runs.append(run_spec(cfg, fe, task, m, seed, fold, classes))
    return points, runs


def nested_pick(rows: pd.DataFrame, option: str, speakers: Mapping[int, tuple[str, str]], default: Any,
                prefer: list[Any] | None = None) -> dict[int, Any]:
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


def bits_needed(rows: pd.DataFrame, speakers: Mapping[int, tuple[str, str]], tolerance_points: float) -> dict[int, int]:
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


def pole_survival(cfg: ProgrammedMemoryParams, fe: str, float_runs: Mapping[int, Run], grids: list[tuple[int, str]]
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
            rows.append({"front_end": fe, "fold": fold, "bits_A": bits, "a_grid": grid, "slow_modes": int(slow.sum()),
                         "kept_share": float((ratio >= 0.5).mean()) if ratio.size else float("nan"),
                         "median_ratio": float(np.median(ratio)) if ratio.size else float("nan"),
                         "float_longest_ms": float(tau.max()), "rounded_longest_ms": float(tq.max()),
                         "rounded_longest_steps": float(tq.max()) * rate / 1000,
                         "grid_slowest_steps": g["steps"], "grid_slowest_real_steps": g["real_steps"]})
    return pd.DataFrame(rows)


def law_table(cfg: ProgrammedMemoryParams, sweep: pd.DataFrame) -> pd.DataFrame:
    """The law beside the measurements: per row of ``sweep`` (one per front end and design, with
    ``estimate``, ``ci_low`` of the accuracy and ``step_rate``), the grid's slowest pole near DC
    and at any angle (steps and ms, ``quant.slowest_grid_pole``) against the memory the task
    needs (the gap the state must bridge, ``order.gap_s``): the law predicts the task kept where
    the slowest pole's time constant reaches the gap. ``kept`` is the measurement (the accuracy's
    interval above chance); ``law_holds`` compares the two for each form of the law."""
    chance, gap_ms = 1 / cfg.order_data().n_classes, 1000 * cfg.order.gap_s
    out = sweep.copy()
    g = [slowest_grid_pole(int(b), cfg.design_fscale, cfg.design_r_max, grid) for b, grid in zip(out["bits_A"], out["a_grid"])]
    out["grid_real_steps"] = [x["real_steps"] for x in g]
    out["grid_any_steps"] = [x["steps"] for x in g]
    out["grid_real_ms"] = 1000 * out["grid_real_steps"] / out["step_rate"]
    out["grid_any_ms"] = 1000 * out["grid_any_steps"] / out["step_rate"]
    out["gap_ms"] = gap_ms
    out["kept"] = out["ci_low"] > chance
    out["law_real_predicts"] = out["grid_real_ms"] >= gap_ms
    out["law_any_predicts"] = out["grid_any_ms"] >= gap_ms
    out["law_real_holds"] = out["law_real_predicts"] == out["kept"]
    out["law_any_holds"] = out["law_any_predicts"] == out["kept"]
    return out


def bits_table(answers: pd.DataFrame, rows: pd.DataFrame, rates: Mapping[str, float]) -> pd.DataFrame:
    """One row per (front end, design) of a bits sweep: accuracy over held-out speakers (95%
    interval over folds) and the slowest trained mode (ms, and steps at the front end's rate)."""
    acc = [{"front_end": fe, "model": m} | fold_accuracy(part)
           for (fe, m), part in answers.groupby(["front_end", "model"], sort=False)]
    mem = rows.groupby(["front_end", "model"], sort=False).agg(
        bits_A=("bits_A", "first"), a_grid=("a_grid", "first"), bits_BC=("bits_BC", "first"),
        tau_max_ms=("tau_max_ms", "mean"), failed_runs=("failure", lambda f: int((f != "").sum()))).reset_index()
    out = pd.DataFrame(acc).merge(mem, on=["front_end", "model"], how="right")
    out["step_rate"] = out["front_end"].map(rates)
    out["tau_max_steps"] = out["tau_max_ms"] * out["step_rate"] / 1000
    return out


def noise_cell(cfg: ProgrammedMemoryParams, fe: str, placement: str, bits: Mapping[int, int],
               cell: Mapping[str, Any]) -> list[dict[str, Any]]:
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
            model = load_model(run_spec(cfg, fe, "order", m, seed, fold), cfg.order_data().n_classes)
            rows += [r | {"seed": seed, "fold": fold, "bits_A": m.bits_A} for r in sm.programmed_rows(
                cfg, model, ("order", fe, m.name, seed, fold), cell["sigma_uS"], cell["devices_per_element"], rate,
                digital_A=placement == PLACEMENTS[1])]
    return rows


def theory_table(cfg: ProgrammedMemoryParams, fes: list[str]) -> pd.DataFrame:
    """The longest memory one complex mode can keep (``margin.longest_memory_ms`` at ``p_fail``) on
    the designs' range, per front end (its step rate), device count and sigma > 0: in steps and ms."""
    rows = []
    for fe in fes:
        rate = front_end(cfg, fe).data(cfg.order_data()).step_rate
        for d in cfg.shared.devices_per_element:
            for x in (x for x in cfg.memory_sigmas_uS if x > 0):
                s = weight_noise_std(x, cfg.design_fscale, cfg.shared.g_min_uS, cfg.shared.g_max_uS, d)
                ms = longest_memory_ms(s, rate, cfg.p_fail)
                rows.append({"front_end": fe, "step_rate": rate, "devices_per_element": d, "sigma_uS": x, "s": s,
                             "longest_ms": ms, "longest_steps": ms * rate / 1000})
    return pd.DataFrame(rows)


def noise_contrasts(noise: pd.DataFrame, float_answers: pd.DataFrame, chance: float) -> pd.DataFrame:
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
        for against, base in (("float S4D", np.array([ref[(key[0], f)] for f in per_fold.index])), ("chance", chance)):
            d = 100 * (per_fold.to_numpy() - base)
            s = _fold_stats_points(d)
            rows.append(dict(zip(by, key)) | {"a": "programmed design", "b": against} | s)
    return pd.DataFrame(rows)


def _fold_stats_points(d: np.ndarray) -> dict[str, float]:
    est, low, high = fold_t_interval(d)
    return {"difference_points": est, "ci_low": low, "ci_high": high, "p_t": t_test_p(d),
            "p_sign_flip": sign_flip_p(d), "folds": int(d.size)}


def cost_table(cfg: ProgrammedMemoryParams, fes: list[str], bits: Mapping[str, Mapping[int, int]],
               c: CostConstants = CostConstants()) -> pd.DataFrame:
    """Energy and latency of one inference of each task (the memory task, the digits) per front
    end, for its chosen design (the median of its folds' bits; the conductances of the memory
    task's fold-0 model) on the array and with A_bar digital: the arrays of
    ``cost.analog_cost`` (ISAAC's bit-serial converters, the conductances of the fold-0 model, the
    shared 8-bit ADC) over the front end's steps, plus the front end's own energy (``cost.front_end_J``)."""
    H, N = cfg.shared.model.H, cfg.shared.model.N
    d = cfg.shared.devices_per_element[0]
    rows = []
    for task, fe in ((t, fe) for t in ("order", "main") for fe in fes):
        data = front_end(cfg, fe).data(cfg.order_data() if task == "order" else cfg.shared.data)
        b = int(np.median(list(bits[fe].values())))
        fold, seed = cfg.shared.folds[0], cfg.memory_seeds[0]
        net = load_model(run_spec(cfg, fe, "order", design(cfg, b), seed, fold), data.n_classes)[0]
        lay = layout(H, 2 * N + 1, cfg.shared.rows, cfg.shared.cols, kind="block", devices_per_element=d)
        dev = DeviceConfig(**cfg.shared.window)
        fe_J = front_end_J(data.n_fft, data.hop_length, data.n_mels or 1, c) if data.front_end == "logmel" else 0.0
        for placement in PLACEMENTS:
            digital = placement == PLACEMENTS[1]
            G = device_conductances(target_conductances(net, dev, "block", digital_A=digital), pairs_per_weight(d))
            est = analog_cost(G, lay, N, data.steps, data.n_classes, 8, c, digital_A_bits=b if digital else None,
                              front_end_J=fe_J)
            rows.append({"task": task, "front_end": fe, "step_rate": data.step_rate, "steps": data.steps,
                         "placement": placement,
                         "bits_A": b, "energy_pJ_per_inference": est.energy_pJ_per_inference,
                         "front_end_pJ_per_inference": est.breakdown_pJ_per_inference.get("front_end", 0.0),
                         "latency_us_per_step": est.latency_us_per_step,
                         "latency_ms_per_inference": est.latency_us_per_step * data.steps / 1000})
    return pd.DataFrame(rows)


def paired_points(answers: pd.DataFrame, by: list[str], column: str, a: Any, b: Any) -> pd.DataFrame:
    """Per group of ``by``: accuracy of ``column == a`` minus ``column == b`` on the same (fold,
    seed, clip), in points (``stats.paired_difference`` x 100): ``difference_points``, its t
    interval over folds, ``p_t`` and the exact ``p_sign_flip``. Groups where either side is
    missing are left out."""
    rows = []
    for key, part in (answers.groupby(by, sort=False) if by else [((), answers)]):
        A, B = part[part[column] == a], part[part[column] == b]
        if A.empty or B.empty:
            continue
        keys = ["fold", "seed", "clip"]
        both = A[keys].merge(B[keys], on=keys)
        d = paired_difference(A.merge(both, on=keys), B.merge(both, on=keys))
        rows.append(dict(zip(by, key if isinstance(key, tuple) else (key,))) | {
            "a": str(a), "b": str(b), "difference_points": 100 * d["estimate"], "ci_low": 100 * d["ci_low"],
            "ci_high": 100 * d["ci_high"], "p_t": d["p_t"], "p_sign_flip": d["p_sign_flip"], "folds": d["folds"]})
    return pd.DataFrame(rows)


def picked_answers(answers: pd.DataFrame, picks: pd.DataFrame, on: list[str]) -> pd.DataFrame:
    """The answers of the runs that ``picks`` chose (one row per fold and values of the other
    columns of ``on``, e.g. a recipe per (bits_A, fold)): ``answers`` restricted to them."""
    return answers.merge(picks[on], on=on)


def planned_family(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The chapter's planned comparisons as one family (``stats.holm_family`` over ``p_t``): rows
    with ``a``, ``b``, ``difference_points``, ``ci_low``, ``ci_high``, ``p_t``, ``p_sign_flip``.
    The exact sign-flip p over six folds stops at 1/32, so in a family of more than one it could
    resolve nothing after Holm: it is reported beside the t test's, which the family adjusts."""
    table = pd.concat(parts, ignore_index=True)
    out = holm_family(table, "memory that survives programming")
    out["reading"] = [_reading(r.difference_points, r.ci_low, r.ci_high, r.p_holm, r.b) for r in out.itertuples()]
    return out


def _reading(est: float, low: float, high: float, p_holm: float, b: str) -> str:
    if not p_holm <= 0.05:
        return "not resolved"
    return f"above {b}" if est > 0 else f"below {b}"


def verdicts_text(cfg: ProgrammedMemoryParams, family: pd.DataFrame, noise_fes: list[str]) -> str:
    """The noise answer in sentences: per front end and placement (first device count), the sigmas
    at which the programmed design is shown above chance (Holm), and where it is shown below the
    float model."""
    d0 = cfg.shared.devices_per_element[0]
    fam = family[(family.get("devices_per_element") == d0)] if "devices_per_element" in family else family.iloc[:0]
    parts = []
    for fe in noise_fes:
        for placement in PLACEMENTS:
            own = fam[(fam["front_end"] == fe) & (fam["placement"] == placement)]
            above = own[(own["b"] == "chance") & (own["reading"] == "above chance")]["sigma_uS"].tolist()
            below = own[(own["b"] == "float S4D") & (own["reading"] == "below float S4D")]["sigma_uS"].tolist()
            parts.append(f"{fe}, A_bar {'on the array' if placement == 'array' else 'digital'}: above chance (Holm) at "
                         + (", ".join(f"{x:g}" for x in above) + " uS" if above else "no sigma")
                         + "; below the float model at " + (", ".join(f"{x:g}" for x in below) + " uS" if below
                                                            else "no sigma"))
    return f"With {d0} devices per element: " + "; ".join(parts) + "."


# --------------------------------------------------------------------------- the chapter's tables


def fold_speakers(cfg: ProgrammedMemoryParams) -> dict[int, tuple[str, str]]:
    """Each fold's (test speaker, validation speaker) of the memory task (``audio.fold_table``)."""
    table = fold_table(cfg.order_data())
    return {int(r.fold): (r.test_speaker, r.val_speaker) for r in table.itertuples()}


def step_rates(cfg: ProgrammedMemoryParams) -> dict[str, float]:
    """Steps per second of each front end."""
    return {f.name: f.data(cfg.order_data()).step_rate for f in cfg.front_ends}


def front_end_table(cfg: ProgrammedMemoryParams, c: CostConstants = CostConstants()) -> pd.DataFrame:
    """One row per front end: step rate, features per step, steps per memory-task sequence, the gap
    in steps, and the front end's energy per step (pJ, ``cost.front_end_J``)."""
    rows = []
    for f in cfg.front_ends:
        d = f.data(cfg.order_data())
        rows.append({"front_end": f.name, "step_rate": d.step_rate, "features": d.features, "steps": d.steps,
                     "gap_steps": cfg.order.gap_s * d.step_rate,
                     "front_end_pJ_per_step": 1e12 * front_end_J(d.n_fft, d.hop_length, d.n_mels or 1, c)})
    return pd.DataFrame(rows)


def _memory(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return rows.groupby(by, sort=False).agg(tau_max_ms=("tau_max_ms", "mean"),
                                            failed_runs=("failure", lambda f: int((f != "").sum()))).reset_index()


def recipe_table(answers: pd.DataFrame, rows: pd.DataFrame, cfg: ProgrammedMemoryParams,
                 speakers: Mapping[int, tuple[str, str]]) -> dict[str, pd.DataFrame]:
    """The recipe comparison at the first front end: ``accuracy`` (one row per design of
    ``recipe_bits_A`` under each recipe, the design with its recipe picked per fold, and the float
    model: accuracy with its interval, slowest mode), ``picks`` (``recipe_pick``) and ``paired``
    (per design, from scratch minus fine-tuned, and the design with the picked recipe minus the
    float model; ``paired_points``)."""
    fe = cfg.front_ends[0].name

    def mine(t: pd.DataFrame) -> pd.DataFrame:
        design_rows = (t["bits_A"].isin(cfg.recipe_bits_A) & (t["a_grid"] == "cartesian")
                       & (t["bits_BC"] == cfg.design_bits))
        return t[(t["front_end"] == fe) & (t["task"] == "order") & (design_rows | t["bits_A"].isna())]

    a, r = mine(answers), mine(rows)
    picks = recipe_pick(r, speakers)
    chosen = picked_answers(a.dropna(subset=["bits_A"]), picks, ["bits_A", "fold", "recipe"])
    chosen["model"] = [design(cfg, int(b)).name + ", recipe picked on validation" for b in chosen["bits_A"]]
    acc = pd.DataFrame([{"model": m} | fold_accuracy(part) for m, part in
                        pd.concat([a, chosen]).groupby("model", sort=False)])
    acc = acc.merge(_memory(r, ["model"]), on="model", how="left")
    paired = pd.concat([paired_points(a.dropna(subset=["bits_A"]), ["bits_A"], "recipe", "scratch", "fine_tune"),
                        *[paired_points(pd.concat([c, a[a["bits_A"].isna()]]), [], "model", m, "float S4D")
                          .assign(bits_A=float(c["bits_A"].iloc[0]))
                          for m, c in chosen.groupby("model")]], ignore_index=True)
    return {"accuracy": acc, "picks": picks, "paired": paired.assign(front_end=fe, section="recipe")}


def pole_survival_table(cfg: ProgrammedMemoryParams) -> pd.DataFrame:
    """``pole_survival`` at every front end, on the grids of its bits sweeps (seed ``memory_seeds[0]``)."""
    parts = []
    for f in cfg.front_ends:
        grids = list(dict.fromkeys((b, g) for sw in cfg.bits_sweeps if sw.front_end == f.name
                                   for g in sw.a_grids for b in sw.bits_A))
        runs = {fold: run_spec(cfg, f.name, "order", sm.FLOAT_S4D, cfg.memory_seeds[0], fold) for fold in cfg.shared.folds}
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
        own = law[(law["front_end"] == fe) & (law["a_grid"] == "cartesian") & (law["bits_BC"] == cfg.design_bits)
                  & ~law["model"].str.contains("scratch")].set_index("bits_A")
        each = ", ".join(f"{b:g} bits: {r.kept_share:.0%} kept, slowest trained mode "
                         f"{own.loc[b, 'tau_max_steps']:.0f} steps (grid {own.loc[b, 'grid_any_steps']:.0f})"
                         for b, r in m.iterrows() if b in own.index)
        parts.append(f"At {fe} the float models' slowest mode lasts {m['float_longest_ms'].iloc[0]:.0f} ms and "
                     f"{m['slow_modes'].iloc[0]:.0f} of their modes reach the {1000 * cfg.order.gap_s:g} ms gap; "
                     f"rounded onto the Cartesian grid, the share of those that keep at least half their time "
                     f"constant, and the QAT model's slowest mode against the grid's slowest pole, are: {each}")
    return ("; ".join(parts) + ". The QAT model's slowest mode sits at the grid's slowest pole: training pushes "
            "its memory to what the grid allows, and the grid (its resolution near the circle, and the cap "
            f"{cfg.design_r_max:g}, at most {-1 / np.log(cfg.design_r_max):.0f} steps) sets it. The float models use "
            "modes far slower than any grid holds, so every grid shortens them. Which of the grid's slow poles the "
            "task needs, the slowest near DC or the slowest at any angle (which turns every step), is what the "
            "law above tests.")


def law_text(law: pd.DataFrame, cfg: ProgrammedMemoryParams) -> str:
    """Which form of the law the measurements follow, where each fails, and where the results
    stand against Q-S5's 'at least 8 bits'."""
    n = len(law)
    real, any_ = int(law["law_real_holds"].sum()), int(law["law_any_holds"].sum())
    miss = law[~law["law_real_holds"]]
    gap = 1000 * cfg.order.gap_s
    fewest = law[law["kept"] & (law["a_grid"] == "cartesian")].groupby("front_end", sort=False)["bits_A"].min()
    return (f"Over {n} designs, the law on the slowest pole near DC (its time constant must reach the {gap:g} ms "
            f"gap) predicts {real} of the {n} outcomes (kept or not) and the law on the slowest pole at any angle "
            f"{any_}. "
            + ("The near-DC form misses " + "; ".join(
                f"{r.model} at {r.front_end} (grid {r.grid_real_ms:.0f} ms against the {gap:g} ms gap, accuracy "
                f"{r.estimate:.1%} [{r.ci_low:.1%}, {r.ci_high:.1%}])" for r in miss.itertuples())
               + ": there the grid's slowest pole is barely longer than the gap, and whether the task is kept at that "
                 "margin is not decided by the law. " if len(miss) else "The near-DC form misses none. ")
            + "The fewest Cartesian bits of A_bar that keep the task above chance: "
            + ", ".join(f"{b:g} at {fe}" for fe, b in fewest.items()) + ". "
            + "Q-S5 (Abreu et al., arXiv 2406.09477) finds that S5's recurrent weights need at least 8 bits (digital, "
              "sMNIST and the Long Range Arena); here the bits A_bar needs depend on the step rate, because a grid's "
              "memory is counted in steps: fewer than 8 at a low step rate, more at the audio rate.")


def bits_figure(law: pd.DataFrame, bits: pd.DataFrame, chance: float) -> Any:
    """Accuracy against A_bar bits, a panel per front end, a line per grid and B/C width."""
    fes = list(dict.fromkeys(law["front_end"]))
    fig, axes = plt.subplots(1, len(fes), figsize=(3.2 * len(fes), 3), sharey=True, squeeze=False)
    for ax, fe in zip(axes[0], fes):
        part = law[law["front_end"] == fe]
        for (g, bc), line in part.groupby(["a_grid", "bits_BC"]):
            line = line.sort_values("bits_A")
            ax.errorbar(line["bits_A"], line["estimate"], yerr=[line["estimate"] - line["ci_low"],
                                                               line["ci_high"] - line["estimate"]],
                        marker="o", capsize=2, label=f"{g}, B/C {bc:g}-bit")
        ref = bits[(bits["front_end"] == fe) & bits["bits_A"].isna()]["estimate"]
        if len(ref):
            ax.axhline(float(ref.iloc[0]), color="0.3", ls=":", lw=1)
        ax.axhline(chance, color="0.4", ls="--", lw=1)
        ax.set(title=fe, xlabel="bits of A_bar")
    axes[0][0].set_ylabel("memory-task accuracy")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    return fig


def bits_needed_table(rows: pd.DataFrame, cfg: ProgrammedMemoryParams, speakers: Mapping[int, tuple[str, str]]
                      ) -> pd.DataFrame:
    """``bits_needed`` per front end (Cartesian designs at ``design_bits``, fine-tuned, and the float
    model): one row per (front end, fold) with ``bits_A``."""
    out = []
    for f in cfg.front_ends:
        r = rows[(rows["front_end"] == f.name) & (rows["task"] == "order") & (
            rows["bits_A"].isna() | ((rows["a_grid"] == "cartesian") & (rows["bits_BC"] == cfg.design_bits)
                                     & (rows["recipe"] == "fine_tune")))]
        out += [{"front_end": f.name, "fold": k, "bits_A": b}
                for k, b in bits_needed(r, speakers, cfg.tolerance_points).items()]
    return pd.DataFrame(out)


def bits_by_front_end(needed: pd.DataFrame) -> dict[str, dict[int, int]]:
    """``bits_needed_table`` as {front end: {fold: bits}}."""
    return {fe: {int(r.fold): int(r.bits_A) for r in part.itertuples()}
            for fe, part in needed.groupby("front_end", sort=False)}


def rate_table(answers: pd.DataFrame, rows: pd.DataFrame, cfg: ProgrammedMemoryParams) -> pd.DataFrame:
    """One row per (task, front end, model): accuracy with its interval and the slowest trained mode
    in ms and steps."""
    acc = pd.DataFrame([{"task": t, "front_end": fe, "model": m} | fold_accuracy(part)
                        for (t, fe, m), part in answers.groupby(["task", "front_end", "model"], sort=False)])
    out = acc.merge(_memory(rows, ["task", "front_end", "model"]), on=["task", "front_end", "model"], how="left")
    out["step_rate"] = out["front_end"].map(step_rates(cfg))
    out["tau_max_steps"] = out["tau_max_ms"] * out["step_rate"] / 1000
    return out


def noise_summary(noise: pd.DataFrame, cfg: ProgrammedMemoryParams) -> pd.DataFrame:
    """Per (front end, placement, devices per element, sigma): ``stats.realisation_summary`` (mean
    accuracy, interval over folds, failure share) and the share of unstable programmings."""
    by = ["front_end", "placement", "devices_per_element", "sigma_uS"]
    ok = noise.dropna(subset=["accuracy"])
    out = realisation_summary(ok, by, _test_clips(cfg))
    unstable = ok.groupby(by)["spectral_radius"].apply(lambda r: float((r >= 1).mean())).rename("unstable_share")
    return out.merge(unstable.reset_index(), on=by)


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
        ["front_end", "devices_per_element", "sigma_uS"])
    at = [theory.loc[(r.front_end, r.devices_per_element, r.sigma_star_uS)] if r.placement == "array" and
          (r.front_end, r.devices_per_element, r.sigma_star_uS) in theory.index else None for r in stars.itertuples()]
    stars["theory_longest_steps_at_star"] = [np.nan if t is None else t["longest_steps"] for t in at]
    stars["theory_longest_ms_at_star"] = [np.nan if t is None else t["longest_ms"] for t in at]
    return stars.drop(columns="model")[["front_end", "placement", "devices_per_element", "models", "working",
                                        "sigma_star_uS", "sigma_fail_uS", "fails_by", "theory_longest_steps_at_star",
                                        "theory_longest_ms_at_star"]]


def noise_figure(noise: pd.DataFrame, cfg: ProgrammedMemoryParams) -> Any:
    """Accuracy against sigma (symlog), a panel per front end, a line per placement and device count."""
    curves = (noise.dropna(subset=["accuracy"]).groupby(["front_end", "placement", "devices_per_element", "sigma_uS"])
              ["accuracy"].mean().reset_index())
    curves["design"] = curves["placement"] + ", " + curves["devices_per_element"].astype(str) + " devices"
    g = sns.relplot(curves, x="sigma_uS", y="accuracy", hue="design", col="front_end", kind="line", marker="o",
                    height=3)
    verified = [x for x in cfg.memory_sigmas_uS if 0 < x < 5]
    for ax in g.axes.flat:
        ax.set_xscale("symlog", linthresh=0.5)
        ax.axhline(1 / cfg.order_data().n_classes, color="0.4", ls="--", lw=1)
        if verified:
            ax.axvspan(min(verified), max(verified), color="0.9", zorder=0)
    g.set_axis_labels("sigma (uS)", "memory-task accuracy")
    return g


def four_class_table(answers: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """One row per model of the four-class task: accuracy with its interval, the accuracy on the XY
    and YX sequences alone (``order_pairs_accuracy``, classes 0 and 1) and the slowest trained mode."""
    acc = accuracy_table(answers, "model")
    pairs = answers[answers["target"] < 2].groupby("model")["correct"].mean().rename("order_pairs_accuracy")
    return acc.merge(pairs.reset_index(), on="model").merge(_memory(rows, ["model"]), on="model", how="left")


def planned_parts(recipe: Mapping[str, pd.DataFrame], answers: pd.DataFrame, main_answers: pd.DataFrame,
                  order_answers: pd.DataFrame, four_answers: pd.DataFrame, noise: pd.DataFrame,
                  cfg: ProgrammedMemoryParams) -> list[pd.DataFrame]:
    """The rows of the chapter's planned family, by section (column ``section``): recipe, step rate
    (chosen design - float per task and front end), noise (``noise_contrasts`` at sigma > 0 with the
    first count of ``devices_per_element``, the paper's; sigma = 0 is the step-rate row, and the
    other count is shown, not tested), four classes."""
    rates = pd.concat([main_answers, order_answers], ignore_index=True)
    step = paired_points(rates, ["task", "front_end"], "model", "chosen design", "float S4D").assign(section="step rate")
    float_answers = answers[(answers["task"] == "order") & answers["bits_A"].isna()]
    planned = noise[(noise["devices_per_element"] == cfg.shared.devices_per_element[0]) & (noise["sigma_uS"] > 0)]
    programmed = noise_contrasts(planned, float_answers, 1 / cfg.order_data().n_classes).assign(section="noise")
    four = pd.concat([paired_points(four_answers, ["front_end"], "model", m, "float S4D")
                      for m in ("2-bit, fixed range (paper)", "chosen design")]).assign(section="four classes")
    return [recipe["paired"], step, programmed, four]


def headline(stars: pd.DataFrame, family: pd.DataFrame, cfg: ProgrammedMemoryParams,
             verified_uS: tuple[float, float] = (0.5, 4.5)) -> str:
    """The chapter's answer in one paragraph: per placement of A_bar, the front end whose measured
    sigma* is largest (first device count), and the largest sigma at which it is shown above
    chance (Holm), against the write-verified range ``verified_uS``."""
    d0 = cfg.shared.devices_per_element[0]
    st = stars[(stars["devices_per_element"] == d0)].dropna(subset=["sigma_star_uS"])
    fam = family[(family["section"] == "noise") & (family["b"] == "chance") & (family["reading"] == "above chance")]
    lo, hi = verified_uS
    parts = []
    for placement in PLACEMENTS:
        own = st[st["placement"] == placement]
        if own.empty:
            continue
        best = own.loc[own["sigma_star_uS"].idxmax()]
        above = fam[(fam["front_end"] == best["front_end"]) & (fam["placement"] == placement)]["sigma_uS"]
        star = float(best["sigma_star_uS"])
        where = ("below the write-verified range" if star < lo else "inside the write-verified range" if star <= hi
                 else "above the write-verified range")
        parts.append(f"with A_bar {'on the array' if placement == 'array' else 'held digitally'}, the best front end "
                     f"is {best['front_end']}: it keeps the memory task within 2 points of its unprogrammed accuracy "
                     f"up to sigma* = {star:g} uS ({where}, {lo:g}-{hi:g} uS) and above chance (Holm) up to "
                     + (f"{above.max():g} uS" if len(above) else "no sigma > 0"))
    return ("**Answer** (" + f"{d0} devices per element): " + "; ".join(parts) + ".") if parts else ""


def conclusion(recipe: Mapping[str, pd.DataFrame], law: pd.DataFrame, rates: pd.DataFrame, cost: pd.DataFrame,
               stars: pd.DataFrame, family: pd.DataFrame, four: pd.DataFrame, cfg: ProgrammedMemoryParams) -> str:
    """The chapter's answer in numbers: the recipe, the bits A_bar needs per step rate, the step
    rate's cost, the noise each placement holds, and the four-class task."""
    fe0 = cfg.front_ends[0].name
    acc = recipe["accuracy"].set_index("model")
    rec = "; ".join(f"{m}: {r.estimate:.1%} [{r.ci_low:.1%}, {r.ci_high:.1%}]" for m, r in acc.iterrows())
    order = rates[rates["task"] == "order"].set_index(["front_end", "model"])
    per_rate = "; ".join(
        f"{fe}: float {order.loc[(fe, 'float S4D'), 'estimate']:.1%}, chosen design "
        f"{order.loc[(fe, 'chosen design'), 'estimate']:.1%}"
        for fe in dict.fromkeys(order.index.get_level_values(0)) if (fe, "chosen design") in order.index)
    energy = "; ".join(f"{r.front_end} ({r.placement}): {r.energy_pJ_per_inference / 1e6:.3g} uJ"
                       for r in cost[cost["task"] == "order"].itertuples())
    d0 = cfg.shared.devices_per_element[0]
    st = stars[stars["devices_per_element"] == d0]
    held = "; ".join(f"{r.front_end}, A_bar {'on the array' if r.placement == 'array' else 'digital'}: sigma* "
                     f"{r.sigma_star_uS:g} uS ({int(r.working)} of {int(r.models)} models work at 0)"
                     for r in st.itertuples())
    f4 = four.set_index("model")
    return (headline(stars, family, cfg) + "\n\n"
            f"**Recipe** (at {fe0}, memory task): {rec}. "
            f"**Step rate** (memory task, accuracy over held-out speakers): {per_rate}. "
            f"**Energy per inference** of the chosen design: {energy}. "
            f"**Under programming noise**, with {d0} devices per element: {held}. "
            + verdicts_text(cfg, family, cfg.noise_front_ends) + " "
            f"**Four classes** at {cfg.four_class_front_end}: "
            + "; ".join(f"{m} {r.estimate:.1%} (XY/YX alone {r.order_pairs_accuracy:.1%})" for m, r in f4.iterrows())
            + ". These findings hold for the designs, grids, step rates and recipes named here, on this task and "
              "these six speakers.")


def memory_figure(theory: pd.DataFrame, stars: pd.DataFrame, rates: pd.DataFrame, cfg: ProgrammedMemoryParams) -> Any:
    """The theory's longest memory (steps, log axis) against sigma per front end (first device
    count), with the chosen design's slowest trained mode (dotted) and each placement's measured
    sigma* (vertical lines): where the dotted line crosses the curve, the theory says the
    design's modes start to leave the circle."""
    d0 = cfg.shared.devices_per_element[0]
    fes = list(dict.fromkeys(theory["front_end"]))
    fig, axes = plt.subplots(1, len(fes), figsize=(3.4 * len(fes), 3), sharey=True, squeeze=False)
    order = rates[(rates["task"] == "order") & (rates["model"] == "chosen design")].set_index("front_end")
    for ax, fe in zip(axes[0], fes):
        th = theory[(theory["front_end"] == fe) & (theory["devices_per_element"] == d0)]
        ax.plot(th["sigma_uS"], th["longest_steps"], color="k", lw=1, label="theory: longest memory")
        if fe in order.index:
            ax.axhline(float(order.loc[fe, "tau_max_steps"]), color="0.3", ls=":", lw=1, label="chosen design's slowest mode")
        for r in stars[(stars["front_end"] == fe) & (stars["devices_per_element"] == d0)].itertuples():
            if pd.notna(r.sigma_star_uS):
                ax.axvline(r.sigma_star_uS, ls="--", lw=1, color="C0" if r.placement == "array" else "C1",
                           label=f"sigma*, A_bar {'on the array' if r.placement == 'array' else 'digital'}")
        ax.set(xscale="log", yscale="log", title=fe, xlabel="sigma (uS)")
    axes[0][0].set_ylabel("memory (steps)")
    axes[0][-1].legend(fontsize=7, loc="upper right")
    return fig
