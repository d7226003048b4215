"""Stability margin: the exact instability law of a programmed mode (complex, real, near-real; full
block, structural zeros, single entry) against Monte Carlo, its prediction of sigma*, and sigma*
measured."""

from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import norm, rice

from imssa.hardware.margin import (
    instability_probability,
    mode_instability,
    pole_radii,
    pole_values,
    predicted_sigma_star,
    sigma_star,
    weight_noise_std,
)

torch.set_num_threads(1)

N_MC = 200_000
RADII = [0.8, 0.9, 0.95, 0.99]
NOISE = [0.005, 0.01, 0.026, 0.05]
ANGLE = 0.7  # a complex pole: |b| = r sin 0.7 >= 0.5 >> s


@pytest.fixture(scope="module")
def unit_errors():
    """One seeded draw of N_MC standard 2x2 error matrices, scaled by s in each test (shared
    draws)."""
    return np.random.default_rng(0).standard_normal((N_MC, 2, 2))


def spectral_radius_2x2(M):
    """max |eigenvalue| of (n, 2, 2) real matrices, from trace and determinant."""
    T, D = M[:, 0, 0] + M[:, 1, 1], M[:, 0, 0] * M[:, 1, 1] - M[:, 0, 1] * M[:, 1, 0]
    d = np.sqrt((T * T / 4 - D).astype(complex))
    return np.maximum(np.abs(T / 2 + d), np.abs(T / 2 - d))


def block_mc(pole, s, E, zeros=False):
    """Monte Carlo share of programmed blocks [[a, -b], [b, a]] + s E that are unstable; ``zeros``:
    the off-diagonal entries unprogrammed (exact zeros)."""
    a, b = pole.real, pole.imag
    M = np.array([[a, -b], [b, a]]) + s * E
    if zeros:
        M[:, 0, 1] = M[:, 1, 0] = 0.0
    return float((spectral_radius_2x2(M) > 1).mean())


def tolerance(p):
    """4 Monte Carlo standard errors of a share p over N_MC draws, plus 1e-5 (2 events in 200k) for
    p ~ 0."""
    return 4 * np.sqrt(p * (1 - p) / N_MC) + 1e-5


def grid_cases():
    for r in RADII:
        for s in NOISE:
            yield "complex", r * np.exp(1j * ANGLE), r, s
            yield "real", complex(r, 0.0), r, s
            yield (
                "near-real",
                complex(np.sqrt(r * r - s * s), s),
                r,
                s,
            )  # |b| = s: neither limit holds
    yield "real, negative", complex(-0.95, 0.0), 0.95, 0.026


def test_weight_noise_scales_with_sigma_fscale_range_and_copies():
    assert weight_noise_std(9.0, 0.6, 10.0, 100.0) == pytest.approx(np.sqrt(2) * 9 * 0.6 / 90)
    assert weight_noise_std(9.0, 0.6, 10.0, 100.0, 16) == pytest.approx(9 * 0.6 / 90)
    with pytest.raises(ValueError, match="multiple of 8"):
        weight_noise_std(1.0, 0.6, 10.0, 100.0, 12)


def test_exact_law_matches_monte_carlo_of_programmed_2x2_blocks(unit_errors):
    """Complex (b = r sin 0.7), real (b = 0, full 2x2 block) and near-real (|b| = s) poles at radii
    0.8 ... 0.99 and s = 0.005 ... 0.05, each against 200k seeded programmed blocks.

    Tolerance: |MC - P| <= 4 SE + 1e-5 with SE = sqrt(P (1 - P) / 200k), i.e. a relative tolerance
    of 4 / sqrt(200k P) (2.7% at P = 0.1, 9% at P = 0.01) and an absolute floor of 2 events in 200k.
    The law is exact for Gaussian errors (no first-order term is dropped; its only numerical step, a
    40-point Gauss-Laguerre rule, is accurate to ~1e-15), so the Monte Carlo error is all the
    tolerance needs. (The first-order Rice law is off by up to 10% even for the complex poles, and
    by a factor 25 for real ones: see the next test.)"""
    for kind, pole, r, s in grid_cases():
        p = instability_probability(np.array([pole]), s)
        mc = block_mc(pole, s, unit_errors)
        assert abs(mc - p) <= tolerance(p), (kind, r, s, mc, p)


