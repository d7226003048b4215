"""Simulation of the S4D recurrence on a memristive crossbar, vectorised over noise realisations.

The array holds, per channel h, the combined matrix W_h = [[A_r, B_r], [C_r, 0]] of
``imssa.hardware.crossbar`` as differential conductance pairs. Each time step is one vector-matrix
multiplication: the periphery drives [x_{t-1}; u_t] as voltages (DAC), reads the column
currents (TIA + ADC) and obtains [x_t; y'_{t-1}]; the state goes back through the DAC.
The channel output is y_t = 2 y'_t + D u_t, with D applied digitally.

Two modes:

* ``step.simulate_step``: the loop above, with every non-ideality of the periphery;
* ``simulate_fast``: static non-idealities (programming noise, stuck devices, drift) keep the
  system linear and time-invariant, so each realisation has its own kernel
  K_k = 2 C_r A_r^k B_r, and the output is an FFT convolution. Same numbers as step mode when
  the periphery is ideal.
* ``simulate_saturating``: fast mode with converters that saturate (ideal resolution, finite
  range), exact: memoryless clipping is applied to the FFT result, and the (realisation,
  channel) pairs whose state could leave the range are rerun in step mode.

The programmed conductances come from ``conductance.program`` (the device physics: writing and
ageing); this module only simulates the array they form, in fast mode; step mode is in ``step``.

Shapes: R realisations, batch of B clips, H channels, n = 2N + 1. Conductances in uS.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ..model.s4d import ssm_conv, ssm_conv_affine
from .crossbar import from_conductance, split_combined
from .devices import DeviceConfig
from .step import flush_subnormals, simulate_step

__all__ = [
    "effective_weights",
    "fast_kernels",
    "simulate_fast",
    "simulate_fast_encoded",
    "simulate_saturating",
    "simulate_saturating_inputs",
    "state_gain",
]


def effective_weights(
    G_pos: Tensor, G_neg: Tensor, fscale: float, g_min: float, g_max: float
) -> Tensor:
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
    """Outputs y (R, B, H, L) for inputs u (B, H, L) of static arrays W (R, H, n, n), D (H,), with
    an unbounded periphery (see ``simulate_saturating`` for one that saturates).

    The corner W[-1, -1] (a programmed zero) adds 2 W[-1, -1] u_{t+1} to y_t: the readout of
    y_t shares its VMM with the next input, so a noisy zero there leaks that input in.
    """
    return 2 * _readout(u, W) + D[:, None] * u


def simulate_fast_encoded(x: Tensor, w: Tensor, b: Tensor, W: Tensor, D: Tensor) -> Tensor:
    """``simulate_fast`` for channel inputs u_h = w_h x + b_h of one signal x (B, L): the FFT of x
    is taken once instead of per channel (``s4d.ssm_conv_affine``). Returns (R, B, H, L).
    The kernels are computed in W's precision, the convolution in x's (float32 halves its cost)."""
    return 2 * _readout_encoded(x, w, b, W) + D[:, None] * (
        w[:, None] * x.unsqueeze(1) + b[:, None]
    )


def _readout(u: Tensor, W: Tensor) -> Tensor:
    """Readout y'_t = C_r x_t + W[-1, -1] u_{t+1} of the unbounded linear system, (R, B, H, L)."""
    K = fast_kernels(W, u.shape[-1]) / 2  # (R, H, L): the readout's own impulse response
    return ssm_conv(u.unsqueeze(0), K.unsqueeze(1), u.new_zeros(u.shape[-2])) + _corner_term(W, u)


def _readout_encoded(x: Tensor, w: Tensor, b: Tensor, W: Tensor) -> Tensor:
    """``_readout`` for u_h = w_h x + b_h, with one FFT of x (``s4d.ssm_conv_affine``)."""
    K = fast_kernels(W, x.shape[-1]).unsqueeze(1).to(x.dtype) / 2  # (R, 1, H, L)
    u = w[:, None] * x.unsqueeze(1) + b[:, None]
    return ssm_conv_affine(x, w, b, K, torch.zeros_like(w)) + _corner_term(W, u)


def _corner_term(W: Tensor, u: Tensor) -> Tensor:
    """W[-1, -1] u_{t+1}: the corner's leak of the next input into the readout, (R, B, H, L)."""
    u_next = torch.nn.functional.pad(u[..., 1:], (0, 1))
    return W[..., -1, -1][:, None, :, None].to(u.dtype) * u_next


