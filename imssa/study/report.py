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
and the periphery); the list of claims (``CLAIMS``) in ``report_claims``; here the table and its
Markdown.

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

from .report_claims import CLAIMS
from .report_grades import Claim, Finding
from .results import project_root, provenance, read_table, version_flag

__all__ = [
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
