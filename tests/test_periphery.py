"""The periphery: per-column converters, offsets and their correction, bit-serial inputs, per-device
read noise, the check after programming, wire resistance and the cost of the same periphery."""

import logging

import numpy as np
import pytest
import torch

from imssa.hardware import check, periphery, wires
from imssa.hardware.cost import CostConstants, analog_cost, device_conductances
from imssa.hardware.crossbar import layout, pairs_per_weight
from imssa.hardware.deploy import deployed_weights, ideal_weights, target_conductances
from imssa.hardware.devices import DeviceConfig
from imssa.hardware.ranges import converter_ranges
from imssa.hardware.realisations import realisation_rows
from imssa.hardware.step import simulate_step
from imssa.model.config import ModelConfig, QuantConfig
from imssa.model.train import SpeechClassifier

WINDOW = {"g_min_uS": 10.0, "g_max_uS": 100.0, "g_phys_max_uS": 150.0}


def model(H=4, N=3, seed=0):
    torch.manual_seed(seed)
    net = SpeechClassifier(
        ModelConfig(H=H, N=N, quant=QuantConfig(bits=2, fscale=0.6, r_max=0.95)),
        2,
        generator=torch.Generator().manual_seed(seed),
    ).eval()
    with torch.no_grad():
        net.equalize_ranges(0.6)
    return net


def clips(B=6, L=200, seed=1):
    return torch.randn(B, L, generator=torch.Generator().manual_seed(seed))


def run(net, x, dev, W=None, seed=0, peaks=None, read_var=None):
    from imssa.hardware.stack import _inputs

    W = ideal_weights(net) if W is None else W
    return simulate_step(
        _inputs(net, x),
        W,
        net.layers[0].discrete().D.double(),
        dev,
        generator=torch.Generator().manual_seed(seed),
        peaks=peaks,
        read_var=read_var,
    )


def test_a_b_bit_converter_has_2_to_the_b_minus_1_levels_and_keeps_zero():
    v = torch.linspace(-3, 3, 10001, dtype=torch.float64)
    q = periphery.quantize(v, 3, 2.0)
    assert sorted(set(q.tolist())) == pytest.approx(
        [k * 2 / 3 for k in range(-3, 4)]
    )  # 7 levels, clip at 2
    assert periphery.quantize(torch.zeros(3), 4, 1.0).eq(0).all()
    with pytest.raises(ValueError, match=">= 2 bits"):
        periphery.levels(1)
    with pytest.raises(ValueError, match=">= 2"):
        DeviceConfig(adc_bits=1, adc_range=1.0)


def test_per_column_converters_at_high_resolution_give_the_ideal_array_and_never_clip_calibration():
    net, x = model(), clips()
    ranges = converter_ranges(net, x, headroom=1.1, clips=len(x), per_column=True)
    assert np.array(ranges["column_ranges"]).shape == (4, 7)
    rows, cols = np.array(ranges["row_ranges"]), np.array(ranges["column_ranges"])
    assert np.allclose(rows[:, :-1], cols[:, :-1])  # a state's ADC and DAC share one full scale
    assert cols.max() == pytest.approx(ranges["adc_range"])
    ideal = run(net, x, DeviceConfig())
    peaks = {}
    fine = run(net, x, DeviceConfig(dac_bits=20, adc_bits=20, **ranges), peaks=peaks)
    assert (
        not peaks["dac_over"].any() and not peaks["adc_over"].any()
    )  # its own calibration clips never clip
    assert ((fine - ideal).norm() / ideal.norm()) < 1e-4
    coarse_layer = run(
        net,
        x,
        DeviceConfig(
            dac_bits=6, adc_bits=6, dac_range=ranges["dac_range"], adc_range=ranges["adc_range"]
        ),
    )
    coarse_column = run(net, x, DeviceConfig(dac_bits=6, adc_bits=6, **ranges))
    assert (coarse_column - ideal).norm() < (
        coarse_layer - ideal
    ).norm()  # the levels go where the signal is


