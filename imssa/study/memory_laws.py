"""Chapter 'Memory that survives programming': the mechanism and the law of the grid.

* The mechanism (``pole_survival``, ``pole_survival_table``, ``survival_summary``): the float
  model's slow modes rounded onto each grid.
* The law (``law_table``, ``law_separation``): the grid's slowest pole near DC or at any angle,
  and what it keeps of the first word across the silence the state must bridge (``silence_ms``,
  ``between_words_ms``), beside the accuracy of each design of the bits sweeps (``bits_table``,
  ``bits_figure``).
* In sentences: ``mechanism_text``, ``law_text``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from ..model.cache import Run
from ..model.memory import time_constants_ms
from ..model.poles import quantize_log_radius, quantize_pole, slowest_grid_pole
from ..model.train import load_splits
from ..stats.intervals import fold_accuracy
from ..stats.verdicts import ABOVE, Rule, table_verdicts
from .deployed import load_model
from .memory_programming import front_end, run_spec
from .memory_task import FLOAT_S4D
from .params import ProgrammedMemoryParams
from .runs import fold_data

__all__ = [
    "between_words_ms",
    "bits_figure",
    "bits_table",
    "law_separation",
    "law_table",
    "law_text",
    "mechanism_text",
    "pole_survival",
    "pole_survival_table",
    "silence_ms",
    "survival_summary",
]


def survival_summary(survival: pd.DataFrame) -> pd.DataFrame:
    """``pole_survival`` as the chapter shows it: the mean over folds per front end, grid and
    width."""
    cols = [
        "slow_modes",
        "kept_share",
        "median_ratio",
        "rounded_longest_ms",
        "grid_slowest_real_steps",
    ]
    return survival.groupby(["front_end", "a_grid", "bits_A"])[cols].mean().round(2)


def pole_survival(
    cfg: ProgrammedMemoryParams,
    fe: str,
    float_runs: Mapping[int, Run],
    grids: list[tuple[int, str]],
) -> pd.DataFrame:
    """The mechanism, measured: each float model's modes (one run per fold of ``float_runs``) whose
    time constant reaches the gap of the memory task (the modes that can carry the first word
    across it), rounded onto each grid of ``grids`` ((bits_A, a_grid), on the designs' range and
    cap) as QAT's forward pass rounds them. One row per (fold, grid): how many such modes, the
    share whose rounded time constant keeps at least half its value (``kept_share``), the median
    ratio rounded / float of their time constants, and the longest time constant after rounding
    (ms and steps), beside the grid's slowest poles (``poles.slowest_grid_pole``)."""
    rate = front_end(cfg, fe).data(cfg.order_data()).step_rate
    gap_ms = 1000 * cfg.order.gap_s
    rows = []
    for fold, run in float_runs.items():
        net = load_model(run, run.data.n_classes)[0]
        A = net.layers[0].discrete().A_bar.detach().to(torch.complex128)  # (H, N)
        tau = time_constants_ms(A, rate)
        slow = tau >= gap_ms
        for bits, grid in grids:
            if grid == "log_radius":
                q = quantize_log_radius(A, bits, cfg.design_r_max)
            else:
                q = quantize_pole(A, bits, cfg.design_fscale, cfg.design_fscale, cfg.design_r_max)
            tq = time_constants_ms(q.detach(), rate)
            ratio = (tq[slow] / tau[slow]).numpy()
            g = slowest_grid_pole(bits, cfg.design_fscale, cfg.design_r_max, grid)
            rows.append(
                {
                    "front_end": fe,
                    "fold": fold,
                    "bits_A": bits,
                    "a_grid": grid,
                    "slow_modes": int(slow.sum()),
                    "kept_share": float((ratio >= 0.5).mean()) if ratio.size else float("nan"),
                    "median_ratio": float(np.median(ratio)) if ratio.size else float("nan"),
                    "float_longest_ms": float(tau.max()),
                    "rounded_longest_ms": float(tq.max()),
                    "rounded_longest_steps": float(tq.max()) * rate / 1000,
                    "grid_slowest_steps": g["steps"],
                    "grid_slowest_real_steps": g["real_steps"],
                }
            )
    return pd.DataFrame(rows)


