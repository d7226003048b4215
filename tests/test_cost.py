import math

import pytest
import torch

from imssa.hardware.cost import (
    CostConstants,
    adc_energy_J,
    analog_cost,
    device_conductances,
    digital_cost,
    mult_energy_J,
)
from imssa.hardware.crossbar import layout

C = CostConstants()


def test_converter_and_multiplier_energies_follow_their_scaling_laws():
    assert adc_energy_J(7, C) == pytest.approx(2 * adc_energy_J(6, C))
    assert adc_energy_J(8, C) == pytest.approx(C.adc_fom_J_per_conversion_step * 256)
    assert mult_energy_J(8, 8, C) == pytest.approx(C.mult8_J)
    assert mult_energy_J(2, 8, C) == pytest.approx(C.mult8_J / 4)
    with pytest.raises(ValueError, match="ADC bits"):
        adc_energy_J(0, C)


def test_analog_energy_is_the_sum_of_its_components_by_hand():
    H, N, L, classes = 2, 3, 10, 2
    lay = layout(H, 2 * N + 1, 64, 64, kind="block", devices_per_element=16)
    G = torch.full((lay.devices,), 40.0, dtype=torch.float64)
    c = C.model_copy(update={"input_activity": 0.5, "g_off_uS": 0.0})
    est = analog_cost(G, lay, N, L, classes, adc_bits=6, c=c)
    n, cycles = (
        2 * N + 1,
        c.dac_bits - 1,
    )  # bit-serial: one array read and conversion per magnitude bit
    array = cycles * lay.devices * 40e-6 * 0.2**2 * 0.5 * 100e-9
    dac = cycles * H * n * c.dac_J_per_bit
    adc = cycles * H * n * c.adc_fom_J_per_conversion_step * 64
    assert est.breakdown_pJ_per_inference["array"] == pytest.approx(array * L * 1e12)
    assert est.breakdown_pJ_per_inference["dac"] == pytest.approx(dac * L * 1e12)
    assert est.breakdown_pJ_per_inference["adc"] == pytest.approx(adc * L * 1e12)
    assert "column_gains" not in est.breakdown_pJ_per_inference
    assert est.energy_pJ_per_inference == pytest.approx(
        sum(est.breakdown_pJ_per_inference.values())
    )
    assert est.latency_us_per_step == pytest.approx(
        (cycles * 100e-9 + math.ceil(cycles * H * n / lay.arrays) / c.adc_rate_Hz) * 1e6
    )
    gains = analog_cost(G, lay, N, L, classes, 6, c, column_gains=True)
    assert gains.energy_pJ_per_inference > est.energy_pJ_per_inference
    lower = analog_cost(G / 2, lay, N, L, classes, 6, c)
    assert est.breakdown_pJ_per_inference["array"] == pytest.approx(
        2 * lower.breakdown_pJ_per_inference["array"]
    )
    with pytest.raises(ValueError, match="programmed devices"):
        analog_cost(G[:-1], lay, N, L, classes, 6, c)


def test_digital_cost_counts_every_matrix_at_its_own_width():
    H, N, L = 4, 5, 7
    per_width = lambda b: mult_energy_J(b, 8, C) + C.add32_J  # noqa: E731
    for bits in [(4, 4, 4), (2, 4, 4), (4, 2, 2)]:
        est = digital_cost(H, N, bits, L, 2, C)
        mac = H * (
            4 * N * per_width(bits[0]) + 2 * N * per_width(bits[1]) + 2 * N * per_width(bits[2])
        )
        assert est.breakdown_pJ_per_inference["mac"] == pytest.approx(mac * L * 1e12)
        reads = H * (4 * N * bits[0] + 2 * N * bits[1] + 2 * N * bits[2]) * C.sram_J_per_bit
        assert est.breakdown_pJ_per_inference["weight_reads"] == pytest.approx(reads * L * 1e12)
        assert est.latency_us_per_step == pytest.approx(H * 8 * N / 1e9 * 1e6)
    e = [digital_cost(H, N, (b, b, b), L, 2, C).energy_pJ_per_inference for b in (2, 4, 8)]
    assert e[0] < e[1] < e[2]


def test_every_programmed_copy_is_counted():
    t = torch.tensor([10.0, 100.0])
    assert device_conductances(t, 2).tolist() == [10.0, 100.0, 10.0, 100.0]
    assert device_conductances(t, 1) is t
