"""Quantization strategies (``config.Strategy``, data), their models, their hardware rows and the rules that compare them.

A ``Strategy`` names how the S4D layer is quantized and trained (bits per matrix, range mode, pole
cap or penalty, noise-aware QAT, or post-training quantization of the float model) and how many
devices carry each complex element. ``strategy_model`` builds the trained (cached) or quantized
model of one (fold, seed); ``hardware_rows`` programs it on the chapter's array at one noise level
and scores validation or test clips; ``pareto_front``, ``works_at`` and ``recommend`` are the
chapter's verdicts, on validation data wherever they choose something.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
from ..model.config import QuantConfig
from ..hardware.cost import CostConstants, analog_cost, device_conductances, digital_cost
from ..hardware.crossbar import layout, pairs_per_weight
from ..data.audio import AudioSet, AudioSplits
from ..hardware.deploy import calibrate_converters, realisation_rows, target_conductances
from ..hardware.devices import DeviceConfig
from .params import Strategy
from .runs import float_spec, qat_spec
from ..seeds import draw_seed
from ..stats import chance_failure, realisation_summary
from ..model.train import Run, SpeechClassifier, evaluate, load_splits
from .deployed import TrainedModel, load_model, software_row as deployed_software_row

__all__ = ["Strategy", "converter_rows", "cost_breakdown", "cost_corners", "energy_verdict", "family", "fold_speakers", "gap_recovery", "gap_verdict", "hardware_rows",
           "nested_recommendation", "pareto_front", "ptq_ablation", "recommend", "software_row", "strategy_cost", "strategy_draw_seed",
           "strategy_gaps", "strategy_model", "strategy_quant", "strategy_spec", "works_at"]


def _devices(cfg: Any, s: Strategy) -> int:
    return s.devices_per_element or cfg.devices_per_element[0]


def _digital(cfg: Any, s: Strategy, c: CostConstants):
    """The digital MAC unit's cost of ``s``'s kernel at its bits (``cost.digital_cost``)."""
    return digital_cost(cfg.model.H, cfg.model.N, s.bits, cfg.data.length, len(cfg.data.digits), c)


def strategy_quant(cfg: Any, s: Strategy) -> QuantConfig:
    """The QuantConfig of ``s`` under the chapter's ``fscale``, pole cap and conductance window.
    Uniform bits leave bits_A/B/C unset, so plain QAT is the QAT chapter's configuration (and run)."""
    uniform = len(set(s.bits)) == 1
    return QuantConfig(bits=max(s.bits), range_mode=s.range_mode, fscale=cfg.fscale,
                       r_max=cfg.r_max if s.r_max is None else s.r_max, scale_rule=cfg.scale_rule(s.range_mode),
                       bits_A=None if uniform else s.bits_A, bits_B=None if uniform else s.bits_B,
                       bits_C=None if uniform else s.bits_C, pole_penalty=s.pole_penalty, pole_target=s.pole_target,
                       noise_sigma_uS=s.noise_aware_sigma_uS, noise_window_uS=cfg.g_max_uS - cfg.g_min_uS,
                       noise_pairs=pairs_per_weight(_devices(cfg, s)) if s.noise_aware_sigma_uS else 2)


def strategy_spec(cfg: Any, s: Strategy, seed: int, fold: int) -> Run:
    """The training run of ``s`` for (fold, seed): QAT from the float run of the same fold and seed
    (``runs.qat_spec``'s schedule), or, for 'ptq', the float run itself."""
    if s.training == "ptq":
        return float_spec(cfg, seed, fold)
    base = qat_spec(cfg, max(s.bits), s.range_mode, seed, fold)
    return base._replace(model=base.model.model_copy(update={"quant": strategy_quant(cfg, s)}))


def strategy_model(cfg: Any, s: Strategy, seed: int, fold: int) -> TrainedModel:
    """The quantized classifier of ``s`` for (fold, seed) in eval mode, the fold's splits and the
    failure ('' or 'unstable' / 'non-finite'; the model is then None), from ``deployed.load_model``:
    QAT models from the model cache (trained if missing); PTQ quantizes the cached float model
    after the same range equalisation QAT starts with."""
    run, n_classes = strategy_spec(cfg, s, seed, fold), len(cfg.data.digits)
    if s.training == "qat":
        return load_model(run, n_classes)
    return load_model(run, n_classes, ptq=strategy_quant(cfg, s), fscale=cfg.fscale)


