"""Speech metrics: the pitch estimator, the voice-identity proxy and the reused MCD-DTW."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework import ClipMeta, RawValueError
from archon_eval_metrics import cepstral_cosine, pitch_error_semitones, pitch_track, voice_profile
from archon_eval_metrics._voice import mcd_dtw_metric, voice_cepstral_cosine_metric, voice_pitch_error_metric

SR = 16_000
META = ClipMeta(clip_id="v", duration=1.0, frame_rate=30, sample_rate=SR)


def vowel(f0: float, formants: tuple[float, ...], *, seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    """A glottal pulse train at ``f0`` through two-pole resonators at ``formants`` (Hz), plus faint noise."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    source = np.diff(np.floor(t * f0), prepend=0.0)  # one impulse per period
    out = source
    for f in formants:
        r = np.exp(-np.pi * 80.0 / SR)  # 80 Hz bandwidth
        out = scipy.signal.lfilter([1.0 - r], [1.0, -2 * r * np.cos(2 * np.pi * f / SR), r * r], out)
    out = out / np.abs(out).max() * 0.5
    return (out + 1e-3 * np.random.default_rng(seed).normal(size=n)).astype(np.float32)


@settings(max_examples=12, deadline=None)
@given(f0=st.floats(70.0, 400.0))
def test_pitch_of_a_pulse_train(f0):
    track = pitch_track(vowel(f0, (700.0, 1200.0)), sr=SR)
    assert track.voiced.mean() > 0.8
    assert track.median_f0 == pytest.approx(f0, rel=0.01)


def test_pitch_of_a_sine_and_of_silence_and_noise():
    t = np.arange(SR) / SR
    assert pitch_track(0.3 * np.sin(2 * np.pi * 150.0 * t)).median_f0 == pytest.approx(150.0, rel=0.005)
    silent = pitch_track(np.zeros(SR))
    assert not silent.voiced.any() and np.isnan(silent.median_f0)
    noise = pitch_track(np.random.default_rng(0).normal(scale=0.2, size=SR))
    assert noise.voiced.mean() < 0.1


def test_identical_speech_scores_perfectly():
    wave = vowel(120.0, (600.0, 1100.0, 2500.0))
    assert voice_cepstral_cosine_metric(wave, wave, meta=META) == pytest.approx(1.0)
    assert voice_pitch_error_metric(wave, wave, meta=META) == 0.0
    assert mcd_dtw_metric(wave, wave, meta=META) == pytest.approx(0.0, abs=1e-9)


def test_pitch_error_counts_semitones():
    low, high = voice_profile(vowel(110.0, (700.0,))), voice_profile(vowel(220.0, (700.0,)))
    assert pitch_error_semitones(low, high) == pytest.approx(12.0, abs=0.15)
    assert pitch_error_semitones(high, low) == pytest.approx(12.0, abs=0.15)
    assert np.isnan(pitch_error_semitones(low, voice_profile(np.zeros(SR))))


def test_cepstral_cosine_follows_the_spectral_envelope_not_the_pitch():
    a = voice_profile(vowel(120.0, (500.0, 1500.0, 2500.0)))
    same_tract = voice_profile(vowel(150.0, (500.0, 1500.0, 2500.0), seed=1))
    other_tract = voice_profile(vowel(120.0, (300.0, 2300.0, 3000.0), seed=2))
    assert cepstral_cosine(a, same_tract) > cepstral_cosine(a, other_tract) + 0.1
    assert cepstral_cosine(a, voice_profile(np.zeros(SR))) == 0.0  # digital silence: all-zero cepstrum


def test_mcd_grows_with_distortion():
    wave = vowel(120.0, (600.0, 1100.0))
    noise = np.random.default_rng(3).normal(size=wave.shape).astype(np.float32)
    scores = [mcd_dtw_metric(np.clip(wave + s * noise, -1, 1), wave, meta=META) for s in (0.003, 0.03, 0.3)]
    assert 0.0 < scores[0] < scores[1] < scores[2]
    assert mcd_dtw_metric(wave[: SR // 2], wave, meta=META) >= 0.0  # DTW takes different lengths


def test_bad_speech_names_the_metric():
    wave = vowel(120.0, (600.0,))
    with pytest.raises(RawValueError, match=r"speech_mcd_dtw: prediction 'speech' must have 1 dimensions"):
        mcd_dtw_metric(np.stack([wave, wave]), wave, meta=META)
    with pytest.raises(RawValueError, match=r"voice_pitch_error_semitones: 'speech' contains NaN"):
        voice_pitch_error_metric(np.full(SR, np.nan, np.float32), wave, meta=META)
    with pytest.raises(RawValueError, match=r"voice_cepstral_cosine: 'speech' is empty"):
        voice_cepstral_cosine_metric(np.zeros(0, np.float32), wave, meta=META)


def test_proxy_separates_espeak_voices():
    from archon_synthetic_heads import Voice, synthesize

    texts = ("The quick brown fox jumps over the lazy dog.", "Nothing is impossible for those who keep trying.")
    voices = (Voice(variant="m3", pitch=40), Voice(variant="f2", pitch=70), Voice(variant="f4", pitch=85))
    prof = {(v, t): voice_profile(synthesize(text, voice).audio) for v, voice in enumerate(voices)
            for t, text in enumerate(texts)}
    for v in range(len(voices)):  # one voice, two sentences: same pitch within a semitone
        assert pitch_error_semitones(prof[v, 0], prof[v, 1]) < 1.0
    assert pitch_error_semitones(prof[0, 0], prof[1, 1]) > 10.0  # a low male and a female voice
    same = np.mean([cepstral_cosine(prof[v, 0], prof[v, 1]) for v in range(3)])
    other = np.mean([cepstral_cosine(prof[v, 0], prof[w, 1]) for v in range(3) for w in range(3) if w != v])
    assert same > other + 0.1
