"""The base of every typed configuration: unknown keys are errors and values are not coerced."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator

__all__ = ["Strict"]


class Strict(BaseModel):
    """Base: unknown keys are errors, values are not silently coerced across types. A subclass lists
    its renamed keys in ``renamed_keys`` (old key -> what replaced it): an old key is rejected with a
    message naming its replacement, not as merely unknown."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    #: old key -> its replacement (a new key, or a sentence saying where the setting went)
    renamed_keys: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _reject_renamed_keys(cls, data: Any) -> Any:
        old = sorted(set(data) & set(cls.renamed_keys)) if isinstance(data, dict) else []
        if old:
            named = "; ".join(f"{key!r} is now {cls.renamed_keys[key]}" for key in old)
            raise ValueError(f"renamed keys in {cls.__name__}: {named}")
        return data
