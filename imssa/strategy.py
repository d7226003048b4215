"""Quantization strategies (``config.Strategy``, data), their models, their hardware rows and the rules that compare them.

A ``Strategy`` names how the S4D layer is quantized and trained (bits per matrix, range mode, pole
cap or penalty, noise-aware QAT, or post-training quantization of the float model) and how many
devices carry each complex element. ``strategy_model`` builds the trained (cached) or quantized
model of one (fold, seed); ``hardware_rows`` programs it on the chapter's array at one noise level
and scores validation or test clips; ``pareto_front``, ``works_at`` and ``recommend`` are the
chapter's verdicts, on validation data wherever they choose something.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd
import torch
from .config import QuantConfig
from .cost import CostConstants, analog_cost, device_conductances, digital_cost
from .crossbar import layout, pairs_per_weight
from .data import AudioSet, AudioSplits
from .deploy import calibrate_converters, realisation_rows, target_conductances
from .devices import DeviceConfig
from .params import Strategy
from .quant import UnstableSSMError
from .runs import float_run, qat_run
from .stats import chance_failure, realisation_summary
from .train import Run, SpeechClassifier, evaluate, load_splits, restore_model, result_of

__all__ = ["Strategy", "draw_seed", "cost_breakdown", "cost_sensitivity", "family", "gap_recovery", "hardware_rows", "pareto_front", "recommend",
           "software_row", "strategy_cost", "strategy_model", "strategy_quant", "strategy_run", "works_at"]


def _devices(cfg: Any, s: Strategy) -> int:
    return s.devices_per_element or cfg.devices_per_element[0]


def strategy_quant(cfg: Any, s: Strategy) -> QuantConfig:
    """The QuantConfig of ``s`` under the chapter's ``fscale``, pole cap and conductance window.
    Uniform bits leave bits_A/B/C unset, so plain QAT is the QAT chapter's configuration (and run)."""
    uniform = len(set(s.bits)) == 1
    return QuantConfig(bits=max(s.bits), range_mode=s.range_mode, fscale=cfg.fscale,
                       r_max=cfg.r_max if s.r_max is None else s.r_max,
                       bits_A=None if uniform else s.bits_A, bits_B=None if uniform else s.bits_B,
                       bits_C=None if uniform else s.bits_C, pole_penalty=s.pole_penalty, pole_target=s.pole_target,
                       noise_sigma_uS=s.noise_aware_sigma_uS, noise_window_uS=cfg.g_max_uS - cfg.g_min_uS,
                       noise_pairs=pairs_per_weight(_devices(cfg, s)) if s.noise_aware_sigma_uS else 2)


def strategy_run(cfg: Any, s: Strategy, seed: int, fold: int) -> Run:
    """The training run of ``s`` for (fold, seed): QAT from the float run of the same fold and seed
    (``runs.qat_run``'s schedule), or, for 'ptq', the float run itself."""
    if s.training == "ptq":
        return float_run(cfg, seed, fold)
    base = qat_run(cfg, max(s.bits), s.range_mode, seed, fold)
    return base._replace(model=base.model.model_copy(update={"quant": strategy_quant(cfg, s)}))


def strategy_model(cfg: Any, s: Strategy, seed: int, fold: int) -> tuple[SpeechClassifier | None, AudioSplits, str]:
    """The quantized classifier of ``s`` for (fold, seed) in eval mode, the fold's splits and the
    failure ('' or 'unstable' / 'non-finite'; the model is then None). QAT models come from the
    model cache (trained if missing); PTQ quantizes the cached float model after the same range
    equalisation QAT starts with."""
    return _model(cfg.model_dump_json(), type(cfg), s.model_dump_json(), seed, fold)


@functools.lru_cache(maxsize=4)
def _model(cfg_json: str, kind: type, s_json: str, seed: int, fold: int) -> tuple[SpeechClassifier | None, AudioSplits, str]:
    cfg, s = kind.model_validate_json(cfg_json), Strategy.model_validate_json(s_json)
    run = strategy_run(cfg, s, seed, fold)
    result, splits = result_of(run), load_splits(run.data)
    if result.failure:
        return None, splits, result.failure
    n_classes = len(cfg.data.digits)
    if s.training == "qat":
        return restore_model(run.model, result, n_classes), splits, ""
    model = run.model.model_copy(update={"quant": strategy_quant(cfg, s)})
    net = SpeechClassifier(model, n_classes)
    net.load_state_dict(result.state_dict)
    net.equalize_ranges(cfg.fscale)
    net.eval()
    try:
        with torch.no_grad():
            net(splits.val.x[:1])
    except UnstableSSMError:
        return None, splits, "unstable"
    return net, splits, ""


