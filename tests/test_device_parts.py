"""The device record in typed parts: every field declares what it asks of a simulation, step mode
and randomness are derived from those declarations, presets are composed from parts and program
exactly as before, renamed keys are refused with their replacement, and a chapter's checkpoint
hashes only the presets it uses."""

import math

import pytest
import torch
from pydantic import Field

from imssa.hardware.conductance import program
from imssa.hardware.converters import Converters
from imssa.hardware.devices import PARTS, Check, DeviceConfig, Wires
from imssa.hardware.fields import effects, param
from imssa.hardware.physics import DevicePhysics, LogLinear, RelaxationPoint
from imssa.hardware.presets import PRESETS
from imssa.study.params import validate_params

#: Programmed conductances at the base commit 18cfcf7 (before the record was split), computed there
#: by the same draws as ``_programmed_sum``: sum(G+ - 2 G-) of 3 programmings, read at 0 s and
#: at 1 hour.
BASE_SUMS = {
    ("hfox_1t1r_like", 0.0): -1591.1884907834396,
    ("hfox_1t1r_like", 3600.0): -1591.1884907834396,
    ("rram_wan2022", 0.0): -550.9026500513537,
    ("rram_wan2022", 3600.0): -570.8544235168049,
    ("rram_single_pulse", 0.0): -556.2831731800331,
    ("rram_single_pulse", 3600.0): -556.2831731800331,
    ("pcm_joshi2020", 0.0): -346.2317009730088,
    ("pcm_joshi2020", 3600.0): -277.90512044169765,
    ("ecram_like", 0.0): -24.818913785031086,
    ("ecram_like", 3600.0): -24.818913785031086,
    ("stt_mram_binary", 0.0): -2285.2900896673254,
    ("stt_mram_binary", 3600.0): -2285.2900896673254,
}


def _programmed_sum(name: str, t_s: float) -> float:
    d = PRESETS[name]
    G = d.g_min_uS + torch.linspace(0, 1, 12, dtype=torch.float64).reshape(3, 4) * (
        d.g_max_uS - d.g_min_uS
    )
    used = torch.ones(3, 4, dtype=torch.bool)
    used[0, 0] = False
    p, n = program(
        G,
        G.flip(0),
        3,
        d,
        generator=torch.Generator().manual_seed(11),
        used=used,
        copies=2,
        t_s=t_s,
    )
    return float((p - 2 * n).sum())


@pytest.mark.parametrize("name,t_s", sorted(BASE_SUMS))
def test_presets_program_exactly_as_before_the_split(name, t_s):
    assert _programmed_sum(name, t_s) == pytest.approx(BASE_SUMS[name, t_s], rel=1e-13, abs=0)


def test_every_field_declares_its_effects_and_belongs_to_one_part():
    declared = effects(DeviceConfig)  # raises, naming them, for fields without a declaration
    assert all(
        e["random"] in ("write", "age", None) and isinstance(e["step"], bool)
        for e in declared.values()
    )
    owners = [name for part in PARTS for name in part.model_fields]
    assert len(owners) == len(set(owners)) and set(owners) == set(DeviceConfig.model_fields)
    for e in declared.values():  # a factor that silences a field is a field too
        assert e.get("scaled_by") is None or e["scaled_by"] in DeviceConfig.model_fields

    class Undeclared(Wires):
        wire_capacitance_fF: float = Field(default=0.0)

    with pytest.raises(ValueError, match="wire_capacitance_fF"):
        effects(Undeclared)


def _old_needs_step(d: DeviceConfig) -> bool:
    """``needs_step`` as the base commit listed it by hand (the reference of the derived one)."""
    return bool(
        d.dac_bits is not None
        or d.adc_bits is not None
        or d.read_noise > 0
        or d.read_noise_device > 0
        or d.adc_offset_sigma > 0
        or d.adc_gain_sigma > 0
        or d.input_encoding == "bit_serial"
        or d.column_ranges is not None
    )


def _old_stochastic(d: DeviceConfig, t_s: float) -> bool:
    """``stochastic`` as the base commit listed it by hand, with its ``t_s`` field as an
    argument."""
    return bool(
        (d.sigma_scale > 0 and (d.sigma_uS > 0 or d.sigma_poly_uS))
        or d.stuck_at_gmax > 0
        or d.stuck_at_gmin > 0
        or d.g_off_sigma_uS > 0
        or d.read_1f_q > 0
        or (t_s > 0 and (d.drifts or bool(d.relaxation)))
    )


#: One non-default value per field that the old lists named (and a few they did not).
CHANGES = [
    {"sigma_uS": 1.0},
    {"sigma_poly_uS": [0.5]},
    {"sigma_uS": 1.0, "sigma_scale": 0.0},
    {"stuck_at_gmax": 0.1},
    {"stuck_at_gmin": 0.1},
    {"g_off_sigma_uS": 0.1},
    {"read_1f_q": 0.01},
    {"drift_nu_mean": LogLinear(a=0.1)},
    {"drift_nu_std": LogLinear(a=0.1)},
    {"relaxation": [RelaxationPoint(t_s=1.0, sigma_poly_uS=[1.0])]},
    {"dac_bits": 8},
    {"adc_bits": 6},
    {"read_noise": 0.01},
    {"adc_offset_sigma": 0.01},
    {"adc_gain_sigma": 0.01},
    {"read_noise_model": "device", "read_noise_device": 0.01},
    {"dac_bits": 8, "input_encoding": "bit_serial"},
    {"column_ranges": [[1.0, 1.0]]},
    {"dac_range": 2.0},
    {"adc_range": 2.0},
    {"check_tolerance": 0.2},
    {"wire_resistance_ohm": 1.0},
    {"drift_compensation": True},
    {"write_verify_tol_uS": 1.0},
    {"states": 4},
    {"t0_s": 20.0},
    {},
]