def software_row(cfg: Any, s: Strategy, seed: int, fold: int) -> dict[str, Any]:
    """``deployed.software_row`` of ``s``'s model for (fold, seed), labelled with the strategy,
    the seed and the fold."""
    return {"strategy": s.name, "seed": seed, "fold": fold} | deployed_software_row(strategy_model(cfg, s, seed, fold))


def _split(splits: AudioSplits, split: str) -> AudioSet:
    if split not in ("val", "test"):
        raise ValueError(f"split must be 'val' or 'test', got {split!r}")
    return splits.val if split == "val" else splits.test


def strategy_draw_seed(base: int, s: Strategy, seed: int, fold: int, sigma_uS: float, split: str) -> int:
    """Seed of the programmings of strategy ``s``'s model of training ``seed`` and ``fold`` at one
    noise level and split (``seeds.draw_seed``): each strategy is a model of its own and draws its
    own noise; the periphery variants of one model (``converter_rows``) share it."""
    return draw_seed("strategy model", s.name, seed, fold, sigma_uS, split, base)


def hardware_rows(cfg: Any, s: Strategy, seed: int, fold: int, sigmas_uS: list[float], realisations: int,
                  base_seed: int, splits: tuple[str, ...] = ("val", "test")) -> list[dict[str, Any]]:
    """One row per programming of ``s``'s model of (fold, seed) at each of ``sigmas_uS`` and on each
    of ``splits``: the chapter's window (g_min, g_max, g_phys_max), converter ranges at
    ``cfg.headroom`` times the ideal peaks on training clips (computed once per model), programming
    noise sigma, fast mode, block layout with the strategy's devices per element. Draws are seeded
    by ``strategy_draw_seed``. A model whose training failed gives one row per sigma and split with accuracy
    NaN and its failure; a programming at chance of a model already at chance in software carries
    'at chance in software' as its cause."""
    net, data, failure = strategy_model(cfg, s, seed, fold)
    if net is None:
        return [{"sigma_uS": x, "split": sp, "realisation": 0, "accuracy": float("nan"), "spectral_radius": float("nan"),
                 "saturated": False, "failure": failure, "pulses_per_device": float("nan")}
                for sp in splits for x in sigmas_uS]
    window = cfg.window
    ranges = calibrate_converters(net, data.train.x, cfg.headroom)
    at_chance = {sp: chance_failure(*_score(net, _split(data, sp))) for sp in splits}
    rows = []
    for sp in splits:
        for x in sigmas_uS:
            dev = DeviceConfig(**window, sigma_uS=x, **ranges)
            new = realisation_rows(net, _split(data, sp), [dev], realisations if dev.stochastic else 1,
                                   strategy_draw_seed(base_seed, s, seed, fold, x, sp), layout="block", devices_per_element=_devices(cfg, s))
            rows += [{"sigma_uS": x, "split": sp} | r | ({"failure": "at chance in software"}
                                                          if r["failure"] and at_chance[sp] else {}) for r in new]
    return rows


def _score(net: SpeechClassifier, data: AudioSet) -> tuple[float, int]:
    return evaluate(net, data)[0], len(data)


def _analog(cfg: Any, s: Strategy, net: SpeechClassifier, adc_bits: int, c: CostConstants,
            array_size: int | None = None):
    """The analog cost estimate of one model of ``s`` and its layout (on ``array_size`` square
    arrays, default the chapter's rows x cols)."""
    d = _devices(cfg, s)
    rows, cols = (cfg.rows, cfg.cols) if array_size is None else (array_size, array_size)
    lay = layout(cfg.model.H, 2 * cfg.model.N + 1, rows, cols, kind="block", devices_per_element=d)
    dev = DeviceConfig(**cfg.window)
    G = device_conductances(target_conductances(net, dev, "block"), pairs_per_weight(d))
    est = analog_cost(G, lay, cfg.model.N, cfg.data.length, len(cfg.data.digits), adc_bits, c,
                      column_gains=s.range_mode != "fixed")
    return est, lay


