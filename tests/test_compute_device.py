"""One device setting (IMSSA_DEVICE) for training, programming and both simulation modes."""

import pandas as pd
import pytest
import torch
from test_periphery import WINDOW, model  # the same small quantized model

from imssa.compute_device import compute_device, device_name, generator
from imssa.data.audio import AudioSet
from imssa.hardware.devices import DeviceConfig
from imssa.hardware.ranges import converter_ranges
from imssa.hardware.realisations import realisation_rows
from imssa.model.config import TrainConfig

GPU = torch.cuda.is_available()
#: CPU and GPU logits of the same arrays in float64 agree to this (absolute; the logits are O(1)):
#: the two devices sum the same products in other orders, so they differ by a few ulps per step,
#: accumulated over the recurrence's 200 steps.
GPU_ATOL = 1e-9


def data(B=6, L=200, seed=1):
    x = torch.randn(B, L, generator=torch.Generator().manual_seed(seed))
    return AudioSet(
        x, torch.arange(B) % 2, pd.DataFrame({"file": [f"{i}.wav" for i in range(B)]}), 1000
    )


def designs(net, x):
    """A fast-mode array and a step-mode one with every periphery feature that draws or builds
    tensors."""
    noisy = DeviceConfig(**WINDOW, sigma_uS=10.0, stuck_at_gmin=0.01)
    per_column = converter_ranges(net, x, 1.5, len(x), per_column=True)
    step = noisy.model_copy(
        update=per_column
        | {
            "dac_bits": 6,
            "adc_bits": 6,
            "read_noise": 0.0,
            "read_noise_model": "device",
            "read_noise_device": 0.02,
            "adc_offset_sigma": 0.01,
            "adc_gain_sigma": 0.02,
            "calibration_reads": 4,
            "check_tolerance": 0.2,
            "check_max_rounds": 2,
            "wire_resistance_ohm": 1.0,
        }
    )
    return {"fast": noisy.model_copy(update=converter_ranges(net, x, 2.0, len(x))), "step": step}


def test_the_device_setting_names_a_present_torch_device_or_fails_before_any_work(monkeypatch):
    monkeypatch.delenv("IMSSA_DEVICE", raising=False)
    assert (
        device_name() == "cpu"
        and compute_device() == torch.device("cpu")
        and TrainConfig().device == "cpu"
    )
    monkeypatch.setenv("IMSSA_DEVICE", " cpu ")
    assert TrainConfig().device == "cpu"
    for bad, words in (("gpu0", "not a torch device"), ("xla", "not supported")) + (
        () if GPU else (("cuda", "no cuda device"),)
    ):
        monkeypatch.setenv("IMSSA_DEVICE", bad)
        with pytest.raises(ValueError, match=words):
            compute_device()
    with pytest.raises(ValueError, match="not a torch device"):
        TrainConfig(device="gpu0")
    assert torch.equal(
        torch.randn(3, generator=generator(5, "cpu")), torch.randn(3, generator=generator(5, "cpu"))
    )


def test_the_monte_carlo_makes_every_tensor_where_its_inputs_are(monkeypatch):
    """With torch's default device set to 'meta', a factory call that does not name its device
    makes a meta tensor, which fails against the CPU tensors around it: the programming (with the
    check after programming and wire resistance) and both simulation modes pass, with the same rows,
    only if every tensor follows the arrays' device (IMSSA_DEVICE)."""
    monkeypatch.setenv("IMSSA_DEVICE", "cpu")
    net, clips = model(), data()
    for mode, dev in designs(net, clips.x).items():
        expected = realisation_rows(net, clips, [dev], 3, seed=4, mode=mode)
        torch.set_default_device("meta")
        try:
            rows = realisation_rows(net, clips, [dev], 3, seed=4, mode=mode)
        finally:
            torch.set_default_device(None)
        assert rows == expected, mode


@pytest.mark.skipif(not GPU, reason="no CUDA device here")
def test_cpu_and_gpu_give_the_same_predictions_on_ideal_arrays_and_each_reproduces_its_own_draws(
    monkeypatch,
):
    net, clips = model(), data()
    ideal = DeviceConfig(**WINDOW)
    for mode, dev in (
        ("fast", ideal),
        (
            "step",
            designs(net, clips.x)["step"].model_copy(
                update={
                    "sigma_uS": 0.0,
                    "stuck_at_gmin": 0.0,
                    "adc_offset_sigma": 0.0,
                    "adc_gain_sigma": 0.0,
                    "read_noise_device": 0.0,
                    "check_tolerance": None,
                    "wire_resistance_ohm": 0.0,
                }
            ),
        ),
    ):
        from imssa.hardware.stack import stack_run, stack_weights

        logits = {}
        for name in ("cpu", "cuda"):
            monkeypatch.setenv("IMSSA_DEVICE", name)
            Ws = stack_weights(net, [dev], 1, seed=0)
            logits[name] = stack_run(
                net, clips.x, Ws, [dev], mode, dtype=torch.float64
            ).logits.cpu()
        assert torch.allclose(logits["cpu"], logits["cuda"], rtol=0, atol=GPU_ATOL), mode
    monkeypatch.setenv("IMSSA_DEVICE", "cuda")
    noisy = designs(net, clips.x)["step"]
    assert realisation_rows(net, clips, [noisy], 2, seed=3, mode="step") == realisation_rows(
        net, clips, [noisy], 2, seed=3, mode="step"
    )
