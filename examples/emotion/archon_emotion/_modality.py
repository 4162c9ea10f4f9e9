"""The `emotion` modality: one categorical label per clip, one token."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from archon_framework import (
    ClipMeta,
    Modality,
    RawSpec,
    RawValueError,
    Slot,
    Task,
    TaskSuite,
    VocabError,
    Vocabulary,
)

#: The label set (the six basic emotions plus neutral and contempt).
EMOTIONS: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "surprised", "fearful", "disgusted", "contempt")
_INDEX = {name: i for i, name in enumerate(EMOTIONS)}
VOCABULARY = Vocabulary("emotion", len(EMOTIONS))


class EmotionTokenizer:
    """label <-> one local id; lossless."""

    vocabulary = VOCABULARY

    def encode(self, raw: str, *, meta: ClipMeta) -> np.ndarray:
        return np.array([_INDEX[_check(raw, meta)]], dtype=np.int32)

    def decode(self, local_ids: np.ndarray, *, meta: ClipMeta) -> str:
        ids = np.asarray(local_ids)
        if ids.shape != (1,):
            raise VocabError(f"clip {meta.clip_id!r}, modality 'emotion': expected exactly 1 id, got {ids.shape}")
        if not 0 <= int(ids[0]) < len(EMOTIONS):
            raise VocabError(f"clip {meta.clip_id!r}, modality 'emotion': id {int(ids[0])} outside 0..{len(EMOTIONS) - 1}")
        return EMOTIONS[int(ids[0])]


def _check(value: str, meta: ClipMeta) -> str:
    label = value.strip().lower()
    if label not in _INDEX:
        raise RawValueError(
            f"clip {meta.clip_id!r}, modality 'emotion': unknown label {value!r}; expected one of {', '.join(EMOTIONS)}"
        )
    return label


def _make_tokenizer(artifact_dir: Path | None) -> EmotionTokenizer:
    return EmotionTokenizer()  # nothing to train: the label set is the vocabulary


EMOTION = Modality(
    name="emotion",
    vocabulary=VOCABULARY,
    temporal=False,
    phrase="emotion label",
    raw=RawSpec(kind="text"),
    num_tokens=lambda meta: 1,
    tokenizer=_make_tokenizer,
    validate=_check,
    description="the dominant emotion of the clip, one of 8 labels",
)


def emotion_suite() -> TaskSuite:
    """Tasks that read and write the emotion label alongside the built-in modalities."""
    e = Slot("emotion", "t")
    return TaskSuite(
        "emotion",
        (
            Task((Slot("description", "t"),), e),
            Task((Slot("speech", "c"),), e),
            Task((Slot("expression", "c"),), e),
            Task((Slot("script", "c"), e), Slot("speech", "c")),
            Task((Slot("speech", "c"), e), Slot("expression", "c")),
        ),
    )
