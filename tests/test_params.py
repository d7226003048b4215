"""Parameter schemas: bad input fails before any work, naming the key."""

from pathlib import Path

import pytest

from imssa.study.params import (
    CHAPTERS,
    DataConfig,
    ModelParams,
    ParamsError,
    chapter_file_values,
    load_params,
    merge,
    validate_params,
    variant,
)
from imssa.study.runner import main as runner_main

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("profile", ["paper", "ci"])
@pytest.mark.parametrize("chapter", list(CHAPTERS))
def test_every_committed_parameter_file_is_valid(profile, chapter):
    cfg = load_params(chapter, ROOT / "params" / profile / f"{chapter}.yaml")
    assert cfg.profile == profile


@pytest.mark.parametrize(
    "values, key, hint",
    [
        ({"epochs": 3}, "epochs", "unknown parameter name"),
        (
            {"train": {"epochs": 3}},
            "train",
            "a shared setting (_shared.yaml): give it under 'shared:'",
        ),
        ({"shared": {"train": {"epochs": "ten"}}}, "shared.train.epochs", "valid integer"),
        ({"shared": {"train": {"epochs": 0}}}, "shared.train.epochs", "greater than or equal to 1"),
        ({"shared": {"model": {"H": 2.5}}}, "shared.model.H", "valid integer"),
        ({"shared": {"data": {"sample_rate": -8000}}}, "shared.data.sample_rate", "greater than 0"),
        ({"shared": {"data": {"digits": [0, 0]}}}, "shared.data", "distinct"),
        (
            {"shared": {"data": {"split": "random"}}},
            "shared.data.split",
            "'loso', 'official' or 'leave_speakers_out'",
        ),
        (
            {"shared": {"data": {"split": "official"}}},
            "shared",
            "folds: split 'official' has one fold",
        ),
        (
            {"shared": {"data": {"split": "official", "fold": 2}}},
            "shared.data",
            "fold belongs to split 'loso'",
        ),
        (
            {"shared": {"data": {"test_speakers": ["theo"]}}},
            "shared.data",
            "belong to split 'leave_speakers_out'",
        ),
        ({"shared": {"folds": [0, 0]}}, "shared", "must not repeat"),
        ({"qat_bits": [0]}, "qat_bits.0", "greater than or equal to 1"),
        ({"shared": {"r_max": 1.0}}, "shared.r_max", "less than 1"),
        ({"shared": {"model": {"dt_min": 0.5, "dt_max": 0.1}}}, "shared.model", "dt_min"),
        ({"shared": {"seeds": []}}, "shared.seeds", "at least 1"),
    ],
)
def test_bad_values_name_the_key(values, key, hint):
    with pytest.raises(ParamsError) as err:
        validate_params("float_baseline", values, source="test.yaml")
    text = str(err.value)
    assert f"- {key}:" in text and hint in text and "test.yaml" in text


BASELINE = {"name": "plain QAT 2-bit"}  # the ci file's, beside the strategy under test
PENALTY = {"name": "b", "pole_penalty": 1.0, "pole_target": 1.0}


@pytest.mark.parametrize(
    "chapter, values, key, hint",
    [
        ("float_baseline", {"shared": {"r_max": 1.0}}, "shared.r_max", "less than 1"),
        (
            "float_baseline",
            {"shared": {"model": {"quant": {"r_max": 0.0}}}},
            "shared.model.quant.r_max",
            "greater than 0",
        ),
        ("fixed_range_qat", {"r_max_selection": [0.9, 1.0]}, "r_max_selection.1", "less than 1"),
        ("stability_margin", {"margin_r_max": [0.9, 1.0]}, "margin_r_max.1", "less than 1"),
        ("memory_programming", {"design_r_max": 1.0}, "design_r_max", "less than 1"),
        (
            "state_memory",
            {"memory_models": [{"name": "m", "r_max": 1.0}]},
            "memory_models.0.r_max",
            "less than 1",
        ),
        (
            "quantization_strategy",
            {"strategies": [BASELINE, PENALTY]},
            "strategies.1.pole_target",
            "less than 1",
        ),
        (
            "quantization_strategy",
            {"strategies": [BASELINE, {"name": "b", "devices_per_element": 12}]},
            "strategies.1.devices_per_element",
            "Input should be 8 or 16",
        ),
    ],
)
def test_pole_caps_and_device_counts_are_checked_by_their_types(chapter, values, key, hint):
    """Every pole cap is a ``PoleCap`` (inside the unit circle), a strategy's device count a
    ``Literal[8, 16]``: the committed ci file with one bad value fails, naming the key."""
    ci = chapter_file_values(chapter, ROOT / "params" / "ci" / f"{chapter}.yaml")
    with pytest.raises(ParamsError) as err:
        validate_params(chapter, merge(ci, values))
    assert f"- {key}:" in str(err.value) and hint in str(err.value)


