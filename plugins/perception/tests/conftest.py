"""Shared fixtures of the perception tests: one real synthetic talking-head clip, made once."""

from __future__ import annotations

import pytest

from archon_synthetic_heads import generate_clip


@pytest.fixture(scope="session")
def clip():
    """A 2-second held-out clip with RGB video and espeak speech ("It only takes five minutes.")."""
    return generate_clip(2, seed=7, seconds=2.0, split="test")
