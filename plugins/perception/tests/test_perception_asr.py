"""pocketsphinx recognition: real words with timings inside the speech, silence is empty, bad input refused."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import resample_poly

from archon_perception import ASR_SAMPLE_RATE, AsrConfig, PerceptionError, asr_definition, recognize


@pytest.fixture(scope="module")
def heard(clip):
    return recognize(clip["speech"], sample_rate=clip.meta.sample_rate)


def _words(text: str) -> list[str]:
    return [w.strip(".,?!").lower() for w in text.split()]


def test_espeak_speech_is_recognized_with_the_script_words(clip, heard):
    """Known answer: espeak's "It only takes five minutes." is heard word for word."""
    assert _words(clip["script"]) == ["it", "only", "takes", "five", "minutes"]
    assert len(set(_words(heard.text)) & set(_words(clip["script"]))) >= 4


def test_word_timings_lie_in_the_speech_and_in_order(clip, heard):
    speech = clip["speech"]
    voiced = np.flatnonzero(np.abs(speech) > 1e-3)
    first, last = voiced[0] / ASR_SAMPLE_RATE, voiced[-1] / ASR_SAMPLE_RATE
    starts = [w.start for w in heard.words]
    assert starts == sorted(starts)
    for w in heard.words:
        assert first - 0.1 <= w.start < w.end <= last + 0.1
        assert 0.0 <= w.confidence <= 1.0


def test_another_sample_rate_is_resampled(clip, heard):
    speech = resample_poly(clip["speech"].astype(np.float64), 441, 160).astype(np.float32)  # 16 kHz -> 44.1 kHz
    again = recognize(speech, sample_rate=44100)
    assert len(set(_words(again.text)) & set(_words(heard.text))) >= 3


def test_silence_has_no_words():
    assert recognize(np.zeros(ASR_SAMPLE_RATE, np.float32)).words == ()


@pytest.mark.parametrize(("speech", "match"), [
    (np.zeros((2, 100), np.float32), "mono float"),
    (np.zeros(100, np.int16), "mono float"),
    (np.full(100, np.nan, np.float32), "NaN"),
])
def test_bad_speech_names_the_clip(speech, match):
    with pytest.raises(PerceptionError, match=f"speech of clip x: .*{match}"):
        recognize(speech, name="speech of clip x")


def test_the_definition_hashes_the_model_and_records_every_decoder_setting():
    import pocketsphinx

    definition = asr_definition()
    root = Path(pocketsphinx.get_model_path())
    lm = "en-us/en-us.lm.bin"
    assert definition.files[lm] == hashlib.sha256((root / lm).read_bytes()).hexdigest()
    assert definition.parameters["samprate"] == 16000 and definition.parameters["frate"] == 100
    assert definition.parameters["lm"] == lm  # locations are relative: two installs compare equal
    assert any("lw" in d for d in definition.differences(asr_definition(AsrConfig(lw=9.0))))
