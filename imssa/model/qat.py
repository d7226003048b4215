"""Quantization-aware training (QAT) of S4D: the quantized SSM, range equalization and the layer.

``quantize_ssm`` quantizes A_bar, B_bar and C of a discrete SSM under a range mode and scale rule
(``quant``), A_bar through the pole cap when one is set (``poles``); ``equalize_layer`` rescales B
and C so that a fixed range is filled; ``QuantS4D`` is the S4D layer whose forward pass uses the
quantized parameters (with the STE), optionally with weight noise (noise-aware QAT), a pole
penalty and a log-radius grid for A_bar.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .poles import pole_penalty, project_disc, quantize_log_radius, quantize_pole
from .quant import RangeMode, ScaleRule, check_scale_rule, q_max, quantize_complex, range_scales
from .s4d import S4D, DiscreteSSM

__all__ = ["QuantS4D", "equalize_layer", "quantize_ssm"]


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
                "need weight_noise >= 0, pole_penalty >= 0 and, with a penalty, pole_target in "
                f"(0, 1); got {weight_noise}, {pole_penalty}, {pole_target}"
            )
        check_scale_rule(range_mode, scale_rule, scale_factor)
        if self.real and min(bits, *bits_per_matrix) < 2:
            raise ValueError(
                "the real-valued variant needs >= 2 bits: the 1-bit grid has no zero for its "
                "imaginary parts"
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
        # bits of A_bar's log-radius codebook; None: the Cartesian grid
        self.polar_bits = polar_bits

    def _quantize(self, p: DiscreteSSM) -> DiscreteSSM:
        if self.polar_bits is not None:
            # the pole on its codebook, then its parts on the storage grid
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
        """(Re, Im) ranges of A_bar, B_bar, C under the layer's range mode and scale rule
        (``range_scales``)."""
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
