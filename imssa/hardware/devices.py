"""Device and periphery non-idealities of a memristive crossbar, as data with units, in typed parts.

A ``DeviceConfig`` is composed of parts, each a typed record usable on its own:

* ``DevicePhysics``, the devices: ``Window`` (the mapping range [g_min, g_max] in microsiemens
  (uS) that the weight levels use, inside the physical window [0, g_phys_max], and the distinct
  ``states`` a device can hold; None: an analog continuum); ``Programming`` (noise std
  sigma(G) = sigma_uS + c0 + c1 g + c2 g^2 + ... (uS), g = G / g_max, of a shape (Gaussian, or
  heavy-tailed Laplace or Student-t with the same std), clipped at the physical window
  (``noise_clip='physical'``) or, as a simpler and biased model, at the mapping range
  (``'mapping'``); optionally per-device write-verify to a tolerance); ``Faults`` (cross-points
  left unprogrammed, devices stuck at g_max or g_min); ``Ageing`` (drift
  G(t) = G(0) ((t + t0) / t0)^-nu with nu drawn per device from a folded normal whose mean and
  spread depend on g; 1/f read noise accumulated up to the read at t + t0; relaxation, a spread
  that grows from the programmed value, given at a few times and interpolated in ln t);
* ``Periphery``: ``Converters`` (DAC/ADC resolution, input encoding, offsets and gain errors and
  their correction, cycle-to-cycle read noise, a global drift compensation) and
  ``ConverterRanges`` (full scales, per layer or per row and column, set per model from the ideal
  array's peaks and a headroom: ``deploy.converter_ranges``);
* ``Check``: the channel check after programming (``check``);
* ``Wires``: wire resistance (``wires``).

The time after programming is not part of the record: it is the argument ``t_s`` of whatever
programs and ages at a time (``conductance.program``, ``drift_factor``, ``random_at``).

Every field declares, in its own definition (``param``), what it asks of a simulation: whether a
value other than its default needs step mode (``step``) and whether it makes a programming random
(``random``: 'write' always, 'age' only read after some time, None never; ``scaled_by``: a factor
field that silences it at 0). ``needs_step`` and ``random_at`` read these declarations: no list of
fields is kept by hand. Presets live in ``presets``, composed from these parts.
"""

from __future__ import annotations

import functools
import math
from typing import Annotated, Any, ClassVar, Literal

import torch
from pydantic import Field, TypeAdapter, model_validator
from torch import Tensor

from ..schema import Strict, renamed_message

__all__ = [
    "Ageing",
    "Check",
    "ConverterRanges",
    "Converters",
    "DeviceConfig",
    "DevicePhysics",
    "Faults",
    "LogLinear",
    "MEAN_ABS",
    "PARTS",
    "Periphery",
    "Programming",
    "RelaxationPoint",
    "Window",
    "Wires",
    "drift_factor",
    "effects",
    "matched_noise",
    "param",
    "programming_sigma_uS",
    "pulses_to_converge",
    "relaxation_sigma_uS",
    "single_pulse_sigma_uS",
    "standard_noise",
]

#: The kinds of randomness a field can bring to a programming (``param``'s ``random``).
RANDOM_KINDS = ("write", "age", None)


def param(
    default: Any,
    *,
    step: bool,
    random: Literal["write", "age"] | None,
    scaled_by: str | None = None,
    **field: Any,
) -> Any:
    """A device field that declares its effects: ``step``, whether a value other than ``default``
    needs step mode; ``random``, whether such a value makes a programming random ('write': always;
    'age': only when read some time after programming; None: never); ``scaled_by``, the name of a
    factor field that silences this one at 0. ``field``: pydantic ``Field`` arguments."""
    if random not in RANDOM_KINDS:
        raise ValueError(f"random must be one of {RANDOM_KINDS}, got {random!r}")
    extra = {"step": step, "random": random, "scaled_by": scaled_by}
    return Field(default=default, json_schema_extra=extra, **field)


