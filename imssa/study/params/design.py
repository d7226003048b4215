"""Parameters of the design chapters (quantization strategy, depth and scale) and of the report."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from ...hardware.cost import CostConstants
from ...model.config import PoleCap, TrainConfig
from ...schema import Strict
from .base import ChapterParams, ConverterBits, ModelBits, ModelParams, NoiseSweep, SigmaSweep


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

    noise_sigma_uS: float = Field(
        default=0.0,
        ge=0,
        description=(
            "programming noise injected in training, uS (noise-aware QAT; "
            "``QuantConfig.noise_sigma_uS``)"
        ),
    )
    training: Literal["qat", "ptq"] = "qat"
    devices_per_element: Literal[8, 16] | None = None

    @model_validator(mode="after")
    def _check(self) -> Strategy:
        if (self.pole_penalty > 0) != (self.pole_target is not None):
            raise ValueError(
                f"strategy {self.name!r}: pole_penalty > 0 and pole_target go together"
            )
        if self.training == "ptq" and (self.pole_penalty > 0 or self.noise_sigma_uS > 0):
            raise ValueError(
                f"strategy {self.name!r}: post-training quantization has no training to penalise "
                "or inject noise into"
            )
        return self

    @property
    def bits(self) -> tuple[int, int, int]:
        """(bits_A, bits_B, bits_C)."""
        return self.bits_A, self.bits_B, self.bits_C


class StrategyParams(ModelParams):
    """Chapter 'Open question 2: quantization strategy': every ``strategies`` entry trained (or, for
    PTQ, quantized) for each of ``folds`` x ``strategy_seeds``, programmed ``realisations`` times at
    each of ``sigmas_uS`` on the deployment chapter's default array (physical window, saturating
    converters, fast mode), scored on validation and test clips, and costed with
    ``imssa.hardware.cost``. ``baseline`` names plain fixed-range QAT, against which every strategy
    is paired."""

    RENAMED: ClassVar[dict[str, str]] = {
        "strategy_sigmas_uS": "sigmas_uS",
        "strategy_realisations": "realisations",
        "hardware_seed": "programming_seed",
    }

    strategies: list[Strategy] = Field(
        min_length=2,
        description=(
            "the quantization strategies compared, each a named recipe (bits, ranges, pole cap, "
            "penalty, noise-aware training, PTQ or QAT)"
        ),
    )
    baseline: str = Field(
        default="plain QAT 2-bit",
        description="name of the plain-QAT strategy the others are paired with",
    )
    strategy_seeds: list[int] = Field(
        default=[0], min_length=1, description="training seeds per fold"
    )
    sigmas_uS: SigmaSweep = Field(
        default=[0.0, 5.0, 10.0, 15.0, 20.0],
        min_length=2,
        description=("programming noise levels, uS (the paper's Fig. 4 range); must include 0"),
    )
    realisations: int = Field(default=3, ge=1, description="programmings per model and noise level")
    programming_seed: int = Field(
        default=21, description=("seed of the programming draws, shared by every strategy (paired)")
    )
    adc_bits: ModelBits = Field(
        default=6,
        description=(
            "ADC resolution of the cost model (the emulated array's 6 bits; Li, Hu et al., Nat. "
            "Electron. 1, 52 (2018))"
        ),
    )
    cost: CostConstants = Field(
        default=CostConstants(),
        description=(
            "energy and latency constants of the cost model, each with its source or ASSUMPTION"
        ),
    )
    tie_points: float = Field(
        default=1.0,
        ge=0,
        description=(
            "strategies within this many points of the best validation accuracy under hardware "
            "are tied; the least energy wins"
        ),
    )

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
        "scale_sigmas_uS": "sigmas_uS",
        "ten_sigmas_uS": "ten.sigmas_uS",
        "scale_realisations": "realisations",
        "scale_hardware_seed": "programming_seed",
    }

    scale_folds: list[int] = Field(
        default=[0, 1, 2], min_length=1, description="folds of this chapter (of ``folds``)"
    )
    scale_seeds: list[int] = Field(default=[0], min_length=1, description="training seeds per fold")
    depths: list[int] = Field(
        default=[1, 2, 3, 4],
        min_length=1,
        description=(
            "numbers of S4D layers compared on the main task, every layer on arrays of its own"
        ),
    )
    depth_bits: list[ModelBits] = Field(
        default=[2], min_length=1, description="bit widths of the depth models"
    )
    state_sizes: list[int] = Field(
        default=[2, 4, 8, 16, 32, 64], min_length=1, description="complex modes N"
    )
    state_bits: int = Field(
        default=2, ge=2, le=16, description="bit width of the state-size models"
    )
    ten_digits: list[int] = Field(
        default=list(range(10)),
        min_length=3,
        description="digits of the ten-digit task (speakers held out as in the main task)",
    )
    ten_bits: list[ModelBits] = Field(
        default=[2, 4], min_length=1, description="bit widths of the ten-digit QAT models"
    )
    ten_depths: list[int] = Field(
        default=[1, 2, 3, 4], min_length=1, description="depths the ten-digit choice weighs"
    )
    ten_train: TrainConfig = Field(
        default=TrainConfig(epochs=10, lr=0.01, ssm_lr=0.01),
        description="float training of the ten-digit models",
    )
    ten_qat_train: TrainConfig = Field(
        default=TrainConfig(epochs=10, lr=0.01, ssm_lr=0.01),
        description="QAT fine-tuning of the ten-digit models",
    )
    real_N: int | None = Field(
        default=None, ge=1, description="real modes of the real-valued variant; None: 2 N"
    )
    real_bits: int = Field(
        default=2, ge=2, le=16, description="bit width of the real-valued S4D-Real models"
    )
    heidelberg_language: Literal["english", "german", "both"] = Field(
        default="both", description="Heidelberg Digits' language(s), where the data are present"
    )
    sigmas_uS: SigmaSweep = Field(
        default=[0.0, 5.0, 10.0, 15.0, 20.0],
        min_length=2,
        description="programming-noise std swept for the main-task models, uS (0 included)",
    )
    realisations: int = Field(default=3, ge=1, description="programmings per model and sigma")
    ten: NoiseSweep = Field(
        default=NoiseSweep(sigmas_uS=[0.0, 15.0], realisations=3),
        description=(
            "the ten-digit models' sweep (main-task models take sigmas_uS and realisations)"
        ),
    )
    programming_seed: int = Field(
        default=31, description="seed of the programming draws, shared by every model"
    )
    converter_sigma_uS: float = Field(
        default=15.0, ge=0, description="noise level of the step-mode converter check, uS"
    )
    converter_dac_bits: ConverterBits = Field(
        default=8, description="DAC resolution of the converter check at every array boundary, bits"
    )
    converter_adc_bits: ConverterBits = Field(
        default=6, description="ADC resolution of the converter check at every array boundary, bits"
    )
    tie_points: float = Field(
        default=1.0, ge=0, description="validation accuracies within this many points are tied"
    )

    @model_validator(mode="after")
    def _check_scale(self) -> ScaleParams:
        if not set(self.scale_folds) <= set(self.shared.folds) or len(set(self.scale_folds)) != len(
            self.scale_folds
        ):
            raise ValueError(
                f"scale_folds {self.scale_folds} must be distinct folds of {self.shared.folds}"
            )
        if 1 not in self.ten_depths:
            raise ValueError(
                f"ten_depths must include 1 (the paper's depth), got {self.ten_depths}"
            )
        for key in ("depths", "state_sizes", "ten_depths"):
            values = getattr(self, key)
            if any(v < 1 for v in values) or len(set(values)) != len(values):
                raise ValueError(f"{key} must be distinct integers >= 1, got {values}")
        if (
            self.shared.model.depth not in self.depths
            or self.shared.model.N not in self.state_sizes
        ):
            raise ValueError(
                f"depths must include model.depth ({self.shared.model.depth}) and state_sizes "
                f"model.N ({self.shared.model.N}): the main model is the shared point of every "
                "sweep"
            )
        if any(not 2 <= b <= 16 for b in self.depth_bits + self.ten_bits):
            raise ValueError("depth_bits and ten_bits must be in 2..16")
        if any(d < 0 or d > 9 for d in self.ten_digits) or len(set(self.ten_digits)) != len(
            self.ten_digits
        ):
            raise ValueError(f"ten_digits must be distinct digits 0..9, got {self.ten_digits}")
        if self.converter_sigma_uS not in set(self.sigmas_uS) & set(self.ten.sigmas_uS):
            raise ValueError(
                "converter_sigma_uS must be one of sigmas_uS and of ten.sigmas_uS (the step-mode "
                "check is paired with it, and the chapter's summary reads every task there)"
            )
        return self


class ReportParams(ChapterParams):
    """Chapter 'Reproduction report': built from the results CSVs of every other chapter of the
    same profile (``imssa.study.report``), so it is rerun whenever they change."""

    reads_results: ClassVar[bool] = True
    tolerance_points: float = Field(
        default=2.0,
        ge=0,
        description=(
            "an accuracy loss up to this many points counts as 'little' (ternary weights, fixed "
            "range)"
        ),
    )
