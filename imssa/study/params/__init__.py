"""Typed parameters: one pydantic schema per chapter, loaded from
``params/<profile>/<chapter>.yaml``.

Every schema forbids unknown keys and checks types and ranges, so a bad parameter file fails
before any work starts, with a message that names the key and what is allowed.

One module per concept: ``base`` (shared settings, bases, bounds), ``training``, ``hardware``,
``technologies``, ``memory`` and ``design`` (the chapters' schemas), ``files`` (reading and
validating files)."""

from __future__ import annotations

from ...data.config import DataConfig
from ...model.config import ModelConfig, QuantConfig, TrainConfig
from .base import (
    ChapterParams,
    ConverterBits,
    ModelBits,
    ModelParams,
    NoiseSweep,
    ParamsError,
    PresetChoice,
    Programmings,
    Shared,
    SigmaSweep,
    fold_params,
    global_params,
    replaced,
    variant,
)
from .design import ReportParams, ScaleParams, Strategy, StrategyParams
from .files import (
    CHAPTERS,
    SHARED_FILE,
    chapter_file_values,
    load_params,
    merge,
    read_yaml,
    shared_values,
    validate_params,
)
from .hardware import (
    DESIGN_DEVICE,
    DESIGN_RENAMED,
    DeploymentParams,
    EmulationParams,
    MarginParams,
    PeripheryParams,
)
from .memory import (
    BitsSweep,
    FrontEndChoice,
    MemoryModel,
    MemoryParams,
    OrderTask,
    ProgrammedMemoryParams,
)
from .technologies import TechnologyParams
from .training import BaselineParams, FirstPrinciplesParams, MappingParams, QATParams

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
    "ChapterParams",
    "DESIGN_DEVICE",
    "DESIGN_RENAMED",
    "TechnologyParams",
    "ReportParams",
    "SHARED_FILE",
]
