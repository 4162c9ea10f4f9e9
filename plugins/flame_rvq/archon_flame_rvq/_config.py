"""Configs of the animation RVQ-VAE tokenizers (identity, expression, pose) and their training."""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path
from typing import Literal

import attrs

from archon_framework import ConfigError
from archon_framework.config import from_dict, load_config

from ._dims import DEFAULT_DIMS, FlameDims

__all__ = [
    "FLAME_MODALITIES",
    "FlameTokenizerConfig",
    "ModelConfig",
    "TrainConfig",
    "shipped_config",
    "shipped_config_names",
]

FlameModalityName = Literal["identity", "expression", "pose"]
FLAME_MODALITIES: tuple[str, ...] = ("identity", "expression", "pose")
"""The three modalities of this plugin, in the order of the paper's Sec. 3.1."""

_DIM_FIELD = {"identity": "shape", "expression": "expression", "pose": "pose"}


def _at_least(low: float):
    def check(instance, attribute, value) -> None:
        values = value if isinstance(value, tuple) else (value,)
        if any(v < low for v in values):
            raise ConfigError(f"{type(instance).__name__}.{attribute.name} must be >= {low}, got {value!r}")

    return check


def _fraction(instance, attribute, value) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{type(instance).__name__}.{attribute.name} must be in [0, 1], got {value!r}")


@attrs.frozen(kw_only=True)
class ModelConfig:
    """The 1-D convolutional RVQ-VAE of the paper's Table F (Sec. 3.1, supp. C.2).

    Attributes:
        channels: base width ``F`` (1024 in the paper).
        latent_dim: ``D``, the dimension of the quantized latents (128 in the paper).
        num_levels: RVQ levels ``N`` (Sec. 3.1: identity 8, expression 8, pose 6; C.2 gives 12
            for identity and pose, see ``paper_supplementary.toml``).
        codebook_size: codes per level ``K`` (identity 512, expression 2048, pose 512).
        strides: temporal down-sampling of the two stages (``(2, 2)``: T -> T/4). Identity is
            one vector per clip, tokenized as a length-1 sequence with strides ``(1, 1)``.
        blocks_per_stage: ResBlocks per stage (2).
        kernel_size: taps of the convolutions (3).
        dilations: dilation of each ResBlock inside a stage (paper silent; ``(1, 3)``).
        activation: non-linearity of the ResBlocks (paper silent; ELU as in SoundStream).
        output_scale: the decoder ends in ``output_scale * tanh``: the paper's tanh output can
            only reach +-1, while z-scored parameters routinely exceed one standard deviation,
            so it is scaled (1.0 gives the literal paper output).
        ema_decay: codebook EMA decay (0.99).
        dead_code_threshold: EMA count under which a code is re-seeded from the batch.
        kmeans_iters: Lloyd iterations of the k-means initialisation.
        quantizer_dropout: probability, per example, of training with a random prefix of levels
            (the paper does not use it; 0 keeps every level).
    """

    channels: int = attrs.field(default=1024, validator=_at_least(1))
    latent_dim: int = attrs.field(default=128, validator=_at_least(1))
    num_levels: int = attrs.field(default=8, validator=_at_least(1))
    codebook_size: int = attrs.field(default=512, validator=_at_least(2))
    strides: tuple[int, ...] = attrs.field(default=(2, 2), converter=tuple, validator=_at_least(1))
    blocks_per_stage: int = attrs.field(default=2, validator=_at_least(1))
    kernel_size: int = attrs.field(default=3, validator=_at_least(1))
    dilations: tuple[int, ...] = attrs.field(default=(1, 3), converter=tuple, validator=_at_least(1))
    activation: str = "elu"
    output_scale: float = attrs.field(default=5.0, validator=_at_least(1e-6))
    ema_decay: float = attrs.field(default=0.99, validator=_fraction)
    dead_code_threshold: float = attrs.field(default=2.0, validator=_at_least(0.0))
    kmeans_iters: int = attrs.field(default=10, validator=_at_least(1))
    quantizer_dropout: float = attrs.field(default=0.0, validator=_fraction)

    def __attrs_post_init__(self) -> None:
        if len(self.dilations) != self.blocks_per_stage:
            raise ConfigError(
                f"ModelConfig.dilations has {len(self.dilations)} entries; it needs one per "
                f"ResBlock (blocks_per_stage = {self.blocks_per_stage})"
            )
        if self.ema_decay >= 1.0:
            raise ConfigError("ModelConfig.ema_decay must be < 1")

    @property
    def time_factor(self) -> int:
        """Input frames per latent step (4 for the temporal tokenizers, 1 for identity)."""
        return math.prod(self.strides)

    @property
    def vocabulary_size(self) -> int:
        """``num_levels * codebook_size`` local ids."""
        return self.num_levels * self.codebook_size


