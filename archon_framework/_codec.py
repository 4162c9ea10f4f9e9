"""The slot codec: one modality's raw value <-> global ids, and the id block of each position.

Training data (`TokenCache`), generation and scoring (`archon_framework.infer`), the prompt
serializer's payloads and the trainer's per-level losses all cross between a modality's raw
values and the unified vocabulary here, so a value is tokenized the same way everywhere:

    raw --tokenizer.encode--> local ids (count == num_tokens(window)) --VocabRange.to_global--> global ids
    raw --TextTokenizer.to_text--> text --PromptSerializer.encode_text_payload--> global ids  (text vocabulary)

and back with `decode`. `token_ranges` (the `BlockedTokenizer` capability) is validated in one
place, `validated_ranges`, which both the decoder's per-position blocks (`SlotCodec.ranges`)
and the trainer's level table (`SlotCodec.levels`) read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from archon_framework._capabilities import BlockedTokenizer, CodeVectorTokenizer, Renderer, missing_methods
from archon_framework._clip import ClipMeta
from archon_framework._errors import PluginError
from archon_framework._modality import Modality, Tokenizer
from archon_framework._vocab import TEXT_VOCABULARY, VocabRange

if TYPE_CHECKING:
    from archon_framework._prompt import PromptSerializer

__all__ = ["Capabilities", "SlotCodec", "StepRanges", "level_blocks", "tokenizer_capabilities", "validated_code_vectors",
           "validated_ranges"]


@attrs.frozen
class Capabilities:
    """The optional protocols a modality's tokenizer implements (see `archon_framework._capabilities`).

    Attributes:
        text: `TextTokenizer` (``to_text`` / ``from_text``).
        blocks: `BlockedTokenizer` (``token_ranges``).
        vectors: `CodeVectorTokenizer` (``code_vectors``).
    """

    text: bool = False
    blocks: bool = False
    vectors: bool = False


def _who(modality: Modality, plugin: str | None) -> str:
    return f"modality {modality.name!r}" + (f" (plugin {plugin})" if plugin else "")


def tokenizer_capabilities(modality: Modality, tokenizer: Any, *, plugin: str | None = None) -> Capabilities:
    """Check what a modality's factory made and find its optional capabilities, once.

    Args:
        modality: the declaration.
        tokenizer: what ``modality.tokenizer`` (or, rendered, ``modality.renderer``) returned.
        plugin: the providing plugin's label, for messages.

    Raises:
        PluginError: a rendered modality's object is not a `Renderer`; a token modality's is not
            a `Tokenizer`, implements part of a capability (``to_text`` without ``from_text``), or
            implements `TextTokenizer` outside the ``text`` vocabulary (the message names the
            modality and the plugin).
    """
    who = _who(modality, plugin)
    if modality.rendered:
        if not isinstance(tokenizer, Renderer):
            raise PluginError(f"{who} is rendered, but its renderer factory returned a {type(tokenizer).__name__} without render()")
        return Capabilities()
    if not isinstance(tokenizer, Tokenizer):
        raise PluginError(f"{who}: its tokenizer factory returned a {type(tokenizer).__name__}, which lacks "
                          "vocabulary/encode/decode (the Tokenizer protocol)")
    found = {}
    for name in ("text", "blocks", "vectors"):
        have, missing = missing_methods(tokenizer, name)
        if have and missing:
            raise PluginError(f"{who}: its tokenizer has {'/'.join(have)} but not {'/'.join(missing)}; "
                              f"implement the whole {name!r} capability or none of it")
        found[name] = bool(have)
    vocabulary = modality.vocabulary.name if modality.vocabulary is not None else None  # None: rendered
    if found["text"] and vocabulary != TEXT_VOCABULARY:
        raise PluginError(f"{who}: its tokenizer has to_text/from_text, which the core reads only for modalities "
                          f"in the {TEXT_VOCABULARY!r} vocabulary (its vocabulary is {vocabulary!r})")
    return Capabilities(text=found["text"], blocks=found["blocks"], vectors=found["vectors"])


def validated_code_vectors(modality: str, tokenizer: Any, vocab_size: int) -> np.ndarray | None:
    """A `CodeVectorTokenizer`'s ``code_vectors()`` as float32 ``[vocab_size, dim]`` (None for a
    tokenizer without the capability).

    Raises:
        PluginError: not a 2-D numeric array with one row per local id of the vocabulary, no
            columns, or a value that is not finite (the message names the modality).
    """
    if not isinstance(tokenizer, CodeVectorTokenizer):
        return None
    where = f"modality {modality!r}: code_vectors()"
    table = np.asarray(tokenizer.code_vectors())
    if table.ndim != 2 or table.shape[0] != vocab_size or table.shape[1] < 1 or not np.issubdtype(table.dtype, np.number):
        raise PluginError(f"{where} must be a numeric array [vocabulary size, dim] = ({vocab_size}, dim >= 1), "
                          f"got {table.dtype} {table.shape}")
    if not np.all(np.isfinite(table)):
        bad = int(np.flatnonzero(~np.isfinite(table).all(axis=1))[0])
        raise PluginError(f"{where}: row {bad} (local id {bad}) is not finite")
    return table.astype(np.float32)


def validated_ranges(modality: str, tokenizer: Any, num_tokens: int, vocab_size: int) -> tuple[np.ndarray, int] | None:
    """The local block start of each position and the one block width, from ``token_ranges``.

    Args:
        modality: the modality's name (for messages).
        tokenizer: its tokenizer; None is returned for one that is not a `BlockedTokenizer`.
        num_tokens: the sequence length asked for (None is returned below 1).
        vocab_size: the size of the modality's vocabulary.

    Returns:
        (int64 [num_tokens] local ``lo`` per position, width), or None.

    Raises:
        PluginError: the table breaks the protocol: not an integer ``[num_tokens, 2]`` array,
            rows of unequal or non-positive widths, rows outside the vocabulary, or blocks that
            overlap (the message names the modality and ``token_ranges(num_tokens)``).
    """
    if not isinstance(tokenizer, BlockedTokenizer) or num_tokens < 1:
        return None
    where = f"modality {modality!r}: token_ranges({num_tokens})"
    table = np.asarray(tokenizer.token_ranges(num_tokens))
    if table.shape != (num_tokens, 2) or not np.issubdtype(table.dtype, np.integer):
        raise PluginError(f"{where} must be an int array of shape [num_tokens, 2] = ({num_tokens}, 2), "
                          f"got {table.dtype} {table.shape}")
    lo, hi = table[:, 0].astype(np.int64), table[:, 1].astype(np.int64)
    widths = np.unique(hi - lo)
    if widths.shape[0] != 1 or widths[0] < 1:
        raise PluginError(f"{where} rows must all have one positive width, got widths {widths.tolist()[:5]}")
    if lo.min() < 0 or hi.max() > vocab_size:
        raise PluginError(f"{where}: ranges [{lo.min()}, {hi.max()}) exceed the vocabulary 0..{vocab_size - 1}")
    width, blocks = int(widths[0]), np.unique(lo)
    if np.any(np.diff(blocks) < width):
        raise PluginError(f"{where}: blocks starting at {blocks.tolist()} overlap (width {width})")
    return lo, width


def _levels(lo: np.ndarray, width: int) -> tuple[np.ndarray, int] | None:
    blocks = np.unique(lo)
    return (blocks, width) if blocks.shape[0] > 1 else None


def level_blocks(modality: str, tokenizer: Any, num_tokens: int, vocab_size: int) -> tuple[np.ndarray, int] | None:
    """The sorted local block starts and the block width of a tokenizer's levels (None: no levels).

    Args:
        modality: the modality's name (for error messages).
        tokenizer: its tokenizer; one that is not a `BlockedTokenizer` has no levels.
        num_tokens: a length the tokenizer really encodes to (every level appears in it).
        vocab_size: the size of the modality's vocabulary.

    Raises:
        PluginError: `token_ranges` breaks the protocol (`validated_ranges`).
    """
    found = validated_ranges(modality, tokenizer, num_tokens, vocab_size)
    return None if found is None else _levels(*found)


class StepRanges:
    """Where each generated position may draw from: global block starts and one static width.

    Attributes:
        starts: int32 [n] global first id of each position's block.
        width: the block width (the whole range for tokenizers without ``token_ranges``).
    """

    def __init__(self, starts: np.ndarray, width: int) -> None:
        self.starts = np.asarray(starts, dtype=np.int32)
        self.width = int(width)

    @classmethod
    def of(cls, modality: str, tokenizer: Any, rng: VocabRange, n: int) -> StepRanges:
        """The per-position ranges of ``n`` tokens: the tokenizer's blocks, or the whole range."""
        found = validated_ranges(modality, tokenizer, n, rng.size)
        if found is None:
            return cls(np.full(n, rng.start, np.int32), rng.size)
        lo, width = found
        return cls(lo + rng.start, width)

    def contains(self, global_ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(global_ids)
        s = self.starts[: ids.shape[0]]
        return (ids >= s) & (ids < s + self.width)


class SlotCodec:
    """One modality's crossing between raw values and global ids (see the module docstring).

    Made once per (modality, tokenizer); it checks the tokenizer's capabilities when made.

    Args:
        modality: the modality (not a rendered one).
        tokenizer: its tokenizer, or None for a codec that only maps local ids and text
            (`from_local`, `from_text`: what `PromptSerializer.payload` uses).
        serializer: the prompt serializer (layout, text payload escaping).
        plugin: the providing plugin's label, for messages.

    Raises:
        PluginError: a rendered modality, or a tokenizer that fails `tokenizer_capabilities`.
    """

    def __init__(self, modality: Modality, tokenizer: Any, serializer: PromptSerializer, *,
                 plugin: str | None = None) -> None:
        if modality.rendered:
            raise PluginError(f"{_who(modality, plugin)} is rendered and has no tokens")
        self.modality, self.tokenizer, self.serializer = modality, tokenizer, serializer
        self.range = serializer.layout.range(modality.vocabulary)  # type: ignore[arg-type]
        self.is_text = serializer.is_text(modality.name)
        self.capabilities = (Capabilities() if tokenizer is None
                             else tokenizer_capabilities(modality, tokenizer, plugin=plugin))
        self._ranges: dict[int, StepRanges] = {}

    @property
    def name(self) -> str:
        return self.modality.name

    def _tok(self) -> Any:
        if self.tokenizer is None:
            raise PluginError(f"modality {self.name!r}: this codec has no tokenizer (it maps local ids and text only)")
        return self.tokenizer

    # ------------------------------------------------------------------ text
    def text_of(self, raw: Any) -> str:
        """A text modality's value as the text its payload carries (``to_text``, else ``str``)."""
        return self._tok().to_text(raw) if self.capabilities.text else str(raw)

    def value_of(self, text: str) -> Any:
        """A text modality's value from its text (``from_text``, else the text itself)."""
        return self._tok().from_text(text) if self.capabilities.text else text

    # ------------------------------------------------------------------ ids
    def from_local(self, local_ids: Any) -> np.ndarray:
        """The tokenizer's local ids -> global ids (`VocabError` for an id outside the vocabulary)."""
        return self.range.to_global(np.asarray(local_ids))

    def from_text(self, text: str) -> np.ndarray:
        """A text -> the global ids of its escaped payload (text modalities)."""
        return self.serializer.encode_text_payload(text)

    def encode(self, raw: Any, meta: ClipMeta) -> np.ndarray:
        """A (checked) raw value of the window ``meta`` -> its global ids.

        Raises:
            PluginError: the tokenizer's count differs from ``num_tokens(meta)``.
            VocabError: the tokenizer gave an id outside its vocabulary.
        """
        if self.is_text:
            return self.from_text(self.text_of(raw))
        local = np.asarray(self._tok().encode(raw, meta=meta), dtype=np.int32)
        expected = self.modality.token_count(meta)
        if expected is not None and local.shape[0] != expected:
            raise PluginError(
                f"clip {meta.clip_id!r}, modality {self.name!r}: its tokenizer gave {local.shape[0]} ids, "
                f"num_tokens says {expected} for a {meta.duration:g} s window"
            )
        return self.from_local(local)

    def decode(self, global_ids: Any, meta: ClipMeta) -> Any:
        """Global ids -> the raw value (`PromptError` for a text payload that is not a literal,
        `VocabError` for an id outside the range, the tokenizer's own errors)."""
        if self.is_text:
            return self.value_of(self.serializer.decode_text_payload(global_ids))
        return self._tok().decode(self.range.to_local(global_ids), meta=meta)

    # ------------------------------------------------------------------ ranges
    def ranges(self, n: int) -> StepRanges:
        """Where each of ``n`` generated positions may draw from (validated once per ``n``)."""
        if n not in self._ranges:
            self._ranges[n] = StepRanges.of(self.name, self.tokenizer if self.capabilities.blocks else None, self.range, n)
        return self._ranges[n]

    def levels(self, n: int) -> tuple[np.ndarray, int] | None:
        """The sorted local block starts and the width of the tokenizer's levels in ``n`` tokens
        (None: no ``token_ranges``, or a single block); see `level_blocks`."""
        if not self.capabilities.blocks or n < 1:
            return None
        r = self.ranges(n)
        return _levels(r.starts.astype(np.int64) - self.range.start, r.width)
