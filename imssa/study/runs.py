"""The training runs of the book, built from a chapter's parameters: float models, their
controls, and fixed- or dynamic-range QAT fine-tuned from them, one per (fold, seed)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch
from torch import Tensor

from ..data.config import DataConfig
from ..model.cache import Run, restore_model, train_or_load
from ..model.config import QuantConfig
from ..model.memory import describe_memory, mode_table
from ..model.poles import complex_grid
from .paper import PAPER
from .params import BaselineParams, ModelParams, QATParams, fold_params, global_params, variant

__all__ = [
    "REFERENCE_SPECS",
    "Specs",
    "float_curve_specs",
    "official_specs",
    "qat_curve_specs",
    "qat_detail_spec",
    "stage_runs",
    "range_cost_text",
    "range_memory_text",
    "accuracy_by_bits",
    "paper_comparison",
    "pole_grid",
    "qat_sweep_specs",
    "reference_specs",
    "used_modes",
    "used_poles",
    "comparison_specs",
    "comparison_label",
    "qat_label",
    "control_spec",
    "current_value",
    "float_finetune_spec",
    "float_spec",
    "fold_data",
    "official",
    "one_at_a_time",
    "qat_spec",
]


#: a sweep's runs: parallel lists of labels (one dict per run) and run specifications
Specs = tuple[list[dict[str, Any]], list[Run]]


def fold_data(data: DataConfig, fold: int) -> DataConfig:
    """The task of one fold: ``data`` with its ``fold`` set (leave-one-speaker-out), else
    ``data``."""
    if data.split != "loso":
        if fold != 0:
            raise ValueError(f"split {data.split!r} has one fold (0), got fold {fold}")
        return data
    return data.model_copy(update={"fold": fold})


def one_at_a_time(
    cfg: ModelParams, grid: dict[str, list[Any]]
) -> list[tuple[str, Any, ModelParams]]:
    """The points of a one-at-a-time sweep around ``cfg``: for each key path of ``grid`` (e.g.
    ``data.sample_rate``) and each of its values, plus the value ``cfg`` already has, the
    parameters with that one value changed. The sweep is around the file's values on every fold:
    ``cfg``'s ``fold_choices`` are left out. Returns (path, value, parameters) triples."""
    cfg = global_params(cfg)
    points = []
    for path, values in grid.items():
        current = current_value(cfg, path)
        for value in sorted(set(values) | {current}):
            points.append((path, value, variant(cfg, path, value)))
    return points


def current_value(cfg: ModelParams, path: str) -> Any:
    """The value at a dotted key path of the shared settings (``train.lr``)."""
    obj: Any = cfg.shared
    for key in path.split("."):
        obj = getattr(obj, key)
    return obj


def float_spec(cfg: ModelParams, seed: int, fold: int) -> Run:
    """The float model of (``fold``, ``seed``), with that fold's choices (``params.fold_params``):
    the baseline chapter's run, reused from the cache."""
    cfg = fold_params(cfg, fold)
    return Run(
        fold_data(cfg.shared.data, fold),
        cfg.shared.model,
        cfg.shared.train.model_copy(update={"seed": seed}),
    )


def control_spec(cfg: ModelParams, ssm: str, seed: int, fold: int) -> Run:
    """A control trained exactly like the float model: ``ssm`` = 'memoryless' (A_bar = 0) or
    'frozen' (S4D never trained), or 's4d' (the float model itself)."""
    cfg = fold_params(cfg, fold)
    return Run(
        fold_data(cfg.shared.data, fold),
        cfg.shared.model.model_copy(update={"ssm": ssm}),
        cfg.shared.train.model_copy(update={"seed": seed}),
    )


def qat_spec(
    cfg: ModelParams, bits: int, range_mode: str, seed: int, fold: int, fscale: float | None = None
) -> Run:
    """QAT of the chapter's model at ``bits`` / ``range_mode`` (``fscale`` defaults to the
    chapter's; pole cap ``cfg.shared.r_max``; the adaptive ranges' scale rule
    ``cfg.shared.adaptive_scale_rule``), from the float run of the same fold and seed
    (``cfg.shared.init == 'float'``) or from scratch. The fold's choices (``params.fold_params``)
    apply to both."""
    cfg = fold_params(cfg, fold)
    quant = QuantConfig(
        bits=bits,
        range_mode=range_mode,
        fscale=cfg.shared.fscale if fscale is None else fscale,
        r_max=cfg.shared.r_max,
        scale_rule=cfg.shared.scale_rule(range_mode),
    )
    model = cfg.shared.model.model_copy(update={"quant": quant})
    base = float_spec(cfg, seed, fold)
    train = cfg.shared.qat_train.model_copy(update={"seed": seed})
    return Run(
        base.data, model, train, None if cfg.shared.init == "scratch" else (base.model, base.train)
    )