def software_row(cfg: Any, s: Strategy, seed: int, fold: int) -> dict[str, Any]:
    """Validation and test accuracy of ``s``'s model in software, its largest pole radius and, for a
    model that failed in training or scores at chance on test clips, the cause: the training failure,
    else 'constant output' (one class for every clip) or 'chance' (``stats.chance_failure``)."""
    net, splits, failure = strategy_model(cfg, s, seed, fold)
    row = {"strategy": s.name, "seed": seed, "fold": fold, "val_accuracy": float("nan"), "accuracy": float("nan"),
           "max_abs_A_bar": float("nan"), "failure": failure}
    if net is None:
        return row
    acc, pred = evaluate(net, splits.test)
    if chance_failure(acc, len(pred)):
        row["failure"] = "constant output" if len(np.unique(pred)) == 1 else "chance"
    with torch.no_grad():
        radius = float(net.layers[0].discrete().A_bar.abs().max())
    return row | {"val_accuracy": evaluate(net, splits.val)[0], "accuracy": acc, "max_abs_A_bar": radius}


def _split(splits: AudioSplits, split: str) -> AudioSet:
    if split not in ("val", "test"):
        raise ValueError(f"split must be 'val' or 'test', got {split!r}")
    return splits.val if split == "val" else splits.test


def draw_seed(seed: int, sigma_uS: float, split: str) -> int:
    """Seed of the programming draws at one noise level and split: the same for every strategy and
    model, so that strategies with the same layout meet the same draws (paired comparisons)."""
    return seed * 100_000 + round(100 * sigma_uS) * 10 + (split == "test")


def hardware_rows(cfg: Any, s: Strategy, seed: int, fold: int, sigmas_uS: list[float], realisations: int,
                  base_seed: int, splits: tuple[str, ...] = ("val", "test")) -> list[dict[str, Any]]:
    """One row per programming of ``s``'s model of (fold, seed) at each of ``sigmas_uS`` and on each
    of ``splits``: the chapter's window (g_min, g_max, g_phys_max), converter ranges at
    ``cfg.headroom`` times the ideal peaks on training clips (computed once per model), programming
    noise sigma, fast mode, block layout with the strategy's devices per element. Draws are seeded
    by ``draw_seed``. A model whose training failed gives one row per sigma and split with accuracy
    NaN and its failure."""
    net, data, failure = strategy_model(cfg, s, seed, fold)
    if net is None:
        return [{"sigma_uS": x, "split": sp, "realisation": 0, "accuracy": float("nan"), "spectral_radius": float("nan"),
                 "saturated": False, "failure": failure, "pulses_per_device": float("nan")}
                for sp in splits for x in sigmas_uS]
    window = {"g_min_uS": cfg.g_min_uS, "g_max_uS": cfg.g_max_uS, "g_phys_max_uS": cfg.g_phys_max_uS}
    ranges = calibrate_converters(net, data.train.x, cfg.headroom)
    rows = []
    for sp in splits:
        for x in sigmas_uS:
            dev = DeviceConfig(**window, sigma_uS=x, **ranges)
            new = realisation_rows(net, _split(data, sp), dev, realisations if dev.stochastic else 1,
                                   draw_seed(base_seed, x, sp), layout="block", devices_per_element=_devices(cfg, s))
            rows += [{"sigma_uS": x, "split": sp} | r for r in new]
    return rows


def _analog(cfg: Any, s: Strategy, net: SpeechClassifier, adc_bits: int, c: CostConstants, g_scale: float = 1.0):
    """The analog cost estimate of one model of ``s`` (conductances times ``g_scale``) and its layout."""
    d = _devices(cfg, s)
    lay = layout(cfg.model.H, 2 * cfg.model.N + 1, cfg.rows, cfg.cols, kind="block", devices_per_element=d)
    dev = DeviceConfig(g_min_uS=cfg.g_min_uS, g_max_uS=cfg.g_max_uS, g_phys_max_uS=cfg.g_phys_max_uS)
    G = device_conductances(target_conductances(net, dev, "block"), pairs_per_weight(d)) * g_scale
    est = analog_cost(G, lay, cfg.model.N, cfg.data.length, len(cfg.data.digits), adc_bits, c,
                      column_gains=s.range_mode != "fixed")
    return est, lay


