"""The stability-margin chapter's models and tables: its models (``margin_models``, by bit width,
pole cap, seed and fold) and the cells of its two grids (``margin_cells``), which the chapter and
its build plan (``plans.stability_margin``) both call; a model's predicted noise tolerances
(sigma*) from its poles alone, a single mode's tolerance at each margin, the chance that a
programming is unstable, and the measured against the predicted sigma*, what fails at the first
failing sigma, and the unstable programmings with and without the real poles' zeros."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..hardware.margin import (
    instability_probability,
    pole_radii,
    pole_values,
    predicted_sigma_star,
    weight_noise_std,
)
from ..model.cache import Run
from ..model.train import SpeechClassifier
from .params import MarginParams
from .runs import margin_spec

__all__ = [
    "stable_drop",
    "ONE_POLE_MARGINS",
    "PREDICTED_SIGMA_STARS",
    "failure_at_sigma_fail",
    "instability_chance",
    "margin_cells",
    "margin_configs",
    "margin_keys",
    "margin_models",
    "margin_stars",
    "one_pole_sigma_stars",
    "predicted_sigma_stars",
    "real_zeros_tables",
]


#: The three predictions of a model's noise tolerance sigma* (uS), as ``predicted_sigma_stars``
#: names them: the old first-order law from the pole radii (every pole read as a complex pair),
#: the exact law from the poles, and the exact law with the real poles' zeros left unprogrammed.
PREDICTED_SIGMA_STARS = [
    "predicted_old_rice_uS",
    "predicted_new_exact_uS",
    "predicted_real_zeros_uS",
]

#: Stability margins 1 - |pole| at which ``one_pole_sigma_stars`` predicts one mode's tolerance.
ONE_POLE_MARGINS = np.geomspace(1e-4, 0.5, 60)


def margin_configs(cfg: MarginParams) -> list[tuple[int, float]]:
    """The chapter's model configurations as (bits, r_max): every pole cap of ``margin_r_max`` at
    every bit width of ``margin_bits``, bit widths outer."""
    return [(b, r) for b in cfg.margin_bits for r in cfg.margin_r_max]


def margin_keys(cfg: MarginParams) -> list[tuple[int, int]]:
    """The chapter's models of one configuration as (seed, fold): every seed of ``margin_seeds``
    on every fold, folds outer."""
    return [(s, f) for f in cfg.shared.folds for s in cfg.margin_seeds]


def margin_models(cfg: MarginParams) -> dict[tuple[int, float, int, int], Run]:
    """The chapter's runs (``runs.margin_spec``: fixed-range QAT with fscale = r_max) by (bits,
    r_max, seed, fold): every configuration of ``margin_configs`` on every model of
    ``margin_keys``."""
    return {
        (b, r, s, f): margin_spec(cfg, b, r, s, f)
        for b, r in margin_configs(cfg)
        for s, f in margin_keys(cfg)
    }


def margin_cells(cfg: MarginParams) -> dict[str, list[dict[str, Any]]]:
    """The cells of the chapter's two grids, by grid name: ``margin``, one cell per configuration
    of ``margin_configs`` and noise of ``sigmas_uS`` (uS) on the block layout with the first count
    of ``devices_per_element``; ``zeros_radii``, each of those cells without and with
    ``real_zeros`` (the real poles' off-diagonal cross-points left unprogrammed)."""
    d0 = cfg.shared.devices_per_element[0]
    cells = [
        {"devices_per_element": d0, "bits": b, "r_max": r, "sigma_uS": s}
        for b, r in margin_configs(cfg)
        for s in cfg.sigmas_uS
    ]
    return {
        "margin": cells,
        "zeros_radii": [c | {"real_zeros": z} for c in cells for z in (False, True)],
    }


def predicted_sigma_stars(
    net: SpeechClassifier,
    fscale: float,
    devices_per_element: int,
    p_fail: float,
    g_min_uS: float,
    g_max_uS: float,
) -> dict[str, float]:
    """The three predictions of ``PREDICTED_SIGMA_STARS`` (uS) for the model ``net`` whose weight
    range ``fscale`` spans the window ``g_min_uS``..``g_max_uS`` (uS) on ``devices_per_element``
    devices per complex element: the sigma at which its recurrence is unstable with probability
    ``p_fail`` (``margin.predicted_sigma_star``)."""
    kw = dict(
        fscale=fscale,
        g_min_uS=g_min_uS,
        g_max_uS=g_max_uS,
        devices_per_element=devices_per_element,
        p_fail=p_fail,
    )
    lam, real = pole_values(net), net.layers[0].real
    old, exact, zeros = PREDICTED_SIGMA_STARS
    return {
        old: predicted_sigma_star(pole_radii(net), method="rice", **kw),
        exact: predicted_sigma_star(lam, real_mapping=real, **kw),
        zeros: predicted_sigma_star(lam, real_mapping=real, real_zeros=True, **kw),
    }


def one_pole_sigma_stars(
    g_min_uS: float,
    g_max_uS: float,
    devices_per_element: int,
    p_fail: float,
    margins: np.ndarray = ONE_POLE_MARGINS,
) -> pd.DataFrame:
    """The exact law's sigma* (uS) of a single mode at each stability margin of ``margins`` (M,),
    with f_scale 1 on the window ``g_min_uS``..``g_max_uS`` (uS): one row per margin, columns
    ``margin``, ``real`` (a real pole 1 - margin) and ``complex`` (the pole (1 - margin) i, far from
    the real axis)."""
    return pd.DataFrame(
        {
            "margin": margins,
            **{
                name: [
                    predicted_sigma_star(
                        np.array([c * (1 - x)]),
                        1.0,
                        g_min_uS,
                        g_max_uS,
                        devices_per_element,
                        p_fail,
                    )
                    for x in margins
                ]
                for c, name in [(1 + 0j, "real"), (1j, "complex")]
            },
        }
    )


def instability_chance(
    net: SpeechClassifier,
    sigma_uS: float,
    fscale: float,
    g_min_uS: float,
    g_max_uS: float,
    devices_per_element: int,
    real_zeros: bool,
) -> float:
    """The exact law's chance that one programming of ``net`` at noise ``sigma_uS`` (uS) leaves
    its recurrence unstable (a probability), its weight range ``fscale`` spanning the window
    ``g_min_uS``..``g_max_uS`` (uS) on ``devices_per_element`` devices per complex element,
    with or without the real poles' zeros programmed (``real_zeros``)."""
    sd = weight_noise_std(sigma_uS, fscale, g_min_uS, g_max_uS, devices_per_element)
    return instability_probability(
        pole_values(net), sd, real_mapping=net.layers[0].real, real_zeros=real_zeros
    )


def margin_stars(
    pred: pd.DataFrame,
    measured: pd.DataFrame,
    software: pd.DataFrame,
    working: pd.DataFrame,
    by: list[str],
    model: list[str],
) -> pd.DataFrame:
    """Measured and predicted sigma* per configuration ``by`` (devices per element, bits, pole
    cap): its models and working models (``pred``: one row per model with ``works`` and the
    ``PREDICTED_SIGMA_STARS`` in uS, their median over the working models), the measured sigma*
    (``measured``, ``margin.sigma_star``; NaN where no model works), and the margin 1 - the mean
    largest pole radius of the working models (``software``: one row per ``model`` key,
    ``working``: which models work)."""
    predicted = [c for c in PREDICTED_SIGMA_STARS if c in pred]
    stars = pred.groupby(by)["works"].agg(models="size", working="sum").reset_index()
    medians = pred[pred["works"]].groupby(by)[predicted].median().reset_index()
    stars = stars.merge(medians, how="left", on=by)
    stars = (
        stars.merge(measured, how="left", on=by)
        if len(measured)
        else stars.assign(sigma_star_uS=np.nan, sigma_fail_uS=np.nan, fails_by="")
    )
    margins = software.merge(working[working["works"]][model], on=model).groupby(["bits", "r_max"])
    mean_radius = margins["max_abs_A_bar"].mean().rename("mean_max_abs_A_bar").reset_index()
    stars = stars.merge(mean_radius, how="left", on=["bits", "r_max"])
    stars["margin"] = 1 - stars["mean_max_abs_A_bar"]
    return stars


def failure_at_sigma_fail(rows: pd.DataFrame, fail: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """What makes a configuration ``by`` fail at its first failing sigma (``fail``: one row per
    configuration with ``sigma_fail_uS``, uS): of its programmings there (``rows``, with
    ``spectral_radius``, ``failure`` and the paired ``drop`` in points) how many are unstable
    (spectral radius above 1), how many stable ones failed, and the mean drop of the stable and of
    the unstable ones (points)."""
    at_fail = rows.merge(fail[[*by, "sigma_fail_uS"]], on=by)
    at_fail = at_fail[at_fail["sigma_uS"] == at_fail["sigma_fail_uS"]].assign(
        unstable=lambda d: d["spectral_radius"] > 1
    )
    at_fail["failed_stable"] = (at_fail["failure"] != "") & ~at_fail["unstable"]
    causes = at_fail.groupby(by).agg(
        sigma_fail_uS=("sigma_uS", "first"),
        programmings=("unstable", "size"),
        unstable=("unstable", "sum"),
        failed_stable=("failed_stable", "sum"),
    )
    drops = at_fail.groupby([*by, "unstable"])["drop"].mean().unstack()
    return causes.join(
        drops.reindex(columns=[False, True]).set_axis(
            ["drop of stable (points)", "drop of unstable (points)"], axis=1
        )
    )


def stable_drop(causes: pd.DataFrame) -> float:
    """The mean drop (points) of the stable programmings at their configuration's first failing
    sigma, over every configuration of ``causes`` (``failure_at_sigma_fail``): each
    configuration's mean weighted by its stable programmings; NaN when there are none."""
    stable = causes["programmings"] - causes["unstable"]
    drops = causes["drop of stable (points)"]
    weight = stable.where(drops.notna(), 0)
    return float((drops.fillna(0) * weight).sum() / weight.sum()) if weight.sum() else float("nan")


def real_zeros_tables(paired: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Unstable programmings with and without the real poles' zeros programmed: ``paired`` holds
    one row per programming, its spectral radius with them (``full``) and without (``zeros``) and
    the exact law's chance of instability for each (``predicted, full``, ``predicted, zeros``).
    Returns (per bits, pole cap and sigma; per sigma): the programmings, the measured unstable
    shares, the mean predicted chances, and the programmings unstable only with / only without."""
    unstable = paired.assign(full_unstable=paired["full"] > 1, zeros_unstable=paired["zeros"] > 1)
    unstable["only full"] = unstable["full_unstable"] & ~unstable["zeros_unstable"]
    unstable["only zeros"] = unstable["zeros_unstable"] & ~unstable["full_unstable"]
    agg = dict(
        programmings=("full", "size"),
        unstable_full=("full_unstable", "mean"),
        unstable_zeros=("zeros_unstable", "mean"),
        predicted_full=("predicted, full", "mean"),
        predicted_zeros=("predicted, zeros", "mean"),
        only_full=("only full", "sum"),
        only_zeros=("only zeros", "sum"),
    )
    per_cell = unstable.groupby(["bits", "r_max", "sigma_uS"]).agg(**agg).reset_index()
    return per_cell, unstable.groupby("sigma_uS").agg(**agg)
