"""Device technologies: state-dependent and non-Gaussian programming noise, write-verify, ageing,
drift compensation and binary devices, each checked against its formula."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import kstest, norm
from scipy.stats import t as t_dist

from imssa.hardware.conductance import program
from imssa.hardware.deploy import deployed_weights, fits, target_conductances
from imssa.hardware.devices import DeviceConfig
from imssa.hardware.noise import (
    MEAN_ABS,
    matched_noise,
    programming_sigma_uS,
    pulses_to_converge,
    relaxation_sigma_uS,
    single_pulse_sigma_uS,
    standard_noise,
)
from imssa.hardware.physics import LogLinear, RelaxationPoint
from imssa.hardware.presets import PRESETS, TECHNOLOGIES, preset, preset_table
from imssa.hardware.realisations import noise_rows
from imssa.model.config import ModelConfig, QuantConfig
from imssa.model.train import SpeechClassifier

PCM = PRESETS["pcm_joshi2020"]
#: Student-t with 3 degrees of freedom at unit variance, as ``standard_noise`` draws it.
T3 = t_dist(df=3, scale=1 / math.sqrt(3))


def levels(values, n=20000):
    """A (len(values), n) grid of target conductances, one row per level (uS)."""
    return torch.tensor(values, dtype=torch.float64)[:, None].expand(len(values), n).clone()


def net(bits=2, seed=0):
    torch.manual_seed(seed)
    return SpeechClassifier(
        ModelConfig(H=4, N=3, quant=QuantConfig(bits=bits, fscale=0.6)), 2
    ).eval()


def test_state_dependent_noise_follows_the_pcm_polynomial():
    G = levels([5.0, 12.5, 25.0])
    dev = PCM.model_copy(
        update={"g_phys_max_uS": 1e3, "read_1f_q": 0.0}
    )  # no clipping, no read noise
    out = program(G, G, 1, dev, generator=torch.Generator().manual_seed(0))[0][0]
    measured = (out - G).std(1)
    expected = torch.tensor(
        [0.26348 + 1.9650 * g - 1.1731 * g**2 for g in (0.2, 0.5, 1.0)], dtype=torch.float64
    )
    assert torch.allclose(measured, expected, rtol=0.03)
    assert torch.allclose(programming_sigma_uS(dev, G[:, 0]), expected)


@pytest.mark.parametrize("shape", ["gaussian", "laplace", "student_t"])
def test_noise_shapes_have_unit_variance_and_their_mean_absolute_value(shape):
    z = standard_noise((400000,), shape, torch.Generator().manual_seed(1), torch.float64)
    assert abs(float(z.mean())) < 0.01 and float(z.var()) == pytest.approx(
        1.0, rel=0.05 if shape == "student_t" else 0.01
    )
    assert float(z.abs().mean()) == pytest.approx(MEAN_ABS[shape], rel=0.01)
    kurtosis = float((z**4).mean())
    assert (
        kurtosis == pytest.approx(3.0, rel=0.05) if shape == "gaussian" else kurtosis > 5.0
    )  # heavy tails


@pytest.mark.parametrize("match", ["rms", "mean_abs"])
def test_matched_constant_noise_has_the_same_error_over_the_targets(match):
    dev = PCM.model_copy(update={"g_phys_max_uS": 1e3, "g_min_uS": 2.0, "read_1f_q": 0.0})
    G = torch.cat(
        [levels([2.0], 30000), levels([25.0], 10000)], 1
    )  # mostly low targets, as a sparse model
    errors = {}
    for shape in ("state", "gaussian", "laplace"):
        d = dev if shape == "state" else matched_noise(dev, G.flatten(), shape, match)
        err = program(G, G, 1, d, generator=torch.Generator().manual_seed(2))[0][0] - G
        errors[shape] = (
            float(err.pow(2).mean().sqrt()) if match == "rms" else float(err.abs().mean())
        )
    assert errors["gaussian"] == pytest.approx(errors["state"], rel=0.03)
    assert errors["laplace"] == pytest.approx(errors["state"], rel=0.03)  # Student-t: below
    with pytest.raises(ValueError, match="shape must be one of"):
        matched_noise(dev, G.flatten(), "cauchy")


def test_student_t_draws_are_t3_at_unit_variance():
    """Kolmogorov-Smirnov against scipy's t(3) at unit variance, and its tail share P(|z| > 3) =
    1.4% (a Gaussian's: 0.27%). n = 1e5 draws: under t(3) the KS distance exceeds 1.95 / sqrt(n) =
    0.0062 with probability 0.1% (p < 1e-3); a Gaussian lies 0.087 away, a t(4) or a Laplace of
    unit variance 0.03, t(3) at 5% too wide a std 0.010. The tail share within 4 binomial SE."""
    n = 100_000
    z = standard_noise((n,), "student_t", torch.Generator().manual_seed(5), torch.float64).numpy()
    assert kstest(z, T3.cdf).pvalue > 1e-3
    p = 2 * T3.sf(3.0)
    assert abs(float((np.abs(z) > 3.0).mean()) - p) <= 4 * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("match", ["rms", "mean_abs"])
def test_matched_student_t_noise_is_t3_with_the_matched_error(match):
    """A sample RMS of t(3) draws converges too slowly to compare (their fourth moment is infinite),
    so: the matched Student-t has the matched Gaussian's std ('rms': both have unit variance) or
    its mean absolute error ('mean_abs', measured: |z| has a finite variance; 3% is 3.5 SE of the
    difference of two means of 4e4 draws, measured 1.3%), and its programmed errors over that
    std are t(3) (KS, 4e4 draws at a target far from the window's edges: p < 1e-3 past 0.0097)."""
    dev = PCM.model_copy(update={"g_phys_max_uS": 1e3, "g_min_uS": 2.0, "read_1f_q": 0.0})
    G = torch.cat([levels([2.0], 30000), levels([25.0], 10000)], 1)
    gaussian = matched_noise(dev, G.flatten(), "gaussian", match)
    student = matched_noise(dev, G.flatten(), "student_t", match)
    if match == "rms":
        assert student.sigma_uS == pytest.approx(gaussian.sigma_uS, rel=1e-12)
    else:
        err = program(G, G, 1, student, generator=torch.Generator().manual_seed(6))[0][0] - G
        state = program(G, G, 1, dev, generator=torch.Generator().manual_seed(6))[0][0] - G
        assert float(err.abs().mean()) == pytest.approx(float(state.abs().mean()), rel=0.03)
    mid = levels([500.0], 40000)
    err = program(mid, mid, 1, student, generator=torch.Generator().manual_seed(7))[0][0] - mid
    assert kstest((err / student.sigma_uS).flatten().numpy(), T3.cdf).pvalue > 1e-3


def test_write_verify_meets_the_tolerance_at_the_pulse_cost_of_independent_pulses():
    G = levels([50.0], 50000)
    sigma, tol = 6.0, 3.0
    one = DeviceConfig(g_max_uS=100.0, sigma_uS=sigma)
    verified = one.model_copy(update={"write_verify_tol_uS": tol, "write_verify_max_pulses": 200})
    stats: dict = {}
    out = program(G, G, 1, verified, generator=torch.Generator().manual_seed(3), stats=stats)[0][0]
    assert float((out - G).abs().max()) <= tol
    p = 2 * norm.cdf(tol / sigma) - 1
    assert float(stats["pulses"]) == pytest.approx(1 / p, rel=0.02)
    never = program(
        G,
        G,
        1,
        one.model_copy(update={"write_verify_tol_uS": math.inf}),
        generator=torch.Generator().manual_seed(3),
        stats=stats,
    )[0]
    assert torch.equal(never, program(G, G, 1, one, generator=torch.Generator().manual_seed(3))[0])
    assert float(stats["pulses"]) == 1.0


def test_single_pulse_error_is_derived_from_a_reported_verify_cost():
    sigma = single_pulse_sigma_uS(1.0, 8.52)
    G = levels([20.0], 40000)
    dev = DeviceConfig(
        g_max_uS=40.0,
        g_phys_max_uS=200.0,
        sigma_uS=sigma,
        write_verify_tol_uS=1.0,
        write_verify_max_pulses=1000,
    )
    stats: dict = {}
    program(G, G, 1, dev, generator=torch.Generator().manual_seed(4), stats=stats)
    assert float(stats["pulses"]) == pytest.approx(8.52, rel=0.03)
    n = pulses_to_converge(8.52, 0.99)
    assert (1 - 1 / 8.52) ** n <= 0.01 < (1 - 1 / 8.52) ** (n - 1)
    with pytest.raises(ValueError, match="mean_pulses > 1"):
        single_pulse_sigma_uS(1.0, 1.0)


def test_pcm_drift_exponent_and_read_noise_follow_the_model():
    G = levels([25.0, 2.5], 40000)
    t = 3600.0
    quiet = PCM.model_copy(update={"sigma_poly_uS": [], "read_1f_q": 0.0})
    out = program(G, G, 1, quiet, generator=torch.Generator().manual_seed(5), t_s=t)[0][0]
    nu = -torch.log(out / G) / math.log((t + 20.0) / 20.0)
    # nu = |mean + std z|: at g = 1 mean 0.049, std 0.008; at g = 0.1, mean 0.0601, std 0.0229
    assert float(nu[0].mean()) == pytest.approx(0.049, abs=0.001) and float(
        nu[0].std()
    ) == pytest.approx(0.008, abs=0.0005)
    assert float(nu[1].mean()) == pytest.approx(0.0244 - 0.0155 * math.log(0.1), abs=0.002)
    noisy = PCM.model_copy(
        update={"sigma_poly_uS": [], "drift_nu_mean": LogLinear(), "drift_nu_std": LogLinear()}
    )
    rel = program(G, G, 1, noisy, generator=torch.Generator().manual_seed(6), t_s=t)[0][0] / G - 1
    q = min(0.0088 / 1.0**0.65, 0.2) * math.sqrt(math.log((t + 20.0 + 250e-9) / (2 * 250e-9)))
    assert float(rel[0].std()) == pytest.approx(q, rel=0.03)
    at_read = (
        program(G, G, 1, noisy, generator=torch.Generator().manual_seed(6), t_s=0.0)[0][0] / G - 1
    )
    q0 = 0.0088 * math.sqrt(
        math.log((20.0 + 250e-9) / (2 * 250e-9))
    )  # read at t0 = 20 s, as in aihwkit
    assert float(at_read[0].std()) == pytest.approx(q0, rel=0.03)


def test_relaxation_grows_from_the_programmed_spread_and_is_held_after_the_data():
    dev = DeviceConfig(
        g_max_uS=40.0,
        g_phys_max_uS=400.0,
        sigma_uS=1.0,
        relaxation=[
            RelaxationPoint(t_s=10.0, sigma_poly_uS=[2.0]),
            RelaxationPoint(t_s=1000.0, sigma_poly_uS=[3.0]),
        ],
    )
    G = torch.full((3,), 20.0, dtype=torch.float64)
    assert float(relaxation_sigma_uS(dev, G, 1.0)[0]) == 0.0
    assert float(relaxation_sigma_uS(dev, G, 100.0)[0]) == pytest.approx(
        math.sqrt(2.5**2 - 1.0)
    )  # halfway in ln t
    assert float(relaxation_sigma_uS(dev, G, 1e6)[0]) == pytest.approx(math.sqrt(3.0**2 - 1.0))
    target = levels([20.0], 40000)
    out = program(target, target, 1, dev, generator=torch.Generator().manual_seed(7), t_s=1e6)[0][0]
    assert float((out - target).std()) == pytest.approx(3.0, rel=0.02)
    with pytest.raises(ValueError, match="increasing t_s"):
        DeviceConfig(
            relaxation=[
                RelaxationPoint(t_s=5.0, sigma_poly_uS=[1.0]),
                RelaxationPoint(t_s=1.0, sigma_poly_uS=[1.0]),
            ]
        )


def test_global_drift_compensation_undoes_a_uniform_drift_exactly():
    model = net()
    flat = DeviceConfig(g_min_uS=0.0, g_max_uS=25.0, drift_nu_mean=LogLinear(a=0.05), t0_s=20.0)
    now = deployed_weights(model, flat, 2, seed=0)
    stats: dict = {}
    later = deployed_weights(model, flat, 2, seed=0, stats=stats, t_s=1e6)
    assert not torch.allclose(later, now)
    fixed = deployed_weights(
        model, flat.model_copy(update={"drift_compensation": True}), 2, seed=0, stats=stats, t_s=1e6
    )
    assert torch.allclose(fixed, now, atol=1e-12)
    assert torch.allclose(
        stats["alpha"], torch.full((2,), ((1e6 + 20.0) / 20.0) ** 0.05, dtype=torch.float64)
    )


def test_a_binary_device_holds_two_level_models_only():
    mram = PRESETS["stt_mram_binary"]
    assert fits(mram, 1) and fits(mram, 2) and not fits(mram, 4) and fits(PCM, 8)
    W = deployed_weights(
        net(2),
        mram.model_copy(update={"sigma_poly_uS": [], "stuck_at_gmax": 0.0, "stuck_at_gmin": 0.0}),
        1,
        0,
    )
    G = target_conductances(net(2), mram)
    assert set(G.unique().tolist()) <= {mram.g_min_uS, mram.g_max_uS} and W.isfinite().all()
    with pytest.raises(ValueError, match="2 conductance states cannot hold the 4-bit model"):
        deployed_weights(net(4), mram, 1, 0)


def test_stuck_devices_make_every_programming_differ_even_without_noise():
    import pandas as pd

    from imssa.data.audio import AudioSet

    data = AudioSet(
        torch.randn(6, 50, generator=torch.Generator().manual_seed(0)),
        torch.tensor([0, 1] * 3),
        pd.DataFrame({"file": ["c"] * 6}),
        1000,
    )
    dev = DeviceConfig(g_min_uS=10.0, g_max_uS=100.0, stuck_at_gmax=0.2)
    assert dev.random_at(0.0) and not DeviceConfig().random_at(0.0)
    assert len(noise_rows(net(), data, 0.0, dev, 3, seed=2)) == 3
    assert len(noise_rows(net(), data, 0.0, DeviceConfig(), 3, seed=2)) == 1


def test_presets_are_valid_data_with_a_table():
    for (
        name
    ) in PRESETS:  # presets built with model_copy(update=...) skip validation: validate them here
        assert DeviceConfig.model_validate(preset(name).model_dump()) == preset(name), name
    table = preset_table(list(TECHNOLOGIES))
    assert list(table["technology"]) == list(TECHNOLOGIES)
    assert table.set_index("technology").loc["stt_mram_binary", "on_off_ratio"] == pytest.approx(
        2.5
    )
    with pytest.raises(ValueError, match="unknown preset 'flash'"):
        preset("flash")
    with pytest.raises(ValueError, match="negative std"):
        DeviceConfig(sigma_poly_uS=[0.0, -1.0])
    with pytest.raises(ValueError, match="lo"):
        LogLinear(lo=1.0, hi=0.5)
    assert np.isfinite(table["sigma_at_g_max_uS"]).all()


def test_sigma_scale_multiplies_the_whole_programming_noise():
    G = torch.tensor([0.0, 12.5, 25.0], dtype=torch.float64)
    assert torch.allclose(
        programming_sigma_uS(PCM.model_copy(update={"sigma_scale": 4.0}), G),
        4 * programming_sigma_uS(PCM, G),
    )
    silent = PCM.model_copy(update={"sigma_scale": 0.0, "read_1f_q": 0.0})
    assert PCM.model_copy(update={"sigma_scale": 0.0}).random_at(
        0.0
    )  # its 1/f read noise still differs per read
    assert not silent.random_at(0.0) and torch.equal(program(G, G, 2, silent)[0], G.expand(2, 3))
    matched = matched_noise(PCM.model_copy(update={"sigma_scale": 4.0}), G)
    assert matched.sigma_scale == 1.0 and matched.sigma_uS == pytest.approx(
        4 * float(programming_sigma_uS(PCM, G).pow(2).mean().sqrt())
    )
