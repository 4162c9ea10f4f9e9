"""Building blocks shared by the autoencoder and the denoiser (Equinox, one example at a time).

Video tensors are channel first, ``[channels, time, height, width]``; token tensors are
``[tokens, features]``. Convolutions are causal in time: padded by (k_t - 1, 0) frames, so output
frame j reads input frames <= s_t * j. Group normalization is taken **per frame** (statistics over
the channels of a group x height x width of one frame), which keeps the networks causal (a
video-wide GroupNorm would let future frames leak into past ones).

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

__all__ = [
    "uniform_init",
    "normal_init",
    "CausalConv3d",
    "FrameGroupNorm",
    "ResBlock3d",
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


class CausalConv3d(eqx.Module):
    """3-D convolution, causally padded in time and "same"-padded in space (H/s for stride s).

    Computed as one 2-D convolution over the output frames (as a batch) whose input channels are
    the k_t time-shifted copies of the input: equal to the 3-D convolution (tested) and much
    faster on XLA:CPU. Weights have the 3-D shape [out, in, k_t, k_h, k_w].
    """

    weight: Float[Array, "o i kt kh kw"]
    bias: Float[Array, " o"] | None
    stride: tuple[int, int, int] = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: tuple[int, int, int],
        stride: tuple[int, int, int] = (1, 1, 1),
        *,
        use_bias: bool = True,
        zero_init: bool = False,
        key: PRNGKeyArray,
    ):
        kw, kb = jax.random.split(key)
        lim = 1.0 / math.sqrt(in_channels * math.prod(kernel))
        shape = (out_channels, in_channels, *kernel)
        self.weight = jnp.zeros(shape, jnp.float32) if zero_init else uniform_init(kw, shape, lim)
        self.bias = jnp.zeros((out_channels,), jnp.float32) if use_bias else None
        self.stride = tuple(stride)

    def __call__(self, x: Float[Array, "c t h w"]) -> Float[Array, "o t2 h2 w2"]:
        o, i, kt, kh, kw = self.weight.shape
        st, sh, sw = self.stride
        if x.shape[0] != i:
            raise ValueError(f"CausalConv3d expects {i} input channels, got input of shape {x.shape}")
        xp = jnp.pad(x, ((0, 0), (kt - 1, 0), (0, 0), (0, 0)))  # [c, T + kt - 1, h, w]
        t_out = (xp.shape[1] - kt) // st + 1
        # Output frame j reads padded frames st*j .. st*j + kt - 1, i.e. input frames <= st*j.
        shifted = [xp[:, dt : dt + st * (t_out - 1) + 1 : st] for dt in range(kt)]  # kt x [c, t_out, h, w]
        frames = jnp.moveaxis(jnp.concatenate(shifted, axis=0), 1, 0)  # [t_out, kt*c, h, w]
        w2 = jnp.moveaxis(self.weight, 2, 1).reshape(o, kt * i, kh, kw)  # [o, kt*c, kh, kw]
        pad = [((kh - 1) // 2, kh - 1 - (kh - 1) // 2), ((kw - 1) // 2, kw - 1 - (kw - 1) // 2)]
        y = jax.lax.conv_general_dilated(frames, w2, (sh, sw), pad)  # [t_out, o, h/sh, w/sw]
        if self.bias is not None:
            y = y + self.bias[None, :, None, None]
        return jnp.moveaxis(y, 0, 1)  # [o, t_out, h/sh, w/sw]


class FrameGroupNorm(eqx.Module):
    """GroupNorm with statistics per frame (keeps a video network causal)."""

    weight: Float[Array, " c"]
    bias: Float[Array, " c"]
    groups: int = eqx.field(static=True)
    eps: float = eqx.field(static=True)

    def __init__(self, groups: int, channels: int, eps: float = 1e-6):
        if channels % groups:
            raise ValueError(f"FrameGroupNorm: {groups} groups do not divide {channels} channels")
        self.weight = jnp.ones((channels,), jnp.float32)
        self.bias = jnp.zeros((channels,), jnp.float32)
        self.groups = groups
        self.eps = eps

    def __call__(self, x: Float[Array, "c t h w"]) -> Float[Array, "c t h w"]:
        c, t, h, w = x.shape
        g = x.reshape(self.groups, c // self.groups, t, h, w)
        mean = g.mean(axis=(1, 3, 4), keepdims=True)  # [g, 1, t, 1, 1]
        var = g.var(axis=(1, 3, 4), keepdims=True)
        x = ((g - mean) * jax.lax.rsqrt(var + self.eps)).reshape(c, t, h, w)
        return x * self.weight[:, None, None, None] + self.bias[:, None, None, None]


class ResBlock3d(eqx.Module):
    """GN -> SiLU -> conv -> GN -> SiLU -> conv, plus a 1x1x1 shortcut when the width changes."""

    norm1: FrameGroupNorm
    conv1: CausalConv3d
    norm2: FrameGroupNorm
    conv2: CausalConv3d
    shortcut: CausalConv3d | None

    def __init__(self, in_channels: int, out_channels: int, *, groups: int, kt: int, key: PRNGKeyArray):
        k1, k2, k3 = jax.random.split(key, 3)
        self.norm1 = FrameGroupNorm(groups, in_channels)
        self.conv1 = CausalConv3d(in_channels, out_channels, (kt, 3, 3), key=k1)
        self.norm2 = FrameGroupNorm(groups, out_channels)
        self.conv2 = CausalConv3d(out_channels, out_channels, (kt, 3, 3), key=k2)
        self.shortcut = (
            None if in_channels == out_channels else CausalConv3d(in_channels, out_channels, (1, 1, 1), key=k3)
        )

    def __call__(self, x: Float[Array, "c t h w"]) -> Float[Array, "c2 t h w"]:
        h = self.conv1(jax.nn.silu(self.norm1(x)))
        h = self.conv2(jax.nn.silu(self.norm2(h)))
        return (x if self.shortcut is None else self.shortcut(x)) + h


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
