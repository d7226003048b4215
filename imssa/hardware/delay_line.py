"""An FIR filter bank on a crossbar: one feed-forward product per step over a delay line.

Channel h's T quantized taps are one column of differential pairs (``crossbar.to_conductance`` on
the same grid and window as an S4D layer's entries); the T rows are driven by the last T inputs
u_h,t, ..., u_h,t-T+1, held in a digital shift register and converted by the DACs. Each step the
column current is y_h,t = sum_k K~_h,k u_h,t-k with the programmed taps K~ (``conductance.program``,
``devices_per_element`` / 8 pairs per tap as for a real entry of the S4D matrix); D u, GELU,
pooling and the decoder stay digital, as in ``deploy``. Nothing feeds back, so a programming error
changes the filter but cannot make it unstable, and the DAC and ADC clipping is memoryless: the
fast (FFT) result with clipped inputs and outputs is exact (no step-mode rerun is needed).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from ..data.audio import AudioSet
from ..model.fir import QuantFIR
from ..model.s4d import ssm_conv
from ..model.train import SpeechClassifier
from .analog import effective_weights
from .conductance import program
from .crossbar import pairs_per_weight, to_conductance
from .devices import DeviceConfig
from .realisations import failure_cause
from .stack import _inputs

__all__ = [
    "delay_line_converter_ranges",
    "delay_line_rows",
    "delay_line_run",
    "programmed_taps",
    "tap_conductances",
]


def _bank(net: SpeechClassifier) -> QuantFIR:
    if len(net.layers) != 1 or not isinstance(net.layers[0], QuantFIR):
        raise TypeError(
            "a delay line maps one quantized FIR bank: train ssm 'fir' with a QuantConfig, depth 1"
        )
    return net.layers[0]


@torch.no_grad()
def tap_conductances(net: SpeechClassifier, dev: DeviceConfig) -> tuple[Tensor, Tensor]:
    """Target pair (G+, G-) in uS of every tap, (H, T), on ``dev``'s mapping range."""
    bank = _bank(net)
    return to_conductance(
        bank.discrete_taps().double(), bank.bits, bank.fscale, dev.g_min_uS, dev.g_max_uS
    )


@torch.no_grad()
def programmed_taps(
    net: SpeechClassifier, dev: DeviceConfig, R: int, seed: int, devices_per_element: int = 16
) -> tuple[Tensor, Tensor]:
    """``R`` programmings of the taps: effective taps (R, H, T) and the mean pulses per
    device (R,)."""
    G_pos, G_neg = tap_conductances(net, dev)
    stats: dict[str, Tensor] = {}
    G_pos, G_neg = program(
        G_pos,
        G_neg,
        R,
        dev,
        torch.Generator().manual_seed(seed),
        copies=pairs_per_weight(devices_per_element),
        stats=stats,
    )
    return effective_weights(G_pos, G_neg, _bank(net).fscale, dev.g_min_uS, dev.g_max_uS), stats[
        "pulses"
    ]


@torch.no_grad()
def delay_line_converter_ranges(
    net: SpeechClassifier, x: Tensor, headroom: float
) -> dict[str, float]:
    """DAC and ADC full scales from the ideal taps' peaks on clips ``x`` (B, L): ``headroom``
    times the largest |input| and |column output|. Keys of ``DeviceConfig``: ``dac_input_range``
    (the delay line's rows) and ``adc_range``."""
    u = _inputs(net, x)
    K = _bank(net).kernel(x.shape[-1]).double()
    column = ssm_conv(u, K, torch.zeros(K.shape[0], dtype=u.dtype))
    return {
        "dac_input_range": headroom * float(u.abs().max()),
        "adc_range": headroom * float(column.abs().max()),
    }


@torch.no_grad()
def delay_line_run(
    net: SpeechClassifier, x: Tensor, taps: Tensor, dev: DeviceConfig
) -> tuple[Tensor, Tensor]:
    """Logits (R, B, classes) of clips ``x`` (B, L) through the programmed ``taps`` (R, H, T), and
    per programming whether a converter clipped (R,). Inputs clip at ``dev.dac_input_range`` (else
    ``dac_range``), column outputs at ``adc_range``; ideal resolution and no read noise (fast
    mode)."""
    if dev.needs_step:
        raise ValueError(
            "the delay line runs in fast mode: converter bits, read noise, offsets, bit-serial "
            "inputs and per-column ranges are not modelled"
        )
    bank = _bank(net)
    dac = dev.dac_input_range or dev.dac_range or math.inf
    adc = dev.adc_range or math.inf
    u = _inputs(net, x)
    u_in = u.clamp(-dac, dac)
    clipped_in = bool((u.abs() > dac).any())
    L, D = x.shape[-1], bank.D.double()
    logits, saturated = [], []
    for K in taps.double():
        column = ssm_conv(
            u_in,
            torch.nn.functional.pad(K, (0, max(0, L - K.shape[1])))[:, :L],
            torch.zeros_like(D),
        )
        saturated.append(clipped_in or bool((column.abs() > adc).any()))
        y = column.clamp(-adc, adc) + D[:, None] * u
        h = net.between_layers(0, y, None)
        logits.append(
            torch.nn.functional.linear(
                h.mean(-1), net.decoder.weight.double(), net.decoder.bias.double()
            )
        )
    return torch.stack(logits), torch.tensor(saturated)


def delay_line_rows(
    net: SpeechClassifier,
    data: AudioSet,
    dev: DeviceConfig,
    R: int,
    seed: int,
    devices_per_element: int = 16,
) -> list[dict[str, Any]]:
    """One row per programming (``realisation``, ``accuracy``, ``spectral_radius`` 0: no
    recurrence, ``saturated``, ``failure`` by ``realisations.failure_cause``,
    ``pulses_per_device``) of the FIR bank ``net`` on ``dev``, scored on ``data``: the columns of
    ``realisations.realisation_rows``. One programming where nothing is random."""
    R = R if dev.random_at(0.0) else 1
    taps, pulses = programmed_taps(net, dev, R, seed, devices_per_element)
    logits, saturated = delay_line_run(net, data.x, taps, dev)
    acc = (logits.argmax(-1) == data.y).double().mean(-1)
    chance = 1 / net.decoder.out_features
    return [
        {
            "realisation": r,
            "accuracy": float(acc[r]),
            "spectral_radius": 0.0,
            "saturated": bool(saturated[r]),
            "failure": failure_cause(
                float(acc[r]), len(data), 0.0, bool(saturated[r]), dev, chance
            ),
            "pulses_per_device": float(pulses[r]),
        }
        for r in range(R)
    ]
