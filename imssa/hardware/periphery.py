"""The converters around an array: quantizers, their ranges (one per layer or one per row and
column), ADC/TIA offset and gain errors with their per-column affine correction, and how inputs are
applied (multi-level, or bit-serial with digital shift-and-add). The step simulator
(``step.simulate_step``) calls these; ``cost`` counts the conversions with
``conversions_per_step`` from the same ``DeviceConfig``.

A signed b-bit converter here is mid-tread: 2^b - 1 levels k q, |k| <= 2^(b-1) - 1, LSB
q = full_scale / (2^(b-1) - 1), clipping at +-full_scale; zero is a level (a silent row or column
stays exactly zero).

Ranges per row and column (``DeviceConfig.row_ranges``, ``column_ranges``), as a chip sets them
per column (IBM HERMES, Le Gallo et al., Nat. Electron. 6, 680 (2023); NeuRRAM, Wan et al., Nature
608, 504 (2022)): state i's ADC (column i) and DAC (row i) share one full scale, so the ADC's code
drives the DAC unchanged, with no digital multiply on the recurrence's path (at equal widths; a
shift where they differ). The input row and the readout column have ranges of their own; their
rescaling folds into the digital encoder and one multiply per channel and step after the readout
(``cost.periphery_ops``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .devices import DeviceConfig

__all__ = [
    "ConverterErrors",
    "Ranges",
    "affine_estimates",
    "conversions_per_step",
    "draw_converter_errors",
    "input_cycles",
    "levels",
    "quantize",
    "ranges",
    "round_to_levels",
]


def levels(bits: int) -> int:
    """Largest code magnitude of a signed mid-tread ``bits``-bit converter, 2^(bits-1) - 1."""
    if bits < 2:
        raise ValueError(f"a signed mid-tread converter needs >= 2 bits, got {bits}")
    return 2 ** (bits - 1) - 1


def quantize(v: Tensor, bits: int | None, full_scale: float | Tensor | None) -> Tensor:
    """Clip ``v`` to +-``full_scale`` (a float, or a tensor broadcasting against v; None: no limit)
    and round to the 2^bits - 1 levels of a signed mid-tread converter (None: no rounding)."""
    if full_scale is None:
        if bits is not None:
            raise ValueError("a converter with a resolution needs its range (dac_range/adc_range)")
        return v
    v = v.clamp(-full_scale, full_scale)
    return v if bits is None else round_to_levels(v, bits, full_scale)


def round_to_levels(v: Tensor, bits: int, full_scale: float | Tensor) -> Tensor:
    """``v`` (already inside +-``full_scale``) rounded to the nearest of the converter's levels
    k full_scale / (2^(bits-1) - 1), k integer."""
    step = full_scale / levels(bits)
    return torch.round(v / step) * step


def input_cycles(dev: DeviceConfig) -> int:
    """Array cycles per time step: 1 for multi-level inputs, dac_bits - 1 magnitude bits
    bit-serially."""
    return 1 if dev.input_encoding == "multi_level" else dev.dac_bits - 1


def conversions_per_step(dev: DeviceConfig, H: int, n: int) -> dict[str, int]:
    """Conversions of one time step of one clip through H channel blocks of n rows and n outputs:
    ``adc`` (one per column and array cycle), ``dac`` (one per row and cycle) and ``dac_bits`` (the
    width of one DAC conversion: dac_bits multi-level, 1 bit-serially). The row tiles of a block are
    summed on the bit lines before the ADC (ASSUMPTION: the tiles' bit lines are joined), so a
    column is converted once per cycle."""
    cycles = input_cycles(dev)
    return {
        "adc": H * n * cycles,
        "dac": H * n * cycles,
        "dac_bits": (dev.dac_bits or 0) if dev.input_encoding == "multi_level" else 1,
    }


@dataclass(frozen=True)
class Ranges:
    """Converter full scales of one layer, in state units, broadcasting against (R, B, H, n):
    ``dac`` per row, ``adc`` per column, ``partial`` per column for one input bit's partial sum
    (bit-serial). Each a tensor (H, n), or a float / None (no limit) for one range per layer."""

    dac: Tensor | float | None
    adc: Tensor | float | None
    partial: Tensor | float | None


def ranges(
    dev: DeviceConfig, H: int, n: int, dtype: torch.dtype, device: torch.device | None = None
) -> Ranges:
    """The ``Ranges`` of ``dev`` (tensors on ``device``): its per-row and per-column lists (H x n)
    where set, else one range per layer (the input row's own ``dac_input_range`` where given)."""

    def table(values: list[list[float]] | None) -> Tensor | None:
        if values is None:
            return None
        t = torch.tensor(values, dtype=dtype, device=device)
        if t.shape != (H, n):
            raise ValueError(
                f"converter ranges of shape {tuple(t.shape)} for a layer of {H} channels x {n} "
                "lines"
            )
        return t

    if dev.dac_bits is not None and dev.dac_range is None and dev.row_ranges is None:
        raise ValueError("a DAC with a resolution needs its range (dac_range or row_ranges)")
    if dev.adc_bits is not None and dev.adc_range is None and dev.column_ranges is None:
        raise ValueError("an ADC with a resolution needs its range (adc_range or column_ranges)")
    dac = table(dev.row_ranges)
    if dac is None and (dev.dac_range is not None or dev.dac_input_range is not None):
        dac = torch.full((H, n), dev.dac_range or math.inf, dtype=dtype, device=device)
        dac[:, -1] = dev.dac_input_range or dev.dac_range or math.inf
    adc = table(dev.column_ranges)
    if adc is None:
        adc = dev.adc_range
    partial = table(dev.partial_ranges)
    return Ranges(dac, adc, adc if partial is None else partial)


@dataclass(frozen=True)
class ConverterErrors:
    """Per-programming ADC/TIA errors of every column, (R, 1, H, n) each: the read is
    (1 + gain) out + offset (offset in state units); the correction applied after the ADC is
    (read - offset_hat) / (1 + gain_hat), with the estimates (or zeros without calibration)."""

    gain: Tensor
    offset: Tensor
    gain_hat: Tensor
    offset_hat: Tensor

    def read(self, out: Tensor) -> Tensor:
        """The column's analog value as the TIA/ADC sees it."""
        return (1 + self.gain) * out + self.offset

    def correct(self, code: Tensor) -> Tensor:
        """The digital per-column affine correction of a converted value."""
        return (code - self.offset_hat) / (1 + self.gain_hat)


def draw_converter_errors(
    dev: DeviceConfig,
    R: int,
    H: int,
    n: int,
    adc: Tensor | float | None,
    generator: torch.Generator | None,
    dtype: torch.dtype,
    device: torch.device | None = None,
) -> ConverterErrors | None:
    """Offsets (std ``adc_offset_sigma`` x the column's full scale ``adc``) and gain errors (std
    ``adc_gain_sigma``) of every column, drawn per programming, and their estimates from
    ``affine_estimates`` when ``dev.calibration_reads`` > 0. None without errors."""
    if dev.adc_offset_sigma == 0 and dev.adc_gain_sigma == 0:
        return None
    if adc is None:
        raise ValueError("ADC offsets are a fraction of the ADC range: set adc_range")
    shape = (R, 1, H, n)
    scale = torch.as_tensor(adc, dtype=dtype, device=device).expand(H, n)
    gain = dev.adc_gain_sigma * torch.randn(shape, generator=generator, dtype=dtype, device=device)
    offset = (
        dev.adc_offset_sigma
        * scale
        * torch.randn(shape, generator=generator, dtype=dtype, device=device)
    )
    if dev.calibration_reads == 0:
        return ConverterErrors(gain, offset, torch.zeros_like(gain), torch.zeros_like(offset))
    gain_hat, offset_hat = affine_estimates(gain, offset, dev, scale, generator)
    return ConverterErrors(gain, offset, gain_hat, offset_hat)


def affine_estimates(
    gain: Tensor,
    offset: Tensor,
    dev: DeviceConfig,
    full_scale: Tensor,
    generator: torch.Generator | None,
) -> tuple[Tensor, Tensor]:
    """Per-column estimates of gain and offset from ``dev.calibration_reads`` reads each of a zero
    input and of a reference current at half the column's ``full_scale`` (H, n), through the same
    read noise (additive or per-column model; the per-device model adds none to a reference current)
    and ADC as inference, averaged: offset_hat = mean(read_0),
    gain_hat = (mean(read_ref) - offset_hat) / ref - 1. Exact without read noise and ADC
    rounding."""
    k = dev.calibration_reads
    ref = full_scale / 2
    noise_std = dev.read_noise * (
        full_scale if dev.read_noise_model == "column" else (dev.adc_range or 0.0)
    )

    def reads(value: Tensor) -> Tensor:
        out = (1 + gain) * value + offset
        shape = (k, *out.shape)
        out = out + noise_std * torch.randn(
            shape, generator=generator, dtype=out.dtype, device=out.device
        )
        return quantize(out, dev.adc_bits, full_scale).mean(0)

    offset_hat = reads(torch.zeros_like(ref))
    gain_hat = (reads(ref) - offset_hat) / ref - 1
    return gain_hat, offset_hat