@attrs.frozen(kw_only=True)
class TrainConfig:
    """Training of one tokenizer (supp. C.2): L2 x 50 + commitment x 1, AdamW 4e-4, 0.5% warm-up.

    Attributes:
        steps: optimizer steps (paper: 200k identity/expression, 100k pose).
        batch_size: windows per step (paper 1024).
        window_frames: frames per training window (a multiple of the time factor; paper silent).
        learning_rate: peak AdamW learning rate (4e-4).
        warmup_fraction: linear warm-up share of the steps (0.005), then cosine decay.
        final_lr_fraction: learning rate at the end of the cosine, relative to the peak.
        weight_decay: AdamW decoupled weight decay (paper silent; optax's default 1e-4).
        recon_weight: weight of the L2 reconstruction loss (50).
        commit_weight: weight of the commitment loss (1).
        holdout_fraction: share of clips kept out of training for the reported error.
        log_every: steps between progress lines.
        min_steps: a run that stops (its time budget spent) before this many steps is reported
            as undertrained (``below_min`` in the report, and a warning).
    """

    steps: int = attrs.field(default=200_000, validator=_at_least(1))
    batch_size: int = attrs.field(default=1024, validator=_at_least(1))
    window_frames: int = attrs.field(default=64, validator=_at_least(1))
    learning_rate: float = attrs.field(default=4e-4, validator=_at_least(0.0))
    warmup_fraction: float = attrs.field(default=0.005, validator=_fraction)
    final_lr_fraction: float = attrs.field(default=0.0, validator=_fraction)
    weight_decay: float = attrs.field(default=1e-4, validator=_at_least(0.0))
    recon_weight: float = attrs.field(default=50.0, validator=_at_least(0.0))
    commit_weight: float = attrs.field(default=1.0, validator=_at_least(0.0))
    holdout_fraction: float = attrs.field(default=0.1, validator=_fraction)
    log_every: int = attrs.field(default=100, validator=_at_least(1))
    min_steps: int = attrs.field(default=100, validator=_at_least(0))


@attrs.frozen(kw_only=True)
class FlameTokenizerConfig:
    """Everything that defines one FLAME tokenizer: modality, dimensions, network, training.

    Attributes:
        modality: ``"identity"``, ``"expression"`` or ``"pose"``.
        dims: FLAME parameter sizes; the input width is ``dims.shape`` (identity),
            ``dims.expression`` or ``dims.pose``.
        model: the network.
        train: its training.
        token_order: ``"frame"`` (default): frame-major, levels low to high within each latent
            step, ``[s0:l0 .. s0:lN-1, s1:l0 ..]``, like the paper's speech tokens; ``"level"``:
            level-major ``[l0:s0 .. l0:sM-1, l1:s0 ..]``. Local id = ``level * K + code``.
    """

    modality: str = attrs.field(validator=attrs.validators.in_(FLAME_MODALITIES))
    dims: FlameDims = DEFAULT_DIMS
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    token_order: str = attrs.field(default="frame", validator=attrs.validators.in_(("frame", "level")))

    def __attrs_post_init__(self) -> None:
        if self.modality == "identity" and self.model.time_factor != 1:
            raise ConfigError(
                "FlameTokenizerConfig: identity is one vector per clip (a length-1 sequence); "
                f"its model.strides must all be 1, got {self.model.strides}"
            )
        if self.modality != "identity" and self.train.window_frames % self.model.time_factor:
            raise ConfigError(
                f"FlameTokenizerConfig[{self.modality}]: train.window_frames "
                f"({self.train.window_frames}) must be a multiple of the time factor "
                f"{self.model.time_factor}"
            )

    @property
    def input_dim(self) -> int:
        """Width of one frame of the modality's raw parameters."""
        return int(getattr(self.dims, _DIM_FIELD[self.modality]))

    @property
    def temporal(self) -> bool:
        """False for identity (one vector per clip), True for expression and pose."""
        return self.modality != "identity"


def shipped_config_names() -> list[str]:
    """Names of the config files shipped in ``archon_flame_rvq/configs`` (without ``.toml``)."""
    root = resources.files("archon_flame_rvq") / "configs"
    return sorted(p.name[: -len(".toml")] for p in root.iterdir() if p.name.endswith(".toml"))


def shipped_config(name: str, modality: str) -> FlameTokenizerConfig:
    """Load ``[modality]`` of a shipped config file (``small``, ``paper``, ``paper_supplementary``).

    Raises:
        ConfigError: an unknown file name or modality.
    """
    if name not in shipped_config_names():
        raise ConfigError(
            f"archon_flame_rvq: no shipped config {name!r}; choose one of {shipped_config_names()}"
        )
    if modality not in FLAME_MODALITIES:
        raise ConfigError(f"archon_flame_rvq: unknown modality {modality!r}; choose {FLAME_MODALITIES}")
    path = Path(str(resources.files("archon_flame_rvq") / "configs" / f"{name}.toml"))
    return load_config(path, FlameTokenizerConfig, section=modality)


def config_from_dict(data: dict, *, source: str) -> FlameTokenizerConfig:
    """Structure a saved config (``config.json`` of an artifact directory)."""
    return from_dict(FlameTokenizerConfig, data, source=source)
