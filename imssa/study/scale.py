"""Depth and scale (open question 3): the models of a sweep over depth, state size, task and
state type, and their programmed stacks; the summaries that read the sweep are
``scale_summaries``.

A ``Spec`` names one architecture on one task: ``task`` ('binary', the main task; 'ten', every
FSDD digit; 'heidelberg', Heidelberg Digits' classes), ``ssm`` ('complex' S4D or 'real', the
S4D-Real variant), ``depth``, ``N`` and ``bits`` (None: the float model). ``spec_params`` turns it
into chapter parameters, so every run comes from the same builders as the other chapters
(``runs.float_spec`` / ``runs.qat_spec``) and shares their cache where the architecture is theirs.
The chapter's studies (``sweep_specs``), their cells (``study_cells``, ``best_depth_cells``) and
their training stages (``model_stages``) are built here once, for the chapter's cells and its build
plan (``plans.depth_scale``) alike.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from ..data.sources import data_root
from ..hardware.crossbar import Layout, layout
from ..hardware.deploy import ideal_weights
from ..hardware.devices import DeviceConfig
from ..hardware.ranges import layer_converter_ranges
from ..hardware.stack import stack_run
from ..model.cache import Run
from ..seeds import programming_seed
from .deployed import TrainedModel, converter_rows, hardware_rows, load_model
from .params import NoiseSweep, ScaleParams, global_params
from .runs import float_spec, qat_spec

__all__ = [
    "Spec",
    "best_depth_cells",
    "model_stages",
    "quantized_cells",
    "study_cells",
    "sweep_specs",
    "select",
    "cells",
    "depth_specs",
    "real_specs",
    "run_specs",
    "spec_of",
    "state_specs",
    "ten_specs",
    "heidelberg_present",
    "largest_single_array",
    "model_of",
    "spec_converter_rows",
    "spec_layout",
    "spec_params",
    "spec_rows",
    "spec_seed_at",
    "spec_sweep",
    "run_spec",
    "state_layouts",
    "hardware_only_specs",
    "heidelberg_specs",
    "heidelberg_cells",
    "HEIDELBERG_STAGES",
]

#: the training stages of the Heidelberg Digits models (``model_stages``), planned and trained only
#: where its files are present (``heidelberg_present``)
HEIDELBERG_STAGES = ("Heidelberg Digits float", "Heidelberg Digits QAT")

Task = Literal["binary", "ten", "heidelberg"]


class Spec(NamedTuple):
    """One model of the chapter: task, state type, depth, complex modes (real modes for 'real') and
    bits (None: float)."""

    task: Task
    ssm: Literal["complex", "real"]
    depth: int
    N: int
    bits: int | None


def depth_specs(cfg: ScaleParams) -> list[Spec]:
    """The depth sweep on the main task: float and ``depth_bits`` at every depth, N = model.N."""
    return [
        Spec("binary", "complex", d, cfg.shared.model.N, b)
        for d in cfg.depths
        for b in [None, *cfg.depth_bits]
    ]


def state_specs(cfg: ScaleParams) -> list[Spec]:
    """The state-size sweep on the main task: float and ``state_bits`` at every N, depth
    model.depth."""
    return [
        Spec("binary", "complex", cfg.shared.model.depth, N, b)
        for N in cfg.state_sizes
        for b in (None, cfg.state_bits)
    ]


def real_specs(cfg: ScaleParams, tasks: tuple[Task, ...] = ("binary", "ten")) -> list[Spec]:
    """Real-valued against complex, float and ``real_bits``, at depth 1 on each of ``tasks``:
    S4D-Real with ``real_N`` (default 2 N) real modes beside the complex model with N modes."""
    real_N = cfg.real_N or 2 * cfg.shared.model.N
    return [
        Spec(t, ssm, 1, real_N if ssm == "real" else cfg.shared.model.N, b)
        for t in tasks
        for ssm in ("complex", "real")
        for b in (None, cfg.real_bits)
    ]


def ten_specs(cfg: ScaleParams, depth: int | None = None, float_only: bool = False) -> list[Spec]:
    """Ten digits at ``depth`` (default: every one of ``ten_depths``): the float model and, unless
    ``float_only``, ``ten_bits``."""
    bits = [None] if float_only else [None, *cfg.ten_bits]
    return [
        Spec("ten", "complex", d, cfg.shared.model.N, b)
        for d in ([depth] if depth else cfg.ten_depths)
        for b in bits
    ]


def sweep_specs(cfg: ScaleParams) -> dict[str, list[Spec]]:
    """The chapter's studies and their models, study -> specs: 'depth' (``depth_specs``), 'state
    size' (``state_specs``), 'real vs complex' (``real_specs``) and 'ten digits' (the float model
    at every one of ``ten_depths``, then float and ``ten_bits`` at depth 1; the chosen depth's
    quantized models come after the choice, ``best_depth_cells``)."""
    return {
        "depth": depth_specs(cfg),
        "state size": state_specs(cfg),
        "real vs complex": real_specs(cfg),
        "ten digits": ten_specs(cfg, float_only=True) + ten_specs(cfg, depth=1),
    }


def quantized_cells(grid: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cells of ``grid`` whose model is quantized (``bits`` set), in their order."""
    return [c for c in grid if c["bits"] is not None]


