"""The structured prompt (paper Sec. 3.2): natural-language keys, payloads in their ranges.

A training example for the task `speech(c)+script(c)->expression(c)` serializes to one token
sequence whose structural parts are text (encoded with the shared `text` vocabulary):

    {"inputs": [{"modality": "speech audio", "state": "current", "tokens": 100, "value":<100 speech ids>},
     {"modality": "script", "state": "current", "tokens": 9, "value":<9 text ids of "\"hello\"">}],
     "output": {"modality": "facial expression", "state": "current", "tokens": 60, "value":
    <60 expression ids>                                   <- the target (loss only here)

Everything up to and including the output's `"value":` is the prefix (bidirectional
attention); the payload after it is the target. Free-length (text) targets end with the text
vocabulary's end-of-sequence id. Two rules make the format safe and invertible:

* every input payload is length-prefixed (`"tokens": N`), so `parse` skips exactly N ids
  whatever they are: a payload can never be read as structure;
* text payloads are written as JSON string literals (quotes, backslashes and control
  characters escaped, after the text vocabulary's own normalization), so user text cannot
  forge keys in what the model reads either.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import attrs
import numpy as np

from archon_framework._capabilities import TextTokenizer
from archon_framework._codec import SlotCodec
from archon_framework._errors import ArchonError, PromptError, TaskError, VocabError
from archon_framework._modality import Modality
from archon_framework._tasks import Slot, State, Task
from archon_framework._vocab import TEXT_VOCABULARY, VocabLayout

__all__ = [
    "TextCodec", "TextModalityCodec", "Payload", "SerializedExample", "ParsedExample", "PromptSerializer",
    "TIME_STEPS", "token_times", "GRID_STEPS", "token_grid",
]

TIME_STEPS = 100
"""Time positions per clip window: the resolution of a token's time (``token_times``)."""


def token_times(n: int, state: State | None) -> np.ndarray:
    """The time position of each of the ``n`` tokens of a temporal payload, int32 ``[n]``.

    A window's tokens spread evenly over its ``TIME_STEPS`` instants, token ``i`` at
    ``floor(i * TIME_STEPS / n)``: a frame-ordered tokenizer's frame ``f`` of ``F`` then sits at
    ``f / F`` of the window whatever its rate (25 speech frames or 8 expression latents a
    second), so the tokens of one instant of two modalities share a time. A past window sits
    one window earlier (``-TIME_STEPS``); tokens without a time (text, headers, time-invariant
    and free-length payloads: ``state`` None) are all at time 0. Models with
    ``PrefixLMConfig.time_pairs > 0`` rotate by it (``apply_rope``).
    """
    if state is None or state is State.STATIC or n == 0:
        return np.zeros(n, np.int32)
    times = (np.arange(n, dtype=np.int64) * TIME_STEPS) // n
    return (times - (TIME_STEPS if state is State.PAST else 0)).astype(np.int32)


GRID_STEPS = 32
"""Rows (and columns) of the grid common to every raster modality: the resolution of a code's
place in its frame (``token_grid``)."""


def token_grid(n: int, grid: tuple[int, int] | None) -> np.ndarray:
    """The place in its frame of each of the ``n`` codes of a raster payload, int32 ``[n, 2]``.

    A tokenizer with ``Modality.grid = (R, C)`` emits frames of ``R x C`` codes, row-major; code
    ``i`` sits at row ``r = (i mod RC) // C`` and column ``c = i mod C`` of its frame, given on the
    common ``GRID_STEPS x GRID_STEPS`` grid at the centre of the cell it covers,
    ``floor((2r + 1) GRID_STEPS / 2R)``: an image's 16 x 16 code ``(R', C')`` lands at
    ``(2R' + 1, 2C' + 1)`` and a semantic video's 8 x 8 code ``(r, c)`` at ``(4r + 2, 4c + 2)``,
    between the four image codes it covers. Codes without a grid (``grid`` None) sit at
    ``(0, 0)``. Models with ``PrefixLMConfig.space_pairs > 0`` rotate by it (``apply_rope``).

    Raises:
        PromptError: ``n`` is not a whole number of frames.
    """
    if grid is None or n == 0:
        return np.zeros((n, 2), np.int32)
    rows, cols = grid
    per = rows * cols
    if n % per:
        raise PromptError(f"a payload of {n} codes is not whole frames of {rows} x {cols} codes")
    i = np.arange(n, dtype=np.int64) % per
    r, c = i // cols, i % cols
    return np.stack([(2 * r + 1) * GRID_STEPS // (2 * rows), (2 * c + 1) * GRID_STEPS // (2 * cols)], axis=1).astype(np.int32)


@runtime_checkable
class TextCodec(Protocol):
    """What the serializer needs from the tokenizer of the `text` vocabulary."""

    @property
    def eos_id(self) -> int:
        """Local id of end-of-sequence."""
        ...

    def encode_text(self, text: str) -> np.ndarray:
        """str -> int32 local ids (no end-of-sequence)."""
        ...

    def decode_text(self, local_ids: np.ndarray) -> str:
        """int32 local ids -> str."""
        ...

    def normalize_text(self, text: str) -> str:
        """The normalization `decode_text(encode_text(t))` applies (identity for lossless codecs)."""
        ...


#: The former name of `TextTokenizer` (the text capability of a tokenizer).
TextModalityCodec = TextTokenizer


@attrs.frozen(eq=False)
class Payload:
    """One slot's value in global ids (text payloads already escaped and encoded)."""

    slot: Slot
    global_ids: np.ndarray = attrs.field(converter=lambda a: np.asarray(a, dtype=np.int32))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Payload)
            and self.slot == other.slot
            and np.array_equal(self.global_ids, other.global_ids)
        )

    def __len__(self) -> int:
        return int(self.global_ids.shape[0])


