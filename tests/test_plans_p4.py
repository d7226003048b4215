"""The plans of 'What the state remembers' and 'Memory that survives programming'
(``imssa.study.plans``) against the library calls the chapters' cells make, with the ci
parameters: the same runs, the exact number of runs a validation choice adds, every model the
later cells load inside the plan, and the grids' tasks from the cells' builders."""

import itertools
import re
from pathlib import Path

import jupytext
import pandas as pd
import pytest

from imssa.model.cache import Run, run_key
from imssa.study import design_noise, memory_laws, selection
from imssa.study import memory_programming as mp
from imssa.study.memory_noise import main_noise_cells, noise_cells, noise_models
from imssa.study.memory_task import (
    FLOAT_S4D,
    memory_runs,
    memory_spec,
    schedule_runs,
    schedule_sweep,
)
from imssa.study.params import chapter_file_values, validate_params
from imssa.study.plans import UNDECLARED, plan_of
from imssa.study.runs import current_value
from imssa.study.stateless_controls import main_task_runs, main_task_specs

ROOT = Path(__file__).resolve().parents[1]


def _ci(chapter):
    path = ROOT / "params" / "ci" / f"{chapter}.yaml"
    return validate_params(chapter, chapter_file_values(chapter, path), source=str(path))


def _keys(runs):
    return {run_key(r) for r in runs}


def _code(chapter):
    nb = jupytext.read(ROOT / "book" / f"{chapter}.md")
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def test_both_plans_are_declared():
    assert not {"state_memory", "memory_programming"} & UNDECLARED


def test_state_memory_plans_the_runs_its_cells_train(monkeypatch):
    cfg = _ci("state_memory")
    plan = plan_of("state_memory", cfg)
    main = list(plan.stage("main-task models").values())
    assert _keys(main) == _keys(main_task_runs(cfg)[1])
    assert len(main) == len(main_task_specs(cfg)) * len(cfg.shared.folds) * len(cfg.memory_seeds)
    assert len(main) == (3 + 2 * len(cfg.fir_taps)) * len(cfg.shared.folds) * len(cfg.memory_seeds)
    trained = []

    def fake_sweep(points, runs, n_classes, workers, desc):
        trained.extend(runs)
        return pd.DataFrame(points)

    monkeypatch.setattr(selection, "train_sweep", fake_sweep)
    schedule_sweep(cfg)  # what the chapter's cell trains
    planned = plan.stage("memory schedule").values()
    assert trained and _keys(trained) == _keys(planned) == _keys(schedule_runs(cfg)[1])
    assert len(trained) == len(planned)


def _asked(runs):
    """The keys a build asks the model cache for: the runs and the float runs they start from."""
    return _keys(runs) | _keys(Run(r.data, *r.init_from) for r in runs if r.init_from is not None)


def test_state_memory_counts_the_runs_any_chosen_schedule_adds():
    cfg = _ci("state_memory")
    plan = plan_of("state_memory", cfg)
    assert _asked(plan.stage("main-task models").values()) <= plan.keys()
    (path, values), *_ = cfg.memory_selection.items()
    used = current_value(cfg, path)
    options = [{}, {path: type(used)(next(v for v in values if v != used))}]
    extras = []
    for moves in itertools.product(options, repeat=len(cfg.shared.folds)):
        schedule = {f: m for f, m in zip(cfg.shared.folds, moves, strict=True) if m}
        runs = memory_runs(cfg, schedule)[1]
        extras.append(len(_asked(runs) - plan.keys()))
        # the post-training quantization and the noise grid load only these runs
        loaded = [
            memory_spec(cfg, m, s, f, schedule)
            for m in [FLOAT_S4D, *noise_models(cfg)]
            for f in cfg.shared.folds
            for s in cfg.memory_seeds
        ]
        assert _keys(loaded) <= _keys(runs)
    assert max(extras) == plan.chosen["memory models"]
    # one swept parameter: the float S4D runs are the validation sweep's, the rest are new
    float_runs = len(cfg.shared.folds) * len(cfg.memory_seeds)
    assert plan.chosen["memory models"] == len(runs) - float_runs


def test_state_memory_grids_are_its_cells_and_load_planned_models():
    cfg = _ci("state_memory")
    plan = plan_of("state_memory", cfg)
    cells, main_cells = noise_cells(cfg), main_noise_cells(cfg)
    assert dict(plan.grids) == {"memory_noise": len(cells), "main_noise": len(main_cells)}
    n = len(noise_models(cfg)) * len(cfg.sigmas_uS) * len(cfg.shared.devices_per_element)
    assert len(cells) == n
    assert len(main_cells) == (1 + len(cfg.fir_taps)) * len(cfg.sigmas_uS)
    specs = main_task_specs(cfg)
    loaded = [
        specs[c["label"]](s, f)
        for c in main_cells
        for f in cfg.shared.folds
        for s in cfg.memory_seeds
    ]
    assert _keys(loaded) <= _keys(plan.stage("main-task models").values())


