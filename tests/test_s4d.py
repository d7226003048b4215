"""S4D: kernel against explicit powers, convolution against recurrence, discretisation, layer."""

import math

import pytest
import torch

from imssa.model.s4d import (
    S4D,
    frequency_response,
    init_A,
    ssm_conv,
    ssm_conv_affine,
    ssm_kernel,
    ssm_recurrent,
)


def random_ssm(H, N, dtype, seed=0, radius=0.999):
    g = torch.Generator().manual_seed(seed)
    real = torch.float64 if dtype == torch.complex128 else torch.float32
    r = torch.rand(H, N, generator=g, dtype=torch.float64) * radius
    theta = torch.rand(H, N, generator=g, dtype=torch.float64) * 2 * math.pi
    A_bar = (r * torch.exp(1j * theta)).to(dtype)
    B_bar = torch.randn(H, N, generator=g, dtype=torch.complex128).to(dtype)
    C = torch.randn(H, N, generator=g, dtype=torch.complex128).to(dtype)
    D = torch.randn(H, generator=g, dtype=torch.float64).to(real)
    return A_bar, B_bar, C, D


def rel_err(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize("L", [1, 2, 7, 100, 1000])
def test_kernel_matches_explicit_powers(L):
    A_bar, B_bar, C, _ = random_ssm(3, 5, torch.complex128)
    k = torch.arange(L, dtype=torch.float64)
    explicit = 2 * (C[..., None] * B_bar[..., None] * A_bar[..., None] ** k).sum(1).real
    assert torch.allclose(ssm_kernel(A_bar, B_bar, C, L), explicit, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype, tol", [(torch.complex128, 1e-9), (torch.complex64, 1e-4)])
@pytest.mark.parametrize("L", [1, 17, 1000, 16000])
def test_conv_equals_recurrence(dtype, tol, L):
    A_bar, B_bar, C, D = random_ssm(4, 8, dtype, seed=L)
    u = torch.randn(2, 4, L, generator=torch.Generator().manual_seed(1), dtype=D.dtype)
    y_rec = ssm_recurrent(u, A_bar, B_bar, C, D)
    y_conv = ssm_conv(u, ssm_kernel(A_bar, B_bar, C, L), D)
    assert rel_err(y_conv, y_rec) < tol


def test_conv_is_causal_without_wraparound():
    """An impulse at the last step must not leak back to the start (n = 2L padding)."""
    A_bar, B_bar, C, D = random_ssm(2, 4, torch.complex128, radius=0.9999)
    L = 64
    u = torch.zeros(1, 2, L, dtype=torch.float64)
    u[..., -1] = 1.0
    y = ssm_conv(u, ssm_kernel(A_bar, B_bar, C, L), D)
    assert y[..., :-1].abs().max() < 1e-12


def test_zero_eigenvalue_is_exact_and_differentiable():
    A_bar = torch.zeros(1, 2, dtype=torch.complex128, requires_grad=True)
    B = torch.ones(1, 2, dtype=torch.complex128)
    K = ssm_kernel(A_bar, B, B, 5)
    assert torch.equal(K.detach(), torch.tensor([[4.0, 0, 0, 0, 0]], dtype=torch.float64))
    K.sum().backward()
    assert torch.isfinite(torch.view_as_real(A_bar.grad)).all()


def test_affine_input_convolution_matches_plain():
    A_bar, B_bar, C, D = random_ssm(3, 4, torch.complex128)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(5, 300, generator=g, dtype=torch.float64)
    w, b = (
        torch.randn(3, generator=g, dtype=torch.float64),
        torch.randn(3, generator=g, dtype=torch.float64),
    )
    K = ssm_kernel(A_bar, B_bar, C, 300)
    expected = ssm_conv(w[:, None] * x[:, None] + b[:, None], K, D)
    assert rel_err(ssm_conv_affine(x, w, b, K, D), expected) < 1e-12


def test_zoh_discretisation():
    layer = S4D(H=3, N=4).double()
    A_bar, B_bar, C, D = layer.float_discrete()
    dt = torch.exp(layer.log_dt.detach().double())[:, None]
    A = torch.complex(-torch.exp(layer.log_A_real.detach()), layer.A_imag.detach()).to(
        torch.complex128
    )
    assert torch.allclose(A_bar, torch.exp(dt * A))
    # ZOH: B_bar = integral_0^dt exp(A s) ds * B; check against a fine Riemann sum
    s = torch.linspace(0, 1, 20001, dtype=torch.float64)[None, None, :] * dt[..., None]
    integral = torch.trapezoid(torch.exp(A[..., None] * s), s, dim=-1)
    assert torch.allclose(B_bar, integral * torch.view_as_complex(layer.B.detach()), rtol=1e-6)
    assert (A_bar.abs() < 1).all()


@pytest.mark.parametrize("init", ["lin", "inv"])
def test_initialisations(init):
    log_A_real, A_imag = init_A(2, 4, init)
    assert torch.allclose(-torch.exp(log_A_real), torch.full((2, 4), -0.5))
    if init == "lin":
        assert torch.allclose(A_imag[0], math.pi * torch.arange(4.0))
    else:  # S4D-Inv: (N/pi)(N/(2n+1) - 1) with N = 8 real states
        n = torch.arange(4.0)
        assert torch.allclose(A_imag[0], 8 / math.pi * (8 / (2 * n + 1) - 1))


def test_layer_modes_agree_and_bad_mode_fails():
    torch.manual_seed(0)
    layer = S4D(H=4, N=6)
    u = torch.randn(2, 4, 500)
    assert rel_err(layer(u, mode="conv"), layer(u, mode="recurrent")) < 1e-4
    with pytest.raises(ValueError, match="mode"):
        layer(u, mode="fft")


def test_layer_rejects_impossible_sizes():
    with pytest.raises(ValueError, match="H and N"):
        S4D(H=0, N=4)
    with pytest.raises(ValueError, match="dt_min"):
        S4D(H=2, N=2, dt_min=0.1, dt_max=0.01)


def test_frequency_response_is_the_dtft_of_the_kernel():
    A_bar, B_bar, C, D = random_ssm(2, 3, torch.complex128, radius=0.95)
    L = 4096  # |A_bar| <= 0.95: the kernel has decayed far below 1e-12 by then
    K = ssm_kernel(A_bar, B_bar, C, L)
    omega = 2 * math.pi * torch.arange(L // 2 + 1, dtype=torch.float64) / L
    H = frequency_response(A_bar, B_bar, C, D, omega)
    assert torch.allclose(H, torch.fft.rfft(K, n=L) + D[:, None], atol=1e-9)


def test_powers_are_exact_at_zero_and_keep_finite_gradients_where_they_underflow():
    from imssa.model.s4d import powers

    z = torch.tensor(
        [0.0, 1e-40, 1e-30, 0.04, 0.6 + 0.7j, -0.9], dtype=torch.complex64, requires_grad=True
    )
    p = powers(z, 45)
    explicit = torch.stack([z.detach() ** k for k in range(45)], -1)
    explicit[0, 0] = 1.0
    assert torch.allclose(p.detach(), explicit, rtol=1e-4, atol=1e-30)
    assert p[0].tolist() == [1.0] + [0.0] * 44  # a quantized mode at 0: exact
    p.real.sum().backward()
    assert torch.isfinite(torch.view_as_real(z.grad)).all()
