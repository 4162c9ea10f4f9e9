"""Speech metrics: mel-cepstral distortion with dynamic time warping (MCD-DTW), energy envelope.

MCD (Kubichek 1993), as used by Archon's Tables 1-2 through Battenberg et al. 2020:

    MCD = K * mean over aligned frame pairs of sqrt( sum_{d=d0}^{D} (c_d - c^_d)^2 ),
    K   = 10 * sqrt(2) / ln 10 = 6.14185...   (dB for natural-log amplitude cepstra)

with ``d0 = 1`` (c0, the frame energy, excluded) by default. With ``dtw=True`` the frames are
aligned by DTW on the same Euclidean cepstral distance (steps (1,0), (0,1), (1,1), unit weights)
and the path sum is divided by the path length; for equal lengths this is never above the plain
(diagonal) MCD. Cepstra here are MFCC-like: a DCT-II (orthonormal) of the natural log of the mel
*amplitude* spectrum (not SPTK mcep on WORLD envelopes), so the absolute numbers are comparable
between runs of this code, not to published tables. Every score carries its parameters.
"""

from __future__ import annotations

import math

import attrs
import numpy as np
import scipy.fft
from archon_framework import RawValueError
from jaxtyping import Float

from ._constants import SAMPLE_RATE
from ._spectral import mel_filterbank, np_stft_magnitude

__all__ = [
    "MCD_CONSTANT",
    "McdScore",
    "mel_cepstrum",
    "mel_cepstral_distortion",
    "dtw_path",
    "energy_envelope",
    "log_mel_distance",
]

MCD_CONSTANT: float = 10.0 * math.sqrt(2.0) / math.log(10.0)  # 6.141851463713754
N_MELS = 80  # mel bands of the cepstra (c0 = sum of log amplitudes / sqrt(N_MELS))


@attrs.frozen
class McdScore:
    """An MCD value together with the protocol that produced it (print it next to the number)."""

    value: float
    sr: int
    order: int
    include_c0: bool
    constant: float
    dtw: bool
    frames_ref: int
    frames_est: int
    path_length: int
    speech_frames_db: float | None = None

    def __float__(self) -> float:
        return self.value

    def __str__(self) -> str:
        kind = "MCD-DTW" if self.dtw else "MCD"
        if self.speech_frames_db is not None:
            kind += f" (reference frames within {self.speech_frames_db:g} dB of its loudest)"
        return (
            f"{kind}={self.value:.3f} dB (sr={self.sr}, order={self.order}, "
            f"include_c0={self.include_c0}, constant={self.constant:.6g}, "
            f"frames={self.frames_ref}/{self.frames_est}, path={self.path_length})"
        )


def mel_cepstrum(
    wave: Float[np.ndarray, " samples"],
    *,
    sr: int = SAMPLE_RATE,
    order: int = 13,
    n_fft: int = 1024,
    hop: int = 256,
    n_mels: int = N_MELS,
    floor: float = 1e-5,
) -> Float[np.ndarray, "frames coeffs"]:
    """MFCC-like cepstra ``c_0..c_order`` per frame, shape ``[frames, order + 1]``.

    Args:
        wave: mono samples.
        sr: sample rate in Hz.
        order: the highest cepstral index kept.
        n_fft: FFT and (Hann) window size.
        hop: frame hop in samples.
        n_mels: mel bands.
        floor: amplitude floor before the log (-100 dB), so silence has finite cepstra.
    """
    wave = np.asarray(wave, dtype=np.float64)
    if wave.ndim != 1 or wave.size == 0:
        raise RawValueError(f"speech metric: expected a non-empty mono wave, got shape {wave.shape}")
    if order + 1 > n_mels:
        raise RawValueError(f"speech metric: order {order} needs more than n_mels={n_mels} bands")
    power = np_stft_magnitude(wave, n_fft=n_fft, hop=hop) ** 2  # [frames, bins]
    mel_power = power @ mel_filterbank(sr, n_fft, n_mels).T.astype(np.float64)  # [frames, mels]
    log_amp = np.log(np.maximum(np.sqrt(mel_power), floor))
    ceps = scipy.fft.dct(log_amp, type=2, norm="ortho", axis=-1)  # [frames, mels]
    return ceps[:, : order + 1]  # [frames, order + 1]