def _bits_choices(cfg):
    """Every bits choice the chapter can make: per front end and fold, a width of its Cartesian
    sweep at design_bits."""
    widths = {
        f.name: sorted(
            {
                b
                for sw in cfg.bits_sweeps
                if sw.front_end == f.name
                and "cartesian" in sw.a_grids
                and cfg.design_bits in sw.bits_BC
                for b in sw.bits_A
            }
        )
        for f in cfg.front_ends
    }
    slots = [(fe, fold) for fe in widths for fold in cfg.shared.folds]
    for pick in itertools.product(*(widths[fe] for fe, _ in slots)):
        bits = {}
        for (fe, fold), b in zip(slots, pick, strict=True):
            bits.setdefault(fe, {})[fold] = b
        yield bits


def test_memory_programming_plans_its_sweep_and_counts_each_chosen_design(monkeypatch):
    cfg = _ci("memory_programming")
    plan = plan_of("memory_programming", cfg)
    assert _keys(plan.stage("memory designs").values()) == _keys(mp.sweep_runs(cfg)[1])
    assert _asked([r for stage in plan.runs.values() for r in stage.values()]) <= plan.keys()
    fes, fe4 = [f.name for f in cfg.front_ends], [cfg.four_class_front_end]
    choices = list(_bits_choices(cfg))
    assert len(choices) > 1
    for bits in choices:
        order = mp.chosen_runs(cfg, bits, "order", fes)[1]
        assert _asked(order) <= plan.keys()  # the chosen design was trained in the bits sweep
        main = mp.chosen_runs(cfg, bits, "main", fes)[1]
        assert len(_asked(main) - plan.keys()) == plan.chosen["main task"]
        four = mp.chosen_runs(cfg, bits, "order", fe4, classes=4, paper_method=True)[1]
        assert len(_asked(four) - plan.keys()) == plan.chosen["four-class task"]
    assert plan.chosen["main task"] == len(fes) * len(cfg.shared.folds) * len(cfg.memory_seeds)


def test_memory_programming_loads_only_planned_models_and_its_grid_is_its_cells(monkeypatch):
    cfg = _ci("memory_programming")
    plan = plan_of("memory_programming", cfg)
    loaded = []
    monkeypatch.setattr(
        memory_laws,
        "pole_survival",
        lambda cfg, fe, runs, grids: loaded.extend(runs.values()) or pd.DataFrame({"x": [0]}),
    )
    memory_laws.pole_survival_table(cfg)

    def fake_load(run, n_classes):
        loaded.append(run)
        return None, None, "not trained here"

    monkeypatch.setattr(design_noise, "load_model", fake_load)
    cells = design_noise.noise_cells(cfg)
    bits, cell = next(_bits_choices(cfg)), cells[0]
    fe = cell["front_end"]
    design_noise.noise_cell(cfg, fe, cell["placement"], bits[fe], cell)
    assert loaded and _keys(loaded) <= plan.keys()
    assert dict(plan.grids) == {"noise": len(cells)}
    assert len(cells) == (
        len(cfg.noise_front_ends)
        * len(mp.PLACEMENTS)
        * len(cfg.sigmas_uS)
        * len(cfg.shared.devices_per_element)
    )


@pytest.mark.parametrize(
    ("chapter", "calls"),
    [
        (
            "state_memory",
            [
                "stateless_controls.main_task_runs(cfg)",
                "memory_task.schedule_sweep(cfg)",
                "memory_task.memory_runs(cfg, schedule)",
                "memory_noise.noise_cells(cfg)",
                "memory_noise.main_noise_cells(cfg)",
            ],
        ),
        (
            "memory_programming",
            [
                "memory_programming.sweep_runs(cfg)",
                "memory_programming.chosen_runs(",
                "design_noise.noise_cells(cfg)",
            ],
        ),
    ],
)
def test_the_cells_build_runs_and_grids_with_the_plan_s_functions(chapter, calls):
    code = _code(chapter)
    missing = [c for c in calls if c not in code]
    assert not missing, f"{chapter}: the cells no longer call {missing}"
    grids = set(re.findall(r'ch\.grid\(\s*"([^"]+)"', code))
    assert grids == set(plan_of(chapter, _ci(chapter)).grids)