def margin_spec(cfg: ModelParams, bits: int, r_max: float, seed: int, fold: int) -> Run:
    """Fixed-range QAT at ``bits`` with pole cap ``r_max`` and fscale = r_max, so that every grid
    holds a pole on the real axis at the cap (the stability-margin study), from the float run of
    the same fold and seed."""
    return qat_spec(variant(cfg, "r_max", r_max), bits, "fixed", seed, fold, fscale=r_max)


def float_finetune_spec(cfg: ModelParams, seed: int, fold: int) -> Run:
    """Control for the QAT runs: the float model fine-tuned with ``qat_train`` but no quantization,
    so that both have seen the same number of training epochs."""
    cfg = fold_params(cfg, fold)
    base = float_spec(cfg, seed, fold)
    return Run(
        base.data,
        cfg.shared.model,
        cfg.shared.qat_train.model_copy(update={"seed": seed}),
        (base.model, base.train),
    )


def official(cfg: ModelParams) -> ModelParams:
    """``cfg`` on FSDD's official split (recordings 0-4 of every speaker tested): the secondary
    column."""
    values = cfg.model_dump()
    values["shared"]["data"] |= {"split": "official", "fold": 0}
    values["shared"] |= {"folds": [0], "fold_choices": {}}
    return type(cfg).model_validate(values)


def comparison_label(bits: int | None = None, control: str | None = None) -> str:
    """The label of a model of the controls table: the float S4D model (no argument), fixed-range
    QAT at ``bits`` ('2-bit S4D, fixed range'), or a ``control`` ('memoryless control')."""
    if bits is not None and control is not None:
        raise ValueError("a control has no bit width")
    return (
        "float S4D"
        if bits is None and control is None
        else (f"{control} control" if control is not None else f"{bits}-bit S4D, fixed range")
    )


def qat_label(bits: int, range_mode: str) -> str:
    """The label of a QAT model in the QAT chapter's tables (``qat_summary``): '2-bit fixed'."""
    return f"{bits}-bit {range_mode}"


def comparison_specs(
    cfg: ModelParams, controls: list[str], qat_bits: list[int], seeds: list[int] | None = None
) -> tuple[list[dict[str, Any]], list[Run]]:
    """The runs of the controls table on every fold of ``cfg`` and every seed (default
    ``cfg.shared.seeds``): the float S4D model, each control (``control_spec``), and fixed-range QAT
    at each of ``qat_bits``.

    Returns parallel lists of labels (``label``, ``model`` in {s4d, memoryless, frozen}, ``bits``
    (None for float), ``range_mode``, ``seed``) and runs, for
    ``sweep.train_sweep``/``clip_answers``.
    """
    models: list[tuple[dict[str, Any], Any]] = [
        (
            {"label": comparison_label(), "model": "s4d", "bits": None, "range_mode": ""},
            lambda s, f: float_spec(cfg, s, f),
        )
    ]
    for b in qat_bits:
        models.append(
            (
                {"label": comparison_label(b), "model": "s4d", "bits": b, "range_mode": "fixed"},
                lambda s, f, b=b: qat_spec(cfg, b, "fixed", s, f),
            )
        )
    for c in controls:
        models.append(
            (
                {"label": comparison_label(control=c), "model": c, "bits": None, "range_mode": ""},
                lambda s, f, c=c: control_spec(cfg, c, s, f),
            )
        )
    points, runs = [], []
    for labels, make in models:
        for fold in cfg.shared.folds:
            for seed in seeds if seeds is not None else cfg.shared.seeds:
                points.append(labels | {"seed": seed})
                runs.append(make(seed, fold))
    return points, runs


def float_curve_specs(cfg: ModelParams) -> Specs:
    """The float baseline chapter's learning curves: the float model with the parameter file's
    global values (``global_params``, no ``fold_choices``) on every fold and selection seed, in
    that order; the labels are empty (``sweep.learning_curves`` adds fold and seed)."""
    runs = [
        float_spec(global_params(cfg), s, f)
        for f in cfg.shared.folds
        for s in cfg.shared.selection_seeds
    ]
    return [{} for _ in runs], runs


