"""Device and periphery non-idealities of a memristive crossbar, as data with units.

A ``DeviceConfig`` says how conductances are programmed, how they evolve and how they are read:

* the mapping range [g_min, g_max] in microsiemens (uS) that the weight levels use, inside the
  device's physical window [0, g_phys_max], and how many distinct states a device can hold
  (``states``; None: an analog continuum);
* programming noise: a standard deviation sigma(G) = sigma_uS + c0 + c1 g + c2 g^2 + ... (uS) that
  may depend on the target conductance through g = G / g_max (``sigma_poly_uS``), a shape (Gaussian,
  or heavy-tailed Laplace or Student-t with the same standard deviation), and clipping at the
  physical window (``noise_clip='physical'``) or, as a simpler and biased model, at the mapping
  range (``'mapping'``); optionally iterative write-verify to a tolerance;
* the conductance and spread of cross-points left unprogrammed; the fractions of devices stuck at
  g_max or g_min;
* time after programming ``t_s``: drift G(t) = G(0) ((t + t0) / t0)^-nu with nu drawn per device from a
  folded normal whose mean and spread depend on g (``drift_nu_mean``, ``drift_nu_std``); 1/f read
  noise accumulated up to the read at t + t0; relaxation, a spread that grows from the programmed
  value (given at a few times, interpolated in ln t); a global drift compensation in the periphery
  (one factor per realisation and layer, from an idealised, noise-free reference read);
* cycle-to-cycle read noise on the output currents; DAC/ADC resolution and saturation range.

Technologies are presets of this one type (``PRESETS``), never code branches: every value carries
its source or is labelled an ASSUMPTION.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

import torch
from pydantic import Field, model_validator
from torch import Tensor

from ..schema import Strict

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DeviceConfig", "LogLinear", "PRESETS", "RelaxationPoint", "MEAN_ABS", "TECHNOLOGIES", "drift_factor", "matched_noise",
           "programming_sigma_uS", "preset_device", "pulses_to_converge", "relaxation_sigma_uS", "single_pulse_sigma_uS", "standard_noise",
           "preset_table", "technology", "WINDOW_KEYS"]


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
    sigma_poly_uS: list[float] = Field(min_length=1, description="polynomial coefficients c0, c1, ..., uS")


class DeviceConfig(Strict):
    """Non-idealities of one array and its periphery; every default is 'ideal'."""

    g_min_uS: float = Field(default=0.0, ge=0, description="conductance of weight level 0, uS")
    g_max_uS: float = Field(default=100.0, gt=0, description="conductance of the top level, uS")
    g_phys_max_uS: float | None = Field(default=None, gt=0, description=(
        "top of the physical conductance window [0, g_phys_max], uS; None: g_max (no headroom)"))
    states: int | None = Field(default=None, ge=2, description=(
        "distinct conductance states one device can be programmed to; None: analog"))
    sigma_uS: float = Field(default=0.0, ge=0, description="state-independent programming noise std, uS")
    sigma_poly_uS: list[float] = Field(default=[], description=(
        "state-dependent programming noise std c0 + c1 g + c2 g^2 + ..., g = G_target / g_max, uS; added to sigma_uS"))
    sigma_scale: float = Field(default=1.0, ge=0, description=(
        "factor on the whole programming-noise std (sigma_uS and sigma_poly_uS): a technology's noise, stronger or weaker"))
    noise_shape: Literal["gaussian", "laplace", "student_t"] = Field(default="gaussian", description=(
        "distribution of the programming error, scaled to the std sigma(G); student_t: 3 degrees of freedom"))
    noise_clip: Literal["physical", "mapping"] = Field(default="physical", description=(
        "where programmed conductances are clipped: the physical window, or the mapping range [g_min, g_max]"))
    write_verify_tol_uS: float | None = Field(default=None, gt=0, description=(
        "write-verify: a device is re-pulsed until |G - G_target| <= tol (uS); None: one pulse"))
    write_verify_max_pulses: int = Field(default=50, ge=1, description="write-verify gives up after this many pulses")
    g_off_uS: float = Field(default=0.0, ge=0, description=(
        "conductance of an unprogrammed cross-point (block layout), uS; 0: no device there"))
    g_off_sigma_uS: float = Field(default=0.0, ge=0, description="device-to-device spread of g_off, uS")
    stuck_at_gmax: float = Field(default=0.0, ge=0, le=1, description="fraction of devices stuck at g_max")
    stuck_at_gmin: float = Field(default=0.0, ge=0, le=1, description="fraction of devices stuck at g_min")
    t_s: float = Field(default=0.0, ge=0, description="time from the end of programming to inference, s")
    t0_s: float = Field(default=1.0, gt=0, description="reference time of drift, s: G(t) = G(t0) ((t + t0) / t0)^-nu")
    drift_nu_mean: LogLinear = Field(default=LogLinear(), description="mean of the drift exponent nu")
    drift_nu_std: LogLinear = Field(default=LogLinear(), description="device-to-device spread of nu")
    drift_compensation: bool = Field(default=False, description=(
        "periphery rescales each array's output by its mean |readout| at programming over that at t"))
    read_1f_q: float = Field(default=0.0, ge=0, description=(
        "1/f read noise: relative std Q_s(g) sqrt(ln((t + t0 + t_read) / (2 t_read))), Q_s = min(q / g^exponent, q_max)"))
    read_1f_exponent: float = Field(default=0.65, ge=0)
    read_1f_q_max: float = Field(default=0.2, ge=0)
    t_read_s: float = Field(default=250e-9, gt=0, description="duration of one read, s (1/f noise bandwidth)")
    relaxation: list[RelaxationPoint] = Field(default=[], description=(
        "total spread around the target at given times; between them interpolated in ln t, after the last held"))
    read_noise: float = Field(default=0.0, ge=0, description="output noise std, fraction of the ADC range")
    dac_bits: int | None = Field(default=None, ge=1, le=24, description="None: ideal DAC")
    dac_range: float | None = Field(default=None, gt=0, description=(
        "full scale of the DAC, in state units: inputs saturate there; None: never saturates"))
    dac_input_range: float | None = Field(default=None, gt=0, description=(
        "full scale of the DAC of the input row u_t, if it differs from the state rows' (a deeper layer's "
        "input, the previous layer's output, is not on the state's scale); None: dac_range"))
    adc_bits: int | None = Field(default=None, ge=1, le=24, description="None: ideal ADC")
    adc_range: float | None = Field(default=None, gt=0, description=(
        "full scale of the ADC (and TIA), in state units: outputs saturate there; None: never saturates. "
        "With per-column ranges it is the layer's reference: the largest column's, and the scale of read_noise"))
    verify_tolerance: float | None = Field(default=None, gt=0, description=(
        "verify after programming: a channel whose measured impulse response (verify_steps steps) is "
        "further than this relative L2 error from its target's, or whose recurrence is unstable, is "
        "reprogrammed (all its devices, fresh draws), up to verify_rounds times; None: no check"))
    verify_rounds: int = Field(default=5, ge=1, description="reprogramming rounds of the check after programming")
    verify_steps: int = Field(default=256, ge=1, description="length of the impulse response the check measures")
    wire_resistance_ohm: float = Field(default=0.0, ge=0, description=(
        "resistance of one wire segment between neighbouring cross-points, Ohm (IR drop, ``wires``); 0: ideal wires"))
    channels_per_array: int = Field(default=1, ge=1, description=(
        "channel blocks packed along the diagonal of one array (their wires pass the blocks before them); "
        "enters only with wire resistance"))
    row_ranges: list[list[float]] | None = Field(default=None, description=(
        "per-row DAC full scales (H x n: every channel's state rows, then its input row), in state units; "
        "None: dac_range (and dac_input_range) for every row. Set by periphery.calibrate_columns"))
    column_ranges: list[list[float]] | None = Field(default=None, description=(
        "per-column ADC full scales (H x n: every channel's state columns, then its readout), in state units; "
        "a state's column and row share one range, so its ADC code drives its DAC unchanged"))
    partial_ranges: list[list[float]] | None = Field(default=None, description=(
        "bit-serial inputs: the ADC full scale of one input bit's partial sum per column (H x n), state units; "
        "None: adc_range for every column"))
    input_encoding: Literal["multi_level", "bit_serial"] = Field(default="multi_level", description=(
        "multi_level: one dac_bits-bit voltage per row and step, one conversion per column; bit_serial: "
        "the dac_bits-bit sign-magnitude code applied one magnitude bit per array cycle (bipolar pulses, "
        "dac_bits - 1 cycles), every cycle's partial sums converted and shift-added digitally (as ISAAC)"))
    adc_offset_sigma: float = Field(default=0.0, ge=0, description=(
        "ADC/TIA offset std per column and programming, fraction of the column's full scale"))
    adc_gain_sigma: float = Field(default=0.0, ge=0, description=(
        "ADC/TIA relative gain error std per column and programming (gain 1 + e)"))
    calibration_reads: int = Field(default=0, ge=0, description=(
        "per-column affine correction after programming: reads of a zero input (offset) and of a reference "
        "current at half the column's full scale (gain), averaged; 0: no correction"))
    read_noise_model: Literal["additive", "column", "device"] = Field(default="additive", description=(
        "additive: output noise of std read_noise x adc_range (the layer's), whatever the column carries; "
        "column: std read_noise x the column's own ADC full scale (a TIA whose gain is set per column, its "
        "input-referred noise scaling with its range: ASSUMPTION); device: every device's conductance "
        "fluctuates per read with relative std read_noise_device, so a column's noise grows with its "
        "conductances and drive voltages (sqrt of sum G^2 V^2)"))
    read_noise_device: float = Field(default=0.0, ge=0, description=(
        "relative std of one device's conductance in one read (read_noise_model='device')"))

    @model_validator(mode="after")
    def _check_converters(self) -> DeviceConfig:
        for name in ("dac_bits", "adc_bits"):
            bits = getattr(self, name)
            if bits is not None and bits < 2:
                raise ValueError(f"{name} must be >= 2 (a signed mid-tread converter), got {bits}")
        shapes = {name: (len(v), {len(r) for r in v}) for name in ("row_ranges", "column_ranges", "partial_ranges")
                  if (v := getattr(self, name)) is not None}
        if len({(h, tuple(w)) for h, w in shapes.values()}) > 1 or any(len(w) != 1 for _, w in shapes.values()):
            raise ValueError(f"row_ranges, column_ranges and partial_ranges must all be H x n, got {shapes}")
        for name in shapes:
            if min(min(r) for r in getattr(self, name)) <= 0:
                raise ValueError(f"{name} must be > 0 everywhere")
        if self.input_encoding == "bit_serial" and self.dac_bits is None:
            raise ValueError("bit_serial inputs need dac_bits: the number of bits applied one after another")
        if self.read_noise_model != "device" and self.read_noise_device > 0:
            raise ValueError("read_noise_device is the 'device' read-noise model's: set read_noise_model='device'")
        if self.calibration_reads and self.adc_offset_sigma == 0 and self.adc_gain_sigma == 0:
            raise ValueError("calibration_reads corrects offsets and gain errors: set adc_offset_sigma or adc_gain_sigma")
        return self

    @property
    def needs_step(self) -> bool:
        """Whether the periphery has anything only step mode simulates: converter resolution, read noise,
        offsets and gain errors, bit-serial inputs or per-column ranges."""
        return bool(self.dac_bits is not None or self.adc_bits is not None or self.read_noise > 0
                    or self.read_noise_device > 0 or self.adc_offset_sigma > 0 or self.adc_gain_sigma > 0
                    or self.input_encoding == "bit_serial" or self.per_column)

    @property
    def per_column(self) -> bool:
        """Whether the converters have per-row and per-column ranges (``row_ranges``, ``column_ranges``)."""
        return self.column_ranges is not None

    @model_validator(mode="after")
    def _check(self) -> DeviceConfig:
        if self.g_min_uS >= self.g_max_uS:
            raise ValueError(f"g_min_uS ({self.g_min_uS}) must be < g_max_uS ({self.g_max_uS})")
        if self.g_phys_max_uS is not None and self.g_phys_max_uS < self.g_max_uS:
            raise ValueError(f"g_phys_max_uS ({self.g_phys_max_uS}) must be >= g_max_uS ({self.g_max_uS}): "
                             "the mapping range lies inside the physical window")
        if self.g_off_uS > self.g_window_uS[1]:
            raise ValueError(f"g_off_uS ({self.g_off_uS}) lies outside the physical window {self.g_window_uS}")
        if self.stuck_at_gmax + self.stuck_at_gmin > 1:
            raise ValueError("stuck_at_gmax + stuck_at_gmin must be <= 1")
        times = [p.t_s for p in self.relaxation]
        if times != sorted(set(times)):
            raise ValueError(f"relaxation points must have increasing t_s, got {times}")
        g = torch.linspace(0, 1, 101, dtype=torch.float64, device="cpu")
        if self.sigma_poly_uS and (programming_sigma_uS(self, g * self.g_max_uS) < 0).any():
            raise ValueError(f"sigma_poly_uS {self.sigma_poly_uS} gives a negative std between g_min and g_max")
        return self

    @property
    def g_window_uS(self) -> tuple[float, float]:
        """The physical conductance window (0, g_phys_max) in uS."""
        return 0.0, self.g_max_uS if self.g_phys_max_uS is None else self.g_phys_max_uS

    @property
    def clip_uS(self) -> tuple[float, float]:
        """Bounds at which programmed conductances are clipped (``noise_clip``), uS."""
        return self.g_window_uS if self.noise_clip == "physical" else (self.g_min_uS, self.g_max_uS)

    @property
    def stochastic(self) -> bool:
        """Whether two programmings can differ (random programming, yield, spread of unprogrammed
        cross-points, or ageing); cycle-to-cycle read noise is not a property of a programming."""
        return bool((self.sigma_scale > 0 and (self.sigma_uS > 0 or self.sigma_poly_uS)) or self.stuck_at_gmax > 0 or self.stuck_at_gmin > 0
                    or self.g_off_sigma_uS > 0 or self.read_1f_q > 0 or (self.t_s > 0 and (self.drifts or bool(self.relaxation))))

    @property
    def drifts(self) -> bool:
        """Whether the drift exponent can be non-zero."""
        return self.drift_nu_mean != LogLinear() or self.drift_nu_std != LogLinear()


def _poly(coeffs: list[float], g: Tensor) -> Tensor:
    out = torch.zeros_like(g)
    for c in reversed(coeffs):
        out = out * g + c
    return out


def programming_sigma_uS(dev: DeviceConfig, G_target: Tensor) -> Tensor:
    """Programming-noise std (uS) at target conductances ``G_target`` (uS, any shape):
    sigma_scale (sigma_uS + c0 + c1 g + ...), g = G_target / g_max."""
    return dev.sigma_scale * (dev.sigma_uS + _poly(dev.sigma_poly_uS, G_target / dev.g_max_uS))


def relaxation_sigma_uS(dev: DeviceConfig, G_target: Tensor, t_s: float) -> Tensor:
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


def drift_factor(dev: DeviceConfig, nu: Tensor | float) -> Tensor | float:
    """G(t) / G(t0) = ((t + t0) / t0)^-nu: t counts from the end of programming, at which the
    reference state is read t0 later (1 at t = 0)."""
    return ((dev.t_s + dev.t0_s) / dev.t0_s) ** (-nu)


#: E|z| of each unit-variance shape of ``standard_noise``.
MEAN_ABS: dict[str, float] = {"gaussian": math.sqrt(2 / math.pi), "laplace": 1 / math.sqrt(2), "student_t": 2 / math.pi}


def matched_noise(dev: DeviceConfig, G_target: Tensor, shape: str = "gaussian", match: str = "rms") -> DeviceConfig:
    """``dev`` with its programming noise replaced by a state-independent one drawn from ``shape``,
    of the same error over the targets ``G_target`` (uS; e.g. every programmed device of a model):
    the same root-mean-square error (``match='rms'``) or the same mean absolute error
    (``'mean_abs'``). The matched-error comparison of state-dependent against constant noise."""
    if shape not in MEAN_ABS or match not in ("rms", "mean_abs"):
        raise ValueError(f"shape must be one of {sorted(MEAN_ABS)} and match 'rms' or 'mean_abs', got {shape!r}, {match!r}")
    sigma = programming_sigma_uS(dev, G_target.double())
    if match == "rms":
        std = float(sigma.pow(2).mean().sqrt())
    else:
        std = float(sigma.mean()) * MEAN_ABS[dev.noise_shape] / MEAN_ABS[shape]
    return dev.model_copy(update={"sigma_uS": std, "sigma_poly_uS": [], "sigma_scale": 1.0, "noise_shape": shape})


def standard_noise(shape: tuple[int, ...], kind: str, generator: torch.Generator | None, dtype: torch.dtype,
                   device: torch.device | None = None) -> Tensor:
    """Zero-mean, unit-variance draws on ``device`` (default: the generator's): Gaussian, Laplace, or
    Student-t with 3 degrees of freedom."""
    on = {"generator": generator, "dtype": dtype, "device": device or (generator.device if generator else None)}
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


def technology(name: str) -> DeviceConfig:
    """The preset ``name`` of ``PRESETS`` (a clear error naming the known ones otherwise)."""
    if name not in PRESETS:
        raise ValueError(f"unknown technology {name!r}; known: {sorted(PRESETS)}")
    return PRESETS[name]


#: the keys of a device's conductance window, in uS: mapping range and physical top
WINDOW_KEYS = ("g_min_uS", "g_max_uS", "g_phys_max_uS")


def preset_device(name: str, window: dict[str, float] | None = None, **overrides: object) -> DeviceConfig:
    """The preset ``name`` (``technology``) composed with a study's settings: its conductance
    window (``WINDOW_KEYS``, uS) replaced by ``window`` (None keeps the preset's), then any
    ``DeviceConfig`` keys of ``overrides`` (the window's too, explicitly), validated as a whole."""
    odd = set(window or {}) - set(WINDOW_KEYS)
    unknown = set(overrides) - set(DeviceConfig.model_fields)
    if odd or unknown:
        raise ValueError(f"unknown device keys: {sorted(odd | unknown)}")
    return DeviceConfig.model_validate(technology(name).model_dump() | (window or {}) | overrides)


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
        raise ValueError(f"need mean_pulses > 1 and 0 < converged < 1, got {mean_pulses}, {converged}")
    return math.ceil(math.log(1 - converged) / math.log(1 - 1 / mean_pulses))


# NeuRRAM's write-verify (Wan et al., Nature 608, 504 (2022), Methods): acceptance +-1 uS, 8.52 pulses
# per device on average, 99% of cells converging. The numbers are as reported in secondary summaries
# of that paper; the single-pulse error below is derived from them, not measured.
_WAN_TOL_US, _WAN_PULSES, _WAN_CONVERGED = 1.0, 8.52, 0.99

_RRAM_WAN2022 = DeviceConfig(
    g_min_uS=0.0,            # level 0 at 0 uS, g_max 40 uS: the range of the conductance-dependent fits of
    g_max_uS=40.0,           #   Wan et al. 2022 as implemented in IBM aihwkit (ReRamWan2022NoiseModel)
    g_phys_max_uS=50.0,      # ASSUMPTION: the window extends 10 uS above the fitted range
    sigma_poly_uS=[0.348, 16.030, -43.853, 45.393, -16.815],  # spread 1 s after write-verify, uS, g = G / 40 uS
                             #   (Wan et al. 2022, fit in aihwkit ReRamWan2022NoiseModel): 0.35 uS at g = 0,
                             #   2.3 uS at its peak, 1.1 uS at g = 1
    relaxation=[             # spread after 1 s, 1 day and 2 days (same source); between them interpolated in ln t
                             #   (ASSUMPTION: the source has these three fits only); held after 2 days (ASSUMPTION:
        RelaxationPoint(t_s=1.0, sigma_poly_uS=[0.348, 16.030, -43.853, 45.393, -16.815]),  # the data end
        RelaxationPoint(t_s=86400.0, sigma_poly_uS=[0.701, 22.086, -50.773, 47.095, -16.458]),  # there; the
        RelaxationPoint(t_s=172800.0, sigma_poly_uS=[0.782, 20.274, -43.507, 37.062, -11.934])],  # peak
                             #   spread does not grow from day 1 to day 2, and Wan et al. report long-term
                             #   retention loss as slower than early relaxation)
    stuck_at_gmax=0.001,     # ASSUMPTION: the 99.8% yield of another HfO2 1T1R chip (Li, Hu et al., Nat. Electron. 1,
    stuck_at_gmin=0.001)     #   52 (2018)), split evenly between the stuck states
                             # read noise: the source has no per-device data (aihwkit's fit carries none); it is a
                             #   periphery parameter here (read_noise, swept in the inverse grid of the chapter)

#: Named settings. "ideal" is exact; the others mix values with a source (named in the comment
#: beside them) and values labelled ASSUMPTION, which are plausible but not measured. The
#: technology presets describe devices only (ideal converters, no cycle-to-cycle read noise): the
#: periphery is a separate choice (``hfox_1t1r_like`` adds one for the deployment chapter).
PRESETS: dict[str, DeviceConfig] = {
    "ideal": DeviceConfig(),
    "hfox_1t1r_like": DeviceConfig(
        g_min_uS=10.0,           # ASSUMPTION: level 0 at a low-conductance state above the off state
        g_max_uS=100.0,          # ASSUMPTION: mapping range of 90 uS, typical of HfOx/TaOx 1T1R cells
        g_phys_max_uS=150.0,     # ASSUMPTION: physical window beyond the mapping range (headroom 50 uS)
        sigma_uS=3.0,            # ASSUMPTION: write-verify programming, error of a few uS per device
        noise_clip="physical",
        g_off_uS=0.0,            # unused cross-points hold no device (paper-like per-element blocks)
        stuck_at_gmax=0.001,     # 99.8% device yield in HfO2 1T1R arrays (Li, Hu et al., Nat. Electron. 1, 52 (2018)),
        stuck_at_gmin=0.001,     #   split evenly between the two stuck states (ASSUMPTION)
        read_noise=0.005,        # ASSUMPTION: 0.5% of the ADC range per read
        dac_bits=8,              # ASSUMPTION
        adc_bits=6),             # ASSUMPTION, informed by the 5-8 bit effective VMM output precision of such arrays
                                 #   (Li, Hu et al. 2018), which is not an ADC resolution; the
                                 #   converter ranges are calibrated per model (deploy.calibrate_converters)
    "rram_wan2022": _RRAM_WAN2022,
    "rram_single_pulse": _RRAM_WAN2022.model_copy(update=dict(
        sigma_uS=single_pulse_sigma_uS(_WAN_TOL_US, _WAN_PULSES),  # ASSUMPTION: 6.8 uS, one pulse's error for which
        sigma_poly_uS=[],        #   write-verify at +-1 uS would need 8.52 pulses if every pulse were an independent
        relaxation=[],           #   draw; NeuRRAM ramps its pulses, so this is a model, not a measurement. No
                                 #   relaxation: the write-verify study reads right after programming
        write_verify_max_pulses=pulses_to_converge(_WAN_PULSES, _WAN_CONVERGED))),  # 37 pulses: 99% converge
    "pcm_joshi2020": DeviceConfig(
        g_min_uS=0.0,            # differential PCM pair on [0, 25 uS]: the statistical PCM model of Nandakumar et al.
        g_max_uS=25.0,           #   (ICECS 2019) fitted to 1M devices (Joshi et al., Nat. Commun. 11, 2473 (2020)), as
                                 #   in IBM aihwkit's PCMLikeNoiseModel, from which every value below is taken
        g_phys_max_uS=40.0,      # ASSUMPTION: no upper clip within reach of the noise (the model clips at 0 only)
        sigma_poly_uS=[0.26348, 1.9650, -1.1731],  # programming noise std, uS, g = G / 25 uS: 0.26 to 1.06 uS
        t0_s=20.0,               # drift reference: 20 s after programming
        drift_nu_mean=LogLinear(a=0.0244, b=-0.0155, lo=0.049, hi=0.1),   # mean nu, ln of g = G / 25 uS
        drift_nu_std=LogLinear(a=-0.0059, b=-0.0125, lo=0.008, hi=0.045),  # spread of nu; nu = |mean + std z|
        read_1f_q=0.0088, read_1f_exponent=0.65, read_1f_q_max=0.2,  # 1/f read noise Q_s = min(0.0088 / g^0.65, 0.2)
        t_read_s=250e-9),        # read duration 250 ns; yield not modelled (ASSUMPTION: no stuck devices)
    "ecram_like": DeviceConfig(
        g_min_uS=0.5,            # ASSUMPTION: on/off ratio 2 (ECRAM dynamic ranges of about 2x: Melianas et al.,
        g_max_uS=1.0,            #   Sci. Adv. 6, eabb2958 (2020)) at sub-uS conductance (read currents below 10 nA:
        g_phys_max_uS=1.2,       #   Fuller et al., Science 364, 570 (2019)); window above g_max ASSUMPTION
        states=1000,             # up to 1000 discrete states (Tang et al., IEDM 2018)
        g_off_uS=0.5,            # ASSUMPTION: no zero-conductance state; an unused cross-point sits at g_min
        g_off_sigma_uS=0.001,    #   with the programming spread
        sigma_uS=0.001),         # ASSUMPTION: closed-loop programming lands within about two update steps of
                                 #   0.2% of the range (the step of aihwkit's EcRamPresetDevice, fit to Tang et al.
                                 #   2018): std 0.2% of 0.5 uS; symmetric; no retention loss modelled (ASSUMPTION)
    "stt_mram_binary": DeviceConfig(
        g_min_uS=40.0,           # ASSUMPTION: antiparallel state; G_P / G_AP = 2.5 (TMR 150%), between the about 2 of
        g_max_uS=100.0,          #   MRAM in-memory arrays (Jung et al., Nature 601, 211 (2022); Doevenspeck et al.,
                                 #   VLSI 2021) and the about 3 of Grollier et al., Nat. Electron. 3, 360 (2020)
                                 #   (as reported in secondary summaries); R_P = 10 kOhm (ASSUMPTION)
        g_phys_max_uS=200.0,     # ASSUMPTION: no clipping of either state's spread
        states=2,                # binary: parallel and antiparallel
        sigma_poly_uS=[0.0, 4.0],  # device-to-device spread 4% of G (sigma/mu of 3.3-4.1%, Doevenspeck et al. 2021,
                                 #   secondary summary; ASSUMPTION), g = G / 100 uS
        g_off_uS=40.0,           # an MTJ has no zero state: an unused cross-point holds an antiparallel device
        g_off_sigma_uS=1.6,      #   with its 4% spread (ASSUMPTION, as above)
        stuck_at_gmax=0.001,     # ASSUMPTION: 99.8% yield, as the RRAM arrays
        stuck_at_gmin=0.001),
}

#: The technologies compared in the device-technologies chapter (PRESETS keys).
TECHNOLOGIES = ("rram_wan2022", "pcm_joshi2020", "ecram_like", "stt_mram_binary")


def preset_table(names: list[str]) -> "pd.DataFrame":
    """One row per preset: its window, on/off ratio, states, programming noise at g_min and g_max
    (uS and % of the mapping range), yield, drift and ageing: what a reader compares first."""
    import pandas as pd

    rows = []
    for name in names:
        d = technology(name)
        ends = programming_sigma_uS(d, torch.tensor([d.g_min_uS, d.g_max_uS], dtype=torch.float64, device="cpu")).tolist()
        span = d.g_max_uS - d.g_min_uS
        g = torch.tensor([d.g_min_uS, d.g_max_uS], dtype=torch.float64, device="cpu") / d.g_max_uS
        rows.append({"technology": name, "g_min_uS": d.g_min_uS, "g_max_uS": d.g_max_uS,
                     "on_off_ratio": d.g_max_uS / d.g_min_uS if d.g_min_uS > 0 else math.inf,
                     "states": d.states or "analog", "sigma_at_g_min_uS": ends[0], "sigma_at_g_max_uS": ends[1],
                     "sigma_at_g_max_pct_of_range": 100 * ends[1] / span, "stuck_pct": 100 * (d.stuck_at_gmax + d.stuck_at_gmin),
                     "drift_nu_at_g_max": float(d.drift_nu_mean(g[1:])[0]), "relaxation": bool(d.relaxation),
                     "read_1f_q": d.read_1f_q})
    return pd.DataFrame(rows)
