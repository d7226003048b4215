"""The hardware cost of a quantization strategy: devices, arrays, analog and digital energy and
latency per inference (``imssa.hardware.cost``), over the strategy's trained models, and the
verdict on energy across the range of cost constants."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..hardware.cost import CostConstants, analog_cost, device_conductances, digital_cost
from ..hardware.crossbar import pairs_per_weight
from ..hardware.deploy import target_conductances
from ..hardware.devices import DeviceConfig
from ..model.train import SpeechClassifier
from ..stats.verdicts import ABOVE, BELOW, NOT_RESOLVED, Rule, verdict
from .params import Strategy
from .strategy import _devices, strategy_model

__all__ = [
    "ENERGY_WORDS",
    "PARITY",
    "cost_breakdown",
    "cost_corners",
    "energy_verdict",
    "strategy_cost",
]


def _digital(cfg: Any, s: Strategy, c: CostConstants):
    """The digital MAC unit's cost of ``s``'s kernel at its bits (``cost.digital_cost``)."""
    return digital_cost(
        cfg.shared.model.H,
        cfg.shared.model.N,
        s.bits,
        cfg.shared.data.length,
        len(cfg.shared.data.digits),
        c,
    )


def _analog(
    cfg: Any,
    s: Strategy,
    net: SpeechClassifier,
    adc_bits: int,
    c: CostConstants,
    array_size: int | None = None,
):
    """The analog cost estimate of one model of ``s`` and its layout (on ``array_size`` square
    arrays, default the chapter's rows x cols)."""
    d = _devices(cfg, s)
    lay = cfg.shared.block_layout(d, array_size)
    dev = DeviceConfig(**cfg.shared.window)
    G = device_conductances(target_conductances(net, dev, "block"), pairs_per_weight(d))
    est = analog_cost(
        G,
        lay,
        cfg.shared.model.N,
        cfg.shared.data.length,
        len(cfg.shared.data.digits),
        adc_bits,
        c,
        column_gains=s.range_mode != "fixed",
    )
    return est, lay


def strategy_cost(
    cfg: Any, s: Strategy, keys: list[tuple[int, int]], adc_bits: int, c: CostConstants
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
        lay = cfg.shared.block_layout(_devices(cfg, s))
    digital = _digital(cfg, s, c)
    return {
        "strategy": s.name,
        "devices": lay.devices,
        "arrays": lay.arrays,
        "utilisation": lay.utilisation,
        "adc_bits": adc_bits,
        "energy_pJ_per_inference": float(np.mean(energies)) if energies else float("nan"),
        "latency_us_per_step": latency,
        "digital_energy_pJ_per_inference": digital.energy_pJ_per_inference,
        "digital_latency_us_per_step": digital.latency_us_per_step,
    }


def cost_breakdown(
    cfg: Any, s: Strategy, seed: int, fold: int, adc_bits: int, c: CostConstants
) -> pd.DataFrame:
    """Energy per inference by component (pJ), analog and digital, of one model of ``s``: one row
    per (design, component)."""
    net = strategy_model(cfg, s, seed, fold)[0]
    if net is None:
        raise ValueError(f"strategy {s.name!r} has no model for fold {fold}, seed {seed}")
    analog = _analog(cfg, s, net, adc_bits, c)[0]
    digital = _digital(cfg, s, c)
    return pd.DataFrame(
        [
            {"design": design, "component": k, "energy_pJ_per_inference": v}
            for design, est in (("analog", analog), ("digital", digital))
            for k, v in est.breakdown_pJ_per_inference.items()
        ]
    )


def cost_corners(
    cfg: Any,
    s: Strategy,
    seed: int,
    fold: int,
    adc_bits: int,
    c: CostConstants,
    corners: dict[str, list[Any]],
) -> pd.DataFrame:
    """Analog and digital energy per inference of one model of ``s`` at every combination of the
    values in ``corners`` (all others as in ``c``): keys are ``CostConstants`` fields, 'adc_bits'
    or 'array_size' (square arrays of that many rows). One row per combination, with the ratio
    analog / digital, so that a verdict can be checked against the whole range of constants."""
    import itertools

    unknown = set(corners) - set(CostConstants.model_fields) - {"adc_bits", "array_size"}
    if unknown:
        raise ValueError(f"unknown cost constants {sorted(unknown)}")
    net = strategy_model(cfg, s, seed, fold)[0]
    if net is None:
        raise ValueError(f"strategy {s.name!r} has no model for fold {fold}, seed {seed}")
    out = []
    for values in itertools.product(*corners.values()):
        point = dict(zip(corners, values, strict=True))
        cc = CostConstants.model_validate(
            c.model_dump() | {k: v for k, v in point.items() if k in CostConstants.model_fields}
        )
        analog = _analog(cfg, s, net, point.get("adc_bits", adc_bits), cc, point.get("array_size"))[
            0
        ]
        digital = _digital(cfg, s, cc)
        out.append(
            point
            | {
                "analog_pJ_per_inference": analog.energy_pJ_per_inference,
                "digital_pJ_per_inference": digital.energy_pJ_per_inference,
                "analog_over_digital": analog.energy_pJ_per_inference
                / digital.energy_pJ_per_inference,
            }
        )
    return pd.DataFrame(out)


#: Parity of the analog and digital energy per inference (their ratio).
PARITY = 1.0
#: ``energy_verdict``'s sentence for each side of parity of the ratio analog / digital.
ENERGY_WORDS = {
    BELOW: "analog cheaper",
    ABOVE: "digital cheaper",
    NOT_RESOLVED: "depends on the constants",
}


def energy_verdict(corners: pd.DataFrame) -> str:
    """'analog cheaper', 'digital cheaper' or 'depends on the constants' (``ENERGY_WORDS``): the
    range of the ratio analog / digital over every combination of ``cost_corners`` against parity,
    by the one rule (``stats.verdicts.verdict``, the range as its interval)."""
    r = corners["analog_over_digital"]
    return ENERGY_WORDS[verdict(float(r.min()), float(r.max()), None, Rule(PARITY))]
