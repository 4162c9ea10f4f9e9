"""Tests of archon_framework.nn causal convolutions."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework.nn import CausalConv1d, CausalConvTranspose1d, ResidualUnit1d, zero_biases


@eqx.filter_jit
def _batched(layer: eqx.Module, x: jax.Array) -> jax.Array:
    return jax.vmap(layer)(x)


def _perturbed_after(x: jax.Array, cuts: list[int]) -> jax.Array:
    """One copy of ``x`` per cut, with every sample from ``cut`` on changed."""
    noise = jax.random.normal(jax.random.key(7), x.shape)
    return jnp.stack([x.at[:, c:].add(noise[:, c:]) for c in cuts])  # [cuts, C, T]


@pytest.mark.parametrize(
    ("kernel", "stride", "dilation", "mode"),
    [(3, 1, 1, "ZEROS"), (7, 1, 3, "REPLICATE"), (4, 2, 1, "ZEROS"), (3, 2, 1, "REPLICATE"),
     (10, 5, 1, "ZEROS")],
)
def test_causal_conv_never_sees_the_future(kernel: int, stride: int, dilation: int, mode: str):
    conv = CausalConv1d(3, 4, kernel, stride=stride, dilation=dilation, padding_mode=mode,
                        key=jax.random.key(0))
    steps = 6
    x = jax.random.normal(jax.random.key(1), (3, steps * stride))
    cuts = [(t + 1) * stride for t in range(steps - 1)]
    run = lambda xs: _batched(conv, xs)  # noqa: E731
    y = run(x[None])[0]
    assert y.shape == (4, steps)
    y2 = np.asarray(run(_perturbed_after(x, cuts)))
    for t in range(steps - 1):
        # Output steps 0..t see inputs 0..(t+1)*stride-1 only; the next one sees the change.
        np.testing.assert_allclose(y2[t, :, : t + 1], y[:, : t + 1], rtol=1e-5, atol=1e-5)
        assert not np.allclose(y2[t, :, t + 1], y[:, t + 1])


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_causal_conv_output_length(stride: int):
    conv = CausalConv1d(2, 2, 2 * stride, stride=stride, key=jax.random.key(0))
    for length in (stride, 2 * stride + 1, 5 * stride + stride - 1):
        assert conv(jnp.ones((2, length))).shape == (2, length // stride)
    if stride > 1:
        with pytest.raises(ValueError, match="shorter than the stride"):
            conv(jnp.ones((2, stride - 1)))


@pytest.mark.parametrize(("kernel", "stride"), [(4, 2), (2, 2), (8, 4), (5, 3)])
def test_transposed_conv_length_and_causality(kernel: int, stride: int):
    conv = CausalConvTranspose1d(3, 2, kernel, stride=stride, key=jax.random.key(0))
    steps = 5
    x = jax.random.normal(jax.random.key(1), (3, steps))
    run = lambda xs: _batched(conv, xs)  # noqa: E731
    y = run(x[None])[0]
    assert y.shape == (2, steps * stride)
    y2 = np.asarray(run(_perturbed_after(x, list(range(1, steps)))))
    for t in range(steps - 1):
        keep = (t + 1) * stride  # output samples 0..keep-1 depend on inputs 0..t only
        np.testing.assert_allclose(y2[t, :, :keep], y[:, :keep], rtol=1e-5, atol=1e-5)
        assert not np.allclose(y2[t, :, keep:], y[:, keep:])


@settings(max_examples=25, deadline=None)
@given(
    stride=st.integers(1, 5),
    taps=st.integers(1, 3),
    steps=st.integers(2, 6),
    seed=st.integers(0, 2**16),
)
def test_icnr_init_starts_without_a_checkerboard(stride: int, taps: int, steps: int, seed: int):
    """With ``icnr_init`` every output phase gets the same kernel, so the layer is
    nearest-neighbour up-sampling followed by a ``taps``-tap convolution at the input rate:
    a constant input gives a constant output once all taps have an input (independent taps give
    a pattern repeating every ``stride`` steps), and the layer stays causal."""
    key, x_key = jax.random.split(jax.random.key(seed))
    tied = CausalConvTranspose1d(2, 3, taps * stride, stride=stride, icnr_init=True, key=key)
    y = np.asarray(tied(jnp.ones((2, steps + taps))))  # [3, (steps + taps) * stride]
    settled = y[:, (taps - 1) * stride :]
    np.testing.assert_allclose(settled, np.broadcast_to(settled[:, :1], settled.shape), rtol=1e-5, atol=1e-6)
    x = jax.random.normal(x_key, (2, steps))
    up = np.asarray(tied(x)).reshape(3, steps, stride)  # [C_out, input step, phase]
    np.testing.assert_allclose(up, np.broadcast_to(up[:, :, :1], up.shape), rtol=1e-5, atol=1e-6)
    changed = np.asarray(tied(x.at[:, -1].add(1.0)))
    np.testing.assert_allclose(changed[:, : (steps - 1) * stride], np.asarray(tied(x))[:, : (steps - 1) * stride],
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    if stride > 1:
        free = CausalConvTranspose1d(2, 3, taps * stride, stride=stride, key=key)
        assert np.ptp(np.asarray(free(jnp.ones((2, steps + taps))))[:, (taps - 1) * stride :], axis=1).min() > 0
        # Same draw: the tied kernel repeats the free kernel's phase-0 taps.
        np.testing.assert_array_equal(tied.conv.weight, np.repeat(free.conv.weight[:, :, ::stride], stride, -1))


def test_icnr_init_needs_whole_phases():
    with pytest.raises(ValueError, match="icnr_init needs"):
        CausalConvTranspose1d(2, 2, 6, stride=4, icnr_init=True, key=jax.random.key(0))
    with pytest.raises(ValueError, match="icnr_init needs"):
        CausalConvTranspose1d(2, 2, 4, stride=2, dilation=2, icnr_init=True, key=jax.random.key(0))


@eqx.filter_jit
def _value_and_grads(fn, layer: eqx.Module, x: jax.Array):
    """``fn(layer, x)`` and its gradients with respect to the layer's arrays and to ``x``."""
    loss = lambda layer, x: jnp.sum(jnp.sin(fn(layer, x)))  # noqa: E731
    value = fn(layer, x)
    g_layer, g_x = eqx.filter_grad(lambda lx: loss(*lx))((layer, x))
    return value, jax.tree.leaves(g_layer), g_x


