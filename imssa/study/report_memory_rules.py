"""The rules of the report's rows on memory and the periphery: whether the task needs a state,
whether a deployed model keeps its memory under noise, which periphery designs keep it, the
programmed memory and the periphery chapter's headline; each a function
``(tables, tolerance_points, claim) -> Finding`` (``report_grades.Claim.rule``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..stats.verdicts import BELOW, NOT_RESOLVED, Rule, verdict
from .memory_answers import held_up_to
from .report_grades import (
    TWO_CLASSES_CHANCE,
    Claim,
    Finding,
    agreement_grade,
    difference_grade,
    percent,
)
from .state_memory import ABOVE_CHANCE, AT_CHANCE, NEAR_CHANCE, chance_state

__all__ = [
    "designs_keep_memory_rule",
    "keeps_memory_rule",
    "memory_noise_rule",
    "needs_state_rule",
    "periphery_headline_rule",
    "programmed_memory_rule",
]


def needs_state_rule(t: dict[str, pd.DataFrame], tol: float, c: Claim) -> Finding:
    v = t["state_verdict"].iloc[0]
    controls = t["state_controls"]
    best = controls.loc[controls["control_minus_s4d_points"].idxmax()]
    word = {
        "needs a state": agreement_grade(True, c.same_setting),
        "does not need a state": agreement_grade(False, c.same_setting),
    }
    return Finding(
        f"{best['control_minus_s4d_points']:+.1f} points: {best['control']} - float S4D",
        float(best["simultaneous_low"]),
        float(best["simultaneous_high"]),
        word.get(v["verdict"], NOT_RESOLVED),
        f"the best control without a state against the float S4D model, paired, simultaneous "
        f"{best['level']:.1%} interval over {len(controls)} controls; {v['verdict']}"
        + (
            f" ({v['shortest_rival']} matches or beats it)"
            if v["verdict"] == "does not need a state"
            else ""
        )
        + f"; {c.setting}",
    )


def keeps_memory_rule(t: dict[str, pd.DataFrame], tol: float, c: Claim) -> Finding:
    v = t["memory_verdict"].iloc[0]
    s = t["memory_summary"].set_index("model")
    name = v["paper_model"]
    row = s.loc[name]
    word = {
        ABOVE_CHANCE: agreement_grade(True, c.same_setting),
        AT_CHANCE: agreement_grade(False, c.same_setting),
    }
    kept = v["kept"] if isinstance(v["kept"], str) and v["kept"] else "none"
    return Finding(
        f"{percent(row['estimate'])} ({name})",
        100 * float(row["ci_low"]),
        100 * float(row["ci_high"]),
        word.get(v["paper_state"], NOT_RESOLVED),
        f"the paper's method on a task that needs memory is {v['paper_state']}; the float S4D "
        f"model is {v['float_state']}; quantized designs above chance: {kept}; {c.setting}",
    )


def memory_noise_rule(t: dict[str, pd.DataFrame], tol: float, c: Claim) -> Finding:
    a = t["memory_noise_answer"].iloc[0]
    s = t["memory_noise_summary"]
    top = s[s["sigma_uS"] == a["sigma_uS"]]
    decided = all(
        chance_state(lo, hi, TWO_CLASSES_CHANCE) != NOT_RESOLVED
        for lo, hi in zip(top["ci_low"], top["ci_high"], strict=True)
    )
    above = (
        a["above_chance"] if isinstance(a["above_chance"], str) and a["above_chance"] else "none"
    )
    return Finding(
        f"longest memory (ms) by sigma (uS), theory: {a['theory_ms']}",
        np.nan,
        np.nan,
        "answered" if decided else "open",
        f"above chance on the memory task at {a['sigma_uS']:g} uS: {above}"
        + ("" if decided else "; some intervals span chance")
        + f"; {c.setting}",
    )


def designs_keep_memory_rule(t: dict[str, pd.DataFrame], tol: float, c: Claim) -> Finding:
    """Chapter 'Memory that survives programming': the design chosen on validation at each front
    end (fixed range 1, cap at the circle, fine-tuned QAT) on the memory task, against chance;
    shown for the front end where its interval's lower end is highest."""
    r = t["step_rates"]
    chosen = r[(r["task"] == "order") & (r["model"] == "chosen design")]
    bits = (
        t["bits_needed"]
        .groupby("front_end")["bits_A"]
        .agg(lambda b: "/".join(str(int(x)) for x in sorted(set(b))))
    )
    best = chosen.loc[chosen["ci_low"].idxmax()]
    states = [
        chance_state(lo, hi, TWO_CLASSES_CHANCE)
        for lo, hi in zip(chosen["ci_low"], chosen["ci_high"], strict=True)
    ]
    word = (
        agreement_grade(True, c.same_setting)
        if ABOVE_CHANCE in states
        else (
            agreement_grade(False, c.same_setting)
            if all(x == AT_CHANCE for x in states)
            else NOT_RESOLVED
        )
    )
    each = "; ".join(
        f"{x.front_end}: {percent(x.estimate)} [{percent(x.ci_low)}, {percent(x.ci_high)}] with "
        f"A_bar at {bits.get(x.front_end, '?')} bits"
        for x in chosen.itertuples()
    )
    return Finding(
        f"{percent(best['estimate'])} ({best['front_end']})",
        100 * float(best["ci_low"]),
        100 * float(best["ci_high"]),
        word,
        "fixed range 1 with the pole cap 0.999, B_bar and C at 8 bits, QAT fine-tuned from the "
        "float model, A_bar at the fewest bits within 2 points of the float model on validation: "
        f"{each}; {c.setting}",
    )


