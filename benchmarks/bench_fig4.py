"""Wall time of the full Fig. 4 sweep of the deployment chapter (paper profile), not a test.

Runs the same cells as the chapter (every bit width x every sigma x every fold, ``realisations``
programmings each, fast mode) on the cached QAT models, into a throw-away checkpoint, and prints
the time.
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
from imssa.runs import qat_run, trained
from imssa.sweep import resumable_grid


def main() -> None:
    cfg = load_params("hardware_deployment", sys.argv[1] if len(sys.argv) > 1 else "params/paper/hardware_deployment.yaml")
    models = {(b, f): trained(qat_run(cfg, b, "fixed", cfg.seeds[0], f), len(cfg.data.digits))
              for b in cfg.fig4_bits for f in cfg.folds}

    def cell(c: dict) -> list[dict]:
        return [r | {"fold": f} for f in cfg.folds
                for r in noise_rows(models[c["bits"], f][0], models[c["bits"], f][1].test, c["bits"], c["sigma_uS"],
                                    cfg.g_min_uS, cfg.g_max_uS, cfg.realisations)]

    cells = [{"bits": b, "sigma_uS": s} for b in cfg.fig4_bits for s in cfg.sigmas_uS]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        rows = resumable_grid(cells, cell, Path(tmp) / "fig4.csv", "Fig. 4")
        wall = time.perf_counter() - t0
    clips = len(models[cfg.fig4_bits[0], cfg.folds[0]][1].test)
    print(f"Fig. 4 sweep ({cfg.profile}): {len(cells)} cells x {len(cfg.folds)} folds x {cfg.realisations} programmings "
          f"x {clips} clips = {len(rows) * clips} evaluations in {wall:.1f} s")


if __name__ == "__main__":
    main()
