"""Wall time of the full Fig. 4 sweep of the deployment chapter (paper profile), not a test.

Runs the same cells as the chapter (every bit width x every sigma, ``realisations`` programmings
each, fast mode) on the cached QAT models, into a throw-away checkpoint, and prints the time.
Needs the models in the cache: run the QAT chapter first (``make book``).

    python benchmarks/bench_fig4.py [params/paper/hardware_deployment.yaml]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from imssa.deploy import noise_rows
from imssa.params import load_params
from imssa.qat import qat_run
from imssa.sweep import resumable_grid
from imssa.train import load_splits, restore_model, result_of


def main() -> None:
    cfg = load_params("hardware_deployment", sys.argv[1] if len(sys.argv) > 1 else "params/paper/hardware_deployment.yaml")
    splits = load_splits(cfg.data)
    runs = {b: qat_run(cfg, b, "fixed", cfg.fscale, cfg.seeds[0]) for b in cfg.fig4_bits}
    nets = {b: restore_model(r.model, result_of(r), len(cfg.data.digits)) for b, r in runs.items()}

    def cell(c: dict) -> list[dict]:
        return noise_rows(nets[c["bits"]], splits.test, c["bits"], c["sigma_uS"], cfg.g_min_uS, cfg.g_max_uS,
                          cfg.realisations)

    cells = [{"bits": b, "sigma_uS": s} for b in cfg.fig4_bits for s in cfg.sigmas_uS]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        rows = resumable_grid(cells, cell, Path(tmp) / "fig4.csv", "Fig. 4")
        wall = time.perf_counter() - t0
    print(f"Fig. 4 sweep ({cfg.profile}): {len(cells)} cells x {cfg.realisations} programmings x "
          f"{len(splits.test)} clips = {len(rows) * len(splits.test)} evaluations in {wall:.1f} s")


if __name__ == "__main__":
    main()
