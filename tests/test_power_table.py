"""The power table (``imssa.study.power_table``) on a synthetic results folder: the grid's
per-programming rows read from its newest checkpoint, the cuts of realisations and seeds, the
planned differences found in a chapter's paired table (their half-width before the cut is the
book's ``paired_contrast`` interval), chapters that cannot be cut reported, and the entry point's
files."""

import os

import numpy as np
import pandas as pd
import pytest

from imssa.stats.programmings import paired_contrast
from imssa.study.power_table import (
    COLUMNS,
    CUT_COLUMNS,
    chapter_power,
    main,
    planned_differences,
    programming_rows,
    resource_params,
)


def grid_rows(seeds: int = 2, realisations: int = 4, folds: int = 6) -> pd.DataFrame:
    """A deployment-like grid: cells (bits, sigma_uS), then per programming realisation,
    accuracy, failure, seed and fold, as ``resumable_grid`` writes them. At sigma 0 one
    programming per model; the bits-4 model is the bits-2 model plus 2 points and its own draws."""
    rng = np.random.default_rng(0)
    speaker = rng.normal(0, 0.05, folds)
    model = rng.normal(0, 0.03, (folds, seeds))
    rows = []
    for bits in (2, 4):
        for sigma in (0.0, 10.0):
            n = 1 if sigma == 0 else realisations
            for f in range(folds):
                for s in range(seeds):
                    for r in range(n):
                        noise = rng.normal(0, 0.02 * sigma / 10 * (3 if bits == 2 else 1))
                        acc = 0.85 + speaker[f] + model[f, s] + (bits == 4) * 0.02 + noise
                        rows.append(
                            dict(
                                bits=bits,
                                sigma_uS=sigma,
                                realisation=r,
                                accuracy=acc,
                                failure="",
                                seed=s,
                                fold=f,
                            )  # fmt: skip
                        )
    return pd.DataFrame(rows)


@pytest.fixture
def results(tmp_path):
    """results/paper/ with a deployment chapter (a stale and a current checkpoint of grid fig4,
    its paired table), a chapter with one seed and one programming per model, a chapter with
    tables but no grid, an empty chapter, and a chapter whose rows are not one per programming."""
    paper = tmp_path / "results" / "paper"
    dep = paper / "hardware_deployment"
    dep.mkdir(parents=True)
    stale = dep / ".fig4-000000000000.partial.csv"
    grid_rows(1, 1).assign(accuracy=0.5).to_csv(stale, index=False)
    os.utime(stale, (1, 1))
    grid_rows().to_csv(dep / ".fig4-abcdefabcdef.partial.csv", index=False)
    pd.DataFrame(
        {"sigma_uS": [0.0, 10.0], "a": [4, 4], "b": [2, 2], "difference_points": [2.0, 2.0]}
    ).to_csv(dep / "fig4_paired.csv", index=False)
    one = paper / "stability_margin"
    one.mkdir()
    grid_rows(1, 1).to_csv(one / ".margin-123412341234.partial.csv", index=False)
    (paper / "float_baseline").mkdir()
    pd.DataFrame({"fold": [0], "accuracy": [0.9]}).to_csv(
        paper / "float_baseline" / "folds.csv", index=False
    )
    (paper / "periphery").mkdir()
    dup = paper / "state_memory"
    dup.mkdir()
    grid_rows().drop(columns="bits").to_csv(
        dup / ".main_noise-aaaaaaaaaaaa.partial.csv", index=False
    )
    params = tmp_path / "params" / "paper"
    params.mkdir(parents=True)
    (params / "_shared.yaml").write_text("seeds: [0, 1]\nselection_seeds: [0]\n")
    (params / "hardware_deployment.yaml").write_text("realisations: 4\nstep: {realisations: 3}\n")
    return tmp_path


def test_programming_rows_take_the_cell_keys_before_the_rows_columns():
    rows, keys = programming_rows(grid_rows())
    assert keys == ["bits", "sigma_uS"]
    assert list(rows.columns) == ["bits", "sigma_uS", "fold", "seed", "realisation", "points"]
    assert rows["points"].mean() == pytest.approx(100 * grid_rows()["accuracy"].mean())
    clips = pd.DataFrame(
        {"bits": 2, "fold": [0, 0, 0, 1], "seed": 0, "clip": [0, 1, 2, 3], "correct": [1, 0, 1, 1]}
    )
    per_run, keys = programming_rows(clips)
    assert keys == ["bits"]
    assert per_run["points"].tolist() == pytest.approx([200 / 3, 100.0])


