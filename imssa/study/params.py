"""Typed parameters: one pydantic schema per chapter, loaded from ``params/<profile>/<chapter>.yaml``.

Every schema forbids unknown keys and checks types and ranges, so a bad parameter file fails
before any work starts, with a message that names the key and what is allowed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import AfterValidator, Field, ValidationError, field_validator, model_validator

from ..data.config import DataConfig
from ..model.config import ModelConfig, PoleCap, QuantConfig, TrainConfig
from ..model.spectral import SpectralConfig
from ..schema import Strict
from ..hardware.cost import CostConstants
from ..hardware.devices import DeviceConfig
from ..hardware.presets import PRESETS, TECHNOLOGIES, preset_device

__all__ = [
    "BaselineParams",
    "ModelParams",
    "Shared",
    "DeploymentParams",
    "EmulationParams",
    "PeripheryParams",
    "DataConfig",
    "FirstPrinciplesParams",
    "MappingParams",
    "MarginParams",
    "MemoryModel",
    "BitsSweep",
    "FrontEndChoice",
    "MemoryParams",
    "ProgrammedMemoryParams",
    "OrderTask",
    "ModelConfig",
    "QATParams",
    "ScaleParams",
    "Strategy",
    "StrategyParams",
    "QuantConfig",
    "ConverterBits",
    "ModelBits",
    "ParamsError",
    "SigmaSweep",
    "NoiseSweep",
    "Programmings",
    "PresetChoice",
    "TrainConfig",
    "CHAPTERS",
    "chapter_file_values",
    "fold_params",
    "global_params",
    "load_params",
    "merge",
    "shared_values",
    "read_yaml",
    "validate_params",
    "replaced",
    "variant",
]


def _with_zero(values: list[float]) -> list[float]:
    if 0.0 not in values:
        raise ValueError("must include 0.0: every drop is paired with the unprogrammed model")
    return values


#: a quantized model's bit width
ModelBits = Annotated[int, Field(ge=1, le=16)]
#: a converter's resolution in bits
ConverterBits = Annotated[int, Field(ge=2, le=24)]
#: programming-noise levels in uS of a sweep: each >= 0, and 0 among them (the paired reference)
SigmaSweep = Annotated[list[Annotated[float, Field(ge=0)]], AfterValidator(_with_zero)]


class ParamsError(ValueError):
    """A parameter file or dict that does not fit its chapter's schema."""


class Programmings(Strict):
    """A further sweep of a chapter whose cells set the noise: ``realisations`` programmings per
    trained model and cell (the chapter's main sweep has ``realisations`` at its top level)."""

    realisations: int = Field(ge=1, description="programmings per trained model and point")


class NoiseSweep(Programmings):
    """A further sweep of a chapter over programming noise: ``realisations`` programmings per
    trained model at each of ``sigmas_uS`` (uS; the chapter's main sweep has ``sigmas_uS`` and
    ``realisations`` at its top level)."""

    sigmas_uS: SigmaSweep


class ChapterParams(Strict):
    """Fields every chapter has. ``reads_results``: the chapter reads other chapters' results."""

    reads_results: ClassVar[bool] = False
    profile: Literal["paper", "ci", "custom"] = "custom"


class FirstPrinciplesParams(ChapterParams):
    """Chapter 'S4D from first principles'."""

    H: int = Field(default=4, ge=1)
    N: int = Field(default=8, ge=1)
    L: int = Field(default=4000, ge=2)
    dt_min: float = Field(default=0.001, gt=0, description="smallest step, in the time unit of A (1/Re A = -2)")
    dt_max: float = Field(default=0.1, gt=0, description="largest step; channel h gets a geometric spacing")
    sample_rate: int = Field(default=4000, gt=0, description="Hz, only labels the frequency axis")
    inits: list[Literal["lin", "inv"]] = Field(default=["lin", "inv"], min_length=1)
    seed: int = 0

    @model_validator(mode="after")
    def _check_steps(self) -> FirstPrinciplesParams:
        if self.dt_min > self.dt_max:
            raise ValueError(f"dt_min ({self.dt_min}) must be <= dt_max ({self.dt_max})")
        return self


class Shared(Strict):
    """The settings every chapter that trains or deploys a classifier shares, written once in a
    profile's ``_shared.yaml`` and contained by each such chapter as ``shared``: the task
    (``data``, whose ``fold`` is set per run from ``folds``; ``seeds``, ``selection_seeds``, and
    ``fold_choices``, the nested choices), the float model and its training (``model``, ``train``),
    the fixed-range QAT recipe that starts from it (``qat_train``, ``init``, ``fscale``, ``r_max``,
    ``adaptive_scale_rule``), the array (``map_bits``, the window [g_min_uS, g_max_uS] and its
    physical top, ``rows`` x ``cols``, the fast-mode converters' ``headroom``,
    ``devices_per_element``) and ``workers``. So every chapter maps the same models onto the same
    array, and their cached runs are shared."""

    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    seeds: list[int] = Field(default=[0, 1], min_length=1, description="training seeds per fold")
    folds: list[int] = Field(default=[0, 1, 2, 3, 4, 5], min_length=1,
                             description="loso folds (test speaker index); [0] for the other splits")
    selection_seeds: list[int] = Field(default=[0], min_length=1, description="seeds of the validation sweeps")
    workers: int = Field(default=1, ge=1, description="runs trained side by side, 1 thread each")
    qat_train: TrainConfig = TrainConfig(epochs=10, lr=0.003, ssm_lr=0.003)
    init: Literal["float", "scratch"] = "float"
    fscale: float = Field(default=0.7, gt=0, description="the fixed range shared by Re/Im of A_bar, B_bar, C")
    r_max: PoleCap | None = Field(default=None, description="pole cap of every quantized model")
    adaptive_scale_rule: Literal["max_abs", "mse"] = Field(default="mse", description=(
        "scale of the dynamic and per-channel ranges: each tensor's (channel's) max-abs, or the scale that "
        "minimises its quantization error (TWN's fitted threshold and scale at 2 bits); the fixed range "
        "keeps fscale"))
    fold_choices: dict[int, dict[str, int | float]] = Field(default_factory=dict, description=(
        "per fold, the parameter values (dotted paths, e.g. train.lr) of its nested choice where it differs from "
        "this file's: the choice behind that fold's test numbers, made without its test speaker "
        "(selection.nested_choices checks that this holds the nested choice)"))
    map_bits: ModelBits = Field(default=2, description="bit width of the model mapped")
    g_min_uS: float = Field(default=10.0, ge=0, description="conductance of level 0, uS")
    g_max_uS: float = Field(default=100.0, gt=0, description="conductance of the top level, uS")
    rows: int = Field(default=64, ge=1, description="array rows (inputs)")
    cols: int = Field(default=64, ge=1, description="array columns (outputs)")
    g_phys_max_uS: float = Field(default=150.0, gt=0, description="top of the physical conductance window, uS")
    headroom: float = Field(default=2.0, ge=1, description=(
        "converter range in fast-mode sweeps, in units of the largest ideal input/output on training clips"))
    devices_per_element: list[Literal[8, 16]] = Field(default=[16, 8], min_length=1, description=(
        "devices per complex element of A_bar (16: the paper's 4 x 4 block); the first is the default"))

    #: first parts of the paths ``fold_choices`` may set: what a trained model depends on
    FOLD_CHOICE_ROOTS: ClassVar[frozenset[str]] = frozenset(
        {"data", "model", "train", "qat_train", "fscale", "r_max", "adaptive_scale_rule"})

    @field_validator("fold_choices", mode="before")
    @classmethod
    def _fold_numbers(cls, value: Any) -> Any:
        """Folds as numbers also where the values came through JSON (papermill), whose keys are text."""
        if isinstance(value, dict):
            return {int(k) if isinstance(k, str) and k.isdigit() else k: v for k, v in value.items()}
        return value

    def scale_rule(self, range_mode: str) -> Literal["max_abs", "mse"]:
        """The scale rule of a quantized model with ``range_mode``: the fixed range has none of its own."""
        return "max_abs" if range_mode == "fixed" else self.adaptive_scale_rule

    def device(self, choice: PresetChoice) -> DeviceConfig:
        """The device of a preset ``choice``: its preset on this array's ``window``, then its
        overrides (``presets.preset_device``)."""
        return preset_device(choice.preset, self.window, **choice.overrides)

    @property
    def window(self) -> dict[str, float]:
        """The conductance window (uS) as ``DeviceConfig`` keys: mapping range and physical top."""
        return {"g_min_uS": self.g_min_uS, "g_max_uS": self.g_max_uS, "g_phys_max_uS": self.g_phys_max_uS}

    @model_validator(mode="after")
    def _check_shared(self) -> Shared:
        if len(set(self.folds)) != len(self.folds) or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"folds and seeds must not repeat, got folds {self.folds}, seeds {self.seeds}")
        if self.data.split != "loso" and self.folds != [0]:
            raise ValueError(f"folds: split {self.data.split!r} has one fold, [0]; got {self.folds}")
        if self.g_min_uS >= self.g_max_uS:
            raise ValueError(f"g_min_uS ({self.g_min_uS}) must be < g_max_uS ({self.g_max_uS})")
        if self.g_phys_max_uS < self.g_max_uS:
            raise ValueError(f"g_phys_max_uS ({self.g_phys_max_uS}) must be >= g_max_uS ({self.g_max_uS})")
        for fold, values in self.fold_choices.items():
            if fold not in self.folds:
                raise ValueError(f"fold_choices names fold {fold}, which is not among folds {self.folds}")
            for path, value in values.items():
                if path.split(".")[0] not in self.FOLD_CHOICE_ROOTS or path == "data.fold":
                    raise ValueError(f"fold_choices.{fold}.{path}: a fold may set only what a trained model "
                                     f"depends on (paths under {sorted(self.FOLD_CHOICE_ROOTS)}, not data.fold)")
                try:
                    replaced(self.model_copy(update={"fold_choices": {}}), path, value)
                except ParamsError as err:
                    raise ValueError(f"fold_choices.{fold}.{path} = {value!r}: {err}") from None
        return self


