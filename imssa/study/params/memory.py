"""Parameters of the two memory chapters: what the state remembers, and memory that survives
programming."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, ValidationError, model_validator

from ...data.config import DataConfig
from ...model.config import PoleCap
from ...model.spectral import SpectralConfig
from ...schema import Strict
from .base import ModelBits, ModelParams, SigmaSweep, _check_grid, global_params


class OrderTask(Strict):
    """The memory task (``DataConfig`` task 'order'): two words of one speaker in either order."""

    duration_s: float = Field(
        default=0.5, gt=0, description="s per word: each clip cropped or padded to this"
    )
    gap_s: float = Field(
        default=0.05, gt=0, description="s of silence before, between and after the words"
    )
    pairs_per_clip: int = Field(
        default=1, ge=1, description="partners of each clip of the first digit"
    )


class MemoryModel(Strict):
    """One model family of chapter 'What the state remembers', trained on the memory task like the
    S4D models (folds, ``memory_seeds``, the schedule chosen on validation speakers). ``bits`` None:
    float; else the paper's fixed-range QAT from the float S4D model of the same fold and seed, at
    ``fscale`` and pole cap ``r_max`` (None: the shared values), with ``bits_A`` bits for A_bar
    alone (mixed precision; None: ``bits``) on ``a_grid`` (the Cartesian grid, or the pole on a
    log-radius codebook of bits_A bits, ``poles.log_radius_grid``)."""

    name: str = Field(min_length=1)
    ssm: Literal["s4d", "memoryless", "fir"] = "s4d"
    taps: int | None = Field(default=None, ge=1, description="taps of ssm 'fir'")
    bits: ModelBits | None = None
    bits_A: ModelBits | None = None
    fscale: float | None = Field(default=None, gt=0)
    r_max: PoleCap | None = None
    a_grid: Literal["cartesian", "log_radius"] = "cartesian"
    recipe: Literal["fine_tune", "scratch"] = Field(
        default="fine_tune",
        description=(
            "QAT fine-tuned from the float S4D model of the same fold and seed (qat_train), or "
            "trained from the start with its grid and cap (the float model's schedule, train)"
        ),
    )

    @model_validator(mode="after")
    def _check_model(self) -> MemoryModel:
        if (self.ssm == "fir") != (self.taps is not None):
            raise ValueError(f"{self.name}: taps go with ssm 'fir' and only it")
        if self.recipe != "fine_tune" and self.bits is None:
            raise ValueError(f"{self.name}: a recipe describes a quantized model: give bits")
        if self.bits is None and (
            self.bits_A is not None
            or self.fscale is not None
            or self.r_max is not None
            or self.a_grid != "cartesian"
        ):
            raise ValueError(
                f"{self.name}: bits_A, fscale, r_max and a_grid describe a quantized model: give "
                "bits"
            )
        if self.ssm != "s4d" and self.bits is not None:
            raise ValueError(f"{self.name}: the quantized models of the memory task are S4D models")
        return self


class MemoryParams(ModelParams):
    """Chapter 'What the state remembers': controls without a state on the main task (FIR banks of
    ``fir_taps`` taps, float and at ``fir_bits``, the spectral baseline), the memory task
    (``order``) with the models ``memory_models``, and their memory under programming noise."""

    fir_taps: list[Annotated[int, Field(ge=1)]] = Field(
        default=[4, 16, 64],
        min_length=1,
        description="taps of the FIR-bank controls (a filter without a state, as long as it is)",
    )
    fir_bits: ModelBits = Field(
        default=2, description="bits of the quantized FIR banks (fixed range fscale)"
    )
    spectral: SpectralConfig = Field(
        default=SpectralConfig(),
        description="the spectral baseline's features (log-mel or MFCC frames) and its classifier",
    )
    spectral_poolings: list[Literal["frames", "mean"]] = Field(
        default=["frames", "mean"],
        min_length=1,
        description="how the spectral baseline pools its frames: kept in order, or averaged",
    )
    order: OrderTask = Field(
        default=OrderTask(),
        description="the temporal-order task that needs memory: two words and the gap between them",
    )
    memory_selection: dict[str, list[int | float]] = Field(
        default_factory=lambda: {"train.epochs": [30, 60]},
        description="schedule of the memory task's float S4D model, "
        "chosen one at a time on validation speakers",
    )
    memory_models: list[MemoryModel] = Field(
        default_factory=lambda: [MemoryModel(name="float S4D")],
        min_length=1,
        description="the models of the memory task: S4D families, FIR banks and their bit widths",
    )
    memory_noise_models: list[str] | None = Field(
        default=None,
        description=(
            "names of memory_models programmed under noise (quantized S4D families); None: every "
            "quantized one"
        ),
    )
    memory_seeds: list[int] = Field(
        default=[0], min_length=1, description="training seeds of this chapter's models"
    )
    RENAMED: ClassVar[dict[str, str]] = {
        "memory_sigmas_uS": "sigmas_uS",
        "memory_realisations": "realisations",
        "p_fail": "unstable_share_limit",
    }

    sigmas_uS: SigmaSweep = Field(
        default=[0.0, 1.0, 2.5, 5.0, 10.0, 15.0],
        min_length=2,
        description="programming-noise std swept for the memory models, uS (0 included)",
    )
    realisations: int = Field(default=2, ge=1, description="programmings per model and sigma")
    unstable_share_limit: float = Field(
        default=0.1,
        gt=0,
        lt=1,
        description=("share of programmings with an unstable mode that defines the longest memory"),
    )

    def order_data(self) -> DataConfig:
        """The memory task: ``data`` with task 'order' and ``order``'s settings."""
        return DataConfig(
            **(self.shared.data.model_dump() | {"task": "order"} | self.order.model_dump())
        )

    @model_validator(mode="after")
    def _check_memory(self) -> MemoryParams:
        names = [m.name for m in self.memory_models]
        if len(set(names)) != len(names):
            raise ValueError(f"memory_models: names must be distinct, got {names}")
        if not set(self.memory_seeds) <= set(self.shared.seeds):
            raise ValueError(
                "memory_seeds must be a subset of seeds (the main task's float models are shared)"
            )
        quantized = {m.name for m in self.memory_models if m.bits is not None}
        if self.memory_noise_models is not None and not set(self.memory_noise_models) <= quantized:
            raise ValueError(
                f"memory_noise_models {sorted(set(self.memory_noise_models) - quantized)} are not "
                f"quantized families of memory_models"
            )
        for m in self.memory_models:
            if m.a_grid == "log_radius" and (m.r_max or self.shared.r_max) is None:
                raise ValueError(
                    f"memory_models: {m.name} has a log-radius grid, which needs a pole cap r_max"
                )
        try:
            order = self.order_data()
        except ValidationError as err:
            raise ValueError(f"order: {err.errors()[0]['msg']}") from None
        shared = global_params(self).shared.model_copy(update={"data": order})
        _check_grid(shared, self.memory_selection, "memory_selection")
        return self