def strategy_cost(cfg: Any, s: Strategy, keys: list[tuple[int, int]], adc_bits: int, c: CostConstants
                  ) -> dict[str, Any]:
    """Hardware cost of ``s``: devices, arrays and utilisation of its layout, and the analog energy
    (mean over the models of ``keys``: the read energy depends on the programmed conductances) and
    latency, beside the digital MAC unit's at the same bits. Energies in pJ per inference."""
    energies, latency, lay = [], float("nan"), None
    for seed, fold in keys:
        net = strategy_model(cfg, s, seed, fold)[0]
        if net is None:
            continue
        est, lay = _analog(cfg, s, net, adc_bits, c)
        energies.append(est.energy_pJ_per_inference)
        latency = est.latency_us_per_step
    if lay is None:
        lay = layout(cfg.model.H, 2 * cfg.model.N + 1, cfg.rows, cfg.cols, kind="block", devices_per_element=_devices(cfg, s))
    digital = _digital(cfg, s, c)
    return {"strategy": s.name, "devices": lay.devices, "arrays": lay.arrays, "utilisation": lay.utilisation,
            "adc_bits": adc_bits, "energy_pJ_per_inference": float(np.mean(energies)) if energies else float("nan"),
            "latency_us_per_step": latency, "digital_energy_pJ_per_inference": digital.energy_pJ_per_inference,
            "digital_latency_us_per_step": digital.latency_us_per_step}


def cost_breakdown(cfg: Any, s: Strategy, seed: int, fold: int, adc_bits: int, c: CostConstants) -> pd.DataFrame:
    """Energy per inference by component (pJ), analog and digital, of one model of ``s``: one row
    per (design, component)."""
    net = strategy_model(cfg, s, seed, fold)[0]
    if net is None:
        raise ValueError(f"strategy {s.name!r} has no model for fold {fold}, seed {seed}")
    analog = _analog(cfg, s, net, adc_bits, c)[0]
    digital = _digital(cfg, s, c)
    return pd.DataFrame([{"design": design, "component": k, "energy_pJ_per_inference": v}
                         for design, est in (("analog", analog), ("digital", digital))
                         for k, v in est.breakdown_pJ_per_inference.items()])


def cost_corners(cfg: Any, s: Strategy, seed: int, fold: int, adc_bits: int, c: CostConstants,
                 corners: dict[str, list[Any]]) -> pd.DataFrame:
    """Analog and digital energy per inference of one model of ``s`` at every combination of the
    values in ``corners`` (all others as in ``c``): keys are ``CostConstants`` fields, 'adc_bits'
    or 'array_size' (square arrays of that many rows). One row per combination, with the ratio
    analog / digital, so that a verdict can be checked against the whole range of constants."""
    import itertools

    unknown = set(corners) - set(CostConstants.model_fields) - {"adc_bits", "array_size"}
    if unknown:
        raise ValueError(f"unknown cost constants {sorted(unknown)}")
    net = strategy_model(cfg, s, seed, fold)[0]
    if net is None:
        raise ValueError(f"strategy {s.name!r} has no model for fold {fold}, seed {seed}")
    out = []
    for values in itertools.product(*corners.values()):
        point = dict(zip(corners, values))
        cc = CostConstants.model_validate(c.model_dump() | {k: v for k, v in point.items() if k in CostConstants.model_fields})
        analog = _analog(cfg, s, net, point.get("adc_bits", adc_bits), cc, point.get("array_size"))[0]
        digital = _digital(cfg, s, cc)
        out.append(point | {"analog_pJ_per_inference": analog.energy_pJ_per_inference,
                            "digital_pJ_per_inference": digital.energy_pJ_per_inference,
                            "analog_over_digital": analog.energy_pJ_per_inference / digital.energy_pJ_per_inference})
    return pd.DataFrame(out)


def ptq_ablation(cfg: Any, keys: list[tuple[int, int]], variants: dict[str, tuple[int, int, int]]) -> pd.DataFrame:
    """Post-training quantization of the float models of ``keys`` with (bits_A, bits_B, bits_C) per
    variant, on the chapter's fixed range and pole cap: test accuracy and the share of modes whose
    B_bar or C rounds to zero (such a mode no longer reaches the output). 16 bits is as good as
    exact, so a 16-bit variant isolates the range and the cap from the rounding."""
    rows = []
    for label, bits in variants.items():
        s = Strategy(name=label, training="ptq", bits_A=bits[0], bits_B=bits[1], bits_C=bits[2])
        for seed, fold in keys:
            net, splits, _ = strategy_model(cfg, s, seed, fold)
            with torch.no_grad():
                q = net.layers[0].discrete()
            rows.append({"variant": label, "bits_A": bits[0], "bits_B": bits[1], "bits_C": bits[2], "seed": seed,
                         "fold": fold, "accuracy": evaluate(net, splits.test)[0],
                         "silent_mode_share": float(((q.B_bar == 0) | (q.C == 0)).double().mean())})
    return pd.DataFrame(rows)


