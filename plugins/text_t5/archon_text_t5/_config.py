"""Configuration of the text plugin: which SentencePiece model, T5 extra ids, token budgets.

The config is a frozen attrs record read with ``archon_framework.config`` (TOML or JSON).
The installed modalities read it once, at plugin load, from the file named by the environment
variable ``ARCHON_TEXT_T5_CONFIG`` (the packaged default when unset), because the size of the
shared ``text`` vocabulary must be known when the modalities are declared. Example, to use
T5's own tokenizer::

    # text_t5.toml
    spm_model = "/models/t5/spiece.model"   # 32,000 pieces
    extra_ids = 100                          # + <extra_id_0..99>: 32,100 text ids

Default vocabulary (``data/text_spm.model``): 1,900 unigram pieces (3 control pieces, 256
byte-fallback pieces, 1,641 learned pieces) + 100 T5 extra ids = 2,000 text ids. Why: the paper
keeps T5's SentencePiece tokenizer (32,100 ids), far too large for a tiny CPU language model
whose embedding and output layers scale with the vocabulary; ~2k pieces is also what the
bundled corpus supports (sentencepiece's unigram trainer refuses more than ~2,030 pieces on
it), while byte fallback keeps any UTF-8 text encodable. Train a larger one on more text with
``archon text train-spm``.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs
from archon_framework import ConfigError
from archon_framework.config import load_config

from archon_text_t5._schema import DescriptionPolicy

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_MODEL_FILE",
    "DEFAULT_VOCAB_SIZE",
    "TextConfig",
    "load_text_config",
]

CONFIG_ENV = "ARCHON_TEXT_T5_CONFIG"
DEFAULT_MODEL_FILE = Path(__file__).parent / "data" / "text_spm.model"
#: Pieces of the bundled model (byte fallback and control pieces included), without extra ids.
DEFAULT_VOCAB_SIZE = 1900


def _non_negative(instance, attribute, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"TextConfig.{attribute.name} must be an int >= 0, got {value!r}")


def _positive(instance, attribute, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"TextConfig.{attribute.name} must be an int > 0, got {value!r}")


@attrs.frozen(kw_only=True)
class TextConfig:
    """Settings of the ``text`` vocabulary and its two modalities.

    Attributes:
        spm_model: path of a SentencePiece model file; empty for the bundled default. A
            relative path is resolved against the directory of the config file that names it.
        extra_ids: T5 sentinel ids ``<extra_id_0..N-1>`` appended after the pieces, in T5's
            order (``<extra_id_0>`` is the last id). T5 uses 100.
        script_max_tokens: token budget of one script; longer scripts are refused.
        description_max_tokens: token budget of one description; longer ones are refused.
        description: how descriptions that stray from the schema are read (a ``[description]``
            table: ``missing = "unknown" | "error"``, ``unknown_keys = "drop" | "keep" |
            "error"``; see :class:`~archon_text_t5.DescriptionPolicy`).
    """

    spm_model: str = ""
    extra_ids: int = attrs.field(default=100, validator=_non_negative)
    script_max_tokens: int = attrs.field(default=256, validator=_positive)
    description_max_tokens: int = attrs.field(default=1024, validator=_positive)
    description: DescriptionPolicy = DescriptionPolicy()

    def model_path(self, base: Path | None = None) -> Path:
        """The SentencePiece model file this config names.

        Args:
            base: directory relative paths are resolved against.

        Returns:
            An absolute or base-relative path (not checked for existence here).
        """
        if not self.spm_model:
            return DEFAULT_MODEL_FILE
        path = Path(self.spm_model).expanduser()
        if not path.is_absolute() and base is not None:
            path = base / path
        return path


def load_text_config(path: str | Path | None = None) -> tuple[TextConfig, Path | None]:
    """Load the plugin config.

    Args:
        path: a TOML/JSON config file; None reads ``$ARCHON_TEXT_T5_CONFIG`` and falls back
            to the defaults when that is unset.

    Returns:
        ``(config, directory of the config file or None)``.

    Raises:
        ConfigError: the file is missing or invalid (named in the message).
    """
    if path is None:
        env = os.environ.get(CONFIG_ENV, "").strip()
        if not env:
            return TextConfig(), None
        path = env
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"text_t5 config file {path} does not exist (named by {CONFIG_ENV} or passed in); "
            "create it or unset the variable"
        )
    return load_config(path, TextConfig), path.parent
