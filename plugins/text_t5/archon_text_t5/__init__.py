"""archon-text-t5: the ``script`` and ``description`` modalities over one SentencePiece ``text``
vocabulary (Archon paper, Sec. D.1 and D.2).

Public API: the description schema of Fig. L (:data:`DESCRIPTION_SCHEMA`) with its validator and
canonical form; the SentencePiece codec and the two tokenizers; the description metric; the
``train-spm`` command.
"""

from archon_text_t5._schema import (
    DESCRIPTION_EXAMPLE,
    DESCRIPTION_KEY_ALIASES,
    DESCRIPTION_SCHEMA,
    DescriptionPolicy,
    STRING,
    STRING_LIST,
    VALUE_EXAMPLES,
    canonicalize_description,
    description_paths,
    validate_description,
)
from archon_text_t5._cli import make_app
from archon_text_t5._config import CONFIG_ENV, DEFAULT_MODEL_FILE, TextConfig, load_text_config
from archon_text_t5._corpus import build_default_corpus, description_json, random_description, write_default_corpus
from archon_text_t5._load import TimedWord, load_description, load_script, read_captions, words_in_clip
from archon_text_t5._metric import description_f1, flatten_description
from archon_text_t5._spm import SentencePieceText, check_text, train_spm
from archon_text_t5._tokenizers import (
    DescriptionTokenizer,
    ScriptTokenizer,
    UnparsedDescription,
    make_description_tokenizer,
    make_script_tokenizer,
    parse_description,
)

__all__ = [
    "TimedWord",
    "load_description",
    "load_script",
    "read_captions",
    "words_in_clip",
    "CONFIG_ENV",
    "build_default_corpus",
    "write_default_corpus",
    "DEFAULT_MODEL_FILE",
    "DescriptionTokenizer",
    "ScriptTokenizer",
    "SentencePieceText",
    "TextConfig",
    "UnparsedDescription",
    "check_text",
    "description_f1",
    "description_json",
    "flatten_description",
    "load_text_config",
    "make_app",
    "make_description_tokenizer",
    "make_script_tokenizer",
    "parse_description",
    "random_description",
    "train_spm",
    "DESCRIPTION_EXAMPLE",
    "DESCRIPTION_KEY_ALIASES",
    "DESCRIPTION_SCHEMA",
    "DescriptionPolicy",
    "STRING",
    "STRING_LIST",
    "VALUE_EXAMPLES",
    "canonicalize_description",
    "description_paths",
    "validate_description",
]
