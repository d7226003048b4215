"""Quantization of the discrete S4D parameters, with a straight-through estimator (STE).

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

**Stability.** Rounding Re and Im separately can put A_bar on or outside the unit circle (the
grid corner fscale (1 + i) has modulus sqrt(2) fscale). With a pole cap ``r_max`` < 1,
``quantize_pole`` first projects A_bar radially into |z| <= r_max and then takes the nearest
grid point inside that disc: the quantized recurrence is stable by construction, on the same
Cartesian grid that the crossbar stores. Without a cap, a
pole with |A_bar| >= 1 raises ``UnstableSSMError`` (``check_stability``): one stop rule for
every range mode, never a run kept with an unstable recurrence.

**A log-radius grid for A_bar** (``a_grid='log_radius'``, fixed range with a cap only). A Cartesian
grid of step fscale / q_max holds few radii near the unit circle, where slow modes live. The
log-radius grid places the pole itself on a polar codebook of ``bits_A`` bits
(``log_radius_grid``): radius levels r_max^(2^j), j = 0 .. 2^b_r - 2, and 0 (time constants an
octave apart from the longest the cap allows), at 2^b_t angles k 2 pi / 2^b_t, with
b_r = ceil(bits_A / 2) and b_t = bits_A - b_r. The array still stores the pole's Cartesian parts:
they are held on the ``POLAR_STORAGE_BITS``-bit grid of the fixed range (analog conductances to
the simulation), and how finely a device must hold them is the chapter's question.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from .s4d import S4D, DiscreteSSM

__all__ = [
    "QuantS4D",
    "RangeMode",
    "UnstableSSMError",
    "check_stability",
    "complex_grid",
    "equalize_layer",
    "grid_levels",
    "log_radius_grid",
    "POLAR_STORAGE_BITS",
    "quantize_log_radius",
    "mse_scale",
    "pole_penalty",
    "project_disc",
    "q_max",
    "quantize",
    "quantize_complex",
    "quantize_pole",
    "quantize_ssm",
    "range_scales",
    "slowest_grid_pole",
    "ScaleRule",
    "SCALE_RULES",
    "twn_scale",
]

RangeMode = Literal["fixed", "dynamic", "per_channel"]
ScaleRule = Literal["max_abs", "mse"]
SCALE_RULES: tuple[str, ...] = ("max_abs", "mse")


class UnstableSSMError(RuntimeError):
    """A (quantized) recurrence with a pole on or outside the unit circle: its state does not decay."""


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


def complex_grid(bits: int, fscale: float) -> Tensor:
    """Every value a quantized complex A_bar can take: Re and Im each on ``grid_levels``. (G,) complex."""
    v = grid_levels(bits, fscale)
    return torch.complex(
        v[:, None].expand(len(v), len(v)), v[None, :].expand(len(v), len(v))
    ).flatten()


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


def project_disc(z: Tensor, r_max: float) -> Tensor:
    """Radial projection of complex ``z`` into the closed disc |z| <= r_max (identity inside it)."""
    mod = z.abs().clamp_min(torch.finfo(z.real.dtype).tiny)
    return z * torch.clamp(r_max / mod, max=1.0)


def quantize_pole(
    z: Tensor, bits: int, fscale_re: Tensor | float, fscale_im: Tensor | float, r_max: float
) -> Tensor:
    """Quantize poles ``z`` (complex) to the nearest grid point of modulus <= ``r_max`` < 1, with STE.

    ``z`` is projected into the disc of radius ``r_max``; of the (up to) four grid points around
    it (each part rounded down or up) the nearest one inside the disc is taken. That is plain
    rounding wherever plain rounding stays inside, and a stable point always exists among the
    four: the one rounded toward zero, whose modulus is at most |z|. The gradient passes straight
    through where a part lies inside its range. The 1-bit grid has no zero level: if its point
    lies outside the disc, no stable point exists and UnstableSSMError is raised.
    """
    if not 0 < r_max < 1:
        raise ValueError(f"r_max must be in (0, 1), got {r_max}")
    zp = project_disc(z, r_max)
    bound = r_max * (
        1 + 8 * torch.finfo(zp.real.dtype).eps
    )  # a range taken from zp itself may exceed r_max by rounding
    if bits == 1:
        q = quantize_complex(zp, bits, fscale_re, fscale_im)
        if (q.detach().abs() > bound).any():
            raise UnstableSSMError(
                f"the 1-bit grid has no point inside |z| <= {r_max} (max |A_bar| "
                f"{float(q.detach().abs().max()):.4f}); use a smaller range or more bits"
            )
        return q
    qm = q_max(bits)
    parts = []
    for x, f in ((zp.real, fscale_re), (zp.imag, fscale_im)):
        f = torch.as_tensor(f, dtype=x.dtype, device=x.device).detach()
        level = (x.detach() / (f / qm)).clamp(-qm, qm)
        parts.append(
            (torch.stack([level.floor(), level.ceil()]) * (f / qm), x, f)
        )  # (2, ...) values
    (re, x_re, f_re), (im, x_im, f_im) = parts
    cand = torch.complex(
        re[:, None].expand(2, 2, *re.shape[1:]), im[None, :].expand(2, 2, *im.shape[1:])
    )
    dist = (cand - zp.detach()).abs().masked_fill(cand.abs() > bound, float("inf"))
    best = dist.flatten(0, 1).argmin(0, keepdim=True)
    q = cand.flatten(0, 1).gather(0, best)[0]
    ste = lambda x, v, f: v + (x - x.detach()) * (x.detach().abs() <= f)  # noqa: E731 (value v, gradient of x)
    return torch.complex(ste(x_re, q.real, f_re), ste(x_im, q.imag, f_im))


#: bits of the Cartesian grid on which the array holds a log-radius pole's parts (fine enough to be analog)
POLAR_STORAGE_BITS = 16


def log_radius_grid(bits: int, r_max: float) -> tuple[Tensor, Tensor]:
    """The polar codebook of ``bits`` bits under the cap ``r_max``: radii (ascending, 0 first) and
    angles in (-pi, pi] (float64). See the module's docstring."""
    q_max(bits)
    if not 0 < r_max < 1:
        raise ValueError(f"a log-radius grid needs a pole cap r_max in (0, 1), got {r_max}")
    b_r = (bits + 1) // 2
    J = 2**b_r - 1
    radii = torch.exp(torch.log(torch.tensor(r_max, dtype=torch.float64)) * 2.0 ** torch.arange(J))
    M = 2 ** (bits - b_r)
    angles = (
        torch.remainder(
            torch.arange(M, dtype=torch.float64) * 2 * torch.pi / M + torch.pi, 2 * torch.pi
        )
        - torch.pi
    )
    angles = torch.where(angles <= -torch.pi + 1e-12, torch.full_like(angles, torch.pi), angles)
    return torch.cat([torch.zeros(1, dtype=torch.float64), radii.flip(0)]), angles.sort().values


