"""The stability margin of a deployed recurrence, and the noise it tolerates.

A programmed array computes A_bar + E instead of A_bar. In the real form (``crossbar``) a mode
lambda = a + ib is the 2x2 block [[a, -b], [b, a]]; let its four entries carry independent errors
E_ij ~ N(0, s^2). A differential pair with devices of programming noise sigma (uS) gives
s = sqrt(2) sigma fscale / (g_max - g_min); ``copies`` pairs per entry (16 devices per complex
element instead of 8) divide its variance by ``copies`` (``weight_noise_std``).

**The exact law of a 2x2 block.** Write E in the basis I, J = [[0, -1], [1, 0]], Z = diag(1, -1),
X = [[0, 1], [1, 0]]:

    A + E = alpha I + beta J + q Z + t X,    alpha = a + (E11 + E22)/2,  beta = b + (E21 - E12)/2,
                                              q = (E11 - E22)/2,          t = (E12 + E21)/2,

four independent Gaussians of variance s^2/2. J, Z, X anticommute (J^2 = -I, Z^2 = X^2 = I), so
the eigenvalues are alpha +- sqrt(rho^2 - beta^2) with rho^2 = q^2 + t^2 ~ Exp(mean s^2):

    rho^2 < beta^2:  a complex pair of radius^2 alpha^2 + beta^2 - rho^2;
    rho^2 > beta^2:  two real eigenvalues, spectral radius |alpha| + sqrt(rho^2 - beta^2).

With k = 1/s^2 and R^2 = alpha^2 + beta^2, the block is unstable given (alpha, beta) with
probability 1 if |alpha| >= 1, else (1 - exp(-k (R^2 - 1)_+)) + exp(-k (beta^2 + (1 - |alpha|)^2)).
Averaging over alpha ~ N(a, s^2/2), beta ~ N(b, s^2/2) (``mode_instability``, ``method="exact"``):

    P = P(R > 1) - T1 + T_out + T_real,

* P(R > 1) = Rice_sf(1; nu = |lambda|, scale s/sqrt(2)): the first-order law of a well-separated
  complex pair, d_lambda = (E11 + E22)/2 + i (E21 - E12)/2 (``method="rice"``, the old formula);
* T1 = E[exp(-k (R^2 - 1)); R > 1] = int_0^inf e^-u exp(-(R_u - r)^2 / s^2) i0e(2 R_u r / s^2) du,
  R_u = sqrt(1 + s^2 u), r = |lambda| (40-point Gauss-Laguerre): rho^2 shrinks a complex pair;
* T_out = E[exp(-k (R^2 - 1)); |alpha| >= 1]
        = exp((1 - |lambda|^2/2)/s^2) [Q((2 - a)/s) + Q((2 + a)/s)] / 2   (Q = normal tail);
* T_real = E[exp(-k (beta^2 + (1 - |alpha|)^2)); |alpha| < 1]
         = exp(-b^2/(2 s^2)) / 2 x [e^{-(1-a)^2/(2s^2)} (Phi((1-a)/s) - Phi(-(1+a)/s))
                                    + e^{-(1+a)^2/(2s^2)} (Phi((1+a)/s) - Phi(-(1-a)/s))]:
  the split into two real eigenvalues. For a real pole (b = 0) it dominates: a I + E has a double
  eigenvalue, split at first order in s (a + eig(E)); at |lambda| = 0.95, s = 0.026 it gives
  P ~ 0.08 where the Rice law gives 0.003. It decays as exp(-b^2/(2 s^2)): negligible once |b| >> s.

No approximation is made beyond the Gaussian, independent errors: the formula holds for every b,
real, near-real (|b| ~ s) and complex poles alike, and at every order in s. Modes are independent
(the block layout leaves the cross-points between modes unprogrammed; a dense layout couples them
at second order, ignored here), so P(any mode unstable) = 1 - prod(1 - P_mode).

**Other mappings.** ``real_mapping=True`` (S4D-Real: a real pole a as a single entry, error std s):
P = Q((1 - a)/s) + Phi((-1 - a)/s). ``real_zeros=True`` (``crossbar.real_pole_mask``: the two
off-diagonal cross-points of a mode with b = 0 exactly left unprogrammed): its block is
diag(a + e1, a + e2) and P = 1 - (1 - Q((1 - a)/s) - Phi((-1 - a)/s))^2; other modes as above.

``sigma_star`` measures the tolerance from a sweep; ``predicted_sigma_star`` predicts it from the
poles alone (instability only: it ignores the accuracy lost to weight errors in a stable
recurrence, non-Gaussian noise shapes, clipping at the window and write-verify).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import torch
from scipy.optimize import brentq
from scipy.special import erfcx, i0e
from scipy.stats import norm, rice

from ..stats.programmings import failure_share
from ..stats.verdicts import ABOVE, BELOW
from .crossbar import pairs_per_weight

__all__ = [
    "instability_probability",
    "longest_memory_ms",
    "mode_instability",
    "pole_radii",
    "pole_values",
    "predicted_sigma_star",
    "sigma_star",
    "weight_noise_std",
    "INSIDE",
    "MAX_DROP_POINTS",
    "MAX_FAILURE_SHARE",
    "against_measured",
    "drop_within_text",
    "position_tally",
]

_LAGUERRE = np.polynomial.laguerre.laggauss(40)  # nodes, weights of int_0^inf e^-u f(u) du


@torch.no_grad()
def pole_radii(net: torch.nn.Module, layer: int = 0) -> np.ndarray:
    """|A_bar| of every mode of a classifier's S4D layer ``layer`` (the first by default), shape (H,
    N): its margin is 1 - max."""
    return np.abs(pole_values(net, layer))


@torch.no_grad()
def pole_values(net: torch.nn.Module, layer: int = 0) -> np.ndarray:
    """The poles A_bar of a classifier's S4D layer ``layer`` as the array holds them (quantized, no
    training noise: call it on a model in eval mode), complex128 of shape (H, N). Real for the
    real-valued variant up to a zero imaginary part. Pass them to ``instability_probability``."""
    return net.layers[layer].discrete().A_bar.detach().cpu().to(torch.complex128).numpy()


def weight_noise_std(
    sigma_uS: float, fscale: float, g_min_uS: float, g_max_uS: float, devices_per_element: int = 8
) -> float:
    """Standard deviation of one real weight's error (weight units, those of A_bar):
    sqrt(2 / copies) sigma fscale / (g_max - g_min), with copies = devices_per_element / 8
    differential pairs per entry. ``sigma_uS``, ``g_min_uS``, ``g_max_uS`` in uS; ``fscale`` the
    weight that g_max - g_min stands for."""
    copies = pairs_per_weight(devices_per_element)
    if g_max_uS <= g_min_uS or sigma_uS < 0 or fscale <= 0:
        raise ValueError("need g_max_uS > g_min_uS, sigma_uS >= 0 and fscale > 0")
    return float(np.sqrt(2 / copies) * sigma_uS * fscale / (g_max_uS - g_min_uS))


def _tail(a: np.ndarray, s: np.ndarray) -> np.ndarray:
    """P(|a + e| > 1), e ~ N(0, s^2): one real entry."""
    return norm.sf((1 - a) / s) + norm.cdf((-1 - a) / s)


def _block_exact(a: np.ndarray, b: np.ndarray, s: np.ndarray) -> np.ndarray:
    """P(spectral radius of [[a, -b], [b, a]] + E > 1), E_ij iid N(0, s^2): the module's
    P(R > 1) - T1 + T_out + T_real. Arrays of one shape, s > 0."""
    r = np.hypot(a, b)
    scale = s / np.sqrt(2)
    with np.errstate(all="ignore"):
        rice_sf = rice.sf(1 / scale, r / scale)
    rice_sf = np.where(np.isfinite(rice_sf), rice_sf, norm.sf((1 - r) / scale))
    u, w = _LAGUERRE
    R = np.sqrt(1 + s[..., None] ** 2 * u)
    t1 = (
        w
        * np.exp(-(((R - r[..., None]) / s[..., None]) ** 2))
        * i0e(2 * R * r[..., None] / s[..., None] ** 2)
    ).sum(-1)

    def log_out(c: np.ndarray) -> np.ndarray:  # log of exp((1 - r^2/2)/s^2) Q((2 - c)/s), c = +-a
        x = (2 - c) / s  # x > 0: Q(x) = erfcx(x / sqrt 2) exp(-x^2/2) / 2, the exponents combined
        far = -((1 - c) ** 2 + b**2 / 2) / s**2 + np.log(erfcx(np.abs(x) / np.sqrt(2)) / 2)
        return np.where(x > 0, far, (1 - r**2 / 2) / s**2 + norm.logsf(x))

    t_out = 0.5 * np.exp(np.logaddexp(log_out(a), log_out(-a)))
    z = lambda x: 0.5 * (x / s) ** 2  # noqa: E731
    t_real = 0.5 * (
        np.exp(-z(b) - z(1 - a)) * (norm.cdf((1 - a) / s) - norm.cdf(-(1 + a) / s))
        + np.exp(-z(b) - z(1 + a)) * (norm.cdf((1 + a) / s) - norm.cdf(-(1 - a) / s))
    )
    return rice_sf - t1 + t_out + t_real


def mode_instability(
    poles: np.ndarray,
    s: float | np.ndarray,
    method: Literal["exact", "rice"] = "exact",
    real_mapping: bool = False,
    real_zeros: bool = False,
) -> np.ndarray:
    """Probability that each mode leaves the unit circle once programmed, same shape as ``poles``.

    ``poles``: A_bar (``pole_values``), complex, any shape. A real array is read as radii |lambda|
    of complex poles far from the real axis (|b| >> s), as the old API took them: lambda = i
    |lambda|. ``s``: the std of each real entry's error (``weight_noise_std``, weight units), a
    scalar or an array broadcastable to ``poles``; s = 0 gives 1 where |lambda| >= 1, else 0.

    ``method``: "exact" (the law of the module docstring, any b) or "rice" (the first-order law of a
    complex pair, exact only for |b| >> s; wrong for real poles). ``real_mapping``: the real-valued
    variant, one entry per pole (a real array is then read as the poles themselves, signed).
    ``real_zeros``: modes with b = 0 exactly have their off-diagonal cross-points unprogrammed
    (``crossbar.real_pole_mask``), so their block is diag(a + e1, a + e2). ``method`` applies to
    full 2x2 blocks only; the single entries of ``real_mapping`` and ``real_zeros`` are always
    exact.
    """
    if method not in ("exact", "rice"):
        raise ValueError(f"method must be 'exact' or 'rice', got {method!r}")
    lam = np.asarray(poles)
    if not np.iscomplexobj(lam):
        lam = lam.astype(float)
        if not real_mapping:
            if (lam < 0).any():
                raise ValueError("a real array of poles is read as radii: they must be >= 0")
            lam = 1j * lam
    lam = lam.astype(complex)
    a, b = lam.real, lam.imag
    s = np.broadcast_to(np.asarray(s, dtype=float), lam.shape)
    if (s < 0).any() or not np.isfinite(s).all():
        raise ValueError("s must be finite and >= 0")
    if real_mapping and (b != 0).any():
        raise ValueError("real_mapping=True maps real poles; these have imaginary parts")
    noisy = s > 0
    sn = np.where(noisy, s, 1.0)  # placeholder where s = 0 (overwritten below)
    with np.errstate(all="ignore"):
        if real_mapping:
            p = _tail(a, sn)
        else:
            p = _block_exact(a, b, sn) if method == "exact" else _rice(np.abs(lam), sn)
            if real_zeros:
                p = np.where(b == 0, -np.expm1(2 * np.log1p(-np.clip(_tail(a, sn), 0, 1))), p)
    p = np.clip(np.nan_to_num(p, nan=1.0), 0.0, 1.0)
    return np.where(noisy, p, (np.abs(lam) >= 1).astype(float))


def _rice(r: np.ndarray, s: np.ndarray) -> np.ndarray:
    """First-order law of a complex pair: |lambda + d_lambda| > 1, d_lambda complex
    N(0, s^2/2) per part."""
    scale = s / np.sqrt(2)
    p = rice.sf(1 / scale, r / scale)
    # far tails: the radial shift is Gaussian
    return np.where(np.isfinite(p), p, norm.sf((1 - r) / scale))


def instability_probability(
    poles: np.ndarray,
    s: float | np.ndarray,
    method: Literal["exact", "rice"] = "exact",
    real_mapping: bool = False,
    real_zeros: bool = False,
) -> float:
    """Probability that at least one mode of ``poles`` (A_bar, complex, any shape; or radii, see
    ``mode_instability``) leaves the unit circle when each real entry carries an independent error
    of std ``s`` (weight units): 1 - prod(1 - P_mode), modes independent."""
    p = mode_instability(poles, s, method, real_mapping, real_zeros).ravel()
    if (p >= 1).any():
        return 1.0
    return float(-np.expm1(np.log1p(-p).sum())) + 0.0  # + 0.0: no -0.0


def predicted_sigma_star(
    poles: np.ndarray,
    fscale: float,
    g_min_uS: float,
    g_max_uS: float,
    devices_per_element: int = 8,
    p_fail: float = 0.1,
    sigma_max_uS: float = 1e3,
    method: Literal["exact", "rice"] = "exact",
    real_mapping: bool = False,
    real_zeros: bool = False,
) -> float:
    """The programming noise sigma (uS) at which ``instability_probability`` of a model with poles
    ``poles`` (A_bar, complex (H, N) from ``pole_values``; a real array is read as radii of complex
    pairs) reaches ``p_fail`` (``sigma_max_uS`` if it never does below it). The other arguments as
    in ``weight_noise_std`` and ``mode_instability``."""

    def excess(sigma: float) -> float:
        s = weight_noise_std(sigma, fscale, g_min_uS, g_max_uS, devices_per_element)
        return instability_probability(poles, s, method, real_mapping, real_zeros) - p_fail

    if excess(sigma_max_uS) < 0:
        return sigma_max_uS
    if excess(1e-9) >= 0:
        return 0.0
    return float(brentq(excess, 1e-9, sigma_max_uS, xtol=1e-4))


def longest_memory_ms(
    s: float,
    sample_rate: float,
    p_fail: float = 0.1,
    modes: int = 1,
    kind: Literal["complex", "real"] = "complex",
) -> float:
    """The longest time constant (ms) that ``modes`` programmed modes of one radius r can keep when
    each real entry of their blocks carries an error of std ``s`` (weight units,
    ``weight_noise_std``) and the chance that any of them leaves the unit circle may be at most
    ``p_fail``: tau = -1000 / (sample_rate ln r*), with r* the radius at which
    1 - (1 - P_mode(r))^modes = p_fail (``mode_instability``, exact law). ``kind``: a complex pair
    far from the real axis (lambda = i r) or a real pole (lambda = r, its 2x2 block programmed in
    full). At first order a complex pole's radius moves by s / sqrt(2) (one standard deviation), so
    a mode keeps its memory only while its distance to the circle, 1 - r ~ 1 / (f_s tau), exceeds a
    few s: tau* ~ 1 / (f_s z s) for a z of a few. s = 0: inf."""
    if not 0 < p_fail < 1 or modes < 1 or sample_rate <= 0 or s < 0:
        raise ValueError("need 0 < p_fail < 1, modes >= 1, sample_rate > 0 and s >= 0")
    if kind not in ("complex", "real"):
        raise ValueError(f"kind must be 'complex' or 'real', got {kind!r}")
    if s == 0:
        return float("inf")
    per_mode = -np.expm1(np.log1p(-p_fail) / modes)
    pole = (lambda r: np.array([1j * r])) if kind == "complex" else (lambda r: np.array([r + 0j]))
    excess = lambda r: float(mode_instability(pole(r), s)[0]) - per_mode  # noqa: E731
    if excess(0.0) >= 0:
        return 0.0
    r_star = float(brentq(excess, 0.0, 1.0 - 1e-15, xtol=1e-14))
    return float(-1000.0 / (sample_rate * np.log(r_star))) if r_star > 0 else 0.0


#: The measured tolerance's criteria (``sigma_star``): the largest mean paired drop (points) and the
#: share of failed programmings at which a sigma still counts as tolerated.
MAX_DROP_POINTS = 2.0
MAX_FAILURE_SHARE = 0.1


#: A predicted sigma* inside the measured interval [sigma*, sigma_fail) (``against_measured``).
INSIDE = "inside"
#: The order ``position_tally`` counts in: below, inside, above the measured interval.
POSITIONS = (BELOW, INSIDE, ABOVE)


def against_measured(stars: pd.DataFrame, predicted: list[str]) -> pd.DataFrame:
    """``stars`` (``sigma_star`` rows with ``sigma_star_uS``, ``sigma_fail_uS`` and the predicted
    sigma* columns ``predicted``, uS) with a column ``<col> vs measured`` per prediction: ``BELOW``
    the measured interval [sigma*, sigma_fail) (sigma_fail NaN: unbounded above), ``INSIDE`` or
    ``ABOVE`` it."""
    if missing := {"sigma_star_uS", "sigma_fail_uS", *predicted} - set(stars.columns):
        raise ValueError(f"stars lack the columns {sorted(missing)}")
    out = stars.copy()
    high = out["sigma_fail_uS"].fillna(np.inf)
    for col in predicted:
        out[col + " vs measured"] = np.select(
            [out[col] < out["sigma_star_uS"], out[col] >= high], [BELOW, ABOVE], INSIDE
        )
    return out


def position_tally(positions: pd.Series) -> str:
    """'<n> below, <n> inside, <n> above': how many predictions (``against_measured``) lie where."""
    n = positions.value_counts()
    return ", ".join(f"{n.get(k, 0)} {k}" for k in POSITIONS)


def drop_within_text(drop_points: float, max_drop_points: float = MAX_DROP_POINTS) -> str:
    """'beyond' or 'within' the drop (points) that sigma* allows (``MAX_DROP_POINTS``), as words."""
    side = "beyond" if drop_points > max_drop_points else "within"
    return f"{side} the {max_drop_points:g} points σ* allows"


def sigma_star(
    rows: pd.DataFrame,
    by: list[str],
    n_clips: int,
    max_drop_points: float = MAX_DROP_POINTS,
    max_failure: float = MAX_FAILURE_SHARE,
) -> pd.DataFrame:
    """Measured noise tolerance per group of ``by``: the largest sigma of the sweep such that at it,
    and at every smaller sigma, the mean paired drop from sigma = 0 is at most ``max_drop_points``
    and the share of failed programmings is under ``max_failure``.

    ``rows``: one row per programming with ``by``, ``seed``, ``fold``, ``sigma_uS``, ``accuracy``.
    The drop pairs each programming with its own model (seed, fold) at sigma = 0. Returns one row
    per group: ``sigma_star_uS``, the first failing sigma (``sigma_fail_uS``, NaN if none fails)
    and why it fails (``fails_by``: 'drop', 'failures' or both).
    """
    missing = {*by, "seed", "fold", "sigma_uS", "accuracy"} - set(rows.columns)
    if missing:
        raise ValueError(f"rows lack the columns {sorted(missing)}")
    out = []
    for key, group in rows.groupby(by, sort=True):
        base = group[group["sigma_uS"] == 0].groupby(["seed", "fold"])["accuracy"].mean()
        if base.empty:
            raise ValueError(f"group {key}: no programming at sigma = 0 to pair with")
        star, fail, why = 0.0, np.nan, ""
        for sigma, at in sorted(
            group[group["sigma_uS"] > 0].groupby("sigma_uS"), key=lambda kv: kv[0]
        ):
            ref = at.set_index(["seed", "fold"]).index.map(base)
            drop = 100 * float(
                np.mean(ref.to_numpy(dtype=float) - at["accuracy"].to_numpy(dtype=float))
            )
            share = failure_share(at["accuracy"], n_clips)
            checks = (("drop", drop > max_drop_points), ("failures", share >= max_failure))
            reasons = [name for name, bad in checks if bad]
            if reasons:
                fail, why = float(sigma), " and ".join(reasons)
                break
            star = float(sigma)
        out.append(
            dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
            | {"sigma_star_uS": star, "sigma_fail_uS": fail, "fails_by": why}
        )
    return pd.DataFrame(out)
