"""Deploying a trained (quantized) classifier: its S4D layer on simulated crossbars, the rest digital.

The encoder, D u, GELU, mean pooling and decoder stay in the digital periphery; the recurrence
runs on R programmed arrays (``imssa.analog``). Single-layer classifiers, as in the paper.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .analog import effective_weights, mode_blocks, program, simulate_saturating, simulate_step
from .crossbar import combined_matrix, entry_grid, pairs_per_weight, structural_mask, to_conductance
from .data import AudioSet
from .devices import DeviceConfig
from .quant import QuantS4D, q_max
from .stats import chance_failure
from .train import SpeechClassifier

__all__ = ["analog_accuracy", "array_scale", "analog_predictions", "analog_run", "calibrate_converters",
           "deployed_weights", "fits", "target_conductances", "failure_cause", "noise_rows", "realisation_rows", "spectral_radius"]


def fits(dev: DeviceConfig, bits: int) -> bool:
    """Whether a device with ``dev.states`` conductance states can hold a ``bits``-bit model's levels
    (q_max + 1 per device of a differential pair; analog devices hold any)."""
    return dev.states is None or q_max(bits) + 1 <= dev.states


@torch.no_grad()
def deployed_weights(net: SpeechClassifier, dev: DeviceConfig, R: int, seed: int,
                     layout: Literal["dense", "block"] = "block", devices_per_element: int = 16,
                     stats: dict[str, Tensor] | None = None) -> Tensor:
    """Effective combined matrices (R, H, 2N+1, 2N+1) of ``R`` programmings of the first layer.

    ``block`` (the paper's mapping): only the entries a mode can use (``crossbar.structural_mask``:
    its 2x2 block of A_bar, its B_bar and C entries) are programmed devices; the other cross-points
    are left unprogrammed (``dev.g_off_uS``: no device, or a high-resistance state with its spread).
    ``dense``: every entry of the combined matrix is a programmed pair, structural zeros included
    (at g_min, as noisy as any other). ``devices_per_element``: devices per complex element of
    A_bar, 8 (one differential pair per real entry), 16 (two, the paper's 4 x 4 block; their
    errors average) or any multiple of 8 (``crossbar.pairs_per_weight``).

    The arrays are read ``dev.t_s`` after programming; with ``dev.drift_compensation`` the
    periphery multiplies each array's outputs by alpha = mean|W(0)| / mean|W(t)| (its mean
    |readout| for one-hot inputs right after programming over that at t; one factor per
    realisation and layer, as a global drift compensation does). ``stats`` receives
    ``analog.program``'s ``pulses`` (R,) and, with compensation, ``alpha`` (R,). A device with
    ``dev.states`` states cannot hold a model that needs more conductance levels: ValueError.
    """
    layer = net.layers[0]
    if not isinstance(layer, QuantS4D):
        raise TypeError("deployment maps quantized weights: train the model with a QuantConfig")
    if layout not in ("dense", "block"):
        raise ValueError(f"layout must be 'dense' or 'block', got {layout!r}")
    if not fits(dev, layer.bits):
        raise ValueError(f"a device with {dev.states} conductance states cannot hold the {layer.bits}-bit model, "
                         f"which needs {q_max(layer.bits) + 1} levels per device")
    copies = pairs_per_weight(devices_per_element)
    G_pos, G_neg, used = _targets(layer, dev, layout)
    stats = {} if stats is None else stats
    G_pos, G_neg = program(G_pos, G_neg, R, dev, generator=torch.Generator().manual_seed(seed), used=used,
                           copies=copies, stats=stats)
    W = effective_weights(G_pos, G_neg, array_scale(layer), dev.g_min_uS, dev.g_max_uS)
    if dev.drift_compensation:
        W0 = effective_weights(*stats["G_t0"], array_scale(layer), dev.g_min_uS, dev.g_max_uS)
        alpha = W0.abs().flatten(1).mean(1) / W.abs().flatten(1).mean(1).clamp_min(1e-12)
        stats["alpha"] = alpha
        W = W * alpha[:, None, None, None]
    return W


@torch.no_grad()
def target_conductances(net: SpeechClassifier, dev: DeviceConfig, layout: Literal["dense", "block"] = "block") -> Tensor:
    """Target conductances (uS) of every programmed device of the first layer, both sides of each
    pair, flattened (one copy per entry: copies share their targets)."""
    G_pos, G_neg, used = _targets(net.layers[0], dev, layout)
    if used is not None:
        return torch.cat([G_pos[used], G_neg[used]])
    return torch.cat([G_pos.flatten(), G_neg.flatten()])


def _targets(layer: QuantS4D, dev: DeviceConfig, layout: str) -> tuple[Tensor, Tensor, Tensor | None]:
    """Target pair (G+, G-) (H, n, n) in uS of a quantized layer's combined matrices, and the mask of
    programmed cross-points (block layout; None: dense, all of them)."""
    W = combined_matrix(layer.discrete()).double()
    if layer.range_mode == "fixed" and len(set(layer.bits_per_matrix)) == 1:  # one grid, one range
        G_pos, G_neg = to_conductance(W, layer.bits, layer.fscale, dev.g_min_uS, dev.g_max_uS)
    else:
        ranges, bits = entry_grid(layer.ranges(), layer.bits_per_matrix, W.shape[0], layer.N)
        G_pos, G_neg = to_conductance(W, bits, ranges, dev.g_min_uS, dev.g_max_uS, array_scale(layer))
    return G_pos, G_neg, structural_mask(W.shape[0], layer.N) if layout == "block" else None


def array_scale(layer: QuantS4D) -> float | Tensor:
    """The weight g_max - g_min stands for, per channel block: a float (fixed range) or (H, 1, 1)."""
    S = layer.array_scale()
    return S if isinstance(S, float) else S.double()[:, None, None]


def spectral_radius(W: Tensor, squarings: int = 12) -> Tensor:
    """Spectral radius of the state matrix A_r of each array, max over channels: (R,).

    Where modes do not couple (block layout, no device off the blocks) it is exact, from the
    eigenvalues (tr +- sqrt(tr^2 - 4 det)) / 2 of each 2x2 block. Otherwise it is estimated as
    ||A^k||^(1/k) with k = 2^squarings (4096 by default, longer than the sequences used here) by
    repeated, rescaled squaring: robust where an eigenvalue solver may not converge, and an upper
    bound within a factor dim^(1/k) (< 0.1%) of the true radius. Above 1, programming noise has
    made that realisation's recurrence unstable.
    """
    blocks = mode_blocks(W.double())
    if blocks is not None:
        a00, a01, a10, a11 = (t[:, 0] for t in blocks[:4])
        tr, det = a00 + a11, a00 * a11 - a01 * a10
        root = torch.sqrt((tr**2 - 4 * det).to(torch.complex128))
        lam = torch.stack([(tr + root) / 2, (tr - root) / 2], -1).abs()
        return lam.flatten(1).amax(-1)
    A = W[..., :-1, :-1].double()
    log_norm = torch.zeros(A.shape[:-2], dtype=A.dtype)
    for _ in range(squarings):
        scale = A.abs().amax((-2, -1)).clamp_min(torch.finfo(A.dtype).tiny)
        log_norm = 2 * (log_norm + scale.log())
        A = A / scale[..., None, None]
        A = A @ A
    log_rho = (log_norm + torch.linalg.matrix_norm(A).clamp_min(torch.finfo(A.dtype).tiny).log()) / 2**squarings
    return log_rho.exp().amax(-1)


def _inputs(net: SpeechClassifier, x: Tensor) -> Tensor:
    """The digital encoder's output u = w x + b, (B, H, L), float64."""
    return (net.encoder.weight[:, 0, None] * x.unsqueeze(1) + net.encoder.bias[:, None]).double()


