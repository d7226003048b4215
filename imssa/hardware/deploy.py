"""Deploying a trained (quantized) classifier: its S4D layer on simulated crossbars, the rest digital.

The encoder, D u, GELU, mean pooling and decoder stay in the digital periphery; the recurrence
runs on R programmed arrays (``imssa.hardware.analog``). One path for every depth: a single layer,
as in the paper, is a stack of depth 1. ``stack_weights`` programs every layer (``deployed_weights``
per layer), ``stack_run`` runs clips through them (every S4D layer on arrays of its own, GELU, the
position-wise mixing and the residual in the digital periphery between them, a DAC and an ADC at
every array boundary) and ``realisation_rows`` scores each programming.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from ..compute_device import compute_device, generator
from ..data.audio import AudioSet
from ..model.quant import QuantS4D, q_max
from ..model.train import SpeechClassifier
from ..seeds import draw_seed
from ..stats.programmings import chance_failure
from . import wires
from .analog import (
    effective_weights,
    simulate_saturating,
    simulate_saturating_inputs,
    simulate_step,
)
from .check import channel_radius, failing_channels
from .conductance import program
from .crossbar import combined_matrix, entry_grid, pairs_per_weight, structural_mask, to_conductance
from .devices import DeviceConfig

__all__ = [
    "CHECK_COLUMNS",
    "StackOutput",
    "array_scale",
    "converter_ranges",
    "layer_converter_ranges",
    "deployed_weights",
    "fits",
    "ideal_weights",
    "target_conductances",
    "failure_cause",
    "noise_rows",
    "realisation_rows",
    "spectral_radius",
    "stack_run",
    "stack_weights",
]


def fits(dev: DeviceConfig, bits: int) -> bool:
    """Whether a device with ``dev.states`` conductance states can hold a ``bits``-bit model's levels
    (q_max + 1 per device of a differential pair; analog devices hold any)."""
    return dev.states is None or q_max(bits) + 1 <= dev.states


@torch.no_grad()
def deployed_weights(
    net: SpeechClassifier,
    dev: DeviceConfig,
    R: int,
    seed: int,
    layout: Literal["dense", "block"] = "block",
    devices_per_element: int = 16,
    stats: dict[str, Tensor] | None = None,
    layer: int = 0,
    real_zeros: bool = False,
    digital_A: bool = False,
    t_s: float = 0.0,
) -> Tensor:
    """Effective combined matrices (R, H, 2N+1, 2N+1) of ``R`` programmings of layer ``layer`` (the
    first by default; N+1 rows for the real-valued variant). Each layer draws from its own seed
    (``layer_seed``), so the layers of a stack are programmed independently.

    ``block`` (the paper's mapping): only the entries a mode can use (``crossbar.structural_mask``:
    its 2x2 block of A_bar, its B_bar and C entries) are programmed devices; the other cross-points
    are left unprogrammed (``dev.g_off_uS``: no device, or a high-resistance state with its spread).
    ``dense``: every entry of the combined matrix is a programmed pair, structural zeros included
    (at g_min, as noisy as any other). ``devices_per_element``: devices per complex element of
    A_bar, 8 (one differential pair per real entry), 16 (two, the paper's 4 x 4 block; their
    errors average) or any multiple of 8 (``crossbar.pairs_per_weight``). ``real_zeros`` (block
    layout only): the off-diagonal cross-points of the modes whose quantized pole is real (Im A_bar
    = 0 exactly) are left unprogrammed too (``crossbar.real_pole_mask``), so a real pole's block is
    diag(a + e1, a + e2); the draws of every other cross-point are those without it.

    The arrays are read ``t_s`` seconds after programming; with ``dev.drift_compensation`` the
    periphery multiplies each array's outputs by alpha = mean|W(0)| / mean|W(t)| (its mean
    |readout| for one-hot inputs right after programming over that at t; one factor per
    realisation and layer, as a global drift compensation does). ``digital_A`` (the hybrid design):
    A_bar is held digitally, exactly on its quantization grid, and only B_bar and C are programmed
    devices; the A_bar block of every realisation is the ideal one (its cross-points are drawn as
    usual, so B_bar and C meet the same draws as without it). B_bar and C keep the mapping range of
    the whole matrix (A_bar's included: conservative, a range fitted to B_bar and C alone would
    use more of the window); the check after programming, wire resistance and drift compensation
    are not modelled with it (ValueError). ``stats`` receives
    ``conductance.program``'s ``pulses`` (R,) and, with compensation, ``alpha`` (R,). A device with
    ``dev.states`` states cannot hold a model that needs more conductance levels: ValueError.
    The draws and the arrays are on ``imssa.compute_device.compute_device()`` (``$IMSSA_DEVICE``), whose
    random stream they come from.
    """
    index, layer = layer, _layer(net, layer)
    if layout not in ("dense", "block"):
        raise ValueError(f"layout must be 'dense' or 'block', got {layout!r}")
    if not fits(dev, layer.bits):
        raise ValueError(
            f"a device with {dev.states} conductance states cannot hold the {layer.bits}-bit model, "
            f"which needs {q_max(layer.bits) + 1} levels per device"
        )
    if digital_A and (
        dev.check_tolerance is not None or dev.wire_resistance_ohm > 0 or dev.drift_compensation
    ):
        raise ValueError(
            "A_bar held digitally is modelled without the check after programming, wire resistance and "
            "drift compensation: each would see A_bar's devices"
        )
    copies = pairs_per_weight(devices_per_element)
    device = compute_device()
    G_pos, G_neg, used = (
        None if t is None else t.to(device) for t in _targets(layer, dev, layout, real_zeros)
    )
    scale = array_scale(layer)
    scale = scale.to(device) if isinstance(scale, Tensor) else scale
    stats = {} if stats is None else stats
    targets = G_pos, G_neg
    gen = generator(layer_seed(seed, index), device)
    G_pos, G_neg = program(
        G_pos, G_neg, R, dev, generator=gen, used=used, copies=copies, stats=stats, t_s=t_s
    )
    W = effective_weights(G_pos, G_neg, scale, dev.g_min_uS, dev.g_max_uS)
    if dev.check_tolerance is not None:
        W, (G_pos, G_neg) = _check_after_programming(
            W,
            (G_pos, G_neg),
            targets,
            ideal_weights_of(layer).to(device),
            scale,
            dev,
            gen,
            used,
            copies,
            stats,
            t_s,
        )
    if (
        dev.wire_resistance_ohm > 0
    ):  # IR drop: the effective conductances of every block, once per programming
        W = wires.ir_drop_weights(
            G_pos,
            G_neg,
            copies,
            dev.wire_resistance_ohm,
            scale,
            dev.g_min_uS,
            dev.g_max_uS,
            dev.channels_per_array,
        )
        if dev.drift_compensation:
            raise ValueError("wire resistance with drift compensation is not modelled")
    if (
        dev.read_noise_device > 0
    ):  # squared conductances in weight units: the per-device read noise's weights
        unit = scale / (dev.g_max_uS - dev.g_min_uS)
        stats["read_var"] = unit**2 * (G_pos**2 + G_neg**2) / copies
    if dev.drift_compensation:
        W0 = effective_weights(*stats["G_t0"], scale, dev.g_min_uS, dev.g_max_uS)
        alpha = W0.abs().flatten(1).mean(1) / W.abs().flatten(1).mean(1).clamp_min(1e-12)
        stats["alpha"] = alpha
        W = W * alpha[:, None, None, None]
    if digital_A:
        if "read_var" in stats:  # no devices read for A_bar
            stats["read_var"] = stats["read_var"].clone()
            stats["read_var"][..., :-1, :-1] = 0
        W = W.clone()
        W[..., :-1, :-1] = ideal_weights_of(layer).to(device=W.device, dtype=W.dtype)[..., :-1, :-1]
    return W


def _check_after_programming(
    W: Tensor,
    G: tuple[Tensor, Tensor],
    targets: tuple[Tensor, Tensor],
    target_W: Tensor,
    scale: float | Tensor,
    dev: DeviceConfig,
    gen: torch.Generator,
    used: Tensor | None,
    copies: int,
    stats: dict[str, Tensor],
    t_s: float,
) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """The check after programming (``dev.check_tolerance``): every channel's impulse response over
    ``check_steps`` steps is measured (ASSUMPTION: exactly, e.g. averaged over many reads) and compared
    with its target's (``check.channel_errors``); failing channels (unstable, or a relative error
    above the tolerance) are reprogrammed with fresh draws, up to ``check_max_rounds`` rounds. The first
    programming is the one without the check, so the two are paired. ``stats`` gains
    ``check_rounds`` (R,: rounds that reprogrammed something), ``reprogrammed`` (R,: channel
    reprogrammings), ``failing`` (R,: channels still failing at the end), and ``pulses`` counts the
    extra pulses (per programmed device, as ``program``)."""
    check = lambda W: failing_channels(W, target_W, dev.check_tolerance, dev.check_steps)  # noqa: E731
    R = W.shape[0]
    rounds, redone = W.new_zeros(R, dtype=torch.float32), W.new_zeros(R, dtype=torch.float32)
    pulses = stats["pulses"].clone()
    devices = (
        2 * copies * (targets[0].numel() if used is None else int(used.sum()))
    )  # per programming
    G_t0 = stats.get("G_t0")
    bad = check(W)  # (R, H)
    for _ in range(dev.check_max_rounds):
        if not bad.any():
            break
        r, h = bad.nonzero(as_tuple=True)  # only the failing channels are programmed again
        again: dict[str, Tensor] = {}
        new = program(
            targets[0][h],
            targets[1][h],
            1,
            dev,
            generator=gen,
            used=None if used is None else used[h],
            copies=copies,
            stats=again,
            t_s=t_s,
        )
        G = tuple(g.index_put((r, h), g_new[0]) for g, g_new in zip(G, new))
        if G_t0 is not None:
            G_t0 = tuple(g.index_put((r, h), g_new[0]) for g, g_new in zip(G_t0, again["G_t0"]))
        pulses = pulses.index_add(0, r, again["device_pulses"][0].flatten(1).sum(1) / devices)
        rounds, redone = rounds + bad.any(1), redone + bad.sum(1)
        W = effective_weights(*G, scale, dev.g_min_uS, dev.g_max_uS)
        bad = check(W)
    stats.update(
        pulses=pulses, check_rounds=rounds, reprogrammed=redone, failing=bad.sum(1).double()
    )
    if G_t0 is not None:
        stats["G_t0"] = G_t0
    return W, G


def ideal_weights_of(layer: QuantS4D) -> Tensor:
    """A quantized layer's combined matrices on an ideal array, (1, H, n, n), float64."""
    return combined_matrix(layer.discrete(), layer.real).double().unsqueeze(0)


