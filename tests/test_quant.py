"""Quantizer: levels, clipping, straight-through gradient, idempotence; quantized S4D; stability."""

import warnings

import pytest
import torch

from imssa.quant import (QuantS4D, UnstableSSMError, UnstableSSMWarning, check_stability, grid_levels,
                         q_max, quantize, quantize_ssm, range_scales)
from imssa.s4d import DiscreteSSM, ssm_conv, ssm_kernel, ssm_recurrent


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
    c = lambda scale: torch.complex(torch.randn(H, N, generator=g), torch.randn(H, N, generator=g)) * scale  # noqa: E731
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
        assert set(torch.unique(parts).tolist()) <= {-0.6, 0.0, 0.6}
    assert torch.equal(q.D, p.D)
    with pytest.raises(ValueError, match="range mode"):
        range_scales(p, "global", 1.0)


@pytest.mark.parametrize("bits, mode", [(2, "fixed"), (3, "dynamic"), (5, "per_channel"), (1, "fixed")])
def test_quantized_model_conv_equals_recurrence(bits, mode):
    torch.manual_seed(0)
    layer = QuantS4D(4, 6, bits=bits, range_mode=mode, fscale=0.7).double()
    p = layer.discrete()
    if p.A_bar.abs().max() >= 1:
        pytest.skip("this draw is unstable; stability has its own test")
    u = torch.randn(2, 4, 2000, dtype=torch.float64)
    y_conv = ssm_conv(u, ssm_kernel(p.A_bar, p.B_bar, p.C, 2000), p.D)
    y_rec = ssm_recurrent(u, *p)
    assert ((y_conv - y_rec).norm() / y_rec.norm()) < 1e-9
    assert torch.allclose(layer(u.float().double(), mode="conv"), layer(u, mode="recurrent"), atol=1e-8)


def test_qat_gradients_reach_the_continuous_parameters():
    torch.manual_seed(0)
    layer = QuantS4D(2, 3, bits=3, range_mode="fixed", fscale=0.7)
    layer(torch.randn(1, 2, 50)).square().sum().backward()
    assert layer.C.grad.abs().sum() > 0 and layer.log_dt.grad.abs().sum() > 0


def test_stability_check():
    stable = torch.tensor([[0.5 + 0.5j, 0.7 + 0.0j]])
    assert check_stability(stable, 4000) == pytest.approx(0.7071, abs=1e-4)
    ternary_corner = torch.tensor([[1.0 + 1.0j]])  # |1 + i| > 1: fscale = 1 at 2 bits
    with pytest.raises(UnstableSSMError, match="4000 steps"):
        check_stability(ternary_corner, 4000)
    with pytest.warns(UnstableSSMWarning):
        check_stability(torch.tensor([[1.0 + 0.0j]]), 4000)  # an integrator: bounded growth
