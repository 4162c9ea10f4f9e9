"""espeak-ng through ctypes: audio, word and phoneme timings, voices, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from archon_synthetic_heads import EspeakError, Voice, synthesize

TEXT = "Welcome back to the show, everyone. Today we talk about rivers."


@pytest.fixture(scope="module")
def speech():
    return synthesize(TEXT, Voice(variant="m3", pitch=45))


def test_audio_is_16k_mono_in_range(speech):
    assert speech.sample_rate == 16000 and speech.audio.dtype == np.float32 and speech.audio.ndim == 1
    assert 2.0 < speech.duration < 6.0
    assert np.abs(speech.audio).max() <= 1.0 and np.sqrt(np.mean(speech.audio ** 2)) > 0.02


def test_words_are_timed_in_order(speech):
    assert [w.text for w in speech.words] == TEXT.split()
    for a, b in zip(speech.words, speech.words[1:]):
        assert a.start < a.end and a.start <= b.start and a.end <= b.end
    assert speech.words[-1].end <= speech.duration
    # the sentence pause sits between "everyone" and "Today"
    gap = speech.words[6].start - speech.words[5].end
    assert gap > 0.15


def test_words_merged_by_espeak_share_their_neighbour_interval():
    words = synthesize("She learned on the road.", Voice()).words
    assert [w.text for w in words] == ["She", "learned", "on", "the", "road."]
    on, the, road = words[2:]
    assert (the.start, the.end) == (on.start, on.end) and road.start >= the.end - 1e-6


def test_phonemes_cover_the_words(speech):
    starts = [p.start for p in speech.phones]
    assert starts == sorted(starts) and len(speech.phones) > 30
    for w in speech.words:
        assert any(w.start - 1e-6 <= p.start < w.end for p in speech.phones)


def test_silence_between_words_is_quiet(speech):
    a = speech.audio
    w5, w6 = speech.words[5], speech.words[6]
    pause = a[int((w5.end + 0.05) * 16000): int((w6.start - 0.05) * 16000)]
    word = a[int(w6.start * 16000): int(w6.end * 16000)]
    assert np.sqrt(np.mean(pause ** 2)) < 0.1 * np.sqrt(np.mean(word ** 2))


def test_same_input_same_output_whatever_ran_before():
    a = synthesize("Let me show you how this works.", Voice())
    synthesize("Something else entirely, in another voice.", Voice(variant="f2", pitch=80))
    b = synthesize("Let me show you how this works.", Voice())
    assert np.array_equal(a.audio, b.audio) and a.words == b.words


def test_pitch_parameter_raises_the_fundamental(pitch_of):
    low = synthesize("Hello there, how are you?", Voice(variant="m3", pitch=30))
    high = synthesize("Hello there, how are you?", Voice(variant="f2", pitch=85))
    assert pitch_of(high.audio) > 1.5 * pitch_of(low.audio)


def test_unknown_voice_is_refused():
    with pytest.raises(EspeakError, match="no voice variant"):
        synthesize("hello", Voice(variant="no_such_variant"))


def test_unknown_language_is_refused():
    with pytest.raises(EspeakError, match="no voice 'xx-nope"):
        synthesize("hello", Voice(language="xx-nope"))
