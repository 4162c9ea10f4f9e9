"""Configuration records of the video decoder: autoencoder, denoiser, text encoder, conditioning,
diffusion and training, one TOML file with these sections (``configs/tiny.toml``, ``paper.toml``)."""

from __future__ import annotations

import math
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

from archon_framework import ConfigError
from archon_framework.config import from_dict, load_config, save_config, to_dict

__all__ = [
    "AutoencoderConfig",
    "DenoiserConfig",
    "TextEncoderConfig",
    "ConditioningConfig",
    "DiffusionConfig",
    "TrainConfig",
    "VideoConfig",
    "CONDITIONS",
    "SHIPPED_CONFIGS",
    "shipped_config",
    "load_video_config",
]

#: Names of the TOML files shipped in ``archon_video_walt/configs``.
SHIPPED_CONFIGS: tuple[str, ...] = ("tiny", "paper")
#: The condition groups that training drops (classifier-free guidance) and sampling can drop.
CONDITIONS: tuple[str, ...] = ("semantic", "reference", "text")


def _positive(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    values = value if isinstance(value, tuple) else (value,)
    if any(v <= 0 for v in values):
        raise ConfigError(f"config field {attribute.name!r} must be positive, got {value!r}")


def _probability(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"config field {attribute.name!r} must lie in [0, 1], got {value!r}")


def _ints(value: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in value)


def _power_of_two(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


@attrs.frozen
class AutoencoderConfig:
    """The causal 3-D CNN autoencoder (MAGVIT-v2's encoder/decoder without quantizer, WALT).

    Attributes:
        latent_channels: C, channels of the latent video.
        patch: space-to-depth factor before the stem conv (1 = plain MAGVIT-v2).
        channels: width of each stage; a (s_t, 2, 2)-strided conv separates consecutive stages.
        temporal_strides: s_t of each down-sampling conv (len(channels) - 1 values: 1, 2 or 4).
        temporal_kernels: k_t of the convs of each stage (3 in MAGVIT-v2; 1 makes a stage
            spatial only, which is what keeps the full-resolution stage affordable on a CPU).
        num_res_blocks: ResBlocks per stage.
        norm_groups: groups of the per-frame GroupNorm.
        kl_weight: weight of the KL term of the VAE objective.
    """

    latent_channels: int = attrs.field(default=8, validator=_positive)
    patch: int = attrs.field(default=4, validator=_positive)
    channels: tuple[int, ...] = attrs.field(default=(32, 64), converter=_ints, validator=_positive)
    temporal_strides: tuple[int, ...] = attrs.field(default=(4,), converter=_ints)
    temporal_kernels: tuple[int, ...] = attrs.field(default=(1, 3), converter=_ints, validator=_positive)
    num_res_blocks: int = attrs.field(default=1, validator=_positive)
    norm_groups: int = attrs.field(default=8, validator=_positive)
    kl_weight: float = 1e-6

    def __attrs_post_init__(self) -> None:
        if len(self.temporal_strides) != len(self.channels) - 1:
            raise ConfigError(
                f"autoencoder.temporal_strides needs {len(self.channels) - 1} values (one per down-sampling "
                f"conv), got {self.temporal_strides}"
            )
        if any(s not in (1, 2, 4) for s in self.temporal_strides):
            raise ConfigError(f"autoencoder.temporal_strides must be 1, 2 or 4, got {self.temporal_strides}")
        if len(self.temporal_kernels) != len(self.channels):
            raise ConfigError(
                f"autoencoder.temporal_kernels needs {len(self.channels)} values (one per stage), "
                f"got {self.temporal_kernels}"
            )
        if any(c % self.norm_groups for c in self.channels):
            raise ConfigError(f"autoencoder.norm_groups={self.norm_groups} must divide every width {self.channels}")

    @property
    def spatial_downsample(self) -> int:
        """D_s: pixels per latent cell along each side."""
        return self.patch * 2 ** (len(self.channels) - 1)

    @property
    def temporal_downsample(self) -> int:
        """D_t: frames per latent frame after the first (which is encoded alone)."""
        return math.prod(self.temporal_strides)

    def latent_frames(self, frames: int) -> int:
        """1 + n latent frames for 1 + n * D_t frames."""
        return (frames - 1) // self.temporal_downsample + 1


@attrs.frozen
class DenoiserConfig:
    """The WALT transformer over latent patches.

    Attributes:
        width, depth, heads, mlp_ratio: transformer size; blocks alternate spatial-window (even
            index) and spatio-temporal-window (odd index) self-attention.
        patch: latent cells per token along each side.
        window: (rows, cols) of tokens in a spatio-temporal window (it spans every latent frame).
        causal_time: spatio-temporal windows attend only to the same or earlier latent frames.
        adaln_rank: rank of the per-block AdaLN-LoRA modulation (0: a full projection per block).
        semantic_channels: channels of the encoded semantic video concatenated with the latents.
        semantic_embed: size of the learned embedding of each label.
        semantic_width: hidden width of the semantic encoder.
        context_patch: latent cells per reference token along each side.
        max_latent_frames: learned temporal positions (latent frames of one generated chunk).
    """

    width: int = attrs.field(default=128, validator=_positive)
    depth: int = attrs.field(default=4, validator=_positive)
    heads: int = attrs.field(default=4, validator=_positive)
    mlp_ratio: float = attrs.field(default=4.0, validator=_positive)
    patch: int = attrs.field(default=2, validator=_positive)
    window: tuple[int, int] = attrs.field(default=(4, 4), converter=_ints, validator=_positive)
    causal_time: bool = True
    adaln_rank: int = 32
    semantic_channels: int = attrs.field(default=16, validator=_positive)
    semantic_embed: int = attrs.field(default=8, validator=_positive)
    semantic_width: int = attrs.field(default=64, validator=_positive)
    context_patch: int = attrs.field(default=2, validator=_positive)
    max_latent_frames: int = attrs.field(default=8, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if self.width % self.heads:
            raise ConfigError(f"denoiser.heads={self.heads} must divide denoiser.width={self.width}")
        if len(self.window) != 2:
            raise ConfigError(f"denoiser.window must be [rows, cols], got {self.window}")
        if self.semantic_width % 8:
            raise ConfigError(f"denoiser.semantic_width must be a multiple of 8 (GroupNorm), got {self.semantic_width}")


@attrs.frozen
class TextEncoderConfig:
    """The small learned byte-level encoder of the description's canonical JSON.

    Attributes:
        max_bytes: UTF-8 bytes kept (longer descriptions are cut, documented in README).
        patch: bytes per text token (a strided byte convolution).
        width, depth, heads: transformer encoder size.
    """

    max_bytes: int = attrs.field(default=1536, validator=_positive)
    patch: int = attrs.field(default=8, validator=_positive)
    width: int = attrs.field(default=64, validator=_positive)
    depth: int = attrs.field(default=1, validator=_positive)
    heads: int = attrs.field(default=2, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if self.max_bytes % self.patch:
            raise ConfigError(f"text.max_bytes={self.max_bytes} must be a multiple of text.patch={self.patch}")
        if self.width % self.heads:
            raise ConfigError(f"text.heads={self.heads} must divide text.width={self.width}")

    @property
    def tokens(self) -> int:
        return self.max_bytes // self.patch


@attrs.frozen
class ConditioningConfig:
    """What the denoiser is conditioned on (paper Sec. 3.3, ablations of Table I) and its dropout.

    Attributes:
        text: cross-attend to the description's text embeddings (false: Table I "w/o text cond").
        joint_cross_attention: the reference tokens are the reference image latent concatenated
            channel-wise with the latent of its semantic mask (false: the RGB latent only, Table I
            "w/o joint cross-attention").
        drop_semantic, drop_reference, drop_text: training probabilities of replacing each
            condition by its learned null (classifier-free guidance).
        drop_all: probability of dropping every condition at once.
        continuation: probability of training the chunk-continuation task (the first latent frame
            is given, WALT's frame-prediction conditioning), used to chain chunks of long clips.
    """

    text: bool = True
    joint_cross_attention: bool = True
    drop_semantic: float = attrs.field(default=0.1, validator=_probability)
    drop_reference: float = attrs.field(default=0.1, validator=_probability)
    drop_text: float = attrs.field(default=0.1, validator=_probability)
    drop_all: float = attrs.field(default=0.1, validator=_probability)
    continuation: float = attrs.field(default=0.5, validator=_probability)


@attrs.frozen
class DiffusionConfig:
    """v-prediction with a cosine schedule, DDIM sampling and classifier-free guidance.

    Attributes:
        shift: resolution shift of the cosine schedule's log-SNR (1: the plain cosine schedule,
            alpha = cos(pi t / 2), sigma = sin(pi t / 2)).
        sample_steps: DDIM steps.
        guidance: classifier-free guidance weight w (v = v_u + w (v_c - v_u); 1 = no guidance).
        guidance_drop: the conditions the unconditional branch drops.
        eta: DDIM stochasticity (0: deterministic DDIM).
    """

    shift: float = attrs.field(default=1.0, validator=_positive)
    sample_steps: int = attrs.field(default=20, validator=_positive)
    guidance: float = 1.5
    guidance_drop: tuple[str, ...] = attrs.field(default=CONDITIONS, converter=tuple)
    eta: float = attrs.field(default=0.0, validator=_probability)

    def __attrs_post_init__(self) -> None:
        bad = [c for c in self.guidance_drop if c not in CONDITIONS]
        if bad:
            raise ConfigError(f"diffusion.guidance_drop: unknown condition(s) {bad}; choose from {CONDITIONS}")


@attrs.frozen
class TrainConfig:
    """Optimization of the two stages (autoencoder, then denoiser on frozen latents).

    Attributes:
        ae_steps, ae_batch_size, ae_frames, ae_learning_rate: the autoencoder stage.
        ae_crop: side of the random crops the autoencoder trains on (0: whole frames).
        ae_fraction: share of a ``steps`` or ``seconds`` budget given to the autoencoder stage.
        steps, batch_size, learning_rate, warmup_steps, weight_decay: the denoiser stage.
        optimizer: "adamw" or "adafactor" (the paper's).
        schedule: learning rate of the denoiser after the linear warm-up: "cosine" (decay to a
            tenth by the last step) or "constant" (the paper's).
        window_stride: frames between the starts of the training windows cut from a clip.
        eval_clips: held-out clips (the last ones of the source) for the report.
        checkpoint_every: denoiser steps between saves.
        ema_decay: exponential moving average of the denoiser weights used for sampling (0: off).
        ae_min_steps, min_steps: a stage that stops (its time budget spent) before this many
            steps is reported as undertrained (``below_min`` in the report, and a warning).
    """

    ae_steps: int = attrs.field(default=1000, validator=_positive)
    ae_batch_size: int = attrs.field(default=2, validator=_positive)
    ae_frames: int = attrs.field(default=5, validator=_positive)
    ae_learning_rate: float = 1e-3
    ae_crop: int = attrs.field(default=128, validator=attrs.validators.ge(0))
    ae_fraction: float = attrs.field(default=0.3, validator=_probability)
    steps: int = attrs.field(default=2000, validator=_positive)
    batch_size: int = attrs.field(default=4, validator=_positive)
    learning_rate: float = 5e-4
    warmup_steps: int = 50
    weight_decay: float = 0.0
    optimizer: str = attrs.field(default="adamw", validator=attrs.validators.in_(("adamw", "adafactor")))
    schedule: str = attrs.field(default="cosine", validator=attrs.validators.in_(("cosine", "constant")))
    window_stride: int = attrs.field(default=4, validator=_positive)
    eval_clips: int = 2
    checkpoint_every: int = attrs.field(default=500, validator=_positive)
    ema_decay: float = attrs.field(default=0.0, validator=_probability)
    ae_min_steps: int = attrs.field(default=100, validator=attrs.validators.ge(0))
    min_steps: int = attrs.field(default=200, validator=attrs.validators.ge(0))


@attrs.frozen
class VideoConfig:
    """Everything a trained video decoder needs (saved as ``config.json`` next to the weights).

    Attributes:
        semantic_size: side of the semantic input frames (the ``semantic`` modality: 128).
        image_size: side of the reference image (the ``image`` modality: 256).
        output_size: side of the generated video (2 x semantic_size by default, as the paper's
            256 -> 512); the reference image is resized to it before it is encoded.
        chunk_frames: frames generated at once (1 + n * D_t); longer clips are generated in
            chunks that overlap by one frame (see ``_sample.py``).
    """

    semantic_size: int = attrs.field(default=128, validator=_positive)
    image_size: int = attrs.field(default=256, validator=_positive)
    output_size: int = attrs.field(default=256, validator=_positive)
    chunk_frames: int = attrs.field(default=9, validator=_positive)
    autoencoder: AutoencoderConfig = AutoencoderConfig()
    denoiser: DenoiserConfig = DenoiserConfig()
    text: TextEncoderConfig = TextEncoderConfig()
    conditioning: ConditioningConfig = ConditioningConfig()
    diffusion: DiffusionConfig = DiffusionConfig()
    train: TrainConfig = TrainConfig()

    def __attrs_post_init__(self) -> None:
        ae, dn = self.autoencoder, self.denoiser
        if self.output_size % ae.spatial_downsample:
            raise ConfigError(
                f"output_size={self.output_size} is not a multiple of the autoencoder's down-sampling "
                f"{ae.spatial_downsample}"
            )
        grid = self.latent_size
        if grid % dn.patch or grid % dn.context_patch:
            raise ConfigError(
                f"the latent grid {grid}x{grid} must be a multiple of denoiser.patch={dn.patch} and "
                f"denoiser.context_patch={dn.context_patch}"
            )
        tokens = grid // dn.patch
        if tokens % dn.window[0] or tokens % dn.window[1]:
            raise ConfigError(f"denoiser.window={dn.window} must divide the {tokens}x{tokens} token grid")
        if self.semantic_size % grid or not _power_of_two(self.semantic_size // grid):
            raise ConfigError(
                f"semantic_size={self.semantic_size} must be a power-of-two multiple of the latent grid {grid} "
                f"(output_size / {ae.spatial_downsample})"
            )
        if (self.chunk_frames - 1) % ae.temporal_downsample:
            raise ConfigError(
                f"chunk_frames={self.chunk_frames} must be 1 + n * {ae.temporal_downsample} (the autoencoder's "
                "temporal down-sampling)"
            )
        if ae.latent_frames(self.chunk_frames) > dn.max_latent_frames:
            raise ConfigError(
                f"chunk_frames={self.chunk_frames} gives {ae.latent_frames(self.chunk_frames)} latent frames, "
                f"more than denoiser.max_latent_frames={dn.max_latent_frames}"
            )
        if self.train.ae_crop % ae.spatial_downsample:
            raise ConfigError(f"train.ae_crop={self.train.ae_crop} must be a multiple of the autoencoder's "
                              f"down-sampling {ae.spatial_downsample} (0: whole frames)")
        if (self.train.ae_frames - 1) % ae.temporal_downsample:
            raise ConfigError(f"train.ae_frames={self.train.ae_frames} must be 1 + n * {ae.temporal_downsample}")

    @property
    def latent_size(self) -> int:
        """Latent cells per side of a frame."""
        return self.output_size // self.autoencoder.spatial_downsample

    @property
    def semantic_downsample(self) -> int:
        """Semantic pixels per latent cell along each side."""
        return self.semantic_size // self.latent_size

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "<dict>") -> VideoConfig:
        return from_dict(cls, data, source=source)

    def save_json(self, path: Path) -> None:
        save_config(self, path)


def load_video_config(path: str | Path) -> VideoConfig:
    """Read a :class:`VideoConfig` from a ``.toml`` or ``.json`` file (ConfigError if bad)."""
    return load_config(path, VideoConfig)


def shipped_config(name: str = "tiny") -> VideoConfig:
    """One of :data:`SHIPPED_CONFIGS`: ``tiny`` (tests, demo, CPU training) or ``paper``."""
    if name not in SHIPPED_CONFIGS:
        raise ConfigError(f"unknown shipped config {name!r}; choose one of {SHIPPED_CONFIGS}")
    text = resources.files("archon_video_walt").joinpath("configs", f"{name}.toml").read_text()
    return VideoConfig.from_dict(tomllib.loads(text), source=f"archon_video_walt/configs/{name}.toml")
