"""The training config: small sections (model, optim, data, mesh, checkpoint) in one TOML file."""

from __future__ import annotations

from pathlib import Path

import attrs

from archon_framework._errors import ConfigError
from archon_framework.config import load_config

__all__ = ["ModelSection", "OptimConfig", "DataConfig", "MeshConfig", "CheckpointConfig", "TrainConfig", "load_train_config"]


def _positive(instance, attribute, value) -> None:
    if value <= 0:
        raise ConfigError(f"train config: {attribute.name} must be > 0, got {value}")


@attrs.frozen(kw_only=True)
class ModelSection:
    """Which prefix-LM config to train (`tiny`, `small`, `paper_1b` or a TOML file).

    `vocab_size` is always the vocabulary layout's size and `max_seq_len` at least the data's
    `seq_len`; both are set by the trainer.

    Attributes:
        config: the model config name or file.
        seed: initialization seed.
        loss: "range" (default): each target token's softmax covers only its output modality's
            vocabulary range, the distribution generation samples from; the head then costs
            what the targets need (a text target does not pay for the image codebook) and
            prefix positions cost nothing. "full": a softmax over the whole unified vocabulary.
        loss_chunk: positions per chunk of the output head (memory: chunk x range size).
    """

    config: str = "tiny"
    seed: int = 0
    loss: str = attrs.field(default="range", validator=attrs.validators.in_(("range", "full")))
    loss_chunk: int = attrs.field(default=256, validator=_positive)


@attrs.frozen(kw_only=True)
class OptimConfig:
    """AdamW with linear warm-up then cosine decay (paper Sec. 4.1: 1e-3 -> 5e-5, wd 1e-3).

    The paper warms up for 4,000 steps of a long run; `warmup_fraction` scales that to ours.
    """

    peak_lr: float = attrs.field(default=1e-3, validator=_positive)
    end_lr: float = 5e-5
    warmup_fraction: float = 0.05
    weight_decay: float = 1e-3
    b1: float = 0.9
    b2: float = 0.99
    clip_norm: float = attrs.field(default=1.0, validator=_positive)


@attrs.frozen(kw_only=True)
class DataConfig:
    """Where clips come from and how examples are built and packed.

    Attributes:
        dataset: a dataset directory (`archon data synth` / `ingest`).
        artifacts: trained tokenizers, one sub-directory per modality (missing: plugin default).
        suite: task suite name.
        weights: "suite" (as declared), "uniform", "output" (1/N_m), or a JSON file of task
            perplexities for the paper's S(i) = log(p_i)/N_m(i).
        seq_len: context window (the paper's 8192; small for CPU runs).
        batch_size: packed windows per step.
        packing_bins: first-fit packing bins.
        too_long: "drop" or "error" for examples longer than `seq_len`.
        past_fraction: where continuation tasks split a clip.
        seed: sampling seed.
    """

    dataset: str = ""
    artifacts: str = ""
    suite: str = "archon72"
    weights: str = "suite"
    seq_len: int = attrs.field(default=8192, validator=_positive)
    batch_size: int = attrs.field(default=8, validator=_positive)
    packing_bins: int = attrs.field(default=8, validator=_positive)
    too_long: str = attrs.field(default="drop", validator=attrs.validators.in_(("drop", "error")))
    past_fraction: float = 0.5
    seed: int = 0


@attrs.frozen(kw_only=True)
class MeshConfig:
    """Device mesh: `data` x `fsdp` devices (-1 in `data` = all devices left over)."""

    data: int = -1
    fsdp: int = attrs.field(default=1, validator=_positive)


@attrs.frozen(kw_only=True)
class CheckpointConfig:
    """Orbax checkpoints: every `every` steps (and at the end), keeping the last `keep`."""

    every: int = attrs.field(default=100, validator=_positive)
    keep: int = attrs.field(default=3, validator=_positive)


@attrs.frozen(kw_only=True)
class TrainConfig:
    """One training run.

    Attributes:
        out_dir: the run directory (token cache, checkpoints, metrics.jsonl, tensorboard/).
        steps: optimizer steps of the whole run.
        log_every: write a metrics record every this many steps (and at the last).
        tensorboard: also write TensorBoard event files to `out_dir/tensorboard` when
            tensorboardX or tensorboard is installed (neither is a dependency; without them
            the run logs one info line and keeps to metrics.jsonl).
    """

    out_dir: str
    steps: int = attrs.field(default=1000, validator=_positive)
    log_every: int = attrs.field(default=10, validator=_positive)
    tensorboard: bool = True
    model: ModelSection = ModelSection()
    optim: OptimConfig = OptimConfig()
    data: DataConfig = DataConfig()
    mesh: MeshConfig = MeshConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()

    @property
    def warmup_steps(self) -> int:
        return max(1, int(round(self.optim.warmup_fraction * self.steps)))


def load_train_config(path: str | Path) -> TrainConfig:
    """A TOML/JSON training config; unknown keys are errors naming the key and the file."""
    return load_config(path, TrainConfig)