class ModelParams(ChapterParams):
    """A chapter that trains or deploys a classifier: it contains the ``Shared`` settings
    (``shared``, from the profile's ``_shared.yaml``) beside its own keys (its own file)."""

    shared: Shared = Shared()

    #: keys of ``shared`` that cannot change a result, left out of ``checkpoint_key``
    NOT_IN_RESULTS: ClassVar[frozenset[str]] = frozenset({"workers"})

    def checkpoint_key(self) -> str:
        """Text of the whole configuration but ``NOT_IN_RESULTS``: a resumable sweep's checkpoint
        (``results.checkpoint_path``, which adds the library's digest) stays valid exactly as long as
        none of it changes, so no new field can silently reuse a stale checkpoint."""
        return self.model_dump_json(exclude={"shared": set(self.NOT_IN_RESULTS)})


def _check_grid(shared: Shared, grid: dict[str, list[Any]], name: str) -> None:
    """Every key of a selection grid is a path of the ``shared`` settings and every value is valid there."""
    for path, values in grid.items():
        if not values:
            raise ValueError(f"{name}.{path}: give at least one value")
        for value in values:
            try:
                replaced(shared, path, value)
            except ParamsError as err:
                raise ValueError(f"{name}.{path} = {value!r}: {err}") from None


class BaselineParams(ModelParams):
    """Chapter 'Float baseline': the main task, the choices made on validation data, the float
    model on every fold and seed, and the controls that show whether the recurrence matters.

    ``selection`` maps parameter paths (``data.sample_rate``, ``train.lr``, ``model.N``) to the
    values tried one at a time around this file's values, on the validation speakers."""

    selection: dict[str, list[int | float]] = Field(default_factory=lambda: {
        "data.sample_rate": [1000, 2000, 4000], "train.lr": [0.003, 0.01, 0.03],
        "train.ssm_lr": [0.001, 0.003, 0.01], "model.N": [8, 16, 32]})
    deployed_selection: list[str] = Field(default=["data.sample_rate", "model.N"], description=(
        "paths of ``selection`` chosen on the deployed model (fixed-range QAT at qat_bits[0]), not the float one"))
    selection_limits: dict[str, float] = Field(default_factory=lambda: {"model.N": 16}, description=(
        "hardware and compute budgets: candidates above are shown but never chosen"))
    controls: list[Literal["memoryless", "frozen"]] = Field(default=["memoryless", "frozen"])
    qat_bits: list[ModelBits] = Field(default=[2], description="fixed-range QAT models compared with the controls")
    official_seeds: list[int] = Field(default=[0], description="the official split as a secondary column; [] skips it")

    @model_validator(mode="after")
    def _check_selection(self) -> BaselineParams:
        _check_grid(global_params(self).shared, self.selection, "selection")
        if set(self.deployed_selection) - set(self.selection) or (self.deployed_selection and not self.qat_bits):
            raise ValueError(f"deployed_selection {self.deployed_selection} must be keys of selection, with qat_bits set")
        if set(self.selection_limits) - set(self.selection):
            raise ValueError(f"selection_limits {sorted(self.selection_limits)} must be keys of selection")
        return self


class QATParams(ModelParams):
    """Chapter 'Fixed-range QAT'. ``data``, ``model`` and ``train`` describe the float model
    (the same as the baseline chapter's, so its cached runs are reused); ``qat_train`` the
    quantization-aware training that starts from it (``init: float``) or from scratch.

    Choices on validation data: ``qat_selection`` (paths such as ``fscale`` or ``qat_train.lr``)
    for the fixed-range model at ``selection_bits``; ``r_max_selection`` for the dynamic-range
    model at ``r_max_bits``."""

    bits: list[ModelBits] = Field(default=[1, 2, 3, 4, 5, 8], min_length=1)
    range_modes: list[Literal["fixed", "dynamic", "per_channel"]] = Field(default=["fixed", "dynamic"], min_length=1)
    selection_bits: ModelBits = 2
    qat_selection: dict[str, list[int | float]] = Field(default_factory=lambda: {
        "fscale": [0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0], "qat_train.lr": [0.003, 0.01, 0.03]})
    r_max_bits: int = Field(default=4, ge=2, le=16, description="dynamic-range model whose pole cap is chosen")
    r_max_selection: list[PoleCap] = Field(default=[0.95, 0.99, 0.999], min_length=1)
    grid_bits: list[ModelBits] = Field(default=[2, 3, 4], min_length=1, description="grids drawn against the unit circle")
    detail_bits: ModelBits = Field(default=2, description="the model shown in detail")

    @model_validator(mode="after")
    def _check_bits(self) -> QATParams:
        _check_grid(global_params(self).shared, self.qat_selection, "qat_selection")
        return self


