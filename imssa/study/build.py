"""The whole book's build: its plan (every training run and grid task each chapter needs,
deduplicated across chapters, with a predicted cost), the models stage that trains the plan's
models before any chapter runs, and the check of an executed chapter's ledger against its plan.

    plans = chapter_plans("paper")                  # chapter -> ChapterPlan, from params/paper/
    table = plan_table(plans, measured_costs(dir))  # one row per chapter and stage or grid
    train_first(plans, workers=2)                   # every planned model, longest first
    check_ledger("periphery", plans["periphery"], ledger.read(path))  # [] when nothing drifted

Costs. A run or grid task measured in an earlier build's ledger costs what it took there (one
worker's seconds). A run never measured is modelled: ``seconds_per_unit`` x its units, a unit
being one epoch of one input sample through one channel of one layer
(epochs x sample_rate x duration_s x H x depth); the rate is the median over the runs
measured, else ``MODELLED_SECONDS_PER_UNIT``. A grid never measured has no prediction (said so).
The modes N are left out of the unit: at H 32, 30 epochs and 2000 samples, N 8, 16 and 32
trained in 13, 14-17 and 15-19 s (the paper build's first chapter, two workers), so a run's cost
is its channels' time steps, not its state size.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .. import ledger
from ..model.cache import Run, run_key, train_many
from .params import CHAPTERS, chapter_file_values, validate_params
from .plans import UNDECLARED, ChapterPlan, plan_of
from .results import project_root

__all__ = [
    "MODELLED_SECONDS_PER_UNIT",
    "Costs",
    "chapter_plans",
    "check_ledger",
    "measured_costs",
    "memory_table",
    "plan_summary",
    "plan_table",
    "run_units",
    "train_first",
]

#: s per unit (``run_units``) of one worker on this repository's 2-core CPU, an ASSUMPTION used
#: only when no earlier build measured a run: the paper profile's float model (30 epochs, 2000
#: samples, H 32, one layer: 1.92e6 units) took about 17 s per worker, two side by side.
MODELLED_SECONDS_PER_UNIT = 17.0 / 1.92e6


def chapter_plans(
    profile: str, chapters: Iterable[str] | None = None, root: Path | None = None
) -> dict[str, ChapterPlan]:
    """Each chapter's plan with the parameters of ``params/<profile>/`` (validated), in book
    order."""
    root = root or project_root()
    out = {}
    for chapter in chapters or CHAPTERS:
        path = root / "params" / profile / f"{chapter}.yaml"
        cfg = validate_params(chapter, chapter_file_values(chapter, path), source=str(path))
        out[chapter] = plan_of(chapter, cfg)
    return out


def run_units(run: Run) -> float:
    """The modelled size of a training run: epochs x sample_rate x duration_s x H x depth."""
    d, m = run.data, run.model
    return run.train.epochs * d.sample_rate * d.duration_s * m.H * m.depth


class Costs:
    """Measured costs, s of one worker: ``runs`` {run key: s}, ``tasks`` {(chapter, grid): median
    s per task}; ``seconds_per_unit`` the rate that models a run never measured."""

    def __init__(
        self,
        runs: Mapping[str, float] | None = None,
        tasks: Mapping[tuple[str, str], float] | None = None,
        seconds_per_unit: float = MODELLED_SECONDS_PER_UNIT,
    ) -> None:
        self.runs, self.tasks = dict(runs or {}), dict(tasks or {})
        self.seconds_per_unit = seconds_per_unit

    def run(self, run: Run) -> tuple[float, str]:
        """Predicted s of ``run`` and where it comes from ('measured', 'modelled')."""
        key = run_key(run)
        if key in self.runs:
            return self.runs[key], "measured"
        return self.seconds_per_unit * run_units(run), "modelled"

    def task(self, chapter: str, grid: str) -> tuple[float, str]:
        """Predicted s of one task of ``grid`` (NaN, 'not measured' when no build measured it)."""
        if (chapter, grid) in self.tasks:
            return self.tasks[(chapter, grid)], "measured"
        return float("nan"), "not measured"


def measured_costs(
    ledgers: Iterable[Path], plans: Mapping[str, ChapterPlan] | None = None
) -> Costs:
    """The ``Costs`` in the ledger files ``ledgers``: each run trained there (its seconds), each
    grid's median task; the modelling rate fitted as the median s per unit of the measured runs
    that ``plans`` name (whose configurations give their units), else the stated one."""
    runs: dict[str, float] = {}
    tasks: dict[tuple[str, str], list[float]] = {}
    for path in ledgers:
        for line in ledger.read(path):
            if line["kind"] == "train" and line.get("trained"):
                runs[line["key"]] = float(line["seconds"])
            elif line["kind"] == "task":
                tasks.setdefault((line["chapter"], line["grid"]), []).append(float(line["seconds"]))
            elif line["kind"] == "aware" and line.get("trained"):  # priced as the grid 'aware'
                tasks.setdefault((line["chapter"], "aware"), []).append(float(line["seconds"]))
    known = {run_key(r): r for p in (plans or {}).values() for r in p.all_runs()}
    rates = [s / run_units(known[k]) for k, s in runs.items() if k in known]
    return Costs(
        runs,
        {k: statistics.median(v) for k, v in tasks.items()},
        statistics.median(rates) if rates else MODELLED_SECONDS_PER_UNIT,
    )


def plan_table(plans: Mapping[str, ChapterPlan], costs: Costs | None = None) -> pd.DataFrame:
    """One row per chapter and piece of work, in book order: ``work`` ('train': a stage of runs
    its parameters fix; 'chosen': runs a validation choice fixes, trained in the chapter; 'aware':
    converter-aware fine-tunes, trained in the chapter; 'grid': a resumable grid's tasks),
    ``name`` (stage or grid), ``count``, ``new`` (runs, with the float runs the stage's fine-tuned
    runs start from, that no earlier stage listed: a shared model is trained once, for the first
    chapter that lists it), ``predicted_s`` (one worker's s for the new runs or the grid's tasks)
    and ``cost_source``."""
    costs = costs or Costs()
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    for chapter, plan in plans.items():
        for stage, runs in plan.runs.items():
            listed = ChapterPlan(runs={stage: runs}).all_runs()  # with their starting runs
            new = [r for r in {run_key(r): r for r in listed}.items() if r[0] not in seen]
            seen |= {k for k, _ in new}
            priced = [costs.run(r) for _, r in new]
            rows.append(
                {
                    "chapter": chapter,
                    "work": "train",
                    "name": stage,
                    "count": len(runs),
                    "new": len(new),
                    "predicted_s": sum(s for s, _ in priced),
                    "cost_source": _source(src for _, src in priced),
                }
            )
        for stage, count in plan.chosen.items():
            rows.append(
                {
                    "chapter": chapter,
                    "work": "chosen",
                    "name": stage,
                    "count": count,
                    "new": count,
                    "predicted_s": float("nan"),
                    "cost_source": "after a choice: priced with the chapter",
                }
            )
        for stage, count in plan.aware.items():
            per_run, source = costs.task(chapter, "aware")
            rows.append(
                {
                    "chapter": chapter,
                    "work": "aware",
                    "name": stage,
                    "count": count,
                    "new": count,
                    "predicted_s": per_run * count,
                    "cost_source": source,
                }
            )
        for grid, tasks in plan.grids.items():
            per_task, source = costs.task(chapter, grid)
            rows.append(
                {
                    "chapter": chapter,
                    "work": "grid",
                    "name": grid,
                    "count": tasks,
                    "new": tasks,
                    "predicted_s": per_task * tasks,
                    "cost_source": source,
                }
            )
        if chapter in UNDECLARED:
            rows.append(
                {
                    "chapter": chapter,
                    "work": "undeclared",
                    "name": "",
                    "count": 0,
                    "new": 0,
                    "predicted_s": float("nan"),
                    "cost_source": "no plan declared",
                }
            )
    return pd.DataFrame(
        rows, columns=["chapter", "work", "name", "count", "new", "predicted_s", "cost_source"]
    )


def _source(sources: Iterable[str]) -> str:
    kinds = sorted(set(sources))
    return "+".join(kinds) if kinds else "none"


def plan_summary(
    table: pd.DataFrame, workers: int, previous: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """Per chapter: ``trainings`` (listed), ``new_trainings`` (after removing those an earlier
    chapter lists), ``chosen`` (after a validation choice), ``aware`` (converter-aware
    fine-tunes), ``grid_tasks``, ``unpriced_tasks`` (grid tasks and fine-tunes no ledger has
    measured: left out of the prediction, which is then a lower bound), ``predicted_s`` (the new
    trainings' and the priced grids' worker seconds over ``workers``), ``previous_s`` (the
    chapter's last measured wall time, ``previous``) and ``share`` (of the total predicted_s); a
    last row 'total'."""
    previous = previous or {}
    out = []
    for chapter, rows in table.groupby("chapter", sort=False):
        train, grid = rows[rows.work == "train"], rows[rows.work.isin(["grid", "aware"])]
        aware = int(rows.loc[rows.work == "aware", "count"].sum())
        out.append(
            {
                "chapter": chapter,
                "trainings": int(train["count"].sum()),
                "new_trainings": int(train["new"].sum()),
                "chosen": int(rows.loc[rows.work == "chosen", "count"].sum()),
                "aware": aware,
                "grid_tasks": int(grid["count"].sum()) - aware,
                "unpriced_tasks": int(grid.loc[grid["predicted_s"].isna(), "count"].sum()),
                "predicted_s": (train["predicted_s"].sum() + grid["predicted_s"].sum(min_count=0))
                / workers,
                "previous_s": previous.get(chapter, float("nan")),
            }
        )
    summary = pd.DataFrame(out)
    total = summary.drop(columns="chapter").sum(numeric_only=True, min_count=1)
    summary["share"] = summary["predicted_s"] / summary["predicted_s"].sum()
    summary.loc[len(summary)] = {"chapter": "total", **total.to_dict(), "share": 1.0}
    return summary


def train_first(
    plans: Mapping[str, ChapterPlan],
    workers: int,
    costs: Costs | None = None,
    progress: bool = True,
) -> list[str]:
    """The models stage: every run the ``plans`` list, once, trained where the model cache lacks
    it, before any chapter runs, on ``workers`` processes: the float runs first (a fine-tuned run
    starts from one), each wave longest first (``costs``), so that no worker idles at the end
    behind a long run. Returns the keys in training order. A killed stage, rerun, trains only what
    the cache lacks."""
    costs = costs or Costs()
    unique = {run_key(r): r for p in plans.values() for r in p.all_runs()}
    order: list[str] = []
    for wave in (False, True):  # floats, then fine-tunes
        runs = sorted(
            ((k, r) for k, r in unique.items() if (r.init_from is not None) == wave),
            key=lambda kr: -costs.run(kr[1])[0],
        )
        label = "fine-tuned models" if wave else "float models"
        train_many([r for _, r in runs], workers=workers, desc=label, progress=progress)
        order += [k for k, _ in runs]
    return order


def check_ledger(chapter: str, plan: ChapterPlan, lines: list[dict[str, Any]]) -> list[str]:
    """What ``chapter``'s ledger ``lines`` did beyond its ``plan``: runs asked for that the plan
    lists nowhere, beyond the number its chosen stages allow; converter-aware fine-tunes beyond the
    planned number; grids it does not list or with other than the planned number of tasks. []
    when the build kept to the plan (a chapter without a declared plan is not checked)."""
    if chapter in UNDECLARED:
        return []
    mine = [line for line in lines if line.get("chapter") == chapter]
    keys = plan.keys()
    extra = sorted({line["key"] for line in mine if line["kind"] == "train"} - keys)
    problems = []
    if len(extra) > sum(plan.chosen.values()):
        problems.append(
            f"{chapter}: {len(extra)} runs outside its plan (allowed after choices: "
            f"{sum(plan.chosen.values())}), e.g. {extra[:3]}"
        )
    aware = {line["key"] for line in mine if line["kind"] == "aware"}
    if len(aware) > sum(plan.aware.values()):
        planned = sum(plan.aware.values())
        problems.append(f"{chapter}: {len(aware)} converter-aware fine-tunes; planned {planned}")
    for line in mine:
        if line["kind"] == "grid" and plan.grids.get(line["grid"]) != line["tasks"]:
            problems.append(
                f"{chapter}: grid {line['grid']!r} ran {line['tasks']} tasks; "
                f"planned {plan.grids.get(line['grid'], 'none')}"
            )
    return problems


def memory_table(lines: list[dict[str, Any]]) -> pd.DataFrame:
    """Peak resident memory per chapter and role from ledger ``lines``: 'kernel' (the process that
    saved the chapter's tables and ran its grids), 'grid worker' (processes that ran grid tasks),
    'training worker' (processes that trained a run; the models stage's under chapter 'models').
    Columns chapter, role, processes, peak_rss_MB (MiB, the largest ``max_rss_MB`` seen)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    kernels = {
        (line["chapter"], line["pid"]) for line in lines if line["kind"] in ("table", "grid")
    }
    for line in lines:
        if "pid" not in line or line["kind"] in ("start", "end"):
            continue
        chapter, pid = line["chapter"], line["pid"]
        if (chapter, pid) in kernels:
            role = "kernel"
        elif line["kind"] == "task":
            role = "grid worker"
        elif line["kind"] == "train" and line.get("trained"):
            role = "training worker"
        else:
            continue
        row = rows.setdefault((chapter, role), {"pids": set(), "peak_rss_MB": 0.0})
        row["pids"].add(pid)
        row["peak_rss_MB"] = max(row["peak_rss_MB"], float(line["max_rss_MB"]))
    return pd.DataFrame(
        [
            {"chapter": c, "role": r, "processes": len(v["pids"]), "peak_rss_MB": v["peak_rss_MB"]}
            for (c, r), v in rows.items()
        ],
        columns=["chapter", "role", "processes", "peak_rss_MB"],
    )
