"""The reproduction report: verdict rules on small tables, and 'not run' for missing ones."""

import pandas as pd
import pytest

from imssa.study import report as R


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


def test_missing_tables_are_not_run_and_name_the_chapter(results):
    t = R.report_table("custom")
    assert list(t.columns) == R.REPORT_COLUMNS and len(t) == len(R.CLAIMS)
    assert (t["verdict"] == "not run").all()
    assert "execute chapter fixed_range_qat" in row(t, "2-bit model, software accuracy")["reason"]
    with pytest.raises(ValueError, match="tolerance_points"):
        R.report_table("custom", -1.0)


@pytest.mark.parametrize("low, high, verdict", [(0.90, 0.97, "reproduced"), (0.80, 0.94, "not reproduced")])
def test_an_accuracy_is_reproduced_when_the_paper_figure_is_inside_our_interval(results, low, high, verdict):
    write(results, "fixed_range_qat", "qat_summary", [{"label": "2-bit fixed", "estimate": (low + high) / 2,
                                                       "ci_low": low, "ci_high": high, "folds": 6, "runs": 12}])
    r = row(R.report_table("custom"), "2-bit model, software accuracy")
    assert r["verdict"] == verdict and r["ci_low"] == low and r["paper"] == "95.06%"


def noise_tables(results, verdict, causes):
    write(results, "hardware_deployment", "claims", [
        {"text": "2-bit tolerates sigma = 15 uS", "array": "A", "verdict": verdict, "drop (points)": 10.0,
         "drop ci_low": 5.0, "drop ci_high": 15.0, "threshold_points": 2.0, "failure share": 0.3},
        {"text": "5-bit suffers at sigma = 5 uS", "array": "A", "verdict": "undecided", "drop (points)": 4.0,
         "drop ci_low": 1.0, "drop ci_high": 8.0, "threshold_points": 5.0, "failure share": 0.1},
        {"text": "2-bit tolerates sigma = 15 uS", "array": "B", "verdict": "holds", "drop (points)": 0.0,
         "drop ci_low": 0.0, "drop ci_high": 1.0, "threshold_points": 2.0, "failure share": 0.0}])
    write(results, "hardware_deployment", "failure_causes", [{"array": "A", **causes, "programmings": 100}])


@pytest.mark.parametrize("verdict, causes, expected", [
    ("holds", {"unstable": 0, "weight error": 0}, "reproduced"),
    ("fails", {"unstable": 30, "weight error": 5}, "explained"),
    ("fails", {"unstable": 2, "weight error": 30}, "not reproduced"),
    ("undecided", {"unstable": 30, "weight error": 0}, "partly")])
def test_noise_claims_follow_the_deployment_verdict_on_its_default_array(results, verdict, causes, expected):
    noise_tables(results, verdict, causes)
    t = R.report_table("custom")
    r = row(t, "the 2-bit model tolerates programming noise sigma = 15 uS")
    assert r["verdict"] == expected and r["ci_high"] == 15.0  # array A, the first listed
    assert row(t, "the 5-bit model degrades already at sigma = 5 uS")["verdict"] == "partly"


def test_no_drop_from_a_model_at_chance_is_no_tolerance(results):
    noise_tables(results, "holds", {"unstable": 0})
    c = pd.read_csv(results / "custom" / "hardware_deployment" / "claims.csv").assign(**{"failure share": 1.0})
    c.to_csv(results / "custom" / "hardware_deployment" / "claims.csv", index=False)
    r = row(R.report_table("custom"), "the 2-bit model tolerates programming noise sigma = 15 uS")
    assert r["verdict"] == "partly" and "at chance" in r["reason"]


@pytest.mark.parametrize("low, high, expected", [(-1.5, 3.0, "reproduced"), (-8.0, 3.0, "partly"),
                                                 (-8.0, -3.0, "not reproduced")])
def test_a_paired_difference_rules_out_a_loss_beyond_the_tolerance(results, low, high, expected):
    write(results, "float_baseline", "paired", [
        {"a": "2-bit S4D, fixed range", "b": "float S4D", "estimate": (low + high) / 200, "ci_low": low / 100,
         "ci_high": high / 100},
        {"a": "float S4D", "b": "memoryless control", "estimate": 0.25, "ci_low": 0.15, "ci_high": 0.36}])
    t = R.report_table("custom", tolerance_points=2.0)
    assert row(t, "ternary (2-bit) weights suffice")["verdict"] == expected
    assert row(t, "the recurrence carries the task (control, implicit in the paper)")["verdict"] == "reproduced"


def test_fixed_range_and_one_array_rules(results):
    write(results, "fixed_range_qat", "cost_of_fixing", [
        {"a": "2-bit fixed", "b": "2-bit dynamic", "estimate": 0.2, "ci_low": 0.1, "ci_high": 0.3},
        {"a": "4-bit fixed", "b": "4-bit dynamic", "estimate": -0.01, "ci_low": -0.05, "ci_high": 0.03}])
    write(results, "crossbar_mapping", "exactness", [{"mode": "step", "relative error vs digital": 5e-8}])
    layout = lambda per_array, per_block: [{"quantity": q, "value": v} for q, v in (  # noqa: E731
        ("array (rows x cols)", "64 x 64"), ("block (rows x cols)", "33 x 66"), ("blocks per array", per_array),
        ("arrays per block", per_block))]
    write(results, "crossbar_mapping", "layout", layout(0, 2))
    t = R.report_table("custom")
    assert row(t, "the fixed range costs little accuracy")["verdict"] == "partly"  # 4 bits: -5 not ruled out
    assert row(t, R.CLAIMS[6].claim)["verdict"] == "partly" and "2 64 x 64 arrays" in row(t, R.CLAIMS[6].claim)["reason"]
    write(results, "crossbar_mapping", "layout", layout(1, 1))
    assert R.report_table("custom").set_index("claim").loc[R.CLAIMS[6].claim, "verdict"] == "reproduced"


def test_a_sweep_without_the_claims_point_is_not_run(results):
    noise_tables(results, "not in this sweep", {"unstable": 0})
    write(results, "fixed_range_qat", "qat_summary", [{"label": "3-bit fixed", "estimate": 0.9, "ci_low": 0.8,
                                                       "ci_high": 0.95, "folds": 2, "runs": 2}])
    t = R.report_table("custom")
    assert row(t, "the 2-bit model tolerates programming noise sigma = 15 uS")["verdict"] == "not run"
    assert "no row for this claim" in row(t, "2-bit model, software accuracy")["reason"]
