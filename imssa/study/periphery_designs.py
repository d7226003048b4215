"""The periphery chapter's designs: their keys, their cells, their models and their energy.

A design is a set of ``sweep_cell`` keys on top of the emulated array (the deployment chapter's
preset, ``PeripheryParams.emulation``), in step mode. The designs form a ladder: each is compared
with the one it changes (``DESIGN_BASE``), paired on the same models and programmings (the draws of
``programming.model_draw_seed`` do not depend on a design's keys); the rules that read their rows
are in ``periphery_summaries``. ``energy_rows`` prices each design with ``cost.analog_cost`` from
the same ``DeviceConfig`` the simulator ran.
"""

from __future__ import annotations

from typing import Any

import joblib
import numpy as np
import pandas as pd
import torch

from ..hardware.converters import Converters
from ..hardware.cost import CostConstants, analog_cost, device_conductances, digital_cost
from ..hardware.crossbar import pairs_per_weight
from ..hardware.deploy import target_conductances
from ..hardware.devices import DeviceConfig
from ..model.cache import Run
from .params import PeripheryParams
from .programming import deployable
from .runs import qat_spec
from .sweep import fill_cells

__all__ = [
    "BEST",
    "CELL_DEFAULTS",
    "DESIGN_BASE",
    "LAYER",
    "aware_software",
    "cell_defaults",
    "check_cells",
    "column_levels",
    "design_cells",
    "design_keys",
    "energy_rows",
    "aware_model_keys",
    "finetune_aware_models",
    "grid_cells",
    "ir_check_rows",
    "periphery_keys",
    "qat_models",
    "technology_cells",
    "width_cells",
    "wire_cells",
]


# : The design the deployment chapter emulates (its "all non-idealities" row): one converter range
# per layer.
LAYER = "one range per layer"
#: The design every later change is made to: per-column ranges, noise per column, offsets corrected.
BEST = "per column, offsets corrected"

#: Each design, the design it changes (None: the first), in the chapter's order.
DESIGN_BASE: dict[str, str | None] = {
    LAYER: None,
    "per-column ranges": LAYER,
    "per column, noise per column": "per-column ranges",
    "per column, offsets and gain errors": "per column, noise per column",
    BEST: "per column, offsets and gain errors",
    "bit-serial inputs": BEST,
    "per-device read noise": BEST,
    "check after programming": BEST,
    "converter-aware QAT": LAYER,
}


def qat_models(cfg: PeripheryParams) -> dict[tuple[int, int], Run]:
    """The chapter's models, the deployment chapter's: the fixed-range QAT run at ``map_bits`` of
    every training seed and fold, keyed (seed, fold), folds outer (the plan's stage 'QAT models';
    every grid runs a task per cell and key)."""
    shared = cfg.shared
    return {
        (s, f): qat_spec(cfg, shared.map_bits, "fixed", s, f)
        for f in shared.folds
        for s in shared.seeds
    }


def grid_cells(cfg: PeripheryParams) -> dict[str, list[dict[str, Any]]]:
    """The cells of each of the chapter's resumable grids, by grid name, in the chapter's order:
    what its cells run and what its plan counts (``plans.periphery``)."""
    return {
        "designs": design_cells(cfg),
        "widths": width_cells(cfg),
        "check": check_cells(cfg),
        "wires": wire_cells(cfg),
        "technologies": technology_cells(cfg),
    }


def design_keys(cfg: PeripheryParams) -> dict[str, dict[str, Any]]:
    """The ``sweep_cell`` keys of every design of ``DESIGN_BASE``, from the chapter's parameters
    (its device settings: ``cfg.design_device``)."""
    d = cfg.design_device
    column = {"periphery": "per_column"}
    noise = column | {"read_noise_model": "column"}
    offsets = noise | {
        "adc_offset_sigma": d["adc_offset_sigma"],
        "adc_gain_sigma": d["adc_gain_sigma"],
    }
    best = offsets | {"calibration_reads": d["calibration_reads"]}
    return {
        LAYER: {"periphery": "calibrated"},
        "per-column ranges": column,
        "per column, noise per column": noise,
        "per column, offsets and gain errors": offsets,
        BEST: best,
        "bit-serial inputs": best | {"input_encoding": "bit_serial"},
        "per-device read noise": best
        | {
            "read_noise_model": "device",
            "read_noise": 0.0,
            "read_noise_device": d["read_noise_device"],
        },
        "check after programming": best
        | {k: d[k] for k in ("check_tolerance", "check_max_rounds")},
        "converter-aware QAT": {"periphery": "calibrated", "converter_aware": True},
    }


