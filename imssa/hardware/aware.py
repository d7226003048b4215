"""Converter-aware fine-tuning: the periphery's rounding and clipping in the training forward pass.

The FFT convolution that trains the S4D layers cannot hold a converter inside the recurrence (the
state is rounded at every step, a non-linear, stateful operation). ``converter_logits`` therefore
runs the layer step by step, as the array does: [x_{t-1}; u_t] through the DAC, one VMM with the
quantized combined matrix W = [[A_r, B_r], [C_r, 0]], the ADC, the state fed back; every
converter is a clipped straight-through estimator (the forward pass rounds and clips, the
backward pass passes the gradient inside the range and blocks it outside). It is differentiable in
the layer's quantized weights (themselves straight-through, ``QuantS4D.discrete``) and in the
digital parts (encoder, D, decoder). ``finetune`` fine-tunes a trained QAT model with it for a
few epochs and is cached under its whole configuration and the code it depends on.

Programming noise, stuck devices and read noise are not in the forward pass: this is the
converter-aware variant of QAT only, to be compared with plain QAT on the emulated array.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import joblib
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from .. import ledger
from ..data.config import DataConfig
from ..model.cache import cache_dir, code_digest
from ..model.config import ModelConfig
from ..model.qat import QuantS4D
from ..model.train import SpeechClassifier, load_splits
from . import periphery
from .crossbar import combined_matrix
from .devices import DeviceConfig
from .step import _vmm_blocks, mode_blocks

__all__ = ["CHECKPOINT_STEPS", "converter_logits", "finetune", "ste_quantize"]

#: time steps per recomputed chunk of ``converter_logits``'s backward pass (memory against time)
CHECKPOINT_STEPS = 100


def ste_quantize(v: Tensor, bits: int | None, full_scale: Tensor | float | None) -> Tensor:
    """``periphery.quantize`` in the forward pass; the gradient of clipping (1 inside the range,
    0 outside) in the backward pass, rounding passed straight through."""
    if full_scale is None:
        return v
    clipped = v.clamp(-full_scale, full_scale)
    if bits is None:
        return clipped
    return clipped + (
        periphery.round_to_levels(clipped.detach(), bits, full_scale) - clipped.detach()
    )


def converter_logits(net: SpeechClassifier, x: Tensor, dev: DeviceConfig) -> Tensor:
    """Logits (B, classes) of clips ``x`` (B, L) through ``net`` whose single S4D layer runs step by
    step behind ``dev``'s converters (its bits and its ranges: one per layer or per row and column),
    differentiably (``ste_quantize``). Multi-level inputs, no read noise."""
    if len(net.layers) != 1 or not isinstance(net.layers[0], QuantS4D) or net.layers[0].real:
        raise ValueError("converter-aware fine-tuning takes one complex QuantS4D layer")
    if dev.input_encoding != "multi_level":
        raise ValueError("converter-aware fine-tuning models multi-level inputs only")
    if x.dim() != 2:
        raise ValueError(
            "converter-aware fine-tuning takes waveforms (B, L), not a front end's frames"
        )
    layer = net.layers[0]
    q = layer.discrete()
    W = combined_matrix(q, False).unsqueeze(0).to(x.dtype)  # (1, H, n, n), in the clips' precision
    blocks = mode_blocks(W)
    if blocks is None:
        raise ValueError("the layer's combined matrix couples its modes: not an S4D layer")
    B, L = x.shape
    H, n = W.shape[1], W.shape[-1]
    rg = periphery.ranges(dev, H, n, x.dtype, x.device)
    u = (  # (B, H, L)
        net.encoder.weight[:, 0, None].to(x.dtype) * x.unsqueeze(1)
        + net.encoder.bias[:, None].to(x.dtype)
    )
    # (1, B, H, L + 1): step t takes u_t (zero after the clip) and reads out y'_{t-1}
    u_steps = torch.cat([u, u.new_zeros(B, H, 1)], -1)[None]

    def steps(state: Tensor, u_chunk: Tensor) -> tuple[Tensor, Tensor]:
        """The array steps of ``u_chunk`` (1, B, H, T) from ``state`` (1, B, H, n - 1): the last
        state and the T read-outs (1, B, H, T)."""
        outs = []
        for t in range(u_chunk.shape[-1]):
            v = ste_quantize(torch.cat([state, u_chunk[..., t : t + 1]], -1), dev.dac_bits, rg.dac)
            out = ste_quantize(_vmm_blocks(blocks, v), dev.adc_bits, rg.adc)
            outs.append(out[..., -1])
            state = out[..., :-1]
        return state, torch.stack(outs, -1)

    # Backpropagation through every step would keep each step's tensors (about 5 GB per process
    # at the paper's 2000 steps, batch 32, H 32): each chunk of CHECKPOINT_STEPS is recomputed in
    # the backward pass instead (torch.utils.checkpoint), with the same values and gradients.
    state, chunks = u.new_zeros(1, B, H, n - 1), []
    for a in range(0, L + 1, CHECKPOINT_STEPS):
        chunk = u_steps[..., a : a + CHECKPOINT_STEPS]
        if torch.is_grad_enabled():
            state, outs = checkpoint(steps, state, chunk, use_reentrant=False)
        else:
            state, outs = steps(state, chunk)
        chunks.append(outs)
    readout = torch.cat(chunks, -1)[..., 1:]  # y'_0 .. y'_{L-1}
    y = 2 * readout[0] + q.D.real[:, None].to(x.dtype) * u
    return net.decoder(net.between_layers(0, y, None).mean(-1).float())


def finetune(
    data: DataConfig,
    model: ModelConfig,
    state_dict: dict[str, Tensor],
    dev: DeviceConfig,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
) -> dict[str, Tensor]:
    """The weights of the trained model (``model``, ``state_dict``) after ``epochs`` epochs of AdamW
    at ``lr`` on its fold's training clips with the converters of ``dev`` in the forward pass
    (``converter_logits``), seeded by ``seed``; cached under the configuration, the starting weights
    and the code (``code_digest`` and this module's and the periphery's sources)."""
    if epochs < 1 or lr <= 0 or batch_size < 1:
        raise ValueError(
            f"need epochs >= 1, lr > 0, batch_size >= 1, got {epochs}, {lr}, {batch_size}"
        )
    start = hashlib.sha256(b"".join(v.numpy().tobytes() for v in state_dict.values())).hexdigest()[
        :16
    ]
    memory = joblib.Memory(cache_dir(), verbose=0)
    fn = memory.cache(_finetune, ignore=["state_dict"])
    args = (data.model_dump(), model.model_dump(), state_dict, start, dev.model_dump())
    args += (epochs, lr, batch_size, seed)
    trained = not fn.check_call_in_cache(*args, code=_code())
    t0 = time.perf_counter()
    out = fn(*args, code=_code())
    key = hashlib.sha256(repr((args[:2], args[3:], _code())).encode()).hexdigest()[:16]
    seconds = round(time.perf_counter() - t0, 2)
    ledger.record("aware", key=key, trained=trained, seconds=seconds, epochs=epochs)
    return out


def _code() -> str:
    here = Path(__file__).parent
    text = b"".join(
        (here / name).read_bytes()
        for name in ("aware.py", "periphery.py", "analog.py", "crossbar.py")
    )
    return code_digest() + hashlib.sha256(text).hexdigest()[:16]


def _finetune(
    data: dict[str, Any],
    model: dict[str, Any],
    state_dict: dict[str, Tensor],
    start: str,
    dev: dict[str, Any],
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    code: str = "",
) -> dict[str, Tensor]:
    dcfg, mcfg, device = DataConfig(**data), ModelConfig(**model), DeviceConfig(**dev)
    splits = load_splits(dcfg)
    torch.manual_seed(seed)
    net = SpeechClassifier(mcfg, dcfg.n_classes, generator=torch.Generator().manual_seed(seed))
    net.load_state_dict(state_dict)
    net.train()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    x, y = splits.train.x, splits.train.y
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=gen)
        for i in range(0, len(y), batch_size):
            idx = order[i : i + batch_size]
            loss = F.cross_entropy(converter_logits(net, x[idx], device), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return {k: v.detach().clone() for k, v in net.state_dict().items()}
