"""Frame padding, chunk plans, the training data of both stages, and small procedural clips.

Frame counts. The autoencoder maps 1 + n D_t frames to 1 + n latent frames. A video (or a
semantic video) whose frame count F is not of that form is padded **at the end by repeating its
last frame** up to 1 + D_t ceil((F - 1) / D_t) frames, and the output is trimmed back to F.
Padding at the end never changes earlier frames (every network is causal). F = 0 is an error.

Chunks. A clip longer than ``chunk_frames`` (L) is generated in chunks of L frames that overlap
by one frame: chunk k starts on the last frame of chunk k - 1, whose latent (that frame encoded
alone, as the autoencoder encodes every first frame) is given to the denoiser as a known latent
frame (WALT's frame-prediction conditioning). :func:`chunk_plan` lists the chunks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from archon_framework import Clip, ClipMeta, DataError, RawValueError, moving_ellipses_labels
from archon_video_walt._config import VideoConfig
from archon_video_walt._denoiser import NUM_LABELS
from archon_video_walt._text import description_bytes

__all__ = [
    "padded_frames",
    "pad_frames",
    "chunk_plan",
    "TrainingClip",
    "prepare_clips",
    "split_clips",
    "sample_video_batch",
    "window_starts",
    "frame_window",
    "toy_clip",
    "resize_image",
    "upsample_labels",
]


def padded_frames(frames: int, temporal_downsample: int) -> int:
    """Smallest 1 + n * temporal_downsample >= frames; RawValueError for frames < 1."""
    if frames < 1:
        raise RawValueError(f"modality 'video': cannot make a video of {frames} frames (need at least 1)")
    return 1 + -(-(frames - 1) // temporal_downsample) * temporal_downsample


def pad_frames(video: np.ndarray, temporal_downsample: int) -> np.ndarray:
    """Repeat the last frame at the end until the frame count is 1 + n * temporal_downsample."""
    extra = padded_frames(video.shape[0], temporal_downsample) - video.shape[0]
    if extra == 0:
        return video
    return np.concatenate([video, np.repeat(video[-1:], extra, axis=0)], axis=0)  # [F + extra, ...]


def chunk_plan(frames: int, chunk_frames: int, temporal_downsample: int) -> tuple[int, list[int]]:
    """(chunk length, chunk start frames) to generate ``frames`` frames.

    Every chunk has the same length (one compiled sampler): L, or the padded frame count when the
    whole clip fits in one chunk. Chunk k + 1 starts on the last frame of chunk k.
    """
    length = min(chunk_frames, padded_frames(frames, temporal_downsample))
    starts = [0]
    while starts[-1] + length < frames:
        starts.append(starts[-1] + length - 1)
    return length, starts


@attrs.frozen(eq=False)
class TrainingClip:
    """The arrays of one training clip: video uint8 [F, H, W, 3] (H = output size), semantic
    uint8 [F, S, S], the reference image uint8 [I, I, 3] as given and resized to the output size
    (``image``), the description and its bytes int32 [max_bytes]."""

    clip_id: str
    video: np.ndarray
    semantic: np.ndarray
    reference: np.ndarray
    image: np.ndarray
    description: Any
    text: np.ndarray


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """An RGB uint8 image resized to size x size (Lanczos; unchanged when it already is)."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize((size, size), Image.LANCZOS), dtype=np.uint8)


def upsample_labels(labels: np.ndarray, factor: int) -> np.ndarray:
    """Nearest up-sampling of label maps [..., S, S] -> [..., S f, S f]."""
    return np.repeat(np.repeat(labels, factor, axis=-2), factor, axis=-1)


def prepare_clips(source: Sequence[Any], config: VideoConfig) -> list[TrainingClip]:
    """Check and convert training clips (each needs video, semantic, image, description).

    Raises:
        DataError: no clips, a missing value, or shapes that do not fit the config.
    """
    out = []
    for clip in source:
        cid = getattr(getattr(clip, "meta", None), "clip_id", "?")
        try:
            video, semantic, image = (np.asarray(clip[k]) for k in ("video", "semantic", "image"))
            description = clip["description"]
        except KeyError as err:
            raise DataError(f"training the video decoder needs video, semantic, image and description: {err.args[0]}") from err
        out_size, s = config.output_size, config.semantic_size
        if video.dtype != np.uint8 or video.ndim != 4 or video.shape[1:] != (out_size, out_size, 3):
            raise DataError(
                f"clip {cid!r}: video must be uint8 [frames, {out_size}, {out_size}, 3] for a decoder with "
                f"output_size={out_size}, got {video.dtype} {video.shape}"
            )
        if semantic.ndim != 3 or semantic.shape[1:] != (s, s) or semantic.shape[0] != video.shape[0]:
            raise DataError(
                f"clip {cid!r}: semantic must be [{video.shape[0]}, {s}, {s}] (one label map per video frame), "
                f"got {semantic.shape}"
            )
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
            raise DataError(f"clip {cid!r}: image must be uint8 [H, W, 3], got {image.dtype} {image.shape}")
        try:
            text = description_bytes(description, config.text.max_bytes, where=f"clip {cid!r}, modality 'description'")
        except RawValueError as err:
            raise DataError(str(err)) from err
        out.append(TrainingClip(cid, video, semantic.astype(np.uint8), image, resize_image(image, out_size),
                                description, text))
    if not out:
        raise DataError("no clips to train the video decoder on; pass at least one clip")
    return out


