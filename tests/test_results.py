"""Results tables: where they go and which code wrote them (provenance columns, version flag)."""

import shutil
import subprocess

import pandas as pd
import pytest

from imssa.study import results as R


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("IMSSA_RESULTS_DIR", str(tmp_path))
    return tmp_path


def test_every_saved_table_names_the_code_that_wrote_it(results):
    df = pd.DataFrame({"bits": [2, 5], "accuracy": [0.9, 0.8]})
    path = R.save_table(df, "custom", "chapter", "grid")
    assert path == results / "custom" / "chapter" / "grid.csv"
    back = pd.read_csv(path, dtype=str)
    assert list(back.columns) == ["bits", "accuracy", *R.PROVENANCE_COLUMNS]
    assert (back["code_revision"] == R.code_revision()).all() and (
        back["library_digest"] == R.library_digest()
    ).all()
    assert list(df.columns) == ["bits", "accuracy"]  # the caller's frame is untouched
    assert R.version_flag(R.read_table("custom", "chapter", "grid")) == ""
    assert R.provenance(back) == {
        "code_revision": (R.code_revision(),),
        "library_digest": (R.library_digest(),),
        "compute_device": ("cpu",),
    }
    assert R.read_table("custom", "chapter", "absent") is None


def test_saving_again_overwrites_old_provenance(results):
    old = pd.DataFrame({"x": [1], "code_revision": ["abc"], "library_digest": ["0123"]})
    back = pd.read_csv(R.save_table(old, "custom", "chapter", "t"), dtype=str)
    assert (
        list(back.columns) == ["x", *R.PROVENANCE_COLUMNS]
        and back["library_digest"].iloc[0] == R.library_digest()
    )


def test_the_digest_covers_every_source_file_path_and_bytes(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "a.py").write_text("x = 1\n")
    (pkg / "sub" / "b.py").write_text("y = 2\n")
    (pkg / "notes.txt").write_text("not source")
    first = R.source_digest(pkg)
    assert len(first) == 16 and first == R.source_digest(pkg)
    (pkg / "notes.txt").write_text("still not source")
    assert R.source_digest(pkg) == first
    (pkg / "sub" / "b.py").write_text("y = 3\n")
    edited = R.source_digest(pkg)
    assert edited != first
    (pkg / "sub" / "b.py").rename(pkg / "sub" / "c.py")
    assert R.source_digest(pkg) != edited
    assert R.library_digest() == R.source_digest(R._PACKAGE)


def test_version_flag_flags_rows_of_another_library():
    cur = R.library_digest()
    rev = "0123456789abcdef0123456789abcdef01234567+dirty"
    same = pd.DataFrame({"x": [1, 2], "code_revision": "r", "library_digest": cur})
    assert R.version_flag(same) == ""
    mixed = pd.concat(
        [same, pd.DataFrame({"x": [3], "code_revision": [rev], "library_digest": ["feedbeef"]})]
    )
    assert (
        R.version_flag(mixed) == f"written by 0123456789ab+dirty (library feedbeef), current {cur}"
    )
    assert R.provenance(mixed)["library_digest"] == (cur, "feedbeef")
    assert R.version_flag(same, current="feedbeef").startswith("written by r (library ")
    assert R.version_flag(pd.DataFrame({"x": [1]})) == "no provenance (written before provenance)"
    assert R.provenance(pd.DataFrame({"x": [1]})) == {}
    assert "library unknown" in R.version_flag(same.assign(library_digest=[cur, None]))


def test_version_flag_flags_rows_of_another_device():
    cur = R.library_digest()
    table = pd.DataFrame(
        {
            "x": [1, 2],
            "code_revision": "r",
            "library_digest": cur,
            "compute_device": ["cpu", "cuda:0"],
        }
    )
    assert R.version_flag(table) == "computed on cuda:0, here cpu"
    assert R.version_flag(table, device="cuda:0") == "computed on cpu, here cuda:0"
    assert (
        R.version_flag(table.drop(columns="compute_device")) == ""
    )  # written before the column: on the CPU
    assert R.version_flag(table.assign(library_digest="feedbeef")).endswith(
        f"current {cur}; computed on cuda:0, here cpu"
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="git missing")
def test_revision_is_dirty_only_for_tracked_changes_under_the_study_folders(tmp_path):
    assert R.git_revision(tmp_path) == "unknown"  # not a checkout

    def git(*a):
        return subprocess.run(
            ["git", "-C", str(tmp_path), *a], check=True, capture_output=True, text=True
        ).stdout.strip()

    git("init", "-q")
    (tmp_path / "imssa").mkdir()
    (tmp_path / "imssa" / "m.py").write_text("x = 1\n")
    (tmp_path / "other.txt").write_text("a")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    head = git("rev-parse", "HEAD")
    assert R.git_revision(tmp_path) == head
    (tmp_path / "other.txt").write_text("b")  # outside imssa/, book/, params/
    (tmp_path / "imssa" / "new.py").write_text("untracked\n")
    assert R.git_revision(tmp_path) == head
    (tmp_path / "imssa" / "m.py").write_text("x = 2\n")
    assert R.git_revision(tmp_path) == head + "+dirty"


def test_compare_results_tells_identical_from_close_from_different(tmp_path):
    from imssa.study.results import compare_results

    before, after = tmp_path / "a" / "ci" / "ch", tmp_path / "b" / "ci" / "ch"
    before.mkdir(parents=True), after.mkdir(parents=True)
    table = pd.DataFrame(
        {"x": [0.5, 0.25], "ok": [True, False], "label": ["u", "v"], "code_revision": ["r1", "r1"]}
    )
    for name, other in [
        ("same", table.assign(code_revision="r2")),
        ("close", table.assign(x=[0.5 + 1e-12, 0.25])),
        ("far", table.assign(x=[0.6, 0.25])),
        ("text", table.assign(label=["u", "w"])),
        ("flag", table.assign(ok=[True, True])),
    ]:
        table.to_csv(before / f"{name}.csv", index=False)
        other.to_csv(after / f"{name}.csv", index=False)
    table.to_csv(before / "gone.csv", index=False)
    out = (
        compare_results(tmp_path / "a", tmp_path / "b", atol=1e-9)
        .set_index("table")["status"]
        .to_dict()
    )
    assert out == {
        "ci/ch/same.csv": "identical",
        "ci/ch/close.csv": "within tolerance",
        "ci/ch/far.csv": "different",
        "ci/ch/text.csv": "different",
        "ci/ch/flag.csv": "different",
        "ci/ch/gone.csv": "missing",
    }
    assert (
        compare_results(tmp_path / "a", tmp_path / "b", ignore=("label",))
        .set_index("table")
        .loc["ci/ch/text.csv", "status"]
        == "identical"
    )
