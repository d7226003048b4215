"""How a device's conductance is set and how it evolves, vectorised over R realisations: writing
it (programming noise, write-verify, stuck devices, unprogrammed cross-points) and ageing it (drift,
relaxation, 1/f read noise up to the read). One physical model behind three functions: ``program``
(the whole sequence, as the simulator uses it), ``write`` and ``age``. The device parameters and
their sources are ``devices.DeviceConfig`` and its presets. Conductances in uS.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .devices import DeviceConfig
from .noise import drift_factor, programming_sigma_uS, relaxation_sigma_uS, standard_noise
from .physics import DevicePhysics

__all__ = ["age", "program", "write"]


def program(
    G_pos: Tensor,
    G_neg: Tensor,
    R: int,
    dev: DeviceConfig,
    generator: torch.Generator | None = None,
    used: Tensor | None = None,
    copies: int = 1,
    stats: dict[str, Tensor] | None = None,
    t_s: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """``R`` programmed copies of the target pairs (uS), as read ``t_s`` seconds after programming.
    Returns two tensors of shape (R, *G.shape).

    Each programmed device lands at G + sigma(G) z (``noise.programming_sigma_uS``, z of
    ``dev.noise_shape``), clipped at ``dev.clip_uS`` (the physical window by default, so noise
    crosses the mapping bounds); with write-verify, devices outside the tolerance are pulsed again
    (each pulse a fresh draw) up to ``write_verify_max_pulses``. Then a fraction is stuck at g_max
    or g_min. Then time passes (``age``): drift, relaxation, 1/f read noise. ``copies`` devices per
    side carry each weight (their currents add, and the periphery divides by ``copies``): the
    returned conductance is their mean, so independent errors average. Where ``used`` (bool, G's
    shape) is False the cross-point is not programmed: it holds ``dev.g_off_uS`` with spread
    ``dev.g_off_sigma_uS`` (0: no device at all). ``stats``, if given, receives ``pulses``, the mean
    number of programming pulses per programmed device (R,), ``device_pulses``, the pulses of each
    cross-point (both sides and all copies, (R, *G.shape)), and ``G_t0``, the pair as programmed
    (before time passes).
    """
    if copies < 1:
        raise ValueError(f"copies must be >= 1, got {copies}")
    out, programmed, per_point = [], [], []
    for G in (G_pos, G_neg):
        target = G.expand(R, copies, *G.shape)
        G, n = write(target, dev, generator)
        if dev.stuck_at_gmax > 0 or dev.stuck_at_gmin > 0:
            r = torch.rand(G.shape, generator=generator, dtype=G.dtype, device=G.device)
            high, low = (
                r < dev.stuck_at_gmax,
                (r >= dev.stuck_at_gmax) & (r < dev.stuck_at_gmax + dev.stuck_at_gmin),
            )
            G = torch.where(high, torch.full_like(G, dev.g_max_uS), G)
            G = torch.where(low, torch.full_like(G, dev.g_min_uS), G)
            if dev.write_verify_tol_uS is not None:
                # a stuck device outside the tolerance uses every pulse
                failed = (high | low) & ((G - target).abs() > dev.write_verify_tol_uS)
                n = torch.where(failed, torch.full_like(n, dev.write_verify_max_pulses), n)
        G_t = age(G, target, dev, generator, t_s)
        if used is not None:
            off = torch.full_like(G, dev.g_off_uS)
            if dev.g_off_sigma_uS > 0:
                off = (
                    off
                    + dev.g_off_sigma_uS
                    * torch.randn(G.shape, generator=generator, dtype=G.dtype, device=G.device)
                ).clamp(*dev.g_window_uS)
            G, G_t = torch.where(used, G, off), torch.where(used, G_t, off)
            n = n * used
        out.append(G_t.mean(1))
        programmed.append(G.mean(1))
        per_point.append(n.sum(1))
    if stats is not None:
        count = 2 * copies * (G_pos.numel() if used is None else int(used.sum()))
        device_pulses = per_point[0] + per_point[1]
        stats.update(
            pulses=device_pulses.flatten(1).sum(1) / max(count, 1),
            device_pulses=device_pulses,
            G_t0=(programmed[0], programmed[1]),
        )
    return out[0], out[1]


def write(
    target: Tensor, dev: DevicePhysics, generator: torch.Generator | None
) -> tuple[Tensor, Tensor]:
    """Programmed conductances (``target``'s shape) and the pulses each device took."""
    lo, hi = dev.clip_uS
    G = target.clone()
    if dev.noisy_writes:
        sigma = programming_sigma_uS(dev, target)
        G = (
            target + sigma * standard_noise(G.shape, dev.noise_shape, generator, G.dtype, G.device)
        ).clamp(lo, hi)
    else:
        G = G.clamp(lo, hi)
    n = torch.ones_like(G)
    if dev.write_verify_tol_uS is not None and dev.noisy_writes:
        for _ in range(dev.write_verify_max_pulses - 1):
            bad = (G - target).abs() > dev.write_verify_tol_uS
            if not bad.any():
                break
            again = (
                target
                + sigma * standard_noise(G.shape, dev.noise_shape, generator, G.dtype, G.device)
            ).clamp(lo, hi)
            G, n = torch.where(bad, again, G), n + bad
    return G, n


def age(
    G: Tensor, target: Tensor, dev: DevicePhysics, generator: torch.Generator | None, t_s: float
) -> Tensor:
    """Conductances ``t_s`` seconds after programming: drift by ((t + t0) / t0)^-nu with nu =
    |mean(g) + std(g) z| per device, g = G_target / g_max; relaxation, a Gaussian spread that grows
    from the programmed value (``noise.relaxation_sigma_uS``); 1/f read noise accumulated up to
    the read at t + t0 (so also at t = 0, as in aihwkit's PCM model), relative std
    Q_s(g) sqrt(ln((t + t0 + t_read) / (2 t_read))) with g = G_programmed / g_max; floored
    at 0 uS."""
    if t_s == 0 and dev.read_1f_q == 0:
        return G
    programmed, g = G, target / dev.g_max_uS
    if t_s > 0 and dev.drifts:
        nu = (
            dev.drift_nu_mean(g)
            + dev.drift_nu_std(g)
            * torch.randn(G.shape, generator=generator, dtype=G.dtype, device=G.device)
        ).abs()
        G = G * drift_factor(dev, nu, t_s)
    if t_s > 0 and dev.relaxation:
        G = G + relaxation_sigma_uS(dev, target, t_s) * torch.randn(
            G.shape, generator=generator, dtype=G.dtype, device=G.device
        )
    if dev.read_1f_q > 0:
        q = (
            dev.read_1f_q
            / (programmed.abs() / dev.g_max_uS).clamp_min(1e-7) ** dev.read_1f_exponent
        ).clamp(max=dev.read_1f_q_max)
        t = t_s + dev.t0_s
        G = G + G.abs() * q * math.sqrt(
            math.log((t + dev.t_read_s) / (2 * dev.t_read_s))
        ) * torch.randn(G.shape, generator=generator, dtype=G.dtype, device=G.device)
    return G.clamp_min(0.0)
