"""Scoring programmings: one row per realisation of a programmed stack, and why it failed.

``realisation_rows`` programs every layer R times (``stack.stack_weights``), runs the clips
(``stack.stack_run``) and returns each programming's accuracy, spectral radius, saturation,
failure cause (``failure_cause``), pulses and the check after programming's counts
(``CHECK_COLUMNS``); ``noise_rows`` is one point of the programming-noise sweep.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from ..data.audio import AudioSet
from ..model.train import SpeechClassifier
from ..stats.programmings import chance_failure
from .deploy import spectral_radius
from .devices import DeviceConfig
from .stack import stack_run, stack_weights

__all__ = ["CHECK_COLUMNS", "failure_cause", "noise_rows", "realisation_rows"]


def failure_cause(
    accuracy: float,
    n_clips: int,
    spectral_radius: float,
    saturated: bool,
    dev: DeviceConfig,
    chance: float = 0.5,
) -> str:
    """Why a programming scores at chance (``stats.programmings.chance_failure``), '' if it does
    not: 'unstable' (spectral radius >= 1), else 'saturated' (a converter clipped), else the
    non-idealities present that can silence it without either ('stuck devices', 'converter
    rounding', 'read noise', joined by ' + '; the chapters separate them with runs that switch one
    off), else 'weight error' (programming noise alone, with a stable recurrence). ``chance``: the
    chance level (1 / classes)."""
    if not chance_failure(accuracy, n_clips, chance):
        return ""
    if spectral_radius >= 1:
        return "unstable"
    if saturated:
        return "saturated"
    present = [
        name
        for name, on in (
            ("stuck devices", dev.stuck_at_gmax + dev.stuck_at_gmin > 0),
            ("converter rounding", dev.dac_bits is not None or dev.adc_bits is not None),
            ("read noise", dev.read_noise > 0),
        )
        if on
    ]
    return " + ".join(present) or "weight error"


def noise_rows(
    net: SpeechClassifier,
    data: AudioSet,
    sigma_uS: float,
    dev: DeviceConfig,
    R: int,
    seed: int,
    layout: Literal["dense", "block"] = "block",
    devices_per_element: int = 16,
    real_zeros: bool = False,
    digital_A: bool = False,
    t_s: float = 0.0,
) -> list[dict[str, Any]]:
    """One point of the programming-noise sweep (the paper's Fig. 4): ``R`` programmings of ``dev``
    (range, window, clipping rule, converter ranges) with noise ``sigma_uS``, fast mode, drawn from
    ``seed`` (``seeds.draw_seed`` of the model and the noise level: every model its own draws,
    every variant of one model the same ones). Where every programming is the same (sigma = 0 and
    nothing else random at ``t_s``, ``DeviceConfig.random_at``) one is computed. ``real_zeros``,
    ``digital_A``, ``t_s``: ``deploy.deployed_weights``."""
    noisy = dev.model_copy(update={"sigma_uS": sigma_uS})
    return realisation_rows(
        net,
        data,
        [noisy] * len(net.layers),
        R if noisy.random_at(t_s) else 1,
        seed=seed,
        layout=layout,
        devices_per_element=devices_per_element,
        real_zeros=real_zeros,
        digital_A=digital_A,
        t_s=t_s,
    )


#: The check after programming's columns of ``realisation_rows`` and the ``stats`` keys they sum.
CHECK_COLUMNS = {
    "check_rounds": "check_rounds",
    "channels_reprogrammed": "reprogrammed",
    "channels_failing": "failing",
}


def realisation_rows(
    net: SpeechClassifier,
    data: AudioSet,
    devs: list[DeviceConfig],
    R: int,
    seed: int,
    reference: list[Tensor] | None = None,
    mode: str = "fast",
    layout: Literal["dense", "block"] = "block",
    devices_per_element: int = 16,
    real_zeros: bool = False,
    chunk: int | None = None,
    digital_A: bool = False,
    t_s: float = 0.0,
) -> list[dict[str, Any]]:
    """Program every layer of ``net`` ``R`` times (``stack_weights``; ``devs``: one DeviceConfig
    per layer, ``[dev]`` for a single layer), run the clips of ``data`` (``stack_run``, ``chunk``
    realisations at a time: default all in fast mode, 8 in step mode) and return one row per
    realisation: its accuracy, the largest spectral radius over the layers (> 1: a noisy recurrence
    is unstable), whether a converter saturated, the failure cause (``failure_cause`` at 1 /
    classes), the mean programming pulses per device (1 without write-verify), the check after
    programming's rounds, channel reprogrammings and channels still failing, summed over the layers
    (0 without the check; ``deploy.deployed_weights``) and, with
    ``reference`` (the ideal stack's per-layer outputs on ``data``), the relative output error of
    every layer, accumulated (``error_<i>``) and local (``local_error_<i>``), i = 1 .. depth.
    ``real_zeros``, ``digital_A``, ``t_s`` (s after programming): ``deploy.deployed_weights``."""
    stats: list[dict[str, Tensor]] = []
    Ws = stack_weights(
        net,
        devs,
        R,
        seed,
        layout,
        devices_per_element,
        stats=stats,
        real_zeros=real_zeros,
        digital_A=digital_A,
        t_s=t_s,
    )
    if mode == "fast" and any(dev.needs_step for dev in devs):
        raise ValueError(
            "this periphery (converter bits, read noise, offsets, bit-serial inputs or per-column "
            "ranges) needs mode='step'"
        )
    out = stack_run(
        net,
        data.x,
        Ws,
        devs,
        mode,
        seed,
        chunk=chunk or (R if mode == "fast" else 8),
        reference=reference,
        read_vars=[st.get("read_var") for st in stats],
    )
    acc = (out.logits.argmax(-1).cpu().numpy() == data.y.numpy()).mean(-1)
    rho = torch.stack([spectral_radius(W) for W in Ws], -1).amax(-1).cpu()
    pulses = torch.stack([st["pulses"] for st in stats], -1).mean(-1).cpu()
    rows = []
    for r in range(R):
        row = {
            "realisation": r,
            "accuracy": float(acc[r]),
            "spectral_radius": float(rho[r]),
            "saturated": bool(out.saturated[r]),
            "failure": failure_cause(
                float(acc[r]),
                len(data),
                float(rho[r]),
                bool(out.saturated[r]),
                devs[0],
                1 / net.decoder.out_features,
            ),
            "pulses_per_device": float(pulses[r]),
        }
        row |= {  # 0 without the check after programming
            name: float(sum(st[key][r] for st in stats if key in st))
            for name, key in CHECK_COLUMNS.items()
        }
        if reference is not None:
            row |= {f"error_{i + 1}": float(out.error[r, i]) for i in range(len(Ws))}
            row |= {f"local_error_{i + 1}": float(out.local_error[r, i]) for i in range(len(Ws))}
        rows.append(row)
    return rows