@functools.cache
def effects(model: type[Strict]) -> dict[str, dict[str, Any]]:
    """Each field's declared effects ({name: {'step', 'random', 'scaled_by'}}) of a device part;
    ValueError naming the fields that declare none (every field must go through ``param``)."""
    out = {name: info.json_schema_extra for name, info in model.model_fields.items()}
    missing = sorted(
        name for name, e in out.items() if not isinstance(e, dict) or {"step", "random"} - set(e)
    )
    if missing:
        raise ValueError(
            f"{model.__name__} fields without a declared step/random effect (use devices.param): {missing}"
        )
    return out  # type: ignore[return-value]


class LogLinear(Strict):
    """A device statistic that depends on the relative conductance g = G / g_max:
    clip(a + b ln g, lo, hi) (g floored at 1e-7; hi None: no upper bound). Constant: b = 0."""

    a: float = 0.0
    b: float = 0.0
    lo: float = 0.0
    hi: float | None = None

    @model_validator(mode="after")
    def _check(self) -> LogLinear:
        if self.hi is not None and self.lo > self.hi:
            raise ValueError(f"lo ({self.lo}) must be <= hi ({self.hi})")
        return self

    def __call__(self, g: Tensor) -> Tensor:
        """The statistic at relative conductances ``g`` (any shape)."""
        return (self.a + self.b * g.clamp_min(1e-7).log()).clamp(self.lo, self.hi)


class RelaxationPoint(Strict):
    """The total spread of programmed conductances around their targets ``t_s`` seconds after
    programming, as a polynomial in g = G_target / g_max: sigma = c0 + c1 g + ... (uS)."""

    t_s: float = Field(gt=0, description="time after programming, s")
    sigma_poly_uS: list[float] = Field(
        min_length=1, description="polynomial coefficients c0, c1, ..., uS"
    )


class Window(Strict):
    """The conductance window of a device: mapping range, physical top, states."""

    g_min_uS: float = param(
        0.0, step=False, random=None, ge=0, description="conductance of weight level 0, uS"
    )
    g_max_uS: float = param(
        100.0, step=False, random=None, gt=0, description="conductance of the top level, uS"
    )
    g_phys_max_uS: float | None = param(
        None,
        step=False,
        random=None,
        gt=0,
        description=(
            "top of the physical conductance window [0, g_phys_max], uS; None: g_max (no headroom)"
        ),
    )
    states: int | None = param(
        None,
        step=False,
        random=None,
        ge=2,
        description=("distinct conductance states one device can be programmed to; None: analog"),
    )

    @model_validator(mode="after")
    def _check_window(self) -> Window:
        if self.g_min_uS >= self.g_max_uS:
            raise ValueError(f"g_min_uS ({self.g_min_uS}) must be < g_max_uS ({self.g_max_uS})")
        if self.g_phys_max_uS is not None and self.g_phys_max_uS < self.g_max_uS:
            raise ValueError(
                f"g_phys_max_uS ({self.g_phys_max_uS}) must be >= g_max_uS ({self.g_max_uS}): "
                "the mapping range lies inside the physical window"
            )
        return self

    @property
    def g_window_uS(self) -> tuple[float, float]:
        """The physical conductance window (0, g_phys_max) in uS."""
        return 0.0, self.g_max_uS if self.g_phys_max_uS is None else self.g_phys_max_uS


