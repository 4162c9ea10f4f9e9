"""Shared fixtures of the core tests."""

from __future__ import annotations

import jax
import pytest

from archon_framework import ClipMeta
from archon_framework.testing import ByteTextTokenizer, make_registry
from core_toys import ToyPlugin, array_modality


#: The test modules of the core's array code (the prefix LM, its heads, decoding and loss, and the
#: nn layers; the train step through test_model_factorized), which run on toy modalities only.
#: TODO issue 24: the train tests next (not yet run under strict promotion; optim and packing pass);
#: tests that drive the built-in plugins' tokenizers and metrics run as those plugins' tests do.
STRICT_PROMOTION_MODULES = tuple(f"test_{name}.py" for name in (
    "model_config", "model_decode", "model_factorized", "model_head", "model_mask", "model_prefix_lm",
    "nn_conv1d", "nn_conv3d", "nn_rvq", "optim", "packing"))


@pytest.fixture(autouse=True)
def _strict_promotion(request):
    """The core's array tests run as equinox's do: no implicit rank or dtype promotion.

    An array of another rank or dtype that meets one in an operation raises instead of being
    broadcast or promoted silently; Python scalars still combine with any array (weak types).
    """
    if request.path.name not in STRICT_PROMOTION_MODULES:
        yield
        return
    with jax.numpy_rank_promotion("raise"), jax.numpy_dtype_promotion("strict"):
        yield


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
