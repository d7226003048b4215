"""The devices of an array, as typed parts of the device record (``devices.DeviceConfig``).

``Window``: the mapping range [g_min, g_max] in microsiemens (uS) that the weight levels use,
inside the physical window [0, g_phys_max], and the distinct ``states`` a device can hold (None:
an analog continuum). ``Programming``: the programming-noise std sigma(G) = sigma_uS + c0 + c1 g +
c2 g^2 + ... (uS), g = G / g_max, of a shape (Gaussian, or heavy-tailed Laplace or Student-t with
the same std), clipped at the physical window (``noise_clip='physical'``) or, as a simpler and
biased model, at the mapping range (``'mapping'``); optionally per-device write-verify to a
tolerance. ``Faults``: cross-points left unprogrammed, devices stuck at g_max or g_min.
``Ageing``: drift G(t) = G(0) ((t + t0) / t0)^-nu with nu drawn per device from a folded normal
whose mean and spread depend on g (``LogLinear``); 1/f read noise accumulated up to the read at
t + t0; relaxation, a spread that grows from the programmed value, given at a few times
(``RelaxationPoint``) and interpolated in ln t. ``DevicePhysics`` is their union. The noise
models these fields parametrise are in ``noise``.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field, model_validator
from torch import Tensor

from ..schema import Strict
from .fields import param
from .noise import programming_sigma_uS

__all__ = [
    "Ageing",
    "DevicePhysics",
    "Faults",
    "LogLinear",
    "Programming",
    "RelaxationPoint",
    "Window",
]


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
    """How a device is written: programming noise, its shape and clipping, per-device
    write-verify."""

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
            "state-dependent programming noise std c0 + c1 g + c2 g^2 + ..., g = G_target / g_max, "
            "uS; added to sigma_uS"
        ),
    )
    sigma_scale: float = param(
        1.0,
        step=False,
        random=None,
        ge=0,
        description=(
            "factor on the whole programming-noise std (sigma_uS and sigma_poly_uS): a preset's "
            "noise, stronger or weaker"
        ),
    )
    noise_shape: Literal["gaussian", "laplace", "student_t"] = param(
        "gaussian",
        step=False,
        random=None,
        description=(
            "distribution of the programming error, scaled to the std sigma(G); student_t: 3 "
            "degrees of freedom"
        ),
    )
    noise_clip: Literal["physical", "mapping"] = param(
        "physical",
        step=False,
        random=None,
        description=(
            "where programmed conductances are clipped: the physical window, or the mapping range "
            "[g_min, g_max]"
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
            "1/f read noise: relative std Q_s(g) sqrt(ln((t + t0 + t_read) / (2 t_read))), Q_s = "
            "min(q / g^exponent, q_max)"
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
            "total spread around the target at given times; between them interpolated in ln t, "
            "after the last held"
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
