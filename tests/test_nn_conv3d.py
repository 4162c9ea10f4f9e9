"""Tests of archon_framework.nn's causal 3-D blocks: conv equivalence, causality, per-frame norms."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework.nn import CausalConv3d, FrameGroupNorm, ResBlock3d


@pytest.mark.parametrize("kernel, stride", [((3, 3, 3), (1, 1, 1)), ((4, 4, 4), (2, 2, 2)), ((5, 3, 3), (4, 2, 2)),
                                            ((2, 1, 3), (2, 1, 2)), ((1, 1, 1), (1, 1, 1))])
def test_causal_conv_equals_a_causally_padded_3d_convolution(kernel, stride):
    conv = CausalConv3d(3, 4, kernel, stride, key=jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (3, 9, 8, 8))
    kt, kh, kw = kernel
    pad = [(kt - 1, 0), ((kh - 1) // 2, kh - 1 - (kh - 1) // 2), ((kw - 1) // 2, kw - 1 - (kw - 1) // 2)]
    ref = jax.lax.conv_general_dilated(x[None], conv.weight, stride, pad)[0] + conv.bias[:, None, None, None]
    y = conv(x)
    np.testing.assert_allclose(y, ref, atol=1e-5)
    assert y.shape == (4, (9 - 1) // stride[0] + 1, 8 // stride[1], 8 // stride[2])


def test_initialization_is_deterministic_per_key_and_matches_under_tracing_in_shape():
    a = CausalConv3d(2, 3, (3, 3, 3), key=jax.random.key(5))
    b = CausalConv3d(2, 3, (3, 3, 3), key=jax.random.key(5))
    np.testing.assert_array_equal(a.weight, b.weight)
    lim = 1.0 / (2 * 27) ** 0.5
    assert float(jnp.abs(a.weight).max()) <= lim and float(jnp.abs(a.bias).max()) <= lim
    abstract = eqx.filter_eval_shape(CausalConv3d, 2, 3, (3, 3, 3), key=jax.random.key(5))
    assert jax.tree_util.tree_structure(abstract) == jax.tree_util.tree_structure(a)
    assert CausalConv3d(2, 3, (1, 1, 1), use_bias=False, key=jax.random.key(0)).bias is None


@settings(max_examples=6, deadline=None)
@given(t=st.integers(0, 6), stride=st.sampled_from([1, 2]))
def test_a_change_at_frame_t_never_reaches_earlier_outputs(t, stride):
    block = _block()
    x = jax.random.normal(jax.random.key(1), (4, 7, 8, 8))
    conv = _conv(stride)
    for layer, reach in ((conv, stride), (block, 1)):  # output frame j reads input frames <= reach * j
        y0, y1 = _apply(layer, x), _apply(layer, x.at[:, t].add(5.0))
        before = [j for j in range(y0.shape[1]) if reach * j < t]
        np.testing.assert_array_equal(np.asarray(y0[:, before]), np.asarray(y1[:, before]))
        assert not np.allclose(np.asarray(y0), np.asarray(y1))


def test_frame_group_norm_normalizes_each_frame_and_group_on_its_own():
    norm = FrameGroupNorm(2, 4)
    x = jax.random.normal(jax.random.key(0), (4, 3, 5, 5)) * jnp.arange(1.0, 4.0)[None, :, None, None] + 7.0
    y = np.asarray(norm(x)).reshape(2, 2, 3, 5, 5)  # [group, c/g, t, h, w]
    np.testing.assert_allclose(y.mean(axis=(1, 3, 4)), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(1, 3, 4)), 1.0, atol=1e-3)
    np.testing.assert_allclose(np.asarray(norm(x[:, :1])), np.asarray(norm(x))[:, :1], atol=1e-6)  # frame 0 alone
    with pytest.raises(ValueError, match="3 groups do not divide 4 channels"):
        FrameGroupNorm(3, 4)


def test_res_block_shortcut_and_bad_input_shapes():
    same, wider = ResBlock3d(4, 4, groups=2, kt=3, key=jax.random.key(0)), ResBlock3d(4, 6, groups=2, kt=1, key=jax.random.key(1))
    assert same.shortcut is None and wider.shortcut is not None
    assert wider(jnp.ones((4, 2, 4, 4))).shape == (6, 2, 4, 4)
    with pytest.raises(ValueError, match=r"expects \[4, time, height, width\].*\(3, 2, 4, 4\)"):
        same(jnp.ones((3, 2, 4, 4)))


@eqx.filter_jit
def _apply(layer: eqx.Module, x: jax.Array) -> jax.Array:
    return layer(x)


def _conv(stride: int) -> CausalConv3d:
    return CausalConv3d(4, 4, (4, 3, 3), (stride, 1, 1), key=jax.random.key(0))


def _block() -> ResBlock3d:
    return ResBlock3d(4, 4, groups=2, kt=3, key=jax.random.key(2))
