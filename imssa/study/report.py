"""The reproduction report: one row per claim of the paper and per open question, built from the
chapters' results CSVs (``results/<profile>/<chapter>/``), never typed.

Each ``Claim`` names the chapter and tables it reads, the **kind of test** that decides it and
whether our setting matches the paper's, and a rule that turns the tables into our figure, its
interval and a verdict with a one-line reason. The kinds (``TESTS``):

* ``agreement``: our interval against the paper's figure;
* ``superiority``: a paired difference a - b whose interval's lower end must be above 0;
* ``non-inferiority``: a paired difference whose lower end must be above -tolerance;
* ``noise``: the deployment chapter's paired drop against a threshold (tolerates / suffers);
* ``exactness``: a computed identity of the mapping;
* ``open``: an open question.

Every decision is the book's one rule (``stats.verdict``: the interval on one side of a threshold,
p <= 0.05 where a test is given); a claim's ``HOLDS`` / ``FAILS`` / ``NOT_RESOLVED`` is graded
for the report by ``grade``.

Vocabulary (``VERDICTS``): **reproduced** only where the setting matches the paper's (and the
claim says why it does); **consistent** where the result agrees with the claim on a different
task or array; **not consistent** where it disagrees on a different setting (**not reproduced**
on the same one); **not resolved** where the interval spans both outcomes; **explained** where
the claim fails here and most failed programmings in the claim's own cell share a cause that a
chapter demonstrates; **answered** for an open question whose result is resolved, else **open**
with what we found; **not run** where a table is missing. The paper's figures come from
``imssa.study.paper`` and are only shown beside ours.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from ..stats.verdicts import (
    ABOVE,
    BELOW,
    FAILS,
    HOLDS,
    NOT_RESOLVED,
    Rule,
    contrast_phrase,
    verdict,
)
from .claims import (
    ALL_NON_IDEALITIES,
    DEFAULT_ARRAY_LABEL,
    NOT_IN_SWEEP,
    PAPER_NOISE_CLAIMS,
    NoiseClaim,
    claim_rule,
)
from .memory_programming import held_up_to
from .paper import PAPER
from .periphery_designs import BEST
from .results import project_root, provenance, read_table, version_flag
from .runs import comparison_label, qat_label
from .state_memory import ABOVE_CHANCE, AT_CHANCE, NEAR_CHANCE, chance_state

__all__ = [
    "CLAIMS",
    "Claim",
    "Finding",
    "REPORT_COLUMNS",
    "TESTS",
    "VERDICTS",
    "claims_markdown",
    "difference_rule",
    "grade",
    "report_table",
    "sources_markdown",
]

REPORT_COLUMNS = [
    "kind",
    "claim",
    "paper",
    "test",
    "ours",
    "ci_low",
    "ci_high",
    "verdict",
    "reason",
    "params",
    "csv",
    "version",
]

Test = Literal["agreement", "superiority", "non-inferiority", "noise", "exactness", "open"]
TESTS: tuple[str, ...] = Test.__args__  # type: ignore[attr-defined]
VERDICTS = (
    "reproduced",
    "consistent",
    "not consistent",
    "not reproduced",
    "not resolved",
    "explained",
    "answered",
    "open",
    "not run",
)


def _agrees(agrees: bool, same_setting: bool) -> str:
    """The word for a result that agrees (or not) with a claim, on the paper's setting or another."""
    if same_setting:
        return "reproduced" if agrees else "not reproduced"
    return "consistent" if agrees else "not consistent"


def grade(word: str, same_setting: bool) -> str:
    """The report's word for a claim's ``stats.verdict`` (``HOLDS``, ``FAILS`` or ``NOT_RESOLVED``),
    on the paper's setting (reproduced / not reproduced) or another (consistent / not consistent)."""
    if word == NOT_RESOLVED:
        return NOT_RESOLVED
    if word not in (HOLDS, FAILS):
        raise ValueError(
            f"a claim's verdict is {HOLDS!r}, {FAILS!r} or {NOT_RESOLVED!r}, not {word!r}"
        )
    return _agrees(word == HOLDS, same_setting)


