"""Chapter 'Memory that survives programming': the comparisons, the planned family and the answer.

* Accuracy tables: the recipe comparison (``recipe_table``), the step rates (``rate_table``),
  the four-class task (``four_class_table``); paired differences in points (``paired_points``).
* The planned family (``planned_parts``, ``planned_family``, Holm) and what it shows under noise
  (``held_up_to``, ``verdicts_text``).
* The chapter's answer: ``headline``, ``conclusion``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..stats.intervals import accuracy_table, fold_accuracy
from ..stats.paired import holm_family, paired_difference
from ..stats.programmings import paired_contrast
from ..stats.verdicts import ABOVE, BELOW
from .design_noise import noise_contrasts
from .memory_programming import PLACEMENTS, design, recipe_pick, step_rates
from .params import ProgrammedMemoryParams

__all__ = [
    "conclusion",
    "four_class_table",
    "headline",
    "held_up_to",
    "paired_points",
    "picked_answers",
    "planned_family",
    "planned_parts",
    "rate_table",
    "recipe_table",
    "verdicts_text",
]


def paired_points(
    answers: pd.DataFrame, by: list[str], column: str, a: Any, b: Any
) -> pd.DataFrame:
    """Per group of ``by``: accuracy of ``column == a`` minus ``column == b`` on the same (fold,
    seed, clip), in points (``stats.paired.paired_difference``): ``difference_points``, its t
    interval over folds, ``p_t`` and the exact ``p_sign_flip``. Groups where either side is
    missing are left out."""
    rows = []
    for key, part in answers.groupby(by, sort=False) if by else [((), answers)]:
        A, B = part[part[column] == a], part[part[column] == b]
        if A.empty or B.empty:
            continue
        keys = ["fold", "seed", "clip"]
        both = A[keys].merge(B[keys], on=keys)
        d = paired_difference(A.merge(both, on=keys), B.merge(both, on=keys))
        rows.append(
            dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
            | {
                "a": str(a),
                "b": str(b),
                "difference_points": d["difference_points"],
                "ci_low": d["ci_low"],
                "ci_high": d["ci_high"],
                "p_t": d["p_t"],
                "p_sign_flip": d["p_sign_flip"],
                "folds": d["folds"],
            }
        )
    return pd.DataFrame(rows)


def picked_answers(answers: pd.DataFrame, picks: pd.DataFrame, on: list[str]) -> pd.DataFrame:
    """The answers of the runs that ``picks`` chose (one row per fold and values of the other
    columns of ``on``, e.g. a recipe per (bits_A, fold)): ``answers`` restricted to them."""
    return answers.merge(picks[on], on=on)


def _memory(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return (
        rows.groupby(by, sort=False)
        .agg(
            tau_max_ms=("tau_max_ms", "mean"),
            failed_runs=("failure", lambda f: int((f != "").sum())),
        )
        .reset_index()
    )


def recipe_table(
    answers: pd.DataFrame,
    rows: pd.DataFrame,
    cfg: ProgrammedMemoryParams,
    speakers: Mapping[int, tuple[str, str]],
) -> dict[str, pd.DataFrame]:
    """The recipe comparison at the first front end: ``accuracy`` (one row per design of
    ``recipe_bits_A`` under each recipe, the design with its recipe picked per fold, and the float
    model: accuracy with its interval, slowest mode), ``picks`` (``memory_programming.recipe_pick``)
    and ``paired`` (per design, from scratch minus fine-tuned, and the design with the picked recipe
    minus the float model; ``paired_points``)."""
    fe = cfg.front_ends[0].name

    def mine(t: pd.DataFrame) -> pd.DataFrame:
        design_rows = (
            t["bits_A"].isin(cfg.recipe_bits_A)
            & (t["a_grid"] == "cartesian")
            & (t["bits_BC"] == cfg.design_bits)
        )
        return t[
            (t["front_end"] == fe) & (t["task"] == "order") & (design_rows | t["bits_A"].isna())
        ]

    a, r = mine(answers), mine(rows)
    picks = recipe_pick(r, speakers)
    chosen = picked_answers(a.dropna(subset=["bits_A"]), picks, ["bits_A", "fold", "recipe"])
    chosen["model"] = [
        design(cfg, int(b)).name + ", recipe picked on validation" for b in chosen["bits_A"]
    ]
    acc = pd.DataFrame(
        [
            {"model": m} | fold_accuracy(part)
            for m, part in pd.concat([a, chosen]).groupby("model", sort=False)
        ]
    )
    acc = acc.merge(_memory(r, ["model"]), on="model", how="left")
    paired = pd.concat(
        [
            paired_points(
                a.dropna(subset=["bits_A"]), ["bits_A"], "recipe", "scratch", "fine_tune"
            ),
            *[
                paired_points(
                    pd.concat([c, a[a["bits_A"].isna()]]), [], "model", m, "float S4D"
                ).assign(bits_A=float(c["bits_A"].iloc[0]))
                for m, c in chosen.groupby("model")
            ],
        ],
        ignore_index=True,
    )
    return {
        "accuracy": acc,
        "picks": picks,
        "paired": paired.assign(front_end=fe, section="recipe"),
    }


def rate_table(
    answers: pd.DataFrame, rows: pd.DataFrame, cfg: ProgrammedMemoryParams
) -> pd.DataFrame:
    """One row per (task, front end, model): accuracy with its interval and the slowest trained mode
    in ms and steps."""
    acc = pd.DataFrame(
        [
            {"task": t, "front_end": fe, "model": m} | fold_accuracy(part)
            for (t, fe, m), part in answers.groupby(["task", "front_end", "model"], sort=False)
        ]
    )
    out = acc.merge(
        _memory(rows, ["task", "front_end", "model"]), on=["task", "front_end", "model"], how="left"
    )
    out["step_rate"] = out["front_end"].map(step_rates(cfg))
    out["tau_max_steps"] = out["tau_max_ms"] * out["step_rate"] / 1000
    return out


def four_class_table(answers: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """One row per model of the four-class task: accuracy with its interval, the accuracy on the XY
    and YX sequences alone (``order_pairs_accuracy``, classes 0 and 1) and the slowest trained
    mode."""

    acc = accuracy_table(answers, "model")
    pairs = (
        answers[answers["target"] < 2]
        .groupby("model")["correct"]
        .mean()
        .rename("order_pairs_accuracy")
    )
    return acc.merge(pairs.reset_index(), on="model").merge(
        _memory(rows, ["model"]), on="model", how="left"
    )


def planned_parts(
    recipe: Mapping[str, pd.DataFrame],
    answers: pd.DataFrame,
    main_answers: pd.DataFrame,
    order_answers: pd.DataFrame,
    four_answers: pd.DataFrame,
    noise: pd.DataFrame,
    cfg: ProgrammedMemoryParams,
) -> list[pd.DataFrame]:
    """The rows of the chapter's planned family, by section (column ``section``): recipe, step rate
    (chosen design - float per task and front end), noise (``design_noise.noise_contrasts`` at sigma
    > 0 with the first count of ``devices_per_element``, the paper's; sigma = 0 is the step-rate
    row, and the other count is shown, not tested), placement (A_bar digital minus on the array,
    paired on the same programming draws, ``stats.programmings.paired_contrast``), four classes."""
    rates = pd.concat([main_answers, order_answers], ignore_index=True)
    step = paired_points(
        rates, ["task", "front_end"], "model", "chosen design", "float S4D"
    ).assign(section="step rate")
    float_answers = answers[(answers["task"] == "order") & answers["bits_A"].isna()]
    planned = noise[
        (noise["devices_per_element"] == cfg.shared.devices_per_element[0])
        & (noise["sigma_uS"] > 0)
    ]
    programmed = noise_contrasts(planned, float_answers, 1 / cfg.order_data().n_classes).assign(
        section="noise"
    )
    placement = paired_contrast(
        planned.dropna(subset=["accuracy"]),
        "placement",
        PLACEMENTS[1],
        PLACEMENTS[0],
        ["front_end", "devices_per_element", "sigma_uS"],
    ).assign(section="placement")
    four = pd.concat(
        [
            paired_points(four_answers, ["front_end"], "model", m, "float S4D")
            for m in ("2-bit, fixed range (paper)", "chosen design")
        ]
    ).assign(section="four classes")
    return [recipe["paired"], step, programmed, placement, four]


def planned_family(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The chapter's planned comparisons as one family (``stats.paired.holm_family`` over ``p_t``):
    rows with ``a``, ``b``, ``difference_points``, ``ci_low``, ``ci_high``, ``p_t``,
    ``p_sign_flip``. The exact sign-flip p over six folds stops at 1/32, so in a family of more than
    one it could resolve nothing after Holm: it is reported beside the t test's, which the family
    adjusts. Its ``verdict``: a - b ``ABOVE`` / ``BELOW`` 0 or ``NOT_RESOLVED``
    (``stats.verdicts.verdict``)."""
    return holm_family(pd.concat(parts, ignore_index=True), "memory that survives programming")