def test_a_real_pole_in_a_full_block_is_far_less_stable_than_the_rice_law_says(unit_errors):
    """The known case: a real pole at 0.95 in a full 2x2 block, s = 0.026. a I + E has a double
    eigenvalue, split at first order (a + eig(E)): MC ~ 0.08, where the Rice law of a complex pair
    (the old formula) gives ~ 0.003. Tolerance as above (4 SE + 1e-5)."""
    pole, s = np.array([0.95 + 0j]), 0.026
    M = np.diag([0.95, 0.95]) + s * unit_errors
    mc = float((np.abs(np.linalg.eigvals(M)).max(-1) > 1).mean())
    p = instability_probability(pole, s)
    assert mc == pytest.approx(0.08, abs=0.003) and abs(mc - p) <= tolerance(p)
    assert instability_probability(pole, s, method="rice") == pytest.approx(0.0034, abs=3e-4)
    assert instability_probability([0.95], s) < 0.004  # radii alone: read as complex pairs


def test_real_mapping_and_real_zeros_are_gaussian_tails(unit_errors):
    """S4D-Real (one entry a + e) and a real pole with unprogrammed off-diagonals
    (diag(a + e1, a + e2)) against the same Monte Carlo draws; tolerance 4 SE + 1e-5. real_zeros
    leaves complex modes alone."""
    for r in RADII:
        for s in NOISE:
            single = float((np.abs(r + s * unit_errors[:, 0, 0]) > 1).mean())
            p = instability_probability(np.array([r]), s, real_mapping=True)
            assert abs(single - p) <= tolerance(p), (r, s, single, p)
            p = instability_probability(np.array([r + 0j]), s, real_zeros=True)
            mc = block_mc(complex(r, 0), s, unit_errors, zeros=True)
            assert abs(mc - p) <= tolerance(p), (r, s, mc, p)
    assert instability_probability([-0.99], 0.01, real_mapping=True) == pytest.approx(norm.sf(1.0))
    z = np.array([0.9 * np.exp(0.7j)])
    assert instability_probability(z, 0.03, real_zeros=True) == instability_probability(z, 0.03)
    with pytest.raises(ValueError, match="imaginary"):
        instability_probability(z, 0.03, real_mapping=True)


def test_radii_read_as_complex_pairs_and_the_rice_method_is_the_old_formula():
    r, s = np.array([[0.9, 0.97], [0.5, 0.99]]), np.array([[0.02], [0.03]])  # s broadcasts per row
    p = mode_instability(r, s)
    assert p.shape == (2, 2) and np.array_equal(p, mode_instability(1j * r, s))
    old = rice.sf(1 / (s / np.sqrt(2)), r / (s / np.sqrt(2)))
    assert np.allclose(mode_instability(r, s, method="rice"), old, rtol=1e-12, atol=1e-300)
    assert np.all(p <= old) and np.allclose(
        p, old, rtol=0.1
    )  # rho^2 shrinks a complex pair a little
    with pytest.raises(ValueError, match="radii"):
        mode_instability([-0.5], 0.01)
    with pytest.raises(ValueError, match="method"):
        mode_instability([0.5], 0.01, method="first")


def test_instability_probability_combines_modes_and_is_monotone():
    one = instability_probability([0.95], 0.03)
    assert instability_probability([0.95, 0.95], 0.03) == pytest.approx(1 - (1 - one) ** 2)
    assert instability_probability([0.95], 0.01) < one < instability_probability([0.99], 0.03)
    assert (
        instability_probability([0.5, 1.0], 0.0) == 1.0
        and instability_probability([0.5], 0.0) == 0.0
    )


