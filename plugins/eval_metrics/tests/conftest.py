"""Shared fixtures of the eval_metrics tests: real synthetic talking-head clips, made once."""

from __future__ import annotations

import pytest

from archon_synthetic_heads import SynthConfig, generate_clip


@pytest.fixture(scope="session")
def talking_clip():
    """A 3-second held-out clip without RGB video (speech, semantic, animation, description)."""
    return generate_clip(0, seed=5, seconds=3.0, split="test", config=SynthConfig(with_video=False))


@pytest.fixture(scope="session")
def video_clips():
    """Two 1-second held-out clips of different people, with RGB video."""
    return [generate_clip(i, seed=7, seconds=1.0, split="test") for i in range(2)]
