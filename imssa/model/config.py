"""Configurations of a training run: data, model (with quantization) and optimisation.

These are the keys of the model cache (``imssa.model.cache.train_cached``); chapter schemas in
``imssa.study.params`` compose them. Unknown keys are errors and values are not coerced across
types.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from ..compute_device import device_name
from ..data.config import DataConfig
from ..schema import Strict
from .poles import POLAR_STORAGE_BITS

__all__ = ["DataConfig", "ModelConfig", "PoleCap", "QuantConfig", "Strict", "TrainConfig"]

#: A pole radius inside the unit circle, (0, 1): a pole cap, or a radius the poles are pushed below.
PoleCap = Annotated[float, Field(gt=0, lt=1)]


class QuantConfig(Strict):
    """Quantization-aware training of the discrete parameters A_bar, B_bar, C (see
    imssa.model.quant, poles and qat)."""

    bits: int = Field(default=2, ge=1, le=16)
    range_mode: Literal["fixed", "dynamic", "per_channel"] = "fixed"
    fscale: float = Field(default=0.7, gt=0, description="full-scale value of the fixed range")
    scale_rule: Literal["max_abs", "mse"] = Field(
        default="max_abs",
        description=(
            "range of the 'dynamic' / 'per_channel' modes: max|x| of the tensor (channel), or "
            "'mse', the range minimising its quantization error on the grid (quant.mse_scale; "
            "ternary: TWN's); 'fixed' uses fscale"
        ),
    )
    scale_factor: float = Field(
        default=1.0,
        gt=0,
        description=(
            "multiplier of the scale rule's range (a validation choice, as fscale is for the "
            "fixed range)"
        ),
    )
    r_max: PoleCap | None = Field(
        default=None,
        description=(
            "pole cap: A_bar is projected into the disc |z| <= r_max and rounded to a grid point "
            "inside it (see poles.quantize_pole); None: plain rounding, and a pole on or outside "
            "the unit circle stops the run"
        ),
    )
    equalize: bool = Field(
        default=True, description="rescale B, C and the input gain to fill the range first"
    )
    bits_A: int | None = Field(
        default=None, ge=1, le=16, description="bits of A_bar (mixed precision); None: ``bits``"
    )
    a_grid: Literal["cartesian", "log_radius"] = Field(
        default="cartesian",
        description=(
            "grid of A_bar: Re and Im on the fixed range's grid, or the pole on a log-radius "
            "codebook of bits_A bits (poles.log_radius_grid; fixed range and a pole cap only), its "
            "parts held on a fine storage grid"
        ),
    )
    bits_B: int | None = Field(
        default=None, ge=1, le=16, description="bits of B_bar; None: ``bits``"
    )
    bits_C: int | None = Field(default=None, ge=1, le=16, description="bits of C; None: ``bits``")
    pole_penalty: float = Field(
        default=0.0,
        ge=0,
        description=(
            "weight of the hinge penalty sum_n max(0, |A_bar_n| - pole_target)^2 / H on the "
            "quantized poles (poles.pole_penalty); its zero set is max|A_bar| <= pole_target"
        ),
    )
    pole_target: PoleCap | None = Field(
        default=None, description=("radius the pole penalty pushes below")
    )
    noise_sigma_uS: float = Field(
        default=0.0,
        ge=0,
        description=(
            "noise-aware QAT: programming noise std per device, uS, injected into the quantized "
            "weights of every training forward pass (never at evaluation)"
        ),
    )
    noise_window_uS: float = Field(
        default=90.0, gt=0, description="g_max - g_min of the target array, uS"
    )
    noise_pairs: int = Field(
        default=2, ge=1, description="differential pairs per real weight on the target array"
    )

    @model_validator(mode="after")
    def _check_strategy(self) -> QuantConfig:
        if (self.pole_penalty > 0) != (self.pole_target is not None):
            raise ValueError("pole_penalty > 0 and pole_target go together: give both or neither")
        if self.range_mode == "fixed" and (
            self.scale_rule != "max_abs" or self.scale_factor != 1.0
        ):
            raise ValueError(
                "scale_rule and scale_factor set the ranges of 'dynamic' and 'per_channel'; the "
                "fixed range is fscale (leave them at 'max_abs' and 1.0)"
            )
        if self.a_grid == "log_radius" and (self.range_mode != "fixed" or self.r_max is None):
            raise ValueError("a_grid 'log_radius' needs range_mode 'fixed' and a pole cap r_max")
        return self

    @property
    def bits_per_matrix(self) -> tuple[int, int, int]:
        """Bits of the grids (A_bar, B_bar, C) the array holds: a log-radius A_bar is stored on
        ``poles.POLAR_STORAGE_BITS`` bits."""
        bits = tuple(self.bits if b is None else b for b in (self.bits_A, self.bits_B, self.bits_C))
        return (POLAR_STORAGE_BITS, *bits[1:]) if self.a_grid == "log_radius" else bits  # type: ignore[return-value]

    @property
    def polar_bits(self) -> int | None:
        """Bits of A_bar's log-radius codebook (None: the Cartesian grid)."""
        return (self.bits_A or self.bits) if self.a_grid == "log_radius" else None

    @property
    def weight_noise(self) -> float:
        """Std of each real part's training noise as a fraction of the array's mapping scale:
        sqrt(2 / pairs) sigma / (g_max - g_min) (two devices per pair, ``noise_pairs`` pairs
        averaged)."""
        return (2 / self.noise_pairs) ** 0.5 * self.noise_sigma_uS / self.noise_window_uS


