"""Wave I/O, validation and resampling (archon_speech_soundstream._audio)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
from archon_framework import RawValueError
from archon_speech_soundstream import (
    SAMPLE_RATE,
    check_wave,
    read_wave,
    resample,
    synthetic_speech,
    to_mono,
    write_wave,
)


def test_write_read_round_trip(tmp_path):
    wave = synthetic_speech(0.5, seed=1)
    path = write_wave(tmp_path / "a.wav", wave)
    back = read_wave(path)
    assert back.dtype == np.float32 and back.shape == wave.shape
    np.testing.assert_allclose(back, wave, atol=1.0 / 2**14)  # 16-bit PCM


def test_read_resamples_other_rates(tmp_path):
    t = np.arange(44_100) / 44_100
    soundfile.write(tmp_path / "a.wav", 0.5 * np.sin(2 * np.pi * 440 * t), 44_100, subtype="FLOAT")
    wave = read_wave(tmp_path / "a.wav")
    assert wave.shape == (SAMPLE_RATE,)
    spectrum = np.abs(np.fft.rfft(wave))
    assert abs(np.argmax(spectrum) - 440) <= 1  # 1 s at 16 kHz: bin k is k Hz
    with pytest.raises(RawValueError, match=r"a\.wav.*44100"):
        read_wave(tmp_path / "a.wav", resample_rate=False)


def test_stereo_is_downmixed_or_refused(tmp_path):
    left = 0.5 * np.ones(1600, np.float32)
    stereo = np.stack([left, -0.25 * np.ones(1600, np.float32)], axis=1)  # [samples, 2]
    soundfile.write(tmp_path / "s.wav", stereo, SAMPLE_RATE, subtype="FLOAT")
    np.testing.assert_allclose(read_wave(tmp_path / "s.wav"), 0.125, atol=1e-6)
    with pytest.raises(RawValueError, match="2 channels"):
        read_wave(tmp_path / "s.wav", downmix=False)
    assert to_mono(stereo).shape == (1600,)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (np.zeros(0, np.float32), "empty"),
        (np.array([0.0, np.nan, 0.1], np.float32), "NaN"),
        (np.array([0.0, np.inf], np.float32), "NaN or infinite"),
        (np.zeros((2, 100), np.float32), "mono"),
        (np.array([0.5, 1.5], np.float32), r"\[-1, 1\]"),
        (np.array(["a", "b"]), "numeric"),
    ],
)
def test_check_wave_refuses_bad_values(value, match):
    with pytest.raises(RawValueError, match=match) as info:
        check_wave(value, where="clip 'x'")
    assert "speech" in str(info.value) and "clip 'x'" in str(info.value)


def test_check_wave_length_and_cast():
    assert check_wave(np.zeros(10, np.float64), where="w").dtype == np.float32
    with pytest.raises(RawValueError, match="expects 12"):
        check_wave(np.zeros(10), where="w", expected_samples=12)


def test_unreadable_and_empty_files(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    with pytest.raises(RawValueError, match="bad.wav"):
        read_wave(bad)
    soundfile.write(tmp_path / "empty.wav", np.zeros(0, np.float32), SAMPLE_RATE)
    with pytest.raises(RawValueError, match="empty"):
        read_wave(tmp_path / "empty.wav")


def test_resample_lengths_and_rates():
    assert resample(np.zeros(48_000, np.float32), 48_000).shape == (16_000,)
    assert resample(np.zeros(22_050, np.float32), 22_050).shape == (16_000,)
    x = np.ones(100, np.float32)
    assert resample(x, SAMPLE_RATE) is not None and resample(x, SAMPLE_RATE).shape == (100,)
    with pytest.raises(RawValueError, match="orig_rate"):
        resample(x, 0)
