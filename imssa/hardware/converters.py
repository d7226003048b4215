"""The periphery of an array, as typed parts of the device record (``devices.DeviceConfig``).

``Converters``: DAC/ADC resolution, input encoding, offsets and gain errors and their correction,
cycle-to-cycle read noise, a global drift compensation. ``ConverterRanges``: the full scales, per
layer or per row and column, set per model from the ideal array's peaks and a headroom
(``ranges.converter_ranges``). ``Periphery`` is their union. These are declarations; the
converters are simulated in ``periphery``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from ..schema import Strict
from .fields import param

__all__ = ["ConverterRanges", "Converters", "Periphery"]


class Converters(Strict):
    """The converters around an array and what they add: resolution, input encoding, offsets and
    gain errors with their correction, cycle-to-cycle read noise, a global drift compensation."""

    dac_bits: int | None = param(
        None, step=True, random=None, ge=1, le=24, description="None: ideal DAC"
    )
    adc_bits: int | None = param(
        None, step=True, random=None, ge=1, le=24, description="None: ideal ADC"
    )
    input_encoding: Literal["multi_level", "bit_serial"] = param(
        "multi_level",
        step=True,
        random=None,
        description=(
            "multi_level: one dac_bits-bit voltage per row and step, one conversion per column; "
            "bit_serial: the dac_bits-bit sign-magnitude code applied one magnitude bit per array "
            "cycle (bipolar pulses, dac_bits - 1 cycles), every cycle's partial sums converted and "
            "shift-added digitally (as ISAAC)"
        ),
    )
    read_noise: float = param(
        0.0, step=True, random=None, ge=0, description="output noise std, fraction of the ADC range"
    )
    read_noise_model: Literal["additive", "column", "device"] = param(
        "additive",
        step=False,
        random=None,
        description=(
            "additive: output noise of std read_noise x adc_range (the layer's), whatever the "
            "column carries; column: std read_noise x the column's own ADC full scale (a TIA whose "
            "gain is set per column, its input-referred noise scaling with its range: ASSUMPTION); "
            "device: every device's conductance fluctuates per read with relative std "
            "read_noise_device, so a column's noise grows with its conductances and drive voltages "
            "(sqrt of sum G^2 V^2)"
        ),
    )
    read_noise_device: float = param(
        0.0,
        step=True,
        random=None,
        ge=0,
        description=(
            "relative std of one device's conductance in one read (read_noise_model='device')"
        ),
    )
    adc_offset_sigma: float = param(
        0.0,
        step=True,
        random=None,
        ge=0,
        description=(
            "ADC/TIA offset std per column and programming, fraction of the column's full scale"
        ),
    )
    adc_gain_sigma: float = param(
        0.0,
        step=True,
        random=None,
        ge=0,
        description=("ADC/TIA relative gain error std per column and programming (gain 1 + e)"),
    )
    calibration_reads: int = param(
        0,
        step=True,
        random=None,
        ge=0,
        description=(
            "per-column affine correction after programming: reads of a zero input (offset) and of "
            "a reference current at half the column's full scale (gain), averaged; 0: no correction"
        ),
    )
    drift_compensation: bool = param(
        False,
        step=False,
        random=None,
        description=(
            "periphery rescales each array's output by its mean |readout| at programming over that "
            "at t"
        ),
    )

    @model_validator(mode="after")
    def _check_converters(self) -> Converters:
        for name in ("dac_bits", "adc_bits"):
            bits = getattr(self, name)
            if bits is not None and bits < 2:
                raise ValueError(f"{name} must be >= 2 (a signed mid-tread converter), got {bits}")
        if self.input_encoding == "bit_serial" and self.dac_bits is None:
            raise ValueError(
                "bit_serial inputs need dac_bits: the number of bits applied one after another"
            )
        if self.read_noise_model != "device" and self.read_noise_device > 0:
            raise ValueError(
                "read_noise_device is the 'device' read-noise model's: set "
                "read_noise_model='device'"
            )
        if self.calibration_reads and self.adc_offset_sigma == 0 and self.adc_gain_sigma == 0:
            raise ValueError(
                "calibration_reads corrects offsets and gain errors: set adc_offset_sigma or "
                "adc_gain_sigma"
            )
        return self


class ConverterRanges(Strict):
    """The converters' full scales, in state units, set per model from the ideal array's peaks and a
    headroom (``ranges.converter_ranges``): one per layer, or per row and per column."""

    dac_range: float | None = param(
        None,
        step=False,
        random=None,
        gt=0,
        description=(
            "full scale of the DAC, in state units: inputs saturate there; None: never saturates"
        ),
    )
    dac_input_range: float | None = param(
        None,
        step=False,
        random=None,
        gt=0,
        description=(
            "full scale of the DAC of the input row u_t, if it differs from the state rows' (a "
            "deeper layer's input, the previous layer's output, is not on the state's scale); "
            "None: dac_range"
        ),
    )
    adc_range: float | None = param(
        None,
        step=False,
        random=None,
        gt=0,
        description=(
            "full scale of the ADC (and TIA), in state units: outputs saturate there; None: never "
            "saturates. With per-column ranges it is the layer's reference: the largest column's, "
            "and the scale of read_noise"
        ),
    )
    row_ranges: list[list[float]] | None = param(
        None,
        step=True,
        random=None,
        description=(
            "per-row DAC full scales (H x n: every channel's state rows, then its input row), in "
            "state units; None: dac_range (and dac_input_range) for every row. Set by "
            "ranges.layer_converter_ranges"
        ),
    )
    column_ranges: list[list[float]] | None = param(
        None,
        step=True,
        random=None,
        description=(
            "per-column ADC full scales (H x n: every channel's state columns, then its readout), "
            "in state units; a state's column and row share one range, so its ADC code drives its "
            "DAC unchanged"
        ),
    )
    partial_ranges: list[list[float]] | None = param(
        None,
        step=True,
        random=None,
        description=(
            "bit-serial inputs: the ADC full scale of one input bit's partial sum per column (H x "
            "n), state units; None: adc_range for every column"
        ),
    )

    @model_validator(mode="after")
    def _check_ranges(self) -> ConverterRanges:
        names = ("row_ranges", "column_ranges", "partial_ranges")
        shapes = {
            name: (len(v), {len(r) for r in v})
            for name in names
            if (v := getattr(self, name)) is not None
        }
        if len({(h, tuple(w)) for h, w in shapes.values()}) > 1 or any(
            len(w) != 1 for _, w in shapes.values()
        ):
            raise ValueError(
                f"row_ranges, column_ranges and partial_ranges must all be H x n, got {shapes}"
            )
        for name in shapes:
            if min(min(r) for r in getattr(self, name)) <= 0:
                raise ValueError(f"{name} must be > 0 everywhere")
        return self

    @property
    def per_column(self) -> bool:
        """Whether the converters have per-row and per-column ranges (``row_ranges``,
        ``column_ranges``)."""
        return self.column_ranges is not None


class Periphery(Converters, ConverterRanges):
    """The periphery of an array: its converters and their ranges."""
