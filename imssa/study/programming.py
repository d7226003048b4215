"""Programming sweeps: each cell of a sweep programs the arrays of every trained (seed, fold) model.

A cell is a dict: ``bits`` (and ``r_max`` for the stability-margin models) names the models;
``technology`` (a ``presets.PRESETS`` name) replaces the parameters' conductance window by a whole
device preset; keys that are ``DeviceConfig`` fields (``sigma_uS``, ``noise_clip``,
``stuck_at_gmax``, ``g_max_uS``, ``read_noise``, ``adc_bits``, ...) change the device; ``t_s`` (s
after programming, default 0) is the time at which the arrays are read; ``noise_model`` other than
'state-dependent' replaces the programming noise by a constant one of the same error over the
model's targets ('gaussian', 'laplace', 'student_t'; matched by ``match``, 'rms' or 'mean_abs';
``noise.matched_noise``); ``layout``, ``devices_per_element``, ``real_zeros`` (the off-diagonal
cross-points of real poles left unprogrammed, ``deploy.deployed_weights``; False by default) and
``periphery`` ('saturating': converter ranges at ``headroom`` times the ideal peaks; 'calibrated' (a
label kept for the results): ranges with 10% headroom, for step mode with converters; 'unbounded')
place it. Cells run in worker processes (``sweep.resumable_grid``): each worker loads a model from
the model cache once (``deployable``), instead of receiving every model with every cell.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from ..data.audio import AudioSet
from ..hardware.analog import simulate_fast
from ..hardware.aware import finetune
from ..hardware.crossbar import Layout, layout
from ..hardware.deploy import deployed_weights, spectral_radius, target_conductances
from ..hardware.devices import DeviceConfig
from ..hardware.margin import (
    instability_probability,
    pole_radii,
    pole_values,
    predicted_sigma_star,
    weight_noise_std,
)
from ..hardware.noise import matched_noise
from ..hardware.presets import preset
from ..hardware.ranges import converter_ranges
from ..hardware.realisations import noise_rows, realisation_rows
from ..hardware.stack import stack_run
from ..hardware.step import simulate_step
from ..model.cache import Run
from ..model.s4d import (
    DiscreteSSM,
    frequency_response,
    init_A,
    ssm_conv,
    ssm_kernel,
    ssm_recurrent,
    zoh,
)
from ..model.train import SpeechClassifier, evaluate
from ..seeds import programming_seed
from .deployed import load_model
from .params import ModelParams, PeripheryParams
from .runs import margin_spec, qat_spec

__all__ = [
    "CONVERTER_BITS",
    "LABEL_KEYS",
    "ONE_POLE_MARGINS",
    "PERIPHERIES",
    "PREDICTED_SIGMA_STARS",
    "READ_NOISE",
    "STUCK_AT",
    "deployable",
    "device_counts",
    "discrete_ssms",
    "eigenvalue_table",
    "exact_accuracy_row",
    "exactness_table",
    "failure_at_sigma_fail",
    "frequency_response_table",
    "instability_chance",
    "kernel_table",
    "margin_stars",
    "matrix_facts",
    "median_predicted_sigma_star",
    "mode_agreement",
    "one_pole_sigma_stars",
    "periphery_cells",
    "periphery_rows",
    "periphery_setting",
    "placement_facts",
    "predicted_sigma_stars",
    "radius_cell",
    "real_zeros_tables",
    "stuck_cells",
    "stuck_device",
    "sweep_cell",
]

#: Converter range of a periphery, as the headroom over the ideal array's peaks on training clips
#: (None: ``headroom`` of the parameters; 'unbounded': no saturation at all). 'per_column': a range
#: per row and column (``ranges.layer_converter_ranges``), the others one per layer.
PERIPHERIES: dict[str, float | None] = {
    "saturating": None,
    "calibrated": 1.1,
    "per_column": 1.1,
    "unbounded": None,
}


def deployable(
    cfg: ModelParams,
    bits: int,
    seed: int,
    fold: int,
    r_max: float | None = None,
    periphery: str = "saturating",
    bit_serial_dac_bits: int | None = None,
    converter_aware: bool = False,
) -> tuple[SpeechClassifier, AudioSet, dict[str, Any]]:
    """The trained model (QAT chapter's, or the margin study's at ``r_max``), its test clips and its
    converter ranges for ``periphery`` ({} if unbounded; with ``bit_serial_dac_bits``, also the
    ranges of bit-serial partial sums). ``converter_aware``: the QAT model fine-tuned with the
    emulated array's converters in the forward pass (``converter_aware_model``; the parameters
    must be a periphery chapter's). Cached per process."""
    if periphery not in PERIPHERIES:
        raise ValueError(f"periphery must be one of {sorted(PERIPHERIES)}, got {periphery!r}")
    return _deployable(
        cfg.model_dump_json(),
        type(cfg),
        bits,
        seed,
        fold,
        r_max,
        periphery,
        bit_serial_dac_bits,
        converter_aware,
    )


