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

import numpy as np
import pandas as pd

from ..hardware.deploy import fits
from ..hardware.presets import preset
from ..stats.paired import holm_family
from ..stats.programmings import drop_interval, drop_summary, paired_contrast, realisation_summary
from ..stats.verdicts import ABOVE, BELOW, HOLDS, NOT_RESOLVED, Rule, table_verdicts, verdict
from .paper import PAPER

__all__ = [
    "ALL_NON_IDEALITIES",
    "EMULATION_VARIANTS",
    "PAPER_NOISE_CLAIMS",
    "DEFAULT_ARRAY",
    "DEFAULT_ARRAY_LABEL",
    "array_label",
    "failure_cells",
    "CLAIM_COLUMNS",
    "NoiseClaim",
    "noise_claims",
    "noise_model_contrasts",
    "noise_model_verdict",
    "paper_pattern",
    "reference_region",
    "claim_rule",
    "CLAIM_SIDE",
    "NOT_IN_SWEEP",
    "NO_WORKING_MODEL",
    "without_working_models",
    "technologies_text",
    "ARRAY_COLUMNS",
    "array_summary",
    "with_array_labels",
    "COMPENSATED_TECHNOLOGY",
    "compensation_contrast",
    "default_claims_text",
    "emulation_factorial",
    "emulation_summary",
    "noise_model_cells",
]

#: The book's default array, the paper-like one on which the paper's noise claims are judged: the
#: paper's block layout (one 4 x 4 block of devices per complex element: 16 devices), noise
#: clipped at the physical window only, and the saturating periphery. The deployment chapter and
#: the report both name it by this constant, never by position in a table.
DEFAULT_ARRAY = {
    "layout": "block",
    "noise_clip": "physical",
    "devices_per_element": 16,
    "periphery": "saturating",
}


def array_label(layout: str, noise_clip: str, devices_per_element: int, periphery: str) -> str:
    """The readable name of one version of the array, e.g. 'block, physical clip, 16 devices,
    saturating'."""
    return f"{layout}, {noise_clip} clip, {int(devices_per_element)} devices, {periphery}"


DEFAULT_ARRAY_LABEL = array_label(**DEFAULT_ARRAY)