def test_yaml_scientific_notation_and_missing_file(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("shared:\n  train:\n    lr: 3e-3\n    ssm_lr: 1E-4\n")
    cfg = load_params("float_baseline", f)
    assert cfg.shared.train.lr == pytest.approx(3e-3) and cfg.shared.train.ssm_lr == pytest.approx(
        1e-4
    )
    with pytest.raises(ParamsError, match="not found"):
        load_params("float_baseline", tmp_path / "nope.yaml")
    f.write_text("- 1\n- 2\n")
    with pytest.raises(ParamsError, match="mapping"):
        load_params("float_baseline", f)


@pytest.mark.parametrize(
    "text, line",
    [
        ("shared:\n  lr: 0.01\n   epochs: 3\n", 3),
        ("shared: {seeds: [0, 1\n", 2),
        ("shared:\n\tsplit: loso\n", 2),
    ],
)
def test_malformed_yaml_names_the_file_and_line_and_exits_2(tmp_path, capsys, text, line):
    f = tmp_path / "broken.yaml"
    f.write_text(text)
    with pytest.raises(ParamsError, match=f"broken.yaml, line {line}, column \\d+: malformed YAML"):
        load_params("float_baseline", f)
    assert runner_main(["execute", "--chapter", "float_baseline", "--params", str(f)]) == 2
    assert f"broken.yaml, line {line}" in capsys.readouterr().err


def test_leave_speakers_out_needs_speakers():
    with pytest.raises(ValueError, match="test_speakers"):
        DataConfig(split="leave_speakers_out")
    with pytest.raises(ValueError, match="both test_speakers and val_speakers"):
        DataConfig(split="leave_speakers_out", test_speakers=["theo"], val_speakers=["theo"])


def test_runner_fails_before_any_work(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("shared:\n  train:\n    epochs: 2\n    epoch: 3\n")
    assert runner_main(["execute", "--chapter", "float_baseline", "--params", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "shared.train.epoch: unknown parameter name" in err
    assert not list(tmp_path.glob("*.ipynb"))


@pytest.mark.parametrize("profile", ["paper", "ci"])
def test_the_main_task_holds_speakers_out(profile):
    base = load_params("float_baseline", ROOT / "params" / profile / "float_baseline.yaml")
    assert base.shared.data.split == "loso"


def test_variant_changes_one_parameter_and_validates_it():
    cfg = validate_params("fixed_range_qat", {})
    assert variant(cfg, "data.sample_rate", 1000).shared.data.sample_rate == 1000
    assert variant(cfg, "fscale", 0.9).shared.fscale == 0.9 and cfg.shared.fscale != 0.9
    with pytest.raises(ParamsError, match="no parameter 'sampl_rate'"):
        variant(cfg, "data.sampl_rate", 1000)
    with pytest.raises(ParamsError, match="greater than 0"):
        variant(cfg, "train.lr", -1.0)
    with pytest.raises(ParamsError, match=r"selection\.model\.M"):
        validate_params("float_baseline", {"selection": {"model.M": [8]}})


def test_qat_parameters_reject_impossible_bits():
    with pytest.raises(ParamsError, match=r"bits.0: Input should be greater than or equal to 1"):
        validate_params("fixed_range_qat", {"bits": [0, 2]})
    with pytest.raises(ParamsError, match=r"grid_bits.1: Input should be less than or equal to 16"):
        validate_params("fixed_range_qat", {"grid_bits": [2, 17]})

    def sweep(key, sigmas):
        """``{key: sigmas}``, or for a sub-object's key (``inverse_step.sigmas_uS``) that
        sub-object."""
        head, _, rest = key.partition(".")
        return {head: {rest: sigmas, "realisations": 1}} if rest else {key: sigmas}

    for chapter, key in [
        ("hardware_deployment", "sigmas_uS"),
        ("stability_margin", "sigmas_uS"),
        ("quantization_strategy", "sigmas_uS"),
        ("depth_scale", "sigmas_uS"),
        ("depth_scale", "ten.sigmas_uS"),
        ("periphery", "check.sigmas_uS"),
        ("device_technologies", "inverse_step.sigmas_uS"),
    ]:
        with pytest.raises(ParamsError, match=f"{key}: Value error, must include 0.0"):
            validate_params(chapter, sweep(key, [5.0, 10.0]))
        with pytest.raises(
            ParamsError, match=f"{key}.1: Input should be greater than or equal to 0"
        ):
            validate_params(chapter, sweep(key, [0.0, -1.0]))
    with pytest.raises(ParamsError, match="fscale"):
        validate_params("fixed_range_qat", {"shared": {"fscale": -1.0}})


@pytest.mark.parametrize(
    "values, key",
    [
        ({"sigmas_uS": [0.0, -1.0]}, "sigmas_uS"),
        ({"shared": {"g_min_uS": 50.0, "g_max_uS": 40.0}}, "g_min_uS"),
        (
            {"emulation": {"preset": "hfox_1t1r_like", "overrides": {"sigma_uS": -2.0}}},
            "emulation: sigma_uS: Input should be greater",
        ),
        (
            {"emulation": {"preset": "hfox_1t1r_like", "overrides": {"stuck_at_gmx": 0.1}}},
            "unknown keys in device overrides: \\['stuck_at_gmx'\\]",
        ),
        ({"emulation": {"preset": "hfox_like"}}, "unknown preset 'hfox_like'"),
        ({"realisations": 0}, "realisations"),
        ({"sigmas_uS": [1.0, 5.0]}, "include 0.0"),
        ({"shared": {"g_phys_max_uS": 90.0}}, "g_phys_max_uS"),
        ({"shared": {"devices_per_element": [12]}}, "devices_per_element"),
        ({"noise_clips": ["hard"]}, "noise_clips"),
        (
            {"emulation": {"preset": "hfox_1t1r_like", "overrides": {"g_phys_max_uS": 50.0}}},
            "inside the physical window",
        ),
    ],
)
def test_deployment_parameters_reject_impossible_values(values, key):
    with pytest.raises(ParamsError, match=key.replace(".", r"\.")):
        validate_params("hardware_deployment", values)


def test_runner_executes_a_chapter_into_a_fresh_build_folder(tmp_path, monkeypatch):
    """From a checkout with no _build/ yet: the MyST source is converted and papermill runs it."""
    import shutil

    from imssa.study import runner

    root = tmp_path / "repo"
    (root / "book").mkdir(parents=True)
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    shutil.copy(ROOT / "book" / "s4d_first_principles.md", root / "book")
    monkeypatch.chdir(root)
    params = tmp_path / "p.yaml"
    params.write_text("profile: ci\nH: 1\nN: 2\nL: 50\ninits: [lin]\n")
    monkeypatch.setenv("IMSSA_RESULTS_DIR", str(tmp_path / "results"))
    out = runner.execute("s4d_first_principles", params, "ci")
    assert (
        out == root / "_build" / "executed" / "ci" / "s4d_first_principles.ipynb" and out.is_file()
    )
    assert (tmp_path / "results" / "ci" / "s4d_first_principles" / "mode_agreement.csv").is_file()

    # unchanged: not executed again; a changed source, parameter or forced run: executed
    import papermill

    calls = []
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **k: calls.append(a))
    runner.execute("s4d_first_principles", params, "ci", force=False)
    assert calls == []
    params.write_text("profile: ci\nH: 1\nN: 2\nL: 60\ninits: [lin]\n")
    runner.execute("s4d_first_principles", params, "ci", force=False)
    assert len(calls) == 1
    runner.execute("s4d_first_principles", params, "ci", force=False)
    (root / "book" / "s4d_first_principles.md").write_text(
        (root / "book" / "s4d_first_principles.md").read_text() + "\n"
    )
    runner.execute("s4d_first_principles", params, "ci", force=False)
    runner.execute("s4d_first_principles", params, "ci")  # forced
    assert len(calls) == 3


@pytest.mark.parametrize(
    "values, key",
    [
        ({"margin_r_max": [0.9, 1.0]}, "margin_r_max.1"),
        ({"sigmas_uS": [1.0, 2.0]}, "include 0.0"),
        ({"margin_seeds": [7]}, "subset of seeds"),
        ({"headroom": 0.5}, "headroom"),
    ],
)
def test_margin_parameters_reject_impossible_values(values, key):
    with pytest.raises(ParamsError, match=key):
        validate_params("stability_margin", values)


@pytest.mark.parametrize(
    "values, hint",
    [
        ({"technologies": ["flash"]}, "unknown presets \\['flash'\\]"),
        ({"inverse_base": "sram"}, "unknown presets"),
        ({"study_bits": [8]}, "study_bits and inverse_bits must be among tech_bits"),
        ({"inverse": {"sigmas_uS": [5.0], "realisations": 1}}, "must include 0.0"),
        ({"write_verify_tolerances_uS": [0.0]}, "write_verify_tolerances_uS"),
        ({"noise_matches": ["median"]}, "noise_matches"),
    ],
)
def test_technology_parameters_reject_impossible_values(values, hint):
    with pytest.raises(ParamsError, match=hint):
        validate_params("device_technologies", values)


def test_results_archive_holds_tables_params_versions_and_revision(tmp_path, monkeypatch):
    import tarfile

    from imssa.study import results_archive

    monkeypatch.setenv("IMSSA_RESULTS_DIR", str(tmp_path / "results"))
    with pytest.raises(ParamsError, match="no results for profile 'ci'"):
        results_archive.archive("ci")
    table = tmp_path / "results" / "ci" / "float_baseline"
    table.mkdir(parents=True)
    (table / "accuracy.csv").write_text("a\n1\n")
    (table / ".sweep-abc.partial.csv").write_text("a\n1\n")
    out = results_archive.archive("ci")
    with tarfile.open(out) as archive:
        names = archive.getnames()
        versions = archive.extractfile("versions.txt").read()
    assert "results/ci/float_baseline/accuracy.csv" in names and not any(
        "partial" in n for n in names
    )
    assert {"versions.txt", "git_revision.txt", "params/ci/float_baseline.yaml"} <= set(names)
    assert b"torch==" in versions


def test_the_reader_copy_drops_progress_and_hides_parameter_cells():
    from imssa.study.runner import for_reader

    nb = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {"tags": ["parameters"]},
                "outputs": [],
                "source": "params = {}",
            },
            {
                "cell_type": "code",
                "metadata": {"tags": ["injected-parameters"]},
                "outputs": [],
                "source": "params = {1}",
            },
            {
                "cell_type": "code",
                "metadata": {},
                "source": "sweep()",
                "outputs": [
                    {"output_type": "stream", "name": "stderr", "text": "sweep: 50%"},
                    {"output_type": "stream", "name": "stdout", "text": "kept"},
                ],
            },
            {"cell_type": "markdown", "metadata": {}, "source": "text"},
        ]
    }
    out = for_reader(nb)
    assert [c["metadata"].get("tags") for c in out["cells"][:2]] == [
        ["parameters", "remove-cell"],
        ["injected-parameters", "remove-cell"],
    ]
    assert out["cells"][2]["outputs"] == [
        {"output_type": "stream", "name": "stdout", "text": "kept"}
    ]
    assert nb["cells"][2]["outputs"][0]["name"] == "stderr"  # the executed notebook is not touched


