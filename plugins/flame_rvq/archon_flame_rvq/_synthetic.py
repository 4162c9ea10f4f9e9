"""Smooth synthetic FLAME parameter trajectories, for tests and benchmarks of the tokenizers."""

from __future__ import annotations

import numpy as np

from archon_framework import Clip, ClipMeta

from ._dims import DEFAULT_DIMS, FlameDims

__all__ = ["synthetic_flame_clips"]


def _smooth_signals(rng: np.random.Generator, frames: int, factors: int, fps: float) -> np.ndarray:
    """``[frames, factors]`` sums of three sinusoids (0.1..3 Hz) with random phases."""
    t = np.arange(frames, dtype=np.float64)[:, None] / fps  # [T, 1]
    out = np.zeros((frames, factors))
    for _ in range(3):
        freq = rng.uniform(0.1, 3.0, size=factors)
        phase = rng.uniform(0, 2 * np.pi, size=factors)
        out += rng.uniform(0.3, 1.0, size=factors) * np.sin(2 * np.pi * freq * t + phase)
    return out


def synthetic_flame_clips(
    count: int,
    *,
    seconds: float = 2.0,
    frame_rate: float = 30.0,
    seed: int = 0,
    dims: FlameDims = DEFAULT_DIMS,
) -> list[Clip]:
    """``count`` clips with ``identity``, ``expression`` and ``pose`` values.

    Identity: Gaussian coefficients with variance decaying over the dimensions (as PCA
    coefficients do). Expression: 8 smooth latent factors mixed linearly into the expression
    dimensions, plus small noise. Pose: small head rotations (radians) from smooth signals and
    a slowly drifting translation. Not the synthetic-heads dataset (issue 2): a stand-in with the
    same raw-value contract, so the tokenizers can be trained and measured on their own.
    """
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(8, dims.expression)) / np.sqrt(8)  # shared by every clip
    decay = 1.0 / np.sqrt(1.0 + np.arange(dims.shape))
    clips = []
    for i in range(count):
        meta = ClipMeta(clip_id=f"synthetic-flame-{seed}-{i}", duration=seconds, frame_rate=frame_rate,
                        sample_rate=16_000)
        frames = meta.frames
        expression = _smooth_signals(rng, frames, 8, frame_rate) @ mixing  # [T, 8] -> [T, E]
        expression += 0.02 * rng.normal(size=expression.shape)
        rotation = 0.15 * _smooth_signals(rng, frames, 3, frame_rate)  # [T, 3]
        translation = np.cumsum(0.002 * rng.normal(size=(frames, 3)), axis=0)  # [T, 3]
        translation += rng.normal(scale=0.05, size=3)
        pose = np.concatenate([rotation, translation], axis=1)[:, : dims.pose]
        if dims.pose > 6:
            pose = np.pad(pose, ((0, 0), (0, dims.pose - 6)))
        values = {
            "identity": (rng.normal(size=dims.shape) * decay).astype(np.float32),
            "expression": expression.astype(np.float32),
            "pose": pose.astype(np.float32),
        }
        clips.append(Clip(meta, values))
    return clips
