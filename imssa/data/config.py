"""Which audio, at which rate and length, split how: the data part of a model-cache key."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..schema import Strict

__all__ = ["DataConfig"]


class DataConfig(Strict):
    """Which audio, at which rate and length, split how.

    Splits (see ``imssa.data.audio.load_dataset``):

    * ``loso`` (the book's main task): leave one speaker out. Speakers in sorted order; fold k
      tests speaker k and validates on speaker k+1 (cyclically), trains on the rest, so test
      and validation are both speaker-disjoint from training.
    * ``leave_speakers_out``: the named ``test_speakers`` (and ``val_speakers``) held out.
    * ``official``: FSDD's recordings 0-4 (HD's file lists) as test; the same speakers train.
    """

    dataset: Literal["fsdd", "heidelberg"] = "fsdd"
    digits: list[int] = Field(default=[0, 1], min_length=2)
    language: Literal["english", "german", "both"] = "english"  # Heidelberg Digits only
    sample_rate: int = Field(default=2000, gt=0, description="Hz, after polyphase resampling")
    duration_s: float = Field(default=1.0, gt=0, description="seconds: crop or zero-pad to this")
    normalize: Literal["none", "peak", "rms"] = "rms"
    split: Literal["loso", "official", "leave_speakers_out"] = "loso"
    fold: int = Field(default=0, ge=0, description="loso: index of the test speaker in sorted order")
    test_speakers: list[str] = Field(default_factory=list)
    val_speakers: list[str] = Field(default_factory=list, description="leave_speakers_out: validation speakers")
    val_fraction: float = Field(default=0.1, ge=0, lt=1, description="official (or no val_speakers): share of train")
    seed: int = 0

    @model_validator(mode="after")
    def _check(self) -> DataConfig:
        if any(d < 0 or d > 9 for d in self.digits) or len(set(self.digits)) != len(self.digits):
            raise ValueError(f"digits must be distinct integers in 0..9, got {self.digits}")
        if self.split == "leave_speakers_out" and not self.test_speakers:
            raise ValueError("split 'leave_speakers_out' needs a non-empty test_speakers list")
        if set(self.test_speakers) & set(self.val_speakers):
            raise ValueError(f"a speaker cannot be in both test_speakers and val_speakers: {self.test_speakers}, "
                             f"{self.val_speakers}")
        if self.split != "leave_speakers_out" and (self.test_speakers or self.val_speakers):
            raise ValueError(f"test_speakers / val_speakers belong to split 'leave_speakers_out', not {self.split!r}")
        if self.split != "loso" and self.fold != 0:
            raise ValueError(f"fold belongs to split 'loso', not {self.split!r}")
        return self

    @property
    def n_classes(self) -> int:
        """Classes of the task: one per digit; Heidelberg Digits with both languages has one per
        digit and language (its 20 classes: German digit d is class d + len(digits))."""
        return len(self.digits) * (2 if self.dataset == "heidelberg" and self.language == "both" else 1)

    @property
    def length(self) -> int:
        """Sequence length L in samples."""
        return round(self.sample_rate * self.duration_s)
