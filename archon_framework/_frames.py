"""Per-frame raw values: fitting a loaded sequence to its clip's frame count; a procedural label video.

A modality's file loader (``Modality.load``, used by ``archon data ingest``) often reads a
sequence whose length is a frame or two off the clip's (a fitter that drops the last frame, a
video container that rounds its duration). :func:`fit_frame_count` is the one rule every loader
applies: pad by repeating the last frame or drop the last frames, within a small tolerance in
seconds, each with a :class:`DataWarning`; refuse anything more.
"""

from __future__ import annotations

import warnings

import numpy as np

from archon_framework._clip import ClipMeta
from archon_framework._errors import DataWarning, RawValueError

__all__ = ["FRAME_TOLERANCE_SECONDS", "fit_frame_count", "moving_ellipses_labels"]

#: Per-frame values may be this much (seconds) shorter or longer than the clip; more is refused.
FRAME_TOLERANCE_SECONDS: float = 0.1


def fit_frame_count(
    values: np.ndarray, meta: ClipMeta, *, where: str, tolerance_seconds: float = FRAME_TOLERANCE_SECONDS
) -> np.ndarray:
    """Match per-frame values (frames on axis 0) to ``meta.frames``.

    A shortfall is padded by repeating the last frame, an excess is dropped from the end, both
    within ``tolerance_seconds`` (at least one frame); each pad or drop emits a
    :class:`archon_framework.DataWarning` naming ``where``.

    Example:
        >>> meta = ClipMeta(clip_id="a", duration=1.0, frame_rate=30.0, sample_rate=16_000)
        >>> fit_frame_count(np.zeros((29, 2)), meta, where="a.npz").shape  # warns: padded
        (30, 2)

    Args:
        values: array ``[frames, ...]`` (any dtype) with at least one frame.
        meta: the clip the values belong to.
        where: what the values are, for messages (e.g. ``"semantic (file labels/)"``).
        tolerance_seconds: the largest difference padded or dropped.

    Returns:
        ``values`` with exactly ``meta.frames`` frames (``values`` itself when it already has).

    Raises:
        RawValueError: no frames, or the counts differ by more than the tolerance.
    """
    want, have = meta.frames, int(values.shape[0])
    if have == 0:
        raise RawValueError(f"{where}: no frames (clip {meta.clip_id!r} needs {want})")
    slack = max(1, int(np.floor(tolerance_seconds * meta.frame_rate + 1e-9)))
    if abs(have - want) > slack:
        raise RawValueError(
            f"{where}: {have} frames ({have / meta.frame_rate:.3f} s at {meta.frame_rate:g} fps) but clip "
            f"{meta.clip_id!r} lasts {meta.duration:g} s = {want} frames; at most {slack} frame(s) of "
            "difference are padded or dropped, more is refused"
        )
    if have < want:
        warnings.warn(f"{where}: padded {have} frames to the clip's {want} by repeating the last frame",
                      DataWarning, stacklevel=2)
        return np.concatenate([values, np.repeat(values[-1:], want - have, axis=0)], axis=0)  # repeat last
    if have > want:
        warnings.warn(f"{where}: dropped the last {have - want} of {have} frames to the clip's {want}",
                      DataWarning, stacklevel=2)
    return values[:want]


def moving_ellipses_labels(
    frames: int, size: int, *, num_labels: int, rng: np.random.Generator, num_shapes: int = 3
) -> np.ndarray:
    """A label video of ellipses moving on background 0: ``uint8 [frames, size, size]``.

    Procedural data for tests, benchmarks and demos of any plugin whose values are label maps.
    Each ellipse takes a random label in ``1 .. num_labels - 1``, a random centre, radii and
    velocity (in pixels per frame, scaled with ``size / 128``); later ellipses cover earlier ones.
    The same ``rng`` state gives the same video.

    Raises:
        ValueError: ``num_labels`` outside 2..256, or ``frames``/``size`` below 1.
    """
    if not 2 <= num_labels <= 256 or frames < 1 or size < 1:
        raise ValueError(f"moving_ellipses_labels: need frames, size >= 1 and 2 <= num_labels <= 256, "
                         f"got frames={frames}, size={size}, num_labels={num_labels}")
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    video = np.zeros((frames, size, size), np.uint8)
    for _ in range(num_shapes):
        label = int(rng.integers(1, num_labels))
        cy, cx = rng.uniform(0.25, 0.75, 2) * size
        vy, vx = rng.uniform(-1.5, 1.5, 2) * size / 128
        ry, rx = rng.uniform(0.1, 0.3, 2) * size
        for t in range(frames):
            inside = ((yy - cy - vy * t) / ry) ** 2 + ((xx - cx - vx * t) / rx) ** 2 <= 1.0
            video[t][inside] = label
    return video
