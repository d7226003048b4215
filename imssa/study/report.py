"""The reproduction report: one row per claim of the paper and per open question, built from the
chapters' results CSVs (``results/<profile>/<chapter>/``), never typed.

Each ``Claim`` names the chapter and table it reads and a rule that turns the table into our
figure, its interval and a verdict: 'reproduced', 'partly', 'not reproduced' or 'explained' (the
claim does not hold here and the book demonstrates why), with a one-line reason. Open questions
get 'answered' and our answer. A table that is missing gives 'not run' and names the chapter to
execute. The paper's figures come from ``imssa.study.paper`` and are only shown beside ours.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .paper import PAPER
from .results import project_root, results_dir

__all__ = ["CLAIMS", "Claim", "Finding", "REPORT_COLUMNS", "report_table"]

REPORT_COLUMNS = ["kind", "claim", "paper", "ours", "ci_low", "ci_high", "verdict", "reason", "params", "csv"]


class Finding(NamedTuple):
    """What a rule reads from a table: our figure (text), its interval (NaN if none), verdict, reason."""

    ours: str
    ci_low: float
    ci_high: float
    verdict: str
    reason: str


class Claim(NamedTuple):
    """A claim of the paper ('claim') or one of its open questions ('open question'): the chapter and
    tables (CSV names) it is judged on, and the rule ``(tables, tolerance_points) -> Finding``."""

    kind: str
    claim: str
    paper: str
    chapter: str
    tables: tuple[str, ...]
    rule: Callable[[dict[str, pd.DataFrame], float], Finding]


def _within(value: float, low: float, high: float) -> bool:
    return bool(low <= value <= high)


def _paper(name: str) -> float:
    return PAPER[name][0]


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _accuracy_claim(paper_name: str, what: str) -> Callable[[pd.Series], Finding]:
    """Our accuracy with its interval against the paper's figure: reproduced if the figure lies in it."""
    def rule(row: pd.Series, context: str) -> Finding:
        est, lo, hi, ref = float(row.iloc[0]), float(row.iloc[1]), float(row.iloc[2]), _paper(paper_name)
        inside = _within(ref, lo, hi)
        return Finding(_pct(est), lo, hi, "reproduced" if inside else "not reproduced",
                       f"the paper's {_pct(ref)} lies {'inside' if inside else 'outside'} our interval; {what}; {context}")
    return rule


def _software(t: dict[str, pd.DataFrame], tol: float) -> Finding:
    s = t["qat_summary"].set_index("label").loc["2-bit fixed"]
    folds, runs = int(s["folds"]), int(s["runs"])
    return _accuracy_claim("software_2bit_accuracy", f"{folds} held-out speakers x {runs // folds} seeds")(
        s[["estimate", "ci_low", "ci_high"]], "FSDD zero/one, not Heidelberg Digits")


def _hardware(t: dict[str, pd.DataFrame], tol: float) -> Finding:
    s = t["emulation_summary"].set_index("variant").loc["all non-idealities"]
    return _accuracy_claim("hardware_2bit_accuracy", f"{int(s['programmings'])} programmings over {int(s['folds'])} "
                           "held-out speakers")(s[["mean", "ci_low", "ci_high"]],
                                                "an emulated array (programming noise, stuck devices, read noise, "
                                                "converters), not the paper's chip")


_NOISE_VERDICT = {"holds": "reproduced", "fails": "not reproduced", "undecided": "partly"}


#: Failure causes the book demonstrates as mechanisms, and where.
_MECHANISMS = {"unstable": "noise pushing a pole past the unit circle (chapter 'The stability margin')",
               "saturated": "a converter clipping the state (chapter 'Deployment under hardware noise')"}


def _noise_claim(prefix: str) -> Callable[[dict[str, pd.DataFrame], float], Finding]:
    """A noise claim of the deployment chapter (``claims.csv``) on its default array (the first listed):
    the paired drop from the unprogrammed model with its interval; a claim that fails where most
    programmings at chance share one cause (``failure_causes.csv``) is 'explained' by that cause."""
    def rule(t: dict[str, pd.DataFrame], tol: float) -> Finding:
        c = t["claims"]
        array = c["array"].iloc[0]
        row = c[(c["array"] == array) & c["text"].str.startswith(prefix)].iloc[0]
        if row["verdict"] not in _NOISE_VERDICT:  # 'not in this sweep': the profile's sweep lacks the point
            return Finding("", np.nan, np.nan, "not run", f"the deployment sweep of this profile: {row['verdict']}")
        verdict = _NOISE_VERDICT[row["verdict"]]
        reason = (f"drop {row['drop (points)']:.1f} points from sigma = 0 against the claim's {row['threshold_points']:g}; "
                  f"{_pct(row['failure share'])} of programmings at chance; array: {array}")
        causes = t["failure_causes"]
        causes = causes[causes["array"] == array] if "array" in causes else causes
        if verdict == "not reproduced" and len(causes):
            counts = causes.drop(columns=["array", "programmings"], errors="ignore").sum()
            top = counts.idxmax() if counts.sum() > 0 else ""
            reason += f"; failed programmings over the sweep by cause: " + ", ".join(f"{k} {int(v)}" for k, v in counts.items())
            if top in _MECHANISMS and counts.max() >= counts.sum() / 2:
                verdict = "explained"
                reason += f"; most are '{top}', {_MECHANISMS[top]}"
        if verdict == "reproduced" and row["failure share"] >= 0.5:  # no drop because there was nothing to lose
            verdict, reason = "partly", reason + "; most programmings are at chance, so a small drop shows nothing"
        return Finding(f"drop {row['drop (points)']:.1f} points", float(row["drop ci_low"]), float(row["drop ci_high"]),
                       verdict, reason)
    return rule


