"""Step mode: the S4D recurrence on a memristive crossbar step by step, with every non-ideality of
the periphery, vectorised over noise realisations.

The array holds, per channel h, the combined matrix W_h = [[A_r, B_r], [C_r, 0]] of
``imssa.hardware.crossbar`` as differential conductance pairs. Each time step is one vector-matrix
multiplication (``simulate_step``): the periphery drives [x_{t-1}; u_t] as voltages (DAC,
``periphery``), reads the column currents (TIA + ADC) and obtains [x_t; y'_{t-1}]; the state goes
back through the DAC. Where the modes do not couple (``mode_blocks``) the loop runs on the non-zero
entries only, in its own line order (``_Lines``). ``flush_subnormals`` keeps decaying states fast
here and in fast mode (``analog``).

Shapes: R realisations, batch of B clips, H channels, n = 2N + 1. Conductances in uS.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from typing import NamedTuple

import torch
from torch import Tensor

from . import periphery
from .crossbar import structural_mask
from .devices import DeviceConfig

__all__ = ["flush_subnormals", "mode_blocks", "simulate_step"]


@contextlib.contextmanager
def flush_subnormals() -> Iterator[None]:
    """Flush subnormal floats to zero inside the block (CPU): decaying states and kernel powers
    reach them within a few hundred steps, and arithmetic on them is up to 100x slower. Values
    below 1e-38 (float32) or 1e-308 (float64) change nothing here."""
    global _flush_depth
    if _flush_depth == 0:
        torch.set_flush_denormal(True)
    _flush_depth += 1
    try:
        yield
    finally:
        _flush_depth -= 1
        if _flush_depth == 0:
            torch.set_flush_denormal(False)


_flush_depth = 0  # nesting depth of flush_subnormals: only the outermost block switches the mode


def simulate_step(
    u: Tensor,
    W: Tensor,
    D: Tensor,
    dev: DeviceConfig = DeviceConfig(),
    generator: torch.Generator | None = None,
    peaks: dict[str, Tensor] | None = None,
    read_var: Tensor | None = None,
) -> Tensor:
    """Step-by-step analog recurrence with periphery non-idealities. Returns y (R, B, H, L).

    u: (B, H, L) inputs, or (R, B, H, L), one per realisation; W: (R, H, n, n) effective weights of
    the programmed arrays; D: (H,). Each step: [x; u] through the DAC (``periphery.quantize`` at
    ``dac_bits`` with the row's full scale: ``dac_range``, ``dac_input_range`` for the input row, or
    ``row_ranges``), one VMM per array cycle (one cycle for multi-level inputs; bit-serially, one
    per magnitude bit, its partial sums shift-added after conversion), read noise
    (``read_noise_model``: additive, std ``read_noise`` x ``adc_range``; column, ``read_noise`` x
    the column's full scale; device, std ``read_noise_device`` sqrt(sum_j S_ij v_j^2) with
    ``read_var`` S (R, H, n, n), the squared conductances in weight units, ``deploy``), the
    column's offset and gain error (``periphery.draw_converter_errors``, drawn once per call from
    ``generator``), the ADC (``adc_bits``, ``adc_range`` or ``column_ranges``) and the digital
    affine correction. A state's ADC output is its next DAC input.

    ``peaks``, if given, receives the largest |DAC input| before clipping per (channel, row)
    (``dac_row``: (H, n)) and |ADC input| per (channel, column) (``adc_column``; bit-serial:
    ``partial_column``, one bit's partial sum), per realisation (``dac``, ``adc``: (R,)), per
    channel (``*_channel``: (H,)), per row group (``dac_state``, ``dac_input``: (R,)); whether a
    converter clipped (``dac_over``, ``adc_over``: (R,); ``*_over_channel``: (H,)); and the
    conversions made per clip and step (``adc_conversions``, ``dac_conversions``: 0-dim), counted as
    they happen.
    """
    if dev.read_noise > 0 and dev.adc_range is None:
        raise ValueError("read noise is a fraction of the ADC range: set adc_range")
    if dev.read_noise_device > 0 and read_var is None:
        raise ValueError("per-device read noise needs read_var, the arrays' squared conductances")
    with flush_subnormals():
        return _step(u, W, D, dev, generator, peaks, read_var)


def _step(
    u: Tensor,
    W: Tensor,
    D: Tensor,
    dev: DeviceConfig,
    generator: torch.Generator | None,
    peaks: dict[str, Tensor] | None,
    read_var: Tensor | None,
) -> Tensor:
    R, (B, H, L), n = W.shape[0], u.shape[-3:], W.shape[-1]
    rg = periphery.ranges(dev, H, n, u.dtype, u.device)
    if dev.input_encoding == "bit_serial" and rg.dac is None:
        raise ValueError("bit-serial inputs need DAC ranges (dac_range or row_ranges)")
    errors = periphery.draw_converter_errors(dev, R, H, n, rg.adc, generator, u.dtype, u.device)
    lines = _Lines.of(W, read_var if dev.read_noise_device > 0 else None)
    dac, adc, partial = (lines.put(r) for r in (rg.dac, rg.adc, rg.partial))
    if errors is not None:
        errors = periphery.ConverterErrors(*(lines.put(e) for e in dataclasses.astuple(errors)))

    def noise(shape: torch.Size) -> Tensor:  # drawn in the arrays' line order, whatever the loop's
        return lines.put(torch.randn(shape, generator=generator, dtype=u.dtype, device=u.device))

    def convert(out: Tensor, drive: Tensor, full_scale: Tensor | float | None) -> Tensor:
        if dev.read_noise > 0:
            # additive: the layer's full scale; column: the converting column's own
            scale = full_scale if dev.read_noise_model == "column" else dev.adc_range
            out = out + dev.read_noise * scale * noise(out.shape)
        if lines.var is not None:
            std = dev.read_noise_device * lines.var(drive * drive).clamp_min(0).sqrt()
            out = out + std * noise(out.shape)
        if errors is not None:
            out = errors.read(out)
        out = periphery.quantize(out, dev.adc_bits, full_scale)
        return out if errors is None else errors.correct(out)

    v = u.new_zeros(R, B, H, n)
    readout = u.new_empty(R, B, H, L)
    peak_row, peak_col = u.new_zeros(R, H, n), u.new_zeros(R, H, n)
    adc_count = dac_count = 0
    for t in range(L + 1):  # step t reads out y'_{t-1}
        v[..., -1] = u[..., t] if t < L else 0.0
        peak_row = torch.maximum(peak_row, v.abs().amax(1))
        v_in = periphery.quantize(v, dev.dac_bits, dac)
        if dev.input_encoding == "multi_level":
            out = lines.vmm(v_in)
            peak_col = torch.maximum(peak_col, out.abs().amax(1))
            out = convert(out, v_in, adc)
            adc_count, dac_count = adc_count + H * n, dac_count + H * n
        else:
            # one bipolar pulse per magnitude bit: a row whose bit is 1 is driven at its full scale
            top = periphery.levels(dev.dac_bits)
            code = torch.round(v_in / (dac / top))
            sign, magnitude = code.sign(), code.abs()
            out = torch.zeros_like(v)
            for bit in range(periphery.input_cycles(dev)):
                drive = sign * torch.remainder(torch.floor(magnitude / 2**bit), 2) * dac
                partial_sum = lines.vmm(drive)
                peak_col = torch.maximum(peak_col, partial_sum.abs().amax(1))
                out = out + 2**bit * convert(partial_sum, drive, partial)
                adc_count, dac_count = adc_count + H * n, dac_count + H * n
            out = out / top
        if t > 0:
            readout[..., t - 1] = out[..., -1]
        v = out  # the states go back through the DAC; the input line is written over next step
    if peaks is not None:
        summary = _peak_summary(
            lines.back(peak_row), lines.back(peak_col), rg, dev.input_encoding == "bit_serial"
        )
        peaks.update(
            summary,
            adc_conversions=torch.tensor(adc_count / (L + 1), device=u.device),
            dac_conversions=torch.tensor(dac_count / (L + 1), device=u.device),
        )
    return 2 * readout + D[:, None] * u


class _Lines(NamedTuple):
    """The order of the n lines (a row and the column of the same index) in ``_step``'s vectors,
    with the VMMs in that order. Where the modes do not couple (``mode_blocks``, for the arrays and
    for ``read_var`` where given), ``halves``: the first lines of all modes, then their second
    lines, then the input line, so that the block VMM runs on contiguous halves; else the arrays'
    own order. Only the memory layout differs: every element goes through the same operations, so
    the outputs are bitwise equal."""

    halves: bool
    vmm: Callable[[Tensor], Tensor]
    var: Callable[[Tensor], Tensor] | None

    @classmethod
    def of(cls, W: Tensor, read_var: Tensor | None) -> _Lines:
        """The lines of arrays W (R, H, n, n) and, for per-device read noise, ``read_var`` (same
        shape)."""
        blocks = mode_blocks(W)
        var_blocks = None if read_var is None else mode_blocks(read_var)
        if blocks is None or (read_var is not None and var_blocks is None):
            # each its own VMM, in W's order

            def own(M: Tensor, b: tuple[Tensor, ...] | None) -> Callable[[Tensor], Tensor]:
                return (
                    (lambda v: torch.einsum("rhij,rbhj->rbhi", M, v))
                    if b is None
                    else lambda v: _vmm_blocks(b, v)
                )

            return cls(
                False, own(W, blocks), None if read_var is None else own(read_var, var_blocks)
            )
        var = None if var_blocks is None else lambda v: _vmm_blocks(var_blocks, v, halves=True)
        return cls(True, lambda v: _vmm_blocks(blocks, v, halves=True), var)

    def put(self, t: Tensor | float | None) -> Tensor | float | None:
        """A tensor (..., n) over the array lines, in the loop's order (floats and None
        unchanged)."""
        if not isinstance(t, Tensor) or not self.halves:
            return t
        # 3x faster than a gather
        return torch.cat([t[..., 0:-1:2], t[..., 1:-1:2], t[..., -1:]], -1)

    def back(self, t: Tensor) -> Tensor:
        """A tensor (..., n) in the loop's order, over the array lines again."""
        if not self.halves:
            return t
        N, out = t.shape[-1] // 2, torch.empty_like(t)
        out[..., 0:-1:2], out[..., 1:-1:2], out[..., -1] = t[..., :N], t[..., N : 2 * N], t[..., -1]
        return out