def slowest_grid_pole(
    bits: int, fscale: float, r_max: float, a_grid: str = "cartesian"
) -> dict[str, float]:
    """The slowest poles a grid of A_bar holds inside the cap ``r_max``: ``radius`` (the largest
    |z| of any grid point, at any angle) and ``real_radius`` (the largest real grid point: the
    slowest pole near DC), each with its time constant in steps, -1 / ln r (``steps``,
    ``real_steps``). Cartesian: Re and Im on the ``bits``-bit grid of range ``fscale``; log-radius:
    the codebook of ``log_radius_grid`` (its slowest radius is r_max at every width; its angles
    include 0)."""
    if not 0 < r_max < 1:
        raise ValueError(f"the pole cap r_max must be in (0, 1), got {r_max}")
    if a_grid == "log_radius":
        radius = real = float(log_radius_grid(bits, r_max)[0][-1])
    elif a_grid == "cartesian":
        levels = grid_levels(bits, fscale)
        re = levels[(levels >= 0) & (levels <= r_max + 1e-12)]  # (K,) the Re parts inside the cap
        im_room = torch.sqrt(
            (r_max**2 - re**2).clamp_min(0)
        )  # the largest |Im| each Re part allows
        im = levels[levels >= 0]
        best = im[
            torch.searchsorted(im, im_room + 1e-12, right=True) - 1
        ]  # largest grid |Im| within it
        radius = float(torch.sqrt(re**2 + best**2).max())
        real = float(re.max())
    else:
        raise ValueError(f"a_grid must be 'cartesian' or 'log_radius', got {a_grid!r}")
    steps = lambda r: float("inf") if r >= 1 else 0.0 if r <= 0 else -1.0 / math.log(r)  # noqa: E731
    return {
        "radius": radius,
        "steps": steps(radius),
        "real_radius": real,
        "real_steps": steps(real),
    }


