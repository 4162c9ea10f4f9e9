"""The PaLM decoder block: RMSNorm, rotary positions, multi-query attention, SwiGLU.

Every layer acts on one example (``[seq, embed]``); batch with ``jax.vmap``. No layer has a bias.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from archon_framework.model._config import PrefixLMConfig

__all__ = ["RMSNorm", "Attention", "SwiGLU", "Block", "apply_rope", "rope_positions"]


def _fan_in_normal(
    key: PRNGKeyArray, shape: tuple[int, int], dtype: jnp.dtype
) -> Float[Array, "fan_in fan_out"]:
    """PaLM's kernel init: N(0, 1/fan_in), the fan-in being the first axis."""
    return (jax.random.normal(key, shape, jnp.float32) * shape[0] ** -0.5).astype(dtype)


class RMSNorm(eqx.Module):
    """Root-mean-square norm with a learned scale and no bias (PaLM Sec. 2, "No biases").

    ``y = x / sqrt(mean(x^2) + eps) * scale``, computed in float32.
    """

    scale: Float[Array, " embed"]
    eps: float = eqx.field(static=True)

    def __init__(self, dim: int, *, eps: float = 1e-6, dtype: jnp.dtype = jnp.float32):
        self.scale = jnp.ones((dim,), dtype)
        self.eps = eps

    def __call__(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
        x32 = x.astype(jnp.float32)
        inv = jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + self.eps)
        scale = self.scale.astype(jnp.float32).reshape((1,) * (x.ndim - 1) + self.scale.shape)  # [1.., embed]
        return (x32 * inv * scale).astype(x.dtype)


def rope_positions(
    place: Int[Array, "*seq"], time: Int[Array, "*seq"] | Int[Array, "*seq 3"] | None = None
) -> Int[Array, "*seq 4"]:
    """Rotary positions of every axis, ``[..., 4]``: each token's place, time, row and column; what
    ``apply_rope`` reads (each model the axes it rotates by).

    ``time`` is each token's time (``archon_framework.token_times``), or its time, row and column
    (``[..., 3]``, ``PromptSerializer.slot_times`` of a serializer with a raster modality); what
    it does not give is 0 (None: all 0)."""
    place = jnp.asarray(place, jnp.int32)
    if time is None:
        rest = jnp.zeros((*place.shape, 3), jnp.int32)
    else:
        time = jnp.asarray(time, jnp.int32)
        if time.ndim == place.ndim:
            time = jnp.stack([time, jnp.zeros_like(time), jnp.zeros_like(time)], axis=-1)
        rest = time
    return jnp.concatenate([place[..., None], rest], axis=-1)


SPACE_BASE = 32.0
"""Frequency ladder of the row and column pairs, ``SPACE_BASE ** (-j / k)`` for ``k`` pairs an axis:
from 1 radian per grid step down towards ``1 / SPACE_BASE`` (0.075 with ``small_spatial``'s 4; the
grid has ``archon_framework.GRID_STEPS = 32`` rows), so the pairs tell neighbouring cells apart and
still see across the frame."""


def _ladder(base: float, n: int) -> Float[Array, " n"]:
    return base ** (-jnp.arange(n, dtype=jnp.float32) / n)


