"""File loader of the ``speech`` modality for manifest ingestion (``archon data ingest``).

``load_speech(path, meta)`` turns an audio file into the clip's raw value, ``float32 [samples]``
mono at 16 kHz with ``samples = round(meta.duration * 16000)``. Policy (paper Sec. D.3):

* **Formats**: whatever libsndfile reads (wav, flac, ogg/vorbis, aiff, ...), any sample format.
* **Rate**: any file rate is resampled to 16 kHz (:func:`~archon_speech_soundstream.read_wave`,
  polyphase filter). The manifest row itself must say 16 kHz (``sample_rate`` 16000, the default):
  that is the rate of the stored value, not of the file.
* **Channels**: several channels are down-mixed to mono by averaging them (the plugin's policy,
  see ``_audio.py``).
* **Length**: audio shorter than the clip by at most :data:`SHORT_TOLERANCE_SECONDS` or
  :data:`SHORT_TOLERANCE_FRACTION` of the clip (whichever is more) is padded at the end with
  silence (zeros), as the paper pads segments whose source audio ends early; audio shorter than
  that is refused (a truncated file is not a quiet clip). Audio longer than the clip by at most
  :data:`LENGTH_TOLERANCE_SECONDS` (container and rounding slack) is cut to the clip; anything
  longer is refused, never silently truncated: cut the file to the clip, or fix the clip's
  duration in the manifest.
* **Values**: NaN/infinite samples, empty files and float samples outside [-1, 1] are refused.

Nothing is adjusted silently: resampling, down-mixing, padding and cutting each emit an
:class:`archon_framework.DataWarning` naming the file and what was done. Every error is a
:class:`archon_framework.RawValueError` naming the file.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import soundfile
from archon_framework import ClipMeta, DataWarning, RawValueError
from jaxtyping import Float

from ._audio import read_wave
from ._constants import SAMPLE_RATE

__all__ = ["LENGTH_TOLERANCE_SECONDS", "SHORT_TOLERANCE_SECONDS", "SHORT_TOLERANCE_FRACTION", "load_speech", "fit_to_clip"]

#: Audio may exceed the clip by this much (seconds) and is then cut to the clip; more is refused.
LENGTH_TOLERANCE_SECONDS: float = 0.1
#: Audio may fall short of the clip by this much (seconds) and is then padded with silence ...
SHORT_TOLERANCE_SECONDS: float = 0.1
#: ... or by this fraction of the clip, whichever is more; a shorter file is refused.
SHORT_TOLERANCE_FRACTION: float = 0.25


def fit_to_clip(
    wave: Float[np.ndarray, " n"], samples: int, *, where: str,
    tolerance_seconds: float = LENGTH_TOLERANCE_SECONDS,
    short_tolerance_seconds: float = SHORT_TOLERANCE_SECONDS,
    short_tolerance_fraction: float = SHORT_TOLERANCE_FRACTION,
) -> Float[np.ndarray, " samples"]:
    """Pad a 16 kHz wave with trailing silence, or cut a small overshoot, to ``samples`` samples.

    Each pad or cut emits a :class:`~archon_framework.DataWarning` naming ``where``.

    Args:
        wave: ``float32 [n]`` at 16 kHz.
        samples: the clip's length in samples.
        where: what the wave is (a file), for messages.
        tolerance_seconds: how much longer than the clip the wave may be.
        short_tolerance_seconds: how much shorter than the clip the wave may be (seconds) ...
        short_tolerance_fraction: ... or as a fraction of the clip, whichever is more.

    Raises:
        RawValueError: the wave is longer than the clip by more than ``tolerance_seconds``, or
            shorter by more than the short tolerance (a truncated file).
    """
    n = int(wave.shape[0])
    have, want = n / SAMPLE_RATE, samples / SAMPLE_RATE
    if n < samples:
        allowed = max(short_tolerance_seconds, short_tolerance_fraction * want)
        if want - have > allowed + 1e-9:
            raise RawValueError(
                f"speech ({where}): audio lasts {have:.3f} s but the clip lasts {want:.3f} s; audio shorter "
                f"than its clip by more than {allowed:.3f} s is refused rather than padded with silence "
                "(a truncated or damaged file?): fix the file or the clip's duration in the manifest"
            )
        warnings.warn(f"speech ({where}): padded {have:.3f} s of audio with {want - have:.3f} s of silence "
                      f"to the clip's {want:.3f} s", DataWarning, stacklevel=2)
        return np.pad(wave, (0, samples - n)).astype(np.float32)  # [n] -> [samples], silence at the end
    if n == samples:
        return np.ascontiguousarray(wave, dtype=np.float32)
    excess = (n - samples) / SAMPLE_RATE
    if excess > tolerance_seconds + 1e-9:
        raise RawValueError(
            f"speech ({where}): audio lasts {have:.3f} s but the clip lasts {want:.3f} s; "
            f"audio longer than its clip by more than {tolerance_seconds:g} s is refused rather than "
            "truncated: cut the file to the clip or fix the clip's duration in the manifest"
        )
    warnings.warn(f"speech ({where}): cut the last {excess:.3f} s of {have:.3f} s of audio to the clip's "
                  f"{want:.3f} s", DataWarning, stacklevel=2)
    return np.ascontiguousarray(wave[:samples], dtype=np.float32)


def load_speech(path: str | Path, meta: ClipMeta) -> Float[np.ndarray, " samples"]:
    """Read an audio file as the ``speech`` value of a clip (``Modality.load``).

    Args:
        path: an audio file libsndfile reads (wav, flac, ...), any rate and channel count.
        meta: the clip; its ``sample_rate`` must be 16000.

    Returns:
        ``float32 [round(meta.duration * 16000)]`` mono, in [-1, 1].

    Raises:
        RawValueError: unreadable file, NaN, out-of-range samples, audio longer or shorter than
            the clip beyond the tolerances, or a manifest row with another sample rate; the file
            is named.
    """
    path = Path(path)
    if meta.sample_rate != SAMPLE_RATE:
        raise RawValueError(
            f"speech file {path}: clip {meta.clip_id!r} declares sample_rate {meta.sample_rate}; speech "
            f"is stored at {SAMPLE_RATE} Hz, so set the manifest's sample_rate to {SAMPLE_RATE} (or leave "
            "it out): files of any rate are resampled"
        )
    wave = read_wave(path)  # any rate -> 16 kHz, channels averaged, NaN / range refused
    info = soundfile.info(str(path))  # read_wave read it, so this succeeds
    if info.channels > 1:
        warnings.warn(f"speech (file {path}): down-mixed {info.channels} channels to mono", DataWarning, stacklevel=2)
    if info.samplerate != SAMPLE_RATE:
        warnings.warn(f"speech (file {path}): resampled from {info.samplerate} Hz to {SAMPLE_RATE} Hz",
                      DataWarning, stacklevel=2)
    return fit_to_clip(wave, meta.samples, where=f"file {path}")
