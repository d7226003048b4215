"""The stability margin of a deployed recurrence, and the noise it tolerates.

A programmed array computes A_bar + E instead of A_bar. In the real form each complex mode is a
2x2 block [[a, -b], [b, a]] (eigenvalues a +- ib, eigenvector (1, -i)/sqrt(2)); to first order a
perturbation E of that block moves the eigenvalue by

    d_lambda = (E11 + E22)/2 + i (E21 - E12)/2,

a complex Gaussian with standard deviation s/sqrt(2) per component when the four entries carry
independent errors of standard deviation s. A differential pair with devices of programming
noise sigma (uS) gives s = sqrt(2) sigma fscale / (g_max - g_min); ``copies`` pairs per entry
(16 devices per complex element instead of 8) divide its variance by ``copies``. The mode leaves
the unit circle when |lambda + d_lambda| > 1: a Rice-distributed radius. The margin
1 - max|A_bar| therefore sets the noise a model tolerates, whatever its bit width.

``sigma_star`` measures the tolerance from a sweep; ``predicted_sigma_star`` predicts it from the
poles alone (first order, instability only: it ignores the accuracy lost to weight errors in a
stable recurrence).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from scipy.optimize import brentq
from scipy.stats import norm, rice

from .crossbar import pairs_per_weight
from ..stats import failure_share

__all__ = ["instability_probability", "pole_radii", "predicted_sigma_star", "sigma_star", "weight_noise_std"]


@torch.no_grad()
def pole_radii(net: torch.nn.Module) -> np.ndarray:
    """|A_bar| of every mode of a classifier's first S4D layer, shape (H, N): its margin is
    1 - max."""
    return net.layers[0].discrete().A_bar.abs().double().numpy()


def weight_noise_std(sigma_uS: float, fscale: float, g_min_uS: float, g_max_uS: float, devices_per_element: int = 8) -> float:
    """Standard deviation of one real weight's error: sqrt(2 / copies) sigma fscale / (g_max - g_min),
    with copies = devices_per_element / 8 differential pairs per entry."""
    copies = pairs_per_weight(devices_per_element)
    if g_max_uS <= g_min_uS or sigma_uS < 0 or fscale <= 0:
        raise ValueError("need g_max_uS > g_min_uS, sigma_uS >= 0 and fscale > 0")
    return float(np.sqrt(2 / copies) * sigma_uS * fscale / (g_max_uS - g_min_uS))


def instability_probability(radii: np.ndarray, s: float) -> float:
    """First-order probability that at least one mode of radii |lambda| (any shape) leaves the unit
    circle when each real entry of its 2x2 block carries an independent error of std ``s``."""
    r = np.asarray(radii, dtype=float).ravel()
    if s <= 0:
        return float((r >= 1).any())
    scale = s / np.sqrt(2)
    with np.errstate(all="ignore"):
        p = rice.sf(1 / scale, r / scale)
    p = np.where(np.isfinite(p), p, norm.sf((1 - r) / scale))  # far tails: the radial shift is Gaussian
    return float(-np.expm1(np.log1p(-np.clip(p, 0, 1 - 1e-16)).sum()))


def predicted_sigma_star(radii: np.ndarray, fscale: float, g_min_uS: float, g_max_uS: float,
                         devices_per_element: int = 8, p_fail: float = 0.1, sigma_max_uS: float = 1e3) -> float:
    """The programming noise sigma (uS) at which ``instability_probability`` of a model with poles
    of radii ``radii`` reaches ``p_fail`` (``sigma_max_uS`` if it never does below it)."""
    def excess(sigma: float) -> float:
        s = weight_noise_std(sigma, fscale, g_min_uS, g_max_uS, devices_per_element)
        return instability_probability(radii, s) - p_fail

    if excess(sigma_max_uS) < 0:
        return sigma_max_uS
    if excess(1e-9) >= 0:
        return 0.0
    return float(brentq(excess, 1e-9, sigma_max_uS, xtol=1e-4))


def sigma_star(rows: pd.DataFrame, by: list[str], n_clips: int, max_drop_points: float = 2.0,
               max_failure: float = 0.1) -> pd.DataFrame:
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
        for sigma, at in sorted(group[group["sigma_uS"] > 0].groupby("sigma_uS"), key=lambda kv: kv[0]):
            ref = at.set_index(["seed", "fold"]).index.map(base)
            drop = 100 * float(np.mean(ref.to_numpy(dtype=float) - at["accuracy"].to_numpy(dtype=float)))
            share = failure_share(at["accuracy"], n_clips)
            reasons = [name for name, bad in (("drop", drop > max_drop_points), ("failures", share >= max_failure)) if bad]
            if reasons:
                fail, why = float(sigma), " and ".join(reasons)
                break
            star = float(sigma)
        out.append(dict(zip(by, key if isinstance(key, tuple) else (key,)))
                   | {"sigma_star_uS": star, "sigma_fail_uS": fail, "fails_by": why})
    return pd.DataFrame(out)
