"""Generated clips satisfy the raw-value contracts of every installed modality plugin."""

from __future__ import annotations

import pytest

from archon_framework.testing import check_modality, make_registry
from archon_synthetic_heads import generate_clip


@pytest.fixture(scope="module")
def registry():
    return make_registry(entry_points=True)


def test_datasets_are_registered_through_the_entry_point(registry):
    assert {"synthetic_heads", "synthetic_heads_validation", "synthetic_heads_test"} <= set(registry.datasets)


@pytest.mark.parametrize("seconds", [0.4, 1.0])
def test_clip_values_pass_each_installed_modality(registry, seconds):
    clip = registry.datasets["synthetic_heads"].generate(2, seed=9, seconds=seconds)
    checked = []
    for name, modality in registry.modalities.items():
        if name in clip:
            check_modality(modality, meta=clip.meta, raw=clip[name])
            checked.append(name)
    assert checked, "no modality plugin that this dataset feeds is installed"
    assert clip.meta == generate_clip(2, seed=9, seconds=seconds).meta
