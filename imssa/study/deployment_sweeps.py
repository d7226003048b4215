"""The deployment chapter's models and sweeps: its QAT models (``deployment_models``), the cells of
each of its grids (``deployment_cells``: Fig. 4's versions of the array, the conductance-range
lever, stuck devices, the step-mode periphery (read noise, converter widths) and the emulation
factorial, as cells of ``programming.sweep_cell``), and the models' median predicted sigma*. The
chapter's cells and its build plan (``plans.hardware_deployment``) both call these, so they cannot
drift."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..hardware.margin import pole_values, predicted_sigma_star
from ..model.cache import Run
from ..model.train import SpeechClassifier
from .deployment_arrays import DEFAULT_ARRAY, EMULATION_VARIANTS
from .paper import PAPER
from .params import DeploymentParams, ModelParams
from .programming import sweep_cell
from .runs import qat_spec

__all__ = [
    "BY_MODEL",
    "CONVERTER_BITS",
    "FIRST_SIMULATOR",
    "LEVER_BITS",
    "READ_NOISE",
    "STUCK_AT",
    "deployment_cells",
    "deployment_keys",
    "deployment_models",
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


#: The first simulator of this book, rerun in Fig. 4 for ``dense_bits``: the dense layout with
#: every structural zero programmed, noise clipped at the mapping range, 8 devices per complex
#: element and an unbounded periphery.
FIRST_SIMULATOR = {
    "layout": "dense",
    "noise_clip": "mapping",
    "devices_per_element": 8,
    "periphery": "unbounded",
}

#: The bit width of the conductance-range lever: the paper's 2-bit model, at its claimed tolerance.
LEVER_BITS = 2

#: The deployment chapter's grids whose tasks are one per cell and model (``Chapter.grid(...,
#: models=keys)``): step mode costs more per cell than one worker should run alone.
BY_MODEL = ("periphery", "emulation")


def deployment_keys(cfg: ModelParams) -> list[tuple[int, int]]:
    """The deployment chapter's models as (seed, fold): every seed of every fold, folds outer."""
    return [(s, f) for f in cfg.shared.folds for s in cfg.shared.seeds]


def deployment_cells(cfg: DeploymentParams) -> dict[str, list[dict[str, Any]]]:
    """The cells of each grid of the deployment chapter, by grid name, in the order it runs them:

    - ``fig4``: every version of the array (the paper-like ``DEFAULT_ARRAY`` with each noise clip
      of ``noise_clips`` and each count of ``devices_per_element``) at each of ``fig4_bits`` and
      ``sigmas_uS`` (uS), then ``FIRST_SIMULATOR`` at each of ``dense_bits`` and ``sigmas_uS``;
    - ``levers``: the default array at ``LEVER_BITS`` and the paper's tolerated 2-bit noise (uS),
      one cell per ``gmax_sweep_uS`` (uS), the physical window widened with it;
    - ``stuck``: stuck devices on the default array at ``map_bits`` (``stuck_cells``);
    - ``periphery``: step mode at ``map_bits`` with calibrated converters (``periphery_cells``);
    - ``emulation``: the same step-mode cell with each variant of ``EMULATION_VARIANTS``.

    ``periphery`` and ``emulation`` run one task per cell and model (``BY_MODEL``)."""
    shared = cfg.shared
    variants = [
        DEFAULT_ARRAY | {"noise_clip": c, "devices_per_element": d}
        for c in cfg.noise_clips
        for d in shared.devices_per_element
    ]
    fig4 = [
        v | {"bits": b, "sigma_uS": s}
        for v in variants
        for b in cfg.fig4_bits
        for s in cfg.sigmas_uS
    ]
    fig4 += [
        FIRST_SIMULATOR | {"bits": b, "sigma_uS": s} for b in cfg.dense_bits for s in cfg.sigmas_uS
    ]
    extra = shared.g_phys_max_uS - shared.g_max_uS  # the window grows with the range
    sigma = PAPER["sigma_tolerated_2bit_uS"][0]
    levers = [
        DEFAULT_ARRAY
        | {"bits": LEVER_BITS, "sigma_uS": sigma, "g_max_uS": g, "g_phys_max_uS": g + extra}
        for g in cfg.gmax_sweep_uS
    ]
    step = {
        "bits": shared.map_bits,
        "periphery": "calibrated",
        "layout": "block",
        "devices_per_element": DEFAULT_ARRAY["devices_per_element"],
    }
    return {
        "fig4": fig4,
        "levers": levers,
        "stuck": stuck_cells(DEFAULT_ARRAY, shared.map_bits, cfg.stuck_fractions),
        "periphery": periphery_cells(step, cfg.read_noises, cfg.converter_bits),
        "emulation": [step | {"variant": v} for v in EMULATION_VARIANTS],
    }


def deployment_models(cfg: DeploymentParams) -> dict[tuple[int, int, int], Run]:
    """The chapter's fixed-range QAT runs (``runs.qat_spec``) by (bits, seed, fold): every bit
    width a cell of ``deployment_cells`` programs, and ``map_bits``, in increasing order, each on
    every model of ``deployment_keys``."""
    used = {c["bits"] for cells in deployment_cells(cfg).values() for c in cells}
    bits = sorted(used | {cfg.shared.map_bits})
    return {
        (b, s, f): qat_spec(cfg, b, "fixed", s, f) for b in bits for s, f in deployment_keys(cfg)
    }


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
