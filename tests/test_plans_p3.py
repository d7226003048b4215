"""The plans of the periphery and device-technologies chapters against the chapters themselves:
the stages and grids the plan declares are the ones the notebook asks for, built by the same
library functions, and every model a grid's cell deploys is a planned run (else the ledger check
fails the build)."""

import re
from pathlib import Path

import jupytext
import pytest

from imssa.model.cache import run_key
from imssa.study import periphery_designs, technology_claims
from imssa.study.params import load_params
from imssa.study.plans import UNDECLARED, plan_of
from imssa.study.runs import qat_spec

BOOK = Path(__file__).resolve().parents[1] / "book"
PROFILES = ["ci", "paper"]


def code(chapter: str) -> str:
    """The code of ``chapter``'s notebook, its cells joined."""
    cells = jupytext.read(BOOK / f"{chapter}.md").cells
    return "\n".join(c.source for c in cells if c.cell_type == "code")


def cfg_of(chapter: str, profile: str):
    return load_params(chapter, f"params/{profile}/{chapter}.yaml")


def deployed_keys(cfg, cells, models) -> set[str]:
    """The model-cache keys of the QAT models that ``cells`` deploy for the (seed, fold)
    ``models`` (``programming.deployable``: the cell's bits, fixed range, no pole cap)."""
    assert not any("r_max" in c for c in cells)
    return {run_key(qat_spec(cfg, c["bits"], "fixed", s, f)) for c in cells for s, f in models}


def test_both_chapters_declare_their_plans():
    assert not {"periphery", "device_technologies"} & UNDECLARED


@pytest.mark.parametrize("profile", PROFILES)
def test_the_periphery_plan_is_what_its_notebook_trains_and_sweeps(profile):
    cfg = cfg_of("periphery", profile)
    plan, cells = plan_of("periphery", cfg), periphery_designs.grid_cells(cfg)
    models = periphery_designs.qat_models(cfg)
    assert list(plan.runs) == ["QAT models"]
    assert {k: run_key(r) for k, r in plan.stage("QAT models").items()} == {
        k: run_key(r) for k, r in models.items()
    }
    assert plan.grids == {name: len(c) * len(models) for name, c in cells.items()}
    for c in cells.values():
        assert deployed_keys(cfg, c, models) <= plan.keys()
    source = code("periphery")
    # the notebook trains only the plan's stage, and runs each grid on the same builder's cells
    assert re.findall(r"ch\.models\((.*?)\)", source) == ['"QAT models"']
    assert "keys = list(models)" in source
    grids = re.findall(r'ch\.grid\(\s*"([^"]+)",\s*cells\["([^"]+)"\]', source)
    assert [a for a, _ in grids] == [b for _, b in grids] == list(plan.grids)
    assert source.count("ch.grid(") == len(plan.grids)


@pytest.mark.parametrize("profile", PROFILES)
def test_the_device_technologies_plan_is_what_its_notebook_trains_and_sweeps(profile):
    cfg = cfg_of("device_technologies", profile)
    plan, cells = plan_of("device_technologies", cfg), technology_claims.technology_grids(cfg)
    keys = technology_claims.technology_model_keys(cfg)
    runs = technology_claims.technology_runs(cfg)
    assert list(plan.runs) == ["QAT models"]
    assert {k: run_key(r) for k, r in plan.stage("QAT models").items()} == {
        k: run_key(r) for k, r in runs.items()
    }
    assert {(s, f) for _, s, f in runs} == set(keys)
    assert plan.grids == {name: len(c) * len(keys) for name, c in cells.items()}
    for c in cells.values():
        assert deployed_keys(cfg, c, keys) <= plan.keys()
    source = code("device_technologies")
    assert re.findall(r"ch\.models\((.*?)\)", source) == ['"QAT models"']
    assert "keys = technology_model_keys(cfg)" in source
    assert "grids = technology_grids(cfg)" in source
    # one ch.grid call, inside sweep(name), on grids[name]; each sweep named once, in plan order
    assert source.count("ch.grid(") == 1 and "ch.grid(name, cells, rows, models=keys)" in source
    assert re.findall(r'\bsweep\("([^"]+)"', source) == list(plan.grids)


def test_the_technologies_grid_holds_only_what_a_technology_fits():
    cfg = cfg_of("device_technologies", "ci")
    cells = technology_claims.technology_grids(cfg)["technologies"]
    # the binary MRAM device holds the 1- and 2-bit models; ideal every width
    assert ("stt_mram_binary", 1) in {(c["technology"], c["bits"]) for c in cells}
    assert {c["bits"] for c in cells if c["technology"] == "ideal"} == set(cfg.tech_bits)
