"""Speech-like test signals: voiced harmonics with vibrato through formant resonators, noise, silence.

Used by the tests, the benchmarks and as a fallback training source before a dataset is
installed. Not speech, but it has what a codec must learn: a pitched source with a moving F0,
a spectral envelope with formants, unvoiced noise bursts, and pauses.
"""

from __future__ import annotations

import numpy as np
import scipy.signal

from ._constants import SAMPLE_RATE

__all__ = ["synthetic_speech", "formant_filter"]

# (F1, F2, F3) in Hz of a few vowels (Peterson & Barney averages, rounded).
_VOWELS = np.array(
    [[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240], [530, 1840, 2480], [570, 840, 2410]],
    dtype=np.float64,
)


def formant_filter(source: np.ndarray, formants: np.ndarray, *, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Pass ``source`` through a cascade of second-order resonators at ``formants`` (Hz)."""
    out = source
    for f in formants:
        bandwidth = 60.0 + 0.06 * f
        r = np.exp(-np.pi * bandwidth / sr)
        theta = 2.0 * np.pi * f / sr
        a = [1.0, -2.0 * r * np.cos(theta), r * r]
        out = scipy.signal.lfilter([1.0 - r], a, out)
    return out


def _voiced(n: int, rng: np.random.Generator, sr: int) -> np.ndarray:
    t = np.arange(n) / sr
    f0 = rng.uniform(90.0, 260.0)
    vibrato = 1.0 + rng.uniform(0.01, 0.04) * np.sin(2 * np.pi * rng.uniform(4.0, 7.0) * t)
    glide = 1.0 + rng.uniform(-0.15, 0.15) * t / max(t[-1], 1e-3)
    phase = 2 * np.pi * np.cumsum(f0 * vibrato * glide) / sr  # [n]
    n_harm = int(min(30, (sr / 2) // (f0 * 1.3)))
    k = np.arange(1, n_harm + 1)[:, None]
    source = (np.sin(k * phase[None, :]) / k).sum(0)  # [harmonics, n] -> [n]
    v1, v2 = _VOWELS[rng.integers(len(_VOWELS), size=2)]
    mix = np.linspace(0.0, 1.0, n)[:, None]
    # Formants move from one vowel to the next: filter in 4 chunks with interpolated formants.
    chunks = np.array_split(np.arange(n), 4)
    out = np.concatenate(
        [formant_filter(source[c], (v1 * (1 - mix[c].mean()) + v2 * mix[c].mean()), sr=sr) for c in chunks]
    )
    return out


def _unvoiced(n: int, rng: np.random.Generator, sr: int) -> np.ndarray:
    noise = rng.standard_normal(n)
    centre = rng.uniform(2500.0, 6000.0)
    b, a = scipy.signal.butter(2, [centre * 0.7 / (sr / 2), min(centre * 1.3, sr / 2 - 100) / (sr / 2)], "band")
    return scipy.signal.lfilter(b, a, noise)


def synthetic_speech(
    seconds: float, *, seed: int = 0, sr: int = SAMPLE_RATE, noise_floor_db: float | None = -60.0
) -> np.ndarray:
    """A speech-like float32 wave of ``round(seconds * sr)`` samples, peak about 0.6.

    Segments of 60-300 ms: voiced (60 %), unvoiced noise bursts (20 %) or silence (20 %), each
    with a raised-cosine amplitude envelope, over a white room-noise floor at ``noise_floor_db``
    dBFS (None: digital silence, which no recording has and which log-spectral losses and
    metrics treat as -100 dB).
    """
    rng = np.random.default_rng(seed)
    total = int(round(seconds * sr))
    parts: list[np.ndarray] = []
    filled = 0
    while filled < total:
        n = min(int(rng.uniform(0.06, 0.3) * sr), total - filled)
        kind = rng.choice(3, p=[0.6, 0.2, 0.2])
        if n < 16 or kind == 2:
            seg = np.zeros(n)
        else:
            seg = _voiced(n, rng, sr) if kind == 0 else _unvoiced(n, rng, sr)
            seg = seg / (np.max(np.abs(seg)) + 1e-9) * rng.uniform(0.2, 0.6)
            seg = seg * np.sin(np.pi * np.arange(n) / n) ** 0.5  # fade in and out
        parts.append(seg)
        filled += n
    wave = np.concatenate(parts)[:total] if parts else np.zeros(0)
    if noise_floor_db is not None:
        wave = wave + 10.0 ** (noise_floor_db / 20.0) * rng.standard_normal(wave.shape[0])
    return np.clip(wave, -1.0, 1.0).astype(np.float32)
