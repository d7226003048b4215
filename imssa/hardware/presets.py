"""Named device presets, composed from the typed parts of ``devices`` (``DeviceConfig.compose``):
a preset is one entry of ``PRESETS``; the technologies compared in the device-technologies
chapter are the names in ``TECHNOLOGIES``. Every value carries its source or is labelled an
ASSUMPTION. The technology presets describe devices only (ideal converters, no cycle-to-cycle read
noise): the periphery is a separate choice (``hfox_1t1r_like`` adds one for the deployment chapter).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch

from .converters import Converters
from .devices import DeviceConfig
from .noise import programming_sigma_uS, pulses_to_converge, single_pulse_sigma_uS
from .physics import DevicePhysics, LogLinear, RelaxationPoint

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PRESETS", "TECHNOLOGIES", "WINDOW_KEYS", "preset", "preset_device", "preset_table"]

# NeuRRAM's write-verify (Wan et al., Nature 608, 504 (2022), Methods): acceptance +-1 uS, 8.52
# pulses per device on average, 99% of cells converging. The numbers are as reported in secondary
# summaries of that paper; the single-pulse error below is derived from them, not measured.
_WAN_TOL_US, _WAN_PULSES, _WAN_CONVERGED = 1.0, 8.52, 0.99

# Each constant keeps its source in a column beside it (not formatted):
# fmt: off
_RRAM_WAN2022 = DevicePhysics(
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
#: beside them) and values labelled ASSUMPTION, which are plausible but not measured.
PRESETS: dict[str, DeviceConfig] = {
    "ideal": DeviceConfig(),
    "hfox_1t1r_like": DeviceConfig.compose(
        DevicePhysics(
            g_min_uS=10.0,           # ASSUMPTION: level 0 at a low-conductance state above the off state
            g_max_uS=100.0,          # ASSUMPTION: mapping range of 90 uS, typical of HfOx/TaOx 1T1R cells
            g_phys_max_uS=150.0,     # ASSUMPTION: physical window beyond the mapping range (headroom 50 uS)
            sigma_uS=3.0,            # ASSUMPTION: write-verify programming, error of a few uS per device
            noise_clip="physical",
            g_off_uS=0.0,            # unused cross-points hold no device (paper-like per-element blocks)
            stuck_at_gmax=0.001,     # 99.8% device yield in HfO2 1T1R arrays (Li, Hu et al., Nat. Electron. 1, 52
            stuck_at_gmin=0.001),    #   (2018)), split evenly between the two stuck states (ASSUMPTION)
        Converters(
            read_noise=0.005,        # ASSUMPTION: 0.5% of the ADC range per read
            dac_bits=8,              # ASSUMPTION
            adc_bits=6)),            # ASSUMPTION, informed by the 5-8 bit effective VMM output precision of such
                                     #   arrays (Li, Hu et al. 2018), which is not an ADC resolution; the converter
                                     #   ranges are set per model (ranges.converter_ranges)
    "rram_wan2022": DeviceConfig.compose(_RRAM_WAN2022),
    "rram_single_pulse": DeviceConfig.compose(_RRAM_WAN2022.model_copy(update=dict(
        sigma_uS=single_pulse_sigma_uS(_WAN_TOL_US, _WAN_PULSES),  # ASSUMPTION: 6.8 uS, one pulse's error for which
        sigma_poly_uS=[],        #   write-verify at +-1 uS would need 8.52 pulses if every pulse were an independent
        relaxation=[],           #   draw; NeuRRAM ramps its pulses, so this is a model, not a measurement. No
                                 #   relaxation: the write-verify study reads right after programming
        write_verify_max_pulses=pulses_to_converge(_WAN_PULSES, _WAN_CONVERGED)))),  # 37 pulses: 99% converge
    "pcm_joshi2020": DeviceConfig.compose(DevicePhysics(
        g_min_uS=0.0,            # differential PCM pair on [0, 25 uS]: the statistical PCM model of Nandakumar et al.
        g_max_uS=25.0,           #   (ICECS 2019) fitted to 1M devices (Joshi et al., Nat. Commun. 11, 2473 (2020)), as
                                 #   in IBM aihwkit's PCMLikeNoiseModel, from which every value below is taken
        g_phys_max_uS=40.0,      # ASSUMPTION: no upper clip within reach of the noise (the model clips at 0 only)
        sigma_poly_uS=[0.26348, 1.9650, -1.1731],  # programming noise std, uS, g = G / 25 uS: 0.26 to 1.06 uS
        t0_s=20.0,               # drift reference: 20 s after programming
        drift_nu_mean=LogLinear(a=0.0244, b=-0.0155, lo=0.049, hi=0.1),   # mean nu, ln of g = G / 25 uS
        drift_nu_std=LogLinear(a=-0.0059, b=-0.0125, lo=0.008, hi=0.045),  # spread of nu; nu = |mean + std z|
        read_1f_q=0.0088, read_1f_exponent=0.65, read_1f_q_max=0.2,  # 1/f read noise Q_s = min(0.0088 / g^0.65, 0.2)
        t_read_s=250e-9)),       # read duration 250 ns; yield not modelled (ASSUMPTION: no stuck devices)
    "ecram_like": DeviceConfig.compose(DevicePhysics(
        g_min_uS=0.5,            # ASSUMPTION: on/off ratio 2 (ECRAM dynamic ranges of about 2x: Melianas et al.,
        g_max_uS=1.0,            #   Sci. Adv. 6, eabb2958 (2020)) at sub-uS conductance (read currents below 10 nA:
        g_phys_max_uS=1.2,       #   Fuller et al., Science 364, 570 (2019)); window above g_max ASSUMPTION
        states=1000,             # up to 1000 discrete states (Tang et al., IEDM 2018)
        g_off_uS=0.5,            # ASSUMPTION: no zero-conductance state; an unused cross-point sits at g_min
        g_off_sigma_uS=0.001,    #   with the programming spread
        sigma_uS=0.001)),        # ASSUMPTION: closed-loop programming lands within about two update steps of
                                 #   0.2% of the range (the step of aihwkit's EcRamPresetDevice, fit to Tang et al.
                                 #   2018): std 0.2% of 0.5 uS; symmetric; no retention loss modelled (ASSUMPTION)
    "stt_mram_binary": DeviceConfig.compose(DevicePhysics(
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
        stuck_at_gmin=0.001)),
}
# fmt: on

#: The technologies compared in the device-technologies chapter (PRESETS keys).
TECHNOLOGIES = ("rram_wan2022", "pcm_joshi2020", "ecram_like", "stt_mram_binary")

#: the keys of a device's conductance window, in uS: mapping range and physical top
WINDOW_KEYS = ("g_min_uS", "g_max_uS", "g_phys_max_uS")


def preset(name: str) -> DeviceConfig:
    """The preset ``name`` of ``PRESETS`` (a clear error naming the known ones otherwise)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known: {sorted(PRESETS)}")
    return PRESETS[name]