def test_the_affine_correction_removes_a_drawn_offset_and_gain_exactly_without_read_noise():
    net, x = model(), clips()
    ranges = converter_ranges(net, x, headroom=1.5, clips=len(x), per_column=True)
    clean = run(net, x, DeviceConfig(**ranges))
    errors = {"adc_offset_sigma": 0.02, "adc_gain_sigma": 0.05}
    off = run(net, x, DeviceConfig(**ranges, **errors))
    fixed = run(net, x, DeviceConfig(**ranges, **errors, calibration_reads=4))
    assert (off - clean).norm() / clean.norm() > 1e-2  # the errors matter ...
    assert (fixed - clean).norm() / clean.norm() < 1e-10  # ... and the correction removes them
    gain = torch.full((1, 1, 2, 3), 0.1, dtype=torch.float64)
    offset = torch.full_like(gain, -0.2)
    noisy = DeviceConfig(read_noise=0.01, adc_range=1.0, adc_offset_sigma=0.1, calibration_reads=64)
    g_hat, o_hat = periphery.affine_estimates(
        gain, offset, noisy, torch.ones(2, 3, dtype=torch.float64), torch.Generator().manual_seed(0)
    )
    assert (
        g_hat.sub(0.1).abs().max() < 0.01 and o_hat.add(0.2).abs().max() < 0.005
    )  # within the averaged noise


def test_bit_serial_inputs_equal_multi_level_ones_with_ideal_adcs_and_are_counted_as_cost_counts():
    net, x = model(), clips()
    ranges = converter_ranges(net, x, 1.1, len(x), per_column=True, bit_serial_dac_bits=8)
    multi, serial = {}, {}
    y_multi = run(net, x, DeviceConfig(dac_bits=8, **ranges), peaks=multi)
    y_serial = run(
        net, x, DeviceConfig(dac_bits=8, input_encoding="bit_serial", **ranges), peaks=serial
    )
    assert torch.allclose(y_multi, y_serial, atol=1e-10)  # the shift-and-add is exact
    lay = layout(4, 7, 64, 64, kind="block", devices_per_element=16)
    G = device_conductances(target_conductances(net, DeviceConfig(**WINDOW)), pairs_per_weight(16))
    for peaks, encoding in ((multi, "multi_level"), (serial, "bit_serial")):
        dev = DeviceConfig(dac_bits=8, adc_bits=6, input_encoding=encoding, **ranges)
        assert float(peaks["adc_conversions"]) == periphery.conversions_per_step(dev, 4, 7)["adc"]
        est = analog_cost(G, lay, 3, 1, 2, 6, CostConstants(), periphery=dev)
        per_adc = CostConstants().adc_fom_J_per_conversion_step * 2**6 * 1e12
        assert est.breakdown_pJ_per_inference["adc"] == pytest.approx(
            float(peaks["adc_conversions"]) * per_adc
        )
    assert float(serial["adc_conversions"]) == 7 * float(multi["adc_conversions"])


def test_per_device_read_noise_grows_with_the_column_s_conductances_and_drive():
    W = torch.zeros(1, 1, 3, 3, dtype=torch.float64)
    u = torch.ones(1, 1, 4000, dtype=torch.float64)
    var = torch.zeros_like(W)
    var[0, 0, -1, -1] = 4.0  # only the corner (input to readout) carries a device: S = 4
    dev = DeviceConfig(read_noise_model="device", read_noise_device=0.05)
    y = simulate_step(
        u,
        W,
        torch.zeros(1, dtype=torch.float64),
        dev,
        generator=torch.Generator().manual_seed(0),
        read_var=var,
    )
    expected = 2 * 0.05 * 2.0  # y = 2 y', std(y') = q sqrt(S v^2), v = 1
    assert y[0, 0, 0, :-1].std().item() == pytest.approx(expected, rel=0.05)
    louder = simulate_step(
        3 * u,
        W,
        torch.zeros(1, dtype=torch.float64),
        dev,
        generator=torch.Generator().manual_seed(0),
        read_var=var,
    )
    assert louder[0, 0, 0, :-1].std().item() == pytest.approx(3 * expected, rel=0.05)
    with pytest.raises(ValueError, match="read_var"):
        simulate_step(u, W, torch.zeros(1, dtype=torch.float64), dev)


