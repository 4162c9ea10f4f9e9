"""A trained model ready to generate: the prefix LM, its vocabulary layout, its trained suite,
the tokenizers it was trained with and the prompt serializer, loaded from a training run."""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import equinox as eqx
import jax

from archon_framework._capabilities import Renderer
from archon_framework._codec import SlotCodec
from archon_framework._errors import (
    ArchonError,
    CheckpointError,
    LayoutMismatchError,
    PluginError,
    TaskError,
)
from archon_framework._modality import Modality
from archon_framework._plugins import Registry
from archon_framework._prompt import PromptSerializer
from archon_framework._tasks import TaskSuite
from archon_framework._vocab import VocabLayout
from archon_framework.config import from_dict
from archon_framework.infer._shipped import is_exported, load_exported_params, read_exported, resolve_model
from archon_framework.model import PrefixLM, PrefixLMConfig, load_model_config

__all__ = ["LoadedModel", "load_checkpoint", "model_folder", "open_run", "read_run", "trained_suite"]


class LoadedModel:
    """A prefix LM with everything generation needs.

    Args:
        lm: the prefix LM.
        registry: the installed plugins.
        layout: the vocabulary layout the LM was trained with (possibly extended by newly
            installed vocabularies, which the LM has no rows for).
        suite: the tasks it was trained on (a chain step outside it is refused).
        artifacts: the tokenizers' artifact folder it was trained with (None: plugin defaults).
        source: where it came from, for manifests.
        step: the training step of its checkpoint, if any.
    """

    def __init__(self, lm: PrefixLM, registry: Registry, layout: VocabLayout, suite: TaskSuite, *,
                 artifacts: Path | None = None, source: str = "", step: int | None = None) -> None:
        if lm.vocab_size > layout.total_size:
            raise CheckpointError(
                f"{source or 'model'}: the LM has {lm.vocab_size} ids but the layout only "
                f"{layout.total_size} ids"
            )
        self.lm, self.registry, self.layout, self.suite = lm, registry, layout, suite
        self.artifacts = Path(artifacts) if artifacts is not None else None
        self.source, self.step = source, step
        self._tokenizers: dict[str, Any] = {}
        self._renderers: dict[str, Renderer] = {}
        self._codecs: dict[str, SlotCodec] = {}
        self.serializer = PromptSerializer(layout, registry.modalities, registry.text_codec(self.artifacts))

    @property
    def modalities(self) -> dict[str, Modality]:
        return dict(self.registry.modalities)

    def tokenizer(self, name: str) -> Any:
        """The modality's tokenizer, loaded once from the artifacts."""
        if name not in self._tokenizers:
            self._tokenizers[name] = self.registry.tokenizer(name, self.artifacts)
        return self._tokenizers[name]

    def renderer(self, name: str) -> Renderer:
        """A rendered modality's renderer, loaded once from the artifacts."""
        if name not in self._renderers:
            self._renderers[name] = self.registry.renderer(name, self.artifacts)
        return self._renderers[name]

    def codec(self, name: str) -> SlotCodec:
        """The modality's slot codec (raw value <-> global ids), made once with its tokenizer."""
        if name not in self._codecs:
            self._codecs[name] = SlotCodec(self.registry.modality(name), self.tokenizer(name), self.serializer,
                                           plugin=self.registry.providers[name].label)
        return self._codecs[name]

    def __repr__(self) -> str:
        return (f"LoadedModel({self.source or 'in memory'}, step={self.step}, vocab={self.lm.vocab_size}, "
                f"suite={self.suite.name!r} with {len(self.suite)} tasks)")


def trained_suite(registry: Registry, name: str, layout: VocabLayout, run_dir: str | Path | None = None) -> TaskSuite:
    """The tasks of suite `name` a model with `layout` was trained on.

    A run records its suite (`suite.json`, `archon_framework.train.read_run_suite`): that record
    is used when `run_dir` has one, so a suite no plugin provides (the demo's, or one composed in
    Python) still loads. Otherwise the installed suite `name`, of which the trainer kept the
    tasks whose modalities were installed: those with a vocabulary in the saved layout.
    """
    from archon_framework.train import read_run_suite

    recorded = read_run_suite(run_dir) if run_dir is not None else None
    suite = recorded if recorded is not None else registry.suite(name)
    known = set(layout.names)
    ok = set()
    for mod_name, mod in registry.modalities.items():
        if mod.vocabulary is not None and mod.vocabulary.name in known:
            ok.add(mod_name)
    keep = [(t, w) for t, w in zip(suite.tasks, suite.weights) if t.modalities <= ok]
    if not keep:
        raise TaskError(f"suite {name!r}: none of its tasks uses only the modalities of the checkpoint's layout")
    return TaskSuite(suite.name, tuple(t for t, _ in keep), tuple(w for _, w in keep))