def preset_device(
    name: str, window: dict[str, float] | None = None, **overrides: Any
) -> DeviceConfig:
    """The preset ``name`` (``preset``) composed with a study's settings: its conductance window
    (``WINDOW_KEYS``, uS) replaced by ``window`` (None keeps the preset's), then any
    ``DeviceConfig`` keys of ``overrides`` (the window's too, explicitly; each routes to its part by
    its unique name), validated as a whole."""
    odd = set(window or {}) - set(WINDOW_KEYS)
    if odd:
        raise ValueError(f"unknown window keys: {sorted(odd)}; known: {list(WINDOW_KEYS)}")
    DeviceConfig.check_keys(overrides)
    return DeviceConfig.model_validate(preset(name).model_dump() | (window or {}) | overrides)


def preset_table(names: list[str]) -> pd.DataFrame:
    """One row per preset: its window, on/off ratio, states, programming noise at g_min and g_max
    (uS and % of the mapping range), yield, drift and ageing: what a reader compares first."""
    import pandas as pd

    rows = []
    for name in names:
        d = preset(name)
        ends = programming_sigma_uS(
            d, torch.tensor([d.g_min_uS, d.g_max_uS], dtype=torch.float64, device="cpu")
        ).tolist()
        span = d.g_max_uS - d.g_min_uS
        g = torch.tensor([d.g_min_uS, d.g_max_uS], dtype=torch.float64, device="cpu") / d.g_max_uS
        rows.append(
            {
                "technology": name,
                "g_min_uS": d.g_min_uS,
                "g_max_uS": d.g_max_uS,
                "on_off_ratio": d.g_max_uS / d.g_min_uS if d.g_min_uS > 0 else math.inf,
                "states": d.states or "analog",
                "sigma_at_g_min_uS": ends[0],
                "sigma_at_g_max_uS": ends[1],
                "sigma_at_g_max_pct_of_range": 100 * ends[1] / span,
                "stuck_pct": 100 * (d.stuck_at_gmax + d.stuck_at_gmin),
                "drift_nu_at_g_max": float(d.drift_nu_mean(g[1:])[0]),
                "relaxation": bool(d.relaxation),
                "read_1f_q": d.read_1f_q,
            }
        )
    return pd.DataFrame(rows)
