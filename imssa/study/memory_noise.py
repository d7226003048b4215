"""Chapter 'What the state remembers', programming noise: the memory a programmed array can hold.

* ``memory_rows`` programs a trained model (an S4D layer on the arrays of ``hardware.deploy``, an
  FIR bank on a delay line, ``hardware.delay_line``) at one sigma, each model with its own draws
  (``seeds.programming_seed``), devices per element a paired variant; ``noise_cell`` does so on
  every (seed, fold) of one model family.
* The grids' cells, shared with the chapter's plan (``plans.state_memory``): ``noise_cells`` (the
  quantized families of ``noise_models`` on the memory task) and ``main_noise_cells`` (the ternary
  S4D model and FIR banks on the main task).
* Summaries: ``noise_summary`` (accuracy, unstable share, slowest mode per sigma) and
  ``memory_sigma_star`` (``margin.sigma_star`` over the models that work at sigma = 0).
* The theory: ``memory_theory`` (the longest memory one mode can keep at each sigma) and its
  inverse ``sigma_for_memory_uS``; ``noise_answer`` sets them beside the measurements.
* The main task on the array: ternary FIR banks against the ternary S4D model
  (``main_noise_contrasts``, ``main_noise_text``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from ..hardware.delay_line import delay_line_converter_ranges, delay_line_rows
from ..hardware.devices import DeviceConfig
from ..hardware.margin import longest_memory_ms, sigma_star, weight_noise_std
from ..hardware.ranges import converter_ranges
from ..hardware.realisations import noise_rows
from ..model.cache import Run
from ..model.fir import QuantFIR
from ..seeds import programming_seed
from ..stats.paired import holm_family
from ..stats.programmings import chance_failure, paired_contrast, realisation_summary
from ..stats.verdicts import ABOVE, Rule, table_verdicts
from .deployed import TrainedModel, failed_row, load_model
from .params import MemoryModel, MemoryParams
from .runs import comparison_label
from .stateless_controls import fir_label

__all__ = [
    "main_noise_cells",
    "main_noise_contrasts",
    "main_noise_text",
    "memory_rows",
    "memory_sigma_star",
    "memory_theory",
    "noise_answer",
    "noise_cell",
    "noise_cells",
    "noise_models",
    "noise_summary",
    "sigma_for_memory_uS",
    "slowest_mode_ms",
]


def slowest_mode_ms(spectral_radius: float, sample_rate: float) -> float:
    """Time constant (ms) of a programmed recurrence's slowest mode from its spectral radius rho:
    -1000 / (f_s ln rho); inf for rho >= 1 (unstable), 0 for rho = 0 (no recurrence)."""
    if spectral_radius >= 1:
        return float("inf")
    return 0.0 if spectral_radius <= 0 else float(-1000.0 / (sample_rate * np.log(spectral_radius)))


def memory_rows(
    cfg: MemoryParams,
    model: TrainedModel,
    identity: tuple[Any, ...],
    sigma_uS: float,
    devices_per_element: int,
    sample_rate: float,
    digital_A: bool = False,
) -> list[dict[str, Any]]:
    """``cfg.realisations`` programmings of a trained model at ``sigma_uS`` on the chapter's
    array (its conductance window, converters saturating at ``headroom`` times the ideal peaks on
    training clips, block layout, fast mode), scored on its test clips: one row each with
    ``realisations.realisation_rows``' columns and ``slowest_mode_ms``. An S4D model goes on the
    arrays of ``hardware.deploy``, an FIR bank on a delay line. The draws come from
    ``identity`` (the model: task, family, seed, fold) and sigma; ``devices_per_element`` is a
    variant of the placement and meets the same draws, as does ``digital_A`` (A_bar held digitally,
    ``deploy.deployed_weights``). ``sample_rate``: steps per second of the recurrence."""
    net, splits, failure = model
    if net is None:
        return [failed_row(failure) | {"slowest_mode_ms": float("nan")}]
    window = {
        "g_min_uS": cfg.shared.g_min_uS,
        "g_max_uS": cfg.shared.g_max_uS,
        "g_phys_max_uS": cfg.shared.g_phys_max_uS,
    }
    seed = programming_seed("state memory", identity, sigma_uS)
    if isinstance(net.layers[0], QuantFIR):
        dev = DeviceConfig(
            **window | delay_line_converter_ranges(net, splits.train.x, cfg.shared.headroom),
            sigma_uS=sigma_uS,
        )
        rows = delay_line_rows(net, splits.test, dev, cfg.realisations, seed, devices_per_element)
    else:
        dev = DeviceConfig(**window | converter_ranges(net, splits.train.x, cfg.shared.headroom))
        rows = noise_rows(
            net,
            splits.test,
            sigma_uS,
            dev,
            cfg.realisations,
            seed,
            "block",
            devices_per_element,
            digital_A=digital_A,
        )
    return [
        r | {"slowest_mode_ms": slowest_mode_ms(r["spectral_radius"], sample_rate)} for r in rows
    ]


def noise_cell(
    cfg: MemoryParams,
    task: str,
    label: str,
    spec_of: Callable[[int, int], Run],
    cell: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """The programmings of one model family at ``cell``'s ``sigma_uS`` and ``devices_per_element``
    on every (seed, fold) of ``memory_seeds`` x ``folds`` (``memory_rows``), each row with its
    ``seed`` and ``fold``. ``task`` ('main' or 'order') and ``label`` name the family in the draws'
    identity; ``spec_of(seed, fold)`` builds its run."""
    data = cfg.order_data() if task == "order" else cfg.shared.data
    rows = []
    for fold in cfg.shared.folds:
        for seed in cfg.memory_seeds:
            model = load_model(spec_of(seed, fold), data.n_classes)
            rows += [
                r | {"seed": seed, "fold": fold}
                for r in memory_rows(
                    cfg,
                    model,
                    (task, label, seed, fold),
                    cell["sigma_uS"],
                    cell["devices_per_element"],
                    data.sample_rate,
                )
            ]
    return rows


def noise_models(cfg: MemoryParams) -> list[MemoryModel]:
    """The families programmed under noise: the quantized ones of ``memory_models``, those named
    in ``memory_noise_models`` when it is set, in file order."""
    return [
        m
        for m in cfg.memory_models
        if m.bits is not None
        and (cfg.memory_noise_models is None or m.name in cfg.memory_noise_models)
    ]


def noise_cells(cfg: MemoryParams) -> list[dict[str, Any]]:
    """The cells of the memory task's noise grid: one per family of ``noise_models``, sigma of
    ``sigmas_uS`` (uS) and count of ``devices_per_element`` (keys ``model``, ``sigma_uS``,
    ``devices_per_element``), in that order."""
    return [
        {"model": m.name, "sigma_uS": x, "devices_per_element": d}
        for m in noise_models(cfg)
        for x in cfg.sigmas_uS
        for d in cfg.shared.devices_per_element
    ]


def main_noise_cells(cfg: MemoryParams) -> list[dict[str, Any]]:
    """The cells of the main task's noise grid: the ternary (``fir_bits``) S4D model and the FIR
    bank of each of ``fir_taps`` at ``fir_bits`` (key ``label``, ``stateless_controls`` labels), at
    each sigma of ``sigmas_uS`` (uS), with the first count of ``devices_per_element``."""
    b = cfg.fir_bits
    labels = [comparison_label(b)] + [fir_label(t, b) for t in cfg.fir_taps]
    d = cfg.shared.devices_per_element[0]
    return [
        {"label": k, "sigma_uS": x, "devices_per_element": d} for k in labels for x in cfg.sigmas_uS
    ]


def memory_theory(cfg: MemoryParams, fscales: list[float]) -> pd.DataFrame:
    """The longest memory (ms, ``margin.longest_memory_ms`` at ``unstable_share_limit``) one
    complex or one real mode can keep at each sigma > 0 of ``sigmas_uS``, per range ``fscales``
    and device count, on the chapter's window and the memory task's sample rate; with the entry
    error ``s``."""
    rate, rows = cfg.order_data().sample_rate, []
    for f in fscales:
        for d in cfg.shared.devices_per_element:
            for x in (x for x in cfg.sigmas_uS if x > 0):
                s = weight_noise_std(x, f, cfg.shared.g_min_uS, cfg.shared.g_max_uS, d)
                rows.append(
                    {
                        "fscale": f,
                        "devices_per_element": d,
                        "sigma_uS": x,
                        "s": s,
                        "longest_complex_ms": longest_memory_ms(s, rate, cfg.unstable_share_limit),
                        "longest_real_ms": longest_memory_ms(
                            s, rate, cfg.unstable_share_limit, kind="real"
                        ),
                    }
                )
    return pd.DataFrame(rows)


def noise_summary(
    noise: pd.DataFrame,
    n_clips: int,
    by: tuple[str, ...] = ("model", "devices_per_element", "sigma_uS"),
) -> pd.DataFrame:
    """Per group of ``by`` (default: model, devices per element, sigma):
    ``stats.programmings.realisation_summary`` of the programmings (mean accuracy, 95% interval over
    folds, failure share), the share of unstable programmings and the median slowest-mode time
    constant (ms) of the stable ones."""
    by = list(by)
    ok = noise.dropna(subset=["accuracy"])
    out = realisation_summary(ok, by, n_clips)
    extra = ok.groupby(by).agg(
        unstable_share=("spectral_radius", lambda r: float((r >= 1).mean())),
        slowest_mode_ms=(
            "slowest_mode_ms",
            lambda t: float(np.median(t[np.isfinite(t)])) if np.isfinite(t).any() else float("nan"),
        ),
    )
    return out.merge(extra.reset_index(), on=by)


def memory_sigma_star(noise: pd.DataFrame, n_clips: int, chance: float) -> pd.DataFrame:
    """``margin.sigma_star`` per (model, devices per element) over the models that work at sigma = 0
    (mean accuracy there significantly above ``chance``); the others get no sigma* (``works``
    False): a model at chance has no accuracy to lose."""
    at0 = noise[noise["sigma_uS"] == 0].groupby(["model", "seed", "fold"])["accuracy"].mean()
    works = (
        at0.apply(lambda a: not chance_failure(a, n_clips, chance)).rename("works").reset_index()
    )
    ok = noise.merge(works[works["works"]][["model", "seed", "fold"]], on=["model", "seed", "fold"])
    stars = (
        sigma_star(ok, ["model", "devices_per_element"], n_clips)
        if len(ok)
        else pd.DataFrame(
            columns=["model", "devices_per_element", "sigma_star_uS", "sigma_fail_uS", "fails_by"]
        )
    )
    counts = works.groupby("model")["works"].agg(models="size", working="sum").reset_index()
    return counts.merge(stars, on="model", how="left")


def sigma_for_memory_uS(
    tau_ms: float, fscale: float, cfg: MemoryParams, devices_per_element: int
) -> float:
    """The largest programming noise sigma (uS) at which one complex mode of time constant
    ``tau_ms`` can still be held (``margin.longest_memory_ms`` >= tau_ms at
    ``unstable_share_limit``) on the chapter's window with range ``fscale``: the inverse of
    ``memory_theory``'s curve."""
    if tau_ms <= 0:
        return float("inf")
    rate = cfg.order_data().sample_rate
    per_uS = weight_noise_std(
        1.0, fscale, cfg.shared.g_min_uS, cfg.shared.g_max_uS, devices_per_element
    )  # s is linear in sigma
    return float(
        brentq(
            lambda x: longest_memory_ms(x * per_uS, rate, cfg.unstable_share_limit) - tau_ms,
            1e-6,
            1e4,
            xtol=1e-6,
        )
    )