class ModelConfig(Strict):
    """Classifier: linear encoder -> depth x (S4D -> GELU) -> mean over time -> linear decoder.

    ``ssm`` selects the layer or a control: ``s4d`` (trained), ``memoryless`` (A_bar = 0, so
    each step sees only its own input; B_bar, C, D still trained), ``frozen`` (S4D initialised
    as usual and never trained: dt, A, B, C fixed; encoder, D and decoder learned), ``s4d_real``
    (the real-valued diagonal variant: N real modes with S4D-Real's ``init: real``, A_n = -(n+1)),
    ``fir`` (no state: ``taps`` free causal taps per channel and D, ``imssa.model.fir``; with a
    ``quant``, the taps on the fixed range of ``bits`` and ``fscale``; N, init and dt unused).
    """

    H: int = Field(default=32, ge=1, description="channels (model width)")
    N: int = Field(default=8, ge=1, description="complex modes per channel (real state 2N)")
    depth: int = Field(default=1, ge=1)
    init: Literal["lin", "inv", "real"] = "lin"
    dt_min: float = Field(default=1e-3, gt=0)
    dt_max: float = Field(default=1e-1, gt=0)
    dropout: float = Field(default=0.0, ge=0, lt=1)
    ssm: Literal["s4d", "memoryless", "frozen", "s4d_real", "fir"] = "s4d"
    taps: int | None = Field(
        default=None, ge=1, description="taps per channel of ssm 'fir' (and only it)"
    )
    quant: QuantConfig | None = None

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        if self.dt_min > self.dt_max:
            raise ValueError(f"dt_min ({self.dt_min}) must be <= dt_max ({self.dt_max})")
        if (self.ssm == "s4d_real") != (self.init == "real"):
            raise ValueError(
                "ssm 's4d_real' goes with init 'real' (S4D-Real) and only it; "
                f"got ssm={self.ssm!r}, init={self.init!r}"
            )
        if (self.ssm == "fir") != (self.taps is not None):
            raise ValueError(
                f"taps go with ssm 'fir' and only it; got ssm={self.ssm!r}, taps={self.taps}"
            )
        if self.ssm == "fir" and self.quant is not None:
            plain = QuantConfig(
                bits=self.quant.bits, fscale=self.quant.fscale, equalize=self.quant.equalize
            )
            if self.quant != plain:
                raise ValueError(
                    "an FIR bank has taps, no pole: its quant takes bits, fscale and equalize only "
                    "(fixed range, no cap, no per-matrix bits, penalty or noise)"
                )
        return self

    @property
    def real(self) -> bool:
        """Whether the layers are the real-valued variant."""
        return self.ssm == "s4d_real"


class TrainConfig(Strict):
    """Optimisation: AdamW with the SSM parameters in their own group, cosine schedule."""

    epochs: int = Field(default=30, ge=1)
    batch_size: int = Field(default=32, ge=1)
    lr: float = Field(default=1e-2, gt=0)
    ssm_lr: float = Field(default=1e-3, gt=0, description="lr of dt, A, B (no weight decay)")
    weight_decay: float = Field(default=0.01, ge=0)
    seed: int = 0
    device: Annotated[str, AfterValidator(device_name)] = Field(
        default_factory=device_name,
        description=(
            "torch device of the run (default $IMSSA_DEVICE or cpu, ``imssa.compute_device``): "
            "part of the cache key"
        ),
    )
    threads: int = Field(default=1, ge=1, description="torch threads of one training run")
