"""Programming one layer of a trained (quantized) classifier on simulated crossbars.

The encoder, D u, GELU, mean pooling and decoder stay in the digital periphery; the recurrence of
each S4D layer runs on R programmed arrays (``imssa.hardware.analog``). ``deployed_weights``
programs a layer (``conductance.program``), with the check after programming
(``check.check_after_programming``), wire resistance and drift compensation; ``target_conductances``
and ``ideal_weights`` are what it aims at. A stack of layers is programmed and run by ``stack``,
scored by ``realisations``; the converters' ranges are set by ``ranges``.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from ..compute_device import compute_device, generator
from ..model.qat import QuantS4D
from ..model.quant import q_max
from ..model.train import SpeechClassifier
from ..seeds import draw_seed
from . import wires
from .analog import effective_weights
from .check import channel_radius, check_after_programming
from .conductance import program
from .crossbar import combined_matrix, entry_grid, pairs_per_weight, structural_mask, to_conductance
from .devices import DeviceConfig

__all__ = [
    "array_scale",
    "deployed_weights",
    "fits",
    "ideal_weights",
    "layer_seed",
    "spectral_radius",
    "target_conductances",
]


def fits(dev: DeviceConfig, bits: int) -> bool:
    """Whether a device with ``dev.states`` conductance states can hold a ``bits``-bit model's
    levels (q_max + 1 per device of a differential pair; analog devices hold any)."""
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
    The draws and the arrays are on ``imssa.compute_device.compute_device()`` (``$IMSSA_DEVICE``),
    whose random stream they come from.
    """
    index, layer = layer, _layer(net, layer)
    if layout not in ("dense", "block"):
        raise ValueError(f"layout must be 'dense' or 'block', got {layout!r}")
    if not fits(dev, layer.bits):
        raise ValueError(
            f"a device with {dev.states} conductance states cannot hold the {layer.bits}-bit "
            f"model, which needs {q_max(layer.bits) + 1} levels per device"
        )
    if digital_A and (
        dev.check_tolerance is not None or dev.wire_resistance_ohm > 0 or dev.drift_compensation
    ):
        raise ValueError(
            "A_bar held digitally is modelled without the check after programming, wire resistance "
            "and drift compensation: each would see A_bar's devices"
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
        W, (G_pos, G_neg) = check_after_programming(
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
    if dev.wire_resistance_ohm > 0:
        # IR drop: the effective conductances of every block, once per programming
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
    if dev.read_noise_device > 0:
        # squared conductances in weight units: the per-device read noise's weights
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
    """The combined matrices of layer ``layer`` on an ideal array (its quantized weights),
    (1, H, n, n)."""
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
    """Target pair (G+, G-) (H, n, n) in uS of a quantized layer's combined matrices, and the mask
    of programmed cross-points (block layout; None: dense, all of them). ``real_zeros``: the
    off-diagonal cross-points of real poles are not programmed either
    (``crossbar.structural_mask``)."""
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
    """The weight g_max - g_min stands for, per channel block: a float (fixed range) or
    (H, 1, 1)."""
    S = layer.array_scale()
    return S if isinstance(S, float) else S.double()[:, None, None]


def spectral_radius(W: Tensor) -> Tensor:
    """Spectral radius of the state matrix A_r of each array, the largest over its channels
    (``check.channel_radius``): (R,). Above 1, that realisation's recurrence is unstable."""
    return channel_radius(W).amax(-1)
