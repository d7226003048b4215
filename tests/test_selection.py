"""Selection on validation data: the rule, the guard against test scores, nested choices, the
plateau epoch."""

import pandas as pd
import pytest

from imssa.data.audio import loso_speakers
from imssa.study.params import validate_params
from imssa.study.selection import (
    choices,
    choose,
    nested_choices,
    nested_folds,
    nested_summary,
    plateau_epoch,
)

SPEAKERS = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]
LOSO = {f: loso_speakers(SPEAKERS, f) for f in range(6)}  # fold k tests speaker k, validates on k+1


def sweep(gains, noise=0.0, folds=6):
    """Rows of one parameter: value v scores base + gains[v] (+ alternating noise) on every fold."""
    return pd.DataFrame(
        [
            {
                "parameter": "data.sample_rate",
                "value": v,
                "fold": f,
                "seed": 0,
                "failure": "",
                "val_accuracy": 0.8 + g + noise * (-1) ** f,
                "accuracy": 1.0 - g,
            }
            for v, g in gains.items()
            for f in range(folds)
        ]
    )


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
    assert (
        choose(rows, incumbent=8, limit=16)["choice"] == 16
        and choose(rows, 8, limit=16)["budget_binds"]
    )
    assert not choose(rows, incumbent=8, limit=32)["budget_binds"]
    rows.loc[(rows["value"] == 32) & (rows["fold"] < 3), ["val_accuracy", "failure"]] = [
        float("nan"),
        "unstable",
    ]
    assert choose(rows, incumbent=8)["choice"] == 16  # three runs at chance: 32 no longer wins
    with pytest.raises(ValueError, match="incumbent"):
        choose(rows, incumbent=64)


def test_choices_compare_validation_with_the_parameter_file():
    cfg = validate_params(
        "float_baseline", {"shared": {"data": {"sample_rate": 4000}, "model": {"N": 16}}}
    )
    rows = pd.concat(
        [
            sweep({1000: 0.0, 2000: 0.1, 4000: 0.05}),
            sweep({8: 0.0, 16: 0.05, 32: 0.1}).assign(parameter="model.N"),
        ]
    )
    table = choices(rows, cfg, limits={"model.N": 16}).set_index("parameter")
    assert table.loc["data.sample_rate", "validation choice"] == "2000"
    assert not table.loc["data.sample_rate", "agrees"] and table.loc["model.N", "agrees"]
    assert (
        table.loc["model.N", "budget"] == "<= 16" and table.loc["model.N", "best candidate"] == "16"
    )
    assert table.loc["data.sample_rate", "gain (points)"] == pytest.approx(5.0)


def test_nested_folds_leave_out_the_fold_and_the_fold_validating_on_its_test_speaker():
    assert nested_folds(0, LOSO) == [1, 2, 3, 4]  # fold 5 validates on speaker 0
    assert nested_folds(3, LOSO) == [0, 1, 4, 5]  # fold 2 validates on speaker 3
    two = {f: LOSO[f] for f in (0, 3)}  # the ci profile's folds: no neighbours
    assert nested_folds(0, two) == [3] and nested_folds(3, two) == [0]
    with pytest.raises(ValueError, match="fold 2"):
        nested_folds(2, two)


def planted(favoured_by, folds=range(6), seeds=range(3)):
    """Validation rows of data.sample_rate: the incumbent 4000 leads 2000 by half a point on every
    fold and seed, except on the folds ``favoured_by``, where 2000 leads by 29.5 points; with three
    seeds per fold, one such fold carries the mean over six folds beyond one standard error."""
    score = {1000: 0.5, 2000: 0.6, 4000: 0.605}
    return pd.DataFrame(
        [
            {
                "parameter": "data.sample_rate",
                "value": v,
                "fold": f,
                "seed": s,
                "failure": "",
                "val_accuracy": score[v] + (0.3 if v == 2000 and f in favoured_by else 0.0),
            }
            for v in score
            for f in folds
            for s in seeds
        ]
    )


