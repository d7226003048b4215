"""Selection on validation data: the rule, the guard against test scores, the plateau epoch."""

import pandas as pd
import pytest

from imssa.study.params import validate_params
from imssa.study.selection import choices, choose, plateau_epoch


def sweep(gains, noise=0.0, folds=6):
    """Rows of one parameter: value v scores base + gains[v] (+ alternating noise) on every fold."""
    return pd.DataFrame([{"parameter": "data.sample_rate", "value": v, "fold": f, "seed": 0, "failure": "",
                          "val_accuracy": 0.8 + g + noise * (-1) ** f, "accuracy": 1.0 - g}
                         for v, g in gains.items() for f in range(folds)])


def test_a_clear_gain_replaces_the_incumbent_never_the_test_column():
    rows = sweep({1000: 0.0, 2000: 0.05, 4000: 0.02})
    assert choose(rows, incumbent=1000)["choice"] == 2000  # the test column would say 1000
    with pytest.raises(ValueError, match="validation scores only"):
        choose(rows, 1000, score="accuracy")
    with pytest.raises(ValueError, match="validation scores only"):
        choose(rows, 1000, score="test_accuracy")


def test_a_gain_within_the_noise_keeps_the_incumbent():
    rows = sweep({1000: 0.0, 2000: 0.005}, noise=0.0)
    rows.loc[rows["value"] == 2000, "val_accuracy"] += [0.05, -0.05, 0.05, -0.05, 0.05, -0.05]
    c = choose(rows, incumbent=1000)
    assert c["best"] == 2000 and c["gain"] < c["se"] and c["choice"] == 1000


def test_budget_and_failures():
    rows = sweep({8: 0.0, 16: 0.05, 32: 0.10})
    assert choose(rows, incumbent=8)["choice"] == 32
    assert choose(rows, incumbent=8, limit=16)["choice"] == 16 and choose(rows, 8, limit=16)["budget_binds"]
    assert not choose(rows, incumbent=8, limit=32)["budget_binds"]
    rows.loc[(rows["value"] == 32) & (rows["fold"] < 3), ["val_accuracy", "failure"]] = [float("nan"), "unstable"]
    assert choose(rows, incumbent=8)["choice"] == 16  # three runs at chance: 32 no longer wins
    with pytest.raises(ValueError, match="incumbent"):
        choose(rows, incumbent=64)


def test_choices_compare_validation_with_the_parameter_file():
    cfg = validate_params("float_baseline", {"data": {"sample_rate": 4000}, "model": {"N": 16}})
    rows = pd.concat([sweep({1000: 0.0, 2000: 0.1, 4000: 0.05}),
                      sweep({8: 0.0, 16: 0.05, 32: 0.1}).assign(parameter="model.N")])
    table = choices(rows, cfg, limits={"model.N": 16}).set_index("parameter")
    assert table.loc["data.sample_rate", "validation choice"] == "2000"
    assert not table.loc["data.sample_rate", "agrees"] and table.loc["model.N", "agrees"]
    assert table.loc["model.N", "budget"] == "<= 16" and table.loc["model.N", "best candidate"] == "16"
    assert table.loc["data.sample_rate", "gain (points)"] == pytest.approx(5.0)


def test_plateau_epoch():
    history = pd.DataFrame({"epoch": [1, 2, 3, 4, 5] * 2,
                            "val_accuracy": [0.5, 0.8, 0.97, 0.95, 0.95, 0.5, 0.8, 0.92, 0.95, 0.96]})
    assert plateau_epoch(history, tolerance=0.01) == 3
    assert plateau_epoch(history, tolerance=0.001) == 5
    assert plateau_epoch(history, tolerance=0.5) == 1