def _resolve(path: str, base: Path) -> Path:
    """A path from a training config: as is, from the working directory, or beside the run."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p
    for root in (base, base.parent):
        if (root / p).exists():
            return root / p
    return p


def open_run(run_dir: str | Path, step: int | None = None) -> tuple[Any, int]:
    """A read-only orbax CheckpointManager over a training run and the step to read (the latest
    by default).

    Raises:
        CheckpointError: the folder is not a training run, or has no (such) checkpoint.
    """
    import orbax.checkpoint as ocp

    run = Path(run_dir)
    root = run / "checkpoints"
    if not root.is_dir():
        raise CheckpointError(f"{run}: not a training run (no checkpoints/ folder); pass the out_dir of `archon train` "
                              "(for `archon demo`: its lm/ folder)")
    absl = logging.getLogger("absl")  # orbax logs a WARNING for each read-only option it sets
    level = absl.level
    absl.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            manager = ocp.CheckpointManager(root.absolute(), options=ocp.CheckpointManagerOptions(read_only=True))
    finally:
        absl.setLevel(level)
    steps = sorted(manager.all_steps())
    if not steps:
        raise CheckpointError(f"{root}: no checkpoint; train first")
    if step is not None and step not in steps:
        raise CheckpointError(f"{root}: no checkpoint at step {step} (steps: {', '.join(map(str, steps))})")
    return manager, steps[-1] if step is None else step


def load_checkpoint(
    run_dir: str | Path,
    registry: Registry,
    *,
    step: int | None = None,
    artifacts: str | Path | None = None,
) -> LoadedModel:
    """Load the LM of a training run (`archon train`'s `out_dir`), of an exported model, or a
    shipped model by name (`archon_framework.infer.shipped_models`), for generation.

    Reads the checkpoint's parameters, training config and vocabulary layout (orbax items
    `params`, `config`, `layout`; the optimizer state is not read), rebuilds the model config
    the trainer used, checks the layout against the installed plugins, and finds the
    tokenizers the run was trained with (`data.artifacts`, or `artifacts` to override).

    Raises:
        CheckpointError: no run, no checkpoint, unreadable or mismatching parameters.
        LayoutMismatchError: the checkpoint's vocabulary layout does not match the installed
            plugins (a vocabulary missing or resized).
    """
    import orbax.checkpoint as ocp

    from archon_framework.train import MODEL_CONFIG_FILE, TrainConfig

    run = model_folder(run_dir)
    if is_exported(run):
        return _load_exported(run, registry, step=step, artifacts=artifacts)
    manager, step = open_run(run, step)
    where = f"{run / 'checkpoints' / str(step)}"
    try:
        meta = manager.restore(step, args=ocp.args.Composite(config=ocp.args.JsonRestore(), layout=ocp.args.JsonRestore()))
    except Exception as err:
        raise CheckpointError(f"{where}: cannot read its config and layout ({err})") from err
    saved = VocabLayout.from_json(json.dumps(meta["layout"]), source=f"{where} (layout)")
    config = from_dict(TrainConfig, meta["config"], source=f"{where} (config)")
    if artifacts is None and config.data.artifacts:
        artifacts = _resolve(config.data.artifacts, run)
        if not Path(artifacts).is_dir():
            raise CheckpointError(
                f"{where}: it was trained with the tokenizers in {config.data.artifacts!r}, which is not a folder "
                "from here; pass artifacts= (archon generate --artifacts DIR)"
            )
    elif artifacts is not None and not Path(artifacts).is_dir():
        raise CheckpointError(f"tokenizer artifacts folder {artifacts} does not exist")
    registry = registry.for_artifacts(artifacts)  # vocabularies sized by the run's tokenizers
    try:
        layout = registry.layout(saved)
    except LayoutMismatchError as err:
        raise LayoutMismatchError(f"checkpoint {where}: {err}") from err
    recorded = run / MODEL_CONFIG_FILE
    try:  # the config the run recorded when it started; runs from before that rebuild it by name
        if recorded.is_file():
            model_cfg = from_dict(PrefixLMConfig, json.loads(recorded.read_text()), source=str(recorded))
        else:
            name = config.model.config
            if Path(name).suffix in (".toml", ".json"):  # a file, possibly relative to where training ran
                name = str(_resolve(name, run))
            model_cfg = load_model_config(name)
    except (ArchonError, ValueError) as err:
        raise CheckpointError(f"{where}: cannot rebuild its model config {config.model.config!r} ({err})") from err
    model_cfg = model_cfg.for_layout(saved).replace(max_seq_len=max(model_cfg.max_seq_len, config.data.seq_len))
    params, static = eqx.partition(PrefixLM(model_cfg, key=jax.random.key(0)), eqx.is_array)
    try:
        restored = manager.restore(step, args=ocp.args.Composite(params=ocp.args.StandardRestore(params)))
    except Exception as err:
        raise CheckpointError(f"{where}: its parameters do not match the model config it names ({err})") from err
    lm = eqx.combine(restored["params"], static)
    suite = trained_suite(registry, config.data.suite, saved, run)
    try:
        return LoadedModel(lm, registry, layout, suite, artifacts=Path(artifacts) if artifacts else None,
                           source=str(run), step=step)
    except PluginError as err:
        raise CheckpointError(f"{where}: {err}") from err


def model_folder(run_dir: str | Path) -> Path:
    """The LM folder a `--checkpoint` value names: a shipped model's name (verified and linked,
    `resolve_model`), an exported model's folder (its ``lm/``), or a training run as is."""
    run = resolve_model(run_dir)
    if (run / "lm").is_dir() and (run / "model.json").is_file():
        return run / "lm"
    return run