class Programming(Strict):
    """How a device is written: programming noise, its shape and clipping, per-device write-verify."""

    sigma_uS: float = param(
        0.0,
        step=False,
        random="write",
        scaled_by="sigma_scale",
        ge=0,
        description="state-independent programming noise std, uS",
    )
    sigma_poly_uS: list[float] = param(
        [],
        step=False,
        random="write",
        scaled_by="sigma_scale",
        description=(
            "state-dependent programming noise std c0 + c1 g + c2 g^2 + ..., g = G_target / g_max, uS; added to sigma_uS"
        ),
    )
    sigma_scale: float = param(
        1.0,
        step=False,
        random=None,
        ge=0,
        description=(
            "factor on the whole programming-noise std (sigma_uS and sigma_poly_uS): a preset's noise, stronger or weaker"
        ),
    )
    noise_shape: Literal["gaussian", "laplace", "student_t"] = param(
        "gaussian",
        step=False,
        random=None,
        description=(
            "distribution of the programming error, scaled to the std sigma(G); student_t: 3 degrees of freedom"
        ),
    )
    noise_clip: Literal["physical", "mapping"] = param(
        "physical",
        step=False,
        random=None,
        description=(
            "where programmed conductances are clipped: the physical window, or the mapping range [g_min, g_max]"
        ),
    )
    write_verify_tol_uS: float | None = param(
        None,
        step=False,
        random=None,
        gt=0,
        description=(
            "write-verify: a device is re-pulsed until |G - G_target| <= tol (uS); None: one pulse"
        ),
    )
    write_verify_max_pulses: int = param(
        50,
        step=False,
        random=None,
        ge=1,
        description="write-verify gives up after this many pulses",
    )

    @property
    def noisy_writes(self) -> bool:
        """Whether a write has a non-zero programming-noise std."""
        return self.sigma_scale > 0 and (self.sigma_uS > 0 or bool(self.sigma_poly_uS))


class Faults(Strict):
    """Cross-points that hold no programmed device: unprogrammed ones, and stuck devices."""

    g_off_uS: float = param(
        0.0,
        step=False,
        random=None,
        ge=0,
        description=(
            "conductance of an unprogrammed cross-point (block layout), uS; 0: no device there"
        ),
    )
    g_off_sigma_uS: float = param(
        0.0, step=False, random="write", ge=0, description="device-to-device spread of g_off, uS"
    )
    stuck_at_gmax: float = param(
        0.0,
        step=False,
        random="write",
        ge=0,
        le=1,
        description="fraction of devices stuck at g_max",
    )
    stuck_at_gmin: float = param(
        0.0,
        step=False,
        random="write",
        ge=0,
        le=1,
        description="fraction of devices stuck at g_min",
    )

    @model_validator(mode="after")
    def _check_faults(self) -> Faults:
        if self.stuck_at_gmax + self.stuck_at_gmin > 1:
            raise ValueError("stuck_at_gmax + stuck_at_gmin must be <= 1")
        return self


class Ageing(Strict):
    """How programmed conductances evolve with the time t_s after programming (an argument, not a
    field): drift, 1/f read noise up to the read, relaxation."""

    t0_s: float = param(
        1.0,
        step=False,
        random=None,
        gt=0,
        description="reference time of drift, s: G(t) = G(t0) ((t + t0) / t0)^-nu",
    )
    drift_nu_mean: LogLinear = param(
        LogLinear(), step=False, random="age", description="mean of the drift exponent nu"
    )
    drift_nu_std: LogLinear = param(
        LogLinear(), step=False, random="age", description="device-to-device spread of nu"
    )
    read_1f_q: float = param(
        0.0,
        step=False,
        random="write",
        ge=0,
        description=(
            "1/f read noise: relative std Q_s(g) sqrt(ln((t + t0 + t_read) / (2 t_read))), Q_s = min(q / g^exponent, q_max)"
        ),
    )
    read_1f_exponent: float = param(0.65, step=False, random=None, ge=0)
    read_1f_q_max: float = param(0.2, step=False, random=None, ge=0)
    t_read_s: float = param(
        250e-9,
        step=False,
        random=None,
        gt=0,
        description="duration of one read, s (1/f noise bandwidth)",
    )
    relaxation: list[RelaxationPoint] = param(
        [],
        step=False,
        random="age",
        description=(
            "total spread around the target at given times; between them interpolated in ln t, after the last held"
        ),
    )

    @model_validator(mode="after")
    def _check_ageing(self) -> Ageing:
        times = [p.t_s for p in self.relaxation]
        if times != sorted(set(times)):
            raise ValueError(f"relaxation points must have increasing t_s, got {times}")
        return self

    @property
    def drifts(self) -> bool:
        """Whether the drift exponent can be non-zero."""
        return self.drift_nu_mean != LogLinear() or self.drift_nu_std != LogLinear()


