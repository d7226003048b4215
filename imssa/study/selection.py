"""Choices made on validation data only: summaries of a sweep's validation scores and the rule
that picks a candidate.

Every run of the book has a validation speaker inside its training fold (``data.loso``), and
the functions refuse score columns that hold test results, so selection code cannot read them by
mistake.

**Global and nested choices.** Fold k tests speaker k and validates on speaker k+1 (cyclically,
``data.audio.loso_speakers``): the speaker that fold k+1 tests. A choice averaged over every fold
(``choices``, the *global* choice) has therefore scored every test speaker, as another fold's
validation speaker, before it is fixed. The choice behind one fold's test number is made
*nested* (``nested_choices``): by the same rule on the rows of the folds ``nested_folds`` leaves,
every fold but the fold itself and the fold whose validation speaker is its test speaker (four of
six folds). The rule's standard error needs two folds (seeds do not stand in for speakers):
with fewer left (e.g. two folds run) the nested choice is the incumbent, with se = inf.

**The rule** (``choose``). One parameter is varied at a time around the parameter file's value,
the *incumbent*. The candidate with the highest mean validation accuracy over folds and seeds
replaces the incumbent only if it beats it by more than one standard error of their paired
differences (same folds and seeds): a change needs evidence beyond the noise of six validation
speakers. A failed run counts at chance. Candidates beyond a stated budget (``limits``, e.g. a
largest model size) are shown but never chosen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..model.cache import Run
from .params import BaselineParams, ModelParams, QATParams, fold_params
from .runs import Specs, current_value, float_spec, one_at_a_time, qat_label, qat_spec
from .sweep import train_sweep

__all__ = [
    "baseline_selection",
    "baseline_selection_specs",
    "choices",
    "choose",
    "nested_choices",
    "nested_folds",
    "nested_summary",
    "plateau_epoch",
    "qat_selection_specs",
    "validation_scores",
    "validation_specs",
    "validation_sweep",
]

# : what a validation sweep returns: validation scores and properties of the trained model, no test
# result
VALIDATION_COLUMNS = [
    "parameter",
    "value",
    "fold",
    "seed",
    "val_accuracy",
    "failure",
    "max_abs_A_bar",
    "tau_median_ms",
    "kernel_memory_median_ms",
]


def _check_score(score: str) -> None:
    if "test" in score or score == "accuracy":
        raise ValueError(f"selection reads validation scores only, not {score!r}")


def choose(
    rows: pd.DataFrame,
    incumbent: Any,
    limit: float | None = None,
    score: str = "val_accuracy",
    chance: float = 0.5,
) -> dict[str, Any]:
    """Apply the rule to one parameter's rows (columns ``value``, ``fold``, ``seed``, ``score``,
    ``failure``). Returns the ``choice`` and the evidence: the best eligible candidate, its mean
    gain over the incumbent and the standard error of that gain (paired over folds and seeds), and
    whether the budget ``limit`` excluded a candidate with a higher mean (``budget_binds``)."""
    _check_score(score)
    failed = rows[score].isna() | (rows["failure"].fillna("") != "")
    scored = rows.assign(_score=rows[score].where(~failed, chance))
    table = scored.pivot_table(
        index=["fold", "seed"], columns="value", values="_score", aggfunc="mean"
    )
    if incumbent not in table.columns:
        raise ValueError(
            f"the incumbent value {incumbent!r} was not run; values: {list(table.columns)}"
        )
    eligible = [v for v in table.columns if limit is None or v <= limit]
    best = max(eligible, key=lambda v: (table[v].mean(), v == incumbent))  # ties keep the incumbent
    unlimited = max(table.columns, key=lambda v: (table[v].mean(), v == incumbent))
    diff = (table[best] - table[incumbent]).dropna()
    se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("inf")
    gain = float(diff.mean())
    return {
        "choice": best if gain > se else incumbent,
        "best": best,
        "gain": gain,
        "se": se,
        "budget_binds": unlimited != best,
        "mean": {v: float(table[v].mean()) for v in table.columns},
    }


def choices(
    rows: pd.DataFrame, cfg: ModelParams, limits: dict[str, float] | None = None
) -> pd.DataFrame:
    """For each swept ``parameter`` of a one-at-a-time sweep (``validation_sweep``'s rows): the
    parameter file's value (the incumbent), the best candidate within ``limits``, its gain over
    the incumbent and the standard error of that gain (points), the choice of the rule
    (``choose``), and whether the parameter file holds it. Values as text, for display."""
    out = []
    for path, part in rows.groupby("parameter", sort=False):
        used = current_value(cfg, path)
        c = choose(part, used, (limits or {}).get(path))
        out.append(
            {
                "parameter": path,
                "parameter file": f"{used:g}",
                "val. accuracy (file)": c["mean"][used],
                "best candidate": f"{c['best']:g}",
                "val. accuracy (best)": c["mean"][c["best"]],
                "gain (points)": 100 * c["gain"],
                "se (points)": 100 * c["se"],
                "budget": "" if (limits or {}).get(path) is None else f"<= {limits[path]:g}",
                "budget binds": c["budget_binds"],
                "validation choice": f"{c['choice']:g}",
                "agrees": bool(np.isclose(c["choice"], used)),
            }
        )
    return pd.DataFrame(out)


def nested_folds(fold: int, speakers: Mapping[int, tuple[str, str]]) -> list[int]:
    """The folds whose validation scores may decide the choice behind ``fold``'s test number.

    ``speakers`` maps each fold run to its (test speaker, validation speaker), as
    ``data.audio.loso_speakers`` gives them (or ``fold_table``'s columns). Left out: ``fold``
    itself and every fold whose validation speaker is ``fold``'s test speaker, so no fold that
    scores that speaker decides. Sorted."""
    if fold not in speakers:
        raise ValueError(
            f"fold {fold} has no (test, validation) speakers; folds: {sorted(speakers)}"
        )
    test = speakers[fold][0]
    return sorted(g for g, (_, val) in speakers.items() if g != fold and val != test)


def nested_choices(
    rows: pd.DataFrame,
    cfg: ModelParams,
    speakers: Mapping[int, tuple[str, str]],
    limits: dict[str, float] | None = None,
) -> pd.DataFrame:
    """One row per (swept ``parameter``, fold of ``rows``): the global choice (all folds, as
    ``choices``), the nested choice (``choose`` on the rows of ``nested_folds(fold, speakers)``
    only; the incumbent, gain NaN and se inf, when fewer than two folds are left), the nested
    gain and se (points), whether the two agree (``nested = global``), the value the fold's test
    runs use (``fold value``: the file's, or its ``fold_choices`` for that fold) and whether that
    is the nested choice (``test_uses``: 'nested choice', else 'parameter file'). Values as text,
    for display."""
    out = []
    for path, part in rows.groupby("parameter", sort=False):
        used, limit = current_value(cfg, path), (limits or {}).get(path)
        overall = choose(part, used, limit)["choice"]
        for fold in sorted(part["fold"].unique()):
            keep = nested_folds(int(fold), speakers)
            inner = part[part["fold"].isin(keep)]
            c = (
                choose(inner, used, limit)
                if inner["fold"].nunique() >= 2
                else {"choice": used, "gain": float("nan"), "se": float("inf")}
            )
            own = (
                current_value(fold_params(cfg, int(fold)), path)
                if int(fold) in cfg.shared.folds
                else used
            )
            out.append(
                {
                    "parameter": path,
                    "fold": int(fold),
                    "test speaker": speakers[int(fold)][0],
                    "nested folds": ", ".join(map(str, keep)),
                    "parameter file": f"{used:g}",
                    "global choice": f"{overall:g}",
                    "nested choice": f"{c['choice']:g}",
                    "gain (points)": 100 * c["gain"],
                    "se (points)": 100 * c["se"],
                    "nested = global": bool(np.isclose(c["choice"], overall)),
                    "fold value": f"{own:g}",
                    "test_uses": "nested choice"
                    if np.isclose(c["choice"], own)
                    else "parameter file",
                }
            )
    return pd.DataFrame(out)


def nested_summary(nested: pd.DataFrame) -> str:
    """What a ``nested_choices`` table says, in sentences: how many nested choices differ from the
    global one, every (parameter, fold) whose test runs do not use the nested choice, and how many
    nested choices had fewer than two folds to decide on."""
    moved = nested[nested["test_uses"] != "nested choice"]
    short = int(nested["se (points)"].eq(float("inf")).sum())
    where = "; ".join(
        f"{r['parameter']} on fold {r['fold']} (nested {r['nested choice']}, used "
        f"{r['fold value']})"
        for _, r in moved.iterrows()
    )
    text = (
        f"{int((~nested['nested = global']).sum())} of {len(nested)} (parameter, fold) nested "
        "choices differ from the global one. "
    )
    text += (
        f"The fold's runs do not use the nested choice for {where}: the test numbers of these "
        "folds use a choice that has seen the test speaker."
        if where
        else "Every fold's runs use its nested choice (the file's value, or its fold_choices): "
        "each fold's test numbers use a choice made without its test speaker."
    )
    if short:
        text += (
            f" For {short} of them fewer than two folds were left to decide on, so the rule kept "
            "the parameter file's value."
        )
    return text


def validation_specs(
    cfg: ModelParams, grid: dict[str, list[Any]], run_of: Callable[[ModelParams, int, int], Run]
) -> Specs:
    """The runs of a validation sweep: the one-at-a-time variants of ``cfg``
    (``runs.one_at_a_time``) on every fold and selection seed, ``run_of(parameters, seed, fold)``
    building each run. Returns parallel lists of labels (``parameter``, ``value``, ``seed``) and
    runs, variant by variant, then fold, then seed."""
    points, runs = [], []
    for path, value, point_cfg in one_at_a_time(cfg, grid):
        for fold in cfg.shared.folds:
            for seed in cfg.shared.selection_seeds:
                points.append({"parameter": path, "value": value, "seed": seed})
                runs.append(run_of(point_cfg, seed, fold))
    return points, runs


def validation_scores(
    points: list[dict[str, Any]],
    runs: list[Run],
    n_classes: int,
    workers: int = 1,
    desc: str = "selection",
) -> pd.DataFrame:
    """Train the runs of a validation sweep (``validation_specs``) and return their validation
    scores only (``VALIDATION_COLUMNS``): the table a choice may be made from."""
    rows = train_sweep(points, runs, n_classes, workers, desc)
    return rows.reindex(columns=VALIDATION_COLUMNS)


def validation_sweep(
    cfg: ModelParams,
    grid: dict[str, list[Any]],
    run_of: Callable[[ModelParams, int, int], Run],
    n_classes: int,
    workers: int = 1,
    desc: str = "selection",
) -> pd.DataFrame:
    """Train the one-at-a-time variants of ``cfg`` (``validation_specs``) and return their
    validation scores only (``VALIDATION_COLUMNS``): the table a choice may be made from."""
    return validation_scores(*validation_specs(cfg, grid, run_of), n_classes, workers, desc)


def plateau_epoch(
    history: pd.DataFrame, tolerance: float = 0.01, score: str = "val_accuracy"
) -> int:
    """First epoch from which the mean ``score`` curve (mean over runs per ``epoch``) stays within
    ``tolerance`` of its final value: where the validation curve has settled."""
    _check_score(score)
    curve = history.groupby("epoch")[score].mean().sort_index()
    if curve.empty:
        raise ValueError("empty history")
    ok = ((curve - curve.iloc[-1]).abs() <= tolerance).to_numpy()
    first = (
        len(ok) - int(np.argmin(ok[::-1])) if not ok.all() else 0
    )  # after the last epoch outside the band
    return int(curve.index[first])


def baseline_selection_specs(cfg: BaselineParams) -> dict[str, Specs]:
    """The runs of the float baseline chapter's validation sweeps, by model: 'float', every
    one-at-a-time variant of ``cfg.selection`` (``runs.float_spec``), then the deployed model,
    fixed-range QAT at the first of ``cfg.qat_bits`` (its ``runs.qat_label``; '' without
    ``qat_bits``), the variants of ``cfg.deployed_selection`` (``validation_specs``)."""
    on_deployed = {k: v for k, v in cfg.selection.items() if k in cfg.deployed_selection}

    def deployed(c: ModelParams, seed: int, fold: int) -> Run:
        return qat_spec(c, cfg.qat_bits[0], "fixed", seed, fold)

    return {
        "float": validation_specs(cfg, cfg.selection, float_spec),
        qat_label(cfg.qat_bits[0], "fixed") if cfg.qat_bits else "": validation_specs(
            cfg, on_deployed, deployed
        ),
    }


def baseline_selection(cfg: BaselineParams, n_classes: int, workers: int = 1) -> pd.DataFrame:
    """The float baseline chapter's validation sweeps (``baseline_selection_specs``), one table:
    validation scores only (``validation_scores``), with the ``model`` each was run on ('float',
    or the deployed model's ``runs.qat_label``)."""
    return pd.concat(
        [
            validation_scores(points, runs, n_classes, workers).assign(model=model)
            for model, (points, runs) in baseline_selection_specs(cfg).items()
        ],
        ignore_index=True,
    )


def qat_selection_specs(cfg: QATParams) -> dict[str, Specs]:
    """The runs of the QAT chapter's validation sweeps (``validation_specs``), by sweep:
    'fixed-range choices', the variants of ``cfg.qat_selection`` for fixed-range QAT at
    ``cfg.selection_bits``, and 'pole cap', those of ``cfg.r_max_selection`` (``r_max``) for
    dynamic-range QAT at ``cfg.r_max_bits``."""

    def fixed(c: ModelParams, seed: int, fold: int) -> Run:
        return qat_spec(c, cfg.selection_bits, "fixed", seed, fold)

    def capped(c: ModelParams, seed: int, fold: int) -> Run:
        return qat_spec(c, cfg.r_max_bits, "dynamic", seed, fold)

    return {
        "fixed-range choices": validation_specs(cfg, cfg.qat_selection, fixed),
        "pole cap": validation_specs(cfg, {"r_max": cfg.r_max_selection}, capped),
    }