def test_predicted_sigma_star_grows_with_the_margin_and_with_duplicate_devices():
    near, far = ([0.999] * 10, [0.85] * 10)
    s_near, s_far = (predicted_sigma_star(r, 0.6, 10, 100) for r in (near, far))
    assert 0 < s_near < s_far
    assert predicted_sigma_star(far, 0.6, 10, 100, 16) == pytest.approx(
        np.sqrt(2) * s_far, rel=1e-3
    )
    s = weight_noise_std(s_far, 0.6, 10, 100)
    assert instability_probability(far, s) == pytest.approx(0.1, abs=1e-4)


def test_predicted_sigma_star_of_real_poles_and_their_options():
    """At one radius, real poles in full blocks tolerate less noise than complex pairs; structural
    zeros on their off-diagonals buy most of it back; the real-valued mapping (one entry) the most.
    Fast enough for a 32 x 16 layer inside the root search."""
    import time

    r = 0.97
    rng = np.random.default_rng(0)
    poles = r * np.exp(1j * rng.uniform(0.3, np.pi - 0.3, (32, 16)))
    real = np.full((32, 16), r + 0j)
    t0 = time.perf_counter()
    s_complex = predicted_sigma_star(poles, 0.6, 10, 100)
    assert time.perf_counter() - t0 < 1.0
    s_real, s_zeros = (
        predicted_sigma_star(real, 0.6, 10, 100, real_zeros=z) for z in (False, True)
    )
    s_single = predicted_sigma_star(real.real, 0.6, 10, 100, real_mapping=True)
    assert s_real < s_zeros < s_single and s_real < s_complex


def test_pole_values_are_the_quantized_poles_of_the_first_layer():
    from imssa.model.config import ModelConfig, QuantConfig
    from imssa.model.train import SpeechClassifier

    torch.manual_seed(0)
    net = SpeechClassifier(
        ModelConfig(H=3, N=4, quant=QuantConfig(bits=3, fscale=0.6, r_max=0.95)), 2
    ).eval()
    lam = pole_values(net)
    assert lam.shape == (3, 4) and lam.dtype == np.complex128
    assert np.array_equal(np.abs(lam), pole_radii(net)) and np.abs(lam).max() <= 0.95 + 1e-6


def test_sigma_star_is_the_last_sigma_before_a_drop_or_failures():
    rows = []
    for fold in range(3):
        for sigma, acc in [(0.0, 0.95), (1.0, 0.95), (2.0, 0.94), (5.0, 0.90), (10.0, 0.5)]:
            rows.append({"bits": 2, "seed": 0, "fold": fold, "sigma_uS": sigma, "accuracy": acc})
        for sigma, acc in [
            (0.0, 0.95),
            (1.0, 0.5),
            (2.0, 0.95),
        ]:  # a failure at 1 uS stops it there
            rows.append({"bits": 5, "seed": 0, "fold": fold, "sigma_uS": sigma, "accuracy": acc})
    out = sigma_star(pd.DataFrame(rows), ["bits"], n_clips=100).set_index("bits")
    assert out.loc[2, "sigma_star_uS"] == 2.0 and out.loc[2, "sigma_fail_uS"] == 5.0
    assert out.loc[2, "fails_by"] == "drop"
    assert out.loc[5, "sigma_star_uS"] == 0.0 and out.loc[5, "fails_by"] == "drop and failures"
    with pytest.raises(ValueError, match="columns"):
        sigma_star(pd.DataFrame(rows).drop(columns="seed"), ["bits"], 100)