def state_gain(W: Tensor, L: int) -> tuple[Tensor, Tensor]:
    """Gains from input to state over L steps, for W (..., H, n, n), each of shape (..., H), max
    over the state components i of h_k = (A_r^k B_r)_i:

    * l1 gain, sum_{k<L} |h_k|: a state never exceeds it times max_t |u_t|;
    * step gain, max_{k<L} |sum_{j<=k} h_j|: the largest state a constant input of 1 produces.

    Computed as in ``fast_kernels``: A^(jm) (A^r B) for r < m, j < ceil(L/m). Non-finite for a
    diverging recurrence."""
    A_r, B_r, _ = split_combined(W)
    m = max(1, math.ceil(math.sqrt(L)))
    right = [B_r]
    for _ in range(m - 1):
        right.append((A_r @ right[-1].unsqueeze(-1)).squeeze(-1))
    right = torch.stack(right, -1)  # (..., 2N, m): A^r B
    A_m = torch.linalg.matrix_power(A_r, m)
    P = torch.eye(A_r.shape[-1], dtype=A_r.dtype, device=A_r.device).expand_as(A_r)
    l1, total, step = torch.zeros_like(B_r), torch.zeros_like(B_r), torch.zeros_like(B_r)
    for j in range(math.ceil(L / m)):
        h = P @ right[..., : min(m, L - j * m)]  # (..., 2N, m'): h_k for k = jm ... jm + m' - 1
        l1 = l1 + h.abs().sum(-1)
        partial = total.unsqueeze(-1) + h.cumsum(-1)
        step = torch.maximum(step, partial.abs().amax(-1))
        total = partial[..., -1]
        P = P @ A_m
    return l1.amax(-1), step.amax(-1)


def simulate_saturating(
    x: Tensor, w: Tensor, b: Tensor, W: Tensor, D: Tensor, dev: DeviceConfig
) -> tuple[Tensor, Tensor]:
    """Fast mode with a periphery that saturates, for channel inputs u_h = w_h x + b_h of one signal
    x (B, L) (see ``simulate_fast_encoded``): outputs y (R, B, H, L) and, per realisation, whether
    any converter saturated (R,), bool. Same numbers as ``step.simulate_step`` on u with ``dev``'s
    ranges and ideal resolution (``dev`` must have no converter bits and no read noise).

    DAC clipping of the input and ADC clipping of the readout are memoryless, so they are applied
    to the fast (FFT) result exactly. A clipped *state* feeds back, which the linear model cannot
    follow: every (realisation, channel) whose state could leave the range is rerun in step mode,
    channel by channel, in the precision of x, and replaces the fast result. "Could leave" is a
    bound from ``state_gain``: |x_t| <= |w_h| l1 max|x| + |b_h| step (the constant part of
    u_h = w_h x + b_h cannot do worse than a constant input), or l1 max|u| where the DAC clips u;
    it is infinite for a diverging recurrence, so every unstable channel is rerun.
    """
    if dev.needs_step:
        raise ValueError(
            "fast mode models static non-idealities only: converter bits, read noise, offsets, "
            "bit-serial inputs and per-column ranges need mode='step'"
        )
    with flush_subnormals():
        return _saturating(x, w, b, W, D, dev)


def _saturating(
    x: Tensor, w: Tensor, b: Tensor, W: Tensor, D: Tensor, dev: DeviceConfig
) -> tuple[Tensor, Tensor]:
    dac = math.inf if dev.dac_range is None else dev.dac_range
    adc = math.inf if dev.adc_range is None else dev.adc_range
    dac_in = dac if dev.dac_input_range is None else dev.dac_input_range
    u = w[:, None] * x.unsqueeze(1) + b[:, None]  # (B, H, L)
    clip_in = bool((u.abs() > dac_in).any())
    u_in = u.clamp(-dac_in, dac_in) if clip_in else u
    y, saturated = [], []
    for W_r in W.split(1):  # one realisation at a time: (B, H, 2L) spectra stay in cache
        # the encoded FFT needs an affine input: where the DAC clips, transform every
        # channel instead
        ro = _readout(u_in, W_r.to(u.dtype)) if clip_in else _readout_encoded(x, w, b, W_r)
        saturated.append((ro.abs() > adc).flatten(1).any(1) | clip_in)
        y.append(2 * ro.clamp(-adc, adc) + D[:, None] * u)
    y, saturated = torch.cat(y), torch.cat(saturated)
    l1, step_gain = state_gain(W, x.shape[-1])  # (R, H)
    if clip_in:
        bound = l1 * u_in.abs().amax((0, 2)).to(W.dtype)
    else:
        bound = l1 * (w.abs() * x.abs().max()).to(W.dtype) + step_gain * b.abs().to(W.dtype)
    _rerun_saturating(
        y, saturated, W, D, dev, bound, min(dac, adc), lambda r_idx, h_idx: u[:, h_idx]
    )
    return y, saturated