class MappingParams(ModelParams):
    """Chapter 'Mapping S4D onto a crossbar': the QAT chapter's model at ``map_bits``/``fscale``
    (the shared keys, so the cached QAT runs are reused), mapped onto arrays of ``rows`` x ``cols``."""

    check_length: int = Field(default=500, ge=1, description="steps of the exactness check")


class PresetChoice(Strict):
    """A device named by its preset (``imssa.hardware.presets.PRESETS``, where every value has its
    source or is labelled an ASSUMPTION) with ``overrides`` (``DeviceConfig`` keys). Its conductance
    window is the chapter's shared array unless ``overrides`` sets it (``Shared.device``)."""

    preset: str
    overrides: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_preset(self) -> PresetChoice:
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; known: {sorted(PRESETS)}")
        DeviceConfig.check_keys(self.overrides)
        return self


class EmulationParams(ModelParams):
    """A chapter that runs the emulated array: a device preset (``emulation``) on the shared window."""

    emulation: PresetChoice = PresetChoice(preset="hfox_1t1r_like")

    def emulation_device(self) -> DeviceConfig:
        """The emulated array: ``emulation``'s preset on this chapter's window (``device``)."""
        return self.shared.device(self.emulation)

    @model_validator(mode="after")
    def _check_emulation(self) -> EmulationParams:
        try:
            self.emulation_device()
        except ValidationError as err:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'device'}: {e['msg']}" for e in err.errors())
            raise ValueError(f"emulation: {problems}") from None
        except ValueError as err:
            raise ValueError(f"emulation: {err}") from None
        return self


class DeploymentParams(EmulationParams):
    """Chapter 'Deployment under hardware noise': the QAT models (same keys as the QAT chapter),
    programmed with noise onto arrays of conductance range [g_min_uS, g_max_uS]."""

    RENAMED: ClassVar[dict[str, str]] = {"step_realisations": "step.realisations"}

    fig4_bits: list[ModelBits] = Field(default=[2, 3, 4, 5, 8], min_length=1)
    sigmas_uS: SigmaSweep = Field(default=[0.0, 1.0, 2.5, 5.0, 7.5, 10.0, 15.0, 20.0], min_length=1)
    realisations: int = Field(default=3, ge=1, description="programmings per trained model and point (fast mode)")
    noise_clips: list[Literal["physical", "mapping"]] = Field(default=["physical", "mapping"], min_length=1,
                                                                description="clipping rules drawn; the first is the default")
    stuck_fractions: list[float] = Field(default=[0.0, 0.001, 0.01, 0.02, 0.05], min_length=1)
    read_noises: list[float] = Field(default=[0.005, 0.01, 0.02], min_length=1)
    converter_bits: list[ConverterBits] = Field(default=[4, 6, 8], min_length=1)
    step: Programmings = Field(default=Programmings(realisations=3), description="the step-mode sweeps")
    dense_bits: list[ModelBits] = Field(default=[2, 5], description=(
        "bit widths re-run with the first simulator: dense layout, mapping-range clipping, 8 devices, no saturation"))
    gmax_sweep_uS: list[float] = Field(default=[100.0, 200.0, 400.0], description="g_max tried at the paper's sigma")

    @model_validator(mode="after")
    def _check_deploy(self) -> DeploymentParams:
        if any(not 0 <= f <= 0.5 for f in self.stuck_fractions):
            raise ValueError(f"stuck_fractions must be in [0, 0.5], got {self.stuck_fractions}")
        if any(r < 0 for r in self.read_noises):
            raise ValueError(f"read_noises must be >= 0, got {self.read_noises}")
        if any(g <= self.shared.g_min_uS for g in self.gmax_sweep_uS):
            raise ValueError(f"gmax_sweep_uS values must exceed g_min_uS ({self.shared.g_min_uS})")
        if not set(self.dense_bits) <= set(self.fig4_bits):
            raise ValueError("dense_bits must be a subset of fig4_bits")
        return self


#: The device settings of the periphery designs (``PeripheryParams.design_device``) by default.
DESIGN_DEVICE: dict[str, Any] = {
    "adc_offset_sigma": 0.01,   # ASSUMPTION: ADC/TIA offset std 1% of a column's full scale
    "adc_gain_sigma": 0.02,     # ASSUMPTION: ADC/TIA relative gain error std 2%
    "calibration_reads": 16,    # reads per reference of the per-column affine correction
    "read_noise_device": 0.02,  # ASSUMPTION: 2% relative conductance fluctuation per read and device
    "check_tolerance": 0.2,     # relative kernel error above which the check after programming reprograms
    "check_max_rounds": 5,      # reprogramming rounds of the check
}


#: the periphery chapter's old top-level design keys -> their key in ``design_device``
DESIGN_RENAMED = (("adc_offset_sigma", "adc_offset_sigma"), ("adc_gain_sigma", "adc_gain_sigma"),
                  ("calibration_reads", "calibration_reads"), ("read_noise_device", "read_noise_device"),
                  ("verify_tolerance", "check_tolerance"), ("verify_rounds", "check_max_rounds"))


