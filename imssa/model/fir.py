"""The learned FIR filter bank: the S4D classifier's control with a kernel and no state.

Each of the H channels has T free causal taps K_h = (K_h,0, ..., K_h,T-1) and a skip D_h::

    y_h,t = sum_{k<T} K_h,k u_h,t-k + D_h u_h,t

the S4D layer's output y = K * u + D u with the kernel's length capped at T samples and nothing
between its taps tying them to a pole. On an array it is one feed-forward product per step over a
delay line of the last T inputs (no recurrence: nothing feeds back, so no pole can leave the unit
circle). ``QuantFIR`` holds the taps on the fixed-range grid of the paper's QAT (one ``fscale``,
``bits``, straight-through estimator); D stays in floating point as in ``QuantS4D``.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from .quant import q_max, quantize
from .s4d import ssm_conv

__all__ = ["FIRBank", "QuantFIR", "equalize_fir"]


class FIRBank(nn.Module):
    """H channels of ``taps`` learned causal taps each. Input and output (batch, H, L).

    Learnable: ``weight`` (H, T) real taps, initialised N(0, 1/T), and ``D`` (H,), N(0, 1).
    """

    def __init__(self, H: int, taps: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if H < 1 or taps < 1:
            raise ValueError(f"H and taps must be >= 1, got H={H}, taps={taps}")
        self.weight = nn.Parameter(torch.randn(H, taps, generator=generator) / math.sqrt(taps))
        self.D = nn.Parameter(torch.randn(H, generator=generator))

    @property
    def taps(self) -> int:
        return self.weight.shape[1]

    def ssm_parameters(self) -> list[nn.Parameter]:
        """None: the taps train with the other weights (``train.make_optimizer``)."""
        return []

    def discrete_taps(self) -> Tensor:
        """The taps this bank computes with, (H, T); quantized in ``QuantFIR``."""
        return self.weight

    def kernel(self, L: int) -> Tensor:
        """The taps as a kernel of length L (zero beyond T, cut at L), (H, L)."""
        K = self.discrete_taps()
        return nn.functional.pad(K, (0, max(0, L - K.shape[1])))[:, :L]

    def forward(self, u: Tensor, mode: Literal["conv", "recurrent"] = "conv") -> Tensor:
        """y = K * u + D u; both modes compute the same product (a delay line has no recurrence)."""
        if mode not in ("conv", "recurrent"):
            raise ValueError(f"mode must be 'conv' or 'recurrent', got {mode!r}")
        return ssm_conv(u, self.kernel(u.shape[-1]), self.D)


class QuantFIR(FIRBank):
    """FIR bank whose taps are rounded to the symmetric grid of ``bits`` over [-fscale, fscale]
    (``quant.quantize``, straight-through) in every forward pass: the fixed range of the paper."""

    def __init__(
        self,
        H: int,
        taps: int,
        generator: torch.Generator | None = None,
        *,
        bits: int,
        fscale: float,
    ) -> None:
        super().__init__(H, taps, generator)
        q_max(bits)  # validates bits
        if not fscale > 0:
            raise ValueError(f"fscale must be > 0, got {fscale}")
        self.bits, self.fscale = bits, fscale

    def discrete_taps(self) -> Tensor:
        return quantize(self.weight, self.bits, self.fscale)


@torch.no_grad()
def equalize_fir(bank: FIRBank, fscale: float, input_gain: bool = True) -> Tensor:
    """Rescale bank's taps in place so that each channel's largest tap is ``fscale``, and its D by
    the same gain g (H,); the caller divides the channel's input by g, which keeps the function
    (K * u and D u are linear in u). Without ``input_gain`` nothing changes (g = 1). Returns g."""
    if not input_gain:
        return torch.ones_like(bank.D)
    g = fscale / bank.weight.abs().amax(1).clamp_min(torch.finfo(bank.weight.dtype).tiny)
    bank.weight.mul_(g.unsqueeze(-1))
    bank.D.mul_(g)
    return g
