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

    Tasks: ``digits`` (the main task: one clip, its digit is the class) or ``order`` (the memory
    task): two words of one speaker, one clip of ``digits[0]`` and one of ``digits[1]``, each
    cropped or padded to ``duration_s``, with ``gap_s`` of silence before, between and after them;
    the class is the order (0: ``digits[0]`` first). Every pair of clips appears in both orders, so
    a model whose features are pooled over time and reach back at most gap_s * sample_rate + 1
    samples sees the same frames in both orders and is at chance by construction. Each clip of
    ``digits[0]`` is paired with ``pairs_per_clip`` clips of ``digits[1]`` of the same speaker.
    """

    dataset: Literal["fsdd", "heidelberg"] = "fsdd"
    digits: list[int] = Field(default=[0, 1], min_length=2)
    language: Literal["english", "german", "both"] = "english"  # Heidelberg Digits only
    sample_rate: int = Field(default=2000, gt=0, description="Hz, after polyphase resampling")
    duration_s: float = Field(default=1.0, gt=0, description="seconds: crop or zero-pad to this")
    normalize: Literal["none", "peak", "rms"] = "rms"
    split: Literal["loso", "official", "leave_speakers_out"] = "loso"
    fold: int = Field(
        default=0, ge=0, description="loso: index of the test speaker in sorted order"
    )
    test_speakers: list[str] = Field(default_factory=list)
    val_speakers: list[str] = Field(
        default_factory=list, description="leave_speakers_out: validation speakers"
    )
    val_fraction: float = Field(
        default=0.1, ge=0, lt=1, description="official (or no val_speakers): share of train"
    )
    seed: int = 0
    task: Literal["digits", "order"] = "digits"
    gap_s: float = Field(
        default=0.0, ge=0, description="order task: seconds of silence after each word"
    )
    pairs_per_clip: int = Field(
        default=1, ge=1, description="order task: partners of each digits[0] clip"
    )
    order_classes: Literal[2, 4] = Field(
        default=2, description="order task: 2 (XY, YX) or 4 (XY, YX, XX, YY)"
    )
    front_end: Literal["waveform", "logmel"] = "waveform"
    hop_ms: float | None = Field(
        default=None, gt=0, description="logmel: ms between steps (a whole number of samples)"
    )
    frame_ms: float | None = Field(
        default=None, gt=0, description="logmel: ms of audio per step, ending at the step"
    )
    n_mels: int | None = Field(
        default=None, ge=1, description="logmel: mel bands (features per step)"
    )

    @model_validator(mode="after")
    def _check(self) -> DataConfig:
        if any(d < 0 or d > 9 for d in self.digits) or len(set(self.digits)) != len(self.digits):
            raise ValueError(f"digits must be distinct integers in 0..9, got {self.digits}")
        if self.split == "leave_speakers_out" and not self.test_speakers:
            raise ValueError("split 'leave_speakers_out' needs a non-empty test_speakers list")
        if set(self.test_speakers) & set(self.val_speakers):
            raise ValueError(
                "a speaker cannot be in both test_speakers and val_speakers: "
                f"{self.test_speakers}, {self.val_speakers}"
            )
        if self.split != "leave_speakers_out" and (self.test_speakers or self.val_speakers):
            raise ValueError(
                "test_speakers / val_speakers belong to split 'leave_speakers_out', "
                f"not {self.split!r}"
            )
        if self.task == "order" and (len(self.digits) != 2 or self.dataset != "fsdd"):
            raise ValueError(
                f"task 'order' pairs two FSDD digits (one of each per sequence), got dataset "
                f"{self.dataset!r} and digits {self.digits}"
            )
        if self.task != "order" and (
            self.gap_s != 0.0 or self.pairs_per_clip != 1 or self.order_classes != 2
        ):
            raise ValueError("gap_s, pairs_per_clip and order_classes belong to task 'order'")
        self._check_front_end()
        if self.split != "loso" and self.fold != 0:
            raise ValueError(f"fold belongs to split 'loso', not {self.split!r}")
        return self

    def _check_front_end(self) -> None:
        given = [k for k in ("hop_ms", "frame_ms", "n_mels") if getattr(self, k) is not None]
        if self.front_end == "waveform":
            if given:
                raise ValueError(f"{', '.join(given)} belong to front_end 'logmel'")
            return
        if len(given) != 3:
            raise ValueError("front_end 'logmel' needs hop_ms, frame_ms and n_mels")
        hop = self.hop_ms * self.sample_rate / 1000  # type: ignore[operator]
        if abs(hop - round(hop)) > 1e-9 or round(hop) < 1:
            raise ValueError(
                f"hop_ms {self.hop_ms} is {hop:g} samples at {self.sample_rate} Hz: it must be a "
                "whole number of samples, at least one"
            )
        if self.frame_ms < self.hop_ms:  # type: ignore[operator]
            raise ValueError(
                f"frame_ms ({self.frame_ms}) must be >= hop_ms ({self.hop_ms}): every sample in a "
                "frame"
            )
        if self.n_mels > self.n_fft // 2 + 1:  # type: ignore[operator]
            raise ValueError(
                f"n_mels {self.n_mels} exceeds the {self.n_fft // 2 + 1} frequency bins of a "
                f"{self.frame_ms} ms frame at {self.sample_rate} Hz"
            )
        if self.steps < 1:
            raise ValueError(
                f"a clip of {self.length} samples holds no hop of {self.hop_length} samples"
            )

    @property
    def n_classes(self) -> int:
        """Classes of the task: the two orders of task 'order'; else one per digit; Heidelberg
        Digits with both languages has one per digit and language (its 20 classes: German digit d
        is class d + len(digits))."""
        if self.task == "order":
            return self.order_classes
        return len(self.digits) * (
            2 if self.dataset == "heidelberg" and self.language == "both" else 1
        )

    @property
    def length(self) -> int:
        """Sequence length L in samples (task 'order': two words and three gaps)."""
        word = round(self.sample_rate * self.duration_s)
        return 2 * word + 3 * self.gap_length if self.task == "order" else word

    @property
    def gap_length(self) -> int:
        """Samples of one gap of silence of task 'order'."""
        return round(self.sample_rate * self.gap_s)

    @property
    def hop_length(self) -> int:
        """Samples per step of the recurrence (1 for the waveform)."""
        return 1 if self.hop_ms is None else round(self.hop_ms * self.sample_rate / 1000)

    @property
    def n_fft(self) -> int:
        """Samples per frame of the logmel front end (1 for the waveform)."""
        return 1 if self.frame_ms is None else round(self.frame_ms * self.sample_rate / 1000)

    @property
    def step_rate(self) -> float:
        """Steps of the recurrence per second, Hz (the waveform: ``sample_rate``)."""
        return self.sample_rate / self.hop_length

    @property
    def steps(self) -> int:
        """Steps per sequence: ``length`` samples in whole hops."""
        return self.length // self.hop_length

    @property
    def features(self) -> int:
        """Values per step that the encoder receives: 1 (waveform) or ``n_mels``."""
        return 1 if self.n_mels is None else self.n_mels
