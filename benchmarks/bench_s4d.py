"""Forward + backward time of imssa's S4D layer against a Vandermonde reference, side by side.

The reference computes the kernel as the state-spaces S4D module does: it materialises the full
tensor exp(dt A k) of shape (H, N, L) and contracts it with C B_bar. Both use the same FFT
convolution, the same parameters and the same input; timings alternate between the two in one
run and the ratio of medians is printed. Not a test: run with `make bench`.

    python benchmarks/bench_s4d.py [--batch 32 --H 32 --N 8 --L 4000 8000 16000 --repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from imssa.model.s4d import S4D, ssm_conv


def vandermonde_forward(layer: S4D, u: torch.Tensor) -> torch.Tensor:
    """Reference kernel: K = 2 Re(einsum(C B_bar, exp(dt A k))) with exp(dt A k) as one (H, N, L)
    tensor."""
    dt = torch.exp(layer.log_dt)[:, None]
    A = layer.continuous_A()
    dtA = dt * A
    C_B = torch.view_as_complex(layer.C) * (torch.exp(dtA) - 1) / A * torch.view_as_complex(layer.B)
    powers = torch.exp(dtA.unsqueeze(-1) * torch.arange(u.shape[-1], device=u.device))  # (H, N, L)
    K = 2 * torch.einsum("hn,hnl->hl", C_B, powers).real
    return ssm_conv(u, K, layer.D)


def time_step(fn, layer, u) -> float:
    t0 = time.perf_counter()
    fn(layer, u).square().mean().backward()
    layer.zero_grad(set_to_none=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--H", type=int, default=32)
    ap.add_argument("--N", type=int, default=8)
    ap.add_argument("--L", type=int, nargs="+", default=[4000, 8000, 16000])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    layer = S4D(args.H, args.N)
    ours = lambda m, x: m(x)  # noqa: E731
    print(
        f"batch={args.batch} H={args.H} N={args.N} threads={args.threads}, median of {args.repeats}"
    )
    print(f"{'L':>6} {'imssa (ms)':>11} {'Vandermonde (ms)':>17} {'speed-up':>9}")
    for L in args.L:
        u = torch.randn(args.batch, args.H, L)
        with torch.no_grad():  # same maths first
            assert torch.allclose(layer(u), vandermonde_forward(layer, u), rtol=1e-3, atol=1e-3)
        times = {"ours": [], "ref": []}
        for _ in range(args.repeats + 1):  # first round warms up
            times["ours"].append(time_step(ours, layer, u))
            times["ref"].append(time_step(vandermonde_forward, layer, u))
        t_ours, t_ref = (statistics.median(v[1:]) * 1e3 for v in (times["ours"], times["ref"]))
        print(f"{L:>6} {t_ours:>11.1f} {t_ref:>17.1f} {t_ref / t_ours:>8.2f}x")


if __name__ == "__main__":
    main()
