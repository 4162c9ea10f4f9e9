"""Training batches from clips, frame padding, and small procedural label videos and images.

Frame counts. The causal CNN maps 1 + 4n frames to 1 + n latent frames. A clip whose frame
count F is not of that form is padded **at the end by repeating its last frame** up to
1 + 4 ceil((F - 1) / 4) frames; decoding trims back to F frames. Repeating (rather than zeros)
keeps the padding inside the label distribution, and padding at the end never changes the
tokens of earlier frames (the encoder is causal).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from archon_framework import DataError, moving_ellipses_labels
from archon_semantic_magvit._palette import PALETTE

__all__ = [
    "padded_frames",
    "pad_frames",
    "toy_label_video",
    "toy_image",
    "sample_semantic_batch",
    "sample_image_batch",
    "split_clips",
]


def padded_frames(frames: int, temporal_downsample: int = 4) -> int:
    """Smallest 1 + n * temporal_downsample >= frames (0 stays 0)."""
    if frames <= 0:
        return 0
    return 1 + -(-(frames - 1) // temporal_downsample) * temporal_downsample


def pad_frames(video: np.ndarray, temporal_downsample: int = 4) -> np.ndarray:
    """Repeat the last frame at the end until the frame count is 1 + n * temporal_downsample."""
    extra = padded_frames(video.shape[0], temporal_downsample) - video.shape[0]
    if extra == 0:
        return video
    return np.concatenate([video, np.repeat(video[-1:], extra, axis=0)], axis=0)  # [F + extra, ...]


def toy_label_video(
    frames: int, size: int = 128, *, rng: np.random.Generator, num_shapes: int = 3
) -> np.ndarray:
    """A label video of moving ellipses of random labels on background: uint8 [frames, size, size].

    Used by tests, benchmarks and the demo until a dataset plugin provides real data
    (:func:`archon_framework.moving_ellipses_labels` over the 21 labels of Table H).
    """
    return moving_ellipses_labels(frames, size, num_labels=len(PALETTE), rng=rng, num_shapes=num_shapes)


def toy_image(size: int = 256, *, rng: np.random.Generator) -> np.ndarray:
    """A smooth RGB image (gradient plus coloured ellipses): uint8 [size, size, 3]."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    base = rng.uniform(0, 255, (2, 3)).astype(np.float32)
    img = base[0] * (1 - yy[..., None]) + base[1] * yy[..., None]  # [size, size, 3]
    for _ in range(3):
        c = rng.uniform(0.2, 0.8, 2)
        r = rng.uniform(0.08, 0.25, 2)
        inside = ((yy - c[0]) / r[0]) ** 2 + ((xx - c[1]) / r[1]) ** 2 <= 1.0
        img[inside] = rng.uniform(0, 255, 3)
    return np.clip(img, 0, 255).astype(np.uint8)


def _values(clips: Sequence[Any], name: str) -> list[np.ndarray]:
    out = []
    for clip in clips:
        try:
            out.append(np.asarray(clip[name]))
        except KeyError as err:
            raise DataError(f"training clips need a {name!r} value: {err.args[0]}") from err
    if not out:
        raise DataError(f"no clips to train the {name!r} tokenizer on; pass at least one clip")
    return out


def _crop(array: np.ndarray, crop: int, rng: np.random.Generator, axes: tuple[int, int]) -> np.ndarray:
    """A random ``crop`` x ``crop`` window over ``axes`` (the whole array when crop is 0 or too big)."""
    h, w = array.shape[axes[0]], array.shape[axes[1]]
    if crop <= 0 or (crop >= h and crop >= w):
        return array
    ch, cw = min(crop, h), min(crop, w)
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    index = [slice(None)] * array.ndim
    index[axes[0]], index[axes[1]] = slice(y, y + ch), slice(x, x + cw)
    return array[tuple(index)]


def sample_semantic_batch(
    clips: Sequence[Any], batch_size: int, frames: int, *, rng: np.random.Generator, crop: int = 0
) -> np.ndarray:
    """Random windows of ``frames`` frames: uint8 [batch, frames, H, W] (short clips padded).

    ``crop`` > 0 takes a random ``crop`` x ``crop`` spatial window of each (VQ-GAN-style random
    crops: the network is fully convolutional, so it still encodes whole frames afterwards).
    """
    videos = _values(clips, "semantic")
    batch = []
    for i in rng.integers(0, len(videos), batch_size):
        v = videos[i]
        if v.shape[0] < frames:
            v = np.concatenate([v, np.repeat(v[-1:], frames - v.shape[0], axis=0)], axis=0)
        start = int(rng.integers(0, v.shape[0] - frames + 1))
        window = _crop(v[start : start + frames], crop, rng, (1, 2))
        if rng.random() < 0.5:
            window = window[:, :, ::-1]  # horizontal flip (labels have no left/right split)
        batch.append(window)
    return np.stack(batch)


def sample_image_batch(
    clips: Sequence[Any], batch_size: int, *, rng: np.random.Generator, crop: int = 0
) -> np.ndarray:
    """Random images of the clips, randomly flipped: uint8 [batch, H, W, 3] (``crop`` as above)."""
    images = _values(clips, "image")
    batch = []
    for i in rng.integers(0, len(images), batch_size):
        image = _crop(images[i], crop, rng, (0, 1))
        batch.append(image[:, ::-1] if rng.random() < 0.5 else image)
    return np.stack(batch)


def split_clips(clips: Sequence[Any], eval_clips: int) -> tuple[list[Any], list[Any]]:
    """Hold out the last ``eval_clips`` clips (at most half); one clip trains and evaluates."""
    clips = list(clips)
    n_eval = min(eval_clips, len(clips) // 2)
    if n_eval == 0:
        return clips, clips
    return clips[:-n_eval], clips[-n_eval:]
