"""The prefix-LM trainer (paper Sec. 3.2, 4.1): several tasks per packed window, AdamW with
warm-up + cosine, one jitted step on a (data, fsdp) device mesh, orbax checkpoints that resume
exactly, per-task, per-modality and per-RVQ-level losses in JSONL (and TensorBoard if installed).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from jax.sharding import NamedSharding, PartitionSpec

from archon_framework._clip import Clip
from archon_framework._codec import SlotCodec, level_blocks, validated_code_vectors
from archon_framework._errors import ArchonError, CheckpointError, ConfigError
from archon_framework._plugins import Registry
from archon_framework._prompt import PromptSerializer
from archon_framework._suites import output_balanced_weights, perplexity_weights, uniform_weights
from archon_framework._tasks import TaskSuite
from archon_framework._vocab import VocabLayout
from archon_framework.config import atomic_write_text, from_dict, to_dict
from archon_framework.data import ClipDataset, TaskSampler, TokenCache, needed_keys, pack_examples, slot_window_key
from archon_framework.model import CodeVectors, PrefixLM, PrefixLMConfig, embed_code_vectors, load_model_config
from archon_framework.train._config import TrainConfig, check_train_config, with_default_suite
from archon_framework.train._distributed import allgather_json, naming_lost_processes, preflight, primary_first, run_fingerprint
from archon_framework.train._growth import (
    SUITE_FILE,
    abstract_state,
    grow_state,
    read_run_suite,
    record_plugins,
    removed_plugins_message,
    save_run_suite,
)
from archon_framework.train._levels import LevelTable
from archon_framework.train._logging import MetricsLog, perplexity
from archon_framework.train._mesh import make_mesh, param_sharding, shard_tree
from archon_framework.train._step import batch_losses, make_optimizer, make_schedule, make_train_step
from archon_framework.train._streams import BatchStreams, local_rows, merge_stream_states, stream_count

#: The model config a run was trained with (`load_model_config` of its `model.config`, before its
#: vocabulary layout sizes it), written beside its checkpoints by the first run.
MODEL_CONFIG_FILE = "model_config.json"

__all__ = ["MODEL_CONFIG_FILE", "Trainer", "TrainingError", "make_mesh", "read_run_suite", "save_run_suite", "weighted_suite"]


class TrainingError(ArchonError):
    """Training cannot go on (e.g. a non-finite loss); the message names the step and tasks."""


def weighted_suite(suite: TaskSuite, weights: str) -> TaskSuite:
    """`suite` with the weights a run with ``data.weights = weights`` trains it with.

    The same rule as the trainer: "suite", "uniform", "output", or a JSON file of perplexities.
    """
    if weights == "suite":
        return suite
    if weights == "uniform":
        return uniform_weights(suite)
    if weights == "output":
        return output_balanced_weights(suite)
    try:
        ppl = json.loads(Path(weights).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ConfigError(f"data.weights: {weights} is not a JSON file of task perplexities ({err})") from err
    return perplexity_weights(suite, ppl.get("perplexities", ppl))


class Trainer:
    """Trains a PrefixLM on a clip dataset and a task suite.

    Args:
        config: the run's config.
        registry: the installed plugins (modalities, suites, text codec).
        clips: the clips (default: `ClipDataset(config.data.dataset)`).
        devices: devices for the mesh (default: all).
        progress: show a progress bar.
    """

    def __init__(self, config: TrainConfig, registry: Registry, *, clips: Sequence[Clip] | None = None,
                 devices: Sequence[Any] | None = None, progress: bool = True) -> None:
        check_train_config(config, registry, dataset_needed=clips is None)  # every error named before any work
        config = with_default_suite(config, registry)  # the run records the suite it trained on, by name
        artifacts = Path(config.data.artifacts) if config.data.artifacts else None
        # The unified vocabulary follows the trained tokenizers' configs (a CPU-sized image
        # tokenizer has 2^12 codes, the paper's 2^18): each vocabulary as big as its tokenizer.
        self.config, self.registry, self.progress = config, registry.for_artifacts(artifacts), progress
        registry = self.registry
        self._primary = jax.process_index() == 0  # only process 0 writes run files, metrics and logs
        self.mesh = make_mesh(config, devices)  # the batch fits the mesh (same answer on every process)
        self.streams = config.data.streams or config.data.batch_size  # one stream per row: batches never depend on devices
        if config.data.batch_size % self.streams:
            raise ConfigError(f"data.streams = {self.streams}: must divide data.batch_size = {config.data.batch_size}")
        self._batch_sharding = NamedSharding(self.mesh, PartitionSpec("data"))
        if jax.process_count() > 1:  # every process agrees on plugins, layout and config before any work
            preflight(run_fingerprint(self.registry, to_dict(config)))
        with primary_first("setting up the run directory"):  # the others then read what process 0 wrote
            self._setup(config, registry, clips, artifacts)
        self._init_model_parts(config)

    def _setup(self, config: TrainConfig, registry: Registry, clips: Sequence[Clip] | None, artifacts: Path | None) -> None:
        self.out = Path(config.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self._writes: list[Callable[[], None]] = []  # run-dir files, written once every check passed
        self.layout = self._layout()
        self.serializer = PromptSerializer(self.layout, registry.modalities, registry.text_codec(artifacts))
        self.suite = self._suite()
        if clips is None:
            if not config.data.dataset:
                raise ConfigError("train config: data.dataset is empty; point it at a dataset directory")
            clips = ClipDataset(config.data.dataset)
        self._tokenizers: dict[str, Any] = {}
        self.cache = self._cache(clips, artifacts)
        self.sampler = TaskSampler(self.cache, self.suite, self.serializer, seed=config.data.seed,
                                   condition_dropout=config.data.condition_dropout,
                                   condition_dropout_tasks=config.data.condition_dropout_tasks)
        self._check_window()
        self.levels = self._levels(artifacts)
        for write in self._writes if self._primary else ():  # layout.json, plugins.json, suite.json, the token cache
            write()

    def _init_model_parts(self, config: TrainConfig) -> None:
        model_cfg = self._base_model_config(config)
        model_cfg = model_cfg.for_layout(self.layout).replace(max_seq_len=max(model_cfg.max_seq_len, config.data.seq_len))
        self.model_config = model_cfg
        self.schedule = make_schedule(config)
        self.optimizer = make_optimizer(config)
        self.modality_ranges = self._modality_ranges()
        self._step_fn = make_train_step(config, n_tasks=len(self.suite.tasks),
                                        n_modalities=len(self.sampler.modality_names), levels=self.levels,
                                        modality_ranges=self.modality_ranges)
        # Orbax writes each step into `<step>.orbax-checkpoint-tmp` and renames it when complete;
        # old steps are deleted only after that, and tmp dirs left by a killed save are removed.
        self.manager = ocp.CheckpointManager(
            (self.out / "checkpoints").absolute(),
            options=ocp.CheckpointManagerOptions(max_to_keep=config.checkpoint.keep, create=True,
                                                 cleanup_tmp_directories=True),
        )

    def _base_model_config(self, config: TrainConfig) -> PrefixLMConfig:
        """The model config `model.config` names, recorded in `MODEL_CONFIG_FILE` by the first
        run (so the checkpoint loads with the config it was trained with, wherever the named
        file has gone); a resumed run whose named config now differs is refused."""
        model_cfg = load_model_config(config.model.config)
        path = self.out / MODEL_CONFIG_FILE
        if path.is_file():
            saved = from_dict(PrefixLMConfig, json.loads(path.read_text()), source=str(path))
            if saved != model_cfg:
                fields = [f.name for f in attrs.fields(PrefixLMConfig) if getattr(saved, f.name) != getattr(model_cfg, f.name)]
                raise ConfigError(f"{path}: this run was trained with another model config than model.config = "
                                  f"{config.model.config!r} gives now (differs in {', '.join(fields)}); restore that "
                                  "config, or train into a new out_dir")
        elif self._primary:
            atomic_write_text(path, json.dumps(to_dict(model_cfg), indent=2) + "\n")
        return model_cfg

    # ------------------------------------------------------------------ setup
    def _layout(self) -> VocabLayout:
        """`layout.json`, with the vocabularies of plugins installed since appended (no saved id
        moves; the checkpoint grows on restore). A saved vocabulary no plugin provides now is
        refused, naming the plugin `plugins.json` recorded for it."""
        path = self.out / "layout.json"
        if not path.exists():
            layout = self.registry.layout()
            self._writes += [lambda: layout.save(path), lambda: record_plugins(self.out, self.registry, layout)]
            return layout
        saved = VocabLayout.load(path)
        missing = saved.diff(self.registry.vocabularies()).missing
        if missing:
            raise CheckpointError(removed_plugins_message(self.out, missing))
        layout = self.registry.layout(saved)  # LayoutMismatchError names a resized vocabulary
        if layout != saved:  # appended only: every saved id stays where it was
            self._writes.append(lambda: layout.save(path))
        self._writes.append(lambda: record_plugins(self.out, self.registry, layout))
        return layout

    def _suite(self) -> TaskSuite:
        """The configured suite, weighted; a suite no plugin provides is read from the run's own
        record (resuming a run whose suite was composed in Python). Recorded in suite.json.

        A resumed run may gain tasks (a plugin added a modality and tasks using it), in any
        order (task ids only index the metrics); losing a recorded task is refused.
        """
        suite = self._weighted_suite()
        recorded = read_run_suite(self.out)
        if recorded is not None and recorded.tasks != suite.tasks:
            gone = [t.name for t in recorded.tasks if t not in suite.tasks]
            if gone:
                raise ConfigError(
                    f"{self.out}: this run was trained on the {len(recorded)} tasks of {self.out / SUITE_FILE}, but the "
                    f"config now gives {len(suite)} tasks of suite {suite.name!r} without task(s) {', '.join(gone)} "
                    "(plugins or data.suite changed); install the plugins again, or train into a new out_dir"
                )
        self._writes.append(lambda: save_run_suite(self.out, suite))
        return suite

    def _weighted_suite(self) -> TaskSuite:
        d = self.config.data
        if d.suite not in self.registry.suites and (recorded := read_run_suite(self.out)) is not None:
            return recorded
        suite = self.registry.suite(d.suite).filter_installed(self.registry.modalities)
        suite.check(self.registry.modalities)
        return weighted_suite(suite, d.weights)

    def _modality_ranges(self) -> tuple[tuple[int, int], ...]:
        """Global (start, size) of each modality index's vocabulary (the whole vocabulary for a
        rendered modality, which is never a target)."""
        out = []
        for name in self.sampler.modality_names:
            vocab = self.registry.modalities[name].vocabulary
            r = self.layout.range(vocab.name) if vocab is not None else None
            out.append((r.start, r.size) if r is not None else (0, self.layout.total_size))
        return tuple(out)

    def _tokenizer(self, modality: str, artifacts: Path | None) -> Any:
        if modality not in self._tokenizers:
            self._tokenizers[modality] = self.registry.tokenizer(modality, artifacts)
        return self._tokenizers[modality]

    def _cache(self, clips: Sequence[Clip], artifacts: Path | None) -> TokenCache:
        """The run's token cache, reopened and extended with the (modality, window) pairs the
        suite now needs (what is cached is not tokenized again), or built."""
        root = self.out / "token-cache"
        keys = needed_keys(self.suite, self.registry.modalities)
        if (root / "token-cache.json").exists():
            cache = TokenCache.load(root, self.layout)
            missing = keys - cache.keys
            if not missing:
                return cache
            tokenizers = {m: self._tokenizer(m, artifacts) for m in sorted({m for m, _ in missing})}
            cache = cache.extend(clips, self.serializer, tokenizers, missing, past_fraction=self.config.data.past_fraction)
            self._writes.append(lambda: cache.save(root))  # under the grown layout: once the run is accepted
            return cache
        tokenizers = {m: self._tokenizer(m, artifacts) for m in self.suite.modalities}
        cache = TokenCache.build(clips, self.serializer, tokenizers, keys, past_fraction=self.config.data.past_fraction)
        if self._primary:
            cache.save(root)  # kept even if a later check fails: the slow part, valid for this layout
        return cache

    def _task_clips(self, task: Any) -> list[int]:
        mods = self.registry.modalities
        needs = [(s.modality, "clip" if not mods[s.modality].temporal else slot_window_key(task, s))
                 for s in (*task.inputs, task.output)]
        return self.cache.clips_with(needs)

    def _check_window(self, probes: int = 8) -> None:
        """Refuse a context window too small for one example of some task.

        Each task's examples are built for up to `probes` of its clips; if even the shortest is
        longer than `data.seq_len`, no window can ever hold one (under `too_long = "drop"` the
        run would drop them all, or wait forever for an example that fits).
        """
        seq_len, short = self.config.data.seq_len, []
        for t, task in enumerate(self.suite.tasks):
            lengths = [len(self.sampler.build(task, t, c)) for c in self._task_clips(task)[:probes]]
            if lengths and min(lengths) > seq_len:
                short.append(f"{task.name} ({min(lengths)} tokens)")
        if short:
            raise ConfigError(
                f"data.seq_len={seq_len}: the context window is too small for one example of task(s) "
                f"{', '.join(short)}; raise seq_len to at least the largest of these"
            )

    def _entry_lengths(self) -> dict[str, int]:
        """Per modality of the suite, the longest token sequence among the first cached entry of
        each of its (modality, window) keys: a length its tokenizer really produced."""
        lengths: dict[str, int] = {}
        for m, key in sorted(needed_keys(self.suite, self.registry.modalities)):
            for clip in self.cache.clips_with([(m, key)])[:1]:
                lengths[m] = max(lengths.get(m, 0), int(self.cache.get(clip, m, key).shape[0]))  # type: ignore[union-attr]
        return lengths

    def _levels(self, artifacts: Path | None) -> LevelTable:
        """Level blocks of the target modalities whose tokenizers have `token_ranges`.

        Each tokenizer is asked for the ranges of a length it really produced (a cached entry),
        so every level it uses appears; text targets have no levels.
        """
        mods = self.registry.modalities
        outputs = sorted({t.output.modality for t in self.suite.tasks if not self.serializer.is_text(t.output.modality)})
        lengths = self._entry_lengths()
        codecs = {m: SlotCodec(mods[m], self._tokenizer(m, artifacts), self.serializer) for m in outputs if m in lengths}
        return LevelTable.from_codecs(self.sampler.modality_names, codecs, lengths)

    def batches(self, state: dict | None = None) -> BatchStreams:
        """This process's rows of the packed, batched example stream (checkpointable), from the
        streams of `data.streams` (or of the saved `state`, which it continues)."""
        d = self.config.data
        streams = stream_count(state) or self.streams
        if state is not None and d.streams and d.streams != streams:
            raise ConfigError(f"data.streams = {d.streams}, but the checkpoint in {self.out / 'checkpoints'} was "
                              f"trained on {streams} stream(s); set data.streams = {streams} (or 0) to resume it")

        def pack(examples):
            return pack_examples(examples, seq_len=d.seq_len, num_packing_bins=d.packing_bins, too_long=d.too_long,
                                 vocab_size=self.layout.total_size, task_names=[t.name for t in self.suite.tasks])

        it = BatchStreams(self.sampler.dataset(), pack, batch_size=d.batch_size, streams=streams,
                          rows=local_rows(self._batch_sharding, d.batch_size))
        if state is not None:
            it.set_state(state)
        return it

    def init_model(self) -> PrefixLM:
        """A fresh model on the mesh; with ``model.embed_init = "codebook"`` the rows of each run
        modality whose tokenizer has code vectors start from them (`embed_code_vectors`)."""
        section = self.config.model
        model = PrefixLM(self.model_config, key=jax.random.key(section.seed))
        if section.embed_init == "codebook":
            model = embed_code_vectors(model, self._code_vectors(), share=section.codebook_share, seed=section.seed)
        return shard_tree(model, self.mesh)

    def _code_vectors(self) -> list[CodeVectors]:
        """The code vectors of the run's tokenizers that have them (a factorized range, which has
        no rows, keeps its random tables), each with its level block width from ``token_ranges``
        of a length it produced (a cached entry)."""
        mods = self.registry.modalities
        lengths = self._entry_lengths()
        tables = []
        for name, tokenizer in sorted(self._tokenizers.items()):
            vocab = mods[name].vocabulary
            if vocab is None or name not in lengths:
                continue
            r = self.layout.range(vocab.name)
            vectors = validated_code_vectors(name, tokenizer, r.size)
            if vectors is None or any(f.start == r.start for f in self.model_config.factorized):
                continue
            blocks = level_blocks(name, tokenizer, lengths[name], r.size)
            tables.append(CodeVectors(name, r.start, vectors, None if blocks is None else blocks[1]))
        return tables

    def init_opt_state(self, model: PrefixLM) -> Any:
        """The optimizer state of `model`, placed on the mesh like the parameters it mirrors.

        Left where optax creates it (its step counters uncommitted on one device), the jitted
        step would see other input shardings on its second call than on its first, and compile
        a second time.
        """
        return shard_tree(self.optimizer.init(eqx.filter(model, eqx.is_array)), self.mesh)

    # ------------------------------------------------------------------ the step
    def _put_batch(self, batch: dict[str, np.ndarray]) -> dict[str, jax.Array]:
        """Place this process's rows of a batch (`batches`) on the mesh, rows split over "data".

        Each process holds the rows of its devices' data slices (`local_rows`: a block when the
        data axis spans processes, every row of its slices when FSDP does) and hands JAX only
        those; `make_array_from_process_local_data` assembles the global batch.
        """
        sharding = self._batch_sharding
        if jax.process_count() == 1:
            return {k: jax.device_put(v, sharding) for k, v in batch.items()}
        size = self.config.data.batch_size
        return {k: jax.make_array_from_process_local_data(sharding, v, (size, *v.shape[1:])) for k, v in batch.items()}

    # ------------------------------------------------------------------ checkpoints
    def _save(self, step: int, model: PrefixLM, opt_state: Any, data_state: dict) -> None:
        params, _ = eqx.partition(model, eqx.is_array)
        self.manager.save(step, args=ocp.args.Composite(
            params=ocp.args.StandardSave(params), opt_state=ocp.args.StandardSave(opt_state),
            data=ocp.args.JsonSave(data_state), config=ocp.args.JsonSave(to_dict(self.config)),
            layout=ocp.args.JsonSave(json.loads(self.layout.to_json())),
        ))
        self.manager.wait_until_finished()

    def _restore(self, model: PrefixLM, opt_state: Any) -> tuple[int, PrefixLM, Any, dict] | None:
        """The latest checkpoint as (step, model, optimizer state, data state), or None.

        A checkpoint trained under a layout that this run's layout extends (plugins installed
        since) is restored at its own size and grown: its embedding rows and their optimizer
        state are kept bit for bit, the new rows are `model`'s own (a fresh model's
        initialisation) with zero Adam moments.
        """
        step = self.manager.latest_step()
        if step is None:
            return None
        where = self.out / "checkpoints" / str(step)
        try:
            saved_json = self.manager.restore(step, args=ocp.args.Composite(layout=ocp.args.JsonRestore()))["layout"]
        except Exception as err:
            raise CheckpointError(f"{where}: cannot read its vocabulary layout ({err})") from err
        saved = VocabLayout.from_json(json.dumps(saved_json), source=f"checkpoint {step}")
        if not self.layout.extends(saved):
            raise CheckpointError(f"checkpoint {step} was trained with another vocabulary layout: "
                                  f"{saved.diff(r.vocabulary for r in self.layout.ranges).describe()}")
        grown = saved.total_size != self.layout.total_size
        params, static = eqx.partition(model, eqx.is_array)
        target_params, target_opt = params, opt_state
        if grown:
            target_params, target_opt = abstract_state(self.model_config.for_layout(saved),
                                                       self.optimizer, lambda x: param_sharding(x, self.mesh))
        try:
            restored = self.manager.restore(step, args=ocp.args.Composite(
                params=ocp.args.StandardRestore(target_params), opt_state=ocp.args.StandardRestore(target_opt),
                data=ocp.args.JsonRestore(),
            ))
        except Exception as err:
            raise CheckpointError(f"{where}: cannot restore ({err})") from err
        params, opt = restored["params"], restored["opt_state"]
        if grown:
            params, opt = grow_state(params, opt, eqx.filter(model, eqx.is_array), opt_state)
            params, opt = shard_tree(params, self.mesh), shard_tree(opt, self.mesh)
        return step, eqx.combine(params, static), opt, restored["data"]

    # ------------------------------------------------------------------ the loop
    def train(self, steps: int | None = None, *, on_step: Callable[[int, dict], None] | None = None) -> PrefixLM:
        """Train (resuming from the latest checkpoint if there is one) up to `steps` (default: config)."""
        total = steps if steps is not None else self.config.steps
        model = self.init_model()
        opt_state = self.init_opt_state(model)
        start, data_state = 0, None
        restored = self._restore(model, opt_state)
        if restored is not None:
            start, model, opt_state, data_state = restored
        it = self.batches(data_state)
        log = MetricsLog(self.out, tensorboard=self.config.tensorboard, start=start, enabled=self._primary)
        task_names = [t.name for t in self.suite.tasks]
        bar = _Bar(self.progress and self._primary, total, start)
        last = time.perf_counter()
        try:
            for step in range(start + 1, total + 1):
                with naming_lost_processes(step, self._kept):  # a failed collective: which process died
                    batch = self._put_batch(next(it))
                    lr = self._rate(step)
                    model, opt_state, loss, stats = self._step_fn(batch, model, opt_state, lr)
                    loss = float(loss)
                self._check_finite(step, loss, stats, task_names)
                now = time.perf_counter()
                record = self._record(step, loss, stats, now - last, task_names, lr)
                last = now
                bar.update(step, record)
                if step % self.config.log_every == 0 or step == total:
                    log.write(record)
                if on_step is not None:
                    on_step(step, record)
                if step % self.config.checkpoint.every == 0 or step == total:
                    with naming_lost_processes(step, self._kept):
                        self._save(step, model, opt_state, merge_stream_states(allgather_json(it.get_state())))
        finally:
            bar.close()
            log.close()
        return model

    def _check_finite(self, step: int, loss: float, stats: dict, task_names: list[str]) -> None:
        """Stop on a non-finite loss or gradient, naming the step and the tasks behind it.

        Nothing of this step is saved: the latest checkpoint stays the last good one.
        """
        grad_norm = float(stats["grad_norm"])
        if math.isfinite(loss) and math.isfinite(grad_norm):
            return
        task_ce, task_n = np.asarray(stats["task_ce"]), np.asarray(stats["task_n"])
        bad = [task_names[i] for i in np.flatnonzero(~np.isfinite(task_ce) & (task_n > 0))]
        culprits = (f"task(s): {', '.join(bad)}" if bad else
                    f"every task of the batch has a finite loss; task(s) in the batch: "
                    f"{', '.join(task_names[i] for i in np.flatnonzero(task_n)) or 'none'}")
        raise TrainingError(f"step {step}: the loss is {loss} and the gradient norm {grad_norm} ({culprits}); {self._kept()}")

    def _kept(self) -> str:
        """Where a restart resumes from: the latest committed checkpoint."""
        latest = self.manager.latest_step()
        return (f"the last good checkpoint is step {latest} in {self.out / 'checkpoints'}" if latest is not None
                else f"no checkpoint was saved before it ({self.out / 'checkpoints'} is empty)")

    def latest_model(self) -> tuple[int, PrefixLM]:
        """The model of the latest checkpoint (CheckpointError if there is none)."""
        model = self.init_model()
        restored = self._restore(model, self.init_opt_state(model))
        if restored is None:
            raise CheckpointError(f"{self.out / 'checkpoints'}: no checkpoint to load; train first")
        return restored[0], restored[1]

    def task_perplexities(self, model: PrefixLM, *, batches: int = 20) -> dict[str, float]:
        """Per-task perplexity of `model` on `batches` fresh batches (for the paper's S(i))."""
        n_tasks = len(self.suite.tasks)
        ranges = self.modality_ranges if self.config.model.loss != "full" else None
        levels = self.levels if self.config.model.loss == "level" else None

        @eqx.filter_jit
        def measure(model, batch):
            losses = batch_losses(model, batch, ranges, self.config.model.loss_chunk, levels)
            ids = jnp.where(losses.mask, batch["task_ids"], n_tasks).ravel()
            return (jax.ops.segment_sum(losses.ce.ravel(), ids, n_tasks + 1)[:-1],
                    jax.ops.segment_sum(losses.mask.ravel().astype(jnp.float32), ids, n_tasks + 1)[:-1])

        ce, n = np.zeros(n_tasks), np.zeros(n_tasks)
        it = self.batches()
        for _ in range(batches):
            c, k = measure(model, self._put_batch(next(it)))
            ce, n = ce + np.asarray(c), n + np.asarray(k)
        missing = [t.name for t, k in zip(self.suite.tasks, n) if k == 0]
        if missing:
            raise TrainingError(f"no target token of task(s) {', '.join(missing)} in {batches} batches; measure more batches")
        return {t.name: float(np.exp(c / k)) for t, c, k in zip(self.suite.tasks, ce, n)}

    def _rate(self, step: int) -> np.float32:
        """The learning rate of update `step` (counted from 1): the schedule's value, given to the
        compiled step as an argument so that it is not one of its constants."""
        return np.float32(self.schedule(step - 1))

    def _record(self, step: int, loss: float, stats: dict, seconds: float, task_names: list[str],
                lr: np.float32) -> dict:
        """One metrics record: losses, perplexities and target-token counts per task, per modality
        and per (modality, residual level) that had target tokens in this step's batch."""
        tokens = self.config.data.batch_size * self.config.data.seq_len
        record: dict[str, Any] = {
            "step": step, "loss": loss, "ce": float(stats["ce"]), "lr": float(lr),
            "grad_norm": float(stats["grad_norm"]),
            "target_tokens": int(stats["tokens"]), "tokens_per_s": tokens / max(seconds, 1e-9),
        }
        groups = [("task", task_names, "task_ce", "task_n"), ("modality", self.sampler.modality_names, "mod_ce", "mod_n")]
        if self.levels.size:
            groups.append(("level", self.levels.names, "level_ce", "level_n"))
        for group, names, ce_key, n_key in groups:
            ce_sum, n = np.asarray(stats[ce_key]), np.asarray(stats[n_key])
            ce = {names[i]: float(ce_sum[i] / n[i]) for i in map(int, np.flatnonzero(n))}
            record[f"{group}_ce"] = ce
            record[f"{group}_ppl"] = {k: perplexity(v) for k, v in ce.items()}
            record[f"{group}_tokens"] = {names[i]: int(n[i]) for i in map(int, np.flatnonzero(n))}
        return record

class _Bar:
    """A rich progress bar with loss and tokens/s (a no-op when progress is off)."""

    def __init__(self, enabled: bool, total: int, start: int) -> None:
        self._p = None
        if enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._p = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"), TimeRemainingColumn())
            self._p.start()
            self._task = self._p.add_task("train", total=total, completed=start, info="")

    def update(self, step: int, record: dict) -> None:
        if self._p is not None:
            self._p.update(self._task, completed=step, info=f"loss {record['loss']:.3f}  {record['tokens_per_s']:,.0f} tok/s")

    def close(self) -> None:
        if self._p is not None:
            self._p.stop()
