"""Building blocks of the MAGVIT-v2 3-D causal CNN (Yu et al., 2024; Archon Tables D and E).

Every module acts on one example, channel first: ``[channels, time, height, width]``.

Causality. Convolutions pad time by (k_t - 1, 0) and space symmetrically, so output frame t
reads input frames <= t (<= s * t for temporal stride s). MAGVIT-v2 normalizes with GroupNorm
over (time, height, width), which lets future frames leak into past ones (lucidrains/
magvit2-pytorch#41, HunyuanVideo#219). We normalize **per frame** instead (statistics over
channels-in-group x height x width of each frame), which makes the whole encoder causal: latent
frame j depends only on input frames <= 4j, and a lone image encodes exactly like frame 0 of a
video. Temporal nearest up-sampling mirrors this: each frame is repeated twice and the first
copy of frame 0 dropped (T -> 2T - 1), as MAGVIT-v2 drops frame 1 after depth-to-space.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

__all__ = ["CausalConv3d", "FrameGroupNorm", "ResBlock", "Upsample", "nearest_upsample"]


class CausalConv3d(eqx.Module):
    """3-D convolution padded causally in time: (k_t - 1, 0) frames before, none after.

    Computed as one 2-D convolution over the frames (as a batch) whose input channels are the
    k_t time-shifted copies of the input: the same result as a 3-D convolution (tested), about
    10x faster on XLA:CPU, whose 3-D convolution kernels are slow. Weights have the shape of a
    3-D conv, [out, in, k_t, k_h, k_w], with PyTorch/Equinox default initialization.
    """

    weight: Float[Array, "o i kt kh kw"]
    bias: Float[Array, " o"] | None
    stride: tuple[int, int, int] = eqx.field(static=True)
    time_padding: tuple[int, int] = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: tuple[int, int, int],
        stride: tuple[int, int, int] = (1, 1, 1),
        *,
        use_bias: bool = True,
        time_padding: tuple[int, int] | None = None,
        key: PRNGKeyArray,
    ):
        # Drawn with numpy from the key's bits: deterministic per key, and no XLA compilation of
        # a threefry graph per parameter shape (which dominated start-up time on CPU).
        # Under tracing (eqx.filter_eval_shape, jit) the key is abstract: use jax.random there.
        fan_in = in_channels * kernel[0] * kernel[1] * kernel[2]
        lim = 1.0 / fan_in**0.5
        w_shape, b_shape = (out_channels, in_channels, *kernel), (out_channels,)
        if isinstance(key, jax.core.Tracer):
            kw_, kb = jax.random.split(key)
            self.weight = jax.random.uniform(kw_, w_shape, minval=-lim, maxval=lim)
            self.bias = jax.random.uniform(kb, b_shape, minval=-lim, maxval=lim) if use_bias else None
        else:
            rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
            self.weight = jnp.asarray(rng.uniform(-lim, lim, w_shape), jnp.float32)
            self.bias = jnp.asarray(rng.uniform(-lim, lim, b_shape), jnp.float32) if use_bias else None
        self.stride = tuple(stride)
        self.time_padding = (kernel[0] - 1, 0) if time_padding is None else tuple(time_padding)

    def __call__(self, x: Float[Array, "c t h w"]) -> Float[Array, "c2 t2 h2 w2"]:
        o, i, kt, kh, kw = self.weight.shape
        st, sh, sw = self.stride
        if x.shape[0] != i:
            raise ValueError(f"CausalConv3d expects {i} input channels, got input of shape {x.shape}")
        xp = jnp.pad(x, ((0, 0), self.time_padding, (0, 0), (0, 0)))  # [c, T + pad, h, w]
        t_out = (xp.shape[1] - kt) // st + 1
        # Frame j of the output reads padded frames st*j .. st*j + kt - 1.
        shifted = [xp[:, dt : dt + st * (t_out - 1) + 1 : st] for dt in range(kt)]  # kt x [c, t_out, h, w]
        frames = jnp.moveaxis(jnp.concatenate(shifted, axis=0), 1, 0)  # [t_out, kt*c, h, w]
        w2 = jnp.moveaxis(self.weight, 2, 1).reshape(o, kt * i, kh, kw)  # [o, kt*c, kh, kw]
        # Space: (k-1)//2 before, the rest after -> "same" for stride 1, H/s for stride s | H.
        pad = [((kh - 1) // 2, kh - 1 - (kh - 1) // 2), ((kw - 1) // 2, kw - 1 - (kw - 1) // 2)]
        y = jax.lax.conv_general_dilated(frames, w2, (sh, sw), pad)  # [t_out, o, h/sh, w/sw]
        if self.bias is not None:
            y = y + self.bias[None, :, None, None]
        return jnp.moveaxis(y, 0, 1)  # [o, t_out, h/sh, w/sw]


class FrameGroupNorm(eqx.Module):
    """GroupNorm whose statistics are taken over each frame separately (keeps causality)."""

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
        g = x.reshape(self.groups, c // self.groups, t, h, w)  # [g, c/g, t, h, w]
        mean = g.mean(axis=(1, 3, 4), keepdims=True)  # [g, 1, t, 1, 1]
        var = g.var(axis=(1, 3, 4), keepdims=True)
        g = (g - mean) * jax.lax.rsqrt(var + self.eps)
        x = g.reshape(c, t, h, w)
        return x * self.weight[:, None, None, None] + self.bias[:, None, None, None]


class ResBlock(eqx.Module):
    """GN -> SiLU -> conv3 -> GN -> SiLU -> conv3, plus a (1x1x1 conv) shortcut (Table D rows)."""

    norm1: FrameGroupNorm
    conv1: CausalConv3d
    norm2: FrameGroupNorm
    conv2: CausalConv3d
    shortcut: CausalConv3d | None

    def __init__(self, in_channels: int, out_channels: int, *, groups: int, kt: int, key: PRNGKeyArray):
        k1, k2, k3 = jax.random.split(key, 3)
        self.norm1 = FrameGroupNorm(groups, in_channels)
        self.conv1 = CausalConv3d(in_channels, out_channels, (kt, 3, 3), use_bias=False, key=k1)
        self.norm2 = FrameGroupNorm(groups, out_channels)
        self.conv2 = CausalConv3d(out_channels, out_channels, (kt, 3, 3), use_bias=False, key=k2)
        self.shortcut = (
            None
            if in_channels == out_channels
            else CausalConv3d(in_channels, out_channels, (1, 1, 1), use_bias=False, key=k3)
        )

    def __call__(self, x: Float[Array, "c t h w"]) -> Float[Array, "c2 t h w"]:
        h = self.conv1(jax.nn.silu(self.norm1(x)))
        h = self.conv2(jax.nn.silu(self.norm2(h)))
        skip = x if self.shortcut is None else self.shortcut(x)
        return skip + h


def nearest_upsample(x: Float[Array, "c t h w"], time: int, space: int) -> Float[Array, "c t2 h2 w2"]:
    """Nearest-neighbour up-sampling; in time T -> 2T - 1 (frame 0 stays alone, causal)."""
    if time == 2:
        x = jnp.repeat(x, 2, axis=1)[:, 1:]  # [c, 2t - 1, h, w]
    if space > 1:
        x = jnp.repeat(jnp.repeat(x, space, axis=2), space, axis=3)  # [c, t, h*s, w*s]
    return x


class Upsample(eqx.Module):
    """Nearest up-sampling followed by a 3x3x3 causal conv (Table E, "Upsample + Conv3D")."""

    conv: CausalConv3d
    time: int = eqx.field(static=True)
    space: int = eqx.field(static=True)

    def __init__(self, in_channels: int, out_channels: int, *, time: int, space: int, kt: int, key: PRNGKeyArray):
        self.conv = CausalConv3d(in_channels, out_channels, (kt, 3, 3), key=key)
        self.time = time
        self.space = space

    def __call__(self, x: Float[Array, "c t h w"]) -> Float[Array, "c2 t2 h2 w2"]:
        return self.conv(nearest_upsample(x, self.time, self.space))