def pole_survival_table(cfg: ProgrammedMemoryParams) -> pd.DataFrame:
    """``pole_survival`` at every front end, on the grids of its bits sweeps (seed
    ``memory_seeds[0]``)."""

    parts = []
    for f in cfg.front_ends:
        grids = list(
            dict.fromkeys(
                (b, g)
                for sw in cfg.bits_sweeps
                if sw.front_end == f.name
                for g in sw.a_grids
                for b in sw.bits_A
            )
        )
        runs = {
            fold: run_spec(cfg, f.name, "order", FLOAT_S4D, cfg.memory_seeds[0], fold)
            for fold in cfg.shared.folds
        }
        parts.append(pole_survival(cfg, f.name, runs, grids))
    return pd.concat(parts, ignore_index=True)


def silence_ms(cfg: ProgrammedMemoryParams, fe: str, between_ms: float | None = None) -> float:
    """The silence the state must bridge on the memory task at front end ``fe``, ms: the silence
    between the words (``between_words_ms``, or ``between_ms`` where the caller measured it), less
    ``frame_ms - hop_ms`` for a front end with frames longer than its hop (a frame that ends in the
    silence still holds some of the first word)."""
    between = between_words_ms(cfg) if between_ms is None else between_ms
    f = front_end(cfg, fe)
    return max(between - ((f.frame_ms or 0.0) - (f.hop_ms or 0.0)), 0.0)


def between_words_ms(cfg: ProgrammedMemoryParams) -> float:
    """The zeros between the two words of the memory task's waveforms, ms (the first word's
    padding to ``order.duration_s``, the gap, any leading zeros of the second): median over the
    test sequences of every fold."""
    order = cfg.order_data()
    g, W = order.gap_length, round(order.sample_rate * order.duration_s)
    runs = []
    for fold in cfg.shared.folds:
        x = load_splits(fold_data(order, fold)).test.x.numpy()  # (n, L) waveforms
        first, second = x[:, g : g + W] != 0, x[:, 2 * g + W : 2 * g + 2 * W] != 0
        trailing = np.where(first.any(1), np.argmax(first[:, ::-1], 1), W)
        leading = np.where(second.any(1), np.argmax(second, 1), W)
        runs.append(trailing + g + leading)
    return 1000 * float(np.median(np.concatenate(runs))) / order.sample_rate


def law_table(cfg: ProgrammedMemoryParams, sweep: pd.DataFrame) -> pd.DataFrame:
    """The law beside the measurements: per row of ``sweep`` (one per front end and design, with
    ``estimate``, ``ci_low`` of the accuracy and ``step_rate``), the grid's slowest pole near DC
    and at any angle (steps and ms, ``poles.slowest_grid_pole``) and what it keeps of the first
    word across the silence the state must bridge (``silence_ms``): the retention
    exp(-silence / tau). ``kept`` is the measurement (the accuracy's interval above chance);
    ``law_separation`` says whether, and where, the retention separates kept from lost."""
    chance = 1 / cfg.order_data().n_classes
    out = sweep.copy()
    g = [
        slowest_grid_pole(int(b), cfg.design_fscale, cfg.design_r_max, grid)
        for b, grid in zip(out["bits_A"], out["a_grid"], strict=True)
    ]
    out["grid_real_steps"] = [x["real_steps"] for x in g]
    out["grid_any_steps"] = [x["steps"] for x in g]
    out["grid_real_ms"] = 1000 * out["grid_real_steps"] / out["step_rate"]
    out["grid_any_ms"] = 1000 * out["grid_any_steps"] / out["step_rate"]
    between = between_words_ms(cfg)  # one pass over the audio for every front end
    silence = {fe: silence_ms(cfg, fe, between) for fe in out["front_end"].unique()}
    out["silence_ms"] = out["front_end"].map(silence)
    out["retention_real"] = np.exp(-out["silence_ms"] / out["grid_real_ms"])
    out["retention_any"] = np.exp(-out["silence_ms"] / out["grid_any_ms"])
    out["kept"] = [w == ABOVE for w in table_verdicts(out, p=None, rule=Rule(chance))]
    return out


