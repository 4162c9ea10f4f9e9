"""The WALT denoiser (Gupta et al., 2024) with Archon's semantic conditioning (paper Sec. 3.3, E.4).

Input of one example: the noisy latent video z_t [C, T, h, w] (T latent frames), the diffusion
time t in [0, 1], and the conditions:

- the **semantic video** (labels [F, S, S], F = 1 + D_t (T - 1)), encoded by a small causal CNN
  (one-hot labels, space-to-depth to the latent grid, a (D_t, 1, 1) conv with stride D_t, so the
  first frame is encoded alone like the autoencoder's) into [C_s, T, h, w] and **concatenated with
  z_t along the channel axis** (dense motion guidance);
- the **reference tokens**: the reference image latent [C, h, w] concatenated channel-wise with
  the encoded latent of the reference image's semantic mask [C_s, h, w] (Table I "w/o joint
  cross-attention": the image latent only), cut into patches;
- the **text embeddings** of the description (``_text.py``), joined to the reference tokens along
  the sequence axis: the cross-attention context. A learned null token is always present, so a
  fully dropped context is well defined;
- for chunk continuation (WALT's frame prediction), known latent frames and their mask, also
  concatenated along the channel axis.

Transformer: patchify (p x p latent cells per token), add learned spatial and temporal position
embeddings, then ``depth`` blocks alternating spatial-window (even) and spatio-temporal-window
(odd) self-attention (``_attention.py``), each followed by cross-attention to the context and an
MLP; the time embedding modulates every block through AdaLN-LoRA (a shared projection plus a
low-rank per-block correction, zero-initialized so every block starts as the identity). The output
is the v-prediction [C, T, h, w].
"""

from __future__ import annotations

import math
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from archon_video_walt._attention import MultiHeadAttention, window_partition, window_unpartition
from archon_video_walt._config import VideoConfig
from archon_video_walt._layers import (
    CausalConv3d,
    Dense,
    FrameGroupNorm,
    LayerNorm,
    depth_to_space,
    normal_init,
    space_to_depth,
)
from archon_video_walt._text import TextEncoder

__all__ = ["Conditions", "Context", "SemanticEncoder", "WaltBlock", "Denoiser", "NUM_LABELS"]

NUM_LABELS = 21


class Conditions(NamedTuple):
    """Raw conditions of one example (arrays; batch them with a leading axis and ``jax.vmap``).

    Attributes:
        semantic: int [F, S, S] label video of the chunk, F = 1 + D_t (T - 1).
        ref_latent: [C, h, w] normalized latent of the reference image.
        ref_mask: int [S, S] semantic mask of the reference image.
        text: int32 [max_bytes] description bytes + 1 (0 = padding).
        known: [C, T, h, w] known (clean, normalized) latent frames, zeros elsewhere.
        known_mask: bool [T], True for the known latent frames.
        drop: bool [3], True to replace (semantic, reference, text) by their learned nulls.
    """

    semantic: Int[Array, "f s s"]
    ref_latent: Float[Array, "c h w"]
    ref_mask: Int[Array, "s s"]
    text: Int[Array, " b"]
    known: Float[Array, "c t h w"]
    known_mask: Bool[Array, " t"]
    drop: Bool[Array, " 3"]


class Context(NamedTuple):
    """Conditions encoded once per sample, reused at every denoising step."""

    semantic: Float[Array, "cs t h w"]
    tokens: Float[Array, "m d"]
    mask: Bool[Array, " m"]
    known: Float[Array, "c t h w"]
    known_mask: Bool[Array, " t"]