def apply_rope(
    x: Float[Array, "seq heads head"],
    positions: Int[Array, " seq"] | Int[Array, "seq axes"],
    base: float,
    time_pairs: int = 0,
    space_pairs: int = 0,
) -> Float[Array, "seq heads head"]:
    """Rotary position embedding (Su et al. 2021), "rotate_half" (GPT-NeoX) convention.

    The head is split into halves ``(x1, x2)`` rotated pairwise by ``positions * base^(-2i/d)``.
    The convention matters for loading foreign checkpoints: GPT-J's interleaved pairs differ.

    With ``time_pairs > 0`` the rotation has two axes (time-aligned multimodal RoPE, as
    Qwen2.5-Omni's TMRoPE and Qwen2-VL's M-RoPE): ``positions`` is ``[seq, 2]`` (column 0 the
    token's place in its example, column 1 its time, see ``archon_framework.token_times``); the
    first ``half - time_pairs`` pairs rotate by the place, the last ``time_pairs`` by the time,
    each axis over its own frequency ladder. A ``[seq, 2]`` array with ``time_pairs == 0`` uses
    column 0 only, so one batch layout serves both kinds of model.

    With ``space_pairs > 0`` (even) ``positions`` is ``[seq, 4]`` (place, time, row, column;
    ``archon_framework.token_grid``) and the last ``space_pairs`` pairs turn half by the row, half
    by the column, over the ``SPACE_BASE`` ladder, after the place's and the time's: M-RoPE's
    spatial axes, so a semantic code and the image codes of the patch it covers meet at one
    offset wherever each sits in the example. Columns a model does not rotate by are ignored.

    Raises:
        ValueError: the model rotates by time or by place in the frame and ``positions`` lacks
            that column.
    """
    half = x.shape[-1] // 2
    width = 1 if positions.ndim == 1 else positions.shape[1]
    if (time_pairs and width < 2) or (space_pairs and width < 4):
        need = "[seq, 4] (place, time, row, column)" if space_pairs else "[seq, 2] (place, time)"
        raise ValueError(
            f"this model rotates {time_pairs + space_pairs} of its {half} rotary pairs by token time or place in "
            f"the frame: pass positions {need}, not shape {tuple(positions.shape)}"
        )
    place = positions if positions.ndim == 1 else positions[:, 0]
    n_place = half - time_pairs - space_pairs
    angles = [place.astype(jnp.float32)[:, None] * _ladder(base, n_place)[None, :]]  # [seq, n_place]
    if time_pairs:
        angles.append(positions[:, 1].astype(jnp.float32)[:, None] * _ladder(base, time_pairs)[None, :])
    if space_pairs:
        ladder = _ladder(SPACE_BASE, space_pairs // 2)[None, :]
        angles += [positions[:, 2].astype(jnp.float32)[:, None] * ladder, positions[:, 3].astype(jnp.float32)[:, None] * ladder]
    angle = jnp.concatenate(angles, axis=-1)  # [seq, half]
    cos = jnp.cos(angle)[:, None, :]  # [seq, 1, half]
    sin = jnp.sin(angle)[:, None, :]
    x32 = x.astype(jnp.float32)
    x1, x2 = x32[..., :half], x32[..., half:]
    rotated = jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)
    return rotated.astype(x.dtype)


class Attention(eqx.Module):
    """Multi-query / grouped-query self-attention with RoPE (PaLM Sec. 2; Shazeer 2019).

    ``n_heads`` query heads share ``n_kv_heads`` key/value heads (1 = multi-query). Scores are
    ``q k^T / sqrt(d_head)`` with a boolean mask; masked entries get the float32 minimum rather
    than ``-inf``, so a query with no visible key (a pad) yields finite values instead of NaN.
    """

    wq: Float[Array, "embed qdim"]
    wk: Float[Array, "embed kvdim"]
    wv: Float[Array, "embed kvdim"]
    wo: Float[Array, "qdim embed"]
    n_heads: int = eqx.field(static=True)
    n_kv_heads: int = eqx.field(static=True)
    head_dim: int = eqx.field(static=True)
    rope_base: float = eqx.field(static=True)
    time_pairs: int = eqx.field(static=True)
    space_pairs: int = eqx.field(static=True)

    def __init__(self, config: PrefixLMConfig, *, key: PRNGKeyArray):
        kq, kk, kv, ko = jax.random.split(key, 4)
        d, h, hkv, dh = config.d_model, config.n_heads, config.n_kv_heads, config.head_dim
        dt = config.jnp_dtype
        self.wq = _fan_in_normal(kq, (d, h * dh), dt)
        self.wk = _fan_in_normal(kk, (d, hkv * dh), dt)
        self.wv = _fan_in_normal(kv, (d, hkv * dh), dt)
        self.wo = _fan_in_normal(ko, (h * dh, d), dt)
        self.n_heads, self.n_kv_heads, self.head_dim = h, hkv, dh
        self.rope_base = config.rope_base
        self.time_pairs = config.time_pairs
        self.space_pairs = config.space_pairs

    def project(
        self, x: Float[Array, "seq embed"], positions: Int[Array, " seq"] | Int[Array, "seq axes"]
    ) -> tuple[
        Float[Array, "seq heads head"],
        Float[Array, "seq kv_heads head"],
        Float[Array, "seq kv_heads head"],
    ]:
        """Queries, keys and values, with RoPE applied to queries and keys."""
        seq = x.shape[0]
        q = (x @ self.wq).reshape(seq, self.n_heads, self.head_dim)  # [seq, heads, head]
        k = (x @ self.wk).reshape(seq, self.n_kv_heads, self.head_dim)  # [seq, kv_heads, head]
        v = (x @ self.wv).reshape(seq, self.n_kv_heads, self.head_dim)
        rope = lambda t: apply_rope(t, positions, self.rope_base, self.time_pairs, self.space_pairs)  # noqa: E731
        return rope(q), rope(k), v

    def attend(
        self,
        q: Float[Array, "q_seq heads head"],
        k: Float[Array, "k_seq kv_heads head"],
        v: Float[Array, "k_seq kv_heads head"],
        mask: Bool[Array, "q_seq k_seq"],
    ) -> Float[Array, "q_seq embed"]:
        """Masked softmax attention of ``q`` over ``k, v`` followed by the output projection."""
        q_seq, k_seq = q.shape[0], k.shape[0]
        group = self.n_heads // self.n_kv_heads
        qg = q.reshape(q_seq, self.n_kv_heads, group, self.head_dim)  # [q, kv_heads, group, head]
        scores = jnp.einsum("qkgd,skd->kgqs", qg, k, preferred_element_type=jnp.float32)
        scores = scores * self.head_dim**-0.5  # [kv_heads, group, q, k_seq]
        scores = jnp.where(mask[None, None], scores, jnp.finfo(jnp.float32).min)
        weights = jax.nn.softmax(scores, axis=-1).astype(v.dtype)
        out = jnp.einsum("kgqs,skd->qkgd", weights, v)  # [q, kv_heads, group, head]
        del k_seq
        return out.reshape(q_seq, self.n_heads * self.head_dim) @ self.wo  # [q, embed]

    def __call__(
        self,
        x: Float[Array, "seq embed"],
        positions: Int[Array, " seq"] | Int[Array, "seq axes"],
        mask: Bool[Array, "seq seq"],
    ) -> Float[Array, "seq embed"]:
        q, k, v = self.project(x, positions)
        return self.attend(q, k, v, mask)