def noise_answer(
    at_noise: pd.DataFrame,
    theory: pd.DataFrame,
    summary: pd.DataFrame,
    cfg: MemoryParams,
    levels: tuple[float, ...] = (5.0, 10.0, 15.0),
) -> dict[str, Any]:
    """Item 4's answer in numbers, for the first device count: at each of ``levels`` (uS) in the
    sweep, the theory's longest memory of one complex mode at each range of the programmed
    families, and each family's share of unstable programmings beside its slowest software mode
    (``summary``'s ``tau_max_ms``: a family whose modes are slower than the theory allows is
    expected to fail); the noise at which the memory task's gap can still be bridged; and the
    families whose memory-task accuracy stays above chance (interval over folds above it) at the
    largest level."""
    chance, d0 = 1 / cfg.order_data().n_classes, cfg.shared.devices_per_element[0]
    swept = [x for x in levels if x in cfg.sigmas_uS] or [max(cfg.sigmas_uS)]
    th = theory[theory["devices_per_element"] == d0].set_index(["fscale", "sigma_uS"])[
        "longest_complex_ms"
    ]
    ours = at_noise[at_noise["devices_per_element"] == d0]
    tau = summary.set_index("model")["tau_max_ms"]
    fscales = sorted(set(theory["fscale"]))
    parts = []
    for x in swept:
        limits = ", ".join(
            f"{th[(f, x)]:.1f} ms at f_scale {f:g}" for f in fscales if (f, x) in th.index
        )
        at = ours[ours["sigma_uS"] == x]
        shares = ", ".join(
            f"{r.model} (slowest mode {tau.get(r.model, np.nan):.3g} ms): {r.unstable_share:.0%}"
            for r in at.itertuples()
        )
        parts.append(
            f"at {x:g} uS the theory keeps at most {limits}; unstable programmings: {shares}"
        )
    gap_ms = 1000 * cfg.order.gap_s
    bridge = ", ".join(
        f"{sigma_for_memory_uS(gap_ms, f, cfg, d0):.2g} uS at f_scale {f:g}" for f in fscales
    )
    top = ours[ours["sigma_uS"] == swept[-1]]
    above = top[[w == ABOVE for w in table_verdicts(top, p=None, rule=Rule(chance))]]
    text = (
        f"With {d0} devices per element, " + "; ".join(parts) + ". "
        f"Bridging the {gap_ms:g} ms gap with one complex mode needs sigma at most {bridge}. "
        + (
            f"At {swept[-1]:g} uS, above chance on the memory task: "
            + ", ".join(
                f"{r.model} ({r.mean:.1%} [{r.ci_low:.1%}, {r.ci_high:.1%}])"
                for r in above.itertuples()
            )
            if len(above)
            else f"At {swept[-1]:g} uS none of this chapter's programmed designs keeps the memory "
            "task above chance (the next chapter programs others: lower step rates, A_bar held "
            "digitally)"
        )
        + "."
    )
    first = fscales[0] if fscales else cfg.shared.fscale
    return {
        "sigma_uS": swept[-1],
        "above_chance": ", ".join(above["model"]),
        "text": text,
        "bridge_uS": bridge,
        "theory_ms": "; ".join(
            f"{x:g}: {th[(first, x)]:.2f}" for x in swept if (first, x) in th.index
        ),
    }


