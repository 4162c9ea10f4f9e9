"""DNSMOS and GE2E speaker embeddings: safe weights, definitions, silence, bad input."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest

from archon_perception import (
    PerceptionError,
    cosine_similarity,
    dnsmos,
    dnsmos_definition,
    speaker_definition,
    speaker_embedding,
)


def test_speaker_embeddings_are_unit_vectors_and_the_same_voice_is_closer(clip):
    speech = clip["speech"]
    whole = speaker_embedding(speech)
    assert whole.shape == (256,) and abs(float(np.linalg.norm(whole)) - 1.0) < 1e-4
    quieter = speaker_embedding(0.3 * speech)  # the level is normalized before the encoder
    assert cosine_similarity(whole, quieter) > 0.999
    pitched = speaker_embedding(speech, sample_rate=13000)  # read as 16 kHz: a lower, slower voice
    assert cosine_similarity(whole, pitched) < cosine_similarity(whole, quieter)


def test_silence_has_no_embedding_and_no_quality():
    assert np.isnan(speaker_embedding(np.zeros(16000, np.float32))).all()
    assert all(math.isnan(v) for v in dnsmos(np.zeros(16000, np.float32)).as_dict().values())
    assert math.isnan(cosine_similarity(np.zeros(3), np.ones(3)))


def test_the_definitions_hash_the_shipped_weights():
    import resemblyzer
    import speechmos

    speaker = speaker_definition()
    weights = Path(resemblyzer.__file__).parent / "pretrained.pt"
    assert speaker.files["pretrained.pt"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert speaker.parameters["partials_n_frames"] == 160 and speaker.version == "0.1.4"
    quality = dnsmos_definition()
    onnx = Path(speechmos.__file__).parent / "dnsmos_models" / "sig_bak_ovr.onnx"
    assert quality.files["dnsmos_models/sig_bak_ovr.onnx"] == hashlib.sha256(onnx.read_bytes()).hexdigest()
    assert quality.parameters["window_s"] == 9.01


@pytest.mark.parametrize("fn", [dnsmos, speaker_embedding])
def test_bad_speech_is_refused_with_its_name(fn):
    with pytest.raises(PerceptionError, match="clip y"):
        fn(np.zeros((2, 8), np.float32), name="clip y")
    with pytest.raises(PerceptionError, match="NaN"):
        fn(np.array([0.0, np.inf], np.float32), name="clip y")
