"""`model.loss = "level"`: a residual level's target takes its softmax over its own codebook block.

Decoding draws each position of an RVQ modality from its level's block only
(`BlockedTokenizer.token_ranges`); the "level" loss trains the distribution decoding samples,
so the model spends nothing on learning which level comes next.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from archon_framework import ConfigError
from archon_framework.infer._demo import DemoConfig
from archon_framework.train import DataConfig, ModelSection, OptimConfig, TrainConfig, Trainer
from archon_framework.train._step import _range_features, batch_losses, level_ranges

from test_examples import clips
from test_train_logging import CODES, LEVELS, registry  # noqa: F401  (the module's registry fixture)


def _trainer(out, registry, loss: str, steps: int = 3) -> Trainer:  # noqa: F811
    cfg = TrainConfig(out_dir=str(out), steps=steps, log_every=1, optim=OptimConfig(peak_lr=3e-3),
                      model=ModelSection(loss=loss),
                      data=DataConfig(suite="rvq", seq_len=512, batch_size=2, packing_bins=2))
    return Trainer(cfg, registry, clips=clips(6), progress=False)


@pytest.fixture(scope="module")
def level_run(tmp_path_factory, registry):  # noqa: F811
    out = tmp_path_factory.mktemp("level-run")
    trainer = _trainer(out, registry, "level")
    trainer.train()
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return trainer, records


def test_each_level_is_a_range_of_its_own(level_run):
    trainer, _ = level_run
    start = trainer.layout.range("speech").start
    assert level_ranges(trainer.levels) == tuple((start + k * CODES, CODES) for k in range(LEVELS))


def test_speech_targets_get_their_level_block_and_others_their_modality_range(level_run):
    trainer, _ = level_run
    batch = trainer._put_batch(next(iter(trainer.batches())))
    features = _range_features(batch, trainer.modality_ranges, trainer.levels)
    ranges, range_ids = features["vocab_ranges"], np.asarray(features["range_ids"])
    tokens, mods = np.asarray(batch["tokens"]), np.asarray(batch["modality_ids"])
    speech = trainer.sampler.modality_names.index("speech")
    checked = 0
    for t, m, r in zip(tokens.ravel(), mods.ravel(), range_ids.ravel()):
        if m < 0:
            assert r == -1
            continue
        lo, size = ranges[r]
        assert lo <= t < lo + size  # every token's range holds it
        if m == speech:
            assert size == CODES
            checked += 1
        else:
            assert (lo, size) == trainer.modality_ranges[m]
    assert checked


def test_the_level_loss_is_the_range_loss_renormalized_over_the_level(level_run):
    trainer, _ = level_run
    _, model = trainer.latest_model()
    batch = trainer._put_batch(next(iter(trainer.batches())))
    ranged = batch_losses(model, batch, trainer.modality_ranges, 64)
    leveled = batch_losses(model, batch, trainer.modality_ranges, 64, trainer.levels)
    mask = np.asarray(ranged.mask)
    target_mods = np.asarray(batch["modality_ids"])  # entry i of the losses belongs to token i
    speech = trainer.sampler.modality_names.index("speech")
    on_speech = mask & (target_mods == speech)
    assert on_speech.any() and (mask & ~on_speech).any()
    r, lv = np.asarray(ranged.ce), np.asarray(leveled.ce)
    np.testing.assert_allclose(lv[mask & ~on_speech], r[mask & ~on_speech], rtol=1e-5, atol=1e-5)
    assert np.all(lv[on_speech] <= r[on_speech] + 1e-5)  # a softmax over a subset of the range
    assert np.all(lv[on_speech] >= 0)


def test_a_level_run_logs_finite_losses(level_run):
    _, records = level_run
    assert [r["step"] for r in records] == [1, 2, 3]
    assert all(math.isfinite(r["loss"]) for r in records)


def test_the_demo_refuses_an_unknown_loss():
    with pytest.raises(ConfigError, match="lm_loss must be 'range', 'level' or 'full'"):
        DemoConfig(lm_loss="levels")
