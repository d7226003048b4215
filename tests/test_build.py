"""The build's ledger, its plan (deduplicated, priced), the models stage's order and the check
that a chapter kept to its plan."""

import json

import pytest

from imssa import ledger
from imssa.data.config import DataConfig
from imssa.model.cache import Run, run_key
from imssa.model.config import ModelConfig, TrainConfig
from imssa.study import build
from imssa.study.plans import ChapterPlan


def run(epochs=2, seed=0, fine_tune=False, H=4):
    model, train = ModelConfig(H=H, N=2), TrainConfig(epochs=epochs, seed=seed)
    start = (model, TrainConfig(epochs=1, seed=seed)) if fine_tune else None
    return Run(DataConfig(sample_rate=1000, duration_s=0.5), model, train, start)


def test_the_ledger_writes_nothing_unless_asked_and_names_the_chapter_and_memory(
    tmp_path, monkeypatch
):
    path = tmp_path / "l.jsonl"
    monkeypatch.delenv(ledger.LEDGER_VAR, raising=False)
    ledger.record("task", grid="g", seconds=1.0)
    assert not path.exists()
    monkeypatch.setenv(ledger.LEDGER_VAR, str(path))
    monkeypatch.setenv(ledger.CHAPTER_VAR, "periphery")
    ledger.record("task", grid="g", seconds=1.0)
    (line,) = ledger.read(path)
    assert line["chapter"] == "periphery" and line["grid"] == "g" and line["max_rss_MB"] > 10


def test_a_malformed_ledger_line_is_named_with_its_file_and_line(tmp_path):
    path = tmp_path / "l.jsonl"
    path.write_text(json.dumps({"kind": "task"}) + "\n{oops\n")
    with pytest.raises(ledger.LedgerError, match=r"l.jsonl, line 2: not JSON"):
        ledger.read(path)
    path.write_text("[1, 2]\n")
    with pytest.raises(ledger.LedgerError, match="line 1: expected an object"):
        ledger.read(path)
    assert ledger.read(tmp_path / "missing.jsonl") == []


def test_a_run_key_names_the_configuration_and_nothing_else():
    assert run_key(run()) == run_key(run())
    assert len({run_key(run()), run_key(run(epochs=3)), run_key(run(fine_tune=True))}) == 3


def test_the_plan_lists_a_shared_model_once_for_the_first_chapter_that_needs_it():
    plans = {
        "a": ChapterPlan(runs={"floats": {0: run(seed=0), 1: run(seed=1)}}, grids={"g": 6}),
        "b": ChapterPlan(runs={"same": {0: run(seed=1), 1: run(seed=2)}}, chosen={"best": 3}),
    }
    costs = build.Costs(runs={run_key(run(seed=1)): 5.0}, tasks={("a", "g"): 2.0})
    table = build.plan_table(plans, costs)
    floats, same = table[table.name == "floats"].iloc[0], table[table.name == "same"].iloc[0]
    assert (floats["count"], floats["new"], same["count"], same["new"]) == (2, 2, 2, 1)
    modelled = costs.seconds_per_unit * build.run_units(run())
    assert floats["predicted_s"] == pytest.approx(modelled + 5.0)
    assert floats["cost_source"] == "measured+modelled"
    assert table[table.name == "g"].iloc[0]["predicted_s"] == 12.0
    summary = build.plan_summary(table, workers=2).set_index("chapter")
    assert summary.loc["b", "chosen"] == 3 and summary.loc["total", "new_trainings"] == 3
    assert summary.loc["a", "unpriced_tasks"] == 0
    unpriced = build.plan_summary(build.plan_table(plans, build.Costs()), workers=2)
    assert unpriced.set_index("chapter").loc["a", "unpriced_tasks"] == 6  # grid g never measured
    assert summary.loc["a", "predicted_s"] == pytest.approx((modelled + 5.0 + 12.0) / 2)


