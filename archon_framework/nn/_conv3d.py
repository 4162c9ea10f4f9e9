"""Causal 3-D convolution, per-frame GroupNorm and a residual block (MAGVIT-v2 style, one example).

Every module acts on one example, channel first: ``[channels, time, height, width]``; batch
with ``jax.vmap``. Shared by any plugin that encodes or decodes video-like tensors (the semantic
and image tokenizers, the video diffusion decoder).

Causality. Convolutions pad time by (k_t - 1, 0) and space symmetrically, so output frame t reads
input frames <= s * t for temporal stride s. MAGVIT-v2 (Yu et al., 2024) normalizes with GroupNorm
over (time, height, width), which lets future frames leak into past ones (lucidrains/
magvit2-pytorch#41, HunyuanVideo#219). :class:`FrameGroupNorm` takes its statistics **per frame**
instead (channels-in-group x height x width of each frame), so a network built from these blocks
is causal in time: a lone image encodes exactly like frame 0 of a video.

Initialization. With a concrete key, parameters are drawn with numpy from the key's bits: the same
values for the same key, without compiling one threefry graph per parameter shape (which dominates
the start-up time of small models on XLA:CPU). Under tracing (``eqx.filter_eval_shape``, jit) the
key is abstract and ``jax.random`` draws them.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

__all__ = ["CausalConv3d", "FrameGroupNorm", "ResBlock3d"]


class CausalConv3d(eqx.Module):
    """3-D convolution padded causally in time: (k_t - 1, 0) frames before, none after.

    Computed as one 2-D convolution over the frames (as a batch) whose input channels are the
    k_t time-shifted copies of the input: the same result as a 3-D convolution (tested), about
    10x faster on XLA:CPU, whose 3-D convolution kernels are slow. Weights have the shape of a
    3-D conv, ``[out, in, k_t, k_h, k_w]``, with PyTorch/Equinox default initialization
    (U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the weight and the bias).

    Space is padded by ``(k - 1) // 2`` before and the rest after: "same" for stride 1, and
    ``H / s`` outputs for a stride ``s`` that divides ``H``. Time: output frame ``j`` reads padded
    frames ``s_t * j .. s_t * j + k_t - 1``, so ``T`` frames give ``(T + pad - k_t) // s_t + 1``.

    Example:
        >>> conv = CausalConv3d(3, 8, (3, 3, 3), (1, 2, 2), key=jax.random.key(0))
        >>> conv(jnp.zeros((3, 5, 16, 16))).shape
        (8, 5, 8, 8)

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel: ``(k_t, k_h, k_w)``.
        stride: ``(s_t, s_h, s_w)``.
        use_bias: add a learned bias per output channel.
        time_padding: frames padded ``(before, after)``; default ``(k_t - 1, 0)`` (causal).
        key: PRNG key of the initialization (keyword-only).
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
        fan_in = in_channels * kernel[0] * kernel[1] * kernel[2]
        lim = 1.0 / fan_in**0.5
        w_shape, b_shape = (out_channels, in_channels, *kernel), (out_channels,)
        if isinstance(key, jax.core.Tracer):
            kw_, kb = jax.random.split(key)
            self.weight = jax.random.uniform(kw_, w_shape, minval=-lim, maxval=lim)
            self.bias = jax.random.uniform(kb, b_shape, minval=-lim, maxval=lim) if use_bias else None
        else:
            # One generator for weight then bias, in that order: the values saved models were
            # initialized with, so a seed keeps giving the same network.
            rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
            self.weight = jnp.asarray(rng.uniform(-lim, lim, w_shape), jnp.float32)
            self.bias = jnp.asarray(rng.uniform(-lim, lim, b_shape), jnp.float32) if use_bias else None
        self.stride = tuple(stride)  # type: ignore[assignment]
        self.time_padding = (kernel[0] - 1, 0) if time_padding is None else tuple(time_padding)  # type: ignore[assignment]

    def __call__(self, x: Float[Array, "c t h w"]) -> Float[Array, "c2 t2 h2 w2"]:
        """Convolve one example ``[in, T, H, W]`` to ``[out, T', H / s_h, W / s_w]``."""
        o, i, kt, kh, kw = self.weight.shape
        st, sh, sw = self.stride
        if x.ndim != 4 or x.shape[0] != i:
            raise ValueError(f"CausalConv3d expects [{i}, time, height, width], got input of shape {x.shape}")
        xp = jnp.pad(x, ((0, 0), self.time_padding, (0, 0), (0, 0)))  # [c, T + pad, h, w]
        t_out = (xp.shape[1] - kt) // st + 1
        # Frame j of the output reads padded frames st*j .. st*j + kt - 1.
        shifted = [xp[:, dt : dt + st * (t_out - 1) + 1 : st] for dt in range(kt)]  # kt x [c, t_out, h, w]
        frames = jnp.moveaxis(jnp.concatenate(shifted, axis=0), 1, 0)  # [t_out, kt*c, h, w]
        w2 = jnp.moveaxis(self.weight, 2, 1).reshape(o, kt * i, kh, kw)  # [o, kt*c, kh, kw]
        pad = [((kh - 1) // 2, kh - 1 - (kh - 1) // 2), ((kw - 1) // 2, kw - 1 - (kw - 1) // 2)]
        y = jax.lax.conv_general_dilated(frames, w2, (sh, sw), pad)  # [t_out, o, h/sh, w/sw]
        if self.bias is not None:
            y = y + self.bias[None, :, None, None]
        return jnp.moveaxis(y, 0, 1)  # [o, t_out, h/sh, w/sw]


class FrameGroupNorm(eqx.Module):
    """GroupNorm whose statistics are taken over each frame separately (keeps causality).

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``, mean and variance over the channels of
    one group and the height and width of one frame.

    Args:
        groups: number of channel groups; must divide ``channels``.
        channels: channels of the input.
        eps: added to the variance.
    """

    weight: Float[Array, " c"]
    bias: Float[Array, " c"]
    groups: int = eqx.field(static=True)
    eps: float = eqx.field(static=True)

    def __init__(self, groups: int, channels: int, eps: float = 1e-6):
        if groups < 1 or channels % groups:
            raise ValueError(f"FrameGroupNorm: {groups} groups do not divide {channels} channels")
        self.weight = jnp.ones((channels,), jnp.float32)
        self.bias = jnp.zeros((channels,), jnp.float32)
        self.groups = groups
        self.eps = eps

    def __call__(self, x: Float[Array, "c t h w"]) -> Float[Array, "c t h w"]:
        """Normalize one example ``[channels, T, H, W]`` frame by frame."""
        if x.ndim != 4 or x.shape[0] != self.weight.shape[0]:
            raise ValueError(f"FrameGroupNorm expects [{self.weight.shape[0]}, time, height, width], "
                             f"got input of shape {x.shape}")
        c, t, h, w = x.shape
        g = x.reshape(self.groups, c // self.groups, t, h, w)  # [g, c/g, t, h, w]
        mean = g.mean(axis=(1, 3, 4), keepdims=True)  # [g, 1, t, 1, 1]
        var = g.var(axis=(1, 3, 4), keepdims=True)
        g = (g - mean) * jax.lax.rsqrt(var + self.eps)
        x = g.reshape(c, t, h, w)
        return x * self.weight[:, None, None, None] + self.bias[:, None, None, None]


class ResBlock3d(eqx.Module):
    """GN -> SiLU -> conv -> GN -> SiLU -> conv, plus a 1x1x1 conv shortcut when widths differ.

    The residual block of MAGVIT-v2's encoder and decoder (Archon Tables D and E): both convs
    are ``(kt, 3, 3)``, causal and bias-free; the norms are :class:`FrameGroupNorm`.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        groups: GroupNorm groups (divide both widths).
        kt: temporal kernel size of the two convs (1 for images).
        key: PRNG key of the initialization (keyword-only).
    """

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
        """One example ``[in, T, H, W]`` to ``[out, T, H, W]``."""
        h = self.conv1(jax.nn.silu(self.norm1(x)))
        h = self.conv2(jax.nn.silu(self.norm2(h)))
        skip = x if self.shortcut is None else self.shortcut(x)
        return skip + h