def design_cells(cfg: PeripheryParams, designs: list[str] | None = None) -> list[dict[str, Any]]:
    """One step-mode cell per design (``variant``: its name) of the chapter's mapped model."""
    keys = design_keys(cfg)
    unknown = set(designs or []) - set(keys)
    if unknown:
        raise ValueError(f"unknown designs {sorted(unknown)}; known: {list(keys)}")
    cells = [
        {"bits": cfg.shared.map_bits, "layout": "block", "variant": name} | keys[name]
        for name in (designs or keys)
    ]
    return fill_cells(cells, cell_defaults(cfg.emulation_device()))


def width_cells(cfg: PeripheryParams) -> list[dict[str, Any]]:
    """The converter-width sweep, step mode without read noise (the converters alone): DAC = ADC
    width ``b`` of each of ``cfg.converter_bits`` with one range per layer ('calibrated', variant
    'one range, <b> bits') and with per-column ranges ('per column, <b> bits'); ``value``: b."""
    ranges = (("calibrated", "one range"), ("per_column", "per column"))
    return [
        {
            "bits": cfg.shared.map_bits,
            "layout": "block",
            "periphery": p,
            "read_noise": 0.0,
            "dac_bits": b,
            "adc_bits": b,
            "variant": f"{label}, {b} bits",
            "value": float(b),
        }
        for b in cfg.converter_bits
        for p, label in ranges
    ]


def check_cells(cfg: PeripheryParams) -> list[dict[str, Any]]:
    """The check after programming, fast mode: every programming noise of ``cfg.check.sigmas_uS``
    (uS) as programmed and checked (the design device's ``check_tolerance`` and
    ``check_max_rounds``), variants of the same first programming."""
    checked = {k: cfg.design_device[k] for k in ("check_tolerance", "check_max_rounds")}
    checks = {"as programmed": {}, "checked": checked}
    return [
        {"bits": cfg.shared.map_bits, "sigma_uS": s, "variant": v} | k
        for v, k in checks.items()
        for s in cfg.check.sigmas_uS
    ]


def wire_cells(cfg: PeripheryParams) -> list[dict[str, Any]]:
    """Wire resistance, fast mode at the emulated array's programming noise: ideal wires first
    (the base of every other cell), then each of ``cfg.wire_resistance_ohm`` (Ohm per segment)
    with each of ``cfg.channels_per_array`` channels packed on one array."""
    bits, sigma = cfg.shared.map_bits, cfg.emulation_device().sigma_uS
    return [{"bits": bits, "sigma_uS": sigma, "variant": "ideal wires"}] + [
        {
            "bits": bits,
            "sigma_uS": sigma,
            "wire_resistance_ohm": r,
            "channels_per_array": k,
            "variant": f"{r:g} Ohm, {k} per array",
        }
        for r in cfg.wire_resistance_ohm
        for k in cfg.channels_per_array
    ]


#: Cell keys other than device keys that a cell without them runs with (``cell_defaults``).
CELL_DEFAULTS: dict[str, Any] = {"converter_aware": False}


def cell_defaults(dev: DeviceConfig) -> dict[str, Any]:
    """The value every cell key has where a cell does not set it (``sweep.fill_cells``): a device
    key ``dev``'s own, the others ``CELL_DEFAULTS``."""
    return dev.model_dump() | CELL_DEFAULTS


def periphery_keys(cfg: PeripheryParams) -> dict[str, Any]:
    """Only the emulated array's converters and read noise (its ``Converters`` part), to put in
    front of another device (a technology preset brings its own window and noise)."""
    return cfg.emulation_device().part(Converters).model_dump()


