"""The complex-STFT discriminator of SoundStream (Zeghidour et al. 2021, Sec. 3.4)."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ._config import DiscriminatorConfig
from ._spectral import frame_signal

__all__ = ["stft_complex", "STFTResBlock", "STFTDiscriminator"]

_SLOPE = 0.2  # LeakyReLU slope (MelGAN/HiFi-GAN convention; SoundStream does not state it)


def stft_complex(
    wave: Float[Array, " samples"], *, n_fft: int, hop: int
) -> Float[Array, "2 frames bins"]:
    """Real and imaginary STFT parts as two channels, Hann window ``n_fft``, end-padded framing."""
    window = 0.5 - 0.5 * jnp.cos(2.0 * jnp.pi * jnp.arange(n_fft) / n_fft)
    frames = frame_signal(wave, n_fft=n_fft, hop=hop)  # [samples] -> [frames, n_fft]
    spec = jnp.fft.rfft(frames * window, axis=-1)  # [frames, n_fft // 2 + 1]
    return jnp.stack([spec.real, spec.imag])  # -> [2, frames, bins]


class STFTResBlock(eqx.Module):
    """A 3x3 conv then a ``(s_t + 2) x (s_f + 2)`` conv with stride ``(s_t, s_f)``, plus a skip.

    SoundStream Sec. 3.4: "each block starts with a 3x3 convolution, followed by a 3x4 or 4x4
    convolution, with strides (1, 2) or (2, 2)". The skip is a strided ``s_t x s_f`` conv so both
    paths land on ``[C_out, T // s_t, F // s_f]``.
    """

    conv1: eqx.nn.Conv2d
    conv2: eqx.nn.Conv2d
    skip: eqx.nn.Conv2d

    def __init__(self, c_in: int, c_out: int, stride: tuple[int, int], *, key: PRNGKeyArray):
        k1, k2, k3 = jax.random.split(key, 3)
        st, sf = stride
        self.conv1 = eqx.nn.Conv2d(c_in, c_in, 3, padding=1, key=k1)
        self.conv2 = eqx.nn.Conv2d(c_in, c_out, (st + 2, sf + 2), stride=(st, sf), padding=1, key=k2)
        self.skip = eqx.nn.Conv2d(c_in, c_out, (st, sf), stride=(st, sf), key=k3)

    def __call__(self, x: Float[Array, "c_in t f"]) -> Float[Array, "c_out t2 f2"]:
        h = jax.nn.leaky_relu(self.conv1(x), _SLOPE)  # [C_in, T, F]
        h = self.conv2(h)  # -> [C_out, T // s_t, F // s_f]
        return jax.nn.leaky_relu(h + self.skip(x), _SLOPE)


class STFTDiscriminator(eqx.Module):
    """SoundStream's STFT discriminator on the complex spectrum of one wave.

    ``[2, T, F]`` (real, imaginary) -> ``Conv2d(7x7, C)`` -> residual blocks with strides
    ``((1,2),(2,2),...)`` and channels ``C * m`` -> ``Conv2d(1 x F', 1)`` that collapses the
    remaining frequency axis, giving one logit per (down-sampled) time step. Returns the logits
    and the intermediate feature maps (for the feature-matching loss, Sec. 3.5).
    """

    stem: eqx.nn.Conv2d
    blocks: tuple[STFTResBlock, ...]
    head: eqx.nn.Conv2d
    n_fft: int = eqx.field(static=True)
    hop: int = eqx.field(static=True)

    def __init__(self, cfg: DiscriminatorConfig, *, key: PRNGKeyArray):
        keys = jax.random.split(key, len(cfg.strides) + 2)
        self.n_fft, self.hop = cfg.n_fft, cfg.hop
        widths = [cfg.channels] + [cfg.channels * m for m in cfg.channel_mults]
        self.stem = eqx.nn.Conv2d(2, cfg.channels, 7, padding=3, key=keys[0])
        self.blocks = tuple(
            STFTResBlock(widths[i], widths[i + 1], tuple(s), key=keys[i + 1])
            for i, s in enumerate(cfg.strides)
        )
        freq = cfg.n_fft // 2 + 1
        freq_out = freq // math.prod(s[1] for s in cfg.strides)
        if freq_out < 1:
            raise ValueError(f"STFTDiscriminator: n_fft={cfg.n_fft} too small for the frequency strides")
        self.head = eqx.nn.Conv2d(widths[-1], 1, (1, freq_out), key=keys[-1])

    def __call__(
        self, wave: Float[Array, " samples"]
    ) -> tuple[Float[Array, " steps"], tuple[Float[Array, "c t f"], ...]]:
        x = stft_complex(wave, n_fft=self.n_fft, hop=self.hop)  # [samples] -> [2, T, F]
        x = jax.nn.leaky_relu(self.stem(x), _SLOPE)  # -> [C, T, F]
        features = [x]
        for block in self.blocks:
            x = block(x)  # [C_b, T_b, F_b] -> [C_{b+1}, T_b // s_t, F_b // s_f]
            features.append(x)
        logits = self.head(x)  # -> [1, T', 1]
        return logits.reshape(-1), tuple(features)  # -> [T']
