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

from torch import Tensor

from ..data.audio import AudioSet
from ..hardware.aware import finetune
from ..hardware.deploy import deployed_weights, spectral_radius, target_conductances
from ..hardware.devices import DeviceConfig
from ..hardware.margin import pole_radii
from ..hardware.noise import matched_noise
from ..hardware.presets import preset
from ..hardware.ranges import converter_ranges
from ..hardware.realisations import noise_rows, realisation_rows
from ..model.cache import Run
from ..model.train import SpeechClassifier
from ..seeds import programming_seed
from .deployed import load_model
from .params import ModelParams, PeripheryParams
from .runs import margin_spec, qat_spec

__all__ = [
    "LABEL_KEYS",
    "PERIPHERIES",
    "converter_aware_model",
    "deployable",
    "model_draw_seed",
    "radius_cell",
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
