"""The book's runs: one per fold and seed, controls trained alike, one-at-a-time sweeps."""

import pytest

from imssa.params import validate_params
from imssa.runs import comparison_runs, control_run, float_run, fold_data, official, one_at_a_time, qat_run


def test_runs_of_a_fold_share_the_task_and_the_float_start():
    cfg = validate_params("fixed_range_qat", {"r_max": 0.99, "fscale": 0.6})
    base, q = float_run(cfg, 1, 3), qat_run(cfg, 2, "dynamic", 1, 3)
    assert base.data.fold == q.data.fold == 3 and base.train.seed == q.train.seed == 1
    assert q.init_from == (base.model, base.train)  # fine-tuned from that float model
    assert q.model.quant.r_max == 0.99 and q.model.quant.range_mode == "dynamic" and q.model.quant.fscale == 0.6
    control = control_run(cfg, "memoryless", 1, 3)
    assert control.model.ssm == "memoryless" and control.train == base.train and control.data == base.data
    with pytest.raises(ValueError, match="one fold"):
        fold_data(official(cfg).data, 2)


def test_official_split_is_one_fold():
    off = official(validate_params("float_baseline", {}))
    assert off.data.split == "official" and off.folds == [0]


def test_one_at_a_time_includes_the_current_value():
    cfg = validate_params("float_baseline", {"train": {"lr": 0.01}})
    points = one_at_a_time(cfg, {"train.lr": [0.003, 0.03], "model.N": [4]})
    assert [(p, v) for p, v, _ in points] == [("train.lr", 0.003), ("train.lr", 0.01), ("train.lr", 0.03),
                                             ("model.N", 4), ("model.N", cfg.model.N)]
    assert all(c.train.lr == v for p, v, c in points if p == "train.lr")


def test_comparison_runs_cover_every_model_fold_and_seed():
    cfg = validate_params("float_baseline", {"folds": [0, 2], "seeds": [0, 1]})
    points, runs = comparison_runs(cfg, ["memoryless", "frozen"], [2, 4])
    assert len(points) == len(runs) == 5 * 2 * 2
    assert {p["label"] for p in points} == {"float S4D", "2-bit S4D, fixed range", "4-bit S4D, fixed range",
                                            "memoryless control", "frozen control"}
    assert {(r.data.fold, r.train.seed) for r in runs} == {(0, 0), (0, 1), (2, 0), (2, 1)}
    assert all(p["seed"] == r.train.seed for p, r in zip(points, runs))
