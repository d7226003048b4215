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

Every decision is the book's one rule (``stats.verdicts.verdict``: the interval on one side of a
threshold, p <= 0.05 where a test is given); a claim's ``HOLDS`` / ``FAILS`` / ``NOT_RESOLVED``
is graded for the report by ``report_grades.grade``.

Where each part lives: the vocabulary, ``Claim`` and ``Finding`` in ``report_grades``; the rules
that read the tables in ``report_rules`` (the paper's claims) and ``report_memory_rules`` (memory
and the periphery); here the list of claims (``CLAIMS``) and the table and its Markdown.

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

from typing import Any

import numpy as np
import pandas as pd

from .claims import PAPER_NOISE_CLAIMS
from .deployment_arrays import ALL_NON_IDEALITIES
from .periphery_designs import BEST
from .report_grades import Claim, Finding
from .report_memory_rules import (
    designs_keep_memory_rule,
    keeps_memory_rule,
    memory_noise_rule,
    needs_state_rule,
    periphery_headline_rule,
    programmed_memory_rule,
)
from .report_rules import (
    agreement_rule,
    depth_scale_rule,
    fixed_range_rule,
    noise_claim_rule,
    one_array_rule,
    paired_rule,
    strategy_rule,
    technologies_rule,
)
from .results import project_root, provenance, read_table, version_flag
from .runs import comparison_label, qat_label

__all__ = [
    "CLAIMS",
    "REPORT_COLUMNS",
    "claims_markdown",
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

_FSDD = "our task is FSDD zero/one with speakers held out, not the paper's Heidelberg Digits"
_ARRAY = (
    "our array is emulated (programming noise, stuck devices, read noise and converters with "
    "assumed parameters), not the paper's chip"
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
        agreement_rule(
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
        agreement_rule(
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
        agreement_rule(
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
        periphery_headline_rule,
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
        noise_claim_rule(PAPER_NOISE_CLAIMS[0]),
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
        noise_claim_rule(PAPER_NOISE_CLAIMS[1]),
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
        paired_rule(comparison_label(2), comparison_label(), "ternary against float"),
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
        fixed_range_rule,
    ),
    Claim(
        "claim",
        "one array computes the whole kernel: state update and readout in one VMM",
        "(qualitative)",
        "crossbar_mapping",
        ("exactness", "layout"),
        "exactness",
        True,
        "the mapping [[A_bar, B_bar], [C, 0]] is the paper's, and its exactness does not depend "
        "on the data",
        one_array_rule,
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
        paired_rule(
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
        needs_state_rule,
    ),
    Claim(
        "check",
        "the paper's fixed-range QAT (its range and cap, A_bar at most 8 bits, 2000 steps/s, "
        "fine-tuned) keeps the memory a state-space model exists for",
        "(implicit)",
        "state_memory",
        ("memory_verdict", "memory_summary"),
        "superiority",
        False,
        "our memory task (two FSDD words of one speaker in either order, speakers held out) is "
        "ours, not the paper's",
        keeps_memory_rule,
    ),
    Claim(
        "check",
        "fixed-range QAT keeps the memory with the range and cap at the circle and enough bits of "
        "A_bar for its step rate",
        "(implicit)",
        "memory_programming",
        ("step_rates", "bits_needed"),
        "superiority",
        False,
        "our memory task is ours, not the paper's; the step rates below 2000/s use a log-mel "
        "front end",
        designs_keep_memory_rule,
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
        memory_noise_rule,
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
        programmed_memory_rule,
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
        technologies_rule,
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
        strategy_rule,
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
        depth_scale_rule,
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
        f"| {r.claim} | {r.paper} | {r.test} | {r.ours} | {_interval_text(r)} | **{r.verdict}** | "
        f"{r.reason} |"
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
