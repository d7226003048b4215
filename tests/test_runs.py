"""The book's runs: one per fold and seed, controls trained alike, one-at-a-time sweeps."""

import pytest

from imssa.study.params import validate_params
from imssa.study.runs import (
    comparison_specs,
    control_spec,
    float_spec,
    fold_data,
    official,
    one_at_a_time,
    qat_spec,
)


def test_runs_of_a_fold_share_the_task_and_the_float_start():
    cfg = validate_params("fixed_range_qat", {"shared": {"r_max": 0.99, "fscale": 0.6}})
    base, q = float_spec(cfg, 1, 3), qat_spec(cfg, 2, "dynamic", 1, 3)
    assert base.data.fold == q.data.fold == 3 and base.train.seed == q.train.seed == 1
    assert q.init_from == (base.model, base.train)  # fine-tuned from that float model
    assert (
        q.model.quant.r_max == 0.99
        and q.model.quant.range_mode == "dynamic"
        and q.model.quant.fscale == 0.6
    )
    control = control_spec(cfg, "memoryless", 1, 3)
    assert (
        control.model.ssm == "memoryless"
        and control.train == base.train
        and control.data == base.data
    )
    with pytest.raises(ValueError, match="one fold"):
        fold_data(official(cfg).shared.data, 2)


def test_official_split_is_one_fold():
    off = official(validate_params("float_baseline", {}))
    assert off.shared.data.split == "official" and off.shared.folds == [0]


def test_one_at_a_time_includes_the_current_value():
    cfg = validate_params("float_baseline", {"shared": {"train": {"lr": 0.01}}})
    points = one_at_a_time(cfg, {"train.lr": [0.003, 0.03], "model.N": [4]})
    assert [(p, v) for p, v, _ in points] == [
        ("train.lr", 0.003),
        ("train.lr", 0.01),
        ("train.lr", 0.03),
        ("model.N", 4),
        ("model.N", cfg.shared.model.N),
    ]
    assert all(c.shared.train.lr == v for p, v, c in points if p == "train.lr")


def test_comparison_runs_cover_every_model_fold_and_seed():
    cfg = validate_params("float_baseline", {"shared": {"folds": [0, 2], "seeds": [0, 1]}})
    points, runs = comparison_specs(cfg, ["memoryless", "frozen"], [2, 4])
    assert len(points) == len(runs) == 5 * 2 * 2
    assert {p["label"] for p in points} == {
        "float S4D",
        "2-bit S4D, fixed range",
        "4-bit S4D, fixed range",
        "memoryless control",
        "frozen control",
    }
    assert {(r.data.fold, r.train.seed) for r in runs} == {(0, 0), (0, 1), (2, 0), (2, 1)}
    assert all(p["seed"] == r.train.seed for p, r in zip(points, runs, strict=True))


def test_clip_answers_and_run_rows_come_from_the_same_runs(fsdd_root, tmp_path, monkeypatch):
    from imssa.study.sweep import clip_answers, train_sweep

    monkeypatch.setenv("IMSSA_CACHE_DIR", str(tmp_path))
    cfg = validate_params(
        "float_baseline",
        {
            "shared": {
                "data": {"sample_rate": 1000, "duration_s": 0.1},
                "model": {"H": 2, "N": 2},
                "train": {"epochs": 1},
                "folds": [1],
                "seeds": [0],
            }
        },
    )
    points, runs = comparison_specs(cfg, ["memoryless"], [])
    rows = train_sweep(points, runs, 2)
    answers = clip_answers(points, runs)
    assert list(rows["split"]) == ["loso", "loso"] and list(rows["fold"]) == [1, 1]
    assert {"val_accuracy", "tau_median_ms", "kernel_memory_median_ms", "failure_reason"} <= set(
        rows.columns
    )
    assert len(answers) == 200 and set(answers["label"]) == {"float S4D", "memoryless control"}
    per_run = answers.groupby("label")["correct"].mean()
    assert per_run["float S4D"] == rows.set_index("label").loc["float S4D", "accuracy"]
    assert rows.set_index("label").loc["memoryless control", "tau_max_ms"] == 0
    with pytest.raises(ValueError, match="differs from the run's seed"):
        clip_answers([{"seed": 5}], runs[:1])


def test_a_fold_s_choices_reach_its_runs_only_and_never_the_sweep_around_the_file():
    cfg = validate_params(
        "fixed_range_qat",
        {"shared": {"folds": [0, 1], "fold_choices": {0: {"train.lr": 0.03, "train.epochs": 7}}}},
    )
    assert float_spec(cfg, 0, 0).train.lr == 0.03 and float_spec(cfg, 0, 0).train.epochs == 7
    assert (
        float_spec(cfg, 0, 1).train
        == float_spec(validate_params("fixed_range_qat", {"shared": {"folds": [0, 1]}}), 0, 1).train
    )
    assert (
        control_spec(cfg, "memoryless", 0, 0).train.lr == 0.03
    )  # a control is trained like the float model
    qat = qat_spec(cfg, 2, "fixed", 0, 0)
    assert qat.init_from == (
        float_spec(cfg, 0, 0).model,
        float_spec(cfg, 0, 0).train,
    )  # the fold's own float start
    assert qat.train.lr == cfg.shared.qat_train.lr  # train.lr is the float model's, not QAT's
    for _, _, point in one_at_a_time(cfg, {"train.ssm_lr": [0.003]}):
        assert (
            point.shared.fold_choices == {}
            and float_spec(point, 0, 0).train.lr == cfg.shared.train.lr
        )
    assert official(cfg).shared.fold_choices == {}
    as_json = validate_params(
        "fixed_range_qat", {"shared": {"folds": [0, 1], "fold_choices": {"0": {"train.lr": 0.03}}}}
    )
    assert as_json.shared.fold_choices == {
        0: {"train.lr": 0.03}
    }  # papermill passes the folds as text


@pytest.mark.parametrize(
    "choices, hint",
    [
        ({7: {"train.lr": 0.03}}, "not among folds"),
        ({0: {"workers": 2}}, "only what a trained model depends on"),
        ({0: {"data.fold": 1}}, "not data.fold"),
        ({0: {"train.lr": -1.0}}, "train.lr"),
        ({0: {"train.nonsense": 1}}, "no parameter"),
    ],
)
def test_impossible_fold_choices_are_refused(choices, hint):
    with pytest.raises(ValueError, match=hint):
        validate_params("float_baseline", {"shared": {"fold_choices": choices}})
