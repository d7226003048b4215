"""Uniform quantizers of the discrete S4D parameters, with a straight-through estimator (STE), and
their ranges.

Symmetric uniform quantizer, ``bits`` >= 2::

    q_max = 2^(bits-1) - 1,   s = fscale / q_max,   Q(x) = s * clip(round(x / s), -q_max, q_max)

so 2 bits give the ternary grid {-s, 0, s} with s = fscale. ``bits = 1`` is its own case, the
binary grid {-fscale, +fscale} (sign, with sign(0) = +1). The STE passes the gradient unchanged
where |x| <= fscale and blocks it outside the range.

Complex parameters are quantized part by part (Re and Im on the same grid), which is what the
crossbar stores after the complex -> real 2x2 expansion. Range modes decide ``fscale``:

* ``fixed``: the paper's method, one constant ``fscale`` shared by Re/Im of A_bar, B_bar and C,
  so one conductance range holds every kernel parameter;
* ``dynamic``: conventional QAT, one fscale per tensor, separately for Re and Im;
* ``per_channel``: one range per channel h, shared by Re/Im of A_bar_h, B_bar_h, C_h.

The scale rule decides the range of the two adaptive modes (``range_scales``): ``max_abs`` (the
default) takes max|x| of the tensor or channel; ``mse`` fits the range that minimises the
quantization error sum (x - Q(x))^2 on the grid (``mse_scale``; per channel, of A_bar, B_bar and C
together, each on its own grid). At 2 bits max-abs rounds every value below half the largest to
zero; the fitted ternary range is TWN's (Li et al. 2016; ``twn_scale``, its closed form). Either
rule's range may be multiplied by ``scale_factor`` (chosen on validation data, as fscale is for the
fixed range).

D stays in floating point (it is not part of the array's [[A_bar, B_bar], [C, 0]] matrix).

The pole cap, the stability rule and the log-radius grid of A_bar are in ``poles``; quantizing a
whole SSM and the quantization-aware S4D layer in ``qat``.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from .s4d import DiscreteSSM

__all__ = [
    "RangeMode",
    "SCALE_RULES",
    "ScaleRule",
    "grid_levels",
    "mse_scale",
    "q_max",
    "quantize",
    "quantize_complex",
    "check_scale_rule",
    "range_scales",
    "twn_scale",
]

RangeMode = Literal["fixed", "dynamic", "per_channel"]
ScaleRule = Literal["max_abs", "mse"]
SCALE_RULES: tuple[str, ...] = ("max_abs", "mse")


def q_max(bits: int) -> int:
    """Largest integer level: 2^(bits-1) - 1 for bits >= 2; 1 for the binary case."""
    if not isinstance(bits, int) or bits < 1:
        raise ValueError(f"bits must be an integer >= 1, got {bits!r}")
    return 1 if bits == 1 else 2 ** (bits - 1) - 1


def grid_levels(bits: int, fscale: float) -> Tensor:
    """The representable values of one real part, ascending (binary: {-fscale, fscale})."""
    if bits == 1:
        return torch.tensor([-fscale, fscale], dtype=torch.float64)
    k = torch.arange(-q_max(bits), q_max(bits) + 1, dtype=torch.float64)
    return k * (fscale / q_max(bits))


class _RoundSTE(torch.autograd.Function):
    """Forward: the exact grid value (nearest, or toward zero). Backward: the gradient where
    |x| <= fscale, else 0."""

    @staticmethod
    def forward(ctx, x: Tensor, fscale: Tensor, qm: int, toward_zero: bool = False) -> Tensor:
        x_c = torch.maximum(torch.minimum(x, fscale), -fscale)
        ctx.save_for_backward(x.abs() <= fscale)
        if qm == 0:  # binary
            return torch.where(x_c >= 0, fscale, -fscale).expand_as(x).clone()
        s = fscale / qm
        return (torch.trunc if toward_zero else torch.round)(x_c / s) * s

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None, None]:
        (inside,) = ctx.saved_tensors
        return grad * inside, None, None, None


def quantize(x: Tensor, bits: int, fscale: Tensor | float, toward_zero: bool = False) -> Tensor:
    """Quantize real ``x`` to the symmetric grid of ``bits`` over [-fscale, fscale], with STE.

    ``fscale`` is a positive float or a tensor broadcastable to x. The output holds exact grid
    values (k * fscale / q_max), the nearest one or (``toward_zero``) the next one toward 0;
    gradient: 1 inside the range, 0 outside it.
    """
    qm = q_max(bits)
    fscale = torch.as_tensor(fscale, dtype=x.dtype, device=x.device).detach()
    if (fscale <= 0).any():
        raise ValueError("fscale must be > 0")
    return _RoundSTE.apply(x, fscale, 0 if bits == 1 else qm, toward_zero)


def quantize_complex(
    z: Tensor,
    bits: int,
    fscale_re: Tensor | float,
    fscale_im: Tensor | float | None = None,
    toward_zero: bool = False,
) -> Tensor:
    """Quantize Re and Im of complex ``z`` separately (``fscale_im`` defaults to ``fscale_re``)."""
    fscale_im = fscale_re if fscale_im is None else fscale_im
    return torch.complex(
        quantize(z.real, bits, fscale_re, toward_zero),
        quantize(z.imag, bits, fscale_im, toward_zero),
    )


def _max_abs(t: Tensor, dim: int | None = None) -> Tensor:
    m = t.detach().abs().amax() if dim is None else t.detach().abs().amax(dim)
    return torch.clamp(m, min=torch.finfo(t.dtype).tiny)


#: Candidate ranges of the MSE fit: k / MSE_CANDIDATES of max|x|, k = 1..MSE_CANDIDATES, then
#: MSE_ITERATIONS Lloyd steps from the best one.
MSE_CANDIDATES = 64
MSE_ITERATIONS = 8


def _unit_levels(x: Tensor, f: Tensor, bits: int) -> Tensor:
    """Grid value / f of each x on the grid of ``bits`` over [-f, f] (nearest level): in [-1, 1]."""
    if bits == 1:
        return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)
    qm = q_max(bits)
    return torch.clamp(torch.round(x / (f / qm)), -qm, qm) / qm


@torch.no_grad()
def _fit_mse(segments: list[tuple[Tensor, int]]) -> Tensor:
    """The range f (R,) in (0, max|x|] minimising sum_i ||x_i - Q_bits_i(x_i; f)||^2 per row, for
    segments x_i (R, n_i) that share one range, each on the grid of its own ``bits_i``.

    A deterministic search over MSE_CANDIDATES fractions of the rows' max|x| (vectorised), then
    Lloyd steps: with the levels u of the current f fixed, the error is quadratic in f with minimum
    sum(u x) / sum(u^2) (for ternary: the mean |x| over |x| > f/2, TWN's scale), clamped to max|x|;
    re-rounding at the new f cannot raise it, so each step keeps or lowers the error.
    """
    xs = [(x.detach(), b) for x, b in segments]
    smax = (
        torch.stack([x.abs().amax(1) for x, _ in xs])
        .amax(0)
        .clamp_min(torch.finfo(xs[0][0].dtype).tiny)
    )  # (R,)
    fr = torch.arange(1, MSE_CANDIDATES + 1, dtype=smax.dtype, device=smax.device) / MSE_CANDIDATES
    f = (fr[:, None] * smax[None, :]).unsqueeze(-1)  # (K, R, 1)
    err = sum((x - _unit_levels(x, f, b) * f).square().sum(-1) for x, b in xs)  # (K, R)
    f = f.squeeze(-1).gather(0, err.argmin(0, keepdim=True))[0]  # (R,)
    for _ in range(MSE_ITERATIONS):
        u = [(_unit_levels(x, f[:, None], b), x) for x, b in xs]
        num = sum((ui * x).sum(-1) for ui, x in u)
        den = sum(ui.square().sum(-1) for ui, _ in u)
        f = torch.where(den > 0, num / torch.where(den > 0, den, 1), f).clamp(
            min=smax * 1e-6, max=smax
        )
    return f


def mse_scale(x: Tensor, bits: int, dim: int | None = None) -> Tensor:
    """The range (fscale) minimising the quantization error of real ``x`` on the grid of ``bits``;
    one per tensor (``dim`` None, a scalar) or reduced over ``dim`` (one per remaining index, as
    ``amax(dim)``). Detached, never above max|x|. See ``_fit_mse``."""
    q_max(bits)  # validates bits
    if dim is None:
        return _fit_mse([(x.reshape(1, -1), bits)])[0]
    rows = x.movedim(dim, -1)
    return _fit_mse([(rows.reshape(-1, rows.shape[-1]), bits)]).reshape(rows.shape[:-1])


def twn_scale(x: Tensor, dim: int | None = None) -> Tensor:
    """TWN's ternary range (Li et al. 2016): threshold delta = 0.7 mean|x|, scale = the mean of |x|
    over |x| > delta; per tensor or reduced over ``dim``. A closed-form approximation of the
    ternary ``mse_scale`` (exact for its threshold; TWN's 0.7 is fitted to uniform/normal
    weights)."""
    a = x.detach().abs()
    mean = a.mean() if dim is None else a.mean(dim, keepdim=True)
    keep = a > 0.7 * mean
    s = (
        (a * keep).sum() / keep.sum().clamp_min(1)
        if dim is None
        else (a * keep).sum(dim) / keep.sum(dim).clamp_min(1)
    )
    return s.clamp_min(torch.finfo(x.dtype).tiny)


def check_scale_rule(mode: str, scale_rule: str, scale_factor: float) -> None:
    """Raise ValueError unless ``scale_rule`` is one of SCALE_RULES, ``scale_factor`` > 0 and the
    fixed range keeps both at their defaults (its range is fscale)."""
    if scale_rule not in SCALE_RULES:
        raise ValueError(f"scale_rule must be one of {SCALE_RULES}, got {scale_rule!r}")
    if not scale_factor > 0:
        raise ValueError(f"scale_factor must be > 0, got {scale_factor!r}")
    if mode == "fixed" and (scale_rule != "max_abs" or scale_factor != 1.0):
        raise ValueError(
            "scale_rule and scale_factor set the ranges of 'dynamic' and 'per_channel'; the fixed "
            "range is fscale (leave them at 'max_abs' and 1.0)"
        )


def range_scales(
    p: DiscreteSSM,
    mode: RangeMode,
    fscale: float,
    bits: int | tuple[int, int, int] | None = None,
    scale_rule: ScaleRule = "max_abs",
    scale_factor: float = 1.0,
) -> dict[str, tuple[Tensor, Tensor]]:
    """fscale (Re, Im) for each of A_bar, B_bar, C under a range mode; detached, no gradient.

    ``fixed``: ``fscale`` everywhere. ``dynamic``: per tensor, Re and Im apart; ``per_channel``: one
    (H, 1) range over Re/Im of A_bar_h, B_bar_h, C_h. Their range is ``scale_rule``'s (``max_abs``:
    max|x|; ``mse``: the fitted range of ``mse_scale``, which needs ``bits``, one width or
    (bits_A, bits_B, bits_C)) times ``scale_factor``. The fit assumes plain rounding; under a pole
    cap the caller passes the projected A_bar (as ``quantize_ssm`` does) and ``quantize_pole`` then
    rounds on the fitted grid, moving only the corners outside the disc.
    """
    if mode not in ("fixed", "dynamic", "per_channel"):
        raise ValueError(f"range mode must be 'fixed', 'dynamic' or 'per_channel', got {mode!r}")
    check_scale_rule(mode, scale_rule, scale_factor)
    parts = {"A_bar": p.A_bar, "B_bar": p.B_bar, "C": p.C}
    if mode == "fixed":
        f = torch.tensor(fscale, dtype=p.A_bar.real.dtype, device=p.A_bar.device)
        return {k: (f, f) for k in parts}
    if scale_rule == "mse":
        if bits is None:
            raise ValueError("scale_rule 'mse' fits the range to the grid: give bits")
        nbits = dict(zip(parts, (bits, bits, bits) if isinstance(bits, int) else bits, strict=True))
    if mode == "dynamic":
        if scale_rule == "max_abs":
            out = {k: (_max_abs(v.real), _max_abs(v.imag)) for k, v in parts.items()}
        else:
            out = {
                k: (mse_scale(v.real, nbits[k]), mse_scale(v.imag, nbits[k]))
                for k, v in parts.items()
            }
    else:
        if scale_rule == "max_abs":
            stacked = torch.cat(
                [torch.view_as_real(v.resolve_conj()).flatten(1) for v in parts.values()], 1
            )  # (H, 6N)
            f = _max_abs(stacked, dim=1).unsqueeze(-1)  # (H, 1)
        else:
            segments = [
                (torch.view_as_real(v.resolve_conj()).flatten(1), nbits[k])
                for k, v in parts.items()
            ]
            # (H, 1): A_bar, B_bar, C together, each on its own grid
            f = _fit_mse(segments).unsqueeze(-1)
        out = {k: (f, f) for k in parts}
    if scale_factor != 1.0:
        out = {k: (re * scale_factor, im * scale_factor) for k, (re, im) in out.items()}
    return out