def held_up_to(family: pd.DataFrame, fe: str, placement: str, devices: int) -> float:
    """The largest sigma (uS) of the planned family up to which the programmed design of front end
    ``fe`` and ``placement`` is shown above chance (Holm) at every sigma of the sweep: a claim
    'up to x' holds at each sigma below x as well. 0 where it is not shown at the smallest sigma."""
    own = family[
        (family["section"] == "noise")
        & (family["b"] == "chance")
        & (family["front_end"] == fe)
        & (family["placement"] == placement)
        & (family["devices_per_element"] == devices)
    ]
    held = 0.0
    for r in own.sort_values("sigma_uS").itertuples():
        if r.verdict != ABOVE:
            break
        held = float(r.sigma_uS)
    return held


def verdicts_text(cfg: ProgrammedMemoryParams, family: pd.DataFrame, noise_fes: list[str]) -> str:
    """The noise answer in sentences, per front end and placement (the planned family's device
    count): the sigma up to which the programmed design is shown above chance at every sigma
    (``held_up_to``), the sigmas where it is shown below the float model, and where A_bar digital
    is shown better or worse than on the array."""
    d0 = cfg.shared.devices_per_element[0]
    parts = []
    for fe in noise_fes:
        for placement in PLACEMENTS:
            own = family[
                (family["section"] == "noise")
                & (family["front_end"] == fe)
                & (family["placement"] == placement)
            ]
            below = own[(own["b"] == "float S4D") & (own["verdict"] == BELOW)]["sigma_uS"].tolist()
            held = held_up_to(family, fe, placement, d0)
            parts.append(
                f"{fe}, A_bar {'on the array' if placement == 'array' else 'digital'}: "
                + (
                    f"above chance (Holm) at every sigma up to {held:g} uS"
                    if held
                    else "not shown above chance at the smallest sigma"
                )
                + (
                    "; shown below the float model at " + ", ".join(f"{x:g}" for x in below) + " uS"
                    if below
                    else "; not shown below the float model at any sigma"
                )
            )
        pl = family[(family["section"] == "placement") & (family["front_end"] == fe)]
        better = pl[(pl["b"] == PLACEMENTS[0]) & (pl["verdict"] == ABOVE)]["sigma_uS"].tolist()
        parts.append(
            f"{fe}, A_bar digital against on the array (same draws): "
            + (
                "shown better at " + ", ".join(f"{x:g}" for x in better) + " uS"
                if better
                else "not shown better at any sigma"
            )
        )
    return f"With {d0} devices per element: " + "; ".join(parts) + "."