def failure_cells(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Failed programmings by cause in each cell of ``by`` (e.g. array, bits, sigma): one row per
    cell and cause with ``failed`` (count) and ``programmings`` (all programmings of the cell).
    ``rows``: one row per programming with ``failure`` ('' when it worked)."""
    total = rows.groupby(by).size().rename("programmings")
    failed = (
        rows[rows["failure"] != ""].groupby([*by, "failure"]).size().rename("failed").reset_index()
    )
    return failed.merge(total.reset_index(), on=by)


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

#: The emulation factorial of the deployment chapter: the emulated array with every non-ideality
#: (``ALL_NON_IDEALITIES``, the row the report compares with the paper's hardware accuracy), and
#: with each switched off in turn (device keys set to their ideal value).
ALL_NON_IDEALITIES = "all non-idealities"
EMULATION_VARIANTS: dict[str, dict[str, float | None]] = {
    ALL_NON_IDEALITIES: {},
    "without programming noise": {"sigma_uS": 0.0},
    "without stuck devices": {"stuck_at_gmax": 0.0, "stuck_at_gmin": 0.0},
    "without read noise": {"read_noise": 0.0},
    "with ideal converters": {"dac_bits": None, "adc_bits": None},
    "without read noise, ideal converters": {"read_noise": 0.0, "dac_bits": None, "adc_bits": None},
}


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


def noise_model_verdict(
    contrasts: pd.DataFrame, model: str = "gaussian", rel_tol: float = 0.2, abs_tol: float = 2.0
) -> str:
    """Whether a constant noise ``model`` of matched error predicts the accuracy under each
    technology's state-dependent noise, as a sentence per noise scale and a verdict. Each case has a
    band of +-max(``abs_tol`` points, ``rel_tol`` x the drop the state-dependent noise causes): the
    model predicts where every paired interval (``stats.programmings.paired_contrast`` rows of the
    chapter, with ``state_dependent_drop_points``) lies inside its band, fails where some interval
    lies wholly outside (``stats.verdicts.verdict`` against the band's ends), and is not resolved
    otherwise."""
    rows = contrasts[contrasts["a"] == model]
    if rows.empty:
        raise ValueError(f"no contrasts for the noise model {model!r}")
    parts = []
    for scale, part in rows.groupby("sigma_scale", sort=True):
        words = table_verdicts(part, p=None)
        below, above = words.count(BELOW), words.count(ABOVE)
        parts.append(
            f"at {scale:g}x the technologies' noise (state-dependent drops "
            f"{part['state_dependent_drop_points'].min():.1f} to "
            f"{part['state_dependent_drop_points'].max():.1f} points), differences "
            f"{part['difference_points'].min():+.1f} to {part['difference_points'].max():+.1f} "
            f"points; {below} of {len(part)} intervals lie below zero ({model} pessimistic), "
            f"{above} above (optimistic)"
        )
    band = np.maximum(abs_tol, rel_tol * rows["state_dependent_drop_points"].abs())
    inside = (rows["ci_low"] >= -band) & (rows["ci_high"] <= band)
    outside = pd.Series(
        [
            verdict(lo, hi, None, Rule(b)) == ABOVE or verdict(lo, hi, None, Rule(-b)) == BELOW
            for lo, hi, b in zip(rows["ci_low"], rows["ci_high"], band, strict=True)
        ],
        index=rows.index,
    )
    band_text = f"{abs_tol:g} points or {100 * rel_tol:g}% of the drop"
    if outside.any():
        word = (
            f"**The {model} model does not predict the accuracy**: in {int(outside.sum())} case(s) "
            f"the interval lies wholly outside {band_text}"
        )
    elif inside.all():
        word = f"**The {model} model predicts the accuracy** within {band_text} in every case"
    else:
        word = (
            f"**{NOT_RESOLVED.capitalize()}**: no interval lies wholly outside {band_text}, but "
            f"{int((~inside).sum())} of {len(rows)} reach beyond it"
        )
    return (
        f"{model.capitalize()} noise of the same error against the state-dependent noise: "
        + "; ".join(parts)
        + f". {word}."
    )


# The device-technologies chapter: the constant noise models against the state-dependent one, and
# the chapter's closing summary.


def noise_model_contrasts(
    noise_study: pd.DataFrame,
    ideal: pd.DataFrame,
    shapes: list[str],
    matches: list[str],
    n_clips: int,
) -> pd.DataFrame:
    """Every constant noise model against the state-dependent one, as one Holm family.

    ``noise_study``: programmed rows with ``noise_model`` ('state-dependent' or a name in
    ``shapes``), ``match`` (a name in ``matches``), ``technology``, ``bits`` and ``sigma_scale``;
    ``ideal``: the same models on ideal arrays (``stats.programmings.drop_summary``); ``n_clips``:
    test clips. One row per (technology, bits, sigma_scale, match, shape): the paired difference
    constant minus state-dependent in points (``stats.programmings.paired_contrast``), its
    Holm-adjusted p, and the state-dependent model's drop from the ideal array
    (``state_dependent_drop_points``, points).
    """
    state = noise_study[noise_study["noise_model"] == "state-dependent"]
    by = ["technology", "bits", "sigma_scale", "match"]
    contrasts = pd.concat(
        [
            paired_contrast(
                pd.concat(
                    [
                        noise_study[
                            (noise_study["noise_model"] == s) & (noise_study["match"] == m)
                        ],
                        state.assign(match=m),
                    ]
                ),
                "noise_model",
                s,
                "state-dependent",
                by,
            )
            for s in shapes
            for m in matches
        ]
    )
    levels = drop_summary(state, ideal, by[:3], n_clips)[[*by[:3], "drop_points"]]
    contrasts = contrasts.merge(
        levels.rename(columns={"drop_points": "state_dependent_drop_points"}), on=by[:3]
    )
    return holm_family(
        contrasts.reset_index(drop=True),
        "every constant noise model against the state-dependent one",
    )


def technologies_text(
    tech_table: pd.DataFrame,
    verify_table: pd.DataFrame,
    time_table: pd.DataFrame,
    study_bits: list[int],
    tolerances_uS: list[float],
    times_s: list[float],
) -> str:
    """The device-technologies chapter's summary, three Markdown bullets: each technology's drop
    from the ideal array right after programming (points, with its interval), write-verify at no
    verify and at the tightest tolerance of ``tolerances_uS`` (accuracy, pulses per device) for
    each of ``study_bits``, and every condition's accuracy at the last of ``times_s`` (s)."""
    t2 = tech_table[tech_table["technology"] != "ideal"]
    drop_cols = ["bits", "drop_points", "drop_ci_low", "drop_ci_high"]
    lines = [
        "- **Technologies, right after programming** (drop from the ideal array, points): "
        + "; ".join(
            f"{t}: "
            + ", ".join(
                f"{b}-bit {d:.1f} [{lo:.1f}, {hi:.1f}]"
                for b, d, lo, hi in part[drop_cols].itertuples(index=False)
            )
            for t, part in t2.groupby("technology", sort=False)
        )
        + "."
    ]
    w, tol_min = verify_table.set_index(["bits", "tolerance"]), min(tolerances_uS)
    lines.append(
        "- **Write-verify** (accuracy, pulses per device): "
        + "; ".join(
            f"{b}-bit: no verify {w.loc[(b, np.inf), 'mean']:.3f}, ±{tol_min:g} µS "
            f"{w.loc[(b, tol_min), 'mean']:.3f} at "
            f"{w.loc[(b, tol_min), 'pulses_per_device']:.1f} pulses"
            for b in study_bits
        )
        + "."
    )
    end = time_table[time_table["t_s"] == max(times_s)]
    lines.append(
        f"- **After {max(times_s):g} s**: "
        + "; ".join(
            f"{c}, {b}-bit {m:.3f} [{lo:.3f}, {hi:.3f}]"
            for c, b, m, lo, hi in end[
                ["condition", "bits", "mean", "ci_low", "ci_high"]
            ].itertuples(index=False)
        )
        + "."
    )
    return "\n".join(lines)


# The deployment chapter's Fig. 4: every version of the array, by name.

#: The columns that name a version of the array (``array_label``).
ARRAY_COLUMNS = ["layout", "noise_clip", "devices_per_element", "periphery"]


def with_array_labels(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with a column ``array``: one readable name per version of the array, from its
    ``ARRAY_COLUMNS`` (``array_label``)."""
    return rows.assign(array=[array_label(*r) for r in rows[ARRAY_COLUMNS].itertuples(index=False)])


def array_summary(rows: pd.DataFrame, n_clips: int | None) -> pd.DataFrame:
    """Accuracy per (array, bits, sigma_uS) of programmed ``rows`` (with ``array``,
    ``with_array_labels``): the mean and interval of ``stats.programmings.realisation_summary`` over
    ``n_clips`` test clips, plus the shares of programmings that are unstable (spectral radius
    >= 1, ``unstable_share``) and that saturate a converter (``saturated_share``), fractions."""
    by = ["array", "bits", "sigma_uS"]
    shares = (
        rows.groupby(by)
        .agg(
            unstable_share=("spectral_radius", lambda r: float((r >= 1).mean())),
            saturated_share=("saturated", "mean"),
        )
        .reset_index()
    )
    return realisation_summary(rows, by, n_clips).merge(shares, on=by)


def default_claims_text(claims: pd.DataFrame, array: str) -> str:
    """One Markdown sentence on the paper's noise claims on ``array`` (a ``with_array_labels``
    name): each claim's verdict, paired drop (points) with its 95% interval, and share of failed
    programmings, from ``claims`` (``noise_claims`` rows with an ``array`` column)."""
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


def emulation_summary(
    emulation: pd.DataFrame, variants: list[str], software_accuracy: float, n_clips: int | None
) -> pd.DataFrame:
    """One row per emulation variant, in the order of ``variants``: the accuracy summary of its
    programmings (``emulation`` rows with ``variant``; ``stats.programmings.realisation_summary``
    over ``n_clips`` test clips), the gap to the software accuracy ``software_accuracy`` (a
    fraction) and the accuracy recovered against all non-idealities (both in points), and its failed
    programmings counted by cause."""
    order = emulation["variant"].map(list(variants).index)
    summary = (
        realisation_summary(emulation.assign(order=order), ["order", "variant"], n_clips)
        .drop(columns="order")
        .set_index("variant")
    )
    summary["gap to software (points)"] = (software_accuracy - summary["mean"]) * 100
    summary["recovered vs all (points)"] = (
        summary["mean"] - summary.loc[ALL_NON_IDEALITIES, "mean"]
    ) * 100
    summary["failures by cause"] = (
        emulation[emulation["failure"] != ""]
        .groupby("variant")["failure"]
        .agg(lambda f: f.value_counts().to_dict())
    )
    return summary


def emulation_factorial(mean: pd.Series, rounding: str) -> pd.DataFrame:
    """Read noise crossed with the converters' rounding: the mean accuracy (a fraction) of the four
    emulation variants (``mean``, by variant) with read noise on and off (columns), with the
    converters ``rounding`` names and with ideal converters (rows)."""
    return pd.DataFrame(
        {
            "read noise on": [mean[ALL_NON_IDEALITIES], mean["with ideal converters"]],
            "read noise off": [
                mean["without read noise"],
                mean["without read noise, ideal converters"],
            ],
        },
        index=[rounding, "ideal converters"],
    ).rename_axis("converters")


#: The drifting technology whose drift compensation the device-technologies chapter tests.
COMPENSATED_TECHNOLOGY = "pcm_joshi2020"


def compensation_contrast(
    aged: pd.DataFrame, times_s: list[float], technologies: list[str]
) -> pd.DataFrame:
    """Drift compensation on against off for ``COMPENSATED_TECHNOLOGY`` at the last of ``times_s``
    (s), per bit width, paired (``stats.programmings.paired_contrast``, points) over the programmed
    rows ``aged``; empty where ``technologies`` (those aged) leave it out."""
    if COMPENSATED_TECHNOLOGY not in technologies:
        return pd.DataFrame()
    last = aged[aged["t_s"] == max(times_s)]
    return paired_contrast(
        last[last["technology"] == COMPENSATED_TECHNOLOGY],
        "drift_compensation",
        True,
        False,
        ["bits"],
    )


def noise_model_cells(
    technologies: list[str],
    bits: list[int],
    scales: list[float],
    shapes: list[str],
    matches: list[str],
) -> list[dict]:
    """The noise-model sweep of the device-technologies chapter: for each technology of
    ``technologies`` and bit width of ``bits`` its preset holds (``deploy.fits``), each noise scale
    factor of ``scales``, the technology's state-dependent noise and a constant noise of each shape
    of ``shapes`` matched by each criterion of ``matches``."""
    variants = [("state-dependent", "none")] + [(s, m) for s in shapes for m in matches]
    return [
        {"bits": b, "technology": t, "sigma_scale": k, "noise_model": s, "match": m}
        for t in technologies
        for b in bits
        if fits(preset(t), b)
        for k in scales
        for s, m in variants
    ]