def test_a_reader_file_holds_only_the_keys_it_changes(tmp_path):
    from imssa.study.runner import chapter_values, merge

    assert merge({"a": 1, "g": {"x": 1, "y": [1, 2]}}, {"g": {"y": [3]}, "b": 2}) == {
        "a": 1,
        "g": {"x": 1, "y": [3]},
        "b": 2,
    }
    mine = tmp_path / "mine.yaml"
    mine.write_text("shared:\n  train:\n    epochs: 3\n")
    values = chapter_values("float_baseline", mine, "ci")
    base = load_params("float_baseline", ROOT / "params" / "ci" / "float_baseline.yaml")
    cfg = validate_params("float_baseline", values)
    assert cfg.shared.train.epochs == 3 and cfg.shared.train.lr == base.shared.train.lr
    assert cfg.shared.folds == base.shared.folds and cfg.profile == "ci"
    mine.write_text("shared:\n  train:\n    epochs: -1\n")
    with pytest.raises(ParamsError, match=r"mine\.yaml over .*float_baseline\.yaml"):
        chapter_values("float_baseline", mine, "ci")
    mine.write_text(
        "train:\n  epochs: 3\n"
    )  # a shared key outside 'shared': the message says where it goes
    with pytest.raises(ParamsError, match=r"train: a shared setting .*under 'shared:'"):
        chapter_values("float_baseline", mine, "ci")