def test_costs_are_read_from_the_ledgers_and_the_rate_fitted_on_measured_runs(tmp_path):
    path = tmp_path / "periphery.jsonl"
    lines = [
        {"kind": "train", "key": run_key(run()), "trained": True, "seconds": 4.0},
        {"kind": "train", "key": "cached", "trained": False, "seconds": 0.1},
        {"kind": "task", "chapter": "periphery", "grid": "g", "seconds": 1.0},
        {"kind": "task", "chapter": "periphery", "grid": "g", "seconds": 3.0},
        {"kind": "task", "chapter": "periphery", "grid": "g", "seconds": 9.0},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    plans = {"periphery": ChapterPlan(runs={"s": {0: run()}})}
    costs = build.measured_costs([path], plans)
    assert costs.runs == {run_key(run()): 4.0}  # a cache hit is not a measured training
    assert costs.tasks == {("periphery", "g"): 3.0}  # the median task
    assert costs.seconds_per_unit == pytest.approx(4.0 / build.run_units(run()))
    assert costs.run(run(epochs=4)) == (pytest.approx(8.0), "modelled")


def test_the_models_stage_trains_floats_first_each_wave_longest_first(monkeypatch):
    trained = []
    monkeypatch.setattr(build, "train_many", lambda runs, **kw: trained.append(runs))
    plans = {
        "a": ChapterPlan(runs={"s": {0: run(epochs=1), 1: run(epochs=5, fine_tune=True)}}),
        "b": ChapterPlan(runs={"t": {0: run(epochs=9), 1: run(epochs=1)}}),  # a duplicate
    }
    build.train_first(plans, workers=2)
    assert [[r.train.epochs for r in wave] for wave in trained] == [[9, 1], [5]]


def test_a_chapter_that_leaves_its_plan_is_named(monkeypatch):
    monkeypatch.setattr(build, "UNDECLARED", frozenset())  # as once every chapter declares one
    plan = ChapterPlan(runs={"s": {0: run()}}, chosen={"best": 1}, grids={"g": 4})
    ok = [
        {"kind": "train", "chapter": "periphery", "key": run_key(run())},
        {"kind": "train", "chapter": "periphery", "key": "chosen-one"},
        {"kind": "grid", "chapter": "periphery", "grid": "g", "tasks": 4},
        {"kind": "grid", "chapter": "other", "grid": "x", "tasks": 1},  # another chapter's line
    ]
    assert build.check_ledger("periphery", plan, ok) == []
    extra = ok + [{"kind": "train", "chapter": "periphery", "key": "unplanned"}]
    assert "2 runs outside its plan" in build.check_ledger("periphery", plan, extra)[0]
    grid = ok + [{"kind": "grid", "chapter": "periphery", "grid": "g", "tasks": 5}]
    assert "ran 5 tasks; planned 4" in build.check_ledger("periphery", plan, grid)[0]
    aware = ok + [{"kind": "aware", "chapter": "periphery", "key": "k"}]
    assert (
        "1 converter-aware fine-tunes; planned 0" in build.check_ledger("periphery", plan, aware)[0]
    )


def test_each_page_ends_with_links_to_its_executed_notebook_and_tables():
    from imssa.study.runner import with_data_links

    nb = {"cells": [{"cell_type": "code", "source": "1", "outputs": []}]}
    linked = with_data_links(nb, "periphery", ["designs.csv", "widths.csv"])
    assert len(nb["cells"]) == 1 and len(linked["cells"]) == 2  # the notebook itself untouched
    text = linked["cells"][-1]["source"]
    assert "{download}`periphery.ipynb <data/periphery/periphery.ipynb>`" in text
    assert "{download}`widths.csv <data/periphery/widths.csv>`" in text


def test_peak_memory_is_told_per_chapter_and_role():
    lines = [
        {"kind": "start", "chapter": "a", "pid": 1, "max_rss_MB": 50},
        {"kind": "grid", "chapter": "a", "pid": 1, "max_rss_MB": 300},
        {"kind": "table", "chapter": "a", "pid": 1, "max_rss_MB": 900},
        {"kind": "task", "chapter": "a", "pid": 2, "max_rss_MB": 400},
        {"kind": "task", "chapter": "a", "pid": 3, "max_rss_MB": 700},
        {"kind": "train", "chapter": "a", "pid": 1, "trained": False, "max_rss_MB": 900},
        {"kind": "train", "chapter": "models", "pid": 4, "trained": True, "max_rss_MB": 800},
        {"kind": "train", "chapter": "models", "pid": 5, "trained": False, "max_rss_MB": 999},
    ]
    table = build.memory_table(lines).set_index(["chapter", "role"])
    assert table.loc[("a", "kernel"), "peak_rss_MB"] == 900
    assert tuple(table.loc[("a", "grid worker")]) == (2, 700)
    assert tuple(table.loc[("models", "training worker")]) == (1, 800)  # a cache hit trains nothing


def test_the_runner_fails_a_chapter_whose_ledger_left_its_plan(tmp_path, monkeypatch):
    import papermill

    from imssa.study import runner
    from imssa.study.params import ParamsError

    monkeypatch.setattr(runner, "executed_dir", lambda profile: tmp_path / profile)
    for var in (ledger.LEDGER_VAR, ledger.CHAPTER_VAR):  # execute sets them: restored afterwards
        monkeypatch.setenv(var, "")
    asked = []

    def fake_kernel(source, out, **kw):  # what a chapter's kernel would record
        for key in asked:
            ledger.record("train", key=key, trained=False, seconds=0.0)

    monkeypatch.setattr(papermill, "execute_notebook", fake_kernel)
    params = runner.project_root() / "params" / "ci" / "crossbar_mapping.yaml"
    plan = build.chapter_plans("ci", ["crossbar_mapping"])["crossbar_mapping"]
    asked[:] = sorted(plan.keys())
    runner.execute("crossbar_mapping", params, "ci")  # kept to its plan: no error
    asked.append("0" * 16)
    with pytest.raises(ParamsError, match="the build left its plan"):
        runner.execute("crossbar_mapping", params, "ci")
