"""Learning test: a few dozen steps of the full SoundStream objective lower the reconstruction loss."""

from __future__ import annotations

import json

import attrs
import numpy as np
import pytest
from archon_framework import Clip, ClipMeta, DataError
from archon_speech_soundstream import SoundStreamTrainer, make_tokenizer, shipped_config, synthetic_speech


def _clips(n: int, seconds: float) -> list[Clip]:
    return [
        Clip(
            ClipMeta(clip_id=f"c{i}", duration=seconds, frame_rate=30.0, sample_rate=16_000),
            {"speech": synthetic_speech(seconds, seed=100 + i)},
        )
        for i in range(n)
    ]


@pytest.mark.slow
def test_training_lowers_reconstruction_loss(tmp_path):
    base = shipped_config("tiny")
    cfg = attrs.evolve(
        base,
        # Reconstruction + commitment only: the adversarial step doubles the compile time; it is
        # exercised by benchmarks/speech_train_mcd.py (tiny.toml starts it at step 200).
        loss=attrs.evolve(base.loss, adversarial_start=10**9),
        train=attrs.evolve(base.train, batch_size=4, segment_samples=3200, checkpoint_every=20),
    )
    trainer = SoundStreamTrainer(cfg, seed=0)
    history = trainer.fit(_clips(4, 2.0), out_dir=tmp_path, steps=60, progress=False)
    mel = np.array([h["mel"] for h in history])
    assert len(history) == 60 and np.all(np.isfinite(mel))
    assert "disc" not in history[0]
    assert mel[-8:].mean() < 0.85 * mel[:8].mean(), mel
    # The checkpoint is the tokenizer's artifact.
    assert json.loads((tmp_path / "train_state.json").read_text())["step"] == 60
    tok = make_tokenizer(tmp_path)
    wave = synthetic_speech(0.2, seed=1)
    meta = ClipMeta(clip_id="x", duration=0.2, frame_rate=30.0, sample_rate=16_000)
    assert tok.encode(wave, meta=meta).shape == (20,)


def test_trainer_refuses_bad_sources(tmp_path):
    trainer = SoundStreamTrainer(shipped_config("tiny"))
    with pytest.raises(DataError, match="no clips"):
        trainer.fit([], out_dir=tmp_path, steps=1, progress=False)
    meta = ClipMeta(clip_id="noaudio", duration=1.0, frame_rate=30.0, sample_rate=16_000)
    with pytest.raises(DataError, match="noaudio"):
        trainer.fit([Clip(meta, {"script": "hi"})], out_dir=tmp_path, steps=1, progress=False)
