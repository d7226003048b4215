"""Sentences the chapters show whose words depend on a result: every choice of words (a branch, a
threshold) lives here, tested, so that a chapter's cell only formats what these return.

Verdicts themselves come from ``imssa.stats.verdicts.verdict``; a sentence here words a table, a
verdict or a count, and takes the numbers it prints as arguments (units in the names).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..hardware.margin import drop_within_text, position_tally
from ..stats.verdicts import HOLDS
from .claims import NOT_IN_SWEEP

__all__ = [
    "choices_text",
    "claim_caps_text",
    "deployable_text",
    "failing_sigma_text",
    "heidelberg_text",
    "left_out_text",
    "orders_tolerance_text",
    "paper_pattern_text",
    "predictions_text",
    "real_zeros_text",
    "training_text",
    "unstable_share_text",
    "where_text",
]


def _listed(items: Iterable[str]) -> str:
    return ", ".join(items)


# ------------------------------------------------------------------ float baseline


def training_text(
    epochs: int, batch_size: int, lr: float, ssm_lr: float, weight_decay: float
) -> str:
    """The training schedule of a parameter file in one sentence (``shared.train``'s keys)."""
    same = (
        " (the same value; the validation sweep below tries smaller ones)" if ssm_lr == lr else ""
    )
    return (
        f"This parameter file trains for {epochs} epochs in batches of {batch_size}, with lr = "
        f"{lr:g} "
        f"and ssm_lr = {ssm_lr:g}{same}, weight decay {weight_decay:g}."
    )


def choices_text(chosen: pd.DataFrame) -> str:
    """Whether the parameter file holds the validation choice on every axis (``selection.choices``
    rows: ``parameter``, ``agrees``, ``budget binds``, ``budget``), and where a budget binds."""
    if missing := {"parameter", "agrees", "budget binds", "budget"} - set(chosen.columns):
        raise ValueError(f"choices lack the columns {sorted(missing)}")
    text = (
        "Every value of the parameter file is the validation choice along its axis. "
        if chosen["agrees"].all()
        else "Where *agrees* is False, the parameter file does not hold the validation choice: "
        + _listed(chosen.loc[~chosen["agrees"], "parameter"])
        + ". The numbers below use the file's values. "
    )
    return text + "".join(
        f"For {r.parameter}, the budget ({r.budget}) binds: a candidate above it scores higher "
        "on validation and is drawn, not chosen. "
        for r in chosen[chosen["budget binds"]].itertuples()
    )


# ------------------------------------------------------------------ hardware deployment

#: The noise clip whose bound is the device's physical window (else a range of the mapping).
PHYSICAL_CLIP = "physical"


def unstable_share_text(unstable: pd.Series) -> str:
    """Per noise clip (index) the share of programmings with an unstable recurrence (fraction)."""
    return " ".join(
        f"Clipped at the {c} {'window' if c == PHYSICAL_CLIP else 'range'}, {u:.1%} of the "
        "programmings have an unstable recurrence."
        for c, u in unstable.items()
    )


# ------------------------------------------------------------------ stability margin


def left_out_text(
    left: int, models: int, chance: float, n_test: int, without: list[tuple[int, float]]
) -> str:
    """How many of ``models`` are ``left`` out (at chance at sigma = 0 on ``n_test`` clips;
    ``chance`` a fraction) and which (bits, r_max) configurations keep no working model
    (``without``)."""
    head = (
        f"**{left} of {models} models are left out**: their accuracy at σ = 0 is not "
        "significantly above "
        f"chance ({chance:.0%}) on {n_test} test clips. "
    )
    if not without:
        return head + "Every configuration keeps at least one working model."
    return (
        head
        + "Configurations (bits, r_max) without any working model, so without a σ*: "
        + _listed(f"({b}, {r:g})" for b, r in without)
        + "."
    )


def predictions_text(compared: pd.DataFrame, predicted: list[str], ratio: float) -> str:
    """Where the old and the new predicted sigma* (``predicted``: two columns of
    ``margin.against_measured``'s ``compared``) lie against the measured interval, and their
    median ``ratio`` (old / new)."""
    if compared.empty:
        return "No configuration has a working model: no measured σ* to compare."
    old, new = (position_tally(compared[c + " vs measured"]) for c in predicted[:2])
    return (
        f"Against the measured interval [σ*, σ_fail) of the {len(compared)} working "
        "configurations, the old "
        f"prediction lies {old}, the new one {new}. Over the working models the old law predicts "
        "a σ* "
        f"{ratio:.2g} times the new one (median)."
    )


def real_zeros_text(zeros: pd.DataFrame, real_share: float) -> str:
    """What leaving the real poles' off-diagonal cross-points unprogrammed changes (``zeros``: one
    row per sigma with the measured and predicted unstable shares and the paired counts
    ``only_full``, ``only_zeros``; ``real_share``: the share of modes that are real poles)."""
    gain = zeros["unstable_full"] - zeros["unstable_zeros"]
    if gain.abs().max() == 0 and zeros["only_zeros"].sum() == 0:
        return (
            "Leaving the real poles' off-diagonal cross-points unprogrammed changes no "
            "programming's stability at these σ."
        )
    s = gain.idxmax()
    z = zeros.loc[s]
    return (
        "On the same draws, leaving the real poles' off-diagonal cross-points unprogrammed "
        f"({real_share:.0%} of "
        f"the modes are real poles) makes {zeros['only_full'].sum()} unstable programmings stable "
        "and "
        f"{zeros['only_zeros'].sum()} stable ones unstable; at σ = {s:g} µS the unstable share "
        "goes from "
        f"{z['unstable_full']:.0%} to {z['unstable_zeros']:.0%} (predicted "
        f"{z['predicted_full']:.0%} and "
        f"{z['predicted_zeros']:.0%})."
    )


def paper_pattern_text(pairs: pd.DataFrame) -> str:
    """Which pole caps reproduce both of the paper's noise claims (``claims.paper_pattern``
    rows)."""
    hold = pairs[pairs["both_hold"]]
    if hold.empty:
        return "**No pair of pole caps reproduces both claims.**"
    caps = lambda col: _listed(sorted({f"{r:g}" for r in hold[col]}))  # noqa: E731
    return (
        "The paper's pattern appears when the 2-bit model's poles are capped at "
        f"{caps('tolerates: r_max')} "
        f"and the 5-bit model's at {caps('suffers: r_max')}: it needs the two models to differ in "
        "margin, "
        "not only in bit width."
    )


def orders_tolerance_text(across_caps_uS: float, across_widths_uS: float) -> str:
    """Which of the pole cap and the bit width moves the measured sigma* more (mean ranges, uS);
    '' where either is undefined."""
    if np.isnan(across_caps_uS) or np.isnan(across_widths_uS):
        return ""
    more = (
        "neither"
        if across_caps_uS == across_widths_uS
        else "the margin"
        if across_caps_uS > across_widths_uS
        else "the bit width"
    )
    return (
        f"Across the pole caps of one bit width the measured σ* changes by {across_caps_uS:.3g} "
        "µS on average, "
        f"across the bit widths at one cap by {across_widths_uS:.3g} µS: {more} orders the "
        "tolerance more."
    )


def failing_sigma_text(
    unstable: int, failed_stable: int, programmings: int, stable_drop_points: float
) -> str:
    """The programmings at their first failing sigma: unstable, stable at chance, and the mean drop
    of the stable ones (points; NaN: none) against the drop sigma* allows."""
    head = (
        f"At their first failing σ, {unstable} of {programmings} programmings of the working "
        "configurations "
        f"are unstable and {failed_stable} stable ones score at chance"
    )
    if np.isnan(stable_drop_points):
        return head + "."
    return (
        head
        + f"; the stable ones lose {stable_drop_points:.2g} points on average, "
        + f"{drop_within_text(stable_drop_points)}."
    )


def claim_caps_text(claims: pd.DataFrame, kind: str, text: str) -> str:
    """The pole caps at which the claim of ``kind`` holds (``claims.noise_claims`` rows with
    ``r_max``), or that it holds at none (and whether the sweep lacks its bits or sigma)."""
    own = claims[claims["kind"] == kind]
    caps = sorted({f"{r:g}" for r in own.loc[own["verdict"] == HOLDS, "r_max"]})
    if caps:
        return f"The claim '{text}' holds at the caps {_listed(caps)}."
    absent = bool((own["verdict"] == NOT_IN_SWEEP).all())
    return f"The claim '{text}' holds at no cap of this run" + (
        " (its bit width or σ is not in the sweep)." if absent else "."
    )


# ------------------------------------------------------------------ device technologies


def deployable_text(missing: list[tuple[str, int, int]]) -> str:
    """The (technology, bits, states) pairs a technology cannot hold, or that every one holds
    every model."""
    if not missing:
        return "Every technology holds every model."
    return "Not deployable (too few states per device): " + _listed(
        f"{b}-bit on {t} ({s} states)" for t, b, s in missing
    )


# ------------------------------------------------------------------ depth and scale


def where_text(sigma_uS: float) -> str:
    """'in software' (NaN: no array) or 'at <sigma> uS'."""
    return "in software" if np.isnan(sigma_uS) else f"at {sigma_uS:g} uS"


def heidelberg_text(present: bool) -> str:
    """Whether Heidelberg Digits is under the data root, and what to do where it is not."""
    if present:
        return "Heidelberg Digits is present: its 20 classes run below."
    return (
        "**Heidelberg Digits is not present** under `<data>/heidelberg`, so its 20-class task is "
        "skipped here. "
        "Put the dataset there (audio/ and the two file lists) and rerun the chapter to add it."
    )