def official_specs(cfg: BaselineParams) -> Specs:
    """The float baseline chapter's secondary column: the float model and, if ``cfg.controls``
    has it, the memoryless control on FSDD's official split (``official``), one run per seed of
    ``cfg.official_seeds`` (none when that is empty); ``comparison_specs``' labels."""
    memoryless = [c for c in cfg.controls if c == "memoryless"]
    return comparison_specs(official(cfg), memoryless, [], cfg.official_seeds)


# The fixed-range QAT chapter: its sweep and reference runs, the grid its poles can take, and its
# numbers beside the paper's.


def qat_sweep_specs(cfg: ModelParams) -> tuple[list[dict[str, Any]], list[Run]]:
    """The QAT sweep of ``cfg``: one point (``bits``, ``range_mode``, ``seed``) and one run
    (``qat_spec``) per bit width, range mode, fold and seed, in that order."""
    order = [
        (b, m, f, s)
        for b in cfg.bits
        for m in cfg.range_modes
        for f in cfg.shared.folds
        for s in cfg.shared.seeds
    ]
    points = [{"bits": b, "range_mode": m, "seed": s} for b, m, f, s in order]
    return points, [qat_spec(cfg, b, m, s, f) for b, m, f, s in order]


#: The float references of the QAT chapter, by label: trained once, and fine-tuned like QAT.
REFERENCE_SPECS = {"float": float_spec, "float, fine-tuned like QAT": float_finetune_spec}


def reference_specs(cfg: ModelParams) -> tuple[list[dict[str, Any]], list[Run]]:
    """The float references of ``REFERENCE_SPECS``: one point (``label``) and one run per
    reference, fold and seed, in that order."""
    order = [
        (label, make, f, s)
        for label, make in REFERENCE_SPECS.items()
        for f in cfg.shared.folds
        for s in cfg.shared.seeds
    ]
    return [{"label": label} for label, *_ in order], [make(cfg, s, f) for _, make, f, s in order]


def qat_curve_specs(cfg: QATParams) -> Specs:
    """The QAT chapter's learning curves: fixed-range QAT at ``cfg.selection_bits`` (``qat_spec``,
    with each fold's choices) on every fold and selection seed, in that order; empty labels."""
    runs = [
        qat_spec(cfg, cfg.selection_bits, "fixed", s, f)
        for f in cfg.shared.folds
        for s in cfg.shared.selection_seeds
    ]
    return [{} for _ in runs], runs


def qat_detail_spec(cfg: QATParams) -> Run:
    """The QAT chapter's model shown in detail: fixed-range QAT at ``cfg.detail_bits``, first fold
    and seed."""
    return qat_spec(cfg, cfg.detail_bits, "fixed", cfg.shared.seeds[0], cfg.shared.folds[0])


def stage_runs(points: list[dict[str, Any]], runs: list[Run]) -> dict[tuple[Any, ...], Run]:
    """A sweep's ``points`` and ``runs`` (parallel lists) as a stage of a chapter's plan
    (``plans.ChapterPlan.runs``): {(the point's values..., the run's fold, its seed): run}, in
    order. Two runs under one key are a ValueError: the stage would lose one."""
    if len(points) != len(runs):
        raise ValueError(f"{len(points)} points but {len(runs)} runs")
    stage = {(*p.values(), r.data.fold, r.train.seed): r for p, r in zip(points, runs, strict=True)}
    if len(stage) != len(runs):
        raise ValueError(f"{len(runs)} runs but {len(stage)} distinct keys: label them apart")
    return stage


def pole_grid(bits: list[int], fscales: list[float], r_cap: float) -> pd.DataFrame:
    """Every value a quantized A_bar can take on the fixed grid (``poles.complex_grid``), one row
    per value, bit width of ``bits`` and range of ``fscales``: its real and imaginary parts
    (``Re``, ``Im``) and whether its modulus is at most the pole cap ``r_cap`` (``inside cap``)."""
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "bits": b,
                    "fscale": f,
                    "Re": z.real.numpy(),
                    "Im": z.imag.numpy(),
                    "inside cap": (z.abs() <= r_cap).numpy(),
                }
            )
            for b in bits
            for f in fscales
            for z in [complex_grid(b, f)]
        ]
    )


def used_poles(A_bar: Tensor) -> pd.DataFrame:
    """The grid points a quantized model uses: one row per distinct value of ``A_bar`` (complex,
    any shape; parts rounded to 6 decimals, -0 read as 0), its parts ``Re`` and ``Im`` and the
    number of ``modes`` on it."""
    A = A_bar.flatten()
    used = (
        pd.DataFrame({"Re": A.real.numpy(), "Im": A.imag.numpy()}).round(6) + 0.0
    ).value_counts()
    return used.rename("modes").reset_index()


