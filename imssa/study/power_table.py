"""The power table that decides the paper build's cuts: for each chapter's resumable grids, each
compared point and each cuttable replication count (programmings per model, training seeds per
fold), the interval half-width before and after the cut, predicted from the last run's variances
(``imssa.stats.power``), ranked by how much the half-width grows.

The rows come from each chapter's grid checkpoints (``results/<profile>/<chapter>/.<grid>-
<digest>.partial.csv``; the newest per grid), one row per programming: the cell's keys (the
columns before the first of ``ROW_COLUMNS``, as ``sweep.resumable_grid`` writes them: the cell,
then the row), ``fold``, ``seed``, ``realisation`` and ``accuracy`` (a fraction; or ``correct``
per ``clip``, averaged over clips first). A chapter without checkpoints is read from its saved
tables that hold such rows. Two kinds of compared value:

* ``accuracy``: each point's (cell's) accuracy in points;
* ``difference``: each planned paired comparison that the chapter saved (a table with columns
  ``a`` and ``b`` whose values are two values of one of a grid's keys, the table's other key
  columns naming the point): a - b in points per programming, paired on (fold, seed,
  realisation), as ``programmings.paired_contrast`` pairs them.

Cuts: ``realisations`` halved (R -> R // 2, a point with fewer keeps its own), ``seeds`` halved
(2 -> 1). Folds are never cut. ``time_share`` is after / before of the grid's programmings (an
upper bound on the saving: a task's loading and reference stay; a seed cut also saves its models'
training, not counted here). A grid whose rows hold one seed (or one programming) per model is
'not cuttable here' for that resource; a grid without per-programming rows is reported, not
failed.

    python -m imssa.study.power_table --profile paper [--results DIR] [--params DIR] [--ledger DIR]

prints the ranked cuts per chapter and writes the table to ``_build/power/<profile>.csv`` (one
row per grid, point and cut) and the ranked cuts to ``_build/power/<profile>_cuts.csv``.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..ledger import read as read_ledger
from ..stats.intervals import fold_t_interval
from ..stats.power import cut_half_width, variance_components
from .params.files import CHAPTERS, read_yaml
from .results import PROVENANCE_COLUMNS, project_root
from .sweep import grid_name

__all__ = [
    "COLUMNS",
    "CUT_COLUMNS",
    "ROW_COLUMNS",
    "chapter_power",
    "cut_summary",
    "grid_sources",
    "grid_seconds",
    "main",
    "planned_differences",
    "point_power",
    "power_table",
    "programming_rows",
    "resource_params",
]

#: columns that a grid's compute writes per programming (the first of them ends the cell's keys)
ROW_COLUMNS = ("realisation", "accuracy", "correct", "seed", "fold", "clip")
#: the power table's columns
COLUMNS = [
    "chapter",
    "grid",
    "kind",
    "point",
    "resource",
    "param",
    "before",
    "after",
    "half_width_before_points",
    "half_width_after_points",
    "growth",
    "half_width_observed_points",
    "time_share",
    "grid_seconds",
    "saved_seconds",
    "source",
    "note",
]
#: the ranked cuts' columns (``cut_summary``)
CUT_COLUMNS = [
    "chapter",
    "grid",
    "resource",
    "param",
    "basis",
    "compared",
    "growth_max",
    "growth_median",
    "worst_point",
    "half_width_after_max_points",
    "time_share",
    "grid_seconds",
    "saved_seconds",
    "note",
]
#: the resources a grid's rows can show, and the level column each counts
_LEVELS = {"realisations": "realisation", "seeds": "seed"}
NOT_CUTTABLE = "not cuttable here"


class _Unusable(ValueError):
    """A table whose rows are not one per programming (the reason is the message)."""


# ------------------------------------------------------------------ reading rows


def grid_sources(folder: Path) -> dict[str, Path]:
    """Grid name -> the CSV holding its per-programming rows in a chapter's results ``folder``:
    the newest checkpoint of each grid (``.<grid>-<digest>.partial.csv``); without any checkpoint,
    the saved tables that have ``fold`` and ``accuracy`` or ``correct`` columns and a ``seed`` or
    ``realisation`` column (by table name)."""
    checkpoints = sorted(folder.glob(".*.partial.csv"), key=lambda p: p.stat().st_mtime)
    if checkpoints:
        return {grid_name(p): p for p in checkpoints}  # the newest wins
    out = {}
    for path in sorted(folder.glob("*.csv")):
        header = set(pd.read_csv(path, nrows=0).columns)
        if "fold" in header and header & {"accuracy", "correct"} and header & set(_LEVELS.values()):
            out[path.stem] = path
    return out


def programming_rows(table: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """``table``'s rows as one row per programming and its cell keys: columns ``keys``, ``fold``,
    ``seed``, ``realisation`` (each present or not) and ``points`` (100 x ``accuracy``, or 100 x
    the mean of ``correct`` over a programming's ``clip`` rows). The keys are the columns before
    the first of ``ROW_COLUMNS``. Rows without a value are left out. A table with more than one
    row per (keys, fold, seed, realisation[, clip]) or without the columns is ``_Unusable``."""
    if "fold" not in table.columns or not {"accuracy", "correct"} & set(table.columns):
        raise _Unusable("no per-programming accuracy (columns fold and accuracy or correct)")
    first = min(table.columns.get_loc(c) for c in ROW_COLUMNS if c in table.columns)
    keys = [c for c in table.columns[:first] if c not in PROVENANCE_COLUMNS]
    levels = [c for c in ("fold", "seed", "realisation") if c in table.columns]
    unique = keys + levels + (["clip"] if "accuracy" not in table.columns else [])
    if table.duplicated(unique).any():
        raise _Unusable(
            f"more than one row per ({', '.join(unique)}): a key of the cell is missing"
        )
    rows = table[keys + levels].copy()
    if "accuracy" in table.columns:
        rows["points"] = 100 * pd.to_numeric(table["accuracy"], errors="coerce")
    else:
        rows["points"] = 100 * pd.to_numeric(table["correct"], errors="coerce")
        rows = rows.groupby(keys + levels, dropna=False, sort=False)["points"].mean().reset_index()
    return rows.dropna(subset=["points"]), keys


def _text(value: Any) -> str:
    """A key's value as text that a CSV's 16 and 16.0 share: integral numbers without '.0'."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return ""
    return str(int(number)) if number.is_integer() else repr(number)


def _point_text(values: dict[str, Any]) -> str:
    return "; ".join(f"{k}={_text(v)}" for k, v in values.items()) or "(the whole grid)"


# ------------------------------------------------------------------ resources


def resource_params(values: dict[str, Any], resource: str, level: int) -> str:
    """The parameter keys (flattened, e.g. ``step.realisations``) of a chapter's merged parameter
    ``values`` that could set ``level`` of ``resource``: a ``realisations`` key whose value is
    ``level``, a ``seeds`` key (``seeds``, ``memory_seeds``, ...; not the selection's or the
    official split's) whose list has ``level`` entries; '' when none does, ' or ' between several.
    """

    def flat(d: dict[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
        for k, v in d.items():
            if isinstance(v, dict):
                yield from flat(v, f"{prefix}{k}.")
            else:
                yield f"{prefix}{k}", v

    found = []
    for key, value in flat(values):
        name = key.rsplit(".", 1)[-1]
        if resource == "realisations" and name == "realisations" and value == level:
            found.append(key)
        elif (
            resource == "seeds"
            and name.endswith("seeds")
            and name not in ("selection_seeds", "official_seeds")
            and isinstance(value, list)
            and len(value) == level
        ):
            found.append(key)
    own = [k for k in found if k != "seeds"]  # a chapter's own seeds key overrides the shared one
    return " or ".join(own or found)


def _level_counts(rows: pd.DataFrame, column: str) -> int:
    """The most levels of ``column`` that one model (fold, seed) or fold holds in ``rows``."""
    if column not in rows.columns:
        return 1
    by = ["fold", "seed"] if column == "realisation" and "seed" in rows.columns else ["fold"]
    return int(rows.groupby(by)[column].nunique().max())


def _cuts(rows: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """Resource -> (before, after) for the grid ``rows``: its most levels, and half of them."""
    counts = {res: _level_counts(rows, col) for res, col in _LEVELS.items()}
    return {res: (n, max(1, n // 2)) for res, n in counts.items()}


# ------------------------------------------------------------------ the power of one value


def point_power(rows: pd.DataFrame, resource: str, after: int) -> dict[str, float]:
    """The cut of ``resource`` to ``after`` levels for one compared value's per-programming
    ``rows`` (column ``points``): the point's own ``before`` and ``after`` counts (a point with
    fewer levels than ``after`` keeps its own), the predicted half-widths (points) and ``growth``
    (``stats.power.cut_half_width``), the half-width the book computed from these rows
    (``half_width_observed_points``: the t interval of the fold means; the prediction ``before``
    equals it unless a variance component was clipped at 0, and is then wider), and the
    programmings before and after (F x S x R)."""
    comp = variance_components(rows, "points")
    seeds, realisations = comp["S"], comp["R"]
    own = seeds if resource == "seeds" else realisations
    new = min(own, after)
    cut = cut_half_width(
        comp,
        new if resource == "seeds" else seeds,
        new if resource == "realisations" else realisations,
    )
    n = comp["F"] * seeds * realisations
    _, low, high = fold_t_interval(rows.groupby("fold")["points"].mean().to_numpy())
    return dict(
        before=own,
        after=new,
        half_width_before_points=cut["half_width_before"],
        half_width_after_points=cut["half_width_after"],
        growth=cut["growth"],
        half_width_observed_points=(high - low) / 2,
        programmings_before=n,
        programmings_after=n * new / own,
    )


def planned_differences(
    rows: pd.DataFrame, keys: list[str], tables: dict[str, pd.DataFrame]
) -> dict[str, pd.DataFrame]:
    """The planned paired comparisons that the chapter's saved ``tables`` (name -> table with
    columns ``a`` and ``b``) make on this grid's ``rows``: point text -> per-programming rows of
    a - b (column ``points``, with ``fold``, ``seed``, ``realisation``). A comparison matches when
    ``a`` and ``b`` are two values of one key and the table's other key columns pick one row per
    programming on each side; others (e.g. comparisons of software models on clips) are skipped."""
    values = {k: {_text(v) for v in rows[k].unique()} for k in keys}
    text = {k: rows[k].map(_text) for k in keys}
    levels = [c for c in ("fold", "seed", "realisation") if c in rows.columns]
    out: dict[str, pd.DataFrame] = {}
    for table in tables.values():
        for _, row in table.iterrows():
            a, b = _text(row["a"]), _text(row["b"])
            for key in keys:
                if a == b or not {a, b} <= values[key]:
                    continue
                where = {
                    k: _text(row[k])
                    for k in keys
                    if k != key and k in table.columns and _text(row[k]) != ""
                }
                name = _point_text({key: f"{a} - {b}"} | where)
                if name in out:
                    continue
                pick = np.logical_and.reduce([text[k] == v for k, v in where.items()] or [True])
                sides = [
                    rows[pick & (text[key] == side)].set_index(levels)["points"] for side in (a, b)
                ]
                if any(s.empty or not s.index.is_unique for s in sides):
                    continue
                diff = (sides[0] - sides[1]).dropna()
                if len(diff):
                    out[name] = diff.rename("points").reset_index()
    return out


# ------------------------------------------------------------------ a chapter


def grid_seconds(ledger_file: Path | None) -> dict[str, float]:
    """Grid -> the seconds its tasks took in a chapter's ledger (``imssa.ledger``; the sum of its
    'task' lines); {} without a ledger."""
    if ledger_file is None:
        return {}
    out: dict[str, float] = {}
    for line in read_ledger(ledger_file):
        if line.get("kind") == "task" and "grid" in line:
            out[line["grid"]] = out.get(line["grid"], 0.0) + float(line.get("seconds", 0.0))
    return out


def _paired_tables(folder: Path) -> dict[str, pd.DataFrame]:
    out = {}
    for path in sorted(folder.glob("*.csv")):
        if {"a", "b"} <= set(pd.read_csv(path, nrows=0).columns):
            out[path.stem] = pd.read_csv(path)
    return out


def _not_cuttable(chapter: str, grid: str, resource: str, source: str, why: str) -> dict:
    return dict(
        chapter=chapter, grid=grid, resource=resource, source=source, note=f"{NOT_CUTTABLE}: {why}"
    )


def chapter_power(
    folder: Path, chapter: str, params: dict[str, Any], seconds: dict[str, float] | None = None
) -> pd.DataFrame:
    """The power table (``COLUMNS``) of one chapter's results ``folder``: per grid, compared value
    (each point's accuracy, each planned difference) and cuttable resource, the half-widths before
    and after its cut; grids or resources that cannot be cut as rows with a ``note`` saying why.
    ``params``: the chapter's merged parameter values (``resource_params``); ``seconds``: grid ->
    seconds its tasks took (``grid_seconds``)."""
    seconds = seconds or {}
    tables = _paired_tables(folder)
    out: list[dict[str, Any]] = []
    sources = grid_sources(folder)
    if not sources:
        why = "no per-programming rows" if any(folder.glob("*.csv")) else "no results yet"
        out.append(_not_cuttable(chapter, "", "", "", why))
    for grid, path in sources.items():
        try:
            rows, keys = programming_rows(
                pd.read_csv(path, keep_default_na=False, na_values=["NaN", "nan", ""])
            )
        except _Unusable as err:
            out.append(_not_cuttable(chapter, grid, "", path.name, str(err)))
            continue
        if rows.empty:
            out.append(_not_cuttable(chapter, grid, "", path.name, "no finite accuracy"))
            continue
        points = {
            _point_text(dict(zip(keys, k if isinstance(k, tuple) else (k,), strict=True))): part
            for k, part in (rows.groupby(keys, sort=False, dropna=False) if keys else [((), rows)])
        }
        compared = [("accuracy", p, r) for p, r in points.items()] + [
            ("difference", p, r) for p, r in planned_differences(rows, keys, tables).items()
        ]
        for resource, (before, after) in _cuts(rows).items():
            if before < 2:
                unit = "model" if resource == "realisations" else "fold"
                why = f"one {_LEVELS[resource]} per {unit}"
                out.append(_not_cuttable(chapter, grid, resource, path.name, why))
                continue
            cut = [
                dict(kind=kind, point=point) | point_power(part, resource, after)
                for kind, point, part in compared
            ]
            programmings = [c for c in cut if c["kind"] == "accuracy"]
            share = sum(c["programmings_after"] for c in programmings) / sum(
                c["programmings_before"] for c in programmings
            )
            grid_s = seconds.get(grid, float("nan"))
            for c in cut:
                c.pop("programmings_before"), c.pop("programmings_after")
                out.append(
                    dict(
                        chapter=chapter,
                        grid=grid,
                        resource=f"{resource} {before} -> {after}",
                        param=resource_params(params, resource, before),
                        time_share=share,
                        grid_seconds=grid_s,
                        saved_seconds=grid_s * (1 - share),
                        source=path.name,
                        note="",
                    )
                    | c
                )
    return pd.DataFrame(out).reindex(columns=COLUMNS)


def _chapter_params(params: Path, chapter: str) -> dict[str, Any]:
    """A chapter's parameter values as its files set them: the profile's ``_shared.yaml`` under
    its own keys (``seeds``), then the chapter's file; {} for missing files."""
    values: dict[str, Any] = {}
    for path in (params / "_shared.yaml", params / f"{chapter}.yaml"):
        if path.is_file():
            values |= read_yaml(path) or {}
    return values


def power_table(
    results: Path, params: Path, ledger: Path | None = None, chapters: list[str] | None = None
) -> pd.DataFrame:
    """``chapter_power`` of every chapter folder under ``results`` (one profile's, e.g.
    ``results/paper``), in book order (``CHAPTERS``; others after, by name), with the parameter
    files of ``params`` (``params/paper``) and the ledgers of ``ledger`` (``<chapter>.jsonl``), and
    each chapter's rows ranked by ``growth`` (least first; rows that cannot be cut last)."""
    folders = (
        {p.name: p for p in sorted(results.iterdir()) if p.is_dir()} if results.is_dir() else {}
    )
    order = [c for c in CHAPTERS if c in folders] + [c for c in folders if c not in CHAPTERS]
    frames = []
    for chapter in chapters or order:
        log = ledger / f"{chapter}.jsonl" if ledger is not None else None
        table = chapter_power(
            folders.get(chapter, results / chapter),
            chapter,
            _chapter_params(params, chapter),
            grid_seconds(log if log is not None and log.is_file() else None),
        )
        frames.append(
            table.sort_values(
                ["growth", "grid", "kind", "point"], na_position="last", kind="stable"
            )
        )
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(frames, ignore_index=True)


def cut_summary(table: pd.DataFrame) -> pd.DataFrame:
    """The cuts of a power ``table`` ranked per chapter (``CUT_COLUMNS``): per grid and resource,
    the largest and median ``growth`` over its planned differences (``basis``), or over its
    points' accuracies where the chapter saved no planned difference on that grid; the point that
    grows most; the largest half-width after the cut; the time share. Least ``growth_median``
    first (then ``growth_max``): the cut that costs the typical comparison least power (a single
    point's growth, from 5 degrees of freedom at 6 folds, is noisy; a point whose speaker and seed
    components are clipped at 0 grows by the most a cut can, sqrt(before / after))."""
    out = []
    cuttable = table[table["note"].fillna("") == ""]
    for (chapter, grid, resource), part in cuttable.groupby(
        ["chapter", "grid", "resource"], sort=False
    ):
        kinds = set(part["kind"])
        basis = "difference" if "difference" in kinds else "accuracy"
        used = part[(part["kind"] == basis) & part["growth"].notna()]
        worst = used.loc[used["growth"].idxmax()] if len(used) else None
        out.append(
            dict(
                chapter=chapter,
                grid=grid,
                resource=resource,
                param=part["param"].iloc[0],
                basis=basis,
                compared=len(used),
                growth_max=used["growth"].max(),
                growth_median=used["growth"].median(),
                worst_point=None if worst is None else worst["point"],
                half_width_after_max_points=used["half_width_after_points"].max(),
                time_share=part["time_share"].iloc[0],
                grid_seconds=part["grid_seconds"].iloc[0],
                saved_seconds=part["saved_seconds"].iloc[0],
                note="",
            )
        )
    for _, row in table[table["note"].fillna("") != ""].iterrows():
        out.append({k: row.get(k) for k in ("chapter", "grid", "resource", "note")})
    summary = pd.DataFrame(out).reindex(columns=CUT_COLUMNS)
    summary["compared"] = summary["compared"].astype("Int64")
    rank = {c: i for i, c in enumerate(dict.fromkeys(table["chapter"]))}
    summary["_chapter"] = summary["chapter"].map(rank)
    summary = summary.sort_values(
        ["_chapter", "growth_median", "growth_max"], na_position="last", kind="stable"
    )
    return summary.drop(columns="_chapter").reset_index(drop=True)


# ------------------------------------------------------------------ entry point


def _print(table: pd.DataFrame, summary: pd.DataFrame, top: int) -> None:
    """The ranked cuts of each chapter, the ``top`` compared values that grow most, and one line
    per grid or resource that cannot be cut."""
    cut_cols = [
        "grid",
        "resource",
        "param",
        "basis",
        "compared",
        "growth_median",
        "growth_max",
        "half_width_after_max_points",
        "time_share",
        "saved_seconds",
    ]
    row_cols = [
        "grid",
        "kind",
        "point",
        "resource",
        "half_width_observed_points",
        "half_width_before_points",
        "half_width_after_points",
        "growth",
    ]
    with pd.option_context(
        "display.width", 250, "display.max_colwidth", 90, "display.float_format", "{:.3f}".format
    ):
        for chapter, cuts in summary.groupby("chapter", sort=False):
            print(f"\n== {chapter}")
            ok = cuts[cuts["note"].fillna("") == ""]
            if len(ok):
                print(ok[cut_cols].to_string(index=False))
                rows = table[(table["chapter"] == chapter) & (table["note"].fillna("") == "")]
                print(f"-- the {top} compared values that grow most")
                worst = rows.sort_values("growth", ascending=False, kind="stable").head(top)
                print(worst[row_cols].to_string(index=False))
            for _, row in cuts[cuts["note"].fillna("") != ""].iterrows():
                where = " ".join(
                    str(v) for v in (row["grid"], row["resource"]) if pd.notna(v) and v
                )
                print(f"   {where or '(chapter)'}: {row['note']}")


def main(argv: list[str] | None = None) -> pd.DataFrame:
    """``python -m imssa.study.power_table --profile paper [--results DIR] [--params DIR]
    [--ledger DIR] [--top N]``: the power table of a profile's results (``--results``: the
    results root holding ``<profile>/``, default ``$IMSSA_RESULTS_DIR`` or ``results``), printed
    as ranked cuts per chapter and written to ``_build/power/<profile>.csv`` (and
    ``<profile>_cuts.csv``) under the project root."""
    ap = argparse.ArgumentParser(
        prog="python -m imssa.study.power_table",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--profile", default="paper")
    ap.add_argument("--results", type=Path, default=None)
    ap.add_argument("--params", type=Path, default=None)
    ap.add_argument("--ledger", type=Path, default=None)
    ap.add_argument("--chapter", action="append", default=None)
    ap.add_argument("--top", type=int, default=5)
    args = ap.parse_args(argv)
    root = project_root()
    results = args.results or Path(os.environ.get("IMSSA_RESULTS_DIR") or root / "results")
    ledger = args.ledger or root / "_build" / "executed" / args.profile / ".ledger"
    table = power_table(
        results / args.profile,
        args.params or root / "params" / args.profile,
        ledger if ledger.is_dir() else None,
        args.chapter,
    )
    summary = cut_summary(table)
    out = root / "_build" / "power"
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / f"{args.profile}.csv", index=False)
    summary.to_csv(out / f"{args.profile}_cuts.csv", index=False)
    _print(table, summary, args.top)
    print(f"\nwritten: {out / f'{args.profile}.csv'} and {args.profile}_cuts.csv")
    return table


if __name__ == "__main__":
    main()
