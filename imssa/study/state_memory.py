"""Chapter 'What the state remembers': the memory task's verdicts and the chapter's conclusion.

The controls of the main task live in ``stateless_controls``, the memory task's runs in
``memory_task``, programming noise in ``memory_noise``. Here:

* ``memory_summary_table``: one row per family of the memory task, with the cause where its
  interval reaches chance; ``memory_pairs``: the memory task's planned comparisons.
* ``chance_state`` (``ABOVE_CHANCE``, ``AT_CHANCE`` or ``stats.verdicts.NOT_RESOLVED``) and
  ``memory_verdict``: whether the paper's fixed-range QAT keeps the memory task, in sentences.
* ``chapter_conclusion``: the closing paragraph from the chapter's three verdicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..stats.intervals import accuracy_table
from ..stats.verdicts import ABOVE, BELOW, NOT_RESOLVED, Rule, verdict
from .memory_task import FLOAT_S4D, MEMORY_TASK_COLUMNS
from .params import MemoryModel, MemoryParams
from .stateless_controls import NEEDS_STATE, NO_STATE, spectral_label

__all__ = [
    "ABOVE_CHANCE",
    "AT_CHANCE",
    "NEAR_CHANCE",
    "chance_state",
    "chapter_conclusion",
    "memory_pairs",
    "memory_summary_table",
    "memory_verdict",
]


def _paper_models(cfg: MemoryParams) -> list[MemoryModel]:
    """The quantized families that follow the paper's recipe: the shared range and cap, one
    width."""
    return [
        m
        for m in cfg.memory_models
        if m.bits is not None and m.bits_A is None and m.fscale is None and m.r_max is None
    ]


def _chance_cause(
    name: str, memory_ms: float, cfg: MemoryParams, radius: float = float("nan")
) -> str:
    """Why a family of the memory task is at chance: by construction (its features reach back no
    further than the gap, or they are pooled without order), or its memory against the gap."""
    gap_ms, reach = 1000 * cfg.order.gap_s, cfg.order_data().gap_length + 1
    spec = {m.name: m for m in cfg.memory_models}.get(name)
    if spec is not None and spec.ssm == "memoryless":
        return (
            "by construction: each feature sees one sample, and the mean over time ignores the "
            "order"
        )
    if spec is not None and spec.ssm == "fir" and spec.taps is not None and spec.taps <= reach:
        return f"by construction: {spec.taps} taps reach back no further than the {gap_ms:g} ms gap"
    if spec is not None and spec.bits is not None and radius == 0:
        return (
            "by construction: every pole rounds to 0 (the grid holds no other point inside the "
            "pole cap)"
        )
    if spec is None and name == spectral_label("mean"):
        return "the mean over frames ignores their order (up to the frames that straddle a gap)"
    if np.isfinite(memory_ms) and memory_ms < gap_ms:
        return (
            f"kernel memory {memory_ms:.1f} ms, shorter than the {gap_ms:g} ms gap the state must "
            "bridge"
        )
    return (
        f"not explained by the kernel memory ({memory_ms:.1f} ms spans the {gap_ms:g} ms gap); "
        "chapter 'Memory that survives programming' sets the grid's slowest pole near DC against "
        "the silence between the words"
    )


def memory_summary_table(
    answers: pd.DataFrame, task_table: pd.DataFrame, cfg: MemoryParams
) -> pd.DataFrame:
    """One row per family of the memory task (column ``model`` of ``answers``, the spectral
    baseline included): ``stats.intervals.fold_accuracy`` (estimate, 95% interval over folds), the
    mean ``memory_ms`` and ``tau_max_ms`` of its runs, the median conductance precision its slowest
    pole needs (``precision_uS``), the runs that failed in training and, where the
    interval reaches chance, the cause (``at_chance``). A family whose every run failed has no
    answers: its row carries the failure as its cause."""
    chance = 1 / cfg.order_data().n_classes
    acc = accuracy_table(answers, "model")
    task_table = task_table.reindex(columns=MEMORY_TASK_COLUMNS)
    mem = task_table.groupby("model", sort=False).agg(
        memory_ms=("memory_ms", "mean"),
        tau_max_ms=("tau_max_ms", "mean"),
        max_abs_A_bar=("max_abs_A_bar", "mean"),
        precision_uS=("precision_uS", "median"),
        failed_runs=("failure", lambda f: int((f != "").sum())),
    )
    out = acc.merge(mem.reset_index(), on="model", how="outer")
    failed = task_table[task_table["failure"] != ""].groupby("model")["failure"].first()
    out["at_chance"] = [
        (
            failed.get(r.model, "all runs failed")
            if pd.isna(r.estimate)
            else _chance_cause(r.model, r.memory_ms, cfg, r.max_abs_A_bar)
            if r.ci_low <= chance
            else ""
        )
        for r in out.itertuples()
    ]
    order = [m.name for m in cfg.memory_models] + [x for x in acc["model"] if x not in mem.index]
    return out.set_index("model").reindex(order).reset_index()


def memory_pairs(cfg: MemoryParams) -> list[tuple[str, str]]:
    """The memory task's planned comparisons: every quantized family against the float S4D model,
    and every other design against the paper's narrowest model (``_paper_models``)."""
    quantized = [m.name for m in cfg.memory_models if m.bits is not None]
    pairs = [(q, FLOAT_S4D.name) for q in quantized]
    paper = sorted(_paper_models(cfg), key=lambda m: m.bits or 0)
    if paper:
        pairs += [
            (q, paper[0].name)
            for q in quantized
            if q != paper[0].name and q not in {m.name for m in paper}
        ]
    return pairs