def strategy_cost(cfg: Any, s: Strategy, keys: list[tuple[int, int]], adc_bits: int, c: CostConstants
                  ) -> dict[str, Any]:
    """Hardware cost of ``s``: devices, arrays and utilisation of its layout, and the analog energy
    (mean over the models of ``keys``: the read energy depends on the programmed conductances) and
    latency, beside the digital MAC unit's at the same bits. Energies in pJ per inference."""
    energies, latency, lay = [], float("nan"), None
    for seed, fold in keys:
        net = strategy_model(cfg, s, seed, fold)[0]
        if net is None:
            continue
        est, lay = _analog(cfg, s, net, adc_bits, c)
        energies.append(est.energy_pJ_per_inference)
        latency = est.latency_us_per_step
    if lay is None:
        lay = layout(cfg.model.H, 2 * cfg.model.N + 1, cfg.rows, cfg.cols, kind="block", devices_per_element=_devices(cfg, s))
    digital = digital_cost(cfg.model.H, cfg.model.N, s.bits, cfg.data.length, len(cfg.data.digits), c)
    return {"strategy": s.name, "devices": lay.devices, "arrays": lay.arrays, "utilisation": lay.utilisation,
            "adc_bits": adc_bits, "energy_pJ_per_inference": float(np.mean(energies)) if energies else float("nan"),
            "latency_us_per_step": latency, "digital_energy_pJ_per_inference": digital.energy_pJ_per_inference,
            "digital_latency_us_per_step": digital.latency_us_per_step}


def cost_breakdown(cfg: Any, s: Strategy, seed: int, fold: int, adc_bits: int, c: CostConstants) -> pd.DataFrame:
    """Energy per inference by component (pJ), analog and digital, of one model of ``s``: one row
    per (design, component)."""
    net = strategy_model(cfg, s, seed, fold)[0]
    if net is None:
        raise ValueError(f"strategy {s.name!r} has no model for fold {fold}, seed {seed}")
    analog = _analog(cfg, s, net, adc_bits, c)[0]
    digital = digital_cost(cfg.model.H, cfg.model.N, s.bits, cfg.data.length, len(cfg.data.digits), c)
    return pd.DataFrame([{"design": design, "component": k, "energy_pJ_per_inference": v}
                         for design, est in (("analog", analog), ("digital", digital))
                         for k, v in est.breakdown_pJ_per_inference.items()])


def cost_sensitivity(cfg: Any, s: Strategy, seed: int, fold: int, adc_bits: int, c: CostConstants,
                     changes: dict[str, list[Any]]) -> pd.DataFrame:
    """Analog and digital energy per inference of one model of ``s`` with one constant changed at a
    time: ``changes`` maps a ``CostConstants`` field, 'adc_bits' or 'g_scale' (a factor on every
    conductance, i.e. a scaled window) to the values to try. One row per (constant, value)."""
    unknown = set(changes) - set(CostConstants.model_fields) - {"adc_bits", "g_scale"}
    if unknown:
        raise ValueError(f"unknown cost constants {sorted(unknown)}")
    net = strategy_model(cfg, s, seed, fold)[0]
    if net is None:
        raise ValueError(f"strategy {s.name!r} has no model for fold {fold}, seed {seed}")
    out = []
    for name, values in changes.items():
        for v in values:
            cc = c.model_copy(update={name: v}) if name in CostConstants.model_fields else c
            cc = CostConstants.model_validate(cc.model_dump())  # validate the changed value
            analog = _analog(cfg, s, net, v if name == "adc_bits" else adc_bits, cc, v if name == "g_scale" else 1.0)[0]
            digital = digital_cost(cfg.model.H, cfg.model.N, s.bits, cfg.data.length, len(cfg.data.digits), cc)
            out.append({"constant": name, "value": v, "analog_pJ_per_inference": analog.energy_pJ_per_inference,
                        "digital_pJ_per_inference": digital.energy_pJ_per_inference,
                        "analog_over_digital": analog.energy_pJ_per_inference / digital.energy_pJ_per_inference})
    return pd.DataFrame(out)


def pareto_front(table: pd.DataFrame, cost: str, accuracy: str) -> pd.Series:
    """True for the rows no other row dominates: none is at most as costly and at least as accurate,
    and strictly better in one of the two. Rows with a missing value are never on the front."""
    c, a = table[cost].to_numpy(float), table[accuracy].to_numpy(float)
    ok = np.isfinite(c) & np.isfinite(a)
    front = []
    for i in range(len(table)):
        dominated = ok & (c <= c[i]) & (a >= a[i]) & ((c < c[i]) | (a > a[i]))
        front.append(bool(ok[i] and not dominated.any()))
    return pd.Series(front, index=table.index, name="pareto")


