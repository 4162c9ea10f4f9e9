"""The head-centred crop (paper D.6): a square box from the face landmarks, steady over time.

Per frame the box is centred on the face oval (lowered by `shift` face heights, to take in part
of the upper body) with a side of `scale` face sizes. Modes:

* `union` (the paper's): one box for the whole video, the union of the per-frame boxes: no
  jitter at all, but a head that travels far makes it wide;
* `smooth`: a box per frame whose centre follows the face, Gaussian-smoothed over time
  (`sigma_seconds`), with one side for the whole video (the median), for long videos;
* `full`: the whole frame (already head-centred footage, e.g. our synthetic renders).

The box is cut with edge replication where it leaves the frame, and resized to `size` with
area averaging when shrinking (anti-aliased) and bicubic interpolation when enlarging.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d

from archon_prepare_mediapipe._topology import FACE_OVAL

#: The image modality's side (archon-semantic-magvit's contract: 256 x 256 RGB).
IMAGE_SIZE = 256

__all__ = ["IMAGE_SIZE", "face_boxes", "steady_boxes", "crop_frames", "crop_step", "to_crop"]


def face_boxes(points: np.ndarray, *, scale: float = 1.8, shift: float = 0.15) -> np.ndarray:
    """Per-frame square boxes `(T, 3)`: centre x, centre y, side (pixels), from face-oval points."""
    oval = points[:, FACE_OVAL, :2]
    lo, hi = oval.min(axis=1), oval.max(axis=1)
    size = (hi - lo).max(axis=1)
    cx = (lo[:, 0] + hi[:, 0]) / 2
    cy = (lo[:, 1] + hi[:, 1]) / 2 + shift * (hi[:, 1] - lo[:, 1])
    return np.stack([cx, cy, scale * size], axis=1).astype(np.float64)


def steady_boxes(boxes: np.ndarray, *, mode: str, fps: float, sigma_seconds: float = 0.5,
                 frame_size: tuple[int, int] | None = None) -> np.ndarray:
    """The boxes actually cut `(T, 3)`, per `mode` (see the module docstring)."""
    t = len(boxes)
    if mode == "full":
        if frame_size is None:
            raise ValueError("mode 'full' needs the frame size")
        w, h = frame_size
        return np.tile([w / 2, h / 2, max(w, h)], (t, 1)).astype(np.float64)
    if mode == "union":
        half = boxes[:, 2:3] / 2
        lo, hi = (boxes[:, :2] - half).min(axis=0), (boxes[:, :2] + half).max(axis=0)
        return np.tile([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, (hi - lo).max()], (t, 1))
    if mode == "smooth":
        sigma = max(sigma_seconds * fps, 1e-6)
        centres = gaussian_filter1d(boxes[:, :2], sigma, axis=0, mode="nearest")
        side = np.full((t, 1), np.median(boxes[:, 2]))
        return np.concatenate([centres, side], axis=1)
    raise ValueError(f"unknown crop mode {mode!r} (union, smooth or full)")


def crop_frames(frames: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Cut each frame's box and resize it to `size` x `size`: `(T, size, size, 3)` uint8."""
    out = np.empty((len(frames), size, size, 3), np.uint8)
    h, w = frames.shape[1:3]
    for i, (frame, (cx, cy, side)) in enumerate(zip(frames, boxes)):
        x0, y0, s = int(round(cx - side / 2)), int(round(cy - side / 2)), max(1, int(round(side)))
        pad = max(0, -x0, -y0, x0 + s - w, y0 + s - h)
        src = cv2.copyMakeBorder(frame, pad, pad, pad, pad, cv2.BORDER_REPLICATE) if pad else frame
        patch = src[y0 + pad: y0 + pad + s, x0 + pad: x0 + pad + s]
        interp = cv2.INTER_AREA if s > size else cv2.INTER_CUBIC
        out[i] = cv2.resize(patch, (size, size), interpolation=interp)
    return out


def to_crop(points: np.ndarray, boxes: np.ndarray, size: float) -> np.ndarray:
    """Landmark pixels `(T, N, 3)` -> coordinates of the `size` x `size` crop (z scaled alike)."""
    x0 = np.round(boxes[:, 0] - boxes[:, 2] / 2)
    y0 = np.round(boxes[:, 1] - boxes[:, 2] / 2)
    k = (size / np.maximum(1, np.round(boxes[:, 2])))[:, None]
    out = points.copy()
    out[..., 0] = (points[..., 0] - x0[:, None]) * k
    out[..., 1] = (points[..., 1] - y0[:, None]) * k
    out[..., 2] = points[..., 2] * k
    return out


def crop_step(ctx: Any, work: dict[str, Any]) -> dict[str, Any]:
    """Step `crop`: `video` `(T, size, size, 3)`, the reference `image@frames` (256 x 256) and `crop` boxes.

    Options: `mode` (`union`), `size` (256), `scale` (1.8), `shift` (0.15), `sigma_seconds` (0.5).
    """
    opts = {"mode": "union", "size": 256, "scale": 1.8, "shift": 0.15, "sigma_seconds": 0.5, **ctx.options}
    frames, points = work["frames"], work["landmarks"]
    raw = face_boxes(points, scale=float(opts["scale"]), shift=float(opts["shift"]))
    boxes = steady_boxes(raw, mode=str(opts["mode"]), fps=ctx.config.frame_rate, sigma_seconds=float(opts["sigma_seconds"]),
                         frame_size=(frames.shape[2], frames.shape[1]))
    video = crop_frames(frames, boxes, int(opts["size"]))
    image = video if int(opts["size"]) == IMAGE_SIZE else crop_frames(frames, boxes, IMAGE_SIZE)
    return {"video": video, "image@frames": image, "crop": boxes, "crop_raw": raw}