def headline(stars: pd.DataFrame, family: pd.DataFrame, cfg: ProgrammedMemoryParams) -> str:
    """The chapter's answer in one paragraph, per programmed front end and placement of A_bar (the
    planned family's device count): the measured sigma* (descriptive: the largest sigma with a
    mean drop of at most 2 points and under 10% failures) against the write-verified range
    ``write_verified_uS``, and the sigma up to which the design is shown above chance (Holm,
    ``held_up_to``)."""
    d0 = cfg.shared.devices_per_element[0]
    st = stars[stars["devices_per_element"] == d0].set_index(["front_end", "placement"])
    lo, hi = cfg.write_verified_uS
    parts = []
    for fe in cfg.noise_front_ends:
        for placement in PLACEMENTS:
            if (fe, placement) not in st.index or pd.isna(st.loc[(fe, placement), "sigma_star_uS"]):
                continue
            star = float(st.loc[(fe, placement), "sigma_star_uS"])
            where = "below" if star < lo else "inside" if star <= hi else "above"
            held = held_up_to(family, fe, placement, d0)
            parts.append(
                f"at {fe} with A_bar "
                f"{'on the array' if placement == 'array' else 'held digitally'}, sigma* = "
                f"{star:g} uS ({where} the write-verified {lo:g}-{hi:g} uS), above chance at "
                + (f"every sigma up to {held:g} uS" if held else "no sigma > 0")
            )
    return (
        ("**Answer** (" + f"{d0} devices per element): " + "; ".join(parts) + ".") if parts else ""
    )


