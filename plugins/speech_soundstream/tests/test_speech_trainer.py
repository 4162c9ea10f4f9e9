"""The codec trainer compiles its update once for a whole run, the discriminator's start included,
and reports compile and training time apart, with the minimum step count."""

from __future__ import annotations

import attrs
import numpy as np
import pytest
from archon_framework import CompileCounter
from archon_framework.train import UndertrainedWarning
from archon_speech_soundstream import SoundStreamTrainer, shipped_config, synthetic_speech


def test_one_compilation_over_a_run_in_which_the_discriminator_joins():
    base = shipped_config("tiny")
    cfg = attrs.evolve(
        base,
        # Two STFT scales and a two-block discriminator: the tiny topology, cheaper to compile.
        loss=attrs.evolve(base.loss, adversarial_start=2, mel_scales=(256, 512)),  # the discriminator joins at step 2
        discriminator=attrs.evolve(base.discriminator, strides=((1, 2), (2, 2)), channel_mults=(1, 2)),
        train=attrs.evolve(base.train, batch_size=2, segment_samples=1280, min_steps=50),
    )
    trainer = SoundStreamTrainer(cfg, seed=0)
    waves = [synthetic_speech(0.5, seed=s) for s in (1, 2)]
    rng = np.random.default_rng(0)
    with CompileCounter() as first:
        history = [trainer.train_step(rng.standard_normal((2, 1280)).astype(np.float32) * 0.1)]
    assert first.count("step") == 1, first.by_function
    with CompileCounter() as later:
        history += [trainer.train_step(rng.standard_normal((2, 1280)).astype(np.float32) * 0.1) for _ in range(4)]
    assert later.total == 0, f"recompiled after the first step: {dict(later.by_function)}"
    assert "disc" not in history[1] and {"adv", "feat", "disc"} <= set(history[2])
    assert all(np.isfinite(v) for h in history for v in h.values())
    disc_before = trainer.disc

    # A time budget far below one step: the first step is still taken (the budget starts after
    # it) and the run is flagged, loudly, as below its minimum.
    with pytest.warns(UndertrainedWarning, match="speech codec: .* BELOW THE MINIMUM of 50 steps"):
        trainer.fit(waves, seconds=1e-6, progress=False)
    report = trainer.train_report
    assert report.steps == 1 and report.below_min and report.min_steps == 50
    assert report.compiles == 0 and report.compile_s == 0.0  # already compiled: nothing to take off
    assert trainer.step == 6 and trainer.disc is not disc_before  # the discriminator kept learning


def test_a_recipe_chooses_a_shipped_config_by_name_and_nothing_else():
    from archon_framework import ConfigError
    from archon_speech_soundstream._trainer import with_options

    tiny = shipped_config("tiny")
    assert with_options(tiny, None) is tiny and with_options(tiny, {}) is tiny
    small = with_options(tiny, {"config": "small"})
    assert small == shipped_config("small") and small.codec.channels == 4 * tiny.codec.channels
    with pytest.raises(ConfigError, match=r"speech tokenizer: unknown trainer option\(s\) channels \(it takes: config\)"):
        with_options(tiny, {"config": "small", "channels": 8})
    with pytest.raises(ConfigError, match="option config must be one of tiny, small, paper, got 'huge'"):
        with_options(tiny, {"config": "huge"})
    narrow = attrs.evolve(tiny, tokens=attrs.evolve(tiny.tokens, levels=2))  # a vocabulary the shipped ones lack
    with pytest.raises(ConfigError, match=r"config 'small' has 4 x 1024 tokens, the modality's vocabulary 2 x 1024"):
        with_options(narrow, {"config": "small"})
