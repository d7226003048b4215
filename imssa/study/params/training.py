"""Parameters of the chapters that train and select the models: first principles, the float
baseline, fixed-range QAT and the crossbar mapping."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ...model.config import PoleCap
from .base import ChapterParams, ModelBits, ModelParams, _check_grid, global_params


class FirstPrinciplesParams(ChapterParams):
    """Chapter 'S4D from first principles'."""

    H: int = Field(
        default=4,
        ge=1,
        description="channels (independent S4D layers of one input) drawn and plotted",
    )
    N: int = Field(
        default=8,
        ge=1,
        description="complex modes per channel (the state size is N, its conjugates implicit)",
    )
    L: int = Field(
        default=4000, ge=2, description="steps of the kernel and of the recurrence compared with it"
    )
    dt_min: float = Field(
        default=0.001, gt=0, description="smallest step, in the time unit of A (1/Re A = -2)"
    )
    dt_max: float = Field(
        default=0.1, gt=0, description="largest step; channel h gets a geometric spacing"
    )
    sample_rate: int = Field(default=4000, gt=0, description="Hz, only labels the frequency axis")
    inits: list[Literal["lin", "inv"]] = Field(
        default=["lin", "inv"],
        min_length=1,
        description="initialisations of A compared: S4D-Lin and S4D-Inv",
    )
    seed: int = Field(
        default=0, description="seed of the random B, C and steps of this chapter's layers"
    )

    @model_validator(mode="after")
    def _check_steps(self) -> FirstPrinciplesParams:
        if self.dt_min > self.dt_max:
            raise ValueError(f"dt_min ({self.dt_min}) must be <= dt_max ({self.dt_max})")
        return self


class BaselineParams(ModelParams):
    """Chapter 'Float baseline': the main task, the choices made on validation data, the float
    model on every fold and seed, and the controls that show whether the recurrence matters.

    ``selection`` maps parameter paths (``data.sample_rate``, ``train.lr``, ``model.N``) to the
    values tried one at a time around this file's values, on the validation speakers."""

    selection: dict[str, list[int | float]] = Field(
        default_factory=lambda: {
            "data.sample_rate": [1000, 2000, 4000],
            "train.lr": [0.003, 0.01, 0.03],
            "train.ssm_lr": [0.001, 0.003, 0.01],
            "model.N": [8, 16, 32],
        },
        description=(
            "parameter paths (data.sample_rate, train.lr, model.N) -> values tried one at a time "
            "around this file's values, scored on validation speakers"
        ),
    )
    deployed_selection: list[str] = Field(
        default=["data.sample_rate", "model.N"],
        description=(
            "paths of ``selection`` chosen on the deployed model (fixed-range QAT at "
            "qat_bits[0]), not the float one"
        ),
    )
    selection_limits: dict[str, float] = Field(
        default_factory=lambda: {"model.N": 16},
        description=("hardware and compute budgets: candidates above are shown but never chosen"),
    )
    controls: list[Literal["memoryless", "frozen"]] = Field(
        default=["memoryless", "frozen"],
        description=(
            "models without a working recurrence, trained as the S4D model: memoryless (no state) "
            "and frozen (A, B_bar not trained)"
        ),
    )
    qat_bits: list[ModelBits] = Field(
        default=[2], description="fixed-range QAT models compared with the controls"
    )
    official_seeds: list[int] = Field(
        default=[0], description="the official split as a secondary column; [] skips it"
    )

    @model_validator(mode="after")
    def _check_selection(self) -> BaselineParams:
        _check_grid(global_params(self).shared, self.selection, "selection")
        if set(self.deployed_selection) - set(self.selection) or (
            self.deployed_selection and not self.qat_bits
        ):
            raise ValueError(
                f"deployed_selection {self.deployed_selection} must be keys of selection, with "
                "qat_bits set"
            )
        if set(self.selection_limits) - set(self.selection):
            raise ValueError(
                f"selection_limits {sorted(self.selection_limits)} must be keys of selection"
            )
        return self


class QATParams(ModelParams):
    """Chapter 'Fixed-range QAT'. ``data``, ``model`` and ``train`` describe the float model
    (the same as the baseline chapter's, so its cached runs are reused); ``qat_train`` the
    quantization-aware training that starts from it (``init: float``) or from scratch.

    Choices on validation data: ``qat_selection`` (paths such as ``fscale`` or ``qat_train.lr``)
    for the fixed-range model at ``selection_bits``; ``r_max_selection`` for the dynamic-range
    model at ``r_max_bits``."""

    bits: list[ModelBits] = Field(
        default=[1, 2, 3, 4, 5, 8],
        min_length=1,
        description="bit widths of the fixed-range QAT models (A_bar, B_bar and C)",
    )
    range_modes: list[Literal["fixed", "dynamic", "per_channel"]] = Field(
        default=["fixed", "dynamic"],
        min_length=1,
        description=(
            "quantization ranges compared: one fixed fscale, or dynamic per tensor, or per channel"
        ),
    )
    selection_bits: ModelBits = Field(
        default=2, description="bit width at which qat_selection is chosen on validation speakers"
    )
    qat_selection: dict[str, list[int | float]] = Field(
        default_factory=lambda: {
            "fscale": [0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
            "qat_train.lr": [0.003, 0.01, 0.03],
        },
        description=(
            "parameter paths (fscale, qat_train.lr, ...) -> values tried one at a time for the "
            "fixed-range model at selection_bits, on validation speakers"
        ),
    )
    r_max_bits: int = Field(
        default=4, ge=2, le=16, description="dynamic-range model whose pole cap is chosen"
    )
    r_max_selection: list[PoleCap] = Field(
        default=[0.95, 0.99, 0.999],
        min_length=1,
        description="pole caps tried for the dynamic-range model, chosen on validation speakers",
    )
    grid_bits: list[ModelBits] = Field(
        default=[2, 3, 4], min_length=1, description="grids drawn against the unit circle"
    )
    detail_bits: ModelBits = Field(default=2, description="the model shown in detail")

    @model_validator(mode="after")
    def _check_bits(self) -> QATParams:
        _check_grid(global_params(self).shared, self.qat_selection, "qat_selection")
        return self


class MappingParams(ModelParams):
    """Chapter 'Mapping S4D onto a crossbar': the QAT chapter's model at ``map_bits``/``fscale``
    (the shared keys, so the cached QAT runs are reused), mapped onto arrays of ``rows`` x
    ``cols``."""

    check_length: int = Field(default=500, ge=1, description="steps of the exactness check")
