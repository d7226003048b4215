"""Quantization strategies (``params.Strategy``, data), their models and their hardware rows.

A ``Strategy`` names how the S4D layer is quantized and trained (bits per matrix, range mode, pole
cap or penalty, noise-aware QAT, or post-training quantization of the float model) and how many
devices carry each complex element. ``strategy_model`` builds the trained (cached) or quantized
model of one (fold, seed), ``strategy_runs`` every training run of the chapter by stage (its
build plan and its cells read the same), ``strategy_cells`` and ``strategy_converter_cells`` the
cells of its two grids; ``strategy_rows`` programs it on the chapter's array over a noise sweep
and scores validation and test clips (``deployed.hardware_rows``), ``strategy_converter_rows``
repeats one noise level under the converters (``deployed.converter_rows``). The chapter's cost
study is ``strategy_cost`` and its verdicts (``pareto_front``, ``works_at``, ``recommend``, on
validation data wherever they choose something) are ``strategy_verdicts``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import torch

from ..hardware.crossbar import pairs_per_weight
from ..hardware.ranges import converter_ranges
from ..model.cache import Run, run_key
from ..model.config import QuantConfig
from ..model.train import evaluate, load_splits
from ..seeds import programming_seed
from ..stats.programmings import chance_failure
from .deployed import TrainedModel, converter_rows, hardware_rows, load_model
from .params import Strategy
from .runs import float_spec, qat_spec

__all__ = [
    "Strategy",
    "fold_speakers",
    "ptq_ablation",
    "strategy_cells",
    "strategy_converter_cells",
    "strategy_converter_rows",
    "strategy_converter_task",
    "strategy_keys",
    "strategy_model",
    "strategy_quant",
    "strategy_rows",
    "strategy_runs",
    "strategy_seed_at",
    "strategy_spec",
    "strategy_test_clips",
]


def _devices(cfg: Any, s: Strategy) -> int:
    return s.devices_per_element or cfg.shared.devices_per_element[0]


def strategy_quant(cfg: Any, s: Strategy) -> QuantConfig:
    """The QuantConfig of ``s`` under the chapter's ``fscale``, pole cap and conductance window.
    Uniform bits leave bits_A/B/C unset, so plain QAT is the QAT chapter's configuration (and
    run)."""
    uniform = len(set(s.bits)) == 1
    return QuantConfig(
        bits=max(s.bits),
        range_mode=s.range_mode,
        fscale=cfg.shared.fscale,
        r_max=cfg.shared.r_max if s.r_max is None else s.r_max,
        scale_rule=cfg.shared.scale_rule(s.range_mode),
        bits_A=None if uniform else s.bits_A,
        bits_B=None if uniform else s.bits_B,
        bits_C=None if uniform else s.bits_C,
        pole_penalty=s.pole_penalty,
        pole_target=s.pole_target,
        noise_sigma_uS=s.noise_sigma_uS,
        noise_window_uS=cfg.shared.g_max_uS - cfg.shared.g_min_uS,
        noise_pairs=pairs_per_weight(_devices(cfg, s)) if s.noise_sigma_uS else 2,
    )


def strategy_spec(cfg: Any, s: Strategy, seed: int, fold: int) -> Run:
    """The training run of ``s`` for (fold, seed): QAT from the float run of the same fold and seed
    (``runs.qat_spec``'s schedule), or, for 'ptq', the float run itself."""
    if s.training == "ptq":
        return float_spec(cfg, seed, fold)
    base = qat_spec(cfg, max(s.bits), s.range_mode, seed, fold)
    return base._replace(model=base.model.model_copy(update={"quant": strategy_quant(cfg, s)}))


def strategy_keys(cfg: Any) -> list[tuple[int, int]]:
    """The chapter's models of every strategy: one (seed, fold) per fold of ``cfg.shared.folds``
    and seed of ``cfg.strategy_seeds``, fold by fold."""
    return [(seed, fold) for fold in cfg.shared.folds for seed in cfg.strategy_seeds]


def strategy_runs(cfg: Any) -> dict[str, dict[tuple[Any, ...], Run]]:
    """The chapter's training runs by stage (``Chapter.models``, the build plan's stages): 'float
    models', {(seed, fold): float run} for every ``strategy_keys``, then 'strategies', {(strategy,
    seed, fold): run} of every QAT strategy in the file's order, each run once (a strategy whose
    run an earlier one already is, e.g. the same model on 8 devices per element, adds none). PTQ
    strategies quantize the float models: they train nothing of their own."""
    keys = strategy_keys(cfg)
    qat: dict[str, tuple[tuple[Any, ...], Run]] = {}
    for s in cfg.strategies:
        if s.training == "qat":
            for seed, fold in keys:
                run = strategy_spec(cfg, s, seed, fold)
                qat.setdefault(run_key(run), ((s.name, seed, fold), run))
    return {
        "float models": {(seed, fold): float_spec(cfg, seed, fold) for seed, fold in keys},
        "strategies": dict(qat.values()),
    }


def strategy_cells(cfg: Any) -> list[dict[str, Any]]:
    """The cells of the hardware grid: one per strategy (``strategy``, in the file's order) and
    model (``seed``, ``fold``; ``strategy_keys``)."""
    return [
        {"strategy": s.name, "seed": seed, "fold": fold}
        for s in cfg.strategies
        for seed, fold in strategy_keys(cfg)
    ]


def strategy_converter_cells(cfg: Any, chosen: str) -> list[dict[str, Any]]:
    """The cells of the converter check, one per strategy, each split by model
    (``Chapter.grid(..., models=strategy_keys(cfg))``): plain QAT (``cfg.baseline``), then the
    recommended strategy ``chosen``, or '' (nothing to compute, ``strategy_converter_task``) when
    the recommendation is plain QAT itself. So the grid has the same tasks whatever the choice,
    and the build plan counts them before it is made."""
    return [{"strategy": cfg.baseline}, {"strategy": "" if chosen == cfg.baseline else chosen}]


def strategy_model(cfg: Any, s: Strategy, seed: int, fold: int) -> TrainedModel:
    """The quantized classifier of ``s`` for (fold, seed) in eval mode, the fold's splits and the
    failure ('' or 'unstable' / 'non-finite'; the model is then None), from ``deployed.load_model``:
    QAT models from the model cache (trained if missing); PTQ quantizes the cached float model
    after the same range equalisation QAT starts with."""
    run, n_classes = strategy_spec(cfg, s, seed, fold), len(cfg.shared.data.digits)
    if s.training == "qat":
        return load_model(run, n_classes)
    return load_model(run, n_classes, ptq=strategy_quant(cfg, s), fscale=cfg.shared.fscale)


def strategy_seed_at(
    base: int, s: Strategy, seed: int, fold: int, split: str
) -> Callable[[float], int]:
    """sigma -> the seed of the programmings of strategy ``s``'s model of training ``seed`` and
    ``fold`` on ``split`` (``seeds.programming_seed``, with the chapter's ``programming_seed``
    ``base``): each strategy is a model of its own and draws its own noise; the periphery variants
    of one model (``strategy_converter_rows``) share it."""
    return lambda sigma_uS: programming_seed(
        "strategy model", (s.name, seed, fold), sigma_uS, split, base
    )


def strategy_rows(
    cfg: Any, s: Strategy, seed: int, fold: int, splits: tuple[str, ...] = ("val", "test")
) -> list[dict[str, Any]]:
    """One row per programming of ``s``'s model of (fold, seed) at each of ``cfg.sigmas_uS``
    (``cfg.realisations`` each) and on each of ``splits`` (``deployed.hardware_rows``, led by
    ``sigma_uS`` and ``split``): the chapter's window, converter ranges at ``cfg.shared.headroom``
    times the ideal peaks on training clips (computed once per model), fast mode, block layout with
    the strategy's devices per element, draws from ``strategy_seed_at``. A programming at chance of
    a model already at chance in software on that split carries 'at chance in software' as its
    cause."""
    model = strategy_model(cfg, s, seed, fold)
    net = model.net
    ranges = (
        [] if net is None else [converter_ranges(net, model.splits.train.x, cfg.shared.headroom)]
    )
    rows = []
    for sp in splits:
        data = model.splits.val if sp == "val" else model.splits.test
        at_chance = net is not None and chance_failure(evaluate(net, data)[0], len(data))
        new = hardware_rows(
            model,
            sp,
            ranges,
            cfg.shared.window,
            cfg.sigmas_uS,
            cfg.realisations,
            strategy_seed_at(cfg.programming_seed, s, seed, fold, sp),
            _devices(cfg, s),
        )
        rows += [
            {"sigma_uS": r["sigma_uS"], "split": sp}
            | r
            | ({"failure": "at chance in software"} if r["failure"] and at_chance else {})
            for r in new
        ]
    return rows


def ptq_ablation(
    cfg: Any, keys: list[tuple[int, int]], variants: dict[str, tuple[int, int, int]]
) -> pd.DataFrame:
    """Post-training quantization of the float models of ``keys`` with (bits_A, bits_B, bits_C) per
    variant, on the chapter's fixed range and pole cap: test accuracy and the share of modes whose
    B_bar or C rounds to zero (such a mode no longer reaches the output). 16 bits is as good as
    exact, so a 16-bit variant isolates the range and the cap from the rounding."""
    rows = []
    for label, bits in variants.items():
        s = Strategy(name=label, training="ptq", bits_A=bits[0], bits_B=bits[1], bits_C=bits[2])
        for seed, fold in keys:
            net, splits, _ = strategy_model(cfg, s, seed, fold)
            with torch.no_grad():
                q = net.layers[0].discrete()
            rows.append(
                {
                    "variant": label,
                    "bits_A": bits[0],
                    "bits_B": bits[1],
                    "bits_C": bits[2],
                    "seed": seed,
                    "fold": fold,
                    "accuracy": evaluate(net, splits.test)[0],
                    "silent_mode_share": float(((q.B_bar == 0) | (q.C == 0)).double().mean()),
                }
            )
    return pd.DataFrame(rows)


def strategy_converter_rows(
    cfg: Any,
    s: Strategy,
    seed: int,
    fold: int,
    sigma_uS: float,
    dac_bits: int,
    adc_bits: int,
    headroom: float,
) -> list[dict[str, Any]]:
    """The converters' own effect (``deployed.converter_rows``): the test programmings of
    ``strategy_rows`` at ``sigma_uS`` (same draws) with converter ranges at ``headroom`` times the
    ideal peaks on training clips, once with ideal resolution (fast mode), once in step mode with a
    ``dac_bits`` DAC and an ``adc_bits`` ADC over the same ranges (one per layer), and once with
    those converters' ranges per row and column (``ranges.layer_converter_ranges``, the periphery
    chapter's design). One row per programming (``periphery``, ``realisation``, ``accuracy``,
    ``failure``); a model that cannot be deployed gives one row per periphery of the first two."""
    model = strategy_model(cfg, s, seed, fold)
    if model.net is None:
        return [
            {"periphery": k, "realisation": 0, "accuracy": float("nan"), "failure": model.failure}
            for k in ("ideal resolution", "rounding")
        ]
    x, bits = model.splits.train.x, {"dac_bits": dac_bits, "adc_bits": adc_bits}
    ranges = converter_ranges(model.net, x, headroom)
    columns = converter_ranges(model.net, x, headroom, per_column=True)
    peripheries = {
        "ideal resolution": ([ranges], "fast"),
        "rounding": ([ranges | bits], "step"),
        "rounding, per-column ranges": ([columns | bits], "step"),
    }
    rows = converter_rows(
        model,
        peripheries,
        cfg.shared.window,
        sigma_uS,
        cfg.realisations,
        strategy_seed_at(cfg.programming_seed, s, seed, fold, "test"),
        _devices(cfg, s),
    )
    return [{k: r[k] for k in ("periphery", "realisation", "accuracy", "failure")} for r in rows]


def strategy_converter_task(
    cfg: Any,
    cell: dict[str, Any],
    models: list[tuple[int, int]],
    sigma_uS: float,
    dac_bits: int,
    adc_bits: int,
    headroom: float,
) -> list[dict[str, Any]]:
    """One task of the converter check (a cell of ``strategy_converter_cells`` and its
    ``models`` [(seed, fold)]): ``strategy_converter_rows`` of the cell's strategy for each
    model, each row led by its ``seed`` and ``fold``; no rows for the empty strategy ''."""
    if not cell["strategy"]:
        return []
    s = next(s for s in cfg.strategies if s.name == cell["strategy"])
    return [
        {"seed": seed, "fold": fold} | row
        for seed, fold in models
        for row in strategy_converter_rows(
            cfg, s, seed, fold, sigma_uS, dac_bits, adc_bits, headroom
        )
    ]


def fold_speakers(cfg: Any, seed: int) -> dict[int, tuple[str, str]]:
    """fold -> (test speaker, validation speaker) of every fold of ``cfg``, read from its splits."""
    out = {}
    for fold in cfg.shared.folds:
        splits = load_splits(float_spec(cfg, seed, fold).data)
        out[fold] = (
            str(splits.test.meta["speaker"].iloc[0]),
            str(splits.val.meta["speaker"].iloc[0]),
        )
    return out


def strategy_test_clips(cfg: Any) -> int:
    """The number of test clips over every fold of the chapter (the held-out speakers' clips, read
    from the float model's data split of the first strategy seed)."""
    seed = cfg.strategy_seeds[0]
    return sum(len(load_splits(float_spec(cfg, seed, f).data).test) for f in cfg.shared.folds)
