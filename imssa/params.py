"""Typed parameters: one pydantic schema per chapter, loaded from ``params/<profile>/<chapter>.yaml``.

Every schema forbids unknown keys and checks types and ranges, so a bad parameter file fails
before any work starts, with a message that names the key and what is allowed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from .config import DataConfig, ModelConfig, QuantConfig, Strict, TrainConfig
from .devices import PRESETS, DeviceConfig

__all__ = [
    "BaselineParams",
    "DeploymentParams",
    "DataConfig",
    "FirstPrinciplesParams",
    "MappingParams",
    "ModelConfig",
    "QATParams",
    "QuantConfig",
    "ParamsError",
    "TrainConfig",
    "CHAPTERS",
    "load_params",
    "read_yaml",
    "validate_params",
]


class ParamsError(ValueError):
    """A parameter file or dict that does not fit its chapter's schema."""


class ChapterParams(Strict):
    """Fields every chapter has."""

    profile: Literal["paper", "ci", "custom"] = "custom"


class FirstPrinciplesParams(ChapterParams):
    """Chapter 'S4D from first principles'."""

    H: int = Field(default=4, ge=1)
    N: int = Field(default=8, ge=1)
    L: int = Field(default=4000, ge=2)
    dt: float = Field(default=0.1, gt=0, description="step in the units of 1/|A|")
    sample_rate: int = Field(default=4000, gt=0, description="Hz, only labels the frequency axis")
    inits: list[Literal["lin", "inv"]] = Field(default=["lin", "inv"], min_length=1)
    seed: int = 0


class BaselineParams(ChapterParams):
    """Chapter 'Float baseline'."""

    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    seeds: list[int] = Field(default=[0, 1, 2], min_length=1)
    workers: int = Field(default=1, ge=1, description="seeds trained side by side, 1 thread each")


class QATParams(BaselineParams):
    """Chapter 'Fixed-range QAT'. ``data``, ``model`` and ``train`` describe the float model
    (the same as the baseline chapter's, so its cached runs are reused); ``qat_train`` the
    quantization-aware training that starts from it (``init: float``) or from scratch."""

    qat_train: TrainConfig = TrainConfig(epochs=10, lr=0.003, ssm_lr=0.003)
    init: Literal["float", "scratch"] = "float"
    bits: list[int] = Field(default=[1, 2, 3, 4, 5, 6, 8], min_length=1)
    range_modes: list[Literal["fixed", "dynamic", "per_channel"]] = Field(default=["dynamic", "fixed"], min_length=1)
    fscale: float = Field(default=0.7, gt=0, description="fixed range of the bits sweep")
    fscale_sweep: list[float] = Field(default=[0.3, 0.5, 0.7, 0.9, 1.0], min_length=1)
    fscale_sweep_bits: int = Field(default=2, ge=1, le=16)
    fscale_sweep_seeds: list[int] = Field(default=[0, 1], min_length=1)
    grid_bits: list[int] = Field(default=[2, 3, 4], min_length=1, description="grids drawn against the unit circle")
    detail_bits: int = Field(default=2, ge=1, le=16, description="the model shown in detail")

    @model_validator(mode="after")
    def _check_bits(self) -> QATParams:
        for key in ("bits", "grid_bits"):
            bad = [b for b in getattr(self, key) if not 1 <= b <= 16]
            if bad:
                raise ValueError(f"{key}: bit widths must be in 1..16, got {bad}")
        if any(f <= 0 for f in self.fscale_sweep):
            raise ValueError(f"fscale_sweep: values must be > 0, got {self.fscale_sweep}")
        return self


class MappingParams(QATParams):
    """Chapter 'Mapping S4D onto a crossbar': the QAT chapter's model (same keys, so the cached
    QAT runs are reused) at ``bits``/``fscale``, mapped onto arrays of ``rows`` x ``cols``."""

    map_bits: int = Field(default=2, ge=1, le=16, description="bit width of the model mapped")
    g_min_uS: float = Field(default=10.0, ge=0, description="conductance of level 0, uS")
    g_max_uS: float = Field(default=100.0, gt=0, description="conductance of the top level, uS")
    rows: int = Field(default=64, ge=1, description="array rows (inputs)")
    cols: int = Field(default=64, ge=1, description="array columns (outputs)")
    check_length: int = Field(default=500, ge=1, description="steps of the exactness check")

    @model_validator(mode="after")
    def _check_range(self) -> MappingParams:
        if self.g_min_uS >= self.g_max_uS:
            raise ValueError(f"g_min_uS ({self.g_min_uS}) must be < g_max_uS ({self.g_max_uS})")
        return self