class FrontEndChoice(Strict):
    """One front end of chapter 'Memory that survives programming': what a step of the recurrence
    receives, hence its step rate (``DataConfig``'s ``front_end``, ``hop_ms``, ``frame_ms``,
    ``n_mels``)."""

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

    front_ends: list[FrontEndChoice] = Field(
        min_length=1,
        description="front ends compared (waveform or log-mel frames) with their step rates",
    )
    design_fscale: float = Field(
        default=1.0,
        gt=0,
        description="the designs' fixed range fscale for Re/Im of A_bar, B_bar and C",
    )
    design_r_max: PoleCap = Field(
        default=0.999, description="the designs' pole cap (|A_bar| at most this)"
    )
    design_bits: ModelBits = Field(default=8, description="bits of B_bar and C of the designs")
    recipe_bits_A: list[ModelBits] = Field(
        default=[8, 16],
        min_length=1,
        description=(
            "A_bar bits of the designs trained under both recipes, at the first front end"
        ),
    )
    bits_sweeps: list[BitsSweep] = Field(
        min_length=1,
        description=(
            "per front end, the bits of A_bar and the grids swept to find the bits a design needs"
        ),
    )
    noise_front_ends: list[str] = Field(
        min_length=1, description="front ends whose chosen design is programmed"
    )
    four_class_front_end: str = Field(
        min_length=1, description="front end of the four-class temporal-order task"
    )
    tolerance_points: float = Field(
        default=2.0,
        ge=0,
        description=(
            "the bits a design needs: the fewest bits of A_bar whose validation accuracy is "
            "within this of the float model's"
        ),
    )
    write_verified_uS: list[float] = Field(
        default=[0.5, 4.5],
        min_length=2,
        max_length=2,
        description=(
            "uS, the programming noise write-verified devices reach on this window (sources in "
            "the parameter file)"
        ),
    )

    @model_validator(mode="after")
    def _check_programmed(self) -> ProgrammedMemoryParams:
        names = [f.name for f in self.front_ends]
        if len(set(names)) != len(names):
            raise ValueError(f"front_ends: names must be distinct, got {names}")
        if not 0 < self.write_verified_uS[0] <= self.write_verified_uS[1]:
            raise ValueError(
                f"write_verified_uS must be a range 0 < low <= high, got {self.write_verified_uS}"
            )
        used = (
            [b.front_end for b in self.bits_sweeps]
            + self.noise_front_ends
            + [self.four_class_front_end]
        )
        if unknown := sorted(set(used) - set(names)):
            raise ValueError(f"front ends {unknown} are not in front_ends {names}")
        for f in self.front_ends:
            for task in (self.shared.data, self.order_data()):
                try:
                    f.data(task)
                except ValidationError as err:
                    raise ValueError(f"front_ends: {f.name}: {err.errors()[0]['msg']}") from None
        swept = {
            f
            for b in self.bits_sweeps
            for f in [b.front_end]
            if self.design_bits in b.bits_BC and "cartesian" in b.a_grids
        }
        if missing := sorted(set(names) - swept):
            raise ValueError(
                f"front ends {missing} have no Cartesian sweep at design_bits {self.design_bits}: "
                "the bits a design needs are chosen there"
            )
        return self
