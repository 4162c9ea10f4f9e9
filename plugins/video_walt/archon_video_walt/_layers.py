"""Building blocks shared by the autoencoder and the denoiser (Equinox, one example at a time).

Video tensors are channel first, ``[channels, time, height, width]``; token tensors are
``[tokens, features]``. The causal 3-D convolution (padded by (k_t - 1, 0) frames, so output
frame j reads input frames <= s_t * j), the per-frame GroupNorm that keeps the networks causal and
the residual block are the core's (:mod:`archon_framework.nn`), re-exported here.

Parameters are drawn with numpy from the bits of the PRNG key when the key is concrete: the
same values for the same key, without compiling one threefry graph per parameter shape (which
dominates start-up time of small models on XLA:CPU).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from archon_framework.nn import CausalConv3d, FrameGroupNorm
from archon_framework.nn import ResBlock3d as ResBlock  # parameter names and tree unchanged

__all__ = [
    "uniform_init",
    "normal_init",
    "CausalConv3d",
    "FrameGroupNorm",
    "ResBlock",
    "Dense",
    "LayerNorm",
    "space_to_depth",
    "depth_to_space",
    "time_upsample",
]


def _rng(key: PRNGKeyArray) -> np.random.Generator:
    return np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())


def uniform_init(key: PRNGKeyArray, shape: tuple[int, ...], limit: float) -> Float[Array, "..."]:
    """U(-limit, limit) of ``shape`` (numpy from the key's bits; jax.random under tracing)."""
    if isinstance(key, jax.core.Tracer):
        return jax.random.uniform(key, shape, minval=-limit, maxval=limit)
    return jnp.asarray(_rng(key).uniform(-limit, limit, shape), jnp.float32)


def normal_init(key: PRNGKeyArray, shape: tuple[int, ...], std: float) -> Float[Array, "..."]:
    """N(0, std^2) of ``shape`` (numpy from the key's bits; jax.random under tracing)."""
    if isinstance(key, jax.core.Tracer):
        return std * jax.random.normal(key, shape)
    return jnp.asarray(_rng(key).normal(0.0, std, shape), jnp.float32)


class Dense(eqx.Module):
    """``x @ W + b`` over the last axis (any leading axes); optional zero initialization."""

    weight: Float[Array, "i o"]
    bias: Float[Array, " o"] | None

    def __init__(self, in_features: int, out_features: int, *, use_bias: bool = True,
                 zero_init: bool = False, key: PRNGKeyArray):
        shape = (in_features, out_features)
        self.weight = (
            jnp.zeros(shape, jnp.float32) if zero_init
            else uniform_init(key, shape, math.sqrt(3.0 / in_features))  # variance 1 / fan_in
        )
        self.bias = jnp.zeros((out_features,), jnp.float32) if use_bias else None

    def __call__(self, x: Float[Array, "... i"]) -> Float[Array, "... o"]:
        y = x @ self.weight
        return y if self.bias is None else y + self.bias


class LayerNorm(eqx.Module):
    """LayerNorm over the last axis; ``affine=False`` for AdaLN (the modulation supplies it)."""

    weight: Float[Array, " d"] | None
    bias: Float[Array, " d"] | None
    eps: float = eqx.field(static=True)

    def __init__(self, dim: int, *, affine: bool = True, eps: float = 1e-6):
        self.weight = jnp.ones((dim,), jnp.float32) if affine else None
        self.bias = jnp.zeros((dim,), jnp.float32) if affine else None
        self.eps = eps

    def __call__(self, x: Float[Array, "... d"]) -> Float[Array, "... d"]:
        mean = x.mean(-1, keepdims=True)
        var = x.var(-1, keepdims=True)
        y = (x - mean) * jax.lax.rsqrt(var + self.eps)
        if self.weight is not None:
            y = y * self.weight + self.bias
        return y


def space_to_depth(x: Float[Array, "c t h w"], factor: int) -> Float[Array, "c2 t h2 w2"]:
    """[c, t, h, w] -> [c * f^2, t, h / f, w / f] (pixel unshuffle; channel = c * f^2 + dy * f + dx)."""
    if factor == 1:
        return x
    c, t, h, w = x.shape
    x = x.reshape(c, t, h // factor, factor, w // factor, factor)
    x = x.transpose(0, 3, 5, 1, 2, 4)  # [c, f, f, t, h/f, w/f]
    return x.reshape(c * factor * factor, t, h // factor, w // factor)


def depth_to_space(x: Float[Array, "c2 t h2 w2"], factor: int) -> Float[Array, "c t h w"]:
    """Inverse of :func:`space_to_depth`."""
    if factor == 1:
        return x
    c2, t, h, w = x.shape
    c = c2 // (factor * factor)
    x = x.reshape(c, factor, factor, t, h, w).transpose(0, 3, 4, 1, 5, 2)  # [c, t, h, f, w, f]
    return x.reshape(c, t, h * factor, w * factor)


def time_upsample(x: Float[Array, "c t h w"], factor: int) -> Float[Array, "c t2 h w"]:
    """Causal nearest up-sampling in time: T -> factor (T - 1) + 1 (frame 0 stays alone)."""
    if factor == 1:
        return x
    return jnp.repeat(x, factor, axis=1)[:, factor - 1 :]