def difference_rule(test: str, tolerance: float) -> Rule:
    """The ``stats.Rule`` of a paired difference a - b (points): ``superiority`` (a better than b:
    the interval above 0) or ``non-inferiority`` (a no worse than b by more than ``tolerance``: the
    interval above -tolerance)."""
    bound = {"superiority": 0.0, "non-inferiority": -tolerance}.get(test)
    if bound is None:
        raise ValueError(
            f"a difference is judged by 'superiority' or 'non-inferiority', not {test!r}"
        )
    return Rule(bound, holds=ABOVE)


def _judged(c: Claim, ci_low: float, ci_high: float, tolerance: float) -> str:
    """The report's word for the difference interval of claim ``c`` (``difference_rule``, ``grade``)."""
    return grade(verdict(ci_low, ci_high, None, difference_rule(c.test, tolerance)), c.same_setting)


class Finding(NamedTuple):
    """What a rule reads from a table: our figure (text), its interval (NaN if none), verdict, reason."""

    ours: str
    ci_low: float
    ci_high: float
    verdict: str
    reason: str


class Claim(NamedTuple):
    """A claim of the paper ('claim'), our own check ('check') or an open question ('open
    question'): the chapter and tables (CSV names) it is judged on, its kind of ``test``, whether
    our setting matches the paper's (``same_setting``, with the reason in ``setting``), and the
    rule ``(tables, tolerance_points, claim) -> Finding``."""

    kind: str
    claim: str
    paper: str
    chapter: str
    tables: tuple[str, ...]
    test: Test
    same_setting: bool
    setting: str
    rule: Callable[[dict[str, pd.DataFrame], float, Claim], Finding]


#: Chance on the two-class tasks the report reads (accuracy, fraction).
_TWO_CLASSES_CHANCE = 0.5


def _paper(name: str) -> float:
    return PAPER[name][0]


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _agreement(
    table: str,
    index: str,
    label: str,
    columns: tuple[str, str, str],
    paper_name: str,
    what: Callable[[pd.Series], str],
) -> Callable[[dict[str, pd.DataFrame], float, Claim], Finding]:
    """Our accuracy (row ``label`` of ``table`` indexed by ``index``; ``columns`` = estimate, low,
    high) against the paper's figure: in our interval or not (``_agrees``)."""

    def rule(t: dict[str, pd.DataFrame], tol: float, c: Claim) -> Finding:
        row = t[table].set_index(index).loc[label]
        est, lo, hi = (float(row[k]) for k in columns)
        ref = _paper(paper_name)
        inside = bool(lo <= ref <= hi)
        return Finding(
            _pct(est),
            lo,
            hi,
            _agrees(inside, c.same_setting),
            f"the paper's {_pct(ref)} lies {'inside' if inside else 'outside'} our interval; "
            f"{what(row)}; {c.setting}",
        )

    return rule


#: Failure causes the book demonstrates as mechanisms, and where.
_MECHANISMS = {
    "unstable": "noise pushing a pole past the unit circle (chapter 'The stability margin')",
    "saturated": "a converter clipping the state (chapter 'Deployment under hardware noise')",
}


