"""Mapping a (quantized) S4D layer onto a memristive crossbar array.

1. Complex -> real: each complex mode n becomes a real pair (Re x_n, Im x_n), interleaved, so
   A_bar_n acts as the 2x2 block [[Re, -Im], [Im, Re]], B_bar_n as the column [Re, Im] and the
   readout 2 Re(C_n x_n) = 2 (Re C_n Re x_n - Im C_n Im x_n) as the row [Re C_n, -Im C_n] with a
   gain of 2 in the periphery (so C keeps the grid of the QAT chapter).
2. One matrix per channel: W = [[A_r, B_r], [C_r, 0]] of size (2N+1) x (2N+1) maps
   [x_{t-1}; u_t] to [x_t; y'_{t-1}] (y' = C_r x): state update and readout in **one**
   vector-matrix multiplication. The array holds W transposed: inputs drive rows, outputs
   are read as column currents.
3. Differential pairs: W = fscale (G+ - G-) / (g_max - g_min). A grid value k s (|k| <= q_max)
   becomes G = g_min + |k| / q_max (g_max - g_min) on the side of its sign and g_min on the
   other, so a ternary weight uses two device states.

Conductances are in microsiemens (uS).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ..model.quant import q_max
from ..model.s4d import DiscreteSSM

__all__ = [
    "Layout",
    "combined_matrix",
    "device_map",
    "entry_grid",
    "expand_complex",
    "from_conductance",
    "layout",
    "pairs_per_weight",
    "real_pole_mask",
    "split_combined",
    "structural_mask",
    "to_conductance",
]


def expand_complex(A_bar: Tensor, B_bar: Tensor, C: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Real form of the complex diagonal SSM, states interleaved (Re x_1, Im x_1, Re x_2, ...).

    A_bar, B_bar, C: (..., N) complex. Returns A_r (..., 2N, 2N) block diagonal, B_r (..., 2N)
    and C_r (..., 2N) with y = 2 C_r . x_r equal to 2 Re(C x).
    """
    a, b = A_bar.real, A_bar.imag
    blocks = torch.stack([torch.stack([a, -b], -1), torch.stack([b, a], -1)], -2)  # (..., N, 2, 2)
    N = A_bar.shape[-1]
    eye = torch.eye(N, dtype=a.dtype, device=a.device)
    A_r = torch.einsum("...nij,nm->...nimj", blocks, eye).reshape(*A_bar.shape[:-1], 2 * N, 2 * N)
    B_r = torch.stack([B_bar.real, B_bar.imag], -1).flatten(-2)
    C_r = torch.stack([C.real, -C.imag], -1).flatten(-2)
    return A_r, B_r, C_r


def combined_matrix(p: DiscreteSSM, real: bool = False) -> Tensor:
    """Per-channel W = [[A_r, B_r], [C_r, 0]], shape (H, 2N+1, 2N+1): [x_t; y'_{t-1}] =
    W [x_{t-1}; u_t].

    ``real``: the real-valued variant (imaginary parts zero), whose N real modes need no expansion:
    A_r = diag(A_bar), B_r = B_bar, C_r = C, shape (H, N+1, N+1)."""
    if real:
        if any(bool((t.imag != 0).any()) for t in (p.A_bar, p.B_bar, p.C) if t.is_complex()):
            raise ValueError(
                "real=True maps a real-valued SSM; these parameters have imaginary parts"
            )
        A_r, B_r, C_r = torch.diag_embed(p.A_bar.real), p.B_bar.real, p.C.real
    else:
        A_r, B_r, C_r = expand_complex(p.A_bar, p.B_bar, p.C)
    H, n = A_r.shape[0], A_r.shape[-1] + 1
    W = A_r.new_zeros(H, n, n)
    W[:, :-1, :-1] = A_r
    W[:, :-1, -1] = B_r
    W[:, -1, :-1] = C_r
    return W


