"""Shared fixtures of the core tests."""

from __future__ import annotations

import pytest

from archon_framework import ClipMeta
from archon_framework.testing import ByteTextTokenizer, make_registry
from core_toys import ToyPlugin, array_modality


@pytest.fixture(scope="session")
def meta() -> ClipMeta:
    return ClipMeta(clip_id="c0", duration=0.4, frame_rate=10, sample_rate=100)


@pytest.fixture(scope="session")
def toy_registry():
    plugin = ToyPlugin(
        array_modality("speech", 16, phrase="speech audio"),
        array_modality("expression", 32, phrase="facial expression"),
        array_modality("image", 64, temporal=False, phrase="reference image"),
    )
    return make_registry(("toy", plugin), with_byte_text=True)


@pytest.fixture(scope="session")
def byte_codec() -> ByteTextTokenizer:
    return ByteTextTokenizer()
