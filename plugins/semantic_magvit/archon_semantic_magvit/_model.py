"""The MAGVIT-v2-style causal 3-D CNN autoencoder with LFQ (Archon Sec. 3.1, C.1, Tables D/E).

Encoder (Table D): 3x3x3 stem conv with stride (1, s, s) (s = 2 in Archon's semantic variant),
then N - 1 stages of N_res ResBlocks and a (4, 4, 4) down-sampling conv with stride (S_t, 2, 2),
then N_res ResBlocks, GroupNorm + SiLU and a 1x1x1 conv to D_emb = K channels. Latents are
quantized by LFQ (sign, 2^K implicit codes). Decoder (Table E): 3x3x3 conv and N_res ResBlocks
at the widest width, N - 1 stages of ResBlocks + nearest up-sampling + 3x3x3 conv, GroupNorm +
SiLU, a final spatial x2 up-sampling block when s = 2, and a 3x3x3 conv to the output channels.

With temporal strides (1, 2, 2), T = 1 + 4n frames give 1 + n latent frames (17 -> 5, 1 -> 1).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from archon_semantic_magvit._config import MagvitConfig
from archon_semantic_magvit._layers import CausalConv3d, FrameGroupNorm, ResBlock, Upsample
from archon_semantic_magvit._lfq import LFQOutput, indices_to_codes, lfq

__all__ = ["Encoder", "Decoder", "Magvit", "init_magvit"]


class Encoder(eqx.Module):
    """Table D: video [C_in, T, H, W] -> latents [K, T', H', W'] (before quantization)."""

    stem: CausalConv3d
    stages: list[tuple[list[ResBlock], CausalConv3d]]
    mid: list[ResBlock]
    norm_out: FrameGroupNorm
    conv_out: CausalConv3d

    def __init__(self, cfg: MagvitConfig, *, key: PRNGKeyArray):
        kt = 3 if cfg.temporal else 1
        kd = 4 if cfg.temporal else 1
        ch = [cfg.base_channels * m for m in cfg.channel_multipliers]
        keys = iter(jax.random.split(key, 4 + len(ch) * (cfg.num_res_blocks + 1) + cfg.num_res_blocks))
        s = cfg.stem_stride
        self.stem = CausalConv3d(cfg.in_channels, ch[0], (kt, 3, 3), (1, s, s), key=next(keys))
        self.stages = []
        for i, st in enumerate(cfg.temporal_strides):
            blocks = [
                ResBlock(ch[i], ch[i], groups=cfg.norm_groups, kt=kt, key=next(keys))
                for _ in range(cfg.num_res_blocks)
            ]
            down = CausalConv3d(ch[i], ch[i + 1], (kd, 4, 4), (st, 2, 2), key=next(keys))
            self.stages.append((blocks, down))
        self.mid = [
            ResBlock(ch[-1], ch[-1], groups=cfg.norm_groups, kt=kt, key=next(keys))
            for _ in range(cfg.num_res_blocks)
        ]
        self.norm_out = FrameGroupNorm(cfg.norm_groups, ch[-1])
        self.conv_out = CausalConv3d(ch[-1], cfg.embedding_dim, (1, 1, 1), key=next(keys))

    def __call__(self, x: Float[Array, "c t h w"]) -> Float[Array, "k t2 h2 w2"]:
        x = self.stem(x)  # [F*M_0, T, H/s, W/s]
        for blocks, down in self.stages:
            for block in blocks:
                x = block(x)
            x = down(x)  # [F*M_{i+1}, (T_i-1)//S_t + 1, H_i/2, W_i/2]
        for block in self.mid:
            x = block(x)
        return self.conv_out(jax.nn.silu(self.norm_out(x)))  # [K, T', H', W']


class Decoder(eqx.Module):
    """Table E: quantized latents [K, T', H', W'] -> video [C_out, T, H, W]."""

    conv_in: CausalConv3d
    mid: list[ResBlock]
    stages: list[tuple[list[ResBlock], Upsample]]
    norm_out: FrameGroupNorm
    final_up: Upsample | None
    conv_out: CausalConv3d

    def __init__(self, cfg: MagvitConfig, *, key: PRNGKeyArray):
        kt = 3 if cfg.temporal else 1
        ch = [cfg.base_channels * m for m in cfg.channel_multipliers]
        keys = iter(jax.random.split(key, 4 + len(ch) * (cfg.num_res_blocks + 1) + cfg.num_res_blocks))
        self.conv_in = CausalConv3d(cfg.embedding_dim, ch[-1], (kt, 3, 3), key=next(keys))
        self.mid = [
            ResBlock(ch[-1], ch[-1], groups=cfg.norm_groups, kt=kt, key=next(keys))
            for _ in range(cfg.num_res_blocks)
        ]
        self.stages = []
        for i in reversed(range(len(cfg.temporal_strides))):
            blocks = [
                ResBlock(ch[i + 1], ch[i + 1], groups=cfg.norm_groups, kt=kt, key=next(keys))
                for _ in range(cfg.num_res_blocks)
            ]
            up = Upsample(ch[i + 1], ch[i], time=cfg.temporal_strides[i], space=2, kt=kt, key=next(keys))
            self.stages.append((blocks, up))
        self.norm_out = FrameGroupNorm(cfg.norm_groups, ch[0])
        self.final_up = (
            Upsample(ch[0], cfg.base_channels, time=1, space=cfg.stem_stride, kt=kt, key=next(keys))
            if cfg.stem_stride > 1
            else None
        )
        out_in = cfg.base_channels if cfg.stem_stride > 1 else ch[0]
        self.conv_out = CausalConv3d(out_in, cfg.out_channels, (kt, 3, 3), key=next(keys))

    def __call__(self, z: Float[Array, "k t2 h2 w2"]) -> Float[Array, "c t h w"]:
        x = self.conv_in(z)  # [F*M_last, T', H', W']
        for block in self.mid:
            x = block(x)
        for blocks, up in self.stages:
            for block in blocks:
                x = block(x)
            x = up(x)  # [F*M_i, 2T_{i+1} - 1 (or T_{i+1}), 2H_{i+1}, 2W_{i+1}]
        x = jax.nn.silu(self.norm_out(x))
        if self.final_up is not None:
            x = self.final_up(x)  # [F, T, H, W]
        return self.conv_out(x)  # [C_out, T, H, W]


class Magvit(eqx.Module):
    """Encoder + LFQ + decoder. Acts on one example; vmap for batches.

    Video tensors are channel first, ``[C, T, H, W]``, values in [-1, 1]; token grids are
    ``[T', H', W']`` int32 ids, bits LSB-first (see :mod:`archon_semantic_magvit._lfq`).
    """

    encoder: Encoder
    decoder: Decoder
    config: MagvitConfig = eqx.field(static=True)

    def __init__(self, config: MagvitConfig, *, key: PRNGKeyArray):
        ke, kd = jax.random.split(key)
        self.encoder = Encoder(config, key=ke)
        self.decoder = Decoder(config, key=kd)
        self.config = config

    def quantize(
        self, x: Float[Array, "c t h w"], *, entropy_tau: float = 0.01, group_size: int = 9
    ) -> LFQOutput:
        """Encode and quantize; ``quantized`` is channel last, [T', H', W', K]."""
        z = self.encoder(x)  # [K, T', H', W']
        return lfq(jnp.moveaxis(z, 0, -1), entropy_tau=entropy_tau, group_size=group_size)

    def encode(self, x: Float[Array, "c t h w"]) -> Int[Array, "t2 h2 w2"]:
        """Video -> token grid of int32 ids in [0, 2^K)."""
        z = jnp.moveaxis(self.encoder(x), 0, -1)  # [T', H', W', K]
        return lfq(z).indices

    def decode_codes(self, codes: Float[Array, "t2 h2 w2 k"]) -> Float[Array, "c t h w"]:
        return self.decoder(jnp.moveaxis(codes, -1, 0))

    def decode(self, indices: Int[Array, "t2 h2 w2"]) -> Float[Array, "c t h w"]:
        """Token grid -> reconstructed video (values unbounded, trained towards [-1, 1])."""
        return self.decode_codes(indices_to_codes(indices, self.config.embedding_dim))

    def __call__(
        self, x: Float[Array, "c t h w"], *, entropy_tau: float = 0.01, group_size: int = 9
    ) -> tuple[Float[Array, "c t h w"], LFQOutput]:
        out = self.quantize(x, entropy_tau=entropy_tau, group_size=group_size)
        return self.decode_codes(out.quantized), out



def init_magvit(config: MagvitConfig, *, key: PRNGKeyArray) -> Magvit:
    """``Magvit(config, key=key)`` (kept as the one construction path of the tokenizers)."""
    return Magvit(config, key=key)
