"""The spectral baseline: log-mel (or MFCC) frames from librosa, logistic regression from
scikit-learn.

A clip x (L samples at f_s Hz) becomes a log-mel spectrogram of ``n_mels`` bands, frames of
``frame_ms`` every ``hop_ms`` (librosa.feature.melspectrogram, power in dB), or its first
``n_mfcc`` cepstral coefficients; ``pooling`` 'frames' keeps every frame in order (the features
see when each band is active), 'mean' averages them over time (the pooling of the S4D classifier,
which cannot tell one order of two words from the other). Features are standardised on the
training clips; the inverse regularisation strength ``C`` of the L2 logistic regression is chosen
among ``C_grid`` on the validation speakers only. No state, no training by gradient in torch: the
field's standard front end and linear read-out.
"""

from __future__ import annotations

import functools
import time
from typing import Literal

import joblib
import numpy as np
import pandas as pd
import torch
from pydantic import Field

from ..data.config import DataConfig
from ..schema import Strict
from .cache import cache_dir, sources_digest
from .train import TrainResult, load_splits

__all__ = ["SpectralConfig", "spectral_cached", "spectral_features", "spectral_fit"]


class SpectralConfig(Strict):
    """Front end and read-out of the spectral baseline."""

    features: Literal["logmel", "mfcc"] = "logmel"
    n_mels: int = Field(default=32, ge=1, description="mel bands")
    n_mfcc: int = Field(default=13, ge=1, description="cepstral coefficients of 'mfcc'")
    frame_ms: float = Field(default=32.0, gt=0, description="analysis window, ms")
    hop_ms: float = Field(default=16.0, gt=0, description="hop between frames, ms")
    pooling: Literal["frames", "mean"] = "frames"
    C_grid: list[float] = Field(
        default=[0.01, 0.1, 1.0, 10.0],
        min_length=1,
        description=(
            "inverse L2 strengths tried; the one with the best validation accuracy is kept"
        ),
    )
    max_iter: int = Field(default=2000, ge=1)


def spectral_features(x: np.ndarray, sample_rate: int, cfg: SpectralConfig) -> np.ndarray:
    """Features of clips ``x`` (n, L) at ``sample_rate`` Hz: (n, F) float64 (see the module)."""
    import librosa  # imported here: it loads numba, which only this baseline needs

    n_fft = max(2, round(cfg.frame_ms * sample_rate / 1000))
    hop = max(1, round(cfg.hop_ms * sample_rate / 1000))
    if n_fft > x.shape[-1]:
        raise ValueError(f"frame of {n_fft} samples is longer than the clips ({x.shape[-1]})")
    if cfg.n_mels > n_fft // 2 + 1:
        raise ValueError(
            f"{cfg.n_mels} mel bands from {n_fft // 2 + 1} frequency bins: use fewer bands or "
            "longer frames"
        )
    mel = librosa.feature.melspectrogram(
        y=np.asarray(x, dtype=np.float32),
        sr=sample_rate,
        n_fft=n_fft,
        hop_length=hop,
        n_mels=cfg.n_mels,
        center=False,
    )
    f = librosa.power_to_db(mel, ref=1.0, top_db=None)  # (n, n_mels, frames)
    if cfg.features == "mfcc":
        f = librosa.feature.mfcc(S=f, n_mfcc=cfg.n_mfcc)
    f = f.mean(-1) if cfg.pooling == "mean" else f.reshape(len(f), -1)
    return f.astype(np.float64)


def spectral_fit(data: dict, spectral: dict, seed: int = 0, code: str = "") -> TrainResult:
    """Fit the baseline on ``data``'s training clips (a ``DataConfig`` dump), choose C on its
    validation clips, score its test clips. Returns a ``TrainResult`` (``state_dict``: the
    standardisation and the coefficients; ``history``: one row per C tried, with its validation
    accuracy). ``code`` only enters the cache key."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    dcfg, scfg = DataConfig(**data), SpectralConfig(**spectral)
    if dcfg.front_end != "waveform":
        raise ValueError(
            "the spectral baseline computes its own features from the waveform, not from "
            f"front_end {dcfg.front_end!r}"
        )
    t0 = time.perf_counter()
    splits = load_splits(dcfg)
    if not len(splits.val):
        raise ValueError("the spectral baseline chooses C on validation clips: the split has none")
    feats = {
        k: spectral_features(getattr(splits, k).x.numpy(), dcfg.sample_rate, scfg)
        for k in ("train", "val", "test")
    }
    fits, rows = [], []
    for C in scfg.C_grid:
        clf = make_pipeline(
            StandardScaler(), LogisticRegression(C=C, max_iter=scfg.max_iter, random_state=seed)
        )
        clf.fit(feats["train"], splits.train.y.numpy())
        val_acc = float((clf.predict(feats["val"]) == splits.val.y.numpy()).mean())
        fits.append(clf)
        rows.append(
            {
                "epoch": len(rows) + 1,
                "train_loss": float("nan"),
                "train_accuracy": float(clf.score(feats["train"], splits.train.y.numpy())),
                "val_accuracy": val_acc,
                "C": C,
            }
        )
    # the first of equals: the strongest L2
    best = int(np.argmax([r["val_accuracy"] for r in rows]))
    clf = fits[best]
    test_pred, val_pred = clf.predict(feats["test"]), clf.predict(feats["val"])
    scaler, lr = clf.named_steps["standardscaler"], clf.named_steps["logisticregression"]
    state = {
        "mean": torch.from_numpy(scaler.mean_),
        "scale": torch.from_numpy(scaler.scale_),
        "coef": torch.from_numpy(lr.coef_),
        "intercept": torch.from_numpy(lr.intercept_),
        "C": torch.tensor(scfg.C_grid[best]),
    }
    return TrainResult(
        state_dict=state,
        history=pd.DataFrame(rows),
        test_accuracy=float((test_pred == splits.test.y.numpy()).mean()),
        test_pred=test_pred,
        test_true=splits.test.y.numpy(),
        train_time_s=time.perf_counter() - t0,
        val_accuracy=rows[best]["val_accuracy"],
        val_pred=val_pred,
        val_true=splits.val.y.numpy(),
        test_clips=tuple(splits.test.meta["clip"]),
    )


#: the library modules the spectral baseline depends on (paths under the imssa package)
SPECTRAL_SOURCES = (
    "schema.py",
    "data/config.py",
    "data/audio.py",
    "data/sources.py",
    "model/spectral.py",
)


@functools.cache
def _code_digest() -> str:
    return sources_digest(SPECTRAL_SOURCES)


def spectral_cached(data: DataConfig, spectral: SpectralConfig) -> TrainResult:
    """``spectral_fit`` through the model cache, keyed by both configurations and the code."""
    fn = joblib.Memory(cache_dir(), verbose=0).cache(spectral_fit)
    return fn(data.model_dump(), spectral.model_dump(), code=_code_digest())