class SemanticEncoder(eqx.Module):
    """Label video [F, S, S] -> features [C_s, 1 + (F - 1) / D_t, S / f, S / f] (causal in time).

    A learned embedding per label (a one-hot input and a linear layer, factorized), space-to-depth
    to the latent grid, a (D_t, 1, 1) conv with stride D_t (latent frame j reads frames
    D_t j - D_t + 1 .. D_t j, so frame 0 alone makes latent frame 0), then GroupNorm, SiLU and a
    1x1 conv. Spatial context is left to the transformer.
    """

    embed: Float[Array, "labels e"]
    group: CausalConv3d
    norm: FrameGroupNorm
    out: CausalConv3d
    factor: int = eqx.field(static=True)

    def __init__(self, cfg: VideoConfig, *, key: PRNGKeyArray):
        k0, k1, k3 = jax.random.split(key, 3)
        f, d_t, dn = cfg.semantic_downsample, cfg.autoencoder.temporal_downsample, cfg.denoiser
        self.factor = f
        self.embed = normal_init(k0, (NUM_LABELS, dn.semantic_embed), 1.0)
        self.group = CausalConv3d(dn.semantic_embed * f * f, dn.semantic_width, (d_t, 1, 1), (d_t, 1, 1), key=k1)
        self.norm = FrameGroupNorm(8, dn.semantic_width)
        self.out = CausalConv3d(dn.semantic_width, dn.semantic_channels, (1, 1, 1), key=k3)

    def __call__(self, labels: Int[Array, "f s s"]) -> Float[Array, "cs t h w"]:
        x = jnp.moveaxis(self.embed[labels.astype(jnp.int32)], -1, 0)  # [e, F, S, S]
        x = space_to_depth(x, self.factor)  # [e f^2, F, S/f, S/f]
        x = self.group(x)  # [width, T, h, w]
        return self.out(jax.nn.silu(self.norm(x)))  # [C_s, T, h, w]


def _modulate(x: Float[Array, "n d"], shift: Float[Array, " d"], scale: Float[Array, " d"]) -> Float[Array, "n d"]:
    return x * (1.0 + scale) + shift


class WaltBlock(eqx.Module):
    """Window self-attention, cross-attention to the context, MLP; AdaLN-LoRA modulated."""

    norm1: LayerNorm
    attn: MultiHeadAttention
    norm_cross: LayerNorm
    cross: MultiHeadAttention
    norm2: LayerNorm
    fc1: Dense
    fc2: Dense
    ada_down: Dense | None
    ada_up: Dense
    spatiotemporal: bool = eqx.field(static=True)
    window: tuple[int, int] = eqx.field(static=True)
    causal: bool = eqx.field(static=True)

    def __init__(self, width: int, heads: int, mlp_ratio: float, *, spatiotemporal: bool, window: tuple[int, int],
                 causal: bool, adaln_rank: int, key: PRNGKeyArray):
        ks = jax.random.split(key, 6)
        hidden = int(width * mlp_ratio)
        self.norm1 = LayerNorm(width, affine=False)
        self.attn = MultiHeadAttention(width, heads, key=ks[0])
        self.norm_cross = LayerNorm(width)
        self.cross = MultiHeadAttention(width, heads, key=ks[1])
        self.norm2 = LayerNorm(width, affine=False)
        self.fc1 = Dense(width, hidden, key=ks[2])
        self.fc2 = Dense(hidden, width, key=ks[3])
        if adaln_rank > 0:  # AdaLN-LoRA: A_l = A + W_up^l W_down^l c
            self.ada_down = Dense(width, adaln_rank, use_bias=False, key=ks[4])
            self.ada_up = Dense(adaln_rank, 6 * width, use_bias=False, zero_init=True, key=ks[5])
        else:  # a full projection per block (DiT's adaLN-Zero)
            self.ada_down = None
            self.ada_up = Dense(width, 6 * width, zero_init=True, key=ks[5])
        self.spatiotemporal = spatiotemporal
        self.window = tuple(window)
        self.causal = causal

    def self_attention(self, x: Float[Array, "t h w d"]) -> Float[Array, "t h w d"]:
        """Window attention over the token grid (no modulation, no residual)."""
        t, h, w, _ = x.shape
        win = (t, *self.window) if self.spatiotemporal else (1, h, w)
        parts = window_partition(x, win)  # [windows, k, d]
        mask = None
        if self.spatiotemporal and self.causal:
            frame = jnp.repeat(jnp.arange(t), self.window[0] * self.window[1])  # [k]: latent frame of each token
            mask = frame[None, :] <= frame[:, None]  # [k, k]: see the same or earlier frames
        out = jax.vmap(lambda p: self.attn(p, mask=mask))(parts)
        return window_unpartition(out, win, (t, h, w))

    def __call__(self, x: Float[Array, "t h w d"], cond: Float[Array, " d"], shared: Float[Array, " d6"],
                 context: Float[Array, "m d"], context_mask: Bool[Array, " m"]) -> Float[Array, "t h w d"]:
        mod = shared + (self.ada_up(self.ada_down(cond)) if self.ada_down is not None else self.ada_up(cond))
        shift1, scale1, gate1, shift2, scale2, gate2 = jnp.split(mod, 6)
        grid = x.shape
        x = x + gate1 * self.self_attention(_modulate(self.norm1(x), shift1, scale1))
        flat = x.reshape(-1, grid[-1])  # [T*H*W, d]
        flat = flat + self.cross(self.norm_cross(flat), context, context_mask)
        h = self.fc2(jax.nn.gelu(self.fc1(_modulate(self.norm2(flat), shift2, scale2))))
        return (flat + gate2 * h).reshape(grid)


