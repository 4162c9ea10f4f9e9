"""`archon eval`: load a training run and its held-out clips, (train and) load experts, evaluate,
write the report. Bad input stops here, before any model compute."""

from __future__ import annotations

import hashlib
import json
import shlex
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from rich.console import Console

from archon_framework._clip import Clip
from archon_framework._errors import ArchonError, ConfigError, DataError, TaskError
from archon_framework._plugins import Registry
from archon_framework._vocab import VocabLayout
from archon_framework._showcase import EvalTable, guidance_table, select_tables
from archon_framework._tasks import TaskSuite
from archon_framework.config import to_dict
from archon_framework.eval._evaluate import EvalResult, check_metrics, evaluate
from archon_framework.eval._report import _fmt, rows_from_report, write_report
from archon_framework.eval._run import ExpertModels, load_experts, prepare_chain
from archon_framework.infer._model import LoadedModel, load_checkpoint, model_folder, read_run
from archon_framework.infer._shipped import EXPORTED_MODEL, is_exported
from archon_framework.model import Sampling
from archon_framework.train._config import TrainConfig
from archon_framework.train._experts import EXPERTS_MANIFEST, param_count, read_expert_plan, train_experts
from archon_framework.train._trainer import read_run_suite, weighted_suite

__all__ = ["read_run", "run_registry", "heldout_clips", "heldout_digest", "run_eval"]