def layer_seed(seed: int, layer: int) -> int:
    """Seed of the programming draws of layer ``layer`` of a stack (``seeds.draw_seed``); ``seed``
    itself for the first, so that a single layer and the first layer of a stack draw alike."""
    return seed if layer == 0 else draw_seed(seed, "layer", layer)


def _layer(net: SpeechClassifier, index: int) -> QuantS4D:
    if not 0 <= index < len(net.layers):
        raise ValueError(f"layer {index} out of range: the model has {len(net.layers)}")
    layer = net.layers[index]
    if not isinstance(layer, QuantS4D):
        raise TypeError("deployment maps quantized weights: train the model with a QuantConfig")
    return layer


@torch.no_grad()
def ideal_weights(net: SpeechClassifier, layer: int = 0) -> Tensor:
    """The combined matrices of layer ``layer`` on an ideal array (its quantized weights), (1, H, n, n)."""
    return ideal_weights_of(_layer(net, layer))


@torch.no_grad()
def target_conductances(
    net: SpeechClassifier,
    dev: DeviceConfig,
    layout: Literal["dense", "block"] = "block",
    real_zeros: bool = False,
    digital_A: bool = False,
) -> Tensor:
    """Target conductances (uS) of every programmed device of the first layer, both sides of each
    pair, flattened (one copy per entry: copies share their targets; ``real_zeros`` as in
    ``deployed_weights``; ``digital_A``: the B_bar and C devices only, the hybrid design's)."""
    G_pos, G_neg, used = _targets(net.layers[0], dev, layout, real_zeros)
    if digital_A:
        used = torch.ones_like(G_pos, dtype=torch.bool) if used is None else used.clone()
        used[..., :-1, :-1] = False
    if used is not None:
        return torch.cat([G_pos[used], G_neg[used]])
    return torch.cat([G_pos.flatten(), G_neg.flatten()])


