"""How a device field declares what it asks of a simulation: ``param`` and ``effects``.

Every field of a device part (``physics``, ``converters``, ``devices``) is declared with
``param``: whether a value other than its default needs step mode (``step``), whether it makes a
programming random (``random``) and which factor field silences it (``scaled_by``).
``DeviceConfig.needs_step`` and ``DeviceConfig.random_at`` read these declarations (``effects``):
no list of fields is kept by hand.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from pydantic import Field

from ..schema import Strict

__all__ = ["RANDOM_KINDS", "effects", "param"]

#: The kinds of randomness a field can bring to a programming (``param``'s ``random``).
RANDOM_KINDS = ("write", "age", None)


def param(
    default: Any,
    *,
    step: bool,
    random: Literal["write", "age"] | None,
    scaled_by: str | None = None,
    **field: Any,
) -> Any:
    """A device field that declares its effects: ``step``, whether a value other than ``default``
    needs step mode; ``random``, whether such a value makes a programming random ('write': always;
    'age': only when read some time after programming; None: never); ``scaled_by``, the name of a
    factor field that silences this one at 0. ``field``: pydantic ``Field`` arguments."""
    if random not in RANDOM_KINDS:
        raise ValueError(f"random must be one of {RANDOM_KINDS}, got {random!r}")
    extra = {"step": step, "random": random, "scaled_by": scaled_by}
    return Field(default=default, json_schema_extra=extra, **field)


@functools.cache
def effects(model: type[Strict]) -> dict[str, dict[str, Any]]:
    """Each field's declared effects ({name: {'step', 'random', 'scaled_by'}}) of a device part;
    ValueError naming the fields that declare none (every field must go through ``param``)."""
    out = {name: info.json_schema_extra for name, info in model.model_fields.items()}
    missing = sorted(
        name for name, e in out.items() if not isinstance(e, dict) or {"step", "random"} - set(e)
    )
    if missing:
        raise ValueError(
            f"{model.__name__} fields without a declared step/random effect (use fields.param): "
            f"{missing}"
        )
    return out  # type: ignore[return-value]