def _rerun_saturating(
    y: Tensor,
    saturated: Tensor,
    W: Tensor,
    D: Tensor,
    dev: DeviceConfig,
    bound: Tensor,
    limit: float,
    inputs: Callable[[Tensor, Tensor], Tensor],
) -> None:
    """Rerun in step mode, in place, every (realisation, channel) whose state ``bound`` (R, H) may
    exceed ``limit``: its outputs replace ``y`` (R, B, H, L) and a converter that clipped marks
    ``saturated``. ``inputs(r_idx, h_idx)`` gives those pairs' inputs, (B, P, L)."""
    r_idx, h_idx = torch.nonzero(~(bound <= limit), as_tuple=True)
    if not len(r_idx):
        return
    u = inputs(r_idx, h_idx)
    peaks: dict[str, Tensor] = {}
    y_step = simulate_step(
        u, W[r_idx, h_idx].unsqueeze(0).to(u.dtype), D[h_idx].to(u.dtype), dev, peaks=peaks
    )[0]
    y[r_idx, :, h_idx] = y_step.permute(1, 0, 2).to(y.dtype)  # (P, B, L)
    hit = peaks["adc_over_channel"] | peaks["dac_over_channel"]
    saturated[r_idx[hit]] = True


def simulate_saturating_inputs(
    u: Tensor, W: Tensor, D: Tensor, dev: DeviceConfig
) -> tuple[Tensor, Tensor]:
    """``simulate_saturating`` for arbitrary inputs: u (R, B, H, L), one input per realisation (a
    deeper layer's input is the previous layer's noisy output), or (B, H, L) shared. Returns y
    (R, B, H, L) and per realisation whether a converter saturated (R,). Same rule: memoryless
    clipping on the FFT result, step-mode rerun of every (realisation, channel) whose state bound
    l1 max|u_h| could leave the range."""
    if dev.needs_step:
        raise ValueError(
            "fast mode models static non-idealities only: converter bits, read noise, offsets, "
            "bit-serial inputs and per-column ranges need mode='step'"
        )
    R = W.shape[0]
    u = u.expand(R, *u.shape[-3:]) if u.dim() == 3 else u
    if u.shape[0] != R:
        raise ValueError(f"inputs for {u.shape[0]} realisations, arrays for {R}")
    dac = math.inf if dev.dac_range is None else dev.dac_range
    adc = math.inf if dev.adc_range is None else dev.adc_range
    dac_in = dac if dev.dac_input_range is None else dev.dac_input_range
    with flush_subnormals():
        u_in = u.clamp(-dac_in, dac_in)
        saturated = (u.abs() > dac_in).flatten(1).any(1)
        y = []
        for r in range(R):
            # kernels in W's precision
            K = (fast_kernels(W[r : r + 1], u.shape[-1]) / 2).to(u.dtype)
            ro = (
                ssm_conv(u_in[r], K[0], u.new_zeros(u.shape[-2]))
                + _corner_term(W[r : r + 1], u_in[r])[0]
            )
            saturated[r] |= bool((ro.abs() > adc).any())
            y.append(2 * ro.clamp(-adc, adc) + D[:, None].to(u.dtype) * u[r])
        y = torch.stack(y)
        l1, _ = state_gain(W, u.shape[-1])  # (R, H)
        bound = l1 * u_in.abs().amax((1, 3)).to(W.dtype)
        _rerun_saturating(
            y,
            saturated,
            W,
            D,
            dev,
            bound,
            min(dac, adc),
            lambda r_idx, h_idx: u[r_idx, :, h_idx].permute(1, 0, 2),
        )
    return y, saturated
