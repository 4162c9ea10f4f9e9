"""Lip sync, landmark distance and face detection on the pixels of RGB video, by MediaPipe FaceMesh.

The face landmarks come from a real pretrained model (archon-perception's FaceMesh 0.10.14), so
these scores do not depend on anything this project trained or hand-labelled.

**Lip sync** keeps SyncNet's offset search (Chung & Zisserman 2016; see :mod:`._lipsync` for the
search, the padding and the confidence) with two per-frame scalar features: the mouth opening
``a_t`` (inner-lip gap over the outer-eye-corner distance, from the landmarks of the video) and
the RMS envelope ``e_t`` of the speech over frame ``t``, each z-scored over the frames that have
a face. For each offset ``d`` in ``[-K, K]`` (envelope padded with its mean),
``D(d)`` is the mean of ``|a_t - e_{t+d}|`` over the frames with a face; best offset ``argmin D``
(positive: the audio lags the video; delaying the speech by ``k`` frames adds ``k``), distance
``min D``, confidence ``median D - min D``. Not SyncNet's learned embeddings: comparable between
runs with equal definitions, not with published Sync-C/Sync-D.

**LMD** (Chen et al. 2018): the mean Euclidean distance, in pixels of the reference frame, between
corresponding FaceMesh landmarks of the generated and the ground-truth frame, over the 40 lip
landmarks (mouth) or all 478 (face), averaged over the frames where both have a face.

Bad input: a video where FaceMesh finds a face in fewer than half the frames, or speech that is
digital silence, scores NaN (missing, counted by the report), never zero; a clip shorter than
the offset search (``2K`` frames) or speech and video of different lengths is an error naming
the metric.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np

from archon_framework import ClipMeta, RawValueError
from archon_perception import FaceLandmarks, face_landmarks, face_mesh_definition, mouth_landmarks
from archon_speech_soundstream import energy_envelope

from archon_eval_metrics._checks import as_array, field_of
from archon_eval_metrics._definitions import with_definition
from archon_eval_metrics._lipsync import DEFAULT_MAX_OFFSET, LipSyncScore

__all__ = [
    "MIN_DETECTION_RATE",
    "face_lipsync",
    "face_detection_rate_metric",
    "landmark_distance",
    "lipsync_face_abs_offset_metric",
    "lipsync_face_confidence_metric",
    "lipsync_face_distance_metric",
    "lmd_face_metric",
    "lmd_mouth_metric",
    "video_landmarks",
]

#: Below this fraction of frames with a face, lip sync is not scored (NaN).
MIN_DETECTION_RATE = 0.5
_SILENT_RMS = 1e-5
_PARAMETERS = {"max_offset_frames": DEFAULT_MAX_OFFSET, "min_detection_rate": MIN_DETECTION_RATE,
               "video_feature": "mean inner-lip gap (13-14, 82-87, 312-317) / outer eye corners (33-263)",
               "audio_feature": "RMS per video frame (archon_speech_soundstream.energy_envelope)",
               "normalization": "z-score over frames with a face", "frame_distance": "absolute difference",
               "padding": "audio padded with its mean (z = 0)", "min_frames": 2 * DEFAULT_MAX_OFFSET,
               "silence_rms": _SILENT_RMS}
_LMD_PARAMETERS = {"units": "pixels of the reference frame", "frames": "both sides have a face",
                   "mouth": "the 40 lip landmarks of FACEMESH_LIPS", "face": "all landmarks"}
_CACHE: OrderedDict[tuple, FaceLandmarks] = OrderedDict()
_CACHE_SIZE = 32


def _models() -> list:
    return [face_mesh_definition()]


def video_landmarks(video: Any, *, metric: str, field: str) -> FaceLandmarks:
    """FaceMesh landmarks of an RGB video, cached by content (several metrics read one video).

    Raises:
        RawValueError: not a uint8 video ``[frames, H, W, 3]``.
    """
    frames = np.asarray(video)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or frames.shape[0] == 0:
        raise RawValueError(f"metric {metric}: {field} must be a uint8 RGB video [frames, H, W, 3], "
                            f"got {frames.dtype} {frames.shape}")
    key = (frames.shape, hashlib.blake2b(np.ascontiguousarray(frames).data, digest_size=16).digest())
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    marks = face_landmarks(frames, name=f"metric {metric}: {field}")
    _CACHE[key] = marks
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return marks


def _z(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    mean, std = x[valid].mean(), x[valid].std()
    return (x - mean) / std if std > 1e-12 else np.zeros_like(x)


def face_lipsync(video: Any, speech: Any, *, meta: ClipMeta, max_offset: int = DEFAULT_MAX_OFFSET,
                 metric: str = "lipsync_face") -> LipSyncScore | None:
    """Lip sync of an RGB video with its speech on FaceMesh mouth opening (module docstring).

    Returns:
        The search result, or None when there is nothing to score: a face in fewer than
        :data:`MIN_DETECTION_RATE` of the frames, or silent speech.

    Raises:
        RawValueError: bad values, speech and video of different lengths, or fewer than
            ``2 * max_offset`` frames.
    """
    marks = video_landmarks(video, metric=metric, field="'video'")
    wave = as_array(metric, "'speech'", speech, ndim=1, dtype=np.float64)
    frames = marks.found.shape[0]
    speech_frames = wave.shape[0] * meta.frame_rate / meta.sample_rate
    if abs(speech_frames - frames) >= 1.0:
        raise RawValueError(f"metric {metric}: 'speech' lasts {speech_frames:.2f} video frames ({wave.shape[0]} "
                            f"samples at {meta.sample_rate} Hz) but 'video' has {frames} frames; give both for "
                            "the same time span")
    if max_offset < 1 or frames < 2 * max_offset:
        raise RawValueError(f"metric {metric}: the clip has {frames} frames, shorter than the offset search "
                            f"(+-{max_offset} frames needs >= {2 * max_offset}, {2 * max_offset / meta.frame_rate:.2f} "
                            "s); evaluate longer clips")
    if marks.detection_rate < MIN_DETECTION_RATE:
        return None
    if float(np.sqrt(np.mean(wave ** 2))) < _SILENT_RMS:
        return None
    valid = marks.found
    opening = np.nan_to_num(marks.mouth_opening().astype(np.float64))
    envelope = energy_envelope(wave, frame_rate=meta.frame_rate, sr=meta.sample_rate, n_frames=frames)
    a, e = _z(opening, valid), _z(envelope, valid)
    k = max_offset
    shifts = np.arange(-k, k + 1)
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(e, (k, k)), frames)  # [2k + 1, frames]
    distances = np.abs(a[None, :] - windows)[:, valid].mean(axis=1)  # [2k + 1]
    best = int(np.lexsort((np.abs(shifts), np.round(distances, 12)))[0])  # ties: the smallest |d|
    return LipSyncScore(offset=int(shifts[best]), distance=float(distances[best]),
                        confidence=float(np.median(distances) - distances[best]), distances=distances, max_offset=k)


def _sync(name: str, prediction: Mapping[str, Any], meta: ClipMeta) -> LipSyncScore | None:
    return face_lipsync(field_of(name, "prediction", prediction, "video"),
                        field_of(name, "prediction", prediction, "speech"), meta=meta, metric=name)


@with_definition(_models, _PARAMETERS)
def lipsync_face_confidence_metric(prediction: Mapping[str, Any], reference: Mapping[str, Any], *,
                                   meta: ClipMeta) -> float:
    """Metric fn: confidence (median minus minimum distance) of the prediction's video against its speech."""
    score = _sync("lipsync_face_confidence", prediction, meta)
    return float("nan") if score is None else score.confidence


