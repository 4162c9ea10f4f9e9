"""Clips: clip-level metadata plus one raw value per modality name, and their time windows."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from archon_framework._errors import RawValueError

__all__ = ["ClipMeta", "Clip"]


def _positive(instance, attribute, value) -> None:
    if not (value > 0):
        raise RawValueError(f"ClipMeta.{attribute.name} must be positive, got {value!r}")


@attrs.frozen(kw_only=True)
class ClipMeta:
    """Clip-level metadata shared by every modality of a clip (or of a window of one).

    Attributes:
        clip_id: identifier, unique in its dataset.
        duration: seconds.
        frame_rate: video frames per second (30 in the paper).
        sample_rate: audio samples per second (16 kHz in the paper).
        source: where the clip came from (dataset name, file).
        start: offset of this window in the original clip, seconds.
    """

    clip_id: str
    duration: float = attrs.field(converter=float, validator=_positive)
    frame_rate: float = attrs.field(converter=float, validator=_positive)
    sample_rate: int = attrs.field(converter=int, validator=_positive)
    source: str = ""
    start: float = attrs.field(default=0.0, converter=float)

    @property
    def frames(self) -> int:
        """Number of video frames: round(duration x frame_rate)."""
        return int(round(self.duration * self.frame_rate))

    @property
    def samples(self) -> int:
        """Number of audio samples: round(duration x sample_rate)."""
        return int(round(self.duration * self.sample_rate))

    def window(self, start: float, duration: float, *, suffix: str) -> ClipMeta:
        """Metadata of the sub-window [start, start + duration) of this clip, in seconds."""
        if start < 0 or duration <= 0 or start + duration > self.duration + 1e-9:
            raise RawValueError(
                f"clip {self.clip_id!r}: window [{start}, {start + duration}) s is outside 0..{self.duration} s"
            )
        return attrs.evolve(self, clip_id=f"{self.clip_id}:{suffix}", duration=duration, start=self.start + start)


@attrs.frozen
class Clip(Mapping[str, Any]):
    """One synchronized clip: metadata plus raw values keyed by modality name.

    The core has no fixed field list: any installed modality's value rides along, and each
    modality's declaration (`Modality.raw`, `Modality.validate`) says what it must be.
    A Clip is a read-only mapping: `clip["speech"]`, `"speech" in clip`, `list(clip)`.
    """

    meta: ClipMeta
    values: Mapping[str, Any] = attrs.field(factory=dict, converter=dict)  # type: ignore[assignment]

    def __getitem__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise KeyError(
                f"clip {self.meta.clip_id!r} has no {name!r} value (it has: {', '.join(sorted(self.values)) or 'none'})"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)

    @property
    def clip_id(self) -> str:
        return self.meta.clip_id

    def with_values(self, **values: Any) -> Clip:
        """A copy with some values added or replaced."""
        return Clip(self.meta, {**self.values, **values})
