"""Deploying a trained (quantized) classifier: its S4D layer on simulated crossbars, the rest digital.

The encoder, D u, GELU, mean pooling and decoder stay in the digital periphery; the recurrence
runs on R programmed arrays (``imssa.analog``). Single-layer classifiers, as in the paper.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .analog import effective_weights, program, simulate_fast, simulate_step
from .crossbar import combined_matrix, to_conductance
from .data import AudioSet
from .devices import DeviceConfig
from .quant import QuantS4D
from .train import SpeechClassifier

__all__ = ["analog_accuracy", "deployed_weights"]


@torch.no_grad()
def deployed_weights(net: SpeechClassifier, dev: DeviceConfig, R: int, seed: int) -> Tensor:
    """Effective combined matrices (R, H, 2N+1, 2N+1) of ``R`` programmings of the first layer."""
    layer = net.layers[0]
    if not isinstance(layer, QuantS4D):
        raise TypeError("deployment maps quantized weights: train the model with a QuantConfig")
    W = combined_matrix(layer.discrete()).double()
    G_pos, G_neg = to_conductance(W, layer.bits, layer.fscale, dev.g_min_uS, dev.g_max_uS)
    G_pos, G_neg = program(G_pos, G_neg, R, dev, generator=torch.Generator().manual_seed(seed))
    return effective_weights(G_pos, G_neg, layer.fscale, dev.g_min_uS, dev.g_max_uS)


@torch.no_grad()
def analog_accuracy(net: SpeechClassifier, data: AudioSet, W: Tensor, dev: DeviceConfig = DeviceConfig(),
                    mode: str = "fast", chunk: int = 8, seed: int = 0) -> np.ndarray:
    """Test accuracy (fraction) of each of the R arrays in W, shape (R,).

    ``mode='fast'`` (static non-idealities only) or ``'step'`` (also DAC/ADC and read noise).
    Realisations are processed ``chunk`` at a time to bound memory.
    """
    if len(net.layers) != 1:
        raise ValueError("deployment simulates single-layer classifiers")
    layer = net.layers[0]
    D = layer.discrete().D.double()
    u = (net.encoder.weight[:, 0, None] * data.x.unsqueeze(1) + net.encoder.bias[:, None]).double()
    gen = torch.Generator().manual_seed(seed)
    acc = []
    for W_c in W.split(chunk):
        y = simulate_fast(u, W_c, D) if mode == "fast" else simulate_step(u, W_c, D, dev, generator=gen)
        logits = net.decoder(F.gelu(y).mean(-1).float())  # (r, B, classes)
        acc.append((logits.argmax(-1) == data.y).double().mean(-1))
    return torch.cat(acc).numpy()
