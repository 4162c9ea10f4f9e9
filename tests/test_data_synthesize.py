"""`archon_framework.data.synthesize`: a dataset plugin's clips written to disk, the library
function under both `archon data synth` and the demo."""

from __future__ import annotations

import numpy as np
import pytest

from archon_framework import PluginError, RawValueError
from archon_framework.data import ClipDataset, synthesize
from archon_framework.testing import make_registry

from core_toys import ToyPlugin, array_modality
from test_data_store import ToyDataset


@pytest.fixture()
def registry():
    return make_registry(("toy", ToyPlugin(array_modality("speech", 16))), ("toyds", ToyDataset()), with_byte_text=True)


def test_clips_are_deterministic_in_seed_and_index_and_a_resume_continues_them(registry, tmp_path):
    notes, seen = [], []
    length = synthesize(registry, tmp_path / "a", dataset="toy", clips=3, seed=4, on_clip=seen.append, on_note=notes.append)
    assert length == 0.5 and len(seen) == 3 and not notes
    synthesize(registry, tmp_path / "b", dataset="toy", clips=1, seed=4)
    synthesize(registry, tmp_path / "b", dataset="toy", clips=3, seed=4, resume=True)
    a, b = ClipDataset(tmp_path / "a"), ClipDataset(tmp_path / "b")
    assert len(a) == len(b) == 3
    for i in range(3):
        assert a[i].clip_id == b[i].clip_id and a[i]["script"] == b[i]["script"]
        np.testing.assert_array_equal(a[i]["speech"], b[i]["speech"])


def test_values_of_modalities_not_installed_are_left_out_with_a_note_or_refused(tmp_path):
    bare = make_registry(("toy", ToyPlugin(array_modality("speech", 16))), ("toyds", ToyDataset()))
    notes: list[str] = []
    synthesize(bare, tmp_path / "a", dataset="toy", clips=1, on_note=notes.append)
    assert notes == ["not installed, so not stored: script"] and set(ClipDataset(tmp_path / "a")[0]) == {"speech"}
    with pytest.raises(RawValueError, match="modality 'script', which is not installed"):
        synthesize(bare, tmp_path / "b", dataset="toy", clips=1, strict=True)


def test_an_unknown_dataset_is_named_with_what_is_installed(registry, tmp_path):
    with pytest.raises(PluginError, match=r"dataset 'nope' is not installed \(installed: toy\)"):
        synthesize(registry, tmp_path / "x", dataset="nope", clips=1)
    assert not (tmp_path / "x").exists()
