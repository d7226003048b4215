"""Parameters of the chapters that program the models onto arrays: deployment, periphery and
stability margin (device technologies: ``technologies``)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from ...hardware.devices import DeviceConfig
from ...model.config import PoleCap
from .base import (
    ConverterBits,
    ModelBits,
    ModelParams,
    NoiseSweep,
    PresetChoice,
    Programmings,
    SigmaSweep,
)


class EmulationParams(ModelParams):
    """A chapter that runs the emulated array: a device preset (``emulation``) on the shared
    window."""

    emulation: PresetChoice = Field(
        default=PresetChoice(preset="hfox_1t1r_like"),
        description=(
            "the emulated array: a device preset (imssa.hardware.presets) with overrides, on the "
            "shared conductance window"
        ),
    )

    def emulation_device(self) -> DeviceConfig:
        """The emulated array: ``emulation``'s preset on this chapter's window (``device``)."""
        return self.shared.device(self.emulation)

    @model_validator(mode="after")
    def _check_emulation(self) -> EmulationParams:
        try:
            self.emulation_device()
        except ValidationError as err:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'device'}: {e['msg']}" for e in err.errors()
            )
            raise ValueError(f"emulation: {problems}") from None
        except ValueError as err:
            raise ValueError(f"emulation: {err}") from None
        return self


class DeploymentParams(EmulationParams):
    """Chapter 'Deployment under hardware noise': the QAT models (same keys as the QAT chapter),
    programmed with noise onto arrays of conductance range [g_min_uS, g_max_uS]."""

    RENAMED: ClassVar[dict[str, str]] = {"step_realisations": "step.realisations"}

    fig4_bits: list[ModelBits] = Field(
        default=[2, 3, 4, 5, 8],
        min_length=1,
        description="bit widths of the paper's Fig. 4 noise sweep",
    )
    sigmas_uS: SigmaSweep = Field(
        default=[0.0, 1.0, 2.5, 5.0, 7.5, 10.0, 15.0, 20.0],
        min_length=1,
        description=(
            "programming-noise std of the Fig. 4 sweep, uS (0 included: the paired reference)"
        ),
    )
    realisations: int = Field(
        default=3, ge=1, description="programmings per trained model and point (fast mode)"
    )
    noise_clips: list[Literal["physical", "mapping"]] = Field(
        default=["physical", "mapping"],
        min_length=1,
        description="clipping rules drawn; the first is the default",
    )
    stuck_fractions: list[float] = Field(
        default=[0.0, 0.001, 0.01, 0.02, 0.05],
        min_length=1,
        description="fractions of stuck devices swept, split evenly between g_max and g_min",
    )
    read_noises: list[float] = Field(
        default=[0.005, 0.01, 0.02],
        min_length=1,
        description="cycle-to-cycle read-noise std swept, fraction of the ADC range",
    )
    converter_bits: list[ConverterBits] = Field(
        default=[4, 6, 8], min_length=1, description="DAC = ADC resolutions swept, bits"
    )
    step: Programmings = Field(
        default=Programmings(realisations=3), description="the step-mode sweeps"
    )
    dense_bits: list[ModelBits] = Field(
        default=[2, 5],
        description=(
            "bit widths re-run with the first simulator: dense layout, mapping-range clipping, 8 "
            "devices, no saturation"
        ),
    )
    gmax_sweep_uS: list[float] = Field(
        default=[100.0, 200.0, 400.0], description="g_max tried at the paper's sigma"
    )

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
    "adc_offset_sigma": 0.01,  # ASSUMPTION: ADC/TIA offset std 1% of a column's full scale
    "adc_gain_sigma": 0.02,  # ASSUMPTION: ADC/TIA relative gain error std 2%
    "calibration_reads": 16,  # reads per reference of the per-column affine correction
    # ASSUMPTION: 2% relative conductance fluctuation per read and device
    "read_noise_device": 0.02,
    # relative kernel error above which the check after programming reprograms
    "check_tolerance": 0.2,
    "check_max_rounds": 5,  # reprogramming rounds of the check
}


#: the periphery chapter's old top-level design keys -> their key in ``design_device``
DESIGN_RENAMED = (
    ("adc_offset_sigma", "adc_offset_sigma"),
    ("adc_gain_sigma", "adc_gain_sigma"),
    ("calibration_reads", "calibration_reads"),
    ("read_noise_device", "read_noise_device"),
    ("verify_tolerance", "check_tolerance"),
    ("verify_rounds", "check_max_rounds"),
)


class PeripheryParams(EmulationParams):
    """Chapter 'A periphery a chip designer accepts': the deployment chapter's mapped models on its
    emulated array, under periphery designs (``periphery_designs.DESIGN_BASE``), a converter sweep,
    the check after programming over a noise sweep, wire resistance, and technologies."""

    RENAMED: ClassVar[dict[str, str]] = {
        "step_realisations": "step.realisations",
        "verify_sigmas_uS": "check.sigmas_uS",
        "verify_realisations": "check.realisations",
        "ir_realisations": "ir.realisations",
    } | {
        key: f"a key of design_device ('design_device: {{{new}: ...}}')"
        for key, new in DESIGN_RENAMED
    }

    step: Programmings = Field(
        default=Programmings(realisations=3), description="the step-mode designs"
    )
    design_device: dict[str, Any] = Field(
        default_factory=lambda: dict(DESIGN_DEVICE),
        description=(
            "the device keys the designs set (``periphery_designs.design_keys``), flat: each a "
            "DeviceConfig field, routed to its part by its name (offsets, gain errors, their "
            "correction, per-device read noise, the check after programming); a key left out "
            "keeps its DESIGN_DEVICE value"
        ),
    )
    converter_bits: list[ConverterBits] = Field(
        default=[4, 6, 8], min_length=1, description="DAC = ADC widths swept"
    )
    check: NoiseSweep = Field(
        default=NoiseSweep(sigmas_uS=[0.0, 5.0, 10.0, 15.0, 20.0], realisations=3),
        description="the check after programming over a noise sweep (fast mode)",
    )
    pulse_time_s: float = Field(
        default=1e-6,
        gt=0,
        description=(
            "time of one programming pulse with its verify read, s (ASSUMPTION: of the order of "
            "RRAM write-verify loops; not measured here)"
        ),
    )
    wire_resistance_ohm: list[Annotated[float, Field(gt=0)]] = Field(
        default=[1.0, 5.0],
        min_length=1,
        description=(
            "wire resistance per segment between cross-points, Ohm (ASSUMPTION: a few Ohm for "
            "minimum-pitch copper lines at deeply scaled nodes; swept)"
        ),
    )
    channels_per_array: list[Annotated[int, Field(ge=1)]] = Field(
        default=[1, 8],
        min_length=1,
        description=(
            "channel blocks along one array's diagonal in the IR-drop runs: 1 is the default layout"
        ),
    )
    ir: Programmings = Field(default=Programmings(realisations=1), description="the IR-drop runs")
    ir_check_sizes: list[
        Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=2, max_length=2)]
    ] = Field(
        default=[[4, 3], [16, 16], [33, 66]],
        min_length=1,
        description=(
            "array sizes (rows, columns) on which the nodal solve is checked against badcrossbar"
        ),
    )
    technology_scales: list[Annotated[float, Field(gt=0)]] = Field(
        default=[4.0],
        min_length=1,
        description=(
            "factors on each technology's programming noise (sigma_scale) under the best periphery"
        ),
    )
    aware_epochs: int = Field(default=2, ge=1, description="epochs of converter-aware fine-tuning")
    aware_lr: float = Field(default=1e-2, gt=0, description="its learning rate (AdamW)")
    aware_batch_size: int = Field(
        default=32, ge=1, description="clips per batch of the converter-aware fine-tuning"
    )
    aware_seeds: list[int] = Field(
        default=[0],
        min_length=1,
        description=(
            "training seeds whose models are fine-tuned converter-aware (every fold): a cut to "
            "fit the time"
        ),
    )

    @field_validator("design_device")
    @classmethod
    def _check_design_device(cls, values: dict[str, Any]) -> dict[str, Any]:
        return DeviceConfig.validate_values(DESIGN_DEVICE | values, "design_device")

    @model_validator(mode="after")
    def _check_aware(self) -> PeripheryParams:
        if not set(self.aware_seeds) <= set(self.shared.seeds):
            raise ValueError(
                f"aware_seeds {self.aware_seeds} must be among the seeds {self.shared.seeds}"
            )
        return self


class MarginParams(ModelParams):
    """Chapter 'The stability margin': QAT models at ``margin_bits`` x pole caps ``margin_r_max``
    (fscale = r_max, so that every grid holds a pole at the cap), each programmed with noise."""

    margin_bits: list[ModelBits] = Field(
        default=[2, 3, 5, 8], min_length=1, description="bit widths of the margin models"
    )
    margin_r_max: list[PoleCap] = Field(
        default=[0.85, 0.95, 0.99, 0.999],
        min_length=1,
        description=(
            "pole caps of the margin models (fscale = r_max: every grid holds a pole at the cap)"
        ),
    )
    margin_seeds: list[int] = Field(
        default=[0], min_length=1, description="training seeds of the margin models"
    )
    RENAMED: ClassVar[dict[str, str]] = {
        "margin_sigmas_uS": "sigmas_uS",
        "margin_realisations": "realisations",
        "p_fail": "p_unstable",
    }

    sigmas_uS: SigmaSweep = Field(
        default=[0.0, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 20.0],
        min_length=2,
        description="programming-noise std swept, uS (0 included: the paired reference)",
    )
    realisations: int = Field(default=2, ge=1, description="programmings per model and sigma")
    p_unstable: float = Field(
        default=0.1,
        gt=0,
        lt=1,
        description=(
            "probability that some mode leaves the unit circle which defines the predicted sigma*"
        ),
    )

    @model_validator(mode="after")
    def _check_margin(self) -> MarginParams:
        if not set(self.margin_seeds) <= set(self.shared.seeds):
            raise ValueError(
                "margin_seeds must be a subset of seeds (their float models start the QAT)"
            )
        return self
