"""Shared fixtures of the flame_rvq tests: tiny tokenizers built once per session."""

from __future__ import annotations

import attrs
import pytest

from archon_flame_rvq import FlameTokenizer, FlameTokenizerConfig, shipped_config


def _tiny_config(modality: str, **model) -> FlameTokenizerConfig:
    """The shipped ``small`` config shrunk to F = 16, D = 8 (paper codebooks kept)."""
    cfg = shipped_config("small", modality)
    model = {"channels": 16, "latent_dim": 8, **model}
    return attrs.evolve(cfg, model=attrs.evolve(cfg.model, **model),
                        train=attrs.evolve(cfg.train, batch_size=8, window_frames=16))


@pytest.fixture(scope="session")
def tiny_config():
    """``tiny_config(modality, **model_overrides) -> FlameTokenizerConfig``."""
    return _tiny_config


@pytest.fixture(scope="session")
def tiny_tokenizers() -> dict[str, FlameTokenizer]:
    return {m: FlameTokenizer.untrained(_tiny_config(m), seed=3) for m in ("identity", "expression", "pose")}