def dtw_path(cost: Float[np.ndarray, "n m"]) -> tuple[float, list[tuple[int, int]]]:
    """Minimum-sum monotone alignment through ``cost`` from (0, 0) to (n-1, m-1).

    Steps (1, 0), (0, 1), (1, 1) with unit weights. The accumulation runs over anti-diagonals so
    each step is one vectorized NumPy operation.

    Returns:
        (path sum, path as a list of (i, j) index pairs).
    """
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for k in range(2, n + m + 1):  # k = i + j over 1-based indices
        i = np.arange(max(1, k - m), min(n, k - 1) + 1)
        j = k - i
        best = np.minimum(np.minimum(acc[i - 1, j - 1], acc[i - 1, j]), acc[i, j - 1])
        acc[i, j] = cost[i - 1, j - 1] + best
    path = [(n - 1, m - 1)]
    i, j = n, m
    while (i, j) != (1, 1):
        moves = ((i - 1, j - 1), (i - 1, j), (i, j - 1))
        i, j = min(moves, key=lambda ij: acc[ij])
        path.append((i - 1, j - 1))
    path.reverse()
    return float(acc[n, m]), path


def mel_cepstral_distortion(
    ref: Float[np.ndarray, " samples"] | Float[np.ndarray, "frames coeffs"],
    est: Float[np.ndarray, " samples"] | Float[np.ndarray, "frames coeffs"],
    *,
    sr: int = SAMPLE_RATE,
    order: int = 13,
    include_c0: bool = False,
    constant: float = MCD_CONSTANT,
    dtw: bool = True,
    cepstra: bool = False,
    speech_frames_db: float | None = None,
) -> McdScore:
    """Mel-cepstral distortion between a reference and an estimate, MCD-DTW by default.

    Args:
        ref: reference wave ``[samples]`` (or cepstra ``[frames, order + 1]`` with cepstra=True).
        est: estimated wave (or cepstra), any length when ``dtw`` is True.
        sr: sample rate of both waves.
        order: highest cepstral coefficient D (c1..cD are scored).
        include_c0: also score c0 (energy); the standard protocol excludes it.
        constant: the factor K in front of the mean Euclidean distance; 10*sqrt(2)/ln 10 by default
            (pass 1.0 for the constant-free variant some papers report).
        dtw: align with DTW (divide by the path length); False scores frame i against frame i and
            requires equal frame counts.
        cepstra: the inputs are already cepstra from :func:`mel_cepstrum` (with its default
            ``n_mels`` when ``speech_frames_db`` is used).
        speech_frames_db: score only the frames whose reference level (the mean log mel
            amplitude, from c0) is within this many dB of the reference's loudest frame, in both
            sequences, which must then be time-aligned (equal frame counts, as a codec's
            reconstruction is). This is the usual "silence excluded" variant: with c0 excluded,
            a digitally silent reference frame scores only the spectral *shape* of whatever
            inaudible noise the estimate has there, which says nothing of its quality.
            ``None`` (the default) scores every frame.

    Returns:
        An :class:`McdScore`; ``float(score)`` is the value.
    """
    if cepstra:
        c_ref, c_est = np.asarray(ref, np.float64), np.asarray(est, np.float64)
    else:
        c_ref = mel_cepstrum(ref, sr=sr, order=order)
        c_est = mel_cepstrum(est, sr=sr, order=order)
    if speech_frames_db is not None:
        if not speech_frames_db >= 0:
            raise ValueError(f"speech metric: speech_frames_db must be >= 0 dB, got {speech_frames_db}")
        if c_ref.shape[0] != c_est.shape[0]:
            raise RawValueError(
                f"speech metric: speech_frames_db selects frames by the reference, so both need "
                f"the same frame count (time-aligned), got {c_ref.shape[0]} and {c_est.shape[0]}"
            )
        level_db = c_ref[:, 0] * (20.0 / math.log(10.0)) / math.sqrt(N_MELS)  # mean log mel amplitude, dB
        keep = level_db >= level_db.max() - speech_frames_db
        c_ref, c_est = c_ref[keep], c_est[keep]
    start = 0 if include_c0 else 1
    a, b = c_ref[:, start : order + 1], c_est[:, start : order + 1]  # [frames, D]
    if dtw:
        cost = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))  # [n, m]
        total, path = dtw_path(cost)
        length = len(path)
    else:
        if a.shape[0] != b.shape[0]:
            raise RawValueError(
                f"speech metric: plain MCD needs equal frame counts, got {a.shape[0]} and "
                f"{b.shape[0]}; pass dtw=True"
            )
        total = float(np.sqrt(((a - b) ** 2).sum(-1)).sum())
        length = a.shape[0]
    return McdScore(
        value=constant * total / length,
        sr=sr,
        order=order,
        include_c0=include_c0,
        constant=constant,
        dtw=dtw,
        frames_ref=a.shape[0],
        frames_est=b.shape[0],
        path_length=length,
        speech_frames_db=speech_frames_db,
    )


