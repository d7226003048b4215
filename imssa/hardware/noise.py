"""The noise models of a device: programming noise, relaxation, drift, and write-verify.

``programming_sigma_uS``: the std of a write at its target conductance; ``standard_noise``: its
unit-variance shapes (Gaussian, Laplace, Student-t); ``matched_noise``: a state-independent noise of
the same error; ``relaxation_sigma_uS`` and ``drift_factor``: what ageing adds; and the model of a
write-verify loop (``single_pulse_sigma_uS``, ``pulses_to_converge``). The parameters are the
fields of ``physics``; ``conductance`` applies these models to programmed arrays.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    from .devices import DeviceConfig
    from .physics import Ageing, DevicePhysics

__all__ = [
    "MEAN_ABS",
    "drift_factor",
    "matched_noise",
    "programming_sigma_uS",
    "pulses_to_converge",
    "relaxation_sigma_uS",
    "single_pulse_sigma_uS",
    "standard_noise",
]


def _poly(coeffs: list[float], g: Tensor) -> Tensor:
    out = torch.zeros_like(g)
    for c in reversed(coeffs):
        out = out * g + c
    return out


def programming_sigma_uS(dev: DevicePhysics, G_target: Tensor) -> Tensor:
    """Programming-noise std (uS) at target conductances ``G_target`` (uS, any shape):
    sigma_scale (sigma_uS + c0 + c1 g + ...), g = G_target / g_max."""
    return dev.sigma_scale * (dev.sigma_uS + _poly(dev.sigma_poly_uS, G_target / dev.g_max_uS))


def relaxation_sigma_uS(dev: DevicePhysics, G_target: Tensor, t_s: float) -> Tensor:
    """Std (uS) of the spread added to programmed conductances by relaxation up to ``t_s``: the
    total spread sigma_t at t (``dev.relaxation``, interpolated linearly in ln t, the last point
    held after it, none before the first) in quadrature minus the programming noise, floored at
    0."""
    pts = dev.relaxation
    if not pts or t_s < pts[0].t_s:
        return torch.zeros_like(G_target)
    g = G_target / dev.g_max_uS
    k = max(i for i, p in enumerate(pts) if p.t_s <= t_s)
    total = _poly(pts[k].sigma_poly_uS, g)
    if k + 1 < len(pts):
        w = math.log(t_s / pts[k].t_s) / math.log(pts[k + 1].t_s / pts[k].t_s)
        total = (1 - w) * total + w * _poly(pts[k + 1].sigma_poly_uS, g)
    return (total.clamp_min(0) ** 2 - programming_sigma_uS(dev, G_target) ** 2).clamp_min(0).sqrt()


def drift_factor(dev: Ageing, nu: Tensor | float, t_s: float) -> Tensor | float:
    """G(t) / G(t0) = ((t + t0) / t0)^-nu at t = ``t_s`` (s): t counts from the end of programming,
    at which the reference state is read t0 later (1 at t = 0). ``nu``: any shape."""
    return ((t_s + dev.t0_s) / dev.t0_s) ** (-nu)


#: E|z| of each unit-variance shape of ``standard_noise``.
MEAN_ABS: dict[str, float] = {
    "gaussian": math.sqrt(2 / math.pi),
    "laplace": 1 / math.sqrt(2),
    "student_t": 2 / math.pi,
}


def matched_noise(
    dev: DeviceConfig, G_target: Tensor, shape: str = "gaussian", match: str = "rms"
) -> DeviceConfig:
    """``dev`` with its programming noise replaced by a state-independent one drawn from ``shape``,
    of the same error over the targets ``G_target`` (uS; e.g. every programmed device of a model):
    the same root-mean-square error (``match='rms'``) or the same mean absolute error
    (``'mean_abs'``). The matched-error comparison of state-dependent against constant noise."""
    if shape not in MEAN_ABS or match not in ("rms", "mean_abs"):
        raise ValueError(
            f"shape must be one of {sorted(MEAN_ABS)} and match 'rms' or 'mean_abs', got "
            f"{shape!r}, {match!r}"
        )
    sigma = programming_sigma_uS(dev, G_target.double())
    if match == "rms":
        std = float(sigma.pow(2).mean().sqrt())
    else:
        std = float(sigma.mean()) * MEAN_ABS[dev.noise_shape] / MEAN_ABS[shape]
    return dev.model_copy(
        update={"sigma_uS": std, "sigma_poly_uS": [], "sigma_scale": 1.0, "noise_shape": shape}
    )


def standard_noise(
    shape: tuple[int, ...],
    kind: str,
    generator: torch.Generator | None,
    dtype: torch.dtype,
    device: torch.device | None = None,
) -> Tensor:
    """Zero-mean, unit-variance draws on ``device`` (default: the generator's): Gaussian, Laplace,
    or Student-t with 3 degrees of freedom."""
    on = {
        "generator": generator,
        "dtype": dtype,
        "device": device or (generator.device if generator else None),
    }
    if kind == "gaussian":
        return torch.randn(shape, **on)
    if kind == "laplace":  # inverse CDF; variance 2 b^2 = 1
        u = torch.rand(shape, **on).clamp(1e-12, 1 - 1e-12) - 0.5
        return -u.sign() * torch.log1p(-2 * u.abs()) / math.sqrt(2)
    if kind == "student_t":  # z / sqrt(chi2_3 / 3) has variance 3
        z = torch.randn(shape, **on)
        chi2 = torch.randn((3, *shape), **on).pow(2).sum(0)
        return z / torch.sqrt(chi2 / 3) / math.sqrt(3)
    raise ValueError(f"unknown noise shape {kind!r}")


def single_pulse_sigma_uS(tol_uS: float, mean_pulses: float) -> float:
    """Std (uS) of one programming pulse's Gaussian error for which write-verify, re-pulsing until
    |error| <= ``tol_uS`` with every pulse an independent draw (ASSUMPTION: the simplest model of
    a verify loop), needs ``mean_pulses`` on average: P(|error| <= tol) = 1 / mean_pulses."""
    from scipy.stats import norm

    if tol_uS <= 0 or mean_pulses <= 1:
        raise ValueError(f"need tol_uS > 0 and mean_pulses > 1, got {tol_uS}, {mean_pulses}")
    return float(tol_uS / norm.ppf((1 + 1 / mean_pulses) / 2))


def pulses_to_converge(mean_pulses: float, converged: float) -> int:
    """Pulse limit at which a fraction ``converged`` of devices has passed the verify, when each
    pulse passes with probability 1 / ``mean_pulses`` (the model of ``single_pulse_sigma_uS``)."""
    if mean_pulses <= 1 or not 0 < converged < 1:
        raise ValueError(
            f"need mean_pulses > 1 and 0 < converged < 1, got {mean_pulses}, {converged}"
        )
    return math.ceil(math.log(1 - converged) / math.log(1 - 1 / mean_pulses))
