"""Shared fixtures of the video_walt tests: a mini config (64 x 64 video), its renderers, clips.

The networks start as identity maps (zero-initialized output layers and AdaLN gates), under which
most properties would hold trivially; ``randomized`` perturbs every weight so that each block,
each condition and each branch really acts, and the fixtures built on it are what the property
tests use. Test modules cannot import this file, so the helpers are fixtures too
(``make_config``, ``randomize``, ``make_conditions``).
"""

from __future__ import annotations

import equinox as eqx
import jax
import numpy as np
import pytest

from archon_video_walt import Conditions, LatentStats, VideoConfig, VideoRenderer, description_bytes, toy_clip

MINI = {
    "semantic_size": 32, "image_size": 64, "output_size": 64, "chunk_frames": 5,
    "autoencoder": {"latent_channels": 4, "patch": 4, "channels": [8, 16], "temporal_strides": [4],
                    "temporal_kernels": [1, 3], "norm_groups": 4},
    "denoiser": {"width": 32, "depth": 2, "heads": 2, "patch": 2, "window": [2, 2], "semantic_channels": 4,
                 "semantic_embed": 4, "semantic_width": 8, "context_patch": 2, "max_latent_frames": 4, "adaln_rank": 4},
    "text": {"max_bytes": 256, "patch": 16, "width": 16, "depth": 1, "heads": 2},
    "diffusion": {"sample_steps": 3},
    "train": {"ae_frames": 5, "ae_crop": 0, "ae_batch_size": 2, "batch_size": 4, "eval_clips": 1, "warmup_steps": 2,
              "learning_rate": 2e-3, "ae_learning_rate": 3e-3},
}
#: Frames of the mini clips (two 5-frame chunks that share one frame).
FRAMES = 9


def mini_config(**overrides) -> VideoConfig:
    """The mini config; ``overrides`` replace whole sections or top-level keys."""
    return VideoConfig.from_dict({**MINI, **overrides}, source="tests/conftest.py")


def randomized(module: eqx.Module, seed: int = 0, scale: float = 0.2) -> eqx.Module:
    """``module`` with N(0, scale^2) noise added to every float array (zero-initialized layers too)."""
    leaves, treedef = jax.tree.flatten(module)
    rng = np.random.default_rng(seed)
    out = [x + scale * rng.standard_normal(x.shape).astype(np.float32)
           if eqx.is_inexact_array(x) else x for x in leaves]
    return jax.tree.unflatten(treedef, out)


def conditions(config: VideoConfig, clip, *, frames: int | None = None, drop=(False, False, False),
               known_frames: int = 0, seed: int = 0) -> Conditions:
    """Conditions of one example built from a mini clip (the reference latent is random: the tests of
    the denoiser do not need the autoencoder)."""
    d_t = config.autoencoder.temporal_downsample
    frames = frames or config.chunk_frames
    n_lat = config.autoencoder.latent_frames(frames)
    c, g = config.autoencoder.latent_channels, config.latent_size
    rng = np.random.default_rng(seed)
    known = rng.standard_normal((c, n_lat, g, g)).astype(np.float32)
    known_mask = np.arange(n_lat) < known_frames
    if (frames - 1) % d_t:
        raise ValueError(f"conditions: {frames} frames is not 1 + n * {d_t}")
    return Conditions(
        semantic=np.asarray(clip["semantic"][:frames]),
        ref_latent=rng.standard_normal((c, g, g)).astype(np.float32),
        ref_mask=np.asarray(clip["semantic"][0]),
        text=description_bytes(clip["description"], config.text.max_bytes),
        known=known * known_mask[None, :, None, None],
        known_mask=known_mask,
        drop=np.asarray(drop, bool),
    )


@pytest.fixture(scope="session")
def make_config():
    return mini_config


@pytest.fixture(scope="session")
def randomize():
    return randomized


@pytest.fixture(scope="session")
def make_conditions():
    return conditions


@pytest.fixture(scope="session")
def denoise_step():
    """``(denoiser, z, t, conditions) -> v`` for one example, compiled once per session."""
    fn = eqx.filter_jit(lambda dn, z, t, cond: dn(z, t, cond))
    return lambda dn, z, t, cond: np.asarray(fn(dn, z, np.float32(t), cond))


@pytest.fixture(scope="session")
def mini() -> VideoConfig:
    return mini_config()


@pytest.fixture(scope="session")
def renderer(mini) -> VideoRenderer:
    """The seeded, untrained renderer (zero-initialized output: it predicts v = 0)."""
    return VideoRenderer.untrained(mini, seed=0)


@pytest.fixture(scope="session")
def random_renderer(mini) -> VideoRenderer:
    """A renderer whose every weight acts (perturbed), with non-trivial latent statistics."""
    base = VideoRenderer.untrained(mini, seed=1)
    c = mini.autoencoder.latent_channels
    stats = LatentStats(tuple(0.1 * i for i in range(c)), tuple(1.0 + 0.5 * i for i in range(c)))
    return VideoRenderer(mini, base.autoencoder, randomized(base.denoiser, seed=1), stats)


@pytest.fixture(scope="session")
def clips():
    return [toy_clip(i, frames=FRAMES, semantic_size=32, output_size=64) for i in range(4)]