def structural_mask(H: int, N: int, real: bool = False, real_poles: Tensor | None = None) -> Tensor:
    """True where the combined matrix of any S4D layer can be non-zero: the 2x2 diagonal blocks
    of A_r, the column B_r and the row C_r. Shape (H, 2N+1, 2N+1), bool. Everything else is a
    structural zero: modes never couple, and the corner is 0. ``real``: the real-valued variant's
    diagonal A_r, column and row, (H, N+1, N+1).

    ``real_poles``: the layer's (quantized) A_bar, (H, N) complex: the two off-diagonal entries
    -b, b of every mode whose imaginary part b is exactly 0 become structural zeros too
    (``real_pole_mask``; no effect with ``real``, whose A_r is diagonal already)."""
    # a layout: CPU
    ones = torch.ones(H, N, dtype=torch.complex128, device="cpu") * (1 if real else 1 + 1j)
    mask = (
        combined_matrix(
            DiscreteSSM(ones, ones, ones, torch.ones(H, dtype=torch.float64, device="cpu")), real
        )
        != 0
    )
    return mask if real_poles is None or real else mask & ~real_pole_mask(real_poles).cpu()


def real_pole_mask(A_bar: Tensor) -> Tensor:
    """True at the off-diagonal cross-points (2n, 2n+1) and (2n+1, 2n) of the combined matrix of the
    modes n with Im A_bar_n == 0 exactly (real poles): A_bar (H, N) complex, result (H, 2N+1, 2N+1)
    bool. Left unprogrammed, they hold an exact zero instead of a noisy one: the block of a real
    pole a becomes diag(a + e1, a + e2) (``margin``'s ``real_zeros``)."""
    H, N = A_bar.shape
    zero = (
        (A_bar.imag == 0)
        if A_bar.is_complex()
        else torch.ones(H, N, dtype=torch.bool, device=A_bar.device)
    )
    out = torch.zeros(H, 2 * N + 1, 2 * N + 1, dtype=torch.bool, device=A_bar.device)
    n = torch.arange(N, device=A_bar.device)
    out[:, 2 * n, 2 * n + 1] = zero
    out[:, 2 * n + 1, 2 * n] = zero
    return out