class PeripheryParams(EmulationParams):
    """Chapter 'A periphery a chip designer accepts': the deployment chapter's mapped models on its
    emulated array, under periphery designs (``periphery_designs.DESIGN_BASE``), a converter sweep,
    the check after programming over a noise sweep, wire resistance, and technologies."""

    RENAMED: ClassVar[dict[str, str]] = {
        "step_realisations": "step.realisations", "verify_sigmas_uS": "check.sigmas_uS",
        "verify_realisations": "check.realisations", "ir_realisations": "ir.realisations"} | {
        key: f"a key of design_device ('design_device: {{{new}: ...}}')" for key, new in DESIGN_RENAMED}

    step: Programmings = Field(default=Programmings(realisations=3), description="the step-mode designs")
    design_device: dict[str, Any] = Field(default_factory=lambda: dict(DESIGN_DEVICE), description=(
        "the device keys the designs set (``periphery_designs.design_keys``), flat: each a DeviceConfig "
        "field, routed to its part by its name (offsets, gain errors, their correction, per-device read "
        "noise, the check after programming); a key left out keeps its DESIGN_DEVICE value"))
    converter_bits: list[ConverterBits] = Field(default=[4, 6, 8], min_length=1, description="DAC = ADC widths swept")
    check: NoiseSweep = Field(default=NoiseSweep(sigmas_uS=[0.0, 5.0, 10.0, 15.0, 20.0], realisations=3),
                               description="the check after programming over a noise sweep (fast mode)")
    pulse_time_s: float = Field(default=1e-6, gt=0, description=(
        "time of one programming pulse with its verify read, s (ASSUMPTION: of the order of RRAM write-verify "
        "loops; not measured here)"))
    wire_resistance_ohm: list[Annotated[float, Field(gt=0)]] = Field(default=[1.0, 5.0], min_length=1, description=(
        "wire resistance per segment between cross-points, Ohm (ASSUMPTION: a few Ohm for minimum-pitch copper "
        "lines at deeply scaled nodes; swept)"))
    channels_per_array: list[Annotated[int, Field(ge=1)]] = Field(default=[1, 8], min_length=1, description=(
        "channel blocks along one array's diagonal in the IR-drop runs: 1 is the default layout"))
    ir: Programmings = Field(default=Programmings(realisations=1), description="the IR-drop runs")
    ir_check_sizes: list[Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=2, max_length=2)]] = Field(
        default=[[4, 3], [16, 16], [33, 66]], min_length=1, description=(
        "array sizes (rows, columns) on which the nodal solve is checked against badcrossbar"))
    technology_scales: list[Annotated[float, Field(gt=0)]] = Field(default=[4.0], min_length=1, description=(
        "factors on each technology's programming noise (sigma_scale) under the best periphery"))
    aware_epochs: int = Field(default=2, ge=1, description="epochs of converter-aware fine-tuning")
    aware_lr: float = Field(default=1e-2, gt=0, description="its learning rate (AdamW)")
    aware_batch_size: int = Field(default=32, ge=1)
    aware_seeds: list[int] = Field(default=[0], min_length=1, description=(
        "training seeds whose models are fine-tuned converter-aware (every fold): a cut to fit the time"))

    @field_validator("design_device")
    @classmethod
    def _check_design_device(cls, values: dict[str, Any]) -> dict[str, Any]:
        return DeviceConfig.validate_values(DESIGN_DEVICE | values, "design_device")

    @model_validator(mode="after")
    def _check_aware(self) -> PeripheryParams:
        if not set(self.aware_seeds) <= set(self.shared.seeds):
            raise ValueError(f"aware_seeds {self.aware_seeds} must be among the seeds {self.shared.seeds}")
        return self


class MarginParams(ModelParams):
    """Chapter 'The stability margin': QAT models at ``margin_bits`` x pole caps ``margin_r_max``
    (fscale = r_max, so that every grid holds a pole at the cap), each programmed with noise."""

    margin_bits: list[ModelBits] = Field(default=[2, 3, 5, 8], min_length=1)
    margin_r_max: list[PoleCap] = Field(default=[0.85, 0.95, 0.99, 0.999], min_length=1)
    margin_seeds: list[int] = Field(default=[0], min_length=1, description="training seeds of the margin models")
    RENAMED: ClassVar[dict[str, str]] = {
        "margin_sigmas_uS": "sigmas_uS", "margin_realisations": "realisations", "p_fail": "p_unstable"}

    sigmas_uS: SigmaSweep = Field(default=[0.0, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 20.0], min_length=2)
    realisations: int = Field(default=2, ge=1, description="programmings per model and sigma")
    p_unstable: float = Field(default=0.1, gt=0, lt=1, description=(
        "probability that some mode leaves the unit circle which defines the predicted sigma*"))


    @model_validator(mode="after")
    def _check_margin(self) -> MarginParams:
        if not set(self.margin_seeds) <= set(self.shared.seeds):
            raise ValueError("margin_seeds must be a subset of seeds (their float models start the QAT)")
        return self


class OrderTask(Strict):
    """The memory task (``DataConfig`` task 'order'): two words of one speaker in either order."""

    duration_s: float = Field(default=0.5, gt=0, description="s per word: each clip cropped or padded to this")
    gap_s: float = Field(default=0.05, gt=0, description="s of silence before, between and after the words")
    pairs_per_clip: int = Field(default=1, ge=1, description="partners of each clip of the first digit")


class MemoryModel(Strict):
    """One model family of chapter 'What the state remembers', trained on the memory task like the
    S4D models (folds, ``memory_seeds``, the schedule chosen on validation speakers). ``bits`` None:
    float; else the paper's fixed-range QAT from the float S4D model of the same fold and seed, at
    ``fscale`` and pole cap ``r_max`` (None: the shared values), with ``bits_A`` bits for A_bar
    alone (mixed precision; None: ``bits``) on ``a_grid`` (the Cartesian grid, or the pole on a
    log-radius codebook of bits_A bits, ``quant.log_radius_grid``)."""

    name: str = Field(min_length=1)
    ssm: Literal["s4d", "memoryless", "fir"] = "s4d"
    taps: int | None = Field(default=None, ge=1, description="taps of ssm 'fir'")
    bits: ModelBits | None = None
    bits_A: ModelBits | None = None
    fscale: float | None = Field(default=None, gt=0)
    r_max: PoleCap | None = None
    a_grid: Literal["cartesian", "log_radius"] = "cartesian"
    recipe: Literal["fine_tune", "scratch"] = Field(default="fine_tune", description=(
        "QAT fine-tuned from the float S4D model of the same fold and seed (qat_train), or trained from the "
        "start with its grid and cap (the float model's schedule, train)"))

    @model_validator(mode="after")
    def _check_model(self) -> MemoryModel:
        if (self.ssm == "fir") != (self.taps is not None):
            raise ValueError(f"{self.name}: taps go with ssm 'fir' and only it")
        if self.recipe != "fine_tune" and self.bits is None:
            raise ValueError(f"{self.name}: a recipe describes a quantized model: give bits")
        if self.bits is None and (self.bits_A is not None or self.fscale is not None or self.r_max is not None
                                  or self.a_grid != "cartesian"):
            raise ValueError(f"{self.name}: bits_A, fscale, r_max and a_grid describe a quantized model: give bits")
        if self.ssm != "s4d" and self.bits is not None:
            raise ValueError(f"{self.name}: the quantized models of the memory task are S4D models")
        return self


