"""Analog simulation: ideal array = quantized digital model; fast mode = step mode per
realisation."""

import pytest
import torch

from imssa.hardware.analog import effective_weights, simulate_fast
from imssa.hardware.conductance import program
from imssa.hardware.crossbar import combined_matrix, to_conductance
from imssa.hardware.devices import DeviceConfig
from imssa.hardware.physics import LogLinear
from imssa.hardware.presets import PRESETS
from imssa.hardware.step import simulate_step
from imssa.model.qat import quantize_ssm
from imssa.model.s4d import DiscreteSSM, ssm_recurrent

G_MIN, G_MAX, FSCALE = 1.0, 101.0, 0.6


def quantized_model(bits=2, H=3, N=4, seed=0):
    g = torch.Generator().manual_seed(seed)

    def c(s):
        re = torch.randn(H, N, generator=g, dtype=torch.float64)
        return torch.complex(re, torch.randn(H, N, generator=g, dtype=torch.float64)) * s

    return quantize_ssm(
        DiscreteSSM(c(0.4), c(0.5), c(0.5), torch.randn(H, generator=g, dtype=torch.float64)),
        bits,
        "fixed",
        FSCALE,
    )


def arrays(q, bits, R=1, **noise):
    G_pos, G_neg = to_conductance(combined_matrix(q), bits, FSCALE, G_MIN, G_MAX)
    dev = DeviceConfig(g_min_uS=G_MIN, g_max_uS=G_MAX, **noise)
    G_pos, G_neg = program(G_pos, G_neg, R, dev, generator=torch.Generator().manual_seed(3))
    return effective_weights(G_pos, G_neg, FSCALE, G_MIN, G_MAX)


