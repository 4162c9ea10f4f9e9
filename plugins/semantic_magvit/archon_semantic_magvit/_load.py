"""File loaders of the ``semantic`` and ``image`` modalities for manifest ingestion
(``archon data ingest``; paper Sec. D.5, D.6).

``semantic`` (``uint8 [frames, 128, 128]``, label ids 0..20 of Table H) from:

* **a folder of PNGs**, one per frame, sorted by file name with digit runs compared as numbers
  (``f2.png`` before ``f10.png``); files other than ``*.png`` are ignored. The frames are taken
  at the clip's frame rate. A frame is either label ids (palette ``P``, grayscale ``L`` or 16-bit
  ``I;16`` PNG: pixel value = label id, as :func:`save_label_pngs` writes) or colourized with
  :data:`PALETTE` (``RGB``/``RGBA``; mapped back with :func:`colors_to_labels`; a pixel farther
  than half the smallest palette distance from every palette colour is refused, since the PNG is
  lossless and such a pixel means the image is not a label map).
* **a video file** (mp4, mov, mkv, webm, avi) of colourized labels, decoded with ffmpeg and
  resampled to the clip's frame rate by taking, for each output frame, the source frame nearest
  in time (label maps are never blended). Lossy coding smears colours at label edges, so up to
  :data:`VIDEO_OFF_PALETTE_FRACTION` of a frame's pixels may lie off the palette (they take the
  nearest label); more and the video is refused as not a label video.

Label ids outside 0..20 are refused, naming the file and the frame. Frames must be square and
all of one size; other square sizes than 128 are resized to 128 x 128 with nearest-neighbour
sampling (label ids are kept, never mixed); non-square frames are refused, because choosing a
crop means choosing the framing (the paper crops around the fitted head, which needs a face
model). Frame count: ``round(duration * frame_rate)`` frames are needed; the core's
:func:`archon_framework.fit_frame_count` pads a shortfall of at most
``archon_framework.FRAME_TOLERANCE_SECONDS`` by repeating the last frame and drops an excess of
at most that much from the end (rounding slack of the decoder or of the clip cut); anything more
is refused, never silently truncated.

``image`` (``uint8 [256, 256, 3]``, the clip's reference image) from a still image file that
Pillow reads (PNG, JPEG, WebP, ...; for an animated file, its first frame), or a video file (its
first frame: the frame the image tasks' time-invariant state refers to). A square image of another
size is resized to 256 x 256 with bicubic interpolation (Pillow's resize low-pass filters when it
shrinks: the paper's "bicubic interpolation with anti-aliasing"); a non-square image is refused
(crop it around the head first). Grayscale and palette images are converted to RGB; an alpha
channel must be fully opaque.

Every error is a :class:`archon_framework.RawValueError` naming the file (and frame).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from jaxtyping import UInt8
from PIL import Image, UnidentifiedImageError

from archon_framework import ClipMeta, DataWarning, RawValueError, fit_frame_count
from archon_semantic_magvit._labels import NUM_LABELS
from archon_semantic_magvit._palette import PALETTE, PALETTE_MIN_DISTANCE, colors_to_labels

__all__ = [
    "SEMANTIC_SIZE",
    "IMAGE_SIZE",
    "VIDEO_OFF_PALETTE_FRACTION",
    "VIDEO_SUFFIXES",
    "load_semantic",
    "load_reference_image",
    "read_label_frames",
    "read_label_video",
    "resample_frame_indices",
]

SEMANTIC_SIZE: int = 128
IMAGE_SIZE: int = 256
#: Share of a decoded video frame's pixels that may lie off the palette (lossy-coding smear).
VIDEO_OFF_PALETTE_FRACTION: float = 0.1
#: File suffixes read as videos (decoded with ffmpeg through imageio).
VIDEO_SUFFIXES: frozenset[str] = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"})

_LABEL_MODES = ("P", "L", "I;16", "I")
_COLOR_MODES = ("RGB", "RGBA")
_OFF_PALETTE = PALETTE_MIN_DISTANCE / 2.0


def _natural_key(path: Path) -> list[object]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _nearest_labels(colors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Colours [..., 3] -> (uint8 label ids [...], bool [...] pixels farther than half the smallest
    palette distance from every palette colour, i.e. off the palette)."""
    rgb = np.asarray(colors)[..., :3]
    labels = colors_to_labels(rgb)
    d2 = ((rgb.astype(np.float32) - PALETTE[labels].astype(np.float32)) ** 2).sum(-1)  # [...]
    return labels, d2 > _OFF_PALETTE**2


def _square_resize_labels(labels: np.ndarray, where: str) -> np.ndarray:
    """uint8 [H, H] label map -> [128, 128] by nearest-neighbour sampling; non-square refused."""
    h, w = labels.shape
    if h != w:
        raise RawValueError(
            f"semantic ({where}): frame is {w}x{h} pixels; label maps must be square ({SEMANTIC_SIZE}x"
            f"{SEMANTIC_SIZE}, or square of any size to be resized): crop them around the head first"
        )
    if h == SEMANTIC_SIZE:
        return labels
    source = where.split(", frame ")[0]  # one message per file, however many frames
    warnings.warn(f"semantic ({source}): {h}x{h} label maps resized to {SEMANTIC_SIZE}x{SEMANTIC_SIZE} "
                  "(nearest neighbour)", DataWarning, stacklevel=2)
    return np.asarray(Image.fromarray(labels, mode="L").resize((SEMANTIC_SIZE, SEMANTIC_SIZE), Image.NEAREST))


