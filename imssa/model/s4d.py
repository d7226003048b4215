"""S4D: the diagonal structured state-space layer.

Continuous model per channel h (H channels, N complex modes each)::

    x'(t) = A x(t) + B u(t),    y(t) = 2 Re(C x(t)) + D u(t)

with diagonal complex A = -exp(log_A_real) + i A_imag. Zero-order hold with step dt gives
the discrete recurrence that the hardware runs::

    x_t = A_bar x_{t-1} + B_bar u_t,   A_bar = exp(dt A),   B_bar = (A_bar - 1) / A * B
    y_t = 2 Re(C x_t) + D u_t

Unrolled, y = K * u + D u with the kernel K_k = 2 Re(sum_n C_n A_bar_n^k B_bar_n).

The three functions below are pure functions of the *discrete* parameters (A_bar, B_bar, C, D),
so quantized or noisy parameters go through exactly the same code as trained ones.
Conjugate symmetry: each complex mode stands for a conjugate pair, hence the factor 2 in 2 Re(.);
the equivalent real state has 2N dimensions.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

__all__ = [
    "DiscreteSSM",
    "apply_ssm",
    "frequency_response",
    "zoh",
    "S4D",
    "init_A",
    "ssm_conv",
    "ssm_conv_affine",
    "ssm_kernel",
    "ssm_recurrent",
    "vandermonde_powers",
    "powers",
]

Init = Literal["lin", "inv", "real"]


class DiscreteSSM(NamedTuple):
    """Discrete S4D parameters of one layer: A_bar, B_bar, C of shape (H, N) complex, D (H,)
    real."""

    A_bar: Tensor
    B_bar: Tensor
    C: Tensor
    D: Tensor


def vandermonde_powers(A_bar: Tensor, L: int) -> tuple[Tensor, Tensor]:
    """Powers of A_bar in two factors, A_bar^(j*m + r) = outer[..., j] * inner[..., r].

    Returns ``(outer, inner)`` of shapes (..., J) and (..., m) with m = ceil(sqrt(L)),
    J = ceil(L / m). Nothing of size (..., L) is materialised; see ``powers``.
    """
    m = max(1, math.ceil(math.sqrt(L)))
    J = math.ceil(L / m)
    inner = powers(A_bar, m)
    A_m = inner[..., -1] * A_bar  # A_bar^m
    return powers(A_m, J), inner


def powers(z: Tensor, n: int) -> Tensor:
    """z^0, ..., z^(n-1) along a new last axis, (..., n), as exp(k log z); z = 0 (a quantized mode)
    gives 1, 0, 0, ... exactly. Unlike a cumulative product, the gradient stays finite where the
    powers underflow (strongly damped modes, e.g. S4D-Real's A_n = -(n+1)). Values below the
    smallest normal float count as 0: their powers are below it too, and the gradient of log z
    would overflow there."""
    real = z.real.dtype if z.is_complex() else z.dtype
    k = torch.arange(n, dtype=real, device=z.device)
    zero = z.abs() < torch.finfo(real).tiny
    log_z = torch.log(torch.where(zero, torch.ones_like(z), z))
    p = torch.exp(log_z.unsqueeze(-1) * k)
    return torch.where(zero.unsqueeze(-1), (k == 0).to(p.dtype), p)


def ssm_kernel(A_bar: Tensor, B_bar: Tensor, C: Tensor, L: int) -> Tensor:
    """Convolution kernel K_k = 2 Re(sum_n C_n A_bar_n^k B_bar_n), k = 0..L-1.

    A_bar, B_bar, C: (H, N) complex. Returns K: (H, L) real.
    Computed as one batched matrix product of the factored powers (see ``vandermonde_powers``),
    O(H N sqrt(L)) powers instead of the O(H N L) Vandermonde tensor.
    """
    outer, inner = vandermonde_powers(A_bar, L)  # (H, N, J), (H, N, m)
    weighted = (C * B_bar).unsqueeze(-1) * outer  # (H, N, J)
    K = torch.einsum("hnj,hnm->hjm", weighted, inner)  # (H, J, m): index j*m + r
    return 2 * K.reshape(K.shape[0], -1)[:, :L].real


def ssm_conv(u: Tensor, K: Tensor, D: Tensor) -> Tensor:
    """Causal convolution y = K * u + D u by FFT of length 2L (no circular wrap-around).

    u: (batch, H, L) real; K: (H, L) or (..., H, L) broadcastable to u; D: (H,).
    Returns y: (batch, H, L).
    """
    L = u.shape[-1]
    n = 2 * L
    y = torch.fft.irfft(torch.fft.rfft(u, n=n) * torch.fft.rfft(K, n=n), n=n)[..., :L]
    return y + D.unsqueeze(-1) * u


def ssm_conv_affine(x: Tensor, w: Tensor, b: Tensor, K: Tensor, D: Tensor) -> Tensor:
    """``ssm_conv(u, K, D)`` for the channel inputs u_h = w_h x + b_h of one scalar signal x.

    By linearity K_h * u_h = w_h (K_h * x) + b_h cumsum(K_h), so only x (not the H channels)
    is transformed: one large FFT less forward and backward than ``ssm_conv`` on u.
    x: (batch, L); w, b, D: (H,); K: (H, L). Returns (batch, H, L).
    """
    L = x.shape[-1]
    n = 2 * L
    Kf = torch.fft.rfft(K, n=n) * w.unsqueeze(-1)  # (H, n//2+1)
    y = torch.fft.irfft(torch.fft.rfft(x, n=n).unsqueeze(1) * Kf, n=n)[..., :L]
    u = w.unsqueeze(-1) * x.unsqueeze(1) + b.unsqueeze(-1)
    return y + (b.unsqueeze(-1) * torch.cumsum(K, -1)) + D.unsqueeze(-1) * u


def ssm_recurrent(u: Tensor, A_bar: Tensor, B_bar: Tensor, C: Tensor, D: Tensor) -> Tensor:
    """Step-by-step recurrence x_t = A_bar x_{t-1} + B_bar u_t, y_t = 2 Re(C x_t) + D u_t.

    u: (batch, H, L) real; A_bar, B_bar, C: (H, N) complex; D: (H,). Returns y: (batch, H, L).
    The state starts at zero. This is the computation a recurrent accelerator performs.
    """
    batch, H, L = u.shape
    x = torch.zeros(batch, H, A_bar.shape[-1], dtype=A_bar.dtype, device=u.device)
    ys = []
    for t in range(L):
        x = A_bar * x + B_bar * u[:, :, t, None]
        ys.append(2 * (C * x).sum(-1).real)
    return torch.stack(ys, -1) + D.unsqueeze(-1) * u


def zoh(A: Tensor, B: Tensor, dt: Tensor) -> tuple[Tensor, Tensor]:
    """Zero-order hold: A_bar = exp(dt A), B_bar = (A_bar - 1) / A * B.

    A, B: (H, N) complex; dt: (H,) step in the time unit of 1/A. Returns (A_bar, B_bar).
    """
    A_bar = torch.exp(dt.unsqueeze(-1) * A)
    return A_bar, (A_bar - 1) / A * B


def frequency_response(A_bar: Tensor, B_bar: Tensor, C: Tensor, D: Tensor, omega: Tensor) -> Tensor:
    """Transfer function of the discrete SSM on the unit circle, z = exp(i omega).

    H(z) = sum_n [C_n B_bar_n / (1 - A_bar_n / z) + conj(C_n B_bar_n) / (1 - conj(A_bar_n) / z)]
    + D, the DTFT of the kernel K plus D (each mode stands for a conjugate pair).
    A_bar, B_bar, C: (H, N) complex; D: (H,); omega: (F,) rad/sample. Returns (H, F) complex.
    """
    z_inv = torch.exp(-1j * omega).to(A_bar.dtype)  # (F,)
    CB = (C * B_bar).unsqueeze(-1)
    pair = CB / (1 - A_bar.unsqueeze(-1) * z_inv) + CB.conj() / (
        1 - A_bar.conj().unsqueeze(-1) * z_inv
    )
    return pair.sum(1) + D.unsqueeze(-1)


def init_A(H: int, N: int, init: Init = "lin") -> tuple[Tensor, Tensor]:
    """Diagonal initialisation of A = -exp(log_A_real) + i A_imag, returned as (log_A_real, A_imag).

    Shapes (H, N), N complex modes (a real state of size 2N). Following the S4D paper:
    ``lin``: A_n = -1/2 + i pi n;  ``inv``: A_n = -1/2 + i (2N/pi) (2N/(2n+1) - 1);
    ``real`` (S4D-Real, for the real-valued variant): A_n = -(n + 1), no imaginary part.
    """
    n = torch.arange(N, dtype=torch.float32)
    if init == "real":
        return torch.log(n + 1).expand(H, N).clone(), torch.zeros(H, N)
    if init == "lin":
        imag = math.pi * n
    elif init == "inv":
        N_real = 2 * N
        imag = N_real / math.pi * (N_real / (2 * n + 1) - 1)
    else:
        raise ValueError(f"init must be 'lin', 'inv' or 'real', got {init!r}")
    log_A_real = torch.full((H, N), math.log(0.5))
    return log_A_real, imag.expand(H, N).clone()


class S4D(nn.Module):
    """One S4D layer: H independent channels, N complex modes per channel.

    Learnable: ``log_dt`` (H,), ``log_A_real`` and ``A_imag`` (H, N), complex ``B`` and ``C``
    (H, N) stored as real views, real ``D`` (H,). ``float_discrete()`` returns the discrete
    parameters (A_bar, B_bar, C, D) that a deployment or quantization step consumes.

    Input and output: (batch, H, L). ``mode`` selects FFT convolution or the recurrence.
    ``memoryless=True`` is the control without a recurrence: A_bar = 0, so y_t depends on u_t
    alone (through 2 Re(sum_n C_n B_bar_n) + D).

    ``real=True`` is the real-valued diagonal variant (S4D-Real): N real modes, A = -exp(log_A_real)
    with no imaginary part (never trained), and B, C real (their imaginary halves are held at zero),
    so y = 2 C x + D u and the state has N (not 2N) real dimensions. It uses ``init='real'``.
    """

    def __init__(
        self,
        H: int,
        N: int = 8,
        init: Init = "lin",
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        generator: torch.Generator | None = None,
        memoryless: bool = False,
        real: bool = False,
    ) -> None:
        super().__init__()
        self.memoryless, self.real = memoryless, real
        if real != (init == "real"):
            raise ValueError(
                "the real-valued variant goes with init='real' (S4D-Real) and only it; "
                f"got real={real}, init={init!r}"
            )
        if H < 1 or N < 1:
            raise ValueError(f"H and N must be >= 1, got H={H}, N={N}")
        if not 0 < dt_min <= dt_max:
            raise ValueError(f"need 0 < dt_min <= dt_max, got {dt_min}, {dt_max}")
        g = generator
        log_dt = torch.rand(H, generator=g) * (math.log(dt_max) - math.log(dt_min)) + math.log(
            dt_min
        )
        log_A_real, A_imag = init_A(H, N, init)
        B = torch.view_as_real(torch.ones(H, N, dtype=torch.cfloat))
        C = torch.randn(H, N, 2, generator=g) * math.sqrt(0.5)
        self.log_dt = nn.Parameter(log_dt)
        self.log_A_real = nn.Parameter(log_A_real)
        self.A_imag = nn.Parameter(A_imag, requires_grad=not real)
        if real:  # imaginary halves at zero, and masked in ``_complex``
            B[..., 1], C[..., 1] = 0.0, 0.0
        self.B = nn.Parameter(B.clone())
        self.C = nn.Parameter(C)
        self.D = nn.Parameter(torch.randn(H, generator=g))

    @property
    def H(self) -> int:
        return self.log_dt.shape[0]

    @property
    def N(self) -> int:
        return self.A_imag.shape[1]

    def _complex(self, x: Tensor) -> Tensor:
        """A stored (H, N, 2) parameter as complex (H, N); its real part only for the real
        variant."""
        return (
            torch.complex(x[..., 0], torch.zeros_like(x[..., 0]))
            if self.real
            else torch.view_as_complex(x)
        )

    def ssm_parameters(self) -> list[nn.Parameter]:
        """The SSM parameters (dt, A, B), trained in their own optimizer group (own lr, no
        decay)."""
        return [self.log_dt, self.log_A_real, self.A_imag, self.B]

    def continuous_A(self) -> Tensor:
        """A = -exp(log_A_real) + i A_imag, (H, N) complex."""
        return torch.complex(-torch.exp(self.log_A_real), self.A_imag)

    def float_discrete(self) -> DiscreteSSM:
        """Zero-order hold: A_bar = exp(dt A), B_bar = (A_bar - 1)/A * B. Shapes (H, N) complex.
        A memoryless layer returns A_bar = 0."""
        A_bar, B_bar = zoh(self.continuous_A(), self._complex(self.B), torch.exp(self.log_dt))
        if self.memoryless:
            A_bar = torch.zeros_like(A_bar)
        return DiscreteSSM(A_bar, B_bar, self._complex(self.C), self.D)

    def freeze(self) -> None:
        """Stop training dt, A, B and C (the frozen-SSM control): only D stays learnable."""
        for p in (*self.ssm_parameters(), self.C):
            p.requires_grad_(False)

    def discrete(self) -> DiscreteSSM:
        """The discrete parameters this layer computes with; subclasses (quantized) override."""
        return self.float_discrete()

    def forward(self, u: Tensor, mode: Literal["conv", "recurrent"] = "conv") -> Tensor:
        return apply_ssm(u, self.discrete(), mode)


def apply_ssm(u: Tensor, p: DiscreteSSM, mode: Literal["conv", "recurrent"] = "conv") -> Tensor:
    """Run discrete parameters ``p`` on u (batch, H, L) by FFT convolution or by the recurrence."""
    if mode == "conv":
        return ssm_conv(u, ssm_kernel(p.A_bar, p.B_bar, p.C, u.shape[-1]), p.D)
    if mode == "recurrent":
        return ssm_recurrent(u, *p)
    raise ValueError(f"mode must be 'conv' or 'recurrent', got {mode!r}")
