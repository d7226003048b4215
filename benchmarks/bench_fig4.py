"""The Fig. 4 sweep of the deployment chapter: its wall time, and fast mode against step mode on it,
side by side in one run (not a test).

1. The whole sweep on the default (paper-like) array: every bit width x sigma x model (fold and
   seed), ``realisations`` programmings each, fast mode with the saturating periphery, as the
   chapter runs it. Prints its wall time.
2. Fast (saturating) against step mode (same converter ranges, ideal resolution) on the same
   programmed arrays: ``--models`` models per bit width at every sigma of the sweep, one
   programming each. Prints both times, their ratio, and whether every prediction agrees. Step
   mode uses the block structure of the paper-like layout (O(n) per step); on ``--dense`` of the
   programmings it is also timed with the general (n x n) VMM that any layout needs, to show the
   ratio against a step simulator that does not exploit the layout.

Needs the QAT models in the cache (run the QAT or deployment chapter first).

    python benchmarks/bench_fig4.py [params/paper/hardware_deployment.yaml] [--models 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from imssa.hardware.deploy import deployed_weights
from imssa.hardware.devices import DeviceConfig
from imssa.hardware.ranges import converter_ranges
from imssa.hardware.realisations import noise_rows
from imssa.hardware.stack import stack_run
from imssa.study.deployed import load_model
from imssa.study.params import load_params
from imssa.study.programming import model_draw_seed
from imssa.study.runs import qat_spec
from imssa.study.sweep import resumable_grid


def predict(net, data, W, dev, mode):
    """Predicted classes (R, clips) and saturation (R,) of the programmed arrays W (one layer)."""
    out = stack_run(net, data.x, [W], [dev], mode, chunk=len(W))
    return out.logits.argmax(-1).numpy(), out.saturated.numpy()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("params", nargs="?", default="params/paper/hardware_deployment.yaml")
    ap.add_argument(
        "--models", type=int, default=1, help="models per bit width in the fast/step comparison"
    )
    ap.add_argument(
        "--dense", type=int, default=5, help="programmings also timed with the general VMM"
    )
    a = ap.parse_args()
    cfg = load_params("hardware_deployment", a.params)
    keys = [(s, f) for f in cfg.folds for s in cfg.seeds]
    models = {
        (b, s, f): load_model(qat_spec(cfg, b, "fixed", s, f), len(cfg.data.digits))
        for b in cfg.fig4_bits
        for s, f in keys
    }
    t0 = time.perf_counter()
    window = DeviceConfig(
        g_min_uS=cfg.g_min_uS,
        g_max_uS=cfg.g_max_uS,
        g_phys_max_uS=cfg.g_phys_max_uS,
        noise_clip=cfg.noise_clips[0],
    )
    devs = {
        k: window.model_copy(update=converter_ranges(net, sp.train.x, cfg.headroom))
        for k, (net, sp, _) in models.items()
    }
    dpe = cfg.devices_per_element[0]

    def cell(c: dict) -> list[dict]:
        return [
            r
            for s, f in keys
            for r in noise_rows(
                *[models[c["bits"], s, f][0], models[c["bits"], s, f][1].test],
                c["sigma_uS"],
                devs[c["bits"], s, f],
                cfg.realisations,
                model_draw_seed(c, s, f),
                "block",
                dpe,
            )
        ]

    cells = [{"bits": b, "sigma_uS": s} for b in cfg.fig4_bits for s in cfg.sigmas_uS]
    with tempfile.TemporaryDirectory() as tmp:
        rows = resumable_grid(cells, cell, Path(tmp) / "fig4.csv", "Fig. 4")
    wall = time.perf_counter() - t0
    print(
        f"Fig. 4 sweep ({cfg.profile}, default array: block, {cfg.noise_clips[0]} clip, "
        f"{dpe} devices, saturating): {len(cells)} cells x {len(keys)} models, "
        f"{len(rows)} programmings in {wall:.1f} s"
    )

    fast_s, step_s, general_s = [], [], []
    agree = saturated = 0
    for b in cfg.fig4_bits:
        for s, f in keys[: a.models]:
            net, sp, _ = models[b, s, f]
            for sigma in cfg.sigmas_uS:
                W = deployed_weights(
                    net,
                    devs[b, s, f].model_copy(update={"sigma_uS": sigma}),
                    1,
                    seed=1000 * b + round(100 * sigma),
                    devices_per_element=dpe,
                )
                t = time.perf_counter()
                fast, sat = predict(net, sp.test, W, devs[b, s, f], "fast")
                fast_s.append(time.perf_counter() - t)
                t = time.perf_counter()
                step, _ = predict(net, sp.test, W, devs[b, s, f], "step")
                step_s.append(time.perf_counter() - t)
                agree += int(np.array_equal(fast, step))
                saturated += int(sat.sum())
                # a coupling of 1e-300 forces the general VMM: same numbers
                if len(general_s) < a.dense:
                    W_general = W.clone()
                    W_general[..., 0, 3] += 1e-300
                    t = time.perf_counter()
                    predict(net, sp.test, W_general, devs[b, s, f], "step")
                    general_s.append(time.perf_counter() - t)
    n, k = len(fast_s), len(general_s)
    print(
        f"fast vs step on {n} programmings of the Fig. 4 workload ({saturated} saturated): "
        f"fast {sum(fast_s):.1f} s, step {sum(step_s):.1f} s: "
        f"fast is {sum(step_s) / sum(fast_s):.1f}x faster than the block-structured step mode; "
        f"identical predictions on {agree} of {n}"
    )
    if k:
        print(
            f"on the first {k}: general-VMM step {sum(general_s):.1f} s against "
            f"fast {sum(fast_s[:k]):.1f} s: fast is {sum(general_s) / sum(fast_s[:k]):.1f}x faster"
        )


if __name__ == "__main__":
    main()
