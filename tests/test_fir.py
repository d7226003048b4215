"""The FIR filter-bank control and the order task that needs memory."""

import numpy as np
import pytest
import torch

from imssa.data.audio import load_dataset
from imssa.model.fir import FIRBank, QuantFIR, equalize_fir
from imssa.model.quant import grid_levels
from imssa.model.train import SpeechClassifier, evaluate, train_model
from imssa.study.params import DataConfig, ModelConfig, QuantConfig, TrainConfig

FIR = ModelConfig(H=4, ssm="fir", taps=8)


def test_fir_bank_is_a_causal_convolution_with_its_taps():
    bank = FIRBank(3, 5, torch.Generator().manual_seed(0))
    u = torch.randn(2, 3, 40, generator=torch.Generator().manual_seed(1))
    y = bank(u)
    K = bank.weight.detach()
    for t in (0, 3, 17, 39):  # y_t = sum_k K_k u_{t-k} + D u_t
        direct = (
            sum(K[:, k] * u[:, :, t - k] for k in range(min(5, t + 1)))
            + bank.D.detach() * u[:, :, t]
        )
        assert torch.allclose(y[:, :, t], direct, atol=1e-5)
    assert torch.equal(bank(u, "recurrent"), y) and bank.kernel(3).shape == (3, 3)
    with pytest.raises(ValueError, match="taps must be >= 1"):
        FIRBank(3, 0)


def test_quantized_taps_lie_on_the_fixed_grid_and_equalisation_keeps_the_function():
    net = SpeechClassifier(
        FIR.model_copy(update={"quant": QuantConfig(bits=3, fscale=0.6)}),
        2,
        torch.Generator().manual_seed(0),
    )
    bank = net.layers[0]
    assert isinstance(bank, QuantFIR)
    levels = grid_levels(3, 0.6).float()
    taps = bank.discrete_taps().detach()
    assert torch.isin(taps, levels).all()
    float_net = SpeechClassifier(FIR, 2, torch.Generator().manual_seed(0))
    x = torch.randn(3, 50, generator=torch.Generator().manual_seed(2))
    before = float_net.features(x)
    float_net.equalize_ranges(0.6)
    assert torch.allclose(float_net.features(x), before, atol=1e-5)
    assert torch.allclose(float_net.layers[0].weight.abs().amax(1), torch.full((4,), 0.6))
    assert torch.equal(equalize_fir(float_net.layers[0], 0.6, input_gain=False), torch.ones(4))


def test_fir_config_takes_taps_and_a_plain_fixed_range_only():
    with pytest.raises(ValueError, match="taps go with ssm 'fir'"):
        ModelConfig(ssm="fir")
    with pytest.raises(ValueError, match="taps go with ssm 'fir'"):
        ModelConfig(taps=4)
    with pytest.raises(ValueError, match="no pole"):
        ModelConfig(ssm="fir", taps=4, quant=QuantConfig(bits=2, r_max=0.9))
    ModelConfig(ssm="fir", taps=4, quant=QuantConfig(bits=2, fscale=0.5))


def test_fir_trains_deterministically(fsdd_root):
    data = DataConfig(split="official", sample_rate=1000, duration_s=0.1)
    a, b = (
        train_model(
            data.model_dump(), FIR.model_dump(), TrainConfig(epochs=1).model_dump(), progress=False
        )
        for _ in range(2)
    )
    assert (
        all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict) and a.failure == ""
    )
    assert a.state_dict["layers.0.weight"].shape == (4, 8)


ORDER = DataConfig(task="order", fold=0, sample_rate=1000, duration_s=0.2, gap_s=0.02)


@pytest.mark.parametrize(
    "model", [ModelConfig(H=4, N=2, ssm="memoryless"), FIR.model_copy(update={"taps": 21})]
)
def test_short_memory_models_are_at_chance_on_the_order_task(fsdd_root, model):
    """Mean pooling over frames that reach back at most gap_s * rate + 1 = 21 samples: both orders
    of a pair give the same logits, so exactly one of the two is right, whatever the weights."""
    splits = load_dataset(ORDER, fsdd_root)
    net = SpeechClassifier(model, 2, torch.Generator().manual_seed(0)).eval()
    with torch.no_grad():
        logits = net(splits.test.x)
    first, second = (
        logits[0::2],
        logits[1::2],
    )  # rows come in pairs: the two orders of one pair of clips
    assert np.array_equal(splits.test.meta["order"].to_numpy()[:2], [0, 1])
    assert torch.allclose(first, second, atol=1e-4)
    acc, _ = evaluate(net, splits.test)
    assert acc == 0.5


def test_a_long_fir_is_not_at_chance_by_construction(fsdd_root):
    """The control of the test above: taps reaching past the gap see the junction of the words."""
    splits = load_dataset(ORDER, fsdd_root)
    net = SpeechClassifier(
        FIR.model_copy(update={"taps": 60}), 2, torch.Generator().manual_seed(0)
    ).eval()
    with torch.no_grad():
        logits = net(splits.test.x)
    assert not torch.allclose(logits[0::2], logits[1::2], atol=1e-4)


def _trained_like_fir(bits=2):
    net = SpeechClassifier(
        FIR.model_copy(update={"quant": QuantConfig(bits=bits, fscale=0.6)}),
        2,
        torch.Generator().manual_seed(0),
    )
    net.equalize_ranges(0.6)
    return net.eval()


def test_delay_line_on_an_ideal_array_is_the_software_model_and_noise_averages_over_pairs():
    import pandas as pd

    from imssa.data.audio import AudioSet
    from imssa.hardware.delay_line import (
        delay_line_converter_ranges,
        delay_line_rows,
        delay_line_run,
        programmed_taps,
    )
    from imssa.hardware.devices import DeviceConfig

    net = _trained_like_fir()
    x = torch.randn(6, 80, generator=torch.Generator().manual_seed(3))
    ideal = DeviceConfig(g_min_uS=10.0, g_max_uS=100.0)
    taps, pulses = programmed_taps(net, ideal, 1, seed=0)
    assert torch.allclose(taps[0].float(), net.layers[0].discrete_taps().detach(), atol=1e-6)
    with torch.no_grad():
        software = net(x)
    logits, saturated = delay_line_run(net, x, taps, ideal)
    assert torch.allclose(logits[0].float(), software, atol=1e-5) and not saturated.any()
    ranges = delay_line_converter_ranges(net, x, headroom=1.0)
    assert not delay_line_run(net, x, taps, ideal.model_copy(update=ranges))[
        1
    ].any()  # never clips its own clips
    tight = ideal.model_copy(update={k: v / 2 for k, v in ranges.items()})
    assert delay_line_run(net, x, taps, tight)[1].all()
    noisy = ideal.model_copy(update={"sigma_uS": 5.0})
    err = {d: (programmed_taps(net, noisy, 400, 1, d)[0] - taps).std().item() for d in (8, 16)}
    assert err[8] / err[16] == pytest.approx(2**0.5, rel=0.1)
    assert err[8] == pytest.approx(
        0.6 * 2**0.5 * 5.0 / 90.0, rel=0.1
    )  # sqrt(2) sigma fscale / window
    data = AudioSet(
        x, torch.tensor([0, 1, 0, 1, 0, 1]), pd.DataFrame({"clip": list("abcdef")}), 1000
    )
    rows = delay_line_rows(net, data, noisy, 3, seed=2)
    assert [r["realisation"] for r in rows] == [0, 1, 2] and rows == delay_line_rows(
        net, data, noisy, 3, seed=2
    )
    assert len(delay_line_rows(net, data, ideal, 3, seed=2)) == 1