def study_cells(cfg: ScaleParams) -> dict[str, list[dict[str, Any]]]:
    """The cells of the chapter's studies (``sweep_specs``), each model once: 'models', every
    model of every study (float and quantized, trained before anything else, ``model_stages``);
    'depth', the quantized models of the depth study (its grids 'depth' and 'converters');
    'hardware', every other quantized model (its grid 'hardware', ``hardware_only_specs``)."""
    specs = sweep_specs(cfg)
    return {
        "models": cells(cfg, [s for v in specs.values() for s in v]),
        "depth": quantized_cells(cells(cfg, specs["depth"])),
        "hardware": cells(cfg, hardware_only_specs(specs)),
    }


def best_depth_cells(cfg: ScaleParams, best: dict[int, int]) -> list[dict[str, Any]]:
    """The ten-digit cells at each fold's chosen depth (``best``: fold -> depth,
    ``scale_summaries.best_depth``), float and ``ten_bits``, on that fold only. Their number does
    not depend on the depths chosen, only on the folds."""
    return [c for fold, d in best.items() for c in cells(cfg, ten_specs(cfg, depth=d), [fold])]


def model_stages(
    cfg: ScaleParams,
    grid: list[dict[str, Any]],
    names: tuple[str, str] = ("float models", "QAT models"),
) -> dict[str, dict[tuple[Spec, int, int], Run]]:
    """The training runs of ``grid``'s cells as two stages (``Chapter.models``, the build plan's
    stages), each {(spec, seed, fold): run} in the cells' order: the float models (``names[0]``),
    then the quantized ones fine-tuned from them (``names[1]``), so that no worker trains a float
    model that another QAT run is already training."""
    runs = {(spec_of(c), c["seed"], c["fold"]): c for c in grid}
    return {
        name: {k: run_spec(cfg, *k) for k, c in runs.items() if (c["bits"] is not None) == qat}
        for name, qat in zip(names, (False, True), strict=True)
    }


def cells(
    cfg: ScaleParams, specs: list[Spec], folds: list[int] | None = None
) -> list[dict[str, Any]]:
    """One cell per distinct spec x seed x fold (``scale_seeds`` x ``folds``, default
    ``scale_folds``), as a dict of the spec's fields, ``seed`` and ``fold``: the unit of the
    chapter's resumable grids."""
    out, seen = [], set()
    for spec in specs:
        for fold in folds if folds is not None else cfg.scale_folds:
            for seed in cfg.scale_seeds:
                if (spec, seed, fold) not in seen:
                    seen.add((spec, seed, fold))
                    out.append(spec._asdict() | {"seed": seed, "fold": fold})
    return out


def spec_of(cell: dict[str, Any]) -> Spec:
    """The Spec of a cell (bits read back from a CSV may be '' or NaN for a float model)."""
    bits = cell["bits"]
    bits = (
        None
        if bits is None or bits == "" or (isinstance(bits, float) and np.isnan(bits))
        else int(bits)
    )
    return Spec(cell["task"], cell["ssm"], int(cell["depth"]), int(cell["N"]), bits)


def select(table: pd.DataFrame, specs: list[Spec]) -> pd.DataFrame:
    """The rows of ``table`` (columns task, ssm, depth, N, bits; bits NaN or '' for float) whose
    model is one of ``specs``."""
    keep = set(specs)
    fields = list(Spec._fields)
    mask = [
        spec_of(dict(zip(fields, values, strict=True))) in keep
        for values in table[fields].itertuples(index=False)
    ]
    return table[np.asarray(mask, dtype=bool)]


def run_specs(cfg: ScaleParams, grid: list[dict[str, Any]]) -> list[Run]:
    """The training runs of ``grid``'s cells, floats first (QAT starts from them, so a worker
    never trains a float model that another is already training)."""
    order = sorted(grid, key=lambda c: spec_of(c).bits is not None)
    return [run_spec(cfg, spec_of(c), c["seed"], c["fold"]) for c in order]


