"""The conformance kit: the checks every plugin's tests call, built-in or third-party.

```python
from archon_framework.testing import check_modality, check_tokenizer

def test_speech_conforms(clip_meta, wave):
    mod = my_plugin.SPEECH
    check_modality(mod, meta=clip_meta, raw=wave)
    check_tokenizer(mod, mod.tokenizer(None), meta=clip_meta, raw=wave)
```

It also ships `ByteTextTokenizer`, a lossless UTF-8 byte-level codec for the `text` vocabulary
(ids: 0 pad, 1 end-of-sequence, 2..257 bytes), so a plugin can test prompts without a text
plugin, and `make_registry` to build a Registry from plugin modules without installing them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from archon_framework._clip import ClipMeta
from archon_framework._capabilities import BlockedTokenizer, Renderer, TextTokenizer
from archon_framework._codec import tokenizer_capabilities, validated_code_vectors, validated_ranges
from archon_framework._errors import ArchonError, ArchonWarning, PluginError, RawValueError, VocabError
from archon_framework._modality import Modality, Tokenizer
from archon_framework._plugins import Registry, load_registry
from archon_framework._vocab import TEXT_VOCABULARY, Vocabulary
from archon_framework._windows import words_window
from archon_framework.hookspecs import hookimpl

__all__ = [
    "ConformanceError",
    "ConformanceWarning",
    "check_modality",
    "check_tokenizer",
    "check_renderer",
    "ByteTextTokenizer",
    "byte_text_modalities",
    "make_registry",
]


class ConformanceError(ArchonError, AssertionError):
    """A plugin does not meet the framework's contract; the message names modality and rule."""


class ConformanceWarning(ArchonWarning):
    """A declaration that works but is probably not what its author meant (named in the message)."""


def _fail(modality: str, rule: str) -> None:
    raise ConformanceError(f"modality {modality!r}: {rule}")


def check_modality(modality: Modality, *, meta: ClipMeta, raw: Any) -> None:
    """Check a modality declaration against one valid raw value for the clip window `meta`.

    Rules: the raw value passes `check_raw`; `num_tokens` is an int >= 0 (or None only for
    free-length text with a `max_tokens` budget); for temporal modalities the count never
    decreases as the window grows, and a one-frame window (the time-invariant state) that
    takes no token is warned about (`ConformanceWarning`); a rendered modality names its inputs.

    Raises:
        ConformanceError: a rule is broken (the message names the modality and the rule).
    """
    name = modality.name
    if not isinstance(modality, Modality):
        _fail(getattr(modality, "name", "?"), f"is a {type(modality).__name__}, not an archon_framework.Modality")
    modality.check_raw(raw, meta)
    if modality.rendered:
        if not modality.derived_from:
            _fail(name, "a rendered modality must list derived_from")
        return
    n = modality.token_count(meta)
    if n is None:
        if modality.vocabulary is None or modality.vocabulary.name != TEXT_VOCABULARY:
            _fail(name, "num_tokens may be None only for free-length modalities in the text vocabulary")
        if not modality.max_tokens:
            _fail(name, "a free-length modality must declare max_tokens")
        return
    if modality.temporal:
        counts = []
        for seconds in (0.2, 0.4, 1.0, 2.0):
            m = ClipMeta(clip_id="probe", duration=seconds, frame_rate=meta.frame_rate, sample_rate=meta.sample_rate)
            counts.append(modality.token_count(m))
        if any(b < a for a, b in zip(counts, counts[1:])):  # type: ignore[operator]
            _fail(name, f"num_tokens decreases as the clip grows: {counts} for 0.2/0.4/1/2 s")
        frame = ClipMeta(clip_id="probe", duration=1.0 / meta.frame_rate, frame_rate=meta.frame_rate,
                         sample_rate=meta.sample_rate)
        if modality.token_count(frame) == 0:
            warnings.warn(
                f"modality {name!r}: a one-frame window ({frame.duration:.4f} s, the time-invariant state "
                f"'{name}(t)' of a temporal modality) takes 0 tokens, so tasks that read {name}(t) carry "
                "no value; give any window at least one token (see the plugin tutorial)",
                ConformanceWarning, stacklevel=2,
            )
    elif modality.token_count(ClipMeta(clip_id="p", duration=2 * meta.duration, frame_rate=meta.frame_rate, sample_rate=meta.sample_rate)) != n:
        _fail(name, "a time-invariant modality must take the same number of tokens for any clip length")


