"""The build plans of the chapters s4d_first_principles, float_baseline, fixed_range_qat and
crossbar_mapping against what their cells train: the plan's stages are the runs of the library
calls the notebooks make, the notebooks build runs with no other call, and a chapter run from an
empty model cache (every run trained, fine-tuned runs loading their float starting points) keeps
to its plan (``build.check_ledger``)."""

import re
from pathlib import Path

import jupytext
import pandas as pd
import pytest

from imssa.model.cache import Run, run_key
from imssa.study import selection
from imssa.study.build import chapter_plans, check_ledger
from imssa.study.mapping_tables import mapped_specs
from imssa.study.params import chapter_file_values, validate_params
from imssa.study.plans import PLANS, UNDECLARED, starting_run
from imssa.study.runs import (
    comparison_specs,
    float_curve_specs,
    float_spec,
    official_specs,
    qat_curve_specs,
    qat_detail_spec,
    qat_sweep_specs,
    reference_specs,
    stage_runs,
)

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ["s4d_first_principles", "float_baseline", "fixed_range_qat", "crossbar_mapping"]

#: the calls that build training runs in each chapter's cells (a function named ``*_spec``,
#: ``*_specs`` or a validation sweep); each is one the chapter's plan calls
RUN_BUILDERS = {
    "s4d_first_principles": set(),
    "float_baseline": {
        "baseline_selection",
        "float_curve_specs",
        "comparison_specs",
        "official_specs",
        "float_spec",
    },
    "fixed_range_qat": {
        "qat_selection_specs",
        "qat_curve_specs",
        "qat_sweep_specs",
        "reference_specs",
        "qat_detail_spec",
    },
    "crossbar_mapping": {"mapped_specs"},
}


def _cfg(chapter: str, profile: str = "ci"):
    path = ROOT / "params" / profile / f"{chapter}.yaml"
    return validate_params(chapter, chapter_file_values(chapter, path), source=str(path))


def _code(chapter: str) -> str:
    nb = jupytext.read(ROOT / "book" / f"{chapter}.md")
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def _keys(runs) -> list[str]:
    return [run_key(r) for r in runs]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_chapter_is_declared_and_its_cells_build_runs_only_with_the_plans_calls(chapter):
    assert chapter in PLANS and chapter not in UNDECLARED
    builders = r"\b(\w+_specs?|baseline_selection|validation_sweep)\("
    called = set(re.findall(builders, _code(chapter)))
    assert called == RUN_BUILDERS[chapter], (
        f"{chapter}'s cells build runs with {sorted(called)}: a new one goes into its plan "
        f"(imssa/study/plans/{chapter}.py) and into RUN_BUILDERS"
    )


def test_float_baseline_plan_is_the_runs_its_cells_train(monkeypatch):
    cfg = _cfg("float_baseline")
    plan = PLANS["float_baseline"](cfg)
    trained: list[Run] = []

    def sweep(points, runs, n_classes, workers=1, desc=""):  # the notebook's selection, untrained
        trained.extend(runs)
        return pd.DataFrame(points)

    monkeypatch.setattr(selection, "train_sweep", sweep)
    selection.baseline_selection(cfg, n_classes=2)
    stages = [s for s in plan.runs if s.startswith("selection, ")]
    planned = [r for s in stages for r in plan.stage(s).values()]
    assert _keys(trained) == _keys(planned) and len(trained) == 16  # ci: 6 + 2 variants x 2 folds
    assert plan.stage("learning curves") == stage_runs(*float_curve_specs(cfg))
    assert plan.stage("models") == stage_runs(*comparison_specs(cfg, cfg.controls, cfg.qat_bits))
    assert plan.stage("official split") == stage_runs(*official_specs(cfg))
    recurrent = float_spec(cfg, cfg.shared.seeds[0], cfg.shared.folds[0])  # the last section's
    assert run_key(recurrent) in {run_key(r) for r in plan.stage("models").values()}
    assert not plan.chosen and not plan.grids


def test_fixed_range_qat_plan_is_the_runs_its_cells_train():
    cfg = _cfg("fixed_range_qat")
    plan = PLANS["fixed_range_qat"](cfg)
    sweeps = selection.qat_selection_specs(cfg)
    for name, specs in sweeps.items():  # the notebook names each sweep by its stage
        assert f'"{name}"' in _code("fixed_range_qat")
        assert plan.stage(name) == stage_runs(*specs)
    assert plan.stage("learning curves") == stage_runs(*qat_curve_specs(cfg))
    assert plan.stage("QAT sweep") == stage_runs(*qat_sweep_specs(cfg))
    assert plan.stage("references") == stage_runs(*reference_specs(cfg))
    assert list(plan.stage("detail model").values()) == [qat_detail_spec(cfg)]
    assert {s: len(r) for s, r in plan.runs.items()} == {
        "fixed-range choices": 4,  # fscale 0.6, 0.9 x 2 folds
        "pole cap": 2,
        "learning curves": 2,
        "QAT sweep": 12,  # 3 bit widths x 2 range modes x 2 folds
        "references": 4,
        "detail model": 1,
    }


def test_crossbar_mapping_plan_is_the_models_it_maps():
    cfg = _cfg("crossbar_mapping")
    plan = PLANS["crossbar_mapping"](cfg)
    assert plan.stage("mapped models") == mapped_specs(cfg)
    assert list(plan.stage("mapped models")) == cfg.shared.folds
    assert PLANS["s4d_first_principles"](_cfg("s4d_first_principles")).keys() == set()


@pytest.mark.parametrize("profile", ["ci", "paper"])
def test_a_chapter_run_from_an_empty_cache_keeps_to_its_plan(profile):
    """Every planned run trained in the chapter, each fine-tuned one asking for its starting point
    too (``train_model``): the ledger check finds nothing; a run outside the plan it names."""
    plans = chapter_plans(profile, CHAPTERS)
    for chapter, plan in plans.items():
        runs = [r for stage in plan.runs.values() for r in stage.values()]
        asked = runs + [starting_run(r) for r in runs if r.init_from is not None]
        lines = [{"kind": "train", "chapter": chapter, "key": run_key(r)} for r in asked]
        assert check_ledger(chapter, plan, lines) == [], chapter
    stray = {"kind": "train", "chapter": "crossbar_mapping", "key": "0" * 16}
    assert check_ledger("crossbar_mapping", plans["crossbar_mapping"], [stray])
