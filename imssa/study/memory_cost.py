"""Chapter 'Memory that survives programming': what a front end and its chosen design cost.

* ``front_end_table``: per front end, its step rate, features and energy per step.
* ``cost_table``: energy and latency of one inference of each task with A_bar on the array or
  held digitally (``hardware.cost``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..hardware.cost import CostConstants, analog_cost, device_conductances, front_end_J
from ..hardware.crossbar import pairs_per_weight
from ..hardware.deploy import target_conductances
from ..hardware.devices import DeviceConfig
from .deployed import load_model
from .memory_programming import PLACEMENTS, design, front_end, run_spec
from .params import ProgrammedMemoryParams

__all__ = [
    "cost_table",
    "front_end_table",
]


def front_end_table(
    cfg: ProgrammedMemoryParams, c: CostConstants = CostConstants()
) -> pd.DataFrame:
    """One row per front end: step rate, features per step, steps per memory-task sequence, the gap
    in steps, and the front end's energy per step (pJ, ``cost.front_end_J``)."""
    rows = []
    for f in cfg.front_ends:
        d = f.data(cfg.order_data())
        rows.append(
            {
                "front_end": f.name,
                "step_rate": d.step_rate,
                "features": d.features,
                "steps": d.steps,
                "gap_steps": cfg.order.gap_s * d.step_rate,
                "front_end_pJ_per_step": 1e12
                * front_end_J(d.n_fft, d.hop_length, d.n_mels or 1, c),
            }
        )
    return pd.DataFrame(rows)


def cost_table(
    cfg: ProgrammedMemoryParams,
    fes: list[str],
    bits: Mapping[str, Mapping[int, int]],
    c: CostConstants = CostConstants(),
) -> pd.DataFrame:
    """Energy and latency of one inference of each task (the memory task, the digits) per front
    end, for its chosen design with A_bar on the array and held digitally: ``cost.analog_cost``
    (ISAAC's bit-serial converters, 8-bit ADCs) over the front end's steps, on the programmed
    conductances of each fold's chosen model of that task (its fold's bits), plus the front end's
    own energy (``cost.front_end_J``); the mean over folds, and the bits each fold used."""
    N = cfg.shared.model.N
    d = cfg.shared.devices_per_element[0]
    lay = cfg.shared.block_layout(d)
    dev = DeviceConfig(**cfg.shared.window)
    rows = []
    for task, fe in ((t, fe) for t in ("order", "main") for fe in fes):
        data = front_end(cfg, fe).data(cfg.order_data() if task == "order" else cfg.shared.data)
        fe_J = (
            front_end_J(data.n_fft, data.hop_length, data.n_mels or 1, c)
            if data.front_end == "logmel"
            else 0.0
        )
        for placement in PLACEMENTS:
            digital, per_fold = placement == PLACEMENTS[1], []
            for fold in cfg.shared.folds:
                b = bits[fe][fold]
                net = load_model(
                    run_spec(cfg, fe, task, design(cfg, b), cfg.memory_seeds[0], fold),
                    data.n_classes,
                )[0]
                G = device_conductances(
                    target_conductances(net, dev, "block", digital_A=digital), pairs_per_weight(d)
                )
                per_fold.append(
                    analog_cost(
                        G,
                        lay,
                        N,
                        data.steps,
                        data.n_classes,
                        8,
                        c,
                        digital_A_bits=b if digital else None,
                        front_end_J=fe_J,
                    )
                )
            latency = float(np.mean([e.latency_us_per_step for e in per_fold]))
            rows.append(
                {
                    "task": task,
                    "front_end": fe,
                    "step_rate": data.step_rate,
                    "steps": data.steps,
                    "placement": placement,
                    "bits_A": "/".join(str(b) for b in sorted(set(bits[fe].values()))),
                    "energy_pJ_per_inference": float(
                        np.mean([e.energy_pJ_per_inference for e in per_fold])
                    ),
                    "front_end_pJ_per_inference": float(
                        np.mean(
                            [e.breakdown_pJ_per_inference.get("front_end", 0.0) for e in per_fold]
                        )
                    ),
                    "latency_us_per_step": latency,
                    "latency_ms_per_inference": latency * data.steps / 1000,
                }
            )
    return pd.DataFrame(rows)
