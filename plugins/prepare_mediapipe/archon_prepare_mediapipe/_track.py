"""Faces and people in the frames: face-mesh tracking (archon-perception's wrapper, 478 points with
irises), face counting (mediapipe BlazeFace) and person masks (mediapipe selfie segmentation).

The models ship inside the `mediapipe` wheel; nothing is downloaded. mediapipe 0.10.14's
Python solutions call `SymbolDatabase.GetPrototype` for detections, which protobuf 5 removed
(the framework's grain needs protobuf >= 5.28); `_protobuf_compat` restores it from
`message_factory`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from archon_framework.data import PrepareError

__all__ = ["NUM_POINTS", "track_faces", "count_faces", "person_masks", "face_step"]

#: Face-mesh points with the refined irises (468 mesh + 2 x 5 iris).
NUM_POINTS = 478


def _protobuf_compat() -> None:
    from google.protobuf import message_factory, symbol_database

    if not hasattr(symbol_database.SymbolDatabase, "GetPrototype"):
        symbol_database.SymbolDatabase.GetPrototype = lambda self, descriptor: message_factory.GetMessageClass(descriptor)


def track_faces(frames: np.ndarray, *, min_confidence: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Face-mesh points of every frame, tracked over the video (archon-perception's FaceMesh wrapper).

    Args:
        frames: `(T, H, W, 3)` uint8 RGB.

    Returns:
        `points` `(T, 478, 3)` float32 in pixels (x right, y down, z on x's scale), NaN where no
        face; `found` `(T,)` bool.
    """
    from archon_perception import FaceMeshConfig, face_landmarks

    config = FaceMeshConfig(min_detection_confidence=min_confidence, min_tracking_confidence=min_confidence)
    marks = face_landmarks(frames, config=config)
    return marks.points, marks.found


def count_faces(frames: np.ndarray, *, every: int = 5, min_confidence: float = 0.5) -> np.ndarray:
    """Faces detected (mediapipe BlazeFace, full range) in every `every`-th frame: `(ceil(T / every),)` int."""
    _protobuf_compat()
    from mediapipe.python.solutions import face_detection

    counts = []
    with face_detection.FaceDetection(model_selection=1, min_detection_confidence=min_confidence) as det:
        for frame in frames[::every]:
            found = det.process(np.ascontiguousarray(frame)).detections
            counts.append(len(found) if found else 0)
    return np.asarray(counts, np.int64)


def person_masks(frames: np.ndarray) -> np.ndarray:
    """Person probability `(T, H, W)` float32 in [0, 1] (mediapipe selfie segmentation, general model)."""
    _protobuf_compat()
    from mediapipe.python.solutions import selfie_segmentation

    out = np.zeros(frames.shape[:3], np.float32)
    with selfie_segmentation.SelfieSegmentation(model_selection=0) as seg:
        for i, frame in enumerate(frames):
            out[i] = seg.process(np.ascontiguousarray(frame)).segmentation_mask
    return out


def _fill_gaps(points: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Points of frames without a face copied from the nearest frame with one (they are cut out later)."""
    idx = np.flatnonzero(valid)
    nearest = idx[np.clip(np.searchsorted(idx, np.arange(len(valid))), 0, len(idx) - 1)]
    prev = idx[np.clip(np.searchsorted(idx, np.arange(len(valid))) - 1, 0, len(idx) - 1)]
    pick = np.where(np.abs(prev - np.arange(len(valid))) < np.abs(nearest - np.arange(len(valid))), prev, nearest)
    return points[pick]


def face_step(ctx: Any, work: dict[str, Any]) -> dict[str, Any]:
    """Step `face`: `landmarks` `(T, 478, 3)` and `valid@frames` (a face is tracked).

    Options: `min_confidence` (0.5); `max_other_face` (0.1): the fraction of checked frames
    (every `check_every`-th, default 5) in which face detection sees more than one face before
    the video is skipped as `several_faces`.
    """
    opts = {"min_confidence": 0.5, "max_other_face": 0.1, "check_every": 5, **ctx.options}
    frames = work["frames"]
    points, valid = track_faces(frames, min_confidence=float(opts["min_confidence"]))
    if not valid.any():
        raise PrepareError("no_face", f"{ctx.job.path}: no face found in any of {len(frames)} frames")
    counts = count_faces(frames, every=int(opts["check_every"]), min_confidence=float(opts["min_confidence"]))
    several = float(np.mean(counts > 1))
    if several > float(opts["max_other_face"]):
        raise PrepareError("several_faces", f"{ctx.job.path}: face detection sees several faces in {several:.0%} of "
                                            f"checked frames (max_other_face = {opts['max_other_face']})")
    if several > 0:
        ctx.note("other_face", f"several faces in {several:.0%} of checked frames; the tracked face is used")
    return {"landmarks": _fill_gaps(points, valid), "valid@frames": valid}
