"""The S4D chapter's tables: its discrete SSMs per initialisation, the agreement of their two ways
of computing (convolution and recurrence), their frequency responses, kernels and poles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from ..model.s4d import frequency_response, init_A, ssm_conv, ssm_kernel, ssm_recurrent, zoh

__all__ = [
    "discrete_ssms",
    "eigenvalue_table",
    "frequency_response_table",
    "kernel_table",
    "mode_agreement",
]


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