def _noise_claim(claim: NoiseClaim) -> Callable[[dict[str, pd.DataFrame], float, Claim], Finding]:
    """The noise ``claim`` (one of ``claims.PAPER_NOISE_CLAIMS``, found by its text in the deployment
    chapter's ``claims.csv``) on the default array
    (``claims.DEFAULT_ARRAY_LABEL``, by name): the paired drop from the unprogrammed model with its
    interval. A claim that fails where most failed programmings *of the claim's own cell* (array,
    bits, sigma; ``failure_causes.csv``: one row per cell and cause with the count ``failed``) share
    one demonstrated cause is 'explained' by it."""

    def rule(t: dict[str, pd.DataFrame], tol: float, c: Claim) -> Finding:
        claims = t["claims"]
        mine = claims[(claims["array"] == DEFAULT_ARRAY_LABEL) & (claims["text"] == claim.text)]
        if mine.empty:
            return Finding(
                "",
                np.nan,
                np.nan,
                "not run",
                f"the sweep has no row for the default array '{DEFAULT_ARRAY_LABEL}'",
            )
        row = mine.iloc[0]
        if row["verdict"] == NOT_IN_SWEEP:
            return Finding(
                "",
                np.nan,
                np.nan,
                "not run",
                f"the deployment sweep of this profile: {row['verdict']}",
            )
        reason = (
            f"drop {row['drop (points)']:.1f} points from sigma = 0 against the claim's "
            f"{row['threshold_points']:g}; {_pct(row['failure share'])} of programmings at chance; "
            f"array: {DEFAULT_ARRAY_LABEL}; {c.setting}"
        )
        word = grade(row["verdict"], c.same_setting)
        causes = t["failure_causes"]
        cell = causes[
            (causes["array"] == DEFAULT_ARRAY_LABEL)
            & (causes["bits"] == row["bits"])
            & np.isclose(causes["sigma_uS"], row["sigma_uS"])
        ]
        if row["verdict"] == FAILS and len(cell):
            counts = cell.set_index("failure")["failed"]
            reason += "; failed programmings in this cell by cause: " + ", ".join(
                f"{k} {int(v)}" for k, v in counts.items()
            )
            top = counts.idxmax() if counts.sum() > 0 else ""
            if top in _MECHANISMS and counts.max() >= counts.sum() / 2:
                word, reason = "explained", reason + f"; most are '{top}', {_MECHANISMS[top]}"
        if row["verdict"] == HOLDS and row["failure share"] >= 0.5:  # nothing was there to lose
            word = NOT_RESOLVED
            reason += "; most programmings are at chance, so a small drop shows nothing"
        return Finding(
            f"drop {row['drop (points)']:.1f} points",
            float(row["drop ci_low"]),
            float(row["drop ci_high"]),
            word,
            reason,
        )

    return rule


def _difference(
    a: str, b: str, what: str
) -> Callable[[dict[str, pd.DataFrame], float, Claim], Finding]:
    """a - b in points from a paired table (``stats.paired_table``), judged by the claim's test
    (``difference_rule``)."""

    def rule(t: dict[str, pd.DataFrame], tol: float, c: Claim) -> Finding:
        p = t["paired"]
        row = p[(p["a"] == a) & (p["b"] == b)].iloc[0]
        est, lo, hi = (float(row[k]) for k in ("difference_points", "ci_low", "ci_high"))
        word = _judged(c, lo, hi, tol)
        bound = "0" if c.test == "superiority" else f"-{tol:g}"
        alike = row.get("a_only", 1) == 0 and row.get("b_only", 1) == 0
        if alike:  # no clip tells the two apart: e.g. both at chance, a cause and not a verdict
            word = NOT_RESOLVED
        return Finding(
            f"{est:+.1f} points",
            lo,
            hi,
            word,
            f"{what}: {a} - {b}, paired on the same clips; {c.test}: the lower end must exceed "
            f"{bound} points"
            + (
                "; the two answer every clip alike (both at chance?), so the "
                "comparison decides nothing"
                if alike
                else ""
            )
            + f"; {c.setting}",
        )

    return rule


def _fixed_range(t: dict[str, pd.DataFrame], tol: float, c: Claim) -> Finding:
    table = t["cost_of_fixing"]
    d = table.assign(bits=table["a"].str.extract(r"(\d+)-bit")[0].astype(int)).sort_values("bits")
    words = [_judged(c, lo, hi, tol) for lo, hi in zip(d["ci_low"], d["ci_high"])]
    agree, disagree = _agrees(True, c.same_setting), _agrees(False, c.same_setting)
    word = (
        agree
        if all(v == agree for v in words)
        else disagree
        if any(v == disagree for v in words)
        else NOT_RESOLVED
    )
    two = d.iloc[0]
    per_bits = ", ".join(
        f"{b}-bit {e:+.1f} ({v})" for b, e, v in zip(d["bits"], d["difference_points"], words)
    )
    baseline = (
        f"; dynamic range with the {two['b_scale_rule']} scale rule" if "b_scale_rule" in d else ""
    )
    return Finding(
        f"{two['difference_points']:+.1f} points at {two['bits']} bits",
        float(two["ci_low"]),
        float(two["ci_high"]),
        word,
        f"fixed minus dynamic range, paired, in points: {per_bits}; non-inferiority at every width "
        f"(lower end above -{tol:g}){baseline}; {c.setting}",
    )


