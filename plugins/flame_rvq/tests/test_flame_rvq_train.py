"""Learning tests: the trainer lowers the held-out error and saves a loadable tokenizer."""

from __future__ import annotations

import json

import attrs
import numpy as np
import pytest

from archon_framework import CompileCounter, DataError
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
