"""Hook implementations: the ``script`` and ``description`` modalities, the description
metric and the ``text`` command group (paper Sec. D.1, D.2, E.3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archon_framework import ClipMeta, Metric, Modality, RawSpec, Vocabulary, hookimpl, words_window

from archon_text_t5._cli import make_app
from archon_text_t5._config import TextConfig, load_text_config
from archon_text_t5._load import load_description, load_script
from archon_text_t5._metric import description_f1
from archon_text_t5._schema import validate_description
from archon_text_t5._tokenizers import (
    DescriptionTokenizer,
    ScriptTokenizer,
    load_codec,
    make_description_tokenizer,
    make_script_tokenizer,
)

__all__ = ["make_modalities", "archon_modalities", "archon_metrics", "archon_commands"]


def _no_count(meta: ClipMeta) -> None:
    return None


def make_modalities(config: TextConfig | None = None) -> list[Modality]:
    """The two modalities for a config (default: the installed one).

    Args:
        config: budgets and model; None loads ``$ARCHON_TEXT_T5_CONFIG`` or the defaults.

    Returns:
        ``[script, description]``, both over ``Vocabulary("text", pieces + extra_ids)``.
    """
    codec, config = load_codec(None, config=config)
    vocab = codec.vocabulary
    script_tokenizer = ScriptTokenizer(codec, max_tokens=config.script_max_tokens, config=config)

    def make_script(artifact_dir: Path | None) -> ScriptTokenizer:
        return script_tokenizer if artifact_dir is None else make_script_tokenizer(artifact_dir)

    def make_description(artifact_dir: Path | None) -> DescriptionTokenizer:
        if artifact_dir is None:
            return DescriptionTokenizer(codec, max_tokens=config.description_max_tokens, config=config)
        return make_description_tokenizer(artifact_dir)

    def vocabulary_for(artifact_dir: Path) -> Vocabulary:
        """The text vocabulary of the SentencePiece model in ``artifact_dir`` (a model trained with
        ``archon text train-spm`` sizes the unified vocabulary by its pieces)."""
        return load_codec(artifact_dir, config=config)[0].vocabulary

    def validate_script(value: Any, meta: ClipMeta) -> str:
        return script_tokenizer.to_text(value, meta=meta)

    script = Modality(
        name="script",
        vocabulary=vocab,
        temporal=True,
        phrase="script",
        raw=RawSpec(kind="text"),
        num_tokens=_no_count,
        tokenizer=make_script,
        max_tokens=config.script_max_tokens,
        validate=validate_script,
        window=words_window,
        load=load_script,
        vocabulary_for=vocabulary_for,
        description=f"spoken words as text; SentencePiece, {vocab.size} ids shared as 'text'",
    )
    description = Modality(
        name="description",
        vocabulary=vocab,
        temporal=False,
        phrase="description",
        raw=RawSpec(kind="json"),
        num_tokens=_no_count,
        tokenizer=make_description,
        max_tokens=config.description_max_tokens,
        validate=validate_description,
        load=load_description,
        vocabulary_for=vocabulary_for,
        description="Fig. K JSON (schema of Fig. L), canonical compact JSON text",
    )
    return [script, description]


def _description_metric(prediction: Any, reference: Any, *, meta: ClipMeta | None = None) -> dict[str, float]:
    scores = description_f1(prediction, reference)
    return {k: v for k, v in scores.items() if k != "per_attribute"}


@hookimpl
def archon_modalities() -> list[Modality]:
    return make_modalities(load_text_config()[0])


@hookimpl
def archon_metrics() -> list[Metric]:
    return [
        Metric(
            name="description_attribute_f1",
            modalities=("description",),
            fn=_description_metric,
            higher_is_better=True,
            description="attribute-level P/R/F1 (exact match per value; the paper uses BGE "
            "embedding similarity instead), mean over the Fig. L attributes",
        )
    ]


@hookimpl
def archon_commands() -> list[Any]:
    return [make_app()]