def test_shared_settings_are_written_once_and_reach_every_chapter_that_has_them(tmp_path):
    from imssa.study.params import SHARED_FILE, chapter_file_values

    (tmp_path / SHARED_FILE).write_text("fscale: 0.5\ntrain:\n  epochs: 3\n")
    (tmp_path / "fixed_range_qat.yaml").write_text("profile: ci\n")
    (tmp_path / "s4d_first_principles.yaml").write_text("profile: ci\nN: 4\n")
    cfg = load_params("fixed_range_qat", tmp_path / "fixed_range_qat.yaml")
    assert (
        cfg.shared.fscale == 0.5 and cfg.shared.train.epochs == 3 and cfg.shared.train.lr == 0.01
    )  # defaults under the shared keys
    assert chapter_file_values("s4d_first_principles", tmp_path / "s4d_first_principles.yaml") == {
        "profile": "ci",
        "N": 4,
    }
    (tmp_path / "fixed_range_qat.yaml").write_text("profile: ci\nfscale: 0.9\n")
    with pytest.raises(
        ParamsError, match=r"\['fscale'\] are shared settings, set in .*_shared.yaml"
    ):
        load_params("fixed_range_qat", tmp_path / "fixed_range_qat.yaml")
    (tmp_path / "fixed_range_qat.yaml").write_text("profile: ci\nshared: {fscale: 0.9}\n")
    with pytest.raises(ParamsError, match=r"'shared' is .*_shared.yaml"):
        load_params("fixed_range_qat", tmp_path / "fixed_range_qat.yaml")
    (tmp_path / SHARED_FILE).write_text("fscael: 0.5\n")
    with pytest.raises(ParamsError, match=r"_shared.yaml: \['fscael'\] are not shared settings"):
        load_params("s4d_first_principles", tmp_path / "s4d_first_principles.yaml")


