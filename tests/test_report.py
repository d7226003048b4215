"""The reproduction report: one rule per kind of test on small tables, the vocabulary, the default
array by name, failure causes in the claim's own cell, and 'not run' for missing tables."""

import numpy as np
import pandas as pd
import pytest

from imssa.study import report as R
from imssa.study import report_grades as G
from imssa.study.claims import PAPER_NOISE_CLAIMS
from imssa.study.deployment_arrays import DEFAULT_ARRAY, DEFAULT_ARRAY_LABEL, array_label
from imssa.study.report_claims import CLAIMS


def write(root, chapter, name, rows):
    folder = root / "custom" / chapter
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(folder / f"{name}.csv", index=False)


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("IMSSA_RESULTS_DIR", str(tmp_path))
    return tmp_path


def row(report, claim):
    return report.set_index("claim").loc[claim]


TOLERATES = "the 2-bit model tolerates programming noise sigma = 15 uS"
SUFFERS = "the 5-bit model degrades already at sigma = 5 uS"
RECURRENCE = "the recurrence carries the task (control, implicit in the paper)"


def test_missing_tables_are_not_run_and_name_the_chapter(results):
    t = R.report_table("custom")
    assert list(t.columns) == R.REPORT_COLUMNS and len(t) == len(CLAIMS)
    assert (t["verdict"] == "not run").all() and set(t["test"]) <= set(G.TESTS)
    assert "execute chapter fixed_range_qat" in row(t, "2-bit model, software accuracy")["reason"]
    with pytest.raises(ValueError, match="tolerance_points"):
        R.report_table("custom", -1.0)


@pytest.mark.parametrize(
    "low, high, verdict", [(0.90, 0.97, "consistent"), (0.80, 0.94, "not consistent")]
)
def test_an_accuracy_on_another_task_is_consistent_when_the_paper_figure_is_inside(
    results, low, high, verdict
):
    write(
        results,
        "fixed_range_qat",
        "qat_summary",
        [
            {
                "label": "2-bit fixed",
                "estimate": (low + high) / 2,
                "ci_low": low,
                "ci_high": high,
                "folds": 6,
                "runs": 12,
            }
        ],
    )
    r = row(R.report_table("custom"), "2-bit model, software accuracy")
    assert r["verdict"] == verdict and r["ci_low"] == low and r["paper"] == "95.06%"
    assert (
        r["test"] == "agreement" and "Heidelberg" in r["reason"]
    )  # the setting differs, and says so


def noise_tables(results, verdict, causes, other_cell_causes=None):
    """Claims on the default array and on a decoy array whose name sorts first."""
    decoy = array_label(**(DEFAULT_ARRAY | {"noise_clip": "mapping"}))
    assert decoy < DEFAULT_ARRAY_LABEL  # the old rule took the first row: this one
    claim = {"bits": 2, "sigma_uS": 15.0, "threshold_points": 2.0}
    write(
        results,
        "hardware_deployment",
        "claims",
        [
            {
                "text": PAPER_NOISE_CLAIMS[0].text,
                "array": decoy,
                "verdict": "holds",
                "drop (points)": 0.0,
                "drop ci_low": 0.0,
                "drop ci_high": 1.0,
                "failure share": 0.0,
                **claim,
            },
            {
                "text": PAPER_NOISE_CLAIMS[0].text,
                "array": DEFAULT_ARRAY_LABEL,
                "verdict": verdict,
                "drop (points)": 10.0,
                "drop ci_low": 5.0,
                "drop ci_high": 15.0,
                "failure share": 0.3,
                **claim,
            },
            {
                "text": PAPER_NOISE_CLAIMS[1].text,
                "array": DEFAULT_ARRAY_LABEL,
                "verdict": "not resolved",
                "drop (points)": 4.0,
                "drop ci_low": 1.0,
                "drop ci_high": 8.0,
                "threshold_points": 5.0,
                "failure share": 0.1,
                "bits": 5,
                "sigma_uS": 5.0,
            },
        ],
    )
    cells = [
        {
            "array": DEFAULT_ARRAY_LABEL,
            "bits": 2,
            "sigma_uS": 15.0,
            "failure": k,
            "failed": v,
            "programmings": 100,
        }
        for k, v in causes.items()
    ]
    cells += [
        {
            "array": DEFAULT_ARRAY_LABEL,
            "bits": 2,
            "sigma_uS": 30.0,
            "failure": k,
            "failed": v,
            "programmings": 100,
        }
        for k, v in (other_cell_causes or {}).items()
    ]
    write(results, "hardware_deployment", "failure_causes", cells)


