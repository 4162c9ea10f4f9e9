"""The Table F network: shapes, causality, the identity instance, shipped configs."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from archon_framework import ConfigError

from archon_flame_rvq import (
    FLAME_MODALITIES,
    AnimationRVQVAE,
    FlameTokenizerConfig,
    ModelConfig,
    shipped_config,
    shipped_config_names,
)


@eqx.filter_jit
def _latents(model: AnimationRVQVAE, xs: jax.Array) -> jax.Array:
    return jax.vmap(model.encoder)(xs)


@eqx.filter_jit
def _decoded(model: AnimationRVQVAE, zs: jax.Array) -> jax.Array:
    return jax.vmap(model.decoder)(zs)


@pytest.fixture(scope="session")
def expression_model(tiny_config) -> AnimationRVQVAE:
    cfg = tiny_config("expression")
    return AnimationRVQVAE(cfg.model, cfg.input_dim, key=jax.random.key(0))


def test_encoder_is_causal_and_downsamples_by_four(expression_model):
    frames = 24
    x = jax.random.normal(jax.random.key(1), (frames, 50))
    noise = jax.random.normal(jax.random.key(2), x.shape)
    cuts = [4 * (t + 1) for t in range(frames // 4 - 1)]
    xs = jnp.stack([x] + [x.at[c:].add(noise[c:]) for c in cuts])  # [1 + cuts, T, C]
    z = np.asarray(_latents(expression_model, xs))
    assert z.shape == (len(cuts) + 1, frames // 4, 8)
    for i, c in enumerate(cuts):
        steps = c // 4  # latent steps 0..steps-1 only see frames < c
        np.testing.assert_allclose(z[i + 1, :steps], z[0, :steps], atol=1e-5)
        assert not np.allclose(z[i + 1, steps:], z[0, steps:])


def test_decoder_is_causal_and_upsamples_by_four(expression_model):
    steps = 6
    z = jax.random.normal(jax.random.key(3), (steps, 8))
    zs = jnp.stack([z] + [z.at[s:].multiply(-2.0) for s in range(1, steps)])
    y = np.asarray(_decoded(expression_model, zs))
    assert y.shape == (steps, 4 * steps, 50)
    assert np.all(np.abs(y) <= 5.0)  # output_scale * tanh
    for s in range(1, steps):
        np.testing.assert_allclose(y[s, : 4 * s], y[0, : 4 * s], atol=1e-5)
        assert not np.allclose(y[s, 4 * s :], y[0, 4 * s :])


def test_identity_instance_is_a_length_one_sequence(tiny_config):
    cfg = tiny_config("identity")
    model = AnimationRVQVAE(cfg.model, cfg.input_dim, key=jax.random.key(0))
    state = model.quantizer.init_state(key=jax.random.key(1))
    recon, out = eqx.filter_jit(model)(state, jnp.ones((1, 100)))
    assert recon.shape == (1, 100) and out.codes.shape == (1, 8)


def test_shipped_configs_hold_the_paper_numbers():
    assert set(shipped_config_names()) >= {"paper", "paper_supplementary", "small"}
    main = {m: shipped_config("paper", m) for m in FLAME_MODALITIES}
    sizes = {m: (c.model.num_levels, c.model.codebook_size) for m, c in main.items()}
    assert sizes == {"identity": (8, 512), "expression": (8, 2048), "pose": (6, 512)}
    supp = {m: shipped_config("paper_supplementary", m).model for m in FLAME_MODALITIES}
    assert {m: (c.num_levels, c.codebook_size) for m, c in supp.items()} == {
        "identity": (12, 512), "expression": (8, 2048), "pose": (12, 512)}
    for name in shipped_config_names():
        for m in FLAME_MODALITIES:
            cfg = shipped_config(name, m)
            assert cfg.train.learning_rate == 4e-4 and cfg.train.warmup_fraction == 0.005
            assert (cfg.train.recon_weight, cfg.train.commit_weight) == (50.0, 1.0)
            assert cfg.model.time_factor == (1 if m == "identity" else 4)
    paper = main["expression"]
    assert (paper.model.channels, paper.model.latent_dim, paper.model.blocks_per_stage) == (1024, 128, 2)
    assert (paper.train.steps, paper.train.batch_size) == (200_000, 1024)
    assert main["pose"].train.steps == 100_000


def test_bad_configs_are_refused(tiny_config):
    with pytest.raises(ConfigError, match="strides"):
        FlameTokenizerConfig(modality="identity", model=ModelConfig(strides=(2, 2)))
    with pytest.raises(ConfigError, match="dilations"):
        ModelConfig(blocks_per_stage=3)
    with pytest.raises(ConfigError, match="window_frames"):
        FlameTokenizerConfig(modality="pose", train=tiny_config("pose").train.__class__(window_frames=30))
    with pytest.raises(ConfigError, match="no shipped config"):
        shipped_config("huge", "pose")
    with pytest.raises(ConfigError, match="activation"):
        cfg = ModelConfig(channels=4, latent_dim=2, activation="swish-ish")
        AnimationRVQVAE(cfg, 6, key=jax.random.key(0))


@pytest.mark.parametrize("name", ["paper", "paper_supplementary", "small"])
def test_shipped_dead_code_thresholds_leave_live_codes_alone(name):
    from archon_framework.nn import expected_code_counts

    for modality in FLAME_MODALITIES:
        cfg = shipped_config(name, modality)
        m = cfg.model
        vectors = cfg.train.batch_size * cfg.train.window_frames // m.time_factor  # latents a step
        counts = expected_code_counts(vectors, num_levels=m.num_levels, codebook_size=m.codebook_size,
                                      dropout=m.quantizer_dropout)
        assert m.dead_code_threshold <= 0.5 * counts.min(), (name, modality, m.dead_code_threshold, counts.min())