def test_a_fold_s_nested_choice_ignores_the_fold_that_scores_its_test_speaker():
    cfg = validate_params("float_baseline", {"shared": {"data": {"sample_rate": 4000}}})
    rows = planted(
        favoured_by=[5]
    )  # only fold 5, which validates on fold 0's test speaker, favours 2000
    assert choose(rows, 4000)["choice"] == 2000  # the global choice follows it
    table = nested_choices(rows, cfg, LOSO).set_index("fold")
    assert table.loc[0, "global choice"] == "2000" and table.loc[0, "nested choice"] == "4000"
    assert not table.loc[0, "nested = global"] and table.loc[0, "test_uses"] == "nested choice"
    assert table.loc[0, "nested folds"] == "1, 2, 3, 4" and table.loc[0, "test speaker"] == "george"
    assert (
        table.loc[1, "nested choice"] == "2000"
    )  # fold 5's scores may decide fold 1 (its own speaker is 0's)
    assert (table.drop(index=[0, 5])["nested choice"] == "2000").all()
    assert table.loc[5, "nested choice"] == "4000"  # its own fold: excluded too
    assert table.loc[5, "test_uses"] == "nested choice"
    assert list(table.columns[:1]) == ["parameter"] and len(table) == 6


def test_a_fold_s_own_scores_never_decide_its_choice_and_two_folds_keep_the_incumbent():
    cfg = validate_params("float_baseline", {"shared": {"data": {"sample_rate": 4000}}})
    table = nested_choices(planted(favoured_by=[2]), cfg, LOSO).set_index("fold")
    assert (
        table.loc[2, "nested choice"] == "4000" and table.loc[3, "nested choice"] == "4000"
    )  # own; validates on 3
    assert table.loc[0, "nested choice"] == "2000" and table.loc[0, "test_uses"] == "parameter file"
    # two folds (the ci profile): one fold left, no standard error over speakers, the incumbent
    # stays
    rows = planted(
        favoured_by=[0, 3], folds=[0, 3]
    )  # three seeds do not stand in for a second speaker
    two = nested_choices(rows, cfg, {f: LOSO[f] for f in (0, 3)}).set_index("fold")
    assert (two["nested choice"] == "4000").all() and (two["global choice"] == "2000").all()
    assert two["se (points)"].eq(float("inf")).all() and two["gain (points)"].isna().all()


def test_a_fold_choice_in_the_file_makes_that_fold_use_its_nested_choice():
    cfg = validate_params("float_baseline", {"shared": {"data": {"sample_rate": 4000}}})
    rows = planted(favoured_by=[2])  # fold 0's nested choice is 2000, the file's value 4000
    assert nested_choices(rows, cfg, LOSO).set_index("fold").loc[0, "test_uses"] == "parameter file"
    assert "data.sample_rate on fold 0 (nested 2000, used 4000)" in nested_summary(
        nested_choices(rows, cfg, LOSO)
    )
    held = validate_params(
        "float_baseline",
        {
            "shared": {
                "data": {"sample_rate": 4000},
                "fold_choices": {0: {"data.sample_rate": 2000}},
            }
        },
    )
    table = nested_choices(rows, held, LOSO).set_index("fold")
    assert table.loc[0, "fold value"] == "2000" and table.loc[0, "test_uses"] == "nested choice"
    assert table.loc[0, "parameter file"] == "4000" and table.loc[1, "fold value"] == "4000"
    wrong = validate_params(
        "float_baseline",
        {
            "shared": {
                "data": {"sample_rate": 4000},
                "fold_choices": {2: {"data.sample_rate": 2000}},
            }
        },
    )
    assert (
        nested_choices(rows, wrong, LOSO).set_index("fold").loc[2, "test_uses"] == "parameter file"
    )  # own fold


def test_plateau_epoch():
    history = pd.DataFrame(
        {
            "epoch": [1, 2, 3, 4, 5] * 2,
            "val_accuracy": [0.5, 0.8, 0.97, 0.95, 0.95, 0.5, 0.8, 0.92, 0.95, 0.96],
        }
    )
    assert plateau_epoch(history, tolerance=0.01) == 3
    assert plateau_epoch(history, tolerance=0.001) == 5
    assert plateau_epoch(history, tolerance=0.5) == 1