class MemoryParams(ModelParams):
    """Chapter 'What the state remembers': controls without a state on the main task (FIR banks of
    ``fir_taps`` taps, float and at ``fir_bits``, the spectral baseline), the memory task
    (``order``) with the models ``memory_models``, and their memory under programming noise."""

    fir_taps: list[Annotated[int, Field(ge=1)]] = Field(default=[4, 16, 64], min_length=1)
    fir_bits: ModelBits = Field(default=2, description="bits of the quantized FIR banks (fixed range fscale)")
    spectral: SpectralConfig = SpectralConfig()
    spectral_poolings: list[Literal["frames", "mean"]] = Field(default=["frames", "mean"], min_length=1)
    order: OrderTask = OrderTask()
    memory_selection: dict[str, list[int | float]] = Field(default_factory=lambda: {"train.epochs": [30, 60]},
                                                           description="schedule of the memory task's float S4D model, "
                                                                       "chosen one at a time on validation speakers")
    memory_models: list[MemoryModel] = Field(default_factory=lambda: [MemoryModel(name="float S4D")], min_length=1)
    memory_noise_models: list[str] | None = Field(default=None, description=(
        "names of memory_models programmed under noise (quantized S4D families); None: every quantized one"))
    memory_seeds: list[int] = Field(default=[0], min_length=1, description="training seeds of this chapter's models")
    RENAMED: ClassVar[dict[str, str]] = {
        "memory_sigmas_uS": "sigmas_uS", "memory_realisations": "realisations", "p_fail": "unstable_share_limit"}

    sigmas_uS: SigmaSweep = Field(default=[0.0, 1.0, 2.5, 5.0, 10.0, 15.0], min_length=2)
    realisations: int = Field(default=2, ge=1, description="programmings per model and sigma")
    unstable_share_limit: float = Field(default=0.1, gt=0, lt=1, description=(
        "share of programmings with an unstable mode that defines the longest memory"))

    def order_data(self) -> DataConfig:
        """The memory task: ``data`` with task 'order' and ``order``'s settings."""
        return DataConfig(**(self.shared.data.model_dump() | {"task": "order"} | self.order.model_dump()))

    @model_validator(mode="after")
    def _check_memory(self) -> MemoryParams:
        names = [m.name for m in self.memory_models]
        if len(set(names)) != len(names):
            raise ValueError(f"memory_models: names must be distinct, got {names}")
        if not set(self.memory_seeds) <= set(self.shared.seeds):
            raise ValueError("memory_seeds must be a subset of seeds (the main task's float models are shared)")
        quantized = {m.name for m in self.memory_models if m.bits is not None}
        if self.memory_noise_models is not None and not set(self.memory_noise_models) <= quantized:
            raise ValueError(f"memory_noise_models {sorted(set(self.memory_noise_models) - quantized)} are not "
                             f"quantized families of memory_models")
        for m in self.memory_models:
            if m.a_grid == "log_radius" and (m.r_max or self.shared.r_max) is None:
                raise ValueError(f"memory_models: {m.name} has a log-radius grid, which needs a pole cap r_max")
        try:
            order = self.order_data()
        except ValidationError as err:
            raise ValueError(f"order: {err.errors()[0]['msg']}") from None
        shared = global_params(self).shared.model_copy(update={"data": order})
        _check_grid(shared, self.memory_selection, "memory_selection")
        return self


class FrontEndChoice(Strict):
    """One front end of chapter 'Memory that survives programming': what a step of the recurrence
    receives, hence its step rate (``DataConfig``'s ``front_end``, ``hop_ms``, ``frame_ms``, ``n_mels``)."""

    name: str = Field(min_length=1)
    front_end: Literal["waveform", "logmel"] = "waveform"
    hop_ms: float | None = Field(default=None, gt=0)
    frame_ms: float | None = Field(default=None, gt=0)
    n_mels: int | None = Field(default=None, ge=1)

    def data(self, base: DataConfig) -> DataConfig:
        """``base`` with this front end (validated: a bad hop or band count fails here)."""
        return DataConfig(**(base.model_dump() | self.model_dump(exclude={"name"})))


class BitsSweep(Strict):
    """A grid of designs at one front end: A_bar at each of ``bits_A`` on each of ``a_grids``, B_bar
    and C at each of ``bits_BC``, on the designs' range and cap."""

    front_end: str = Field(min_length=1, description="a name of front_ends")
    bits_A: list[ModelBits] = Field(min_length=1)
    a_grids: list[Literal["cartesian", "log_radius"]] = Field(default=["cartesian"], min_length=1)
    bits_BC: list[ModelBits] = Field(min_length=1)


class ProgrammedMemoryParams(MemoryParams):
    """Chapter 'Memory that survives programming': on the memory task of chapter 'What the state
    remembers' (``order``, ``memory_seeds``, the float S4D model's file schedule), the QAT recipe
    (``recipe_bits_A``: fine-tuned against from the start), the bits A_bar needs (``bits_sweeps``),
    the step rate (``front_ends``), A_bar held digitally, programming noise (``sigmas_uS``,
    ``realisations`` programmings per model) and the four-class task. The designs hold
    A_bar, B_bar and C on one fixed range ``design_fscale`` with the pole cap ``design_r_max``;
    B_bar and C at ``design_bits`` unless a sweep says otherwise."""

    front_ends: list[FrontEndChoice] = Field(min_length=1)
    design_fscale: float = Field(default=1.0, gt=0)
    design_r_max: PoleCap = 0.999
    design_bits: ModelBits = Field(default=8, description="bits of B_bar and C of the designs")
    recipe_bits_A: list[ModelBits] = Field(default=[8, 16], min_length=1, description=(
        "A_bar bits of the designs trained under both recipes, at the first front end"))
    bits_sweeps: list[BitsSweep] = Field(min_length=1)
    noise_front_ends: list[str] = Field(min_length=1, description="front ends whose chosen design is programmed")
    four_class_front_end: str = Field(min_length=1, description="front end of the four-class temporal-order task")
    tolerance_points: float = Field(default=2.0, ge=0, description=(
        "the bits a design needs: the fewest bits of A_bar whose validation accuracy is within this of the float model's"))
    write_verified_uS: list[float] = Field(default=[0.5, 4.5], min_length=2, max_length=2, description=(
        "uS, the programming noise write-verified devices reach on this window (sources in the parameter file)"))

    @model_validator(mode="after")
    def _check_programmed(self) -> ProgrammedMemoryParams:
        names = [f.name for f in self.front_ends]
        if len(set(names)) != len(names):
            raise ValueError(f"front_ends: names must be distinct, got {names}")
        if not 0 < self.write_verified_uS[0] <= self.write_verified_uS[1]:
            raise ValueError(f"write_verified_uS must be a range 0 < low <= high, got {self.write_verified_uS}")
        used = [b.front_end for b in self.bits_sweeps] + self.noise_front_ends + [self.four_class_front_end]
        if unknown := sorted(set(used) - set(names)):
            raise ValueError(f"front ends {unknown} are not in front_ends {names}")
        for f in self.front_ends:
            for task in (self.shared.data, self.order_data()):
                try:
                    f.data(task)
                except ValidationError as err:
                    raise ValueError(f"front_ends: {f.name}: {err.errors()[0]['msg']}") from None
        swept = {f for b in self.bits_sweeps for f in [b.front_end] if self.design_bits in b.bits_BC
                 and "cartesian" in b.a_grids}
        if missing := sorted(set(names) - swept):
            raise ValueError(f"front ends {missing} have no Cartesian sweep at design_bits {self.design_bits}: "
                             "the bits a design needs are chosen there")
        return self


