"""`archon demo`: synthesize data, train every tokenizer and the LM at tiny sizes, generate, show.

What the demo runs comes from a plugin's `DemoSpec` (`archon_demos()`; archon-paper's is the
paper's: its datasets, chains and Table G); the stages are the framework's, each skipped when a
previous run left its result in the output folder:

1. data: the spec's training clips and a few held-out clips, written by the same code as
   `archon data synth` (`archon_framework.data.synthesize`);
2. tokenizers: each installed modality's `Modality.trainer`, with an equal share of the
   tokenizer time budget (`tokenizers/<modality>/`, with `tokenizers/<modality>.json` as the
   report and the "done" mark);
3. the LM: the `tiny` prefix LM trained (`archon_framework.train.Trainer`) on the **demo
   suite**: the tasks of the spec's suite that the demo chains use (`demo_suite`), output-balanced,
   for a time budget (its step count estimated from a matmul probe, then corrected after the
   first steps) or `--steps`;
4. generation on the held-out clips: each of the spec's chains (the paper's: text-to-all,
   speech-to-video with thinking and without);
5. `index.html` (audio, images, GIFs and text side by side with the ground truth),
   `contact_sheet.png` and `demo.json` (settings, timings, what was skipped).

Modalities that are not installed are left out with a line saying so (e.g. `video` without
the video plugin: the chains then stop at the semantic video).
"""

from __future__ import annotations

import inspect
import json
import re
import shutil
import time
import warnings
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from rich.console import Console

from archon_framework._chains import Chain, _trained
from archon_framework._errors import ArchonError, ConfigError, PluginError, TaskError
from archon_framework._modality import Modality
from archon_framework._plugins import Registry
from archon_framework._showcase import DemoSpec
from archon_framework._tasks import Task, TaskSuite, parse_task
from archon_framework.config import atomic_write_text, to_dict
from archon_framework.model import Sampling

__all__ = ["DemoConfig", "demo_suite", "run_demo", "lm_probe_steps", "split_budget"]