def law_separation(law: pd.DataFrame) -> pd.DataFrame:
    """Per form of the law (the grid's slowest pole near DC, or at any angle): the largest
    retention among the designs that lost the task and the smallest among those that kept it; the
    form separates them where the first is below the second, and its threshold lies between."""
    rows = []
    for form in ("real", "any"):
        r = law[f"retention_{form}"]
        lost, kept = r[~law["kept"]], r[law["kept"]]
        hi_lost = float(lost.max()) if len(lost) else float("nan")
        lo_kept = float(kept.min()) if len(kept) else float("nan")
        rows.append(
            {
                "form": "near DC" if form == "real" else "at any angle",
                "lost_max_retention": hi_lost,
                "kept_min_retention": lo_kept,
                "separates": bool(hi_lost < lo_kept),
            }
        )
    return pd.DataFrame(rows)


def bits_table(
    answers: pd.DataFrame, rows: pd.DataFrame, rates: Mapping[str, float]
) -> pd.DataFrame:
    """One row per (front end, design) of a bits sweep: accuracy over held-out speakers (95%
    interval over folds) and the slowest trained mode (ms, and steps at the front end's rate)."""
    acc = [
        {"front_end": fe, "model": m} | fold_accuracy(part)
        for (fe, m), part in answers.groupby(["front_end", "model"], sort=False)
    ]
    mem = (
        rows.groupby(["front_end", "model"], sort=False)
        .agg(
            bits_A=("bits_A", "first"),
            a_grid=("a_grid", "first"),
            bits_BC=("bits_BC", "first"),
            tau_max_ms=("tau_max_ms", "mean"),
            failed_runs=("failure", lambda f: int((f != "").sum())),
        )
        .reset_index()
    )
    out = pd.DataFrame(acc).merge(mem, on=["front_end", "model"], how="right")
    out["step_rate"] = out["front_end"].map(rates)
    out["tau_max_steps"] = out["tau_max_ms"] * out["step_rate"] / 1000
    return out


def bits_figure(law: pd.DataFrame, bits: pd.DataFrame, chance: float) -> Any:
    """Accuracy against A_bar bits, a panel per front end, a line per grid and B/C width."""
    fes = list(dict.fromkeys(law["front_end"]))
    fig, axes = plt.subplots(1, len(fes), figsize=(3.2 * len(fes), 3), sharey=True, squeeze=False)
    for ax, fe in zip(axes[0], fes, strict=True):
        part = law[law["front_end"] == fe]
        for (g, bc), line in part.groupby(["a_grid", "bits_BC"]):
            line = line.sort_values("bits_A")
            ax.errorbar(
                line["bits_A"],
                line["estimate"],
                yerr=[line["estimate"] - line["ci_low"], line["ci_high"] - line["estimate"]],
                marker="o",
                capsize=2,
                label=f"{g}, B/C {bc:g}-bit",
            )
        ref = bits[(bits["front_end"] == fe) & bits["bits_A"].isna()]["estimate"]
        if len(ref):
            ax.axhline(float(ref.iloc[0]), color="0.3", ls=":", lw=1)
        ax.axhline(chance, color="0.4", ls="--", lw=1)
        ax.set(title=fe, xlabel="bits of A_bar")
    axes[0][0].set_ylabel("memory-task accuracy")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    return fig


