"""Sweeps of training runs: a list of labelled points -> one tidy DataFrame row per run.

Every finished run lands in the model cache the moment it ends (``cache.train_many``), so an
interrupted sweep, rerun, retrains only what is missing.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import torch
from tqdm import tqdm

from .. import ledger
from ..model.cache import Run, restore_model, train_many
from ..model.memory import layer_memory
from ..model.train import TrainResult

__all__ = [
    "clip_answers",
    "cluster",
    "fill_cells",
    "grid_name",
    "learning_curves",
    "resumable_grid",
    "run_summary",
    "train_all",
    "train_sweep",
]


def run_summary(run: Run, result: TrainResult, n_classes: int) -> dict[str, Any]:
    """One row per run: split, fold, test and validation accuracy, test clips, ``failure`` and
    ``failure_reason`` (why, in words), and the poles and memory of the first layer's (quantized)
    recurrence (``memory.layer_memory``; an FIR bank has no pole: NaN)."""
    row: dict[str, Any] = {
        "split": run.data.split,
        "fold": run.data.fold,
        "accuracy": result.test_accuracy,
        "val_accuracy": result.val_accuracy,
        "n_test": len(result.test_true),
        "failure": result.failure,
        "failure_reason": result.failure_reason,
    }
    if not result.failure:
        layer = restore_model(run.model, result, n_classes).layers[0]
        with torch.no_grad():
            mod = (
                layer.discrete().A_bar.abs()
                if run.model.ssm != "fir"
                else torch.full((1,), float("nan"))
            )
        row |= {
            "max_abs_A_bar": float(mod.max()),
            "frac_abs_A_bar_ge_1": float((mod >= 1).double().mean()),
        } | layer_memory(layer, run.data.step_rate, run.data.steps)
    return row


def train_sweep(
    points: list[dict[str, Any]],
    runs: list[Run],
    n_classes: int,
    workers: int = 1,
    desc: str = "sweep",
) -> pd.DataFrame:
    """Train ``runs`` (cached, resumable) and return one row per run: its ``points`` labels plus
    ``run_summary``. ``points`` and ``runs`` are parallel lists."""
    if len(points) != len(runs):
        raise ValueError(f"{len(points)} points but {len(runs)} runs")
    results = train_all(runs, workers, desc=desc)
    return pd.DataFrame(
        [
            p | run_summary(r, res, n_classes)
            for p, r, res in zip(points, runs, results, strict=True)
        ]
    )


def clip_answers(
    points: list[dict[str, Any]], runs: list[Run], workers: int = 1, desc: str = "answers"
) -> pd.DataFrame:
    """Per-clip test answers of ``runs`` (trained or cached): one row per (run, test clip) with the
    ``points`` labels, ``fold``, ``seed``, ``clip`` (file name), ``target`` and ``pred`` (class
    indices into the digits) and ``correct`` (0/1), the input of ``imssa.stats``. Failed runs are
    left out (their failure is in ``train_sweep``'s rows)."""
    if len(points) != len(runs):
        raise ValueError(f"{len(points)} points but {len(runs)} runs")
    frames = []
    for p, r, res in zip(points, runs, train_all(runs, workers, desc=desc), strict=True):
        if "seed" in p and p["seed"] != r.train.seed:
            raise ValueError(f"label seed {p['seed']} differs from the run's seed {r.train.seed}")
        if not res.failure:
            frames.append(
                pd.DataFrame(
                    {
                        "fold": r.data.fold,
                        "seed": r.train.seed,
                        "clip": list(res.test_clips),
                        "target": res.test_true,
                        "pred": res.test_pred,
                    }
                ).assign(**p)
            )
    if not frames:
        return pd.DataFrame(
            columns=[
                "fold",
                "seed",
                "clip",
                "target",
                "pred",
                "correct",
                *(points[0] if points else {}),
            ]
        )
    out = pd.concat(frames, ignore_index=True)
    out["correct"] = (out["target"] == out["pred"]).astype(int)
    return out


def fill_cells(
    cells: list[dict[str, Any]], defaults: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """``cells`` with the same keys each, in the order they first appear: a key that some cell sets
    and another does not is filled in from ``defaults`` (the value that cell runs with anyway, e.g.
    a device's own setting). A missing key without a default is a ValueError: it would make cells
    collide in a checkpoint and their columns disagree."""
    defaults = defaults or {}
    keys = list(dict.fromkeys(k for c in cells for k in c))
    odd = [k for k in keys if k not in defaults and any(k not in c for c in cells)]
    if odd:
        example = next(c for c in cells if any(k not in c for k in odd))
        raise ValueError(
            f"keys {odd} are missing from some cells and have no default; e.g. {example}"
        )
    return [{k: c[k] if k in c else defaults[k] for k in keys} for c in cells]


def grid_name(checkpoint: Path) -> str:
    """The name a chapter gave a resumable grid, read off its checkpoint file
    (``.<name>-<digest>.partial.csv``, ``results.checkpoint_path``); else the file's stem."""
    name = checkpoint.name
    if name.startswith(".") and name.endswith(".partial.csv"):
        return name[1:].removesuffix(".partial.csv").rsplit("-", 1)[0]
    return checkpoint.stem


def resumable_grid(
    cells: list[dict[str, Any]],
    compute: Callable[..., list[dict[str, Any]]],
    checkpoint: Path,
    desc: str = "grid",
    workers: int = 1,
    defaults: Mapping[str, Any] | None = None,
    models: list[tuple[int, int]] | None = None,
) -> pd.DataFrame:
    """Evaluate ``compute(cell)`` for every cell, appending its rows to ``checkpoint`` (CSV) as soon
    as the cell finishes. Cells whose key values are already in the checkpoint are skipped, so an
    interrupted sweep resumes where it stopped. ``workers`` > 1 evaluates cells side by side in
    loky processes with one torch thread each (``compute`` must then seed its own randomness, so
    that the rows do not depend on which process ran them). Returns the rows of all ``cells`` in
    the order of ``cells`` (an empty text field reads back as '', not as a missing value). The cells
    are completed by ``fill_cells`` with ``defaults`` first; rows of different cells may have
    different columns (the checkpoint holds their union, a row's missing columns empty). With
    ``$IMSSA_DASK_SCHEDULER`` set, the cells run on that dask cluster instead (``cluster``), with
    the same rows.

    ``models`` [(seed, fold), ...]: every (cell, model) is its own task, ``compute(cell, [model])``,
    whose rows carry ``seed`` and ``fold``; a model's rows must not depend on the other models of
    its cell (``programming.sweep_cell``: each model its own draws). The rows are those of
    ``compute(cell, models)``, in its order (cell, then model), but no worker waits for a cell
    that costs more than the others, and a resumed sweep redoes one model, not the cell."""
    cells = fill_cells(cells, defaults)
    keys = list(cells[0]) if cells else []
    columns = keys + ([] if models is None else ["seed", "fold"])
    tasks = (
        [(c, None) for c in cells] if models is None else [(c, m) for c in cells for m in models]
    )
    read = lambda: pd.read_csv(checkpoint, keep_default_na=False, na_values=["NaN", "nan"])  # noqa: E731
    key_of = lambda values: tuple("" if v is None else str(v) for v in values)  # noqa: E731
    task_key = lambda c, m: key_of([c[k] for k in keys] + ([] if m is None else list(m)))  # noqa: E731
    grid, t0 = grid_name(checkpoint), time.perf_counter()
    done = read() if checkpoint.is_file() else pd.DataFrame(columns=columns)
    have = {key_of(row) for row in done[columns].itertuples(index=False)} if len(done) else set()
    todo = [(c, m) for c, m in tasks if task_key(c, m) not in have]
    with (
        cluster() if todo else contextlib.nullcontext() as client
    ):  # no connection when nothing is left to do
        if client is not None or workers > 1:
            jobs = (joblib.delayed(_one_thread)(compute, c, m, grid) for c, m in todo)
            results = joblib.Parallel(
                n_jobs=-1 if client is not None else workers, return_as="generator_unordered"
            )(jobs)
        else:
            results = ((c, _compute(compute, c, m, grid)) for c, m in todo)
        for cell, rows in tqdm(results, total=len(todo), desc=desc):
            if (
                rows
            ):  # a task without rows (e.g. a model the cell leaves out) leaves the file as it is
                _append(checkpoint, pd.DataFrame([cell | row for row in rows]))
    ledger.record(
        "grid",
        grid=grid,
        tasks=len(tasks),
        todo=len(todo),
        seconds=round(time.perf_counter() - t0, 2),
    )
    if not checkpoint.is_file():
        return pd.DataFrame(columns=keys)
    table = read()
    order = {task_key(c, m): i for i, (c, m) in enumerate(tasks)}
    rank = pd.Series(
        [order.get(key_of(r), -1) for r in table[columns].itertuples(index=False)],
        index=table.index,
    )
    return table[rank >= 0].iloc[rank[rank >= 0].argsort(kind="stable")].reset_index(drop=True)


def _compute(
    compute: Callable[..., list[dict[str, Any]]],
    cell: dict[str, Any],
    model: tuple[int, int] | None,
    grid: str = "",
) -> list[dict[str, Any]]:
    """One task of ``resumable_grid``: a cell, or one model of a cell (its rows checked for it),
    with its time in the ledger under the name of its ``grid``."""
    t0 = time.perf_counter()
    rows = compute(cell) if model is None else compute(cell, [model])
    ledger.record("task", grid=grid, seconds=round(time.perf_counter() - t0, 3))
    if model is None:
        return rows
    if any((row.get("seed"), row.get("fold")) != tuple(model) for row in rows):
        raise ValueError(
            f"a grid split by model needs rows with that model's seed and fold {model}; "
            f"cell {cell} gave {[(r.get('seed'), r.get('fold')) for r in rows][:3]}"
        )
    return rows


def _append(checkpoint: Path, frame: pd.DataFrame) -> None:
    """Append ``frame`` to the CSV ``checkpoint`` under its header's columns. A column the header
    lacks rewrites the file with the union (through a temporary file, so a kill leaves the old one);
    a row's missing columns are written as NaN (read back as missing, not as text)."""
    if not checkpoint.is_file():
        frame.to_csv(checkpoint, index=False)
        return
    header = list(pd.read_csv(checkpoint, nrows=0).columns)
    if set(frame.columns) <= set(header):
        frame.reindex(columns=header, fill_value="NaN").to_csv(
            checkpoint, mode="a", header=False, index=False
        )
        return
    union = header + [c for c in frame.columns if c not in header]
    old = pd.read_csv(checkpoint, dtype=str, keep_default_na=False)  # as written, text untouched
    tmp = checkpoint.with_suffix(".tmp")
    pd.concat(
        [
            old.reindex(columns=union, fill_value="NaN"),
            frame.reindex(columns=union, fill_value="NaN"),
        ],
        ignore_index=True,
    ).to_csv(tmp, index=False)
    tmp.replace(checkpoint)


def train_all(
    runs: list[Run], workers: int = 1, desc: str = "runs", progress: bool = True
) -> list[TrainResult]:
    """``cache.train_many``, every run a task on the dask cluster named by ``$IMSSA_DASK_SCHEDULER``
    when there is one (``cluster``), else on ``workers`` local processes. Same results either way:
    each run is seeded. The workers write the model cache, so on a real cluster ``IMSSA_CACHE_DIR``
    must be a folder they share with this process."""
    with cluster() as client:
        return train_many(
            runs, workers if client is None else max(workers, 2), desc=desc, progress=progress
        )


@contextlib.contextmanager
def cluster(address: str | None = None) -> Iterator[Any]:
    """joblib work inside this block runs on the dask.distributed scheduler at ``address`` (default:
    ``$IMSSA_DASK_SCHEDULER``) through joblib's dask backend, and the block receives the client;
    without an address it runs locally and receives None."""
    address = address or os.environ.get("IMSSA_DASK_SCHEDULER")
    if not address:
        yield None
        return
    try:
        from distributed import Client
    except ImportError as err:  # pragma: no cover - the 'cluster' extra
        raise RuntimeError(
            "IMSSA_DASK_SCHEDULER is set but dask.distributed is not installed: "
            "pip install -e '.[cluster]'"
        ) from err
    with Client(address) as client, joblib.parallel_config(backend="dask"):
        yield client


def _one_thread(
    compute: Callable[..., list[dict[str, Any]]],
    cell: dict[str, Any],
    model: tuple[int, int] | None,
    grid: str = "",
):
    torch.set_num_threads(1)
    return cell, _compute(compute, cell, model, grid)


def learning_curves(
    points: list[dict[str, Any]], runs: list[Run], workers: int = 1, progress: bool = True
) -> pd.DataFrame:
    """Per-epoch training loss and accuracies (``TrainResult.history``) of ``runs``, with their
    ``points`` labels, ``fold`` and ``seed``: one row per run and epoch."""
    frames = [
        res.history.assign(**({"fold": r.data.fold, "seed": r.train.seed} | p))
        for p, r, res in zip(
            points, runs, train_all(runs, workers, desc="curves", progress=progress), strict=True
        )
    ]
    return pd.concat(frames, ignore_index=True)
