"""A stack of S4D layers on programmed arrays: programming every layer and running clips through.

One path for every depth: a single layer, as in the paper, is a stack of depth 1.
``stack_weights`` programs every layer (``deploy.deployed_weights`` per layer), ``stack_run`` runs
clips through them (every S4D layer on arrays of its own, GELU, the position-wise mixing and the
residual in the digital periphery between them, a DAC and an ADC at every array boundary).
``realisations.realisation_rows`` scores each programming.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from ..compute_device import generator
from ..model.train import SpeechClassifier
from .analog import simulate_saturating, simulate_saturating_inputs
from .deploy import deployed_weights, ideal_weights
from .devices import DeviceConfig
from .step import simulate_step

__all__ = ["StackOutput", "stack_run", "stack_weights"]


def _inputs(net: SpeechClassifier, x: Tensor) -> Tensor:
    """The digital encoder's output u = W x + b, (B, H, L), float64
    (``SpeechClassifier.encode``)."""
    return net.encode(x).double()


@torch.no_grad()
def stack_weights(
    net: SpeechClassifier,
    devs: list[DeviceConfig],
    R: int,
    seed: int,
    layout: Literal["dense", "block"] = "block",
    devices_per_element: int = 16,
    stats: list[dict[str, Tensor]] | None = None,
    real_zeros: bool = False,
    digital_A: bool = False,
    t_s: float = 0.0,
) -> list[Tensor]:
    """``deployed_weights`` of every layer (``devs``: one DeviceConfig per layer), each from its own
    seed (``layer_seed``): a list of (R, H, n, n). ``stats``, if given, receives one dict per
    layer."""
    if len(devs) != len(net.layers):
        raise ValueError(
            f"one DeviceConfig per layer: {len(net.layers)} layers, {len(devs)} configs"
        )
    out = []
    for i, dev in enumerate(devs):
        st: dict[str, Tensor] = {}
        out.append(
            deployed_weights(
                net,
                dev,
                R,
                seed,
                layout,
                devices_per_element,
                stats=st,
                layer=i,
                real_zeros=real_zeros,
                digital_A=digital_A,
                t_s=t_s,
            )
        )
        if stats is not None:
            stats.append(st)
    return out


@dataclass(frozen=True)
class StackOutput:
    """What ``stack_run`` returns: ``logits`` (R, B, classes) and ``saturated`` (R,) always;
    with a ``reference``, ``error`` and ``local_error`` (R, depth), else None; with neither a
    reference nor more than one realisation, ``outputs`` (one (1, B, H, L) per layer), else None."""

    logits: Tensor
    saturated: Tensor
    error: Tensor | None = None
    local_error: Tensor | None = None
    outputs: list[Tensor] | None = None


@torch.no_grad()
def stack_run(
    net: SpeechClassifier,
    x: Tensor,
    Ws: list[Tensor],
    devs: list[DeviceConfig],
    mode: str = "fast",
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    chunk: int = 1,
    reference: list[Tensor] | None = None,
    read_vars: list[Tensor | None] | None = None,
) -> StackOutput:
    """Run clips ``x`` (B, L) through a stack whose layer i runs on the programmed arrays ``Ws[i]``
    (R, H, n, n) with periphery ``devs[i]``; between layers the digital GELU, mix and residual.

    ``mode='fast'``: each layer is linear and time-invariant on its arrays, so it is convolved with
    its realisation's kernels, converters saturating (``analog.simulate_saturating_inputs``);
    'step': the step-by-step loop with converter bits and read noise (``step.simulate_step``), in
    ``dtype``. Realisations go ``chunk`` at a time. Returns a ``StackOutput``: ``logits`` (R, B,
    classes), ``saturated`` (R,) and, with ``reference`` (one (1, B, H, L) output per layer, e.g.
    ``stack_run(...).outputs`` of the ideal arrays), ``error`` (R, depth): each layer's relative RMS
    output error ||y_i - y_i*|| / ||y_i*|| (accumulated through the stack), and ``local_error`` (R,
    depth): that of layer i's arrays alone, against ideal arrays fed the same (noisy) input. Without
    ``reference`` and R = 1, ``outputs``: each layer's S4D output y_i (1, B, H, L). ``read_vars``:
    per layer, the arrays' squared conductances in weight units (R, H, n, n) for per-device read
    noise (``deployed_weights``'s ``stats['read_var']``), or None."""
    if mode not in ("fast", "step"):
        raise ValueError(f"mode must be 'fast' or 'step', got {mode!r}")
    if not (len(Ws) == len(devs) == len(net.layers)):
        raise ValueError(
            f"one array set and one DeviceConfig per layer: {len(net.layers)} layers, {len(Ws)} "
            f"arrays, {len(devs)} configs"
        )
    R, device = Ws[0].shape[0], Ws[0].device
    net, x = _on(net, device), x.to(device)
    reference = None if reference is None else [ref.to(device) for ref in reference]
    read_vars = (
        None if read_vars is None else [None if v is None else v.to(device) for v in read_vars]
    )
    gen = generator(seed, device)
    ideal = (
        [ideal_weights(net, i) for i in range(len(net.layers))] if reference is not None else None
    )
    logits, saturated, errors, local, outputs = [], [], [], [], []
    for start in range(0, R, chunk):
        sl = slice(start, min(R, start + chunk))
        r = sl.stop - sl.start
        z, sat = None, torch.zeros(r, dtype=torch.bool, device=device)
        err, loc = [], []
        for i, (W, dev) in enumerate(zip(Ws, devs, strict=True)):
            D = net.layers[i].discrete().D
            u = _inputs(net, x).to(dtype) if i == 0 else z
            var = None if read_vars is None or read_vars[i] is None else read_vars[i][sl]
            single = (
                x if i == 0 and x.dim() == 2 else None
            )  # a waveform's encoder folds into the convolution
            y, s = _layer_out(net, single, u, W[sl], D, dev, mode, gen, dtype, var)
            sat |= s
            if reference is not None:
                ref = reference[i].to(y.dtype)
                err.append(_relative(y, ref))
                ideal_y = _layer_out(
                    net,
                    single,
                    u,
                    ideal[i].expand(r, -1, -1, -1),
                    D,
                    DeviceConfig(),
                    "fast",
                    gen,
                    dtype,
                )[0]
                loc.append(_relative(y, ideal_y))
            elif R == 1:
                outputs.append(y)
            z = net.between_layers(i, y, z)
        logits.append(net.decoder(z.mean(-1).float()))
        saturated.append(sat)
        if reference is not None:
            errors.append(torch.stack(err, -1))
            local.append(torch.stack(loc, -1))
    return StackOutput(
        torch.cat(logits),
        torch.cat(saturated),
        torch.cat(errors) if reference is not None else None,
        torch.cat(local) if reference is not None else None,
        outputs or None,
    )


def _on(net: SpeechClassifier, device: torch.device) -> SpeechClassifier:
    """``net`` itself where its weights are on ``device``, else a copy there (the cached model
    stays)."""
    here = next(net.parameters()).device
    return net if here == device else copy.deepcopy(net).to(device)


def _relative(y: Tensor, ref: Tensor) -> Tensor:
    """Relative RMS error per realisation: ||y - ref|| / ||ref|| over clips, channels and
    time, (R,)."""
    return (y - ref).flatten(1).norm(dim=1).double() / ref.flatten(1).norm(
        dim=1
    ).double().clamp_min(1e-30)


def _layer_out(
    net: SpeechClassifier,
    x: Tensor | None,
    u: Tensor,
    W: Tensor,
    D: Tensor,
    dev: DeviceConfig,
    mode: str,
    gen: torch.Generator,
    dtype: torch.dtype,
    read_var: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """One layer on its arrays W (r, H, n, n): outputs (r, B, H, L) and saturation (r,). The first
    layer in fast mode convolves the encoder's single signal ``x`` (``simulate_saturating``)."""
    if mode == "step":
        peaks: dict[str, Tensor] = {}
        y = simulate_step(
            u,
            W.to(dtype),
            D.to(dtype),
            dev,
            generator=gen,
            peaks=peaks,
            read_var=None if read_var is None else read_var.to(dtype),
        )
        return y, peaks["adc_over"] | peaks["dac_over"]
    if x is not None:
        return simulate_saturating(
            x.to(dtype),
            net.encoder.weight[:, 0].to(dtype),
            net.encoder.bias.to(dtype),
            W,
            D.to(dtype),
            dev,
        )
    return simulate_saturating_inputs(u, W, D.to(u.dtype), dev)