def split_clips(clips: Sequence[TrainingClip], eval_clips: int) -> tuple[list[TrainingClip], list[TrainingClip]]:
    """Hold out the last ``eval_clips`` clips (at most half); a single clip trains and evaluates."""
    clips = list(clips)
    n_eval = min(eval_clips, len(clips) // 2)
    if n_eval == 0:
        return clips, clips
    return clips[:-n_eval], clips[-n_eval:]


def frame_window(arr: np.ndarray, start: int, frames: int) -> np.ndarray:
    """``frames`` frames of ``arr`` from ``start``; a window past the end repeats the last frame."""
    w = arr[start: start + frames]
    if w.shape[0] < frames:  # a short clip: repeat its last frame
        w = np.concatenate([w, np.repeat(w[-1:], frames - w.shape[0], axis=0)], axis=0)
    return w


def window_starts(frames: int, window: int, stride: int) -> list[int]:
    """Start frames of the training windows of a clip (at least one; windows may run past short clips)."""
    return list(range(0, max(frames - window, 0) + 1, stride))


def sample_video_batch(clips: Sequence[TrainingClip], batch_size: int, frames: int, crop: int,
                       *, rng: np.random.Generator) -> np.ndarray:
    """Random windows of ``frames`` frames, random crops of ``crop`` pixels (0: whole frames) and
    horizontal flips: uint8 [batch, frames, crop, crop, 3] for the autoencoder."""
    batch = []
    for i in rng.integers(0, len(clips), batch_size):
        video = clips[i].video
        start = int(rng.integers(0, max(video.shape[0] - frames, 0) + 1))
        w = frame_window(video, start, frames)
        if crop and crop < w.shape[1]:
            y, x = rng.integers(0, w.shape[1] - crop + 1, 2)
            w = w[:, y: y + crop, x: x + crop]
        if rng.random() < 0.5:
            w = w[:, :, ::-1]
        batch.append(w)
    return np.stack(batch)


def toy_clip(index: int, *, frames: int = 9, semantic_size: int = 128, output_size: int = 256,
             seed: int = 0, frame_rate: float = 30.0) -> Clip:
    """A small procedural clip for tests and demos: moving labelled ellipses rendered in colours
    drawn per clip (so the reference image carries the appearance) with a soft shading.

    Values: semantic uint8 [frames, S, S], video uint8 [frames, H, H, 3], image = video[0],
    description {"appearance": {"dominant_colors": [...]}, "action": {...}}.
    """
    rng = np.random.default_rng([seed, index])
    labels = moving_ellipses_labels(frames, semantic_size, num_labels=NUM_LABELS, rng=rng, num_shapes=3)  # [F, S, S]
    colours = rng.uniform(20, 235, (NUM_LABELS, 3)).astype(np.float32)
    up = upsample_labels(labels, output_size // semantic_size)  # [F, H, H]
    yy = np.linspace(-1.0, 1.0, output_size, dtype=np.float32)
    shade = 1.0 + 0.12 * yy[None, :, None, None]  # brighter towards the bottom
    video = np.clip(colours[up] * shade, 0, 255).astype(np.uint8)
    names = ["red", "green", "blue"]
    description = {
        "appearance": {"dominant_colors": [names[int(np.argmax(colours[k]))] for k in np.unique(labels[0])[:3]]},
        "action": {"activity_type": "moving shapes", "energy_level": ["medium"]},
    }
    meta = ClipMeta(clip_id=f"toy/{seed}/{index:05d}", duration=frames / frame_rate, frame_rate=frame_rate,
                    sample_rate=16_000, source="video_walt_toy")
    return Clip(meta, {"semantic": labels, "video": video, "image": video[0].copy(), "description": description})
