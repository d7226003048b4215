"""The deployed-model layer: one cached loader (trained, failed or post-training quantized) and
one software row whose chance level is the task's."""

import numpy as np
import pandas as pd
import pytest
import torch

from imssa.data.audio import AudioSet, AudioSplits
from imssa.data.config import DataConfig
from imssa.model.cache import Run
from imssa.model.config import ModelConfig, QuantConfig, TrainConfig
from imssa.model.train import SpeechClassifier, TrainResult
from imssa.study import deployed


def fake(monkeypatch, classes=10, failure="", clips=30, labels=None):
    """Patch the loader's training and data: a random classifier, ``clips`` clips per split."""
    model = ModelConfig(H=2, N=2)
    torch.manual_seed(0)
    net = SpeechClassifier(model, classes).eval()
    x = torch.randn(clips, 40, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        pred = net(x).argmax(-1)
    y = pred if labels is None else labels(pred)
    part = AudioSet(x, y, pd.DataFrame({"file": [""] * clips}), 1000)
    splits = AudioSplits(part, part, part, tuple(range(classes)))
    calls = []
    result = TrainResult(
        net.state_dict(), pd.DataFrame(), 0.0, np.zeros(0), np.zeros(0), 0.0, failure=failure
    )
    monkeypatch.setattr(deployed, "train_or_load", lambda run: calls.append(run) or result)
    monkeypatch.setattr(deployed, "load_splits", lambda data: splits)
    deployed._load.cache_clear()
    return Run(DataConfig(), model, TrainConfig()), calls


def test_a_model_is_loaded_once_and_scored_at_the_task_chance_level(monkeypatch):
    run, calls = fake(monkeypatch)  # labels = its own answers: accuracy 1
    first, again = deployed.load_model(run, 10), deployed.load_model(run, 10)
    assert first.net is again.net and len(calls) == 1 and first.failure == ""
    other = run._replace(train=run.train.model_copy(update={"seed": 3}))
    assert deployed.load_model(other, 10).net is not first.net and len(calls) == 2
    row = deployed.software_row(first)
    assert row["accuracy"] == 1.0 and row["failure"] == "" and row["test_clips"] == 30
    assert 0 < row["max_abs_A_bar"] < 1


def test_a_model_below_the_ten_class_chance_gets_its_cause(monkeypatch):
    # every clip labelled (answer + 1) mod 10 but 9 of 30: 30% is above 1/10 (and below 1/2) ...
    run, _ = fake(monkeypatch, labels=lambda p: torch.where(torch.arange(30) < 9, p, (p + 1) % 10))
    assert deployed.software_row(deployed.load_model(run, 10))["failure"] == ""  # ... not chance
    run, _ = fake(monkeypatch, labels=lambda p: (p + 1) % 10)  # never right
    assert deployed.software_row(deployed.load_model(run, 10))["failure"] in (
        "chance",
        "constant output",
    )


def test_a_failed_run_has_no_model_and_a_row_that_says_why(monkeypatch):
    run, _ = fake(monkeypatch, failure="non-finite")
    model = deployed.load_model(run, 10)
    assert model.net is None and model.failure == "non-finite"
    row = deployed.software_row(model)
    assert row["failure"] == "non-finite" and np.isnan(row["accuracy"])


def test_post_training_quantization_needs_its_range_and_reports_an_unstable_pole(monkeypatch):
    run, _ = fake(monkeypatch)
    ptq = QuantConfig(bits=2, range_mode="fixed", fscale=0.6)
    with pytest.raises(ValueError, match="fscale"):
        deployed.load_model(run, 10, ptq=ptq)
    q = deployed.load_model(run, 10, ptq=ptq, fscale=0.6)
    assert q.failure == "" and q.net is not deployed.load_model(run, 10).net
    assert q.net.layers[0].bits == 2 and q.net.layers[0].fscale == 0.6
    wide = deployed.load_model(
        run, 10, ptq=QuantConfig(bits=2, range_mode="fixed", fscale=1.0), fscale=1.0
    )
    assert (
        wide.failure == "unstable" and wide.net is None
    )  # the grid holds |A_bar| = sqrt(2), no cap


def test_a_failed_model_s_rows_have_the_columns_of_a_programmed_one():
    """A resumable grid appends rows to one CSV: a failed model's rows must line up with the
    rest."""
    from imssa.hardware.devices import DeviceConfig

    torch.manual_seed(0)
    net = SpeechClassifier(ModelConfig(H=2, N=2, quant=QuantConfig(bits=2, fscale=0.6)), 2).eval()
    x = torch.randn(8, 60, generator=torch.Generator().manual_seed(2))
    data = AudioSet(x, torch.arange(8) % 2, pd.DataFrame({"file": [""] * 8}), 1000)
    seeds = []
    rows = deployed.programmed_rows(
        net,
        data,
        lambda s: [DeviceConfig(sigma_uS=s)],
        [0.0, 5.0],
        3,
        lambda s: seeds.append(s) or int(10 * s),
    )
    assert [r["sigma_uS"] for r in rows] == [0.0, 5.0, 5.0, 5.0] and seeds == [
        0.0,
        5.0,
    ]  # one at sigma = 0
    failed = deployed.failed_rows("unstable", [0.0, 5.0])
    # a grid keeps the union of the columns: a failed model's rows need only a subset, in the same
    # names
    assert all(set(f) <= set(rows[0]) for f in failed) and {f["failure"] for f in failed} == {
        "unstable"
    }


def test_hardware_and_converter_rows_program_every_layer_with_its_own_device():
    """``hardware_rows`` gives each layer the window, the sigma and that layer's keys, on the split
    asked for; ``converter_rows`` repeats one sigma under each periphery on the same draws; a failed
    model gives ``failed_rows`` and no converter rows."""
    torch.manual_seed(0)
    net = SpeechClassifier(
        ModelConfig(H=2, N=2, depth=2, quant=QuantConfig(bits=2, fscale=0.6)), 2
    ).eval()
    x = torch.randn(8, 60, generator=torch.Generator().manual_seed(2))
    test = AudioSet(x, torch.arange(8) % 2, pd.DataFrame({"file": [""] * 8}), 1000)
    val = AudioSet(x[:4], torch.arange(4) % 2, pd.DataFrame({"file": [""] * 4}), 1000)
    model = deployed.TrainedModel(net, AudioSplits(test, val, test, (0, 1)), "")
    window, layers = {"g_min_uS": 10.0, "g_max_uS": 100.0}, [{"dac_range": 4.0}, {"dac_range": 8.0}]
    seen = []
    real = deployed.programmed_rows

    def spy(net, data, devices_at, *args, **kwargs):
        seen.append((len(data), [(d.sigma_uS, d.dac_range, d.g_max_uS) for d in devices_at(5.0)]))
        return real(net, data, devices_at, *args, **kwargs)

    deployed.programmed_rows = spy
    try:
        rows = deployed.hardware_rows(
            model, "val", layers, window, [0.0, 5.0], 2, lambda s: int(s), 16
        )
        conv = deployed.converter_rows(
            model,
            {"a": (layers, "fast"), "b": (layers, "fast")},
            window,
            5.0,
            2,
            lambda s: int(s),
            16,
        )
    finally:
        deployed.programmed_rows = real
    assert seen[0] == (4, [(5.0, 4.0, 100.0), (5.0, 8.0, 100.0)])  # val clips, one device per layer
    assert [r["sigma_uS"] for r in rows] == [0.0, 5.0, 5.0]
    assert [r["periphery"] for r in conv] == ["a", "a", "b", "b"]
    assert [r["accuracy"] for r in conv[:2]] == [
        r["accuracy"] for r in conv[2:]
    ]  # same draws, same device
    failed = deployed.TrainedModel(None, model.splits, "unstable")
    got = deployed.hardware_rows(failed, "test", [], window, [0.0, 5.0], 2, int, 16)
    pd.testing.assert_frame_equal(
        pd.DataFrame(got), pd.DataFrame(deployed.failed_rows("unstable", [0.0, 5.0]))
    )
    assert deployed.converter_rows(failed, {"a": ([], "fast")}, window, 5.0, 2, int, 16) == []
