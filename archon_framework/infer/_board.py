"""The values of a chain run: per slot its global ids and/or raw value, crossing by the slot codec.

A condition comes in as a raw value or as `Ids`; a step's output as the ids it generated and
the value they decode to. A later step reads each of its inputs as a payload of global ids:
the ids as generated, or the raw value tokenized by the modality's `SlotCodec` exactly as
`TokenCache` tokenizes a training slot (valid generated text is tokenized again canonically,
as a training input's text is).
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from archon_framework._clip import Clip, ClipMeta
from archon_framework._errors import ArchonError, PromptError, RawValueError, TaskError
from archon_framework._modality import Modality
from archon_framework._prompt import Payload
from archon_framework._tasks import Slot, State
from archon_framework._windows import clip_windows, static_frame
from archon_framework.infer._model import LoadedModel

__all__ = ["Ids", "Board", "lenient_text"]


@attrs.frozen(eq=False)
class Ids:
    """A condition given as token ids rather than as a raw value.

    Attributes:
        ids: int [n] ids.
        local: True for the modality tokenizer's local ids, False for global ids.
    """

    ids: np.ndarray = attrs.field(converter=lambda a: np.asarray(a))
    local: bool = True


class Board:
    """The values of a chain run: per slot its global ids and/or raw value."""

    def __init__(self, model: LoadedModel, meta: ClipMeta) -> None:
        self.model, self.meta = model, meta
        self.windows = clip_windows(meta, has_past=False)
        self.ids: dict[Slot, np.ndarray] = {}
        self.raw: dict[Slot, Any] = {}
        self.valid: dict[Slot, str] = {}  # slot -> why its raw value is invalid

    # ------------------------------------------------------------------ windows
    def window(self, slot: Slot) -> ClipMeta:
        mod = self.model.registry.modality(slot.modality)
        if not mod.temporal:
            return self.meta
        if slot.state is State.PAST:
            raise TaskError(f"{slot}: a past window is not part of a generated clip")
        return self.windows[slot.state]

    def expected_tokens(self, slot: Slot) -> int | None:
        return self.model.registry.modality(slot.modality).token_count(self.window(slot))

    # ------------------------------------------------------------------ conditions
    def put_condition(self, slot: Slot, value: Any) -> None:
        mod = self.model.registry.modality(slot.modality)
        where = f"condition {slot}"
        if mod.rendered:
            raise TaskError(f"{where}: {slot.modality!r} is rendered and cannot condition the language model")
        if isinstance(value, Ids):
            rng = self.model.layout.range(mod.vocabulary)  # type: ignore[arg-type]  # ids need no tokenizer: none is loaded
            ids = value.ids
            if ids.ndim != 1 or (ids.size and not np.issubdtype(ids.dtype, np.integer)):
                raise RawValueError(f"{where}: token ids must be a 1-D integer array, got {ids.dtype} {ids.shape}")
            glob = rng.to_global(ids) if value.local else ids.astype(np.int32)
            if not value.local and not np.all(rng.contains(glob)):
                raise RawValueError(f"{where}: global ids outside the {mod.vocabulary.name!r} range {rng.start}..{rng.stop - 1}")  # type: ignore[union-attr]
            if slot.state is not State.PAST:
                n = self.expected_tokens(slot)
                if n is not None and glob.shape[0] != n:
                    raise RawValueError(
                        f"{where}: {glob.shape[0]} token ids, but {slot.modality!r} takes {n} for a "
                        f"{self.window(slot).duration:g} s window"
                    )
            self.ids[slot] = glob
            return
        if slot.state is State.PAST:
            raise TaskError(f"{where}: give a past condition as token ids (Ids), its window is not part of the clip")
        if mod.temporal and slot.state is State.STATIC:
            value = self._frame(mod, value)
        self.raw[slot] = mod.check_raw(value, self.window(slot))  # RawValueError names clip and modality

    def _frame(self, mod: Modality, value: Any) -> Any:
        """The value of a time-invariant slot of a temporal modality (``expression(t)``): the
        frame it reads, given as that frame or as the clip's whole value, from which the frame is
        cut as training cuts it (`static_frame`). Anything else is left to `check_raw` to refuse.
        The caller checks the cut frame too: a plugin's `Modality.window` may have cut it."""
        frame = self.windows[State.STATIC]
        if frame.duration == self.meta.duration:
            return value
        try:
            whole = mod.check_raw(value, self.meta)
        except ArchonError:  # not the whole clip's value: checked as the frame by the caller
            return value
        return static_frame(Clip(self.meta, {mod.name: whole}), mod)[0]

    # ------------------------------------------------------------------ access
    def raw_value(self, slot: Slot) -> Any:
        """The raw value of a slot, decoding ids or cutting a frame out of its current value."""
        if slot in self.raw:
            return self.raw[slot]
        mod = self.model.registry.modality(slot.modality)
        if slot in self.ids:
            value = self.model.codec(slot.modality).decode(self.ids[slot], self.window(slot))
        elif mod.temporal and slot.state is State.STATIC and Slot(slot.modality, State.CURRENT) in self.available():
            clip = Clip(self.meta, {slot.modality: self.raw_value(Slot(slot.modality, State.CURRENT))})
            value, _ = static_frame(clip, mod)
        else:
            raise TaskError(f"{slot} is neither a condition nor generated")
        self.raw[slot] = value
        return value

    def available(self) -> set[Slot]:
        return set(self.ids) | set(self.raw)

    def payload(self, slot: Slot) -> Payload:
        """The slot's payload: its ids, or its raw value through the modality's `SlotCodec`."""
        if slot in self.ids:
            return Payload(slot, self.ids[slot])
        value, meta = self.raw_value(slot), self.window(slot)
        if slot in self.valid:
            raise RawValueError(f"{slot}: its value is not valid, so it cannot be tokenized ({self.valid[slot]})")
        self.ids[slot] = self.model.codec(slot.modality).encode(value, meta)
        return Payload(slot, self.ids[slot])

    # ------------------------------------------------------------------ outputs
    def settle(self, slot: Slot, ids: np.ndarray | None, value: Any, valid: bool, note: str) -> None:
        """Record a step's output for the steps after it."""
        self.raw[slot] = value
        if ids is not None:
            self.ids[slot] = ids
        if not valid:
            self.valid[slot] = note or "no value"
        elif ids is not None and self.model.serializer.is_text(slot.modality):
            # Later steps read generated text as a training input reads text: tokenized canonically.
            codec = self.model.codec(slot.modality)
            try:
                self.ids[slot] = codec.from_text(codec.text_of(value))
            except ArchonError:
                pass


def lenient_text(model: LoadedModel, global_ids: np.ndarray) -> tuple[str, str]:
    """Generated text payload -> (text, note); a payload that is not a JSON literal is unquoted."""
    ser = model.serializer
    if len(global_ids) == 0:
        return "", "empty text (the end-of-sequence id came first)"
    try:
        return ser.decode_text_payload(global_ids), ""
    except PromptError:
        text = ser.codec.decode_text(model.layout.range("text").to_local(global_ids))
        if text.startswith('"'):
            text = text[1:]
        if text.endswith('"') and not text.endswith('\\"'):
            text = text[:-1]
        return text, "the generated text is not a JSON string literal; its characters are kept as they came"
