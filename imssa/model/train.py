"""Classifier, training loop and evaluation (the model cache and run bookkeeping: ``cache``).

Classifier: x (batch, L), or a front end's frames (batch, F, L) -> linear encoder (1 or F -> H)
-> depth x [S4D -> GELU] -> mean over time -> linear decoder (H -> classes). Layers after the
first add a position-wise linear mix and a residual connection (a single layer, as in the paper's
hardware demonstration, has neither).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from ..data.audio import AudioSet, AudioSplits, load_dataset
from ..data.config import DataConfig
from .config import ModelConfig, TrainConfig
from .fir import FIRBank, QuantFIR, equalize_fir
from .poles import UnstableSSMError, check_stability
from .qat import QuantS4D, equalize_layer
from .s4d import S4D, apply_ssm, ssm_conv_affine, ssm_kernel

__all__ = [
    "SpeechClassifier",
    "TrainResult",
    "evaluate",
    "load_splits",
    "make_optimizer",
    "train_model",
]

Mode = Literal["conv", "recurrent"]


class SpeechClassifier(nn.Module):
    """Classifier around S4D layers. Input: a waveform (batch, L), or with ``features`` > 1 a front
    end's frames (batch, features, L) (``DataConfig.features``); output logits (batch, classes)."""

    def __init__(
        self,
        cfg: ModelConfig,
        n_classes: int,
        generator: torch.Generator | None = None,
        features: int = 1,
    ) -> None:
        super().__init__()
        H = cfg.H
        self.encoder = nn.Linear(features, H)
        qc = cfg.quant
        q = (
            {}
            if qc is None
            else {
                "bits": qc.bits,
                "range_mode": qc.range_mode,
                "fscale": qc.fscale,
                "r_max": qc.r_max,
                "bits_per_matrix": qc.bits_per_matrix,
                "weight_noise": qc.weight_noise,
                "pole_penalty": qc.pole_penalty,
                "pole_target": qc.pole_target,
                "scale_rule": qc.scale_rule,
                "scale_factor": qc.scale_factor,
                "polar_bits": qc.polar_bits,
            }
        )
        if cfg.ssm == "fir":
            fir = (
                functools.partial(QuantFIR, bits=qc.bits, fscale=qc.fscale)
                if qc is not None
                else FIRBank
            )
            self.layers = nn.ModuleList(fir(H, cfg.taps, generator) for _ in range(cfg.depth))
        else:
            layer = functools.partial(QuantS4D, **q) if q else S4D
            self.layers = nn.ModuleList(
                layer(
                    H,
                    cfg.N,
                    cfg.init,
                    cfg.dt_min,
                    cfg.dt_max,
                    generator=generator,
                    memoryless=cfg.ssm == "memoryless",
                    real=cfg.real,
                )
                for _ in range(cfg.depth)
            )
        if cfg.ssm == "frozen":
            for lay in self.layers:
                lay.freeze()
        self.mixers = nn.ModuleList(nn.Linear(H, H) for _ in range(cfg.depth - 1))
        self.dropout = nn.Dropout(cfg.dropout)
        self.decoder = nn.Linear(H, n_classes)

    def encode(self, x: Tensor) -> Tensor:
        """The digital encoder's output u = W x + b, (batch, H, L), from a waveform (batch, L) or
        frames (batch, F, L)."""
        w, b = self.encoder.weight, self.encoder.bias
        if x.dim() == 2:
            return w[:, 0, None] * x.unsqueeze(1) + b[:, None]
        return torch.einsum("hf,bfl->bhl", w, x) + b[:, None]

    def features(self, x: Tensor, mode: Mode = "conv") -> Tensor:
        """Hidden sequence after the last S4D block, (batch, H, L)."""
        w, b = self.encoder.weight[:, 0], self.encoder.bias
        L, fold = x.shape[-1], x.dim() == 2  # a waveform's encoder folds into the first convolution
        z = x
        for i, layer in enumerate(self.layers):
            if isinstance(layer, FIRBank):  # a delay line: the same product in both modes
                K = layer.kernel(L)
                h = (
                    (ssm_conv_affine(x, w, b, K, layer.D) if fold else layer(self.encode(x)))
                    if i == 0
                    else layer(z)
                )
                z = self.between_layers(i, h, z)
                continue
            p = layer.discrete()
            if isinstance(layer, QuantS4D):
                # zero-order hold keeps float poles inside; a grid need not
                check_stability(p.A_bar)  # the stop rule
            if i == 0 and mode == "conv" and fold:
                # encoder folded into the first convolution (same maths)
                h = ssm_conv_affine(x, w, b, ssm_kernel(p.A_bar, p.B_bar, p.C, L), p.D)
            else:
                h = apply_ssm(self.encode(x) if i == 0 else z, p, mode)
            z = self.between_layers(i, h, z)
        return z

    def between_layers(self, i: int, y: Tensor, z: Tensor | None) -> Tensor:
        """The digital periphery after S4D layer i: GELU (and dropout), then, for i > 0, the
        position-wise mix added to the residual stream ``z``. y, z: (..., H, L), any float dtype
        (a deployed stack runs it on (R, B, H, L) in the simulation's precision)."""
        h = self.dropout(F.gelu(y))
        if i == 0:
            return h
        mix = self.mixers[i - 1]
        return z + F.linear(
            h.transpose(-1, -2), mix.weight.to(h.dtype), mix.bias.to(h.dtype)
        ).transpose(-1, -2)

    @torch.no_grad()
    def equalize_ranges(self, fscale: float) -> None:
        """Function-preserving rescaling of B, C, D (and the encoder, for the first layer's input
        gain) so the discrete parameters fill [-fscale, fscale]; see ``qat.equalize_layer``."""
        for i, layer in enumerate(self.layers):
            equalize = equalize_fir if isinstance(layer, FIRBank) else equalize_layer
            g = equalize(layer, fscale, input_gain=i == 0)
            if i == 0:
                self.encoder.weight.div_(g.unsqueeze(-1))
                self.encoder.bias.div_(g)

    def forward(self, x: Tensor, mode: Mode = "conv") -> Tensor:
        return self.decoder(self.features(x, mode).mean(-1))

    def penalty(self) -> Tensor:
        """Training regulariser added to the loss: the layers' pole penalties (0 without any)."""
        return sum(
            (layer.penalty() for layer in self.layers if isinstance(layer, QuantS4D)),
            self.decoder.bias.new_zeros(()),
        )


