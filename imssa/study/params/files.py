"""Parameter files: reading YAML with line numbers, the profile's shared file, merging, and
validation against a chapter's schema with every bad key named."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .base import ChapterParams, ModelParams, ParamsError, Shared, _describe
from .design import ReportParams, ScaleParams, StrategyParams
from .hardware import DeploymentParams, MarginParams, PeripheryParams
from .memory import MemoryParams, ProgrammedMemoryParams
from .technologies import TechnologyParams
from .training import BaselineParams, FirstPrinciplesParams, MappingParams, QATParams

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


def validate_params(
    chapter: str, values: dict[str, Any], source: str = "parameters"
) -> ChapterParams:
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
        what = " ".join(
            str(x) for x in (getattr(err, "context", None), getattr(err, "problem", None)) if x
        ) or str(err)
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
        out[key] = (
            merge(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
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
        raise ParamsError(
            f"{path}: {unknown} are not shared settings; shared: {sorted(Shared.model_fields)}"
        )
    return values


def chapter_file_values(chapter: str, path: str | Path) -> dict[str, Any]:
    """The values of a chapter's parameter file, with its profile's shared settings
    (``_shared.yaml`` in the same folder) as its ``shared`` block where the chapter contains one.
    Beside a ``_shared.yaml`` a chapter file may not set ``shared`` itself: then one edit could
    leave two chapters disagreeing (a file alone in its folder may)."""
    if chapter not in CHAPTERS:
        raise ParamsError(f"unknown chapter {chapter!r}; known: {sorted(CHAPTERS)}")
    path = Path(path)
    values = read_yaml(path)
    shared = shared_values(path.parent)
    if "shared" in values and shared:
        raise ParamsError(
            f"{path}: 'shared' is {path.parent / SHARED_FILE}, which every chapter shares; change "
            "it there (or in a reader's file laid over the chapter's)"
        )
    again = sorted(set(values) & set(Shared.model_fields) - set(CHAPTERS[chapter].model_fields))
    if again:
        raise ParamsError(
            f"{path}: {again} are shared settings, set in {path.parent / SHARED_FILE}; change them "
            "there (or under 'shared:' in a reader's file laid over the chapter's)"
        )
    if not issubclass(CHAPTERS[chapter], ModelParams) or not shared:
        return values
    return {"shared": shared} | values


def load_params(chapter: str, path: str | Path) -> ChapterParams:
    """Read a chapter's YAML parameter file, with its profile's shared settings
    (``chapter_file_values``), and validate it for ``chapter``."""
    values = chapter_file_values(chapter, path)
    return validate_params(chapter, values, source=str(path))