@pytest.mark.parametrize(
    "verdict, causes, other, expected",
    [
        ("holds", {"unstable": 0, "weight error": 0}, None, "consistent"),
        ("fails", {"unstable": 30, "weight error": 5}, None, "explained"),
        ("fails", {"unstable": 2, "weight error": 30}, None, "not consistent"),
        # many unstable programmings at another sigma do not explain this cell
        ("fails", {"unstable": 2, "weight error": 30}, {"unstable": 500}, "not consistent"),
        ("not resolved", {"unstable": 30, "weight error": 0}, None, "not resolved"),
    ],
)
def test_noise_claims_are_judged_on_the_default_array_by_name_in_their_own_cell(
    results, verdict, causes, other, expected
):
    noise_tables(results, verdict, causes, other)
    t = R.report_table("custom")
    r = row(t, TOLERATES)
    assert r["verdict"] == expected and r["ci_high"] == 15.0 and DEFAULT_ARRAY_LABEL in r["reason"]
    assert row(t, SUFFERS)["verdict"] == "not resolved"


def test_no_drop_from_a_model_at_chance_is_no_tolerance(results):
    noise_tables(results, "holds", {"unstable": 0})
    path = results / "custom" / "hardware_deployment" / "claims.csv"
    pd.read_csv(path).assign(**{"failure share": 1.0}).to_csv(path, index=False)
    r = row(R.report_table("custom"), TOLERATES)
    assert r["verdict"] == "not resolved" and "at chance" in r["reason"]


def paired(results, ternary, recurrence):
    write(
        results,
        "float_baseline",
        "paired",
        [
            {
                "a": "2-bit S4D, fixed range",
                "b": "float S4D",
                "difference_points": sum(ternary) / 2,
                "ci_low": ternary[0],
                "ci_high": ternary[1],
            },
            {
                "a": "float S4D",
                "b": "memoryless control",
                "difference_points": sum(recurrence) / 2,
                "ci_low": recurrence[0],
                "ci_high": recurrence[1],
            },
        ],
    )
    return R.report_table("custom", tolerance_points=2.0)


@pytest.mark.parametrize(
    "low, high, expected",
    [(-1.5, 3.0, "consistent"), (-8.0, 3.0, "not resolved"), (-8.0, -3.0, "not consistent")],
)
def test_non_inferiority_rules_out_a_loss_beyond_the_tolerance(results, low, high, expected):
    r = row(paired(results, (low, high), (15.0, 36.0)), "ternary (2-bit) weights suffice")
    assert r["verdict"] == expected and r["test"] == "non-inferiority"


@pytest.mark.parametrize(
    "low, high, expected",
    [
        (15.0, 36.0, "consistent"),
        (-0.5, 0.5, "not resolved"),
        (-1.5, 3.0, "not resolved"),
        (-6.0, -1.0, "not consistent"),
    ],
)
def test_superiority_needs_the_lower_end_above_zero(results, low, high, expected):
    # (-0.5, 0.5) and (-1.5, 3.0): the old non-inferiority rule said 'reproduced'
    r = row(paired(results, (-1.0, 1.0), (low, high)), RECURRENCE)
    assert r["verdict"] == expected and r["test"] == "superiority"


def test_difference_rule_refuses_other_kinds_and_reads_one_fold_as_unresolved():
    from imssa.stats.verdicts import verdict

    with pytest.raises(ValueError, match="superiority"):
        G.difference_rule("agreement", 2.0)

    def judged(lo, hi, test="superiority"):
        return G.grade(verdict(lo, hi, None, G.difference_rule(test, 2.0)), True)

    assert judged(float("nan"), float("nan")) == "not resolved"
    assert judged(0.5, 2.0) == "reproduced" and judged(-3.0, -0.5) == "not reproduced"
    assert judged(-1.5, 2.0, "non-inferiority") == "reproduced"
    with pytest.raises(ValueError, match="a claim's verdict"):
        G.grade("above", True)