def _one_array(t: dict[str, pd.DataFrame], tol: float, c: Claim) -> Finding:
    err = float(t["exactness"]["relative error vs digital"].max())
    lay = dict(zip(t["layout"]["quantity"], t["layout"]["value"]))
    per_block = int(lay["arrays per block"]) if int(lay["blocks per array"]) == 0 else 1
    exact = err < 1e-5
    # exact but larger than one array: the book's N is not the paper's size, so the 'one array' part
    # fails on a setting of our own
    verdict = ("reproduced" if per_block == 1 else "not consistent") if exact else "not reproduced"
    return Finding(
        f"relative error {err:.1e}",
        np.nan,
        np.nan,
        verdict,
        f"one VMM of [[A_bar, B_bar], [C, 0]] per step gives state and readout "
        f"{'exactly' if exact else 'inexactly'}; a channel's {lay['block (rows x cols)']} block takes "
        f"{per_block} {lay['array (rows x cols)']} array{'s' if per_block > 1 else ''} at the book's N"
        + ("" if per_block == 1 else ", so 'one array' holds per kernel only for a smaller N")
        + f"; {c.setting}",
    )


def _technologies(t: dict[str, pd.DataFrame], tol: float, c: Claim) -> Finding:
    s = t["technology_summary"]
    two = s[(s["bits"] == 2) & (s["technology"] != "ideal")].sort_values("drop_points")
    chance = (
        two[two["failure_share"] >= 0.5]["technology"].tolist() if "failure_share" in two else []
    )
    two = two[~two["technology"].isin(chance)]  # no drop from a model at chance shows a tolerance
    words = [
        verdict(lo, hi, None, claim_rule("tolerates", tol))
        for lo, hi in zip(two["drop_ci_low"], two["drop_ci_high"])
    ]
    keep = [t for t, w in zip(two["technology"], words) if w == HOLDS]
    lose = [t for t, w in zip(two["technology"], words) if w == FAILS]
    open_ = [
        f"{r.technology} ({r.drop_points:.1f} [{r.drop_ci_low:.1f}, {r.drop_ci_high:.1f}])"
        for r in two.itertuples()
        if r.technology not in keep + lose
    ]
    answer = "answered" if not open_ and not chance else "open"
    return Finding(
        f"{len(keep)} of {len(two) + len(chance)} presets keep 2-bit accuracy",
        np.nan,
        np.nan,
        answer,
        f"drop within {tol:g} points (whole interval): {', '.join(keep) or 'none'}; beyond it: "
        f"{', '.join(lose) or 'none'}; not resolved (drop in points): {', '.join(open_) or 'none'}"
        + (
            f"; most programmings at chance, so no tolerance is shown: {', '.join(chance)}"
            if chance
            else ""
        ),
    )


def _strategy(t: dict[str, pd.DataFrame], tol: float, c: Claim) -> Finding:
    n = t["nested_recommendation"]
    top = n["choice"].value_counts()
    gap = t["gap"].iloc[0]
    resolved = verdict(gap["recovered_ci_low"], gap["recovered_ci_high"]) == ABOVE
    return Finding(
        f"{top.index[0]} ({top.iloc[0]} of {len(n)} folds)",
        float(gap["recovered_ci_low"]),
        float(gap["recovered_ci_high"]),
        "answered" if resolved else "open",
        f"chosen on validation speakers, nested per fold, test accuracy {n['accuracy'].mean():.3f}; at "
        f"sigma = {gap['sigma_uS']:g} uS it recovers {gap['recovered_points']:.1f} "
        f"[{gap['recovered_ci_low']:.1f}, {gap['recovered_ci_high']:.1f}] of plain QAT's "
        f"{gap['gap_points']:.1f}-point gap"
        + ("" if resolved else "; the recovery is not resolved"),
    )