def _optional_strs(value: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


@attrs.frozen(kw_only=True)
class DemoConfig:
    """Settings of `archon demo`.

    Attributes:
        out: output folder (reused by later runs).
        minutes: training time budget: half for the tokenizers (one share each, RENDERED_SHARE
            shares for a rendered modality's decoder), half for the LM. Data synthesis and
            generation come on top (about a minute each on 2 cores).
        lm_steps: train the LM this many steps instead of by time.
        tokenizer_steps: modality -> step count of its tokenizer trainer instead of a share of
            the time budget (a recipe is deterministic: steps and seeds, not wall time).
        chains: the named chains whose steps make the LM's suite (default: the demo's three,
            plus the spec's ``eval_tasks``).
        samples: held-out clips the page shows (default: all of them).
        lm_peak_lr: the LM's peak learning rate.
        extra_tasks: task names trained besides the chains' (e.g. the editing chains'
            ``script(c)+speech(p)->speech(c)``): the demo's suite's, or any other task over the
            installed modalities that the LM writes (e.g. the first-frame task
            ``image(t)+expression(t)->semantic(t)`` beside the chain's whole-clip step).
        tokenizer_options: modality -> options of its tokenizer trainer (plugin-defined, e.g.
            ``{"codebook_size": 256}`` for a FLAME tokenizer sized for a CPU recipe's data).
            A stored tokenizer trained with other options is trained again.
        chain_weights: chain name -> factor on the sampling weight of its steps' tasks (after
            output balancing; a task of several chains takes the largest factor), so a recipe
            spends its steps on the chains it is judged by.
        lm_loss: the LM's training loss (`ModelSection.loss`): "range" (default), "level" (each
            residual level's target over its own codebook block, as decoding draws it) or "full".
        lm_embed_init: how the LM's embedding rows start (`ModelSection.embed_init`): "normal"
            (default) or "codebook" (the rows of modalities whose tokenizers have code vectors
            start from a projection of them).
        lm_min_steps: below this many steps the LM is reported as undertrained (terminal,
            demo.json, page); each tokenizer trainer has its own minimum (its config).
        checkpoint_every: LM checkpoint interval (default: only at the end), so an interrupted
            long run resumes.
        clips, heldout: training and held-out clips.
        seconds: clip length.
        seed: seed of data, training and sampling (held-out clip i is sampled with seed + i).
        train_seed: seed of tokenizer and LM training alone (parameter init and data order;
            None: `seed`), so runs that differ only in it measure the spread training adds on
            the same data and sampling. Stored with each tokenizer and the LM: a stored one
            trained with another seed is trained again, and said.
        progress: progress bars.
        dataset, heldout_dataset: the dataset plugins' names (None: the demo spec's).
        demo: the `DemoSpec` to run (``archon_demos()``; None: the first installed).
        seq_len, batch_size, lm_config: the LM's window, batch and model config.
        temperature, top_p: sampling of the demo chains.
        greedy_for: output modalities the demo chains decode greedily (`Sampling.greedy_for`;
            None: the demo spec's).
        model: a shipped model's name (`archon_framework.infer.shipped_models`) or an exported
            model's folder: nothing is trained; the held-out clips are synthesized and the chains
            run on that model (``archon demo`` without ``--train``).
        tokenizers_from: a shipped model's name or an exported model's folder whose tokenizers
            the run starts from (verified against their manifests, copied into
            ``out/tokenizers``), so only the tokenizers it lacks, or that `tokenizer_options`
            asks to change, are trained: the LM of a recipe trained again on the tokenizers of
            a model, recorded in the run and the exported model.
    """

    out: str = "runs/demo"
    minutes: float = attrs.field(default=10.0)
    lm_steps: int | None = None
    clips: int = 24
    heldout: int = 2
    seconds: float = 1.0
    seed: int = 0
    train_seed: int | None = None
    progress: bool = True
    dataset: str | None = None
    heldout_dataset: str | None = None
    seq_len: int = 2048
    batch_size: int = 1
    lm_config: str = "tiny"
    temperature: float = 1.0
    top_p: float = 0.9
    greedy_for: tuple[str, ...] | None = attrs.field(default=None, converter=_optional_strs)
    tokenizer_steps: Mapping[str, int] = attrs.field(factory=dict, converter=dict)
    chains: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    samples: int | None = None
    lm_peak_lr: float = 3e-3
    lm_loss: str = "range"
    lm_embed_init: str = "normal"
    checkpoint_every: int | None = None
    lm_min_steps: int = 200
    extra_tasks: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    tokenizer_options: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict, converter=dict)
    chain_weights: Mapping[str, float] = attrs.field(factory=dict, converter=dict)
    model: str | None = None
    demo: str | None = None
    tokenizers_from: str | None = None

    def __attrs_post_init__(self) -> None:
        for name, n in self.tokenizer_steps.items():
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ConfigError(f"demo: tokenizer_steps.{name} must be an int >= 1, got {n!r}")
        for name, options in self.tokenizer_options.items():
            if not isinstance(options, Mapping):
                raise ConfigError(f"demo: tokenizer_options.{name} must be a table of options, got {options!r}")
        for name, w in self.chain_weights.items():
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not w > 0:
                raise ConfigError(f"demo: chain_weights.{name} must be a number > 0, got {w!r}")
        if self.samples is not None and self.samples < 1:
            raise ConfigError(f"demo: samples must be >= 1, got {self.samples}")
        from archon_framework.train._config import LOSSES

        if self.lm_loss not in LOSSES:
            names = ", ".join(map(repr, LOSSES[:-1])) + f" or {LOSSES[-1]!r}"
            raise ConfigError(f"demo: lm_loss must be {names}, got {self.lm_loss!r}")
        from archon_framework.train._config import EMBED_INITS

        if self.lm_embed_init not in EMBED_INITS:
            raise ConfigError(f"demo: lm_embed_init must be one of {', '.join(map(repr, EMBED_INITS))}, got {self.lm_embed_init!r}")
        self._check_basics()

    def _check_basics(self) -> None:
        if not self.minutes > 0:
            raise ConfigError(f"demo: --minutes must be > 0, got {self.minutes}")
        if self.lm_steps is not None and self.lm_steps < 1:
            raise ConfigError(f"demo: --steps must be >= 1, got {self.lm_steps}")
        if self.clips < 2 or self.heldout < 1:
            raise ConfigError(f"demo: needs at least 2 training clips and 1 held-out clip (got {self.clips}, {self.heldout})")
        if not self.seconds > 0:
            raise ConfigError(f"demo: --seconds must be > 0, got {self.seconds}")
        if self.model is not None and self.train_seed is not None:
            raise ConfigError(f"demo: --train-seed seeds training, and a run of the model {self.model!r} trains nothing "
                              "(add --train to train one from scratch)")

    @property
    def training_seed(self) -> int:
        """The seed of tokenizer and LM training (`train_seed`, else `seed`)."""
        return self.seed if self.train_seed is None else self.train_seed

    def sampling(self) -> Sampling:
        """How the demo's chains (and a recipe's evaluation) draw their tokens."""
        return Sampling(temperature=self.temperature, top_p=self.top_p, greedy_for=self.greedy_for or ())

    def resolved(self, spec: DemoSpec) -> DemoConfig:
        """This config with the spec's datasets where none is set."""
        return attrs.evolve(self, dataset=self.dataset or spec.dataset,
                            heldout_dataset=self.heldout_dataset or spec.heldout_dataset, demo=spec.name,
                            greedy_for=spec.greedy_for if self.greedy_for is None else self.greedy_for)

    def check_chain_weights(self, spec: DemoSpec, where: str = "demo") -> None:
        """ConfigError naming the `chain_weights` keys that are not among the trained chains
        (``chains``, else the spec's), before anything is trained."""
        chains = self.chains or tuple(c for c, _, _ in spec.chains)
        stray = sorted(set(self.chain_weights) - set(chains))
        if stray:
            raise ConfigError(f"{where}: chain_weights {', '.join(stray)} not among the chains the LM trains "
                              f"({', '.join(chains)})")

    def check_tasks(self, suite: TaskSuite, modalities: Mapping[str, Modality], where: str = "demo") -> None:
        """ConfigError naming an `extra_tasks` entry that is neither in the demo's suite nor a
        task over the installed `modalities` that the LM writes (`extra_task`)."""
        rendered = [n for n, m in modalities.items() if m.rendered]
        for name in self.extra_tasks:
            try:
                extra_task(name, suite, modalities, rendered)
            except TaskError as err:
                raise ConfigError(f"{where}: {err}") from err

    def check_stage_steps(self, registry: Registry, where: str = "demo: tokenizer_steps") -> None:
        """ConfigError where a `tokenizer_steps` count leaves a stage of that modality's trainer
        below the stage's minimum (`Modality.trainer_stages`), naming the modality, the stage
        and the least count that gives every stage its minimum (or an option the trainer does
        not take)."""
        for name, n in self.tokenizer_steps.items():
            modality = registry.modalities.get(name)
            stages_of = modality.trainer_stages if modality is not None else None
            if stages_of is None:
                continue
            options = self.tokenizer_options.get(name)
            try:
                found = _stages_short(stages_of, n, options)
            except ConfigError as err:  # e.g. options that trainer does not take
                raise ConfigError(f"{where}: {name}: {err}") from err
            if found:
                enough = next((m for m in range(n + 1, 100 * n + 10_000) if not _stages_short(stages_of, m, options)),
                              None)
                hint = f"; give at least {enough}" if enough is not None else ""
                raise ConfigError(f"{where}: {name} = {n} gives {' and '.join(found)}{hint}")

    @property
    def data_key(self) -> dict[str, Any]:
        """The settings the stored data depends on (a later run must match them)."""
        return {"clips": self.clips, "heldout": self.heldout, "seconds": self.seconds, "seed": self.seed,
                "dataset": self.dataset, "heldout_dataset": self.heldout_dataset}