@pytest.mark.parametrize("change", CHANGES, ids=lambda c: ",".join(c) or "ideal")
def test_step_mode_and_randomness_derived_from_the_declarations_agree_with_the_old_lists(change):
    d = DeviceConfig(**change)
    assert d.needs_step == _old_needs_step(d)
    assert [d.random_at(t) for t in (0.0, 3600.0)] == [_old_stochastic(d, t) for t in (0.0, 3600.0)]


def test_a_declared_step_field_switches_step_mode_on():
    class Extra(DeviceConfig):
        adc_nonlinearity: float = param(0.0, step=True, random=None)

    assert not Extra().needs_step and Extra(adc_nonlinearity=0.1).needs_step


def test_a_record_is_composed_from_parts_and_shows_each_part():
    physics = DevicePhysics(g_max_uS=40.0, sigma_uS=2.0)
    dev = DeviceConfig.compose(physics, Converters(adc_bits=6), Check(check_tolerance=0.2))
    assert (dev.g_max_uS, dev.sigma_uS, dev.adc_bits, dev.check_tolerance) == (40.0, 2.0, 6, 0.2)
    assert dev.part(DevicePhysics) == physics and dev.part(Wires) == Wires()
    with pytest.raises(ValueError, match="two parts"):
        DeviceConfig.compose(DevicePhysics(sigma_uS=1.0), DevicePhysics(sigma_uS=2.0))


def test_renamed_device_keys_are_refused_with_their_replacement():
    with pytest.raises(ValueError, match="'verify_tolerance' is now 'check_tolerance'"):
        DeviceConfig(verify_tolerance=0.2)
    with pytest.raises(ValueError, match="'t_s' is now an argument"):
        DeviceConfig(t_s=1.0)
    with pytest.raises(ValueError, match="'verify_rounds' is now 'check_max_rounds'"):
        DeviceConfig.check_keys({"verify_rounds", "sigma_uS"})
    with pytest.raises(ValueError, match="'verify_tolerance' is now a key of design_device"):
        validate_params("periphery", {"verify_tolerance": 0.2})
    with pytest.raises(ValueError, match="'write_verify_technology' is now 'write_verify_preset'"):
        validate_params("device_technologies", {"write_verify_technology": "rram_single_pulse"})
    with pytest.raises(ValueError, match="'verify_rounds' is now 'check_max_rounds'"):
        validate_params(
            "hardware_deployment",
            {"emulation": {"preset": "hfox_1t1r_like", "overrides": {"verify_rounds": 2}}},
        )


def test_the_technologies_checkpoint_hashes_only_the_presets_it_uses(monkeypatch):
    cfg = validate_params("device_technologies", {})
    key = cfg.checkpoint_key()
    monkeypatch.setitem(PRESETS, "unused_new_preset", DeviceConfig(sigma_uS=1.0))
    assert cfg.checkpoint_key() == key
    used = cfg.presets_used()[0]
    monkeypatch.setitem(PRESETS, used, PRESETS[used].model_copy(update={"stuck_at_gmax": 0.01}))
    assert cfg.checkpoint_key() != key


def test_time_is_an_argument_of_ageing():
    pcm = PRESETS["pcm_joshi2020"].model_copy(
        update={"sigma_poly_uS": [], "read_1f_q": 0.0, "drift_nu_std": LogLinear()}
    )
    G = torch.full((4,), 25.0, dtype=torch.float64)
    later = program(G, G, 1, pcm, generator=torch.Generator().manual_seed(0), t_s=3600.0)[0]
    assert torch.allclose(later, G * ((3600.0 + 20.0) / 20.0) ** -0.049)
    assert torch.equal(program(G, G, 1, pcm, t_s=0.0)[0][0], G) and math.isclose(pcm.t0_s, 20.0)


def test_the_designs_device_settings_are_device_keys_checked_one_by_one():
    cfg = validate_params("periphery", {"design_device": {"check_max_rounds": 3}})
    assert (
        cfg.design_device["check_max_rounds"] == 3 and "adc_offset_sigma" in cfg.design_device
    )  # the rest: defaults
    with pytest.raises(ValueError, match="'adc_offset_sigma' is now a key of design_device"):
        validate_params("periphery", {"adc_offset_sigma": 0.01})
    with pytest.raises(ValueError, match="unknown keys in design_device: \\['adc_ofset_sigma'\\]"):
        validate_params("periphery", {"design_device": {"adc_ofset_sigma": 0.01}})
    with pytest.raises(ValueError, match="greater than 0"):
        validate_params("periphery", {"design_device": {"check_tolerance": -1.0}})