def split_combined(W: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Inverse view of ``combined_matrix`` for any (..., 2N+1, 2N+1): (A_r, B_r, C_r) real
    blocks."""
    return W[..., :-1, :-1], W[..., :-1, -1], W[..., -1, :-1]


def to_conductance(
    W: Tensor,
    bits: int | Tensor,
    fscale: float | Tensor,
    g_min: float,
    g_max: float,
    array_scale: float | Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Differential pair (G+, G-) in uS for weights on the grid of ``bits`` and ``fscale``.

    Each weight's level |k| = |W| / s (s = fscale / q_max; binary: |W| = fscale, level 1) maps to
    g_min + |k| / q_max (fscale / array_scale) (g_max - g_min): with one fixed range
    (``array_scale`` = ``fscale``, the default) the top level is g_max. ``bits`` and ``fscale`` may
    be tensors broadcastable to W, one grid per entry (mixed precision, ranges per tensor or
    channel: ``entry_grid``), and ``array_scale`` the weight that g_max - g_min stands for on each
    channel's block, broadcastable to W (e.g. (H, 1, 1)); a range below it uses part of the window.
    Raises ValueError for weights off their grid or out of range.
    """
    if not 0 <= g_min < g_max:
        raise ValueError(f"need 0 <= g_min < g_max (uS), got g_min={g_min}, g_max={g_max}")
    if isinstance(bits, int):
        qm: int | Tensor = q_max(bits)
    else:
        if (bits < 1).any():
            raise ValueError("bits must be >= 1")
        qm = torch.where(bits == 1, 1, 2 ** (bits - 1) - 1).to(W.dtype)
    level = W.abs() / fscale * qm
    qmax = float(qm if isinstance(qm, int) else qm.max())
    tol = max(1e-4, 4 * qmax * torch.finfo(torch.float32).eps)  # trained weights arrive in float32
    where = f"the range fscale={fscale}" if isinstance(fscale, float) else "their per-entry range"
    if (level > qm + tol).any():
        raise ValueError(
            f"weights exceed {where}: max |W| / range = {float((level / qm).max()):.4g}"
        )
    if (level - level.round()).abs().max() > tol:  # level 0 (a structural zero) is always allowed
        raise ValueError(
            f"weights are not on the {bits if isinstance(bits, int) else 'per-entry'}-bit grid of "
            f"{where}; quantize them first"
        )
    frac = level.round() / qm
    if array_scale is not None:
        share = fscale / array_scale
        if (torch.as_tensor(share, device="cpu") > 1 + tol).any():
            raise ValueError(
                "a range exceeds its array scale: the array scale is the largest range of the block"
            )
        frac = frac * share
    g = g_min + frac * (g_max - g_min)
    G_pos = torch.where(W > 0, g, torch.full_like(g, g_min))
    G_neg = torch.where(W < 0, g, torch.full_like(g, g_min))
    return G_pos, G_neg


def entry_grid(
    ranges: dict[str, tuple[Tensor, Tensor]], bits: tuple[int, int, int], H: int, N: int
) -> tuple[Tensor, Tensor]:
    """Per entry of the combined matrix (H, 2N+1, 2N+1): the range (fscale of its grid) and its
    bits.

    ``ranges`` maps A_bar, B_bar, C to (Re, Im) ranges (scalars or (H, 1), ``quant.range_scales``);
    ``bits`` = (bits_A, bits_B, bits_C). Structural zeros get the largest range of their channel
    (any value works: their level is 0) and bits 2.
    """

    def part(key: str, values: tuple[Tensor, Tensor]) -> Tensor:
        re, im = (
            torch.as_tensor(v, dtype=torch.float64, device="cpu").reshape(-1, 1).expand(H, N)
            for v in values
        )
        return torch.complex(re, im)

    fs = combined_matrix(
        DiscreteSSM(
            *(part(k, ranges[k]) for k in ("A_bar", "B_bar", "C")),
            torch.ones(H, dtype=torch.float64, device="cpu"),
        )
    ).abs()
    ones = torch.ones(H, N, dtype=torch.complex128, device="cpu") * (1 + 1j)
    b = (
        combined_matrix(
            DiscreteSSM(*(ones * k for k in bits), torch.ones(H, dtype=torch.float64, device="cpu"))
        )
        .abs()
        .round()
    )
    top = fs.flatten(1).amax(1)[:, None, None].expand_as(fs)
    return torch.where(fs > 0, fs, top), torch.where(b > 0, b, 2).long()


def from_conductance(
    G_pos: Tensor, G_neg: Tensor, fscale: float, g_min: float, g_max: float
) -> Tensor:
    """Weights read back from a differential pair: W = fscale (G+ - G-) / (g_max - g_min)."""
    return fscale * (G_pos - G_neg) / (g_max - g_min)


@dataclass(frozen=True)
class Layout:
    """Placement of H channel blocks (``copies`` x n input rows x 2n columns, G+ and G- side by
    side) on arrays of ``rows`` x ``cols`` cross-points. A block larger than one array is split into
    sub-blocks whose partial column currents are summed in the periphery. ``kind``: 'block' programs
    only the cross-points a mode uses (the rest hold no programmed device), 'dense' all of them."""

    H: int
    n: int
    rows: int
    cols: int
    row_tiles_per_block: int
    col_tiles_per_block: int
    blocks_per_array: int
    arrays: int
    copies: int = 1
    kind: str = "dense"
    real: bool = False  # the real-valued variant: n = N + 1, a diagonal A_r

    @property
    def devices_per_element(self) -> int:
        """Devices per complex element of A_bar: 2 x 2 real entries, a pair each, ``copies``
        times."""
        return 8 * self.copies

    @property
    def cross_points(self) -> int:
        """Cross-points the channel blocks occupy (programmed or not)."""
        return self.H * self.copies * self.n * 2 * self.n

    @property
    def devices(self) -> int:
        """Programmed devices: every cross-point of every block (dense), or only the 2x2 blocks of
        A_r, the column B_r and the row C_r (block: 8N real entries per channel; 3N for the real
        variant's diagonal), 2 per pair, ``copies`` pairs per entry."""
        N = self.states if self.real else self.states // 2
        entries = self.n * self.n if self.kind == "dense" else (3 if self.real else 8) * N
        return self.H * entries * 2 * self.copies

    @property
    def states(self) -> int:
        """Real state dimensions per channel (n - 1)."""
        return self.n - 1

    @property
    def devices_per_state(self) -> float:
        """Programmed devices per real state dimension of the layer."""
        return self.devices / (self.H * self.states)

    @property
    def utilisation(self) -> float:
        """Programmed devices over all cross-points of the arrays used."""
        return self.devices / (self.arrays * self.rows * self.cols)

    def describe(self) -> str:
        """How the blocks sit on the arrays, in one or two sentences (for the book's prose)."""
        block = f"Each channel is a {self.copies * self.n} x {2 * self.n} block"
        if self.blocks_per_array:
            return (
                f"{block}; {self.blocks_per_array} of them fit on one {self.rows} x {self.cols} "
                "array along its diagonal, on distinct rows and columns, so channels never mix: "
                f"{self.arrays} arrays hold the {self.H} channels."
            )
        parts = []
        if self.col_tiles_per_block > 1:
            parts.append(
                f"its {2 * self.n} columns exceed the array's {self.cols}, so they are split over "
                f"{self.col_tiles_per_block} arrays driven by the same input rows, each delivering "
                "complete output currents for its columns"
            )
        if self.row_tiles_per_block > 1:
            parts.append(
                f"its {self.copies * self.n} rows exceed the array's {self.rows}, so they are "
                f"split over {self.row_tiles_per_block} arrays whose partial column currents are "
                "summed in the periphery"
            )
        return (
            f"{block}, larger than one {self.rows} x {self.cols} array: "
            + "; ".join(parts)
            + f". Each channel takes {self.row_tiles_per_block * self.col_tiles_per_block} arrays "
            f"of its own, {self.arrays} in all."
        )


def pairs_per_weight(devices_per_element: int) -> int:
    """Differential pairs carrying each real weight when a complex element of A_bar (a 2x2 real
    block, one pair per entry) gets ``devices_per_element`` devices: 8 -> 1, 16 -> 2 (the paper's
    4 x 4 block). Raises ValueError unless it is a positive multiple of 8."""
    if (
        isinstance(devices_per_element, bool)
        or not isinstance(devices_per_element, int)
        or devices_per_element < 8
        or devices_per_element % 8
    ):
        raise ValueError(
            f"devices_per_element must be a multiple of 8, got {devices_per_element!r}"
        )
    return devices_per_element // 8


def layout(
    H: int,
    n: int,
    rows: int = 64,
    cols: int = 64,
    kind: str = "dense",
    devices_per_element: int = 8,
    real: bool = False,
) -> Layout:
    """Block-diagonal placement of the H per-channel matrices (n = 2N+1; N+1 for the ``real``
    variant) on rows x cols arrays.

    Each input line is repeated ``devices_per_element / 8`` times (duplicate devices whose currents
    add). Blocks that fit are packed along the diagonal of an array (distinct rows and columns, so
    channels do not mix); larger blocks are tiled over several arrays.
    """
    if min(H, n, rows, cols) < 1:
        raise ValueError(f"H, n, rows and cols must be >= 1, got {H}, {n}, {rows}, {cols}")
    if kind not in ("dense", "block"):
        raise ValueError(f"kind must be 'dense' or 'block', got {kind!r}")
    copies = pairs_per_weight(devices_per_element)
    r_tiles, c_tiles = math.ceil(copies * n / rows), math.ceil(2 * n / cols)
    if r_tiles == 1 and c_tiles == 1:
        per_array = min(rows // (copies * n), cols // (2 * n))
        arrays = math.ceil(H / per_array)
    else:
        per_array = 0
        arrays = H * r_tiles * c_tiles
    return Layout(H, n, rows, cols, r_tiles, c_tiles, per_array, arrays, copies, kind, real)


def device_map(G_pos: Tensor, G_neg: Tensor, used: Tensor | None = None, copies: int = 1) -> Tensor:
    """The cross-points of one channel's block as the array holds them, (copies n, 2n), uS: input j
    drives rows j copies ... (j+1) copies - 1, output i is read on columns 2i (G+) and 2i+1 (G-).
    G_pos, G_neg, used: (n, n) for one channel (outputs x inputs). Cross-points with no
    programmed device (``used`` False) are NaN."""
    if G_pos.shape != G_neg.shape or G_pos.dim() != 2 or G_pos.shape[0] != G_pos.shape[1]:
        raise ValueError(
            f"expected two (n, n) conductance matrices, got {tuple(G_pos.shape)} and "
            f"{tuple(G_neg.shape)}"
        )
    if used is not None:
        G_pos, G_neg = (torch.where(used, G, torch.full_like(G, math.nan)) for G in (G_pos, G_neg))
    cols = torch.stack([G_pos.T, G_neg.T], -1).flatten(-2)  # (inputs, 2 outputs)
    return cols.repeat_interleave(copies, 0)