def _depth_scale(t: dict[str, pd.DataFrame], tol: float, c: Claim) -> Finding:
    d = t["depth_contrasts"]
    sigma = d["sigma_uS"].max() if (d["sigma_uS"] == 15.0).sum() == 0 else 15.0
    deep = d[d["sigma_uS"] == sigma].sort_values("a").iloc[-1]
    r = t["real_vs_complex_contrasts"]
    rc = "; ".join(
        f"real - complex on {x.task} at {x.sigma_uS:g} uS {x.difference_points:+.1f} "
        f"[{x.ci_low:+.1f}, {x.ci_high:+.1f}]"
        for x in r[r["sigma_uS"] == sigma].itertuples()
    )
    ten = t["ten_digits"]
    best = ten[(ten["depth_role"] == "best depth")]
    fl = best[best["model"] == "float"]["accuracy"].mean()
    q = (
        best[(best["model"] != "float") & (best["sigma_uS"] == sigma)]
        .groupby("model")["accuracy"]
        .mean()
    )
    resolved = deep["verdict"] != NOT_RESOLVED
    return Finding(
        f"depth {deep['a']} - depth 1 at {sigma:g} uS: {deep['difference_points']:+.1f} points",
        float(deep["ci_low"]),
        float(deep["ci_high"]),
        "answered" if resolved else "open",
        f"{contrast_phrase('depth ' + str(deep['a']), 'depth 1', deep['verdict'])}; "
        f"ten digits at the best depth: float {fl:.3f}, "
        + ", ".join(f"{m} {v:.3f}" for m, v in q.items())
        + f" at {sigma:g} uS; {rc}",
    )