class TechnologyParams(ModelParams):
    """Chapter 'Open question 1: device technologies': the QAT chapter's models (same keys) at
    ``tech_bits``, programmed with each technology preset of ``imssa.hardware.presets.PRESETS``; noise
    models, write-verify and time for ``study_bits``; the inverse question for ``inverse_bits`` on
    the deployment chapter's emulated array (``inverse_base``)."""

    technologies: list[str] = Field(default=list(TECHNOLOGIES), min_length=1, description="PRESETS names compared")
    tech_bits: list[ModelBits] = Field(default=[1, 2, 4], min_length=1, description="bit widths deployed on every technology")
    study_bits: list[ModelBits] = Field(default=[2, 4], min_length=1, description="bit widths of the noise, write-verify and time studies")
    RENAMED: ClassVar[dict[str, str]] = {
        "tech_realisations": "realisations", "tech_seed": "programming_seed",
        "inverse_sigmas_uS": "inverse.sigmas_uS", "inverse_step_sigmas_uS": "inverse_step.sigmas_uS",
        "inverse_step_realisations": "inverse_step.realisations",
        "write_verify_technology": "'write_verify_preset' (any preset; 'technology' names the four compared)"}

    realisations: int = Field(default=3, ge=1, description="programmings per trained model and condition")
    programming_seed: int = Field(default=11, description=(
        "seed of the programming draws, shared by every condition (paired)"))
    noise_technologies: list[str] = Field(default=["rram_wan2022", "pcm_joshi2020", "stt_mram_binary"], description=(
        "technologies whose state-dependent noise is compared with constant noise at matched error"))
    noise_scales: list[float] = Field(default=[1.0, 4.0], min_length=1, description=(
        "factors on each technology's programming noise (sigma_scale) at which the noise models are compared"))
    noise_shapes: list[Literal["gaussian", "laplace", "student_t"]] = Field(default=["gaussian", "laplace", "student_t"],
                                                                          min_length=1)
    noise_matches: list[Literal["rms", "mean_abs"]] = Field(default=["rms", "mean_abs"], min_length=1, description=(
        "how the constant noise is matched: same root-mean-square or same mean absolute conductance error"))
    write_verify_preset: str = Field(default="rram_single_pulse", description="PRESETS name: one pulse's error, no verify")
    write_verify_tolerances_uS: list[float] = Field(default=[8.0, 4.0, 2.0, 1.0, 0.5], min_length=1)
    time_technologies: list[str] = Field(default=["pcm_joshi2020", "rram_wan2022"], description="technologies that age")
    times_s: list[float] = Field(default=[1.0, 60.0, 3600.0, 86400.0, 2592000.0, 31536000.0], min_length=1, description=(
        "times after programming, s"))
    inverse_bits: ModelBits = Field(default=2, description="the model whose hardware gap the paper reports")
    inverse_base: str = Field(default="hfox_1t1r_like", description=(
        "PRESETS name of the array the inverse grid varies (its own noise, yield, read noise and converters replaced)"))
    inverse: NoiseSweep = Field(
        default=NoiseSweep(sigmas_uS=[0.0, 2.5, 5.0, 7.5, 10.0, 15.0, 20.0], realisations=3),
        description="the inverse grid (sigma x stuck fraction), fast mode")
    inverse_stuck_fractions: list[float] = Field(default=[0.0, 0.002, 0.01, 0.03, 0.1], min_length=1, description=(
        "fraction of stuck devices, split evenly between g_max and g_min"))
    inverse_step: NoiseSweep = Field(default=NoiseSweep(sigmas_uS=[0.0, 10.0], realisations=1), description=(
        "the step-mode grid (read noise x converter bits), at the base array's stuck fraction"))
    inverse_read_noises: list[float] = Field(default=[0.0, 0.002, 0.005, 0.02], min_length=1, description="fraction of the ADC range")
    inverse_converter_bits: list[ConverterBits] = Field(default=[5, 6, 8], min_length=1, description="ADC resolution (DAC: the base's)")
    inverse_tolerance_points: float = Field(default=3.0, gt=0, description=(
        "a cell reproduces the paper's drop when its mean is this close and its interval contains it"))

    def presets_used(self) -> list[str]:
        """The names of the presets this chapter programs (sorted, each once)."""
        return sorted({*self.technologies, *self.noise_technologies, *self.time_technologies,
                       self.write_verify_preset, self.inverse_base})

    def checkpoint_key(self) -> str:
        """The whole configuration (``ModelParams.checkpoint_key``) and the presets it uses
        (``presets_used``): a changed preset it uses starts a new checkpoint, a new or changed
        preset it does not use leaves it."""
        presets = ",".join(f"{name}:{PRESETS[name].model_dump_json()}" for name in self.presets_used())
        return super().checkpoint_key() + presets

    @model_validator(mode="after")
    def _check_technologies(self) -> TechnologyParams:
        unknown = [n for n in self.presets_used() if n not in PRESETS]
        if unknown:
            raise ValueError(f"unknown presets {unknown}; known: {sorted(PRESETS)}")
        if not set(self.study_bits) <= set(self.tech_bits) or self.inverse_bits not in self.tech_bits:
            raise ValueError("study_bits and inverse_bits must be among tech_bits (their models are trained there)")
        if any(x <= 0 for x in self.noise_scales):
            raise ValueError(f"noise_scales must be > 0, got {self.noise_scales}")
        if any(t <= 0 for t in self.write_verify_tolerances_uS) or any(t < 0 for t in self.times_s):
            raise ValueError("write_verify_tolerances_uS must be > 0 and times_s >= 0")
        if any(not 0 <= f <= 1 for f in self.inverse_stuck_fractions) or any(r < 0 for r in self.inverse_read_noises):
            raise ValueError("inverse_stuck_fractions must be in [0, 1] and inverse_read_noises >= 0")
        return self



class Strategy(Strict):
    """One way to quantize, train and place the S4D layer.

    ``r_max`` None and ``devices_per_element`` None take the chapter's values (its pole cap and the
    first of its ``devices_per_element``). ``training``: 'qat' fine-tunes the float model of the
    same fold and seed with quantization in the loop; 'ptq' quantizes it once, untrained.
    """

    name: str = Field(min_length=1)
    bits_A: ModelBits = 2
    bits_B: ModelBits = 2
    bits_C: ModelBits = 2
    range_mode: Literal["fixed", "dynamic", "per_channel"] = "fixed"
    r_max: PoleCap | None = None
    pole_penalty: float = Field(default=0.0, ge=0)
    pole_target: PoleCap | None = None
    RENAMED: ClassVar[dict[str, str]] = {"noise_aware_sigma_uS": "noise_sigma_uS"}

    noise_sigma_uS: float = Field(default=0.0, ge=0, description=(
        "programming noise injected in training, uS (noise-aware QAT; ``QuantConfig.noise_sigma_uS``)"))
    training: Literal["qat", "ptq"] = "qat"
    devices_per_element: Literal[8, 16] | None = None

    @model_validator(mode="after")
    def _check(self) -> Strategy:
        if (self.pole_penalty > 0) != (self.pole_target is not None):
            raise ValueError(f"strategy {self.name!r}: pole_penalty > 0 and pole_target go together")
        if self.training == "ptq" and (self.pole_penalty > 0 or self.noise_sigma_uS > 0):
            raise ValueError(f"strategy {self.name!r}: post-training quantization has no training to penalise or "
                             "inject noise into")
        return self

    @property
    def bits(self) -> tuple[int, int, int]:
        """(bits_A, bits_B, bits_C)."""
        return self.bits_A, self.bits_B, self.bits_C


