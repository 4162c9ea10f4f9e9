"""A run that starts from another model's tokenizers (`DemoConfig.tokenizers_from`, `archon
pretrain --tokenizers-from`): they are verified, copied with their marks and not trained again;
what that model lacks, or what tokenizer_options changes, is trained; a changed file is refused."""

from __future__ import annotations

import json

import pytest

from archon_framework import CheckpointError, ConfigError
from archon_framework._weights import write_weights_manifest
from test_demo_tokenizer_options import _registry, _run


def _model(root):
    """An exported model's folder with a trained `script` tokenizer and its manifest."""
    folder = root / "tokenizers" / "script"
    folder.mkdir(parents=True)
    (folder / "model.bin").write_bytes(b"trained weights")
    (folder / "report.json").write_text(json.dumps({"steps": 7, "training": [
        {"stage": "script", "steps": 7, "min_steps": 5, "compile_s": 1.0, "train_s": 2.0, "below_min": False}]}))
    write_weights_manifest(folder, ["model.bin", "report.json"], recipe="r", command="c", commit=None)
    (root / "model.json").write_text(json.dumps({"name": "m", "commit": "abc123"}))
    return root


def test_the_models_tokenizers_are_copied_with_their_origin_and_not_trained(tmp_path):
    calls: list = []
    source = _model(tmp_path / "model")
    demo = _run(tmp_path / "run", _registry(calls), tokenizers_from=source)
    assert calls == []
    copied = tmp_path / "run" / "tokenizers" / "script"
    assert (copied / "model.bin").read_bytes() == b"trained weights" and not copied.is_symlink()
    mark = json.loads((tmp_path / "run" / "tokenizers" / "script.json").read_text())
    assert mark["from"] == {"model": str(source), "commit": "abc123"} and mark["options"] == {}
    (row,) = [s for s in demo.stages if s["stage"].startswith("script")]
    assert row["steps"] == 7 and f"trained by {source}" in row["note"]
    _run(tmp_path / "run", _registry(calls), tokenizers_from=source)  # resumed: the mark is kept, nothing copied or trained
    assert calls == []
    # another training seed trains the LM again, not a copied tokenizer: its seed is its model's
    _run(tmp_path / "run", _registry(calls), tokenizers_from=source, train_seed=4)
    assert calls == []


def test_what_the_options_change_or_the_model_lacks_is_trained(tmp_path):
    calls: list = []
    demo = _run(tmp_path / "run", _registry(calls), tokenizers_from=_model(tmp_path / "model"), codebook_size=8)
    assert calls == [{"codebook_size": 8}]
    assert any("tokenizer_options given" in n for n in demo.notes)
    lacking = tmp_path / "empty"
    (lacking / "tokenizers").mkdir(parents=True)
    demo = _run(tmp_path / "run2", _registry(calls), tokenizers_from=lacking)
    assert calls[-1] == {} and any("has none, trained here" in n for n in demo.notes)


def test_a_changed_file_or_a_folder_without_tokenizers_is_refused(tmp_path):
    source = _model(tmp_path / "model")
    (source / "tokenizers" / "script" / "model.bin").write_bytes(b"tampered weights")
    calls: list = []
    with pytest.raises(CheckpointError, match="model.bin"):
        _run(tmp_path / "run", _registry(calls), tokenizers_from=source)
    assert calls == [] and not (tmp_path / "run" / "tokenizers" / "script").exists()
    with pytest.raises(ConfigError, match="has no tokenizers/ folder"):
        _run(tmp_path / "run", _registry(calls), tokenizers_from=tmp_path / "nowhere")
