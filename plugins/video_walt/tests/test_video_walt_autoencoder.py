"""The causal 3-D autoencoder: latent shapes, the first frame encoded alone, causality, layers."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework import RawValueError
from archon_video_walt import Autoencoder, shipped_config
from archon_video_walt._layers import depth_to_space, space_to_depth, time_upsample


@pytest.fixture(scope="module")
def ae(renderer) -> Autoencoder:
    return renderer.autoencoder


@pytest.fixture(scope="module")
def encode():
    fn = eqx.filter_jit(lambda ae, x: ae.encode(x))
    return lambda ae, x: np.asarray(fn(ae, jnp.asarray(x)))


@pytest.fixture(scope="module")
def decode():
    fn = eqx.filter_jit(lambda ae, z: ae.decode(z))
    return lambda ae, z: np.asarray(fn(ae, jnp.asarray(z)))


def _video(frames: int, size: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (3, frames, size, size)).astype(np.float32)


@settings(max_examples=6, deadline=None)
@given(n=st.integers(0, 5))
def test_latent_frames_are_one_plus_a_quarter_of_the_rest(mini, ae, n):
    frames = 1 + 4 * n
    latent = eqx.filter_eval_shape(ae.encode, jax.ShapeDtypeStruct((3, frames, 64, 64), jnp.float32))
    assert latent.shape == (mini.autoencoder.latent_channels, 1 + (frames - 1) // 4, 8, 8)
    assert mini.autoencoder.latent_frames(frames) == 1 + n
    back = eqx.filter_eval_shape(ae.decode, latent)
    assert back.shape == (3, frames, 64, 64)


@pytest.mark.parametrize("name, frames, size, latent", [("tiny", 17, 256, (8, 5, 32, 32)), ("paper", 17, 512, (8, 5, 64, 64))])
def test_shipped_autoencoders_compress_8x_in_space_and_4x_in_time(name, frames, size, latent):
    cfg = shipped_config(name).autoencoder
    model = eqx.filter_eval_shape(Autoencoder, cfg, key=jax.random.key(0))  # abstract: the paper model is large
    z = eqx.filter_eval_shape(lambda m, x: m.encode(x), model, jax.ShapeDtypeStruct((3, frames, size, size), jnp.float32))
    assert z.shape == latent
    assert cfg.spatial_downsample == 8 and cfg.temporal_downsample == 4


def test_the_first_frame_is_encoded_on_its_own(ae, encode):
    video = _video(9)
    z = encode(ae, video)
    later = video.copy()
    later[:, 1:] = _video(8, seed=1)
    z_later = encode(ae, later)
    np.testing.assert_allclose(z_later[:, 0], z[:, 0], atol=1e-5)
    assert np.abs(z_later[:, 1:] - z[:, 1:]).max() > 1e-3  # the later latent frames did change
    # A lone image encodes exactly like the first frame of a video.
    np.testing.assert_allclose(encode(ae, video[:, :1])[:, 0], z[:, 0], atol=1e-5)


def test_the_encoder_is_causal_in_time(ae, encode):
    video = _video(9, seed=2)
    z = encode(ae, video)
    changed = video.copy()
    changed[:, 5:] = _video(4, seed=3)  # frames 5..8 feed latent frame 2 only
    z2 = encode(ae, changed)
    np.testing.assert_allclose(z2[:, :2], z[:, :2], atol=1e-5)
    assert np.abs(z2[:, 2] - z[:, 2]).max() > 1e-3


def test_the_decoder_is_causal_in_time(mini, ae, decode):
    rng = np.random.default_rng(4)
    z = rng.standard_normal((mini.autoencoder.latent_channels, 3, 8, 8)).astype(np.float32)
    x = decode(ae, z)
    z2 = z.copy()
    z2[:, 2] = rng.standard_normal(z2[:, 2].shape)
    x2 = decode(ae, z2)
    np.testing.assert_allclose(x2[:, :5], x[:, :5], atol=1e-5)  # frames <= 4 come from latent frames <= 1
    assert np.abs(x2[:, 5:] - x[:, 5:]).max() > 1e-3


@pytest.mark.parametrize("frames, size", [(6, 64), (9, 60)])
def test_a_shape_the_autoencoder_cannot_take_is_a_raw_value_error(ae, frames, size):
    with pytest.raises(RawValueError, match=r"modality 'video'.*pad_frames"):
        ae.encode(jnp.zeros((3, frames, size, size)))


@settings(max_examples=20, deadline=None)
@given(f=st.sampled_from([1, 2, 4]), c=st.integers(1, 3), t=st.integers(1, 3), seed=st.integers(0, 100))
def test_space_to_depth_round_trips(f, c, t, seed):
    x = np.random.default_rng(seed).standard_normal((c, t, 4 * f, 8 * f))
    y = space_to_depth(x, f)
    assert y.shape == (c * f * f, t, 4, 8)
    np.testing.assert_array_equal(depth_to_space(y, f), x)


def test_time_upsample_keeps_the_first_frame_alone():
    x = np.arange(3)[None, :, None, None] * np.ones((2, 3, 1, 1))
    y = np.asarray(time_upsample(jnp.asarray(x), 4))
    assert y.shape == (2, 9, 1, 1)
    assert y[0, :, 0, 0].tolist() == [0, 1, 1, 1, 1, 2, 2, 2, 2]