#: A model's accuracy interval wholly above chance.
ABOVE_CHANCE = "above chance"
#: A model's accuracy interval wholly below chance + ``NEAR_CHANCE``.
AT_CHANCE = "at chance"
#: How far above chance (accuracy, fraction) an interval's upper end may reach and still read 'at
#: chance'.
NEAR_CHANCE = 0.05


def chance_state(low: float, high: float, chance: float, near: float = NEAR_CHANCE) -> str:
    """An accuracy interval [``low``, ``high``] against ``chance`` by the one rule
    (``stats.verdicts.verdict``): ``ABOVE_CHANCE`` (above chance), ``AT_CHANCE`` (below chance +
    ``near``) or ``NOT_RESOLVED``."""
    if verdict(low, high, None, Rule(chance)) == ABOVE:
        return ABOVE_CHANCE
    return AT_CHANCE if verdict(low, high, None, Rule(chance + near)) == BELOW else NOT_RESOLVED


def memory_verdict(
    summary: pd.DataFrame, paired: pd.DataFrame, cfg: MemoryParams
) -> dict[str, Any]:
    """Whether the paper's fixed-range QAT keeps the memory task (its narrowest model's interval
    against chance, ``chance_state``), whether the float S4D model learns it, which designs keep
    it, and the fewest bits of A_bar among the quantized families above chance; with sentences."""
    chance = 1 / cfg.order_data().n_classes
    s = summary.set_index("model")
    state = {
        m: chance_state(r.ci_low, r.ci_high, chance) if pd.notna(r.estimate) else "failed"
        for m, r in s.iterrows()
    }
    paper = sorted(_paper_models(cfg), key=lambda m: m.bits or 0)
    name = paper[0].name if paper else ""
    kept = [
        m for m in cfg.memory_models if m.bits is not None and state.get(m.name) == ABOVE_CHANCE
    ]
    bits_A = min(((m.bits_A or m.bits) for m in kept), default=None)

    def fmt(m: str) -> str:
        """Family ``m``'s accuracy with its interval, in percent."""
        return f"{s.loc[m, 'estimate']:.1%} [{s.loc[m, 'ci_low']:.1%}, {s.loc[m, 'ci_high']:.1%}]"

    text = (
        f"The float S4D model is {state.get(FLOAT_S4D.name, 'not run')} on the memory task "
        f"({fmt(FLOAT_S4D.name) if FLOAT_S4D.name in s.index else 'no runs'}). "
    )
    if name:
        m0 = paper[0]
        text += (
            f"The paper's method, fixed-range QAT at {m0.bits} bits with f_scale = "
            f"{cfg.shared.fscale:g} shared by A_bar, B_bar and C and the pole cap "
            f"{cfg.shared.r_max:g}, is {state[name]} ({fmt(name)}). "
        )
    text += (
        "Quantized families above chance: "
        + (", ".join(f"{m.name} ({fmt(m.name)})" for m in kept) or "none")
        + ". "
    )
    need = s["precision_uS"].dropna() if "precision_uS" in s else pd.Series(dtype=float)
    if len(need):
        text += (
            "To keep its slowest mode's time constant within 50%, a device must hold that pole's "
            "parts to within " + ", ".join(f"{v:.2g} uS ({m})" for m, v in need.items()) + ". "
        )
    if bits_A is not None:
        text += f"The fewest bits of A_bar among them is {bits_A}. "
    text += _scope(cfg) + " "
    text += (
        "For comparison (digital, no programming noise): Q-S5 (Abreu et al., arXiv 2406.09477) "
        "finds that S5's recurrent weights need at least 8 bits on sMNIST and the Long Range Arena "
        "while the other parameters go lower, and a study of small S4D models for edge AI (arXiv "
        "2506.12480) finds the state matrix the most sensitive part and proposes heterogeneous "
        "precision."
    )
    return {
        "paper_model": name,
        "paper_state": state.get(name, ""),
        "float_state": state.get(FLOAT_S4D.name, ""),
        "kept": ", ".join(m.name for m in kept),
        "fewest_bits_A": bits_A,
        "text": text,
    }