class DevicePhysics(Window, Programming, Faults, Ageing):
    """The devices of an array: window, programming, faults, ageing."""

    @model_validator(mode="after")
    def _check_physics(self) -> DevicePhysics:
        if self.g_off_uS > self.g_window_uS[1]:
            raise ValueError(
                f"g_off_uS ({self.g_off_uS}) lies outside the physical window {self.g_window_uS}"
            )
        g = torch.linspace(0, 1, 101, dtype=torch.float64, device="cpu")
        if self.sigma_poly_uS and (programming_sigma_uS(self, g * self.g_max_uS) < 0).any():
            raise ValueError(
                f"sigma_poly_uS {self.sigma_poly_uS} gives a negative std between g_min and g_max"
            )
        return self

    @property
    def clip_uS(self) -> tuple[float, float]:
        """Bounds at which programmed conductances are clipped (``noise_clip``), uS."""
        return self.g_window_uS if self.noise_clip == "physical" else (self.g_min_uS, self.g_max_uS)


class Converters(Strict):
    """The converters around an array and what they add: resolution, input encoding, offsets and gain
    errors with their correction, cycle-to-cycle read noise, a global drift compensation."""

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
            "multi_level: one dac_bits-bit voltage per row and step, one conversion per column; bit_serial: "
            "the dac_bits-bit sign-magnitude code applied one magnitude bit per array cycle (bipolar pulses, "
            "dac_bits - 1 cycles), every cycle's partial sums converted and shift-added digitally (as ISAAC)"
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
            "additive: output noise of std read_noise x adc_range (the layer's), whatever the column carries; "
            "column: std read_noise x the column's own ADC full scale (a TIA whose gain is set per column, its "
            "input-referred noise scaling with its range: ASSUMPTION); device: every device's conductance "
            "fluctuates per read with relative std read_noise_device, so a column's noise grows with its "
            "conductances and drive voltages (sqrt of sum G^2 V^2)"
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
            "per-column affine correction after programming: reads of a zero input (offset) and of a reference "
            "current at half the column's full scale (gain), averaged; 0: no correction"
        ),
    )
    drift_compensation: bool = param(
        False,
        step=False,
        random=None,
        description=(
            "periphery rescales each array's output by its mean |readout| at programming over that at t"
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
                "read_noise_device is the 'device' read-noise model's: set read_noise_model='device'"
            )
        if self.calibration_reads and self.adc_offset_sigma == 0 and self.adc_gain_sigma == 0:
            raise ValueError(
                "calibration_reads corrects offsets and gain errors: set adc_offset_sigma or adc_gain_sigma"
            )
        return self


class ConverterRanges(Strict):
    """The converters' full scales, in state units, set per model from the ideal array's peaks and a
    headroom (``deploy.converter_ranges``): one per layer, or per row and per column."""

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
            "full scale of the DAC of the input row u_t, if it differs from the state rows' (a deeper layer's "
            "input, the previous layer's output, is not on the state's scale); None: dac_range"
        ),
    )
    adc_range: float | None = param(
        None,
        step=False,
        random=None,
        gt=0,
        description=(
            "full scale of the ADC (and TIA), in state units: outputs saturate there; None: never saturates. "
            "With per-column ranges it is the layer's reference: the largest column's, and the scale of read_noise"
        ),
    )
    row_ranges: list[list[float]] | None = param(
        None,
        step=True,
        random=None,
        description=(
            "per-row DAC full scales (H x n: every channel's state rows, then its input row), in state units; "
            "None: dac_range (and dac_input_range) for every row. Set by deploy.layer_converter_ranges"
        ),
    )
    column_ranges: list[list[float]] | None = param(
        None,
        step=True,
        random=None,
        description=(
            "per-column ADC full scales (H x n: every channel's state columns, then its readout), in state units; "
            "a state's column and row share one range, so its ADC code drives its DAC unchanged"
        ),
    )
    partial_ranges: list[list[float]] | None = param(
        None,
        step=True,
        random=None,
        description=(
            "bit-serial inputs: the ADC full scale of one input bit's partial sum per column (H x n), state units; "
            "None: adc_range for every column"
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
        """Whether the converters have per-row and per-column ranges (``row_ranges``, ``column_ranges``)."""
        return self.column_ranges is not None


class Periphery(Converters, ConverterRanges):
    """The periphery of an array: its converters and their ranges."""


class Check(Strict):
    """The channel check after programming (``check``): a channel whose measured impulse response is
    too far from its target's, or whose recurrence is unstable, is reprogrammed."""

    check_tolerance: float | None = param(
        None,
        step=False,
        random=None,
        gt=0,
        description=(
            "a channel whose measured impulse response (check_steps steps) is further than this relative L2 "
            "error from its target's, or whose recurrence is unstable, is reprogrammed (all its devices, fresh "
            "draws), up to check_max_rounds times; None: no check"
        ),
    )
    check_max_rounds: int = param(
        5,
        step=False,
        random=None,
        ge=1,
        description="reprogramming rounds of the check after programming",
    )
    check_steps: int = param(
        256,
        step=False,
        random=None,
        ge=1,
        description="length of the impulse response the check measures",
    )


class Wires(Strict):
    """The wires of an array (IR drop, ``wires``)."""

    wire_resistance_ohm: float = param(
        0.0,
        step=False,
        random=None,
        ge=0,
        description=(
            "resistance of one wire segment between neighbouring cross-points, Ohm (IR drop, ``wires``); 0: ideal wires"
        ),
    )
    channels_per_array: int = param(
        1,
        step=False,
        random=None,
        ge=1,
        description=(
            "channel blocks packed along the diagonal of one array (their wires pass the blocks before them); "
            "enters only with wire resistance"
        ),
    )


#: The parts of a ``DeviceConfig``, each with its own fields (no name in two parts).
PARTS: tuple[type[Strict], ...] = (
    Window,
    Programming,
    Faults,
    Ageing,
    Converters,
    ConverterRanges,
    Check,
    Wires,
)


class DeviceConfig(DevicePhysics, Periphery, Check, Wires):
    """Non-idealities of one array and its periphery, the union of its ``PARTS`` (each key routes to
    its part by its unique name); every default is 'ideal'."""

    RENAMED: ClassVar[dict[str, str]] = {
        "verify_tolerance": "check_tolerance",
        "verify_rounds": "check_max_rounds",
        "verify_steps": "check_steps",
        "t_s": "an argument, not a device key: the t_s of conductance.program, deploy.deployed_weights, "
        "a sweep cell's 't_s'",
    }

    @classmethod
    def compose(cls, *parts: Strict, **overrides: Any) -> DeviceConfig:
        """The record of ``parts`` (instances of ``PARTS`` or of their unions, e.g. a
        ``DevicePhysics`` and a ``Converters``), then ``overrides`` (any keys), validated as a whole.
        ValueError where two parts set the same key."""
        values: dict[str, Any] = {}
        for part in parts:
            own = {k: getattr(part, k) for k in part.model_fields_set}
            twice = sorted(set(values) & set(own))
            if twice:
                raise ValueError(f"keys set by two parts: {twice}")
            values |= own
        return cls.model_validate(values | overrides)

    @classmethod
    def check_keys(cls, keys: Any, where: str = "device overrides") -> None:
        """ValueError for any of ``keys`` that is no field of a part: a renamed one with its
        replacement (``RENAMED``), others as unknown. Flat override dicts route each key to its
        part by its unique name, so this is their whole check."""
        renamed = sorted(set(keys) & set(cls.RENAMED))
        unknown = sorted(set(keys) - set(cls.model_fields) - set(renamed))
        if renamed or unknown:
            named = renamed_message(cls.RENAMED, renamed)
            raise ValueError(
                "; ".join(
                    filter(
                        None,
                        [
                            renamed and f"renamed keys in {where}: {named}",
                            unknown and f"unknown keys in {where}: {unknown}",
                        ],
                    )
                )
            )

    @classmethod
    def validate_values(
        cls, values: dict[str, Any], where: str = "device overrides"
    ) -> dict[str, Any]:
        """``values`` (a flat dict of device keys) checked key by key against each key's field
        (``check_keys``, then its type and bounds), without the checks that relate fields: the
        settings a study holds apart and a record combines later."""
        cls.check_keys(values, where)
        return {
            k: TypeAdapter(
                Annotated[cls.model_fields[k].annotation, cls.model_fields[k]]
            ).validate_python(v, strict=True)
            for k, v in values.items()
        }

    def part(self, kind: type[Strict]) -> Strict:
        """This record's part ``kind`` (one of ``PARTS`` or a union of them), as its own record."""
        return kind.model_validate({k: getattr(self, k) for k in kind.model_fields})

    @property
    def needs_step(self) -> bool:
        """Whether anything departs from its default that only step mode simulates (the fields that
        declare ``step``: converter resolution, read noise, offsets and gain errors and their
        correction, bit-serial inputs, per-row and per-column ranges)."""
        return any(e["step"] and self._departs(name) for name, e in effects(type(self)).items())

    def random_at(self, t_s: float) -> bool:
        """Whether two programmings read ``t_s`` seconds after programming can differ: a field that
        declares ``random`` ('write'; 'age' where t_s > 0) departs from its default and no factor
        field (``scaled_by``) silences it. Cycle-to-cycle read noise is not a property of a programming."""
        kinds = {"write", "age"} if t_s > 0 else {"write"}
        return any(
            e["random"] in kinds
            and self._departs(name)
            and (e.get("scaled_by") is None or getattr(self, e["scaled_by"]) > 0)
            for name, e in effects(type(self)).items()
        )

    def _departs(self, name: str) -> bool:
        """Whether field ``name`` holds a value other than its default."""
        return getattr(self, name) != type(self).model_fields[name].default


def _poly(coeffs: list[float], g: Tensor) -> Tensor:
    out = torch.zeros_like(g)
    for c in reversed(coeffs):
        out = out * g + c
    return out


def programming_sigma_uS(dev: DevicePhysics, G_target: Tensor) -> Tensor:
    """Programming-noise std (uS) at target conductances ``G_target`` (uS, any shape):
    sigma_scale (sigma_uS + c0 + c1 g + ...), g = G_target / g_max."""
    return dev.sigma_scale * (dev.sigma_uS + _poly(dev.sigma_poly_uS, G_target / dev.g_max_uS))


def relaxation_sigma_uS(dev: DevicePhysics, G_target: Tensor, t_s: float) -> Tensor:
    """Std (uS) of the spread added to programmed conductances by relaxation up to ``t_s``: the
    total spread sigma_t at t (``dev.relaxation``, interpolated linearly in ln t, the last point
    held after it, none before the first) in quadrature minus the programming noise, floored at 0."""
    pts = dev.relaxation
    if not pts or t_s < pts[0].t_s:
        return torch.zeros_like(G_target)
    g = G_target / dev.g_max_uS
    k = max(i for i, p in enumerate(pts) if p.t_s <= t_s)
    total = _poly(pts[k].sigma_poly_uS, g)
    if k + 1 < len(pts):
        w = math.log(t_s / pts[k].t_s) / math.log(pts[k + 1].t_s / pts[k].t_s)
        total = (1 - w) * total + w * _poly(pts[k + 1].sigma_poly_uS, g)
    return (total.clamp_min(0) ** 2 - programming_sigma_uS(dev, G_target) ** 2).clamp_min(0).sqrt()


def drift_factor(dev: Ageing, nu: Tensor | float, t_s: float) -> Tensor | float:
    """G(t) / G(t0) = ((t + t0) / t0)^-nu at t = ``t_s`` (s): t counts from the end of programming,
    at which the reference state is read t0 later (1 at t = 0). ``nu``: any shape."""
    return ((t_s + dev.t0_s) / dev.t0_s) ** (-nu)


#: E|z| of each unit-variance shape of ``standard_noise``.
MEAN_ABS: dict[str, float] = {
    "gaussian": math.sqrt(2 / math.pi),
    "laplace": 1 / math.sqrt(2),
    "student_t": 2 / math.pi,
}


def matched_noise(
    dev: DeviceConfig, G_target: Tensor, shape: str = "gaussian", match: str = "rms"
) -> DeviceConfig:
    """``dev`` with its programming noise replaced by a state-independent one drawn from ``shape``,
    of the same error over the targets ``G_target`` (uS; e.g. every programmed device of a model):
    the same root-mean-square error (``match='rms'``) or the same mean absolute error
    (``'mean_abs'``). The matched-error comparison of state-dependent against constant noise."""
    if shape not in MEAN_ABS or match not in ("rms", "mean_abs"):
        raise ValueError(
            f"shape must be one of {sorted(MEAN_ABS)} and match 'rms' or 'mean_abs', got {shape!r}, {match!r}"
        )
    sigma = programming_sigma_uS(dev, G_target.double())
    if match == "rms":
        std = float(sigma.pow(2).mean().sqrt())
    else:
        std = float(sigma.mean()) * MEAN_ABS[dev.noise_shape] / MEAN_ABS[shape]
    return dev.model_copy(
        update={"sigma_uS": std, "sigma_poly_uS": [], "sigma_scale": 1.0, "noise_shape": shape}
    )


def standard_noise(
    shape: tuple[int, ...],
    kind: str,
    generator: torch.Generator | None,
    dtype: torch.dtype,
    device: torch.device | None = None,
) -> Tensor:
    """Zero-mean, unit-variance draws on ``device`` (default: the generator's): Gaussian, Laplace, or
    Student-t with 3 degrees of freedom."""
    on = {
        "generator": generator,
        "dtype": dtype,
        "device": device or (generator.device if generator else None),
    }
    if kind == "gaussian":
        return torch.randn(shape, **on)
    if kind == "laplace":  # inverse CDF; variance 2 b^2 = 1
        u = torch.rand(shape, **on).clamp(1e-12, 1 - 1e-12) - 0.5
        return -u.sign() * torch.log1p(-2 * u.abs()) / math.sqrt(2)
    if kind == "student_t":  # z / sqrt(chi2_3 / 3) has variance 3
        z = torch.randn(shape, **on)
        chi2 = torch.randn((3, *shape), **on).pow(2).sum(0)
        return z / torch.sqrt(chi2 / 3) / math.sqrt(3)
    raise ValueError(f"unknown noise shape {kind!r}")


def single_pulse_sigma_uS(tol_uS: float, mean_pulses: float) -> float:
    """Std (uS) of one programming pulse's Gaussian error for which write-verify, re-pulsing until
    |error| <= ``tol_uS`` with every pulse an independent draw (ASSUMPTION: the simplest model of
    a verify loop), needs ``mean_pulses`` on average: P(|error| <= tol) = 1 / mean_pulses."""
    from scipy.stats import norm

    if tol_uS <= 0 or mean_pulses <= 1:
        raise ValueError(f"need tol_uS > 0 and mean_pulses > 1, got {tol_uS}, {mean_pulses}")
    return float(tol_uS / norm.ppf((1 + 1 / mean_pulses) / 2))


def pulses_to_converge(mean_pulses: float, converged: float) -> int:
    """Pulse limit at which a fraction ``converged`` of devices has passed the verify, when each
    pulse passes with probability 1 / ``mean_pulses`` (the model of ``single_pulse_sigma_uS``)."""
    if mean_pulses <= 1 or not 0 < converged < 1:
        raise ValueError(
            f"need mean_pulses > 1 and 0 < converged < 1, got {mean_pulses}, {converged}"
        )
    return math.ceil(math.log(1 - converged) / math.log(1 - 1 / mean_pulses))
