"""MCD-DTW, mel cepstra, DTW, energy envelope and the spectral front end."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest
from archon_framework import RawValueError
from archon_speech_soundstream import (
    MCD_CONSTANT,
    dtw_path,
    energy_envelope,
    mel_cepstral_distortion,
    mel_cepstrum,
    mel_filterbank,
    synthetic_speech,
)
from archon_speech_soundstream._spectral import np_stft_magnitude, stft_magnitude
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.fixture(scope="module")
def waves():
    return synthetic_speech(1.0, seed=11), synthetic_speech(1.0, seed=12)


def test_constant_value():
    assert MCD_CONSTANT == pytest.approx(10 * math.sqrt(2) / math.log(10))
    assert MCD_CONSTANT == pytest.approx(6.141851463713754)


def test_identical_inputs_give_zero(waves):
    a, _ = waves
    for dtw in (True, False):
        score = mel_cepstral_distortion(a, a, dtw=dtw)
        assert float(score) == 0.0
        assert ("MCD-DTW" if dtw else "MCD=") in str(score) and "include_c0=False" in str(score)


def test_symmetric_and_positive(waves):
    a, b = waves
    ab, ba = float(mel_cepstral_distortion(a, b)), float(mel_cepstral_distortion(b, a))
    assert ab > 1.0
    assert ab == pytest.approx(ba, rel=1e-9)


def test_dtw_not_above_plain_mcd_for_equal_lengths(waves):
    a, b = waves
    noisy = np.clip(a + 0.05 * np.random.default_rng(0).standard_normal(a.shape), -1, 1)
    for other in (b, noisy):
        assert float(mel_cepstral_distortion(a, other, dtw=True)) <= float(
            mel_cepstral_distortion(a, other, dtw=False)
        ) + 1e-9


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=5, max_size=30), st.integers(0, 2**31 - 1))
def test_repeated_frames_give_zero_with_dtw(repeats, seed):
    ceps = np.random.default_rng(seed).standard_normal((len(repeats), 14))
    stretched = np.repeat(ceps, repeats, axis=0)  # time-stretch by frame repetition
    assert float(mel_cepstral_distortion(ceps, stretched, cepstra=True)) == pytest.approx(0.0, abs=1e-12)
    assert float(mel_cepstral_distortion(ceps, ceps[::-1], cepstra=True)) >= 0.0


def test_dtw_beats_misalignment_on_waves(waves):
    a, _ = waves
    shifted = np.concatenate([np.zeros(800, np.float32), a[:-800]])  # 50 ms late
    assert float(mel_cepstral_distortion(a, shifted, dtw=True)) < float(
        mel_cepstral_distortion(a, shifted, dtw=False)
    )


def test_arguments_change_the_score(waves):
    a, b = waves
    base = float(mel_cepstral_distortion(a, b))
    assert float(mel_cepstral_distortion(a, b, constant=1.0)) == pytest.approx(base / MCD_CONSTANT)
    assert float(mel_cepstral_distortion(a, b, include_c0=True)) > base
    assert mel_cepstrum(a, order=13).shape[1] == 14
    with pytest.raises(RawValueError, match="equal frame counts"):
        mel_cepstral_distortion(a, b[:8000], dtw=False)


def test_silence_excluded_mcd_ignores_inaudible_noise_in_digital_silence(waves):
    """With c0 excluded, a digitally silent reference frame scores only the shape of the
    estimate's noise there: -80 dBFS white noise over speech with pauses costs the all-frames
    MCD several dB, and nearly nothing over the reference's speech frames."""
    a, b = waves
    pause = np.zeros(8000, np.float32)
    ref = np.concatenate([a, pause, a, pause])
    noisy = ref + 1e-4 * np.random.default_rng(0).standard_normal(ref.shape).astype(np.float32)
    everything = float(mel_cepstral_distortion(ref, noisy))
    speech = mel_cepstral_distortion(ref, noisy, speech_frames_db=40.0)
    assert everything > 3.0 and float(speech) < 0.2 * everything
    assert speech.frames_ref < mel_cepstrum(ref).shape[0] and "within 40 dB" in str(speech)
    # Real differences in speech still count.
    other = np.concatenate([b, pause, b, pause])
    assert float(mel_cepstral_distortion(ref, other, speech_frames_db=40.0)) > 5 * float(speech)
    with pytest.raises(RawValueError, match="same frame count"):
        mel_cepstral_distortion(ref, noisy[:-4000], speech_frames_db=40.0)
    with pytest.raises(ValueError, match=">= 0 dB"):
        mel_cepstral_distortion(ref, noisy, speech_frames_db=-1.0)


def test_dtw_path_is_monotone_and_optimal_on_small_case():
    cost = np.array([[0.0, 5.0, 5.0], [5.0, 0.0, 5.0], [5.0, 5.0, 0.0], [5.0, 5.0, 0.0]])
    total, path = dtw_path(cost)
    assert total == 0.0 and path[0] == (0, 0) and path[-1] == (3, 2)
    steps = np.diff(np.array(path), axis=0)
    assert np.all(steps >= 0) and np.all(steps.sum(1) >= 1)


def test_energy_envelope_rates_and_values():
    sr = 16_000
    wave = np.concatenate([np.zeros(sr // 2), 0.5 * np.ones(sr // 2)]).astype(np.float32)
    env25 = energy_envelope(wave, frame_rate=25)
    env30 = energy_envelope(wave, frame_rate=30)
    assert env25.shape == (25,) and env30.shape == (30,)
    np.testing.assert_allclose(env25[:12], 0.0)
    np.testing.assert_allclose(env25[13:], 0.5, rtol=1e-6)
    assert energy_envelope(wave, frame_rate=30, n_frames=40)[-1] == 0.0  # past the end: silence
    db = energy_envelope(wave, frame_rate=25, db=True)
    assert db[0] == -100.0 and db[-1] == pytest.approx(20 * np.log10(0.5), abs=1e-4)
    with pytest.raises(RawValueError):
        energy_envelope(wave, frame_rate=0)


def test_mel_filterbank_shape_and_coverage():
    bank = mel_filterbank(16_000, 1024, 80)
    assert bank.shape == (80, 513)
    assert np.all(bank >= 0) and np.all(bank.max(axis=1) > 0.5)
    centres = np.argmax(bank, axis=1)
    assert np.all(np.diff(centres) >= 0)


def test_jax_and_numpy_stft_agree(waves):
    a, _ = waves
    ref = np_stft_magnitude(a, n_fft=512, hop=128)
    got = np.asarray(stft_magnitude(jnp.asarray(a), n_fft=512, hop=128, eps=0.0))
    assert got.shape == ref.shape == (125, 257)
    np.testing.assert_allclose(got, ref, atol=2e-3, rtol=1e-3)
