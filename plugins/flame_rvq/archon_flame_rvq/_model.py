"""The animation tokenizer network of the paper's Table F: a causal 1-D conv RVQ-VAE."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from archon_framework import ConfigError
from archon_framework.nn import (
    ACTIVATIONS,
    CausalConv1d,
    CausalConvTranspose1d,
    ResidualUnit1d,
    ResidualVQ,
    RVQOutput,
    RVQState,
)

from ._config import ModelConfig

__all__ = ["AnimationRVQVAE", "ConvDecoder", "ConvEncoder", "build_quantizer"]


def _activation(name: str):
    if name not in ACTIVATIONS:
        raise ConfigError(f"ModelConfig.activation: unknown {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def _res_blocks(cfg: ModelConfig, key: PRNGKeyArray) -> list[ResidualUnit1d]:
    """``blocks_per_stage`` causal ResBlocks of width F (Table F's ``2 x ResBlock(F)``)."""
    keys = jax.random.split(key, cfg.blocks_per_stage)
    act = _activation(cfg.activation)
    return [
        ResidualUnit1d(cfg.channels, cfg.kernel_size, dilation=d, activation=act, key=k)
        for d, k in zip(cfg.dilations, keys)
    ]


def _resample(cfg: ModelConfig, stride: int, *, up: bool, key: PRNGKeyArray) -> eqx.Module:
    """Stride-``s`` causal down-sampling (kernel 2s) or up-sampling; stride 1 is a k-tap conv."""
    f = cfg.channels
    if stride == 1:
        return CausalConv1d(f, f, cfg.kernel_size, key=key)
    if up:
        return CausalConvTranspose1d(f, f, 2 * stride, stride=stride, key=key)
    return CausalConv1d(f, f, 2 * stride, stride=stride, key=key)


def _run(layers: list[eqx.Module], h: Array) -> Array:
    for layer in layers:
        h = layer(h)
    return h


class ConvEncoder(eqx.Module):
    """Table F encoder: Conv1D(k3) -> per stride [2 ResBlock, Downsample] -> 2 ResBlock (stage 3)
    -> 2 ResBlock (bottleneck) -> Conv1D(k1) to D. Causal throughout; ``[T, C] -> [T / 4, D]``."""

    conv_in: CausalConv1d
    stages: list[list[eqx.Module]]
    stage_last: list[ResidualUnit1d]
    bottleneck: list[ResidualUnit1d]
    conv_out: eqx.nn.Conv1d

    def __init__(self, cfg: ModelConfig, input_dim: int, *, key: PRNGKeyArray):
        keys = jax.random.split(key, 4 + 2 * len(cfg.strides))
        self.conv_in = CausalConv1d(input_dim, cfg.channels, cfg.kernel_size, key=keys[0])
        self.stages = [
            [*_res_blocks(cfg, keys[1 + 2 * i]), _resample(cfg, s, up=False, key=keys[2 + 2 * i])]
            for i, s in enumerate(cfg.strides)
        ]
        self.stage_last = _res_blocks(cfg, keys[-3])
        self.bottleneck = _res_blocks(cfg, keys[-2])
        self.conv_out = eqx.nn.Conv1d(cfg.channels, cfg.latent_dim, 1, key=keys[-1])

    def __call__(self, x: Float[Array, "time in_dim"]) -> Float[Array, "steps latent"]:
        h = self.conv_in(x.T)  # [T, C] -> [F, T]
        for stage in self.stages:
            h = _run(stage, h)  # [F, T] -> [F, T / s]
        h = _run(self.bottleneck, _run(self.stage_last, h))
        return self.conv_out(h).T  # [F, T / 4] -> [T / 4, D]


class ConvDecoder(eqx.Module):
    """Table F decoder, mirrored: Conv1D(k3) from D -> 2 ResBlock (bottleneck) -> per stride
    [2 ResBlock, Upsample] -> 2 ResBlock (stage 3) -> Conv1D(k3) -> ``output_scale * tanh``."""

    conv_in: CausalConv1d
    bottleneck: list[ResidualUnit1d]
    stages: list[list[eqx.Module]]
    stage_last: list[ResidualUnit1d]
    conv_out: CausalConv1d
    output_scale: float = eqx.field(static=True)

    def __init__(self, cfg: ModelConfig, output_dim: int, *, key: PRNGKeyArray):
        keys = jax.random.split(key, 4 + 2 * len(cfg.strides))
        self.conv_in = CausalConv1d(cfg.latent_dim, cfg.channels, cfg.kernel_size, key=keys[0])
        self.bottleneck = _res_blocks(cfg, keys[1])
        self.stages = [
            [*_res_blocks(cfg, keys[2 + 2 * i]), _resample(cfg, s, up=True, key=keys[3 + 2 * i])]
            for i, s in enumerate(reversed(cfg.strides))
        ]
        self.stage_last = _res_blocks(cfg, keys[-2])
        self.conv_out = CausalConv1d(cfg.channels, output_dim, cfg.kernel_size, key=keys[-1])
        self.output_scale = cfg.output_scale

    def __call__(self, z: Float[Array, "steps latent"]) -> Float[Array, "time out_dim"]:
        h = _run(self.bottleneck, self.conv_in(z.T))  # [T / 4, D] -> [F, T / 4]
        for stage in self.stages:
            h = _run(stage, h)  # [F, T'] -> [F, T' * s]
        h = self.conv_out(_run(self.stage_last, h))  # [F, T] -> [C, T]
        return self.output_scale * jnp.tanh(h.T)  # -> [T, C]


def build_quantizer(cfg: ModelConfig) -> ResidualVQ:
    """The residual VQ of a config (hyperparameters only; codebooks live in an `RVQState`)."""
    return ResidualVQ(
        num_levels=cfg.num_levels,
        codebook_size=cfg.codebook_size,
        dim=cfg.latent_dim,
        decay=cfg.ema_decay,
        dead_code_threshold=cfg.dead_code_threshold,
        kmeans_iters=cfg.kmeans_iters,
    )


class AnimationRVQVAE(eqx.Module):
    """The animation tokenizer of Archon (paper Sec. 3.1, supp. C.2, Table F).

    A fully convolutional, causal 1-D autoencoder over z-scored parameter sequences ``x [T, C]``:
    ``z = E(x) [T/4, D]``, ``z_q = RVQ(z)`` (N levels x K codes, EMA codebooks in an `RVQState`),
    ``x_hat = G(z_q)``. Trained with ``L = 50 ||x - x_hat||^2 + 1 * sum_l ||r_{l-1} - sg(q_l)||^2``.
    One architecture, three instances (identity, expression, pose) that differ in ``C``, the
    codebooks and, for identity, in strides ``(1, 1)`` over a length-1 sequence.

    Acts on one example; vmap over a batch. ``T`` must be a multiple of the time factor (the
    tokenizer pads).
    """

    encoder: ConvEncoder
    decoder: ConvDecoder
    quantizer: ResidualVQ
    time_factor: int = eqx.field(static=True)

    def __init__(self, cfg: ModelConfig, input_dim: int, *, key: PRNGKeyArray):
        k_enc, k_dec = jax.random.split(key)
        self.encoder = ConvEncoder(cfg, input_dim, key=k_enc)
        self.decoder = ConvDecoder(cfg, input_dim, key=k_dec)
        self.quantizer = build_quantizer(cfg)
        self.time_factor = cfg.time_factor

    def __call__(
        self,
        state: RVQState,
        x: Float[Array, "time in_dim"],
        *,
        num_active: Int[Array, ""] | int | None = None,
    ) -> tuple[Float[Array, "time in_dim"], RVQOutput]:
        """Reconstruct ``x`` through the quantizer; returns ``(x_hat, rvq_output)``."""
        out = self.quantizer(state, self.encoder(x), num_active=num_active)  # [T / 4, D]
        return self.decoder(out.quantized), out  # [T, C]

    def encode(self, state: RVQState, x: Float[Array, "time in_dim"]) -> Int[Array, "steps levels"]:
        """Codes ``[T / time_factor, levels]`` of a normalized sequence."""
        return self.quantizer(state, self.encoder(x)).codes

    def decode(self, state: RVQState, codes: Int[Array, "steps levels"]) -> Float[Array, "time in_dim"]:
        """Normalized sequence ``[steps * time_factor, C]`` from codes (any prefix of levels)."""
        return self.decoder(self.quantizer.decode(state, codes))
