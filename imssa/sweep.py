"""Sweeps of training runs: a list of labelled points -> one tidy DataFrame row per run.

Every finished run lands in the model cache the moment it ends (``train.train_many``), so an
interrupted sweep, rerun, retrains only what is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from tqdm import tqdm

from .train import Run, TrainResult, restore_model, train_many

__all__ = ["resumable_grid", "run_summary", "train_sweep"]


def run_summary(run: Run, result: TrainResult, n_classes: int) -> dict[str, Any]:
    """Accuracy, divergence and where the (quantized) eigenvalues of the first layer ended up."""
    row: dict[str, Any] = {"accuracy": result.test_accuracy, "diverged": result.diverged is not None,
                           "diverged_reason": result.diverged or ""}
    if result.diverged is None:
        with torch.no_grad():
            A_bar = restore_model(run.model, result, n_classes).layers[0].discrete().A_bar.abs()
        row |= {"max_abs_A_bar": float(A_bar.max()), "frac_abs_A_bar_ge_1": float((A_bar >= 1).float().mean())}
    return row


def train_sweep(points: list[dict[str, Any]], runs: list[Run], n_classes: int, workers: int = 1,
                desc: str = "sweep") -> pd.DataFrame:
    """Train ``runs`` (cached, resumable) and return one row per run: its ``points`` labels plus
    ``run_summary``. ``points`` and ``runs`` are parallel lists."""
    if len(points) != len(runs):
        raise ValueError(f"{len(points)} points but {len(runs)} runs")
    results = train_many(runs, workers, desc=desc)
    return pd.DataFrame([p | run_summary(r, res, n_classes) for p, r, res in zip(points, runs, results)])


def resumable_grid(cells: list[dict[str, Any]], compute: Callable[[dict[str, Any]], list[dict[str, Any]]],
                   checkpoint: Path, desc: str = "grid") -> pd.DataFrame:
    """Evaluate ``compute(cell)`` for every cell, appending its rows to ``checkpoint`` (CSV) as soon
    as the cell finishes. Cells whose key values are already in the checkpoint are skipped, so an
    interrupted sweep resumes where it stopped. Returns the rows of all ``cells``."""
    keys = list(cells[0]) if cells else []
    done = pd.read_csv(checkpoint) if checkpoint.is_file() else pd.DataFrame(columns=keys)
    have = {tuple(row) for row in done[keys].astype(str).itertuples(index=False)} if len(done) else set()
    for cell in tqdm(cells, desc=desc):
        if tuple(str(cell[k]) for k in keys) in have:
            continue
        rows = pd.DataFrame([cell | row for row in compute(cell)])
        rows.to_csv(checkpoint, mode="a", header=not checkpoint.is_file(), index=False)
    table = pd.read_csv(checkpoint)
    wanted = {tuple(str(c[k]) for k in keys) for c in cells}
    return table[[tuple(r) in wanted for r in table[keys].astype(str).itertuples(index=False)]].reset_index(drop=True)