def test_fixed_range_and_one_array_rules(results):
    write(
        results,
        "fixed_range_qat",
        "cost_of_fixing",
        [
            {
                "a": "2-bit fixed",
                "b": "2-bit dynamic",
                "difference_points": 20.0,
                "ci_low": 10.0,
                "ci_high": 30.0,
            },
            {
                "a": "4-bit fixed",
                "b": "4-bit dynamic",
                "difference_points": -1.0,
                "ci_low": -5.0,
                "ci_high": 3.0,
            },
        ],
    )
    write(
        results,
        "crossbar_mapping",
        "exactness",
        [{"mode": "step", "relative error vs digital": 5e-8}],
    )

    def layout(per_array, per_block):
        return [
            {"quantity": q, "value": v}
            for q, v in (
                ("array (rows x cols)", "64 x 64"),
                ("block (rows x cols)", "33 x 66"),
                ("blocks per array", per_array),
                ("arrays per block", per_block),
            )
        ]

    write(results, "crossbar_mapping", "layout", layout(0, 2))
    t = R.report_table("custom")
    fixed = row(t, "the fixed range costs little accuracy")
    assert fixed["verdict"] == "not resolved" and "4-bit -1.0 (not resolved)" in fixed["reason"]
    one = next(c.claim for c in CLAIMS if c.chapter == "crossbar_mapping")
    assert (
        row(t, one)["verdict"] == "not consistent" and "2 64 x 64 arrays" in row(t, one)["reason"]
    )
    write(results, "crossbar_mapping", "layout", layout(1, 1))
    assert R.report_table("custom").set_index("claim").loc[one, "verdict"] == "reproduced"


@pytest.mark.parametrize("low, expected", [(-3.0, "open"), (0.5, "answered")])
def test_an_open_question_is_answered_only_by_a_resolved_result(results, low, expected):
    write(
        results,
        "quantization_strategy",
        "nested_recommendation",
        [{"fold": f, "choice": "capped", "accuracy": 0.8} for f in range(3)],
    )
    write(
        results,
        "quantization_strategy",
        "gap",
        [
            {
                "sigma_uS": 15.0,
                "gap_points": 20.0,
                "recovered_points": 5.0,
                "recovered_ci_low": low,
                "recovered_ci_high": 9.0,
            }
        ],
    )
    q = "the optimal quantization strategy for accuracy and hardware efficiency"
    assert row(R.report_table("custom"), q)["verdict"] == expected


def test_a_sweep_without_the_claims_point_is_not_run(results):
    noise_tables(results, "not in this sweep", {"unstable": 0})
    write(
        results,
        "fixed_range_qat",
        "qat_summary",
        [
            {
                "label": "3-bit fixed",
                "estimate": 0.9,
                "ci_low": 0.8,
                "ci_high": 0.95,
                "folds": 2,
                "runs": 2,
            }
        ],
    )
    t = R.report_table("custom")
    assert row(t, TOLERATES)["verdict"] == "not run"
    assert "no row for this claim" in row(t, "2-bit model, software accuracy")["reason"]


def test_rows_written_by_another_version_are_flagged(results):
    paired(results, (-1.0, 1.0), (15.0, 36.0))
    t = R.report_table("custom")
    assert row(t, RECURRENCE)["version"].startswith("no provenance")
    path = results / "custom" / "float_baseline" / "paired.csv"
    from imssa.study.results import library_digest

    pd.read_csv(path).assign(code_revision="abc", library_digest=library_digest()).to_csv(
        path, index=False
    )
    assert row(R.report_table("custom"), RECURRENCE)["version"] == "current (abc)"
    pd.read_csv(path).assign(library_digest="0" * 12).to_csv(path, index=False)
    assert "abc" in row(R.report_table("custom"), RECURRENCE)["version"]


def test_models_that_answer_alike_or_at_chance_decide_nothing(results):
    write(
        results,
        "float_baseline",
        "paired",
        [
            {
                "a": "float S4D",
                "b": "memoryless control",
                "difference_points": 0.0,
                "ci_low": 0.0,
                "ci_high": 0.0,
                "a_only": 0,
                "b_only": 0,
            }
        ],
    )
    r = row(R.report_table("custom"), RECURRENCE)
    assert r["verdict"] == "not resolved" and "alike" in r["reason"]
    write(
        results,
        "device_technologies",
        "technology_summary",
        [
            {
                "technology": t,
                "bits": 2,
                "failure_share": share,
                "drop_points": 0.0,
                "drop_ci_low": -0.5,
                "drop_ci_high": 0.5,
            }
            for t, share in (("rram", 0.0), ("pcm", 1.0))
        ],
    )
    r = row(R.report_table("custom"), "which device technologies suit the method?")
    assert (
        r["verdict"] == "open"
        and r["ours"] == "1 of 2 presets keep 2-bit accuracy"
        and "pcm" in r["reason"]
    )


