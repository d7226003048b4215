"""Step mode against the same simulator at an earlier revision, side by side in one run (not a
test).

The step loop runs in its own line order (``step._Lines``: the first lines of all modes, then
their second lines, so the block VMM reads contiguous halves) and writes its states in place. This
script loads ``imssa/hardware/analog.py`` as it was at ``--against`` (default 01ebc33, the loop in
the arrays' own order with a new state vector per step) beside the current one, runs both on the
same programmings, converters and generator seeds, checks that outputs and peaks are bitwise equal
and reports the CPU time of each (``time.process_time``: the ratio holds beside other work).

    python benchmarks/bench_step.py [--R 3 --B 100 --H 32 --N 16 --L 500 --against 01ebc33]

The defaults are one paper-profile task of the periphery chapter (3 programmings of the 100 test
clips of one model, 32 channels of 16 modes) over the first quarter of its 2000 steps.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import torch

from imssa.hardware import step
from imssa.hardware.crossbar import structural_mask
from imssa.hardware.devices import DeviceConfig

sys.path.insert(0, str(Path(__file__).parent))
from bench_analog import workload


def module_at(revision: str):
    """``imssa.hardware.analog`` as it was at ``revision`` (its relative imports resolved here)."""
    source = subprocess.run(
        ["git", "show", f"{revision}:imssa/hardware/analog.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    spec = importlib.util.spec_from_loader("imssa.hardware._analog_at_revision", loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "imssa.hardware"
    exec(compile(source, f"{revision}:imssa/hardware/analog.py", "exec"), module.__dict__)
    return module


def peripheries(H: int, n: int) -> dict[str, DeviceConfig]:
    """The periphery chapter's kinds of step-mode cell (ranges in state units, an ASSUMPTION of
    scale)."""
    ranges = (torch.rand(H, n, generator=torch.Generator().manual_seed(3)) * 3 + 1).tolist()
    column = dict(dac_bits=8, adc_bits=8, adc_range=4.0, row_ranges=ranges, column_ranges=ranges)
    return {
        "ranges only (a saturating rerun)": DeviceConfig(dac_range=4.0, adc_range=4.0),
        "one range per layer, read noise": DeviceConfig(
            dac_bits=8, adc_bits=8, dac_range=4.0, adc_range=4.0, read_noise=0.01
        ),
        "per column, offsets corrected": DeviceConfig(
            **column,
            read_noise=0.01,
            read_noise_model="column",
            adc_offset_sigma=0.01,
            adc_gain_sigma=0.01,
            calibration_reads=4,
        ),
        "bit-serial inputs": DeviceConfig(
            **column,
            input_encoding="bit_serial",
            partial_ranges=ranges,
            read_noise=0.01,
            read_noise_model="column",
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for name, default in [("R", 3), ("B", 100), ("H", 32), ("N", 16), ("L", 500)]:
        ap.add_argument(f"--{name}", type=int, default=default)
    ap.add_argument("--against", default="01ebc33")
    a = ap.parse_args()
    torch.set_num_threads(1)
    before = module_at(a.against)
    x, w, b, W, D = workload(a.R, a.B, a.H, a.N, a.L)
    W = (W * structural_mask(a.H, a.N)).float()  # the block layout: no devices off the blocks
    u, D = (w[:, None] * x.unsqueeze(1) + b[:, None]).float(), D.float()
    print(f"R={a.R} B={a.B} H={a.H} N={a.N} L={a.L}, float32, one thread; CPU s: {a.against} / now")
    for name, dev in peripheries(a.H, 2 * a.N + 1).items():
        out, times = [], []
        for module in (before, step):
            peaks, t0 = {}, time.process_time()
            y = module.simulate_step(
                u, W, D, dev, generator=torch.Generator().manual_seed(1), peaks=peaks
            )
            times.append(time.process_time() - t0)
            out.append((y, peaks))
        same = torch.equal(out[0][0], out[1][0]) and all(
            torch.equal(v, out[1][1][k]) for k, v in out[0][1].items()
        )
        print(
            f"{name:>34}: {times[0]:6.2f} / {times[1]:6.2f} s  {times[0] / times[1]:4.2f}x  "
            f"bitwise equal: {same}"
        )


if __name__ == "__main__":
    main()