@pytest.mark.parametrize("profile", ["paper", "ci"])
def test_no_chapter_file_repeats_a_shared_setting(profile):
    from imssa.study.params import chapter_file_values, shared_values

    shared = shared_values(ROOT / "params" / profile)
    assert {"data", "model", "train", "qat_train", "fscale", "g_min_uS"} <= set(shared)
    for chapter in CHAPTERS:
        chapter_file_values(
            chapter, ROOT / "params" / profile / f"{chapter}.yaml"
        )  # raises on a repeated key


def test_a_checkpoint_key_covers_every_field_but_the_worker_count():
    base = validate_params("hardware_deployment", {})
    shared = lambda **kw: base.model_copy(update={"shared": base.shared.model_copy(update=kw)})  # noqa: E731
    assert base.checkpoint_key() == shared(workers=2).checkpoint_key()
    for name, value in [
        ("fold_choices", {0: {"train.lr": 0.03}}),
        ("adaptive_scale_rule", "max_abs"),
        ("selection_seeds", [1]),
        ("g_max_uS", 90.0),
    ]:
        assert shared(**{name: value}).checkpoint_key() != base.checkpoint_key(), name
    for name, value in [
        ("realisations", 5),
        ("emulation", base.emulation.model_copy(update={"overrides": {"read_noise": 0.0}})),
    ]:
        assert base.model_copy(update={name: value}).checkpoint_key() != base.checkpoint_key(), name
    assert ModelParams.NOT_IN_RESULTS == {"workers"}