@functools.lru_cache(maxsize=256)
def _deployable(
    cfg_json: str,
    kind: type,
    bits: int,
    seed: int,
    fold: int,
    r_max: float | None,
    periphery: str,
    bit_serial_dac_bits: int | None,
    converter_aware: bool,
) -> tuple[SpeechClassifier, AudioSet, dict[str, Any]]:
    cfg = kind.model_validate_json(cfg_json)
    run = (
        qat_spec(cfg, bits, "fixed", seed, fold)
        if r_max is None
        else margin_spec(cfg, bits, r_max, seed, fold)
    )
    net, splits, _ = load_model(run, len(cfg.shared.data.digits))
    if converter_aware:
        if not isinstance(cfg, PeripheryParams):
            raise ValueError(
                f"converter-aware models are the periphery chapter's (its aware_* settings), "
                f"not {kind.__name__}'s"
            )
        net = converter_aware_model(cfg, run, net, splits.train.x)
    if periphery == "unbounded":
        return net, splits.test, {}
    headroom = PERIPHERIES[periphery] or cfg.shared.headroom
    return (
        net,
        splits.test,
        converter_ranges(
            net,
            splits.train.x,
            headroom,
            per_column=periphery == "per_column",
            bit_serial_dac_bits=bit_serial_dac_bits,
        ),
    )


def converter_aware_model(
    cfg: PeripheryParams, run: Run, net: SpeechClassifier, train_x: Tensor
) -> SpeechClassifier:
    """``net`` (the QAT model of ``run``) fine-tuned with the emulated array's converters in the
    forward pass (``aware.finetune``): its DAC and ADC widths over one range per layer, set
    from ``train_x`` with 10% headroom (as step mode), for ``cfg``'s ``aware_epochs`` epochs at
    ``aware_lr`` in batches of ``aware_batch_size``."""
    emulated = cfg.emulation_device()
    dev = DeviceConfig(
        dac_bits=emulated.dac_bits,
        adc_bits=emulated.adc_bits,
        **converter_ranges(net, train_x, PERIPHERIES["calibrated"]),
    )
    state = finetune(
        run.data,
        run.model,
        net.state_dict(),
        dev,
        cfg.aware_epochs,
        cfg.aware_lr,
        cfg.aware_batch_size,
        run.train.seed,
    )
    tuned = SpeechClassifier(run.model, len(cfg.shared.data.digits))
    tuned.load_state_dict(state)
    return tuned.eval()


#: Cell keys that only label a cell (kept in its rows, ignored by ``sweep_cell``).
LABEL_KEYS = frozenset({"variant", "sweep", "value", "array"})
_PLACEMENT = frozenset(
    {
        "bits",
        "r_max",
        "layout",
        "devices_per_element",
        "periphery",
        "technology",
        "noise_model",
        "match",
        "real_zeros",
        "converter_aware",
        "t_s",
    }
)
_NOISE_MODELS = ("state-dependent", "gaussian", "laplace", "student_t")