def run_registry(registry: Registry, run_dir: str | Path, config: TrainConfig) -> tuple[Registry, TaskSuite]:
    """The registry with the run's suite in it, and that suite as trained (weights applied).

    The run's own record (`suite.json`, written by the trainer) is used when there is one, so a
    suite no plugin provides (the demo's) is found; otherwise the installed suite.
    """
    name = config.data.suite
    recorded = read_run_suite(run_dir)
    if recorded is not None:
        return attrs.evolve(registry, suites={**registry.suites, name: recorded}), recorded
    if name not in registry.suites:
        raise TaskError(f"{run_dir}: trained on task suite {name!r}, which is not installed and not recorded in "
                        f"the run (installed: {', '.join(sorted(registry.suites)) or 'none'})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        suite = registry.suite(name).filter_installed(registry.modalities)
    return registry, weighted_suite(suite, config.data.weights)


def _resolve(path: str, run: Path) -> Path | None:
    if not path:
        return None
    p = Path(path).expanduser()
    for cand in (p, run / p, run.parent / p):
        if cand.exists():
            return cand
    return None


def _training_seconds(config: TrainConfig, run: Path) -> float | None:
    from archon_framework.data import ClipDataset

    if is_exported(run):
        return json.loads((run / EXPORTED_MODEL).read_text()).get("clip_seconds")
    root = _resolve(config.data.dataset, run)
    try:
        return ClipDataset(root).__getitem__(0).meta.duration if root is not None else None
    except (ArchonError, IndexError):
        return None


def heldout_digest(clips: Sequence[Clip]) -> str:
    """A sha256 over the clips in order: each clip's id, timing and every value (an array's dtype,
    shape and bytes; any other value as canonical JSON). Two held-out sets with one digest hold the
    same clips, so `--reuse` can tell a dataset regenerated at the same path from the one scored."""
    h = hashlib.sha256()
    for clip in clips:
        meta = clip.meta
        h.update(json.dumps([meta.clip_id, meta.duration, meta.frame_rate, meta.sample_rate, meta.start]).encode())
        for name in sorted(clip.values):
            value = clip.values[name]
            h.update(name.encode() + b"\0")
            h.update(json.dumps(_canonical(value), sort_keys=True, default=str).encode() + b"\0")
    return h.hexdigest()


def _canonical(value: Any) -> Any:
    """A JSON-able form of a clip value in which every array (at any depth) is its dtype, shape
    and the sha256 of its bytes, so no array is summarized by its printed form."""
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        arr = np.ascontiguousarray(np.asarray(value))
        return {"array": arr.dtype.str, "shape": list(arr.shape), "sha256": hashlib.sha256(arr.tobytes()).hexdigest()}
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def heldout_clips(registry: Registry, *, n: int, data: Path | None = None, dataset: str | None = None,
                  seconds: float | None = None, seed: int = 0) -> tuple[list[Clip], dict[str, Any]]:
    """`n` held-out clips: the first of a stored dataset (`data`), or generated by a dataset plugin
    (`dataset`; None: the installed evaluation defaults' ``heldout_dataset``).

    Values of modalities that are not installed are dropped; the rest are checked.
    Returns the clips and a description for the report.
    """
    if n < 1:
        raise ConfigError(f"--heldout must be >= 1, got {n}")
    if data is not None:
        from archon_framework.data import ClipDataset

        source = ClipDataset(data)  # DataError names the folder
        if len(source) == 0:
            raise DataError(f"{data}: the held-out dataset has no clips")
        raw = [source[i] for i in range(min(n, len(source)))]
        about = {"source": str(data), "dataset": source.name, "clips": len(raw)}
    else:
        dataset = dataset or registry.eval_default().heldout_dataset
        if dataset is None:
            raise ConfigError(f"no held-out dataset: pass --dataset (installed: {', '.join(registry.datasets) or 'none'}) "
                              "or install a plugin whose archon_eval_defaults() names one")
        spec = registry.dataset(dataset)  # PluginError names the dataset and what is installed
        secs = seconds if seconds is not None else spec.default_seconds
        raw = [spec.generate(i, seed=seed, seconds=secs) for i in range(n)]
        about = {"source": f"dataset plugin {dataset}", "dataset": dataset, "clips": n, "seed": seed, "seconds": secs}
    clips = []
    for clip in raw:
        values = {k: v for k, v in clip.values.items() if k in registry.modalities}
        clips.append(registry.check_clip(Clip(clip.meta, values)))
    about["modalities"] = sorted({m for c in clips for m in c})
    about["digest"] = heldout_digest(clips)
    return clips, about


def _check_heldout(clips: Sequence[Clip], tables: Sequence[EvalTable], where: str) -> list[str]:
    """Conditions every clip lacks are an error; reference modalities no clip has are a note."""
    have = {m for c in clips for m in c}
    notes = []
    for table in tables:
        for row in table.rows:
            lacking = sorted({s.modality for s in row.chain.conditions} - have)
            if lacking:
                raise DataError(
                    f"held-out data {where} has no {', '.join(map(repr, lacking))} values, which {table.name} "
                    f"({row.label}, chain {row.chain.name!r}) is conditioned on; use held-out clips that carry "
                    f"{', '.join(s.modality for s in row.chain.conditions)}"
                )
        outputs = sorted({s.output.modality for r in table.rows for s in r.chain.steps} - have)
        if outputs:
            notes.append(f"{table.name}: the held-out data has no {', '.join(outputs)} values, so their metrics are not computed")
    return notes


def experts_source(model: LoadedModel, config: TrainConfig, checkpoint: Path,
                   data_run: Path | None) -> tuple[TrainConfig, Path]:
    """The training config and run folder Table 3's experts train from: the checkpoint's own when
    it is a training run; for a shipped or exported model, which keeps no training data, a
    recipe run made again (``archon pretrain --recipe NAME --tokenizers-from MODEL --out RUN``:
    its ``data/`` and, once its LM stage has started, ``lm/token-cache``), whose clips are
    deterministic. That run's vocabulary layout must be the model's; the model's config is kept
    but for where the data and tokenizers live.

    Raises:
        ConfigError: an exported model without `data_run`, or a `data_run` that lacks the data,
            the token cache or the model's layout (each named).
    """
    if data_run is None:
        if is_exported(checkpoint):
            raise ConfigError(
                f"{checkpoint}: an exported or shipped model keeps no training data, so its experts train on its recipe's "
                "data made again: `archon pretrain --recipe NAME --tokenizers-from MODEL --out RUN` (stop it once its LM "
                "stage has tokenized the clips), then pass --experts-data RUN")
        return config, checkpoint
    lm, data = data_run / "lm", data_run / "data"
    cache = lm / "token-cache" / "token-cache.json"
    if not data.is_dir() or not cache.is_file():
        raise ConfigError(f"--experts-data {data_run}: needs {data} and {cache} (run `archon pretrain --recipe NAME "
                          f"--tokenizers-from MODEL --out {data_run}` until its LM stage has started)")
    layout_file = lm / "layout.json"
    if not layout_file.is_file():
        raise ConfigError(f"--experts-data {data_run}: no {layout_file}; its LM stage has not started")
    if VocabLayout.load(layout_file) != model.layout:
        raise ConfigError(f"--experts-data {data_run}: {layout_file} is another vocabulary layout than the model's "
                          f"({model.source}): not the data of its recipe")
    data_section = attrs.evolve(config.data, dataset=str(data.absolute()),
                                artifacts=str(Path(model.artifacts).absolute()) if model.artifacts else config.data.artifacts)
    return attrs.evolve(config, data=data_section), lm


def _experts(model: LoadedModel, config: TrainConfig, registry: Registry, suite: TaskSuite, tables: Sequence[EvalTable],
             *, checkpoint: Path, folder: Path, train: bool, expert_steps: int | None, skip: Sequence[str],
             progress: bool, console: Console) -> ExpertModels | None:
    rows = [r for t in tables for r in t.rows if r.models == "experts"]
    if not rows:
        return None
    unified_params = param_count(model.lm.config)
    if train:
        needed: list[str] = []
        for row in rows:
            _, plan, _ = prepare_chain(row.chain, model, skip=skip)
            needed += [p.output.modality for p in plan if p.kind == "generate" and p.output.modality not in needed]
        console.print(f"[bold]experts[/]: training {', '.join(needed)} into {folder}")
        start = time.perf_counter()
        train_experts(config, registry, folder, suite=suite, steps=model.step or 0, run_dir=checkpoint,
                      modalities=needed, expert_steps=expert_steps, progress=progress,
                      on_expert=lambda spec: console.print(f"  expert {spec.modality}: {spec.steps} steps, "
                                                           f"d_model {spec.model.d_model}, {spec.params:,} parameters"))
        console.print(f"  experts trained in {time.perf_counter() - start:.0f} s")
    if not (folder / EXPERTS_MANIFEST).exists():
        return None
    read_expert_plan(folder).check_matches(unified_params, model.step or 0, str(folder))
    return load_experts(folder, registry, artifacts=model.artifacts)


def _sampling(s: Sampling) -> str:
    if s.greedy:
        return "greedy"
    text = ", ".join([f"temperature {s.temperature:g}"] + ([f"top-k {s.top_k}"] if s.top_k else [])
                     + ([f"top-p {s.top_p:g}"] if s.top_p < 1 else []))
    return text + (f"; greedy for {', '.join(s.greedy_for)}" if s.greedy_for else "")


def _setup(model: LoadedModel, suite: TaskSuite, about: dict[str, Any], sampling: Sampling, seed: int,
           experts: ExpertModels | None, folder: Path, skip: Sequence[str], seeds: int = 1) -> tuple[list[str], dict[str, Any]]:
    cfg = model.lm.config
    params = param_count(cfg)
    lines = [
        f"checkpoint `{model.source}` at step {model.step}: prefix LM d_model {cfg.d_model}, {cfg.n_layers} layers, "
        f"{params:,} parameters ({100 * cfg.vocab_size * cfg.d_model / params:.1f} % in the embedding of "
        f"{cfg.vocab_size:,} ids), trained on suite `{suite.name}` ({len(suite)} tasks)",
        f"held-out clips: {about['clips']} from {about['source']}"
        + (f" (seed {about['seed']}, {about['seconds']:g} s each; its seeds are disjoint from the training split)"
           if "seed" in about else ""),
        f"sampling: {_sampling(sampling)}"
        + (f"; clip i samples with seed {seed} + i in every row" if seeds == 1 else
           f"; {seeds} sampling seeds: on run k < {seeds} of a row clip i samples with seed {seed} + k x "
           f"{about['clips']} + i, and a clip's score is its mean over the {seeds} runs"),
    ]
    info: dict[str, Any] = {
        "checkpoint": model.source, "step": model.step, "model": to_dict(cfg), "params": params,
        "suite": {"name": suite.name, "tasks": [t.name for t in suite.tasks]}, "heldout": about,
        "sampling": to_dict(sampling), "seed": seed, "seeds": seeds, "skipped_modalities": list(skip),
    }
    if experts is not None:
        plan = experts.plan
        one = plan.experts[0]
        trained = ", ".join(f"{e.modality} ({e.steps} steps)" for e in plan.experts if e.modality in plan.trained)
        lines.append(
            f"experts (`{folder}`): one per output modality of the suite, K = {len(plan.experts)}, each d_model "
            f"{one.model.d_model} with {one.params:,} parameters: {plan.total_params:,} in all against the unified "
            f"{plan.unified_params:,}; matched budget {plan.unified_steps} steps split by task mass; trained: {trained}"
            + (f" in {sum(plan.seconds.values()):.0f} s" if plan.seconds else "")
        )
        info["experts"] = {"folder": str(folder), **plan.to_json()}
    if skip:
        lines.append(f"left out of every chain: {', '.join(skip)}")
    return lines, info


def command_line(ctx: Any) -> str:
    """The command a typer context ran, with only the options given on its command line."""
    parts = ["archon", ctx.info_name or "eval"]
    for param in ctx.command.params:
        opts = getattr(param, "opts", None)
        source = ctx.get_parameter_source(param.name)
        if not opts or opts[0].startswith("-") is False or source is None or source.name == "DEFAULT":
            continue
        value = ctx.params[param.name]
        if getattr(param, "is_flag", False):
            secondary = getattr(param, "secondary_opts", None)
            if secondary:
                parts.append(opts[0] if value else secondary[0])
            elif value:
                parts.append(opts[0])
            continue
        for v in value if isinstance(value, (list, tuple)) else [value]:
            parts += [opts[0], str(v)]
    return shlex.join(parts)


def run_eval(*, registry: Registry, checkpoint: Path, suite: str, out_dir: Path, name: str, heldout: int,
             data: Path | None, dataset: str | None, seconds: float | None, data_seed: int, experts: Path | None,
             train_experts_: bool, expert_steps: int | None, seed: int, experts_data: Path | None = None, sampling: Sampling, seeds: int = 1,
             max_text_tokens: int | None, skip: Sequence[str], artifacts: Path | None, step: int | None,
             plot: bool, progress: bool, command: str, console: Console,
             controls: Sequence[str] = (), guidance_scales: Sequence[float] = (),
             reuse: Path | None = None) -> tuple[dict[str, Path], EvalResult]:
    """Everything `archon eval` does (see the command's help); bad input raises first.

    `controls`: chains whose every step is compared with its shuffled-condition control
    (`archon_framework.eval.step_controls`); a chain the model cannot run is a note.
    `guidance_scales`: also run the evaluation defaults' ``guidance_chain`` (the paper's:
    speech-to-video) with its LM steps guided at each scale (a "guidance" table) and say which
    scale scores best.
    `reuse`: an earlier report of the same checkpoint, clips, sampling and seeds, whose scored rows
    are taken from it instead of run again (`rows_from_report`).
    `experts_data`: with `train_experts_`, a recipe run whose data and token cache the experts train
    on instead of the checkpoint's own (`experts_source`).
    """
    tables = select_tables(suite, tuple(registry.eval_tables.values()))
    if guidance_scales:
        if any(w < 0 for w in guidance_scales):
            raise ConfigError(f"--guidance-scale must be >= 0, got {', '.join(map(str, guidance_scales))}")
        defaults = registry.eval_default()
        if defaults.guidance_chain is None:
            raise ConfigError("--guidance-scale: no installed evaluation defaults name a guidance chain (archon_eval_defaults)")
        like = registry.eval_tables.get(defaults.guidance_table or "")
        tables = (*tables, guidance_table(guidance_scales, registry.chain(defaults.guidance_chain), like))
    if expert_steps is not None and expert_steps < 1:
        raise ConfigError(f"--expert-steps must be >= 1, got {expert_steps}")
    if seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {seeds}")
    if experts_data is not None and not train_experts_:
        raise ConfigError("--experts-data names the data to train experts on: pass it with --train-experts")
    unknown = sorted(set(skip) - set(registry.modalities))
    if unknown:
        raise ConfigError(f"--skip {', '.join(unknown)}: not an installed modality ({', '.join(sorted(registry.modalities))})")
    checkpoint = model_folder(checkpoint)  # a shipped model's name, an exported model or a run
    config, ckpt_step = read_run(checkpoint, step=step)
    registry, trained = run_registry(registry, checkpoint, config)
    notes = check_metrics(tables, registry.metrics)  # before any model compute
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = load_checkpoint(checkpoint, registry, step=ckpt_step, artifacts=artifacts)
    if seconds is None and data is None:
        seconds = _training_seconds(config, checkpoint)
    console.print(f"held-out clips: {heldout} from {data or dataset}")
    clips, about = heldout_clips(registry, n=heldout, data=data, dataset=dataset, seconds=seconds, seed=data_seed)
    notes += _check_heldout(clips, tables, str(data or dataset))
    folder = experts or Path(str(experts_data or checkpoint).rstrip("/") + "-experts")
    expert_config, expert_run = config, checkpoint
    if train_experts_ and any(r.models == "experts" for t in tables for r in t.rows):
        expert_config, expert_run = experts_source(model, config, checkpoint, experts_data)
    elif experts_data is not None:
        raise ConfigError(f"--experts-data: no selected table has an experts row (--suite {suite}); Table 3's "
                          "'w/o unified model' row is the one that trains on it")
    expert_models = _experts(model, expert_config, registry, trained, tables, checkpoint=expert_run, folder=folder,
                             train=train_experts_, expert_steps=expert_steps, skip=skip, progress=progress,
                             console=console)
    setup, info = _setup(model, trained, about, sampling, seed, expert_models, folder, skip, seeds)
    reused = rows_from_report(reuse, tables, info, dict(registry.metrics)) if reuse is not None else {}
    if reused:
        console.print(f"reused from {reuse}: " + ", ".join(f"{c} ({m})" for c, m in reused))

    def on_row(table: EvalTable, row: Any) -> None:
        console.print(f"[bold]{table.name}[/]: {row.label} ({row.chain.name}, {row.models})")

    def on_clip(i: int, n: int, secs: float) -> None:
        console.print(f"  clip {i + 1}/{n}: {secs:.1f} s")

    result = evaluate(model, clips, tables, experts=expert_models, sampling=sampling, seed=seed, seeds=seeds,
                      max_text_tokens=max_text_tokens, skip=skip, info=info, on_row=on_row,
                      on_clip=on_clip if progress else None, reuse=reused)
    control_notes = _picked_guidance(result)
    found, more = _controls(model, clips, controls, registry, sampling=sampling, seed=seed,
                                     max_text_tokens=max_text_tokens, skip=skip, console=console)
    control_notes += more
    info["seconds"] = round(time.perf_counter() - t0, 1)
    result = attrs.evolve(result, notes=tuple(dict.fromkeys((*notes, *result.notes, *control_notes))), info=info,
                          controls=tuple(found))
    paths = write_report(result, out_dir, name=name, command=command, setup=setup, plot=plot,
                         title=f"archon eval: {name}")
    return paths, result


def _controls(model: LoadedModel, clips: Sequence[Clip], chains: Sequence[str], registry: Registry, *,
              sampling: Sampling, seed: int, max_text_tokens: int | None, skip: Sequence[str],
              console: Console) -> tuple[list[Any], list[str]]:
    """Every step of `chains` against its shuffled-condition control; what cannot run is a note."""
    from archon_framework.eval._controls import installed_main_metrics, step_controls

    found: list[Any] = []
    notes: list[str] = []
    installed = set(registry.modalities) - set(skip)
    for name in chains:
        try:
            chain, _ = registry.chain(name).restricted_to(installed)
            preferred = installed_main_metrics(registry)
            rows = step_controls(model, clips, chain, registry.metrics, preferred=preferred, sampling=sampling,
                                 seed=seed, max_text_tokens=max_text_tokens,
                                 on_step=lambda label: console.print(f"[bold]control[/] {label}"),
                                 on_result=lambda row: console.print(f"  {_control_line(row)}", markup=False))
        except ArchonError as err:
            notes.append(f"controls: chain {name!r} cannot run here ({err})")
            continue
        found += rows
        scored = {r.step.split("->")[-1] for r in rows}
        unscored = [str(s.output) for s in chain.steps if str(s.output) not in scored]
        if unscored:
            notes.append(f"controls: {name}: no per-clip metric scored {', '.join(unscored)}")
    return found, notes


def _control_line(row: Any) -> str:
    """One measured `StepControl` as a log line: the means, the paired difference with its
    interval and the likelihood gain."""
    d = row.to_dict()
    line = (f"{d['metric']} (n {d['n']}): real {_fmt(d['real'])}, control {_fmt(d['control'])}, baseline "
            f"{_fmt(d['baseline'])}; difference {d['difference']:+.4f} [{d['ci95'][0]:+.4f}, {d['ci95'][1]:+.4f}]"
            f"{' beats the control' if d['beats_control'] else ''}")
    if d["nll_gain"] is not None:
        line += f"; NLL gain {d['nll_gain']:+.4f} [{d['nll_ci95'][0]:+.4f}, {d['nll_ci95'][1]:+.4f}]"
    return line


def _picked_guidance(result: EvalResult) -> list[str]:
    """The guidance scale that scores best, by the first column every scale has a finite mean of."""
    import math

    table = next((t for t in result.tables if t.table.name == "guidance"), None)
    if table is None:
        return []
    rows = [r for r in table.rows if r.status == "ok" and r.scores is not None]
    for key in table.keys():  # the table's columns first, then every other metric the rows have
        means = [r.scores.mean.get(key, math.nan) for r in rows]  # type: ignore[union-attr]
        if rows and all(math.isfinite(m) for m in means):
            metric = result.metrics.get(key.split(".", 1)[0])
            better = max if metric is None or metric.higher_is_better else min
            best = rows[means.index(better(means))]
            return [f"guidance: {best.row.label} scores best by {key} "
                    f"({', '.join(f'{r.row.label.split()[-1]}: {m:.4g}' for r, m in zip(rows, means))})"]
    return ["guidance: no column was scored at every scale, so no scale is picked"]
