"""Shipped weights: a manifest of sha256 hashes that is checked before anything loads."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework import CheckpointError
from archon_framework._weights import WEIGHTS_MANIFEST, verify_weights, write_weights_manifest


def _folder(tmp_path):
    (tmp_path / "speech").mkdir(parents=True)
    (tmp_path / "speech" / "codec.eqx").write_bytes(b"\x00\x01weights" * 100)
    (tmp_path / "lm.safetensors").write_bytes(b"tensors" * 50)
    write_weights_manifest(tmp_path, ["speech/codec.eqx", "lm.safetensors"], recipe="cpu-reference",
                           command="archon pretrain --recipe cpu-reference", commit="abc123")
    return tmp_path


def test_a_manifest_round_trips_with_its_provenance(tmp_path):
    record = verify_weights(_folder(tmp_path))
    assert record["recipe"] == "cpu-reference" and record["commit"] == "abc123"
    assert set(record["files"]) == {"speech/codec.eqx", "lm.safetensors"}
    assert record["files"]["lm.safetensors"]["bytes"] == 350


@settings(max_examples=15, deadline=None)
@given(offset=st.integers(0, 899), value=st.integers(0, 255))
def test_any_changed_byte_is_refused_naming_the_file(tmp_path_factory, offset, value):
    root = _folder(tmp_path_factory.mktemp("w"))
    f = root / "speech" / "codec.eqx"
    data = bytearray(f.read_bytes())
    if data[offset] == value:
        value = (value + 1) % 256
    data[offset] = value
    f.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"codec\.eqx: sha256 .* does not match"):
        verify_weights(root)


def test_missing_unlisted_and_absent_manifests_are_refused(tmp_path):
    root = _folder(tmp_path / "a")
    (root / "lm.safetensors").unlink()
    with pytest.raises(CheckpointError, match="lm.safetensors: listed .* but missing"):
        verify_weights(root)
    root = _folder(tmp_path / "b")
    (root / "extra.bin").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="not listed .*extra.bin"):
        verify_weights(root)
    root = _folder(tmp_path / "c")
    (root / WEIGHTS_MANIFEST).unlink()
    with pytest.raises(CheckpointError, match="no weights manifest"):
        verify_weights(root)
    root = _folder(tmp_path / "d")
    (root / WEIGHTS_MANIFEST).write_text(json.dumps({"format": 1, "files": {}}))
    with pytest.raises(CheckpointError, match="format-1 weights manifest"):
        verify_weights(root)
    with pytest.raises(CheckpointError, match="not inside the weights folder"):
        write_weights_manifest(tmp_path / "d", [tmp_path / "a" / "speech" / "codec.eqx"], recipe="r", command="c", commit=None)
