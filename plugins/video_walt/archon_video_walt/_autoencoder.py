"""The causal 3-D convolutional video autoencoder of WALT (Gupta et al., 2024; MAGVIT-v2's CNN
without its quantizer), the latent space of the Archon video decoder (paper Sec. 3.3).

Encoder: space-to-depth by ``patch``, a causal stem conv, then stages of ResBlocks separated by
convolutions with stride (s_t, 2, 2) (temporal kernel s_t + 1, so latent frame j reads frames
s_t * j - s_t .. s_t * j), GroupNorm + SiLU and a 1x1x1 conv to the mean and log-variance of a
diagonal Gaussian (a VAE with a small KL weight, as in latent diffusion). Decoder: the mirror
image, nearest up-sampling (T -> s_t (T - 1) + 1 in time: frame 0 stays alone, every later frame
is repeated s_t times) followed by a causal conv with a 3-frame kernel that tells the copies apart,
and depth-to-space back to RGB. Each stage has its own temporal kernel: 1 makes it spatial only,
which keeps the full-resolution stage cheap on a CPU (``temporal_kernels``).

Shapes: video [3, T, H, W] in [-1, 1] with T = 1 + n * D_t (D_t = prod(temporal_strides)) ->
latent [C, 1 + n, H / D_s, W / D_s] with D_s = patch * 2^(stages - 1). Every layer is causal in
time and normalizes per frame, so latent frame j depends only on frames <= D_t * j and **the first
frame is encoded on its own** (a lone image encodes exactly like frame 0 of a video), which is how
MAGVIT-v2 and WALT train jointly on images and videos and how the reference image is encoded here.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from archon_framework import RawValueError
from archon_video_walt._config import AutoencoderConfig
from archon_video_walt._layers import (
    CausalConv3d,
    FrameGroupNorm,
    ResBlock,
    depth_to_space,
    space_to_depth,
    time_upsample,
)

__all__ = ["Autoencoder", "VideoEncoder", "VideoDecoder"]


class VideoEncoder(eqx.Module):
    """RGB video [3, T, H, W] -> Gaussian parameters [2C, T', H', W'] (mean, log-variance)."""

    stem: CausalConv3d
    stages: list[tuple[list[ResBlock], CausalConv3d | None]]
    norm_out: FrameGroupNorm
    conv_out: CausalConv3d
    patch: int = eqx.field(static=True)

    def __init__(self, cfg: AutoencoderConfig, *, key: PRNGKeyArray):
        kts, ch = cfg.temporal_kernels, cfg.channels
        keys = iter(jax.random.split(key, 2 + len(ch) * (cfg.num_res_blocks + 1)))
        self.patch = cfg.patch
        self.stem = CausalConv3d(3 * cfg.patch**2, ch[0], (kts[0], 3, 3), key=next(keys))
        self.stages = []
        for i, width in enumerate(ch):
            blocks = [ResBlock(width, width, groups=cfg.norm_groups, kt=kts[i], key=next(keys))
                      for _ in range(cfg.num_res_blocks)]
            down = None
            if i + 1 < len(ch):
                st = cfg.temporal_strides[i]
                kt = st + 1 if st > 1 else kts[i + 1]
                down = CausalConv3d(width, ch[i + 1], (kt, 3, 3), (st, 2, 2), key=next(keys))
            self.stages.append((blocks, down))
        self.norm_out = FrameGroupNorm(cfg.norm_groups, ch[-1])
        self.conv_out = CausalConv3d(ch[-1], 2 * cfg.latent_channels, (1, 1, 1), key=next(keys))

    def __call__(self, x: Float[Array, "3 t h w"]) -> Float[Array, "c2 t2 h2 w2"]:
        x = self.stem(space_to_depth(x, self.patch))  # [ch0, T, H/p, W/p]
        for blocks, down in self.stages:
            for block in blocks:
                x = block(x)
            if down is not None:
                x = down(x)  # [ch_{i+1}, (T_i - 1) // s_t + 1, H_i / 2, W_i / 2]
        return self.conv_out(jax.nn.silu(self.norm_out(x)))  # [2C, T', H', W']


class VideoDecoder(eqx.Module):
    """Latent video [C, T', H', W'] -> RGB video [3, T, H, W] (unbounded, trained towards [-1, 1])."""

    conv_in: CausalConv3d
    stages: list[tuple[list[ResBlock], CausalConv3d | None]]
    norm_out: FrameGroupNorm
    conv_out: CausalConv3d
    time_up: tuple[int, ...] = eqx.field(static=True)
    patch: int = eqx.field(static=True)

    def __init__(self, cfg: AutoencoderConfig, *, key: PRNGKeyArray):
        kts, ch = cfg.temporal_kernels, cfg.channels
        keys = iter(jax.random.split(key, 2 + len(ch) * (cfg.num_res_blocks + 1)))
        self.patch = cfg.patch
        self.conv_in = CausalConv3d(cfg.latent_channels, ch[-1], (kts[-1], 3, 3), key=next(keys))
        self.stages, time_up = [], []
        for i in reversed(range(len(ch))):
            blocks = [ResBlock(ch[i], ch[i], groups=cfg.norm_groups, kt=kts[i], key=next(keys))
                      for _ in range(cfg.num_res_blocks)]
            up = None
            if i > 0:
                st = cfg.temporal_strides[i - 1]
                up = CausalConv3d(ch[i], ch[i - 1], (3 if st > 1 else kts[i - 1], 3, 3), key=next(keys))
                time_up.append(st)
            self.stages.append((blocks, up))
        self.time_up = tuple(time_up)
        self.norm_out = FrameGroupNorm(cfg.norm_groups, ch[0])
        self.conv_out = CausalConv3d(ch[0], 3 * cfg.patch**2, (kts[0], 3, 3), key=next(keys))

    def __call__(self, z: Float[Array, "c t2 h2 w2"]) -> Float[Array, "3 t h w"]:
        x = self.conv_in(z)  # [ch_last, T', H', W']
        ups = iter(self.time_up)
        for blocks, up in self.stages:
            for block in blocks:
                x = block(x)
            if up is not None:
                x = time_upsample(x, next(ups))  # [c, s_t (T - 1) + 1, h, w]
                x = jnp.repeat(jnp.repeat(x, 2, axis=2), 2, axis=3)  # [c, t, 2h, 2w]
                x = up(x)
        x = self.conv_out(jax.nn.silu(self.norm_out(x)))  # [3 p^2, T, H/p, W/p]
        return depth_to_space(x, self.patch)  # [3, T, H, W]


class Autoencoder(eqx.Module):
    """Encoder + decoder; acts on one video, ``jax.vmap`` for batches."""

    encoder: VideoEncoder
    decoder: VideoDecoder
    config: AutoencoderConfig = eqx.field(static=True)

    def __init__(self, config: AutoencoderConfig, *, key: PRNGKeyArray):
        ke, kd = jax.random.split(key)
        self.encoder = VideoEncoder(config, key=ke)
        self.decoder = VideoDecoder(config, key=kd)
        self.config = config

    def moments(self, x: Float[Array, "3 t h w"]) -> tuple[Float[Array, "c t2 h2 w2"], Float[Array, "c t2 h2 w2"]]:
        """Mean and log-variance of the posterior q(z | x).

        Raises:
            RawValueError: T is not 1 + n * D_t, or H, W are not multiples of D_s.
        """
        d_t, d_s = self.config.temporal_downsample, self.config.spatial_downsample
        if x.ndim != 4 or x.shape[0] != 3 or (x.shape[1] - 1) % d_t or x.shape[2] % d_s or x.shape[3] % d_s:
            raise RawValueError(
                f"modality 'video': the autoencoder takes [3, 1 + n * {d_t}, H, W] videos with H and W multiples "
                f"of {d_s}, got shape {tuple(x.shape)}; pad the frames first (archon_video_walt.pad_frames)"
            )
        stats = self.encoder(x)
        mean, logvar = jnp.split(stats, 2, axis=0)
        return mean, jnp.clip(logvar, -30.0, 20.0)

    def encode(self, x: Float[Array, "3 t h w"]) -> Float[Array, "c t2 h2 w2"]:
        """The posterior mean (deterministic latents, used for diffusion)."""
        return self.moments(x)[0]

    def decode(self, z: Float[Array, "c t2 h2 w2"]) -> Float[Array, "3 t h w"]:
        return self.decoder(z)

    def __call__(self, x: Float[Array, "3 t h w"], *, key: PRNGKeyArray | None = None):
        """Reconstruction (sampling z when ``key`` is given) and the KL term per latent element."""
        mean, logvar = self.moments(x)
        z = mean if key is None else mean + jnp.exp(0.5 * logvar) * jax.random.normal(key, mean.shape)
        kl = 0.5 * jnp.mean(mean**2 + jnp.exp(logvar) - 1.0 - logvar)
        return self.decoder(z), kl
