"""Chapter 'What the state remembers': controls without a state, a task that needs one, and the
memory a programmed array can hold.

* Main task: learned FIR banks (``fir_spec``: float, and fixed-range QAT from the float bank) and
  the spectral baseline (``spectral_answers``) against the S4D models, paired on the same clips.
* Memory task (``MemoryParams.order_data``): the models of ``memory_models`` (``memory_spec``),
  with the float S4D model's schedule chosen per fold on validation speakers without the fold's
  test speaker (``nested_schedule``).
* Programming noise: ``memory_rows`` programs a trained model (an S4D layer on the arrays of
  ``hardware.deploy``, an FIR bank on a delay line, ``hardware.delay_line``) at one sigma, each
  model with its own draws (``seeds.programming_seed``), devices per element a paired variant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from ..hardware.delay_line import delay_line_converter_ranges, delay_line_rows
from ..hardware.deploy import converter_ranges, noise_rows
from ..hardware.devices import DeviceConfig
from ..hardware.margin import longest_memory_ms, sigma_star, weight_noise_std
from ..model.config import QuantConfig
from ..model.fir import QuantFIR
from ..model.spectral import spectral_cached
from ..model.train import Run
from ..seeds import programming_seed
from ..stats.intervals import accuracy_table
from ..stats.paired import holm_family, paired_difference
from ..stats.programmings import chance_failure, paired_contrast, realisation_summary
from ..stats.verdicts import ABOVE, BELOW, NOT_RESOLVED, Rule, table_verdicts, verdict
from .deployed import TrainedModel, failed_row, load_model, software_row
from .params import MemoryModel, MemoryParams, ModelParams, fold_params, global_params, variant
from .runs import comparison_label, control_spec, current_value, float_spec, fold_data, qat_spec
from .selection import choose, nested_folds

__all__ = [
    "FLOAT_S4D",
    "MEMORY_TASK_COLUMNS",
    "chapter_conclusion",
    "family_quant",
    "fir_label",
    "fir_spec",
    "main_task_specs",
    "main_noise_contrasts",
    "main_noise_text",
    "memory_base",
    "memory_pairs",
    "memory_sigma_star",
    "memory_spec",
    "memory_summary_table",
    "memory_task_table",
    "memory_theory",
    "memory_verdict",
    "nested_schedule",
    "noise_answer",
    "noise_cell",
    "noise_summary",
    "pole_precision_uS",
    "memory_rows",
    "ptq_rows",
    "schedule_table",
    "sigma_for_memory_uS",
    "slowest_mode_ms",
    "spectral_answers",
    "spectral_label",
    "state_verdict",
    "ABOVE_CHANCE",
    "AT_CHANCE",
    "NEAR_CHANCE",
    "NEEDS_STATE",
    "NO_STATE",
    "chance_state",
]

#: ``state_verdict``'s answers besides ``stats.NOT_RESOLVED``.
NEEDS_STATE, NO_STATE = "needs a state", "does not need a state"


def fir_label(taps: int, bits: int | None) -> str:
    """The label of an FIR control in the controls table: 'FIR 16 taps' or 'FIR 16 taps, 2-bit'."""
    return f"FIR {taps} taps" + ("" if bits is None else f", {bits}-bit")


def spectral_label(pooling: str) -> str:
    """The label of the spectral baseline with ``pooling`` ('frames' or 'mean')."""
    return f"log-mel + logistic regression ({pooling})"


def fir_spec(cfg: ModelParams, taps: int, bits: int | None, seed: int, fold: int) -> Run:
    """The FIR bank of ``taps`` taps on ``cfg``'s task, trained exactly like the float S4D model
    (``cfg.shared.train``, the fold's choices); with ``bits``, the paper's fixed-range QAT (``fscale``,
    ``qat_train``) fine-tuned from that float bank of the same fold and seed."""
    cfg = fold_params(cfg, fold)
    model = cfg.shared.model.model_copy(update={"ssm": "fir", "taps": taps})
    base = Run(
        fold_data(cfg.shared.data, fold), model, cfg.shared.train.model_copy(update={"seed": seed})
    )
    if bits is None:
        return base
    quant = QuantConfig(bits=bits, fscale=cfg.shared.fscale)
    return Run(
        base.data,
        model.model_copy(update={"quant": quant}),
        cfg.shared.qat_train.model_copy(update={"seed": seed}),
        (base.model, base.train),
    )


def main_task_specs(cfg: MemoryParams) -> dict[str, Callable[[int, int], Run]]:
    """The main task's models of the controls table, by label: the float and ternary
    (``fir_bits``) S4D models and the memoryless control of the baseline chapter, and the FIR
    bank of each of ``fir_taps`` in float and at ``fir_bits``; each a function (seed, fold) -> Run."""
    b = cfg.fir_bits
    specs: dict[str, Callable[[int, int], Run]] = {
        comparison_label(): lambda s, f: float_spec(cfg, s, f),
        comparison_label(b): lambda s, f: qat_spec(cfg, b, "fixed", s, f),
        comparison_label(control="memoryless"): lambda s, f: control_spec(cfg, "memoryless", s, f),
    }
    for taps in cfg.fir_taps:
        for bits in (None, b):
            specs[fir_label(taps, bits)] = lambda s, f, t=taps, q=bits: fir_spec(cfg, t, q, s, f)
    return specs


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


def spectral_answers(
    cfg: MemoryParams, data: ModelParams, pooling: str, seeds: list[int]
) -> pd.DataFrame:
    """Per-clip test answers of the spectral baseline with ``pooling`` on every fold of ``data``'s
    task (the format of ``sweep.clip_answers``). The baseline has no random seed: its answers are
    repeated under each of ``seeds`` so that it pairs with seeded models on (fold, seed, clip)."""
    spectral = cfg.spectral.model_copy(update={"pooling": pooling})
    frames = []
    for fold in data.shared.folds:
        res = spectral_cached(fold_data(data.shared.data, fold), spectral)
        for seed in seeds:
            frames.append(
                pd.DataFrame(
                    {
                        "fold": fold,
                        "seed": seed,
                        "clip": list(res.test_clips),
                        "target": res.test_true,
                        "pred": res.test_pred,
                    }
                )
            )
    out = pd.concat(frames, ignore_index=True)
    return out.assign(correct=(out["target"] == out["pred"]).astype(int))


def slowest_mode_ms(spectral_radius: float, sample_rate: float) -> float:
    """Time constant (ms) of a programmed recurrence's slowest mode from its spectral radius rho:
    -1000 / (f_s ln rho); inf for rho >= 1 (unstable), 0 for rho = 0 (no recurrence)."""
    if spectral_radius >= 1:
        return float("inf")
    return 0.0 if spectral_radius <= 0 else float(-1000.0 / (sample_rate * np.log(spectral_radius)))


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


def memory_rows(
    cfg: MemoryParams,
    model: TrainedModel,
    identity: tuple[Any, ...],
    sigma_uS: float,
    devices_per_element: int,
    sample_rate: float,
    digital_A: bool = False,
) -> list[dict[str, Any]]:
    """``cfg.realisations`` programmings of a trained model at ``sigma_uS`` on the chapter's
    array (its conductance window, converters saturating at ``headroom`` times the ideal peaks on
    training clips, block layout, fast mode), scored on its test clips: one row each with
    ``deploy.realisation_rows``' columns and ``slowest_mode_ms``. An S4D model goes on the
    arrays of ``hardware.deploy``, an FIR bank on a delay line. The draws come from
    ``identity`` (the model: task, family, seed, fold) and sigma; ``devices_per_element`` is a
    variant of the placement and meets the same draws, as does ``digital_A`` (A_bar held digitally,
    ``deploy.deployed_weights``). ``sample_rate``: steps per second of the recurrence."""
    net, splits, failure = model
    if net is None:
        return [failed_row(failure) | {"slowest_mode_ms": float("nan")}]
    window = {
        "g_min_uS": cfg.shared.g_min_uS,
        "g_max_uS": cfg.shared.g_max_uS,
        "g_phys_max_uS": cfg.shared.g_phys_max_uS,
    }
    seed = programming_seed("state memory", identity, sigma_uS)
    if isinstance(net.layers[0], QuantFIR):
        dev = DeviceConfig(
            **window | delay_line_converter_ranges(net, splits.train.x, cfg.shared.headroom),
            sigma_uS=sigma_uS,
        )
        rows = delay_line_rows(net, splits.test, dev, cfg.realisations, seed, devices_per_element)
    else:
        dev = DeviceConfig(**window | converter_ranges(net, splits.train.x, cfg.shared.headroom))
        rows = noise_rows(
            net,
            splits.test,
            sigma_uS,
            dev,
            cfg.realisations,
            seed,
            "block",
            devices_per_element,
            digital_A=digital_A,
        )
    return [
        r | {"slowest_mode_ms": slowest_mode_ms(r["spectral_radius"], sample_rate)} for r in rows
    ]


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
        for r, f in zip(out.get("max_abs_A_bar", np.nan * out["fscale"]), out["fscale"])
    ]
    return out.reindex(columns=MEMORY_TASK_COLUMNS)


def _paper_models(cfg: MemoryParams) -> list[MemoryModel]:
    """The quantized families that follow the paper's recipe: the shared range and cap, one width."""
    return [
        m
        for m in cfg.memory_models
        if m.bits is not None and m.bits_A is None and m.fscale is None and m.r_max is None
    ]


def _chance_cause(
    name: str, memory_ms: float, cfg: MemoryParams, radius: float = float("nan")
) -> str:
    """Why a family of the memory task is at chance: by construction (its features reach back no
    further than the gap, or they are pooled without order), or its memory against the gap."""
    gap_ms, reach = 1000 * cfg.order.gap_s, cfg.order_data().gap_length + 1
    spec = {m.name: m for m in cfg.memory_models}.get(name)
    if spec is not None and spec.ssm == "memoryless":
        return "by construction: each feature sees one sample, and the mean over time ignores the order"
    if spec is not None and spec.ssm == "fir" and spec.taps is not None and spec.taps <= reach:
        return f"by construction: {spec.taps} taps reach back no further than the {gap_ms:g} ms gap"
    if spec is not None and spec.bits is not None and radius == 0:
        return "by construction: every pole rounds to 0 (the grid holds no other point inside the pole cap)"
    if spec is None and name == spectral_label("mean"):
        return "the mean over frames ignores their order (up to the frames that straddle a gap)"
    if np.isfinite(memory_ms) and memory_ms < gap_ms:
        return f"kernel memory {memory_ms:.1f} ms, shorter than the {gap_ms:g} ms gap the state must bridge"
    return (
        f"not explained by the kernel memory ({memory_ms:.1f} ms spans the {gap_ms:g} ms gap); chapter 'Memory "
        "that survives programming' sets the grid's slowest pole near DC against the silence between the words"
    )


def memory_summary_table(
    answers: pd.DataFrame, task_table: pd.DataFrame, cfg: MemoryParams
) -> pd.DataFrame:
    """One row per family of the memory task (column ``model`` of ``answers``, the spectral
    baseline included): ``stats.fold_accuracy`` (estimate, 95% interval over folds), the mean
    ``memory_ms`` and ``tau_max_ms`` of its runs, the median conductance precision its slowest
    pole needs (``precision_uS``), the runs that failed in training and, where the
    interval reaches chance, the cause (``at_chance``). A family whose every run failed has no
    answers: its row carries the failure as its cause."""
    chance = 1 / cfg.order_data().n_classes
    acc = accuracy_table(answers, "model")
    task_table = task_table.reindex(columns=MEMORY_TASK_COLUMNS)
    mem = task_table.groupby("model", sort=False).agg(
        memory_ms=("memory_ms", "mean"),
        tau_max_ms=("tau_max_ms", "mean"),
        max_abs_A_bar=("max_abs_A_bar", "mean"),
        precision_uS=("precision_uS", "median"),
        failed_runs=("failure", lambda f: int((f != "").sum())),
    )
    out = acc.merge(mem.reset_index(), on="model", how="outer")
    failed = task_table[task_table["failure"] != ""].groupby("model")["failure"].first()
    out["at_chance"] = [
        (
            failed.get(r.model, "all runs failed")
            if pd.isna(r.estimate)
            else _chance_cause(r.model, r.memory_ms, cfg, r.max_abs_A_bar)
            if r.ci_low <= chance
            else ""
        )
        for r in out.itertuples()
    ]
    order = [m.name for m in cfg.memory_models] + [x for x in acc["model"] if x not in mem.index]
    return out.set_index("model").reindex(order).reset_index()


def memory_pairs(cfg: MemoryParams) -> list[tuple[str, str]]:
    """The memory task's planned comparisons: every quantized family against the float S4D model,
    and every other design against the paper's narrowest model (``_paper_models``)."""
    quantized = [m.name for m in cfg.memory_models if m.bits is not None]
    pairs = [(q, FLOAT_S4D.name) for q in quantized]
    paper = sorted(_paper_models(cfg), key=lambda m: m.bits or 0)
    if paper:
        pairs += [
            (q, paper[0].name)
            for q in quantized
            if q != paper[0].name and q not in {m.name for m in paper}
        ]
    return pairs


#: A model's accuracy interval wholly above chance.
ABOVE_CHANCE = "above chance"
#: A model's accuracy interval wholly below chance + ``NEAR_CHANCE``.
AT_CHANCE = "at chance"
#: How far above chance (accuracy, fraction) an interval's upper end may reach and still read 'at chance'.
NEAR_CHANCE = 0.05


def chance_state(low: float, high: float, chance: float, near: float = NEAR_CHANCE) -> str:
    """An accuracy interval [``low``, ``high``] against ``chance`` by the one rule (``stats.verdict``):
    ``ABOVE_CHANCE`` (above chance), ``AT_CHANCE`` (below chance + ``near``) or ``NOT_RESOLVED``."""
    if verdict(low, high, None, Rule(chance)) == ABOVE:
        return ABOVE_CHANCE
    return AT_CHANCE if verdict(low, high, None, Rule(chance + near)) == BELOW else NOT_RESOLVED


def memory_verdict(
    summary: pd.DataFrame, paired: pd.DataFrame, cfg: MemoryParams
) -> dict[str, Any]:
    """Whether the paper's fixed-range QAT keeps the memory task (its narrowest model's interval
    against chance, ``chance_state``), whether the float S4D model learns it, which designs keep it, and
    the fewest bits of A_bar among the quantized families above chance; with sentences."""
    chance = 1 / cfg.order_data().n_classes
    s = summary.set_index("model")
    state = {
        m: chance_state(r.ci_low, r.ci_high, chance) if pd.notna(r.estimate) else "failed"
        for m, r in s.iterrows()
    }
    paper = sorted(_paper_models(cfg), key=lambda m: m.bits or 0)
    name = paper[0].name if paper else ""
    kept = [
        m for m in cfg.memory_models if m.bits is not None and state.get(m.name) == ABOVE_CHANCE
    ]
    bits_A = min(((m.bits_A or m.bits) for m in kept), default=None)
    fmt = lambda m: (
        f"{s.loc[m, 'estimate']:.1%} [{s.loc[m, 'ci_low']:.1%}, {s.loc[m, 'ci_high']:.1%}]"
    )
    text = (
        f"The float S4D model is {state.get(FLOAT_S4D.name, 'not run')} on the memory task "
        f"({fmt(FLOAT_S4D.name) if FLOAT_S4D.name in s.index else 'no runs'}). "
    )
    if name:
        m0 = paper[0]
        text += (
            f"The paper's method, fixed-range QAT at {m0.bits} bits with f_scale = {cfg.shared.fscale:g} shared by "
            f"A_bar, B_bar and C and the pole cap {cfg.shared.r_max:g}, is {state[name]} ({fmt(name)}). "
        )
    text += (
        "Quantized families above chance: "
        + (", ".join(f"{m.name} ({fmt(m.name)})" for m in kept) or "none")
        + ". "
    )
    need = s["precision_uS"].dropna() if "precision_uS" in s else pd.Series(dtype=float)
    if len(need):
        text += (
            "To keep its slowest mode's time constant within 50%, a device must hold that pole's "
            "parts to within " + ", ".join(f"{v:.2g} uS ({m})" for m, v in need.items()) + ". "
        )
    if bits_A is not None:
        text += f"The fewest bits of A_bar among them is {bits_A}. "
    text += _scope(cfg) + " "
    text += (
        "For comparison (digital, no programming noise): Q-S5 (Abreu et al., arXiv 2406.09477) finds that "
        "S5's recurrent weights need at least 8 bits on sMNIST and the Long Range Arena while the other "
        "parameters go lower, and a study of small S4D models for edge AI (arXiv 2506.12480) finds the state "
        "matrix the most sensitive part and proposes heterogeneous precision."
    )
    return {
        "paper_model": name,
        "paper_state": state.get(name, ""),
        "float_state": state.get(FLOAT_S4D.name, ""),
        "kept": ", ".join(m.name for m in kept),
        "fewest_bits_A": bits_A,
        "text": text,
    }


def _scope(cfg: MemoryParams) -> str:
    """What the memory task's families tried, and so how far a verdict on them reaches."""
    quantized = [m for m in cfg.memory_models if m.bits is not None]
    if not quantized:
        return ""
    top = max((m.bits_A or m.bits) for m in quantized)  # type: ignore[type-var]
    rate = cfg.order_data().step_rate
    return (
        f"These families hold A_bar on grids of at most {top} bits, step the recurrence {rate:g} times per second "
        "and fine-tune their QAT from the float model: where none keeps the task, what is shown is that A_bar "
        f"needs more than {top} bits at {rate:g} steps/s with that recipe, not that quantization loses the "
        "memory. Chapter 'Memory that survives programming' tries finer grids, lower step rates and QAT from "
        "the start."
    )


def state_verdict(
    answers: pd.DataFrame,
    paired: pd.DataFrame,
    s4d: str,
    controls: list[str],
    fir_taps: list[int],
    sample_rate: float,
    tolerance_points: float = 2.0,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Does the main task need a state? Two questions per stateless control c of ``controls``:

    * is the S4D model ``s4d`` better? Its planned comparison in ``paired`` (``paired_table``
      rows a = ``s4d``, b = c, Holm over the family): ``stats.verdict`` ``ABOVE`` (p_holm <= ``alpha``);
    * is the control no worse than the S4D model by more than ``tolerance_points`` (it matches or
      beats it)? The lower end of the interval of c - s4d above -tolerance, with simultaneous
      intervals over the k controls (Bonferroni: confidence 1 - alpha / k, ``stats.paired_difference``
      on ``answers``, column ``label``), so that the k decisions together keep the error rate alpha.

    Verdict: 'does not need a state' if some control matches or beats the S4D model, 'needs a
    state' if the S4D model beats every control, else 'not resolved'. Returns the verdict, the
    shortest matching control, one row per control and a paragraph."""
    if not controls:
        raise ValueError("give the stateless controls to compare with")
    rows = paired[paired["a"] == s4d].set_index("b")
    if missing := [c for c in controls if c not in rows.index]:
        raise ValueError(f"no planned comparison of {s4d!r} with {missing}")
    level = 1 - alpha / len(controls)
    per = []
    for c in controls:
        d = paired_difference(
            answers[answers["label"] == c], answers[answers["label"] == s4d], level
        )
        r = rows.loc[c]
        matches = verdict(d["ci_low"], d["ci_high"], None, Rule(-tolerance_points)) == ABOVE
        better = verdict(r["ci_low"], r["ci_high"], r["p_holm"], Rule(alpha=alpha)) == ABOVE
        per.append(
            {
                "control": c,
                "control_minus_s4d_points": d["difference_points"],
                "simultaneous_low": d["ci_low"],
                "simultaneous_high": d["ci_high"],
                "level": level,
                "matches": matches,
                "s4d_better": better,
                "p_holm": float(r["p_holm"]),
            }
        )
    table = pd.DataFrame(per)
    rivals = table[table["matches"]]["control"].tolist()
    answer = NO_STATE if rivals else NEEDS_STATE if table["s4d_better"].all() else NOT_RESOLVED
    ms = {fir_label(t, None): 1000 * t / sample_rate for t in fir_taps}
    shortest = min(rivals, key=lambda c: ms.get(c, np.inf)) if rivals else ""
    each = "; ".join(
        f"{r.control}: {r.control_minus_s4d_points:+.1f} points [{r.simultaneous_low:+.1f}, "
        f"{r.simultaneous_high:+.1f}]"
        for r in table.itertuples()
    )
    text = (
        f"Each stateless control minus the float S4D model, paired on the same clips, with simultaneous "
        f"{level:.1%} intervals over the {len(controls)} controls: {each}. "
    )
    if answer == NO_STATE:
        what = f"{shortest} ({ms[shortest]:g} ms of taps)" if shortest in ms else shortest
        text += (
            f"A control without a state, {what}, is no worse than the S4D model by more than "
            f"{tolerance_points:g} points: the main task does not test a state-space model. It tests a "
            "filter bank, and the paper's accuracy claims on such a task say how well the array filters, "
            "not how well it remembers."
        )
    elif answer == NEEDS_STATE:
        text += "The S4D model beats every control without a state (Holm): on the main task its memory matters."
    else:
        text += (
            f"Not resolved: no control is shown within {tolerance_points:g} points of the S4D model or better, "
            "and the S4D model is not shown better than every one (Holm). "
            + (
                f"The S4D model is shown better than: {', '.join(table[table['s4d_better']]['control'])}. "
                if table["s4d_better"].any()
                else "The S4D model is shown better than none of them. "
            )
            + "Six held-out speakers do not decide whether the recurrence adds anything to a short filter."
        )
    return {"verdict": answer, "shortest_rival": shortest, "table": table, "text": text}


def noise_cell(
    cfg: MemoryParams,
    task: str,
    label: str,
    spec_of: Callable[[int, int], Run],
    cell: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """The programmings of one model family at ``cell``'s ``sigma_uS`` and ``devices_per_element``
    on every (seed, fold) of ``memory_seeds`` x ``folds`` (``memory_rows``), each row with its
    ``seed`` and ``fold``. ``task`` ('main' or 'order') and ``label`` name the family in the draws'
    identity; ``spec_of(seed, fold)`` builds its run."""
    data = cfg.order_data() if task == "order" else cfg.shared.data
    rows = []
    for fold in cfg.shared.folds:
        for seed in cfg.memory_seeds:
            model = load_model(spec_of(seed, fold), data.n_classes)
            rows += [
                r | {"seed": seed, "fold": fold}
                for r in memory_rows(
                    cfg,
                    model,
                    (task, label, seed, fold),
                    cell["sigma_uS"],
                    cell["devices_per_element"],
                    data.sample_rate,
                )
            ]
    return rows


def memory_theory(cfg: MemoryParams, fscales: list[float]) -> pd.DataFrame:
    """The longest memory (ms, ``margin.longest_memory_ms`` at ``unstable_share_limit``) one complex or one real
    mode can keep at each sigma > 0 of ``sigmas_uS``, per range ``fscales`` and device count,
    on the chapter's window and the memory task's sample rate; with the entry error ``s``."""
    rate, rows = cfg.order_data().sample_rate, []
    for f in fscales:
        for d in cfg.shared.devices_per_element:
            for x in (x for x in cfg.sigmas_uS if x > 0):
                s = weight_noise_std(x, f, cfg.shared.g_min_uS, cfg.shared.g_max_uS, d)
                rows.append(
                    {
                        "fscale": f,
                        "devices_per_element": d,
                        "sigma_uS": x,
                        "s": s,
                        "longest_complex_ms": longest_memory_ms(s, rate, cfg.unstable_share_limit),
                        "longest_real_ms": longest_memory_ms(
                            s, rate, cfg.unstable_share_limit, kind="real"
                        ),
                    }
                )
    return pd.DataFrame(rows)


def noise_summary(
    noise: pd.DataFrame,
    n_clips: int,
    by: tuple[str, ...] = ("model", "devices_per_element", "sigma_uS"),
) -> pd.DataFrame:
    """Per group of ``by`` (default: model, devices per element, sigma): ``stats.realisation_summary``
    of the programmings (mean accuracy, 95% interval over folds, failure share), the share of
    unstable programmings and the median slowest-mode time constant (ms) of the stable ones."""
    by = list(by)
    ok = noise.dropna(subset=["accuracy"])
    out = realisation_summary(ok, by, n_clips)
    extra = ok.groupby(by).agg(
        unstable_share=("spectral_radius", lambda r: float((r >= 1).mean())),
        slowest_mode_ms=(
            "slowest_mode_ms",
            lambda t: float(np.median(t[np.isfinite(t)])) if np.isfinite(t).any() else float("nan"),
        ),
    )
    return out.merge(extra.reset_index(), on=by)


def memory_sigma_star(noise: pd.DataFrame, n_clips: int, chance: float) -> pd.DataFrame:
    """``margin.sigma_star`` per (model, devices per element) over the models that work at sigma = 0
    (mean accuracy there significantly above ``chance``); the others get no sigma* (``works``
    False): a model at chance has no accuracy to lose."""
    at0 = noise[noise["sigma_uS"] == 0].groupby(["model", "seed", "fold"])["accuracy"].mean()
    works = (
        at0.apply(lambda a: not chance_failure(a, n_clips, chance)).rename("works").reset_index()
    )
    ok = noise.merge(works[works["works"]][["model", "seed", "fold"]], on=["model", "seed", "fold"])
    stars = (
        sigma_star(ok, ["model", "devices_per_element"], n_clips)
        if len(ok)
        else pd.DataFrame(
            columns=["model", "devices_per_element", "sigma_star_uS", "sigma_fail_uS", "fails_by"]
        )
    )
    counts = works.groupby("model")["works"].agg(models="size", working="sum").reset_index()
    return counts.merge(stars, on="model", how="left")


def sigma_for_memory_uS(
    tau_ms: float, fscale: float, cfg: MemoryParams, devices_per_element: int
) -> float:
    """The largest programming noise sigma (uS) at which one complex mode of time constant
    ``tau_ms`` can still be held (``margin.longest_memory_ms`` >= tau_ms at ``unstable_share_limit``) on the
    chapter's window with range ``fscale``: the inverse of ``memory_theory``'s curve."""
    if tau_ms <= 0:
        return float("inf")
    rate = cfg.order_data().sample_rate
    per_uS = weight_noise_std(
        1.0, fscale, cfg.shared.g_min_uS, cfg.shared.g_max_uS, devices_per_element
    )  # s is linear in sigma
    return float(
        brentq(
            lambda x: longest_memory_ms(x * per_uS, rate, cfg.unstable_share_limit) - tau_ms,
            1e-6,
            1e4,
            xtol=1e-6,
        )
    )


def noise_answer(
    at_noise: pd.DataFrame,
    theory: pd.DataFrame,
    summary: pd.DataFrame,
    cfg: MemoryParams,
    levels: tuple[float, ...] = (5.0, 10.0, 15.0),
) -> dict[str, Any]:
    """Item 4's answer in numbers, for the first device count: at each of ``levels`` (uS) in the
    sweep, the theory's longest memory of one complex mode at each range of the programmed
    families, and each family's share of unstable programmings beside its slowest software mode
    (``summary``'s ``tau_max_ms``: a family whose modes are slower than the theory allows is expected
    to fail); the noise at which the memory task's gap can still be bridged; and the families whose
    memory-task accuracy stays above chance (interval over folds above it) at the largest level."""
    chance, d0 = 1 / cfg.order_data().n_classes, cfg.shared.devices_per_element[0]
    swept = [x for x in levels if x in cfg.sigmas_uS] or [max(cfg.sigmas_uS)]
    th = theory[theory["devices_per_element"] == d0].set_index(["fscale", "sigma_uS"])[
        "longest_complex_ms"
    ]
    ours = at_noise[at_noise["devices_per_element"] == d0]
    tau = summary.set_index("model")["tau_max_ms"]
    fscales = sorted(set(theory["fscale"]))
    parts = []
    for x in swept:
        limits = ", ".join(
            f"{th[(f, x)]:.1f} ms at f_scale {f:g}" for f in fscales if (f, x) in th.index
        )
        at = ours[ours["sigma_uS"] == x]
        shares = ", ".join(
            f"{r.model} (slowest mode {tau.get(r.model, np.nan):.3g} ms): {r.unstable_share:.0%}"
            for r in at.itertuples()
        )
        parts.append(
            f"at {x:g} uS the theory keeps at most {limits}; unstable programmings: {shares}"
        )
    gap_ms = 1000 * cfg.order.gap_s
    bridge = ", ".join(
        f"{sigma_for_memory_uS(gap_ms, f, cfg, d0):.2g} uS at f_scale {f:g}" for f in fscales
    )
    top = ours[ours["sigma_uS"] == swept[-1]]
    above = top[[w == ABOVE for w in table_verdicts(top, p=None, rule=Rule(chance))]]
    text = (
        f"With {d0} devices per element, " + "; ".join(parts) + ". "
        f"Bridging the {gap_ms:g} ms gap with one complex mode needs sigma at most {bridge}. "
        + (
            f"At {swept[-1]:g} uS, above chance on the memory task: "
            + ", ".join(
                f"{r.model} ({r.mean:.1%} [{r.ci_low:.1%}, {r.ci_high:.1%}])"
                for r in above.itertuples()
            )
            if len(above)
            else f"At {swept[-1]:g} uS none of this chapter's programmed designs keeps the memory task "
            "above chance (the next chapter programs others: lower step rates, A_bar held "
            "digitally)"
        )
        + "."
    )
    first = fscales[0] if fscales else cfg.shared.fscale
    return {
        "sigma_uS": swept[-1],
        "above_chance": ", ".join(above["model"]),
        "text": text,
        "bridge_uS": bridge,
        "theory_ms": "; ".join(
            f"{x:g}: {th[(first, x)]:.2f}" for x in swept if (first, x) in th.index
        ),
    }


def main_noise_contrasts(main: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Each ternary FIR bank minus the ternary S4D model ``reference`` on the main task, per sigma
    and device count (``stats.paired_contrast``, paired on fold; every model its own draws), one
    family with Holm's correction (``stats.holm_family``). Programmings of a model that failed in
    training (accuracy NaN) leave out their fold for both sides."""
    key = ["sigma_uS", "devices_per_element", "seed", "fold", "realisation"]
    ok = main.dropna(subset=["accuracy"])
    parts = []
    for a in (x for x in ok["label"].unique() if x != reference):
        both = ok[ok["label"] == a][key].merge(ok[ok["label"] == reference][key], on=key)
        rows = ok[ok["label"].isin([a, reference])].merge(both, on=key)
        parts.append(
            paired_contrast(rows, "label", a, reference, ["sigma_uS", "devices_per_element"])
        )
    return holm_family(
        pd.concat(parts, ignore_index=True), "ternary FIR banks against the ternary S4D model"
    )


def main_noise_text(contrasts: pd.DataFrame, reference: str) -> str:
    """The FIR-on-array comparison in sentences: per FIR bank, its difference at the largest sigma."""
    top = contrasts[contrasts["sigma_uS"] == contrasts["sigma_uS"].max()]
    return (
        f"At {top['sigma_uS'].iloc[0]:g} uS, each ternary FIR bank minus the {reference}: "
        + "; ".join(
            f"{r.a} {r.difference_points:+.1f} points [{r.ci_low:+.1f}, {r.ci_high:+.1f}], "
            f"{r.verdict} (p_holm {r.p_holm:.3g})"
            for r in top.itertuples()
        )
        + "."
    )


def chapter_conclusion(
    state: Mapping[str, Any], memory: Mapping[str, Any], noise: Mapping[str, Any]
) -> str:
    """The chapter's closing paragraph from its three verdicts (``state_verdict``,
    ``memory_verdict``, ``noise_answer``)."""
    main = {
        NO_STATE: "The main task does not need a state: the paper's accuracy figures on it, "
        "in software and on the array, measure a filter bank.",
        NEEDS_STATE: "The main task needs a state: the S4D model beats every control without one.",
        NOT_RESOLVED: "Whether the main task needs a state is not resolved at this power.",
    }[state["verdict"]]
    paper = {
        ABOVE_CHANCE: "keeps the memory task above chance",
        AT_CHANCE: "loses the memory task (at chance)",
        NOT_RESOLVED: "is not resolved against chance on the memory task",
        "failed": "failed in training on the memory task",
    }.get(memory["paper_state"], "was not run")
    return (
        f"{main} On the task that needs memory, the paper's method {paper}"
        + (
            f"; designs that keep it: {memory['kept']}."
            if memory["kept"]
            else "; none of the quantized designs tried here keeps it (A_bar on at most the grids of memory_models, "
            "at the audio rate, QAT fine-tuned from the float model: the next chapter goes further)."
        )
        + f" Under programming noise: {noise['text']}"
    )
