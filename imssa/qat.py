"""Quantization-aware training runs of the chapter 'Fixed-range QAT', built from its parameters."""

from __future__ import annotations

from .config import QuantConfig
from .params import QATParams
from .train import Run

__all__ = ["float_finetune_run", "float_run", "qat_run"]


def float_run(cfg: QATParams, seed: int) -> Run:
    """The float model of ``seed`` (the baseline chapter's run, reused from the cache)."""
    return Run(cfg.data, cfg.model, cfg.train.model_copy(update={"seed": seed}))


def qat_run(cfg: QATParams, bits: int, range_mode: str, fscale: float, seed: int) -> Run:
    """QAT of the chapter's model at ``bits`` / ``range_mode`` / ``fscale``, from the float run of
    the same seed (``cfg.init == 'float'``) or from scratch."""
    model = cfg.model.model_copy(update={"quant": QuantConfig(bits=bits, range_mode=range_mode, fscale=fscale)})
    train = cfg.qat_train.model_copy(update={"seed": seed})
    base = float_run(cfg, seed)
    return Run(cfg.data, model, train, None if cfg.init == "scratch" else (base.model, base.train))


def float_finetune_run(cfg: QATParams, seed: int) -> Run:
    """Control for the QAT runs: the float model fine-tuned with ``qat_train`` but no quantization,
    so that both have seen the same number of training epochs."""
    base = float_run(cfg, seed)
    return Run(cfg.data, cfg.model, cfg.qat_train.model_copy(update={"seed": seed}), (base.model, base.train))
