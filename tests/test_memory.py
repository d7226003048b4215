"""Memory of a recurrence: mode time constants and kernel length in ms."""

import math

import pytest
import torch

from imssa.model.memory import describe_memory, kernel_memory_ms, memory_summary, time_constants_ms
from imssa.model.s4d import DiscreteSSM


def test_time_constants():
    A = torch.tensor([[0.0 + 0j, math.exp(-1) + 0j, 0.6 + 0.6j, 1.0 + 0j]])
    tau = time_constants_ms(A, sample_rate=2000)
    assert tau[0, 0] == 0 and tau[0, 1] == pytest.approx(0.5)  # one step at 2 kHz
    assert tau[0, 2] == pytest.approx(-1000 / (2000 * math.log(0.6 * math.sqrt(2))))
    assert math.isinf(tau[0, 3])
    with pytest.raises(ValueError, match=r"sample_rate must be > 0 Hz, got 0"):
        time_constants_ms(A, 0)


def test_kernel_memory():
    K = torch.zeros(3, 100, dtype=torch.float64)
    K[0, 0] = 1.0  # memoryless: everything at lag 0
    K[1, :] = 0.9 ** torch.arange(
        100
    )  # geometric: 95% of the energy within ln(0.05)/ln(0.81) steps
    assert kernel_memory_ms(K, 1000).tolist()[0] == 0.0 and kernel_memory_ms(K, 1000)[2] == 0.0
    assert kernel_memory_ms(K, 1000)[1] == pytest.approx(
        math.ceil(math.log(0.05) / math.log(0.81)) - 1, abs=1
    )


def test_memory_summary_of_a_memoryless_and_a_slow_layer():
    B = torch.ones(1, 2, dtype=torch.complex128)
    slow = DiscreteSSM(torch.full((1, 2), 0.99 + 0j, dtype=torch.complex128), B, B, torch.zeros(1))
    none = slow._replace(A_bar=torch.zeros(1, 2, dtype=torch.complex128))
    s, n = memory_summary(slow, 1000, 2000), memory_summary(none, 1000, 2000)
    assert (
        n["tau_median_ms"] == 0 and n["share_A_bar_zero"] == 1 and n["kernel_memory_median_ms"] == 0
    )
    assert (
        s["tau_median_ms"] == pytest.approx(-1 / math.log(0.99), rel=1e-6)
        and s["share_A_bar_zero"] == 0
    )
    assert s["kernel_memory_median_ms"] > 100


def test_describe_memory_tells_filters_from_memories():
    short = {"tau_median_ms": 1.0, "tau_max_ms": 3.0, "kernel_memory_median_ms": 2.0}
    long = {"tau_median_ms": 120.0, "tau_max_ms": 1200.0, "kernel_memory_median_ms": 210.0}
    assert "short filter" in describe_memory(
        "2-bit", short, 2000
    ) and "4 samples" in describe_memory("2-bit", short, 2000)
    assert "syllable" in describe_memory("float", long, 2000)
