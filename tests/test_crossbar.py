"""Crossbar mapping: real expansion, combined matrix, conductance pairs and their inverse,
layout."""

import pytest
import torch

from imssa.hardware.crossbar import (
    combined_matrix,
    expand_complex,
    from_conductance,
    layout,
    split_combined,
    structural_mask,
    to_conductance,
)
from imssa.model.qat import quantize_ssm
from imssa.model.s4d import DiscreteSSM, ssm_recurrent


def random_ssm(H=3, N=4, seed=0):
    g = torch.Generator().manual_seed(seed)

    def c(s):
        re = torch.randn(H, N, generator=g, dtype=torch.float64)
        return torch.complex(re, torch.randn(H, N, generator=g, dtype=torch.float64)) * s

    return DiscreteSSM(c(0.4), c(0.5), c(0.5), torch.randn(H, generator=g, dtype=torch.float64))


def test_real_expansion_reproduces_the_complex_recurrence():
    p = random_ssm()
    W = combined_matrix(p)  # (H, 2N+1, 2N+1)
    u = torch.randn(2, 3, 50, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    v = torch.zeros(2, 3, 9, dtype=torch.float64)  # [x_r; u]
    outs = []
    for t in range(51):  # one extra step reads out y'_{49}
        v[..., -1] = u[..., t] if t < 50 else 0.0
        out = torch.einsum("hij,bhj->bhi", W, v)
        outs.append(out[..., -1])  # y'_{t-1}
        v = torch.cat([out[..., :-1], v[..., -1:]], -1)
    y = 2 * torch.stack(outs[1:], -1) + p.D[:, None] * u
    assert torch.allclose(y, ssm_recurrent(u, *p), atol=1e-12)


def test_blocks_have_the_rotation_structure():
    p = random_ssm(H=1, N=2)
    A_r, B_r, C_r = expand_complex(p.A_bar, p.B_bar, p.C)
    a, b = p.A_bar.real[0, 1], p.A_bar.imag[0, 1]
    assert torch.equal(A_r[0, 2:, 2:], torch.stack([torch.stack([a, -b]), torch.stack([b, a])]))
    assert torch.count_nonzero(A_r[0, :2, 2:]) == 0  # modes do not couple
    assert torch.equal(split_combined(combined_matrix(p))[1], B_r)
    assert torch.equal(split_combined(combined_matrix(p))[2], C_r)


@pytest.mark.parametrize("bits", [1, 2, 3, 5])
def test_conductance_round_trip_and_levels(bits):
    q = quantize_ssm(random_ssm(), bits, "fixed", 0.6)
    W = combined_matrix(q)
    G_pos, G_neg = to_conductance(W, bits, 0.6, g_min=5.0, g_max=105.0)
    assert torch.allclose(from_conductance(G_pos, G_neg, 0.6, 5.0, 105.0), W, atol=1e-6)
    assert (
        G_pos.min() >= 5.0 and G_pos.max() <= 105.0 and ((G_pos > 5.0) & (G_neg > 5.0)).sum() == 0
    )
    states = torch.unique(torch.cat([G_pos.flatten(), G_neg.flatten()]).round(decimals=4))
    assert len(states) <= 2 ** max(bits - 1, 1)  # ternary: {g_min, g_max}; b bits: q_max + 1 states
    if bits == 2:
        assert states.tolist() == [5.0, 105.0]


def test_conductance_mapping_rejects_bad_input():
    W = torch.tensor([[0.3, -0.6]])
    with pytest.raises(ValueError, match="g_min < g_max"):
        to_conductance(W, 2, 0.6, g_min=100.0, g_max=10.0)
    with pytest.raises(ValueError, match="not on the 2-bit grid"):
        to_conductance(W, 2, 0.6, g_min=0.0, g_max=100.0)
    with pytest.raises(ValueError, match="exceed the range"):
        to_conductance(torch.tensor([[0.9]]), 2, 0.6, g_min=0.0, g_max=100.0)


def test_layout_packing_and_tiling():
    small = layout(H=32, n=9, rows=64, cols=64)  # 9 x 18 blocks: 3 per array along the diagonal
    assert (small.blocks_per_array, small.arrays) == (3, 11)
    assert small.devices == 32 * 9 * 18 and 0 < small.utilisation < 1
    big = layout(H=32, n=33, rows=64, cols=64)  # 33 x 66 block: two arrays side by side
    assert (big.row_tiles_per_block, big.col_tiles_per_block, big.arrays) == (1, 2, 64)
    with pytest.raises(ValueError, match="must be >= 1"):
        layout(H=0, n=3)
    paper = layout(
        H=32, n=33, rows=64, cols=64, kind="block", devices_per_element=16
    )  # 66 x 66: 2 x 2 arrays
    assert (paper.row_tiles_per_block, paper.col_tiles_per_block, paper.arrays) == (2, 2, 128)
    assert paper.devices == 32 * (8 * 16) * 2 * 2 == int(structural_mask(32, 16).sum()) * 2 * 2
    assert paper.devices_per_element == 16 and paper.cross_points == 32 * 66 * 66
    with pytest.raises(ValueError, match="multiple of 8"):
        layout(H=1, n=3, devices_per_element=12)


def test_device_map_puts_inputs_on_rows_and_pairs_on_adjacent_columns():
    from imssa.hardware.crossbar import device_map

    G_pos = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    G_neg = -G_pos
    used = torch.tensor([[True, False], [True, True]])
    m = device_map(G_pos, G_neg, used, copies=2)
    assert m.shape == (4, 4)
    assert m[0].tolist() == [1.0, -1.0, 3.0, -3.0] and torch.equal(
        m[0], m[1]
    )  # input 0, duplicated row
    assert torch.isnan(m[2, :2]).all() and m[2, 2:].tolist() == [
        4.0,
        -4.0,
    ]  # output 0 of input 1 unused
    with pytest.raises(ValueError, match="n, n"):
        device_map(G_pos[:1], G_neg[:1])


def test_structural_mask_covers_every_weight_a_model_can_have():
    mask = structural_mask(3, 4)
    assert mask.shape == (3, 9, 9) and int(mask[0].sum()) == 4 * 4 + 2 * 4 + 2 * 4
    W = combined_matrix(random_ssm())
    assert torch.equal(W * mask, W) and not mask[0, -1, -1]


@pytest.mark.parametrize("bits", [8, 12])
def test_float32_weights_at_full_scale_map_onto_the_top_level(bits):
    from imssa.model.quant import quantize

    x = torch.linspace(-1, 1, 101, dtype=torch.float32)
    W = quantize(x, bits, 0.6).double()  # float32 grid values, as a trained model holds them
    G_pos, G_neg = to_conductance(W, bits, 0.6, g_min=10.0, g_max=100.0)
    assert G_pos.max() == pytest.approx(100.0) and G_neg.max() == pytest.approx(100.0)


def test_per_entry_grids_and_array_scales_map_to_their_share_of_the_window():
    W = torch.tensor([[0.6, -0.2], [0.3, 0.0]], dtype=torch.float64)
    bits = torch.tensor([[2, 3], [4, 2]])  # q_max 1, 3, 7, 1
    f = torch.tensor([[0.6, 0.6], [0.7, 0.6]], dtype=torch.float64)
    G_pos, G_neg = to_conductance(W, bits, f, 10.0, 100.0, array_scale=0.7)
    assert G_pos[0, 0].item() == pytest.approx(
        10 + 0.6 / 0.7 * 90
    )  # top of a 0.6 range on a 0.7 array
    assert G_neg[0, 1].item() == pytest.approx(10 + 1 / 3 * 0.6 / 0.7 * 90)
    assert G_pos[1, 0].item() == pytest.approx(10 + 3 / 7 * 90)  # level 3 of 7 on the full range
    assert G_pos[1, 1].item() == G_neg[1, 1].item() == 10.0
    with pytest.raises(ValueError, match="array scale"):
        to_conductance(W, bits, f, 10.0, 100.0, array_scale=0.5)
    with pytest.raises(ValueError, match="grid"):
        to_conductance(W * 0.9, bits, f, 10.0, 100.0, array_scale=0.7)


@pytest.mark.parametrize(
    "quant",
    [
        dict(bits=2, range_mode="per_channel"),
        dict(bits=2, range_mode="dynamic"),
        dict(bits=4, bits_A=2, bits_B=4, bits_C=3),
    ],
)
def test_ideal_deployment_of_every_grid_reproduces_the_quantized_matrix(quant):
    from imssa.hardware.deploy import deployed_weights
    from imssa.hardware.devices import DeviceConfig
    from imssa.model.config import ModelConfig, QuantConfig
    from imssa.model.train import SpeechClassifier

    torch.manual_seed(0)
    qc = QuantConfig(fscale=0.6, r_max=0.95, **quant)
    net = SpeechClassifier(ModelConfig(H=3, N=4, quant=qc), 2).eval()
    net.equalize_ranges(0.6)
    W = deployed_weights(net, DeviceConfig(g_min_uS=5.0, g_max_uS=95.0), R=1, seed=0)[0]
    with torch.no_grad():
        assert torch.allclose(W, combined_matrix(net.layers[0].discrete()).double(), atol=1e-6)


def test_real_pole_zeros_leave_the_off_diagonal_of_real_modes_unprogrammed():
    """With ``real_poles`` the entries -b, b of modes with b = 0 are structural zeros: under noise
    they stay exactly 0, and every other entry is what the plain block mask gives for the same
    seed."""
    from imssa.hardware.analog import effective_weights
    from imssa.hardware.conductance import program
    from imssa.hardware.crossbar import real_pole_mask
    from imssa.hardware.devices import DeviceConfig

    p = quantize_ssm(random_ssm(H=3, N=4), 3, "fixed", 0.6)
    A_bar = p.A_bar.clone()
    A_bar[:, :2] = A_bar[:, :2].real.to(A_bar.dtype)  # modes 0 and 1: real poles
    A_bar[0, 3] = 0.0  # a pole at 0 counts too; mode 2 stays complex
    p = DiscreteSSM(A_bar, p.B_bar, p.C, p.D)
    W = combined_matrix(p)
    extra = real_pole_mask(A_bar)
    assert extra.shape == (3, 9, 9) and int(extra.sum()) == 2 * (2 * 3 + 1)
    assert bool(extra[:, 0, 1].all() and extra[:, 3, 2].all()) and not bool(extra[:, 4, 5].any())
    assert not bool((W[extra] != 0).any())  # only entries that are 0 become structural zeros
    plain, zeros = structural_mask(3, 4), structural_mask(3, 4, real_poles=A_bar)
    assert torch.equal(zeros, plain & ~extra)
    assert torch.equal(
        structural_mask(3, 4, True, A_bar), structural_mask(3, 4, True)
    )  # diagonal already
    dev = DeviceConfig(g_min_uS=10.0, g_max_uS=100.0, sigma_uS=3.0)
    G = to_conductance(W, 3, 0.6, dev.g_min_uS, dev.g_max_uS)
    out = {}
    for name, used in (("plain", plain), ("zeros", zeros)):
        Gp, Gn = program(*G, 4, dev, generator=torch.Generator().manual_seed(7), used=used)
        out[name] = effective_weights(Gp, Gn, 0.6, dev.g_min_uS, dev.g_max_uS)
    assert (out["plain"][:, extra] != 0).all()  # programmed at g_min on both sides: noisy zeros
    assert (out["zeros"][:, extra] == 0).all()  # unprogrammed: exact zeros
    assert torch.equal(out["zeros"][:, ~extra], out["plain"][:, ~extra])