def _targets(
    layer: QuantS4D, dev: DeviceConfig, layout: str, real_zeros: bool = False
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Target pair (G+, G-) (H, n, n) in uS of a quantized layer's combined matrices, and the mask of
    programmed cross-points (block layout; None: dense, all of them). ``real_zeros``: the
    off-diagonal cross-points of real poles are not programmed either (``crossbar.structural_mask``)."""
    if real_zeros and layout != "block":
        raise ValueError("real_zeros leaves cross-points unprogrammed: it needs the block layout")
    W = combined_matrix(layer.discrete(), layer.real).double()
    if layer.range_mode == "fixed" and len(set(layer.bits_per_matrix)) == 1:  # one grid, one range
        G_pos, G_neg = to_conductance(W, layer.bits, layer.fscale, dev.g_min_uS, dev.g_max_uS)
    elif layer.real:
        raise ValueError("the real-valued variant is mapped with one fixed range and one bit width")
    else:
        ranges, bits = entry_grid(layer.ranges(), layer.bits_per_matrix, W.shape[0], layer.N)
        G_pos, G_neg = to_conductance(
            W, bits, ranges, dev.g_min_uS, dev.g_max_uS, array_scale(layer)
        )
    if layout != "block":
        return G_pos, G_neg, None
    real_poles = layer.discrete().A_bar if real_zeros else None
    return G_pos, G_neg, structural_mask(W.shape[0], layer.N, layer.real, real_poles=real_poles)


def array_scale(layer: QuantS4D) -> float | Tensor:
    """The weight g_max - g_min stands for, per channel block: a float (fixed range) or (H, 1, 1)."""
    S = layer.array_scale()
    return S if isinstance(S, float) else S.double()[:, None, None]


def spectral_radius(W: Tensor) -> Tensor:
    """Spectral radius of the state matrix A_r of each array, the largest over its channels
    (``check.channel_radius``): (R,). Above 1, that realisation's recurrence is unstable."""
    return channel_radius(W).amax(-1)


def _inputs(net: SpeechClassifier, x: Tensor) -> Tensor:
    """The digital encoder's output u = W x + b, (B, H, L), float64 (``SpeechClassifier.encode``)."""
    return net.encode(x).double()


def converter_ranges(
    net: SpeechClassifier,
    x: Tensor,
    headroom: float = 1.1,
    clips: int = 64,
    per_column: bool = False,
    bit_serial_dac_bits: int | None = None,
) -> dict[str, Any]:
    """DAC and ADC full scales from the ideal array's peaks on clips ``x`` (B, L), e.g. the
    training set: the largest |input| (the clip's and the fed-back state's) and |output| seen in a
    step-mode run on ``clips`` of them, evenly spaced through ``x`` (so that every speaker is
    represented), times ``headroom``. Returns {'dac_range': ..., 'adc_range': ...}, to update a
    ``DeviceConfig`` with: the first layer of ``layer_converter_ranges``, with one DAC range for all rows;
    ``per_column`` and ``bit_serial_dac_bits`` add that function's per-row and per-column lists."""
    first = layer_converter_ranges(
        net,
        x,
        headroom,
        clips,
        layers=1,
        per_column=per_column,
        bit_serial_dac_bits=bit_serial_dac_bits,
    )[0]
    merged = {
        "dac_range": max(first["dac_range"], first["dac_input_range"]),
        "adc_range": first["adc_range"],
    }
    return merged | {
        k: v for k, v in first.items() if k in ("row_ranges", "column_ranges", "partial_ranges")
    }


def failure_cause(
    accuracy: float,
    n_clips: int,
    spectral_radius: float,
    saturated: bool,
    dev: DeviceConfig,
    chance: float = 0.5,
) -> str:
    """Why a programming scores at chance (``stats.chance_failure``), '' if it does not: 'unstable'
    (spectral radius >= 1), else 'saturated' (a converter clipped), else the non-idealities present
    that can silence it without either ('stuck devices', 'converter rounding', 'read noise', joined
    by ' + '; the chapters separate them with runs that switch one off), else 'weight error'
    (programming noise alone, with a stable recurrence). ``chance``: the chance level (1 / classes)."""
    if not chance_failure(accuracy, n_clips, chance):
        return ""
    if spectral_radius >= 1:
        return "unstable"
    if saturated:
        return "saturated"
    present = [
        name
        for name, on in (
            ("stuck devices", dev.stuck_at_gmax + dev.stuck_at_gmin > 0),
            ("converter rounding", dev.dac_bits is not None or dev.adc_bits is not None),
            ("read noise", dev.read_noise > 0),
        )
        if on
    ]
    return " + ".join(present) or "weight error"


def noise_rows(
    net: SpeechClassifier,
    data: AudioSet,
    sigma_uS: float,
    dev: DeviceConfig,
    R: int,
    seed: int,
    layout: Literal["dense", "block"] = "block",
    devices_per_element: int = 16,
    real_zeros: bool = False,
    digital_A: bool = False,
    t_s: float = 0.0,
) -> list[dict[str, Any]]:
    """One point of the programming-noise sweep (the paper's Fig. 4): ``R`` programmings of ``dev``
    (range, window, clipping rule, converter ranges) with noise ``sigma_uS``, fast mode, drawn from
    ``seed`` (``seeds.draw_seed`` of the model and the noise level: every model its own draws,
    every variant of one model the same ones). Where every programming is the same (sigma = 0 and
    nothing else random at ``t_s``, ``DeviceConfig.random_at``) one is computed. ``real_zeros``, ``digital_A``,
    ``t_s``: ``deployed_weights``."""
    noisy = dev.model_copy(update={"sigma_uS": sigma_uS})
    return realisation_rows(
        net,
        data,
        [noisy] * len(net.layers),
        R if noisy.random_at(t_s) else 1,
        seed=seed,
        layout=layout,
        devices_per_element=devices_per_element,
        real_zeros=real_zeros,
        digital_A=digital_A,
        t_s=t_s,
    )


# --- stacks of layers ------------------------------------------------------------------------------


#: Full scale given to a converter whose ideal peaks were all zero (a layer whose quantized B_bar or
#: C is all zero): whatever noise adds there is clipped to nothing, as a periphery set from those peaks would.
SILENT_RANGE = 1e-9


@torch.no_grad()
def layer_converter_ranges(
    net: SpeechClassifier,
    x: Tensor,
    headroom: float = 1.1,
    clips: int = 64,
    layers: int | None = None,
    per_column: bool = False,
    bit_serial_dac_bits: int | None = None,
) -> list[dict[str, Any]]:
    """Converter full scales for the first ``layers`` layers of a stack (default: all): each layer's
    DAC (state rows and input row apart: a deeper layer's input, the previous layer's output, is on
    another scale than its state) and ADC, the largest values an ideal step-mode run of the stack sees
    on ``clips`` of ``x`` (B, L), evenly spaced through them, times ``headroom``. A converter that saw
    only zeros (a silent layer) gets ``SILENT_RANGE``.

    ``per_column``: also ``row_ranges`` and ``column_ranges`` (H x n lists, ``DeviceConfig``), each
    row's and column's own peak times ``headroom``, state i's row and column sharing the larger of
    the two (``periphery``); ``adc_range`` stays the layer's largest, the reference of read noise.
    ``bit_serial_dac_bits``: also ``partial_ranges``, the peaks of one input bit's partial sums in a
    second ideal run whose inputs are applied bit-serially at that width through these DAC ranges."""
    if headroom <= 0 or clips < 1:
        raise ValueError(
            f"need headroom > 0 and clips >= 1, got headroom={headroom}, clips={clips}"
        )
    x = x[torch.linspace(0, len(x) - 1, min(clips, len(x))).round().long()]
    u, z, out = _inputs(net, x), None, []
    for i, layer in enumerate(net.layers[:layers]):
        peaks: dict[str, Tensor] = {}
        W, D = ideal_weights(net, i), layer.discrete().D.double()
        y = simulate_step(u, W, D, peaks=peaks)[0]
        ranges: dict[str, Any] = {
            key: headroom * max(float(peaks[name].max()), SILENT_RANGE)
            for key, name in (
                ("dac_range", "dac_state"),
                ("dac_input_range", "dac_input"),
                ("adc_range", "adc"),
            )
        }
        if per_column or bit_serial_dac_bits is not None:
            rows, cols = peaks["dac_row"].clone(), peaks["adc_column"].clone()
            shared = torch.maximum(
                rows[:, :-1], cols[:, :-1]
            )  # a state's ADC drives its DAC: one range
            rows[:, :-1], cols[:, :-1] = shared, shared
            rows, cols = (headroom * t.clamp_min(SILENT_RANGE) for t in (rows, cols))
            if per_column:
                ranges |= {"row_ranges": rows.tolist(), "column_ranges": cols.tolist()}
            if bit_serial_dac_bits is not None:
                dev = DeviceConfig(
                    dac_bits=bit_serial_dac_bits,
                    input_encoding="bit_serial",
                    **(
                        {"row_ranges": rows.tolist()}
                        if per_column
                        else {k: ranges[k] for k in ("dac_range", "dac_input_range")}
                    ),
                )
                bit_peaks: dict[str, Tensor] = {}
                simulate_step(u, W, D, dev, peaks=bit_peaks)
                partial = headroom * bit_peaks["partial_column"].clamp_min(SILENT_RANGE)
                ranges["partial_ranges"] = (
                    partial if per_column else partial.max().expand_as(partial)
                ).tolist()
        out.append(ranges)
        z = net.between_layers(i, y, z)
        u = z
    return out


@torch.no_grad()
def stack_weights(
    net: SpeechClassifier,
    devs: list[DeviceConfig],
    R: int,
    seed: int,
    layout: Literal["dense", "block"] = "block",
    devices_per_element: int = 16,
    stats: list[dict[str, Tensor]] | None = None,
    real_zeros: bool = False,
    digital_A: bool = False,
    t_s: float = 0.0,
) -> list[Tensor]:
    """``deployed_weights`` of every layer (``devs``: one DeviceConfig per layer), each from its own
    seed (``layer_seed``): a list of (R, H, n, n). ``stats``, if given, receives one dict per layer."""
    if len(devs) != len(net.layers):
        raise ValueError(
            f"one DeviceConfig per layer: {len(net.layers)} layers, {len(devs)} configs"
        )
    out = []
    for i, dev in enumerate(devs):
        st: dict[str, Tensor] = {}
        out.append(
            deployed_weights(
                net,
                dev,
                R,
                seed,
                layout,
                devices_per_element,
                stats=st,
                layer=i,
                real_zeros=real_zeros,
                digital_A=digital_A,
                t_s=t_s,
            )
        )
        if stats is not None:
            stats.append(st)
    return out


@dataclass(frozen=True)
class StackOutput:
    """What ``stack_run`` returns: ``logits`` (R, B, classes) and ``saturated`` (R,) always;
    with a ``reference``, ``error`` and ``local_error`` (R, depth), else None; with neither a
    reference nor more than one realisation, ``outputs`` (one (1, B, H, L) per layer), else None."""

    logits: Tensor
    saturated: Tensor
    error: Tensor | None = None
    local_error: Tensor | None = None
    outputs: list[Tensor] | None = None


@torch.no_grad()
def stack_run(
    net: SpeechClassifier,
    x: Tensor,
    Ws: list[Tensor],
    devs: list[DeviceConfig],
    mode: str = "fast",
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    chunk: int = 1,
    reference: list[Tensor] | None = None,
    read_vars: list[Tensor | None] | None = None,
) -> StackOutput:
    """Run clips ``x`` (B, L) through a stack whose layer i runs on the programmed arrays ``Ws[i]``
    (R, H, n, n) with periphery ``devs[i]``; between layers the digital GELU, mix and residual.

    ``mode='fast'``: each layer is linear and time-invariant on its arrays, so it is convolved with
    its realisation's kernels, converters saturating (``analog.simulate_saturating_inputs``); 'step':
    the step-by-step loop with converter bits and read noise (``analog.simulate_step``), in ``dtype``.
    Realisations go ``chunk`` at a time. Returns a ``StackOutput``: ``logits`` (R, B, classes),
    ``saturated`` (R,) and, with ``reference`` (one (1, B, H, L) output per layer, e.g.
    ``stack_run(...).outputs`` of the ideal arrays), ``error`` (R, depth): each layer's relative RMS output error ||y_i - y_i*|| / ||y_i*||
    (accumulated through the stack), and ``local_error`` (R, depth): that of layer i's arrays alone,
    against ideal arrays fed the same (noisy) input. Without ``reference`` and R = 1, ``outputs``:
    each layer's S4D output y_i (1, B, H, L). ``read_vars``: per layer, the arrays' squared
    conductances in weight units (R, H, n, n) for per-device read noise (``deployed_weights``'s
    ``stats['read_var']``), or None."""
    if mode not in ("fast", "step"):
        raise ValueError(f"mode must be 'fast' or 'step', got {mode!r}")
    if not (len(Ws) == len(devs) == len(net.layers)):
        raise ValueError(
            f"one array set and one DeviceConfig per layer: {len(net.layers)} layers, {len(Ws)} arrays, "
            f"{len(devs)} configs"
        )
    R, device = Ws[0].shape[0], Ws[0].device
    net, x = _on(net, device), x.to(device)
    reference = None if reference is None else [ref.to(device) for ref in reference]
    read_vars = (
        None if read_vars is None else [None if v is None else v.to(device) for v in read_vars]
    )
    gen = generator(seed, device)
    ideal = (
        [ideal_weights(net, i) for i in range(len(net.layers))] if reference is not None else None
    )
    logits, saturated, errors, local, outputs = [], [], [], [], []
    for start in range(0, R, chunk):
        sl = slice(start, min(R, start + chunk))
        r = sl.stop - sl.start
        z, sat = None, torch.zeros(r, dtype=torch.bool, device=device)
        err, loc = [], []
        for i, (W, dev) in enumerate(zip(Ws, devs)):
            D = net.layers[i].discrete().D
            u = _inputs(net, x).to(dtype) if i == 0 else z
            var = None if read_vars is None or read_vars[i] is None else read_vars[i][sl]
            single = (
                x if i == 0 and x.dim() == 2 else None
            )  # a waveform's encoder folds into the convolution
            y, s = _layer_out(net, single, u, W[sl], D, dev, mode, gen, dtype, var)
            sat |= s
            if reference is not None:
                ref = reference[i].to(y.dtype)
                err.append(_relative(y, ref))
                ideal_y = _layer_out(
                    net,
                    single,
                    u,
                    ideal[i].expand(r, -1, -1, -1),
                    D,
                    DeviceConfig(),
                    "fast",
                    gen,
                    dtype,
                )[0]
                loc.append(_relative(y, ideal_y))
            elif R == 1:
                outputs.append(y)
            z = net.between_layers(i, y, z)
        logits.append(net.decoder(z.mean(-1).float()))
        saturated.append(sat)
        if reference is not None:
            errors.append(torch.stack(err, -1))
            local.append(torch.stack(loc, -1))
    return StackOutput(
        torch.cat(logits),
        torch.cat(saturated),
        torch.cat(errors) if reference is not None else None,
        torch.cat(local) if reference is not None else None,
        outputs or None,
    )


def _on(net: SpeechClassifier, device: torch.device) -> SpeechClassifier:
    """``net`` itself where its weights are on ``device``, else a copy there (the cached model stays)."""
    here = next(net.parameters()).device
    return net if here == device else copy.deepcopy(net).to(device)


def _relative(y: Tensor, ref: Tensor) -> Tensor:
    """Relative RMS error per realisation: ||y - ref|| / ||ref|| over clips, channels and time, (R,)."""
    return (y - ref).flatten(1).norm(dim=1).double() / ref.flatten(1).norm(
        dim=1
    ).double().clamp_min(1e-30)


def _layer_out(
    net: SpeechClassifier,
    x: Tensor | None,
    u: Tensor,
    W: Tensor,
    D: Tensor,
    dev: DeviceConfig,
    mode: str,
    gen: torch.Generator,
    dtype: torch.dtype,
    read_var: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """One layer on its arrays W (r, H, n, n): outputs (r, B, H, L) and saturation (r,). The first
    layer in fast mode convolves the encoder's single signal ``x`` (``simulate_saturating``)."""
    if mode == "step":
        peaks: dict[str, Tensor] = {}
        y = simulate_step(
            u,
            W.to(dtype),
            D.to(dtype),
            dev,
            generator=gen,
            peaks=peaks,
            read_var=None if read_var is None else read_var.to(dtype),
        )
        return y, peaks["adc_over"] | peaks["dac_over"]
    if x is not None:
        return simulate_saturating(
            x.to(dtype),
            net.encoder.weight[:, 0].to(dtype),
            net.encoder.bias.to(dtype),
            W,
            D.to(dtype),
            dev,
        )
    return simulate_saturating_inputs(u, W, D.to(u.dtype), dev)


#: The check after programming's columns of ``realisation_rows`` and the ``stats`` keys they sum.
CHECK_COLUMNS = {
    "check_rounds": "check_rounds",
    "channels_reprogrammed": "reprogrammed",
    "channels_failing": "failing",
}


def realisation_rows(
    net: SpeechClassifier,
    data: AudioSet,
    devs: list[DeviceConfig],
    R: int,
    seed: int,
    reference: list[Tensor] | None = None,
    mode: str = "fast",
    layout: Literal["dense", "block"] = "block",
    devices_per_element: int = 16,
    real_zeros: bool = False,
    chunk: int | None = None,
    digital_A: bool = False,
    t_s: float = 0.0,
) -> list[dict[str, Any]]:
    """Program every layer of ``net`` ``R`` times (``stack_weights``; ``devs``: one DeviceConfig
    per layer, ``[dev]`` for a single layer), run the clips of ``data`` (``stack_run``, ``chunk``
    realisations at a time: default all in fast mode, 8 in step mode) and return one row per
    realisation: its accuracy, the largest spectral radius over the layers (> 1: a noisy recurrence
    is unstable), whether a converter saturated, the failure cause (``failure_cause`` at 1 /
    classes), the mean programming pulses per device (1 without write-verify), the check after
    programming's rounds, channel reprogrammings and channels still failing, summed over the layers
    (0 without the check; ``deployed_weights``) and, with
    ``reference`` (the ideal stack's per-layer outputs on ``data``), the relative output error of
    every layer, accumulated (``error_<i>``) and local (``local_error_<i>``), i = 1 .. depth.
    ``real_zeros``, ``digital_A``, ``t_s`` (s after programming): ``deployed_weights``."""
    stats: list[dict[str, Tensor]] = []
    Ws = stack_weights(
        net,
        devs,
        R,
        seed,
        layout,
        devices_per_element,
        stats=stats,
        real_zeros=real_zeros,
        digital_A=digital_A,
        t_s=t_s,
    )
    if mode == "fast" and any(dev.needs_step for dev in devs):
        raise ValueError(
            "this periphery (converter bits, read noise, offsets, bit-serial inputs or per-column "
            "ranges) needs mode='step'"
        )
    out = stack_run(
        net,
        data.x,
        Ws,
        devs,
        mode,
        seed,
        chunk=chunk or (R if mode == "fast" else 8),
        reference=reference,
        read_vars=[st.get("read_var") for st in stats],
    )
    acc = (out.logits.argmax(-1).cpu().numpy() == data.y.numpy()).mean(-1)
    rho = torch.stack([spectral_radius(W) for W in Ws], -1).amax(-1).cpu()
    pulses = torch.stack([st["pulses"] for st in stats], -1).mean(-1).cpu()
    rows = []
    for r in range(R):
        row = {
            "realisation": r,
            "accuracy": float(acc[r]),
            "spectral_radius": float(rho[r]),
            "saturated": bool(out.saturated[r]),
            "failure": failure_cause(
                float(acc[r]),
                len(data),
                float(rho[r]),
                bool(out.saturated[r]),
                devs[0],
                1 / net.decoder.out_features,
            ),
            "pulses_per_device": float(pulses[r]),
        }
        row |= {
            name: float(
                sum(st[key][r] for st in stats if key in st)
            )  # 0 without the check after programming
            for name, key in CHECK_COLUMNS.items()
        }
        if reference is not None:
            row |= {f"error_{i + 1}": float(out.error[r, i]) for i in range(len(Ws))}
            row |= {f"local_error_{i + 1}": float(out.local_error[r, i]) for i in range(len(Ws))}
        rows.append(row)
    return rows