@torch.no_grad()
def calibrate_converters(net: SpeechClassifier, x: Tensor, margin: float = 1.1, clips: int = 64) -> dict[str, float]:
    """DAC and ADC full scales from the ideal array on calibration clips ``x`` (B, L), e.g. the
    training set: the largest |input| (the clip's and the fed-back state's) and |output| seen in a
    step-mode run on ``clips`` of them, evenly spaced through ``x`` (so that every speaker is
    represented), times ``margin``. Returns {'dac_range': ..., 'adc_range': ...}, to update a
    ``DeviceConfig`` with."""
    if margin <= 0 or clips < 1:
        raise ValueError(f"need margin > 0 and clips >= 1, got margin={margin}, clips={clips}")
    x = x[torch.linspace(0, len(x) - 1, min(clips, len(x))).round().long()]
    ideal = net.layers[0].discrete()
    peaks: dict[str, Tensor] = {}
    simulate_step(_inputs(net, x), combined_matrix(ideal).double().unsqueeze(0), ideal.D.double(), peaks=peaks)
    return {"dac_range": margin * float(peaks["dac"].max()), "adc_range": margin * float(peaks["adc"].max())}


@torch.no_grad()
def analog_run(net: SpeechClassifier, data: AudioSet, W: Tensor, dev: DeviceConfig = DeviceConfig(),
               mode: str = "fast", chunk: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Predicted classes of every clip of ``data`` on each of the R arrays in W, (R, clips), and
    whether each array's periphery saturated, (R,) bool.

    ``mode='fast'``: static non-idealities, with ``dev``'s converter ranges (saturation) but ideal
    resolution (``analog.simulate_saturating``); ``'step'``: also converter bits and read noise.
    Realisations are processed ``chunk`` at a time to bound memory (default: all of them in fast
    mode, which convolves one at a time and reruns the channels that may saturate together; 8 in
    step mode).
    """
    chunk = chunk or (len(W) if mode == "fast" else 8)
    if len(net.layers) != 1:
        raise ValueError("deployment simulates single-layer classifiers")
    if mode not in ("fast", "step"):
        raise ValueError(f"mode must be 'fast' or 'step', got {mode!r}")
    layer = net.layers[0]
    D = layer.discrete().D.double()
    w, b, x = net.encoder.weight[:, 0], net.encoder.bias, data.x  # fast mode: float32 convolution
    u = _inputs(net, data.x).float() if mode == "step" else None  # step mode: float32, far below converter steps
    gen = torch.Generator().manual_seed(seed)
    preds, saturated = [], []
    for W_c in W.split(chunk):
        if mode == "fast":
            y, sat = simulate_saturating(x, w, b, W_c, D.float(), dev)
        else:
            peaks: dict[str, Tensor] = {}
            y = simulate_step(u, W_c.float(), D.float(), dev, generator=gen, peaks=peaks)
            sat = _over(peaks["adc"], dev.adc_range) | _over(peaks["dac"], dev.dac_range)
        preds.append(net.decoder(F.gelu(y).mean(-1).float()).argmax(-1))  # (r, B)
        saturated.append(sat)
    return torch.cat(preds).numpy(), torch.cat(saturated).numpy()


def _over(peak: Tensor, limit: float | None) -> Tensor:
    return peak > limit if limit is not None else torch.zeros_like(peak, dtype=torch.bool)


def analog_predictions(net: SpeechClassifier, data: AudioSet, W: Tensor, dev: DeviceConfig = DeviceConfig(),
                       mode: str = "fast", chunk: int | None = None, seed: int = 0) -> np.ndarray:
    """Predicted classes (R, clips) of ``analog_run``."""
    return analog_run(net, data, W, dev, mode, chunk, seed)[0]


def analog_accuracy(net: SpeechClassifier, data: AudioSet, W: Tensor, dev: DeviceConfig = DeviceConfig(),
                    mode: str = "fast", chunk: int | None = None, seed: int = 0) -> np.ndarray:
    """Test accuracy (fraction) of each of the R arrays in W, shape (R,) (see ``analog_predictions``)."""
    pred = analog_predictions(net, data, W, dev, mode, chunk, seed)
    return (pred == data.y.numpy()).mean(-1)


def failure_cause(accuracy: float, n_clips: int, spectral_radius: float, saturated: bool, dev: DeviceConfig) -> str:
    """Why a programming scores at chance (``stats.chance_failure``), '' if it does not: 'unstable'
    (spectral radius >= 1), else 'saturated' (a converter clipped), else the non-idealities present
    that can silence it without either ('stuck devices', 'converter rounding', 'read noise', joined
    by ' + '; the chapters separate them with runs that switch one off), else 'weight error'
    (programming noise alone, with a stable recurrence)."""
    if not chance_failure(accuracy, n_clips):
        return ""
    if spectral_radius >= 1:
        return "unstable"
    if saturated:
        return "saturated"
    present = [name for name, on in (("stuck devices", dev.stuck_at_gmax + dev.stuck_at_gmin > 0),
                                     ("converter rounding", dev.dac_bits is not None or dev.adc_bits is not None),
                                     ("read noise", dev.read_noise > 0)) if on]
    return " + ".join(present) or "weight error"


def realisation_rows(net: SpeechClassifier, data: AudioSet, dev: DeviceConfig, R: int, seed: int,
                     mode: str = "fast", layout: Literal["dense", "block"] = "block",
                     devices_per_element: int = 16) -> list[dict[str, Any]]:
    """Program ``R`` arrays with ``dev`` and return one row per realisation: its test accuracy, the
    spectral radius of its state matrix (> 1: the noisy recurrence is unstable), whether the
    periphery saturated, the cause of a chance-level score (``failure_cause``), and the mean
    programming pulses per device (1 without write-verify)."""
    stats: dict[str, Tensor] = {}
    W = deployed_weights(net, dev, R, seed, layout, devices_per_element, stats=stats)
    pred, sat = analog_run(net, data, W, dev, mode=mode, seed=seed)
    acc = (pred == data.y.numpy()).mean(-1)
    rho = spectral_radius(W)
    return [{"realisation": r, "accuracy": float(a), "spectral_radius": float(p), "saturated": bool(s),
             "failure": failure_cause(float(a), len(data), float(p), bool(s), dev), "pulses_per_device": float(n)}
            for r, (a, p, s, n) in enumerate(zip(acc, rho, sat, stats["pulses"]))]


def noise_rows(net: SpeechClassifier, data: AudioSet, bits: int, sigma_uS: float, dev: DeviceConfig, R: int,
               layout: Literal["dense", "block"] = "block", devices_per_element: int = 16) -> list[dict[str, Any]]:
    """One point of the programming-noise sweep (the paper's Fig. 4): ``R`` programmings of ``dev``
    (range, window, clipping rule, converter ranges) with noise ``sigma_uS``, fast mode, seeded by
    (bits, sigma) so that every variant of the sweep draws the same noise (paired comparisons).
    Where every programming is the same (sigma = 0 and nothing else random, ``DeviceConfig.stochastic``)
    one is computed."""
    noisy = dev.model_copy(update={"sigma_uS": sigma_uS})
    return realisation_rows(net, data, noisy, R if noisy.stochastic else 1, seed=1000 * bits + round(100 * sigma_uS),
                            layout=layout, devices_per_element=devices_per_element)
