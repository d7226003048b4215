"""Quantizer: levels, clipping, straight-through gradient, idempotence; quantized S4D; stability."""

import math

import pytest
import torch
from torch import Tensor

from imssa.model.poles import UnstableSSMError, check_stability, project_disc, quantize_pole
from imssa.model.qat import QuantS4D, quantize_ssm
from imssa.model.quant import grid_levels, q_max, quantize, quantize_complex, range_scales
from imssa.model.s4d import DiscreteSSM, ssm_conv, ssm_kernel, ssm_recurrent


@pytest.mark.parametrize("bits, levels", [(1, 2), (2, 3), (3, 7), (4, 15), (8, 255)])
def test_levels(bits, levels):
    x = torch.linspace(-2, 2, 20001, dtype=torch.float64)
    q = quantize(x, bits, 0.7)
    values = torch.unique(q)
    assert len(values) == levels
    assert torch.allclose(values, grid_levels(bits, 0.7))
    assert q.abs().max() == pytest.approx(0.7)


def test_ternary_and_binary_grids():
    x = torch.tensor([-1.0, -0.4, -0.2, 0.0, 0.2, 0.4, 1.0])
    assert quantize(x, 2, 0.5).tolist() == [-0.5, -0.5, 0.0, 0.0, 0.0, 0.5, 0.5]
    assert quantize(x, 1, 0.5).tolist() == [-0.5, -0.5, -0.5, 0.5, 0.5, 0.5, 0.5]
    assert q_max(2) == 1 and q_max(5) == 15
    with pytest.raises(ValueError, match="bits"):
        quantize(x, 0, 1.0)
    with pytest.raises(ValueError, match="fscale"):
        quantize(x, 2, 0.0)


@pytest.mark.parametrize("bits", [1, 2, 4])
def test_straight_through_gradient(bits):
    x = torch.tensor([-1.5, -0.3, 0.05, 0.6, 1.2], requires_grad=True)
    quantize(x, bits, 1.0).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]  # pass inside [-1, 1], block outside


@pytest.mark.parametrize("bits", [1, 2, 3, 6])
def test_idempotent(bits):
    x = torch.randn(1000, generator=torch.Generator().manual_seed(0))
    q = quantize(x, bits, 0.8)
    assert torch.equal(quantize(q, bits, 0.8), q)


def random_ssm(H=3, N=4, seed=0):
    g = torch.Generator().manual_seed(seed)

    def c(scale):
        return torch.complex(torch.randn(H, N, generator=g), torch.randn(H, N, generator=g)) * scale

    return DiscreteSSM(c(0.3), c(0.2), c(1.0), torch.randn(H, generator=g))


def test_range_modes():
    p = random_ssm()
    fixed = range_scales(p, "fixed", 0.6)
    assert all(float(a) == float(b) == pytest.approx(0.6) for a, b in fixed.values())
    dyn = range_scales(p, "dynamic", 0.6)
    assert float(dyn["C"][1]) == pytest.approx(float(p.C.imag.abs().max()))
    per = range_scales(p, "per_channel", 0.6)["A_bar"][0]
    assert per.shape == (3, 1)
    q = quantize_ssm(p, 2, "fixed", 0.6)
    for name in ("A_bar", "B_bar", "C"):  # one grid for every parameter: {-0.6, 0, 0.6}
        parts = torch.cat([getattr(q, name).real.flatten(), getattr(q, name).imag.flatten()])
        assert set(torch.unique(parts).tolist()) <= {
            float(torch.tensor(v)) for v in (-0.6, 0.0, 0.6)
        }
    assert torch.equal(q.D, p.D)
    with pytest.raises(ValueError, match="range mode"):
        range_scales(p, "global", 1.0)