def _stages_short(stages_of: Any, count: int, options: Mapping[str, Any] | None) -> list[str]:
    """The stages that a `count` leaves below their minimum, in words."""
    return [f"the {stage} stage {k} steps, below its minimum of {least}"
            for stage, (k, least) in stages_of(count, options).items() if k < least]


def seed_change(mark: Mapping[str, Any] | None, cfg: DemoConfig) -> int | None:
    """The seed a stored stage (its mark: a tokenizer's or the LM's) was trained with, where it
    is not the run's `DemoConfig.training_seed`; None where it is, where nothing is stored, or
    where the stage was copied from another model (``from``: its seed is that model's). A mark
    written before `train_seed` existed was trained with the run's ``seed``."""
    if mark is None or mark.get("from"):
        return None
    seed = mark.get("train_seed", cfg.seed)
    return None if seed == cfg.training_seed else int(seed)


def extra_task(name: str, table: TaskSuite, installed: Collection[str], rendered: Collection[str] = ()) -> Task:
    """The task an ``extra_tasks`` entry names: `table`'s task of that name, else the task it
    parses to, if every modality it reads is `installed` and none is `rendered` (written by its
    decoder, not by the LM). A TaskError names the entry and what is wrong."""
    try:
        task = parse_task(name)
    except TaskError as err:
        raise TaskError(f"extra_tasks: {name!r} is not a task of the suite {table.name!r} "
                        f"(archon list-tasks --suite {table.name}) and does not parse: {err}") from err
    # a Task's name is canonical (derived from its slots): the suite's own task however it was spelt
    own = next((t for t in table.tasks if t.name == task.name), None)
    if own is not None:
        return own
    missing = sorted(m for m in task.modalities if m not in installed)
    if missing:
        raise TaskError(f"extra_tasks: {task.name}: no modality {', '.join(map(repr, missing))} is installed "
                        f"(archon list-modalities)")
    drawn = sorted(m for m in task.modalities if m in rendered)
    if drawn:
        raise TaskError(f"extra_tasks: {task.name}: {', '.join(map(repr, drawn))} is rendered by its decoder, "
                        "not written or read by the LM")
    return task


def demo_suite(installed: Sequence[str], chains: Sequence[Chain], *, table: TaskSuite, name: str = "demo",
               eval_tasks: Sequence[str] = (), extra_tasks: Sequence[str] = (),
               chain_weights: Mapping[str, float] | None = None) -> TaskSuite:
    """The tasks of `table` (the demo's suite: the paper's Table G) that `chains`, `eval_tasks`
    (those `archon eval` runs, so a demo checkpoint can be evaluated) use, and `extra_tasks`
    (`table`'s or others, `extra_task`), among the `installed` modalities the LM reads and writes
    (output-balanced, then each task's weight times the largest `chain_weights` factor of the
    chains whose steps use it). An extra task over modalities not in `installed`, or a weighted
    chain not among `chains`, is a TaskError naming it."""
    chain_weights = dict(chain_weights or {})
    stray = sorted(set(chain_weights) - {c.name for c in chains})
    if stray:
        raise TaskError(f"chain_weights: {', '.join(stray)} not among the demo's chains "
                        f"({', '.join(c.name for c in chains)})")
    factor: dict[str, float] = {}
    candidates = []
    for chain in chains:
        for step in chain.steps:
            if step.inputs is None:
                continue
            task = _trained(table, step.inputs, step.output)
            candidates.append(task)
            if task is not None:
                factor[task.name] = max(factor.get(task.name, 1.0), chain_weights.get(chain.name, 1.0))
    candidates += [t for t in table.tasks if t.name in set(eval_tasks)]
    candidates += [extra_task(n, table, installed) for n in extra_tasks]
    tasks: list[Task] = []
    for task in candidates:
        if task is not None and task.modalities <= set(installed) and task not in tasks:
            tasks.append(task)
    if not tasks:
        raise TaskError("demo: none of the demo chains' tasks has all its modalities installed")
    counts: dict[str, int] = {}
    for task in tasks:
        counts[task.output.modality] = counts.get(task.output.modality, 0) + 1
    return TaskSuite(name, tuple(tasks), tuple(factor.get(t.name, 1.0) / counts[t.output.modality] for t in tasks))