def pareto_front(table: pd.DataFrame, cost: str, accuracy: str, n_clips: int | None = None) -> pd.Series:
    """True for the rows no other row dominates: none is at most as costly and at least as accurate,
    and strictly better in one of the two. Rows with a missing value, and with ``n_clips`` the rows
    not significantly above chance on that many clips (``stats.chance_failure``), are never on it."""
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
    folds then programmings (``stats.realisation_summary``) lies wholly above ``chance``. ``rows``:
    hardware rows with ``strategy``, ``sigma_uS``, ``fold``, ``realisation``, ``accuracy``. None if
    it works at no sigma."""
    part = rows[rows["strategy"] == strategy].dropna(subset=["accuracy"])
    if part.empty:
        raise ValueError(f"no hardware rows for strategy {strategy!r}")
    summary = realisation_summary(part, ["sigma_uS"], None)
    working = summary[summary["ci_low"] > chance]["sigma_uS"]
    return float(working.max()) if len(working) else None


def recommend(table: pd.DataFrame, accuracy: str = "accuracy_hardware_val", energy: str = "energy_pJ_per_inference",
              tie_points: float = 1.0) -> str:
    """The strategy to recommend: the highest validation accuracy under hardware; strategies within
    ``tie_points`` points of it are tied, and the one of them with the least energy wins (then the
    first listed). ``table``: one row per strategy with ``strategy``, ``accuracy`` and ``energy``."""
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
    if s.noise_aware_sigma_uS > 0:
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


def gap_recovery(hardware: pd.DataFrame, software: pd.DataFrame, baseline: str, best: str, sigma_uS: float
                 ) -> dict[str, float]:
    """How much of plain QAT's software-to-hardware gap ``best`` wins back at ``sigma_uS``.

    ``hardware``: programmings (``strategy``, ``sigma_uS``, ``seed``, ``fold``, ``realisation``,
    ``accuracy``); ``software``: one row per model (``strategy``, ``seed``, ``fold``, ``accuracy``).
    Returns the baseline's gap (software minus hardware, points, interval over folds then
    programmings), the best strategy's own gap, the paired difference best - baseline under
    hardware (points, interval; same models' folds, same draws) and its share of the baseline's gap.
    """
    from ..stats import paired_contrast

    rows = hardware[(hardware["sigma_uS"] == sigma_uS) & hardware["strategy"].isin([baseline, best])]
    rows = rows.dropna(subset=["accuracy"])
    if set(rows["strategy"]) != {baseline, best}:
        raise ValueError(f"need hardware rows of {baseline!r} and {best!r} at sigma {sigma_uS}")
    gaps = strategy_gaps(rows, software, sigma_uS).set_index("strategy")
    won = paired_contrast(rows, "strategy", best, baseline, by=["sigma_uS"]).iloc[0]
    base = gaps.loc[baseline]
    return {"sigma_uS": sigma_uS, "gap_points": float(base["gap_points"]), "gap_ci_low": float(base["gap_ci_low"]),
            "gap_ci_high": float(base["gap_ci_high"]), "best_gap_points": float(gaps.loc[best, "gap_points"]),
            "recovered_points": float(won["difference_points"]), "recovered_ci_low": float(won["ci_low"]),
            "recovered_ci_high": float(won["ci_high"]),
            "recovered_share": float(won["difference_points"] / base["gap_points"]) if base["gap_points"] > 0 else float("nan")}


def nested_recommendation(val_table: pd.DataFrame, test_table: pd.DataFrame, speakers: dict[int, tuple[str, str]],
                          tie_points: float = 1.0) -> pd.DataFrame:
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
        pooled = (val_table[val_table["fold"].isin(seen)].groupby("strategy", sort=False)
                  .agg(accuracy_hardware_val=("accuracy", "mean"), energy_pJ_per_inference=("energy_pJ_per_inference", "first"))
                  .reset_index())
        choice = recommend(pooled, tie_points=tie_points)
        hit = test_table[(test_table["fold"] == fold) & (test_table["strategy"] == choice)]["accuracy"]
        rows.append({"fold": fold, "test_speaker": test_speaker, "choice": choice,
                     "accuracy": float(hit.mean()) if len(hit) else float("nan")})
    return pd.DataFrame(rows)


def strategy_gaps(hardware: pd.DataFrame, software: pd.DataFrame, sigma_uS: float) -> pd.DataFrame:
    """Each strategy's own software-to-hardware gap at ``sigma_uS`` (points: its software accuracy
    minus its accuracy under hardware, per model, then the interval over folds and programmings)."""
    from ..stats import drop_interval, drops_from

    rows = hardware[hardware["sigma_uS"] == sigma_uS].dropna(subset=["accuracy"])
    out = []
    for name, part in rows.groupby("strategy", sort=False):
        ref = software[software["strategy"] == name].dropna(subset=["accuracy"])
        d = drop_interval(drops_from(part, ref, key=("seed", "fold")).assign(_g=0), ["_g"]).iloc[0]
        out.append({"strategy": name, "sigma_uS": sigma_uS, "gap_points": float(d["drop_points"]),
                    "gap_ci_low": float(d["drop_ci_low"]), "gap_ci_high": float(d["drop_ci_high"])})
    return pd.DataFrame(out)


def converter_rows(cfg: Any, s: Strategy, seed: int, fold: int, sigma_uS: float, realisations: int, base_seed: int,
                   dac_bits: int, adc_bits: int, headroom: float) -> list[dict[str, Any]]:
    """The converters' own effect: the test programmings of ``hardware_rows`` at ``sigma_uS`` (same
    draws) with converter ranges at ``headroom`` times the ideal peaks on training clips, once with
    ideal resolution (fast mode) and once in step mode with a ``dac_bits`` DAC and an ``adc_bits``
    ADC over the same ranges. One row per programming with ``converters`` naming the case."""
    net, data, failure = strategy_model(cfg, s, seed, fold)
    if net is None:
        return [{"converters": k, "realisation": 0, "accuracy": float("nan"), "failure": failure}
                for k in ("ideal resolution", "rounding")]
    window = cfg.window
    ranges = calibrate_converters(net, data.train.x, headroom)
    out = []
    for label, extra, mode in (("ideal resolution", {}, "fast"),
                               ("rounding", {"dac_bits": dac_bits, "adc_bits": adc_bits}, "step")):
        dev = DeviceConfig(**window, sigma_uS=sigma_uS, **ranges, **extra)
        rows = realisation_rows(net, data.test, [dev], realisations if dev.stochastic else 1,
                                strategy_draw_seed(base_seed, s, seed, fold, sigma_uS, "test"), mode=mode, layout="block",
                                devices_per_element=_devices(cfg, s))
        out += [{"converters": label} | {k: r[k] for k in ("realisation", "accuracy", "failure")} for r in rows]
    return out


def energy_verdict(corners: pd.DataFrame) -> str:
    """'analog cheaper', 'digital cheaper' or 'depends on the constants': whether the ratio analog /
    digital of ``cost_corners`` stays on one side of 1 over every combination."""
    r = corners["analog_over_digital"]
    if (r < 1).all():
        return "analog cheaper"
    if (r > 1).all():
        return "digital cheaper"
    return "depends on the constants"


def fold_speakers(cfg: Any, seed: int) -> dict[int, tuple[str, str]]:
    """fold -> (test speaker, validation speaker) of every fold of ``cfg``, read from its splits."""
    out = {}
    for fold in cfg.folds:
        splits = load_splits(float_spec(cfg, seed, fold).data)
        out[fold] = (str(splits.test.meta["speaker"].iloc[0]), str(splits.val.meta["speaker"].iloc[0]))
    return out


def gap_verdict(gap: dict[str, float], goal_share: float = 0.5) -> str:
    """One sentence on ``gap_recovery``'s result: whether the baseline's gap and the gain are
    resolved (their intervals exclude zero) and whether the gain reaches ``goal_share`` of the gap
    with its interval above zero (the only way the goal counts as met)."""
    gap_ok = gap["gap_ci_low"] > 0
    gain_ok = gap["recovered_ci_low"] > 0
    met = gain_ok and gap_ok and gap["recovered_share"] >= goal_share
    parts = ["the gap is resolved" if gap_ok else "the gap itself is not resolved (its interval includes 0)",
             "the gain is resolved" if gain_ok else "the gain is not resolved (its interval includes 0)",
             f"the goal of {100 * goal_share:.0f}% is {'met' if met else 'not met'}"]
    return "; ".join(parts) + "."
