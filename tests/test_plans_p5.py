"""The build plans of the chapters quantization_strategy and depth_scale against the library calls
their cells make: the same stages, runs and grid tasks, so that the plan and the chapter cannot
drift (the runner checks the executed chapter's ledger against the plan as well)."""

import itertools
import re
from pathlib import Path

import pytest

from imssa.model.cache import run_key
from imssa.study import scale
from imssa.study.params import load_params
from imssa.study.plans import PLANS, UNDECLARED, plan_of
from imssa.study.runs import float_spec
from imssa.study.strategy import (
    strategy_cells,
    strategy_converter_cells,
    strategy_converter_task,
    strategy_keys,
    strategy_runs,
    strategy_spec,
)

BOOK = Path(__file__).parents[1] / "book"
PROFILES = ["ci", "paper"]


def cfg_of(chapter: str, profile: str):
    return load_params(chapter, f"params/{profile}/{chapter}.yaml")


def keys_of(runs) -> set[str]:
    return {run_key(r) for r in runs}


def names_in_chapter(chapter: str) -> tuple[set[str], set[str]]:
    """The stage names of the chapter's ``ch.models("...")`` calls and the grid names of its
    ``ch.grid("...", ...)`` calls, read from its source."""
    text = (BOOK / f"{chapter}.md").read_text()
    stages = set(re.findall(r'ch\.models\("([^"]+)"', text))
    grids = set(re.findall(r'ch\.grid\(\s*"([^"]+)"', text))
    return stages, grids


@pytest.mark.parametrize("chapter", ["quantization_strategy", "depth_scale"])
def test_the_chapter_is_declared_and_its_cells_name_exactly_the_planned_stages_and_grids(chapter):
    assert chapter in PLANS and chapter not in UNDECLARED
    plan = plan_of(chapter, cfg_of(chapter, "ci"))
    stages, grids = names_in_chapter(chapter)
    assert stages == set(plan.runs) - set(scale.HEIDELBERG_STAGES)
    assert grids == set(plan.grids)


@pytest.mark.parametrize("profile", PROFILES)
def test_strategy_plan_is_every_run_the_chapter_loads_once_and_its_grids_tasks(profile):
    cfg = cfg_of("quantization_strategy", profile)
    plan = plan_of("quantization_strategy", cfg)
    assert {k: dict(v) for k, v in plan.runs.items()} == strategy_runs(cfg)
    keys = strategy_keys(cfg)
    floats = plan.stage("float models")
    assert list(floats) == keys and keys_of(floats.values()) == keys_of(
        float_spec(cfg, s, f) for s, f in keys
    )
    # every strategy's model (strategy_model: QAT from the cache, PTQ from the float model) is
    # planned, and no run twice
    loaded = keys_of(strategy_spec(cfg, s, seed, f) for s in cfg.strategies for seed, f in keys)
    assert loaded == plan.keys()
    qat = plan.stage("strategies").values()
    assert len(keys_of(qat)) == len(qat) and not keys_of(qat) & keys_of(floats.values())
    assert plan.grids["hardware"] == len(strategy_cells(cfg)) == len(cfg.strategies) * len(keys)
    # the converter check has as many tasks whichever strategy the chapter recommends
    for chosen in [s.name for s in cfg.strategies]:
        tasks = len(strategy_converter_cells(cfg, chosen)) * len(keys)
        assert plan.grids["converters"] == tasks
    assert plan.chosen == {}


def test_the_converter_check_of_a_recommendation_that_is_plain_qat_computes_nothing_twice():
    cfg = cfg_of("quantization_strategy", "ci")
    base, empty = strategy_converter_cells(cfg, cfg.baseline)
    assert base == {"strategy": cfg.baseline} and empty == {"strategy": ""}
    assert strategy_converter_task(cfg, empty, strategy_keys(cfg), 10.0, 8, 6, 1.1) == []
    other = next(s.name for s in cfg.strategies if s.name != cfg.baseline)
    assert strategy_converter_cells(cfg, other)[1] == {"strategy": other}


@pytest.mark.parametrize("profile", PROFILES)
def test_scale_plan_is_every_model_of_the_studies_floats_first_and_its_grids_tasks(profile):
    cfg = cfg_of("depth_scale", profile)
    plan = plan_of("depth_scale", cfg)
    cells = scale.study_cells(cfg)
    # the chapter's software table and stack check load every model of cells["models"]
    runs = [scale.run_spec(cfg, scale.spec_of(c), c["seed"], c["fold"]) for c in cells["models"]]
    floats, qat = plan.stage("float models"), plan.stage("QAT models")
    assert keys_of(floats.values()) == keys_of(r for r in runs if r.init_from is None)
    assert keys_of(qat.values()) == keys_of(r for r in runs if r.init_from is not None)
    assert len(floats) + len(qat) == len(cells["models"])
    assert plan.grids["depth"] == plan.grids["converters"] == len(cells["depth"])
    assert plan.grids["hardware"] == len(cells["hardware"])
    assert all(c["bits"] is not None for c in cells["depth"] + cells["hardware"])
    assert not {tuple(c.items()) for c in cells["depth"]} & {
        tuple(c.items()) for c in cells["hardware"]
    }


@pytest.mark.parametrize("profile", PROFILES)
def test_every_depth_choice_fits_the_plan_of_the_ten_digit_models(profile):
    cfg = cfg_of("depth_scale", profile)
    plan = plan_of("depth_scale", cfg)
    for depths in itertools.product(cfg.ten_depths, repeat=len(cfg.scale_folds)):
        best = scale.best_depth_cells(cfg, dict(zip(cfg.scale_folds, depths, strict=True)))
        runs = [scale.run_spec(cfg, scale.spec_of(c), c["seed"], c["fold"]) for c in best]
        # the float models at the chosen depths are trained first; the quantized ones after the
        # choice, no more of them than the plan allows, and the grid as planned
        assert keys_of(r for r in runs if r.init_from is None) <= plan.keys()
        extra = keys_of(r for r in runs if r.init_from is not None) - plan.keys()
        assert len(extra) <= plan.chosen["ten digits, best depth"]
        assert plan.grids["ten_best"] == len(scale.quantized_cells(best))
        assert plan.chosen["ten digits, best depth"] == len(scale.quantized_cells(best))


def test_heidelberg_models_are_planned_only_where_its_files_are(monkeypatch):
    cfg = cfg_of("depth_scale", "ci")
    monkeypatch.setattr(scale, "heidelberg_present", lambda *a: False)
    assert not set(scale.HEIDELBERG_STAGES) & set(plan_of("depth_scale", cfg).runs)
    monkeypatch.setattr(scale, "heidelberg_present", lambda *a: True)
    plan = plan_of("depth_scale", cfg)
    hd_float, hd_qat = (plan.stage(s) for s in scale.HEIDELBERG_STAGES)
    assert len(hd_float) + len(hd_qat) == len(scale.heidelberg_cells(cfg))
    assert all(r.data.dataset == "heidelberg" for r in [*hd_float.values(), *hd_qat.values()])
    assert all(r.init_from is not None for r in hd_qat.values())
