"""Entry point of the archon-video-walt plugin: the rendered ``video`` modality."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from archon_framework import ClipMeta, Modality, RawSpec, RawValueError, hookimpl
from archon_video_walt._io import load_video
from archon_video_walt._renderer import VideoRenderer
from archon_video_walt._train import stage_steps, train_video_decoder

__all__ = ["VIDEO", "make_renderer", "archon_modalities"]


def make_renderer(artifact_dir: Path | None) -> VideoRenderer:
    """The factory behind ``Modality.renderer``: a trained decoder from a directory (written by
    the trainer), else a seeded, untrained decoder of the tiny config."""
    if artifact_dir is None:
        return VideoRenderer.untrained()
    return VideoRenderer.load(Path(artifact_dir))


def _validate(value: np.ndarray, meta: ClipMeta) -> np.ndarray:
    if value.shape[1] != value.shape[2] or value.shape[1] < 8:
        raise RawValueError(f"video frames must be square and at least 8x8 pixels, got {value.shape[1]}x{value.shape[2]}")
    return value


VIDEO = Modality(
    name="video",
    vocabulary=None,
    temporal=True,
    phrase="rgb video",
    raw=RawSpec(kind="array", dtype="uint8", shape=("frames", None, None, 3), value_range=(0, 255)),
    num_tokens=lambda meta: 0,  # rendered: the language model never emits video tokens
    renderer=make_renderer,
    trainer=train_video_decoder,
    trainer_stages=stage_steps,
    validate=_validate,
    load=load_video,
    derived_from=("semantic", "image", "description"),
    description="WALT-style latent video diffusion: semantic video + reference image + description -> RGB",
)


@hookimpl
def archon_modalities() -> list[Modality]:
    return [VIDEO]
