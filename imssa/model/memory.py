"""How long a (quantized) S4D layer remembers: mode time constants and kernel length, in ms.

A mode with pole A_bar forgets by |A_bar| per step, so its time constant is

    tau = -1 / (f_s ln|A_bar|)   seconds at sample rate f_s (Hz);  A_bar = 0 gives tau = 0,

and |A_bar| >= 1 gives an infinite tau (an unstable or marginal mode). The kernel's memory is the
length of its impulse response: the lag (in ms) by which a channel's kernel K has gathered
``energy`` (default 95%) of its total energy sum_k K_k^2.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from .fir import FIRBank
from .s4d import DiscreteSSM, ssm_kernel

__all__ = [
    "describe_memory",
    "kernel_memory_ms",
    "layer_memory",
    "memory_summary",
    "mode_table",
    "time_constants_ms",
]


def time_constants_ms(A_bar: Tensor, sample_rate: float) -> Tensor:
    """Time constant of each mode, ms: -1000 / (sample_rate ln|A_bar|). Same shape as A_bar, real.

    A_bar = 0 (a memoryless mode) gives 0 ms; |A_bar| >= 1 gives inf.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be > 0 Hz, got {sample_rate}")
    mod = A_bar.detach().abs().double()
    tau = torch.full_like(mod, float("inf"))
    decays = mod < 1
    tau[decays] = -1000.0 / (sample_rate * torch.log(mod[decays]))  # log(0) = -inf -> 0 ms
    return tau


def kernel_memory_ms(K: Tensor, sample_rate: float, energy: float = 0.95) -> Tensor:
    """Per channel, the lag (ms) within which ``energy`` of sum_k K_k^2 has arrived.
    K: (H, L) -> (H,).

    A kernel with all its energy at lag 0 (memoryless) gives 0 ms; an all-zero kernel gives 0 ms.
    """
    if not 0 < energy <= 1:
        raise ValueError(f"energy must be in (0, 1], got {energy}")
    e = K.detach().double().square().cumsum(-1)
    total = e[..., -1:]
    lag = (e < (energy - 1e-12) * total).sum(-1)  # first k with cumulative share >= energy
    return torch.where(total[..., 0] > 0, lag, 0).double() * 1000.0 / sample_rate


@torch.no_grad()
def memory_summary(p: DiscreteSSM, sample_rate: float, L: int) -> dict[str, float]:
    """Memory of one layer's discrete parameters ``p`` (A_bar etc. (H, N)) at ``sample_rate`` Hz.

    Over modes that reach the output (C_n B_bar_n != 0): median and maximum time constant (ms) and
    the share of modes with A_bar = 0; over channels: the median kernel memory (95% energy) of
    kernels of length ``L``. Values are floats (inf where a mode does not decay).
    """
    used = (p.C * p.B_bar).abs() > 0
    tau = time_constants_ms(p.A_bar, sample_rate)[used].numpy()
    K = ssm_kernel(
        p.A_bar.to(torch.complex128), p.B_bar.to(torch.complex128), p.C.to(torch.complex128), L
    )
    return {
        "modes_used": int(used.sum()),
        "tau_median_ms": float(np.median(tau)) if tau.size else 0.0,
        "tau_max_ms": float(tau.max()) if tau.size else 0.0,
        "share_A_bar_zero": float((p.A_bar[used] == 0).double().mean()) if tau.size else 1.0,
        "kernel_memory_median_ms": float(kernel_memory_ms(K, sample_rate).median()),
    }


@torch.no_grad()
def layer_memory(layer: torch.nn.Module, sample_rate: float, L: int) -> dict[str, float]:
    """``memory_summary`` of an S4D layer's ``discrete()`` parameters; for an FIR bank (no modes)
    the same keys with the time constants NaN and the kernel memory of its taps."""
    if isinstance(layer, FIRBank):
        K = layer.kernel(L)
        return {
            "modes_used": 0,
            "tau_median_ms": float("nan"),
            "tau_max_ms": float("nan"),
            "share_A_bar_zero": float("nan"),
            "kernel_memory_median_ms": float(kernel_memory_ms(K, sample_rate).median()),
        }
    return memory_summary(layer.discrete(), sample_rate, L)


@torch.no_grad()
def mode_table(p: DiscreteSSM, sample_rate: float) -> pd.DataFrame:
    """One row per mode of ``p`` (H x N): ``channel``, ``abs_A_bar``, ``tau_ms`` and ``used``
    (C_n B_bar_n != 0)."""
    H, N = p.A_bar.shape
    return pd.DataFrame(
        {
            "channel": np.repeat(np.arange(H), N),
            "abs_A_bar": p.A_bar.abs().flatten().double().numpy(),
            "tau_ms": time_constants_ms(p.A_bar, sample_rate).flatten().numpy(),
            "used": ((p.C * p.B_bar).abs() > 0).flatten().numpy(),
        }
    )


def describe_memory(
    label: str, summary: dict[str, float], sample_rate: float, short_ms: float = 10.0
) -> str:
    """One or two sentences on a model's memory from ``memory_summary``-like values (means over
    runs): its time constants and kernel memory in ms, and whether the recurrence only filters
    (kernel memory under ``short_ms``, a few tens of samples at most) or remembers."""
    k = summary["kernel_memory_median_ms"]
    text = (
        f"The {label} model keeps a median mode time constant of "
        f"{summary['tau_median_ms']:.1f} ms (at most {summary['tau_max_ms']:.1f} ms) and a kernel "
        f"memory of {k:.1f} ms, {k * sample_rate / 1000:.0f} samples at {sample_rate:g} Hz. "
    )
    if k < short_ms:
        return text + (
            "Its recurrence acts as a short filter that shapes the spectrum of each channel before "
            "the non-linearity, not as a memory of the word."
        )
    return text + "Its recurrence integrates over a span comparable to a syllable or more."