def _png_labels(path: Path, frame: int) -> np.ndarray:
    """One PNG frame -> uint8 [H, W] label ids (checked 0..20)."""
    where = f"file {path}, frame {frame}"
    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            if mode == "LA":
                img, mode = img.convert("L"), "L"
            if mode in _LABEL_MODES:
                ids = np.asarray(img).astype(np.int64)  # P: palette index = label id
            elif mode in _COLOR_MODES:
                rgb = np.asarray(img)[..., :3]
                labels, off = _nearest_labels(rgb)
                if off.any():
                    y, x = np.argwhere(off)[0]
                    raise RawValueError(
                        f"semantic ({where}): {int(off.sum())} pixel(s) are no colour of the label palette "
                        f"(first at x={x}, y={y}: {tuple(int(v) for v in rgb[y, x])}); colourized label maps "
                        "must use archon_semantic_magvit.PALETTE, or store label ids as a grayscale PNG"
                    )
                ids = labels.astype(np.int64)
            else:
                raise RawValueError(
                    f"semantic ({where}): PNG mode {mode!r}; expected label ids (palette P or grayscale L) "
                    "or palette colours (RGB)"
                )
    except (OSError, UnidentifiedImageError) as err:
        raise RawValueError(f"semantic ({where}): cannot read the PNG ({err})") from err
    if ids.size and (ids.min() < 0 or ids.max() >= NUM_LABELS):
        bad = ids[(ids < 0) | (ids >= NUM_LABELS)]
        raise RawValueError(
            f"semantic ({where}): label ids must lie in 0..{NUM_LABELS - 1} (Table H); found "
            f"{sorted(set(bad.tolist()))[:8]} in {bad.size} pixel(s)"
        )
    return _square_resize_labels(ids.astype(np.uint8), where)


def read_label_frames(directory: str | Path) -> UInt8[np.ndarray, "frames 128 128"]:
    """A folder of label-map PNGs (one per frame, natural name order) as ``uint8 [frames, 128, 128]``.

    Raises:
        RawValueError: no PNG in the folder, an unreadable frame, ids outside 0..20, off-palette
            colours, frames of different sizes or non-square frames; the file and frame are named.
    """
    directory = Path(directory)
    paths = sorted((p for p in directory.iterdir() if p.is_file() and p.suffix.lower() == ".png"), key=_natural_key)
    if not paths:
        raise RawValueError(f"semantic (folder {directory}): no .png frames in the folder")
    frames: list[np.ndarray] = []
    first_size: tuple[int, int] | None = None
    for t, path in enumerate(paths):
        try:
            with Image.open(path) as img:
                size = img.size
        except (OSError, UnidentifiedImageError) as err:
            raise RawValueError(f"semantic (file {path}, frame {t}): cannot read the PNG ({err})") from err
        if first_size is None:
            first_size = size
        elif size != first_size:
            raise RawValueError(
                f"semantic (file {path}, frame {t}): frame is {size[0]}x{size[1]} but frame 0 "
                f"({paths[0].name}) is {first_size[0]}x{first_size[1]}; all frames of a clip have one size"
            )
        frames.append(_png_labels(path, t))
    return np.stack(frames)  # [frames, 128, 128]


def _read_video(path: Path) -> tuple[np.ndarray, float]:
    """All frames of a video file as uint8 [frames, H, W, 3] and its frame rate."""
    try:
        meta = iio.immeta(path, plugin="FFMPEG")
        frames = iio.imread(path, plugin="FFMPEG", index=None)  # [frames, H, W, 3]
    except Exception as err:  # noqa: BLE001 - ffmpeg/imageio raise many unrelated types
        raise RawValueError(f"file {path}: cannot decode the video ({type(err).__name__}: {err})") from err
    fps = float(meta.get("fps") or 0.0)
    if frames.ndim != 4 or frames.shape[0] == 0:
        raise RawValueError(f"file {path}: the video has no frames")
    if not np.isfinite(fps) or fps <= 0:
        raise RawValueError(f"file {path}: the video does not state its frame rate")
    return frames, fps


def resample_frame_indices(source_frames: int, source_fps: float, target_fps: float) -> np.ndarray:
    """For each frame at ``target_fps``, the index of the source frame nearest in time.

    The output covers the source's duration: ``round(source_frames * target_fps / source_fps)``
    frames (at least one); frame i shows time ``i / target_fps``.
    """
    n = max(1, int(round(source_frames * target_fps / source_fps)))
    idx = np.floor(np.arange(n) * (source_fps / target_fps) + 0.5).astype(np.int64)
    return np.minimum(idx, source_frames - 1)