def check_tokenizer(
    modality: Modality,
    tokenizer: Tokenizer,
    *,
    meta: ClipMeta,
    raw: Any,
    compare: Callable[[Any, Any], None] | None = None,
) -> np.ndarray:
    """Check a tokenizer on one raw value; returns the local ids.

    Rules: the tokenizer's vocabulary is the modality's; `encode` gives int32 [n] ids inside
    the vocabulary with n == num_tokens(meta) (or <= max_tokens for free-length text); encoding
    is deterministic; `decode` gives a raw value the modality accepts for the same window;
    `compare(raw, decoded)`, if given, judges the round trip (exact for lossless tokenizers,
    a tolerance for learned ones); ids outside the vocabulary raise VocabError. Its optional
    capabilities (`archon_framework.TextTokenizer`, `archon_framework.BlockedTokenizer`,
    `archon_framework.CodeVectorTokenizer`) are whole and usable by the modality (`tokenizer_capabilities`); a text tokenizer's
    ``from_text(to_text(raw))`` is a value the modality accepts whose text is the same; a
    blocked tokenizer's ``token_ranges`` follow the protocol and hold every encoded id; a
    code-vector tokenizer's ``code_vectors()`` has one finite row per local id.
    """
    name = modality.name
    if isinstance(tokenizer, Renderer) and modality.rendered:
        return np.zeros(0, dtype=np.int32)
    if modality.vocabulary is None:
        _fail(name, "has no vocabulary, so it has a Renderer, not a Tokenizer")
    try:
        caps = tokenizer_capabilities(modality, tokenizer)
    except PluginError as err:
        raise ConformanceError(str(err)) from err
    if tokenizer.vocabulary != modality.vocabulary:
        _fail(name, f"tokenizer vocabulary {tokenizer.vocabulary} differs from the declaration {modality.vocabulary}")
    ids = tokenizer.encode(raw, meta=meta)
    if not isinstance(ids, np.ndarray) or ids.dtype != np.int32 or ids.ndim != 1:
        _fail(name, f"encode must return a 1-D int32 numpy array, got {type(ids).__name__} {getattr(ids, 'dtype', '')} {getattr(ids, 'shape', '')}")
    size = modality.vocabulary.size  # type: ignore[union-attr]
    if ids.size and (ids.min() < 0 or ids.max() >= size):
        _fail(name, f"encode produced ids outside 0..{size - 1}: min {ids.min()}, max {ids.max()}")
    n = modality.token_count(meta)
    if n is not None and ids.shape[0] != n:
        _fail(name, f"encode produced {ids.shape[0]} ids but num_tokens says {n} for {meta.duration} s")
    if n is None and modality.max_tokens is not None and ids.shape[0] > modality.max_tokens:
        _fail(name, f"encode produced {ids.shape[0]} ids, over max_tokens {modality.max_tokens}")
    again = tokenizer.encode(raw, meta=meta)
    if not np.array_equal(ids, again):
        _fail(name, "encode is not deterministic")
    decoded = tokenizer.decode(ids, meta=meta)
    try:
        modality.check_raw(decoded, meta)
    except RawValueError as err:
        _fail(name, f"decode returned a value the modality refuses: {err}")
    if compare is not None:
        compare(raw, decoded)
    bad = ids.copy() if ids.size else np.zeros(1, dtype=np.int32)
    bad[0] = size
    try:
        tokenizer.decode(bad, meta=meta)
    except VocabError:
        pass
    else:
        _fail(name, f"decode accepted id {size}, outside the vocabulary (must raise VocabError)")
    if caps.text:
        _check_text_capability(modality, tokenizer, raw, meta)  # type: ignore[arg-type]
    if caps.blocks:
        _check_blocks_capability(modality, tokenizer, ids)  # type: ignore[arg-type]
    if caps.vectors:
        try:
            validated_code_vectors(name, tokenizer, size)
        except PluginError as err:
            raise ConformanceError(str(err)) from err
    return ids


def _check_text_capability(modality: Modality, tokenizer: TextTokenizer, raw: Any, meta: ClipMeta) -> None:
    """`to_text` gives a str, `from_text` of it a value the modality accepts, and again the same text."""
    name = modality.name
    text = tokenizer.to_text(raw)
    if not isinstance(text, str):
        _fail(name, f"to_text must return a str, got {type(text).__name__}")
    back = tokenizer.from_text(text)
    try:
        checked = modality.check_raw(back, meta)
    except RawValueError as err:
        _fail(name, f"from_text(to_text(raw)) returned a value the modality refuses: {err}")
    if tokenizer.to_text(checked) != text:
        _fail(name, "to_text(from_text(to_text(raw))) differs from to_text(raw): the text form does not round-trip")


def _check_blocks_capability(modality: Modality, tokenizer: BlockedTokenizer, ids: np.ndarray) -> None:
    """`token_ranges` follows the protocol (`validated_ranges`) and every encoded id lies in its position's block."""
    name = modality.name
    try:
        found = validated_ranges(name, tokenizer, int(ids.shape[0]), modality.vocabulary.size)  # type: ignore[union-attr]
    except PluginError as err:
        raise ConformanceError(str(err)) from err
    if found is None:
        return
    lo, width = found
    outside = np.flatnonzero((ids < lo) | (ids >= lo + width))
    if outside.size:
        k = int(outside[0])
        _fail(name, f"encode put id {int(ids[k])} at position {k}, outside its token_ranges block [{lo[k]}, {lo[k] + width})")


