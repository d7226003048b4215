"""The device record of a memristive crossbar: device and periphery non-idealities as data with
units, composed of typed parts.

A ``DeviceConfig`` is the union of its ``PARTS``, each a typed record usable on its own:

* ``DevicePhysics`` (``physics``), the devices: ``Window`` (mapping range, physical window,
  states), ``Programming`` (programming noise, its shape and clipping, write-verify), ``Faults``
  (unprogrammed cross-points, stuck devices), ``Ageing`` (drift, 1/f read noise, relaxation);
* ``Periphery`` (``converters``): ``Converters`` (resolution, input encoding, offsets and gain
  errors and their correction, read noise, drift compensation) and ``ConverterRanges`` (full
  scales set per model from the ideal array's peaks and a headroom: ``ranges.converter_ranges``);
* ``Check`` (here): the channel check after programming (``check``);
* ``Wires`` (here): wire resistance (``wires``).

The time after programming is not part of the record: it is the argument ``t_s`` of whatever
programs and ages at a time (``conductance.program``, ``noise.drift_factor``, ``random_at``).

Every field declares, in its own definition (``fields.param``), what it asks of a simulation:
whether a value other than its default needs step mode (``step``) and whether it makes a
programming random (``random``: 'write' always, 'age' only read after some time, None never;
``scaled_by``: a factor field that silences it at 0). ``needs_step`` and ``random_at`` read these
declarations: no list of fields is kept by hand. The noise models the fields parametrise are in
``noise``; presets live in ``presets``, composed from these parts.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import TypeAdapter

from ..schema import Strict, renamed_message
from .converters import ConverterRanges, Converters, Periphery
from .fields import effects, param
from .physics import Ageing, DevicePhysics, Faults, Programming, Window

__all__ = ["PARTS", "Check", "DeviceConfig", "Wires"]


class Check(Strict):
    """The channel check after programming (``check``): a channel whose measured impulse response is
    too far from its target's, or whose recurrence is unstable, is reprogrammed."""

    check_tolerance: float | None = param(
        None,
        step=False,
        random=None,
        gt=0,
        description=(
            "a channel whose measured impulse response (check_steps steps) is further than this "
            "relative L2 error from its target's, or whose recurrence is unstable, is reprogrammed "
            "(all its devices, fresh draws), up to check_max_rounds times; None: no check"
        ),
    )
    check_max_rounds: int = param(
        5,
        step=False,
        random=None,
        ge=1,
        description="reprogramming rounds of the check after programming",
    )
    check_steps: int = param(
        256,
        step=False,
        random=None,
        ge=1,
        description="length of the impulse response the check measures",
    )


class Wires(Strict):
    """The wires of an array (IR drop, ``wires``)."""

    wire_resistance_ohm: float = param(
        0.0,
        step=False,
        random=None,
        ge=0,
        description=(
            "resistance of one wire segment between neighbouring cross-points, Ohm (IR drop, "
            "``wires``); 0: ideal wires"
        ),
    )
    channels_per_array: int = param(
        1,
        step=False,
        random=None,
        ge=1,
        description=(
            "channel blocks packed along the diagonal of one array (their wires pass the blocks "
            "before them); enters only with wire resistance"
        ),
    )


#: The parts of a ``DeviceConfig``, each with its own fields (no name in two parts).
PARTS: tuple[type[Strict], ...] = (
    Window,
    Programming,
    Faults,
    Ageing,
    Converters,
    ConverterRanges,
    Check,
    Wires,
)


class DeviceConfig(DevicePhysics, Periphery, Check, Wires):
    """Non-idealities of one array and its periphery, the union of its ``PARTS`` (each key routes to
    its part by its unique name); every default is 'ideal'."""

    RENAMED: ClassVar[dict[str, str]] = {
        "verify_tolerance": "check_tolerance",
        "verify_rounds": "check_max_rounds",
        "verify_steps": "check_steps",
        "t_s": (
            "an argument, not a device key: the t_s of conductance.program, "
            "deploy.deployed_weights, a sweep cell's 't_s'"
        ),
    }

    @classmethod
    def compose(cls, *parts: Strict, **overrides: Any) -> DeviceConfig:
        """The record of ``parts`` (instances of ``PARTS`` or of their unions, e.g. a
        ``DevicePhysics`` and a ``Converters``), then ``overrides`` (any keys), validated as a
        whole. ValueError where two parts set the same key."""
        values: dict[str, Any] = {}
        for part in parts:
            own = {k: getattr(part, k) for k in part.model_fields_set}
            twice = sorted(set(values) & set(own))
            if twice:
                raise ValueError(f"keys set by two parts: {twice}")
            values |= own
        return cls.model_validate(values | overrides)

    @classmethod
    def check_keys(cls, keys: Any, where: str = "device overrides") -> None:
        """ValueError for any of ``keys`` that is no field of a part: a renamed one with its
        replacement (``RENAMED``), others as unknown. Flat override dicts route each key to its
        part by its unique name, so this is their whole check."""
        renamed = sorted(set(keys) & set(cls.RENAMED))
        unknown = sorted(set(keys) - set(cls.model_fields) - set(renamed))
        if renamed or unknown:
            named = renamed_message(cls.RENAMED, renamed)
            raise ValueError(
                "; ".join(
                    filter(
                        None,
                        [
                            renamed and f"renamed keys in {where}: {named}",
                            unknown and f"unknown keys in {where}: {unknown}",
                        ],
                    )
                )
            )

    @classmethod
    def validate_values(
        cls, values: dict[str, Any], where: str = "device overrides"
    ) -> dict[str, Any]:
        """``values`` (a flat dict of device keys) checked key by key against each key's field
        (``check_keys``, then its type and bounds), without the checks that relate fields: the
        settings a study holds apart and a record combines later."""
        cls.check_keys(values, where)
        return {
            k: TypeAdapter(
                Annotated[cls.model_fields[k].annotation, cls.model_fields[k]]
            ).validate_python(v, strict=True)
            for k, v in values.items()
        }

    def part(self, kind: type[Strict]) -> Strict:
        """This record's part ``kind`` (one of ``PARTS`` or a union of them), as its own record."""
        return kind.model_validate({k: getattr(self, k) for k in kind.model_fields})

    @property
    def needs_step(self) -> bool:
        """Whether anything departs from its default that only step mode simulates (the fields that
        declare ``step``: converter resolution, read noise, offsets and gain errors and their
        correction, bit-serial inputs, per-row and per-column ranges)."""
        return any(e["step"] and self._departs(name) for name, e in effects(type(self)).items())

    def random_at(self, t_s: float) -> bool:
        """Whether two programmings read ``t_s`` seconds after programming can differ: a field that
        declares ``random`` ('write'; 'age' where t_s > 0) departs from its default and no factor
        field (``scaled_by``) silences it. Cycle-to-cycle read noise is not a property of a
        programming."""
        kinds = {"write", "age"} if t_s > 0 else {"write"}
        return any(
            e["random"] in kinds
            and self._departs(name)
            and (e.get("scaled_by") is None or getattr(self, e["scaled_by"]) > 0)
            for name, e in effects(type(self)).items()
        )

    def _departs(self, name: str) -> bool:
        """Whether field ``name`` holds a value other than its default."""
        return getattr(self, name) != type(self).model_fields[name].default