def main_noise_contrasts(main: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Each ternary FIR bank minus the ternary S4D model ``reference`` on the main task, per sigma
    and device count (``stats.programmings.paired_contrast``, paired on fold; every model its own
    draws), one family with Holm's correction (``stats.paired.holm_family``). Programmings of a
    model that failed in training (accuracy NaN) leave out their fold for both sides."""
    key = ["sigma_uS", "devices_per_element", "seed", "fold", "realisation"]
    ok = main.dropna(subset=["accuracy"])
    parts = []
    for a in (x for x in ok["label"].unique() if x != reference):
        both = ok[ok["label"] == a][key].merge(ok[ok["label"] == reference][key], on=key)
        rows = ok[ok["label"].isin([a, reference])].merge(both, on=key)
        parts.append(
            paired_contrast(rows, "label", a, reference, ["sigma_uS", "devices_per_element"])
        )
    return holm_family(
        pd.concat(parts, ignore_index=True), "ternary FIR banks against the ternary S4D model"
    )


def main_noise_text(contrasts: pd.DataFrame, reference: str) -> str:
    """The FIR-on-array comparison in sentences: per FIR bank, its difference at the largest
    sigma."""

    top = contrasts[contrasts["sigma_uS"] == contrasts["sigma_uS"].max()]
    return (
        f"At {top['sigma_uS'].iloc[0]:g} uS, each ternary FIR bank minus the {reference}: "
        + "; ".join(
            f"{r.a} {r.difference_points:+.1f} points [{r.ci_low:+.1f}, {r.ci_high:+.1f}], "
            f"{r.verdict} (p_holm {r.p_holm:.3g})"
            for r in top.itertuples()
        )
        + "."
    )