def timestep_embedding(t: Float[Array, ""], dim: int) -> Float[Array, " dim"]:
    """Sinusoidal features of 1000 t (DDPM / DiT convention)."""
    half = dim // 2
    freqs = jnp.exp(-math.log(10_000.0) * jnp.arange(half) / half)
    args = 1000.0 * t * freqs
    return jnp.concatenate([jnp.cos(args), jnp.sin(args)])


class Denoiser(eqx.Module):
    """v-prediction network; acts on one example, ``jax.vmap`` for batches."""

    semantic_encoder: SemanticEncoder
    text_encoder: TextEncoder | None
    patch_in: Dense
    pos_space: Float[Array, "n d"]
    pos_time: Float[Array, "tmax d"]
    ref_in: Dense
    ref_pos: Float[Array, "r d"]
    null_token: Float[Array, "1 d"]
    null_semantic: Float[Array, " cs"]
    time_in: Dense
    time_out: Dense
    ada_shared: Dense
    blocks: list[WaltBlock]
    final_norm: LayerNorm
    final_ada: Dense
    out: Dense
    config: VideoConfig = eqx.field(static=True)

    def __init__(self, config: VideoConfig, *, key: PRNGKeyArray):
        dn, cond = config.denoiser, config.conditioning
        c, cs, d, p, q = config.autoencoder.latent_channels, dn.semantic_channels, dn.width, dn.patch, dn.context_patch
        grid = config.latent_size
        ks = iter(jax.random.split(key, 16 + dn.depth))
        self.config = config
        self.semantic_encoder = SemanticEncoder(config, key=next(ks))
        self.text_encoder = TextEncoder(config.text, d, key=next(ks)) if cond.text else None
        self.patch_in = Dense((2 * c + cs + 1) * p * p, d, key=next(ks))
        self.pos_space = normal_init(next(ks), ((grid // p) ** 2, d), 0.02)
        self.pos_time = normal_init(next(ks), (dn.max_latent_frames, d), 0.02)
        ref_channels = c + cs if cond.joint_cross_attention else c
        self.ref_in = Dense(ref_channels * q * q, d, key=next(ks))
        self.ref_pos = normal_init(next(ks), ((grid // q) ** 2, d), 0.02)
        self.null_token = normal_init(next(ks), (1, d), 0.02)
        self.null_semantic = normal_init(next(ks), (cs,), 0.02)
        self.time_in = Dense(256, d, key=next(ks))
        self.time_out = Dense(d, d, key=next(ks))
        self.ada_shared = Dense(d, 6 * d, zero_init=True, key=next(ks))
        self.blocks = [
            WaltBlock(d, dn.heads, dn.mlp_ratio, spatiotemporal=i % 2 == 1, window=dn.window,
                      causal=dn.causal_time, adaln_rank=dn.adaln_rank, key=next(ks))
            for i in range(dn.depth)
        ]
        self.final_norm = LayerNorm(d, affine=False)
        self.final_ada = Dense(d, 2 * d, zero_init=True, key=next(ks))
        self.out = Dense(d, c * p * p, zero_init=True, key=next(ks))

    # ------------------------------------------------------------------ conditions
    def encode_conditions(self, cond: Conditions) -> Context:
        """Encode the conditions of one example once (reused by every denoising step)."""
        drop_sem, drop_ref, drop_text = cond.drop[0], cond.drop[1], cond.drop[2]
        sem = self.semantic_encoder(cond.semantic)  # [C_s, T, h, w]
        sem = jnp.where(drop_sem, self.null_semantic[:, None, None, None], sem)
        ref = cond.ref_latent  # [C, h, w]
        if self.config.conditioning.joint_cross_attention:
            mask_latent = self.semantic_encoder(cond.ref_mask[None])[:, 0]  # [C_s, h, w]: the mask as a 1-frame video
            ref = jnp.concatenate([ref, mask_latent], axis=0)  # [C + C_s, h, w]
        q = self.config.denoiser.context_patch
        ref_tokens = space_to_depth(ref[:, None], q)[:, 0]  # [ch q^2, h/q, w/q]
        ref_tokens = self.ref_in(ref_tokens.reshape(ref_tokens.shape[0], -1).T) + self.ref_pos  # [r, d]
        tokens = [self.null_token, ref_tokens]
        masks = [jnp.ones((1,), bool), jnp.broadcast_to(~drop_ref, (ref_tokens.shape[0],))]
        if self.text_encoder is not None:
            text, valid = self.text_encoder(cond.text)  # [n, d], [n]
            tokens.append(text)
            masks.append(valid & ~drop_text)
        return Context(sem, jnp.concatenate(tokens), jnp.concatenate(masks), cond.known, cond.known_mask)

    # ------------------------------------------------------------------ denoising
    def denoise(self, z: Float[Array, "c t h w"], t: Float[Array, ""], ctx: Context) -> Float[Array, "c t h w"]:
        """v-prediction for the noisy latents ``z`` at time ``t`` given encoded conditions."""
        c, n_t, h, w = z.shape
        p, d = self.config.denoiser.patch, self.config.denoiser.width
        if n_t > self.pos_time.shape[0]:
            raise ValueError(f"{n_t} latent frames exceed denoiser.max_latent_frames={self.pos_time.shape[0]}")
        if ctx.semantic.shape[1:] != (n_t, h, w) or ctx.known.shape != z.shape:
            d_t = self.config.autoencoder.temporal_downsample
            raise ValueError(
                f"the latents {tuple(z.shape)} need a semantic video of 1 + {d_t} * ({n_t} - 1) = {1 + d_t * (n_t - 1)} "
                f"frames and known latents of the same shape; got semantic features {tuple(ctx.semantic.shape)} "
                f"and known latents {tuple(ctx.known.shape)}"
            )
        m = ctx.known_mask.astype(z.dtype)[None, :, None, None]  # [1, T, 1, 1]
        known = ctx.known * m
        x = jnp.concatenate([z, ctx.semantic, known, jnp.broadcast_to(m, (1, n_t, h, w))], axis=0)
        x = jnp.moveaxis(space_to_depth(x, p), 0, -1)  # [T, h/p, w/p, C_in p^2]
        x = self.patch_in(x) + self.pos_space.reshape(h // p, w // p, d) + self.pos_time[:n_t, None, None]
        cond = self.time_out(jax.nn.silu(self.time_in(timestep_embedding(t, 256))))  # [d]
        cond = jax.nn.silu(cond)
        shared = self.ada_shared(cond)
        for block in self.blocks:
            x = block(x, cond, shared, ctx.tokens, ctx.mask)
        shift, scale = jnp.split(self.final_ada(cond), 2)
        x = self.out(_modulate(self.final_norm(x), shift, scale))  # [T, h/p, w/p, C p^2]
        x = jnp.moveaxis(x, -1, 0)  # [C p^2, T, h/p, w/p]
        return depth_to_space(x, p)  # [C, T, h, w]

    def __call__(self, z: Float[Array, "c t h w"], t: Float[Array, ""], cond: Conditions) -> Float[Array, "c t h w"]:
        return self.denoise(z, t, self.encode_conditions(cond))

