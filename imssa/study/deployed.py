"""Trained models as the hardware chapters take them: one cached loader and one software row, and
the rows of its programmings.

``load_model`` restores the classifier of a run specification (``runs.*_spec``) from the model
cache (training it if missing), or, for post-training quantization, quantizes the float model's
weights; ``software_row`` scores it in software (quantized weights, digital). ``hardware_rows``
programs it over a noise sweep, every layer on arrays of its own, and ``converter_rows`` repeats
one noise level of that sweep under several peripheries. The strategy, scale and programming
sweeps all start here, so a model is loaded one way, scored one way and programmed one way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import numpy as np
import torch
from torch import Tensor

from ..data.audio import AudioSet, AudioSplits
from ..hardware.devices import DeviceConfig
from ..hardware.realisations import realisation_rows
from ..model.cache import Run, restore_model, train_or_load
from ..model.config import QuantConfig
from ..model.fir import FIRBank
from ..model.poles import UnstableSSMError
from ..model.train import SpeechClassifier, evaluate, load_splits
from ..stats.programmings import chance_failure

__all__ = [
    "TrainedModel",
    "converter_rows",
    "failed_row",
    "failed_rows",
    "hardware_rows",
    "load_model",
    "programmed_rows",
    "software_row",
]


class TrainedModel(NamedTuple):
    """A trained classifier in eval mode (``net``), the data splits of its fold, and why it cannot
    be deployed ('' if it can): its training failure ('unstable', 'non-finite') or, after
    post-training quantization, 'unstable'. ``net`` is None exactly when ``failure`` is set."""

    net: SpeechClassifier | None
    splits: AudioSplits
    failure: str


class _Key:
    """A run (and quantization) hashed by its configuration text, for the loader's cache."""

    def __init__(self, run: Run, ptq: QuantConfig | None, fscale: float | None) -> None:
        self.run, self.ptq, self.fscale = run, ptq, fscale
        parts = [run.data, run.model, run.train, *(run.init_from or ()), ptq]
        self.text = "|".join("" if p is None else p.model_dump_json() for p in parts) + f"|{fscale}"

    def __hash__(self) -> int:
        return hash(self.text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Key) and other.text == self.text


def load_model(
    run: Run, n_classes: int, ptq: QuantConfig | None = None, fscale: float | None = None
) -> TrainedModel:
    """The trained classifier of ``run`` with ``n_classes`` outputs (from the model cache, trained
    now if missing), its fold's splits and its failure. With ``ptq``: ``run`` is a float run whose
    weights are quantized with ``ptq`` after the range equalisation QAT starts from
    (``equalize_ranges(fscale)``); a quantized recurrence with a pole on or outside the unit circle
    fails as 'unstable'. Cached per process (the most recent 256 models)."""
    if ptq is not None and fscale is None:
        raise ValueError("post-training quantization needs the fscale of its range equalisation")
    return _load(_Key(run, ptq, fscale), n_classes)


@functools.lru_cache(maxsize=256)
def _load(key: _Key, n_classes: int) -> TrainedModel:
    run = key.run
    result, splits = train_or_load(run), load_splits(run.data)
    if result.failure:
        return TrainedModel(None, splits, result.failure)
    if key.ptq is None:
        return TrainedModel(restore_model(run.model, result, n_classes), splits, "")
    net = SpeechClassifier(run.model.model_copy(update={"quant": key.ptq}), n_classes)
    net.load_state_dict(result.state_dict)
    net.equalize_ranges(key.fscale)
    net.eval()
    try:
        with torch.no_grad():
            net(splits.val.x[:1])
    except UnstableSSMError:
        return TrainedModel(None, splits, "unstable")
    return TrainedModel(net, splits, "")


def software_row(model: TrainedModel) -> dict[str, Any]:
    """Validation and test accuracy of ``model`` in software, its largest pole radius over the
    layers (``max_abs_A_bar``), its number of test clips and, for a model that failed or scores at
    chance on its test clips (``stats.programmings.chance_failure`` at 1 / classes), the cause: the
    failure, else 'constant output' (one class for every clip) or 'chance'."""
    net, splits, failure = model
    row = {
        "val_accuracy": float("nan"),
        "accuracy": float("nan"),
        "max_abs_A_bar": float("nan"),
        "failure": failure,
        "test_clips": len(splits.test),
    }
    if net is None:
        return row
    acc, pred = evaluate(net, splits.test)
    if chance_failure(acc, len(pred), 1 / net.decoder.out_features):
        row["failure"] = "constant output" if len(np.unique(pred)) == 1 else "chance"
    with torch.no_grad():
        radius = max(
            (
                float(layer.discrete().A_bar.abs().max())
                for layer in net.layers
                if not isinstance(layer, FIRBank)
            ),
            default=float("nan"),
        )  # an FIR bank has no pole
    return row | {
        "val_accuracy": evaluate(net, splits.val)[0],
        "accuracy": acc,
        "max_abs_A_bar": radius,
    }