def test_the_check_after_programming_reprograms_only_failing_channels_and_counts_its_pulses():
    net = model(H=6)
    noisy = DeviceConfig(**WINDOW, sigma_uS=15.0)
    plain_stats, checked_stats = {}, {}
    plain = deployed_weights(net, noisy, 8, seed=3, stats=plain_stats)
    loose = deployed_weights(net, noisy.model_copy(update={"check_tolerance": 1e9}), 8, seed=3)
    # a loose check reprograms only the unstable channels; the others keep the first programming's
    # draws
    stable = check.channel_radius(plain) < 1
    assert torch.equal(loose[stable], plain[stable])
    checked = deployed_weights(
        net,
        noisy.model_copy(update={"check_tolerance": 0.3, "check_max_rounds": 20}),
        8,
        seed=3,
        stats=checked_stats,
    )
    target = ideal_weights(net)
    before = check.failing_channels(plain, target, 0.3, 256)
    after = check.failing_channels(checked, target, 0.3, 256)
    assert before.sum() > after.sum() and torch.equal(checked[~before], plain[~before])
    assert torch.equal(checked_stats["failing"], after.sum(1).double())
    assert (checked_stats["pulses"] >= plain_stats["pulses"]).all() and (
        checked_stats["pulses"] > 1
    ).any()
    assert (checked_stats["reprogrammed"] >= before.sum(1)).all()
    # one pulse per device without write-verify: each reprogrammed channel adds its 1/H of the
    # devices
    assert torch.allclose(checked_stats["pulses"], 1 + checked_stats["reprogrammed"].double() / 6)


def test_the_nodal_solve_agrees_with_badcrossbar_and_reduces_to_the_devices_without_wires():
    badcrossbar = pytest.importorskip("badcrossbar")
    logging.getLogger().setLevel(logging.WARNING)
    rng = np.random.default_rng(0)
    for M, N, r in ((4, 3, 2.0), (7, 9, 20.0)):
        G = rng.uniform(10e-6, 150e-6, (M, N))
        V = rng.uniform(-0.2, 0.2, (M, 2))
        reference = badcrossbar.compute(V, 1 / G, r_i=r).currents.output  # (2, N)
        ours = (wires.effective_conductance(G, r).T @ V).T
        assert np.abs(ours - reference).max() / np.abs(reference).max() < 1e-9
    assert np.array_equal(wires.effective_conductance(G, 0.0), G)
    far = wires.effective_conductance(G, 20.0, extra_cols=30, extra_rows=30)
    assert (
        far.sum() < wires.effective_conductance(G, 20.0).sum() < G.sum()
    )  # longer wires, more drop


def test_wire_resistance_changes_the_weights_by_a_vanishing_amount_as_r_goes_to_zero():
    net = model()
    dev = DeviceConfig(**WINDOW, sigma_uS=3.0)
    W = deployed_weights(net, dev, 2, seed=1)
    near = deployed_weights(net, dev.model_copy(update={"wire_resistance_ohm": 1e-6}), 2, seed=1)
    far = deployed_weights(net, dev.model_copy(update={"wire_resistance_ohm": 5.0}), 2, seed=1)
    assert (near - W).abs().max() < 1e-6 < (far - W).abs().max()
    assert (
        far[..., :-1, :-1].abs().sum() < W[..., :-1, :-1].abs().sum()
    )  # IR drop weakens the currents