def read_label_video(path: str | Path, frame_rate: float) -> UInt8[np.ndarray, "frames 128 128"]:
    """A colourized label video as ``uint8 [frames, 128, 128]`` at ``frame_rate`` fps.

    Raises:
        RawValueError: undecodable file, a frame with too many off-palette pixels (not a label
            video), or non-square frames; the file and frame are named.
    """
    path = Path(path)
    video, fps = _read_video(path)
    if fps != frame_rate:
        warnings.warn(f"semantic (file {path}): resampled {video.shape[0]} frames from {fps:g} fps to {frame_rate:g} fps "
                      "(nearest frame in time)", DataWarning, stacklevel=2)
    video = video[resample_frame_indices(video.shape[0], fps, frame_rate)]  # nearest in time
    out = []
    for t, frame in enumerate(video):
        labels, off_pixels = _nearest_labels(frame)
        off = float(off_pixels.mean())
        if off > VIDEO_OFF_PALETTE_FRACTION:
            raise RawValueError(
                f"semantic (file {path}, frame {t}): {off:.0%} of the pixels are no colour of the label "
                f"palette (at most {VIDEO_OFF_PALETTE_FRACTION:.0%} allowed for lossy video); a semantic "
                "video must be colourized with archon_semantic_magvit.PALETTE"
            )
        out.append(_square_resize_labels(labels, f"file {path}, frame {t}"))
    return np.stack(out)


def load_semantic(path: str | Path, meta: ClipMeta) -> UInt8[np.ndarray, "frames 128 128"]:
    """Read a label-map PNG folder or a colourized label video as the clip's ``semantic`` value
    (``Modality.load``; see the module docstring for the rules).

    Raises:
        RawValueError: see :func:`read_label_frames`, :func:`read_label_video`,
            :func:`archon_framework.fit_frame_count`.
    """
    path = Path(path)
    with warnings.catch_warnings(record=True) as caught:  # a per-frame adjustment is said once
        warnings.simplefilter("always", DataWarning)
        if path.is_dir():
            labels = read_label_frames(path)
        elif path.suffix.lower() in VIDEO_SUFFIXES:
            labels = read_label_video(path, meta.frame_rate)
        else:
            raise RawValueError(
                f"semantic (file {path}): expected a folder of label PNGs (one per frame) or a video file "
                f"({', '.join(sorted(VIDEO_SUFFIXES))})"
            )
    for w in caught:
        if not issubclass(w.category, DataWarning):
            warnings.warn(w.message, w.category, stacklevel=2)
    said = [str(w.message).split("): ", 1)[-1] for w in caught if issubclass(w.category, DataWarning)]  # without the frame's file
    for what in dict.fromkeys(said):
        count = said.count(what)
        warnings.warn(f"semantic ({path}): {what}" + (f" ({count} frames)" if count > 1 else ""), DataWarning, stacklevel=2)
    return fit_frame_count(labels, meta, where=f"semantic ({path})")


def _still_rgb(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as img:
            img.seek(0)  # animated files: the first frame
            img.load()
            if img.mode in ("I", "I;16", "F"):
                raise RawValueError(f"image (file {path}): {img.mode} images are not 8-bit; save it as 8-bit RGB")
            if "A" in img.getbands() or "transparency" in img.info:
                rgba = np.asarray(img.convert("RGBA"))
                if rgba[..., 3].min() < 255:
                    raise RawValueError(
                        f"image (file {path}): has transparent pixels; flatten it onto its background first"
                    )
            return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError) as err:
        raise RawValueError(f"image (file {path}): cannot read the image ({err})") from err


def load_reference_image(path: str | Path, meta: ClipMeta | None = None) -> UInt8[np.ndarray, "256 256 3"]:
    """Read a still image (or a video's first frame) as the clip's ``image`` value
    (``Modality.load``): square images are resized to 256 x 256 (bicubic, anti-aliased).

    Raises:
        RawValueError: unreadable file, a non-square image, transparency, a non-8-bit image.
    """
    path = Path(path)
    if path.is_dir():
        raise RawValueError(f"image (folder {path}): expected one image file, got a folder")
    if path.suffix.lower() in VIDEO_SUFFIXES:
        rgb = _read_video(path)[0][0]  # [H, W, 3]: the first frame
    else:
        rgb = _still_rgb(path)
    h, w = rgb.shape[:2]
    if h != w:
        raise RawValueError(
            f"image (file {path}): image is {w}x{h} pixels; the reference image is square "
            f"({IMAGE_SIZE}x{IMAGE_SIZE}, or square of any size to be resized): crop it around the head first"
        )
    if h != IMAGE_SIZE:
        warnings.warn(f"image (file {path}): {h}x{h} pixels resized to {IMAGE_SIZE}x{IMAGE_SIZE} (bicubic)",
                      DataWarning, stacklevel=2)
        rgb = np.asarray(Image.fromarray(rgb).resize((IMAGE_SIZE, IMAGE_SIZE), Image.BICUBIC), dtype=np.uint8)
    return np.ascontiguousarray(rgb)
