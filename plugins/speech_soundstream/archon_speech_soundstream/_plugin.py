"""Entry point of the plugin: declares the ``speech`` modality (Archon Sec. 3.1)."""

from __future__ import annotations

import numpy as np
from archon_framework import ClipMeta, Modality, RawSpec, RawValueError, hookimpl

from ._audio import check_wave
from ._constants import FRAME_RATE
from ._load import load_speech
from ._tokenizer import SPEECH_VOCABULARY, make_tokenizer, num_speech_tokens, vocabulary_for
from ._trainer import train_tokenizer

__all__ = ["SPEECH", "archon_modalities"]


def _validate(value: np.ndarray, meta: ClipMeta) -> np.ndarray:
    """Domain check beyond the RawSpec: 1-D, non-empty, finite, in [-1, 1], 16 kHz metadata."""
    wave = check_wave(value, where=f"clip {meta.clip_id!r}", expected_samples=meta.samples)
    if meta.sample_rate != 16_000:
        raise RawValueError(
            f"speech (clip {meta.clip_id!r}): sample_rate is {meta.sample_rate} Hz; the modality "
            "takes 16000 Hz (resample with archon_speech_soundstream.resample)"
        )
    return wave


SPEECH = Modality(
    name="speech",
    vocabulary=SPEECH_VOCABULARY,
    temporal=True,
    phrase="speech audio",
    raw=RawSpec(kind="array", dtype="float32", shape=("samples",), value_range=(-1.0, 1.0)),
    num_tokens=num_speech_tokens,
    tokenizer=make_tokenizer,
    tokens_per_second=float(FRAME_RATE * 4),
    validate=_validate,
    trainer=train_tokenizer,
    load=load_speech,
    vocabulary_for=vocabulary_for,
    description="16 kHz mono speech; SoundStream RVQ, 25 frames/s x 4 of 8 levels x 1024 codes",
)


@hookimpl
def archon_modalities() -> list[Modality]:
    """The speech modality."""
    return [SPEECH]