def make_optimizer(model: SpeechClassifier, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; the SSM parameters (dt, A, B) in their own group with ``ssm_lr`` and no weight decay.
    Frozen parameters (``requires_grad`` False) are in no group."""
    ssm = {id(p) for layer in model.layers for p in layer.ssm_parameters()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    rest = [p for p in trainable if id(p) not in ssm]
    ssm_params = [p for p in trainable if id(p) in ssm]
    return torch.optim.AdamW(
        [
            {"params": rest, "lr": cfg.lr, "weight_decay": cfg.weight_decay},
            {"params": ssm_params, "lr": cfg.ssm_lr, "weight_decay": 0.0},
        ]
    )


@torch.no_grad()
def evaluate(
    model: nn.Module, data: AudioSet, batch_size: int = 64, mode: Mode = "conv", device: str = "cpu"
) -> tuple[float, np.ndarray]:
    """Accuracy (fraction) and predicted labels (n,) of ``model`` on ``data``."""
    model.eval()
    preds = [
        model(data.x[i : i + batch_size].to(device), mode=mode).argmax(-1).cpu()
        for i in range(0, len(data), batch_size)
    ]
    pred = torch.cat(preds).numpy()
    return float((pred == data.y.numpy()).mean()), pred


@functools.lru_cache(maxsize=4)
def _splits(data_json: str, data_dir: str | None) -> AudioSplits:
    return load_dataset(DataConfig.model_validate_json(data_json), data_dir)


def load_splits(data: DataConfig, data_dir: str | Path | None = None) -> AudioSplits:
    """``load_dataset`` memoised per process (a chapter loads its data once)."""
    return _splits(data.model_dump_json(), None if data_dir is None else str(data_dir))


@dataclass
class TrainResult:
    """What a training run leaves: weights, learning curves, validation and test predictions.

    Selection code reads ``val_*`` only; ``test_*`` are for the final numbers. ``failure`` is ""
    for a run that trained, else its cause: "unstable" (a pole reached the unit circle) or
    "non-finite" (the loss overflowed); ``failure_reason`` then says when and why in words.
    """

    state_dict: dict[str, Tensor]
    history: pd.DataFrame  # epoch, train_loss, train_accuracy, val_accuracy
    test_accuracy: float
    test_pred: np.ndarray
    test_true: np.ndarray
    train_time_s: float
    failure_reason: str = ""  # why training stopped early, if it did
    val_accuracy: float = float("nan")
    val_pred: np.ndarray | None = None
    val_true: np.ndarray | None = None
    test_clips: tuple[
        str, ...
    ] = ()  # names of the test clips (meta "clip"), in the order of test_pred
    failure: str = ""


def train_model(
    data: dict[str, Any],
    model: dict[str, Any],
    train: dict[str, Any],
    init_from: dict[str, Any] | None = None,
    progress: bool = True,
    code: str = "",
) -> TrainResult:
    """Train a SpeechClassifier from scratch, seeded and deterministic on the CPU.

    Arguments are plain dicts (``DataConfig``/``ModelConfig``/``TrainConfig`` dumps), so the cache
    key is exactly the configuration. The model of the last epoch is kept (no test-set selection).
    ``init_from`` = {"model": ..., "train": ...} starts from that (cached) run's weights instead
    of a fresh initialisation: fine-tuning, e.g. QAT from a float checkpoint.
    ``code`` only enters the cache key (see ``cache.code_digest``).
    A run whose loss turns non-finite or whose quantized recurrence leaves the unit disc stops
    and carries its ``failure`` and ``failure_reason`` (its accuracy is NaN, never a silent
    chance-level number).
    """
    dcfg, mcfg, tcfg = DataConfig(**data), ModelConfig(**model), TrainConfig(**train)
    from .cache import train_cached  # the cache calls this function: imported when it runs

    start = None
    if init_from is not None:
        base = train_cached(
            dcfg, ModelConfig(**init_from["model"]), TrainConfig(**init_from["train"]), progress
        )
        if base.failure:
            raise UnstableSSMError(f"cannot fine-tune from a failed run: {base.failure_reason}")
        start = base.state_dict
    threads = torch.get_num_threads()
    torch.set_num_threads(tcfg.threads)
    try:
        return _train(dcfg, mcfg, tcfg, start, progress)
    finally:
        torch.set_num_threads(threads)


def _train(
    dcfg: DataConfig,
    mcfg: ModelConfig,
    tcfg: TrainConfig,
    start: dict[str, Tensor] | None,
    progress: bool,
) -> TrainResult:
    torch.use_deterministic_algorithms(True)
    splits = load_splits(dcfg)
    gen = torch.Generator().manual_seed(tcfg.seed)
    torch.manual_seed(tcfg.seed)
    net = SpeechClassifier(mcfg, dcfg.n_classes, generator=gen, features=dcfg.features).to(
        tcfg.device
    )
    if start is not None:
        net.load_state_dict(start)
    if mcfg.quant is not None and mcfg.quant.equalize:
        net.equalize_ranges(mcfg.quant.fscale)
    opt = make_optimizer(net, tcfg)
    n = len(splits.train)
    steps = tcfg.epochs * ((n + tcfg.batch_size - 1) // tcfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=[g["lr"] for g in opt.param_groups], total_steps=steps, pct_start=0.1
    )
    rows, t0, reason, failure = [], time.perf_counter(), "", ""
    bar = tqdm(range(tcfg.epochs), desc=f"train seed {tcfg.seed}", disable=not progress)
    try:
        for epoch in bar:
            rows.append(_epoch(net, opt, sched, splits, tcfg, gen) | {"epoch": epoch + 1})
            bar.set_postfix(
                loss=f"{rows[-1]['train_loss']:.3f}", val=f"{rows[-1]['val_accuracy']:.3f}"
            )
        val_acc, val_pred = (
            evaluate(net, splits.val, device=tcfg.device)
            if len(splits.val)
            else (float("nan"), None)
        )
        test_acc, pred = evaluate(net, splits.test, device=tcfg.device)
    except (UnstableSSMError, FloatingPointError) as err:
        reason = f"epoch {len(rows) + 1}: {err}"
        failure = "unstable" if isinstance(err, UnstableSSMError) else "non-finite"
        val_acc, val_pred = float("nan"), np.full(len(splits.val), -1)
        test_acc, pred = float("nan"), np.full(len(splits.test), -1)
    history = pd.DataFrame(rows, columns=["epoch", "train_loss", "train_accuracy", "val_accuracy"])
    return TrainResult(
        state_dict={k: v.detach().cpu() for k, v in net.state_dict().items()},
        history=history,
        test_accuracy=test_acc,
        test_pred=pred,
        test_true=splits.test.y.numpy(),
        train_time_s=time.perf_counter() - t0,
        failure_reason=reason,
        val_accuracy=val_acc,
        val_pred=val_pred,
        val_true=splits.val.y.numpy(),
        test_clips=tuple(splits.test.meta["clip"]),
        failure=failure,
    )


def _epoch(
    net: SpeechClassifier,
    opt: torch.optim.Optimizer,
    sched: Any,
    splits: AudioSplits,
    tcfg: TrainConfig,
    gen: torch.Generator,
) -> dict[str, float]:
    """One pass over the training set in seeded random order; returns loss and accuracies."""
    net.train()
    n = len(splits.train)
    loss_sum = correct = 0.0
    for idx in torch.randperm(n, generator=gen).split(tcfg.batch_size):
        x, y = splits.train.x[idx].to(tcfg.device), splits.train.y[idx].to(tcfg.device)
        logits = net(x)
        loss = F.cross_entropy(logits, y) + net.penalty()
        if not torch.isfinite(loss):
            raise FloatingPointError("non-finite training loss")
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        loss_sum += loss.item() * len(idx)
        correct += (logits.argmax(-1) == y).sum().item()
    val_acc = evaluate(net, splits.val, device=tcfg.device)[0] if len(splits.val) else float("nan")
    return {"train_loss": loss_sum / n, "train_accuracy": correct / n, "val_accuracy": val_acc}
