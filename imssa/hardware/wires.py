"""Wire resistance (IR drop) of a passive crossbar, as an effective conductance matrix.

Word line i is driven at its left end (voltage V_i), bit line j held at virtual ground by its TIA at
the bottom; every segment between neighbouring cross-points, the segment from the driver to the
first cross-point and the one from the last to the TIA have resistance r (``r_ohm``). The node
voltages follow from Kirchhoff's current law at every cross-point of both lines (2 M N unknowns, a
sparse system solved once with ``scipy.sparse.linalg.splu``); the circuit is linear, so the output
currents are I = G_eff^T V with G_eff (M, N) from M unit-voltage solves. That matrix replaces the
programmed conductances once per programming, so fast mode still applies. The solver is checked
against ``badcrossbar`` (Joksas and Mehonic, SoftwareX 12, 100617 (2020)) in the tests.

A channel's block (``copies`` x n rows, 2n columns, ``crossbar.Layout``) is laid out as: copy c of
input i on row c n + i; the pair of output j on columns 2j (G+) and 2j + 1 (G-). ``extra_rows``
and ``extra_cols`` place it further from the drivers and TIAs (wire segments without devices, as
between the blocks of many channels packed on one large array along its diagonal).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch
from torch import Tensor

__all__ = ["block_conductances", "effective_conductance", "ir_drop_weights"]


def effective_conductance(
    G_S: np.ndarray, r_ohm: float, extra_cols: int = 0, extra_rows: int = 0
) -> np.ndarray:
    """Effective conductances (M, N) in S of a crossbar of device conductances ``G_S`` (M word lines
    x N bit lines, S) with wire resistance ``r_ohm`` per segment: the current into bit line j's TIA
    is sum_i G_eff[i, j] V_i. ``extra_cols``: device-free segments between the drivers and the first
    column; ``extra_rows``: between the last row and the TIAs. r = 0 returns ``G_S``."""
    G = np.asarray(G_S, dtype=float)
    if G.ndim != 2 or (G < 0).any() or not np.isfinite(G).all():
        raise ValueError("G_S must be a finite, non-negative (M, N) matrix of conductances in S")
    if r_ohm < 0 or extra_cols < 0 or extra_rows < 0:
        raise ValueError(
            f"need r_ohm >= 0 and extra segments >= 0, got {r_ohm}, {extra_cols}, {extra_rows}"
        )
    if r_ohm == 0:
        return G.copy()
    M, N = G.shape
    g = 1.0 / r_ohm
    g_src, g_sink = g / (extra_cols + 1), g / (extra_rows + 1)
    w = np.arange(M * N).reshape(M, N)  # word-line node of cross-point (i, j)
    b = w + M * N  # bit-line node
    rows, cols, vals = [], [], []

    def couple(a: np.ndarray, c: np.ndarray, cond: np.ndarray | float) -> None:
        """A conductance between nodes a and c (arrays of node indices)."""
        cond = np.broadcast_to(cond, a.shape).ravel()
        a, c = a.ravel(), c.ravel()
        rows.extend([a, c, a, c])
        cols.extend([a, c, c, a])
        vals.extend([cond, cond, -cond, -cond])

    couple(w[:, :-1], w[:, 1:], g)  # word-line segments
    couple(b[:-1, :], b[1:, :], g)  # bit-line segments
    couple(w, b, G)  # the devices
    diag = np.zeros(2 * M * N)
    diag[w[:, 0]] += g_src  # driver segment (its source side is the known voltage)
    diag[b[-1, :]] += g_sink  # TIA segment (virtual ground)
    A = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(2 * M * N,) * 2
    )
    A = (A + sp.diags(diag)).tocsc()
    rhs = np.zeros((2 * M * N, M))
    rhs[w[:, 0], np.arange(M)] = g_src  # unit voltage on each word line in turn
    V = spla.splu(A).solve(rhs)
    return (g_sink * V[b[-1, :], :]).T  # (M, N): current into each TIA per unit voltage on each row


def block_conductances(G_pos: Tensor, G_neg: Tensor, copies: int) -> np.ndarray:
    """One channel's physical block (copies n, 2n) in uS from its pair conductances (n, n) (output
    row j, input column i; each copy holding the pair's mean, as ``conductance.program``
    returns)."""
    n = G_pos.shape[-1]
    block = np.zeros((copies * n, 2 * n))
    block[:, 0::2] = np.tile(G_pos.T.cpu().numpy(), (copies, 1))
    block[:, 1::2] = np.tile(G_neg.T.cpu().numpy(), (copies, 1))
    return block


def ir_drop_weights(
    G_pos: Tensor,
    G_neg: Tensor,
    copies: int,
    r_ohm: float,
    fscale: float | Tensor,
    g_min_uS: float,
    g_max_uS: float,
    channels_per_array: int = 1,
) -> Tensor:
    """Effective weights (R, H, n, n) of programmed pairs G_pos, G_neg (R, H, n, n, uS) under wire
    resistance ``r_ohm``: each channel's block (``block_conductances``) solved by
    ``effective_conductance``, the copies' currents added and divided by ``copies``, then read as
    fscale (G+ - G-) / (g_max - g_min). ``channels_per_array``: blocks packed along the diagonal of
    one array, channel h at position h mod that number (its wires pass the blocks before it). One
    sparse factorisation and solve per block: for a 66 x 66 block (N = 16, two copies) about 40 ms,
    all of it in SuperLU, so the loop over blocks costs no measurable Python time."""
    R, H, n, _ = G_pos.shape
    scale = fscale if isinstance(fscale, float) else fscale.reshape(-1)
    out = torch.empty(R, H, n, n, dtype=torch.float64, device="cpu")
    for r in range(R):
        for h in range(H):
            k = h % channels_per_array
            block = block_conductances(G_pos[r, h].double(), G_neg[r, h].double(), copies) * 1e-6
            eff = (
                effective_conductance(
                    block,
                    r_ohm,
                    extra_cols=k * 2 * n,
                    extra_rows=(channels_per_array - 1 - k) * copies * n,
                )
                * 1e6
            )
            summed = eff.reshape(copies, n, 2 * n).sum(0) / copies  # (n inputs, 2n columns)
            diff = summed[:, 0::2] - summed[:, 1::2]  # (inputs, outputs)
            s = scale if isinstance(scale, float) else float(scale[h])
            out[r, h] = torch.from_numpy(s * diff.T / (g_max_uS - g_min_uS))
    return out.to(G_pos.device)  # solved on the CPU (scipy), returned where the arrays are