@pytest.mark.parametrize(
    "bits, mode", [(2, "fixed"), (3, "dynamic"), (5, "per_channel"), (1, "fixed")]
)
def test_quantized_model_conv_equals_recurrence(bits, mode):
    p = random_ssm(H=4, N=6, seed=bits)
    z = torch.complex128
    p = DiscreteSSM(0.2 * p.A_bar.to(z), p.B_bar.to(z), p.C.to(z), p.D.double())
    q = quantize_ssm(p, bits, mode, fscale=0.7)
    assert check_stability(q.A_bar) < 1
    u = torch.randn(2, 4, 2000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    y_conv = ssm_conv(u, ssm_kernel(q.A_bar, q.B_bar, q.C, 2000), q.D)
    y_rec = ssm_recurrent(u, *q)
    assert ((y_conv - y_rec).norm() / y_rec.norm()) < 1e-9


def test_quant_layer_modes_agree():
    torch.manual_seed(0)
    layer = QuantS4D(4, 6, bits=2, range_mode="fixed", fscale=0.7).double()
    u = torch.randn(2, 4, 1000, dtype=torch.float64)
    y = layer(u, mode="conv")
    assert ((y - layer(u, mode="recurrent")).norm() / y.norm()) < 1e-9


def test_qat_gradients_reach_the_continuous_parameters():
    torch.manual_seed(0)
    layer = QuantS4D(2, 3, bits=3, range_mode="fixed", fscale=0.7)
    with torch.no_grad():
        layer.B.mul_(20)  # B_bar ~ dt B would round to zero otherwise (see equalize_ranges)
    layer(torch.randn(1, 2, 50)).square().sum().backward()
    assert layer.C.grad.abs().sum() > 0 and layer.log_dt.grad.abs().sum() > 0


def test_stability_check():
    stable = torch.tensor([[0.5 + 0.5j, 0.7 + 0.0j]])
    assert check_stability(stable) == pytest.approx(0.7071, abs=1e-4)
    ternary_corner = torch.tensor([[1.0 + 1.0j, 0.1 + 0j]])  # |1 + i| > 1: fscale = 1 at 2 bits
    with pytest.raises(UnstableSSMError, match="1 of 2 mode"):
        check_stability(ternary_corner)
    with pytest.raises(UnstableSSMError):  # an integrator never forgets: the same stop rule
        check_stability(torch.tensor([[1.0 + 0.0j]]))


def test_rounding_toward_zero_never_grows():
    x = torch.linspace(-1.2, 1.2, 2001, dtype=torch.float64)
    q = quantize(x, 3, 1.0, toward_zero=True)
    assert torch.all(q.abs() <= x.abs().clamp(max=1.0) + 1e-12)
    assert set(torch.unique(q).tolist()) <= set(grid_levels(3, 1.0).tolist())


def test_projection_into_the_disc():
    z = torch.tensor([0.3 + 0.4j, 3.0 + 4.0j, 0j], dtype=torch.complex128)
    p = project_disc(z, 0.9)
    assert torch.allclose(p, torch.tensor([0.3 + 0.4j, 0.54 + 0.72j, 0j], dtype=torch.complex128))


@pytest.mark.parametrize("bits, fscale", [(2, 1.0), (2, 0.8), (3, 1.0), (4, 0.9), (8, 1.0)])
def test_pole_cap_keeps_every_grid_point_inside(bits, fscale):
    """Every pole of the unit square maps to a grid point of modulus <= r_max, and points that
    plain rounding already keeps inside are left alone."""
    g = torch.Generator().manual_seed(bits)
    z = torch.complex(
        torch.rand(5000, generator=g, dtype=torch.float64) * 2 - 1,
        torch.rand(5000, generator=g, dtype=torch.float64) * 2 - 1,
    )
    r_max = 0.97
    q = quantize_pole(z, bits, fscale, fscale, r_max)
    assert q.abs().max() <= r_max + 1e-12
    # on the grid: whole levels within the range, no 5000 x 4^bits matrix
    level = torch.stack([q.real, q.imag]) / (fscale / q_max(bits))
    assert torch.all((level - level.round()).abs() < 1e-9)
    assert level.abs().max() <= q_max(bits)
    plain = quantize_complex(project_disc(z, r_max), bits, fscale)
    keep = plain.abs() <= r_max
    assert torch.equal(q[keep], plain[keep])
    toward_zero = quantize_complex(project_disc(z, r_max), bits, fscale, toward_zero=True)
    zp = project_disc(z, r_max)
    # never worse than truncation
    assert torch.all((q - zp).abs() <= (toward_zero - zp).abs() + 1e-12)


def test_pole_cap_takes_the_nearest_stable_neighbour():
    # rounds to the corner 0.95 (1 + i), outside
    z = torch.tensor([0.7 + 0.68j], dtype=torch.complex128)
    q = quantize_pole(z, 2, 0.95, 0.95, 0.97)
    # not 0 (truncation)
    assert torch.allclose(q, torch.tensor([0.95 + 0j], dtype=torch.complex128))


def test_pole_cap_keeps_the_top_level_when_the_range_is_the_cap():
    """Dynamic ranges are taken from the projected poles, so the top level can equal r_max up to
    float32 rounding: that level must stay usable, not fall to zero."""
    z = torch.tensor([[0.999 + 0.01j, 0.2 + 0.3j]], dtype=torch.complex64)
    zp = project_disc(z, 0.99)
    f_re, f_im = zp.real.abs().max(), zp.imag.abs().max()
    q = quantize_pole(z, 2, f_re, f_im, 0.99)
    assert q[0, 0].real == f_re and q.abs().max() < 1


def test_pole_cap_makes_dynamic_ranges_stable_and_passes_gradients():
    A = torch.tensor([[0.99 + 0.0j, 0.7 + 0.7j, 0.0 + 0.995j, 0.2 + 0.1j]], dtype=torch.complex128)
    p = DiscreteSSM(A, torch.ones_like(A), torch.ones_like(A), torch.ones(1, dtype=torch.float64))
    with pytest.raises(UnstableSSMError):
        check_stability(quantize_ssm(p, 2, "dynamic").A_bar)  # corners (0.99, 0.995) leave the disc
    for bits in (2, 3, 5, 8):
        assert check_stability(quantize_ssm(p, bits, "dynamic", r_max=0.99).A_bar) <= 0.99
    with pytest.raises(UnstableSSMError, match="1-bit grid"):
        quantize_ssm(p, 1, "dynamic", r_max=0.99)
    z = torch.tensor([0.8 + 0.8j], dtype=torch.complex128, requires_grad=True)
    quantize_pole(z, 3, 1.0, 1.0, 0.95).abs().sum().backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


def test_mixed_precision_puts_each_matrix_on_its_own_grid():
    from imssa.model.qat import quantize_ssm
    from imssa.model.s4d import DiscreteSSM

    g = torch.Generator().manual_seed(0)

    def z():
        return torch.complex(
            torch.rand(4, 8, generator=g, dtype=torch.float64) - 0.5,
            torch.rand(4, 8, generator=g, dtype=torch.float64) - 0.5,
        )

    p = DiscreteSSM(z(), z(), z(), torch.ones(4, dtype=torch.float64))
    q = quantize_ssm(p, (2, 4, 3), "fixed", fscale=0.5)
    for t, qm in ((q.A_bar, 1), (q.B_bar, 7), (q.C, 3)):
        level = torch.view_as_real(t) / 0.5 * qm
        assert torch.allclose(level, level.round()) and level.abs().max() <= qm
    assert (
        len(torch.unique(torch.view_as_real(q.A_bar)))
        <= 3
        < len(torch.unique(torch.view_as_real(q.B_bar)))
    )
    assert torch.equal(
        quantize_ssm(p, (2, 2, 2), "fixed", 0.5).A_bar, quantize_ssm(p, 2, "fixed", 0.5).A_bar
    )


def test_noise_aware_qat_perturbs_training_passes_only_at_the_configured_std():
    from imssa.model.qat import QuantS4D

    torch.manual_seed(0)
    layer = QuantS4D(8, 16, bits=2, fscale=0.6, r_max=0.95, weight_noise=0.05)
    layer.eval()
    clean = layer.discrete()
    assert torch.equal(clean.B_bar, layer.discrete().B_bar)  # evaluation: no noise, deterministic
    layer.train()
    draws = torch.stack([layer.discrete().B_bar - clean.B_bar for _ in range(200)])
    assert torch.view_as_real(draws).std().item() == pytest.approx(0.05 * 0.6, rel=0.05)
    assert (
        max(layer.discrete().A_bar.abs().max().item() for _ in range(50))
        <= QuantS4D.NOISY_POLE_LIMIT + 1e-12
    )
    with pytest.raises(ValueError, match="weight_noise"):
        QuantS4D(2, 2, bits=2, weight_noise=-1.0)


def test_pole_penalty_is_zero_exactly_inside_its_target_and_pulls_poles_in():
    from imssa.model.config import QuantConfig
    from imssa.model.poles import pole_penalty
    from imssa.model.qat import QuantS4D

    A = torch.tensor([[0.6 + 0.6j, 0.3 + 0j]], dtype=torch.complex128)
    assert pole_penalty(A, 0.9).item() == 0.0
    assert pole_penalty(A, 0.7).item() == pytest.approx((0.72**0.5 - 0.7) ** 2)
    torch.manual_seed(0)
    layer = QuantS4D(4, 8, bits=2, fscale=0.6, r_max=0.95, pole_penalty=1.0, pole_target=0.7)
    # A_bar = 0.95 exp(i pi/4): Re and Im beyond the range, rounded to the corner 0.6 (1 + i)
    with torch.no_grad():
        layer.log_dt.fill_(math.log(0.1))
        layer.log_A_real.fill_(math.log(0.5))
        layer.A_imag.fill_(math.pi / 4 / 0.1)
    assert torch.allclose(layer.discrete().A_bar.abs(), torch.tensor(0.72**0.5))
    pen = layer.penalty()
    # 8 modes per channel, summed / H
    assert pen.item() == pytest.approx(8 * (0.72**0.5 - 0.7) ** 2)
    pen.backward()
    # the gradient reaches the float poles outside the range
    assert layer.log_A_real.grad.abs().sum() > 0
    assert QuantS4D(4, 8, bits=2).penalty().item() == 0.0
    with pytest.raises(ValueError, match="go together"):
        QuantConfig(pole_penalty=1.0)
    assert QuantConfig(bits=2, bits_B=4).bits_per_matrix == (2, 4, 2)
    assert QuantConfig(
        noise_sigma_uS=9.0, noise_window_uS=90.0, noise_pairs=2
    ).weight_noise == pytest.approx(0.1)


# --- scale rules of the adaptive range modes ('max_abs', 'mse') ----------------------------------


def _gaussian(n=4096, seed=0):
    return torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _qerr(x, bits, f):
    """Mean squared quantization error of x (..., n) on the grid of ``bits`` over [-f, f], over the
    last axis; f a float or a tensor (..., 1) (one range per row, or K candidate ranges of one
    x)."""
    if isinstance(f, Tensor):
        x = x.expand(*f.shape[:-1], x.shape[-1])
    return (x - quantize(x, bits, f)).square().mean(-1)


@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_mse_scale_beats_max_abs_and_matches_a_fine_search(bits):
    from imssa.model.quant import mse_scale

    x = _gaussian()
    f_mse, f_max = float(mse_scale(x, bits)), float(x.abs().max())
    e_mse, e_max = float(_qerr(x, bits, f_mse)), float(_qerr(x, bits, f_max))
    fine = torch.linspace(f_max / 4000, f_max, 4000, dtype=torch.float64)[:, None]  # (K, 1)
    e_best = min(float(_qerr(x, bits, f).min()) for f in fine.split(250))  # 250 at a time, not 4000
    assert e_mse < e_max and f_mse <= f_max
    assert e_mse <= 1.05 * e_best
    # measured: 0.187 vs 0.775 (max-abs zeroes every |x| < 1.77 sigma); Lloyd-Max: 1.224 sigma
    if bits == 2:
        assert e_mse < 0.3 * e_max
        assert f_mse == pytest.approx(1.224, rel=0.03)


def test_twn_closed_form_agrees_with_the_ternary_mse_optimum():
    """TWN thresholds at 0.7 mean|x| (0.56 sigma for a Gaussian), the MSE optimum at half its scale
    (0.61 sigma): TWN's scale is ~4% below the optimum and its error within 1% of it. With the
    optimum's own threshold, TWN's formula is the optimum (the Lloyd fixed point)."""
    from imssa.model.quant import mse_scale, twn_scale

    x = _gaussian()
    f_mse, f_twn = float(mse_scale(x, 2)), float(twn_scale(x))
    assert f_twn == pytest.approx(f_mse, rel=0.05)  # measured -3.7%
    assert float(_qerr(x, 2, f_twn)) <= 1.01 * float(_qerr(x, 2, f_mse))  # measured +0.4%
    a = x.abs()
    assert f_mse == pytest.approx(float(a[a > f_mse / 2].mean()), rel=1e-6)
    X = torch.stack([x, 3 * x])  # per row: a scale proportional to the row's spread
    assert torch.allclose(
        twn_scale(X, dim=1), torch.tensor([f_twn, 3 * f_twn], dtype=torch.float64)
    )
    assert torch.allclose(
        mse_scale(X, 2, dim=1), torch.tensor([f_mse, 3 * f_mse], dtype=torch.float64)
    )


def test_mse_rule_gives_each_tensor_and_channel_its_fitted_range():
    from imssa.model.quant import mse_scale

    p = random_ssm(H=5, N=8)
    dyn = range_scales(p, "dynamic", 0.7, 2, "mse")
    assert all(re.dim() == 0 and im.dim() == 0 for re, im in dyn.values())
    # Re and Im apart, as max-abs
    assert float(dyn["C"][1]) == pytest.approx(float(mse_scale(p.C.imag, 2)))
    assert float(dyn["C"][1]) < float(p.C.imag.abs().max())
    per = range_scales(p, "per_channel", 0.7, 2, "mse")
    # (H, 6N)
    stacked = torch.cat([torch.view_as_real(v).flatten(1) for v in (p.A_bar, p.B_bar, p.C)], 1)
    for re, im in per.values():  # one range per channel, shared by Re/Im of A_bar, B_bar, C
        assert re.shape == (5, 1) and re is im
    f = per["A_bar"][0]
    assert torch.allclose(f[:, 0], mse_scale(stacked, 2, dim=1))
    f_max = range_scales(p, "per_channel", 0.7)["A_bar"][0]
    assert torch.all(_qerr(stacked, 2, f) < _qerr(stacked, 2, f_max))  # each channel's error
    # each matrix on its own grid
    mixed = range_scales(p, "per_channel", 0.7, (2, 4, 3), "mse")["A_bar"][0]
    assert mixed.shape == (5, 1) and not torch.allclose(mixed, f)
    twice = range_scales(p, "dynamic", 0.7, 2, "mse", scale_factor=2.0)
    assert float(twice["B_bar"][0]) == pytest.approx(2 * float(dyn["B_bar"][0]))


def test_max_abs_rule_is_the_previous_behaviour():
    p = random_ssm(H=4, N=6, seed=2)
    for mode in ("fixed", "dynamic", "per_channel"):
        assert all(
            torch.equal(a, c) and torch.equal(b, d)
            for (a, b), (c, d) in zip(
                range_scales(p, mode, 0.6).values(),
                range_scales(p, mode, 0.6, 3, "max_abs", 1.0).values(),
                strict=True,
            )
        )
        for bits in (2, (2, 4, 3)):
            q0, q1 = (
                quantize_ssm(p, bits, mode, 0.6, 0.95),
                quantize_ssm(p, bits, mode, 0.6, 0.95, "max_abs"),
            )
            assert all(torch.equal(a, b) for a, b in zip(q0, q1, strict=True))
    ref = {
        k: quantize_complex(v, 2, v.real.abs().max(), v.imag.abs().max())
        for k, v in p._asdict().items()
        if k != "D"
    }
    q = quantize_ssm(p, 2, "dynamic")
    # max|x| of Re and of Im, as before
    assert all(torch.equal(getattr(q, k), v) for k, v in ref.items())
    torch.manual_seed(0)
    a = QuantS4D(3, 4, bits=2, range_mode="per_channel")
    torch.manual_seed(0)
    b = QuantS4D(3, 4, bits=2, range_mode="per_channel", scale_rule="max_abs", scale_factor=1.0)
    assert all(torch.equal(x, y) for x, y in zip(a.discrete(), b.discrete(), strict=True))


def test_mse_rule_keeps_the_pole_cap_and_trains():
    A = torch.tensor(
        [[0.99 + 0.0j, 0.7 + 0.7j, 0.0 + 0.995j, 0.2 + 0.1j, 0.5 - 0.3j]], dtype=torch.complex128
    )
    p = DiscreteSSM(A, 0.1 * A, A.conj(), torch.ones(1, dtype=torch.float64))
    for mode in ("dynamic", "per_channel"):
        for bits in (2, 3, 5):
            q = quantize_ssm(p, bits, mode, r_max=0.95, scale_rule="mse")
            assert check_stability(q.A_bar) <= 0.95 + 1e-12
            f_re, f_im = range_scales(
                p._replace(A_bar=project_disc(A, 0.95)), mode, 1.0, bits, "mse"
            )["A_bar"]
            for part, f in ((q.A_bar.real, f_re), (q.A_bar.imag, f_im)):  # on the fitted grid
                level = part / f * q_max(bits)
                assert torch.allclose(level, level.round()) and level.abs().max() <= q_max(bits)
    torch.manual_seed(0)
    layer = QuantS4D(4, 6, bits=2, range_mode="per_channel", r_max=0.95, scale_rule="mse").double()
    with torch.no_grad():
        # B_bar ~ dt B would round to zero in the channel's shared range (see equalize_ranges)
        layer.B.mul_(20)
    u = torch.randn(2, 4, 500, dtype=torch.float64)
    y = layer(u, mode="conv")
    assert ((y - layer(u, mode="recurrent")).norm() / y.norm()) < 1e-9
    y.square().sum().backward()
    assert layer.C.grad.abs().sum() > 0 and layer.log_dt.grad.abs().sum() > 0
    assert layer.array_scale().shape == (4,)


def test_bad_scale_rules_raise():
    import pydantic

    from imssa.model.config import QuantConfig

    p = random_ssm()
    with pytest.raises(ValueError, match="scale_rule must be one of"):
        range_scales(p, "dynamic", 1.0, 2, "twn")
    with pytest.raises(ValueError, match="scale_factor must be > 0"):
        quantize_ssm(p, 2, "per_channel", scale_rule="mse", scale_factor=0.0)
    with pytest.raises(ValueError, match="give bits"):
        range_scales(p, "dynamic", 1.0, scale_rule="mse")
    with pytest.raises(ValueError, match="fixed range is fscale"):
        quantize_ssm(p, 2, "fixed", 0.7, scale_rule="mse")
    with pytest.raises(ValueError, match="scale_rule must be one of"):
        QuantS4D(2, 2, bits=2, range_mode="dynamic", scale_rule="MSE")
    with pytest.raises(pydantic.ValidationError, match="scale_rule"):
        QuantConfig(range_mode="dynamic", scale_rule="twn")
    with pytest.raises(pydantic.ValidationError, match="scale_factor"):
        QuantConfig(range_mode="dynamic", scale_factor=-1.0)
    with pytest.raises(pydantic.ValidationError, match="fixed range is fscale"):
        QuantConfig(range_mode="fixed", scale_rule="mse")
    c = QuantConfig(range_mode="per_channel", scale_rule="mse", scale_factor=1.2)
    assert (c.scale_rule, c.scale_factor) == ("mse", 1.2)
    assert (QuantConfig().scale_rule, QuantConfig().scale_factor) == ("max_abs", 1.0)


def test_log_radius_grid_holds_octave_time_constants_under_the_cap():
    from imssa.model.config import QuantConfig
    from imssa.model.poles import POLAR_STORAGE_BITS, log_radius_grid, quantize_log_radius

    radii, angles = log_radius_grid(4, 0.99)
    assert torch.allclose(radii, torch.tensor([0.0, 0.99**4, 0.99**2, 0.99], dtype=torch.float64))
    assert torch.allclose(
        angles, torch.tensor([-torch.pi / 2, 0.0, torch.pi / 2, torch.pi], dtype=torch.float64)
    )
    z = torch.polar(
        torch.tensor([0.995, 0.985, 0.96, 0.1]), torch.tensor([0.1, 1.4, 3.0, -1.2])
    ).to(torch.complex64)
    q = quantize_log_radius(z, 4, 0.99)
    # 0.995 -> the cap; 0.985 (decay 1.5x the cap's) -> 0.99^2 on the log scale; 0.96 -> 0.99^4;
    # 0.1 -> 0
    assert torch.allclose(q.abs(), torch.tensor([0.99, 0.99**2, 0.99**4, 0.0]), atol=1e-6)
    assert torch.allclose(
        torch.angle(q[:3]), torch.tensor([0.0, torch.pi / 2, torch.pi]), atol=1e-6
    )
    z.requires_grad_(False)
    zr = z.clone().requires_grad_(True)
    quantize_log_radius(zr, 4, 0.99).real.sum().backward()
    # straight through inside the cap
    assert torch.allclose(zr.grad[1:], torch.ones(3, dtype=torch.complex64))
    with pytest.raises(ValueError, match="pole cap"):
        log_radius_grid(4, 1.0)
    cfg = QuantConfig(bits=2, bits_A=8, fscale=1.0, r_max=0.999, a_grid="log_radius")
    assert cfg.bits_per_matrix == (POLAR_STORAGE_BITS, 2, 2) and cfg.polar_bits == 8
    with pytest.raises(ValueError, match="needs range_mode 'fixed' and a pole cap"):
        QuantConfig(bits=2, a_grid="log_radius")


def test_a_log_radius_model_keeps_its_poles_on_the_codebook_and_maps_onto_the_array():
    from imssa.hardware.deploy import ideal_weights, target_conductances
    from imssa.hardware.devices import DeviceConfig
    from imssa.model.config import QuantConfig
    from imssa.model.poles import log_radius_grid
    from imssa.model.train import SpeechClassifier
    from imssa.study.params import ModelConfig

    q = QuantConfig(bits=2, bits_A=6, fscale=1.0, r_max=0.999, a_grid="log_radius")
    net = SpeechClassifier(ModelConfig(H=3, N=4, quant=q), 2, torch.Generator().manual_seed(0))
    A = net.layers[0].discrete().A_bar.detach()
    radii, _ = log_radius_grid(6, 0.999)
    nearest = (A.abs().double().unsqueeze(-1) - radii).abs().min(-1).values
    # on the codebook up to the storage grid's step
    assert nearest.max() < 1e-4 and A.abs().max() < 1
    G = target_conductances(net, DeviceConfig(g_min_uS=10.0, g_max_uS=100.0))
    assert G.min() >= 10.0 and G.max() <= 100.0 and ideal_weights(net).shape == (1, 3, 9, 9)