def _difference_rule(a: str, b: str, what: str) -> Callable[[dict[str, pd.DataFrame], float], Finding]:
    """a - b in points from a paired table (fractions): reproduced when the interval's lower end is
    above -tolerance (no loss beyond it), partly when it only includes 0, else not reproduced."""
    def rule(t: dict[str, pd.DataFrame], tol: float) -> Finding:
        p = t["paired"]
        row = p[(p["a"] == a) & (p["b"] == b)].iloc[0]
        est, lo, hi = (100 * float(row[k]) for k in ("estimate", "ci_low", "ci_high"))
        verdict = "reproduced" if lo >= -tol else ("partly" if hi >= 0 else "not reproduced")
        return Finding(f"{est:+.1f} points", lo, hi, verdict,
                       f"{what}: {a} - {b}, paired on the same clips; a loss beyond {tol:g} points is "
                       f"{'ruled out' if lo >= -tol else 'not ruled out'}")
    return rule


def _fixed_range(t: dict[str, pd.DataFrame], tol: float) -> Finding:
    c = t["cost_of_fixing"].assign(bits=lambda d: d["a"].str.extract(r"(\d+)-bit")[0].astype(int)).sort_values("bits")
    lo, hi = 100 * c["ci_low"], 100 * c["ci_high"]
    verdict = "reproduced" if (lo >= -tol).all() else ("not reproduced" if (hi < -tol).any() else "partly")
    two = c.iloc[0]
    per_bits = ", ".join(f"{b}-bit {100 * e:+.1f}" for b, e in zip(c["bits"], c["estimate"]))
    return Finding(f"{100 * two['estimate']:+.1f} points at {two['bits']} bits", 100 * float(two["ci_low"]),
                   100 * float(two["ci_high"]), verdict,
                   f"fixed minus dynamic range, paired, in points: {per_bits}; a loss beyond {tol:g} points is "
                   f"{'ruled out at every width' if verdict == 'reproduced' else 'not ruled out everywhere'}")


def _one_array(t: dict[str, pd.DataFrame], tol: float) -> Finding:
    err = float(t["exactness"]["relative error vs digital"].max())
    lay = dict(zip(t["layout"]["quantity"], t["layout"]["value"]))
    per_block = int(lay["arrays per block"]) if int(lay["blocks per array"]) == 0 else 1
    exact = err < 1e-5
    verdict = ("reproduced" if per_block == 1 else "partly") if exact else "not reproduced"
    return Finding(f"relative error {err:.1e}", np.nan, np.nan, verdict,
                   f"one VMM of [[A_bar, B_bar], [C, 0]] per step gives state and readout {'exactly' if exact else 'inexactly'}; "
                   f"a channel's {lay['block (rows x cols)']} block takes {per_block} {lay['array (rows x cols)']} "
                   f"array{'s' if per_block > 1 else ''} at the book's N")


def _technologies(t: dict[str, pd.DataFrame], tol: float) -> Finding:
    s = t["technology_summary"]
    two = s[(s["bits"] == 2) & (s["technology"] != "ideal")].sort_values("drop_points")
    keep = two[two["drop_ci_high"] <= tol]["technology"].tolist()
    lose = [f"{r.technology} ({r.drop_points:.1f})" for r in two.itertuples() if r.drop_ci_high > tol]
    return Finding(f"{len(keep)} of {len(two)} presets keep 2-bit accuracy", np.nan, np.nan, "answered",
                   f"within {tol:g} points (whole interval): {', '.join(keep) or 'none'}; not shown to "
                   f"(drop in points): {', '.join(lose) or 'none'}")


def _strategy(t: dict[str, pd.DataFrame], tol: float) -> Finding:
    n = t["nested_recommendation"]
    top = n["choice"].value_counts()
    gap = t["gap"].iloc[0]
    return Finding(f"{top.index[0]} ({top.iloc[0]} of {len(n)} folds)", np.nan, np.nan, "answered",
                   f"chosen on validation speakers, nested per fold, test accuracy {n['accuracy'].mean():.3f}; at "
                   f"sigma = {gap['sigma_uS']:g} uS it recovers {gap['recovered_points']:.1f} "
                   f"[{gap['recovered_ci_low']:.1f}, {gap['recovered_ci_high']:.1f}] of plain QAT's "
                   f"{gap['gap_points']:.1f}-point gap")


