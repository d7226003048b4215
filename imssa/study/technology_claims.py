"""The device-technologies chapter's claims: constant noise models against state-dependent noise.

Does a constant noise of matched error predict the accuracy under each technology's
state-dependent noise? ``technology_runs`` are the chapter's models, ``technology_grids`` the
cells of its sweeps (``noise_model_cells`` the noise-model sweep's), ``noise_model_contrasts`` pairs
every constant model against the state-dependent one (one Holm family) and
``noise_model_verdict`` judges them against a tolerance band (``stats.verdicts.verdict``).
``compensation_contrast`` tests drift compensation on ``COMPENSATED_TECHNOLOGY``, and
``technologies_text`` writes the chapter's summary.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..hardware.deploy import fits
from ..hardware.presets import preset
from ..model.cache import Run
from ..stats.paired import holm_family
from ..stats.programmings import drop_summary, paired_contrast
from ..stats.verdicts import ABOVE, BELOW, NOT_RESOLVED, Rule, table_verdicts, verdict
from .params import TechnologyParams
from .runs import qat_spec

__all__ = [
    "COMPENSATED_TECHNOLOGY",
    "compensation_contrast",
    "noise_model_cells",
    "noise_model_contrasts",
    "noise_model_verdict",
    "technologies_text",
    "technology_grids",
    "technology_model_keys",
    "technology_runs",
]


def technology_model_keys(cfg: TechnologyParams) -> list[tuple[int, int]]:
    """The (training seed, fold) of every model of one bit width, folds outer: every sweep of the
    chapter runs a task per cell and key."""
    return [(s, f) for f in cfg.shared.folds for s in cfg.shared.seeds]


def technology_runs(cfg: TechnologyParams) -> dict[tuple[int, int, int], Run]:
    """The chapter's models: the QAT chapter's fixed-range run at each width of ``cfg.tech_bits``
    (which holds ``study_bits`` and ``inverse_bits``) and each ``technology_model_keys``, keyed
    (bits, seed, fold) (the plan's stage 'QAT models')."""
    keys = technology_model_keys(cfg)
    return {(b, s, f): qat_spec(cfg, b, "fixed", s, f) for b in cfg.tech_bits for s, f in keys}


def technology_grids(cfg: TechnologyParams) -> dict[str, list[dict[str, Any]]]:
    """The cells of each of the chapter's sweeps, by grid name, in the chapter's order: what its
    cells run and what its plan counts (``plans.device_technologies``).

    'technologies': every width of ``tech_bits`` on the ideal array and on each technology that
    holds it (``deploy.fits``); 'noise models': ``noise_model_cells``; 'write-verify': the
    ``write_verify_preset`` at each width of ``study_bits`` with an infinite tolerance (one pulse,
    no verify) and each of ``write_verify_tolerances_uS`` (uS); 'time': each technology of
    ``time_technologies``, with and without drift compensation where it drifts, each width of
    ``study_bits`` and each of ``times_s`` (s after programming); 'inverse static': the
    ``inverse_bits`` model on ``inverse_base`` at each programming noise of ``inverse.sigmas_uS``
    (uS) and stuck fraction (half at g_max, half at g_min); 'inverse periphery': step mode with
    calibrated converters at each of ``inverse_step.sigmas_uS``, ``inverse_read_noises`` (of the
    ADC range) and ``inverse_converter_bits``."""
    time = [
        {"bits": b, "technology": t, "t_s": ts, "drift_compensation": comp}
        for t in cfg.time_technologies
        for comp in ([False, True] if preset(t).drifts else [False])
        for b in cfg.study_bits
        for ts in cfg.times_s
    ]
    inverse = {"bits": cfg.inverse_bits, "technology": cfg.inverse_base}
    return {
        "technologies": [
            {"bits": b, "technology": t}
            for b in cfg.tech_bits
            for t in ["ideal", *cfg.technologies]
            if fits(preset(t), b)
        ],
        "noise models": noise_model_cells(
            cfg.noise_technologies,
            cfg.study_bits,
            cfg.noise_scales,
            cfg.noise_shapes,
            cfg.noise_matches,
        ),
        "write-verify": [
            {"bits": b, "technology": cfg.write_verify_preset, "write_verify_tol_uS": tol}
            for b in cfg.study_bits
            for tol in [np.inf, *cfg.write_verify_tolerances_uS]
        ],
        "time": time,
        "inverse static": [
            inverse | {"sigma_uS": s, "stuck_at_gmax": f / 2, "stuck_at_gmin": f / 2}
            for s in cfg.inverse.sigmas_uS
            for f in cfg.inverse_stuck_fractions
        ],
        "inverse periphery": [
            inverse | {"sigma_uS": s, "read_noise": r, "adc_bits": a, "periphery": "calibrated"}
            for s in cfg.inverse_step.sigmas_uS
            for r in cfg.inverse_read_noises
            for a in cfg.inverse_converter_bits
        ],
    }


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
