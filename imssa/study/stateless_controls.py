"""Chapter 'What the state remembers', the main task: does it need a state at all?

* Controls without a state: learned FIR banks (``fir_spec``: float, and fixed-range QAT from the
  float bank) and the spectral baseline (``spectral_answers``), labelled by ``fir_label`` and
  ``spectral_label``; ``main_task_specs`` gathers them with the S4D models of the controls table,
  ``main_task_runs`` lists their runs (shared with the chapter's plan, ``plans.state_memory``).
* The verdict (``state_verdict``): ``NEEDS_STATE``, ``NO_STATE`` or ``stats.verdicts.NOT_RESOLVED``,
  from the S4D model's planned comparisons and the controls' simultaneous intervals, paired on the
  same clips.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ..model.cache import Run
from ..model.config import QuantConfig
from ..model.spectral import spectral_cached
from ..stats.paired import paired_difference
from ..stats.verdicts import ABOVE, NOT_RESOLVED, Rule, verdict
from .params import MemoryParams, ModelParams, fold_params
from .runs import comparison_label, control_spec, float_spec, fold_data, qat_spec

__all__ = [
    "NEEDS_STATE",
    "NO_STATE",
    "fir_label",
    "fir_spec",
    "main_task_runs",
    "main_task_specs",
    "spectral_answers",
    "spectral_label",
    "state_verdict",
]


#: ``state_verdict``'s answers besides ``stats.verdicts.NOT_RESOLVED``.
NEEDS_STATE, NO_STATE = "needs a state", "does not need a state"


def fir_label(taps: int, bits: int | None) -> str:
    """The label of an FIR control in the controls table: 'FIR 16 taps' or 'FIR 16 taps, 2-bit'."""
    return f"FIR {taps} taps" + ("" if bits is None else f", {bits}-bit")


def spectral_label(pooling: str) -> str:
    """The label of the spectral baseline with ``pooling`` ('frames' or 'mean')."""
    return f"log-mel + logistic regression ({pooling})"


def fir_spec(cfg: ModelParams, taps: int, bits: int | None, seed: int, fold: int) -> Run:
    """The FIR bank of ``taps`` taps on ``cfg``'s task, trained exactly like the float S4D model
    (``cfg.shared.train``, the fold's choices); with ``bits``, the paper's fixed-range QAT
    (``fscale``, ``qat_train``) fine-tuned from that float bank of the same fold and seed."""
    cfg = fold_params(cfg, fold)
    model = cfg.shared.model.model_copy(update={"ssm": "fir", "taps": taps})
    base = Run(
        fold_data(cfg.shared.data, fold), model, cfg.shared.train.model_copy(update={"seed": seed})
    )
    if bits is None:
        return base
    quant = QuantConfig(bits=bits, fscale=cfg.shared.fscale)
    return Run(
        base.data,
        model.model_copy(update={"quant": quant}),
        cfg.shared.qat_train.model_copy(update={"seed": seed}),
        (base.model, base.train),
    )


def main_task_specs(cfg: MemoryParams) -> dict[str, Callable[[int, int], Run]]:
    """The main task's models of the controls table, by label: the float and ternary
    (``fir_bits``) S4D models and the memoryless control of the baseline chapter, and the FIR
    bank of each of ``fir_taps`` in float and at ``fir_bits``; each a function (seed, fold) ->
    Run."""
    b = cfg.fir_bits
    specs: dict[str, Callable[[int, int], Run]] = {
        comparison_label(): lambda s, f: float_spec(cfg, s, f),
        comparison_label(b): lambda s, f: qat_spec(cfg, b, "fixed", s, f),
        comparison_label(control="memoryless"): lambda s, f: control_spec(cfg, "memoryless", s, f),
    }
    for taps in cfg.fir_taps:
        for bits in (None, b):
            specs[fir_label(taps, bits)] = lambda s, f, t=taps, q=bits: fir_spec(cfg, t, q, s, f)
    return specs


def main_task_runs(cfg: MemoryParams) -> tuple[list[dict[str, Any]], list[Run]]:
    """The runs of ``main_task_specs`` on every fold and seed of ``memory_seeds``: parallel lists
    of labels (``label``, ``seed``) and runs, model outer, then fold, then seed."""
    order = [
        (label, make, f, s)
        for label, make in main_task_specs(cfg).items()
        for f in cfg.shared.folds
        for s in cfg.memory_seeds
    ]
    return [{"label": k, "seed": s} for k, _, _, s in order], [m(s, f) for _, m, f, s in order]


def spectral_answers(
    cfg: MemoryParams, data: ModelParams, pooling: str, seeds: list[int]
) -> pd.DataFrame:
    """Per-clip test answers of the spectral baseline with ``pooling`` on every fold of ``data``'s
    task (the format of ``sweep.clip_answers``). The baseline has no random seed: its answers are
    repeated under each of ``seeds`` so that it pairs with seeded models on (fold, seed, clip)."""
    spectral = cfg.spectral.model_copy(update={"pooling": pooling})
    frames = []
    for fold in data.shared.folds:
        res = spectral_cached(fold_data(data.shared.data, fold), spectral)
        for seed in seeds:
            frames.append(
                pd.DataFrame(
                    {
                        "fold": fold,
                        "seed": seed,
                        "clip": list(res.test_clips),
                        "target": res.test_true,
                        "pred": res.test_pred,
                    }
                )
            )
    out = pd.concat(frames, ignore_index=True)
    return out.assign(correct=(out["target"] == out["pred"]).astype(int))


def state_verdict(
    answers: pd.DataFrame,
    paired: pd.DataFrame,
    s4d: str,
    controls: list[str],
    fir_taps: list[int],
    sample_rate: float,
    tolerance_points: float = 2.0,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Does the main task need a state? Two questions per stateless control c of ``controls``:

    * is the S4D model ``s4d`` better? Its planned comparison in ``paired`` (``paired_table``
      rows a = ``s4d``, b = c, Holm over the family): ``stats.verdicts.verdict`` ``ABOVE`` (p_holm
      <= ``alpha``);
    * is the control no worse than the S4D model by more than ``tolerance_points`` (it matches or
      beats it)? The lower end of the interval of c - s4d above -tolerance, with simultaneous
      intervals over the k controls (Bonferroni: confidence 1 - alpha / k,
      ``stats.paired.paired_difference`` on ``answers``, column ``label``), so that the k decisions
      together keep the error rate alpha.


    Verdict: 'does not need a state' if some control matches or beats the S4D model, 'needs a
    state' if the S4D model beats every control, else 'not resolved'. Returns the verdict, the
    shortest matching control, one row per control and a paragraph."""
    if not controls:
        raise ValueError("give the stateless controls to compare with")
    rows = paired[paired["a"] == s4d].set_index("b")
    if missing := [c for c in controls if c not in rows.index]:
        raise ValueError(f"no planned comparison of {s4d!r} with {missing}")
    level = 1 - alpha / len(controls)
    per = []
    for c in controls:
        d = paired_difference(
            answers[answers["label"] == c], answers[answers["label"] == s4d], level
        )
        r = rows.loc[c]
        matches = verdict(d["ci_low"], d["ci_high"], None, Rule(-tolerance_points)) == ABOVE
        better = verdict(r["ci_low"], r["ci_high"], r["p_holm"], Rule(alpha=alpha)) == ABOVE
        per.append(
            {
                "control": c,
                "control_minus_s4d_points": d["difference_points"],
                "simultaneous_low": d["ci_low"],
                "simultaneous_high": d["ci_high"],
                "level": level,
                "matches": matches,
                "s4d_better": better,
                "p_holm": float(r["p_holm"]),
            }
        )
    table = pd.DataFrame(per)
    rivals = table[table["matches"]]["control"].tolist()
    answer = NO_STATE if rivals else NEEDS_STATE if table["s4d_better"].all() else NOT_RESOLVED
    ms = {fir_label(t, None): 1000 * t / sample_rate for t in fir_taps}
    shortest = min(rivals, key=lambda c: ms.get(c, np.inf)) if rivals else ""
    each = "; ".join(
        f"{r.control}: {r.control_minus_s4d_points:+.1f} points [{r.simultaneous_low:+.1f}, "
        f"{r.simultaneous_high:+.1f}]"
        for r in table.itertuples()
    )
    text = (
        "Each stateless control minus the float S4D model, paired on the same clips, with "
        f"simultaneous {level:.1%} intervals over the {len(controls)} controls: {each}. "
    )
    if answer == NO_STATE:
        what = f"{shortest} ({ms[shortest]:g} ms of taps)" if shortest in ms else shortest
        text += (
            f"A control without a state, {what}, is no worse than the S4D model by more than "
            f"{tolerance_points:g} points: the main task does not test a state-space model. It "
            "tests a filter bank, and the paper's accuracy claims on such a task say how well the "
            "array filters, not how well it remembers."
        )
    elif answer == NEEDS_STATE:
        text += (
            "The S4D model beats every control without a state (Holm): on the main task its "
            "memory matters."
        )
    else:
        text += (
            f"Not resolved: no control is shown within {tolerance_points:g} points of the S4D "
            "model or better, and the S4D model is not shown better than every one (Holm). "
            + (
                "The S4D model is shown better than: "
                f"{', '.join(table[table['s4d_better']]['control'])}. "
                if table["s4d_better"].any()
                else "The S4D model is shown better than none of them. "
            )
            + "Six held-out speakers do not decide whether the recurrence adds anything to a short "
            "filter."
        )
    return {"verdict": answer, "shortest_rival": shortest, "table": table, "text": text}
