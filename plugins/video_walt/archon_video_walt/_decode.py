"""``decode(semantic, image, description) -> video``: the plugin's one-call entry point."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from archon_framework import ClipMeta
from archon_video_walt._renderer import VideoRenderer

__all__ = ["decode"]


def decode(
    semantic: np.ndarray,
    image: np.ndarray,
    description: Any,
    *,
    renderer: VideoRenderer | None = None,
    artifact_dir: Path | None = None,
    seed: int = 0,
    meta: ClipMeta | None = None,
    steps: int | None = None,
    guidance: float | None = None,
) -> np.ndarray:
    """Turn a semantic video, a reference image and a description into an RGB video.

    Args:
        semantic: uint8 labels [frames, 128, 128] (Table H, ``archon_semantic_magvit.LABELS``).
        image: uint8 [256, 256, 3] reference image (typically the first frame).
        description: the Fig. K description dict (must describe something).
        renderer: a loaded :class:`VideoRenderer` (reuse it across calls: loading and compiling
            take a while); else one is loaded from ``artifact_dir``, else the untrained tiny one.
        seed: noise seed.
        meta: the clip window (its frame count must match ``semantic``).
        steps, guidance: DDIM steps and classifier-free guidance weight (config defaults).

    Returns:
        uint8 [frames, output_size, output_size, 3] (256 x 256 for the shipped configs' inputs).

    Raises:
        archon_framework.RawValueError: bad inputs (see :meth:`VideoRenderer.check_inputs`).
        archon_framework.CheckpointError: ``artifact_dir`` holds no trained decoder.
    """
    if renderer is None:
        renderer = VideoRenderer.load(Path(artifact_dir)) if artifact_dir is not None else VideoRenderer.untrained()
    return renderer.generate(semantic, image, description, seed=seed, meta=meta, steps=steps, guidance=guidance)