def test_the_report_tables_in_markdown_keep_the_rows_of_their_kind_and_their_sources():
    table = pd.DataFrame(
        [
            {
                "kind": "claim",
                "claim": "c1",
                "paper": "95%",
                "test": "agreement",
                "ours": 0.9,
                "ci_low": 0.8,
                "ci_high": 0.95,
                "verdict": "consistent",
                "reason": "r1",
                "params": "params/ci/a.yaml",
                "csv": "results/ci/a/x.csv, results/ci/a/y.csv",
                "version": "current (abc)",
            },
            {
                "kind": "open question",
                "claim": "q1",
                "paper": "(open)",
                "test": "open",
                "ours": "",
                "ci_low": np.nan,
                "ci_high": np.nan,
                "verdict": "open",
                "reason": "r2",
                "params": "params/ci/b.yaml",
                "csv": "results/ci/b/z.csv",
                "version": "current (abc)",
            },
        ]
    )
    claims = R.claims_markdown(table, ["claim"]).splitlines()
    assert (
        len(claims) == 3
        and "| c1 | 95% | agreement | 0.9 | [0.8, 0.95] | **consistent** | r1 |" == claims[2]
    )
    assert (
        R.claims_markdown(table, ["open question"])
        .splitlines()[2]
        .startswith("| q1 | (open) | open |  |  |")
    )
    sources = R.sources_markdown(table).splitlines()
    assert (
        sources[2] == "| c1 | `params/ci/a.yaml` | `results/ci/a/x.csv`<br>`results/ci/a/y.csv` | "
        "current (abc) |"
    )


NEEDS_STATE = "the main task needs a state (controls: learned FIR banks, a log-mel baseline)"
KEEPS_MEMORY = (
    "the paper's fixed-range QAT (its range and cap, A_bar at most 8 bits, 2000 steps/s, "
    "fine-tuned) keeps the memory a state-space model exists for"
)
MEMORY_NOISE = (
    "how much memory does a programmed array keep under programming noise? (the paper's method)"
)
DESIGNS_KEEP = (
    "fixed-range QAT keeps the memory with the range and cap at the circle and enough bits of "
    "A_bar for its step rate"
)
DESIGN_NOISE = (
    "which design keeps the memory under programming noise, at write-verified levels "
    "(0.5-4.5 uS) and at 15 uS?"
)


@pytest.mark.parametrize(
    "verdict, expected",
    [
        ("needs a state", "consistent"),
        ("does not need a state", "not consistent"),
        ("not resolved", "not resolved"),
    ],
)
def test_the_state_rows_follow_the_chapter_s_verdicts(results, verdict, expected):
    write(
        results,
        "state_memory",
        "state_verdict",
        [{"verdict": verdict, "shortest_rival": "FIR 4 taps", "text": "..."}],
    )
    write(
        results,
        "state_memory",
        "state_controls",
        [
            {
                "control": "FIR 4 taps",
                "control_minus_s4d_points": -1.0,
                "simultaneous_low": -4.0,
                "simultaneous_high": 2.0,
                "level": 0.99,
            },
            {
                "control": "FIR 64 taps",
                "control_minus_s4d_points": 1.0,
                "simultaneous_low": -3.0,
                "simultaneous_high": 5.0,
                "level": 0.99,
            },
        ],
    )
    r = row(R.report_table("custom"), NEEDS_STATE)
    assert (
        r["verdict"] == expected
        and "FIR 64 taps - float S4D" in r["ours"]
        and r["ci_low"] == pytest.approx(-3.0)
    )


@pytest.mark.parametrize(
    "state, expected",
    [
        ("above chance", "consistent"),
        ("at chance", "not consistent"),
        ("not resolved", "not resolved"),
    ],
)
def test_the_memory_rows_read_the_paper_model_and_the_noise_answer(results, state, expected):
    paper = "2-bit, fixed range (paper)"
    write(
        results,
        "state_memory",
        "memory_verdict",
        [{"paper_model": paper, "paper_state": state, "float_state": "above chance", "kept": ""}],
    )
    write(
        results,
        "state_memory",
        "memory_summary",
        [{"model": paper, "estimate": 0.5, "ci_low": 0.45, "ci_high": 0.56}],
    )
    write(
        results,
        "state_memory",
        "memory_noise_answer",
        [{"sigma_uS": 15.0, "above_chance": "", "theory_ms": "15: 5.40"}],
    )
    write(
        results,
        "state_memory",
        "memory_noise_summary",
        [
            {
                "model": paper,
                "sigma_uS": 15.0,
                "ci_low": 0.45,
                "ci_high": 0.54 if state == "at chance" else 0.7,
            }
        ],
    )
    t = R.report_table("custom")
    assert row(t, KEEPS_MEMORY)["verdict"] == expected and paper in row(t, KEEPS_MEMORY)["ours"]
    assert row(t, MEMORY_NOISE)["verdict"] == ("answered" if state == "at chance" else "open")
    assert "15: 5.40" in row(t, MEMORY_NOISE)["ours"]


