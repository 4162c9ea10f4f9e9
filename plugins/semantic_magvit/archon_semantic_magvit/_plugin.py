"""Entry point of the archon-semantic-magvit plugin: the ``semantic`` and ``image`` modalities."""

from __future__ import annotations

from pathlib import Path

from archon_framework import Modality, RawSpec, hookimpl
from archon_semantic_magvit._labels import NUM_LABELS
from archon_semantic_magvit._load import load_reference_image, load_semantic
from archon_semantic_magvit._tokenizer import (
    IMAGE_VOCABULARY,
    SEMANTIC_VOCABULARY,
    image_num_tokens,
    load_tokenizer,
    semantic_num_tokens,
    vocabulary_for,
)
from archon_semantic_magvit._train import train_image, train_semantic

__all__ = ["SEMANTIC", "IMAGE", "archon_modalities"]


def _semantic_tokenizer(artifact_dir: Path | None):
    return load_tokenizer("semantic", artifact_dir)


def _image_tokenizer(artifact_dir: Path | None):
    return load_tokenizer("image", artifact_dir)


SEMANTIC = Modality(
    name="semantic",
    vocabulary=SEMANTIC_VOCABULARY,
    temporal=True,
    phrase="semantic video",
    raw=RawSpec(kind="array", dtype="uint8", shape=("frames", 128, 128), value_range=(0, NUM_LABELS - 1)),
    num_tokens=semantic_num_tokens,
    tokenizer=_semantic_tokenizer,
    trainer=train_semantic,
    load=load_semantic,
    vocabulary_for=vocabulary_for,
    grid=(8, 8),  # each latent frame's codes, row-major (semantic_num_tokens)
    description="label videos (21 labels, Table H) -> MAGVIT-v2 LFQ 2^10, 4x8x8 per 4 frames",
)

IMAGE = Modality(
    name="image",
    vocabulary=IMAGE_VOCABULARY,
    temporal=False,
    phrase="reference image",
    raw=RawSpec(kind="array", dtype="uint8", shape=(256, 256, 3), value_range=(0, 255)),
    num_tokens=image_num_tokens,
    tokenizer=_image_tokenizer,
    trainer=train_image,
    load=load_reference_image,
    vocabulary_for=vocabulary_for,
    grid=(16, 16),  # row-major (image_num_tokens)
    description="256x256 RGB -> MAGVIT-v2 LFQ (2^18 codes in the paper config, 2^12 tiny), 16x16 tokens",
)


@hookimpl
def archon_modalities() -> list[Modality]:
    return [SEMANTIC, IMAGE]