def column_levels(cfg: PeripheryParams, keys: list[tuple[int, int]]) -> pd.DataFrame:
    """How many of the ADC's levels each column's signal spans (its ideal peak on the clips that set
    the ranges, over the LSB) with one range per layer and with per-column ranges, at the emulated
    array's ADC width. Per model: the share of state columns that are silent (a mode whose quantized
    B_bar or C is zero never carries a signal: its range is ``ranges.SILENT_RANGE``), the median and
    10th percentile over the active state columns, and the readout column's median over channels.
    One row per (seed, fold, ranges)."""
    from ..hardware.periphery import levels
    from ..hardware.ranges import SILENT_RANGE

    top = levels(cfg.emulation_device().adc_bits)
    out = []
    for seed, fold in keys:
        column = deployable(cfg, cfg.shared.map_bits, seed, fold, None, "per_column")[2]
        layer = deployable(cfg, cfg.shared.map_bits, seed, fold, None, "calibrated")[2]
        peak = np.array(
            column["column_ranges"]
        )  # headroom x peak; the headroom cancels in the ratio below
        states = peak[:, :-1]
        active = states > 2 * SILENT_RANGE  # the headroom times SILENT_RANGE marks a silent column
        for name, full in (("one range per layer", layer["adc_range"]), ("per column", peak)):
            used = top * peak / full
            on = used[:, :-1][active]
            out.append(
                {
                    "seed": seed,
                    "fold": fold,
                    "ranges": name,
                    "silent_state_share": float(1 - active.mean()),
                    "active_state_levels_median": float(np.median(on)) if on.size else float("nan"),
                    "active_state_levels_p10": float(np.percentile(on, 10))
                    if on.size
                    else float("nan"),
                    "readout_levels_median": float(np.median(used[:, -1])),
                }
            )
    return pd.DataFrame(out)


