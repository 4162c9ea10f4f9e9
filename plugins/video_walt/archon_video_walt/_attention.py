"""Window attention of WALT (Gupta et al., 2024) and cross-attention, on one example.

Tokens of a latent video are laid out as a grid ``[T, H, W, d]``. WALT alternates two kinds of
self-attention blocks, both computed by cutting the grid into non-overlapping windows, attending
inside each window and putting the windows back:

- **spatial window (SW)**: window 1 x H x W, every token of one latent frame; frames never see
  each other;
- **spatio-temporal window (STW)**: window T x h_w x w_w, a spatial patch of h_w x w_w tokens
  across every latent frame; with ``causal=True`` a token attends only to the same or earlier
  latent frames (WALT's causal design: the first frame, an image, never depends on the video).

Example of :func:`window_partition` with T = 2, H = W = 4 and an STW window (2, 2, 2): 4 windows
of 8 tokens; window 0 holds rows 0-1, cols 0-1 of both frames, frame 0 first.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, PRNGKeyArray

from archon_video_walt._layers import Dense

__all__ = ["window_partition", "window_unpartition", "MultiHeadAttention", "attention"]


def window_partition(x: Float[Array, "t h w d"], window: tuple[int, int, int]) -> Float[Array, "n k d"]:
    """[T, H, W, d] -> [windows, wt * wh * ww, d]; windows in (t, h, w) order, tokens time-major."""
    t, h, w, d = x.shape
    wt, wh, ww = window
    if t % wt or h % wh or w % ww:
        raise ValueError(f"window {window} does not tile the token grid {(t, h, w)}")
    x = x.reshape(t // wt, wt, h // wh, wh, w // ww, ww, d)
    x = x.transpose(0, 2, 4, 1, 3, 5, 6)  # [nt, nh, nw, wt, wh, ww, d]
    return x.reshape(-1, wt * wh * ww, d)


def window_unpartition(x: Float[Array, "n k d"], window: tuple[int, int, int],
                       grid: tuple[int, int, int]) -> Float[Array, "t h w d"]:
    """Inverse of :func:`window_partition` for a token grid of shape ``grid`` = (T, H, W)."""
    t, h, w = grid
    wt, wh, ww = window
    d = x.shape[-1]
    x = x.reshape(t // wt, h // wh, w // ww, wt, wh, ww, d)
    x = x.transpose(0, 3, 1, 4, 2, 5, 6)  # [nt, wt, nh, wh, nw, ww, d]
    return x.reshape(t, h, w, d)


def attention(q: Float[Array, "n h dk"], k: Float[Array, "m h dk"], v: Float[Array, "m h dk"],
              mask: Bool[Array, "n m"] | Bool[Array, " m"] | None) -> Float[Array, "n h dk"]:
    """Scaled dot-product attention per head; ``mask`` True where a query may see a key.

    Every query row must see at least one key (the callers guarantee it).
    """
    logits = jnp.einsum("nhd,mhd->hnm", q, k) / math.sqrt(q.shape[-1])  # [heads, n, m]
    if mask is not None:
        logits = jnp.where(mask if mask.ndim == 2 else mask[None, :], logits, -1e30)
    weights = jax.nn.softmax(logits, axis=-1)
    return jnp.einsum("hnm,mhd->nhd", weights, v)


class MultiHeadAttention(eqx.Module):
    """Multi-head attention with separate query and key/value inputs (self- or cross-attention).

    Queries and keys are RMS-normalized per head (QK-norm), which keeps the logits bounded and
    training stable at high learning rates.
    """

    to_q: Dense
    to_kv: Dense
    to_out: Dense
    heads: int = eqx.field(static=True)

    def __init__(self, width: int, heads: int, *, kv_width: int | None = None, key: PRNGKeyArray):
        kq, kkv, ko = jax.random.split(key, 3)
        self.to_q = Dense(width, width, use_bias=False, key=kq)
        self.to_kv = Dense(kv_width or width, 2 * width, use_bias=False, key=kkv)
        self.to_out = Dense(width, width, zero_init=True, key=ko)
        self.heads = heads

    def __call__(self, x: Float[Array, "n d"], context: Float[Array, "m dc"] | None = None,
                 mask: Bool[Array, "n m"] | Bool[Array, " m"] | None = None) -> Float[Array, "n d"]:
        context = x if context is None else context
        n, d = x.shape
        dk = d // self.heads
        q = self.to_q(x).reshape(n, self.heads, dk)
        k, v = jnp.split(self.to_kv(context), 2, axis=-1)
        k = k.reshape(-1, self.heads, dk)
        v = v.reshape(-1, self.heads, dk)
        q = q * jax.lax.rsqrt(jnp.mean(q**2, -1, keepdims=True) + 1e-6)
        k = k * jax.lax.rsqrt(jnp.mean(k**2, -1, keepdims=True) + 1e-6)
        out = attention(q * math.sqrt(math.sqrt(dk)), k * math.sqrt(math.sqrt(dk)), v, mask)
        return self.to_out(out.reshape(n, d))
