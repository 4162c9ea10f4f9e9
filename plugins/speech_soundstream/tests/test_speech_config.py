"""Shipped configs load, and invalid configs are refused by name."""

from __future__ import annotations

import math
import warnings

import attrs
import equinox as eqx
import jax
import numpy as np
import pytest
from archon_framework import ConfigError
from archon_speech_soundstream import (
    HOP_LENGTH,
    CodecConfig,
    SoundStreamConfig,
    SoundStreamTrainer,
    TokenConfig,
    TrainConfig,
    expected_code_counts,
    init_codec,
    load_soundstream_config,
    lr_schedule,
    shipped_config,
)


@pytest.mark.parametrize("name", ["tiny", "small", "paper"])
def test_shipped_configs_load(name):
    cfg = shipped_config(name)
    assert math.prod(cfg.codec.strides) == HOP_LENGTH == 640
    assert cfg.codec.levels == 8 and cfg.codec.codebook_size == 1024
    assert cfg.tokens.levels == 4 and cfg.tokens.order == "frame" and cfg.vocab_size == 4096
    assert cfg.codec.dilations == (1, 3, 9)
    assert SoundStreamConfig.from_dict(cfg.to_dict()) == cfg


def test_paper_config_is_soundstream_scale():
    cfg = shipped_config("paper")
    assert cfg.codec.channels == 32 and cfg.codec.channel_mults == (2, 4, 8, 16)
    assert cfg.codec.strides == (4, 4, 5, 8)
    assert cfg.discriminator.n_fft == 1024 and cfg.discriminator.hop == 256
    assert cfg.loss.mel_scales == (64, 128, 256, 512, 1024, 2048) and cfg.loss.feature_weight == 100.0


def test_bad_configs_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="640"):
        CodecConfig(strides=(2, 4, 5, 8))
    with pytest.raises(ConfigError, match="one entry per encoder block"):
        CodecConfig(channel_mults=(2, 4))
    with pytest.raises(ConfigError, match="bias_init"):
        CodecConfig(bias_init="normal")
    with pytest.raises(ConfigError, match="upsample_init"):
        CodecConfig(upsample_init="bilinear")
    with pytest.raises(ConfigError, match="multiple of 640"):
        TrainConfig(segment_samples=1000)
    with pytest.raises(ConfigError, match="warmup_steps"):
        TrainConfig(warmup_steps=-1)
    for bad in (0.0, 1.5):
        with pytest.raises(ConfigError, match="final_lr_fraction"):
            TrainConfig(final_lr_fraction=bad)
    with pytest.raises(ConfigError, match="exceeds"):
        SoundStreamConfig(tokens=TokenConfig(levels=9))
    with pytest.raises(ValueError):
        TokenConfig(order="time")
    path = tmp_path / "c.toml"
    path.write_text("[codec]\nchanels = 4\n")
    with pytest.raises(ConfigError, match="chanels"):
        load_soundstream_config(path)
    with pytest.raises(ConfigError, match="huge"):
        shipped_config("huge")


def test_expected_code_counts_follow_batch_and_dropout():
    cfg = shipped_config("tiny")
    counts = expected_code_counts(cfg)
    frames = cfg.train.batch_size * cfg.train.segment_samples / HOP_LENGTH
    # Level 1 sees every frame; under full quantizer dropout level 8 sees one example in eight.
    assert counts[0] == pytest.approx(frames / 1024)
    assert counts[-1] == pytest.approx(frames / 8 / 1024)
    assert list(counts) == sorted(counts, reverse=True)
    no_dropout = attrs.evolve(cfg, codec=attrs.evolve(cfg.codec, quantizer_dropout=0.0))
    assert expected_code_counts(no_dropout) == pytest.approx([frames / 1024] * 8)


@pytest.mark.parametrize("name", ["tiny", "small", "paper"])
def test_shipped_dead_code_thresholds_leave_live_codes_alone(name):
    cfg = shipped_config(name)
    assert 0 < cfg.codec.dead_code_threshold <= 0.5 * expected_code_counts(cfg).min()


def test_trainer_warns_when_dead_code_threshold_would_churn_the_codebook():
    cfg = shipped_config("tiny")
    # 40 frames a step over 1024 codes: an evenly used code's EMA count settles near 0.04, so a
    # threshold of 0.5 would replace almost every code at every step.
    bad = attrs.evolve(cfg, codec=attrs.evolve(cfg.codec, dead_code_threshold=0.5))
    # The warning comes before the model is built: as an error it stops the constructor there.
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        with pytest.raises(UserWarning, match="dead_code_threshold"):
            SoundStreamTrainer(bad)


def test_learning_rate_schedule_warms_up_then_decays_to_the_final_fraction():
    sched = lr_schedule(1e-3, warmup_steps=10, final_fraction=0.05, steps=100)
    assert float(sched(0)) == 0.0 and float(sched(10)) == pytest.approx(1e-3)
    rates = [float(sched(i)) for i in range(10, 101)]
    assert rates == sorted(rates, reverse=True) and rates[-1] == pytest.approx(5e-5)
    constant = lr_schedule(1e-3, warmup_steps=0, final_fraction=1.0, steps=100)
    assert float(constant(0)) == float(constant(10**6)) == pytest.approx(1e-3)
    warm = lr_schedule(1e-3, warmup_steps=4, final_fraction=1.0, steps=100)
    assert float(warm(2)) == pytest.approx(5e-4) and float(warm(500)) == pytest.approx(1e-3)


def test_bias_init_sets_the_codec_biases():
    def biases(cfg):
        codec, _ = init_codec(cfg, key=jax.random.key(0))
        leaves = jax.tree_util.tree_flatten_with_path(eqx.filter((codec.encoder, codec.decoder), eqx.is_array))[0]
        return [np.asarray(x) for path, x in leaves if "bias" in jax.tree_util.keystr(path)]

    cfg = shipped_config("tiny")
    assert cfg.codec.bias_init == "zeros"
    zeros = biases(cfg)
    assert len(zeros) > 10 and not any(b.any() for b in zeros)
    uniform = biases(attrs.evolve(cfg, codec=attrs.evolve(cfg.codec, bias_init="uniform")))
    assert len(uniform) == len(zeros) and all(b.any() for b in uniform)


def test_icnr_upsample_init_ties_every_decoder_up_sampling_across_phases():
    cfg = shipped_config("tiny")
    assert cfg.codec.upsample_init == "independent"
    icnr = attrs.evolve(cfg, codec=attrs.evolve(cfg.codec, upsample_init="icnr"))
    for config, tied in ((cfg, False), (icnr, True)):
        codec, _ = init_codec(config, key=jax.random.key(0))
        for block, stride in zip(codec.decoder.blocks, reversed(config.codec.strides)):
            w = np.asarray(block.up.conv.weight)  # [C_out, C_in, 2 * stride]
            phases_equal = np.array_equal(w, np.repeat(w[:, :, ::stride], stride, axis=-1))
            assert phases_equal == tied