def quantize_log_radius(z: Tensor, bits: int, r_max: float) -> Tensor:
    """Poles ``z`` (complex) on the log-radius codebook of ``bits`` bits under ``r_max``, with a
    straight-through gradient: the decay per step -ln|z| is rounded on the log scale to a level
    -ln r_max 2^j (beyond the fastest level's half octave: radius 0), the angle to the nearest of
    the grid's angles. ``z`` is first projected into |z| <= r_max."""
    radii, angles = log_radius_grid(bits, r_max)
    zp = project_disc(z, r_max)
    u0 = -torch.log(torch.tensor(r_max, dtype=torch.float64))
    u = -torch.log(zp.detach().abs().double().clamp_min(torch.finfo(torch.float64).tiny))
    octave = torch.log2(u / u0)
    J = len(radii) - 1
    j = octave.round().clamp(0, J - 1).long()
    r = torch.where(octave > J - 0.5, torch.zeros_like(u), radii[1:].flip(0)[j])
    step = 2 * torch.pi / len(angles)
    theta = torch.angle(zp.detach()).double()
    k = torch.round(theta / step)
    q = torch.polar(r, k * step).to(zp.dtype)
    return zp + (q - zp).detach()


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
    ternary ``mse_scale`` (exact for its threshold; TWN's 0.7 is fitted to uniform/normal weights)."""
    a = x.detach().abs()
    mean = a.mean() if dim is None else a.mean(dim, keepdim=True)
    keep = a > 0.7 * mean
    s = (
        (a * keep).sum() / keep.sum().clamp_min(1)
        if dim is None
        else (a * keep).sum(dim) / keep.sum(dim).clamp_min(1)
    )
    return s.clamp_min(torch.finfo(x.dtype).tiny)


def _check_rule(mode: str, scale_rule: str, scale_factor: float) -> None:
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
    _check_rule(mode, scale_rule, scale_factor)
    parts = {"A_bar": p.A_bar, "B_bar": p.B_bar, "C": p.C}
    if mode == "fixed":
        f = torch.tensor(fscale, dtype=p.A_bar.real.dtype, device=p.A_bar.device)
        return {k: (f, f) for k in parts}
    if scale_rule == "mse":
        if bits is None:
            raise ValueError("scale_rule 'mse' fits the range to the grid: give bits")
        nbits = dict(zip(parts, (bits, bits, bits) if isinstance(bits, int) else bits))
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
            f = _fit_mse(segments).unsqueeze(
                -1
            )  # (H, 1): A_bar, B_bar, C together, each on its own grid
        out = {k: (f, f) for k in parts}
    if scale_factor != 1.0:
        out = {k: (re * scale_factor, im * scale_factor) for k, (re, im) in out.items()}
    return out


def quantize_ssm(
    p: DiscreteSSM,
    bits: int | tuple[int, int, int],
    mode: RangeMode = "fixed",
    fscale: float = 1.0,
    r_max: float | None = None,
    scale_rule: ScaleRule = "max_abs",
    scale_factor: float = 1.0,
) -> DiscreteSSM:
    """Quantize A_bar, B_bar and C of ``p`` (D untouched). Shapes (H, N) complex, as in ``p``.

    ``bits``: one width for all three, or (bits_A, bits_B, bits_C) for mixed precision; every
    matrix keeps the range of ``mode`` (with a fixed range, one fscale, so a coarser grid is a
    subset of the conductance window's levels only where it nests in the finer one).
    ``scale_rule`` and ``scale_factor`` set the adaptive modes' ranges (``range_scales``).
    With a pole cap ``r_max``, A_bar is first projected into |z| <= r_max (its ranges are those
    of the projected tensor) and rounded by ``quantize_pole``, so every pole stays inside.
    """
    bits_A, bits_B, bits_C = (bits, bits, bits) if isinstance(bits, int) else bits
    if r_max is not None:
        p = p._replace(A_bar=project_disc(p.A_bar, r_max))
    scales = range_scales(p, mode, fscale, (bits_A, bits_B, bits_C), scale_rule, scale_factor)
    q = {
        k: quantize_complex(getattr(p, k), b, *scales[k])
        for k, b in (("B_bar", bits_B), ("C", bits_C))
    }
    A_bar = (
        quantize_complex(p.A_bar, bits_A, *scales["A_bar"])
        if r_max is None
        else quantize_pole(p.A_bar, bits_A, *scales["A_bar"], r_max)
    )
    return DiscreteSSM(A_bar, q["B_bar"], q["C"], p.D)


def pole_penalty(A_bar: Tensor, target: float) -> Tensor:
    """Hinge penalty on poles outside the disc of radius ``target``: sum_n max(0, |A_bar_n| - target)^2
    divided by the number of channels (A_bar: (H, N) complex). Zero exactly when max|A_bar| <= target."""
    return torch.relu(A_bar.abs() - target).pow(2).sum() / A_bar.shape[0]


def check_stability(A_bar: Tensor) -> float:
    """Largest |A_bar|; raise UnstableSSMError if any mode has |A_bar| >= 1.

    The stop rule of the whole book: a mode on the unit circle never forgets and one outside it
    grows without bound, so such a recurrence is reported as unstable, never kept.
    """
    mod = A_bar.detach().abs()
    r = float(mod.max()) if mod.numel() else 0.0
    if r >= 1:
        raise UnstableSSMError(
            f"{int((mod >= 1).sum())} of {mod.numel()} mode(s) with |A_bar| >= 1 (max {r:.4f}); "
            "use a pole cap r_max, a smaller fscale or more bits"
        )
    return r


@torch.no_grad()
def equalize_layer(layer: S4D, fscale: float, input_gain: bool = True) -> Tensor:
    """Rescale B and C of ``layer`` in place, without changing its function, to fill the range.

    Only the product B_bar_n C_n of a mode reaches the output, so each mode can carry its
    magnitude on either side: B_n <- B_n t_n / |B_bar_n| and C_n <- C_n t_n / |C_n| with
    t_n = sqrt(g |B_bar_n| |C_n|). With ``input_gain`` the channel's input may also be scaled by
    1/g (the caller divides it) and D by g, choosing g per channel so that the strongest mode
    reaches |B_bar| = |C| = fscale. Without this, B_bar ~ dt B is far below a fixed range and
    rounds to zero. Returns the per-channel gain g, shape (H,); all ones without ``input_gain``.
    """
    p = layer.float_discrete()
    b, c = p.B_bar.abs(), p.C.abs()
    prod = b * c
    if input_gain:
        g = fscale**2 / torch.clamp(prod.amax(1), min=torch.finfo(prod.dtype).tiny)
    else:
        g = torch.ones_like(layer.D)
    t = torch.sqrt(g.unsqueeze(-1) * prod)
    ok = (b > 0) & (c > 0)
    layer.B.mul_(torch.where(ok, t / torch.where(ok, b, 1), 1).unsqueeze(-1))
    layer.C.mul_(torch.where(ok, t / torch.where(ok, c, 1), 1).unsqueeze(-1))
    layer.D.mul_(g)
    return g


class QuantS4D(S4D):
    """S4D layer whose forward pass uses quantized A_bar, B_bar, C (QAT with the STE).

    The learnable continuous parameters (dt, A, B, C) stay in floating point underneath;
    ``float_discrete()`` still returns the float discrete parameters, ``discrete()`` the quantized
    ones that the hardware would hold.
    """

    #: Poles of a noisy training forward pass are held inside this radius, so that the sequence
    #: kernel stays finite (on hardware such a draw would be an unstable realisation).
    NOISY_POLE_LIMIT = 0.999

    def __init__(
        self,
        *args,
        bits: int,
        range_mode: RangeMode = "fixed",
        fscale: float = 1.0,
        r_max: float | None = None,
        bits_per_matrix: tuple[int, int, int] | None = None,
        weight_noise: float = 0.0,
        pole_penalty: float = 0.0,
        pole_target: float | None = None,
        scale_rule: ScaleRule = "max_abs",
        scale_factor: float = 1.0,
        polar_bits: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        bits_per_matrix = (bits, bits, bits) if bits_per_matrix is None else tuple(bits_per_matrix)
        for b in (bits, *bits_per_matrix):
            q_max(b)  # validates bits
        if fscale <= 0:
            raise ValueError(f"fscale must be > 0, got {fscale}")
        if r_max is not None and not 0 < r_max < 1:
            raise ValueError(f"r_max must be in (0, 1), got {r_max}")
        if (
            weight_noise < 0
            or pole_penalty < 0
            or (pole_penalty > 0 and not 0 < (pole_target or 0) < 1)
        ):
            raise ValueError(
                f"need weight_noise >= 0, pole_penalty >= 0 and, with a penalty, pole_target in (0, 1); "
                f"got {weight_noise}, {pole_penalty}, {pole_target}"
            )
        _check_rule(range_mode, scale_rule, scale_factor)
        if self.real and min(bits, *bits_per_matrix) < 2:
            raise ValueError(
                "the real-valued variant needs >= 2 bits: the 1-bit grid has no zero for its imaginary parts"
            )
        self.range_mode, self.fscale, self.r_max = range_mode, fscale, r_max
        self.bits_per_matrix: tuple[int, int, int] = bits_per_matrix  # type: ignore[assignment]
        self.bits = max(bits_per_matrix)  # the widest grid: the levels a device must hold
        self.weight_noise, self.pole_weight, self.pole_target = (
            weight_noise,
            pole_penalty,
            pole_target,
        )
        self.scale_rule, self.scale_factor = scale_rule, scale_factor
        if polar_bits is not None and (range_mode != "fixed" or r_max is None or self.real):
            raise ValueError(
                "a log-radius grid (polar_bits) needs the fixed range, a pole cap and complex modes"
            )
        self.polar_bits = (
            polar_bits  # bits of A_bar's log-radius codebook; None: the Cartesian grid
        )

    def _quantize(self, p: DiscreteSSM) -> DiscreteSSM:
        if (
            self.polar_bits is not None
        ):  # the pole on its codebook, then its parts on the storage grid
            p = p._replace(A_bar=quantize_log_radius(p.A_bar, self.polar_bits, self.r_max))  # type: ignore[arg-type]
        return quantize_ssm(
            p,
            self.bits_per_matrix,
            self.range_mode,
            self.fscale,
            self.r_max,
            self.scale_rule,
            self.scale_factor,
        )

    def ranges(self) -> dict[str, tuple[Tensor, Tensor]]:
        """(Re, Im) ranges of A_bar, B_bar, C under the layer's range mode and scale rule (``range_scales``)."""
        p = self.float_discrete()
        if self.r_max is not None:
            p = p._replace(A_bar=project_disc(p.A_bar, self.r_max))
        return range_scales(
            p,
            self.range_mode,
            self.fscale,
            self.bits_per_matrix,
            self.scale_rule,
            self.scale_factor,
        )

    def array_scale(self) -> float | Tensor:
        """The weight that g_max - g_min stands for on the array: ``fscale`` with a fixed range (a
        float); otherwise, per channel, the largest range of its A_bar, B_bar and C, (H,) (one
        column gain per channel in the periphery; a smaller range uses part of the window)."""
        if self.range_mode == "fixed":
            return float(self.fscale)
        H = self.D.shape[0]
        parts = [
            f.detach().expand(H, -1) if f.dim() == 2 else f.detach().reshape(1, 1).expand(H, 1)
            for pair in self.ranges().values()
            for f in pair
        ]
        return torch.cat(parts, 1).amax(1)

    def discrete(self) -> DiscreteSSM:
        q = self._quantize(self.float_discrete())
        if not (self.training and self.weight_noise > 0):
            return q
        S = self.array_scale()
        std = self.weight_noise * (S if isinstance(S, float) else S.unsqueeze(-1))
        noisy = {
            k: getattr(q, k)
            + std
            * torch.complex(
                torch.randn_like(getattr(q, k).real), torch.randn_like(getattr(q, k).real)
            )
            for k in ("A_bar", "B_bar", "C")
        }
        return DiscreteSSM(
            project_disc(noisy["A_bar"], self.NOISY_POLE_LIMIT), noisy["B_bar"], noisy["C"], q.D
        )

    def penalty(self) -> Tensor:
        """The pole penalty (``pole_penalty``) times its weight; 0 without one. Its value is that of
        the quantized poles (what the array holds) and its gradient that of the float poles (after
        the cap's projection): the clipped straight-through estimator would block it for every part
        beyond the range, which is where slow poles sit."""
        if self.pole_weight == 0:
            return self.D.new_zeros(())
        p = self.float_discrete()
        A_float = p.A_bar if self.r_max is None else project_disc(p.A_bar, self.r_max)
        A_q = self._quantize(p).A_bar
        A_bar = A_float + (A_q - A_float).detach()
        return self.pole_weight * pole_penalty(A_bar, self.pole_target)  # type: ignore[arg-type]