def spec_params(cfg: ScaleParams, spec: Spec) -> ScaleParams:
    """The chapter's parameters with the model and task of ``spec``: ``model.depth``/``N`` (and
    S4D-Real's ``ssm``/``init``), and for ten digits ``data.digits``, ``train``, ``qat_train`` from
    ``ten_*`` without the main task's ``fold_choices`` (nested choices of the two-digit recipe:
    a fold's 40 epochs there would turn ``ten_train``'s 6 into 40); Heidelberg Digits on its
    official split (its test speakers partly unseen in training)."""
    own_recipe = spec.task in ("ten", "heidelberg")  # not the main task's: none of its choices
    values = (global_params(cfg) if own_recipe else cfg).model_dump()
    shared = values["shared"]
    shared["model"] |= {"depth": spec.depth, "N": spec.N}
    if spec.ssm == "real":
        shared["model"] |= {"ssm": "s4d_real", "init": "real"}
    if own_recipe:
        shared["train"], shared["qat_train"] = (
            cfg.ten_train.model_dump(),
            cfg.ten_qat_train.model_dump(),
        )
        shared["data"]["digits"] = cfg.ten_digits
    if spec.task == "heidelberg":
        shared["data"] |= {
            "dataset": "heidelberg",
            "language": cfg.heidelberg_language,
            "split": "official",
            "fold": 0,
        }
        shared["folds"] = [0]
        values["scale_folds"] = [0]
    values["depths"] = sorted(set(cfg.depths) | {spec.depth})
    values["state_sizes"] = sorted(set(cfg.state_sizes) | {spec.N})
    return ScaleParams.model_validate(values)


def run_spec(cfg: ScaleParams, spec: Spec, seed: int, fold: int) -> Run:
    """The training run of ``spec`` for (fold, seed): the float model, or fixed-range QAT at
    ``spec.bits`` fine-tuned from it (the chapter's fscale and pole cap on every layer)."""
    c = spec_params(cfg, spec)
    return (
        float_spec(c, seed, fold)
        if spec.bits is None
        else qat_spec(c, spec.bits, "fixed", seed, fold)
    )


def model_of(cfg: ScaleParams, spec: Spec, seed: int, fold: int) -> TrainedModel:
    """The trained classifier of ``spec`` (eval mode; ``deployed.load_model``), its fold's splits
    and its training failure ('' if none; the model is then None)."""
    run = run_spec(cfg, spec, seed, fold)
    return load_model(run, run.data.n_classes)


def spec_seed_at(cfg: ScaleParams, spec: Spec, seed: int, fold: int) -> Callable[[float], int]:
    """sigma -> the seed of the programmings of ``spec``'s model of training ``seed`` and ``fold``
    (``seeds.programming_seed``, with ``cfg.programming_seed``): every model its own draws; its
    periphery variants (``spec_converter_rows``) share them; layers beyond the first draw from
    ``deploy.layer_seed``."""
    base = cfg.programming_seed
    return lambda sigma_uS: programming_seed("scale model", (*spec, seed, fold), sigma_uS, base)


def spec_sweep(cfg: ScaleParams, spec: Spec) -> NoiseSweep:
    """The noise sweep of ``spec``'s model: the chapter's ``sigmas_uS`` and ``realisations`` on the
    main task, ``ten`` for a ten-digit model."""
    if spec.task == "binary":
        return NoiseSweep(sigmas_uS=cfg.sigmas_uS, realisations=cfg.realisations)
    return cfg.ten


def _ranges(cfg: ScaleParams, model: TrainedModel) -> list[dict[str, Any]]:
    """Each layer's converter ranges, ``cfg.shared.headroom`` times its ideal peaks on training
    clips."""
    return (
        []
        if model.net is None
        else layer_converter_ranges(model.net, model.splits.train.x, cfg.shared.headroom)
    )


def spec_rows(
    cfg: ScaleParams, spec: Spec, seed: int, fold: int, errors: bool = False
) -> list[dict[str, Any]]:
    """One row per programming of ``spec``'s quantized model of (fold, seed) over its noise sweep
    (``spec_sweep``) on its test clips (``deployed.hardware_rows``): every layer on arrays of its
    own (physical window, converter ranges ``cfg.shared.headroom`` times that layer's ideal peaks on
    training clips, block layout, the first of ``devices_per_element``), fast mode, draws from
    ``spec_seed_at`` and ``layer_seed``. With ``errors``: each layer's relative output error against
    the ideal stack, accumulated (``error_i``) and of that layer alone (``local_error_i``). A model
    whose training failed gives one row per sigma with accuracy NaN and its failure."""
    if spec.bits is None:
        raise ValueError("hardware rows need a quantized model (bits)")
    model, sweep = model_of(cfg, spec, seed, fold), spec_sweep(cfg, spec)
    net = model.net
    reference = (
        stack_run(
            net,
            model.splits.test.x,
            [ideal_weights(net, i) for i in range(len(net.layers))],
            [DeviceConfig()] * len(net.layers),
        ).outputs
        if errors and net is not None
        else None
    )
    rows = hardware_rows(
        model,
        "test",
        _ranges(cfg, model),
        cfg.shared.window,
        sweep.sigmas_uS,
        sweep.realisations,
        spec_seed_at(cfg, spec, seed, fold),
        cfg.shared.devices_per_element[0],
        reference=reference,
    )
    if errors:  # the same columns for every depth (a resumable grid appends them to one file)
        pad = {
            f"{kind}_{i}": float("nan")
            for i in range(1, max(cfg.depths) + 1)
            for kind in ("error", "local_error")
        }
        rows = [pad | r for r in rows]
    return rows


