"""The periphery chapter's summaries, contrasts and conclusion: the rules that read designs' rows.

Per design, accuracy and the gap to software (``design_summary``); each design against the one it
changes (``periphery_designs.DESIGN_BASE``), paired on model and programming and Holm-corrected
as one family (``design_contrasts``); the headline ``BEST`` minus ``LAYER``
(``headline_contrast``); the check after programming (``check_summary``, ``paired_by_sigma``);
and the chapter's findings in words (``periphery_conclusion``).
"""

from __future__ import annotations

import pandas as pd

from ..hardware.cost import CostConstants
from ..hardware.devices import DeviceConfig
from ..stats.paired import holm_family
from ..stats.programmings import drops_from, paired_contrast, realisation_summary
from ..stats.verdicts import contrast_phrase, table_verdicts
from .params import PeripheryParams
from .periphery_designs import BEST, DESIGN_BASE, LAYER

__all__ = [
    "check_summary",
    "design_contrasts",
    "design_summary",
    "headline_contrast",
    "paired_by_sigma",
    "periphery_conclusion",
]


def design_summary(rows: pd.DataFrame, software: pd.DataFrame, n_test: int) -> pd.DataFrame:
    """Per design (``variant``): accuracy over folds (``realisation_summary``), the paired gap to
    the same model in software (points, interval over folds), the failure share and the failures by
    cause. ``software``: one row per model (``seed``, ``fold``, ``accuracy``)."""
    acc = realisation_summary(rows, ["variant"], n_test).set_index("variant")
    gaps = drops_from(rows, software, key=("seed", "fold"))
    gap = realisation_summary(
        gaps.assign(accuracy=gaps["drop_points"]), ["variant"], None
    ).set_index("variant")
    out = acc[["mean", "ci_low", "ci_high", "failure_share", "folds", "programmings"]].join(
        gap[["mean", "ci_low", "ci_high"]].rename(
            columns=lambda c: f"gap_{c}_points".replace("_mean", "")
        )
    )
    causes = (
        rows[rows["failure"] != ""]
        .groupby("variant")["failure"]
        .agg(lambda f: "; ".join(f"{k}: {v}" for k, v in f.value_counts().items()))
    )
    out["failures by cause"] = causes.reindex(out.index).fillna("")
    order = [d for d in DESIGN_BASE if d in out.index] + [
        d for d in out.index if d not in DESIGN_BASE
    ]
    return out.loc[order]


def design_contrasts(
    rows: pd.DataFrame, base: dict[str, str | None] | None = None, family: str = "periphery designs"
) -> pd.DataFrame:
    """Each design minus the design it changes (``DESIGN_BASE``), paired on model and programming
    (``stats.programmings.paired_contrast``): difference (points), t interval over folds, the t
    test's p and the exact sign-flip p (whose floor is 2 / 2^folds), Holm's adjustment of the t
    test's p over this family (``stats.paired.holm_family``, as every chapter: the t interval is the
    one whose coverage was checked at 3 and 6 folds), and its ``verdict``
    (``stats.verdicts.verdict``)."""
    base = DESIGN_BASE if base is None else base
    pairs = [(d, b) for d, b in base.items() if b is not None and {d, b} <= set(rows["variant"])]
    out = pd.concat(
        [
            paired_contrast(_common(rows, d, b).assign(all="all"), "variant", d, b, ["all"])
            for d, b in pairs
        ]
    )
    out = out.drop(columns="all").rename(columns={"a": "design", "b": "changed from"})
    return holm_family(out.reset_index(drop=True), family)


def _common(
    rows: pd.DataFrame, a: str, b: str, key: tuple[str, ...] = ("seed", "fold", "realisation")
) -> pd.DataFrame:
    """The rows of variants ``a`` and ``b`` on the programmings (``key``) both have: a design run on
    fewer models (converter-aware QAT: ``aware_seeds``) is compared on those models only."""
    part = rows[rows["variant"].isin([a, b])]
    both = part.groupby(list(key))["variant"].transform("nunique") == 2
    return part[both]


def headline_contrast(rows: pd.DataFrame) -> pd.DataFrame:
    """The chapter's headline: ``BEST`` minus ``LAYER`` (points), paired on model and programming,
    with its t interval over folds, the t test's and the exact sign-flip p: a family of one planned
    comparison, so no correction: its ``verdict`` reads the t test's p. The report reads it."""
    out = paired_contrast(rows.assign(all="all"), "variant", BEST, LAYER, ["all"]).drop(
        columns="all"
    )
    return out.assign(verdict=table_verdicts(out, p="p_t"))


