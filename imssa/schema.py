"""The base of every typed configuration: unknown keys are errors, values are not coerced, and
renamed keys are named."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator

__all__ = ["Strict", "renamed_message"]


class Strict(BaseModel):
    """Base: unknown keys are errors, values are not silently coerced across types.

    ``RENAMED`` maps a key a class no longer has to what replaced it (a key or dotted path, or a
    sentence saying where the setting went): a configuration that still gives the old key fails
    with a message naming the replacement (``renamed_message``), not as merely unknown."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    RENAMED: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _reject_renamed(cls, values: Any) -> Any:
        if isinstance(values, dict):
            old = [key for key in values if key in cls.RENAMED]
            if old:
                raise ValueError(renamed_message(cls.RENAMED, old))
        return values


def renamed_message(renamed: dict[str, str], old: list[str]) -> str:
    """One clause per key of ``old``: "'key' is now 'new_key'" (a key or dotted path, quoted), or
    "'key' is now <sentence>" where ``renamed`` says where the setting went in words."""

    def named(new: str) -> str:
        return repr(new) if re.fullmatch(r"[\w.]+", new) else new

    return "; ".join(f"{key!r} is now {named(renamed[key])}" for key in old)