def _needs_state(t: dict[str, pd.DataFrame], tol: float, c: Claim) -> Finding:
    v = t["state_verdict"].iloc[0]
    controls = t["state_controls"]
    best = controls.loc[controls["control_minus_s4d_points"].idxmax()]
    word = {
        "needs a state": _agrees(True, c.same_setting),
        "does not need a state": _agrees(False, c.same_setting),
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


def _keeps_memory(t: dict[str, pd.DataFrame], tol: float, c: Claim) -> Finding:
    v = t["memory_verdict"].iloc[0]
    s = t["memory_summary"].set_index("model")
    name = v["paper_model"]
    row = s.loc[name]
    word = {ABOVE_CHANCE: _agrees(True, c.same_setting), AT_CHANCE: _agrees(False, c.same_setting)}
    kept = v["kept"] if isinstance(v["kept"], str) and v["kept"] else "none"
    return Finding(
        f"{_pct(row['estimate'])} ({name})",
        100 * float(row["ci_low"]),
        100 * float(row["ci_high"]),
        word.get(v["paper_state"], NOT_RESOLVED),
        f"the paper's method on a task that needs memory is {v['paper_state']}; the float S4D model is "
        f"{v['float_state']}; quantized designs above chance: {kept}; {c.setting}",
    )


def _memory_noise(t: dict[str, pd.DataFrame], tol: float, c: Claim) -> Finding:
    a = t["memory_noise_answer"].iloc[0]
    s = t["memory_noise_summary"]
    top = s[s["sigma_uS"] == a["sigma_uS"]]
    decided = all(
        chance_state(lo, hi, _TWO_CLASSES_CHANCE) != NOT_RESOLVED
        for lo, hi in zip(top["ci_low"], top["ci_high"])
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


def _designs_keep_memory(t: dict[str, pd.DataFrame], tol: float, c: Claim) -> Finding:
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
        chance_state(lo, hi, _TWO_CLASSES_CHANCE)
        for lo, hi in zip(chosen["ci_low"], chosen["ci_high"])
    ]
    word = (
        _agrees(True, c.same_setting)
        if ABOVE_CHANCE in states
        else (
            _agrees(False, c.same_setting) if all(x == AT_CHANCE for x in states) else NOT_RESOLVED
        )
    )
    each = "; ".join(
        f"{x.front_end}: {_pct(x.estimate)} [{_pct(x.ci_low)}, {_pct(x.ci_high)}] with A_bar at "
        f"{bits.get(x.front_end, '?')} bits"
        for x in chosen.itertuples()
    )
    return Finding(
        f"{_pct(best['estimate'])} ({best['front_end']})",
        100 * float(best["ci_low"]),
        100 * float(best["ci_high"]),
        word,
        f"fixed range 1 with the pole cap 0.999, B_bar and C at 8 bits, QAT fine-tuned from the float model, "
        f"A_bar at the fewest bits within 2 points of the float model on validation: {each}; {c.setting}",
    )


def _programmed_memory(t: dict[str, pd.DataFrame], tol: float, c: Claim) -> Finding:
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


def _periphery_headline(t: dict[str, pd.DataFrame], tol: float, c: Claim) -> Finding:
    """The periphery chapter's headline contrast (per-column converters with offsets corrected
    minus one range per layer, points, paired), judged as a superiority test."""
    row = t["headline"].iloc[0]
    lo, hi = float(row["ci_low"]), float(row["ci_high"])
    return Finding(
        f"{float(row['difference_points']):+.1f} points",
        lo,
        hi,
        _judged(c, lo, hi, tol),
        f"{row['a']} - {row['b']}, paired on {int(row['programmings'])} programmings over "
        f"{int(row['folds'])} held-out speakers; superiority: the lower end must exceed 0; {c.setting}",
    )


_FSDD = "our task is FSDD zero/one with speakers held out, not the paper's Heidelberg Digits"
_ARRAY = (
    "our array is emulated (programming noise, stuck devices, read noise and converters with assumed "
    "parameters), not the paper's chip"
)

CLAIMS: list[Claim] = [
    Claim(
        "claim",
        "2-bit model, software accuracy",
        "95.06%",
        "fixed_range_qat",
        ("qat_summary",),
        "agreement",
        False,
        _FSDD,
        _agreement(
            "qat_summary",
            "label",
            qat_label(2, "fixed"),
            ("estimate", "ci_low", "ci_high"),
            "software_2bit_accuracy",
            lambda r: (
                f"{int(r['folds'])} held-out speakers x {int(r['runs']) // int(r['folds'])} seeds"
            ),
        ),
    ),
    Claim(
        "claim",
        "2-bit model, hardware accuracy",
        "81.69%",
        "hardware_deployment",
        ("emulation_summary",),
        "agreement",
        False,
        f"{_FSDD}; {_ARRAY}",
        _agreement(
            "emulation_summary",
            "variant",
            ALL_NON_IDEALITIES,
            ("mean", "ci_low", "ci_high"),
            "hardware_2bit_accuracy",
            lambda r: (
                f"{int(r['programmings'])} programmings over {int(r['folds'])} held-out speakers"
            ),
        ),
    ),
    Claim(
        "claim",
        "2-bit model, hardware accuracy, with per-column converters and offsets corrected",
        "81.69%",
        "periphery",
        ("design_summary",),
        "agreement",
        False,
        f"{_FSDD}; {_ARRAY}",
        _agreement(
            "design_summary",
            "variant",
            BEST,
            ("mean", "ci_low", "ci_high"),
            "hardware_2bit_accuracy",
            lambda r: (
                f"{int(r['programmings'])} programmings over {int(r['folds'])} held-out speakers"
            ),
        ),
    ),
    Claim(
        "check",
        "the emulated gap depends on the converter design: per column against one range per layer",
        "(implicit)",
        "periphery",
        ("headline",),
        "superiority",
        False,
        _ARRAY,
        _periphery_headline,
    ),
    Claim(
        "claim",
        "the 2-bit model tolerates programming noise sigma = 15 uS",
        "15 uS",
        "hardware_deployment",
        ("claims", "failure_causes"),
        "noise",
        False,
        _ARRAY,
        _noise_claim(PAPER_NOISE_CLAIMS[0]),
    ),
    Claim(
        "claim",
        "the 5-bit model degrades already at sigma = 5 uS",
        "5 uS",
        "hardware_deployment",
        ("claims", "failure_causes"),
        "noise",
        False,
        _ARRAY,
        _noise_claim(PAPER_NOISE_CLAIMS[1]),
    ),
    Claim(
        "claim",
        "ternary (2-bit) weights suffice",
        "95.06% at 2 bits",
        "float_baseline",
        ("paired",),
        "non-inferiority",
        False,
        _FSDD,
        _difference(comparison_label(2), comparison_label(), "ternary against float"),
    ),
    Claim(
        "claim",
        "the fixed range costs little accuracy",
        "(qualitative)",
        "fixed_range_qat",
        ("cost_of_fixing",),
        "non-inferiority",
        False,
        _FSDD,
        _fixed_range,
    ),
    Claim(
        "claim",
        "one array computes the whole kernel: state update and readout in one VMM",
        "(qualitative)",
        "crossbar_mapping",
        ("exactness", "layout"),
        "exactness",
        True,
        "the mapping [[A_bar, B_bar], [C, 0]] is the paper's, and its exactness does not depend on the data",
        _one_array,
    ),
    Claim(
        "check",
        "the recurrence carries the task (control, implicit in the paper)",
        "(implicit)",
        "float_baseline",
        ("paired",),
        "superiority",
        False,
        _FSDD,
        _difference(
            comparison_label(),
            comparison_label(control="memoryless"),
            "float S4D against A_bar = 0",
        ),
    ),
    Claim(
        "check",
        "the main task needs a state (controls: learned FIR banks, a log-mel baseline)",
        "(implicit)",
        "state_memory",
        ("state_verdict", "state_controls"),
        "superiority",
        False,
        _FSDD,
        _needs_state,
    ),
    Claim(
        "check",
        "the paper's fixed-range QAT (its range and cap, A_bar at most 8 bits, 2000 steps/s, fine-tuned) "
        "keeps the memory a state-space model exists for",
        "(implicit)",
        "state_memory",
        ("memory_verdict", "memory_summary"),
        "superiority",
        False,
        "our memory task (two FSDD words of one speaker in either order, speakers held out) is ours, not the "
        "paper's",
        _keeps_memory,
    ),
    Claim(
        "check",
        "fixed-range QAT keeps the memory with the range and cap at the circle and enough bits of A_bar "
        "for its step rate",
        "(implicit)",
        "memory_programming",
        ("step_rates", "bits_needed"),
        "superiority",
        False,
        "our memory task is ours, not the paper's; the step rates below 2000/s use a log-mel front end",
        _designs_keep_memory,
    ),
    Claim(
        "open question",
        "how much memory does a programmed array keep under programming noise? (the paper's "
        "method)",
        "(open)",
        "state_memory",
        ("memory_noise_answer", "memory_noise_summary"),
        "open",
        False,
        _ARRAY,
        _memory_noise,
    ),
    Claim(
        "open question",
        "which design keeps the memory under programming noise, at write-verified levels "
        "(0.5-4.5 uS) and at 15 uS?",
        "(open)",
        "memory_programming",
        ("planned", "sigma_star"),
        "open",
        False,
        _ARRAY,
        _programmed_memory,
    ),
    Claim(
        "open question",
        "which device technologies suit the method?",
        "(open)",
        "device_technologies",
        ("technology_summary",),
        "open",
        False,
        _ARRAY,
        _technologies,
    ),
    Claim(
        "open question",
        "the optimal quantization strategy for accuracy and hardware efficiency",
        "(open)",
        "quantization_strategy",
        ("nested_recommendation", "gap"),
        "open",
        False,
        _ARRAY,
        _strategy,
    ),
    Claim(
        "open question",
        "how does the method scale: depth, state size, more classes, real coefficients?",
        "(open)",
        "depth_scale",
        ("depth_contrasts", "ten_digits", "real_vs_complex_contrasts"),
        "open",
        False,
        _ARRAY,
        _depth_scale,
    ),
]


def report_table(
    profile: str, tolerance_points: float = 2.0, claims: list[Claim] | None = None
) -> pd.DataFrame:
    """One row per claim and open question (``CLAIMS``), judged on ``profile``'s results: columns
    ``REPORT_COLUMNS`` (``params``: the parameter files the figure comes from; ``csv``: the tables;
    ``version``: 'current (<revisions>)' when every table was written by the current library,
    else which version wrote them, ``results.version_flag``).
    ``tolerance_points``: the accuracy loss, in points, that still counts as 'little'."""
    if tolerance_points < 0:
        raise ValueError(f"tolerance_points must be >= 0, got {tolerance_points}")
    rows: list[dict[str, Any]] = []
    for c in claims or CLAIMS:
        tables = {name: read_table(profile, c.chapter, name) for name in c.tables}
        csv = ", ".join(f"results/{profile}/{c.chapter}/{n}.csv" for n in c.tables)
        params = f"params/{profile}/{c.chapter}.yaml"
        if (project_root() / "params" / profile / "_shared.yaml").is_file():
            params += f" (over params/{profile}/_shared.yaml)"
        missing = [n for n, t in tables.items() if t is None]
        if missing:
            f = Finding(
                "",
                np.nan,
                np.nan,
                "not run",
                f"missing {', '.join(missing)}: execute chapter {c.chapter}",
            )
            version = ""
        else:
            try:
                f = c.rule(tables, tolerance_points, c)  # type: ignore[arg-type]
            except (KeyError, IndexError) as err:  # a profile whose sweep lacks the claim's row
                f = Finding(
                    "", np.nan, np.nan, "not run", f"no row for this claim in the tables ({err!r})"
                )
            flags = "; ".join(dict.fromkeys(v for v in map(version_flag, tables.values()) if v))  # type: ignore[arg-type]
            revisions = ", ".join(
                dict.fromkeys(
                    r[:12]
                    for t in tables.values()  # type: ignore[union-attr]
                    for r in provenance(t).get("code_revision", ())
                )
            )
            version = flags or f"current ({revisions})"
        rows.append(
            {
                "kind": c.kind,
                "claim": c.claim,
                "paper": c.paper,
                "test": c.test,
                **f._asdict(),
                "params": params,
                "csv": csv,
                "version": version,
            }
        )
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


def _interval_text(r: Any) -> str:
    return "" if pd.isna(r.ci_low) else f"[{r.ci_low:.3g}, {r.ci_high:.3g}]"


def claims_markdown(table: pd.DataFrame, kinds: list[str]) -> str:
    """The rows of ``report_table``'s ``table`` whose ``kind`` is in ``kinds``, as a Markdown table:
    claim, paper, test, ours, interval, verdict (bold), why."""
    lines = [
        "| claim | paper | test | ours | interval | verdict | why |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.claim} | {r.paper} | {r.test} | {r.ours} | {_interval_text(r)} | **{r.verdict}** | {r.reason} |"
        for r in table[table["kind"].isin(kinds)].itertuples()
    ]
    return "\n".join(lines)


def sources_markdown(table: pd.DataFrame) -> str:
    """Where each row of ``report_table``'s ``table`` comes from, as a Markdown table: the claim,
    its parameter files, its results tables (one per line) and the version that wrote them."""
    lines = ["| claim | parameters | tables | version |", "|---|---|---|---|"]
    lines += [
        f"| {r.claim} | `{r.params}` | "
        + "<br>".join(f"`{c}`" for c in r.csv.split(", "))
        + f" | {r.version} |"
        for r in table.itertuples()
    ]
    return "\n".join(lines)
