"""Configuration records of the SoundStream codec: model, discriminator, losses, training, tokens.

Shipped configs live in ``archon_speech_soundstream/configs/``: ``tiny.toml`` (tests, demo, CPU
training) and ``paper.toml`` (the paper-scale model as data). Both are loaded by a test.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path
from typing import Literal

import attrs
from archon_framework import ConfigError
from archon_framework.config import from_dict, load_config, to_dict
from archon_framework.nn import TokenOrder

from ._constants import HOP_LENGTH

__all__ = [
    "CodecConfig",
    "DiscriminatorConfig",
    "LossConfig",
    "TrainConfig",
    "TokenConfig",
    "SoundStreamConfig",
    "load_soundstream_config",
    "shipped_config",
]


def _positive_ints(instance, attribute, value) -> None:
    if not value or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in value):
        raise ConfigError(f"{type(instance).__name__}.{attribute.name}: positive ints, got {value!r}")


def _positive(instance, attribute, value) -> None:
    if not (value > 0):
        raise ConfigError(f"{type(instance).__name__}.{attribute.name}: must be > 0, got {value!r}")


@attrs.frozen(kw_only=True)
class CodecConfig:
    """SoundStream encoder / RVQ / decoder sizes (Zeghidour et al. 2021, Sec. 3; Archon Sec. 3.1).

    Attributes:
        channels: C, the width of the first convolution.
        channel_mults: per encoder block, output channels = C * mult (SoundStream: 2, 4, 8, 16).
        strides: per encoder block; their product must be 640 (16 kHz -> 25 Hz). The paper does
            not give them; we use (4, 4, 5, 8).
        latent_dim: D, the embedding and codebook dimension.
        kernel_size: taps of the first/last convolution and of the residual units (7).
        dilations: dilations of the three residual units of each block (1, 3, 9).
        levels: RVQ depth N_q (8 in the paper).
        codebook_size: codes per level (1024).
        ema_decay: EMA decay of the codebooks.
        kmeans_iters: k-means iterations of the first-batch initialisation.
        dead_code_threshold: EMA count below which a code is replaced by a batch vector. The
            count is in assignments per step, so it must stay well below ``frames per step /
            codebook_size`` at every level (`expected_code_counts`; the trainer warns).
        quantizer_dropout: probability that a training example uses a random prefix of levels.
        weight_norm: weight-normalize every convolution of the encoder and decoder (EnCodec,
            DAC); SoundStream does not say.
        bias_init: ``"zeros"`` (Flax's default) or ``"uniform"`` (Equinox's and PyTorch's
            ``U(+-1/sqrt(fan_in))``) for the encoder's and decoder's biases. Uniform offsets as
            large as the weights drown the quiet speech signal at init; with them the 15-minute
            run spent its first ~600 steps on an output that ignored its input (~200 with zeros).
        upsample_init: ``"independent"`` (each tap of the decoder's transposed convolutions
            drawn on its own) or ``"icnr"`` (taps tied across the stride's output phases at
            init, `archon_framework.nn.CausalConvTranspose1d`, so the decoder starts without a
            checkerboard). The 15-minute `small` run ends with tones at every multiple of 250 Hz
            (the 250 Hz -> 2 kHz block's period) either way, 7.2 dB above the bins between them
            with independent taps and 7.0 dB with ICNR: training, not the init, puts them there.
    """

    channels: int = attrs.field(default=32, validator=_positive)
    channel_mults: tuple[int, ...] = attrs.field(default=(2, 4, 8, 16), validator=_positive_ints)
    strides: tuple[int, ...] = attrs.field(default=(4, 4, 5, 8), validator=_positive_ints)
    latent_dim: int = attrs.field(default=128, validator=_positive)
    kernel_size: int = attrs.field(default=7, validator=_positive)
    dilations: tuple[int, ...] = attrs.field(default=(1, 3, 9), validator=_positive_ints)
    levels: int = attrs.field(default=8, validator=_positive)
    codebook_size: int = attrs.field(default=1024, validator=_positive)
    ema_decay: float = 0.99
    kmeans_iters: int = 10
    dead_code_threshold: float = 0.1
    quantizer_dropout: float = 1.0
    weight_norm: bool = False
    bias_init: Literal["zeros", "uniform"] = "zeros"
    upsample_init: Literal["independent", "icnr"] = "independent"

    def __attrs_post_init__(self) -> None:
        if len(self.channel_mults) != len(self.strides):
            raise ConfigError(
                f"CodecConfig: channel_mults {self.channel_mults} and strides {self.strides} "
                "need one entry per encoder block"
            )
        if math.prod(self.strides) != HOP_LENGTH:
            raise ConfigError(
                f"CodecConfig.strides: their product must be {HOP_LENGTH} (16 kHz -> 25 Hz), "
                f"got {self.strides} -> {math.prod(self.strides)}"
            )
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"CodecConfig.ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.dead_code_threshold < 0:
            raise ConfigError(f"CodecConfig.dead_code_threshold must be >= 0, got {self.dead_code_threshold}")
        if self.bias_init not in ("zeros", "uniform"):
            raise ConfigError(f"CodecConfig.bias_init must be 'zeros' or 'uniform', got {self.bias_init!r}")
        if self.upsample_init not in ("independent", "icnr"):
            raise ConfigError(
                f"CodecConfig.upsample_init must be 'independent' or 'icnr', got {self.upsample_init!r}"
            )
        if not 0.0 <= self.quantizer_dropout <= 1.0:
            raise ConfigError(f"CodecConfig.quantizer_dropout must be in [0, 1], got {self.quantizer_dropout}")

    @property
    def hop_length(self) -> int:
        """Samples per latent frame (640)."""
        return math.prod(self.strides)


@attrs.frozen(kw_only=True)
class DiscriminatorConfig:
    """Complex-STFT discriminator (SoundStream Sec. 3.4): real+imag channels, 2-D convs.

    Attributes:
        channels: width of the first 7x7 convolution (32 in SoundStream).
        n_fft: FFT size = window length (1024).
        hop: STFT hop (256).
        strides: (time, freq) stride of each residual unit.
        channel_mults: output channel multiplier of each residual unit.
    """

    channels: int = attrs.field(default=32, validator=_positive)
    n_fft: int = attrs.field(default=1024, validator=_positive)
    hop: int = attrs.field(default=256, validator=_positive)
    strides: tuple[tuple[int, int], ...] = ((1, 2), (2, 2), (1, 2), (2, 2), (1, 2), (2, 2))
    channel_mults: tuple[int, ...] = attrs.field(default=(1, 2, 4, 4, 8, 8), validator=_positive_ints)

    def __attrs_post_init__(self) -> None:
        if len(self.strides) != len(self.channel_mults):
            raise ConfigError("DiscriminatorConfig: strides and channel_mults need equal lengths")


@attrs.frozen(kw_only=True)
class LossConfig:
    """Loss weights (SoundStream Sec. 3.5). ``mel_scales`` are the window sizes s (hop s/4).

    Attributes:
        mel_scales: multi-scale mel windows, 2^6 .. 2^11 in SoundStream.
        n_mels: mel bands per scale (64).
        log_floor: amplitude floor inside the logs, relative to a full-scale sinusoid at each
            scale (1e-3: -60 dB); see ``_losses``.
        mel_weight: weight of the multi-scale mel loss (1.0; beware of lucidrains' 1e-5).
        stft_weight: weight of the multi-resolution linear-STFT (spectral convergence + log) loss.
        wave_weight: weight of an L1 waveform term (0 disables it).
        adversarial_weight: hinge generator loss weight.
        feature_weight: feature-matching weight (100 in SoundStream).
        commitment_weight: RVQ commitment weight.
        adversarial_start: step at which the discriminator starts (reconstruction-only warm-up).
    """

    mel_scales: tuple[int, ...] = attrs.field(default=(64, 128, 256, 512, 1024, 2048), validator=_positive_ints)
    n_mels: int = 64
    log_floor: float = attrs.field(default=1e-3, validator=_positive)
    mel_weight: float = 1.0
    stft_weight: float = 1.0
    wave_weight: float = 0.0
    adversarial_weight: float = 1.0
    feature_weight: float = 100.0
    commitment_weight: float = 1.0
    adversarial_start: int = 0


@attrs.frozen(kw_only=True)
class TrainConfig:
    """Optimisation of the codec.

    Attributes:
        steps: optimizer steps.
        batch_size: segments per step.
        segment_samples: samples per training segment (a multiple of 640).
        learning_rate: Adam learning rate of the codec (the peak, after warm-up).
        disc_learning_rate: Adam learning rate of the discriminator (same schedule, scaled).
        b1, b2: Adam betas (SoundStream: 0.5, 0.9).
        warmup_steps: linear warm-up from 0 to the peak over this many steps (0: none).
        final_lr_fraction: the rate decays by a cosine to this fraction of the peak at ``steps``
            (1.0: constant after warm-up). A run stopped by a time budget before ``steps`` ends
            mid-decay; set ``steps`` to what fits in the budget.
        checkpoint_every: save every this many steps (0: only at the end).
        seed: PRNG seed.
        min_steps: a run that stops (its time budget spent) before this many steps is reported
            as undertrained (``below_min`` in the trainer's report, and a warning).
    """

    steps: int = 1000
    batch_size: int = 8
    segment_samples: int = 6400
    learning_rate: float = 1e-4
    disc_learning_rate: float = 1e-4
    b1: float = 0.5
    b2: float = 0.9
    warmup_steps: int = 0
    final_lr_fraction: float = 1.0
    checkpoint_every: int = 0
    seed: int = 0
    min_steps: int = 100

    def __attrs_post_init__(self) -> None:
        if self.min_steps < 0:
            raise ConfigError(f"TrainConfig.min_steps must be >= 0, got {self.min_steps}")
        if self.warmup_steps < 0:
            raise ConfigError(f"TrainConfig.warmup_steps must be >= 0, got {self.warmup_steps}")
        if not 0.0 < self.final_lr_fraction <= 1.0:
            raise ConfigError(f"TrainConfig.final_lr_fraction must be in (0, 1], got {self.final_lr_fraction}")
        if self.segment_samples <= 0 or self.segment_samples % HOP_LENGTH:
            raise ConfigError(
                f"TrainConfig.segment_samples must be a positive multiple of {HOP_LENGTH}, got {self.segment_samples}"
            )


@attrs.frozen(kw_only=True)
class TokenConfig:
    """How codes become the LM's local ids.

    Attributes:
        levels: RVQ levels kept as tokens (4 in the paper, lower levels first).
        order: ``"frame"`` (frame-major, the default and the paper's layout):
            ``[t0:l0, t0:l1, t0:l2, t0:l3, t1:l0, ...]``; ``"level"`` (level-major):
            ``[l0:t0, l0:t1, ..., l1:t0, ...]``. Either way the local id of code
            ``c`` at level ``l`` is ``l * codebook_size + c``.
    """

    levels: int = attrs.field(default=4, validator=_positive)
    order: TokenOrder = attrs.field(default="frame", validator=attrs.validators.in_(("frame", "level")))


@attrs.frozen(kw_only=True)
class SoundStreamConfig:
    """Everything needed to rebuild, train and tokenize with one codec."""

    codec: CodecConfig = attrs.field(factory=CodecConfig)
    discriminator: DiscriminatorConfig = attrs.field(factory=DiscriminatorConfig)
    loss: LossConfig = attrs.field(factory=LossConfig)
    train: TrainConfig = attrs.field(factory=TrainConfig)
    tokens: TokenConfig = attrs.field(factory=TokenConfig)

    def __attrs_post_init__(self) -> None:
        if self.tokens.levels > self.codec.levels:
            raise ConfigError(
                f"SoundStreamConfig: tokens.levels={self.tokens.levels} exceeds codec.levels={self.codec.levels}"
            )

    @property
    def vocab_size(self) -> int:
        """``tokens.levels * codec.codebook_size`` (4096 in the paper)."""
        return self.tokens.levels * self.codec.codebook_size

    def to_dict(self) -> dict:
        """Plain JSON/TOML-able data."""
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict, *, source: str = "<soundstream config>") -> SoundStreamConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ConfigError."""
        return from_dict(cls, data, source=source)


def load_soundstream_config(path: str | Path) -> SoundStreamConfig:
    """Load a TOML or JSON file holding a whole :class:`SoundStreamConfig`."""
    return load_config(path, SoundStreamConfig)


SHIPPED_CONFIGS = ("tiny", "small", "paper")


def shipped_config(name: Literal["tiny", "small", "paper"] = "tiny") -> SoundStreamConfig:
    """One of the configs shipped in the package: ``"tiny"`` (tests, the demo), ``"small"`` (CPU
    training runs) or ``"paper"``."""
    if name not in SHIPPED_CONFIGS:
        raise ConfigError(f"speech_soundstream: no shipped config {name!r}; choose one of {', '.join(SHIPPED_CONFIGS)}")
    ref = resources.files("archon_speech_soundstream") / "configs" / f"{name}.toml"
    with resources.as_file(ref) as path:
        return load_soundstream_config(path)
