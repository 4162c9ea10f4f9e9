"""Tests of the prefix-LM configs: the shipped TOML files and bad input."""

from __future__ import annotations

import pytest

from archon_framework._errors import ConfigError
from archon_framework.model import PrefixLMConfig, load_model_config, shipped_model_configs


def test_every_shipped_config_loads():
    assert set(shipped_model_configs()) >= {"tiny", "small", "paper_1b"}
    for name in shipped_model_configs():
        config = load_model_config(name)
        assert isinstance(config, PrefixLMConfig)
        assert config.d_model % config.n_heads == 0


def test_paper_config_is_the_papers_lm():
    paper = load_model_config("paper_1b")
    # Paper Sec. 3.2 / 4.1: 8K context, ~550K vocabulary; PaLM recipe: MQA, parallel block, z-loss.
    assert paper.max_seq_len == 8192
    assert paper.vocab_size >= 518_272
    assert paper.n_kv_heads == 1 and paper.parallel_block and paper.z_loss == 1e-4
    assert 0.8e9 < paper.non_embedding_params < 1.2e9


def test_unknown_key_names_key_and_file(tmp_path):
    path = tmp_path / "model.toml"
    path.write_text(
        "[model]\nvocab_size = 10\nd_model = 8\nn_layers = 1\nn_heads = 2\nd_ff = 16\nd_modle = 3\n"
    )
    with pytest.raises(ConfigError) as info:
        load_model_config(path)
    assert "d_modle" in str(info.value) and str(path) in str(info.value)


def test_invalid_values_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="n_kv_heads"):
        PrefixLMConfig(vocab_size=10, d_model=8, n_layers=1, n_heads=2, n_kv_heads=3, d_ff=8)
    with pytest.raises(ConfigError, match="d_model"):
        PrefixLMConfig(vocab_size=10, d_model=9, n_layers=1, n_heads=2, d_ff=8)
    with pytest.raises(ConfigError, match="vocab_size"):
        PrefixLMConfig(vocab_size=0, d_model=8, n_layers=1, n_heads=2, d_ff=8)
    path = tmp_path / "bad.toml"
    path.write_text("[model]\nvocab_size = 'many'\n")
    with pytest.raises(ConfigError, match=str(path)):
        load_model_config(path)
    with pytest.raises(ConfigError, match="shipped"):
        load_model_config("no_such_config")


def test_parameter_count_matches_the_model():
    import jax

    from archon_framework.model import PrefixLM

    for config in (
        load_model_config("tiny"),
        load_model_config("tiny").replace(parallel_block=False, n_kv_heads=2),
    ):
        model = jax.eval_shape(lambda: PrefixLM(config, key=jax.random.key(0)))  # noqa: B023 (traced at once)
        total = sum(x.size for x in jax.tree.leaves(model))
        assert total == config.non_embedding_params + config.vocab_size * config.d_model
    tiny = load_model_config("tiny")
    assert tiny.training_flops_per_token(256) == 6 * (
        tiny.non_embedding_params + tiny.vocab_size * tiny.d_model
    ) + 12 * tiny.n_layers * 256 * tiny.d_model