def log_mel_distance(
    ref: Float[np.ndarray, " samples"],
    est: Float[np.ndarray, " samples"],
    *,
    sr: int = SAMPLE_RATE,
    n_fft: int = 1024,
    hop: int = 256,
    n_mels: int = 80,
    floor: float = 1e-5,
) -> float:
    """Log-mel spectral distance in dB between two time-aligned waves (no DTW).

    ``mean_t sqrt(mean_m (20 log10 max(M_tm, floor) - 20 log10 max(M^_tm, floor))^2)`` over the
    mel amplitude spectra of :func:`mel_cepstrum`'s front end; frames beyond the shorter wave
    are ignored. Unlike MCD it includes the overall level (a too-quiet output scores worse).
    """
    specs = []
    for wave in (ref, est):
        wave = np.asarray(wave, dtype=np.float64)
        if wave.ndim != 1 or wave.size == 0:
            raise RawValueError(f"speech metric: expected a non-empty mono wave, got shape {wave.shape}")
        power = np_stft_magnitude(wave, n_fft=n_fft, hop=hop) ** 2  # [frames, bins]
        mel = np.sqrt(power @ mel_filterbank(sr, n_fft, n_mels).T.astype(np.float64))  # [frames, mels]
        specs.append(20.0 * np.log10(np.maximum(mel, floor)))
    n = min(specs[0].shape[0], specs[1].shape[0])
    diff = specs[0][:n] - specs[1][:n]  # [frames, mels]
    return float(np.mean(np.sqrt(np.mean(diff**2, axis=-1))))


def energy_envelope(
    wave: Float[np.ndarray, " samples"],
    *,
    frame_rate: float,
    sr: int = SAMPLE_RATE,
    n_frames: int | None = None,
    db: bool = False,
    floor_db: float = -100.0,
) -> Float[np.ndarray, " frames"]:
    """Frame RMS energy at a video-like frame rate, for lip-sync measures.

    Frame ``k`` covers samples ``[round(k * sr / frame_rate), round((k + 1) * sr / frame_rate))``,
    so fractional hops (16 kHz at 30 fps = 533.3 samples) do not drift. Frames past the end of the
    wave are zero (silence).

    Args:
        wave: mono samples.
        frame_rate: frames per second (25 for the speech tokens, 30 for Archon's video).
        sr: sample rate.
        n_frames: output length; default ``round(len(wave) * frame_rate / sr)``.
        db: return ``20 log10(rms)`` floored at ``floor_db`` instead of linear RMS.
    """
    wave = np.asarray(wave, dtype=np.float64)
    if wave.ndim != 1:
        raise RawValueError(f"speech energy envelope: expected a mono wave, got shape {wave.shape}")
    if frame_rate <= 0:
        raise RawValueError(f"speech energy envelope: frame_rate must be > 0, got {frame_rate}")
    if n_frames is None:
        n_frames = int(round(wave.shape[0] * frame_rate / sr))
    bounds = np.round(np.arange(n_frames + 1) * (sr / frame_rate)).astype(np.int64)  # [frames + 1]
    bounds = np.minimum(bounds, wave.shape[0])
    csum = np.concatenate([[0.0], np.cumsum(wave**2)])  # [samples + 1]
    counts = np.maximum(bounds[1:] - bounds[:-1], 1)
    rms = np.sqrt(np.maximum(csum[bounds[1:]] - csum[bounds[:-1]], 0.0) / counts)  # [frames]
    if db:
        return np.maximum(20.0 * np.log10(np.maximum(rms, 1e-12)), floor_db).astype(np.float32)
    return rms.astype(np.float32)
