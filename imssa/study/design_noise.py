"""Chapter 'Memory that survives programming': the chosen design under programming noise.

* Programming (``noise_cell``, one cell of the grid ``noise_cells``): the chosen design on the
  array, and the hybrid with A_bar held digitally (``deploy.deployed_weights``' ``digital_A``);
  every model its own draws, the two placements variants of one model.
* Against the float model and chance (``noise_contrasts``), summaries (``noise_summary``,
  ``sigma_star_table``) and the theory's longest memory (``theory_table``).
* Figures: ``noise_figure``, ``memory_figure``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..hardware.margin import longest_memory_ms, weight_noise_std
from ..model.train import load_splits
from ..stats.intervals import fold_stats
from . import memory_noise
from .deployed import load_model
from .memory_noise import memory_rows
from .memory_programming import PLACEMENTS, chosen_design, front_end, run_spec
from .params import ProgrammedMemoryParams
from .runs import fold_data

__all__ = [
    "memory_figure",
    "noise_cell",
    "noise_cells",
    "noise_contrasts",
    "noise_figure",
    "noise_summary",
    "sigma_star_table",
    "theory_table",
]


def noise_cells(cfg: ProgrammedMemoryParams) -> list[dict[str, Any]]:
    """The cells of the chapter's noise grid (shared with its plan, ``plans.memory_programming``):
    one per front end of ``noise_front_ends``, placement of A_bar (``PLACEMENTS``), sigma of
    ``sigmas_uS`` (uS) and count of ``devices_per_element``, in that order (keys ``front_end``,
    ``placement``, ``sigma_uS``, ``devices_per_element``)."""
    return [
        {"front_end": fe, "placement": p, "sigma_uS": x, "devices_per_element": d}
        for fe in cfg.noise_front_ends
        for p in PLACEMENTS
        for x in cfg.sigmas_uS
        for d in cfg.shared.devices_per_element
    ]


def noise_cell(
    cfg: ProgrammedMemoryParams,
    fe: str,
    placement: str,
    bits: Mapping[int, int],
    cell: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """The programmings of front end ``fe``'s chosen design (per fold its ``bits``) at ``cell``'s
    ``sigma_uS`` and ``devices_per_element``, on every (seed, fold), with A_bar ``placement`` on the
    array or digital (``memory_programming.PLACEMENTS``). The draws come from the model (front end,
    design, seed, fold) and sigma: the two placements meet the same ones."""
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
    rate = front_end(cfg, fe).data(cfg.order_data()).step_rate
    rows = []
    for fold in cfg.shared.folds:
        for seed in cfg.memory_seeds:
            m = chosen_design(cfg, bits, fold)
            model = load_model(
                run_spec(cfg, fe, "order", m, seed, fold), cfg.order_data().n_classes
            )
            rows += [
                r | {"seed": seed, "fold": fold, "bits_A": m.bits_A}
                for r in memory_rows(
                    cfg,
                    model,
                    ("order", fe, m.name, seed, fold),
                    cell["sigma_uS"],
                    cell["devices_per_element"],
                    rate,
                    digital_A=placement == PLACEMENTS[1],
                )
            ]
    return rows


def theory_table(cfg: ProgrammedMemoryParams, fes: list[str]) -> pd.DataFrame:
    """The longest memory one complex mode can keep (``margin.longest_memory_ms`` at
    ``unstable_share_limit``) on the designs' range, per front end (its step rate), device count
    and sigma > 0: in steps and ms."""
    rows = []
    for fe in fes:
        rate = front_end(cfg, fe).data(cfg.order_data()).step_rate
        for d in cfg.shared.devices_per_element:
            for x in (x for x in cfg.sigmas_uS if x > 0):
                s = weight_noise_std(
                    x, cfg.design_fscale, cfg.shared.g_min_uS, cfg.shared.g_max_uS, d
                )
                ms = longest_memory_ms(s, rate, cfg.unstable_share_limit)
                rows.append(
                    {
                        "front_end": fe,
                        "step_rate": rate,
                        "devices_per_element": d,
                        "sigma_uS": x,
                        "s": s,
                        "longest_ms": ms,
                        "longest_steps": ms * rate / 1000,
                    }
                )
    return pd.DataFrame(rows)


def noise_contrasts(
    noise: pd.DataFrame, float_answers: pd.DataFrame, chance: float
) -> pd.DataFrame:
    """Each programmed design (per ``front_end``, ``placement``, ``devices_per_element``,
    ``sigma_uS``) against the float S4D model of the same fold in software, and against chance:
    per fold, the mean accuracy over its programmings minus the float model's test accuracy (or
    minus ``chance``); over folds the t interval, ``p_t`` and the exact ``p_sign_flip``, in points.
    ``float_answers``: per-clip answers of the float models with ``front_end`` and ``fold``."""
    ref = float_answers.groupby(["front_end", "fold"])["correct"].mean()
    by = ["front_end", "placement", "devices_per_element", "sigma_uS"]
    rows = []
    for key, part in noise.dropna(subset=["accuracy"]).groupby(by, sort=True):
        per_fold = part.groupby("fold")["accuracy"].mean()
        for against, base in (
            ("float S4D", np.array([ref[(key[0], f)] for f in per_fold.index])),
            ("chance", chance),
        ):
            d = 100 * (per_fold.to_numpy() - base)
            st = fold_stats(d)
            rows.append(
                dict(zip(by, key, strict=True))
                | {"a": "programmed design", "b": against, "difference_points": st.pop("estimate")}
                | st
                | {"folds": int(d.size)}
            )
    return pd.DataFrame(rows)


def noise_summary(noise: pd.DataFrame, cfg: ProgrammedMemoryParams) -> pd.DataFrame:
    """``memory_noise.noise_summary`` per (front end, placement, devices per element, sigma)."""
    return memory_noise.noise_summary(
        noise, _test_clips(cfg), ("front_end", "placement", "devices_per_element", "sigma_uS")
    )


def _test_clips(cfg: ProgrammedMemoryParams) -> int:
    return len(load_splits(fold_data(cfg.order_data(), cfg.shared.folds[0])).test)


def sigma_star_table(noise: pd.DataFrame, cfg: ProgrammedMemoryParams) -> pd.DataFrame:
    """``memory_noise.memory_sigma_star`` per (front end, placement, devices per element), beside
    the theory's longest memory at that sigma (steps and ms; A_bar on the array only) and the chosen
    design's slowest trained mode at sigma = 0 is not in these rows (see
    ``memory_answers.rate_table``)."""
    labelled = noise.assign(model=noise["front_end"] + " | " + noise["placement"])
    stars = memory_noise.memory_sigma_star(
        labelled, _test_clips(cfg), 1 / cfg.order_data().n_classes
    )
    stars[["front_end", "placement"]] = stars["model"].str.split(" \\| ", expand=True)
    theory = theory_table(cfg, list(dict.fromkeys(noise["front_end"]))).set_index(
        ["front_end", "devices_per_element", "sigma_uS"]
    )
    at = [
        theory.loc[(r.front_end, r.devices_per_element, r.sigma_star_uS)]
        if r.placement == "array"
        and (r.front_end, r.devices_per_element, r.sigma_star_uS) in theory.index
        else None
        for r in stars.itertuples()
    ]
    stars["theory_longest_steps_at_star"] = [
        np.nan if t is None else t["longest_steps"] for t in at
    ]
    stars["theory_longest_ms_at_star"] = [np.nan if t is None else t["longest_ms"] for t in at]
    return stars.drop(columns="model")[
        [
            "front_end",
            "placement",
            "devices_per_element",
            "models",
            "working",
            "sigma_star_uS",
            "sigma_fail_uS",
            "fails_by",
            "theory_longest_steps_at_star",
            "theory_longest_ms_at_star",
        ]
    ]


def noise_figure(noise: pd.DataFrame, cfg: ProgrammedMemoryParams) -> Any:
    """Accuracy against sigma (symlog), a panel per front end, a line per placement and device
    count."""
    curves = (
        noise.dropna(subset=["accuracy"])
        .groupby(["front_end", "placement", "devices_per_element", "sigma_uS"])["accuracy"]
        .mean()
        .reset_index()
    )
    curves["design"] = (
        curves["placement"] + ", " + curves["devices_per_element"].astype(str) + " devices"
    )
    g = sns.relplot(
        curves,
        x="sigma_uS",
        y="accuracy",
        hue="design",
        col="front_end",
        kind="line",
        marker="o",
        height=3,
    )
    for ax in g.axes.flat:
        ax.set_xscale("symlog", linthresh=0.5)
        ax.axhline(1 / cfg.order_data().n_classes, color="0.4", ls="--", lw=1)
        ax.axvspan(*cfg.write_verified_uS, color="0.9", zorder=0)
    g.set_axis_labels("sigma (uS)", "memory-task accuracy")
    return g


def memory_figure(
    theory: pd.DataFrame, stars: pd.DataFrame, rates: pd.DataFrame, cfg: ProgrammedMemoryParams
) -> Any:
    """The theory's longest memory (steps, log axis) against sigma per front end (first device
    count), with the chosen design's slowest trained mode (dotted) and each placement's measured
    sigma* (vertical lines): where the dotted line crosses the curve, the theory says the
    design's modes start to leave the circle."""
    d0 = cfg.shared.devices_per_element[0]
    fes = list(dict.fromkeys(theory["front_end"]))
    fig, axes = plt.subplots(1, len(fes), figsize=(3.4 * len(fes), 3), sharey=True, squeeze=False)
    order = rates[(rates["task"] == "order") & (rates["model"] == "chosen design")].set_index(
        "front_end"
    )
    for ax, fe in zip(axes[0], fes, strict=True):
        th = theory[(theory["front_end"] == fe) & (theory["devices_per_element"] == d0)]
        ax.plot(
            th["sigma_uS"], th["longest_steps"], color="k", lw=1, label="theory: longest memory"
        )
        if fe in order.index:
            ax.axhline(
                float(order.loc[fe, "tau_max_steps"]),
                color="0.3",
                ls=":",
                lw=1,
                label="chosen design's slowest mode",
            )
        for r in stars[
            (stars["front_end"] == fe) & (stars["devices_per_element"] == d0)
        ].itertuples():
            if pd.notna(r.sigma_star_uS):
                ax.axvline(
                    r.sigma_star_uS,
                    ls="--",
                    lw=1,
                    color="C0" if r.placement == "array" else "C1",
                    label=(
                        f"sigma*, A_bar {'on the array' if r.placement == 'array' else 'digital'}"
                    ),
                )
        ax.set(xscale="log", yscale="log", title=fe, xlabel="sigma (uS)")
    axes[0][0].set_ylabel("memory (steps)")
    axes[0][-1].legend(fontsize=7, loc="upper right")
    return fig