class StrategyParams(ModelParams):
    """Chapter 'Open question 2: quantization strategy': every ``strategies`` entry trained (or, for
    PTQ, quantized) for each of ``folds`` x ``strategy_seeds``, programmed ``realisations``
    times at each of ``sigmas_uS`` on the deployment chapter's default array (physical
    window, saturating converters, fast mode), scored on validation and test clips, and costed with
    ``imssa.hardware.cost``. ``baseline`` names plain fixed-range QAT, against which every strategy is paired."""

    RENAMED: ClassVar[dict[str, str]] = {
        "strategy_sigmas_uS": "sigmas_uS", "strategy_realisations": "realisations", "hardware_seed": "programming_seed"}

    strategies: list[Strategy] = Field(min_length=2)
    baseline: str = Field(default="plain QAT 2-bit", description="name of the plain-QAT strategy the others are paired with")
    strategy_seeds: list[int] = Field(default=[0], min_length=1, description="training seeds per fold")
    sigmas_uS: SigmaSweep = Field(default=[0.0, 5.0, 10.0, 15.0, 20.0], min_length=2, description=(
        "programming noise levels, uS (the paper's Fig. 4 range); must include 0"))
    realisations: int = Field(default=3, ge=1, description="programmings per model and noise level")
    programming_seed: int = Field(default=21, description=(
        "seed of the programming draws, shared by every strategy (paired)"))
    adc_bits: ModelBits = Field(default=6, description=(
        "ADC resolution of the cost model (the emulated array's 6 bits; Li, Hu et al., Nat. Electron. 1, 52 (2018))"))
    cost: CostConstants = CostConstants()
    tie_points: float = Field(default=1.0, ge=0, description=(
        "strategies within this many points of the best validation accuracy under hardware are tied; "
        "the least energy wins"))

    @model_validator(mode="after")
    def _check_strategies(self) -> StrategyParams:
        names = [s.name for s in self.strategies]
        if len(set(names)) != len(names):
            raise ValueError(f"strategy names must be distinct, got {names}")
        base = {s.name: s for s in self.strategies}.get(self.baseline)
        if base is None:
            raise ValueError(f"baseline {self.baseline!r} is not among the strategies {names}")
        if base.training != "qat" or base.noise_sigma_uS or base.pole_penalty:
            raise ValueError(f"baseline {self.baseline!r} must be plain QAT (no noise, no penalty)")
        return self



class ScaleParams(ModelParams):
    """Chapter 'Open question 3: depth and scale'. Every model is fixed-range QAT (the chapter's
    ``fscale`` and pole cap on every layer) fine-tuned from the float model of the same fold, seed
    and architecture, on the folds ``scale_folds`` (a subset of ``folds``) x ``scale_seeds``:

    * depth: ``depths`` x ``depth_bits`` on the main task, every layer on arrays of its own;
    * state size: ``state_sizes`` complex modes at ``state_bits``, at depth 1;
    * ten digits: ``ten_digits`` (the full FSDD task, speakers held out as in the main task),
      float and ``ten_bits``, at depth 1 and at each fold's best depth, trained with
      ``ten_train`` / ``ten_qat_train``; the best depth is chosen per fold among ``ten_depths`` on
      that fold's validation speaker from the ten-digit float models (``tie_points``: the
      shallower within), so no fold's choice sees its test speaker;
    * real-valued variant: S4D-Real with ``real_N`` real modes (default 2 N, the complex model's
      real state size) at ``real_bits``, on the main task and on ten digits, at depth 1.

    Every model is programmed ``realisations`` times at each of ``sigmas_uS`` (ten-digit
    models: ``ten.realisations`` times at each of ``ten.sigmas_uS``) on the deployment chapter's
    array (physical window, converter ranges at ``headroom`` times the ideal
    peaks of each layer, block layout, the first of ``devices_per_element``), fast mode; the
    depth models also in step mode with ``converter_dac_bits`` / ``converter_adc_bits`` at
    ``converter_sigma_uS``."""

    RENAMED: ClassVar[dict[str, str]] = {
        "scale_sigmas_uS": "sigmas_uS", "ten_sigmas_uS": "ten.sigmas_uS", "scale_realisations": "realisations",
        "scale_hardware_seed": "programming_seed"}

    scale_folds: list[int] = Field(default=[0, 1, 2], min_length=1, description="folds of this chapter (of ``folds``)")
    scale_seeds: list[int] = Field(default=[0], min_length=1, description="training seeds per fold")
    depths: list[int] = Field(default=[1, 2, 3, 4], min_length=1)
    depth_bits: list[ModelBits] = Field(default=[2], min_length=1)
    state_sizes: list[int] = Field(default=[2, 4, 8, 16, 32, 64], min_length=1, description="complex modes N")
    state_bits: int = Field(default=2, ge=2, le=16)
    ten_digits: list[int] = Field(default=list(range(10)), min_length=3)
    ten_bits: list[ModelBits] = Field(default=[2, 4], min_length=1)
    ten_depths: list[int] = Field(default=[1, 2, 3, 4], min_length=1, description="depths the ten-digit choice weighs")
    ten_train: TrainConfig = TrainConfig(epochs=10, lr=0.01, ssm_lr=0.01)
    ten_qat_train: TrainConfig = TrainConfig(epochs=10, lr=0.01, ssm_lr=0.01)
    real_N: int | None = Field(default=None, ge=1, description="real modes of the real-valued variant; None: 2 N")
    real_bits: int = Field(default=2, ge=2, le=16)
    heidelberg_language: Literal["english", "german", "both"] = "both"
    sigmas_uS: SigmaSweep = Field(default=[0.0, 5.0, 10.0, 15.0, 20.0], min_length=2)
    realisations: int = Field(default=3, ge=1, description="programmings per model and sigma")
    ten: NoiseSweep = Field(default=NoiseSweep(sigmas_uS=[0.0, 15.0], realisations=3), description=(
        "the ten-digit models' sweep (main-task models take sigmas_uS and realisations)"))
    programming_seed: int = Field(default=31, description="seed of the programming draws, shared by every model")
    converter_sigma_uS: float = Field(default=15.0, ge=0)
    converter_dac_bits: ConverterBits = 8
    converter_adc_bits: ConverterBits = 6
    tie_points: float = Field(default=1.0, ge=0, description="validation accuracies within this many points are tied")

    @model_validator(mode="after")
    def _check_scale(self) -> ScaleParams:
        if not set(self.scale_folds) <= set(self.shared.folds) or len(set(self.scale_folds)) != len(self.scale_folds):
            raise ValueError(f"scale_folds {self.scale_folds} must be distinct folds of {self.shared.folds}")
        if 1 not in self.ten_depths:
            raise ValueError(f"ten_depths must include 1 (the paper's depth), got {self.ten_depths}")
        for key in ("depths", "state_sizes", "ten_depths"):
            values = getattr(self, key)
            if any(v < 1 for v in values) or len(set(values)) != len(values):
                raise ValueError(f"{key} must be distinct integers >= 1, got {values}")
        if self.shared.model.depth not in self.depths or self.shared.model.N not in self.state_sizes:
            raise ValueError(f"depths must include model.depth ({self.shared.model.depth}) and state_sizes model.N "
                             f"({self.shared.model.N}): the main model is the shared point of every sweep")
        if any(not 2 <= b <= 16 for b in self.depth_bits + self.ten_bits):
            raise ValueError("depth_bits and ten_bits must be in 2..16")
        if any(d < 0 or d > 9 for d in self.ten_digits) or len(set(self.ten_digits)) != len(self.ten_digits):
            raise ValueError(f"ten_digits must be distinct digits 0..9, got {self.ten_digits}")
        if self.converter_sigma_uS not in set(self.sigmas_uS) & set(self.ten.sigmas_uS):
            raise ValueError("converter_sigma_uS must be one of sigmas_uS and of ten.sigmas_uS (the step-mode "
                             "check is paired with it, and the chapter's summary reads every task there)")
        return self



