"""Poles of a quantized A_bar: the pole cap, the stability rule, the grid's slowest poles and the
log-radius codebook.

**Stability.** Rounding Re and Im separately can put A_bar on or outside the unit circle (the
grid corner fscale (1 + i) has modulus sqrt(2) fscale). With a pole cap ``r_max`` < 1,
``quantize_pole`` first projects A_bar radially into |z| <= r_max and then takes the nearest
grid point inside that disc: the quantized recurrence is stable by construction, on the same
Cartesian grid that the crossbar stores. Without a cap, a pole with |A_bar| >= 1 raises
``UnstableSSMError`` (``check_stability``): one stop rule for every range mode, never a run kept
with an unstable recurrence.

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

import torch
from torch import Tensor

from .quant import grid_levels, q_max, quantize_complex

__all__ = [
    "POLAR_STORAGE_BITS",
    "UnstableSSMError",
    "check_stability",
    "complex_grid",
    "log_radius_grid",
    "pole_penalty",
    "project_disc",
    "quantize_log_radius",
    "quantize_pole",
    "slowest_grid_pole",
]


class UnstableSSMError(RuntimeError):
    """A (quantized) recurrence with a pole on or outside the unit circle: its state does not
    decay."""


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


def project_disc(z: Tensor, r_max: float) -> Tensor:
    """Radial projection of complex ``z`` into the closed disc |z| <= r_max (identity inside it)."""
    mod = z.abs().clamp_min(torch.finfo(z.real.dtype).tiny)
    return z * torch.clamp(r_max / mod, max=1.0)


def quantize_pole(
    z: Tensor, bits: int, fscale_re: Tensor | float, fscale_im: Tensor | float, r_max: float
) -> Tensor:
    """Quantize poles ``z`` (complex) to the nearest grid point of modulus <= ``r_max`` < 1, with
    STE.

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
    # a range taken from zp itself may exceed r_max by rounding
    bound = r_max * (1 + 8 * torch.finfo(zp.real.dtype).eps)
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
        values = torch.stack([level.floor(), level.ceil()]) * (f / qm)  # (2, ...)
        parts.append((values, x, f))
    (re, x_re, f_re), (im, x_im, f_im) = parts
    cand = torch.complex(
        re[:, None].expand(2, 2, *re.shape[1:]), im[None, :].expand(2, 2, *im.shape[1:])
    )
    dist = (cand - zp.detach()).abs().masked_fill(cand.abs() > bound, float("inf"))
    best = dist.flatten(0, 1).argmin(0, keepdim=True)
    q = cand.flatten(0, 1).gather(0, best)[0]
    ste = lambda x, v, f: v + (x - x.detach()) * (x.detach().abs() <= f)  # noqa: E731 (value v, gradient of x)
    return torch.complex(ste(x_re, q.real, f_re), ste(x_im, q.imag, f_im))


def complex_grid(bits: int, fscale: float) -> Tensor:
    """Every value a quantized complex A_bar can take: Re and Im each on ``grid_levels``.
    (G,) complex."""
    v = grid_levels(bits, fscale)
    return torch.complex(
        v[:, None].expand(len(v), len(v)), v[None, :].expand(len(v), len(v))
    ).flatten()


#: bits of the Cartesian grid on which the array holds a log-radius pole's parts (fine enough to be
#: analog)
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
        # the largest |Im| each Re part allows
        im_room = torch.sqrt((r_max**2 - re**2).clamp_min(0))
        im = levels[levels >= 0]
        # the largest grid |Im| within it
        best = im[torch.searchsorted(im, im_room + 1e-12, right=True) - 1]
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


def pole_penalty(A_bar: Tensor, target: float) -> Tensor:
    """Hinge penalty on poles outside the disc of radius ``target``:
    sum_n max(0, |A_bar_n| - target)^2 divided by the number of channels (A_bar: (H, N) complex).
    Zero exactly when max|A_bar| <= target."""
    return torch.relu(A_bar.abs() - target).pow(2).sum() / A_bar.shape[0]