def test_the_law_predicts_the_unstable_share_of_deployed_arrays_with_and_without_real_zeros():
    """End to end through the mapping: a 5-bit model (fscale = r_max = 0.9: six real poles at the
    cap and two complex ones) programmed 4000 times by ``deploy.deployed_weights`` (16 devices per
    element, constant noise, a window wide enough that nothing clips), full blocks and real zeros on
    the same draws; the share with spectral radius > 1 against ``instability_probability`` with
    ``weight_noise_std``. Tolerance 4 SE + 1e-5 over 4000 programmings."""
    from imssa.hardware.deploy import deployed_weights, spectral_radius
    from imssa.hardware.devices import DeviceConfig
    from imssa.model.config import ModelConfig, QuantConfig
    from imssa.model.train import SpeechClassifier

    torch.manual_seed(0)
    net = SpeechClassifier(
        ModelConfig(H=2, N=4, quant=QuantConfig(bits=5, fscale=0.9, r_max=0.9)), 2
    ).eval()
    lam, R = pole_values(net), 4000
    assert (lam.imag == 0).sum() >= 4 and (lam.imag != 0).any()
    for sigma in (4.0, 6.0):
        dev = DeviceConfig(g_min_uS=50.0, g_max_uS=140.0, g_phys_max_uS=400.0, sigma_uS=sigma)
        s = weight_noise_std(sigma, 0.9, 50.0, 140.0, 16)
        shares = {}
        for zeros in (False, True):
            W = deployed_weights(net, dev, R, seed=0, devices_per_element=16, real_zeros=zeros)
            shares[zeros] = float((spectral_radius(W) > 1).double().mean())
            p = instability_probability(lam, s, real_zeros=zeros)
            assert abs(shares[zeros] - p) <= 4 * np.sqrt(p * (1 - p) / R) + 1e-5, (
                sigma,
                zeros,
                shares,
                p,
            )
        assert shares[True] < shares[False]


def test_longest_memory_is_where_a_mode_reaches_the_failure_share():
    from imssa.hardware.margin import longest_memory_ms, mode_instability

    taus = [longest_memory_ms(s, 2000.0) for s in (0.005, 0.01, 0.02, 0.04)]
    assert all(a > b for a, b in pairwise(taus))  # more noise, shorter memory
    assert taus[0] * 0.005 == pytest.approx(taus[1] * 0.01, rel=0.15)  # tau* ~ 1 / (f_s z s)
    tau = longest_memory_ms(0.02, 2000.0, p_fail=0.1)
    r = np.exp(-1000.0 / (2000.0 * tau))
    assert mode_instability(np.array([1j * r]), 0.02)[0] == pytest.approx(0.1, rel=1e-6)
    assert longest_memory_ms(0.02, 2000.0, kind="real") < tau  # a real pole splits at first order
    assert longest_memory_ms(0.02, 2000.0, modes=100) < tau
    assert longest_memory_ms(0.0, 2000.0) == np.inf
    with pytest.raises(ValueError, match="kind"):
        longest_memory_ms(0.02, 2000.0, kind="polar")


def test_a_prediction_is_placed_against_the_measured_interval_and_tallied():
    from imssa.hardware.margin import (
        INSIDE,
        MAX_DROP_POINTS,
        against_measured,
        drop_within_text,
        position_tally,
    )

    stars = pd.DataFrame(
        {
            "sigma_star_uS": [2.0, 2.0, 2.0, 2.0],
            "sigma_fail_uS": [4.0, 4.0, 4.0, np.nan],
            "pred": [1.0, 3.0, 4.0, 99.0],
        }
    )
    out = against_measured(stars, ["pred"])["pred vs measured"].tolist()
    assert out == ["below", INSIDE, "above", INSIDE]  # no failing sigma: unbounded above
    assert position_tally(pd.Series(out)) == "1 below, 2 inside, 1 above"
    assert drop_within_text(MAX_DROP_POINTS + 0.5).startswith("beyond") and drop_within_text(
        1.0
    ).startswith("within")
    with pytest.raises(ValueError, match="pred2"):
        against_measured(stars, ["pred2"])


def test_the_stable_drop_at_sigma_fail_is_the_mean_over_stable_programmings():
    from imssa.study.margin_tables import stable_drop

    causes = pd.DataFrame(
        {
            "programmings": [4, 2, 3],
            "unstable": [1, 2, 0],
            "drop of stable (points)": [10.0, float("nan"), 20.0],
        }
    )
    assert stable_drop(causes) == pytest.approx((3 * 10 + 3 * 20) / 6)
    assert np.isnan(stable_drop(causes.iloc[[1]]))
