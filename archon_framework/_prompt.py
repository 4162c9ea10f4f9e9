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

from archon_framework._errors import PromptError, VocabError
from archon_framework._modality import Modality
from archon_framework._tasks import Slot, State, Task
from archon_framework._vocab import TEXT_VOCABULARY, VocabLayout

__all__ = ["TextCodec", "TextModalityCodec", "Payload", "SerializedExample", "ParsedExample", "PromptSerializer"]


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


@runtime_checkable
class TextModalityCodec(Protocol):
    """A tokenizer of a modality in the `text` vocabulary: raw value <-> text."""

    def to_text(self, raw: Any) -> str: ...

    def from_text(self, text: str) -> Any: ...


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


_HEADER = re.compile(
    r'"modality":\s*"(?P<phrase>[^"\\]*)",\s*"state":\s*"(?P<state>[^"\\]*)"'
    r'(?:,\s*"tokens":\s*(?P<n>\d+))?,\s*"value":\s*$'
)


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
        self.eos_global = int(self._text.to_global(np.array([text_codec.eos_id]))[0])

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
        """Build a payload from a tokenizer's local ids or, for text modalities, from text."""
        mod = self._modality(slot)
        if mod.vocabulary is None:
            raise PromptError(f"slot {slot}: modality {slot.modality!r} is rendered and has no tokens")
        if self.is_text(slot.modality):
            if text is None:
                raise PromptError(f"slot {slot}: {slot.modality!r} is a text modality; pass text=")
            return Payload(slot, self.encode_text_payload(text))
        if local_ids is None:
            raise PromptError(f"slot {slot}: pass local_ids= from the {slot.modality!r} tokenizer")
        try:
            return Payload(slot, self.layout.range(mod.vocabulary).to_global(np.asarray(local_ids)))
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
        for i, payload in enumerate(inputs):
            self._check_payload(payload)
            pieces.append(self._encode_structure(self._header(payload.slot, len(payload), first=i == 0, output=False)))
            pieces.append(payload.global_ids)
        out_mod = self._modality(out_slot)
        fixed = out_mod.num_tokens is not None and not self.is_text(out_slot.modality)
        if isinstance(output, Payload):
            n_out = len(output) if fixed else None
        elif fixed:
            if target_tokens is None:
                raise PromptError(f"output {out_slot}: pass target_tokens= (its fixed token count) for a generation prompt")
            n_out = int(target_tokens)
        else:
            n_out = None
        pieces.append(self._encode_structure(self._header(out_slot, n_out, first=False, output=True)))
        prefix = np.concatenate(pieces).astype(np.int32)
        if isinstance(output, Slot):
            return SerializedExample(prefix, len(prefix), np.zeros(len(prefix), dtype=bool))
        self._check_payload(output)
        if len(output) == 0 and not self.is_text(out_slot.modality):
            raise PromptError(f"output {out_slot}: a target needs at least one token")
        target = output.global_ids
        if self.is_text(out_slot.modality):
            target = np.concatenate([target, np.array([self.eos_global], dtype=np.int32)])
        tokens = np.concatenate([prefix, target]).astype(np.int32)
        loss = np.zeros(len(tokens), dtype=bool)
        loss[len(prefix):] = True
        return SerializedExample(tokens, len(prefix), loss)

    # ------------------------------------------------------------------ parse
    def parse(self, tokens: Any, prefix_len: int | None = None) -> ParsedExample:
        """Invert `serialize`. Raises `PromptError` naming the position of what does not parse."""
        tokens = np.asarray(tokens, dtype=np.int32)
        inputs: list[Payload] = []
        pos, start = 0, 0
        while pos < len(tokens):
            if not self._text.contains(tokens[pos]):
                raise PromptError(f"token {pos}: expected structural text, got global id {int(tokens[pos])}")
            pos += 1
            text = self.codec.decode_text(self._text.to_local(tokens[start:pos]))
            m = _HEADER.search(text)
            if not m:
                continue
            slot = self._slot_from_header(m, at=start)
            is_output = '"output":' in text
            if is_output:
                end = prefix_len if prefix_len is not None else pos
                if end != pos:
                    raise PromptError(f"prefix_len {prefix_len} does not end at the output header (token {pos})")
                target_ids = tokens[pos:]
                if self.is_text(slot.modality) and len(target_ids) and target_ids[-1] == self.eos_global:
                    target_ids = target_ids[:-1]
                target = Payload(slot, target_ids) if len(tokens) > pos else None
                return ParsedExample(tuple(inputs), slot, target)
            if m.group("n") is None:
                raise PromptError(f"token {start}: input {slot} has no token count")
            n = int(m.group("n"))
            if pos + n > len(tokens):
                raise PromptError(f"token {pos}: input {slot} declares {n} tokens but only {len(tokens) - pos} remain")
            inputs.append(Payload(slot, tokens[pos:pos + n]))
            pos += n
            start = pos
        raise PromptError("no output header found: not a serialized prompt")

    def _slot_from_header(self, m: re.Match, *, at: int) -> Slot:
        phrase = m.group("phrase")
        if phrase not in self._by_phrase:
            raise PromptError(f"token {at}: unknown modality phrase {phrase!r}")
        return Slot(self._by_phrase[phrase], State.parse(m.group("state")))