def _phased(m, v):
    return m(v)


def _dilated_down(m, v):
    return m.conv(v)


def _dilated_up(m, v):
    return m.conv(v)[:, : v.shape[1] * m.stride]


@settings(max_examples=15, deadline=None)
@given(
    c_in=st.integers(1, 4),
    c_out=st.integers(1, 4),
    stride=st.integers(2, 5),
    extra=st.integers(0, 6),
    steps=st.integers(1, 5),
    trailing=st.integers(0, 4),
    weight_norm=st.booleans(),
    replicate=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_phase_decomposed_convs_match_the_dilated_forms(
    c_in, c_out, stride, extra, steps, trailing, weight_norm, replicate, seed
):
    """The strided and the transposed convolution run as ``stride`` phases at one rate (no
    multiplications by inserted zeros); values and gradients (weights and input) equal those of
    the plain strided / zero-stuffed equinox convolution they wrap, for any kernel length,
    stride, padding mode, weight norm and trailing partial block."""
    kernel = stride + extra
    key, x_key = jax.random.split(jax.random.key(seed))
    mode = "REPLICATE" if replicate else "ZEROS"
    down = CausalConv1d(c_in, c_out, kernel, stride=stride, padding_mode=mode, weight_norm=weight_norm, key=key)
    x = jax.random.normal(x_key, (c_in, steps * stride + min(trailing, stride - 1))) + 0.5
    phased = _value_and_grads(_phased, down, x)
    dilated = _value_and_grads(_dilated_down, down, x)
    for a, b in zip(jax.tree.leaves(phased), jax.tree.leaves(dilated)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)

    up = CausalConvTranspose1d(c_in, c_out, kernel, stride=stride, weight_norm=weight_norm, key=key)
    x = jax.random.normal(x_key, (c_in, steps))
    phased = _value_and_grads(_phased, up, x)
    dilated = _value_and_grads(_dilated_up, up, x)
    for a, b in zip(jax.tree.leaves(phased), jax.tree.leaves(dilated)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_residual_unit_is_causal_and_keeps_shape():
    unit = ResidualUnit1d(4, 3, dilation=3, key=jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (4, 20))
    run = lambda xs: _batched(unit, xs)  # noqa: E731
    y, y2 = run(jnp.stack([x, x.at[:, 12:].set(5.0)]))
    assert y.shape == x.shape
    np.testing.assert_allclose(y2[:, :12], y[:, :12], rtol=1e-5, atol=1e-5)
    assert not np.allclose(y2[:, 12:], y[:, 12:])


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="kernel_size >= stride"):
        CausalConv1d(2, 2, 1, stride=2, key=jax.random.key(0))
    with pytest.raises(ValueError, match="kernel_size >= stride"):
        CausalConvTranspose1d(2, 2, 1, stride=2, key=jax.random.key(0))
    with pytest.raises(ValueError, match="must be >= 1"):
        CausalConv1d(2, 2, 3, dilation=0, key=jax.random.key(0))
    conv = CausalConv1d(2, 3, 3, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"\[2, time\]"):
        conv(jnp.ones((3, 8)))


def test_weight_norm_starts_as_the_plain_layer_and_splits_direction_from_gain():
    """``weight_norm=True`` computes the same function at initialisation (g = ||v|| per output
    channel), stays causal, and its kernel is g * v / ||v||: scaling v changes nothing."""
    key, x = jax.random.key(0), jax.random.normal(jax.random.key(1), (3, 12))
    pairs = [
        (CausalConv1d(3, 4, 4, stride=2, key=key), CausalConv1d(3, 4, 4, stride=2, weight_norm=True, key=key)),
        (CausalConvTranspose1d(3, 4, 4, stride=2, key=key),
         CausalConvTranspose1d(3, 4, 4, stride=2, weight_norm=True, key=key)),
        (ResidualUnit1d(3, 3, dilation=2, key=key), ResidualUnit1d(3, 3, dilation=2, weight_norm=True, key=key)),
    ]  # fmt: skip
    for plain, normed in pairs:
        np.testing.assert_allclose(normed(x), plain(x), rtol=1e-5, atol=1e-5)
    conv = pairs[0][1]
    assert isinstance(conv.conv, eqx.nn.WeightNorm)
    scaled = eqx.tree_at(lambda c: c.conv.layer.weight, conv, conv.conv.layer.weight * 3.0)
    np.testing.assert_allclose(scaled(x), conv(x), rtol=1e-5, atol=1e-5)
    y, y2 = _batched(conv, jnp.stack([x, x.at[:, 8:].set(4.0)]))
    np.testing.assert_allclose(y2[:, :4], y[:, :4], rtol=1e-5, atol=1e-5)
    assert not np.allclose(y2[:, 4:], y[:, 4:])
    with pytest.raises(ValueError, match=r"\[3, time\]"):
        conv(jnp.ones((2, 8)))


def test_zero_biases_clears_every_bias_and_nothing_else():
    key = jax.random.key(0)
    layers = (
        ResidualUnit1d(3, 3, key=key),
        ResidualUnit1d(3, 3, weight_norm=True, key=key),
        CausalConvTranspose1d(3, 2, 4, stride=2, key=key),
        eqx.nn.Linear(3, 2, key=key),
    )
    for layer in layers:
        before = jax.tree_util.tree_flatten_with_path(eqx.filter(layer, eqx.is_array))[0]
        after = jax.tree_util.tree_flatten_with_path(eqx.filter(zero_biases(layer), eqx.is_array))[0]
        assert [p for p, _ in before] == [p for p, _ in after]
        biases = [(b, a) for (path, b), (_, a) in zip(before, after) if "bias" in jax.tree_util.keystr(path)]
        others = [(b, a) for (path, b), (_, a) in zip(before, after) if "bias" not in jax.tree_util.keystr(path)]
        assert biases and others
        for b, a in biases:
            assert np.any(b) and not np.any(a)  # the default draw is not zero; the result is
        for b, a in others:
            np.testing.assert_array_equal(a, b)
    no_bias = CausalConv1d(2, 2, 3, use_bias=False, key=key)
    assert zero_biases(no_bias) is no_bias
