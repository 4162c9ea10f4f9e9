"""Wave I/O, validation and resampling for the speech modality (16 kHz mono float32).

Policy, used by every entry point of the plugin (file reader, tokenizer, trainer):

* **Rate.** The modality's raw value is 16 kHz (paper Sec. 3.1 and D.3). ``read_wave`` resamples
  any other file rate to 16 kHz with a polyphase filter (``scipy.signal.resample_poly``);
  ``resample_rate=False`` refuses such files instead. Arrays handed to the tokenizer must already
  be 16 kHz (``meta.sample_rate == 16000``); use :func:`resample` first.
* **Channels.** Files with several channels are **down-mixed** by averaging the channels (the
  usual practice for speech codecs; a stereo speech track is nearly always dual mono).
  ``downmix=False`` refuses them. Arrays handed to the tokenizer must be 1-D: a 2-D array is
  refused with a hint to call :func:`to_mono`, because guessing the channel axis of an array is
  not safe.
* **Values.** NaN or infinite samples, empty audio and samples outside [-1, 1] are refused with
  a :class:`archon_framework.RawValueError` that names the file (or clip) and the modality.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile
from archon_framework import RawValueError
from jaxtyping import Float

from ._constants import SAMPLE_RATE

__all__ = ["read_wave", "write_wave", "resample", "to_mono", "check_wave"]

_MODALITY = "speech"
# Tolerance above full scale: float files written by some tools overshoot by an ulp or two.
_RANGE_TOL = 1e-4


def check_wave(
    wave: object, *, where: str, expected_samples: int | None = None
) -> Float[np.ndarray, " samples"]:
    """Validate a raw speech value and return it as a contiguous float32 array.

    Args:
        wave: the candidate value (anything ``np.asarray`` accepts).
        where: what the value is, for error messages (a file path or ``clip 'id'``).
        expected_samples: the exact length required, or None for any positive length.

    Returns:
        The wave as ``float32 [samples]``.

    Raises:
        RawValueError: not numeric, not 1-D, empty, wrong length, NaN/inf, or outside [-1, 1].
    """
    try:
        arr = np.asarray(wave)
    except Exception as err:  # noqa: BLE001 - anything unconvertible is a bad value
        raise RawValueError(f"{_MODALITY} ({where}): value is not an array: {err}") from err
    if arr.dtype.kind not in "fiu":
        raise RawValueError(
            f"{_MODALITY} ({where}): dtype {arr.dtype} is not numeric; pass float32 samples in [-1, 1]"
        )
    if arr.ndim != 1:
        raise RawValueError(
            f"{_MODALITY} ({where}): expected a mono wave of shape (samples,), got shape {arr.shape}; "
            "down-mix multi-channel audio with archon_speech_soundstream.to_mono first"
        )
    if arr.size == 0:
        raise RawValueError(f"{_MODALITY} ({where}): the wave is empty (0 samples)")
    if expected_samples is not None and arr.shape[0] != expected_samples:
        raise RawValueError(
            f"{_MODALITY} ({where}): wave has {arr.shape[0]} samples but the clip metadata "
            f"expects {expected_samples} (duration * {SAMPLE_RATE} Hz)"
        )
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise RawValueError(
            f"{_MODALITY} ({where}): wave contains NaN or infinite samples (first at index {bad})"
        )
    peak = float(np.max(np.abs(arr)))
    if peak > 1.0 + _RANGE_TOL:
        raise RawValueError(
            f"{_MODALITY} ({where}): samples must lie in [-1, 1], peak is {peak:.4g}; "
            "normalize the wave (e.g. divide by its peak) first"
        )
    return arr


def to_mono(wave: np.ndarray, *, channel_axis: int = -1) -> Float[np.ndarray, " samples"]:
    """Down-mix a multi-channel wave by averaging its channels.

    Args:
        wave: ``[samples, channels]`` (soundfile's layout) or any layout with ``channel_axis``.
        channel_axis: the axis that holds the channels.

    Returns:
        ``float32 [samples]``; a 1-D input is returned unchanged (as float32).
    """
    arr = np.asarray(wave, dtype=np.float32)
    if arr.ndim == 1:
        return arr
    return arr.mean(axis=channel_axis).astype(np.float32)  # [samples, ch] -> [samples]


def resample(
    wave: Float[np.ndarray, " samples"], orig_rate: int, target_rate: int = SAMPLE_RATE
) -> Float[np.ndarray, " out"]:
    """Resample with a polyphase anti-aliasing filter (``scipy.signal.resample_poly``).

    The output has ``ceil(len(wave) * target_rate / orig_rate)`` samples.

    Raises:
        RawValueError: a rate that is not a positive integer.
    """
    for name, rate in (("orig_rate", orig_rate), ("target_rate", target_rate)):
        if not isinstance(rate, (int, np.integer)) or rate <= 0:
            raise RawValueError(f"{_MODALITY}: {name} must be a positive integer, got {rate!r}")
    if orig_rate == target_rate:
        return np.asarray(wave, dtype=np.float32)
    g = math.gcd(int(orig_rate), int(target_rate))
    up, down = int(target_rate) // g, int(orig_rate) // g
    out = scipy.signal.resample_poly(np.asarray(wave, dtype=np.float64), up, down)
    return np.clip(out, -1.0, 1.0).astype(np.float32)  # [samples] -> [samples * up / down]


def read_wave(
    path: str | Path, *, resample_rate: bool = True, downmix: bool = True
) -> Float[np.ndarray, " samples"]:
    """Read an audio file into the modality's raw value: ``float32 [samples]``, 16 kHz mono.

    Args:
        path: any format libsndfile reads (wav, flac, ogg, ...).
        resample_rate: resample other rates to 16 kHz (default) instead of refusing them.
        downmix: average the channels of a multi-channel file (default) instead of refusing it.

    Raises:
        RawValueError: unreadable file, refused rate or channel count, empty, NaN, out of range.
    """
    path = Path(path)
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)  # [samples, ch]
    except Exception as err:  # noqa: BLE001 - soundfile raises several unrelated types
        raise RawValueError(f"{_MODALITY} file {path}: cannot read audio: {err}") from err
    if data.shape[1] > 1:
        if not downmix:
            raise RawValueError(
                f"{_MODALITY} file {path}: has {data.shape[1]} channels; the modality is mono "
                "(pass downmix=True to average the channels)"
            )
    wave = to_mono(data)  # [samples, ch] -> [samples]
    where = f"file {path}"
    check_wave(wave, where=where)
    if rate != SAMPLE_RATE:
        if not resample_rate:
            raise RawValueError(
                f"{_MODALITY} file {path}: sample rate is {rate} Hz, the modality takes "
                f"{SAMPLE_RATE} Hz (pass resample_rate=True to resample)"
            )
        wave = resample(wave, int(rate), SAMPLE_RATE)
    return wave


def write_wave(path: str | Path, wave: np.ndarray, *, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write a mono wave as 16-bit PCM (or the format implied by the suffix).

    Raises:
        RawValueError: the wave is not a valid speech value.
    """
    path = Path(path)
    arr = check_wave(wave, where=f"file {path}")
    soundfile.write(str(path), arr, int(sample_rate))
    return path
