"""Files: label videos to and from PNG sequences, colourized GIF/MP4 previews, RGB images."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
from PIL import Image

from archon_framework import DataError, RawValueError
from archon_semantic_magvit._labels import NUM_LABELS
from archon_semantic_magvit._palette import PALETTE, labels_to_colors

__all__ = ["save_label_pngs", "load_label_pngs", "save_preview", "load_image", "save_image"]


def _check_labels(labels: np.ndarray) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.dtype.kind not in "iu" or arr.ndim != 3 or (arr.size and (arr.min() < 0 or arr.max() >= NUM_LABELS)):
        raise RawValueError(
            f"modality 'semantic': expected integer labels 0..{NUM_LABELS - 1} of shape [frames, H, W], "
            f"got {arr.dtype} {arr.shape}"
        )
    return arr.astype(np.uint8)


def save_label_pngs(labels: np.ndarray, directory: Path) -> list[Path]:
    """Write one palette-mode PNG per frame (``frame_00000.png``...): pixel value = label id."""
    labels = _check_labels(labels)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    flat_palette = PALETTE.ravel().tolist() + [0] * (768 - PALETTE.size)
    paths = []
    for t, frame in enumerate(labels):
        img = Image.fromarray(frame, mode="P")
        img.putpalette(flat_palette)
        path = directory / f"frame_{t:05d}.png"
        img.save(path)
        paths.append(path)
    return paths


def load_label_pngs(directory: Path) -> np.ndarray:
    """Read ``frame_*.png`` (sorted): palette-mode or grayscale PNGs whose values are label ids.

    Returns:
        uint8 [frames, H, W].
    """
    paths = sorted(Path(directory).glob("frame_*.png"))
    if not paths:
        raise DataError(f"{directory}: no frame_*.png files; write them with save_label_pngs")
    frames = []
    for path in paths:
        img = Image.open(path)
        if img.mode not in ("P", "L"):
            raise DataError(f"{path}: expected a palette (P) or grayscale (L) PNG of label ids, got mode {img.mode}")
        frames.append(np.asarray(img))
    labels = np.stack(frames)
    if labels.max() >= NUM_LABELS:
        raise DataError(f"{directory}: label ids must lie in 0..{NUM_LABELS - 1}, found {labels.max()}")
    return labels


def save_preview(labels: np.ndarray, path: Path, *, fps: float = 30.0) -> Path:
    """A colourized preview of a label video, GIF or MP4 by the file suffix."""
    colors = labels_to_colors(_check_labels(labels))  # [frames, H, W, 3]
    path = Path(path)
    if path.suffix.lower() == ".gif":
        iio.imwrite(path, colors, duration=1000.0 / fps, loop=0)
    elif path.suffix.lower() == ".mp4":
        iio.imwrite(path, colors, fps=fps, codec="libx264", macro_block_size=1)
    else:
        raise DataError(f"{path}: preview format must be .gif or .mp4")
    return path


def load_image(path: Path, *, size: int = 256) -> np.ndarray:
    """An RGB image as uint8 [size, size, 3] (resized with Lanczos when needed)."""
    try:
        img = Image.open(path).convert("RGB")
    except OSError as err:
        raise DataError(f"{path}: cannot read image ({err})") from err
    if img.size != (size, size):
        img = img.resize((size, size), Image.LANCZOS)
    return np.asarray(img, dtype=np.uint8)


def save_image(image: np.ndarray, path: Path) -> Path:
    """Write a uint8 [H, W, 3] image with Pillow (format from the suffix)."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[-1] != 3:
        raise RawValueError(f"modality 'image': expected uint8 [H, W, 3], got {arr.dtype} {arr.shape}")
    Image.fromarray(arr).save(path)
    return Path(path)
