"""Simulation of the S4D recurrence on a memristive crossbar, vectorised over noise realisations.

The array holds, per channel h, the combined matrix W_h = [[A_r, B_r], [C_r, 0]] of
``imssa.crossbar`` as differential conductance pairs. Each time step is one vector-matrix
multiplication: the periphery drives [x_{t-1}; u_t] as voltages (DAC), reads the column
currents (TIA + ADC) and obtains [x_t; y'_{t-1}]; the state goes back through the DAC.
The channel output is y_t = 2 y'_t + D u_t, with D applied digitally.

Two modes:

* ``simulate_step``: the loop above, with every non-ideality of the periphery;
* ``simulate_fast``: static non-idealities (programming noise, stuck devices, drift) keep the
  system linear and time-invariant, so each realisation has its own kernel
  K_k = 2 C_r A_r^k B_r, and the output is an FFT convolution. Same numbers as step mode when
  the periphery is ideal.

Shapes: R realisations, batch of B clips, H channels, n = 2N + 1. Conductances in uS.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .crossbar import from_conductance, split_combined
from .devices import DeviceConfig, drift_factor
from .s4d import ssm_conv, ssm_conv_affine

__all__ = ["effective_weights", "fast_kernels", "program", "simulate_fast", "simulate_fast_encoded", "simulate_step"]


def program(G_pos: Tensor, G_neg: Tensor, R: int, dev: DeviceConfig,
            generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """``R`` programmed copies of the target pairs (uS): G + N(0, sigma^2) clipped to
    [g_min, g_max], a fraction of devices stuck at g_max or g_min, then drift (t/t0)^-nu.
    Returns two tensors of shape (R, *G.shape)."""
    out = []
    for G in (G_pos, G_neg):
        G = G.expand(R, *G.shape).clone()
        if dev.sigma_uS > 0:
            G += dev.sigma_uS * torch.randn(G.shape, generator=generator, dtype=G.dtype)
        G.clamp_(dev.g_min_uS, dev.g_max_uS)
        if dev.stuck_at_gmax > 0 or dev.stuck_at_gmin > 0:
            r = torch.rand(G.shape, generator=generator, dtype=G.dtype)
            G = torch.where(r < dev.stuck_at_gmax, torch.full_like(G, dev.g_max_uS), G)
            low = (r >= dev.stuck_at_gmax) & (r < dev.stuck_at_gmax + dev.stuck_at_gmin)
            G = torch.where(low, torch.full_like(G, dev.g_min_uS), G)
        out.append(G * drift_factor(dev))
    return out[0], out[1]


def effective_weights(G_pos: Tensor, G_neg: Tensor, fscale: float, g_min: float, g_max: float) -> Tensor:
    """Weights the (noisy) array actually computes with: fscale (G+ - G-) / (g_max - g_min)."""
    return from_conductance(G_pos, G_neg, fscale, g_min, g_max)


def fast_kernels(W: Tensor, L: int) -> Tensor:
    """Kernels K_k = 2 C_r A_r^k B_r, k < L, of combined matrices W (..., n, n). Returns (..., L).

    A_r need not be block diagonal any more (noise couples the modes). With m = ceil(sqrt(L)),
    K_{jm + r} = 2 (C_r A_r^{jm}) (A_r^r B_r): about 2 sqrt(L) sequential matrix-vector steps and
    one batched product, instead of L steps.
    """
    A_r, B_r, C_r = split_combined(W)
    m = max(1, math.ceil(math.sqrt(L)))
    J = math.ceil(L / m)
    right = [B_r.unsqueeze(-1)]  # A^r B, r < m
    for _ in range(m - 1):
        right.append(A_r @ right[-1])
    A_m = torch.linalg.matrix_power(A_r, m)
    left = [C_r.unsqueeze(-2)]  # C A^{jm}, j < J
    for _ in range(J - 1):
        left.append(left[-1] @ A_m)
    K = torch.cat(left, -2) @ torch.cat(right, -1)  # (..., J, m)
    return 2 * K.flatten(-2)[..., :L]


def simulate_fast(u: Tensor, W: Tensor, D: Tensor) -> Tensor:
    """Outputs y (R, B, H, L) for inputs u (B, H, L) of static arrays W (R, H, n, n), D (H,).

    The corner W[-1, -1] (a programmed zero) adds 2 W[-1, -1] u_{t+1} to y_t: the readout of
    y_t shares its VMM with the next input, so a noisy zero there leaks that input in.
    """
    K = fast_kernels(W, u.shape[-1])  # (R, H, L)
    return ssm_conv(u.unsqueeze(0), K.unsqueeze(1), D) + _corner_term(W, u)


def simulate_fast_encoded(x: Tensor, w: Tensor, b: Tensor, W: Tensor, D: Tensor) -> Tensor:
    """``simulate_fast`` for channel inputs u_h = w_h x + b_h of one signal x (B, L): the FFT of x
    is taken once instead of per channel (``s4d.ssm_conv_affine``). Returns (R, B, H, L).
    The kernels are computed in W's precision, the convolution in x's (float32 halves its cost)."""
    K = fast_kernels(W, x.shape[-1]).unsqueeze(1).to(x.dtype)  # (R, 1, H, L)
    u = w[:, None] * x.unsqueeze(1) + b[:, None]
    return ssm_conv_affine(x, w, b, K, D) + _corner_term(W, u)


def _corner_term(W: Tensor, u: Tensor) -> Tensor:
    u_next = torch.nn.functional.pad(u[..., 1:], (0, 1))
    return 2 * W[..., -1, -1][:, None, :, None].to(u.dtype) * u_next


def _quantize_uniform(v: Tensor, bits: int | None, v_max: float) -> Tensor:
    """Clip to [-v_max, v_max] and round to 2^bits - 1 evenly spaced levels (None: no converter)."""
    if bits is None:
        return v
    step = 2 * v_max / (2**bits - 1)
    return torch.round(v.clamp(-v_max, v_max) / step) * step


def simulate_step(u: Tensor, W: Tensor, D: Tensor, dev: DeviceConfig = DeviceConfig(),
                  generator: torch.Generator | None = None, peaks: dict[str, float] | None = None) -> Tensor:
    """Step-by-step analog recurrence with periphery non-idealities. Returns y (R, B, H, L).

    u: (B, H, L) inputs; W: (R, H, n, n) effective weights of the programmed arrays; D: (H,).
    Each step: inputs [x; u] through the DAC (``dac_bits`` over +-``dac_range``), one VMM,
    additive read noise on every output (std ``read_noise`` x ``adc_range``, fresh each step),
    the ADC (``adc_bits`` over +-``adc_range``). State and readout share the converters.
    ``peaks``, if given, receives the largest |DAC input| and |ADC input| seen (for calibration).
    """
    dac_bits, dac_range, adc_bits, adc_range = dev.dac_bits, dev.dac_range, dev.adc_bits, dev.adc_range
    R, (B, H, L), n = W.shape[0], u.shape, W.shape[-1]
    v = u.new_zeros(R, B, H, n)
    readout = []
    for t in range(L + 1):  # step t reads out y'_{t-1}
        v[..., -1] = u[..., t] if t < L else 0.0
        out = torch.einsum("rhij,rbhj->rbhi", W, _quantize_uniform(v, dac_bits, dac_range))
        if peaks is not None:
            peaks["dac"] = max(peaks.get("dac", 0.0), float(v.abs().max()))
            peaks["adc"] = max(peaks.get("adc", 0.0), float(out.abs().max()))
        if dev.read_noise > 0:
            out = out + dev.read_noise * adc_range * torch.randn(out.shape, generator=generator, dtype=out.dtype)
        out = _quantize_uniform(out, adc_bits, adc_range)
        if t > 0:
            readout.append(out[..., -1])
        v = torch.cat([out[..., :-1], v[..., -1:]], -1)
    return 2 * torch.stack(readout, -1) + D[:, None] * u