def finetune_aware_models(
    cfg: PeripheryParams, keys: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Fine-tune the converter-aware models (those of ``cfg.aware_seeds``, every fold of ``keys``)
    side by side on ``cfg.shared.workers`` processes of one torch thread each, into the cache that
    the designs' cells and ``aware_software`` read (``programming.converter_aware_model``): the
    one design cell that needs them would otherwise fine-tune them one after another. Returns
    their keys."""
    todo = aware_model_keys(cfg, keys)
    jobs = (joblib.delayed(_finetune_aware)(cfg.model_dump_json(), s, f) for s, f in todo)
    joblib.Parallel(n_jobs=min(cfg.shared.workers, max(len(todo), 1)))(jobs)
    return todo


def aware_model_keys(cfg: PeripheryParams, keys: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The (seed, fold) keys of ``keys`` whose model is fine-tuned for the converters: those of
    ``cfg.aware_seeds``."""
    return [(s, f) for s, f in keys if s in cfg.aware_seeds]


def _finetune_aware(cfg_json: str, seed: int, fold: int) -> None:
    torch.set_num_threads(1)
    cfg = PeripheryParams.model_validate_json(cfg_json)
    deployable(cfg, cfg.shared.map_bits, seed, fold, None, "unbounded", None, True)


def aware_software(cfg: PeripheryParams, keys: list[tuple[int, int]]) -> pd.DataFrame:
    """The software (digital, ideal-array) test accuracy of every converter-aware model (the models
    of ``cfg.aware_seeds``) beside its plain QAT model's: what fine-tuning for the converters gives
    up where there are none. One row per (seed, fold)."""
    from ..model.train import evaluate

    out = []
    for seed, fold in keys:
        if seed not in cfg.aware_seeds:
            continue
        plain, test, _ = deployable(cfg, cfg.shared.map_bits, seed, fold, None, "unbounded")
        aware = deployable(cfg, cfg.shared.map_bits, seed, fold, None, "unbounded", None, True)[0]
        out.append(
            {
                "seed": seed,
                "fold": fold,
                "plain_qat": evaluate(plain, test)[0],
                "converter_aware": evaluate(aware, test)[0],
            }
        )
    return pd.DataFrame(out)


def energy_rows(
    cfg: PeripheryParams,
    designs: list[str],
    seed: int,
    fold: int,
    c: CostConstants = CostConstants(),
) -> pd.DataFrame:
    """Energy per inference (pJ) and latency per step (us) of every design, from the same
    ``DeviceConfig`` the simulator runs (the emulated array with the design's keys: its converter
    widths, input encoding, per-column ranges and correction), for the model (``seed``, ``fold``),
    beside the digital MAC unit at the model's bits; ADC, DAC and array parts apart."""
    net = deployable(cfg, cfg.shared.map_bits, seed, fold, None, "unbounded")[0]
    H, N = cfg.shared.model.H, cfg.shared.model.N
    lay = cfg.shared.block_layout(cfg.shared.devices_per_element[0])
    emulated = cfg.emulation_device()
    G = device_conductances(
        target_conductances(net, emulated, "block"),
        pairs_per_weight(cfg.shared.devices_per_element[0]),
    )
    keys = design_keys(cfg)
    digital = digital_cost(
        H, N, (cfg.shared.map_bits,) * 3, cfg.shared.data.length, len(cfg.shared.data.digits), c
    )
    out = []
    for name in designs:
        k = keys[name]
        bit_serial = emulated.dac_bits if k.get("input_encoding") == "bit_serial" else None
        ranges = deployable(cfg, cfg.shared.map_bits, seed, fold, None, k["periphery"], bit_serial)[
            2
        ]
        dev = DeviceConfig.model_validate(
            emulated.model_dump()
            | ranges
            | {f: v for f, v in k.items() if f in DeviceConfig.model_fields}
        )
        est = analog_cost(
            G,
            lay,
            N,
            cfg.shared.data.length,
            len(cfg.shared.data.digits),
            dev.adc_bits,
            c,
            periphery=dev,
        )
        parts = est.breakdown_pJ_per_inference
        out.append(
            {
                "variant": name,
                "energy_pJ_per_inference": est.energy_pJ_per_inference,
                "adc_pJ": parts["adc"],
                "dac_pJ": parts["dac"],
                "array_pJ": parts["array"],
                "digital_periphery_pJ": est.energy_pJ_per_inference
                - parts["adc"]
                - parts["dac"]
                - parts["array"],
                "latency_us_per_step": est.latency_us_per_step,
                "digital_pJ_per_inference": digital.energy_pJ_per_inference,
                "analog_over_digital": est.energy_pJ_per_inference
                / digital.energy_pJ_per_inference,
            }
        )
    return pd.DataFrame(out)


def ir_check_rows(sizes: list[tuple[int, int]], r_ohm: list[float], seed: int = 0) -> pd.DataFrame:
    """The nodal solve (``wires.effective_conductance``) against ``badcrossbar`` on random arrays of
    the given (rows, columns), conductances uniform on [10, 150] uS, read voltages on [-0.2, 0.2] V:
    the largest relative output-current error, and the largest relative current loss to IR drop."""
    import logging

    import badcrossbar

    from ..hardware.wires import effective_conductance

    logging.getLogger().setLevel(logging.WARNING)  # badcrossbar logs every solve at INFO
    rng = np.random.default_rng(seed)
    out = []
    for M, N in sizes:
        G = rng.uniform(10e-6, 150e-6, (M, N))
        V = rng.uniform(-0.2, 0.2, (M, 4))
        for r in r_ohm:
            ref = badcrossbar.compute(V, 1 / G, r_i=r).currents.output  # (4, N)
            ours = (effective_conductance(G, r).T @ V).T
            ideal = (G.T @ V).T
            out.append(
                {
                    "rows": M,
                    "cols": N,
                    "r_ohm": r,
                    "max_rel_error_vs_badcrossbar": float(
                        np.abs(ours - ref).max() / np.abs(ref).max()
                    ),
                    "max_rel_ir_drop": float(np.abs(ours - ideal).max() / np.abs(ideal).max()),
                }
            )
    return pd.DataFrame(out)


def technology_cells(cfg: PeripheryParams) -> list[dict[str, Any]]:
    """Step-mode cells of every technology of the technologies chapter (``presets.TECHNOLOGIES``),
    its programming noise scaled by each of ``cfg.technology_scales``, under the design ``BEST``."""
    from ..hardware.presets import TECHNOLOGIES

    best = design_keys(cfg)[BEST]
    return [
        {
            "bits": cfg.shared.map_bits,
            "layout": "block",
            "technology": t,
            "sigma_scale": s,
            "variant": f"{t}, noise x{s:g}",
        }
        | best
        for t in TECHNOLOGIES
        for s in cfg.technology_scales
    ]