class DeploymentParams(MappingParams):
    """Chapter 'Deployment under hardware noise': the QAT models (same keys as the QAT chapter),
    programmed with noise onto arrays of conductance range [g_min_uS, g_max_uS]."""

    fig4_bits: list[int] = Field(default=[2, 3, 4, 5, 8], min_length=1)
    sigmas_uS: list[float] = Field(default=[0.0, 1.0, 2.5, 5.0, 7.5, 10.0, 15.0, 20.0], min_length=1)
    realisations: int = Field(default=25, ge=1, description="programmings per point (fast mode)")
    stuck_fractions: list[float] = Field(default=[0.0, 0.001, 0.01, 0.02, 0.05], min_length=1)
    read_noises: list[float] = Field(default=[0.005, 0.01, 0.02], min_length=1)
    converter_bits: list[int] = Field(default=[4, 6, 8], min_length=1)
    step_realisations: int = Field(default=4, ge=1, description="realisations per step-mode point")
    block_bits: list[int] = Field(default=[2, 5], description="bit widths re-run with the block layout")
    gmax_sweep_uS: list[float] = Field(default=[100.0, 200.0, 400.0], description="g_max tried at the paper's sigma")
    emulation: DeviceConfig = PRESETS["hfox_1t1r_like"]

    def checkpoint_key(self, *fields: str) -> str:
        """Text of the keys that define the deployed models plus ``fields``: a resumable sweep's
        checkpoint stays valid exactly as long as these are unchanged."""
        keys = {"data", "model", "train", "qat_train", "init", "fscale", "seeds", "g_min_uS", "g_max_uS", *fields}
        return self.model_dump_json(include=keys)

    @model_validator(mode="after")
    def _check_deploy(self) -> DeploymentParams:
        if any(s < 0 for s in self.sigmas_uS):
            raise ValueError(f"sigmas_uS must be >= 0, got {self.sigmas_uS}")
        if any(not 0 <= f <= 0.5 for f in self.stuck_fractions):
            raise ValueError(f"stuck_fractions must be in [0, 0.5], got {self.stuck_fractions}")
        if any(r < 0 for r in self.read_noises):
            raise ValueError(f"read_noises must be >= 0, got {self.read_noises}")
        if any(not 1 <= b <= 24 for b in self.converter_bits + self.fig4_bits + self.block_bits):
            raise ValueError("bit widths must be in 1..24")
        if any(g <= self.g_min_uS for g in self.gmax_sweep_uS):
            raise ValueError(f"gmax_sweep_uS values must exceed g_min_uS ({self.g_min_uS})")
        if not set(self.block_bits) <= set(self.fig4_bits):
            raise ValueError("block_bits must be a subset of fig4_bits")
        return self


CHAPTERS: dict[str, type[ChapterParams]] = {
    "s4d_first_principles": FirstPrinciplesParams,
    "float_baseline": BaselineParams,
    "fixed_range_qat": QATParams,
    "crossbar_mapping": MappingParams,
    "hardware_deployment": DeploymentParams,
}


def _describe(err: ValidationError, source: str) -> str:
    lines = [f"invalid parameters in {source}:"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown parameter name"
        lines.append(f"  - {key}: {msg} (got {e.get('input')!r})")
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
    """Parse a parameter file; a missing file or a non-mapping is a ParamsError."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"parameter file not found: {path}")
    values = yaml.load(path.read_text(), Loader=_Loader) or {}
    if not isinstance(values, dict):
        raise ParamsError(f"{path}: expected a mapping of parameter names to values")
    return values


def load_params(chapter: str, path: str | Path) -> ChapterParams:
    """Read a YAML parameter file and validate it for ``chapter``."""
    values = read_yaml(path)
    return validate_params(chapter, values, source=str(path))
