"""The 3-D causal CNN: up-sampling, whole-encoder causality, shapes of the paper configs (the causal
conv itself is archon_framework.nn's, tested in tests/test_nn_conv3d.py)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from archon_semantic_magvit import SHIPPED_CONFIGS, Magvit, shipped_config
from archon_semantic_magvit._model import init_magvit
from archon_semantic_magvit._layers import nearest_upsample


def test_nearest_upsample_time_keeps_frame_zero_alone():
    x = jnp.arange(3.0).reshape(1, 3, 1, 1)
    y = nearest_upsample(x, 2, 2)
    assert y.shape == (1, 5, 2, 2)
    np.testing.assert_array_equal(np.asarray(y[0, :, 0, 0]), [0, 1, 1, 2, 2])


@pytest.fixture(scope="module")
def micro_encoder():
    cfg = shipped_config("semantic_tiny").model
    import attrs

    cfg = attrs.evolve(cfg, frame_size=32, base_channels=4, norm_groups=2)
    model = init_magvit(cfg, key=jax.random.key(0))
    return eqx.filter_jit(lambda m, x: m.encoder(x)), model


def test_whole_encoder_is_causal_and_a_lone_frame_encodes_like_frame_zero(micro_encoder):
    enc, model = micro_encoder
    x = jax.random.normal(jax.random.key(2), (3, 9, 32, 32))
    z = enc(model, x)  # [10, 3, 2, 2]
    assert z.shape == (10, 3, 2, 2)
    for t in (1, 4, 5, 8):
        z2 = enc(model, x.at[:, t].add(3.0))
        keep = [j for j in range(3) if 4 * j < t]
        np.testing.assert_allclose(np.asarray(z[:, keep]), np.asarray(z2[:, keep]), atol=1e-5)
        changed = [j for j in range(3) if 4 * j >= t]
        assert not np.allclose(np.asarray(z[:, changed]), np.asarray(z2[:, changed]))
    np.testing.assert_allclose(np.asarray(enc(model, x[:, :1])[:, 0]), np.asarray(z[:, 0]), atol=1e-5)


@pytest.mark.parametrize("name", SHIPPED_CONFIGS)
def test_shipped_configs_give_the_paper_shapes(name):
    cfg = shipped_config(name)
    model = eqx.filter_eval_shape(Magvit, cfg.model, key=jax.random.key(0))
    size = cfg.model.frame_size
    frames = 17 if cfg.model.temporal else 1
    z = eqx.filter_eval_shape(lambda m, x: m.encoder(x), model, jax.ShapeDtypeStruct((3, frames, size, size), jnp.float32))
    # latent grids of the paper; the LFQ width is the config's (2^18 image codes in image_paper,
    # 2^12 in image_tiny: the LM's image vocabulary follows it)
    expected = (10, 5, 8, 8) if cfg.modality == "semantic" else (cfg.model.embedding_dim, 1, 16, 16)
    assert cfg.modality == "semantic" or cfg.model.embedding_dim == (18 if name == "image_paper" else 12)
    assert z.shape == expected
    if cfg.modality == "semantic":
        one = eqx.filter_eval_shape(lambda m, x: m.encoder(x), model, jax.ShapeDtypeStruct((3, 1, size, size), jnp.float32))
        assert one.shape == (10, 1, 8, 8)
    grid = jax.ShapeDtypeStruct(expected[1:], jnp.int32)
    out = eqx.filter_eval_shape(lambda m, g: m.decode(g), model, grid)
    assert out.shape == (3, frames, size, size)


def test_paper_configs_hold_the_paper_numbers():
    sem, img = shipped_config("semantic_paper"), shipped_config("image_paper")
    assert sem.model.codebook_size == 2**10 and sem.model.stem_stride == 2 and sem.model.base_channels == 128
    assert (sem.loss.adv_weight, sem.loss.seg_weight, sem.loss.seg_tau, sem.train.batch_size) == (0.3, 3.0, 10.0, 8)
    assert img.model.codebook_size == 2**18 and img.model.latent_size == 16 and not img.model.temporal
