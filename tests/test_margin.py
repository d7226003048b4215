"""Stability margin: the first-order eigenvalue shift, its prediction of sigma*, and sigma* measured."""

import numpy as np
import pandas as pd
import pytest
import torch

from imssa.hardware.margin import instability_probability, predicted_sigma_star, sigma_star, weight_noise_std


def test_weight_noise_scales_with_sigma_fscale_range_and_copies():
    assert weight_noise_std(9.0, 0.6, 10.0, 100.0) == pytest.approx(np.sqrt(2) * 9 * 0.6 / 90)
    assert weight_noise_std(9.0, 0.6, 10.0, 100.0, 16) == pytest.approx(9 * 0.6 / 90)
    with pytest.raises(ValueError, match="multiple of 8"):
        weight_noise_std(1.0, 0.6, 10.0, 100.0, 12)


def test_first_order_shift_matches_monte_carlo_on_a_2x2_block():
    rng = np.random.default_rng(0)
    r, s, n = 0.9, 0.05, 200_000
    theta = 0.7
    a, b = r * np.cos(theta), r * np.sin(theta)
    E = rng.normal(0, s, size=(n, 2, 2))
    M = np.array([[a, -b], [b, a]]) + E
    radius = np.abs(np.linalg.eigvals(M)).max(-1)
    assert (radius > 1).mean() == pytest.approx(instability_probability([r], s), abs=0.01)


def test_instability_probability_combines_modes_and_is_monotone():
    one = instability_probability([0.95], 0.03)
    assert instability_probability([0.95, 0.95], 0.03) == pytest.approx(1 - (1 - one) ** 2)
    assert instability_probability([0.95], 0.01) < one < instability_probability([0.99], 0.03)
    assert instability_probability([0.5, 1.0], 0.0) == 1.0 and instability_probability([0.5], 0.0) == 0.0


def test_predicted_sigma_star_grows_with_the_margin_and_with_duplicate_devices():
    near, far = ([0.999] * 10, [0.85] * 10)
    s_near, s_far = (predicted_sigma_star(r, 0.6, 10, 100) for r in (near, far))
    assert 0 < s_near < s_far
    assert predicted_sigma_star(far, 0.6, 10, 100, 16) == pytest.approx(np.sqrt(2) * s_far, rel=1e-3)
    s = weight_noise_std(s_far, 0.6, 10, 100)
    assert instability_probability(far, s) == pytest.approx(0.1, abs=1e-4)


def test_sigma_star_is_the_last_sigma_before_a_drop_or_failures():
    rows = []
    for fold in range(3):
        for sigma, acc in [(0.0, 0.95), (1.0, 0.95), (2.0, 0.94), (5.0, 0.90), (10.0, 0.5)]:
            rows.append({"bits": 2, "seed": 0, "fold": fold, "sigma_uS": sigma, "accuracy": acc})
        for sigma, acc in [(0.0, 0.95), (1.0, 0.5), (2.0, 0.95)]:  # a failure at 1 uS stops it there
            rows.append({"bits": 5, "seed": 0, "fold": fold, "sigma_uS": sigma, "accuracy": acc})
    out = sigma_star(pd.DataFrame(rows), ["bits"], n_clips=100).set_index("bits")
    assert out.loc[2, "sigma_star_uS"] == 2.0 and out.loc[2, "sigma_fail_uS"] == 5.0 and out.loc[2, "fails_by"] == "drop"
    assert out.loc[5, "sigma_star_uS"] == 0.0 and out.loc[5, "fails_by"] == "drop and failures"
    with pytest.raises(ValueError, match="columns"):
        sigma_star(pd.DataFrame(rows).drop(columns="seed"), ["bits"], 100)
