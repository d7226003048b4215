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
        assert set(torch.unique(parts).tolist()) <= {float(torch.tensor(v)) for v in (-0.6, 0.0, 0.6)}
    assert torch.equal(q.D, p.D)
    with pytest.raises(ValueError, match="range mode"):
        range_scales(p, "global", 1.0)


@pytest.mark.parametrize("bits, mode", [(2, "fixed"), (3, "dynamic"), (5, "per_channel"), (1, "fixed")])
def test_quantized_model_conv_equals_recurrence(bits, mode):
    p = random_ssm(H=4, N=6, seed=bits)
    z = torch.complex128
    p = DiscreteSSM(0.2 * p.A_bar.to(z), p.B_bar.to(z), p.C.to(z), p.D.double())
    q = quantize_ssm(p, bits, mode, fscale=0.7)
    assert check_stability(q.A_bar, 2000) < 1
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
    assert check_stability(stable, 4000) == pytest.approx(0.7071, abs=1e-4)
    ternary_corner = torch.tensor([[1.0 + 1.0j]])  # |1 + i| > 1: fscale = 1 at 2 bits
    with pytest.raises(UnstableSSMError, match="4000 steps"):
        check_stability(ternary_corner, 4000)
    with pytest.warns(UnstableSSMWarning):
        check_stability(torch.tensor([[1.0 + 0.0j]]), 4000)  # an integrator: bounded growth
