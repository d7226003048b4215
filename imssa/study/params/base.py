"""What every chapter's parameters are made of: the shared settings, the bases of the chapter
schemas, the typed bounds used across them, and the helpers that vary a configuration."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field, ValidationError, field_validator, model_validator

from ...data.config import DataConfig
from ...hardware.crossbar import Layout, layout
from ...hardware.devices import DeviceConfig
from ...hardware.presets import PRESETS, preset_device
from ...model.config import ModelConfig, PoleCap, TrainConfig
from ...schema import Strict


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
    folds: list[int] = Field(
        default=[0, 1, 2, 3, 4, 5],
        min_length=1,
        description="loso folds (test speaker index); [0] for the other splits",
    )
    selection_seeds: list[int] = Field(
        default=[0], min_length=1, description="seeds of the validation sweeps"
    )
    workers: int = Field(default=1, ge=1, description="runs trained side by side, 1 thread each")
    qat_train: TrainConfig = TrainConfig(epochs=10, lr=0.003, ssm_lr=0.003)
    init: Literal["float", "scratch"] = "float"
    fscale: float = Field(
        default=0.7, gt=0, description="the fixed range shared by Re/Im of A_bar, B_bar, C"
    )
    r_max: PoleCap | None = Field(default=None, description="pole cap of every quantized model")
    adaptive_scale_rule: Literal["max_abs", "mse"] = Field(
        default="mse",
        description=(
            "scale of the dynamic and per-channel ranges: each tensor's (channel's) max-abs, or "
            "the scale that minimises its quantization error (TWN's fitted threshold and scale at "
            "2 bits); the fixed range keeps fscale"
        ),
    )
    fold_choices: dict[int, dict[str, int | float]] = Field(
        default_factory=dict,
        description=(
            "per fold, the parameter values (dotted paths, e.g. train.lr) of its nested choice "
            "where it differs from this file's: the choice behind that fold's test numbers, made "
            "without its test speaker (selection.nested_choices checks that this holds the nested "
            "choice)"
        ),
    )
    map_bits: ModelBits = Field(default=2, description="bit width of the model mapped")
    g_min_uS: float = Field(default=10.0, ge=0, description="conductance of level 0, uS")
    g_max_uS: float = Field(default=100.0, gt=0, description="conductance of the top level, uS")
    rows: int = Field(default=64, ge=1, description="array rows (inputs)")
    cols: int = Field(default=64, ge=1, description="array columns (outputs)")
    g_phys_max_uS: float = Field(
        default=150.0, gt=0, description="top of the physical conductance window, uS"
    )
    headroom: float = Field(
        default=2.0,
        ge=1,
        description=(
            "converter range in fast-mode sweeps, in units of the largest ideal input/output on "
            "training clips"
        ),
    )
    devices_per_element: list[Literal[8, 16]] = Field(
        default=[16, 8],
        min_length=1,
        description=(
            "devices per complex element of A_bar (16: the paper's 4 x 4 block); the first is the "
            "default"
        ),
    )

    #: first parts of the paths ``fold_choices`` may set: what a trained model depends on
    FOLD_CHOICE_ROOTS: ClassVar[frozenset[str]] = frozenset(
        {"data", "model", "train", "qat_train", "fscale", "r_max", "adaptive_scale_rule"}
    )

    @field_validator("fold_choices", mode="before")
    @classmethod
    def _fold_numbers(cls, value: Any) -> Any:
        """Folds as numbers also where the values came through JSON (papermill), whose keys are
        text."""
        if isinstance(value, dict):
            return {
                int(k) if isinstance(k, str) and k.isdigit() else k: v for k, v in value.items()
            }
        return value

    def scale_rule(self, range_mode: str) -> Literal["max_abs", "mse"]:
        """The scale rule of a quantized model with ``range_mode``: the fixed range has none of its
        own."""
        return "max_abs" if range_mode == "fixed" else self.adaptive_scale_rule

    def device(self, choice: PresetChoice) -> DeviceConfig:
        """The device of a preset ``choice``: its preset on this array's ``window``, then its
        overrides (``presets.preset_device``)."""
        return preset_device(choice.preset, self.window, **choice.overrides)

    def block_layout(self, devices_per_element: int, size: int | None = None) -> Layout:
        """The model's block layout (H channels of 2N + 1 rows and columns) on this array,
        ``rows`` x ``cols``, or ``size`` x ``size`` where given, at ``devices_per_element``."""
        rows, cols = (self.rows, self.cols) if size is None else (size, size)
        H, N = self.model.H, self.model.N
        return layout(
            H, 2 * N + 1, rows, cols, kind="block", devices_per_element=devices_per_element
        )

    @property
    def window(self) -> dict[str, float]:
        """The conductance window (uS) as ``DeviceConfig`` keys: mapping range and physical top."""
        return {
            "g_min_uS": self.g_min_uS,
            "g_max_uS": self.g_max_uS,
            "g_phys_max_uS": self.g_phys_max_uS,
        }

    @model_validator(mode="after")
    def _check_shared(self) -> Shared:
        if len(set(self.folds)) != len(self.folds) or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(
                f"folds and seeds must not repeat, got folds {self.folds}, seeds {self.seeds}"
            )
        if self.data.split != "loso" and self.folds != [0]:
            raise ValueError(
                f"folds: split {self.data.split!r} has one fold, [0]; got {self.folds}"
            )
        if self.g_min_uS >= self.g_max_uS:
            raise ValueError(f"g_min_uS ({self.g_min_uS}) must be < g_max_uS ({self.g_max_uS})")
        if self.g_phys_max_uS < self.g_max_uS:
            raise ValueError(
                f"g_phys_max_uS ({self.g_phys_max_uS}) must be >= g_max_uS ({self.g_max_uS})"
            )
        for fold, values in self.fold_choices.items():
            if fold not in self.folds:
                raise ValueError(
                    f"fold_choices names fold {fold}, which is not among folds {self.folds}"
                )
            for path, value in values.items():
                if path.split(".")[0] not in self.FOLD_CHOICE_ROOTS or path == "data.fold":
                    raise ValueError(
                        f"fold_choices.{fold}.{path}: a fold may set only what a trained model "
                        f"depends on (paths under {sorted(self.FOLD_CHOICE_ROOTS)}, not data.fold)"
                    )
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
        (``results.checkpoint_path``, which adds the library's digest) stays valid exactly as long
        as none of it changes, so no new field can silently reuse a stale checkpoint."""
        return self.model_dump_json(exclude={"shared": set(self.NOT_IN_RESULTS)})


def _check_grid(shared: Shared, grid: dict[str, list[Any]], name: str) -> None:
    """Every key of a selection grid is a path of the ``shared`` settings and every value is valid
    there."""
    for path, values in grid.items():
        if not values:
            raise ValueError(f"{name}.{path}: give at least one value")
        for value in values:
            try:
                replaced(shared, path, value)
            except ParamsError as err:
                raise ValueError(f"{name}.{path} = {value!r}: {err}") from None


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
    chapter validated as a whole like a parameter file: the unit of a one-at-a-time validation
    sweep."""
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
                msg = (
                    "a shared setting (_shared.yaml): give it under 'shared:', "
                    f"e.g. shared: {{{e['loc'][0]}: ...}}"
                )
        lines.append(f"  - {key}: {msg}" + (f" (got {e.get('input')!r})" if e["loc"] else ""))
    return "\n".join(lines)