@attrs.frozen(eq=False)
class SerializedExample:
    """One example as the model sees it: `tokens[:prefix_len]` is the prefix."""

    tokens: np.ndarray  # int32 [n] global ids
    prefix_len: int
    loss_mask: np.ndarray  # bool [n], True on the target
    # int32 [n] each token's time (`token_times`), or [n, 3] its time, row and column
    # (`token_grid`) when a modality of the serializer's has a grid; None: all 0
    times: np.ndarray | None = None

    @property
    def target_len(self) -> int:
        return int(self.tokens.shape[0]) - self.prefix_len


@attrs.frozen
class ParsedExample:
    """What `parse` recovers: the input payloads, the output slot and the target (if any)."""

    inputs: tuple[Payload, ...]
    output: Slot
    target: Payload | None

    @property
    def task(self) -> Task:
        return Task(tuple(p.slot for p in self.inputs), self.output)


# One header exactly as `serialize` writes it: the lead says which header it is.
_FIRST, _NEXT, _OUTPUT = '{"inputs": [{', "}, {", '}], "output": {'
_HEADER = re.compile(
    r'(?P<lead>\{"inputs": \[\{|\}, \{|\}\], "output": \{)'
    r'"modality": "(?P<phrase>[^"\\]*)", "state": "(?P<state>past|current|time-invariant)"'
    r'(?:, "tokens": (?P<n>0|[1-9][0-9]{0,11}))?, "value":'
)
_VALUE_KEY = '"value":'


