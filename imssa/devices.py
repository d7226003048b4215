"""Device and periphery non-idealities of a memristive crossbar, as data with units.

A ``DeviceConfig`` says how conductances are programmed and read: the mapping range
[g_min, g_max] in microsiemens (uS), Gaussian programming noise (sigma in uS, clipped to the
range), the fractions of devices stuck at g_max or g_min, cycle-to-cycle read noise on the
output currents, DAC/ADC resolution and range, and optional conductance drift
G(t) = G(t0) (t / t0)^-nu. Technologies are presets of this one type, never code branches.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from .config import Strict

__all__ = ["DeviceConfig", "PRESETS", "drift_factor"]


class DeviceConfig(Strict):
    """Non-idealities of one array and its periphery; every default is 'ideal'."""

    g_min_uS: float = Field(default=0.0, ge=0, description="conductance of weight level 0, uS")
    g_max_uS: float = Field(default=100.0, gt=0, description="conductance of the top level, uS")
    sigma_uS: float = Field(default=0.0, ge=0, description="programming noise std, uS")
    stuck_at_gmax: float = Field(default=0.0, ge=0, le=1, description="fraction of devices stuck at g_max")
    stuck_at_gmin: float = Field(default=0.0, ge=0, le=1, description="fraction of devices stuck at g_min")
    read_noise: float = Field(default=0.0, ge=0, description="output noise std, fraction of the ADC range")
    dac_bits: int | None = Field(default=None, ge=1, le=24, description="None: ideal DAC")
    dac_range: float = Field(default=4.0, gt=0, description="full scale of the DAC, in state units")
    adc_bits: int | None = Field(default=None, ge=1, le=24, description="None: ideal ADC")
    adc_range: float = Field(default=4.0, gt=0, description="full scale of the ADC, in state units")
    drift_nu: float = Field(default=0.0, ge=0, description="drift exponent nu")
    drift_t_s: float = Field(default=1.0, gt=0, description="time since programming, s")
    drift_t0_s: float = Field(default=1.0, gt=0, description="reference time t0, s")

    @model_validator(mode="after")
    def _check(self) -> DeviceConfig:
        if self.g_min_uS >= self.g_max_uS:
            raise ValueError(f"g_min_uS ({self.g_min_uS}) must be < g_max_uS ({self.g_max_uS})")
        if self.stuck_at_gmax + self.stuck_at_gmin > 1:
            raise ValueError("stuck_at_gmax + stuck_at_gmin must be <= 1")
        if self.drift_t_s < self.drift_t0_s:
            raise ValueError("drift_t_s must be >= drift_t0_s")
        return self


def drift_factor(cfg: DeviceConfig) -> float:
    """G(t) / G(t0) = (t / t0)^-nu (1 without drift)."""
    return (cfg.drift_t_s / cfg.drift_t0_s) ** (-cfg.drift_nu)


#: Named settings. "ideal" is exact; the others are stated, plausible assumptions for the
#: deployment chapter, not measurements, except where a comment names a source.
PRESETS: dict[str, DeviceConfig] = {
    "ideal": DeviceConfig(),
    # HfO2 1T1R arrays of up to 128 x 64 cells: 99.8% device yield and 5-8 bit VMM output
    # precision (Hu et al., Nature Electronics 1, 52 (2018)); the rest is assumed.
    "hfox_1t1r_like": DeviceConfig(g_min_uS=10.0, g_max_uS=100.0, sigma_uS=3.0, stuck_at_gmax=0.001,
                                   stuck_at_gmin=0.001, read_noise=0.005, dac_bits=8, adc_bits=6),
}
