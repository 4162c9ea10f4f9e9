"""Shared fixtures: a few short generated clips, made once per test session."""

from __future__ import annotations

import numpy as np
import pytest

from archon_synthetic_heads import generate_clip


def f0_hz(audio: np.ndarray, sample_rate: int = 16000) -> float:
    """Median fundamental frequency of the voiced 40 ms frames (autocorrelation peak, 60-500 Hz)."""
    n = int(0.04 * sample_rate)
    out = []
    for start in range(0, len(audio) - n, n // 2):
        x = audio[start: start + n].astype(np.float64)
        if np.sqrt(np.mean(x * x)) < 0.03:
            continue
        x = x - x.mean()
        ac = np.correlate(x, x, "full")[n - 1:]
        lo, hi = sample_rate // 500, sample_rate // 60
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.3 * ac[0]:
            out.append(sample_rate / lag)
    return float(np.median(out)) if out else float("nan")


@pytest.fixture(scope="session")
def pitch_of():
    """The F0 estimator :func:`f0_hz` (a fixture: test modules cannot import conftest)."""
    return f0_hz


@pytest.fixture(scope="session")
def clips():
    """Ten 1-second training clips of seed 11 (about 5 s to make on one core)."""
    return [generate_clip(i, seed=11, seconds=1.0) for i in range(10)]
