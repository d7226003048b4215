"""The crossbar-mapping chapter's models and tables: the models it maps, the mapped matrix, its
placement on the arrays, the device counts of the layouts, and the check that the ideal array
computes what the digital model computes."""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch
from torch import Tensor

from ..data.audio import AudioSet
from ..hardware.analog import simulate_fast
from ..hardware.crossbar import Layout, layout
from ..hardware.deploy import deployed_weights
from ..hardware.devices import DeviceConfig
from ..hardware.stack import stack_run
from ..hardware.step import simulate_step
from ..model.cache import Run
from ..model.s4d import DiscreteSSM, ssm_recurrent
from ..model.train import SpeechClassifier, evaluate
from .params import MappingParams
from .runs import qat_spec

__all__ = [
    "device_counts",
    "exact_accuracy_row",
    "exactness_table",
    "mapped_specs",
    "matrix_facts",
    "placement_facts",
]


def mapped_specs(cfg: MappingParams) -> dict[int, Run]:
    """The models the chapter maps, by fold: fixed-range QAT at ``map_bits`` (``runs.qat_spec``,
    the QAT chapter's runs), first seed, on every fold of ``cfg``, in fold order; the first fold's
    is the one shown in detail."""
    seed = cfg.shared.seeds[0]
    return {f: qat_spec(cfg, cfg.shared.map_bits, "fixed", seed, f) for f in cfg.shared.folds}


def matrix_facts(q: DiscreteSSM, W: Tensor, test_accuracy: float) -> pd.Series:
    """The mapped layer's sizes: channels H, complex modes N and the matrix size n = 2N+1 of the
    combined matrices ``W`` (H, n, n) of the discrete model ``q``, the number of distinct weight
    values in ``W``, and the digital model's test accuracy (a fraction)."""
    return pd.Series(
        {
            "channels H": W.shape[0],
            "complex modes N": q.A_bar.shape[1],
            "matrix size n = 2N+1": W.shape[-1],
            "distinct weight values": int(torch.unique(W).numel()),
            "test accuracy (digital)": test_accuracy,
        }
    )


def placement_facts(lay: Layout, W: Tensor) -> pd.Series:
    """Where the channel blocks of ``W`` (H, n, n) sit in layout ``lay``: array and block sizes
    (cross-points), blocks per array, arrays per block, arrays, programmed devices, non-zero
    weights and the utilisation (a fraction, three decimals)."""
    n = W.shape[-1]
    return pd.Series(
        {
            "array (rows x cols)": f"{lay.rows} x {lay.cols}",
            "block (rows x cols)": f"{n} x {2 * n}",
            "blocks per array": lay.blocks_per_array,
            "arrays per block": lay.row_tiles_per_block * lay.col_tiles_per_block,
            "arrays": lay.arrays,
            "devices programmed": lay.devices,
            "non-zero weights": int((W != 0).sum()),
            "utilisation": round(lay.utilisation, 3),
        }
    )


def device_counts(
    H: int, n: int, rows: int, cols: int, kinds: list[tuple[str, int]]
) -> pd.DataFrame:
    """Devices, cross-points and arrays of H channels of size n on ``rows`` x ``cols`` arrays, one
    row per (layout, devices per element) of ``kinds`` (``crossbar.layout``)."""
    counts = []
    for kind, d in kinds:
        lay = layout(H, n, rows, cols, kind, d)
        counts.append(
            {
                "layout": kind,
                "devices per element": d,
                "devices programmed": lay.devices,
                "cross-points of the blocks": lay.cross_points,
                "arrays": lay.arrays,
                "utilisation": round(lay.utilisation, 3),
            }
        )
    return pd.DataFrame(counts)


@torch.no_grad()
def exactness_table(
    net: SpeechClassifier, q: DiscreteSSM, x: Tensor, W: Tensor, length: int
) -> pd.DataFrame:
    """How far the ideal array's recurrence is from the digital one: clips ``x`` (B, L) cut to
    ``length`` steps, encoded by ``net``, run through the combined matrices ``W`` (H, n, n) in step
    and fast mode and through the discrete model ``q`` in double precision. One row per mode: the
    relative error (2-norm, dimensionless) of the first clip's output against the digital one."""
    u = (net.encoder.weight[:, 0, None] * x[:, None, :length] + net.encoder.bias[:, None]).double()
    D = q.D.double()
    digital = ssm_recurrent(u, *[t.to(torch.complex128) for t in q[:3]], D)
    modes = {"step": simulate_step(u, W, D), "fast": simulate_fast(u, W, D)}
    return pd.DataFrame(
        [
            {
                "mode": m,
                "steps": length,
                "relative error vs digital": float((y[0] - digital).norm() / digital.norm()),
            }
            for m, y in modes.items()
        ]
    )


def exact_accuracy_row(
    fold: int, net: SpeechClassifier, test: AudioSet, dev: DeviceConfig, seed: int
) -> dict[str, Any]:
    """One fold of the whole-classifier check: the digital model ``net`` against its ideal array
    (devices ``dev``, one programming drawn from ``seed``, fast mode) on the test clips ``test``:
    both accuracies (fractions) and the number of clips predicted differently."""
    digital_pred = evaluate(net, test)[1]
    W = deployed_weights(net, dev, R=1, seed=seed)
    array_pred = stack_run(net, test.x, [W], [dev]).logits[0].argmax(-1).numpy()
    return {
        "fold": fold,
        "clips": len(test),
        "digital accuracy": float((digital_pred == test.y.numpy()).mean()),
        "array accuracy": float((array_pred == test.y.numpy()).mean()),
        "clips predicted differently": int((digital_pred != array_pred).sum()),
    }