def test_a_periphery_that_needs_step_mode_is_refused_in_fast_mode():
    net, x = model(), clips()
    import pandas as pd

    from imssa.data.audio import AudioSet

    data = AudioSet(
        x, torch.zeros(len(x), dtype=torch.long), pd.DataFrame(index=range(len(x))), 2000
    )
    with pytest.raises(ValueError, match="step"):
        realisation_rows(
            net, data, [DeviceConfig(**WINDOW, adc_offset_sigma=0.01, adc_range=1.0)], 1, seed=0
        )
    with pytest.raises(ValueError, match="H x n"):
        DeviceConfig(row_ranges=[[1.0, 1.0]], column_ranges=[[1.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match="calibration_reads"):
        DeviceConfig(calibration_reads=4)


def test_column_read_noise_scales_with_each_column_s_own_full_scale():
    W = torch.zeros(1, 1, 3, 3, dtype=torch.float64)
    u = torch.zeros(1, 1, 4000, dtype=torch.float64)
    cols = [[1.0, 1.0, 0.5]]  # the readout column has full scale 0.5
    ranges = {"row_ranges": [[1.0, 1.0, 1.0]], "column_ranges": cols, "adc_range": 1.0}
    for model, expected in (("column", 2 * 0.01 * 0.5), ("additive", 2 * 0.01 * 1.0)):
        dev = DeviceConfig(read_noise=0.01, read_noise_model=model, **ranges)
        y = simulate_step(
            u,
            W,
            torch.zeros(1, dtype=torch.float64),
            dev,
            generator=torch.Generator().manual_seed(0),
        )
        assert y[0, 0, 0, :-1].std().item() == pytest.approx(expected, rel=0.05)


def test_the_straight_through_converter_rounds_forward_and_passes_gradients_only_inside_its_range():
    from imssa.hardware.aware import ste_quantize

    v = torch.tensor([-3.0, -0.4, 0.26, 2.5], requires_grad=True)
    q = ste_quantize(v, 3, 2.0)
    assert torch.equal(q.detach(), periphery.quantize(v.detach(), 3, 2.0))
    q.sum().backward()
    assert v.grad.tolist() == [0.0, 1.0, 1.0, 0.0]


def test_the_converter_aware_forward_pass_is_the_step_simulator():
    from imssa.hardware.aware import converter_logits
    from imssa.hardware.stack import stack_run

    net, x = model(), clips(L=120)
    ranges = converter_ranges(net, x, headroom=1.1, clips=len(x))
    for dev in (
        DeviceConfig(),
        DeviceConfig(dac_bits=6, adc_bits=5, **ranges),
        DeviceConfig(
            dac_bits=6, adc_bits=5, **converter_ranges(net, x, 1.1, len(x), per_column=True)
        ),
    ):
        with torch.no_grad():
            ours = converter_logits(net, x.double(), dev)
        ref = stack_run(net, x, [ideal_weights(net)], [dev], "step", dtype=torch.float64).logits[0]
        assert torch.allclose(ours.double(), ref.double(), atol=1e-5)
    with torch.no_grad():
        assert torch.allclose(
            converter_logits(net, x, DeviceConfig()), net(x), atol=1e-4
        )  # no converters


def test_converter_aware_backpropagation_in_recomputed_chunks_gives_the_same_gradients(
    monkeypatch,
):
    """The chunks that ``converter_logits`` recomputes in the backward pass (``CHECKPOINT_STEPS``,
    to bound memory) change neither the logits nor any gradient: bitwise equal to backpropagation
    through every step; and its peak memory grows with a chunk, not with the clip."""
    from imssa.hardware import aware

    net, x = model(), clips(L=120)
    dev = DeviceConfig(dac_bits=6, adc_bits=5, **converter_ranges(net, x, 1.1, len(x)))

    def grads() -> tuple[torch.Tensor, list[torch.Tensor]]:
        net.zero_grad()
        logits = aware.converter_logits(net, x, dev)
        logits.square().sum().backward()
        return logits.detach(), [p.grad.clone() for p in net.parameters() if p.grad is not None]

    monkeypatch.setattr(aware, "CHECKPOINT_STEPS", 7)  # chunks that do not divide L + 1
    chunked = grads()
    monkeypatch.setattr(aware, "CHECKPOINT_STEPS", 10**6)  # one chunk: the whole clip
    monkeypatch.setattr(aware, "checkpoint", lambda f, *a, **kw: f(*a))  # every step kept
    whole = grads()
    assert torch.equal(chunked[0], whole[0])
    assert len(chunked[1]) == len(whole[1]) > 0
    assert all(torch.equal(a, b) for a, b in zip(chunked[1], whole[1], strict=True))