@with_definition(_models, _PARAMETERS)
def lipsync_face_distance_metric(prediction: Mapping[str, Any], reference: Mapping[str, Any], *,
                                 meta: ClipMeta) -> float:
    """Metric fn: the smallest mean distance over the offsets."""
    score = _sync("lipsync_face_distance", prediction, meta)
    return float("nan") if score is None else score.distance


@with_definition(_models, _PARAMETERS)
def lipsync_face_abs_offset_metric(prediction: Mapping[str, Any], reference: Mapping[str, Any], *,
                                   meta: ClipMeta) -> float:
    """Metric fn: ``|best offset|`` in frames (0: in sync)."""
    score = _sync("lipsync_face_abs_offset", prediction, meta)
    return float("nan") if score is None else float(abs(score.offset))


def landmark_distance(prediction: Any, reference: Any, *, region: str = "face", metric: str = "lmd") -> float:
    """LMD between two videos of one length, in pixels of the reference frame (NaN: no common face).

    Args:
        prediction, reference: uint8 RGB videos ``[frames, H, W, 3]`` (sizes may differ).
        region: ``"mouth"`` (40 lip landmarks) or ``"face"`` (all).
        metric: name for messages.

    Raises:
        RawValueError: bad videos, different frame counts, or an unknown region.
    """
    if region not in ("mouth", "face"):
        raise RawValueError(f"metric {metric}: region must be 'mouth' or 'face', got {region!r}")
    pred = video_landmarks(prediction, metric=metric, field="prediction 'video'")
    ref = video_landmarks(reference, metric=metric, field="reference 'video'")
    if pred.points.shape[0] != ref.points.shape[0]:
        raise RawValueError(f"metric {metric}: prediction 'video' has {pred.points.shape[0]} frames, the reference "
                            f"{ref.points.shape[0]}; they must match")
    both = pred.found & ref.found
    if not both.any():
        return float("nan")
    scale = np.asarray(reference).shape[1:3][::-1] / np.asarray(np.asarray(prediction).shape[1:3][::-1], np.float64)
    a = pred.points[both][..., :2] * scale  # [frames, landmarks, 2], in reference pixels
    b = ref.points[both][..., :2]
    if region == "mouth":
        idx = list(mouth_landmarks())
        a, b = a[:, idx], b[:, idx]
    return float(np.linalg.norm(a - b, axis=-1).mean())


@with_definition(_models, _LMD_PARAMETERS)
def lmd_mouth_metric(prediction: Any, reference: Any, *, meta: ClipMeta) -> float:
    """Metric fn: mouth LMD in reference pixels."""
    return landmark_distance(prediction, reference, region="mouth", metric="lmd_mouth")


@with_definition(_models, _LMD_PARAMETERS)
def lmd_face_metric(prediction: Any, reference: Any, *, meta: ClipMeta) -> float:
    """Metric fn: whole-face LMD in reference pixels."""
    return landmark_distance(prediction, reference, region="face", metric="lmd_face")


@with_definition(_models, {"counts": "frames where FaceMesh finds a face"})
def face_detection_rate_metric(prediction: Any, reference: Any, *, meta: ClipMeta) -> float:
    """Metric fn: the fraction of the prediction's frames in which FaceMesh finds a face."""
    return video_landmarks(prediction, metric="face_detection_rate", field="prediction 'video'").detection_rate