def test_the_deployment_grid_gets_both_cuts_and_its_planned_differences(results):
    paper = results / "results" / "paper"
    params = {"seeds": [0, 1], "realisations": 4, "step": {"realisations": 3}}
    table = chapter_power(paper / "hardware_deployment", "hardware_deployment", params)
    assert list(table.columns) == COLUMNS
    assert set(table["source"]) == {".fig4-abcdefabcdef.partial.csv"}  # the newest checkpoint
    assert set(table["resource"]) == {"realisations 4 -> 2", "seeds 2 -> 1"}
    assert set(table["param"]) == {"realisations", "seeds"}
    assert table.groupby(["resource", "kind"]).size().to_dict() == {
        ("realisations 4 -> 2", "accuracy"): 4,
        ("realisations 4 -> 2", "difference"): 2,
        ("seeds 2 -> 1", "accuracy"): 4,
        ("seeds 2 -> 1", "difference"): 2,
    }
    real = table[table["resource"] == "realisations 4 -> 2"].set_index("point")
    # sigma 0: one programming per model, nothing to cut
    assert real.loc["bits=2; sigma_uS=0", ["before", "after", "growth"]].tolist() == [1, 1, 1]
    assert real.loc["bits=2; sigma_uS=10", ["before", "after"]].tolist() == [4, 2]
    assert real.loc["bits=2; sigma_uS=10", "growth"] > 1
    # bits 2's programmings vary 3 times as much as bits 4's: its cut costs more
    assert real.loc["bits=2; sigma_uS=10", "growth"] > real.loc["bits=4; sigma_uS=10", "growth"]
    # grid programmings: 2 x 12 at sigma 0 stay, 2 x 48 at sigma 10 halve
    assert real["time_share"].iloc[0] == pytest.approx((24 + 48) / (24 + 96))
    seeds = table[table["resource"] == "seeds 2 -> 1"]
    assert (seeds["after"] == 1).all() and (seeds["time_share"] == 0.5).all()
    assert (table["half_width_after_points"] >= table["half_width_before_points"] - 1e-9).all()


def test_a_planned_differences_half_width_before_the_cut_is_the_books_interval(results):
    rows = grid_rows()
    diffs = planned_differences(
        *programming_rows(rows),
        {"paired": pd.read_csv(results / "results/paper/hardware_deployment/fig4_paired.csv")},
    )
    assert sorted(diffs) == ["bits=4 - 2; sigma_uS=0", "bits=4 - 2; sigma_uS=10"]
    book = paired_contrast(rows, "bits", 4, 2, ["sigma_uS"]).set_index("sigma_uS")
    table = chapter_power(results / "results/paper/hardware_deployment", "hardware_deployment", {})
    got = table[(table["kind"] == "difference") & (table["resource"] == "seeds 2 -> 1")]
    for sigma, point in ((0.0, "bits=4 - 2; sigma_uS=0"), (10.0, "bits=4 - 2; sigma_uS=10")):
        row = got.set_index("point").loc[point]
        half = (book.loc[sigma, "ci_high"] - book.loc[sigma, "ci_low"]) / 2
        assert row["half_width_observed_points"] == pytest.approx(half)
        assert row["half_width_before_points"] >= half - 1e-9  # equal unless a component clipped
    assert diffs["bits=4 - 2; sigma_uS=10"]["points"].mean() == pytest.approx(
        book.loc[10.0, "difference_points"]
    )


def test_chapters_that_cannot_be_cut_are_reported_not_failed(results):
    paper = results / "results" / "paper"
    notes = {
        name: chapter_power(paper / name, name, {})["note"].tolist()
        for name in ("stability_margin", "float_baseline", "periphery", "state_memory")
    }
    assert notes["stability_margin"] == [
        "not cuttable here: one realisation per model",
        "not cuttable here: one seed per fold",
    ]
    assert notes["float_baseline"] == ["not cuttable here: no per-programming rows"]
    assert notes["periphery"] == ["not cuttable here: no results yet"]
    assert notes["state_memory"][0].startswith("not cuttable here: more than one row per")


def test_resource_params_name_the_key_that_sets_the_count():
    values = {
        "seeds": [0, 1],
        "selection_seeds": [0],
        "realisations": 2,
        "step": {"realisations": 3},
    }
    assert resource_params(values, "realisations", 3) == "step.realisations"
    assert resource_params(values, "realisations", 5) == ""
    assert resource_params(values, "seeds", 2) == "seeds"
    assert resource_params(values | {"aware_seeds": [0, 1]}, "seeds", 2) == "aware_seeds"
    assert resource_params(values, "seeds", 1) == ""


def test_the_entry_point_ranks_the_cuts_and_writes_the_table(results, monkeypatch, capsys):
    monkeypatch.chdir(results)
    monkeypatch.delenv("IMSSA_RESULTS_DIR", raising=False)
    ledger = results / "_build" / "executed" / "paper" / ".ledger"
    ledger.mkdir(parents=True)
    (ledger / "hardware_deployment.jsonl").write_text(
        '{"kind": "task", "grid": "fig4", "seconds": 20.0}\n'
        '{"kind": "task", "grid": "fig4", "seconds": 10.0}\n'
        '{"kind": "grid", "grid": "fig4", "seconds": 31.0}\n'
    )
    table = main(["--profile", "paper"])
    fig4 = table[table["grid"] == "fig4"]
    assert (fig4["grid_seconds"] == 30.0).all()
    assert np.allclose(fig4["saved_seconds"], 30.0 * (1 - fig4["time_share"]))
    written = pd.read_csv(results / "_build" / "power" / "paper.csv")
    assert len(written) == len(table) and list(written.columns) == COLUMNS
    cuts = pd.read_csv(results / "_build" / "power" / "paper_cuts.csv")
    assert list(cuts.columns) == CUT_COLUMNS
    # the deployment chapter's two cuts ranked by median growth; the chapters in book order
    dep = cuts[cuts["chapter"] == "hardware_deployment"]
    assert dep["resource"].tolist() == sorted(
        dep["resource"], key=lambda r: dep.set_index("resource").loc[r, "growth_median"]
    )
    assert (dep["basis"] == "difference").all() and (dep["compared"] == 2).all()
    assert list(dict.fromkeys(cuts["chapter"])) == [
        "float_baseline",
        "hardware_deployment",
        "periphery",
        "stability_margin",
        "state_memory",
    ]
    out = capsys.readouterr().out
    assert "== hardware_deployment" in out and "not cuttable here: no results yet" in out