@pytest.mark.parametrize("bits", [2, 4])
def test_ideal_array_equals_the_quantized_digital_model(bits):
    q = quantized_model(bits)
    u = torch.randn(2, 3, 300, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    digital = ssm_recurrent(u, *q)
    W = arrays(q, bits)
    for y in (simulate_step(u, W, q.D)[0], simulate_fast(u, W, q.D)[0]):
        assert ((y - digital).norm() / digital.norm()) < 1e-5


def test_fast_mode_matches_step_mode_on_each_noisy_realisation():
    q = quantized_model(2)
    W = arrays(q, 2, R=4, sigma_uS=5.0, stuck_at_gmax=0.02, stuck_at_gmin=0.02)
    assert not torch.allclose(W[0], W[1])  # realisations differ
    u = torch.randn(2, 3, 200, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    y_step, y_fast = simulate_step(u, W, q.D), simulate_fast(u, W, q.D)
    assert y_step.shape == y_fast.shape == (4, 2, 3, 200)
    assert ((y_step - y_fast).norm() / y_step.norm()) < 1e-9


def test_programming_is_seeded_clipped_and_faulty_at_the_asked_rate():
    G = torch.full((200, 200), 50.0, dtype=torch.float64)
    noisy = DeviceConfig(g_min_uS=G_MIN, g_max_uS=G_MAX, sigma_uS=80.0, noise_clip="mapping")
    a = program(G, G, 2, noisy, generator=torch.Generator().manual_seed(0))
    b = program(G, G, 2, noisy, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a[0], b[0]) and a[0].min() >= G_MIN and a[0].max() <= G_MAX
    faulty = DeviceConfig(g_min_uS=G_MIN, g_max_uS=G_MAX, stuck_at_gmax=0.1, stuck_at_gmin=0.05)
    stuck = program(G, G, 1, faulty, generator=torch.Generator().manual_seed(0))[0]
    assert (stuck == G_MAX).double().mean() == pytest.approx(0.1, abs=0.01)
    assert (stuck == G_MIN).double().mean() == pytest.approx(0.05, abs=0.01)
    drifted = program(G, G, 1, DeviceConfig(drift_nu_mean=LogLinear(a=0.1)), t_s=99.0)[0]
    assert torch.allclose(drifted, G * 100.0**-0.1)


@pytest.mark.parametrize(
    "values, hint",
    [
        ({"sigma_uS": -1.0}, "sigma_uS"),
        ({"g_min_uS": 10.0, "g_max_uS": 5.0}, "g_min_uS"),
        ({"stuck_at_gmax": 0.7, "stuck_at_gmin": 0.6}, "stuck"),
        ({"adc_bits": 0}, "adc_bits"),
    ],
)
def test_device_config_rejects_impossible_values(values, hint):
    with pytest.raises(ValueError, match=hint):
        DeviceConfig(**values)
    assert PRESETS["ideal"] == DeviceConfig()


def test_converters_and_read_noise_change_the_output():
    q = quantized_model(2)
    W = arrays(q, 2)
    u = torch.randn(1, 3, 100, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ideal = simulate_step(u, W, q.D)
    coarse = simulate_step(
        u, W, q.D, DeviceConfig(dac_bits=4, dac_range=3.0, adc_bits=4, adc_range=3.0)
    )
    noisy = simulate_step(
        u,
        W,
        q.D,
        DeviceConfig(read_noise=0.01, adc_range=3.0),
        generator=torch.Generator().manual_seed(0),
    )
    assert 0 < ((coarse - ideal).norm() / ideal.norm()) < 1
    assert 0 < ((noisy - ideal).norm() / ideal.norm()) < 0.5


def test_ideal_deployment_reproduces_the_digital_accuracy():
    from imssa.data.audio import AudioSet
    from imssa.hardware.deploy import deployed_weights
    from imssa.hardware.stack import stack_run
    from imssa.model.config import ModelConfig, QuantConfig
    from imssa.model.train import SpeechClassifier, evaluate

    torch.manual_seed(0)
    net = SpeechClassifier(ModelConfig(H=4, N=3, quant=QuantConfig(bits=2, fscale=0.6)), 2).eval()
    net.equalize_ranges(0.6)
    x = torch.randn(16, 120)
    with torch.no_grad():
        y = net(x).argmax(-1)  # labels the model gets right by construction, and flip half
    y[::2] = 1 - y[::2]
    data = AudioSet(x, y, None, 1000)
    W = deployed_weights(net, DeviceConfig(g_min_uS=1.0, g_max_uS=101.0), R=2, seed=0)
    acc = (
        (
            stack_run(net, x, [W], [DeviceConfig(g_min_uS=1.0, g_max_uS=101.0)]).logits.argmax(-1)
            == y
        )
        .double()
        .mean(-1)
    )
    assert acc.tolist() == [evaluate(net, data)[0]] * 2 == [0.5, 0.5]
    noisy = deployed_weights(net, DeviceConfig(sigma_uS=30.0), R=3, seed=0)
    assert noisy.shape == (3, 4, 7, 7) and not torch.equal(noisy[0], noisy[1])


def test_block_layout_keeps_structural_zeros_exact():
    from imssa.hardware.crossbar import structural_mask
    from imssa.hardware.deploy import deployed_weights
    from imssa.model.config import ModelConfig, QuantConfig
    from imssa.model.train import SpeechClassifier

    torch.manual_seed(0)
    net = SpeechClassifier(ModelConfig(H=2, N=3, quant=QuantConfig(bits=2, fscale=0.6)), 2)
    dev = DeviceConfig(sigma_uS=10.0)
    dense, block = (deployed_weights(net, dev, R=2, seed=1, layout=k) for k in ("dense", "block"))
    off = ~structural_mask(2, 3)
    assert (dense[:, off] != 0).any() and (block[:, off] == 0).all()
    assert torch.equal(block[:, ~off], dense[:, ~off])  # same programming where devices exist
    with pytest.raises(ValueError, match="devices_per_element"):
        deployed_weights(net, dev, R=1, seed=0, devices_per_element=12)


def test_spectral_radius_estimate():
    from imssa.hardware.deploy import spectral_radius

    g = torch.Generator().manual_seed(0)
    A = torch.randn(3, 2, 6, 6, generator=g, dtype=torch.float64) * 0.3
    W = torch.zeros(3, 2, 7, 7, dtype=torch.float64)
    W[..., :-1, :-1] = A
    exact = torch.linalg.eigvals(A).abs().amax(-1).amax(-1)
    assert torch.allclose(spectral_radius(W), exact, rtol=2e-3)
    W[0] = 0.0  # a zero state matrix has radius 0, without NaN
    assert spectral_radius(W)[0] == 0.0
    from imssa.hardware.crossbar import structural_mask  # block layout: exact, from the 2x2 blocks

    q = quantized_model(2, H=3, N=4)
    blocky = arrays(q, 2, R=3, sigma_uS=9.0) * structural_mask(3, 4)
    exact = torch.linalg.eigvals(blocky[..., :-1, :-1]).abs().amax(-1).amax(-1)
    assert torch.allclose(spectral_radius(blocky), exact, rtol=1e-10)


@pytest.mark.parametrize("L", [1, 7, 50, 101])
def test_fast_kernels_match_explicit_powers_and_encoded_inputs(L):
    from imssa.hardware.analog import fast_kernels, simulate_fast_encoded

    q = quantized_model(2)
    W = arrays(q, 2, R=2, sigma_uS=8.0)
    A, B, C = W[..., :-1, :-1], W[..., :-1, -1:], W[..., -1:, :-1]
    explicit = torch.stack(
        [2 * (C @ torch.linalg.matrix_power(A, k) @ B)[..., 0, 0] for k in range(L)], -1
    )
    assert torch.allclose(fast_kernels(W, L), explicit, rtol=1e-10, atol=1e-12)
    g = torch.Generator().manual_seed(5)
    x = torch.randn(2, L, generator=g, dtype=torch.float64)
    w, b = (
        torch.randn(3, generator=g, dtype=torch.float64),
        torch.randn(3, generator=g, dtype=torch.float64),
    )
    u = w[:, None] * x.unsqueeze(1) + b[:, None]
    assert torch.allclose(
        simulate_fast_encoded(x, w, b, W, q.D), simulate_fast(u, W, q.D), atol=1e-10
    )


def test_noise_is_clipped_at_the_physical_window_not_the_mapping_range():
    G = torch.full(
        (400, 400), 10.0, dtype=torch.float64
    )  # every device at g_min = 10 uS (a zero weight)
    window = DeviceConfig(g_min_uS=10.0, g_max_uS=100.0, g_phys_max_uS=150.0, sigma_uS=3.0)
    mapping = window.model_copy(update={"noise_clip": "mapping"})
    gen = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    phys = program(G, G, 1, window, generator=gen())[0]
    clipped = program(G, G, 1, mapping, generator=gen())[0]
    assert phys.min() < 10.0 and phys.mean() == pytest.approx(10.0, abs=0.02)  # unbiased, two-sided
    assert phys.std() == pytest.approx(3.0, rel=0.02)
    assert clipped.min() == 10.0 and clipped.mean() > 11.0  # one-sided: biased up, less spread
    wide = program(G, G, 1, window.model_copy(update={"sigma_uS": 40.0}), generator=gen())[0]
    assert wide.min() == 0.0 and wide.max() <= 150.0  # the physical window still bounds it
    with pytest.raises(ValueError, match="inside the physical window"):
        DeviceConfig(g_max_uS=100.0, g_phys_max_uS=90.0)


def test_duplicate_devices_average_their_errors_and_unused_cross_points_hold_g_off():
    G = torch.full((300, 300), 50.0, dtype=torch.float64)
    dev = DeviceConfig(g_min_uS=10.0, g_max_uS=100.0, sigma_uS=4.0)
    one = program(G, G, 1, dev, generator=torch.Generator().manual_seed(0))[0]
    two = program(G, G, 1, dev, generator=torch.Generator().manual_seed(0), copies=2)[0]
    assert one.std() == pytest.approx(4.0, rel=0.03) and two.std() == pytest.approx(
        4.0 / 2**0.5, rel=0.03
    )
    used = torch.zeros(300, 300, dtype=torch.bool)
    used[:150] = True
    none = program(G, G, 1, dev, generator=torch.Generator().manual_seed(0), used=used)[0]
    assert (none[0, 150:] == 0).all() and (none[0, :150] != 0).all()
    hrs = dev.model_copy(update={"g_off_uS": 1.0, "g_off_sigma_uS": 0.2})
    off = program(G, G, 1, hrs, generator=torch.Generator().manual_seed(0), used=used)[0][0, 150:]
    assert off.mean() == pytest.approx(1.0, abs=0.01) and off.std() == pytest.approx(0.2, rel=0.05)
    with pytest.raises(ValueError, match="copies"):
        program(G, G, 1, dev, copies=0)


def test_state_gain_is_the_l1_norm_of_the_state_impulse_response():
    from imssa.hardware.analog import state_gain

    q = quantized_model(2)
    W = arrays(q, 2, R=2, sigma_uS=8.0)
    A, B = W[..., :-1, :-1], W[..., :-1, -1]
    for L in (1, 9, 40):
        h = torch.stack(
            [(torch.linalg.matrix_power(A, k) @ B.unsqueeze(-1))[..., 0] for k in range(L)], -1
        )
        l1, step = state_gain(W, L)
        assert torch.allclose(l1, h.abs().sum(-1).amax(-1), rtol=1e-10)
        assert torch.allclose(step, h.cumsum(-1).abs().amax(-1).amax(-1), rtol=1e-10)


def test_saturating_fast_mode_equals_step_mode_on_every_realisation_unstable_ones_included():
    from imssa.hardware.analog import simulate_saturating
    from imssa.hardware.deploy import spectral_radius

    q = quantized_model(2)
    W = arrays(q, 2, R=6, sigma_uS=12.0)
    W[0, 1, :-1, :-1] *= 1.1 / float(
        spectral_radius(W[:1])
    )  # realisation 0: one channel pushed outside the unit circle
    rho = spectral_radius(W)
    assert rho[0] > 1 and (rho[1:] < 1).any()
    g = torch.Generator().manual_seed(4)
    x = torch.randn(3, 300, generator=g, dtype=torch.float64)
    w, b = (
        torch.randn(3, generator=g, dtype=torch.float64),
        0.3 * torch.randn(3, generator=g, dtype=torch.float64),
    )
    u = w[:, None] * x.unsqueeze(1) + b[:, None]
    peak = simulate_step(u, W[1:2], q.D).abs().max()
    dev = DeviceConfig(
        dac_range=float(u.abs().max()) * 0.9, adc_range=float(peak) * 2
    )  # clips inputs too
    y_fast, saturated = simulate_saturating(x, w, b, W, q.D, dev)
    peaks: dict = {}
    y_step = simulate_step(u, W, q.D, dev, peaks=peaks)
    assert torch.allclose(y_fast, y_step, rtol=1e-9, atol=1e-9)
    assert (
        saturated.tolist()
        == ((peaks["adc"] > dev.adc_range) | (peaks["dac"] > dev.dac_range)).tolist()
    )
    assert (
        saturated[0]
        and y_step[0].abs().max() <= 2 * dev.adc_range + (q.D.abs().max() * u.abs().max()) + 1e-9
    )
    unbounded = simulate_saturating(x, w, b, W, q.D, DeviceConfig())[
        0
    ]  # no ranges: the linear system
    assert (
        torch.allclose(unbounded, simulate_fast(u, W, q.D), atol=1e-9)
        and unbounded[0].abs().max() > y_fast[0].abs().max()
    )
    with pytest.raises(ValueError, match="step"):
        simulate_saturating(x, w, b, W, q.D, DeviceConfig(adc_bits=6, adc_range=1.0))


def test_step_mode_uses_the_block_structure_without_changing_a_number():
    from imssa.hardware.crossbar import structural_mask
    from imssa.hardware.step import mode_blocks

    q = quantized_model(2, H=3, N=4)
    W = arrays(q, 2, R=2, sigma_uS=6.0) * structural_mask(
        3, 4
    )  # block layout: no device off the blocks
    assert mode_blocks(W) is not None and mode_blocks(arrays(q, 2, R=2, sigma_uS=6.0)) is None
    u = torch.randn(2, 3, 150, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    dev = DeviceConfig(dac_bits=6, dac_range=3.0, adc_bits=6, adc_range=3.0, read_noise=0.01)
    W_dense = W.clone()
    W_dense[0, 0, 0, 3] = 1e-300  # one tiny coupling forces the general VMM
    assert mode_blocks(W_dense) is None
    a = simulate_step(u, W, q.D, dev, generator=torch.Generator().manual_seed(0))
    b = simulate_step(u, W_dense, q.D, dev, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(a, b, atol=1e-12)


def test_a_chance_level_programming_carries_its_cause():
    from imssa.hardware.realisations import failure_cause

    ideal, faulty = DeviceConfig(), DeviceConfig(stuck_at_gmax=0.01)
    assert failure_cause(0.95, 100, 1.2, True, faulty) == ""  # not at chance: no cause
    assert failure_cause(0.5, 100, 1.2, True, faulty) == "unstable"
    assert failure_cause(0.5, 100, 0.9, True, faulty) == "saturated"
    assert failure_cause(0.5, 100, 0.9, False, faulty) == "stuck devices"
    assert failure_cause(0.5, 100, 0.9, False, ideal) == "weight error"
    periphery = faulty.model_copy(update={"adc_bits": 6, "adc_range": 1.0, "read_noise": 0.01})
    assert (
        failure_cause(0.5, 100, 0.9, False, periphery)
        == "stuck devices + converter rounding + read noise"
    )


def test_deployed_rows_report_saturation_and_agree_between_modes():
    from imssa.data.audio import AudioSet
    from imssa.hardware.deploy import deployed_weights
    from imssa.hardware.ranges import converter_ranges
    from imssa.hardware.realisations import realisation_rows
    from imssa.hardware.stack import stack_run
    from imssa.model.config import ModelConfig, QuantConfig
    from imssa.model.train import SpeechClassifier

    torch.manual_seed(0)
    net = SpeechClassifier(ModelConfig(H=4, N=3, quant=QuantConfig(bits=2, fscale=0.6)), 2).eval()
    x = torch.randn(12, 150)
    data = AudioSet(x, torch.arange(12) % 2, None, 1000)
    dev = DeviceConfig(g_min_uS=10.0, g_max_uS=100.0, g_phys_max_uS=150.0, sigma_uS=25.0)
    dev = dev.model_copy(update=converter_ranges(net, x, headroom=1.5))
    W = deployed_weights(net, dev, R=6, seed=2)
    fast, step = (stack_run(net, x, [W], [dev], mode, chunk=6) for mode in ("fast", "step"))
    sat_fast, sat_step = fast.saturated, step.saturated
    agree = (fast.logits.argmax(-1) == step.logits.argmax(-1)).double().mean()
    assert agree > 0.95 and sat_fast.any() and (sat_fast == sat_step).all()
    rows = realisation_rows(net, data, [dev], R=6, seed=2)
    assert [r["saturated"] for r in rows] == sat_fast.tolist()
    assert all(r["failure"] in ("", "unstable", "saturated", "weight error") for r in rows)
    failed = [r for r in rows if r["failure"]]
    assert failed and all(
        r["failure"]
        == (
            "unstable"
            if r["spectral_radius"] >= 1
            else "saturated"
            if r["saturated"]
            else "weight error"
        )
        for r in failed
    )


def test_subnormals_are_flushed_inside_the_block_only():
    from imssa.hardware.step import flush_subnormals

    tiny = torch.tensor([1e-310], dtype=torch.float64)
    assert (tiny * 1.0).item() != 0.0
    with flush_subnormals():
        with flush_subnormals():
            pass
        assert (tiny * 1.0).item() == 0.0  # still flushed after the nested block
    assert (tiny * 1.0).item() != 0.0


def test_real_zeros_leave_the_real_poles_off_diagonals_unprogrammed_and_nothing_else():
    """``real_zeros``: under noise (and no spread at unprogrammed cross-points) the two off-diagonal
    entries of every mode with a real quantized pole are exactly 0; every other entry is the one
    programmed without the option from the same seed; off by default; block layout only."""
    from imssa.hardware.crossbar import real_pole_mask
    from imssa.hardware.deploy import deployed_weights, target_conductances
    from imssa.model.config import ModelConfig, QuantConfig
    from imssa.model.train import SpeechClassifier

    torch.manual_seed(0)
    net = SpeechClassifier(ModelConfig(H=2, N=4, quant=QuantConfig(bits=3, fscale=0.6)), 2).eval()
    A_bar = net.layers[0].discrete().A_bar.detach()
    zeros = real_pole_mask(A_bar)
    assert (A_bar.imag == 0).any() and (A_bar.imag != 0).any()  # both kinds of mode
    dev = DeviceConfig(g_min_uS=10.0, g_max_uS=100.0, sigma_uS=5.0, g_off_sigma_uS=0.0)
    full, cut = (deployed_weights(net, dev, R=3, seed=1, real_zeros=z) for z in (False, True))
    assert (full[:, zeros] != 0).all() and (cut[:, zeros] == 0).all()
    assert torch.equal(cut[:, ~zeros], full[:, ~zeros])
    assert torch.equal(
        deployed_weights(net, dev, R=3, seed=1), full
    )  # the default leaves them programmed
    n_full, n_cut = (len(target_conductances(net, dev, real_zeros=z)) for z in (False, True))
    assert n_full - n_cut == 2 * int(zeros.sum())  # two devices (G+, G-) fewer per cross-point
    with pytest.raises(ValueError, match="block layout"):
        deployed_weights(net, dev, R=1, seed=0, layout="dense", real_zeros=True)
