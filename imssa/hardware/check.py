"""The check after programming: measure each channel's response and decide which to reprogram.

A chip can apply an impulse to a channel's input row and read its readout for a few hundred steps:
that is the channel's kernel K_k = 2 C_r A_r^k B_r (``analog.fast_kernels``), the whole of what the
channel computes from its input (D u is digital). ``channel_errors`` compares it with the target's,
``failing_channels`` marks the channels to reprogram: unstable ones (spectral radius >= 1, whose
response grows) and those further than a tolerance from their target. ``check_after_programming``
runs the loop (``DeviceConfig.check_tolerance``), called by ``deploy.deployed_weights``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .analog import effective_weights, fast_kernels
from .conductance import program
from .devices import DeviceConfig
from .step import mode_blocks

__all__ = [
    "SILENT_FRACTION",
    "channel_errors",
    "channel_radius",
    "check_after_programming",
    "failing_channels",
]

#: Floor of the norm a channel's kernel error is divided by, as a fraction of the layer's largest
#: target kernel norm: a silent channel (its quantized B_bar or C zero, its kernel ~1e-17 from
#: rounding) is judged by an absolute error on the layer's scale, not by a ratio to nothing.
SILENT_FRACTION = 1e-3


def channel_errors(W: Tensor, target: Tensor, steps: int) -> Tensor:
    """Relative L2 error ||K - K*|| / ||K*|| of each channel's kernel over ``steps`` steps, for
    programmed arrays W (R, H, n, n) against the target's combined matrices (1, H, n, n): (R, H).
    Infinite where the response overflows. A channel whose target kernel is (numerically) silent is
    compared against ``SILENT_FRACTION`` of the layer's largest target kernel norm instead of its
    own."""
    K = fast_kernels(W.double(), steps)
    K_star = fast_kernels(target.double(), steps)
    ref = K_star.norm(dim=-1)
    floor = SILENT_FRACTION * ref.amax(-1, keepdim=True).clamp_min(torch.finfo(ref.dtype).tiny)
    err = (K - K_star).norm(dim=-1) / torch.maximum(ref, floor)
    return torch.nan_to_num(err, nan=torch.inf)


def channel_radius(W: Tensor, squarings: int = 12) -> Tensor:
    """Spectral radius of each channel's state matrix A_r, (R, H), for programmed arrays
    W (R, H, n, n).

    Where modes do not couple (block layout, no device off the blocks) it is exact, from the
    eigenvalues (tr +- sqrt(tr^2 - 4 det)) / 2 of each 2x2 block. Otherwise it is estimated as
    ||A^k||^(1/k) with k = 2^squarings (4096 by default, longer than the sequences used here) by
    repeated, rescaled squaring: robust where an eigenvalue solver may not converge, and an upper
    bound within a factor dim^(1/k) (< 0.1%) of the true radius. At 1 or above, programming noise
    has made that channel's recurrence unstable.
    """
    blocks = mode_blocks(W.double())
    if blocks is not None:
        a00, a01, a10, a11 = (t[:, 0] for t in blocks[:4])
        tr, det = a00 + a11, a00 * a11 - a01 * a10
        root = torch.sqrt((tr**2 - 4 * det).to(torch.complex128))
        return torch.stack([(tr + root) / 2, (tr - root) / 2], -1).abs().amax((-2, -1))
    A = W[..., :-1, :-1].double()
    tiny = torch.finfo(A.dtype).tiny
    log_norm = A.new_zeros(A.shape[:-2])
    for _ in range(squarings):
        scale = A.abs().amax((-2, -1)).clamp_min(tiny)
        log_norm = 2 * (log_norm + scale.log())
        A = A / scale[..., None, None]
        A = A @ A
    return ((log_norm + torch.linalg.matrix_norm(A).clamp_min(tiny).log()) / 2**squarings).exp()


def failing_channels(W: Tensor, target: Tensor, tolerance: float, steps: int) -> Tensor:
    """Channels to reprogram, (R, H) bool: unstable (radius >= 1) or with a kernel error above
    ``tolerance`` (``channel_errors``)."""
    if tolerance <= 0 or steps < 1:
        raise ValueError(f"need tolerance > 0 and steps >= 1, got {tolerance}, {steps}")
    return (channel_radius(W) >= 1) | (channel_errors(W, target, steps) > tolerance)


def check_after_programming(
    W: Tensor,
    G: tuple[Tensor, Tensor],
    targets: tuple[Tensor, Tensor],
    target_W: Tensor,
    scale: float | Tensor,
    dev: DeviceConfig,
    gen: torch.Generator,
    used: Tensor | None,
    copies: int,
    stats: dict[str, Tensor],
    t_s: float,
) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """The check after programming (``dev.check_tolerance``): every channel's impulse response over
    ``check_steps`` steps is measured (ASSUMPTION: exactly, e.g. averaged over many reads) and
    compared with its target's (``channel_errors``); failing channels (unstable, or a relative
    error above the tolerance) are reprogrammed with fresh draws, up to ``check_max_rounds`` rounds.
    The first programming is the one without the check, so the two are paired. ``stats`` gains
    ``check_rounds`` (R,: rounds that reprogrammed something), ``reprogrammed`` (R,: channel
    reprogrammings), ``failing`` (R,: channels still failing at the end), and ``pulses`` counts the
    extra pulses (per programmed device, as ``program``)."""
    check = lambda W: failing_channels(W, target_W, dev.check_tolerance, dev.check_steps)  # noqa: E731
    R = W.shape[0]
    rounds, redone = W.new_zeros(R, dtype=torch.float32), W.new_zeros(R, dtype=torch.float32)
    pulses = stats["pulses"].clone()
    # programmed devices per programming
    devices = 2 * copies * (targets[0].numel() if used is None else int(used.sum()))
    G_t0 = stats.get("G_t0")
    bad = check(W)  # (R, H)
    for _ in range(dev.check_max_rounds):
        if not bad.any():
            break
        r, h = bad.nonzero(as_tuple=True)  # only the failing channels are programmed again
        again: dict[str, Tensor] = {}
        new = program(
            targets[0][h],
            targets[1][h],
            1,
            dev,
            generator=gen,
            used=None if used is None else used[h],
            copies=copies,
            stats=again,
            t_s=t_s,
        )
        G = tuple(g.index_put((r, h), g_new[0]) for g, g_new in zip(G, new, strict=True))
        if G_t0 is not None:
            G_t0 = tuple(
                g.index_put((r, h), g_new[0]) for g, g_new in zip(G_t0, again["G_t0"], strict=True)
            )
        pulses = pulses.index_add(0, r, again["device_pulses"][0].flatten(1).sum(1) / devices)
        rounds, redone = rounds + bad.any(1), redone + bad.sum(1)
        W = effective_weights(*G, scale, dev.g_min_uS, dev.g_max_uS)
        bad = check(W)
    stats.update(
        pulses=pulses, check_rounds=rounds, reprogrammed=redone, failing=bad.sum(1).double()
    )
    if G_t0 is not None:
        stats["G_t0"] = G_t0
    return W, G
