"""The chapter object: parameters validated first, tables and sweeps filed under the chapter."""

import pandas as pd
import pytest

from imssa.study.chapter import Chapter
from imssa.study.params import ParamsError


def test_a_chapter_files_its_tables_and_checkpoints_under_its_own_name(tmp_path, monkeypatch):
    from imssa.study import chapter as module

    monkeypatch.setenv("IMSSA_RESULTS_DIR", str(tmp_path))
    # grids of any name and size: the chapter's plan is not checked here (tests/test_plans_*.py)
    monkeypatch.setattr(module, "UNDECLARED", frozenset({"hardware_deployment"}))
    ch = Chapter("hardware_deployment", {"profile": "ci"})
    assert (
        ch.save(pd.DataFrame({"a": [1]}), "t") == tmp_path / "ci" / "hardware_deployment" / "t.csv"
    )
    calls = []
    rows = ch.grid(
        "g", [{"k": 1}, {"k": 2}], lambda c: calls.append(c["k"]) or [{"v": 10 * c["k"]}]
    )
    assert list(rows["v"]) == [10, 20] and calls == [1, 2]
    again = ch.grid("g", [{"k": 1}, {"k": 2}], lambda c: calls.append(c["k"]) or [{"v": 0}])
    assert list(again["v"]) == [10, 20] and calls == [1, 2]  # resumed from the checkpoint
    other = Chapter("hardware_deployment", {"profile": "ci", "realisations": 5})
    assert list(other.grid("g", [{"k": 1}], lambda c: [{"v": -1}])["v"]) == [
        -1
    ]  # another configuration
    assert list(ch.grid("g", [{"k": 1}], lambda c: [{"v": -2}], depends_on="x")["v"]) == [-2]
    checkpoints = list((tmp_path / "ci" / "hardware_deployment").glob(".g-*.partial.csv"))
    assert len(checkpoints) == 3


def test_a_chapter_refuses_bad_parameters_and_sweeps_without_models():
    with pytest.raises(ParamsError, match="realisations"):
        Chapter("hardware_deployment", {"realisations": 0})
    with pytest.raises(ParamsError, match="unknown chapter"):
        Chapter("no_such_chapter", {})
    with pytest.raises(TypeError, match="runs no models"):
        Chapter("s4d_first_principles", {}).grid("g", [{"k": 1}], lambda c: [])


def test_a_chapter_trains_what_is_missing_and_loads_every_model_under_its_key(monkeypatch):
    from imssa.study import chapter as module

    trained, loaded = [], []
    monkeypatch.setattr(
        module, "train_all", lambda runs, workers, desc: trained.append((runs, workers))
    )
    monkeypatch.setattr(
        module, "load_model", lambda run, n: loaded.append((run, n)) or f"model of {run}"
    )
    ch = Chapter("hardware_deployment", {"shared": {"workers": 2}})
    from imssa.study.runs import qat_spec

    specs = {
        ("a", 0): qat_spec(ch.cfg, 2, "fixed", 0, 0),
        ("b", 1): qat_spec(ch.cfg, 4, "fixed", 0, 1),
    }
    models = ch.models(specs)
    assert list(models) == list(specs) and models[("a", 0)] == f"model of {specs[('a', 0)]}"
    assert trained == [(list(specs.values()), 2)] and [n for _, n in loaded] == [2, 2]


def test_the_readers_table_lists_the_chapters_own_keys_with_values_and_meanings():
    from imssa.study.chapter import VALUE_CHARS

    ch = Chapter("hardware_deployment", {"profile": "ci", "realisations": 5})
    table = ch.parameters()
    assert "realisations" in table.index and table.loc["realisations", "value"] == "5"
    assert not {"profile", "shared"} & set(table.index)  # every chapter's keys, not its own
    assert table.loc["realisations", "meaning"].startswith("programmings per")
    both = ch.parameters(shared=True)
    assert both["value"].str.len().max() <= VALUE_CHARS and both["value"].str.endswith("...").any()
    assert both.index.str.startswith("shared.").sum() == len(type(ch.cfg.shared).model_fields)
    assert list(both.index[: len(table)]) == list(table.index)


def test_every_key_of_every_chapter_says_what_it_means():
    """The reader's table (``Chapter.parameters``) shows each key's description as its meaning."""
    from imssa.study.params import CHAPTERS, ModelParams

    bare = [
        f"{name}.{key}"
        for name, schema in CHAPTERS.items()
        for key, field in schema.model_fields.items()
        if key not in ModelParams.model_fields and not field.description
    ]
    assert not bare, f"keys without a description: {bare}"
