"""Spectral front ends shared by the losses (JAX) and the metrics (NumPy): mel filterbank, STFT.

The mel scale is the HTK one, ``mel(f) = 2595 log10(1 + f / 700)``; filters are triangles on the
FFT bins, unit peak (not area-normalized), so a filter that falls between two bins of a short FFT
is simply empty (zero row) rather than NaN.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

__all__ = [
    "mel_filterbank",
    "hz_to_mel",
    "mel_to_hz",
    "frame_signal",
    "stft_magnitude",
    "np_stft_magnitude",
]


def hz_to_mel(freq: np.ndarray | float) -> np.ndarray:
    """HTK mel scale."""
    return 2595.0 * np.log10(1.0 + np.asarray(freq, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


@functools.lru_cache(maxsize=64)
def _mel_filterbank_cached(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float
) -> np.ndarray:
    n_bins = n_fft // 2 + 1
    bin_freqs = np.linspace(0.0, sample_rate / 2.0, n_bins)  # [bins]
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))  # [mels + 2]
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]  # [mels, 1]
    rising = (bin_freqs[None, :] - lower) / np.maximum(centre - lower, 1e-9)  # [mels, bins]
    falling = (upper - bin_freqs[None, :]) / np.maximum(upper - centre, 1e-9)
    bank = np.clip(np.minimum(rising, falling), 0.0, None)
    bank.setflags(write=False)
    return bank.astype(np.float32)


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None
) -> Float[np.ndarray, "mels bins"]:
    """Triangular mel filterbank of shape ``[n_mels, n_fft // 2 + 1]`` (cached, read-only).

    Args:
        sample_rate: in Hz.
        n_fft: FFT size; the bank has ``n_fft // 2 + 1`` columns.
        n_mels: number of triangles.
        fmin: lowest edge in Hz.
        fmax: highest edge in Hz (default: Nyquist).
    """
    fmax = sample_rate / 2.0 if fmax is None else float(fmax)
    return _mel_filterbank_cached(int(sample_rate), int(n_fft), int(n_mels), float(fmin), fmax)


def _frame_starts(n_samples: int, hop: int) -> np.ndarray:
    return np.arange(0, max(n_samples, 1), hop)


def frame_signal(wave: Float[Array, " samples"], *, n_fft: int, hop: int) -> Float[Array, "frames n_fft"]:
    """Overlapping frames ``[frames, n_fft]``; frame ``i`` covers samples ``[i hop, i hop + n_fft)``.

    The wave is padded at the end with zeros to whole frames (centred framing would peek into the
    future; one convention for losses, discriminator and metrics), ``frames = ceil(samples / hop)``.
    When ``hop`` divides ``n_fft`` the frames are built from reshapes and slices, which XLA
    compiles (and differentiates) much faster than a gather.
    """
    n = wave.shape[0]
    starts = _frame_starts(n, hop)  # [frames]
    frames = starts.shape[0]
    padded = jnp.pad(wave, (0, int(starts[-1]) + n_fft - n))  # [(frames - 1) * hop + n_fft]
    if n_fft % hop:
        idx = starts[:, None] + np.arange(n_fft)[None, :]  # [frames, n_fft]
        return padded[idx]
    r = n_fft // hop
    blocks = padded.reshape(-1, hop)  # [frames - 1 + r, hop]
    stacked = jnp.stack([blocks[k : k + frames] for k in range(r)], axis=1)  # [frames, r, hop]
    return stacked.reshape(frames, n_fft)


def stft_magnitude(
    wave: Float[Array, " samples"], *, n_fft: int, hop: int, eps: float = 1e-7
) -> Float[Array, "frames bins"]:
    """Magnitude STFT in JAX with a periodic Hann window of length ``n_fft`` (see `frame_signal`)."""
    window = 0.5 - 0.5 * jnp.cos(2.0 * jnp.pi * jnp.arange(n_fft) / n_fft)
    frames = frame_signal(wave, n_fft=n_fft, hop=hop)  # [samples] -> [frames, n_fft]
    spec = jnp.fft.rfft(frames * window, axis=-1)  # [frames, n_fft // 2 + 1]
    return jnp.sqrt(spec.real**2 + spec.imag**2 + eps)


def np_stft_magnitude(
    wave: Float[np.ndarray, " samples"], *, n_fft: int, hop: int
) -> Float[np.ndarray, "frames bins"]:
    """NumPy twin of :func:`stft_magnitude` (same framing and window, no epsilon)."""
    wave = np.asarray(wave, dtype=np.float64)
    n = wave.shape[0]
    starts = _frame_starts(n, hop)
    padded = np.pad(wave, (0, int(starts[-1]) + n_fft - n))
    idx = starts[:, None] + np.arange(n_fft)[None, :]  # [frames, n_fft]
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)
    return np.abs(np.fft.rfft(padded[idx] * window, axis=-1))  # [frames, bins]