#: Budget shares of a rendered modality's trainer (a generative decoder, e.g. video diffusion,
#: needs more steps than an autoencoding tokenizer) against 1 for every other tokenizer.
RENDERED_SHARE = 3.0


def split_budget(minutes: float, trainable: Sequence[str],
                 shares: Mapping[str, float] | None = None) -> tuple[dict[str, float], float]:
    """Seconds per tokenizer (half the budget, split by `shares`, 1 each by default) and for the
    LM (the other half, or all of it when nothing is trainable)."""
    total = minutes * 60.0
    if not trainable:
        return {}, total
    weights = {m: (shares or {}).get(m, 1.0) for m in trainable}
    unit = 0.5 * total / sum(weights.values())
    return {m: unit * w for m, w in weights.items()}, 0.5 * total


def _takes_options(trainer: Any) -> bool:
    """Whether a `TokenizerTrainer` accepts the optional ``options`` keyword."""
    try:
        params = inspect.signature(trainer).parameters.values()
    except (TypeError, ValueError):
        return True  # not introspectable: let the call say
    return any(p.name == "options" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def lm_probe_steps(done: dict[str, Any] | None, probe: int = 4) -> int:
    """Steps to time before sizing a time-budgeted LM run (0 when a previous run's timing is known)."""
    return 0 if done is not None and done.get("steps", 0) >= probe and done.get("seconds") else probe


def _clip_dir_name(clip_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", clip_id).strip("_")


class _Demo:
    def __init__(self, cfg: DemoConfig, spec: DemoSpec, registry: Registry, console: Console) -> None:
        self.cfg, self.spec, self.registry, self.console = cfg, spec, registry, console
        self.out = Path(cfg.out)
        self.notes: list[str] = []
        self.timings: dict[str, float] = {}
        self.stages: list[dict[str, Any]] = []  # how each training stage used its time
        self.scores: dict[str, list[float]] = {}  # output -> its main metric against the ground truth, per clip
        self.model_info: dict[str, Any] = {}

    def stage(self, record: Mapping[str, Any]) -> None:
        """Record a training stage; one below its minimum step count is said loudly."""
        self.stages.append(dict(record))
        if record.get("below_min"):
            self.console.print(f"[bold red]UNDERTRAINED: {record['stage']} took {record.get('steps')} steps, "
                               f"below its minimum of {record.get('min_steps')}[/]")

    def tokenizer_stages(self, name: str, report: Mapping[str, Any], origin: str | None = None) -> None:
        """The stages of a tokenizer trainer's report (`archon_framework.train.training_record`);
        `origin` names the model a tokenizer was copied from (`tokenizers_from`)."""
        training = report.get("training")
        note = {"note": f"trained by {origin}, not in this run"} if origin else {}
        if not training:
            self.stage({"stage": f"tokenizer {name}", "steps": report.get("steps"), "min_steps": None,
                        "compile_s": None, "train_s": None, "below_min": False,
                        "note": "the trainer reports no compile/train split or minimum", **note})
            return
        for st in training:
            self.stage({**st, "stage": f"{name}: {st.get('stage', name)}", **note})

    def seed_tokenizers(self, root: Path, names: Sequence[str]) -> None:
        """Copy `tokenizers_from`'s tokenizers of `names` into `root` with their "done" marks
        (once: a stored mark is kept), each verified against its manifest first; a modality with
        `tokenizer_options` or absent from that model is left to its trainer, and said."""
        from archon_framework._weights import verify_weights
        from archon_framework.infer._shipped import resolve_model

        origin = str(self.cfg.tokenizers_from)
        source = resolve_model(origin)
        folder = source / "tokenizers"
        if not folder.is_dir():
            raise ConfigError(f"tokenizers_from: {source} has no tokenizers/ folder (name a shipped model, "
                              "archon list-models, or an exported model's folder)")
        about = source / "model.json"
        commit = json.loads(about.read_text()).get("commit") if about.is_file() else None
        root.mkdir(parents=True, exist_ok=True)
        for name in names:
            mark, src = root / f"{name}.json", folder / name
            if mark.exists():
                continue
            if self.cfg.tokenizer_options.get(name):
                self.skip(f"tokenizer {name}: tokenizer_options given, so trained here rather than taken from {origin}")
                continue
            if not src.is_dir():
                self.skip(f"tokenizer {name}: {origin} has none, trained here")
                continue
            verify_weights(src)  # CheckpointError naming the file that does not match its manifest
            staging, target = root / f".{name}.copying", root / name
            for stale in (staging, target):
                if stale.exists():
                    shutil.rmtree(stale)
            shutil.copytree(src.resolve(), staging)
            staging.rename(target)
            report = json.loads((target / "report.json").read_text()) if (target / "report.json").is_file() else {}
            atomic_write_text(mark, json.dumps({"modality": name, "seconds": 0.0, "options": {}, "report": report,
                                                "from": {"model": origin, "commit": commit}}, indent=2) + "\n")
            self.say(f"tokenizer {name}: copied from {origin} ({src.resolve()})")

    def say(self, text: str) -> None:
        self.console.print(text)

    def skip(self, text: str) -> None:
        self.notes.append(text)
        self.console.print(f"[dim]{text}[/]")

    # ------------------------------------------------------------------ 1. data
    def data(self) -> tuple[Any, Any]:
        from archon_framework.data import ClipDataset, synthesize

        cfg = self.cfg
        for name in (cfg.dataset, cfg.heldout_dataset):
            self.registry.dataset(name)  # type: ignore[arg-type]  # PluginError naming the plugin when it is not installed
        state_file = self.out / "demo-data.json"
        if state_file.exists():
            saved = json.loads(state_file.read_text())
            if saved != cfg.data_key:
                diff = ", ".join(f"{k} {saved.get(k)} -> {v}" for k, v in cfg.data_key.items() if saved.get(k) != v)
                raise ConfigError(
                    f"{self.out}: a previous demo made its data with other settings ({diff}); "
                    "use another --out or delete the folder"
                )
        missing = sorted(set(self.registry.dataset(cfg.dataset).modalities) - set(self.registry.modalities))  # type: ignore[arg-type]
        if missing:
            self.skip(f"not installed, so left out of the data and the demo: {', '.join(missing)}")
        out: list[Any] = [None] if cfg.model else []
        stages = (("data", cfg.dataset, cfg.clips), ("heldout", cfg.heldout_dataset, cfg.heldout))
        for folder, dataset, n in stages[1:] if cfg.model else stages:
            root = self.out / folder
            try:
                have = len(ClipDataset(root))
            except ArchonError:
                have = 0
            if have >= n:
                self.skip(f"data: found {have} {dataset} clips in {root}, skipped")
            else:
                synthesize(self.registry, root, dataset=dataset, clips=n, seconds=cfg.seconds, seed=cfg.seed,  # type: ignore[arg-type]
                           resume=True, overwrite=False, strict=False,
                           on_note=lambda note: self.console.print(f"[yellow]{note}[/]"))
                self.say(f"wrote {n} clips of {cfg.seconds:g} s to {root}")
            out.append(ClipDataset(root))
        atomic_write_text(state_file, json.dumps(cfg.data_key, indent=2) + "\n")
        return out[0], out[1]

    # ------------------------------------------------------------------ 2. tokenizers
    def tokenizers(self, train: Any) -> bool:
        """Train what is missing; True when a tokenizer was (re)trained in this run."""
        root = self.out / "tokenizers"
        stored = set(train.modalities)
        trainable = []
        for name, mod in sorted(self.registry.modalities.items()):
            if mod.trainer is None:
                self.skip(f"tokenizer {name}: the plugin has no trainer; its shipped tokenizer is used")
            elif name not in stored and not all(src in stored for src in mod.derived_from):
                self.skip(f"tokenizer {name}: the demo data has no {name!r} values, skipped")
            else:
                trainable.append(name)
        shares = {m: RENDERED_SHARE for m in trainable if self.registry.modalities[m].rendered}
        budgets, _ = split_budget(self.cfg.minutes, trainable, shares)
        clips = None
        trained = False
        if self.cfg.tokenizers_from:
            self.seed_tokenizers(root, trainable)
        for name in trainable:
            mark = root / f"{name}.json"
            options = dict(self.cfg.tokenizer_options.get(name) or {})
            stored_mark = json.loads(mark.read_text()) if mark.exists() else None
            other_seed = seed_change(stored_mark, self.cfg)
            if stored_mark is not None and other_seed is None and (stored_mark.get("options") or {}) == options:
                self.skip(f"tokenizer {name}: found {root / name}, skipped")
                self.tokenizer_stages(name, stored_mark.get("report") or {}, (stored_mark.get("from") or {}).get("model"))
                continue
            mod = self.registry.modalities[name]
            if options and not _takes_options(mod.trainer):
                raise ConfigError(f"tokenizer_options.{name}: the tokenizer trainer of modality {name!r} "
                                  f"({self.registry.providers[name].label}) takes no options")
            if other_seed is not None:
                self.skip(f"tokenizer {name}: {root / name} was trained with seed {other_seed}, the run asks for "
                          f"{self.cfg.training_seed}: trained again")
            elif stored_mark is not None:
                self.skip(f"tokenizer {name}: {root / name} was trained with options "
                          f"{stored_mark.get('options') or {}}, the run asks for {options}: trained again")
            if clips is None:
                clips = [train[i] for i in range(len(train))]
            needs = ({name} & stored) | set(mod.derived_from)  # a mixed dataset's clips may lack some
            own = [c for c in clips if all(m in c.values for m in needs)]
            if not own:
                raise ConfigError(f"tokenizer {name}: no training clip holds {', '.join(sorted(needs))}")
            if len(own) < len(clips):
                self.skip(f"tokenizer {name}: trained on the {len(own)} of {len(clips)} clips that hold "
                          f"{', '.join(sorted(needs))}")
            target = root / name
            if target.exists():
                shutil.rmtree(target)  # an interrupted run's partial artifacts
            steps = self.cfg.tokenizer_steps.get(name)
            self.say(f"[bold]tokenizer {name}[/]: training for "
                     + (f"{steps} steps" if steps else f"{budgets[name]:.0f} s (after its first, compiling step)"))
            start = time.perf_counter()
            try:
                extra = {"options": options} if options else {}
                report = mod.trainer(own, out_dir=target, steps=steps,  # type: ignore[misc]
                                     seconds=None if steps else budgets[name], seed=self.cfg.training_seed,
                                     progress=self.cfg.progress, **extra)
            except ArchonError:
                raise
            except Exception as err:
                raise PluginError(
                    f"modality {name!r} ({self.registry.providers[name].label}): its tokenizer trainer failed: "
                    f"{type(err).__name__}: {err}"
                ) from err
            self.timings[f"tokenizer {name}"] = time.perf_counter() - start
            self.tokenizer_stages(name, report or {})
            atomic_write_text(mark, json.dumps({"modality": name, "seconds": self.timings[f"tokenizer {name}"],
                                                "options": options, "train_seed": self.cfg.training_seed, "report": report},
                                               indent=2, default=str) + "\n")
            trained = True
        return trained

    # ------------------------------------------------------------------ 3. the LM
    def lm(self, retrain: bool) -> Registry:
        from archon_framework.train import CheckpointConfig, DataConfig, ModelSection, OptimConfig, TrainConfig, Trainer

        cfg = self.cfg
        chains = [self.registry.chain(c) for c in (cfg.chains or [c for c, _, _ in self.spec.chains])]
        suite = demo_suite([m for m, mod in self.registry.modalities.items() if not mod.rendered], chains,
                           table=self.registry.suite(self.spec.suite), eval_tasks=self.spec.eval_tasks,
                           extra_tasks=cfg.extra_tasks, chain_weights=cfg.chain_weights)
        registry = attrs.evolve(self.registry, suites={**self.registry.suites, suite.name: suite})
        root = self.out / "lm"
        mark = root / "demo-lm.json"
        if retrain and root.exists():
            self.skip("LM: tokenizers were retrained, so the LM is trained again from scratch")
            shutil.rmtree(root)
        done = json.loads(mark.read_text()) if mark.exists() else None
        # written before the first step, so an interrupted run (checkpoint_every) says its seed too
        started = root / "demo-lm-seed.json"
        other_seed = seed_change(json.loads(started.read_text()) if started.exists() else done, cfg)
        if other_seed is not None:
            self.skip(f"LM: {root} was trained with seed {other_seed}, the run asks for {cfg.training_seed}: "
                      "trained again from scratch")
            shutil.rmtree(root)
            done = None
        if done is not None and (cfg.lm_steps is None or done["steps"] >= cfg.lm_steps):
            self.skip(f"LM: found a checkpoint of step {done['steps']} in {root}, skipped")
            self.stage(self._lm_stage(done["steps"], done.get("compile_s"), done.get("train_s")))
            return registry
        _, lm_seconds = split_budget(cfg.minutes, [m for m, mod in self.registry.modalities.items() if mod.trainer])
        self.say(f"[bold]language model[/] ({cfg.lm_config}, {registry.for_artifacts(self.out / 'tokenizers').layout().total_size:,} ids, suite {suite.name!r} "
                 f"with {len(suite)} tasks): " + (f"{cfg.lm_steps} steps" if cfg.lm_steps else f"{lm_seconds:.0f} s"))

        def trainer_for(steps: int) -> Any:
            train_cfg = TrainConfig(
                out_dir=str(root), steps=steps, log_every=max(1, steps // 20),
                model=ModelSection(config=cfg.lm_config, seed=cfg.training_seed, loss=cfg.lm_loss, embed_init=cfg.lm_embed_init),
                optim=OptimConfig(peak_lr=cfg.lm_peak_lr, end_lr=cfg.lm_peak_lr / 10, warmup_fraction=0.1),
                data=DataConfig(dataset=str(self.out / "data"), artifacts=str(self.out / "tokenizers"), suite=suite.name,
                                weights="suite", seq_len=max(cfg.seq_len, 1), batch_size=cfg.batch_size,
                                packing_bins=4, seed=cfg.training_seed),
                checkpoint=CheckpointConfig(every=cfg.checkpoint_every or 10**9, keep=1),
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return Trainer(train_cfg, registry, progress=cfg.progress)

        root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(started, json.dumps({"train_seed": cfg.training_seed}) + "\n")
        start = time.perf_counter()
        compile_s = None
        if cfg.lm_steps is not None:
            final = cfg.lm_steps
        else:
            # Time a few real steps (the first one compiles), then size the run to the budget, so
            # the learning-rate schedule ends where training does.
            probe = lm_probe_steps(done)
            measured, compile_s = self._probe(trainer_for, probe) if probe else (done["seconds"] / done["steps"], 0.0)  # type: ignore[index]
            # The budget counts training seconds (it starts after the first, compiling step), and the
            # final trainer reuses the probe's compiled step: its step count is not a constant of it.
            left = lm_seconds - max(0.0, time.perf_counter() - start - compile_s)
            final = max(probe, probe + int(left / max(measured, 1e-6)))
            if done is not None:  # continue with a bigger budget, never fewer steps than trained
                final = max(final, done["steps"] + 1)
            self.skip(f"LM: steps take {measured:.2f} s here, so the budget holds {final} steps")
        from archon_framework._compilation import CompileCounter

        with CompileCounter() as compiles:
            trainer_for(final).train(steps=final)
        self.timings["lm"] = time.perf_counter() - start
        compile_s = (compile_s or 0.0) + compiles.seconds
        train_s = self.timings["lm"] - compile_s
        self.stage(self._lm_stage(final, compile_s, train_s))
        atomic_write_text(mark, json.dumps({"steps": final, "seconds": self.timings["lm"], "compile_s": round(compile_s, 2),
                                            "train_s": round(train_s, 2), "suite": [t.name for t in suite.tasks],
                                            "loss": cfg.lm_loss, "embed_init": cfg.lm_embed_init},
                                           indent=2) + "\n")
        return registry

    def _lm_stage(self, steps: int, compile_s: float | None, train_s: float | None) -> dict[str, Any]:
        return {"stage": f"language model ({self.cfg.lm_config})", "steps": steps, "min_steps": self.cfg.lm_min_steps,
                "compile_s": compile_s, "train_s": train_s, "below_min": steps < self.cfg.lm_min_steps}

    def _probe(self, trainer_for: Any, steps: int) -> tuple[float, float]:
        """Seconds per LM step (median after the compiling first one) and the compile time."""
        stamps: list[float] = []
        t0 = time.perf_counter()
        trainer_for(steps).train(steps=steps, on_step=lambda step, rec: stamps.append(time.perf_counter()))
        gaps = sorted(b - a for a, b in zip(stamps, stamps[1:]))
        measured = gaps[len(gaps) // 2]
        return measured, max(0.0, stamps[0] - t0 - measured)

    # ------------------------------------------------------------------ 4. generation
    def generate(self, registry: Registry, heldout: Any) -> list[tuple[str, list]]:
        from archon_framework.infer._generate import generate
        from archon_framework.infer._model import load_checkpoint
        from archon_framework.infer._outputs import write_outputs, write_value
        from archon_framework.infer._page import Column
        from archon_framework.provenance import ProvenanceConfig

        model = load_checkpoint(self.cfg.model or self.out / "lm", registry)
        self.model_info = {"source": model.source, "step": model.step, "suite": [t.name for t in model.suite.tasks]}
        sampling = self.cfg.sampling()
        installed = set(registry.modalities)
        sections = []
        start = time.perf_counter()
        for i in range(min(len(heldout), self.cfg.samples or len(heldout))):
            clip = heldout[i]
            folder = self.out / "samples" / _clip_dir_name(clip.clip_id)
            gt = folder / "ground-truth"
            if gt.exists():
                shutil.rmtree(gt)
            gt.mkdir(parents=True)
            cells = {}
            for name, value in clip.values.items():
                cells[name] = (write_value(gt, name, value, registry.modality(name), clip.meta), "ground truth")
            columns = [Column("ground truth", gt, cells)]
            for chain_name, conds, title in self.spec.chains:
                chain, dropped = registry.chain(chain_name).restricted_to(installed)
                if dropped and i == 0:
                    self.skip(f"{title}: {', '.join(map(str, dropped))} not installed, so the chain stops before it")
                if any(c not in clip.values for c in conds):
                    self.skip(f"{title}: the held-out clip lacks {', '.join(c for c in conds if c not in clip.values)}, skipped")
                    continue
                self.say(f"[bold]{title}[/] on {clip.clip_id}")
                result = generate(model, {c: clip[c] for c in conds}, chain, meta=clip.meta, sampling=sampling,
                                  seed=self.cfg.seed + i, on_step=self._report)
                out_dir = folder / chain.name
                write_outputs(result, out_dir, registry.modalities, overwrite=True,
                              extra={"checkpoint": model.source, "checkpoint_step": model.step,
                                     "clip": clip.clip_id},
                              provenance=ProvenanceConfig.from_registry(registry))
                columns.append(self._scored(Column.from_manifest(title, out_dir), result, clip, registry))
            sections.append((clip.clip_id, columns))
        self.timings["generation"] = time.perf_counter() - start
        return sections

    def _scored(self, column: Any, result: Any, clip: Any, registry: Registry) -> Any:
        """The column with each output's distance from the ground truth, by its modality's main
        metric (the one `archon eval`'s controls use), appended to the cell's status line."""
        from archon_framework.eval import installed_main_metrics, main_metric, metric_key, metric_score

        preferred = installed_main_metrics(registry)
        for step in result.steps:
            name = step.output.modality
            if step.kind == "given" or step.value is None or name not in clip.values or name not in column.cells:
                continue
            metric = main_metric(name, registry.metrics, preferred)
            if metric is None:
                continue
            value = metric_score(metric, metric_key(preferred.get(name)), step.value, clip.values[name], clip)
            files, status = column.cells[name]
            column.cells[name] = (files, f"{status}; vs ground truth: {metric.name} {value:.3f}")
            self.scores.setdefault(f"{column.title}: {name} ({metric.name})", []).append(value)
        return column

    def _report(self, i: int, n: int, res: Any) -> None:
        colour = {"generated": "green", "rendered": "cyan", "failed": "red"}.get(res.kind, "dim")
        tokens = "" if res.global_ids is None else f", {res.global_ids.shape[0]} tokens"
        self.console.print(f"  [{colour}]{res.output} {res.kind}[/]{tokens}, {res.seconds:.1f} s"
                           + (f" [yellow]({res.note[:160]})[/]" if res.note else ""))


def run_demo(cfg: DemoConfig, registry: Registry, *, console: Console | None = None) -> Path:
    """Run every stage of the demo (see the module doc); returns the path of index.html."""
    from archon_framework.infer._page import write_contact_sheet, write_page

    console = console or Console(stderr=True)
    spec = registry.demo(cfg.demo)
    cfg = cfg.resolved(spec)
    if cfg.extra_tasks:
        cfg.check_tasks(registry.suite(spec.suite), registry.modalities)
    cfg.check_chain_weights(spec)
    if not cfg.model:
        cfg.check_stage_steps(registry)
    demo = _Demo(cfg, spec, registry, console)
    demo.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    console.rule("archon demo: data")
    train, heldout = demo.data()
    demo.timings["data"] = time.perf_counter() - t0
    if cfg.model:
        demo_registry = registry
    else:
        console.rule("archon demo: tokenizers")
        retrained = demo.tokenizers(train)
        console.rule("archon demo: language model")
        demo_registry = demo.lm(retrained)
    console.rule("archon demo: generation")
    sections = demo.generate(demo_registry, heldout)
    scores = {k: round(float(np.nanmean(v)), 4) if np.isfinite(np.asarray(v)).any() else None
              for k, v in demo.scores.items()}
    if cfg.model:
        lm_info = {"steps": demo.model_info["step"], "suite": demo.model_info["suite"]}
        intro = (f"The model <code>{cfg.model}</code> ({demo.model_info['source']}, step {lm_info['steps']}, "
                 f"{len(lm_info['suite'])} tasks of {spec.suite}), run on {len(sections)} held-out clips it never saw. "
                 "Each column is one chain; <i>given</i> cells are its conditions, and every output's status line "
                 "says how far it is from the ground truth by its modality's main metric. The controlled "
                 "evaluation of this model (each step against the same model with another clip's conditions) is "
                 "<code>docs/eval/reference.md</code>; nothing was trained here.")
    else:
        lm_info = json.loads((demo.out / "lm" / "demo-lm.json").read_text())
        intro = (f"Tokenizers and a <code>{cfg.lm_config}</code> prefix LM trained for {lm_info['steps']} steps on "
                 f"{cfg.clips} synthetic clips of {cfg.seconds:g} s (demo suite of {len(lm_info['suite'])} {spec.suite} tasks). "
                 "Each column is one chain run on a held-out clip; <i>given</i> cells are its conditions, and each "
                 "output's status line says how far it is from the ground truth. A model trained for minutes on a "
                 "CPU produces rough outputs: the page shows the pipeline; <code>archon demo</code> without "
                 "<code>--train</code> shows the shipped reference model.")
    rows = spec.rows or tuple(sorted(registry.modalities))
    page = write_page(demo.out / "index.html", "archon demo", intro, sections, rows, demo.notes, demo.stages)
    write_contact_sheet(demo.out / "contact_sheet.png", sections, spec.sheet)
    demo.timings["total"] = time.perf_counter() - t0
    summary = {"config": to_dict(cfg), "timings_s": {k: round(v, 1) for k, v in demo.timings.items()},
               "lm_steps": lm_info["steps"], "model": demo.model_info, "scores_vs_ground_truth": scores,
               "notes": demo.notes, "stages": demo.stages,
               "undertrained": [st["stage"] for st in demo.stages if st.get("below_min")],
               "samples": [[str(c.folder.relative_to(demo.out)) for c in cols] for _, cols in sections]}
    atomic_write_text(demo.out / "demo.json", json.dumps(summary, indent=2) + "\n")
    under = [st["stage"] for st in demo.stages if st.get("below_min")]
    if under:
        console.print(f"[bold red]{len(under)} stage(s) trained below their minimum step count: {', '.join(under)}; "
                      "their outputs come from undertrained models (raise --minutes or set step counts)[/]")
    console.print(f"demo done in {demo.timings['total'] / 60:.1f} min")
    return page