def check_renderer(modality: Modality, renderer: Renderer, *, meta: ClipMeta, inputs: Mapping[str, Any]) -> Any:
    """Check a rendered modality's renderer on one set of inputs; returns what it rendered.

    Rules: the modality is rendered and ``inputs`` holds exactly its ``derived_from``; the
    renderer implements `Renderer`; what it renders passes the modality's `check_raw` for the
    window; rendering is deterministic for a seed.

    Raises:
        ConformanceError: a rule is broken (the message names the modality and the rule).
    """
    name = modality.name
    if not modality.rendered:
        _fail(name, "has a vocabulary: it has a tokenizer, not a renderer (check_tokenizer)")
    if set(inputs) != set(modality.derived_from):
        _fail(name, f"inputs {sorted(inputs)} differ from derived_from {sorted(modality.derived_from)}")
    try:
        tokenizer_capabilities(modality, renderer)
    except PluginError as err:
        raise ConformanceError(str(err)) from err
    value = renderer.render(inputs, meta=meta, seed=0)
    try:
        value = modality.check_raw(value, meta)
    except RawValueError as err:
        _fail(name, f"render returned a value the modality refuses: {err}")
    again = modality.check_raw(renderer.render(inputs, meta=meta, seed=0), meta)
    if not np.array_equal(np.asarray(value), np.asarray(again)):
        _fail(name, "render is not deterministic for a seed")
    return value


class ByteTextTokenizer:
    """A lossless UTF-8 byte codec for the `text` vocabulary: 0 pad, 1 eos, 2..257 bytes."""

    PAD, EOS, OFFSET = 0, 1, 2

    def __init__(self) -> None:
        self._vocab = Vocabulary(TEXT_VOCABULARY, 256 + self.OFFSET)

    @property
    def vocabulary(self) -> Vocabulary:
        return self._vocab

    @property
    def eos_id(self) -> int:
        return self.EOS

    def encode_text(self, text: str) -> np.ndarray:
        """Text -> local ids; `RawValueError` (as the real codec raises) for what is not UTF-8 text."""
        if not isinstance(text, str):
            raise RawValueError(f"vocabulary 'text': expected str, got {type(text).__name__}")
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError as err:
            raise RawValueError(f"vocabulary 'text': text holds lone surrogates (not valid UTF-8): {err}") from None
        return np.frombuffer(data, dtype=np.uint8).astype(np.int32) + self.OFFSET

    def decode_text(self, local_ids: np.ndarray) -> str:
        ids = np.asarray(local_ids)
        if ids.size and (ids.min() < 0 or ids.max() >= self._vocab.size):
            raise VocabError(f"vocabulary 'text': id outside 0..{self._vocab.size - 1}")
        ids = ids[ids >= self.OFFSET] - self.OFFSET
        return bytes(ids.astype(np.uint8).tolist()).decode("utf-8", errors="replace")

    def normalize_text(self, text: str) -> str:
        return text

    # Tokenizer protocol, for a modality whose raw value is the text itself.
    def encode(self, raw: str, *, meta: ClipMeta) -> np.ndarray:
        return self.encode_text(raw)

    def decode(self, local_ids: np.ndarray, *, meta: ClipMeta) -> str:
        return self.decode_text(local_ids)

    def to_text(self, raw: str) -> str:
        return raw

    def from_text(self, text: str) -> str:
        return text



def byte_text_modalities() -> list[Modality]:
    """A `script`-like text modality over ByteTextTokenizer, for tests of the core and plugins."""
    from archon_framework._modality import RawSpec

    tok = ByteTextTokenizer()
    return [
        Modality(
            name="script", vocabulary=tok.vocabulary, temporal=True, phrase="script",
            raw=RawSpec(kind="text"), num_tokens=lambda meta: None, tokenizer=lambda path: tok,
            max_tokens=512, window=words_window, description="UTF-8 bytes (test kit)",
        )
    ]


class _ByteTextPlugin:
    @hookimpl
    def archon_modalities(self):
        return byte_text_modalities()


def make_registry(*plugins: tuple[str, object], with_byte_text: bool = False, entry_points: bool = False) -> Registry:
    """A Registry from plugin modules/objects registered through pluggy, as entry points are.

    Args:
        plugins: `(name, module_or_object)` pairs holding `@hookimpl` functions.
        with_byte_text: also register the byte-level `script` modality of this kit.
        entry_points: also load the installed entry points (default: only what is passed).
    """
    extra: list[tuple[str, object]] = list(plugins)
    if with_byte_text:
        extra.append(("byte_text", _ByteTextPlugin()))
    return load_registry(plugins=extra, entry_points=entry_points, blocked=())