def accuracy_by_bits(summary: pd.DataFrame) -> pd.DataFrame:
    """The QAT rows of an accuracy ``summary`` (labels ``qat_label``), with their bit width
    (``bits``) and range mode (``range_mode``) read back from the label."""
    acc = summary[summary["label"].str.contains("-bit")].copy()
    acc[["bits", "range_mode"]] = acc["label"].str.extract(r"(\d+)-bit (\w+)").astype({0: int})
    return acc


def paper_comparison(summary: pd.DataFrame, label: str) -> pd.DataFrame:
    """Our QAT model ``label`` and our float model (accuracy with its 95% interval, fractions, from
    the accuracy ``summary``) beside the paper's 2-bit software accuracy on Heidelberg Digits, a
    reference value without an interval."""
    ours = summary.set_index("label")
    fl = ours.loc["float"]
    return pd.DataFrame(
        [
            {
                "model": f"{label}-range QAT, FSDD 0 vs 1, speakers held out",
                "accuracy": ours.loc[label, "estimate"],
                "ci_low": ours.loc[label, "ci_low"],
                "ci_high": ours.loc[label, "ci_high"],
                "source": "this book",
            },
            {
                "model": "float, FSDD 0 vs 1, speakers held out",
                "accuracy": fl["estimate"],
                "ci_low": fl["ci_low"],
                "ci_high": fl["ci_high"],
                "source": "this book",
            },
            {
                "model": "2-bit fixed-range QAT, Heidelberg Digits",
                "accuracy": PAPER["software_2bit_accuracy"][0],
                "ci_low": None,
                "ci_high": None,
                "source": "paper (reference value)",
            },
        ]
    )


def range_cost_text(cost: pd.DataFrame) -> str:
    """Markdown on the cost of the fixed range: per bit width (``cost``: fixed minus dynamic range,
    one row per bit width, ``a`` its label) the paired difference in points with its interval and
    verdict, and how the family of comparisons is judged."""
    return (
        "Fixed against dynamic range: "
        + "; ".join(
            f"{r.a.split()[0]}: {r.difference_points:+.1f} points "
            f"[{r.ci_low:+.1f}, {r.ci_high:+.1f}], {r.verdict}"
            for r in cost.itertuples()
        )
        + ". "
        "The comparisons at every bit width are one family: the verdicts follow Holm's adjustment "
        "of the t test over folds; the exact sign-flip p-value beside it cannot go below 2/2^F "
        "with F speakers."
    )


def range_memory_text(
    memory: pd.DataFrame,
    models: list[tuple[str, int]],
    sample_rate: float,
    fscale: float,
    r_max: float | None,
) -> str:
    """Markdown on the memory of the (range mode, bits) ``models`` that ``memory`` (mean memory
    per range mode and bits) holds (``memory.describe_memory`` at ``sample_rate``, Hz), and the
    largest pole modulus the fixed range allows, min(sqrt(2) fscale, r_max) (r_max None: 1)."""
    return (
        " ".join(
            describe_memory(f"{b}-bit {m}-range", memory.loc[(m, b)], sample_rate)
            for m, b in models
            if (m, b) in memory.index
        )
        + " With one range for every parameter, the poles of the fixed-range model cannot exceed "
        f"min(sqrt(2) fscale, r_max) = {min(2**0.5 * fscale, r_max or 1):.2f} "
        "in modulus, "
        "whatever the "
        "bit width: the range, not the number of levels, sets its memory."
    )


def used_modes(
    points: list[dict[str, Any]], specs: list[Run], n_classes: int, seed: int
) -> pd.DataFrame:
    """The used modes (``memory.mode_table``, rows with ``used``) of every trained model of the
    sweep (``points`` and their runs ``specs``) with training seed ``seed``, memoryless controls
    left out: one row per mode with its time constant (``tau_ms``), its model's ``label`` and
    its ``fold``."""
    modes = []
    for p, r in zip(points, specs, strict=True):
        if p["model"] != "memoryless" and p["seed"] == seed:
            with torch.no_grad():
                q = restore_model(r.model, train_or_load(r), n_classes).layers[0].discrete()
            used = mode_table(q, r.data.sample_rate).query("used")
            modes.append(used.assign(label=p["label"], fold=r.data.fold))
    return pd.concat(modes, ignore_index=True)