def _scope(cfg: MemoryParams) -> str:
    """What the memory task's families tried, and so how far a verdict on them reaches."""
    quantized = [m for m in cfg.memory_models if m.bits is not None]
    if not quantized:
        return ""
    top = max((m.bits_A or m.bits) for m in quantized)  # type: ignore[type-var]
    rate = cfg.order_data().step_rate
    return (
        f"These families hold A_bar on grids of at most {top} bits, step the recurrence {rate:g} "
        "times per second and fine-tune their QAT from the float model: where none keeps the task, "
        f"what is shown is that A_bar needs more than {top} bits at {rate:g} steps/s with that "
        "recipe, not that quantization loses the memory. Chapter 'Memory that survives "
        "programming' tries finer grids, lower step rates and QAT from the start."
    )


def chapter_conclusion(
    state: Mapping[str, Any], memory: Mapping[str, Any], noise: Mapping[str, Any]
) -> str:
    """The chapter's closing paragraph from its three verdicts
    (``stateless_controls.state_verdict``, ``memory_verdict``, ``memory_noise.noise_answer``)."""

    main = {
        NO_STATE: "The main task does not need a state: the paper's accuracy figures on it, "
        "in software and on the array, measure a filter bank.",
        NEEDS_STATE: "The main task needs a state: the S4D model beats every control without one.",
        NOT_RESOLVED: "Whether the main task needs a state is not resolved at this power.",
    }[state["verdict"]]
    paper = {
        ABOVE_CHANCE: "keeps the memory task above chance",
        AT_CHANCE: "loses the memory task (at chance)",
        NOT_RESOLVED: "is not resolved against chance on the memory task",
        "failed": "failed in training on the memory task",
    }.get(memory["paper_state"], "was not run")
    return (
        f"{main} On the task that needs memory, the paper's method {paper}"
        + (
            f"; designs that keep it: {memory['kept']}."
            if memory["kept"]
            else "; none of the quantized designs tried here keeps it (A_bar on at most the grids "
            "of memory_models, at the audio rate, QAT fine-tuned from the float model: the next "
            "chapter goes further)."
        )
        + f" Under programming noise: {noise['text']}"
    )
