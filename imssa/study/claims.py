"""Verdicts on the paper's noise claims, from the programming sweep of the deployment chapter.

A claim names a bit width, a programming noise sigma (uS) and a criterion on the accuracy drop from
sigma = 0, in points: "tolerates" (drop <= threshold) or "suffers" (drop >= threshold). The drop is
paired by model: each (seed, fold) model at sigma against the same model unprogrammed (sigma = 0),
so speaker difficulty and training luck cancel. Its interval resamples folds, then programmings
(``stats.programmings.realisation_summary``). The verdict is the book's one rule
(``stats.verdicts.verdict``): "holds" or "fails" only when the whole interval is on one side of the
threshold, else "not resolved" (``claim_rule``: a "tolerates" claim holds below its threshold,
"suffers" above).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import pandas as pd

from ..stats.programmings import drop_interval, realisation_summary
from ..stats.verdicts import ABOVE, BELOW, HOLDS, Rule, verdict
from .paper import PAPER

__all__ = [
    "CLAIM_COLUMNS",
    "CLAIM_SIDE",
    "NOT_IN_SWEEP",
    "NO_WORKING_MODEL",
    "NoiseClaim",
    "PAPER_NOISE_CLAIMS",
    "claim_rule",
    "default_claims_text",
    "noise_claims",
    "paper_pattern",
    "reference_region",
    "without_working_models",
]


#: Columns of ``noise_claims`` (NaN where a claim's bit width or sigma is not in the sweep).
CLAIM_COLUMNS = [
    "text",
    "bits",
    "sigma_uS",
    "kind",
    "threshold_points",
    "accuracy at 0",
    "accuracy at sigma",
    "drop (points)",
    "drop ci_low",
    "drop ci_high",
    "failure share",
    "verdict",
]


class NoiseClaim(NamedTuple):
    text: str
    bits: int
    sigma_uS: float
    kind: Literal["tolerates", "suffers"]
    threshold_points: float


#: The paper's two noise claims, with the drop (points) that counts as tolerating or suffering:
#: the deployment chapter judges them and the report reads them by these texts.
PAPER_NOISE_CLAIMS = (
    NoiseClaim(
        f"2-bit tolerates sigma = {PAPER['sigma_tolerated_2bit_uS'][0]:g} uS",
        2,
        PAPER["sigma_tolerated_2bit_uS"][0],
        "tolerates",
        2.0,
    ),
    NoiseClaim(
        f"5-bit suffers at sigma = {PAPER['sigma_degrades_5bit_uS'][0]:g} uS",
        5,
        PAPER["sigma_degrades_5bit_uS"][0],
        "suffers",
        5.0,
    ),
)

#: The side of its threshold on which a claim of each kind holds (its drop interval, points).
CLAIM_SIDE = {"tolerates": BELOW, "suffers": ABOVE}
#: The verdict column of a claim whose cell the sweep did not run.
NOT_IN_SWEEP = "not in this sweep"


#: The verdict column of a claim whose configuration has no working model (nothing to judge).
NO_WORKING_MODEL = "no working model"


def without_working_models(
    claims: pd.DataFrame, configs: set[tuple], by: list[str]
) -> pd.DataFrame:
    """``claims`` (``noise_claims`` rows) with ``verdict`` ``NO_WORKING_MODEL`` where the values of
    ``by`` (e.g. bits, r_max) are one of ``configs``: configurations without a model to judge."""
    gone = [tuple(k) in configs for k in claims[by].itertuples(index=False)]
    out = claims.copy()
    out.loc[gone, "verdict"] = NO_WORKING_MODEL
    return out


def claim_rule(kind: str, threshold_points: float) -> Rule:
    """The ``stats.verdicts.Rule`` of a noise claim: its drop threshold (points) and the side it
    holds on."""
    if kind not in CLAIM_SIDE:
        raise ValueError(f"kind must be one of {sorted(CLAIM_SIDE)}, got {kind!r}")
    return Rule(threshold_points, holds=CLAIM_SIDE[kind])


def noise_claims(rows: pd.DataFrame, claims: list[NoiseClaim], n_clips: int) -> pd.DataFrame:
    """One row per claim: accuracy at sigma = 0 and at the claim's sigma, the paired drop (points)
    with its interval, the failure share of the programmings at sigma, and the verdict. ``rows``:
    one row per programming with ``bits``, ``sigma_uS``, ``fold``, ``realisation``, ``accuracy``
    and, where several seeds were trained per fold, ``seed``."""
    key = ["seed", "fold"] if "seed" in rows.columns else ["fold"]
    out = []
    for c in claims:
        model = rows[rows["bits"] == c.bits]
        at0 = model[model["sigma_uS"] == 0].groupby(key)["accuracy"].mean()
        at = model[model["sigma_uS"] == c.sigma_uS]
        if at0.empty or at.empty:
            out.append(c._asdict() | {"verdict": NOT_IN_SWEEP})
            continue
        ref = at.set_index(key).index.map(at0).to_numpy(dtype=float)
        drops = at.assign(accuracy=100 * (ref - at["accuracy"].to_numpy(dtype=float)), claim=c.text)
        d = realisation_summary(drops, ["claim"], None).iloc[0]
        fail = realisation_summary(at.assign(claim=c.text), ["claim"], n_clips).iloc[0]
        out.append(
            c._asdict()
            | {
                "accuracy at 0": float(at0.mean()),
                "accuracy at sigma": float(fail["mean"]),
                "drop (points)": d["mean"],
                "drop ci_low": d["ci_low"],
                "drop ci_high": d["ci_high"],
                "failure share": fail["failure_share"],
                "verdict": verdict(
                    d["ci_low"], d["ci_high"], None, claim_rule(c.kind, c.threshold_points)
                ),
            }
        )
    return pd.DataFrame(out).reindex(columns=CLAIM_COLUMNS)


def paper_pattern(claims: pd.DataFrame, config: str) -> pd.DataFrame:
    """Which pairs of configurations reproduce both claims at once: one row per (configuration of
    the 'tolerates' claim, configuration of the 'suffers' claim), e.g. the pole caps of the 2-bit
    and the 5-bit model, with both verdicts and ``both_hold``. ``claims``: ``noise_claims`` rows
    with a column ``config`` naming the configuration each was measured on."""
    if config not in claims.columns:
        raise ValueError(f"claims lack the column {config!r}")
    cols = [config, "verdict"]
    tol = claims.loc[claims["kind"] == "tolerates", cols].rename(
        columns=lambda c: f"tolerates: {c}"
    )
    suf = claims.loc[claims["kind"] == "suffers", cols].rename(columns=lambda c: f"suffers: {c}")
    pairs = tol.merge(suf, how="cross")
    pairs["both_hold"] = (pairs["tolerates: verdict"] == HOLDS) & (
        pairs["suffers: verdict"] == HOLDS
    )
    return pairs


def reference_region(
    drops: pd.DataFrame,
    by: list[str],
    target_points: float,
    n_clips: int,
    tolerance_points: float = 3.0,
) -> pd.DataFrame:
    """Which settings reproduce a drop reported for one chip: per group of ``by`` (e.g. one grid
    cell of device parameters), the mean drop (points, ``drop_points`` of
    ``stats.programmings.drops_from``) with its interval over folds and programmings, the central
    95% of the single programmings' drops (``drop_p2_5``, ``drop_p97_5``: where one chip's drop
    falls), the mean accuracy and failure share, and ``reproduces``: the reported ``target_points``
    is a plausible single chip (inside the central 95%) and a typical one (the mean within
    ``tolerance_points``)."""
    acc = realisation_summary(drops, by, n_clips)
    spread = (
        drops.groupby(by)["drop_points"]
        .quantile([0.025, 0.975])
        .unstack()
        .set_axis(["drop_p2_5", "drop_p97_5"], axis=1)
    )
    d = drop_interval(drops, by).merge(
        acc[[*by, "folds", "programmings", "mean", "failure_share"]], on=by
    )
    d = d.rename(columns={"mean": "accuracy"}).merge(spread.reset_index(), on=by)
    d["reproduces"] = (
        (d["drop_p2_5"] <= target_points)
        & (target_points <= d["drop_p97_5"])
        & ((d["drop_points"] - target_points).abs() <= tolerance_points)
    )
    return d


def default_claims_text(claims: pd.DataFrame, array: str) -> str:
    """One Markdown sentence on the paper's noise claims on ``array`` (a
    ``deployment_arrays.with_array_labels`` name): each claim's verdict, paired drop (points) with
    its 95% interval, and share of failed programmings, from ``claims`` (``noise_claims`` rows with
    an ``array`` column)."""
    d = claims[claims["array"] == array].set_index("text")
    return (
        "On the paper-like array: "
        + "; ".join(
            f"*{t}* **{r['verdict']}** (drop {r['drop (points)']:.1f} points, "
            f"95% interval [{r['drop ci_low']:.1f}, "
            f"{r['drop ci_high']:.1f}], {r['failure share']:.0%} of programmings failed)"
            for t, r in d.iterrows()
        )
        + "."
    )