def programmed_rows(
    net: SpeechClassifier,
    data: AudioSet,
    devices_at: Callable[[float], list[DeviceConfig]],
    sigmas_uS: list[float],
    realisations: int,
    seed_at: Callable[[float], int],
    reference: list[Tensor] | None = None,
    mode: str = "fast",
    devices_per_element: int = 16,
) -> list[dict[str, Any]]:
    """One row per programming of ``net`` at each of ``sigmas_uS`` (uS) on the clips ``data``:
    every layer on its own arrays with the devices ``devices_at(sigma)`` (one per layer), block
    layout, ``realisations`` programmings (one where nothing is random) drawn from
    ``seed_at(sigma)``, scored by ``realisations.realisation_rows`` (``reference``: the per-layer
    errors); each row led by its ``sigma_uS``. The sweeps of the strategy and scale chapters."""
    rows = []
    for x in sigmas_uS:
        devs = devices_at(x)
        R = realisations if devs[0].random_at(0.0) else 1
        rows += [
            {"sigma_uS": x} | r
            for r in realisation_rows(
                net, data, devs, R, seed_at(x), reference, mode, "block", devices_per_element
            )
        ]
    return rows


def failed_row(failure: str) -> dict[str, Any]:
    """The row of a programming of a model that cannot be deployed:
    ``realisations.realisation_rows``' columns (the check after programming's aside, empty in a
    grid), accuracy NaN and the model's ``failure``."""
    return {
        "realisation": 0,
        "accuracy": float("nan"),
        "spectral_radius": float("nan"),
        "saturated": False,
        "failure": failure,
        "pulses_per_device": float("nan"),
    }


def failed_rows(failure: str, sigmas_uS: list[float]) -> list[dict[str, Any]]:
    """The rows ``programmed_rows`` gives a model that cannot be deployed: one ``failed_row`` per
    sigma, led by its ``sigma_uS``."""
    return [{"sigma_uS": x} | failed_row(failure) for x in sigmas_uS]


def hardware_rows(
    model: TrainedModel,
    split: Literal["val", "test"],
    layers: list[dict[str, Any]],
    window: dict[str, float],
    sigmas_uS: list[float],
    realisations: int,
    seed_at: Callable[[float], int],
    devices_per_element: int,
    mode: str = "fast",
    reference: list[Tensor] | None = None,
) -> list[dict[str, Any]]:
    """One row per programming of ``model`` at each of ``sigmas_uS`` (uS) on its ``split`` clips
    (``programmed_rows``): layer i on arrays of its own with the device of the conductance
    ``window`` (``DeviceConfig`` keys, uS), that sigma and ``layers[i]`` (its converter ranges and
    any converter keys; one dict per layer), block layout, draws from ``seed_at(sigma)``. A model
    that cannot be deployed gives ``failed_rows`` (one per sigma, accuracy NaN, its failure)."""
    net, splits, failure = model
    if net is None:
        return failed_rows(failure, sigmas_uS)
    data = splits.val if split == "val" else splits.test

    def devices_at(sigma_uS: float) -> list[DeviceConfig]:
        return [DeviceConfig(**window, sigma_uS=sigma_uS, **keys) for keys in layers]

    return programmed_rows(
        net,
        data,
        devices_at,
        sigmas_uS,
        realisations,
        seed_at,
        reference,
        mode,
        devices_per_element,
    )


def converter_rows(
    model: TrainedModel,
    peripheries: dict[str, tuple[list[dict[str, Any]], str]],
    window: dict[str, float],
    sigma_uS: float,
    realisations: int,
    seed_at: Callable[[float], int],
    devices_per_element: int,
) -> list[dict[str, Any]]:
    """The converter check: the test programmings of ``hardware_rows`` at ``sigma_uS`` (the same
    draws, ``seed_at``) under each periphery, ``label -> (device keys per layer, mode)``: one row
    per programming and periphery, led by ``periphery`` (its label); [] for a model that cannot be
    deployed."""
    if model.net is None:
        return []
    return [
        {"periphery": label} | row
        for label, (layers, mode) in peripheries.items()
        for row in hardware_rows(
            model,
            "test",
            layers,
            window,
            [sigma_uS],
            realisations,
            seed_at,
            devices_per_element,
            mode,
        )
    ]
