"""The speech file loader of manifest ingestion (archon_speech_soundstream._load)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import warnings

from archon_framework import ClipMeta, DataWarning, RawValueError
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_speech_soundstream import SAMPLE_RATE, SPEECH, synthetic_speech
from archon_speech_soundstream._load import LENGTH_TOLERANCE_SECONDS, fit_to_clip, load_speech


def _meta(seconds: float = 0.5, sample_rate: int = SAMPLE_RATE) -> ClipMeta:
    return ClipMeta(clip_id="c1", duration=seconds, frame_rate=30, sample_rate=sample_rate)


def test_wav_at_16k_round_trips_and_validates(tmp_path):
    wave = synthetic_speech(0.5, seed=2)
    soundfile.write(tmp_path / "a.wav", wave, SAMPLE_RATE, subtype="PCM_16")
    meta = _meta(0.5)
    loaded = load_speech(tmp_path / "a.wav", meta)
    assert loaded.dtype == np.float32 and loaded.shape == (meta.samples,)
    np.testing.assert_allclose(loaded, wave, atol=1.0 / 2**14)  # 16-bit PCM
    assert SPEECH.load is load_speech
    np.testing.assert_array_equal(SPEECH.check_raw(loaded, meta), loaded)


def test_flac_at_another_rate_is_resampled_to_16k(tmp_path):
    rate = 44_100
    t = np.arange(rate // 2) / rate  # 0.5 s
    soundfile.write(tmp_path / "a.flac", 0.5 * np.sin(2 * np.pi * 500 * t), rate)
    with pytest.warns(DataWarning, match=r"a\.flac.*resampled from 44100 Hz to 16000 Hz"):
        loaded = load_speech(tmp_path / "a.flac", _meta(0.5))
    assert loaded.shape == (SAMPLE_RATE // 2,)
    spectrum = np.abs(np.fft.rfft(loaded))
    assert abs(np.argmax(spectrum) * 2 - 500) <= 2  # 0.5 s at 16 kHz: bin k is 2k Hz


def test_stereo_is_mixed_down_by_averaging(tmp_path):
    stereo = np.stack([np.full(8000, 0.5, np.float32), np.full(8000, -0.1, np.float32)], axis=1)
    soundfile.write(tmp_path / "s.wav", stereo, SAMPLE_RATE, subtype="FLOAT")
    with pytest.warns(DataWarning, match=r"s\.wav.*down-mixed 2 channels to mono"):
        np.testing.assert_allclose(load_speech(tmp_path / "s.wav", _meta(0.5)), 0.2, atol=1e-6)


def test_short_audio_is_padded_with_silence_and_says_so(tmp_path):
    wave = synthetic_speech(0.4, seed=4)
    soundfile.write(tmp_path / "short.wav", wave, SAMPLE_RATE, subtype="FLOAT")
    with pytest.warns(DataWarning, match=r"short\.wav.*padded 0\.400 s of audio with 0\.100 s of silence"):
        loaded = load_speech(tmp_path / "short.wav", _meta(0.5))
    assert loaded.shape == (8000,)
    np.testing.assert_allclose(loaded[: wave.size], wave, atol=1e-7)
    assert not loaded[wave.size :].any()


def test_a_wav_truncated_to_100_bytes_is_refused_not_read_as_silence(tmp_path):
    """Issue 28, defect 1: libsndfile reads 28 samples of a 1 s wav cut to 100 bytes."""
    soundfile.write(tmp_path / "cut.wav", synthetic_speech(1.0, seed=1), SAMPLE_RATE, subtype="PCM_16")
    (tmp_path / "cut.wav").write_bytes((tmp_path / "cut.wav").read_bytes()[:100])
    with pytest.raises(RawValueError, match=r"cut\.wav.*lasts 0\.00\d s but the clip lasts 1\.000 s.*shorter"):
        load_speech(tmp_path / "cut.wav", _meta(1.0))


def test_a_file_that_fits_exactly_is_loaded_without_a_warning(tmp_path):
    soundfile.write(tmp_path / "a.wav", synthetic_speech(0.5, seed=3), SAMPLE_RATE, subtype="FLOAT")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        load_speech(tmp_path / "a.wav", _meta(0.5))


def test_long_audio_within_tolerance_is_cut_beyond_it_refused(tmp_path):
    slack = int(LENGTH_TOLERANCE_SECONDS * SAMPLE_RATE)
    soundfile.write(tmp_path / "slack.wav", np.full(8000 + slack, 0.1, np.float32), SAMPLE_RATE, subtype="FLOAT")
    with pytest.warns(DataWarning, match=r"slack\.wav.*cut the last 0\.100 s"):
        assert load_speech(tmp_path / "slack.wav", _meta(0.5)).shape == (8000,)
    soundfile.write(tmp_path / "long.wav", np.full(8000 + slack + 1, 0.1, np.float32), SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(RawValueError, match=r"long\.wav.*longer than its clip.*refused rather than truncated"):
        load_speech(tmp_path / "long.wav", _meta(0.5))


def test_nan_out_of_range_and_unreadable_files_are_refused_naming_the_file(tmp_path):
    bad = np.zeros(8000, np.float32)
    bad[100] = np.nan
    soundfile.write(tmp_path / "nan.wav", bad, SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(RawValueError, match=r"nan\.wav.*NaN"):
        load_speech(tmp_path / "nan.wav", _meta(0.5))
    soundfile.write(tmp_path / "loud.wav", np.full(800, 2.0, np.float32), SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(RawValueError, match=r"loud\.wav.*\[-1, 1\]"):
        load_speech(tmp_path / "loud.wav", _meta(0.5))
    (tmp_path / "text.wav").write_text("not audio")
    with pytest.raises(RawValueError, match=r"text\.wav"):
        load_speech(tmp_path / "text.wav", _meta(0.5))
    with pytest.raises(RawValueError, match=r"missing\.wav"):
        load_speech(tmp_path / "missing.wav", _meta(0.5))


def test_a_manifest_rate_other_than_16k_is_refused(tmp_path):
    soundfile.write(tmp_path / "a.wav", np.zeros(4410, np.float32), 44_100)
    with pytest.raises(RawValueError, match=r"a\.wav.*sample_rate 44100.*16000"):
        load_speech(tmp_path / "a.wav", _meta(0.1, sample_rate=44_100))


@settings(max_examples=60, deadline=None)
@given(length=st.integers(1, 2400), samples=st.integers(1, 800))
def test_fit_to_clip_pads_or_cuts_only_within_tolerance(length, samples):
    wave = np.linspace(-0.5, 0.5, length, dtype=np.float32)
    tol, short = 0.05, 0.01  # 800 and 160 samples
    allowed_short = max(short * SAMPLE_RATE, 0.25 * samples)
    kwargs = dict(where="w", tolerance_seconds=tol, short_tolerance_seconds=short, short_tolerance_fraction=0.25)
    if length - samples > tol * SAMPLE_RATE or samples - length > allowed_short + 1e-6:
        with pytest.raises(RawValueError, match="refused"):
            fit_to_clip(wave, samples, **kwargs)
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fit_to_clip(wave, samples, **kwargs)
    assert len(caught) == (length != samples)  # every adjustment is said, once
    keep = min(length, samples)
    assert out.shape == (samples,) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:keep], wave[:keep])  # never shifted or scaled
    assert not out[keep:].any()  # the padding is silence
