"""The model cache and run bookkeeping: a trained model stored by joblib under its full
configuration, the runs a chapter trains, and the classifier rebuilt from a stored result.

``train_cached(data, model, train)`` trains once per distinct configuration: the result is stored
by joblib under ``$IMSSA_CACHE_DIR`` (default: the user cache directory), so a chapter rerun with
the same parameters, or a later chapter that deploys the model, does not retrain.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from pathlib import Path
from typing import NamedTuple

import joblib
import platformdirs
from tqdm import tqdm

from .. import ledger
from ..data.config import DataConfig
from .config import ModelConfig, TrainConfig
from .train import SpeechClassifier, TrainResult, train_model

__all__ = [
    "Run",
    "cache_dir",
    "MODEL_SOURCES",
    "code_digest",
    "sources_digest",
    "restore_model",
    "run_key",
    "train_cached",
    "train_many",
    "train_or_load",
]


def cache_dir() -> Path:
    """``$IMSSA_CACHE_DIR``, else the user cache directory (imssa/cache)."""
    env = os.environ.get("IMSSA_CACHE_DIR")
    return Path(env) if env else Path(platformdirs.user_cache_dir("imssa")) / "cache"


#: the library modules a trained model depends on (paths under the imssa package)
MODEL_SOURCES = (
    "schema.py",
    "data/config.py",
    "data/audio.py",
    "data/sources.py",
    "model/config.py",
    "model/s4d.py",
    "model/quant.py",
    "model/poles.py",
    "model/qat.py",
    "model/fir.py",
    "model/train.py",
    "model/cache.py",
)


def sources_digest(names: tuple[str, ...]) -> str:
    """16 hex characters of SHA-256 over the bytes of the imssa modules ``names`` (paths under
    the package, in that order): the code part of a cache key."""
    h = hashlib.sha256()
    package = Path(__file__).parents[1]
    for name in names:
        h.update((package / name).read_bytes())
    return h.hexdigest()[:16]


@functools.cache
def code_digest() -> str:
    """``sources_digest`` of ``MODEL_SOURCES``: a change to the code a trained model depends on
    means a retrain."""
    return sources_digest(MODEL_SOURCES)


def train_cached(
    data: DataConfig,
    model: ModelConfig,
    train: TrainConfig,
    progress: bool = True,
    init_from: tuple[ModelConfig, TrainConfig] | None = None,
) -> TrainResult:
    """``train_model`` through a joblib cache keyed by the configurations, the starting point
    ``init_from`` (model and training of a float run) and the library code (``code_digest``),
    not by ``progress``."""
    memory = joblib.Memory(cache_dir(), verbose=0)
    fn = memory.cache(train_model, ignore=["progress"])
    args = _arguments(data, model, train, init_from)
    trained = not fn.check_call_in_cache(*args[:3], init_from=args[3], code=args[4])
    t0 = time.perf_counter()
    result = fn(*args[:3], init_from=args[3], progress=progress, code=args[4])
    ledger.record(
        "train",
        key=run_key(Run(data, model, train, init_from)),
        trained=trained,
        seconds=round(time.perf_counter() - t0, 2),
        fine_tune=init_from is not None,
        epochs=train.epochs,
    )
    return result


def _arguments(
    data: DataConfig,
    model: ModelConfig,
    train: TrainConfig,
    init_from: tuple[ModelConfig, TrainConfig] | None,
) -> tuple[dict, dict, dict, dict | None, str]:
    """The arguments the cached ``train_model`` is keyed by: the three configurations as dicts,
    the starting point (model and training of a float run) and ``code_digest``."""
    start = (
        None
        if init_from is None
        else {"model": init_from[0].model_dump(), "train": init_from[1].model_dump()}
    )
    return data.model_dump(), model.model_dump(), train.model_dump(), start, code_digest()


class Run(NamedTuple):
    """One training run: configurations and, for fine-tuning, the float run to start from."""

    data: DataConfig
    model: ModelConfig
    train: TrainConfig
    init_from: tuple[ModelConfig, TrainConfig] | None = None


def run_key(run: Run) -> str:
    """16 hex characters naming ``run`` as the model cache does (its configurations, starting
    point and ``code_digest``): two runs with one key are one trained model, whichever chapter
    asks for it."""
    text = json.dumps(_arguments(*run), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def train_or_load(run: Run, progress: bool = False) -> TrainResult:
    """The result of one run: from the cache, or trained now (and then cached)."""
    return train_cached(run.data, run.model, run.train, progress=progress, init_from=run.init_from)


def train_many(
    runs: list[Run], workers: int = 1, desc: str = "runs", progress: bool = True
) -> list[TrainResult]:
    """``train_cached`` for each run, with a progress bar. ``workers`` > 1 trains side by side in
    loky processes (each with its run's ``train.threads`` torch threads); results do not depend
    on ``workers``. Every finished run is in the cache at once, so an interrupted sweep resumes
    where it stopped."""
    if workers == 1:
        return [train_or_load(r) for r in tqdm(runs, desc=desc, disable=not progress)]
    jobs = (
        joblib.delayed(train_cached)(*r[:3], progress=False, init_from=r.init_from) for r in runs
    )
    return list(
        tqdm(
            joblib.Parallel(n_jobs=workers, return_as="generator")(jobs),
            total=len(runs),
            desc=desc,
            disable=not progress,
        )
    )


def restore_model(model: ModelConfig, result: TrainResult, n_classes: int) -> SpeechClassifier:
    """Rebuild the trained classifier from a TrainResult (CPU, eval mode); its encoder's input
    width (the front end's features) is read off the weights."""
    net = SpeechClassifier(model, n_classes, features=result.state_dict["encoder.weight"].shape[1])
    net.load_state_dict(result.state_dict)
    return net.eval()
