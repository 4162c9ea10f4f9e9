"""Configuration records of the MAGVIT-v2-style tokenizers (Tables D and E) and their training."""

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
    "MagvitConfig",
    "DiscriminatorConfig",
    "LossConfig",
    "TrainConfig",
    "TokenizerConfig",
    "load_tokenizer_config",
    "shipped_config",
    "SHIPPED_CONFIGS",
]

#: Names of the TOML files shipped in ``archon_semantic_magvit/configs``.
SHIPPED_CONFIGS: tuple[str, ...] = ("semantic_tiny", "semantic_paper", "image_tiny", "image_paper")


def _positive(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    values = value if isinstance(value, tuple) else (value,)
    if any(v <= 0 for v in values):
        raise ConfigError(f"config field {attribute.name!r} must be positive, got {value!r}")


def _tuple_of_ints(value: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in value)


@attrs.frozen
class MagvitConfig:
    """The 3-D causal CNN of Tables D/E.

    Attributes:
        base_channels: F.
        channel_multipliers: M_0..M_{N-1}; N - 1 down-sampling stages.
        num_res_blocks: N_res.
        temporal_strides: S_t of each down-sampling stage (N - 1 values, each 1 or 2).
        embedding_dim: D_emb = K = log2(codebook size).
        stem_stride: spatial stride of the first 3x3x3 conv: 2 is Archon's extra down-sampling
            (and the decoder's final up-sampling block), 1 is plain MAGVIT-v2.
        temporal: False makes every kernel 1 frame deep (a 2-D network on T = 1).
        norm_groups: GroupNorm groups (normalized per frame, so the network stays causal).
        in_channels / out_channels: 3 (RGB or palette colours).
        frame_size: H = W of the input frames.
    """

    base_channels: int = attrs.field(validator=_positive)
    channel_multipliers: tuple[int, ...] = attrs.field(converter=_tuple_of_ints, validator=_positive)
    num_res_blocks: int = attrs.field(validator=_positive)
    temporal_strides: tuple[int, ...] = attrs.field(converter=_tuple_of_ints)
    embedding_dim: int = attrs.field(validator=_positive)
    stem_stride: int = 2
    temporal: bool = True
    norm_groups: int = 32
    in_channels: int = 3
    out_channels: int = 3
    frame_size: int = 128

    def __attrs_post_init__(self) -> None:
        n = len(self.channel_multipliers)
        if len(self.temporal_strides) != n - 1:
            raise ConfigError(
                f"model.temporal_strides needs {n - 1} values (one per down-sampling stage), "
                f"got {self.temporal_strides}"
            )
        if any(s not in (1, 2) for s in self.temporal_strides) or (
            not self.temporal and any(s != 1 for s in self.temporal_strides)
        ):
            raise ConfigError(f"model.temporal_strides must be 1 or 2 (1 when temporal=false), got {self.temporal_strides}")
        if self.stem_stride not in (1, 2):
            raise ConfigError(f"model.stem_stride must be 1 or 2, got {self.stem_stride}")
        for m in self.channel_multipliers:
            if (self.base_channels * m) % self.norm_groups:
                raise ConfigError(
                    f"model.norm_groups={self.norm_groups} must divide every channel count "
                    f"(base_channels * multiplier = {self.base_channels * m})"
                )
        if self.frame_size % self.spatial_downsample:
            raise ConfigError(
                f"model.frame_size={self.frame_size} is not a multiple of the spatial "
                f"down-sampling factor {self.spatial_downsample}"
            )

    @property
    def spatial_downsample(self) -> int:
        return self.stem_stride * 2 ** (len(self.channel_multipliers) - 1)

    @property
    def temporal_downsample(self) -> int:
        return math.prod(self.temporal_strides)

    @property
    def latent_size(self) -> int:
        """Tokens per row (and per column) of a latent frame."""
        return self.frame_size // self.spatial_downsample

    @property
    def codebook_size(self) -> int:
        return 2**self.embedding_dim

    def latent_frames(self, frames: int) -> int:
        """Latent frames for ``frames`` input frames (1 + n * temporal_downsample of them)."""
        return (frames - 1) // self.temporal_downsample + 1


@attrs.frozen
class DiscriminatorConfig:
    """The patch temporal discriminator (3-D convolutions, one logit per space-time patch)."""

    base_channels: int = attrs.field(default=16, validator=_positive)
    num_layers: int = attrs.field(default=3, validator=_positive)


@attrs.frozen
class LossConfig:
    """Weights of eq. (3) (semantic) or of the image objective, and LFQ's auxiliary terms.

    ``seg_weight`` > 0 turns on the palette cross-entropy (semantic only); ``adv_start`` is the
    step from which the adversarial terms count (VQ-GAN's ``disc_start``).
    """

    recon_weight: float = 1.0
    adv_weight: float = 0.3
    commit_weight: float = 1.0
    seg_weight: float = 3.0
    seg_tau: float = 10.0
    entropy_weight: float = 0.1
    entropy_tau: float = 0.01
    entropy_group_size: int = 9
    adv_start: int = 0


@attrs.frozen
class TrainConfig:
    """Optimization: Adam with linear warm-up then cosine decay (paper C.1).

    ``crop_size`` > 0 trains on random ``crop_size`` x ``crop_size`` windows (a multiple of the
    spatial down-sampling factor); 0 trains on whole frames. A run that stops (its time budget
    spent) before ``min_steps`` steps is reported as undertrained (``below_min``, and a warning).
    """

    batch_size: int = attrs.field(default=8, validator=_positive)
    clip_frames: int = attrs.field(default=17, validator=_positive)
    crop_size: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    learning_rate: float = 1e-4
    disc_learning_rate: float = 1e-4
    warmup_steps: int = 100
    steps: int = 10_000
    final_lr_fraction: float = 0.05
    checkpoint_every: int = 1000
    eval_clips: int = 4
    min_steps: int = attrs.field(default=100, validator=attrs.validators.ge(0))


@attrs.frozen
class TokenizerConfig:
    """Everything a trained tokenizer needs: one TOML file with these four sections."""

    modality: str
    model: MagvitConfig
    loss: LossConfig = LossConfig()
    discriminator: DiscriminatorConfig = DiscriminatorConfig()
    train: TrainConfig = TrainConfig()

    def __attrs_post_init__(self) -> None:
        if self.modality not in ("semantic", "image"):
            raise ConfigError(f"config field 'modality' must be 'semantic' or 'image', got {self.modality!r}")
        if self.modality == "image" and self.model.temporal:
            raise ConfigError("an image tokenizer config needs model.temporal = false")
        crop = self.train.crop_size
        if crop and (crop % self.model.spatial_downsample or crop > self.model.frame_size):
            raise ConfigError(
                f"train.crop_size={crop} must be a multiple of the spatial down-sampling factor "
                f"{self.model.spatial_downsample} and at most model.frame_size={self.model.frame_size} (0: whole frames)"
            )

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "<dict>") -> TokenizerConfig:
        return from_dict(cls, data, source=source)

    def save_json(self, path: Path) -> None:
        save_config(self, path)


def load_tokenizer_config(path: str | Path) -> TokenizerConfig:
    """Read a :class:`TokenizerConfig` from a ``.toml`` or ``.json`` file (ConfigError if bad)."""
    return load_config(path, TokenizerConfig)


def shipped_config(name: str) -> TokenizerConfig:
    """One of :data:`SHIPPED_CONFIGS` (``semantic_tiny``, ``semantic_paper``, ``image_tiny``, ...)."""
    if name not in SHIPPED_CONFIGS:
        raise ConfigError(f"unknown shipped config {name!r}; choose one of {SHIPPED_CONFIGS}")
    text = resources.files("archon_semantic_magvit").joinpath("configs", f"{name}.toml").read_text()
    return TokenizerConfig.from_dict(tomllib.loads(text), source=f"configs/{name}.toml")
