"""The training config: small sections (model, optim, data, mesh, checkpoint) in one TOML file."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from archon_framework._errors import ArchonError, ConfigError, TaskError
from archon_framework._vocab import TEXT_VOCABULARY
from archon_framework.config import load_config
from archon_framework.data import INDEX_FILE

if TYPE_CHECKING:
    from archon_framework.model import PrefixLMConfig

__all__ = ["ModelSection", "OptimConfig", "DataConfig", "MeshConfig", "CheckpointConfig", "TrainConfig", "load_train_config",
           "check_train_config"]


def _positive(instance, attribute, value) -> None:
    if value <= 0:
        raise ConfigError(f"train config: {attribute.name} must be > 0, got {value}")


#: The LM's training losses (`ModelSection.loss`).
LOSSES = ("range", "level", "full")


#: How a fresh LM's embedding rows start (`ModelSection.embed_init`).
EMBED_INITS = ("normal", "codebook")


def _share(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not 0.0 < float(value) <= 1.0:
        raise ConfigError(f"model.{attribute.name} must lie in (0, 1], got {value!r}")


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
            prefix positions cost nothing. "level": like "range", but a target of a modality whose
            tokenizer has residual levels (speech, identity, expression, pose) takes its softmax
            over its level's codebook block only, the ids decoding allows at its position, so
            no step is spent learning which level comes next. "full": a softmax over the whole
            unified vocabulary.
        loss_chunk: positions per chunk of the output head (memory: chunk x range size).
        embed_init: "normal" (default): every embedding row N(0, 1). "codebook": the rows of each
            modality whose tokenizer has code vectors (`archon_framework.CodeVectorTokenizer`:
            speech, the FLAME modalities, semantic video, image) start as a mix of a random
            projection of the code's latent vector and a random row
            (`archon_framework.model.embed_code_vectors`), so codes the tokenizer finds alike
            start alike. Only a fresh model is started this way; a resumed one keeps its rows.
        codebook_share: the projected vectors' share of each such row's variance, in (0, 1].
    """

    config: str = "tiny"
    seed: int = 0
    loss: str = attrs.field(default="range", validator=attrs.validators.in_(LOSSES))
    loss_chunk: int = attrs.field(default=256, validator=_positive)
    embed_init: str = attrs.field(default="normal", validator=attrs.validators.in_(EMBED_INITS))
    codebook_share: float = attrs.field(default=0.5, validator=_share)


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
        suite: task suite name; empty: the installed default (`Registry.default_suite`: the
            first installed demo's suite, else the only suite installed).
        weights: "suite" (as declared), "uniform", "output" (1/N_m), or a JSON file of task
            perplexities for the paper's S(i) = log(p_i)/N_m(i).
        seq_len: context window (the paper's 8192; small for CPU runs).
        batch_size: packed windows per step.
        packing_bins: first-fit packing bins.
        too_long: "drop" or "error" for examples longer than `seq_len`.
        past_fraction: where continuation tasks split a clip.
        seed: sampling seed.
        condition_dropout: probability that an example's condition payloads are removed (its
            prompt keeps the inputs' headers with no values), so the model also learns the
            unconditional distribution that classifier-free guidance reads; 0 turns it off.
        condition_dropout_tasks: per-task probabilities by task name (``speech(c)->script(c)``),
            overriding `condition_dropout` for those tasks.
        streams: independent packed streams the batch is split into (stream ``s`` packs examples
            ``s, s+S, ...`` into its own rows; each process builds only the streams of its
            rows, so any number of devices and processes trains on the same batches). 0: one
            stream per row (``batch_size``); 1: one packed stream, batched (how runs made
            before streams existed trained). A resumed run keeps its checkpoint's.
    """

    dataset: str = ""
    artifacts: str = ""
    suite: str = ""
    weights: str = "suite"
    seq_len: int = attrs.field(default=8192, validator=_positive)
    batch_size: int = attrs.field(default=8, validator=_positive)
    packing_bins: int = attrs.field(default=8, validator=_positive)
    too_long: str = attrs.field(default="drop", validator=attrs.validators.in_(("drop", "error")))
    past_fraction: float = 0.5
    seed: int = 0
    condition_dropout: float = attrs.field(default=0.0, validator=[attrs.validators.ge(0.0), attrs.validators.lt(1.0)])
    condition_dropout_tasks: dict[str, float] = attrs.field(factory=dict)
    streams: int = attrs.field(default=0, validator=attrs.validators.ge(0))


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


def with_default_suite(config: TrainConfig, registry: Any) -> TrainConfig:
    """The config with ``data.suite`` named: as given, else the registry's default suite.

    Raises:
        TaskError: ``data.suite`` is empty and the installed plugins give no default (the
            message lists the installed suites).
    """
    if config.data.suite:
        return config
    return attrs.evolve(config, data=attrs.evolve(config.data, suite=registry.default_suite()))


# ---------------------------------------------------------------------- validation before work
_WEIGHTS = ("suite", "uniform", "output")


def check_train_config(config: TrainConfig, registry: Any, *, dataset_needed: bool = True) -> PrefixLMConfig:
    """Resolve and validate a whole training config before any file is written or data read.

    `Trainer.__init__` and `archon train` call this first, so a config that cannot train
    (an unknown model config, a dataset that is not there, a suite no plugin provides, an
    optimizer setting out of range) fails in a second with every problem named, instead of
    after the run directory is laid out and the clips are tokenized.

    Args:
        config: the training config, as loaded (types already checked by the converter).
        registry: the installed plugins (`archon_framework.Registry`).
        dataset_needed: whether `data.dataset` must name a dataset (False when the caller
            passes the clips itself).

    Returns:
        The resolved model config, with `max_seq_len` at least `data.seq_len` (the trainer
        sets `vocab_size` from the vocabulary layout).

    Raises:
        ConfigError: every problem found, one per line, each naming its field
            (`model.config`, `data.dataset`, `optim.end_lr`, ...).
    """
    from archon_framework.model import load_model_config

    problems: list[str] = []
    try:
        config = with_default_suite(config, registry)
    except TaskError as err:
        problems.append(f"data.suite is empty: {err}")
    model_cfg = None
    try:
        model_cfg = load_model_config(config.model.config)
        model_cfg = model_cfg.replace(max_seq_len=max(model_cfg.max_seq_len, config.data.seq_len))
    except ConfigError as err:
        problems.append(f"model.config = {config.model.config!r}: {err}")
    problems += _check_numbers(config)
    problems += _check_data(config, registry, dataset_needed=dataset_needed)
    if problems:
        raise ConfigError("train config is not valid, nothing was written:\n  " + "\n  ".join(problems))
    return model_cfg  # type: ignore[return-value]


def _check_numbers(config: TrainConfig) -> list[str]:
    o, d, problems = config.optim, config.data, []
    if not 0 <= o.end_lr <= o.peak_lr:
        problems.append(f"optim.end_lr = {o.end_lr}: must lie in 0..optim.peak_lr ({o.peak_lr})")
    if not 0 <= o.warmup_fraction < 1:
        problems.append(f"optim.warmup_fraction = {o.warmup_fraction}: must lie in [0, 1)")
    if o.weight_decay < 0:
        problems.append(f"optim.weight_decay = {o.weight_decay}: must be >= 0")
    for name in ("b1", "b2"):
        if not 0 <= getattr(o, name) < 1:
            problems.append(f"optim.{name} = {getattr(o, name)}: must lie in [0, 1)")
    if not 0 < d.past_fraction < 1:
        problems.append(f"data.past_fraction = {d.past_fraction}: must lie in (0, 1)")
    if config.mesh.data == 0 or config.mesh.data < -1:
        problems.append(f"mesh.data = {config.mesh.data}: a device count > 0, or -1 for all devices left over")
    return problems


def _check_data(config: TrainConfig, registry: Any, *, dataset_needed: bool) -> list[str]:
    d, problems = config.data, []
    if dataset_needed:
        if not d.dataset:
            problems.append("data.dataset is empty: point it at a dataset directory (`archon data synth` / `ingest`)")
        elif not (Path(d.dataset) / INDEX_FILE).is_file():
            problems.append(f"data.dataset = {d.dataset!r}: not a dataset directory (no {INDEX_FILE})")
    if d.artifacts and not Path(d.artifacts).is_dir():
        problems.append(f"data.artifacts = {d.artifacts!r}: no such directory of trained tokenizers")
    if not d.suite:
        pass  # no default either: check_train_config names it
    elif d.suite not in registry.suites and not (Path(config.out_dir) / "suite.json").is_file():
        problems.append(f"data.suite = {d.suite!r}: no installed plugin provides it (installed: "
                        f"{', '.join(sorted(registry.suites)) or 'none'}) and {config.out_dir} records none")
    elif d.suite in registry.suites:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the trainer says what it drops
                registry.suites[d.suite].filter_installed(registry.modalities).check(registry.modalities)
        except ArchonError as err:
            problems.append(f"data.suite = {d.suite!r}: {err}")
    if d.weights not in _WEIGHTS and not Path(d.weights).is_file():
        problems.append(f"data.weights = {d.weights!r}: use {', '.join(_WEIGHTS)} or a JSON file of task perplexities")
    if not any(m.vocabulary is not None and m.vocabulary.name == TEXT_VOCABULARY for m in registry.modalities.values()):
        problems.append("no installed modality provides the 'text' vocabulary the prompts are written in; "
                        "install archon-text-t5 (or another text plugin)")
    return problems
