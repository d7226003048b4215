"""The quantization-strategy chapter's verdicts: the Pareto front of accuracy against cost, where a
strategy still works, the recommendation made on validation data (pooled and nested), the family
of a strategy, and how much of the baseline's hardware gap a strategy recovers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..stats.programmings import chance_failure, realisation_summary
from ..stats.verdicts import ABOVE, Rule, table_verdicts, verdict
from .params import Strategy

__all__ = [
    "answer_table",
    "family",
    "gap_recovery",
    "gap_text",
    "gap_verdict",
    "interval_text",
    "works_at_text",
    "nested_recommendation",
    "pareto_front",
    "pareto_table",
    "per_model_accuracy",
    "recommendation_text",
    "software_summary",
    "recommend",
    "strategy_gaps",
    "works_at",
]


def pareto_front(
    table: pd.DataFrame, cost: str, accuracy: str, n_clips: int | None = None
) -> pd.Series:
    """True for the rows no other row dominates: none is at most as costly and at least as accurate,
    and strictly better in one of the two. Rows with a missing value, and with ``n_clips`` the rows
    not significantly above chance on that many clips (``stats.programmings.chance_failure``), are
    never on it."""
    c, a = table[cost].to_numpy(float), table[accuracy].to_numpy(float)
    ok = np.isfinite(c) & np.isfinite(a)
    if n_clips is not None:
        ok &= np.array([np.isfinite(x) and not chance_failure(float(x), n_clips) for x in a])
    front = []
    for i in range(len(table)):
        dominated = ok & (c <= c[i]) & (a >= a[i]) & ((c < c[i]) | (a > a[i]))
        front.append(bool(ok[i] and not dominated.any()))
    return pd.Series(front, index=table.index, name="pareto")


def works_at(rows: pd.DataFrame, strategy: str, chance: float = 0.5) -> float | None:
    """The largest sigma (uS) at which ``strategy`` still works at all: its accuracy's interval over
    folds then programmings (``stats.programmings.realisation_summary``) lies wholly above
    ``chance``. ``rows``: hardware rows with ``strategy``, ``sigma_uS``, ``fold``, ``realisation``,
    ``accuracy``. None if it works at no sigma."""
    part = rows[rows["strategy"] == strategy].dropna(subset=["accuracy"])
    if part.empty:
        raise ValueError(f"no hardware rows for strategy {strategy!r}")
    summary = realisation_summary(part, ["sigma_uS"], None)
    above = [w == ABOVE for w in table_verdicts(summary, p=None, rule=Rule(chance))]
    working = summary[above]["sigma_uS"]
    return float(working.max()) if len(working) else None


def recommend(
    table: pd.DataFrame,
    accuracy: str = "accuracy_hardware_val",
    energy: str = "energy_pJ_per_inference",
    tie_points: float = 1.0,
) -> str:
    """The strategy to recommend: the highest validation accuracy under hardware; strategies within
    ``tie_points`` points of it are tied, and the one of them with the least energy wins (then the
    first listed). ``table``: one row per strategy with ``strategy``, ``accuracy`` and
    ``energy``."""
    t = table.dropna(subset=[accuracy])
    if t.empty:
        raise ValueError(f"no strategy has a {accuracy!r} value")
    best = t[accuracy].max()
    tied = t[t[accuracy] >= best - tie_points / 100]
    return str(tied.sort_values(energy, kind="stable").iloc[0]["strategy"])


def family(s: Strategy, baseline: Strategy) -> str:
    """The question a strategy answers, for grouping figures: 'floor' (PTQ), 'noise-aware',
    'stability' (pole cap or penalty), 'range mode', 'mixed precision', 'devices', 'bit width'
    (uniform bits, fixed range); the baseline is 'baseline'."""
    if s.name == baseline.name:
        return "baseline"
    if s.training == "ptq":
        return "floor"
    if s.noise_sigma_uS > 0:
        return "noise-aware"
    if s.range_mode != "fixed":
        return "range mode"
    if s.pole_penalty > 0 or (s.r_max is not None and s.r_max != baseline.r_max):
        return "stability"
    if len(set(s.bits)) > 1:
        return "mixed precision"
    if s.devices_per_element is not None and s.devices_per_element != baseline.devices_per_element:
        return "devices"
    return "bit width"


def gap_recovery(
    hardware: pd.DataFrame, software: pd.DataFrame, baseline: str, best: str, sigma_uS: float
) -> dict[str, float]:
    """How much of plain QAT's software-to-hardware gap ``best`` wins back at ``sigma_uS``.

    ``hardware``: programmings (``strategy``, ``sigma_uS``, ``seed``, ``fold``, ``realisation``,
    ``accuracy``); ``software``: one row per model (``strategy``, ``seed``, ``fold``, ``accuracy``).
    Returns the baseline's gap (software minus hardware, points, interval over folds then
    programmings), the best strategy's own gap, the paired difference best - baseline under
    hardware (points, interval; same models' folds, same draws) and its share of the baseline's gap.
    """
    from ..stats.programmings import paired_contrast

    rows = hardware[
        (hardware["sigma_uS"] == sigma_uS) & hardware["strategy"].isin([baseline, best])
    ]
    rows = rows.dropna(subset=["accuracy"])
    if set(rows["strategy"]) != {baseline, best}:
        raise ValueError(f"need hardware rows of {baseline!r} and {best!r} at sigma {sigma_uS}")
    gaps = strategy_gaps(rows, software, sigma_uS).set_index("strategy")
    won = paired_contrast(rows, "strategy", best, baseline, by=["sigma_uS"]).iloc[0]
    base = gaps.loc[baseline]
    return {
        "sigma_uS": sigma_uS,
        "gap_points": float(base["gap_points"]),
        "gap_ci_low": float(base["gap_ci_low"]),
        "gap_ci_high": float(base["gap_ci_high"]),
        "best_gap_points": float(gaps.loc[best, "gap_points"]),
        "recovered_points": float(won["difference_points"]),
        "recovered_ci_low": float(won["ci_low"]),
        "recovered_ci_high": float(won["ci_high"]),
        "recovered_share": float(won["difference_points"] / base["gap_points"])
        if base["gap_points"] > 0
        else float("nan"),
    }


def nested_recommendation(
    val_table: pd.DataFrame,
    test_table: pd.DataFrame,
    speakers: dict[int, tuple[str, str]],
    tie_points: float = 1.0,
) -> pd.DataFrame:
    """The recommendation rule applied once per test fold without that fold's speaker.

    The pooled rule (``recommend``) sees every speaker's clips through some fold's validation set,
    also the speakers that other folds test on. Here, for test fold k, the rule only sees the
    validation rows of folds whose validation speaker is not fold k's test speaker, and the chosen
    strategy is scored on fold k's test clips. ``val_table`` and ``test_table``: one row per
    (strategy, fold) with ``accuracy`` (under hardware) and ``energy_pJ_per_inference``;
    ``speakers``: fold -> (test speaker, validation speaker). One row per test fold: the choice and
    its test accuracy."""
    rows = []
    for fold, (test_speaker, _) in sorted(speakers.items()):
        seen = [f for f, (_, v) in speakers.items() if v != test_speaker]
        pooled = (
            val_table[val_table["fold"].isin(seen)]
            .groupby("strategy", sort=False)
            .agg(
                accuracy_hardware_val=("accuracy", "mean"),
                energy_pJ_per_inference=("energy_pJ_per_inference", "first"),
            )
            .reset_index()
        )
        choice = recommend(pooled, tie_points=tie_points)
        hit = test_table[(test_table["fold"] == fold) & (test_table["strategy"] == choice)][
            "accuracy"
        ]
        rows.append(
            {
                "fold": fold,
                "test_speaker": test_speaker,
                "choice": choice,
                "accuracy": float(hit.mean()) if len(hit) else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def strategy_gaps(hardware: pd.DataFrame, software: pd.DataFrame, sigma_uS: float) -> pd.DataFrame:
    """Each strategy's own software-to-hardware gap at ``sigma_uS`` (points: its software accuracy
    minus its accuracy under hardware, per model, then the interval over folds and programmings)."""
    from ..stats.programmings import drop_interval, drops_from

    rows = hardware[hardware["sigma_uS"] == sigma_uS].dropna(subset=["accuracy"])
    out = []
    for name, part in rows.groupby("strategy", sort=False):
        ref = software[software["strategy"] == name].dropna(subset=["accuracy"])
        d = drop_interval(drops_from(part, ref, key=("seed", "fold")).assign(_g=0), ["_g"]).iloc[0]
        out.append(
            {
                "strategy": name,
                "sigma_uS": sigma_uS,
                "gap_points": float(d["drop_points"]),
                "gap_ci_low": float(d["drop_ci_low"]),
                "gap_ci_high": float(d["drop_ci_high"]),
            }
        )
    return pd.DataFrame(out)


def _sentence_case(words: str) -> str:
    """``words`` with its first letter capitalised and the rest as written (QAT stays QAT)."""
    return words[:1].upper() + words[1:]


def works_at_text(sigma_uS: float | None, baseline: str = "plain QAT") -> str:
    """The sentence on ``works_at``'s answer for the ``baseline`` (validation): the largest sigma
    (uS) at which it still works, or that it works at none (None)."""
    if sigma_uS is None:
        return (
            f"{_sentence_case(baseline)} works at no noise level (validation): "
            "there is no gap to close."
        )
    return (
        f"{_sentence_case(baseline)} still works at all up to **sigma = {sigma_uS:g} uS** "
        "(validation)."
    )


def gap_text(gap: dict[str, float] | None, chosen: str, baseline: str = "plain QAT") -> str:
    """``gap_recovery``'s result in sentences (points, intervals), ending with ``gap_verdict``;
    None: the recommended strategy ``chosen`` is the ``baseline`` itself."""
    if gap is None:
        return f"The recommended strategy is {baseline} itself."
    return (
        f"{_sentence_case(baseline)} loses **{gap['gap_points']:.1f} points** "
        f"[{gap['gap_ci_low']:.1f}, {gap['gap_ci_high']:.1f}] at sigma = {gap['sigma_uS']:g} uS. "
        f"{chosen} wins back **{gap['recovered_points']:.1f} points** "
        f"[{gap['recovered_ci_low']:.1f}, {gap['recovered_ci_high']:.1f}], "
        f"{100 * gap['recovered_share']:.0f}% of that gap; its own gap is "
        f"{gap['best_gap_points']:.1f} points. Verdict: {gap_verdict(gap)}"
    )


def gap_verdict(gap: dict[str, float], goal_share: float = 0.5) -> str:
    """One sentence on ``gap_recovery``'s result: whether the baseline's gap and the gain are
    resolved (their intervals above zero, ``stats.verdicts.verdict``) and whether the gain reaches
    ``goal_share`` of the gap with its interval above zero (the only way the goal counts as met)."""
    gap_ok = verdict(gap["gap_ci_low"], gap["gap_ci_high"]) == ABOVE
    gain_ok = verdict(gap["recovered_ci_low"], gap["recovered_ci_high"]) == ABOVE
    met = gain_ok and gap_ok and gap["recovered_share"] >= goal_share
    parts = [
        "the gap is resolved"
        if gap_ok
        else "the gap itself is not resolved (its interval includes 0)",
        "the gain is resolved" if gain_ok else "the gain is not resolved (its interval includes 0)",
        f"the goal of {100 * goal_share:.0f}% is {'met' if met else 'not met'}",
    ]
    return "; ".join(parts) + "."


def pareto_table(
    costs: pd.DataFrame,
    software: pd.DataFrame,
    test: pd.DataFrame,
    val: pd.DataFrame,
    sigma_uS: float,
    n_clips: int,
) -> pd.DataFrame:
    """One row per strategy of ``costs`` (``strategy_cost``): its software test accuracy (from
    ``software``, indexed by strategy, column ``test_accuracy``), its mean accuracy under hardware
    at ``sigma_uS`` (uS) on the test and the validation programmings (``test``, ``val``; fractions),
    and whether it is on the Pareto front of test accuracy against energy per inference
    (``front_energy``) and against devices (``front_devices``), over ``n_clips`` test clips."""

    def at(frame: pd.DataFrame) -> pd.Series:
        frame = frame[frame["sigma_uS"] == sigma_uS].dropna(subset=["accuracy"])
        return frame.groupby("strategy")["accuracy"].mean()

    pareto = (
        costs.set_index("strategy")
        .assign(
            accuracy_software=software["test_accuracy"],
            accuracy_hardware=at(test),
            accuracy_hardware_val=at(val),
            sigma_uS=sigma_uS,
        )
        .reset_index()
    )
    for front, cost in [("front_energy", "energy_pJ_per_inference"), ("front_devices", "devices")]:
        pareto[front] = pareto_front(pareto, cost, "accuracy_hardware", n_clips)
    return pareto


def interval_text(
    estimate: pd.Series, low: pd.Series, high: pd.Series, sign: str = ""
) -> pd.Series:
    """Each estimate with its interval as text, one decimal: "+1.2 [-0.3, 2.5]" (``sign`` "+"
    writes the estimate's sign, as for differences in points)."""
    return (
        estimate.map(f"{{:{sign}.1f}}".format)
        + " ["
        + low.map("{:.1f}".format)
        + ", "
        + high.map("{:.1f}".format)
        + "]"
    )


def answer_table(
    contrasts: pd.DataFrame, software: pd.DataFrame, sigmas_uS: list[float], baseline: str
) -> pd.DataFrame:
    """Each strategy against ``baseline``: its paired difference under hardware (``contrasts``,
    points, with its interval, as text) at each noise level of ``sigmas_uS`` (uS), one column per
    level, beside its difference in software (``software``, indexed by strategy, column
    ``test_accuracy``; points). One row per strategy compared (``a``)."""
    pick = contrasts[contrasts["sigma_uS"].isin(sigmas_uS)]
    text = pick.assign(
        v=interval_text(pick["difference_points"], pick["ci_low"], pick["ci_high"], "+")
    ).pivot(index="a", columns="sigma_uS", values="v")
    text.columns = [f"hardware, sigma = {c:g} uS" for c in text.columns]
    sw = 100 * (software["test_accuracy"] - software.loc[baseline, "test_accuracy"])
    return text.assign(software=sw.reindex(text.index).map("{:+.1f}".format))


def software_summary(
    software: pd.DataFrame, floats: list, order: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The strategies in software: per strategy of ``software`` (one row per model) the mean
    validation and test accuracy and largest pole (``max_abs_A_bar``), and its failures counted
    by kind ('constant output x2'); and the table to read, the float models' mean accuracies
    (``floats``: their training results) above the strategies in ``order``. Returns (per strategy,
    table); accuracies are fractions."""
    float_row = pd.DataFrame(
        [
            {
                "val_accuracy": np.mean([r.val_accuracy for r in floats]),
                "test_accuracy": np.mean([r.test_accuracy for r in floats]),
            }
        ],
        index=["float model (reference)"],
    )
    soft = software.groupby("strategy", sort=False).agg(
        val_accuracy=("val_accuracy", "mean"),
        test_accuracy=("accuracy", "mean"),
        max_abs_A_bar=("max_abs_A_bar", "mean"),
        failures=(
            "failure",
            lambda f: ", ".join(f"{k} x{v}" for k, v in f[f != ""].value_counts().items()),
        ),
    )
    return soft, pd.concat([float_row, soft.reindex(order)])


def recommendation_text(pareto: pd.DataFrame, chosen: str, sigma_uS: float) -> str:
    """One Markdown sentence on the recommended strategy ``chosen`` (a row of ``pareto``,
    ``pareto_table`` with the costs of ``strategy_cost``): its accuracy under hardware at
    ``sigma_uS`` (uS) on validation and test speakers and in software, its energy per inference
    (nJ) against the digital MAC unit's, and its devices and arrays."""
    rec = pareto.set_index("strategy").loc[chosen]
    return (
        f"Recommended: **{chosen}**, validation accuracy under hardware "
        f"{rec['accuracy_hardware_val']:.3f} at "
        f"sigma = {sigma_uS:g} uS; on test speakers {rec['accuracy_hardware']:.3f} "
        f"(software {rec['accuracy_software']:.3f}), "
        f"{rec['energy_pJ_per_inference'] / 1e3:.1f} nJ per inference "
        f"({rec['analog_over_digital']:.2f} x the digital MAC unit's "
        f"{rec['digital_energy_pJ_per_inference'] / 1e3:.1f} nJ), "
        f"{int(rec['devices'])} devices on {int(rec['arrays'])} arrays."
    )


def per_model_accuracy(rows: pd.DataFrame, sigma_uS: float, costs: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy (a fraction) per strategy and fold of the programmed ``rows`` at ``sigma_uS``
    (uS), with each strategy's energy per inference (pJ, from ``costs``): what
    ``nested_recommendation`` chooses from."""
    at = rows[rows["sigma_uS"] == sigma_uS].dropna(subset=["accuracy"])
    means = at.groupby(["strategy", "fold"], as_index=False)["accuracy"].mean()
    return means.merge(costs[["strategy", "energy_pJ_per_inference"]])
