"""The deployment chapter's sweeps: stuck devices and the step-mode periphery (read noise,
converter widths) as cells of ``programming.sweep_cell``, and the models' median predicted
sigma*."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..hardware.margin import pole_values, predicted_sigma_star
from ..model.train import SpeechClassifier
from .params import ModelParams
from .programming import sweep_cell

__all__ = [
    "CONVERTER_BITS",
    "READ_NOISE",
    "STUCK_AT",
    "median_predicted_sigma_star",
    "periphery_cells",
    "periphery_rows",
    "periphery_setting",
    "stuck_cells",
    "stuck_device",
]


#: Where a stuck device sits, as a cell's ``variant`` names it ("stuck at gmax", ...).
STUCK_AT = ("gmax", "gmin")

#: The two step-mode periphery sweeps of the deployment chapter, as a cell's ``sweep`` names them.
READ_NOISE, CONVERTER_BITS = "read noise", "converter bits"


def stuck_cells(array: dict[str, Any], bits: int, fractions: list[float]) -> list[dict[str, Any]]:
    """The stuck-device sweep on ``array`` (a cell's placement keys) at ``bits``: one cell per
    side of ``STUCK_AT`` and fraction of ``fractions`` (of the programmed devices), its side in
    ``variant`` ("stuck at gmax") and its fraction in ``value``."""
    return [
        array | {"bits": bits, "variant": f"stuck at {k}", "value": f}
        for k in STUCK_AT
        for f in fractions
    ]


def stuck_device(cell: dict[str, Any]) -> dict[str, Any]:
    """The device setting of a ``stuck_cells`` cell: its fraction as ``stuck_at_gmax`` or
    ``stuck_at_gmin``."""
    return {cell["variant"].replace(" ", "_"): cell["value"]}


def periphery_cells(
    step: dict[str, Any], read_noises: list[float], converter_bits: list[int]
) -> list[dict[str, Any]]:
    """The step-mode periphery sweep on the cell ``step``: one cell per read noise (a fraction of
    the ADC range) of ``read_noises``, then one per converter width (bits) of ``converter_bits``,
    the sweep's name in ``sweep`` and its setting (a float) in ``value``."""
    return [step | {"sweep": READ_NOISE, "value": float(r)} for r in read_noises] + [
        step | {"sweep": CONVERTER_BITS, "value": float(b)} for b in converter_bits
    ]


def periphery_setting(cell: dict[str, Any]) -> dict[str, Any]:
    """The periphery of a ``periphery_cells`` cell: read noise alone, or DAC and ADC at ``value``
    bits."""
    if cell["sweep"] == READ_NOISE:
        return {"read_noise": cell["value"]}
    return {"dac_bits": int(cell["value"]), "adc_bits": int(cell["value"])}


def periphery_rows(
    cfg: ModelParams,
    cell: dict[str, Any],
    models: list[tuple[int, int]],
    seed: int,
) -> list[dict[str, Any]]:
    """``programming.sweep_cell`` rows of a ``periphery_cells`` cell in step mode, for the (seed,
    fold) ``models``: ``cfg.step.realisations`` runs per model under read noise (drawn afresh at
    every step from ``seed``), one per model under converters alone (deterministic)."""
    realisations = cfg.step.realisations if cell["sweep"] == READ_NOISE else 1
    return sweep_cell(
        cfg, cell, models, realisations, "step", seed=seed, device=periphery_setting(cell)
    )


def median_predicted_sigma_star(
    nets: list[SpeechClassifier],
    fscale: float,
    g_min_uS: float,
    g_max_uS: float,
    devices_per_element: int,
) -> float:
    """The median over ``nets`` of the exact law's sigma* (uS, ``margin.predicted_sigma_star`` of
    each model's poles, complex pairs, its default chance of failure) on the window
    ``g_min_uS``..``g_max_uS`` (uS) with weight range ``fscale`` and ``devices_per_element``."""
    return float(
        np.median(
            [
                predicted_sigma_star(
                    pole_values(net), fscale, g_min_uS, g_max_uS, devices_per_element
                )
                for net in nets
            ]
        )
    )