def works_at(rows: pd.DataFrame, strategy: str, chance: float = 0.5) -> float | None:
    """The largest sigma (uS) at which ``strategy`` still works at all: its accuracy's interval over
    folds then programmings (``stats.realisation_summary``) lies wholly above ``chance``. ``rows``:
    hardware rows with ``strategy``, ``sigma_uS``, ``fold``, ``realisation``, ``accuracy``. None if
    it works at no sigma."""
    part = rows[rows["strategy"] == strategy].dropna(subset=["accuracy"])
    if part.empty:
        raise ValueError(f"no hardware rows for strategy {strategy!r}")
    summary = realisation_summary(part, ["sigma_uS"], None)
    working = summary[summary["ci_low"] > chance]["sigma_uS"]
    return float(working.max()) if len(working) else None


def recommend(table: pd.DataFrame, accuracy: str = "accuracy_hardware_val", energy: str = "energy_pJ_per_inference",
              tie_points: float = 1.0) -> str:
    """The strategy to recommend: the highest validation accuracy under hardware; strategies within
    ``tie_points`` points of it are tied, and the one of them with the least energy wins (then the
    first listed). ``table``: one row per strategy with ``strategy``, ``accuracy`` and ``energy``."""
    t = table.dropna(subset=[accuracy])
    if t.empty:
        raise ValueError(f"no strategy has a {accuracy!r} value")
    best = t[accuracy].max()
    tied = t[t[accuracy] >= best - tie_points / 100]
    return str(tied.sort_values(energy, kind="stable").iloc[0]["strategy"])


def family(s: Strategy, baseline: Strategy) -> str:
    """The question a strategy answers, for grouping figures: 'floor' (PTQ), 'noise-aware',
    'stability' (pole cap or penalty), 'range mode', 'mixed precision', 'devices', 'bit width'
    (uniform bits, fixed range); the baseline is 'baseline'."""
    if s.name == baseline.name:
        return "baseline"
    if s.training == "ptq":
        return "floor"
    if s.noise_aware_sigma_uS > 0:
        return "noise-aware"
    if s.pole_penalty > 0 or (s.r_max is not None and s.r_max != baseline.r_max):
        return "stability"
    if s.range_mode != "fixed":
        return "range mode"
    if len(set(s.bits)) > 1:
        return "mixed precision"
    if s.devices_per_element is not None and s.devices_per_element != baseline.devices_per_element:
        return "devices"
    return "bit width"


def gap_recovery(hardware: pd.DataFrame, software: pd.DataFrame, baseline: str, best: str, sigma_uS: float
                 ) -> dict[str, float]:
    """How much of plain QAT's software-to-hardware gap ``best`` wins back at ``sigma_uS``.

    ``hardware``: programmings (``strategy``, ``sigma_uS``, ``seed``, ``fold``, ``realisation``,
    ``accuracy``); ``software``: one row per model (``strategy``, ``seed``, ``fold``, ``accuracy``).
    Returns the baseline's gap (software minus hardware, points, interval over folds then
    programmings), the best strategy's own gap, the paired difference best - baseline under
    hardware (points, interval; same models' folds, same draws) and its share of the baseline's gap.
    """
    from .stats import drop_interval, drops_from, paired_contrast

    rows = hardware[(hardware["sigma_uS"] == sigma_uS) & hardware["strategy"].isin([baseline, best])]
    rows = rows.dropna(subset=["accuracy"])
    if set(rows["strategy"]) != {baseline, best}:
        raise ValueError(f"need hardware rows of {baseline!r} and {best!r} at sigma {sigma_uS}")
    gaps = {}
    for name in (baseline, best):
        part = rows[rows["strategy"] == name]
        ref = software[software["strategy"] == name].dropna(subset=["accuracy"])
        d = drop_interval(drops_from(part, ref, key=("seed", "fold")).assign(_g=0), ["_g"]).iloc[0]
        gaps[name] = d
    won = paired_contrast(rows, "strategy", best, baseline, by=["sigma_uS"]).iloc[0]
    base = gaps[baseline]
    return {"sigma_uS": sigma_uS, "gap_points": float(base["drop_points"]), "gap_ci_low": float(base["drop_ci_low"]),
            "gap_ci_high": float(base["drop_ci_high"]), "best_gap_points": float(gaps[best]["drop_points"]),
            "recovered_points": float(won["difference_points"]), "recovered_ci_low": float(won["ci_low"]),
            "recovered_ci_high": float(won["ci_high"]),
            "recovered_share": float(won["difference_points"] / base["drop_points"]) if base["drop_points"] > 0 else float("nan")}