def _peak_summary(
    peak_row: Tensor, peak_col: Tensor, rg: periphery.Ranges, bit_serial: bool
) -> dict[str, Tensor]:
    """``simulate_step``'s ``peaks`` from the largest |DAC input| per (R, H, row) and |ADC input|
    per (R, H, column), and the converters' ranges."""

    def over(peak: Tensor, limit: Tensor | float | None) -> Tensor:
        if limit is None:
            return torch.zeros_like(peak, dtype=torch.bool)
        return peak > torch.as_tensor(limit, dtype=peak.dtype, device=peak.device)

    dac_over = over(peak_row, rg.dac)
    adc_over = over(peak_col, rg.partial if bit_serial else rg.adc)
    return {
        "dac_row": peak_row.amax(0),
        ("partial_column" if bit_serial else "adc_column"): peak_col.amax(0),
        "dac": peak_row.amax((1, 2)),
        "adc": peak_col.amax((1, 2)),
        "dac_channel": peak_row.amax((0, 2)),
        "adc_channel": peak_col.amax((0, 2)),
        "dac_state": peak_row[..., :-1].amax((1, 2)),
        "dac_input": peak_row[..., -1].amax(1),
        "dac_over": dac_over.flatten(1).any(1),
        "adc_over": adc_over.flatten(1).any(1),
        "dac_over_channel": dac_over.any(2).any(0),
        "adc_over_channel": adc_over.any(2).any(0),
    }