class ReportParams(ChapterParams):
    """Chapter 'Reproduction report': built from the results CSVs of every other chapter of the
    same profile (``imssa.study.report``), so it is rerun whenever they change."""

    reads_results: ClassVar[bool] = True
    tolerance_points: float = Field(default=2.0, ge=0, description=(
        "an accuracy loss up to this many points counts as 'little' (ternary weights, fixed range)"))


CHAPTERS: dict[str, type[ChapterParams]] = {
    "s4d_first_principles": FirstPrinciplesParams,
    "float_baseline": BaselineParams,
    "fixed_range_qat": QATParams,
    "crossbar_mapping": MappingParams,
    "hardware_deployment": DeploymentParams,
    "periphery": PeripheryParams,
    "stability_margin": MarginParams,
    "state_memory": MemoryParams,
    "memory_programming": ProgrammedMemoryParams,
    "device_technologies": TechnologyParams,
    "quantization_strategy": StrategyParams,
    "depth_scale": ScaleParams,
    "reproduction_report": ReportParams,
}


def global_params(cfg: ModelParams) -> ModelParams:
    """``cfg`` with the file's values on every fold (no ``shared.fold_choices``): what a validation
    sweep varies around, and the configuration the global choice is checked against."""
    return cfg.model_copy(update={"shared": cfg.shared.model_copy(update={"fold_choices": {}})})


def fold_params(cfg: ModelParams, fold: int) -> ModelParams:
    """The parameters behind ``fold``'s runs: ``cfg`` with that fold's ``fold_choices`` applied
    and ``fold_choices`` emptied (so applying it twice changes nothing)."""
    out = global_params(cfg)
    for path, value in cfg.shared.fold_choices.get(fold, {}).items():
        out = variant(out, path, value)
    return out


def variant(cfg: ModelParams, path: str, value: Any) -> ModelParams:
    """``cfg`` with the shared setting at dotted path ``path`` (``data.sample_rate``, ``fscale``:
    paths of ``Shared``, as selection grids and ``fold_choices`` name them) replaced, and the
    chapter validated as a whole like a parameter file: the unit of a one-at-a-time validation sweep."""
    shared = replaced(cfg.shared, path, value)
    try:
        return type(cfg).model_validate(cfg.model_dump() | {"shared": shared.model_dump()})
    except ValidationError as err:
        raise ParamsError(_describe(err, f"{path} = {value!r}")) from None


def replaced(block: Strict, path: str, value: Any) -> Strict:
    """A copy of the parameter block ``block`` with the value at dotted key path ``path`` replaced,
    validated as a whole; an unknown path or an invalid value is a ParamsError."""
    values = block.model_dump()
    node = values
    keys = path.split(".")
    for key in keys[:-1]:
        if not isinstance(node.get(key), dict):
            raise ParamsError(f"cannot set {path!r}: {key!r} is not a group of parameters")
        node = node[key]
    if keys[-1] not in node:
        raise ParamsError(f"cannot set {path!r}: no parameter {keys[-1]!r} there")
    node[keys[-1]] = value
    try:
        return type(block).model_validate(values)
    except ValidationError as err:
        raise ParamsError(_describe(err, f"{path} = {value!r}")) from None


def _describe(err: ValidationError, source: str) -> str:
    lines = [f"invalid parameters in {source}:"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown parameter name"
            if len(e["loc"]) == 1 and e["loc"][0] in Shared.model_fields:
                msg = f"a shared setting (_shared.yaml): give it under 'shared:', e.g. shared: {{{e['loc'][0]}: ...}}"
        lines.append(f"  - {key}: {msg}" + (f" (got {e.get('input')!r})" if e["loc"] else ""))
    return "\n".join(lines)


def validate_params(chapter: str, values: dict[str, Any], source: str = "parameters") -> ChapterParams:
    """Check ``values`` against the chapter's schema; raise ParamsError naming each bad key."""
    if chapter not in CHAPTERS:
        raise ParamsError(f"unknown chapter {chapter!r}; known: {sorted(CHAPTERS)}")
    if not isinstance(values, dict):
        raise ParamsError(f"{source}: expected a mapping of parameter names to values")
    try:
        return CHAPTERS[chapter].model_validate(values)
    except ValidationError as err:
        raise ParamsError(_describe(err, source)) from None


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads ``1e-3`` as a string; this loader reads it as the float a reader means."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Parse a parameter file; a missing file, malformed YAML (named with its file, line and column)
    or a non-mapping is a ParamsError."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"parameter file not found: {path}")
    try:
        values = yaml.load(path.read_text(), Loader=_Loader) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = " ".join(str(x) for x in (getattr(err, "context", None), getattr(err, "problem", None)) if x) or str(err)
        raise ParamsError(f"{path}{where}: malformed YAML: {what}") from None
    if not isinstance(values, dict):
        raise ParamsError(f"{path}: expected a mapping of parameter names to values")
    return values


#: The file beside a profile's chapter files that holds the settings several chapters share.
SHARED_FILE = "_shared.yaml"


def merge(base: dict, override: dict) -> dict:
    """``override`` laid over ``base``: groups of parameters (mappings) merge key by key, any other
    value (lists included) replaces the base's."""
    out = dict(base)
    for key, value in override.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def shared_values(folder: str | Path) -> dict[str, Any]:
    """The settings shared by the chapters of a profile (``<folder>/_shared.yaml``, the ``Shared``
    block; {} without one). A key that ``Shared`` does not have is a ParamsError naming the file."""
    path = Path(folder) / SHARED_FILE
    if not path.is_file():
        return {}
    values = read_yaml(path)
    unknown = sorted(set(values) - set(Shared.model_fields))
    if unknown:
        raise ParamsError(f"{path}: {unknown} are not shared settings; shared: {sorted(Shared.model_fields)}")
    return values


def chapter_file_values(chapter: str, path: str | Path) -> dict[str, Any]:
    """The values of a chapter's parameter file, with its profile's shared settings (``_shared.yaml``
    in the same folder) as its ``shared`` block where the chapter contains one. Beside a
    ``_shared.yaml`` a chapter file may not set ``shared`` itself: then one edit could leave two
    chapters disagreeing (a file alone in its folder may)."""
    if chapter not in CHAPTERS:
        raise ParamsError(f"unknown chapter {chapter!r}; known: {sorted(CHAPTERS)}")
    path = Path(path)
    values = read_yaml(path)
    shared = shared_values(path.parent)
    if "shared" in values and shared:
        raise ParamsError(f"{path}: 'shared' is {path.parent / SHARED_FILE}, which every chapter shares; change it "
                          "there (or in a reader's file laid over the chapter's)")
    again = sorted(set(values) & set(Shared.model_fields) - set(CHAPTERS[chapter].model_fields))
    if again:
        raise ParamsError(f"{path}: {again} are shared settings, set in {path.parent / SHARED_FILE}; change them "
                          "there (or under 'shared:' in a reader's file laid over the chapter's)")
    if not issubclass(CHAPTERS[chapter], ModelParams) or not shared:
        return values
    return {"shared": shared} | values


def load_params(chapter: str, path: str | Path) -> ChapterParams:
    """Read a chapter's YAML parameter file, with its profile's shared settings
    (``chapter_file_values``), and validate it for ``chapter``."""
    values = chapter_file_values(chapter, path)
    return validate_params(chapter, values, source=str(path))
