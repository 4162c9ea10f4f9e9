"""Tests of archon_framework.nn causal convolutions."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from archon_framework.nn import CausalConv1d, CausalConvTranspose1d, ResidualUnit1d


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