class PromptSerializer:
    """Serializes tasks with payloads into token sequences and parses them back.

    Args:
        layout: the unified vocabulary layout (must contain `text` and every payload's vocabulary).
        modalities: installed modality declarations by name (phrases, vocabularies, lengths).
        text_codec: the tokenizer of the `text` vocabulary, for keys and text payloads.
    """

    def __init__(self, layout: VocabLayout, modalities: Mapping[str, Modality], text_codec: TextCodec) -> None:
        if not isinstance(text_codec, TextCodec):
            raise PromptError(
                f"the text codec {type(text_codec).__name__} lacks eos_id/encode_text/decode_text/normalize_text"
            )
        self.layout = layout
        self.modalities = dict(modalities)
        self.codec = text_codec
        self._text = layout.range(TEXT_VOCABULARY)
        self._by_phrase: dict[str, str] = {}
        for name, mod in self.modalities.items():
            if '"' in mod.phrase or "\\" in mod.phrase:
                raise PromptError(f"modality {name!r}: its phrase {mod.phrase!r} may not contain quotes or backslashes")
            self._by_phrase[mod.phrase] = name
        longest = max((len(p) for p in self._by_phrase), default=0)
        # A header is at most this many characters; a byte codec spends up to 4 tokens on one.
        self._max_header_tokens = 4 * (len(_OUTPUT) + longest + len(', "state": "time-invariant", "tokens": , "value":') + 40)
        self.eos_global = int(self._text.to_global(np.array([text_codec.eos_id]))[0])
        # Whether tokens carry a place (row, column) beside their time: some modality is a raster.
        self.spatial = any(mod.grid is not None and mod.vocabulary is not None for mod in self.modalities.values())

    # ------------------------------------------------------------------ payloads
    def _modality(self, slot: Slot) -> Modality:
        try:
            return self.modalities[slot.modality]
        except KeyError:
            raise PromptError(f"slot {slot}: modality {slot.modality!r} is not installed") from None

    def is_text(self, modality: str) -> bool:
        mod = self.modalities.get(modality)
        return mod is not None and mod.vocabulary is not None and mod.vocabulary.name == TEXT_VOCABULARY

    def encode_text_payload(self, text: str) -> np.ndarray:
        """A string -> global ids of its escaped JSON literal (what a text slot carries)."""
        literal = json.dumps(self.codec.normalize_text(text), ensure_ascii=False)
        return self._text.to_global(np.asarray(self.codec.encode_text(literal), dtype=np.int32))

    def decode_text_payload(self, global_ids: np.ndarray) -> str:
        """Inverse of `encode_text_payload`; `PromptError` with the text when it does not parse."""
        literal = self.codec.decode_text(self._text.to_local(global_ids))
        try:
            value = json.loads(literal)
        except json.JSONDecodeError as err:
            raise PromptError(f"text payload is not a JSON string literal: {literal!r}") from err
        if not isinstance(value, str):
            raise PromptError(f"text payload is not a JSON string literal: {literal!r}")
        return value

    def payload(self, slot: Slot, *, local_ids: Any = None, text: str | None = None) -> Payload:
        """Build a payload from a tokenizer's local ids or, for text modalities, from text.

        To tokenize a raw value, use the modality's `SlotCodec` (``SlotCodec(modality,
        tokenizer, serializer).encode(raw, meta)``), which this method shares its mapping with.
        """
        mod = self._modality(slot)
        if mod.vocabulary is None:
            raise PromptError(f"slot {slot}: modality {slot.modality!r} is rendered and has no tokens")
        codec = SlotCodec(mod, None, self)
        if codec.is_text:
            if text is None:
                raise PromptError(f"slot {slot}: {slot.modality!r} is a text modality; pass text=")
            return Payload(slot, codec.from_text(text))
        if local_ids is None:
            raise PromptError(f"slot {slot}: pass local_ids= from the {slot.modality!r} tokenizer")
        try:
            return Payload(slot, codec.from_local(local_ids))
        except VocabError as err:
            raise PromptError(f"slot {slot}: {err}") from err

    # ------------------------------------------------------------------ serialize
    def _header(self, slot: Slot, n: int | None, *, first: bool, output: bool) -> str:
        mod = self._modality(slot)
        if output:
            lead = '}], "output": {'
        else:
            lead = '{"inputs": [{' if first else "}, {"
        count = "" if n is None else f', "tokens": {n}'
        return f'{lead}"modality": "{mod.phrase}", "state": "{slot.state.value}"{count}, "value":'

    def _encode_structure(self, text: str) -> np.ndarray:
        return self._text.to_global(np.asarray(self.codec.encode_text(text), dtype=np.int32))

    def _check_payload(self, payload: Payload) -> None:
        mod = self._modality(payload.slot)
        vocab = mod.vocabulary
        if vocab is None:
            raise PromptError(f"slot {payload.slot}: modality {mod.name!r} is rendered and has no tokens")
        rng = self.layout.range(vocab)
        if not np.all(rng.contains(payload.global_ids)):
            bad = int(payload.global_ids[~rng.contains(payload.global_ids)][0])
            raise PromptError(
                f"slot {payload.slot}: global id {bad} is outside the {vocab.name!r} range {rng.start}..{rng.stop - 1}"
            )

    def slot_times(self, slot: Slot, n: int) -> np.ndarray:
        """The time position of each of a slot's ``n`` tokens (``token_times``): spread over the
        window for a fixed-length payload of a temporal modality, 0 for anything else (text,
        time-invariant slots, an end-of-sequence id). When the serializer is ``spatial`` (a
        modality has a ``grid``), ``[n, 3]``: the time, then the row and column of each code of
        a raster modality in its frame (``token_grid``; 0, 0 for anything else)."""
        mod = self._modality(slot)
        fixed = self._fixed_length(slot)
        times = token_times(n, slot.state if mod.temporal and fixed else None)
        if not self.spatial:
            return times
        try:
            place = token_grid(n, mod.grid if fixed else None)
        except PromptError as err:
            raise PromptError(f"slot {slot}: {err}") from None
        return np.concatenate([times[:, None], place], axis=1)

    def _untimed(self, n: int) -> np.ndarray:
        """The times of ``n`` structure tokens (headers): all 0, in the serializer's shape."""
        return np.zeros((n, 3) if self.spatial else (n,), np.int32)

    def _fixed_length(self, slot: Slot) -> bool:
        """Whether the slot's payload has an exact token count per window (not free-length text)."""
        return self._modality(slot).num_tokens is not None and not self.is_text(slot.modality)

    def serialize(self, inputs: Sequence[Payload], output: Payload | Slot, *, target_tokens: int | None = None) -> SerializedExample:
        """Inputs plus an output payload (training) or an output slot (generation prompt).

        For a generation prompt whose output has a fixed length, pass `target_tokens` (the
        modality's `num_tokens` for the window): the prompt then equals the training prefix.
        """
        if not inputs:
            raise PromptError("a prompt needs at least one input payload")
        out_slot = output.slot if isinstance(output, Payload) else output
        Task(tuple(p.slot for p in inputs), out_slot)  # structural checks, TaskError on failure
        pieces: list[np.ndarray] = []
        times: list[np.ndarray] = []
        for i, payload in enumerate(inputs):
            self._check_payload(payload)
            pieces.append(self._encode_structure(self._header(payload.slot, len(payload), first=i == 0, output=False)))
            times.append(self._untimed(len(pieces[-1])))
            pieces.append(payload.global_ids)
            times.append(self.slot_times(payload.slot, len(payload)))
        fixed = self._fixed_length(out_slot)
        if isinstance(output, Payload):
            n_out = len(output) if fixed else None
        elif fixed:
            if target_tokens is None:
                raise PromptError(f"output {out_slot}: pass target_tokens= (its fixed token count) for a generation prompt")
            n_out = int(target_tokens)
        else:
            n_out = None
        pieces.append(self._encode_structure(self._header(out_slot, n_out, first=False, output=True)))
        times.append(self._untimed(len(pieces[-1])))
        prefix = np.concatenate(pieces).astype(np.int32)
        if isinstance(output, Slot):
            return SerializedExample(prefix, len(prefix), np.zeros(len(prefix), dtype=bool), np.concatenate(times))
        self._check_payload(output)
        if len(output) == 0 and not self.is_text(out_slot.modality):
            raise PromptError(f"output {out_slot}: a target needs at least one token")
        target = output.global_ids
        if self.is_text(out_slot.modality):
            target = np.concatenate([target, np.array([self.eos_global], dtype=np.int32)])
        tokens = np.concatenate([prefix, target]).astype(np.int32)
        times.append(self.slot_times(out_slot, len(target)))
        loss = np.zeros(len(tokens), dtype=bool)
        loss[len(prefix):] = True
        return SerializedExample(tokens, len(prefix), loss, np.concatenate(times))

    # ------------------------------------------------------------------ parse
    def parse(self, tokens: Any, prefix_len: int | None = None) -> ParsedExample:
        """Invert `serialize`: total over token sequences.

        A sequence `serialize` produced parses back to its payloads; anything else (a damaged
        key, a header out of place, a payload outside its modality's range, a text payload that
        is not an escaped literal, a malformed task) raises `PromptError` whose message starts
        with ``token N:``, the offset of what does not parse. No other error escapes.

        Args:
            tokens: int32 global ids, a training example or a generation prompt.
            prefix_len: where the target starts, if known; it must end at the output header.

        Returns:
            The input payloads, the output slot and the target payload (None for a prompt).

        Raises:
            PromptError: the sequence is not a serialized prompt.
        """
        try:
            tokens = np.asarray(tokens)
        except (TypeError, ValueError) as err:
            raise PromptError(f"token 0: not a token sequence ({err})") from err
        if tokens.ndim != 1 or (tokens.size and not np.issubdtype(tokens.dtype, np.integer)):
            raise PromptError(f"token 0: expected a 1-D integer sequence, got shape {tokens.shape} {tokens.dtype}")
        tokens = tokens.astype(np.int32)
        if prefix_len is not None and not 0 <= prefix_len <= len(tokens):
            raise PromptError(f"token {len(tokens)}: prefix_len {prefix_len} is outside 0..{len(tokens)}")
        inputs: list[Payload] = []
        pos = 0
        while True:
            start = pos
            lead, slot, n, pos = self._read_header(tokens, start, first=not inputs)
            if lead == _OUTPUT:
                if not inputs:
                    raise PromptError(f"token {start}: the output header comes before any input")
                return self._finish(tokens, tuple(inputs), slot, n, start=start, pos=pos, prefix_len=prefix_len)
            if n is None:
                raise PromptError(f"token {start}: input {slot} has no token count")
            if pos + n > len(tokens):
                raise PromptError(f"token {pos}: input {slot} declares {n} tokens but only {len(tokens) - pos} remain")
            payload = Payload(slot, tokens[pos:pos + n])
            self._check_parsed_payload(payload, at=pos)
            inputs.append(payload)
            pos += n

    def _read_header(self, tokens: np.ndarray, start: int, *, first: bool) -> tuple[str, Slot, int | None, int]:
        """One header from `start`: (lead, slot, declared count, position after it)."""
        pos, text = start, ""
        while not text.endswith(_VALUE_KEY):
            if pos >= len(tokens):
                cut = f" (header {text[:60]!r} is cut off)" if text else ""
                raise PromptError(f"token {start}: no output header found{cut}: not a serialized prompt")
            if pos - start >= self._max_header_tokens:
                raise PromptError(f"token {start}: no header here (got {text[:60]!r}...)")
            if not self._text.contains(tokens[pos]):
                raise PromptError(f"token {pos}: expected structural text, got global id {int(tokens[pos])}")
            pos += 1
            text = self._decode_structure(tokens[start:pos], at=start)
        m = _HEADER.fullmatch(text)
        if m is None:
            raise PromptError(f"token {start}: malformed header {text!r}")
        lead = m.group("lead")
        if (lead == _FIRST) != first:
            where = "the first header" if first else "a later header"
            raise PromptError(f"token {start}: {where} may not open with {lead!r}")
        if not np.array_equal(tokens[start:pos], self._encode_structure(text)):
            raise PromptError(f"token {start}: header {text!r} is not in the serializer's encoding")
        phrase = m.group("phrase")
        if phrase not in self._by_phrase:
            raise PromptError(f"token {start}: unknown modality phrase {phrase!r}")
        slot = Slot(self._by_phrase[phrase], State(m.group("state")))
        if self.modalities[slot.modality].vocabulary is None:
            raise PromptError(f"token {start}: modality {slot.modality!r} is rendered and has no tokens")
        n = m.group("n")
        return lead, slot, None if n is None else int(n), pos

    def _finish(
        self, tokens: np.ndarray, inputs: tuple[Payload, ...], slot: Slot, n: int | None,
        *, start: int, pos: int, prefix_len: int | None,
    ) -> ParsedExample:
        """The output header ends at `pos`: check the task and read the target."""
        if prefix_len is not None and prefix_len != pos:
            raise PromptError(f"token {pos}: prefix_len {prefix_len} does not end at the output header")
        try:
            Task(tuple(p.slot for p in inputs), slot)
        except TaskError as err:
            raise PromptError(f"token {start}: {err}") from err
        mod = self.modalities[slot.modality]
        text = self.is_text(slot.modality)
        fixed = mod.num_tokens is not None and not text
        if fixed and n is None:
            raise PromptError(f"token {start}: output {slot} has a fixed length but no token count")
        if not fixed and n is not None:
            raise PromptError(f"token {start}: output {slot} is free-length and takes no token count")
        if pos == len(tokens):
            return ParsedExample(inputs, slot, None)
        target_ids = tokens[pos:]
        if text:
            eos = np.flatnonzero(target_ids == self.eos_global)
            if len(eos) != 1 or eos[0] != len(target_ids) - 1:
                at = pos + (int(eos[0]) if len(eos) else len(target_ids))
                raise PromptError(f"token {at}: a text target ends with one end-of-sequence, and only there")
            target_ids = target_ids[:-1]
        elif fixed and len(target_ids) != n:
            raise PromptError(f"token {pos}: output {slot} declares {n} tokens, the target has {len(target_ids)}")
        target = Payload(slot, target_ids)
        self._check_parsed_payload(target, at=pos)
        return ParsedExample(inputs, slot, target)

    def _check_parsed_payload(self, payload: Payload, *, at: int) -> None:
        """A parsed payload lies in its range and, for text, is an escaped literal as written."""
        try:
            self._check_payload(payload)
            # An empty payload is what serialize writes for a dropped condition (no value).
            if self.is_text(payload.slot.modality) and len(payload):
                value = self.decode_text_payload(payload.global_ids)
                if not np.array_equal(self.encode_text_payload(value), payload.global_ids):
                    raise PromptError(f"slot {payload.slot}: text payload is not in the serializer's encoding")
        except PromptError as err:
            raise PromptError(f"token {at}: {err}") from err
        except (ArchonError, ValueError) as err:  # the text codec's own errors
            raise PromptError(f"token {at}: slot {payload.slot}: {err}") from err

    def _decode_structure(self, global_ids: np.ndarray, *, at: int) -> str:
        try:
            return self.codec.decode_text(self._text.to_local(global_ids))
        except (ArchonError, ValueError) as err:
            raise PromptError(f"token {at}: structural text does not decode: {err}") from err