def model_draw_seed(cell: dict[str, Any], seed: int, fold: int, base: int | None = None) -> int:
    """Seed of the programmings of the QAT model (``cell['bits']``, ``cell['r_max']``) of training
    ``seed`` and ``fold`` at the cell's ``sigma_uS`` (``seeds.programming_seed``); the cell's other
    keys (variants of that model) do not enter. ``base``: a further seed of the sweep."""
    model = (cell["bits"], cell.get("r_max"), seed, fold)
    return programming_seed("qat model", model, cell.get("sigma_uS"), base)


def sweep_cell(
    cfg: ModelParams,
    cell: dict[str, Any],
    keys: list[tuple[int, int]],
    realisations: int,
    mode: str = "fast",
    seed: int | None = None,
    device: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One row per programming of every model ``keys`` = [(seed, fold), ...] under ``cell``.

    The device is the parameters' window (g_min, g_max, g_phys_max), or the cell's ``technology``,
    updated by ``device`` (e.g. an emulation preset), then by the periphery's converter ranges, then
    by the cell's own device keys. The draws of each model come from ``model_draw_seed``: every
    model (bits, pole cap, training seed, fold) its own, every variant of one model (array,
    clipping rule, technology, periphery, layout, ``real_zeros``) the same ones, so that comparing
    variants stays paired; ``seed`` (needed in step mode or without ``sigma_uS``) enters too.
    Rows carry ``seed``, ``fold`` and ``max_abs_A_bar`` (the model's largest pole radius). The cell
    is checked (``_check_cell``) before any model is loaded.
    """
    noise_model = _check_cell(cell)
    by_sigma = "sigma_uS" in cell and mode == "fast"
    if not by_sigma and seed is None:
        raise ValueError("a cell without sigma_uS, or in step mode, needs a seed")
    place = _placement(cell)
    rows = []
    for s, f in keys:
        net, test, ranges = deployable(
            cfg,
            cell["bits"],
            s,
            f,
            cell.get("r_max"),
            cell.get("periphery", "saturating"),
            _bit_serial_bits(cell, device),
            bool(cell.get("converter_aware", False)),
        )
        dev = _device(cfg, cell, net, ranges, device, by_sigma, noise_model, place)
        if by_sigma:
            new = noise_rows(
                net, test, cell["sigma_uS"], dev, realisations, model_draw_seed(cell, s, f), **place
            )
        else:
            new = realisation_rows(
                net,
                test,
                [dev],
                realisations,
                model_draw_seed(cell, s, f, seed),
                mode=mode,
                **place,
            )
        radius = float(pole_radii(net).max())
        rows += [r | {"seed": s, "fold": f, "max_abs_A_bar": radius} for r in new]
    return rows


def radius_cell(
    cfg: ModelParams,
    cell: dict[str, Any],
    keys: list[tuple[int, int]],
    realisations: int,
    device: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The spectral radius of every programming that ``sweep_cell`` makes of a fast-mode cell with
    ``sigma_uS``, without running a clip: one row per programming (``seed``, ``fold``,
    ``realisation``, ``spectral_radius``). The device, the placement and the draws
    (``model_draw_seed``) are the sweep's, so the radii are the sweep's, and cells that differ only
    in ``real_zeros`` are paired on the same draws."""
    noise_model = _check_cell(cell)
    if "sigma_uS" not in cell:
        raise ValueError("radius_cell takes the cells of a sigma sweep: the cell needs sigma_uS")
    place, rows = _placement(cell), []
    for s, f in keys:
        net = deployable(cfg, cell["bits"], s, f, cell.get("r_max"), "unbounded")[
            0
        ]  # ranges: no effect on W
        dev = _device(cfg, cell, net, {}, device, True, noise_model, place)
        dev = dev.model_copy(update={"sigma_uS": cell["sigma_uS"]})
        W = deployed_weights(
            net,
            dev,
            realisations if dev.random_at(place["t_s"]) else 1,
            model_draw_seed(cell, s, f),
            **place,
        )
        rows += [
            {"seed": s, "fold": f, "realisation": r, "spectral_radius": float(rho)}
            for r, rho in enumerate(spectral_radius(W).tolist())
        ]
    return rows


def _bit_serial_bits(cell: dict[str, Any], device: dict[str, Any] | None) -> int | None:
    """The DAC width of a cell whose inputs are bit-serial (its own keys over ``device``), else
    None."""
    merged = (device or {}) | cell
    return merged.get("dac_bits") if merged.get("input_encoding") == "bit_serial" else None


def _check_cell(cell: dict[str, Any]) -> str:
    """Reject unknown keys, technologies and noise models before any work; the cell's noise
    model."""
    DeviceConfig.check_keys(set(cell) - _PLACEMENT - LABEL_KEYS, "sweep cell")
    if "technology" in cell:
        preset(cell["technology"])  # raises for an unknown name
    noise_model = cell.get("noise_model", "state-dependent")
    if noise_model not in _NOISE_MODELS:
        raise ValueError(f"noise_model must be one of {_NOISE_MODELS}, got {noise_model!r}")
    return noise_model


def _placement(cell: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments that place a cell's model on the arrays and read them at a time
    (``realisations.realisation_rows``)."""
    return {
        "layout": cell.get("layout", "block"),
        "devices_per_element": cell.get("devices_per_element", 16),
        "real_zeros": bool(cell.get("real_zeros", False)),
        "t_s": float(cell.get("t_s", 0.0)),
    }


def _device(
    cfg: ModelParams,
    cell: dict[str, Any],
    net: SpeechClassifier,
    ranges: dict[str, float],
    device: dict[str, Any] | None,
    by_sigma: bool,
    noise_model: str,
    place: dict[str, Any],
) -> DeviceConfig:
    """A cell's device (``sweep_cell``), without the cell's ``sigma_uS`` where ``by_sigma``."""
    own = {
        k: v
        for k, v in cell.items()
        if k in DeviceConfig.model_fields and not (by_sigma and k == "sigma_uS")
    }
    window = (
        {
            "g_min_uS": cfg.shared.g_min_uS,
            "g_max_uS": cfg.shared.g_max_uS,
            "g_phys_max_uS": cfg.shared.g_phys_max_uS,
        }
        if "technology" not in cell
        else preset(cell["technology"]).model_dump()
    )
    dev = DeviceConfig(**(window | (device or {}) | ranges | own))
    if noise_model != "state-dependent":
        targets = target_conductances(net, dev, place["layout"], place["real_zeros"])
        dev = matched_noise(dev, targets, noise_model, cell.get("match", "rms"))
    return dev


# The crossbar-mapping chapter's tables: the mapped matrix, its placement, the device counts of
# the layouts, and the check that the ideal array computes what the digital model computes.


def matrix_facts(q: DiscreteSSM, W: Tensor, test_accuracy: float) -> pd.Series:
    """The mapped layer's sizes: channels H, complex modes N and the matrix size n = 2N+1 of the
    combined matrices ``W`` (H, n, n) of the discrete model ``q``, the number of distinct weight
    values in ``W``, and the digital model's test accuracy (a fraction)."""
    return pd.Series(
        {
            "channels H": W.shape[0],
            "complex modes N": q.A_bar.shape[1],
            "matrix size n = 2N+1": W.shape[-1],
            "distinct weight values": int(torch.unique(W).numel()),
            "test accuracy (digital)": test_accuracy,
        }
    )


def placement_facts(lay: Layout, W: Tensor) -> pd.Series:
    """Where the channel blocks of ``W`` (H, n, n) sit in layout ``lay``: array and block sizes
    (cross-points), blocks per array, arrays per block, arrays, programmed devices, non-zero
    weights and the utilisation (a fraction, three decimals)."""
    n = W.shape[-1]
    return pd.Series(
        {
            "array (rows x cols)": f"{lay.rows} x {lay.cols}",
            "block (rows x cols)": f"{n} x {2 * n}",
            "blocks per array": lay.blocks_per_array,
            "arrays per block": lay.row_tiles_per_block * lay.col_tiles_per_block,
            "arrays": lay.arrays,
            "devices programmed": lay.devices,
            "non-zero weights": int((W != 0).sum()),
            "utilisation": round(lay.utilisation, 3),
        }
    )


def device_counts(
    H: int, n: int, rows: int, cols: int, kinds: list[tuple[str, int]]
) -> pd.DataFrame:
    """Devices, cross-points and arrays of H channels of size n on ``rows`` x ``cols`` arrays, one
    row per (layout, devices per element) of ``kinds`` (``crossbar.layout``)."""
    counts = []
    for kind, d in kinds:
        lay = layout(H, n, rows, cols, kind, d)
        counts.append(
            {
                "layout": kind,
                "devices per element": d,
                "devices programmed": lay.devices,
                "cross-points of the blocks": lay.cross_points,
                "arrays": lay.arrays,
                "utilisation": round(lay.utilisation, 3),
            }
        )
    return pd.DataFrame(counts)


@torch.no_grad()
def exactness_table(
    net: SpeechClassifier, q: DiscreteSSM, x: Tensor, W: Tensor, length: int
) -> pd.DataFrame:
    """How far the ideal array's recurrence is from the digital one: clips ``x`` (B, L) cut to
    ``length`` steps, encoded by ``net``, run through the combined matrices ``W`` (H, n, n) in step
    and fast mode and through the discrete model ``q`` in double precision. One row per mode: the
    relative error (2-norm, dimensionless) of the first clip's output against the digital one."""
    u = (net.encoder.weight[:, 0, None] * x[:, None, :length] + net.encoder.bias[:, None]).double()
    D = q.D.double()
    digital = ssm_recurrent(u, *[t.to(torch.complex128) for t in q[:3]], D)
    modes = {"step": simulate_step(u, W, D), "fast": simulate_fast(u, W, D)}
    return pd.DataFrame(
        [
            {
                "mode": m,
                "steps": length,
                "relative error vs digital": float((y[0] - digital).norm() / digital.norm()),
            }
            for m, y in modes.items()
        ]
    )


def exact_accuracy_row(
    fold: int, net: SpeechClassifier, test: AudioSet, dev: DeviceConfig, seed: int
) -> dict[str, Any]:
    """One fold of the whole-classifier check: the digital model ``net`` against its ideal array
    (devices ``dev``, one programming drawn from ``seed``, fast mode) on the test clips ``test``:
    both accuracies (fractions) and the number of clips predicted differently."""
    digital_pred = evaluate(net, test)[1]
    W = deployed_weights(net, dev, R=1, seed=seed)
    array_pred = stack_run(net, test.x, [W], [dev]).logits[0].argmax(-1).numpy()
    return {
        "fold": fold,
        "clips": len(test),
        "digital accuracy": float((digital_pred == test.y.numpy()).mean()),
        "array accuracy": float((array_pred == test.y.numpy()).mean()),
        "clips predicted differently": int((digital_pred != array_pred).sum()),
    }


# The stability-margin chapter: predicted tolerances of a model from its poles alone.

#: The three predictions of a model's noise tolerance sigma* (uS), as ``predicted_sigma_stars``
#: names them: the old first-order law from the pole radii (every pole read as a complex pair),
#: the exact law from the poles, and the exact law with the real poles' zeros left unprogrammed.
PREDICTED_SIGMA_STARS = [
    "predicted_old_rice_uS",
    "predicted_new_exact_uS",
    "predicted_real_zeros_uS",
]

#: Stability margins 1 - |pole| at which ``one_pole_sigma_stars`` predicts one mode's tolerance.
ONE_POLE_MARGINS = np.geomspace(1e-4, 0.5, 60)


def predicted_sigma_stars(
    net: SpeechClassifier,
    fscale: float,
    devices_per_element: int,
    p_fail: float,
    g_min_uS: float,
    g_max_uS: float,
) -> dict[str, float]:
    """The three predictions of ``PREDICTED_SIGMA_STARS`` (uS) for the model ``net`` whose weight
    range ``fscale`` spans the window ``g_min_uS``..``g_max_uS`` (uS) on ``devices_per_element``
    devices per complex element: the sigma at which its recurrence is unstable with probability
    ``p_fail`` (``margin.predicted_sigma_star``)."""
    kw = dict(
        fscale=fscale,
        g_min_uS=g_min_uS,
        g_max_uS=g_max_uS,
        devices_per_element=devices_per_element,
        p_fail=p_fail,
    )
    lam, real = pole_values(net), net.layers[0].real
    old, exact, zeros = PREDICTED_SIGMA_STARS
    return {
        old: predicted_sigma_star(pole_radii(net), method="rice", **kw),
        exact: predicted_sigma_star(lam, real_mapping=real, **kw),
        zeros: predicted_sigma_star(lam, real_mapping=real, real_zeros=True, **kw),
    }


def one_pole_sigma_stars(
    g_min_uS: float,
    g_max_uS: float,
    devices_per_element: int,
    p_fail: float,
    margins: np.ndarray = ONE_POLE_MARGINS,
) -> pd.DataFrame:
    """The exact law's sigma* (uS) of a single mode at each stability margin of ``margins`` (M,),
    with f_scale 1 on the window ``g_min_uS``..``g_max_uS`` (uS): one row per margin, columns
    ``margin``, ``real`` (a real pole 1 - margin) and ``complex`` (the pole (1 - margin) i, far from
    the real axis)."""
    return pd.DataFrame(
        {
            "margin": margins,
            **{
                name: [
                    predicted_sigma_star(
                        np.array([c * (1 - x)]),
                        1.0,
                        g_min_uS,
                        g_max_uS,
                        devices_per_element,
                        p_fail,
                    )
                    for x in margins
                ]
                for c, name in [(1 + 0j, "real"), (1j, "complex")]
            },
        }
    )


def instability_chance(
    net: SpeechClassifier,
    sigma_uS: float,
    fscale: float,
    g_min_uS: float,
    g_max_uS: float,
    devices_per_element: int,
    real_zeros: bool,
) -> float:
    """The exact law's chance that one programming of ``net`` at noise ``sigma_uS`` (uS) leaves
    its recurrence unstable (a probability), its weight range ``fscale`` spanning the window
    ``g_min_uS``..``g_max_uS`` (uS) on ``devices_per_element`` devices per complex element,
    with or without the real poles' zeros programmed (``real_zeros``)."""
    sd = weight_noise_std(sigma_uS, fscale, g_min_uS, g_max_uS, devices_per_element)
    return instability_probability(
        pole_values(net), sd, real_mapping=net.layers[0].real, real_zeros=real_zeros
    )


# The deployment chapter's stuck-device and step-mode periphery sweeps.

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
    """``sweep_cell`` rows of a ``periphery_cells`` cell in step mode, for the (seed, fold)
    ``models``: ``cfg.step.realisations`` runs per model under read noise (drawn afresh at every
    step from ``seed``), one per model under converters alone (deterministic)."""
    realisations = cfg.step.realisations if cell["sweep"] == READ_NOISE else 1
    return sweep_cell(
        cfg, cell, models, realisations, "step", seed=seed, device=periphery_setting(cell)
    )


# The S4D chapter: its two ways of computing agree, and its models' frequency responses.


def mode_agreement(ssms: dict[str, tuple[Tensor, ...]], L: int, seed: int) -> pd.DataFrame:
    """How far the convolution (``s4d.ssm_conv`` of ``ssm_kernel``) is from the recurrence
    (``ssm_recurrent``) for each discrete SSM of ``ssms`` (name -> (A_bar, B_bar, C, D), shapes
    (H, N), (H, N), (H, N), (H,)), on two random inputs of shape (2, H, L) drawn from ``seed``. One
    row per SSM and precision (float64, float32): the relative error (2-norm, dimensionless)."""
    H = next(iter(ssms.values()))[0].shape[0]
    gen = torch.Generator().manual_seed(seed)
    u = torch.randn(2, H, L, generator=gen, dtype=torch.float64)
    rows = []
    for init, (A_bar, B_bar, C, D) in ssms.items():
        for cdtype, rdtype in [(torch.complex128, torch.float64), (torch.complex64, torch.float32)]:
            p = [t.to(cdtype) for t in (A_bar, B_bar, C)] + [D.to(rdtype)]
            y_conv = ssm_conv(u.to(rdtype), ssm_kernel(*p[:3], L), p[3])
            y_rec = ssm_recurrent(u.to(rdtype), *p)
            err = ((y_conv - y_rec).norm() / y_rec.norm()).item()
            rows.append(
                {
                    "init": init,
                    "precision": str(rdtype).split(".")[1],
                    "L": L,
                    "relative_error": err,
                }
            )
    return pd.DataFrame(rows)


def frequency_response_table(
    ssms: dict[str, tuple[Tensor, ...]], sample_rate: int, channels: int, points: int = 512
) -> pd.DataFrame:
    """The gain of each discrete SSM of ``ssms`` (name -> (A_bar, B_bar, C, D),
    ``s4d.frequency_response``) at ``points`` frequencies from 0 to the Nyquist frequency of
    ``sample_rate`` (Hz), for its first ``channels`` channels: one row per SSM, channel and
    frequency, columns ``init``, ``channel``, ``frequency_Hz`` and ``gain_dB`` (20 log10 |H|, with
    1e-12 added to |H| so that a zero gain stays finite)."""
    omega = torch.linspace(0, np.pi, points, dtype=torch.float64)
    frames = []
    for init, s in ssms.items():
        Hw = frequency_response(*s, omega)
        for h in range(channels):
            frames.append(
                pd.DataFrame(
                    {
                        "init": init,
                        "channel": h,
                        "frequency_Hz": omega.numpy() / np.pi * sample_rate / 2,
                        "gain_dB": 20 * np.log10(Hw[h].abs().numpy() + 1e-12),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


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


def margin_stars(
    pred: pd.DataFrame,
    measured: pd.DataFrame,
    software: pd.DataFrame,
    working: pd.DataFrame,
    by: list[str],
    model: list[str],
) -> pd.DataFrame:
    """Measured and predicted sigma* per configuration ``by`` (devices per element, bits, pole
    cap): its models and working models (``pred``: one row per model with ``works`` and the
    ``PREDICTED_SIGMA_STARS`` in uS, their median over the working models), the measured sigma*
    (``measured``, ``margin.sigma_star``; NaN where no model works), and the margin 1 - the mean
    largest pole radius of the working models (``software``: one row per ``model`` key,
    ``working``: which models work)."""
    predicted = [c for c in PREDICTED_SIGMA_STARS if c in pred]
    stars = pred.groupby(by)["works"].agg(models="size", working="sum").reset_index()
    medians = pred[pred["works"]].groupby(by)[predicted].median().reset_index()
    stars = stars.merge(medians, how="left", on=by)
    stars = (
        stars.merge(measured, how="left", on=by)
        if len(measured)
        else stars.assign(sigma_star_uS=np.nan, sigma_fail_uS=np.nan, fails_by="")
    )
    margins = software.merge(working[working["works"]][model], on=model).groupby(["bits", "r_max"])
    mean_radius = margins["max_abs_A_bar"].mean().rename("mean_max_abs_A_bar").reset_index()
    stars = stars.merge(mean_radius, how="left", on=["bits", "r_max"])
    stars["margin"] = 1 - stars["mean_max_abs_A_bar"]
    return stars


def failure_at_sigma_fail(rows: pd.DataFrame, fail: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """What makes a configuration ``by`` fail at its first failing sigma (``fail``: one row per
    configuration with ``sigma_fail_uS``, uS): of its programmings there (``rows``, with
    ``spectral_radius``, ``failure`` and the paired ``drop`` in points) how many are unstable
    (spectral radius above 1), how many stable ones failed, and the mean drop of the stable and of
    the unstable ones (points)."""
    at_fail = rows.merge(fail[[*by, "sigma_fail_uS"]], on=by)
    at_fail = at_fail[at_fail["sigma_uS"] == at_fail["sigma_fail_uS"]].assign(
        unstable=lambda d: d["spectral_radius"] > 1
    )
    at_fail["failed_stable"] = (at_fail["failure"] != "") & ~at_fail["unstable"]
    causes = at_fail.groupby(by).agg(
        sigma_fail_uS=("sigma_uS", "first"),
        programmings=("unstable", "size"),
        unstable=("unstable", "sum"),
        failed_stable=("failed_stable", "sum"),
    )
    drops = at_fail.groupby([*by, "unstable"])["drop"].mean().unstack()
    return causes.join(
        drops.reindex(columns=[False, True]).set_axis(
            ["drop of stable (points)", "drop of unstable (points)"], axis=1
        )
    )


def real_zeros_tables(paired: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Unstable programmings with and without the real poles' zeros programmed: ``paired`` holds
    one row per programming, its spectral radius with them (``full``) and without (``zeros``) and
    the exact law's chance of instability for each (``predicted, full``, ``predicted, zeros``).
    Returns (per bits, pole cap and sigma; per sigma): the programmings, the measured unstable
    shares, the mean predicted chances, and the programmings unstable only with / only without."""
    unstable = paired.assign(full_unstable=paired["full"] > 1, zeros_unstable=paired["zeros"] > 1)
    unstable["only full"] = unstable["full_unstable"] & ~unstable["zeros_unstable"]
    unstable["only zeros"] = unstable["zeros_unstable"] & ~unstable["full_unstable"]
    agg = dict(
        programmings=("full", "size"),
        unstable_full=("full_unstable", "mean"),
        unstable_zeros=("zeros_unstable", "mean"),
        predicted_full=("predicted, full", "mean"),
        predicted_zeros=("predicted, zeros", "mean"),
        only_full=("only full", "sum"),
        only_zeros=("only zeros", "sum"),
    )
    per_cell = unstable.groupby(["bits", "r_max", "sigma_uS"]).agg(**agg).reset_index()
    return per_cell, unstable.groupby("sigma_uS").agg(**agg)


def discrete_ssms(
    H: int, N: int, inits: list[str], dt: Tensor, seed: int
) -> dict[str, tuple[Tensor, ...]]:
    """The S4D chapter's discrete SSMs, one per initialisation of ``inits`` (``s4d.init_A``): H
    channels of N complex modes, discretised by zero-order hold with B = 1 and the step sizes
    ``dt`` (H,), a complex Gaussian C drawn from ``seed`` (the same draw for every
    initialisation) and D = 0. Each is (A_bar, B_bar, C, D), shapes (H, N) complex128 and (H,)."""
    out = {}
    for init in inits:
        log_A_real, A_imag = init_A(H, N, init)
        A = torch.complex(-torch.exp(log_A_real), A_imag).to(torch.complex128)
        g = torch.Generator().manual_seed(seed)
        C = torch.randn(H, N, generator=g, dtype=torch.complex128)
        A_bar, B_bar = zoh(A, torch.ones_like(A), dt)
        out[init] = (A_bar, B_bar, C, torch.zeros(H, dtype=torch.float64))
    return out


def kernel_table(ssms: dict[str, tuple[Tensor, ...]], L: int, channels: int) -> pd.DataFrame:
    """The convolution kernels K_k, k < ``L``, of the first ``channels`` channels of each SSM of
    ``ssms`` (``discrete_ssms``): one row per SSM, channel and step, columns ``init``,
    ``channel``, ``k`` and ``K``."""
    frames = []
    for init, (A_bar, B_bar, C, _) in ssms.items():
        K = ssm_kernel(A_bar, B_bar, C, L)
        for h in range(channels):
            frames.append(
                pd.DataFrame({"init": init, "channel": h, "k": np.arange(L), "K": K[h].numpy()})
            )
    return pd.concat(frames, ignore_index=True)


def eigenvalue_table(ssms: dict[str, tuple[Tensor, ...]]) -> pd.DataFrame:
    """The discrete poles A_bar of every channel and mode of each SSM of ``ssms``
    (``discrete_ssms``): one row per pole, its ``channel``, parts ``Re``, ``Im`` and ``modulus``."""
    frames = []
    for init, (A_bar, *_) in ssms.items():
        H, N = A_bar.shape
        p = A_bar.flatten()
        frames.append(
            pd.DataFrame(
                {
                    "init": init,
                    "channel": np.repeat(np.arange(H), N),
                    "Re": p.real.numpy(),
                    "Im": p.imag.numpy(),
                    "modulus": p.abs().numpy(),
                }
            )
        )
    return pd.concat(frames)
