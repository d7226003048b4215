"""Parameters of the device-technologies chapter: the technology presets compared, their noise
models, write-verify and time studies, and the inverse question on the emulated array."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from ...hardware.presets import PRESETS, TECHNOLOGIES
from .base import ConverterBits, ModelBits, ModelParams, NoiseSweep

__all__ = ["TechnologyParams"]


class TechnologyParams(ModelParams):
    """Chapter 'Open question 1: device technologies': the QAT chapter's models (same keys) at
    ``tech_bits``, programmed with each technology preset of ``imssa.hardware.presets.PRESETS``;
    noise models, write-verify and time for ``study_bits``; the inverse question for
    ``inverse_bits`` on the deployment chapter's emulated array (``inverse_base``)."""

    technologies: list[str] = Field(
        default=list(TECHNOLOGIES), min_length=1, description="PRESETS names compared"
    )
    tech_bits: list[ModelBits] = Field(
        default=[1, 2, 4], min_length=1, description="bit widths deployed on every technology"
    )
    study_bits: list[ModelBits] = Field(
        default=[2, 4],
        min_length=1,
        description="bit widths of the noise, write-verify and time studies",
    )
    RENAMED: ClassVar[dict[str, str]] = {
        "tech_realisations": "realisations",
        "tech_seed": "programming_seed",
        "inverse_sigmas_uS": "inverse.sigmas_uS",
        "inverse_step_sigmas_uS": "inverse_step.sigmas_uS",
        "inverse_step_realisations": "inverse_step.realisations",
        "write_verify_technology": (
            "'write_verify_preset' (any preset; 'technology' names the four compared)"
        ),
    }

    realisations: int = Field(
        default=3, ge=1, description="programmings per trained model and condition"
    )
    programming_seed: int = Field(
        default=11,
        description=("seed of the programming draws, shared by every condition (paired)"),
    )
    noise_technologies: list[str] = Field(
        default=["rram_wan2022", "pcm_joshi2020", "stt_mram_binary"],
        description=(
            "technologies whose state-dependent noise is compared with constant noise at matched "
            "error"
        ),
    )
    noise_scales: list[float] = Field(
        default=[1.0, 4.0],
        min_length=1,
        description=(
            "factors on each technology's programming noise (sigma_scale) at which the noise "
            "models are compared"
        ),
    )
    noise_shapes: list[Literal["gaussian", "laplace", "student_t"]] = Field(
        default=["gaussian", "laplace", "student_t"],
        min_length=1,
        description=(
            "shapes of the constant noise compared with each technology's state-dependent noise"
        ),
    )
    noise_matches: list[Literal["rms", "mean_abs"]] = Field(
        default=["rms", "mean_abs"],
        min_length=1,
        description=(
            "how the constant noise is matched: same root-mean-square or same mean absolute "
            "conductance error"
        ),
    )
    write_verify_preset: str = Field(
        default="rram_single_pulse", description="PRESETS name: one pulse's error, no verify"
    )
    write_verify_tolerances_uS: list[float] = Field(
        default=[8.0, 4.0, 2.0, 1.0, 0.5],
        min_length=1,
        description="write-verify acceptance tolerances swept, uS",
    )
    time_technologies: list[str] = Field(
        default=["pcm_joshi2020", "rram_wan2022"], description="technologies that age"
    )
    times_s: list[float] = Field(
        default=[1.0, 60.0, 3600.0, 86400.0, 2592000.0, 31536000.0],
        min_length=1,
        description=("times after programming, s"),
    )
    inverse_bits: ModelBits = Field(
        default=2, description="the model whose hardware gap the paper reports"
    )
    inverse_base: str = Field(
        default="hfox_1t1r_like",
        description=(
            "PRESETS name of the array the inverse grid varies (its own noise, yield, read noise "
            "and converters replaced)"
        ),
    )
    inverse: NoiseSweep = Field(
        default=NoiseSweep(sigmas_uS=[0.0, 2.5, 5.0, 7.5, 10.0, 15.0, 20.0], realisations=3),
        description="the inverse grid (sigma x stuck fraction), fast mode",
    )
    inverse_stuck_fractions: list[float] = Field(
        default=[0.0, 0.002, 0.01, 0.03, 0.1],
        min_length=1,
        description=("fraction of stuck devices, split evenly between g_max and g_min"),
    )
    inverse_step: NoiseSweep = Field(
        default=NoiseSweep(sigmas_uS=[0.0, 10.0], realisations=1),
        description=(
            "the step-mode grid (read noise x converter bits), at the base array's stuck fraction"
        ),
    )
    inverse_read_noises: list[float] = Field(
        default=[0.0, 0.002, 0.005, 0.02], min_length=1, description="fraction of the ADC range"
    )
    inverse_converter_bits: list[ConverterBits] = Field(
        default=[5, 6, 8], min_length=1, description="ADC resolution (DAC: the base's)"
    )
    inverse_tolerance_points: float = Field(
        default=3.0,
        gt=0,
        description=(
            "a cell reproduces the paper's drop when its mean is this close and its interval "
            "contains it"
        ),
    )

    def presets_used(self) -> list[str]:
        """The names of the presets this chapter programs (sorted, each once)."""
        return sorted(
            {
                *self.technologies,
                *self.noise_technologies,
                *self.time_technologies,
                self.write_verify_preset,
                self.inverse_base,
            }
        )

    def checkpoint_key(self) -> str:
        """The whole configuration (``ModelParams.checkpoint_key``) and the presets it uses
        (``presets_used``): a changed preset it uses starts a new checkpoint, a new or changed
        preset it does not use leaves it."""
        presets = ",".join(
            f"{name}:{PRESETS[name].model_dump_json()}" for name in self.presets_used()
        )
        return super().checkpoint_key() + presets

    @model_validator(mode="after")
    def _check_technologies(self) -> TechnologyParams:
        unknown = [n for n in self.presets_used() if n not in PRESETS]
        if unknown:
            raise ValueError(f"unknown presets {unknown}; known: {sorted(PRESETS)}")
        if (
            not set(self.study_bits) <= set(self.tech_bits)
            or self.inverse_bits not in self.tech_bits
        ):
            raise ValueError(
                "study_bits and inverse_bits must be among tech_bits (their models are trained "
                "there)"
            )
        if any(x <= 0 for x in self.noise_scales):
            raise ValueError(f"noise_scales must be > 0, got {self.noise_scales}")
        if any(t <= 0 for t in self.write_verify_tolerances_uS) or any(t < 0 for t in self.times_s):
            raise ValueError("write_verify_tolerances_uS must be > 0 and times_s >= 0")
        if any(not 0 <= f <= 1 for f in self.inverse_stuck_fractions) or any(
            r < 0 for r in self.inverse_read_noises
        ):
            raise ValueError(
                "inverse_stuck_fractions must be in [0, 1] and inverse_read_noises >= 0"
            )
        return self
