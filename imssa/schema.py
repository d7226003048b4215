"""The base of every typed configuration: unknown keys are errors, values are not coerced, and
renamed keys are named."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator

__all__ = ["Strict"]


class Strict(BaseModel):
    """Base: unknown keys are errors, values are not silently coerced across types.

    ``RENAMED`` maps a key a class no longer has to the key (or dotted path) that replaced it: a
    configuration that still gives the old key fails with a message naming the new one."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    RENAMED: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _reject_renamed(cls, values: Any) -> Any:
        if isinstance(values, dict):
            old = [key for key in values if key in cls.RENAMED]
            if old:
                raise ValueError("; ".join(f"{key!r} was renamed: give it as {cls.RENAMED[key]!r}"
                                           for key in old))
        return values
