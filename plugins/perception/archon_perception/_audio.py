"""Speech input checks shared by the audio models: mono float samples, finite, resampled to their rate."""

from __future__ import annotations

import math

import numpy as np

from archon_perception._definition import PerceptionError

__all__ = ["SILENCE_RMS", "as_speech", "is_silent"]

#: RMS below this (-100 dBFS) is digital silence: no model is asked to hear it.
SILENCE_RMS = 1e-5


def as_speech(speech: object, *, sample_rate: int, target_rate: int, name: str) -> np.ndarray:
    """Checked mono float32 samples at `target_rate` (polyphase resampling from `sample_rate`).

    Raises:
        PerceptionError: not 1-D float samples, non-finite samples, or a rate that is not positive.
    """
    wave = np.asarray(speech)
    if wave.ndim != 1 or not np.issubdtype(wave.dtype, np.floating):
        raise PerceptionError(f"{name}: speech models need mono float samples [samples], got {wave.dtype} {wave.shape}")
    if not np.all(np.isfinite(wave)):
        raise PerceptionError(f"{name}: speech has NaN or infinite samples")
    if int(sample_rate) <= 0:
        raise PerceptionError(f"{name}: sample rate {sample_rate} Hz must be positive")
    if int(sample_rate) != target_rate:
        from scipy.signal import resample_poly

        g = math.gcd(int(sample_rate), target_rate)
        wave = resample_poly(wave.astype(np.float64), target_rate // g, int(sample_rate) // g)
    return np.asarray(wave, np.float32)


def is_silent(wave: np.ndarray) -> bool:
    """No sample, or an RMS below :data:`SILENCE_RMS`."""
    return wave.size == 0 or float(np.sqrt(np.mean(np.square(wave, dtype=np.float64)))) < SILENCE_RMS
