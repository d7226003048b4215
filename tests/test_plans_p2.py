"""The build plans of the deployment and stability-margin chapters against what the chapters do:
every model a cell of their grids programs is a planned run, every grid the notebook runs is
planned with its number of tasks, and the float runs the fine-tuned models start from are
planned beside them."""

import re

import pytest

from imssa.model.cache import Run, run_key
from imssa.study import programming
from imssa.study.build import chapter_plans
from imssa.study.deployment_sweeps import BY_MODEL, deployment_cells, deployment_keys
from imssa.study.margin_tables import margin_cells, margin_keys
from imssa.study.params import chapter_file_values, validate_params
from imssa.study.plans import UNDECLARED, starting_run
from imssa.study.results import project_root

ROOT = project_root()


def ci_params(chapter: str):
    path = ROOT / "params" / "ci" / f"{chapter}.yaml"
    return validate_params(chapter, chapter_file_values(chapter, path), source=str(path))


class Asked(Exception):
    """Raised by the stand-in model loader: the run a cell asked for is recorded, nothing runs."""


def asked_runs(monkeypatch, calls) -> set[str]:
    """The model-cache keys of the runs that ``calls`` (functions without arguments, each calling
    ``sweep_cell`` or ``radius_cell`` for one cell and model) ask the model cache for."""
    asked: set[str] = set()

    def record(run: Run, n_classes: int):
        asked.add(run_key(run))
        raise Asked

    monkeypatch.setattr(programming, "load_model", record)
    programming._deployable.cache_clear()  # a model loaded by an earlier test would hide its run
    for call in calls:
        with pytest.raises(Asked):
            call()
    programming._deployable.cache_clear()
    return asked


def notebook_grids(chapter: str) -> dict[str, bool]:
    """The grids the chapter's notebook runs (``ch.grid("<name>", ...)``), each with whether its
    call splits it by model (``models=``)."""
    text = (ROOT / "book" / f"{chapter}.md").read_text(encoding="utf-8")
    grids = {}
    for match in re.finditer(r'ch\.grid\(\s*"(\w+)"', text):
        call = text[match.start() : text.index("```", match.start())]
        grids[match.group(1)] = "models=" in call
    return grids


def keys_of(runs) -> set[str]:
    return {run_key(r) for r in runs.values()}


@pytest.mark.parametrize("chapter", ["hardware_deployment", "stability_margin"])
def test_the_plan_is_declared_and_the_notebook_asks_for_its_stages(chapter):
    plan = chapter_plans("ci", [chapter])[chapter]
    assert chapter not in UNDECLARED
    text = (ROOT / "book" / f"{chapter}.md").read_text(encoding="utf-8")
    stages = re.findall(r'ch\.models\("([^"]+)"\)', text)
    assert stages and set(stages) <= set(plan.runs)
    assert "ch.models({" not in text and "ch.models(specs" not in text  # no runs outside the plan
    fine_tuned = [r for s in stages for r in plan.stage(s).values() if r.init_from is not None]
    assert {run_key(starting_run(r)) for r in fine_tuned} <= plan.keys()  # planned with them


def test_every_model_a_deployment_grid_programs_is_a_planned_qat_model(monkeypatch):
    cfg = ci_params("hardware_deployment")
    plan = chapter_plans("ci", ["hardware_deployment"])["hardware_deployment"]
    cells = [c for cs in deployment_cells(cfg).values() for c in cs]
    calls = [
        lambda c=c, k=k: programming.sweep_cell(cfg, c, [k], 1, seed=0)
        for c in cells
        for k in deployment_keys(cfg)
    ]
    assert asked_runs(monkeypatch, calls) == keys_of(plan.stage("QAT models"))


def test_every_deployment_grid_is_planned_with_its_tasks():
    cfg = ci_params("hardware_deployment")
    plan = chapter_plans("ci", ["hardware_deployment"])["hardware_deployment"]
    cells, models = deployment_cells(cfg), len(deployment_keys(cfg))
    grids = notebook_grids("hardware_deployment")
    assert set(grids) == set(plan.grids) == set(cells)
    assert {g for g, split in grids.items() if split} == set(BY_MODEL)
    assert plan.grids == {g: len(cells[g]) * (models if split else 1) for g, split in grids.items()}


def test_every_model_a_margin_grid_programs_is_a_planned_margin_model(monkeypatch):
    cfg = ci_params("stability_margin")
    plan = chapter_plans("ci", ["stability_margin"])["stability_margin"]
    cells, keys = margin_cells(cfg), margin_keys(cfg)
    calls = [
        lambda c=c, k=k: programming.sweep_cell(cfg, c, [k], 1)
        for c in cells["margin"]
        for k in keys
    ] + [
        lambda c=c, k=k: programming.radius_cell(cfg, c, [k], 1)
        for c in cells["zeros_radii"]
        for k in keys
    ]
    assert asked_runs(monkeypatch, calls) == keys_of(plan.stage("margin models"))


def test_every_margin_grid_is_planned_with_its_tasks():
    cfg = ci_params("stability_margin")
    plan = chapter_plans("ci", ["stability_margin"])["stability_margin"]
    cells, grids = margin_cells(cfg), notebook_grids("stability_margin")
    assert not any(grids.values())  # one task per cell
    assert plan.grids == {g: len(cells[g]) for g in grids} and set(grids) == set(cells)


def test_fine_tuned_runs_share_their_float_starting_point_once():
    cfg = ci_params("hardware_deployment")
    plan = chapter_plans("ci", ["hardware_deployment"])["hardware_deployment"]
    floats = {(r.train.seed, r.data.fold): r for r in plan.all_runs() if r.init_from is None}
    assert sorted(floats) == sorted(deployment_keys(cfg))  # (seed, fold): one per model, not bits
    assert all(r.train.epochs == cfg.shared.train.epochs for r in floats.values())
    assert len(plan.all_runs()) == len(plan.stage("QAT models")) + len(floats)
