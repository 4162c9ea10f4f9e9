"""Lip sync from label videos: mouth-opening area against the speech energy envelope.

SyncNet (Chung & Zisserman 2016), as used for Sync-C / Sync-D, embeds 0.2 s of mouth crops and of
MFCCs with two learned networks, and for every audio-video offset ``d`` in ``[-15, 15]`` frames
averages the per-frame Euclidean distance between the video embedding at frame ``t`` and the
(zero-padded) audio embedding at ``t + d``. The offset of the smallest mean distance is the
estimated lag, the smallest distance is "Sync-D", and ``median - min`` over the offsets is the
confidence "Sync-C".

This module keeps that search and that confidence but replaces the learned embeddings by two
hand-made 1-D signals, so it needs no weights:

* video feature ``a_t``: the mouth-opening area of frame ``t``, the number of pixels labelled
  ``teeth``, ``tongue`` or ``other_in_the_mouth`` (the mouth interior of Table H; the lips are
  left out because their area barely changes with opening);
* audio feature ``e_t``: the RMS energy of the speech over frame ``t``'s period
  (:func:`archon_speech_soundstream.energy_envelope`);

both z-normalized over the clip. With the envelope padded by
``K`` zeros (its mean) on both sides, as SyncNet pads its audio features,

    D(d) = 1/T sum_t | a_t - e_{t+d} |,   d in [-K, K]
    offset = argmin_d D(d)   (ties: the smallest |d|),  distance = min_d D(d),
    confidence = median_d D(d) - min_d D(d).

When either signal is constant (a mouth that never moves, digital silence) there is no timing
to find: offset 0, confidence 0, and the distance at offset 0 (the padding would otherwise favour
the largest shifts). A positive offset means the audio lags the video: mouth frame ``t`` matches audio frame
``t + offset``. Delaying the speech by ``k`` frames moves the offset by ``+k``.

Differences from SyncNet, which make the numbers incomparable to published Sync-C/Sync-D: scalar
hand-made features instead of learned 1024-d embeddings, single frames instead of 5-frame
windows, absolute differences of z-scores instead of embedding distances, and labels instead of
pixels (so it scores semantic videos; a generated RGB video must first be labelled).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
from jaxtyping import Float

from archon_framework import ClipMeta, RawValueError
from archon_semantic_magvit import LABEL_INDEX, NUM_LABELS
from archon_speech_soundstream import energy_envelope

from archon_eval_metrics._checks import as_array, field_of

__all__ = [
    "MOUTH_INTERIOR_LABELS",
    "DEFAULT_MAX_OFFSET",
    "LipSyncScore",
    "mouth_opening_area",
    "sync_offsets",
    "lipsync_area_envelope",
    "lipsync_confidence_metric",
    "lipsync_distance_metric",
    "lipsync_abs_offset_metric",
]

#: The labels whose pixels make up the visible mouth opening (Table H names).
MOUTH_INTERIOR_LABELS: tuple[str, ...] = ("teeth", "tongue", "other_in_the_mouth")
#: SyncNet's search range: +-15 frames (half a second at 30 fps).
DEFAULT_MAX_OFFSET: int = 15

_NAME = "lipsync_area_envelope"


@attrs.frozen(kw_only=True)
class LipSyncScore:
    """The result of the offset search.

    Attributes:
        offset: the best lag in frames (positive: the audio lags the video).
        distance: the smallest mean distance, ``min_d D(d)``.
        confidence: ``median_d D(d) - min_d D(d)``; 0 when nothing moves.
        distances: ``D(d)`` for ``d = -max_offset .. max_offset``.
        max_offset: ``K``, the search range.
    """

    offset: int
    distance: float
    confidence: float
    distances: np.ndarray = attrs.field(eq=False)
    max_offset: int


def mouth_opening_area(semantic: Any, *, metric: str = _NAME, field: str = "'semantic'") -> np.ndarray:
    """Mouth-interior pixels per frame of a label video, as a fraction of the frame.

    Args:
        semantic: label video ``uint8 [frames, H, W]`` (labels 0..20).
        metric, field: names for error messages.

    Returns:
        float64 ``[frames]`` in [0, 1].

    Raises:
        RawValueError: not a 3-D integer label video, or labels outside 0..20.
    """
    labels = as_array(metric, field, semantic, ndim=3)
    if labels.dtype.kind not in "biu" or labels.min() < 0 or labels.max() >= NUM_LABELS:
        raise RawValueError(
            f"metric {metric}: {field} must hold integer labels 0..{NUM_LABELS - 1}, got dtype "
            f"{labels.dtype} in [{labels.min()}, {labels.max()}]"
        )
    ids = np.array([LABEL_INDEX[name] for name in MOUTH_INTERIOR_LABELS])
    frames = labels.shape[0]
    return np.isin(labels, ids).reshape(frames, -1).mean(axis=1)  # [frames]


def _znorm(x: np.ndarray) -> np.ndarray:
    std = x.std()
    return (x - x.mean()) / std if std > 1e-12 else np.zeros_like(x)


def sync_offsets(
    video_feature: Float[np.ndarray, " frames"],
    audio_feature: Float[np.ndarray, " frames"],
    *,
    max_offset: int = DEFAULT_MAX_OFFSET,
    metric: str = _NAME,
) -> LipSyncScore:
    """SyncNet's offset search over two per-frame scalar features of one length.

    Args:
        video_feature: ``[frames]``, e.g. the mouth-opening area.
        audio_feature: ``[frames]``, e.g. the speech energy envelope.
        max_offset: ``K``; clamped to ``frames - 1``.
        metric: name for error messages.

    Raises:
        RawValueError: different lengths, fewer than 2 frames, or a negative ``max_offset``.
    """
    a = as_array(metric, "video feature", video_feature, ndim=1, dtype=np.float64)
    e = as_array(metric, "audio feature", audio_feature, ndim=1, dtype=np.float64)
    if a.shape != e.shape:
        raise RawValueError(
            f"metric {metric}: the video feature has {a.shape[0]} frames, the audio feature {e.shape[0]}"
        )
    if a.shape[0] < 2 or max_offset < 0:
        raise RawValueError(f"metric {metric}: needs >= 2 frames and max_offset >= 0 (got {a.shape[0]}, {max_offset})")
    frames = a.shape[0]
    k = min(max_offset, frames - 1)
    if a.std() <= 1e-12 or e.std() <= 1e-12:
        # a mouth that never moves (or a silent track) carries no timing: no offset, no confidence
        # (the zero padding would otherwise favour the largest shifts, which see the most padding)
        a, e = _znorm(a), _znorm(e)
        distance = float(np.abs(a - e).mean())
        return LipSyncScore(offset=0, distance=distance, confidence=0.0,
                            distances=np.full(2 * k + 1, distance), max_offset=k)
    a, e = _znorm(a), _znorm(e)
    padded = np.pad(e, (k, k))  # zeros = the z-scored mean, as SyncNet pads its audio features
    shifts = np.arange(-k, k + 1)
    windows = np.lib.stride_tricks.sliding_window_view(padded, frames)  # [2k + 1, frames]; row i = shift i - k
    distances = np.abs(a[None, :] - windows).mean(axis=1)  # [2k + 1]
    best = int(np.lexsort((np.abs(shifts), np.round(distances, 12)))[0])  # ties: smallest |d|
    return LipSyncScore(
        offset=int(shifts[best]),
        distance=float(distances[best]),
        confidence=float(np.median(distances) - distances[best]),
        distances=distances,
        max_offset=k,
    )


def lipsync_area_envelope(
    semantic: Any,
    speech: Any,
    *,
    meta: ClipMeta,
    max_offset: int = DEFAULT_MAX_OFFSET,
    metric: str = _NAME,
) -> LipSyncScore:
    """Lip sync of a label video with a speech track (see the module docstring).

    Args:
        semantic: label video ``[frames, H, W]``.
        speech: mono wave at ``meta.sample_rate``, covering the same time as the video.
        meta: the clip's frame and sample rates.
        max_offset: search range in frames.
        metric: name for error messages.

    Raises:
        RawValueError: bad values, or speech and video durations that differ by a frame or more.
    """
    area = mouth_opening_area(semantic, metric=metric)
    wave = as_array(metric, "'speech'", speech, ndim=1, dtype=np.float64)
    frames = area.shape[0]
    speech_frames = wave.shape[0] * meta.frame_rate / meta.sample_rate
    if abs(speech_frames - frames) >= 1.0:
        raise RawValueError(
            f"metric {metric}: 'speech' lasts {speech_frames:.2f} video frames ({wave.shape[0]} samples at "
            f"{meta.sample_rate} Hz) but 'semantic' has {frames} frames; give both for the same time span"
        )
    envelope = energy_envelope(wave, frame_rate=meta.frame_rate, sr=meta.sample_rate, n_frames=frames)
    return sync_offsets(area, envelope, max_offset=max_offset, metric=metric)


def _score(name: str, prediction: Mapping[str, Any], meta: ClipMeta) -> LipSyncScore:
    semantic = field_of(name, "prediction", prediction, "semantic")
    speech = field_of(name, "prediction", prediction, "speech")
    return lipsync_area_envelope(semantic, speech, meta=meta, metric=name)


def lipsync_confidence_metric(prediction: Mapping[str, Any], reference: Mapping[str, Any], *,
                              meta: ClipMeta) -> float:
    """Metric fn: the confidence of the prediction's own semantic video against its speech.

    The reference is not used: like Sync-C, this scores the generated video against the speech
    it was made for, which the caller puts in the prediction (the conditioning input).
    """
    return _score("lipsync_area_envelope_confidence", prediction, meta).confidence


def lipsync_distance_metric(prediction: Mapping[str, Any], reference: Mapping[str, Any], *,
                            meta: ClipMeta) -> float:
    """Metric fn: the smallest mean distance over the offsets (the Sync-D analogue)."""
    return _score("lipsync_area_envelope_distance", prediction, meta).distance


def lipsync_abs_offset_metric(prediction: Mapping[str, Any], reference: Mapping[str, Any], *,
                              meta: ClipMeta) -> float:
    """Metric fn: ``|offset|`` in frames of the prediction's best lag (0 is in sync)."""
    return float(abs(_score("lipsync_area_envelope_abs_offset", prediction, meta).offset))