def conclusion(
    recipe: Mapping[str, pd.DataFrame],
    law: pd.DataFrame,
    rates: pd.DataFrame,
    cost: pd.DataFrame,
    stars: pd.DataFrame,
    family: pd.DataFrame,
    four: pd.DataFrame,
    cfg: ProgrammedMemoryParams,
) -> str:
    """The chapter's answer in numbers: the recipe, the bits A_bar needs per step rate, the step
    rate's cost, the noise each placement holds, and the four-class task."""
    fe0 = cfg.front_ends[0].name
    acc = recipe["accuracy"].set_index("model")
    rec = "; ".join(
        f"{m}: {r.estimate:.1%} [{r.ci_low:.1%}, {r.ci_high:.1%}]" for m, r in acc.iterrows()
    )
    order = rates[rates["task"] == "order"].set_index(["front_end", "model"])
    per_rate = "; ".join(
        f"{fe}: float {order.loc[(fe, 'float S4D'), 'estimate']:.1%}, chosen design "
        f"{order.loc[(fe, 'chosen design'), 'estimate']:.1%}"
        for fe in dict.fromkeys(order.index.get_level_values(0))
        if (fe, "chosen design") in order.index
    )
    energy = "; ".join(
        f"{r.front_end} ({r.placement}): {r.energy_pJ_per_inference / 1e6:.3g} uJ"
        for r in cost[cost["task"] == "order"].itertuples()
    )
    d0 = cfg.shared.devices_per_element[0]
    st = stars[stars["devices_per_element"] == d0]
    held = "; ".join(
        f"{r.front_end}, A_bar {'on the array' if r.placement == 'array' else 'digital'}: sigma* "
        f"{r.sigma_star_uS:g} uS ({int(r.working)} of {int(r.models)} models work at 0)"
        for r in st.itertuples()
    )
    f4 = four.set_index("model")
    return (
        headline(stars, family, cfg) + "\n\n"
        f"**Recipe** (at {fe0}, memory task): {rec}. "
        f"**Step rate** (memory task, accuracy over held-out speakers): {per_rate}. "
        f"**Energy per inference** of the chosen design: {energy}. "
        f"**Under programming noise**, with {d0} devices per element: {held}. "
        + verdicts_text(cfg, family, cfg.noise_front_ends)
        + " "
        f"**Four classes** at {cfg.four_class_front_end}: "
        + "; ".join(
            f"{m} {r.estimate:.1%} (XY/YX alone {r.order_pairs_accuracy:.1%})"
            for m, r in f4.iterrows()
        )
        + ". These findings hold for the designs, grids, step rates and recipes named here, on "
        "this task and these six speakers."
    )