PERIPHERY_GAP = (
    "the emulated gap depends on the converter design: per column against one range per layer"
)
PERIPHERY_HW = "2-bit model, hardware accuracy, with per-column converters and offsets corrected"


@pytest.mark.parametrize(
    "low, high, expected",
    [(2.0, 30.0, "consistent"), (-3.0, 10.0, "not resolved"), (-20.0, -1.0, "not consistent")],
)
def test_the_periphery_rows_read_the_headline_contrast_and_the_best_design(
    results, low, high, expected
):
    from imssa.study.periphery_designs import BEST, LAYER

    write(
        results,
        "periphery",
        "headline",
        [
            {
                "a": BEST,
                "b": LAYER,
                "difference_points": (low + high) / 2,
                "ci_low": low,
                "ci_high": high,
                "programmings": 36,
                "folds": 6,
            }
        ],
    )
    write(
        results,
        "periphery",
        "design_summary",
        [
            {
                "variant": LAYER,
                "mean": 0.6,
                "ci_low": 0.5,
                "ci_high": 0.7,
                "programmings": 36,
                "folds": 6,
            },
            {
                "variant": BEST,
                "mean": 0.9,
                "ci_low": 0.80,
                "ci_high": 0.85,
                "programmings": 36,
                "folds": 6,
            },
        ],
    )
    t = R.report_table("custom")
    assert row(t, PERIPHERY_GAP)["verdict"] == expected and row(t, PERIPHERY_GAP)["ci_low"] == low
    hw = row(t, PERIPHERY_HW)
    assert hw["ours"] == "90.0%" and hw["verdict"] == "consistent" and "inside" in hw["reason"]


@pytest.mark.parametrize(
    "lows, expected", [((0.45, 0.8), "consistent"), ((0.45, 0.40), "not resolved")]
)
def test_the_design_row_names_the_front_end_and_bits_that_keep_the_memory(results, lows, expected):
    fes = ["waveform 2000/s", "log-mel 100/s"]
    write(
        results,
        "memory_programming",
        "step_rates",
        [
            {
                "task": "order",
                "front_end": fe,
                "model": m,
                "estimate": low + 0.05,
                "ci_low": low,
                "ci_high": low + 0.1,
            }
            for fe, low in zip(fes, lows, strict=True)
            for m in ("chosen design", "float S4D")
        ],
    )
    write(
        results,
        "memory_programming",
        "bits_needed",
        [
            {"front_end": fe, "fold": f, "bits_A": b}
            for fe, b in zip(fes, (12, 6), strict=True)
            for f in range(2)
        ],
    )
    r = row(R.report_table("custom"), DESIGNS_KEEP)
    assert (
        r["verdict"] == expected
        and "A_bar at 6 bits" in r["reason"]
        and "A_bar at 12 bits" in r["reason"]
    )
    assert ("log-mel 100/s" in r["ours"]) == (expected == "consistent")


def test_the_design_noise_row_reads_the_planned_family_and_sigma_star(results):
    rows = [
        {
            "section": "noise",
            "front_end": "log-mel 100/s",
            "placement": p,
            "devices_per_element": d,
            "sigma_uS": x,
            "b": "chance",
            "verdict": "above" if (x <= 4.5 or p != "array") else "not resolved",
            "ci_low": 1.0,
            "ci_high": 30.0,
        }
        for p in ("array", "digital A_bar")
        for d in (8, 16)
        for x in (0.5, 4.5, 15.0)
    ]
    write(results, "memory_programming", "planned", rows)
    write(
        results,
        "memory_programming",
        "sigma_star",
        [
            {
                "front_end": "log-mel 100/s",
                "placement": p,
                "devices_per_element": 16,
                "sigma_star_uS": s,
            }
            for p, s in (("array", 4.5), ("digital A_bar", 15.0))
        ],
    )
    r = row(R.report_table("custom"), DESIGN_NOISE)
    assert "A_bar on the array: above chance at every sigma up to 4.5 uS" in r["reason"]
    assert "A_bar digital: above chance at every sigma up to 15 uS" in r["reason"]
    assert r["verdict"] == "open" and "(array): 4.5 uS" in r["ours"] and "16 devices" in r["reason"]
