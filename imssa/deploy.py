"""Deploying a trained (quantized) classifier: its S4D layer on simulated crossbars, the rest digital.

The encoder, D u, GELU, mean pooling and decoder stay in the digital periphery; the recurrence
runs on R programmed arrays (``imssa.analog``). Single-layer classifiers, as in the paper.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .analog import effective_weights, program, simulate_fast_encoded, simulate_step
from .crossbar import combined_matrix, structural_mask, to_conductance
from .data import AudioSet
from .devices import DeviceConfig
from .quant import QuantS4D
from .train import SpeechClassifier

__all__ = ["analog_accuracy", "analog_predictions", "calibrate_converters", "deployed_weights", "noise_rows", "realisation_rows",
           "spectral_radius"]


@torch.no_grad()
def deployed_weights(net: SpeechClassifier, dev: DeviceConfig, R: int, seed: int,
                     layout: Literal["dense", "block"] = "dense") -> Tensor:
    """Effective combined matrices (R, H, 2N+1, 2N+1) of ``R`` programmings of the first layer.

    ``dense``: every entry of the combined matrix is a programmed device pair, structural zeros
    included (at g_min, and as noisy as any other). ``block``: only the entries a mode can use
    (``crossbar.structural_mask``) are devices; structural zeros are exactly 0 (no device there).
    """
    layer = net.layers[0]
    if not isinstance(layer, QuantS4D):
        raise TypeError("deployment maps quantized weights: train the model with a QuantConfig")
    if layout not in ("dense", "block"):
        raise ValueError(f"layout must be 'dense' or 'block', got {layout!r}")
    W = combined_matrix(layer.discrete()).double()
    G_pos, G_neg = to_conductance(W, layer.bits, layer.fscale, dev.g_min_uS, dev.g_max_uS)
    G_pos, G_neg = program(G_pos, G_neg, R, dev, generator=torch.Generator().manual_seed(seed))
    W_eff = effective_weights(G_pos, G_neg, layer.fscale, dev.g_min_uS, dev.g_max_uS)
    if layout == "block":
        W_eff = W_eff * structural_mask(W.shape[0], layer.N)
    return W_eff


def spectral_radius(W: Tensor, squarings: int = 12) -> Tensor:
    """Spectral radius of the state matrix A_r of each array, max over channels: (R,).

    Estimated as ||A^k||^(1/k) with k = 2^squarings (4096 by default, longer than the sequences
    used here) by repeated, rescaled squaring: robust where an eigenvalue solver may not converge,
    and an upper bound that is within a factor dim^(1/k) (< 0.1%) of the true radius. Above 1,
    programming noise has made that realisation's recurrence unstable.
    """
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
def calibrate_converters(net: SpeechClassifier, x: Tensor, W: Tensor, margin: float = 1.1) -> tuple[float, float]:
    """DAC and ADC full scales from an ideal run on calibration clips ``x`` (B, L), e.g. from the
    training set: the largest |input| and |output| seen, times ``margin``."""
    peaks: dict[str, float] = {}
    simulate_step(_inputs(net, x), W[:1], net.layers[0].discrete().D.double(), peaks=peaks)
    return margin * peaks["dac"], margin * peaks["adc"]


@torch.no_grad()
def analog_predictions(net: SpeechClassifier, data: AudioSet, W: Tensor, dev: DeviceConfig = DeviceConfig(),
                       mode: str = "fast", chunk: int = 8, seed: int = 0) -> np.ndarray:
    """Predicted classes of every clip of ``data`` on each of the R arrays in W: shape (R, clips).

    ``mode='fast'`` (static non-idealities only) or ``'step'`` (also DAC/ADC and read noise).
    Realisations are processed ``chunk`` at a time to bound memory.
    """
    if len(net.layers) != 1:
        raise ValueError("deployment simulates single-layer classifiers")
    if mode not in ("fast", "step"):
        raise ValueError(f"mode must be 'fast' or 'step', got {mode!r}")
    layer = net.layers[0]
    D = layer.discrete().D.double()
    w, b, x = net.encoder.weight[:, 0], net.encoder.bias, data.x  # fast mode: float32 convolution
    u = _inputs(net, data.x) if mode == "step" else None  # step mode: the channel inputs, float64
    gen = torch.Generator().manual_seed(seed)
    preds = []
    for W_c in W.split(chunk):
        if mode == "fast":
            y = simulate_fast_encoded(x, w, b, W_c, D.float())
        else:
            y = simulate_step(u, W_c, D, dev, generator=gen)
        preds.append(net.decoder(F.gelu(y).mean(-1).float()).argmax(-1))  # (r, B)
    return torch.cat(preds).numpy()


def analog_accuracy(net: SpeechClassifier, data: AudioSet, W: Tensor, dev: DeviceConfig = DeviceConfig(),
                    mode: str = "fast", chunk: int = 8, seed: int = 0) -> np.ndarray:
    """Test accuracy (fraction) of each of the R arrays in W, shape (R,) (see ``analog_predictions``)."""
    pred = analog_predictions(net, data, W, dev, mode, chunk, seed)
    return (pred == data.y.numpy()).mean(-1)


def realisation_rows(net: SpeechClassifier, data: AudioSet, dev: DeviceConfig, R: int, seed: int,
                     mode: str = "fast", layout: Literal["dense", "block"] = "dense") -> list[dict[str, float]]:
    """Program ``R`` arrays with ``dev`` and return one row per realisation: its test accuracy and
    the spectral radius of its state matrix (> 1: the noisy recurrence is unstable)."""
    W = deployed_weights(net, dev, R, seed, layout)
    acc = analog_accuracy(net, data, W, dev, mode=mode, seed=seed)
    rho = spectral_radius(W)
    return [{"realisation": r, "accuracy": float(a), "spectral_radius": float(p)}
            for r, (a, p) in enumerate(zip(acc, rho))]


def noise_rows(net: SpeechClassifier, data: AudioSet, bits: int, sigma_uS: float, g_min_uS: float,
               g_max_uS: float, R: int, layout: Literal["dense", "block"] = "dense") -> list[dict[str, float]]:
    """One point of the programming-noise sweep (the paper's Fig. 4): ``R`` programmings with
    noise ``sigma_uS`` on [g_min_uS, g_max_uS], fast mode, seeded by (bits, sigma) so that the
    chapter, its levers and the benchmark draw the same realisations."""
    dev = DeviceConfig(g_min_uS=g_min_uS, g_max_uS=g_max_uS, sigma_uS=sigma_uS)
    return realisation_rows(net, data, dev, R, seed=1000 * bits + round(100 * sigma_uS), layout=layout)