class SwiGLU(eqx.Module):
    """The SwiGLU MLP of PaLM (Shazeer 2020): ``(swish(x W) * (x V)) W2``, no biases."""

    w_gate: Float[Array, "embed ff"]
    w_up: Float[Array, "embed ff"]
    w_down: Float[Array, "ff embed"]

    def __init__(self, config: PrefixLMConfig, *, key: PRNGKeyArray):
        kg, ku, kd = jax.random.split(key, 3)
        d, f, dt = config.d_model, config.d_ff, config.jnp_dtype
        self.w_gate = _fan_in_normal(kg, (d, f), dt)
        self.w_up = _fan_in_normal(ku, (d, f), dt)
        self.w_down = _fan_in_normal(kd, (f, d), dt)

    def __call__(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
        hidden = jax.nn.silu(x @ self.w_gate) * (x @ self.w_up)  # [seq, ff]
        return hidden @ self.w_down  # [seq, embed]


class Block(eqx.Module):
    """One decoder block (PaLM Sec. 2).

    Parallel (PaLM): ``y = x + Attn(N(x)) + MLP(N(x))`` with one shared RMSNorm ``N``.
    Sequential (pre-norm): ``h = x + Attn(N1(x)); y = h + MLP(N2(h))``.
    """

    norm_attn: RMSNorm
    norm_mlp: RMSNorm | None
    attention: Attention
    mlp: SwiGLU
    parallel: bool = eqx.field(static=True)

    def __init__(self, config: PrefixLMConfig, *, key: PRNGKeyArray):
        ka, km = jax.random.split(key)
        dt = config.jnp_dtype
        self.parallel = config.parallel_block
        self.norm_attn = RMSNorm(config.d_model, dtype=dt)
        self.norm_mlp = None if config.parallel_block else RMSNorm(config.d_model, dtype=dt)
        self.attention = Attention(config, key=ka)
        self.mlp = SwiGLU(config, key=km)

    def finish(
        self,
        x: Float[Array, "seq embed"],
        normed: Float[Array, "seq embed"],
        attn_out: Float[Array, "seq embed"],
    ) -> Float[Array, "seq embed"]:
        """Adds the attention output and the MLP branch to the residual stream."""
        if self.parallel:
            return x + attn_out + self.mlp(normed)
        h = x + attn_out
        assert self.norm_mlp is not None  # internal invariant: sequential blocks own a second norm
        return h + self.mlp(self.norm_mlp(h))

    def __call__(
        self,
        x: Float[Array, "seq embed"],
        positions: Int[Array, " seq"] | Int[Array, "seq axes"],
        mask: Bool[Array, "seq seq"],
    ) -> Float[Array, "seq embed"]:
        normed = self.norm_attn(x)
        return self.finish(x, normed, self.attention(normed, positions, mask))