def test_a_checkpoint_file_changes_with_the_library_code(monkeypatch):
    from imssa.study import results

    first = results.checkpoint_path("ci", "x", "grid", "{}")
    monkeypatch.setattr(results, "library_digest", lambda: "another version")
    assert results.checkpoint_path("ci", "x", "grid", "{}") != first


def test_the_emulated_array_takes_the_shared_window_unless_it_overrides_it():
    from imssa.hardware.presets import PRESETS

    base = validate_params("hardware_deployment", {})
    assert base.emulation_device() == PRESETS["hfox_1t1r_like"].model_copy(
        update=base.shared.window
    )
    wide = validate_params(
        "hardware_deployment", {"shared": {"g_max_uS": 120.0, "g_phys_max_uS": 180.0}}
    )
    assert (wide.emulation_device().g_max_uS, wide.emulation_device().g_phys_max_uS) == (
        120.0,
        180.0,
    )
    assert (
        wide.emulation_device().sigma_uS == PRESETS["hfox_1t1r_like"].sigma_uS
    )  # the rest is the preset's
    own = validate_params(
        "hardware_deployment",
        {
            "shared": {"g_max_uS": 120.0, "g_phys_max_uS": 180.0},
            "emulation": {
                "preset": "hfox_1t1r_like",
                "overrides": {"g_max_uS": 90.0, "adc_bits": 8},
            },
        },
    )
    assert own.emulation_device().g_max_uS == 90.0 and own.emulation_device().adc_bits == 8


@pytest.mark.parametrize("profile", ["paper", "ci"])
def test_every_key_the_chapters_share_is_written_in_the_shared_file(profile):
    """The float, QAT, mapping and array keys come from ``_shared.yaml`` (which no chapter file may
    repeat), never from a schema default that a chapter's class could change: so the chapters
    that train or deploy models use the same cached runs and the same array."""
    from imssa.study.params import Shared, shared_values

    missing = set(Shared.model_fields) - set(shared_values(ROOT / "params" / profile))
    assert not missing, f"{profile}/_shared.yaml does not set {sorted(missing)}"


def test_no_chapter_owns_a_shared_key_and_every_model_chapter_has_the_shared_block():
    """A key is either shared (``Shared``, in ``_shared.yaml``) or one chapter's own (in its file):
    the QAT chapter's bit widths and selection grids, the mapping chapter's check length."""
    from imssa.study.params import Shared

    for chapter, schema in CHAPTERS.items():
        assert not set(schema.model_fields) & (set(Shared.model_fields) - {"shared"}), chapter
        assert ("shared" in schema.model_fields) == issubclass(schema, ModelParams), chapter
    assert (
        "bits" not in CHAPTERS["hardware_deployment"].model_fields
    )  # composed from the array, not from QAT


def test_the_build_reports_each_chapter_with_the_rest_estimated_from_the_previous_run(
    tmp_path, monkeypatch
):
    from imssa.study import runner

    monkeypatch.chdir(tmp_path)  # not a checkout: the build folder lands here
    assert runner.previous_times("ci") == {}
    runner.record_time("ci", "a", 65.04)
    runner.record_time("ci", "b", 3600.0)
    assert runner.previous_times("ci") == {"a": 65.0, "b": 3600.0}
    line = runner.progress_line(
        1, 3, "first", 12.4, 70.0, ["a", "b", "new"], runner.previous_times("ci")
    )
    assert line == (
        "[1/3] first: ran in 0:00:12; elapsed 0:01:10; rest ~1:01:05 by the previous run's times "
        "(1 chapter without one)"
    )
    assert (
        runner.progress_line(3, 3, "b", None, 4000.0, [], {})
        == "[3/3] b: up to date; elapsed 1:06:40; nothing left"
    )