def spec_converter_rows(cfg: ScaleParams, spec: Spec, seed: int, fold: int) -> list[dict[str, Any]]:
    """The converter check of ``spec``'s model (``deployed.converter_rows``): the programmings of
    ``spec_rows`` at ``cfg.converter_sigma_uS`` (the same draws) in step mode, once with ideal
    resolution and once with ``converter_dac_bits`` / ``converter_adc_bits`` at every array
    boundary; one row per programming and periphery ('ideal resolution' / 'converters'), test
    clips."""
    model = model_of(cfg, spec, seed, fold)
    ranges = _ranges(cfg, model)
    bits = {"dac_bits": cfg.converter_dac_bits, "adc_bits": cfg.converter_adc_bits}
    peripheries = {
        "ideal resolution": (ranges, "step"),
        "converters": ([r | bits for r in ranges], "step"),
    }
    return converter_rows(
        model,
        peripheries,
        cfg.shared.window,
        cfg.converter_sigma_uS,
        cfg.realisations,
        spec_seed_at(cfg, spec, seed, fold),
        cfg.shared.devices_per_element[0],
    )


def spec_layout(cfg: ScaleParams, N: int, real: bool = False) -> Layout:
    """Block layout of one layer with ``N`` complex modes (real modes for ``real``) on the chapter's
    rows x cols arrays, with the first of ``devices_per_element``."""
    return layout(
        cfg.shared.model.H,
        (N if real else 2 * N) + 1,
        cfg.shared.rows,
        cfg.shared.cols,
        kind="block",
        devices_per_element=cfg.shared.devices_per_element[0],
        real=real,
    )


def state_layouts(cfg: ScaleParams, sizes: list[int] | None = None) -> pd.DataFrame:
    """For each state size N (default ``cfg.state_sizes``): the block layout of one layer: arrays,
    utilisation, programmed devices, devices per real state, arrays per channel block, and whether
    one channel's block fits a single rows x cols array."""
    rows = []
    for N in sizes or cfg.state_sizes:
        lay = spec_layout(cfg, N)
        rows.append(
            {
                "N": N,
                "n": lay.n,
                "arrays": lay.arrays,
                "utilisation": lay.utilisation,
                "devices": lay.devices,
                "devices_per_state": lay.devices_per_state,
                "channels_per_array": lay.blocks_per_array,
                "arrays_per_channel": lay.row_tiles_per_block * lay.col_tiles_per_block,
                "block_fits_one_array": lay.blocks_per_array > 0,
            }
        )
    return pd.DataFrame(rows)


def largest_single_array(cfg: ScaleParams, limit: int = 4096) -> int:
    """The largest N whose channel block (2 x (2N+1) rows with the default devices per element,
    2 (2N+1) columns) fits one rows x cols array; 0 if not even N = 1 fits."""
    best = 0
    for N in range(1, limit + 1):
        if spec_layout(cfg, N).blocks_per_array == 0:
            break
        best = N
    return best


def heidelberg_present(data_dir: str | Path | None = None) -> bool:
    """Whether Heidelberg Digits' files are under ``<data>/heidelberg`` (its two file lists)."""
    try:
        folder = data_root(data_dir) / "heidelberg"
    except FileNotFoundError:
        return False
    return folder.is_dir() and any(folder.glob("*_filenames.txt"))


def hardware_only_specs(specs: dict[str, list[Spec]]) -> list[Spec]:
    """The quantized specs of every study in ``specs`` (study -> specs) that the depth study
    (``specs["depth"]``) does not program already, each once, in a fixed order (by their text)."""
    quantized = {s for v in specs.values() for s in v if s.bits is not None}
    return sorted(quantized - set(specs["depth"]), key=str)


def heidelberg_specs(cfg: ScaleParams) -> list[Spec]:
    """Heidelberg Digits at depth 1 with the chapter's N complex modes: the float model, then one
    per bit width of ``ten_bits``."""
    return [Spec("heidelberg", "complex", 1, cfg.shared.model.N, b) for b in (None, *cfg.ten_bits)]


def heidelberg_cells(cfg: ScaleParams) -> list[dict[str, Any]]:
    """The cells of ``heidelberg_specs`` on its one fold (0, the official split)."""
    return cells(cfg, heidelberg_specs(cfg), [0])
