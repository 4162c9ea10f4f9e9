"""The data flow of DESIGN.md with the built-in plugins: synthesize -> store -> tokenize every
modality -> serialize Table G tasks -> pack -> parse back."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

import archon_framework.cli as cli
from archon_framework import PromptSerializer, load_registry
from archon_paper import archon72
from archon_framework.data import ClipDataset, TaskSampler, TokenCache, needed_keys, pack_examples

BUILTIN = {"script", "description", "speech", "semantic", "image", "identity", "expression", "pose"}


@pytest.fixture(scope="module")
def registry():
    reg = load_registry()
    missing = BUILTIN - set(reg.modalities)
    if missing:
        pytest.fail(f"built-in modalities not installed: {missing}; failures: {reg.failures}")
    return reg


@pytest.fixture(scope="module")
def dataset(registry, tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "data"
    result = CliRunner().invoke(cli.app, ["data", "synth", "--clips", "2", "--seconds", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return ClipDataset(out)


@pytest.mark.slow
def test_synthetic_clips_flow_through_every_tokenizer_into_packed_windows(registry, dataset):
    assert set(dataset.modalities) == BUILTIN | {"video"}  # video is rendered, not tokenized
    layout = registry.layout()
    serializer = PromptSerializer(layout, registry.modalities, registry.text_codec())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        suite = archon72().filter_installed(registry.modalities)
    assert len(suite) == 72
    tokenizers = {m: registry.tokenizer(m) for m in suite.modalities}
    cache = TokenCache.build(dataset, serializer, tokenizers, needed_keys(suite, registry.modalities))
    for (clip, modality, key) in [(0, "speech", "full"), (0, "semantic", "current"), (1, "expression", "past")]:
        ids = cache.get(clip, modality, key)
        rng = layout.range(registry.modality(modality).vocabulary)
        assert ids is not None and np.all(rng.contains(ids))
    assert len(cache.get(0, "speech", "full")) == 100 and len(cache.get(0, "semantic", "full")) == 9 * 64
    sampler = TaskSampler(cache, suite, serializer, seed=0)
    for i in range(8):
        ex = sampler.example(i)
        parsed = serializer.parse(ex.global_ids, ex.prefix_len)
        assert parsed.task == suite.tasks[ex.task_id]
    window = next(iter(pack_examples(sampler.dataset(), seq_len=4096, num_packing_bins=2, too_long="drop")))
    assert window["tokens"].shape == (4096,) and window["loss_mask"].any()
