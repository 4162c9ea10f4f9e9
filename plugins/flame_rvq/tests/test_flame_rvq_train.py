"""Learning tests: the trainer lowers the held-out error and saves a loadable tokenizer."""

from __future__ import annotations

import json

import attrs
import numpy as np
import pytest

from archon_framework import CompileCounter, ConfigError, DataError
from archon_flame_rvq import (
    FlameTokenizer,
    evaluate_tokenizer,
    synthetic_flame_clips,
    train_tokenizer,
)
from archon_flame_rvq._train import learning_rate_at


def test_learning_rate_schedule(tiny_config):
    cfg = tiny_config("pose")
    cfg = attrs.evolve(cfg, train=attrs.evolve(cfg.train, steps=1000))
    lrs = [learning_rate_at(i, 1000, cfg) for i in range(1000)]
    assert lrs[4] == pytest.approx(4e-4)  # warm-up over 0.5% = 5 steps
    assert lrs[0] == pytest.approx(4e-4 / 5)
    assert max(lrs) == pytest.approx(4e-4)
    assert lrs[-1] < 1e-6 and all(b <= a for a, b in zip(lrs[5:], lrs[6:]))


def test_trainer_refuses_sources_without_the_modality(tmp_path, tiny_config):
    bare = [type(c)(c.meta, {"speech": np.zeros(3)}) for c in synthetic_flame_clips(2, seconds=0.5)]
    with pytest.raises(DataError, match="expression"):
        train_tokenizer(tiny_config("expression"), bare, out_dir=tmp_path, steps=1, progress=False)


@pytest.mark.slow
def test_training_beats_the_mean_baseline_on_heldout_clips(tmp_path, tiny_config):
    # Small codebooks and a higher learning rate than the paper's so 100 steps show learning.
    cfg = tiny_config("expression", channels=32, num_levels=4, codebook_size=64,
                      dead_code_threshold=0.05)
    cfg = attrs.evolve(cfg, train=attrs.evolve(cfg.train, learning_rate=2e-3))
    clips = synthetic_flame_clips(10, seconds=2.0, seed=1)
    heldout = [(c.meta, c["expression"]) for c in clips[-1:]]
    with CompileCounter() as compiles:
        report = train_tokenizer(cfg, clips, out_dir=tmp_path, steps=100, seed=0, progress=False)
    assert compiles.count("step") == 1, compiles.by_function  # once for the 100 steps
    assert report["steps"] == 100 and report["heldout_clips"] == 1
    (training,) = report["training"]
    assert training["steps"] == 100 and training["min_steps"] == cfg.train.min_steps and not report["below_min"]
    assert training["compile_s"] > 0 and training["train_s"] > 0
    held = report["heldout"]
    assert held["ratio"] < 0.85, held  # 0.67 when written; the mean baseline is 1.0
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["heldout"] == pytest.approx(held)
    tok = FlameTokenizer.load(tmp_path)
    assert evaluate_tokenizer(tok, heldout)["mse"] == pytest.approx(held["mse"], rel=1e-4)


def test_trainer_options_set_the_codebook_size_and_refuse_anything_else(tiny_config):
    from archon_flame_rvq._plugin import with_options

    cfg = tiny_config("expression")
    small = with_options(cfg, {"codebook_size": 16})
    assert small.model.codebook_size == 16 and small.model.num_levels == cfg.model.num_levels
    assert small.model.vocabulary_size == cfg.model.num_levels * 16
    assert with_options(cfg, None) == cfg and with_options(cfg, {}) == cfg
    with pytest.raises(ConfigError, match="expression tokenizer: unknown trainer option.*num_levels"):
        with_options(cfg, {"num_levels": 2})
    for bad in (1, 2.5, True, "64"):
        with pytest.raises(ConfigError, match="codebook_size must be an int >= 2"):
            with_options(cfg, {"codebook_size": bad})


def test_the_plugin_trainer_trains_with_a_smaller_codebook(tmp_path, tiny_config, monkeypatch):
    from archon_flame_rvq import _plugin

    monkeypatch.setattr(_plugin, "train_tokenizer",
                        lambda config, source, **kw: {"codebook_size": config.model.codebook_size})
    train = _plugin._trainer("pose", tiny_config("pose"))
    assert train([], out_dir=tmp_path, options={"codebook_size": 8}) == {"codebook_size": 8}
    assert train([], out_dir=tmp_path) == {"codebook_size": tiny_config("pose").model.codebook_size}
