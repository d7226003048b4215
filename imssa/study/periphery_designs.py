"""The periphery chapter's designs, their cells and the rules that read their rows.

A design is a set of ``sweep_cell`` keys on top of the emulated array (the deployment chapter's
preset, ``PeripheryParams.emulation``), in step mode. The designs form a ladder: each is compared
with the one it changes (``DESIGN_BASE``), paired on the same models and programmings (the draws of
``programming.model_draw_seed`` do not depend on a design's keys), and the family of these planned
comparisons is Holm-corrected. ``energy_rows`` prices each design with ``cost.analog_cost`` from the
same ``DeviceConfig`` the simulator ran.
"""

from __future__ import annotations

from typing import Any

import joblib
import numpy as np
import pandas as pd
import torch

from ..hardware.converters import Converters
from ..hardware.cost import CostConstants, analog_cost, device_conductances, digital_cost
from ..hardware.crossbar import layout, pairs_per_weight
from ..hardware.deploy import target_conductances
from ..hardware.devices import DeviceConfig
from ..stats.paired import holm_family
from ..stats.programmings import drops_from, paired_contrast, realisation_summary
from ..stats.verdicts import contrast_phrase, table_verdicts
from .params import PeripheryParams
from .programming import deployable
from .sweep import fill_cells

__all__ = [
    "BEST",
    "CELL_DEFAULTS",
    "DESIGN_BASE",
    "LAYER",
    "aware_software",
    "cell_defaults",
    "column_levels",
    "design_cells",
    "design_contrasts",
    "design_keys",
    "design_summary",
    "energy_rows",
    "finetune_aware_models",
    "headline_contrast",
    "ir_check_rows",
    "paired_by_sigma",
    "periphery_conclusion",
    "periphery_keys",
    "technology_cells",
    "check_summary",
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


def design_summary(rows: pd.DataFrame, software: pd.DataFrame, n_test: int) -> pd.DataFrame:
    """Per design (``variant``): accuracy over folds (``realisation_summary``), the paired gap to
    the same model in software (points, interval over folds), the failure share and the failures by
    cause. ``software``: one row per model (``seed``, ``fold``, ``accuracy``)."""
    acc = realisation_summary(rows, ["variant"], n_test).set_index("variant")
    gaps = drops_from(rows, software, key=("seed", "fold"))
    gap = realisation_summary(
        gaps.assign(accuracy=gaps["drop_points"]), ["variant"], None
    ).set_index("variant")
    out = acc[["mean", "ci_low", "ci_high", "failure_share", "folds", "programmings"]].join(
        gap[["mean", "ci_low", "ci_high"]].rename(
            columns=lambda c: f"gap_{c}_points".replace("_mean", "")
        )
    )
    causes = (
        rows[rows["failure"] != ""]
        .groupby("variant")["failure"]
        .agg(lambda f: "; ".join(f"{k}: {v}" for k, v in f.value_counts().items()))
    )
    out["failures by cause"] = causes.reindex(out.index).fillna("")
    order = [d for d in DESIGN_BASE if d in out.index] + [
        d for d in out.index if d not in DESIGN_BASE
    ]
    return out.loc[order]


def design_contrasts(
    rows: pd.DataFrame, base: dict[str, str | None] | None = None, family: str = "periphery designs"
) -> pd.DataFrame:
    """Each design minus the design it changes (``DESIGN_BASE``), paired on model and programming
    (``stats.programmings.paired_contrast``): difference (points), t interval over folds, the t
    test's p and the exact sign-flip p (whose floor is 2 / 2^folds), Holm's adjustment of the t
    test's p over this family (``stats.paired.holm_family``, as every chapter: the t interval is the
    one whose coverage was checked at 3 and 6 folds), and its ``verdict``
    (``stats.verdicts.verdict``)."""
    base = DESIGN_BASE if base is None else base
    pairs = [(d, b) for d, b in base.items() if b is not None and {d, b} <= set(rows["variant"])]
    out = pd.concat(
        [
            paired_contrast(_common(rows, d, b).assign(all="all"), "variant", d, b, ["all"])
            for d, b in pairs
        ]
    )
    out = out.drop(columns="all").rename(columns={"a": "design", "b": "changed from"})
    return holm_family(out.reset_index(drop=True), family)


def _common(
    rows: pd.DataFrame, a: str, b: str, key: tuple[str, ...] = ("seed", "fold", "realisation")
) -> pd.DataFrame:
    """The rows of variants ``a`` and ``b`` on the programmings (``key``) both have: a design run on
    fewer models (converter-aware QAT: ``aware_seeds``) is compared on those models only."""
    part = rows[rows["variant"].isin([a, b])]
    both = part.groupby(list(key))["variant"].transform("nunique") == 2
    return part[both]


def finetune_aware_models(
    cfg: PeripheryParams, keys: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Fine-tune the converter-aware models (those of ``cfg.aware_seeds``, every fold of ``keys``)
    side by side on ``cfg.shared.workers`` processes of one torch thread each, into the cache that
    the designs' cells and ``aware_software`` read (``programming.converter_aware_model``): the
    one design cell that needs them would otherwise fine-tune them one after another. Returns
    their keys."""
    todo = [(s, f) for s, f in keys if s in cfg.aware_seeds]
    jobs = (joblib.delayed(_finetune_aware)(cfg.model_dump_json(), s, f) for s, f in todo)
    joblib.Parallel(n_jobs=min(cfg.shared.workers, max(len(todo), 1)))(jobs)
    return todo


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


def headline_contrast(rows: pd.DataFrame) -> pd.DataFrame:
    """The chapter's headline: ``BEST`` minus ``LAYER`` (points), paired on model and programming,
    with its t interval over folds, the t test's and the exact sign-flip p: a family of one planned
    comparison, so no correction: its ``verdict`` reads the t test's p. The report reads it."""
    out = paired_contrast(rows.assign(all="all"), "variant", BEST, LAYER, ["all"]).drop(
        columns="all"
    )
    return out.assign(verdict=table_verdicts(out, p="p_t"))


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
    lay = layout(
        H,
        2 * N + 1,
        cfg.shared.rows,
        cfg.shared.cols,
        kind="block",
        devices_per_element=cfg.shared.devices_per_element[0],
    )
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


def check_summary(
    rows: pd.DataFrame,
    n_test: int,
    cfg: PeripheryParams,
    seed: int,
    fold: int,
    c: CostConstants = CostConstants(),
) -> pd.DataFrame:
    """Per variant and sigma of the check's sweep: accuracy over folds and failure share
    (``realisation_summary``), and per programming the mean channel reprogrammings, channels still
    failing, pulses per device and the time programming takes: every pulse one after another at
    ``cfg.pulse_time_s`` (ASSUMPTION: one device at a time, an upper bound) plus, per round of the
    check, one impulse response of ``check_steps`` array reads of ``c.t_read_s`` (the channels in
    parallel)."""
    lay = layout(
        cfg.shared.model.H,
        2 * cfg.shared.model.N + 1,
        cfg.shared.rows,
        cfg.shared.cols,
        kind="block",
        devices_per_element=cfg.shared.devices_per_element[0],
    )
    steps = DeviceConfig().check_steps
    checked = rows["check_tolerance"].astype(str) != ""  # the rows of cells with the check
    rows = rows.assign(
        programming_time_s=rows["pulses_per_device"] * lay.devices * cfg.pulse_time_s
        + (rows["check_rounds"] + 1) * steps * c.t_read_s * checked
    )
    acc = realisation_summary(rows, ["variant", "sigma_uS"], n_test).set_index(
        ["variant", "sigma_uS"]
    )
    means = rows.groupby(["variant", "sigma_uS"])[
        ["channels_reprogrammed", "channels_failing", "pulses_per_device", "programming_time_s"]
    ].mean()
    return acc[["mean", "ci_low", "ci_high", "failure_share"]].join(means).reset_index()


def paired_by_sigma(rows: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """Variant ``a`` minus ``b`` per sigma > 0, paired on model and programming (points), with the
    t interval over folds, the t test's and the exact sign-flip p, Holm's p (of the t test) over the
    sigmas and its ``verdict``."""
    part = rows[rows["variant"].isin([a, b]) & (rows["sigma_uS"] > 0)]
    return holm_family(
        paired_contrast(part, "variant", a, b, ["sigma_uS"]), f"{a} against {b}, per sigma"
    )


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


def _span(mean: float, low: float, high: float) -> str:
    return f"{mean:.1f} [{low:.1f}, {high:.1f}]"


def periphery_conclusion(
    summary: pd.DataFrame,
    contrasts: pd.DataFrame,
    widths: pd.DataFrame,
    check: pd.DataFrame,
    wires: pd.DataFrame,
) -> pd.DataFrame:
    """The chapter's findings in words, each with the numbers it rests on (points; intervals over
    folds): the emulated gap to software with one range per layer and with the design ``BEST``; the
    changes of the ladder that are resolved after Holm; per-column ranges at every converter width;
    the check's effect on the failure share at the largest sigma; the largest effect of wire
    resistance."""
    rows = []
    for name in (LAYER, BEST):
        if name in summary.index:
            s = summary.loc[name]
            gap = _span(s["gap_points"], s["gap_ci_low_points"], s["gap_ci_high_points"])
            rows.append(
                {
                    "finding": f"gap to software, {name}",
                    "evidence": f"{gap} points; "
                    f"{100 * s['failure_share']:.0f}% of programmings failed",
                }
            )
    for r in contrasts.itertuples():
        rows.append(
            {
                "finding": contrast_phrase(r.design, r._2, r.verdict),
                "evidence": f"{_span(r.difference_points, r.ci_low, r.ci_high)} points, "
                f"Holm p {r.p_holm:.3g}",
            }
        )
    for r in widths.itertuples():
        rows.append(
            {
                "finding": contrast_phrase(r.design, "one range", r.verdict),
                "evidence": f"{_span(r.difference_points, r.ci_low, r.ci_high)} points, "
                f"Holm p {r.p_holm:.3g}",
            }
        )
    top = check["sigma_uS"].max()
    at = check[check["sigma_uS"] == top].set_index("variant")
    if {"as programmed", "checked"} <= set(at.index):
        rows.append(
            {
                "finding": f"the check after programming at sigma = {top:g} uS",
                "evidence": "failure share "
                f"{100 * at.loc['as programmed', 'failure_share']:.0f}% -> "
                f"{100 * at.loc['checked', 'failure_share']:.0f}%, "
                f"{at.loc['checked', 'channels_reprogrammed']:.1f} channel reprogrammings per "
                f"programming, {at.loc['checked', 'programming_time_s'] * 1e3:.1f} ms of "
                "programming",
            }
        )
    w = wires.iloc[wires["difference_points"].abs().argmax()]
    rows.append(
        {
            "finding": f"largest effect of wire resistance ({w['design']}): {w['verdict']}",
            "evidence": f"{_span(w['difference_points'], w['ci_low'], w['ci_high'])} points",
        }
    )
    return pd.DataFrame(rows)