def check_summary(
    rows: pd.DataFrame,
    n_test: int,
    cfg: PeripheryParams,
    seed: int,
    fold: int,
    c: CostConstants = CostConstants(),
) -> pd.DataFrame:
    """Per variant and sigma of the check's sweep: accuracy over folds and failure share
    (``realisation_summary``), and per programming the mean channel reprogrammings, channels still
    failing, pulses per device and the time programming takes: every pulse one after another at
    ``cfg.pulse_time_s`` (ASSUMPTION: one device at a time, an upper bound) plus, per round of the
    check, one impulse response of ``check_steps`` array reads of ``c.t_read_s`` (the channels in
    parallel)."""
    lay = cfg.shared.block_layout(cfg.shared.devices_per_element[0])
    steps = DeviceConfig().check_steps
    checked = rows["check_tolerance"].astype(str) != ""  # the rows of cells with the check
    rows = rows.assign(
        programming_time_s=rows["pulses_per_device"] * lay.devices * cfg.pulse_time_s
        + (rows["check_rounds"] + 1) * steps * c.t_read_s * checked
    )
    acc = realisation_summary(rows, ["variant", "sigma_uS"], n_test).set_index(
        ["variant", "sigma_uS"]
    )
    means = rows.groupby(["variant", "sigma_uS"])[
        ["channels_reprogrammed", "channels_failing", "pulses_per_device", "programming_time_s"]
    ].mean()
    return acc[["mean", "ci_low", "ci_high", "failure_share"]].join(means).reset_index()


def paired_by_sigma(rows: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """Variant ``a`` minus ``b`` per sigma > 0, paired on model and programming (points), with the
    t interval over folds, the t test's and the exact sign-flip p, Holm's p (of the t test) over the
    sigmas and its ``verdict``."""
    part = rows[rows["variant"].isin([a, b]) & (rows["sigma_uS"] > 0)]
    return holm_family(
        paired_contrast(part, "variant", a, b, ["sigma_uS"]), f"{a} against {b}, per sigma"
    )


def _span(mean: float, low: float, high: float) -> str:
    return f"{mean:.1f} [{low:.1f}, {high:.1f}]"


def periphery_conclusion(
    summary: pd.DataFrame,
    contrasts: pd.DataFrame,
    widths: pd.DataFrame,
    check: pd.DataFrame,
    wires: pd.DataFrame,
) -> pd.DataFrame:
    """The chapter's findings in words, each with the numbers it rests on (points; intervals over
    folds): the emulated gap to software with one range per layer and with the design ``BEST``; the
    changes of the ladder that are resolved after Holm; per-column ranges at every converter width;
    the check's effect on the failure share at the largest sigma; the largest effect of wire
    resistance."""
    rows = []
    for name in (LAYER, BEST):
        if name in summary.index:
            s = summary.loc[name]
            gap = _span(s["gap_points"], s["gap_ci_low_points"], s["gap_ci_high_points"])
            rows.append(
                {
                    "finding": f"gap to software, {name}",
                    "evidence": f"{gap} points; "
                    f"{100 * s['failure_share']:.0f}% of programmings failed",
                }
            )
    for r in contrasts.itertuples():
        rows.append(
            {
                "finding": contrast_phrase(r.design, r._2, r.verdict),
                "evidence": f"{_span(r.difference_points, r.ci_low, r.ci_high)} points, "
                f"Holm p {r.p_holm:.3g}",
            }
        )
    for r in widths.itertuples():
        rows.append(
            {
                "finding": contrast_phrase(r.design, "one range", r.verdict),
                "evidence": f"{_span(r.difference_points, r.ci_low, r.ci_high)} points, "
                f"Holm p {r.p_holm:.3g}",
            }
        )
    top = check["sigma_uS"].max()
    at = check[check["sigma_uS"] == top].set_index("variant")
    if {"as programmed", "checked"} <= set(at.index):
        rows.append(
            {
                "finding": f"the check after programming at sigma = {top:g} uS",
                "evidence": "failure share "
                f"{100 * at.loc['as programmed', 'failure_share']:.0f}% -> "
                f"{100 * at.loc['checked', 'failure_share']:.0f}%, "
                f"{at.loc['checked', 'channels_reprogrammed']:.1f} channel reprogrammings per "
                f"programming, {at.loc['checked', 'programming_time_s'] * 1e3:.1f} ms of "
                "programming",
            }
        )
    w = wires.iloc[wires["difference_points"].abs().argmax()]
    rows.append(
        {
            "finding": f"largest effect of wire resistance ({w['design']}): {w['verdict']}",
            "evidence": f"{_span(w['difference_points'], w['ci_low'], w['ci_high'])} points",
        }
    )
    return pd.DataFrame(rows)