def programmed_memory_rule(t: dict[str, pd.DataFrame], tol: float, c: Claim) -> Finding:
    """Chapter 'Memory that survives programming': the memory task under programming noise at the
    levels write-verified devices reach and at the paper's, for each front end and placement of
    A_bar (first device count): above chance (Holm) or not."""
    fam = t["planned"]
    fam = fam[(fam["section"] == "noise") & (fam["b"] == "chance")]
    d0 = sorted(fam["devices_per_element"].unique())[-1]
    fam = fam[fam["devices_per_element"] == d0]
    parts, decided = [], True
    for (fe, placement), part in fam.groupby(["front_end", "placement"], sort=False):
        held = held_up_to(t["planned"], fe, placement, d0)
        top = part[part["sigma_uS"] == part["sigma_uS"].max()].iloc[0]
        decided &= bool(
            top["verdict"] != NOT_RESOLVED
            or verdict(top["ci_low"], top["ci_high"], None, Rule(100 * NEAR_CHANCE)) == BELOW
        )
        where = "on the array" if placement == "array" else "digital"
        parts.append(
            f"{fe}, A_bar {where}: "
            + (
                f"above chance at every sigma up to {held:g} uS"
                if held
                else "not shown above chance at the smallest sigma"
            )
        )
    stars = t["sigma_star"]
    star = "; ".join(
        f"{r.front_end} ({r.placement}): {r.sigma_star_uS:g} uS"
        for r in stars[stars["devices_per_element"] == d0].itertuples()
        if pd.notna(r.sigma_star_uS)
    )
    return Finding(
        f"sigma* {star}" if star else "no sigma*",
        np.nan,
        np.nan,
        "answered" if decided else "open",
        f"{int(d0)} devices per element; "
        + "; ".join(parts)
        + f" (Holm over the chapter's family); {c.setting}",
    )


def periphery_headline_rule(t: dict[str, pd.DataFrame], tol: float, c: Claim) -> Finding:
    """The periphery chapter's headline contrast (per-column converters with offsets corrected
    minus one range per layer, points, paired), judged as a superiority test."""
    row = t["headline"].iloc[0]
    lo, hi = float(row["ci_low"]), float(row["ci_high"])
    return Finding(
        f"{float(row['difference_points']):+.1f} points",
        lo,
        hi,
        difference_grade(c, lo, hi, tol),
        f"{row['a']} - {row['b']}, paired on {int(row['programmings'])} programmings over "
        f"{int(row['folds'])} held-out speakers; superiority: the lower end must exceed 0; "
        f"{c.setting}",
    )
