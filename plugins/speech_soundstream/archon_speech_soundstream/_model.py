"""The SoundStream encoder and decoder: fully causal 1-D conv nets between 16 kHz and 25 Hz."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from archon_framework.nn import CausalConv1d, CausalConvTranspose1d, ResidualUnit1d
from jaxtyping import Array, Float, PRNGKeyArray

from ._config import CodecConfig

__all__ = ["EncoderBlock", "DecoderBlock", "Encoder", "Decoder"]


class EncoderBlock(eqx.Module):
    """Residual units (dilations 1, 3, 9) then a strided causal conv (SoundStream Sec. 3.1).

    ``EncoderBlock(N, S)``: three ``ResidualUnit(N/2, d)`` followed by ``ELU`` and
    ``CausalConv1d(N/2 -> N, kernel 2S, stride S)``; ``[N/2, T] -> [N, T / S]``.
    """

    units: tuple[ResidualUnit1d, ...]
    down: CausalConv1d

    def __init__(
        self, in_channels: int, out_channels: int, stride: int, *, cfg: CodecConfig, key: PRNGKeyArray
    ):
        keys = jax.random.split(key, len(cfg.dilations) + 1)
        self.units = tuple(
            ResidualUnit1d(in_channels, cfg.kernel_size, dilation=d, weight_norm=cfg.weight_norm, key=k)
            for d, k in zip(cfg.dilations, keys[:-1])
        )
        self.down = CausalConv1d(
            in_channels, out_channels, 2 * stride, stride=stride, weight_norm=cfg.weight_norm, key=keys[-1]
        )

    def __call__(self, x: Float[Array, "c_in time"]) -> Float[Array, "c_out frames"]:
        for unit in self.units:
            x = unit(x)
        return self.down(jax.nn.elu(x))  # [C_in, T] -> [C_out, T / S]


class DecoderBlock(eqx.Module):
    """A transposed causal conv then residual units: the mirror of :class:`EncoderBlock`.

    ``DecoderBlock(N, S)``: ``ELU``, ``CausalConvTranspose1d(2N -> N, kernel 2S, stride S)`` (its
    output trimmed to ``T * S``, so causal), then three ``ResidualUnit(N, d)``.
    """

    up: CausalConvTranspose1d
    units: tuple[ResidualUnit1d, ...]

    def __init__(
        self, in_channels: int, out_channels: int, stride: int, *, cfg: CodecConfig, key: PRNGKeyArray
    ):
        keys = jax.random.split(key, len(cfg.dilations) + 1)
        self.up = CausalConvTranspose1d(
            in_channels,
            out_channels,
            2 * stride,
            stride=stride,
            weight_norm=cfg.weight_norm,
            icnr_init=cfg.upsample_init == "icnr",
            key=keys[0],
        )
        self.units = tuple(
            ResidualUnit1d(out_channels, cfg.kernel_size, dilation=d, weight_norm=cfg.weight_norm, key=k)
            for d, k in zip(cfg.dilations, keys[1:])
        )

    def __call__(self, x: Float[Array, "c_in frames"]) -> Float[Array, "c_out time"]:
        x = self.up(jax.nn.elu(x))  # [C_in, T] -> [C_out, T * S]
        for unit in self.units:
            x = unit(x)
        return x


class Encoder(eqx.Module):
    """SoundStream encoder (Zeghidour et al. 2021, Sec. 3.1; Archon Sec. 3.1 at 25 Hz).

    ``CausalConv1d(1 -> C, 7)``, blocks ``EncoderBlock(C * m_b, S_b)`` with strides S whose product
    is 640, then ``ELU`` and ``CausalConv1d(-> D, 3)``: a wave ``[T]`` (T a multiple of 640) maps to
    embeddings ``[D, T / 640]``. Every layer is causal, so frame ``t`` depends only on samples
    ``< 640 (t + 1)``.
    """

    stem: CausalConv1d
    blocks: tuple[EncoderBlock, ...]
    head: CausalConv1d
    hop: int = eqx.field(static=True)

    def __init__(self, cfg: CodecConfig, *, key: PRNGKeyArray):
        keys = jax.random.split(key, len(cfg.strides) + 2)
        widths = [cfg.channels] + [cfg.channels * m for m in cfg.channel_mults]
        self.stem = CausalConv1d(1, cfg.channels, cfg.kernel_size, weight_norm=cfg.weight_norm, key=keys[0])
        self.blocks = tuple(
            EncoderBlock(widths[i], widths[i + 1], s, cfg=cfg, key=keys[i + 1])
            for i, s in enumerate(cfg.strides)
        )
        self.head = CausalConv1d(widths[-1], cfg.latent_dim, 3, weight_norm=cfg.weight_norm, key=keys[-1])
        self.hop = cfg.hop_length

    def __call__(self, wave: Float[Array, " samples"]) -> Float[Array, "dim frames"]:
        if wave.ndim != 1 or wave.shape[0] % self.hop:
            raise ValueError(
                f"Encoder expects a wave [samples] with samples a multiple of {self.hop}, got {wave.shape}"
            )
        x = self.stem(wave[None, :])  # [samples] -> [C, samples]
        for block in self.blocks:
            x = block(x)  # [C_b, T_b] -> [C_{b+1}, T_b / S_b]
        return self.head(jax.nn.elu(x))  # -> [D, samples / 640]


class Decoder(eqx.Module):
    """SoundStream decoder: the encoder mirrored with transposed convolutions.

    ``CausalConv1d(D -> C * m_B, 7)``, blocks ``DecoderBlock`` with the strides reversed, then
    ``ELU`` and ``CausalConv1d(C -> 1, 7)``: ``[D, F] -> [F * 640]`` samples (linear output; the
    tokenizer clips to [-1, 1]).
    """

    stem: CausalConv1d
    blocks: tuple[DecoderBlock, ...]
    head: CausalConv1d

    def __init__(self, cfg: CodecConfig, *, key: PRNGKeyArray):
        keys = jax.random.split(key, len(cfg.strides) + 2)
        widths = [cfg.channels] + [cfg.channels * m for m in cfg.channel_mults]
        self.stem = CausalConv1d(cfg.latent_dim, widths[-1], cfg.kernel_size, weight_norm=cfg.weight_norm, key=keys[0])
        n = len(cfg.strides)
        self.blocks = tuple(
            DecoderBlock(widths[n - i], widths[n - i - 1], cfg.strides[n - i - 1], cfg=cfg, key=keys[i + 1])
            for i in range(n)
        )
        self.head = CausalConv1d(cfg.channels, 1, cfg.kernel_size, weight_norm=cfg.weight_norm, key=keys[-1])

    def __call__(self, z: Float[Array, "dim frames"]) -> Float[Array, " samples"]:
        x = self.stem(z)  # [D, F] -> [C_B, F]
        for block in self.blocks:
            x = block(x)  # [C_b, T_b] -> [C_{b-1}, T_b * S_b]
        return jnp.squeeze(self.head(jax.nn.elu(x)), 0)  # [C, F * 640] -> [F * 640]
