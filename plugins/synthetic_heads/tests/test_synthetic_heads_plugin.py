"""The dataset plugin: hook registration and the DatasetSpec contract."""

from __future__ import annotations

import numpy as np

from archon_framework import DatasetSpec
from archon_synthetic_heads._plugin import MODALITIES, archon_datasets


def test_hook_returns_the_three_splits_and_the_mixed_training_set():
    specs = archon_datasets()
    assert [s.name for s in specs] == ["synthetic_heads", "synthetic_heads_validation", "synthetic_heads_test",
                                       "synthetic_heads_mixed"]
    assert all(isinstance(s, DatasetSpec) and s.default_seconds == 2.0 for s in specs)


def test_spec_generate_matches_its_declared_modalities():
    for spec in archon_datasets():
        clip = spec.generate(0, seed=4, seconds=0.2)
        assert set(clip) == set(spec.modalities) == set(MODALITIES)
        assert clip.meta.frames == 6 and clip.meta.samples == 3200
        if spec.name == "synthetic_heads_mixed":  # clip 1 unrendered: a subset of what it declares
            assert set(spec.generate(1, seed=4, seconds=0.2)) == set(MODALITIES) - {"semantic", "image", "video"}
    a = archon_datasets()[0].generate(1, seed=4, seconds=0.2)
    b = archon_datasets()[2].generate(1, seed=4, seconds=0.2)
    assert "/train/" in a.clip_id and "/test/" in b.clip_id
    assert not np.array_equal(a["identity"], b["identity"])
