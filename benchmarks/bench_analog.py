"""Throughput of the analog simulators on one workload, side by side in one run (not a test).

fast mode (per-realisation kernels in float64, FFT convolution in float32, as the deployment
chapter runs it), step mode (one VMM per time step, vectorised over
realisations and clips) and a straightforward loop over realisations and clips calling the
step simulation one clip at a time. Throughput = realisations x clips x time steps per second.

    python benchmarks/bench_analog.py [--R 25 --B 60 --H 32 --N 16 --L 2000 --loop-clips 1]

The defaults are one fold of the paper profile's Fig. 4 workload: 25 programmings of the 100 test
clips, H = 32 channels of N = 16 modes, L = 2000 steps, realisations in chunks of 8.
"""

from __future__ import annotations

import argparse
import time

import torch

from imssa.hardware.analog import effective_weights, simulate_fast_encoded
from imssa.hardware.conductance import program
from imssa.hardware.crossbar import combined_matrix, to_conductance
from imssa.hardware.devices import DeviceConfig
from imssa.hardware.step import simulate_step
from imssa.model.qat import quantize_ssm
from imssa.model.s4d import DiscreteSSM


def workload(R: int, B: int, H: int, N: int, L: int):
    g = torch.Generator().manual_seed(0)

    def c(s: float) -> torch.Tensor:
        """(H, N) complex128, Re and Im standard normal times ``s``."""
        re, im = torch.randn(H, N, generator=g), torch.randn(H, N, generator=g)
        return torch.complex(re, im).to(torch.complex128) * s

    q = quantize_ssm(
        DiscreteSSM(c(0.4), c(0.5), c(0.5), torch.randn(H, generator=g).double()), 2, "fixed", 0.6
    )
    dev = DeviceConfig(g_min_uS=1.0, g_max_uS=101.0, sigma_uS=5.0)
    G = to_conductance(combined_matrix(q), 2, 0.6, dev.g_min_uS, dev.g_max_uS)
    W = effective_weights(*program(*G, R, dev, generator=g), 0.6, dev.g_min_uS, dev.g_max_uS)
    # one signal per clip, encoded per channel as in the model
    x = torch.randn(B, L, generator=g).double()
    w, b = torch.randn(H, generator=g).double(), torch.randn(H, generator=g).double()
    return x, w, b, W, q.D


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for name, default in [
        ("R", 25),
        ("B", 100),
        ("H", 32),
        ("N", 16),
        ("L", 2000),
        ("loop_clips", 1),
        ("threads", 2),
        ("chunk", 8),
    ]:
        ap.add_argument(f"--{name.replace('_', '-')}", type=int, default=default)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    x, w, b, W, D = workload(a.R, a.B, a.H, a.N, a.L)
    u = w[:, None] * x.unsqueeze(1) + b[:, None]  # the encoder's output, what step mode is fed
    work = a.R * a.B * a.L
    chunks = W.split(a.chunk)  # as the deployment chapter does, to bound memory
    t0 = time.perf_counter()
    y_fast = [
        simulate_fast_encoded(x.float(), w.float(), b.float(), c, D.float()).mean(-1)
        for c in chunks
    ]
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    y_step = [simulate_step(u, c, D).mean(-1) for c in chunks]
    t_step = time.perf_counter() - t0
    t0 = time.perf_counter()  # naive: one realisation and one clip at a time, a few clips
    for r in range(a.R):
        for clip in range(a.loop_clips):
            simulate_step(u[clip : clip + 1], W[r : r + 1], D)
    t_loop = (time.perf_counter() - t0) * a.B / a.loop_clips  # scaled to the full workload
    # time-averaged outputs, as the classifier uses
    y_fast, y_step = torch.cat(y_fast), torch.cat(y_step)
    err = ((y_fast - y_step).norm() / y_step.norm()).item()
    print(
        f"R={a.R} B={a.B} H={a.H} N={a.N} L={a.L} threads={a.threads}; "
        f"fast vs step rel. diff {err:.1e}"
    )
    for name, t in [("fast", t_fast), ("step", t_step), ("per-sample loop (extrapolated)", t_loop)]:
        print(
            f"{name:>32}: {t:8.2f} s  {work / t:12.3g} steps/s  fast is {t / t_fast:6.1f}x faster"
        )


if __name__ == "__main__":
    main()
