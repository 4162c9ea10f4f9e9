"""Video files: MP4 (imageio with its bundled ffmpeg, H.264) and GIF, written atomically; a loader
for ``archon data ingest`` manifests; side-by-side comparison strips.

GIF timing. GIF stores one delay per frame in hundredths of a second, and Pillow merges a frame
identical to the previous one into it (adding the delays), so a GIF of F video frames may hold
fewer images. :func:`write_video` therefore gives frame i the delay that makes the cumulative
time of frame i + 1 round((i + 1) * 100 / fps) hundredths, and :func:`load_video` expands every
GIF image back onto the clip's frame grid from the cumulative delays: frame f shows the image
whose start time is the last one <= f / fps (exact for frame rates below 100 fps).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from archon_framework import ClipMeta, DataError, RawValueError
from archon_framework.config import replace_atomically

__all__ = ["write_video", "load_video", "side_by_side"]

_FORMATS = (".mp4", ".gif")


def _check(video: np.ndarray) -> np.ndarray:
    arr = np.asarray(video)
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] != 3 or arr.shape[0] == 0:
        raise RawValueError(f"modality 'video': expected uint8 [frames, H, W, 3] with frames >= 1, got {arr.dtype} {arr.shape}")
    return arr


def write_video(video: np.ndarray, path: Path, *, fps: float = 30.0) -> Path:
    """Write uint8 [frames, H, W, 3] as ``.mp4`` (H.264, yuv420p) or ``.gif`` (looping), by suffix.

    The file is written next to ``path`` under a temporary name and renamed into place.
    """
    arr, path = _check(video), Path(path)
    suffix = path.suffix.lower()
    if suffix not in _FORMATS:
        raise DataError(f"{path}: video format must be one of {', '.join(_FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        if suffix == ".gif":
            delays = _gif_delays(arr.shape[0], fps)  # Pillow takes a list only for several frames
            iio.imwrite(tmp, arr, extension=".gif", duration=delays if len(delays) > 1 else delays[0], loop=0)
        else:
            # imageio-ffmpeg writes yuv420p (what players expect); macro_block_size=1 keeps any size.
            iio.imwrite(tmp, arr, extension=".mp4", fps=fps, codec="libx264", macro_block_size=1)
        replace_atomically(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _gif_delays(frames: int, fps: float) -> list[int]:
    """Per-frame delays in ms (multiples of 10) whose running sums stay within 5 ms of i / fps."""
    ends = np.rint(np.arange(frames + 1) * 100.0 / fps).astype(np.int64) * 10  # cumulative ms
    return [int(d) for d in np.maximum(np.diff(ends), 10)]


def _read_gif(path: Path, fps: float) -> np.ndarray:
    """The GIF's images spread back onto a grid of ``fps`` frames (see the module docstring)."""
    from PIL import Image, ImageSequence

    images, starts, t = [], [], 0
    with Image.open(path) as gif:
        for frame in ImageSequence.Iterator(gif):
            images.append(np.asarray(frame.convert("RGB")))
            starts.append(t)
            t += int(frame.info.get("duration", 0))
    if t <= 0:  # no timing: one image per frame
        return np.stack(images)
    first = np.rint(np.asarray(starts) * fps / 1000.0).astype(np.int64)  # first clip frame of each image
    total = int(np.rint(t * fps / 1000.0))
    index = np.searchsorted(first, np.arange(total), side="right") - 1  # image shown at each frame
    return np.stack(images)[np.clip(index, 0, len(images) - 1)]


def load_video(path: Path, meta: ClipMeta) -> np.ndarray:
    """Read an ``.mp4``/``.gif``/``.npy`` video as uint8 [meta.frames, H, W, 3].

    Frame rates are not resampled: the file must hold ``meta.frames`` frames (RawValueError
    naming the file otherwise; a GIF's images are placed on the clip's frame grid by their
    delays); grayscale and RGBA frames are converted to RGB.
    """
    path = Path(path)
    try:
        suffix = path.suffix.lower()
        if suffix == ".npy":
            frames = np.load(path)
        elif suffix == ".gif":
            frames = _read_gif(path, meta.frame_rate)
        else:
            frames = iio.imread(path, index=None)
    except (OSError, ValueError) as err:
        raise RawValueError(f"{path}: cannot read a video ({err})") from err
    arr = np.asarray(frames)
    if arr.ndim == 3:  # grayscale frames
        arr = np.repeat(arr[..., None], 3, axis=-1)
    if arr.ndim != 4 or arr.shape[-1] not in (3, 4):
        raise RawValueError(f"{path}: expected frames [frames, H, W, 3], got shape {arr.shape}")
    arr = arr[..., :3]
    if arr.dtype != np.uint8:
        raise RawValueError(f"{path}: expected 8-bit frames, got {arr.dtype}")
    if arr.shape[0] != meta.frames:
        raise RawValueError(f"{path}: {arr.shape[0]} frames, but clip {meta.clip_id!r} needs {meta.frames} "
                            f"({meta.duration} s at {meta.frame_rate} fps); resample the video first")
    return arr


def side_by_side(*videos: np.ndarray, semantic: np.ndarray | None = None) -> np.ndarray:
    """Frames of several videos side by side (cut to the shortest), optionally led by a semantic video.

    Args:
        videos: uint8 ``[frames, H, W, 3]`` each, of one height.
        semantic: the colourized label video, uint8 ``[frames, S, S, 3]`` with ``S`` dividing ``H``
            (e.g. ``archon_semantic_magvit.labels_to_colors(labels)``), up-sampled to ``H``.

    Raises:
        RawValueError: a video or the semantic video is not uint8 ``[frames, H, W, 3]``.
    """
    parts = [_check(v) for v in videos]
    if semantic is not None:
        colours = np.asarray(semantic)  # [F, S, S, 3]
        if colours.dtype != np.uint8 or colours.ndim != 4 or colours.shape[-1] != 3:
            raise RawValueError("side_by_side: 'semantic' must be a colourized label video, uint8 [frames, S, S, 3] "
                                f"(e.g. archon_semantic_magvit.labels_to_colors(labels)), got {colours.dtype} {colours.shape}")
        f = parts[0].shape[1] // colours.shape[1]
        parts.insert(0, np.repeat(np.repeat(colours, f, axis=1), f, axis=2))
    n = min(p.shape[0] for p in parts)
    return np.concatenate([p[:n] for p in parts], axis=2)
