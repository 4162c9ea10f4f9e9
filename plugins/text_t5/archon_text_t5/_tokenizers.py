"""Tokenizers of the ``script`` and ``description`` modalities (paper Sec. D.1, D.2) over the
shared SentencePiece ``text`` vocabulary.

* ``script``: plain text; ``decode(encode(t)) == normalize_text(t)`` (see ``_spm`` for what the
  normalization does).
* ``description``: the Fig. K JSON, validated and canonicalized (``_schema``), written as
  compact JSON (``separators=(",", ":")``, ASCII with ``\\uXXXX`` escapes) and encoded; decode
  parses it back, so a valid description round-trips exactly to its canonical form.

A generated description that does not parse (bad JSON, or JSON that breaks the schema) is not
an exception deep inside decoding: ``decode`` returns an :class:`UnparsedDescription` carrying
the text it got and the reason, which the caller can report, score (as an empty prediction) or
refuse (``Modality.check_raw`` refuses it with a RawValueError, since it is not a dict).

Over-budget inputs are refused, never truncated: a truncated script or description would teach
the model text that does not match its clip.
"""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from archon_framework import ClipMeta, ConfigError, RawValueError, Vocabulary
from archon_framework.config import load_config, save_config

from archon_text_t5._config import TextConfig, load_text_config
from archon_text_t5._corpus import description_json
from archon_text_t5._schema import validate_description
from archon_text_t5._spm import SentencePieceText, check_text

__all__ = [
    "ARTIFACT_CONFIG",
    "ARTIFACT_MODEL",
    "UnparsedDescription",
    "parse_description",
    "ScriptTokenizer",
    "DescriptionTokenizer",
    "load_codec",
    "make_script_tokenizer",
    "make_description_tokenizer",
]

ARTIFACT_CONFIG = "text_t5.json"
ARTIFACT_MODEL = "text_spm.model"


@attrs.frozen
class UnparsedDescription:
    """A generated description that is not a valid one.

    Attributes:
        text: the decoded text, verbatim.
        error: why it was refused (JSON syntax error, or the schema error with its JSON path).
        value: the parsed JSON when the text was JSON but broke the schema, else None.
    """

    text: str
    error: str
    value: Any = None


def parse_description(text: str) -> dict[str, Any] | UnparsedDescription:
    """Parse decoded description text.

    Args:
        text: canonical description JSON (as the description tokenizer writes it).

    Returns:
        The canonical description dict, or an :class:`UnparsedDescription` saying why not.
    """
    try:
        value = json.loads(text)
    except ValueError as err:
        return UnparsedDescription(text=text, error=f"not JSON: {err}")
    try:
        return validate_description(value)
    except RawValueError as err:
        return UnparsedDescription(text=text, error=str(err), value=value)


@functools.lru_cache(maxsize=8)
def _load_cached(path: str, extra_ids: int) -> SentencePieceText:
    return SentencePieceText(path, extra_ids=extra_ids)


def load_codec(
    artifact_dir: Path | None = None, *, config: TextConfig | None = None
) -> tuple[SentencePieceText, TextConfig]:
    """The SentencePiece codec and its config.

    Args:
        artifact_dir: a directory ``save`` wrote (its config wins when given).
        config: the config to use otherwise; None reads ``$ARCHON_TEXT_T5_CONFIG`` or the
            bundled default.

    Raises:
        ConfigError: bad config; DataError: missing or corrupt model file (named).
    """
    base: Path | None = None
    if artifact_dir is not None:
        config_file = Path(artifact_dir) / ARTIFACT_CONFIG
        if not config_file.is_file():
            raise ConfigError(
                f"text tokenizer artifact directory {artifact_dir} has no {ARTIFACT_CONFIG}; "
                "save one with ScriptTokenizer.save or pass no directory for the default"
            )
        config, base = load_config(config_file, TextConfig), Path(artifact_dir)
    elif config is None:
        config, base = load_text_config()
    path = config.model_path(base).resolve()
    return _load_cached(str(path), config.extra_ids), config