def mechanism_text(survival: pd.DataFrame, law: pd.DataFrame, cfg: ProgrammedMemoryParams) -> str:
    """The mechanism in sentences: per front end, how slow the float models' modes are, how many of
    their slow modes each Cartesian width keeps (``pole_survival``), and the QAT models' slowest
    mode against the grid's slowest pole (``law_table``): QAT moves its slowest mode to the
    grid's, so the grid, not training, sets the memory."""
    parts = []
    cart = survival[survival["a_grid"] == "cartesian"]
    for fe, part in cart.groupby("front_end", sort=False):
        m = part.groupby("bits_A")[["slow_modes", "kept_share", "float_longest_ms"]].mean()
        own = law[
            (law["front_end"] == fe)
            & (law["a_grid"] == "cartesian")
            & (law["bits_BC"] == cfg.design_bits)
            & ~law["model"].str.contains("scratch")
        ].set_index("bits_A")
        each = ", ".join(
            f"{b:g} bits: {r.kept_share:.0%} kept, slowest trained mode "
            f"{own.loc[b, 'tau_max_steps']:.0f} steps (grid {own.loc[b, 'grid_any_steps']:.0f})"
            for b, r in m.iterrows()
            if b in own.index
        )
        parts.append(
            f"At {fe} the float models' slowest mode lasts {m['float_longest_ms'].iloc[0]:.0f} ms "
            f"and {m['slow_modes'].iloc[0]:.0f} of their modes reach the "
            f"{1000 * cfg.order.gap_s:g} ms gap; rounded onto the Cartesian grid, the share of "
            "those that keep at least half their time constant, and the QAT model's slowest mode "
            f"against the grid's slowest pole, are: {each}"
        )
    return (
        "; ".join(parts)
        + ". The QAT model's slowest mode sits at the grid's slowest pole: training pushes its "
        "memory to what the grid allows, and the grid (its resolution near the circle, and the cap "
        f"{cfg.design_r_max:g}, at most {-1 / np.log(cfg.design_r_max):.0f} steps) sets it. The "
        "float models use modes far slower than any grid holds, so every grid shortens them. Which "
        "of the grid's slow poles the task needs, the slowest near DC or the slowest at any angle "
        "(which turns every step), is what the law above tests."
    )


def law_text(law: pd.DataFrame, needed: pd.DataFrame, cfg: ProgrammedMemoryParams) -> str:
    """Which form of the law separates the designs that keep the task from those that lose it, and
    where the bits A_bar needs (chosen on validation, ``memory_programming.bits_needed_table``)
    stand against Q-S5's 'at least 8 bits'."""
    sep = law_separation(law).set_index("form")
    parts = []
    for form, r in sep.iterrows():
        if r.separates:
            parts.append(
                f"the slowest pole {form} separates them: every design that loses the task keeps "
                f"at most {r.lost_max_retention:.2f} of the first word across the silence, every "
                f"design that keeps it at least {r.kept_min_retention:.2f}"
            )
        else:
            parts.append(
                f"the slowest pole {form} does not separate them (a lost design keeps "
                f"{r.lost_max_retention:.2f}, a kept one only {r.kept_min_retention:.2f})"
            )
    silence = law.groupby("front_end", sort=False)["silence_ms"].first()
    bits = needed.groupby("front_end", sort=False)["bits_A"].agg(
        lambda b: "/".join(str(int(x)) for x in sorted(set(b)))
    )
    return (
        "The silence the state must bridge (median over test sequences, less the frame's overlap): "
        + ", ".join(f"{v:.0f} ms at {fe}" for fe, v in silence.items())
        + ". Over "
        f"{len(law)} designs, "
        + "; ".join(parts)
        + ". The threshold is read off these runs, not predicted. "
        "The bits of A_bar chosen on validation (fewest within "
        f"{cfg.tolerance_points:g} points of the float model): "
        + ", ".join(f"{b} at {fe}" for fe, b in bits.items())
        + ". Q-S5 (Abreu et al., arXiv 2406.09477) finds that S5's recurrent weights need at least "
        "8 bits (digital; sMNIST and the Long Range Arena). Here the bits A_bar needs change with "
        "the step rate, because a grid's memory is counted in steps."
    )
