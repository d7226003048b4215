"""Device and periphery non-idealities of a memristive crossbar, as data with units.

A ``DeviceConfig`` says how conductances are programmed and read: the mapping range
[g_min, g_max] in microsiemens (uS) that the weight levels use, inside the device's physical
window [0, g_phys_max]; Gaussian programming noise (sigma in uS), clipped at the physical window
(``noise_clip='physical'``) or, as a simpler and biased model, at the mapping range
(``'mapping'``); the conductance and spread of cross-points left unprogrammed; the fractions of
devices stuck at g_max or g_min; cycle-to-cycle read noise on the output currents; DAC/ADC
resolution and saturation range; and optional conductance drift G(t) = G(t0) (t / t0)^-nu.
Technologies are presets of this one type, never code branches.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .config import Strict

__all__ = ["DeviceConfig", "PRESETS", "drift_factor"]


class DeviceConfig(Strict):
    """Non-idealities of one array and its periphery; every default is 'ideal'."""

    g_min_uS: float = Field(default=0.0, ge=0, description="conductance of weight level 0, uS")
    g_max_uS: float = Field(default=100.0, gt=0, description="conductance of the top level, uS")
    g_phys_max_uS: float | None = Field(default=None, gt=0, description=(
        "top of the physical conductance window [0, g_phys_max], uS; None: g_max (no headroom)"))
    sigma_uS: float = Field(default=0.0, ge=0, description="programming noise std, uS")
    noise_clip: Literal["physical", "mapping"] = Field(default="physical", description=(
        "where programmed conductances are clipped: the physical window, or the mapping range [g_min, g_max]"))
    g_off_uS: float = Field(default=0.0, ge=0, description=(
        "conductance of an unprogrammed cross-point (block layout), uS; 0: no device there"))
    g_off_sigma_uS: float = Field(default=0.0, ge=0, description="device-to-device spread of g_off, uS")
    stuck_at_gmax: float = Field(default=0.0, ge=0, le=1, description="fraction of devices stuck at g_max")
    stuck_at_gmin: float = Field(default=0.0, ge=0, le=1, description="fraction of devices stuck at g_min")
    read_noise: float = Field(default=0.0, ge=0, description="output noise std, fraction of the ADC range")
    dac_bits: int | None = Field(default=None, ge=1, le=24, description="None: ideal DAC")
    dac_range: float | None = Field(default=None, gt=0, description=(
        "full scale of the DAC, in state units: inputs saturate there; None: never saturates"))
    adc_bits: int | None = Field(default=None, ge=1, le=24, description="None: ideal ADC")
    adc_range: float | None = Field(default=None, gt=0, description=(
        "full scale of the ADC (and TIA), in state units: outputs saturate there; None: never saturates"))
    drift_nu: float = Field(default=0.0, ge=0, description="drift exponent nu")
    drift_t_s: float = Field(default=1.0, gt=0, description="time since programming, s")
    drift_t0_s: float = Field(default=1.0, gt=0, description="reference time t0, s")

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
        if self.drift_t_s < self.drift_t0_s:
            raise ValueError("drift_t_s must be >= drift_t0_s")
        return self

    @property
    def g_window_uS(self) -> tuple[float, float]:
        """The physical conductance window (0, g_phys_max) in uS."""
        return 0.0, self.g_max_uS if self.g_phys_max_uS is None else self.g_phys_max_uS

    @property
    def clip_uS(self) -> tuple[float, float]:
        """Bounds at which programmed conductances are clipped (``noise_clip``), uS."""
        return self.g_window_uS if self.noise_clip == "physical" else (self.g_min_uS, self.g_max_uS)


def drift_factor(cfg: DeviceConfig) -> float:
    """G(t) / G(t0) = (t / t0)^-nu (1 without drift)."""
    return (cfg.drift_t_s / cfg.drift_t0_s) ** (-cfg.drift_nu)


#: Named settings. "ideal" is exact; the others mix values with a source (named in the comment
#: beside them) and values labelled ASSUMPTION, which are plausible but not measured.
PRESETS: dict[str, DeviceConfig] = {
    "ideal": DeviceConfig(),
    "hfox_1t1r_like": DeviceConfig(
        g_min_uS=10.0,           # ASSUMPTION: level 0 at a low-conductance state above the off state
        g_max_uS=100.0,          # ASSUMPTION: mapping range of 90 uS, typical of HfOx/TaOx 1T1R cells
        g_phys_max_uS=150.0,     # ASSUMPTION: physical window beyond the mapping range (headroom 50 uS)
        sigma_uS=3.0,            # ASSUMPTION: write-verify programming, error of a few uS per device
        noise_clip="physical",
        g_off_uS=0.0,            # unused cross-points hold no device (paper-like per-element blocks)
        stuck_at_gmax=0.001,     # 99.8% device yield in HfO2 1T1R arrays (Hu et al., Nat. Electron. 1, 52 (2018)),
        stuck_at_gmin=0.001,     #   split evenly between the two stuck states (ASSUMPTION)
        read_noise=0.005,        # ASSUMPTION: 0.5% of the ADC range per read
        dac_bits=8,              # ASSUMPTION
        adc_bits=6),             # 5-8 bit VMM output precision of such arrays (Hu et al. 2018); the
                                 #   converter ranges are calibrated per model (deploy.calibrate_converters)
}