def _load_exported(run: Path, registry: Registry, *, step: int | None, artifacts: str | Path | None) -> LoadedModel:
    from archon_framework.train import TrainConfig

    record = read_exported(run)  # every file's hash checked first
    where = str(run)
    if step is not None and step != record["step"]:
        raise CheckpointError(f"{where}: an exported model of step {record['step']}; it has no step {step}")
    saved = VocabLayout.from_json(json.dumps(record["layout"]), source=f"{where} (layout)")
    config = from_dict(TrainConfig, record["config"], source=f"{where} (config)")
    if artifacts is None and config.data.artifacts:
        # recorded relative to the exported lm/ folder, read lexically: a shipped model's lm/ is a
        # link into its package, and its tokenizers are beside the link, not beside the target
        artifacts = Path(os.path.normpath(run / config.data.artifacts))
    if artifacts is not None and not Path(artifacts).is_dir():
        raise CheckpointError(f"{where}: its tokenizers folder {artifacts} does not exist")
    registry = registry.for_artifacts(artifacts)
    try:
        layout = registry.layout(saved)
    except LayoutMismatchError as err:
        raise LayoutMismatchError(f"exported model {where}: {err}") from err
    model_cfg = from_dict(PrefixLMConfig, record["model_config"], source=f"{where} (model_config)")
    params, static = eqx.partition(PrefixLM(model_cfg, key=jax.random.key(0)), eqx.is_array)
    lm = eqx.combine(load_exported_params(run, params, record["dtype"]), static)
    suite = trained_suite(registry, config.data.suite, saved, run)
    try:
        return LoadedModel(lm, registry, layout, suite, artifacts=Path(artifacts) if artifacts else None,
                           source=str(run), step=int(record["step"]))
    except PluginError as err:
        raise CheckpointError(f"{where}: {err}") from err


def read_run(run_dir: str | Path, *, step: int | None = None) -> tuple[Any, int]:
    """The training config and checkpoint step of a run, read without its parameters.

    Raises:
        CheckpointError: the folder is not a training run, or has no (such) checkpoint.
    """
    import orbax.checkpoint as ocp

    from archon_framework.train import TrainConfig

    run_dir = model_folder(run_dir)
    if is_exported(run_dir):  # an exported or shipped model: one step, its config in model.json
        record = read_exported(run_dir)
        if step is not None and step != record["step"]:
            raise CheckpointError(f"{run_dir}: an exported model of step {record['step']}; it has no step {step}")
        return from_dict(TrainConfig, record["config"], source=f"{run_dir} (config)"), int(record["step"])
    root = Path(run_dir) / "checkpoints"
    manager, step = open_run(run_dir, step)
    try:
        meta = manager.restore(step, args=ocp.args.Composite(config=ocp.args.JsonRestore()))
    except Exception as err:
        raise CheckpointError(f"{root / str(step)}: cannot read its training config ({err})") from err
    return from_dict(TrainConfig, dict(meta["config"]), source=f"{root / str(step)} (config)"), step
