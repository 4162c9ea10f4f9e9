"""The unified vocabulary follows the tokenizers' configs (Modality.vocabulary_for, Registry.for_artifacts)."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

from archon_framework import ConfigError, LayoutMismatchError, Vocabulary
from archon_framework.testing import make_registry

from core_toys import ArrayTokenizer, ToyPlugin, array_modality


def sized_modality(name: str, default: int, *, vocabulary: str | None = None):
    """A toy modality whose tokenizer in `artifact_dir` has the size its `size.json` says."""
    vocab_name = vocabulary or name

    def size_of(path: Path | None) -> int:
        return default if path is None else json.loads((Path(path) / "size.json").read_text())["size"]

    base = array_modality(name, default)
    return attrs.evolve(
        base, vocabulary=Vocabulary(vocab_name, default),
        tokenizer=lambda path: ArrayTokenizer(Vocabulary(vocab_name, size_of(path))),
        vocabulary_for=lambda path: Vocabulary(vocab_name, size_of(path)),
    )


def artifacts(tmp_path: Path, **sizes: int) -> Path:
    for name, size in sizes.items():
        (tmp_path / name).mkdir(parents=True)
        (tmp_path / name / "size.json").write_text(json.dumps({"size": size}))
    return tmp_path


def test_the_layout_holds_only_the_ids_the_trained_tokenizers_emit(tmp_path):
    reg = make_registry(("toy", ToyPlugin(sized_modality("image", 2**18), array_modality("speech", 64))))
    assert reg.layout().range("image").size == 2**18
    sized = reg.for_artifacts(artifacts(tmp_path, image=4096))
    assert sized.modality("image").vocabulary == Vocabulary("image", 4096)
    assert sized.layout().total_size == 4096 + 64
    assert sized.tokenizer("image", tmp_path).vocabulary.size == 4096
    assert reg.for_artifacts(None) is reg
    assert reg.for_artifacts(tmp_path / "elsewhere").layout() == reg.layout()  # nothing trained there: defaults


def test_a_checkpoint_of_other_tokenizer_sizes_is_refused_naming_the_vocabulary_and_both_sizes(tmp_path):
    reg = make_registry(("toy", ToyPlugin(sized_modality("image", 2**18), array_modality("speech", 64))))
    trained = reg.for_artifacts(artifacts(tmp_path / "small", image=4096)).layout()
    with pytest.raises(LayoutMismatchError, match=r"'image' has size 4096 in the layout but 262144 installed"):
        reg.layout(trained)
    assert reg.for_artifacts(tmp_path / "small").layout(trained) == trained


def test_a_tokenizer_whose_size_the_registry_does_not_know_is_refused(tmp_path):
    reg = make_registry(("toy", ToyPlugin(sized_modality("image", 2**18))))
    arts = artifacts(tmp_path, image=4096)
    with pytest.raises(ConfigError, match=r"'image'.*4096 ids.*262144.*for_artifacts"):
        reg.tokenizer("image", arts)


def test_modalities_sharing_a_vocabulary_must_agree_on_its_size(tmp_path):
    reg = make_registry(("toy", ToyPlugin(sized_modality("script", 100, vocabulary="words"),
                                          sized_modality("description", 100, vocabulary="words"))))
    with pytest.raises(ConfigError, match=r"'words' has \d+ ids for modality '\w+' but \d+ for '\w+'"):
        reg.for_artifacts(artifacts(tmp_path, script=120, description=100))
    assert reg.for_artifacts(artifacts(tmp_path / "same", script=120, description=120)).layout().total_size == 120