class _TextModalityTokenizer:
    """Shared part: the ``text`` codec (core ``TextCodec``), budget and artifact saving."""

    modality = ""

    def __init__(self, codec: SentencePieceText, *, max_tokens: int, config: TextConfig | None = None) -> None:
        self.codec = codec
        self.max_tokens = max_tokens
        self.config = config or TextConfig(extra_ids=codec.extra_ids)

    @property
    def vocabulary(self) -> Vocabulary:
        return self.codec.vocabulary

    @property
    def eos_id(self) -> int:
        return self.codec.eos_id

    def encode_text(self, text: str) -> np.ndarray:
        return self.codec.encode_text(text)

    def decode_text(self, local_ids: np.ndarray) -> str:
        return self.codec.decode_text(local_ids)

    def normalize_text(self, text: str) -> str:
        return self.codec.normalize_text(text)

    def normalize(self, text: str) -> str:
        return self.codec.normalize_text(text)

    def _where(self, meta: ClipMeta | None) -> str:
        clip = getattr(meta, "clip_id", None)
        return f"modality {self.modality!r}" + (f" (clip {clip!r})" if clip else "")

    def _budget(self, local_ids: np.ndarray, meta: ClipMeta | None) -> np.ndarray:
        if local_ids.shape[0] > self.max_tokens:
            raise RawValueError(
                f"{self._where(meta)}: {local_ids.shape[0]} tokens, over the budget of {self.max_tokens}; "
                f"shorten it or raise {self.modality}_max_tokens in the text_t5 config"
            )
        return local_ids

    def save(self, directory: Path) -> None:
        """Copy the SentencePiece model and write its config into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.codec.model_file, directory / ARTIFACT_MODEL)
        save_config(attrs.evolve(self.config, spm_model=ARTIFACT_MODEL), directory / ARTIFACT_CONFIG)


class ScriptTokenizer(_TextModalityTokenizer):
    """``script`` (paper Sec. D.2): the words spoken in the clip, as plain text."""

    modality = "script"

    def to_text(self, raw: Any, *, meta: ClipMeta | None = None) -> str:
        """Checked text (UTF-8, no control characters, within the token budget)."""
        text = check_text(raw, where=self._where(meta))
        self._budget(self.codec.encode_text(text), meta)
        return text

    def from_text(self, text: str) -> str:
        return text

    def encode(self, raw: Any, *, meta: ClipMeta | None = None) -> np.ndarray:
        """Script text (str or UTF-8 bytes) -> int32 [n] local ids, n <= max_tokens."""
        text = check_text(raw, where=self._where(meta))
        return self._budget(self.codec.encode_text(text), meta)

    def decode(self, local_ids: np.ndarray, *, meta: ClipMeta | None = None) -> str:
        """Local ids -> the (normalized) script text."""
        return self.codec.decode_text(local_ids)


class DescriptionTokenizer(_TextModalityTokenizer):
    """``description`` (paper Sec. D.1, Fig. K/L): structured JSON as canonical JSON text."""

    modality = "description"

    def to_text(self, raw: Any, *, meta: ClipMeta | None = None) -> str:
        """Validated canonical compact JSON text, within the token budget."""
        text = description_json(validate_description(raw, meta))
        self._budget(self.codec.encode_text(text), meta)
        return text

    def from_text(self, text: str) -> dict[str, Any] | UnparsedDescription:
        return parse_description(text)

    def encode(self, raw: Any, *, meta: ClipMeta | None = None) -> np.ndarray:
        """Description dict -> int32 [n] local ids of its canonical JSON, n <= max_tokens."""
        text = description_json(validate_description(raw, meta))
        local_ids = self._budget(self.codec.encode_text(text), meta)
        if self.codec.decode_text(local_ids) != text:  # ASCII JSON: cannot happen with nmt_nfkc
            raise RawValueError(
                f"{self._where(meta)}: the SentencePiece model's normalization changes the description "
                "text, so it would not round-trip; use a model with an identity-on-ASCII normalizer"
            )
        return local_ids

    def decode(self, local_ids: np.ndarray, *, meta: ClipMeta | None = None) -> dict[str, Any] | UnparsedDescription:
        """Local ids -> the canonical description, or :class:`UnparsedDescription`."""
        return parse_description(self.codec.decode_text(local_ids))


def make_script_tokenizer(
    artifact_dir: Path | None = None, *, config: TextConfig | None = None
) -> ScriptTokenizer:
    """Tokenizer factory of ``script`` (``Modality.tokenizer``); see :func:`load_codec`."""
    codec, config = load_codec(artifact_dir, config=config)
    return ScriptTokenizer(codec, max_tokens=config.script_max_tokens, config=config)


def make_description_tokenizer(
    artifact_dir: Path | None = None, *, config: TextConfig | None = None
) -> DescriptionTokenizer:
    """Tokenizer factory of ``description`` (``Modality.tokenizer``); see :func:`load_codec`."""
    codec, config = load_codec(artifact_dir, config=config)
    return DescriptionTokenizer(codec, max_tokens=config.description_max_tokens, config=config)