def _depth_scale(t: dict[str, pd.DataFrame], tol: float) -> Finding:
    d = t["depth_contrasts"]
    sigma = d["sigma_uS"].max() if (d["sigma_uS"] == 15.0).sum() == 0 else 15.0
    deep = d[d["sigma_uS"] == sigma].sort_values("a").iloc[-1]
    r = t["real_vs_complex_contrasts"]
    rc = "; ".join(f"real - complex on {x.task} at {x.sigma_uS:g} uS {x.difference_points:+.1f} "
                   f"[{x.ci_low:+.1f}, {x.ci_high:+.1f}]" for x in r[r["sigma_uS"] == sigma].itertuples())
    ten = t["ten_digits"]
    best = ten[(ten["depth_role"] == "best depth")]
    fl = best[best["model"] == "float"]["accuracy"].mean()
    q = best[(best["model"] != "float") & (best["sigma_uS"] == sigma)].groupby("model")["accuracy"].mean()
    return Finding(f"depth {deep['a']} - depth 1 at {sigma:g} uS: {deep['difference_points']:+.1f} points",
                   float(deep["ci_low"]), float(deep["ci_high"]), "answered",
                   f"{deep['verdict']}; ten digits at the best depth: float {fl:.3f}, "
                   + ", ".join(f"{m} {v:.3f}" for m, v in q.items()) + f" at {sigma:g} uS; {rc}")


CLAIMS: list[Claim] = [
    Claim("claim", "2-bit model, software accuracy", "95.06%", "fixed_range_qat", ("qat_summary",), _software),
    Claim("claim", "2-bit model, hardware accuracy", "81.69%", "hardware_deployment", ("emulation_summary",), _hardware),
    Claim("claim", "the 2-bit model tolerates programming noise sigma = 15 uS", "15 uS", "hardware_deployment",
          ("claims", "failure_causes"), _noise_claim("2-bit tolerates")),
    Claim("claim", "the 5-bit model degrades already at sigma = 5 uS", "5 uS", "hardware_deployment",
          ("claims", "failure_causes"), _noise_claim("5-bit suffers")),
    Claim("claim", "ternary (2-bit) weights suffice", "95.06% at 2 bits", "float_baseline", ("paired",),
          _difference_rule("2-bit S4D, fixed range", "float S4D", "ternary against float")),
    Claim("claim", "the fixed range costs little accuracy", "(qualitative)", "fixed_range_qat", ("cost_of_fixing",),
          _fixed_range),
    Claim("claim", "one array computes the whole kernel: state update and readout in one VMM", "(qualitative)",
          "crossbar_mapping", ("exactness", "layout"), _one_array),
    Claim("check", "the recurrence carries the task (control, implicit in the paper)", "(implicit)", "float_baseline",
          ("paired",), _difference_rule("float S4D", "memoryless control", "float S4D against A_bar = 0")),
    Claim("open question", "which device technologies suit the method?", "(open)", "device_technologies",
          ("technology_summary",), _technologies),
    Claim("open question", "the optimal quantization strategy for accuracy and hardware efficiency", "(open)",
          "quantization_strategy", ("nested_recommendation", "gap"), _strategy),
    Claim("open question", "how does the method scale: depth, state size, more classes, real coefficients?", "(open)",
          "depth_scale", ("depth_contrasts", "ten_digits", "real_vs_complex_contrasts"), _depth_scale),
]


def _read(profile: str, chapter: str, name: str) -> pd.DataFrame | None:
    path = results_dir(profile, chapter) / f"{name}.csv"
    return pd.read_csv(path) if path.is_file() else None


def report_table(profile: str, tolerance_points: float = 2.0, claims: list[Claim] | None = None) -> pd.DataFrame:
    """One row per claim and open question (``CLAIMS``), judged on ``profile``'s results: columns
    ``REPORT_COLUMNS`` (``params``: the parameter files the figure comes from; ``csv``: the tables).
    ``tolerance_points``: the accuracy loss, in points, that still counts as 'little'."""
    if tolerance_points < 0:
        raise ValueError(f"tolerance_points must be >= 0, got {tolerance_points}")
    rows: list[dict[str, Any]] = []
    for c in claims or CLAIMS:
        tables = {name: _read(profile, c.chapter, name) for name in c.tables}
        csv = ", ".join(f"results/{profile}/{c.chapter}/{n}.csv" for n in c.tables)
        params = f"params/{profile}/{c.chapter}.yaml"
        if (project_root() / "params" / profile / "_shared.yaml").is_file():
            params += f" (over params/{profile}/_shared.yaml)"
        missing = [n for n, t in tables.items() if t is None]
        if missing:
            f = Finding("", np.nan, np.nan, "not run", f"missing {', '.join(missing)}: execute chapter {c.chapter}")
        else:
            try:
                f = c.rule(tables, tolerance_points)  # type: ignore[arg-type]
            except (KeyError, IndexError) as err:  # a profile whose sweep lacks the claim's row
                f = Finding("", np.nan, np.nan, "not run", f"no row for this claim in the tables ({err!r})")
        rows.append({"kind": c.kind, "claim": c.claim, "paper": c.paper, **f._asdict(), "params": params, "csv": csv})
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)
