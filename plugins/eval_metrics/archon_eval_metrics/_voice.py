"""Speech metrics: MCD-DTW (reused) and a voice-identity proxy from pitch and cepstra.

The paper scores voice identity with a speaker-verification network; this is a weight-free
*proxy* built from two classic speaker cues, reported as two numbers:

* ``voice_cepstral_cosine``: the cosine similarity of the mean mel-cepstrum ``c1..c13``
  (:func:`archon_speech_soundstream.mel_cepstrum`, ``c0`` = loudness left out) over the
  *voiced* frames of each wave: a long-term average of the spectral envelope (vocal tract and
  voice quality). Averaging over voiced frames only keeps the vowels and drops fricatives and
  silence, which otherwise make the average depend on what is said more than on who says it.
* ``voice_pitch_error_semitones``: ``|12 log2(F0_pred / F0_ref)|`` of the median F0 of the
  voiced frames.

Pitch is a normalized-autocorrelation estimator (Rabiner 1977, with the unbiased lag
normalization of Boersma 1993): per 64 ms frame (the cepstra's framing: ``[i * 256, i * 256 +
1024)`` at 16 kHz), remove the mean, take the autocorrelation ``r(l)`` by FFT, divide by
``(N - l)`` and by ``r(0)``, and take as ``l*`` the shortest lag within 60..500 Hz whose local
peak reaches 85 % of the largest one there (multiples of the period peak as high as the period,
so "the largest" alone makes octave errors), refined by parabolic interpolation. The frame is voiced when ``r(l*) / r(0) >= 0.6`` and its RMS is within
35 dB of the loudest frame. F0 = ``sr / l*``.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
from jaxtyping import Float

from archon_framework import ClipMeta
from archon_speech_soundstream import mel_cepstral_distortion, mel_cepstrum

from archon_eval_metrics._checks import as_array

__all__ = [
    "PitchTrack",
    "VoiceProfile",
    "pitch_track",
    "voice_profile",
    "cepstral_cosine",
    "pitch_error_semitones",
    "mcd_dtw_metric",
    "voice_cepstral_cosine_metric",
    "voice_pitch_error_metric",
]

_N_FFT = 1024
_HOP = 256
_ORDER = 13
_N_MELS = 80
_OCTAVE_TOLERANCE = 0.85


@attrs.frozen(kw_only=True, eq=False)
class PitchTrack:
    """Per-frame F0 estimates.

    Attributes:
        f0: Hz per frame (meaningful where ``voiced``).
        voiced: bool per frame.
        periodicity: normalized autocorrelation at the chosen lag, per frame.
        hop: samples between frames.
    """

    f0: np.ndarray
    voiced: np.ndarray
    periodicity: np.ndarray
    hop: int

    @property
    def median_f0(self) -> float:
        """Median F0 of the voiced frames in Hz; NaN when no frame is voiced."""
        return float(np.median(self.f0[self.voiced])) if self.voiced.any() else float("nan")


def pitch_track(
    wave: Float[np.ndarray, " samples"],
    *,
    sr: int = 16_000,
    n_fft: int = _N_FFT,
    hop: int = _HOP,
    fmin: float = 60.0,
    fmax: float = 500.0,
    threshold: float = 0.6,
    silence_db: float = 35.0,
    metric: str = "pitch_track",
) -> PitchTrack:
    """F0 per frame by normalized autocorrelation (see the module docstring).

    Args:
        wave: mono samples.
        sr: sample rate.
        n_fft: frame length (>= 2 periods of ``fmin``).
        hop: frame hop.
        fmin, fmax: the F0 search range in Hz.
        threshold: least normalized autocorrelation of a voiced frame.
        silence_db: frames quieter than the loudest by more than this are unvoiced.
        metric: name for error messages.
    """
    x = as_array(metric, "'speech'", wave, ndim=1, dtype=np.float64)
    n = x.shape[0]
    starts = np.arange(0, max(n, 1), hop)
    padded = np.pad(x, (0, int(starts[-1]) + n_fft - n))
    frames = padded[starts[:, None] + np.arange(n_fft)[None, :]]  # [frames, n_fft]
    frames = frames - frames.mean(axis=1, keepdims=True)
    spec = np.fft.rfft(frames, 2 * n_fft, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, 2 * n_fft, axis=1)[:, :n_fft]  # [frames, lags]
    ac = ac / (n_fft - np.arange(n_fft))[None, :]  # unbiased: each lag averages N - l products
    energy = np.maximum(ac[:, :1], 1e-20)
    norm = ac / energy  # [frames, lags], 1 at lag 0
    lo, hi = max(int(np.floor(sr / fmax)), 2), min(int(np.ceil(sr / fmin)), n_fft - 2)
    band = norm[:, lo - 1 : hi + 2]  # [frames, hi - lo + 3]: the search range and one lag either side
    inner = band[:, 1:-1]
    peaks = (inner >= band[:, :-2]) & (inner > band[:, 2:])  # local maxima at lags lo..hi
    # the shortest lag whose peak is within 15 % of the best one: whole multiples of the period
    # score as high as the period itself, and must not win (octave errors)
    strong = peaks & (inner >= _OCTAVE_TOLERANCE * inner.max(axis=1, keepdims=True))
    lag = lo + np.where(strong.any(axis=1), np.argmax(strong, axis=1), np.argmax(inner, axis=1))  # [frames]
    rows = np.arange(norm.shape[0])
    left, mid, right = norm[rows, lag - 1], norm[rows, lag], norm[rows, lag + 1]
    curve = left - 2 * mid + right
    delta = np.where(curve < 0, 0.5 * (left - right) / np.where(curve < 0, curve, -1.0), 0.0)
    f0 = sr / (lag + np.clip(delta, -0.5, 0.5))
    rms = np.sqrt(energy[:, 0])
    loud = rms >= rms.max() * 10 ** (-silence_db / 20) if rms.max() > 0 else np.zeros_like(rms, bool)
    voiced = (mid >= threshold) & loud & (rms > 1e-8)
    return PitchTrack(f0=f0, voiced=voiced, periodicity=mid, hop=hop)


@attrs.frozen(kw_only=True, eq=False)
class VoiceProfile:
    """What the proxy compares: median F0 and the mean voiced cepstrum ``c1..c13``."""

    median_f0: float
    mean_cepstrum: np.ndarray
    voiced_fraction: float


def voice_profile(wave: Float[np.ndarray, " samples"], *, sr: int = 16_000, metric: str = "voice_profile") -> VoiceProfile:
    """The voice profile of a wave.

    When fewer than 3 frames are voiced, the mean cepstrum is taken over the frames within 35 dB
    of the loudest instead (and the median F0 is NaN when none is voiced).
    """
    x = as_array(metric, "'speech'", wave, ndim=1, dtype=np.float64)
    track = pitch_track(x, sr=sr, metric=metric)
    ceps = mel_cepstrum(x, sr=sr, order=_ORDER, n_fft=_N_FFT, hop=_HOP, n_mels=_N_MELS)  # [frames, 14]
    keep = track.voiced[: ceps.shape[0]]  # same framing, same frame count
    if keep.sum() < 3:
        # c0 = sqrt(n_mels) x the mean natural-log mel amplitude (orthonormal DCT-II)
        loud_nats = 35.0 * np.log(10.0) / 20.0
        keep = ceps[:, 0] >= ceps[:, 0].max() - loud_nats * np.sqrt(_N_MELS)
    return VoiceProfile(
        median_f0=track.median_f0,
        mean_cepstrum=ceps[keep, 1:].mean(axis=0),
        voiced_fraction=float(track.voiced.mean()),
    )


def cepstral_cosine(a: VoiceProfile, b: VoiceProfile) -> float:
    """Cosine similarity of two mean cepstra (0 when either is all zeros, e.g. digital silence)."""
    na, nb = np.linalg.norm(a.mean_cepstrum), np.linalg.norm(b.mean_cepstrum)
    if na < 1e-12 or nb < 1e-12:
        return 0.0
    return float(a.mean_cepstrum @ b.mean_cepstrum / (na * nb))


def pitch_error_semitones(a: VoiceProfile, b: VoiceProfile) -> float:
    """``|12 log2(F0_a / F0_b)|``; NaN when either wave has no voiced frame."""
    if not (np.isfinite(a.median_f0) and np.isfinite(b.median_f0)):
        return float("nan")
    return float(abs(12.0 * np.log2(a.median_f0 / b.median_f0)))


def voice_cepstral_cosine_metric(prediction: Any, reference: Any, *, meta: ClipMeta) -> float:
    """Metric fn: cosine of the mean voiced cepstra of predicted and reference speech."""
    name = "voice_cepstral_cosine"
    return cepstral_cosine(voice_profile(prediction, sr=meta.sample_rate, metric=name),
                           voice_profile(reference, sr=meta.sample_rate, metric=name))


def voice_pitch_error_metric(prediction: Any, reference: Any, *, meta: ClipMeta) -> float:
    """Metric fn: semitones between the median F0 of predicted and reference speech."""
    name = "voice_pitch_error_semitones"
    return pitch_error_semitones(voice_profile(prediction, sr=meta.sample_rate, metric=name),
                                 voice_profile(reference, sr=meta.sample_rate, metric=name))


def mcd_dtw_metric(prediction: Any, reference: Any, *, meta: ClipMeta) -> float:
    """Metric fn: :func:`archon_speech_soundstream.mel_cepstral_distortion` with DTW, in dB."""
    name = "speech_mcd_dtw"
    pred = as_array(name, "prediction 'speech'", prediction, ndim=1, dtype=np.float64)
    ref = as_array(name, "reference 'speech'", reference, ndim=1, dtype=np.float64)
    return float(mel_cepstral_distortion(ref, pred, sr=meta.sample_rate, dtw=True))
