"""Step mode's loop runs in its own line order (``step._Lines``) and must give, bit for bit, what
the loop in the arrays' own order gives: outputs, peaks and counts, for every periphery."""

import pytest
import torch
from test_analog import arrays, quantized_model

from imssa.hardware import periphery
from imssa.hardware.crossbar import structural_mask
from imssa.hardware.devices import DeviceConfig
from imssa.hardware.step import _peak_summary, _vmm_blocks, mode_blocks, simulate_step

H, N = 3, 4
RANGES = (
    torch.rand(H, 2 * N + 1, generator=torch.Generator().manual_seed(5), dtype=torch.float64) * 2
    + 1
).tolist()
COLUMN = dict(dac_bits=6, adc_bits=6, adc_range=3.0, row_ranges=RANGES, column_ranges=RANGES)
PERIPHERIES = {
    "one range, read noise": dict(
        dac_bits=6, adc_bits=6, dac_range=3.0, adc_range=3.0, read_noise=0.01
    ),
    "per column, offsets": COLUMN
    | dict(
        read_noise=0.01,
        read_noise_model="column",
        adc_offset_sigma=0.02,
        adc_gain_sigma=0.02,
        calibration_reads=3,
    ),
    "per-device read noise": COLUMN | dict(read_noise_model="device", read_noise_device=0.02),
    "bit-serial": COLUMN
    | dict(
        input_encoding="bit_serial",
        read_noise=0.01,
        read_noise_model="column",
        partial_ranges=RANGES,
    ),
}


def reference_step(u, W, D, dev, generator, read_var):
    """The loop in the arrays' line order: each mode's two lines side by side, a new vector per
    step."""
    R, (B, H, L), n = W.shape[0], u.shape[-3:], W.shape[-1]
    rg = periphery.ranges(dev, H, n, u.dtype)
    errors = periphery.draw_converter_errors(dev, R, H, n, rg.adc, generator, u.dtype)

    def vmm(M):
        b = mode_blocks(M)
        return lambda v: torch.einsum("rhij,rbhj->rbhi", M, v) if b is None else _vmm_blocks(b, v)

    W_v, var = vmm(W), None if read_var is None else vmm(read_var)

    def convert(out, drive, full_scale):
        if dev.read_noise > 0:
            scale = full_scale if dev.read_noise_model == "column" else dev.adc_range
            out = out + dev.read_noise * scale * torch.randn(
                out.shape, generator=generator, dtype=out.dtype
            )
        if var is not None:
            std = dev.read_noise_device * var(drive * drive).clamp_min(0).sqrt()
            out = out + std * torch.randn(out.shape, generator=generator, dtype=out.dtype)
        out = out if errors is None else errors.read(out)
        out = periphery.quantize(out, dev.adc_bits, full_scale)
        return out if errors is None else errors.correct(out)

    v, readout = u.new_zeros(R, B, H, n), []
    peak_row, peak_col = u.new_zeros(R, H, n), u.new_zeros(R, H, n)
    for t in range(L + 1):
        v[..., -1] = u[..., t] if t < L else 0.0
        peak_row = torch.maximum(peak_row, v.abs().amax(1))
        v_in = periphery.quantize(v, dev.dac_bits, rg.dac)
        if dev.input_encoding == "multi_level":
            out = W_v(v_in)
            peak_col = torch.maximum(peak_col, out.abs().amax(1))
            out = convert(out, v_in, rg.adc)
        else:
            top = periphery.levels(dev.dac_bits)
            code = torch.round(v_in / (rg.dac / top))
            out = torch.zeros_like(v)
            for bit in range(periphery.input_cycles(dev)):
                drive = code.sign() * torch.remainder(torch.floor(code.abs() / 2**bit), 2) * rg.dac
                partial = W_v(drive)
                peak_col = torch.maximum(peak_col, partial.abs().amax(1))
                out = out + 2**bit * convert(partial, drive, rg.partial)
            out = out / top
        if t > 0:
            readout.append(out[..., -1])
        v = torch.cat([out[..., :-1], v[..., -1:]], -1)
    peaks = _peak_summary(peak_row, peak_col, rg, dev.input_encoding == "bit_serial")
    return 2 * torch.stack(readout, -1) + D[:, None] * u, peaks


@pytest.mark.parametrize("name", PERIPHERIES)
@pytest.mark.parametrize("layout", ["block", "dense"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_step_mode_in_its_line_order_equals_the_arrays_order_bit_for_bit(name, layout, dtype):
    q = quantized_model(2, H=H, N=N)
    W = arrays(q, 2, R=2, sigma_uS=6.0)
    W = W * structural_mask(H, N) if layout == "block" else W
    assert (mode_blocks(W) is None) == (layout == "dense")
    dev = DeviceConfig(**PERIPHERIES[name])
    g = torch.Generator().manual_seed(6)
    inputs = [
        torch.randn(4, H, 90, generator=g, dtype=torch.float64),  # one input for all programmings
        torch.randn(2, 4, H, 90, generator=g, dtype=torch.float64),
    ]  # one per programming
    blocky = (
        W * W * structural_mask(H, N)
    )  # the squared conductances: with the blocks' zeros, or dense
    variances = [None] if dev.read_noise_device == 0 else [blocky, W * W + 1e-6]
    for u in inputs:
        for S in variances:
            args = (u.to(dtype), W.to(dtype), q.D.to(dtype), dev)
            S = None if S is None else S.to(dtype)
            peaks = {}
            y = simulate_step(*args, torch.Generator().manual_seed(1), peaks, S)
            y_ref, peaks_ref = reference_step(*args, torch.Generator().manual_seed(1), S)
            assert torch.equal(y, y_ref)
            assert all(torch.equal(peaks[k], v) for k, v in peaks_ref.items())