def mode_blocks(W: Tensor) -> tuple[Tensor, ...] | None:
    """The non-zero parts of combined matrices W (R, H, n, n) whose modes do not couple (block
    layout without devices on structural zeros): the four entries of each 2x2 block of A_r, B_r and
    C_r in pairs, and the corner, each (R, 1, H, N) (corner (R, 1, H)); None if any other entry
    (``crossbar.structural_mask``, the corner aside) is non-zero."""
    if W.shape[-1] % 2 == 0:  # an odd number of real states (the real variant): no 2x2 pairing
        return None
    N = (W.shape[-1] - 1) // 2
    mask = structural_mask(1, N)[0].to(W.device)
    mask[-1, -1] = True  # the corner is a programmed zero in both layouts
    if (W[..., ~mask] != 0).any():
        return None
    i = torch.arange(N, device=W.device) * 2
    e = lambda rows, cols: W[..., rows, cols].unsqueeze(1)  # noqa: E731
    return (
        e(i, i),
        e(i, i + 1),
        e(i + 1, i),
        e(i + 1, i + 1),
        e(i, -1),
        e(i + 1, -1),
        e(-1, i),
        e(-1, i + 1),
        W[..., -1, -1].unsqueeze(1),
    )


def _vmm_blocks(blocks: tuple[Tensor, ...], v: Tensor, halves: bool = False) -> Tensor:
    """``einsum('rhij,rbhj->rbhi', W, v)`` for W given as ``mode_blocks``: O(n) per step instead of
    O(n^2). v (R, B, H, n) with each mode's two lines side by side (the arrays' order) or,
    ``halves``, all first lines, then all second lines (``_Lines``); the input line last. Returns
    W v in v's order."""
    a00, a01, a10, a11, b0, b1, c0, c1, corner = blocks
    N = a00.shape[-1]
    first, second = (slice(0, N), slice(N, 2 * N)) if halves else (slice(0, -1, 2), slice(1, -1, 2))
    x0, x1, u = v[..., first], v[..., second], v[..., -1:]
    out = torch.empty_like(v)
    out[..., first] = a00 * x0 + a01 * x1 + b0 * u
    out[..., second] = a10 * x0 + a11 * x1 + b1 * u
    out[..., -1] = (c0 * x0 + c1 * x1).sum(-1) + corner * u[..., 0]
    return out
