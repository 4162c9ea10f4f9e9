"""The `archon` command line: listings, plugin sub-commands, and the workflows as they land."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from archon_framework._errors import ArchonError, ConfigError
from archon_framework._plugins import Registry, load_registry
from archon_framework._tasks import TaskSuite
from archon_framework._vocab import VocabLayout
from archon_framework.cli._common import (
    err,
    errors_exit,
    load_registry_or_exit,
    loaded,
    out,
    report_failures,
)
from archon_framework.cli._cluster import Coordinator, DetectCluster, HeartbeatTimeout, NumProcesses, ProcessId, join_from_options
from archon_framework.cli._data import data_app
from archon_framework.cli._tokenizer import train_tokenizer_command
from archon_framework.train._launch import launch_command

__all__ = ["app", "main", "modality_rows", "task_rows"]

app = typer.Typer(
    name="archon",
    help="archon-framework: unified any-to-any multimodal models for digital humans.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)





@app.callback()
def _root(
    compile_cache: Annotated[Optional[Path], typer.Option(
        "--compile-cache", metavar="DIR",
        help="JAX's persistent compilation cache directory (default: $ARCHON_COMPILATION_CACHE, "
             "else ~/.cache/archon/jax); a second run loads what the first compiled")] = None,
    no_compile_cache: Annotated[bool, typer.Option(
        "--no-compile-cache", help="compile everything afresh, without the persistent cache")] = False,
) -> None:
    """archon-framework: unified any-to-any multimodal models for digital humans."""
    from archon_framework._compilation import enable_compilation_cache

    if not no_compile_cache:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            enable_compilation_cache(compile_cache)
        for w in caught:
            err.print(f"[yellow]{w.message}[/]")


# ---------------------------------------------------------------------- list-modalities
def _layout(registry: Registry, layout_file: Path | None) -> VocabLayout:
    with errors_exit():
        return registry.layout(VocabLayout.load(layout_file) if layout_file else None)


def modality_rows(registry: Registry, layout: VocabLayout | None = None) -> list[dict[str, Any]]:
    """One JSON-able row per installed modality, in vocabulary-layout order."""
    layout = layout or registry.layout()
    order = {name: i for i, name in enumerate(layout.names)}
    rows = []
    for name, mod in registry.modalities.items():
        info = registry.providers[name]
        rng = layout.range(mod.vocabulary) if mod.vocabulary is not None else None
        rows.append({
            "modality": name,
            "plugin": info.name,
            "distribution": info.distribution,
            "version": info.version,
            "vocabulary": mod.vocabulary.name if mod.vocabulary else None,
            "vocabulary_size": mod.vocabulary.size if mod.vocabulary else None,
            "global_range": [rng.start, rng.stop - 1] if rng else None,
            "temporal": mod.temporal,
            "tokens_per_second": mod.tokens_per_clip_second(),
            "phrase": mod.phrase,
            "rendered_from": list(mod.derived_from) or None,
        })
    rows.sort(key=lambda r: (order.get(r["vocabulary"], len(order)), r["modality"]))  # type: ignore[arg-type]
    return rows


@app.command("list-modalities")
def list_modalities(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    layout_file: Annotated[Optional[Path], typer.Option("--layout", help="A saved vocabulary layout (JSON): show its ranges, extended by newly installed vocabularies.")] = None,
    save_layout: Annotated[Optional[Path], typer.Option("--save-layout", help="Write the layout shown to this JSON file.")] = None,
) -> None:
    """List the installed modalities: plugin, vocabulary, global id range, tokens per second.

    Without --layout the ranges are a fresh allocation (text first, then by name), the layout
    a new model gets. A trained model keeps its layout: pass it (or --save-layout once and
    reuse it) to see where newly installed vocabularies are appended.
    """
    registry = load_registry_or_exit()
    layout = _layout(registry, layout_file)
    if save_layout is not None:
        layout.save(save_layout)
    rows = modality_rows(registry, layout)
    if as_json:
        payload = {
            "modalities": rows,
            "vocabulary_size": layout.total_size,
            "failures": [{"plugin": f.plugin.name, "distribution": f.plugin.distribution, "stage": f.stage, "error": f.error} for f in registry.failures],
            "blocked": list(registry.blocked),
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    table = Table(title=f"Installed modalities (unified vocabulary: {layout.total_size:,} ids)")
    for col in ("modality", "plugin", "vocabulary", "global ids", "kind", "tokens / s"):
        table.add_column(col, justify="right" if col in ("global ids", "tokens / s") else "left")
    for r in rows:
        rng = f"{r['global_range'][0]:,}..{r['global_range'][1]:,}" if r["global_range"] else "rendered from " + "+".join(r["rendered_from"] or [])
        vocab = f"{r['vocabulary']} ({r['vocabulary_size']:,})" if r["vocabulary"] else "-"
        tps = f"{r['tokens_per_second']:g}" if r["tokens_per_second"] is not None else "-"
        plugin = f"{r['distribution'] or r['plugin']} {r['version'] or ''}".strip()
        table.add_row(r["modality"], plugin, vocab, rng, "temporal" if r["temporal"] else "static", tps)
    out.print(table)
    report_failures(registry)


# ---------------------------------------------------------------------- list-tasks
def task_rows(suite: TaskSuite) -> list[dict[str, Any]]:
    return [
        {"task": t.name, "inputs": [str(s) for s in t.inputs], "output": str(t.output), "weight": p}
        for t, p in zip(suite.tasks, suite.probabilities)
    ]


@app.command("list-tasks")
def list_tasks(
    suite: Annotated[Optional[str], typer.Option(help="Task suite name (default: the installed demo's suite, or the only suite installed).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    installed_only: Annotated[bool, typer.Option("--installed-only", help="Drop tasks whose modalities are not installed.")] = False,
) -> None:
    """List the tasks of a suite with their inputs, output and sampling weight."""
    registry = load_registry_or_exit()
    with errors_exit():
        s = registry.suite(suite or registry.default_suite())
        if installed_only:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                s = s.filter_installed(registry.modalities)
            for w in caught:
                err.print(f"[yellow]{w.message}[/]")
    rows = task_rows(s)
    missing = sorted(s.modalities - set(registry.modalities))
    if as_json:
        sys.stdout.write(json.dumps({"suite": s.name, "tasks": rows, "missing_modalities": missing}, indent=2) + "\n")
        return
    table = Table(title=f"Task suite {s.name} ({len(s)} tasks)")
    table.add_column("#", justify="right")
    table.add_column("inputs")
    table.add_column("output")
    table.add_column("weight", justify="right")
    for i, r in enumerate(rows, 1):
        table.add_row(str(i), " + ".join(r["inputs"]), r["output"], f"{r['weight']:.4f}")
    out.print(table)
    if missing:
        err.print(f"[yellow]not installed: {', '.join(missing)} (use --installed-only to drop their tasks)[/]")
    report_failures(registry)


# ---------------------------------------------------------------------- train
@app.command()
def train(
    config: Annotated[Path, typer.Option("--config", help="Training config (TOML): [model] [optim] [data] [mesh] [checkpoint].")],
    steps: Annotated[Optional[int], typer.Option(help="Train to this step instead of the config's.")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
    suite: Annotated[Optional[str], typer.Option("--suite", help="Train on this suite instead of data.suite; SUITE+SUITE trains on their tasks together (resume a run with a new plugin's suite added: demo+emotion).")] = None,
    add_tasks: Annotated[Optional[str], typer.Option("--add-tasks", help="Tasks to train besides the suite's, by name, separated by ',' (archon list-tasks).")] = None,
    coordinator: Coordinator = None,
    num_processes: NumProcesses = None,
    process_id: ProcessId = None,
    heartbeat_timeout: HeartbeatTimeout = 100,
    distributed: DetectCluster = False,
) -> None:
    """Train the prefix LM on a dataset and task suite; resumes from the latest checkpoint."""
    from archon_framework.train import Trainer, check_train_config, load_train_config
    from archon_framework.train._growth import resolve_train_suite
    from archon_framework.train._launch import cluster_exit

    join_from_options(coordinator, num_processes, process_id, heartbeat_timeout, distributed)  # before any device
    registry = load_registry_or_exit()
    with cluster_exit(), errors_exit():
        cfg = load_train_config(config)
        cfg, registry = resolve_train_suite(cfg, registry, suite=suite, add_tasks=(add_tasks or "").split(","))
        check_train_config(cfg, registry)  # before anything is written
        trainer = Trainer(cfg, registry, progress=progress)
        resumed = trainer.manager.latest_step()
        target = steps if steps is not None else cfg.steps
        if resumed is not None:
            err.print(f"resuming {cfg.out_dir} from its checkpoint at step {resumed} (training to step {target})")
        trainer.train(steps)
    out.print(f"trained to step {target}; checkpoints and metrics.jsonl in {cfg.out_dir}")


@app.command("estimate-weights")
def estimate_weights(
    config: Annotated[Path, typer.Option("--config", help="The training config of a baseline run (uniform weights).")],
    out_file: Annotated[Path, typer.Option("--out", help="JSON file for task perplexities and S(i) weights.")],
    batches: Annotated[int, typer.Option(help="Batches to measure.")] = 20,
) -> None:
    """Measure each task's perplexity with the baseline's latest checkpoint; write the paper's S(i)."""
    from archon_framework._suites import perplexity_weights
    from archon_framework.config import atomic_write_text
    from archon_framework.train import Trainer, load_train_config

    registry = load_registry_or_exit()
    with errors_exit():
        trainer = Trainer(load_train_config(config), registry, progress=False)
        step, model = trainer.latest_model()
        ppl = trainer.task_perplexities(model, batches=batches)
        weighted = perplexity_weights(trainer.suite, ppl)
    report = {"checkpoint_step": step, "perplexities": ppl,
              "weights": {t.name: w for t, w in zip(weighted.tasks, weighted.probabilities)}}
    atomic_write_text(out_file, json.dumps(report, indent=2) + "\n")
    out.print(f"wrote perplexities and S(i) weights of {len(ppl)} tasks to {out_file} (use it as data.weights)")


# The sampling options generate, edit and eval share.
SeedOption = Annotated[int, typer.Option(help="Sampling seed.")]
TemperatureOption = Annotated[float, typer.Option(help="Sampling temperature.")]
TopKOption = Annotated[Optional[int], typer.Option("--top-k", help="Keep the k most likely tokens.")]
TopPOption = Annotated[float, typer.Option("--top-p", help="Nucleus sampling mass.")]
GreedyOption = Annotated[bool, typer.Option("--greedy", help="Greedy decoding (ignores temperature, top-k, top-p).")]
GreedyForOption = Annotated[list[str], typer.Option(
    "--greedy-for", help="Decode this output modality greedily and sample the others, e.g. description, "
                         "whose JSON one sampled token can break (repeat).")]
StepOption = Annotated[Optional[int], typer.Option(help="Checkpoint step (default: the latest).")]
ArtifactsOption = Annotated[Optional[Path], typer.Option(help="Tokenizer artifacts (default: the run's data.artifacts).")]


def _sampling(registry: Registry, *, greedy: bool, temperature: float, top_k: int | None, top_p: float,
              guidance: float = 0.0, greedy_for: list[str] | None = None) -> Any:
    """The sampling options of generate, edit and eval, checked (exit 2 with a message if not valid)."""
    from archon_framework.model import Sampling

    if top_k is not None and top_k < 1 or not 0.0 < top_p <= 1.0 or temperature <= 0:
        err.print("[bold red]error:[/] --temperature must be > 0, --top-k >= 1 and --top-p in (0, 1]")
        raise typer.Exit(2)
    unknown = [m for m in greedy_for or () if m not in registry.modalities]
    if unknown:
        err.print(f"[bold red]error:[/] --greedy-for: no installed modality {unknown[0]!r} "
                  f"(installed: {', '.join(sorted(registry.modalities))})")
        raise typer.Exit(2)
    return Sampling(greedy=greedy, temperature=temperature, top_k=top_k, top_p=top_p, guidance=guidance,
                    greedy_for=tuple(dict.fromkeys(greedy_for or ())))


# ---------------------------------------------------------------------- generate
@app.command()
def generate(
    checkpoint: Annotated[Path, typer.Option("--checkpoint", help="A training run (the out_dir of `archon train`), an exported model, or a shipped model's name (archon list-models).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the outputs and manifest.json to.")],
    inputs: Annotated[list[str], typer.Option("--input", help="A condition as MODALITY=FILE (repeat), read by the modality's loader.")] = [],  # noqa: B006
    chain: Annotated[str, typer.Option("--chain", help="A chain name (archon list-chains), 'auto', or CONDITIONS->OUT,OUT,...")] = "auto",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the output folder if it exists.")] = False,
    seed: SeedOption = 0,
    temperature: TemperatureOption = 1.0,
    top_k: TopKOption = None,
    top_p: TopPOption = 1.0,
    greedy: GreedyOption = False,
    greedy_for: GreedyForOption = [],  # noqa: B006
    seconds: Annotated[Optional[float], typer.Option(help="Clip length (default: the audio condition's, else 2 s).")] = None,
    frame_rate: Annotated[float, typer.Option("--frame-rate", help="Video frames per second.")] = 30.0,
    sample_rate: Annotated[int, typer.Option("--sample-rate", help="Audio samples per second.")] = 16_000,
    artifacts: ArtifactsOption = None,
    step: StepOption = None,
    candidates: Annotated[Optional[str], typer.Option(help="With --chain auto: the chains to choose from, separated by ';'.")] = None,
    max_text_tokens: Annotated[Optional[int], typer.Option("--max-text-tokens", help="Budget of free-length text outputs.")] = None,
    no_provenance: Annotated[bool, typer.Option("--no-provenance", help="Do not sign the outputs or watermark their frames (recorded in manifest.json).")] = False,
    guidance: Annotated[float, typer.Option(help="Classifier-free guidance weight w: logits = cond + w (cond - uncond); 0 is off.")] = 0.0,
) -> None:
    """Generate modalities from conditions with a trained model, one chain step at a time.

    Each step's output is written as a file a person can open (WAV, MP4/GIF, PNG, JSON, NPZ),
    with tokens.npz and manifest.json. `--chain auto` runs every chain whose conditions are
    given and keeps the one whose outputs best explain the conditions (model perplexity).
    """
    from archon_framework.cli._generate import run_generate

    registry = load_registry_or_exit()
    sampling = _sampling(registry, greedy=greedy, temperature=temperature, top_k=top_k, top_p=top_p, guidance=guidance,
                         greedy_for=greedy_for)
    with errors_exit():
        manifest = run_generate(
            registry=registry, checkpoint=checkpoint, inputs=inputs, chain=chain, out_dir=out_dir,
            overwrite=overwrite, seed=seed, sampling=sampling, seconds=seconds, frame_rate=frame_rate,
            sample_rate=sample_rate, artifacts=artifacts, step=step,
            candidates=[c.strip() for c in candidates.split(";") if c.strip()] if candidates else None,
            max_text_tokens=max_text_tokens, console=err, provenance=not no_provenance,
        )
    out.print(f"wrote the outputs and {manifest.name} to {manifest.parent}")


@app.command()
def edit(
    checkpoint: Annotated[Path, typer.Option("--checkpoint", help="A training run (the out_dir of `archon train`), an exported model, or a shipped model's name (archon list-models).")],
    clip: Annotated[list[str], typer.Option("--clip", help="The clip: DATASET_DIR[#ID], a folder of MODALITY.EXT files, or MODALITY=FILE (repeat).")],
    edit_spec: Annotated[str, typer.Option("--edit", help="script=TEXT, description=FILE (JSON) or motion=OTHER_CLIP.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the outputs and manifest.json to.")],
    chain: Annotated[Optional[str], typer.Option("--chain", help="Editing chain (default: edit-script, edit-description or reenact by the edit).")] = None,
    motion_length: Annotated[str, typer.Option("--motion-length", help="A motion source of another length: resample or refuse.")] = "resample",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the output folder if it exists.")] = False,
    seed: SeedOption = 0,
    temperature: TemperatureOption = 1.0,
    top_k: TopKOption = None,
    top_p: TopPOption = 1.0,
    greedy: GreedyOption = False,
    greedy_for: GreedyForOption = [],  # noqa: B006
    guidance: Annotated[float, typer.Option(help="Classifier-free guidance weight w (0 is off).")] = 0.0,
    seconds: Annotated[Optional[float], typer.Option(help="Clip length for files without clip.json or audio.")] = None,
    frame_rate: Annotated[float, typer.Option("--frame-rate", help="Video frames per second of clips given as files.")] = 30.0,
    sample_rate: Annotated[int, typer.Option("--sample-rate", help="Audio samples per second of clips given as files.")] = 16_000,
    artifacts: ArtifactsOption = None,
    step: StepOption = None,
    no_provenance: Annotated[bool, typer.Option("--no-provenance", help="Do not sign the outputs or watermark their frames.")] = False,
) -> None:
    """Edit a real clip: change its script, description or motion and regenerate what depends on it.

    The clip's other modalities are kept bit-identical; manifest.json lists what was edited,
    kept and regenerated (paper Sec. 4.2, Fig. 5).
    """
    from archon_framework.cli._edit import run_edit

    registry = load_registry_or_exit()
    sampling = _sampling(registry, greedy=greedy, temperature=temperature, top_k=top_k, top_p=top_p, guidance=guidance,
                         greedy_for=greedy_for)
    with errors_exit():
        manifest = run_edit(
            registry=registry, checkpoint=checkpoint, clip=clip, edit=edit_spec, chain=chain, out_dir=out_dir,
            overwrite=overwrite, seed=seed, sampling=sampling, seconds=seconds, frame_rate=frame_rate,
            sample_rate=sample_rate, motion_length=motion_length, artifacts=artifacts, step=step, console=err,
            provenance=not no_provenance,
        )
    out.print(f"wrote the edited clip and {manifest.name} to {manifest.parent}")


@app.command("list-chains")
def list_chains_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the named generation chains: conditions, steps (tasks) and what they do."""
    from archon_framework.cli._generate import print_chains

    print_chains(out, load_registry_or_exit(), as_json)


@app.command("list-models")
def list_models_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the trained models the installed packages ship (usable as --checkpoint NAME)."""
    from archon_framework.infer import shipped_models

    rows = []
    for name, folder in shipped_models().items():
        record = json.loads((folder / "model.json").read_text())
        rows.append({"name": name, "recipe": record.get("recipe"), "step": record.get("step"),
                     "commit": record.get("commit"), "command": record.get("command"),
                     "tokenizers": {m: o.get("distribution") for m, o in record.get("tokenizers", {}).items()}})
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table("name", "recipe", "step", "commit", "tokenizers from")
    for r in rows:
        table.add_row(r["name"], str(r["recipe"]), str(r["step"]), str(r["commit"] or "")[:10],
                      ", ".join(f"{m} ({d})" for m, d in sorted(r["tokenizers"].items())))
    out.print(table if rows else "no shipped models installed")


# ---------------------------------------------------------------------- eval
@app.command("eval")
def evaluate(
    ctx: typer.Context,
    checkpoint: Annotated[Path, typer.Option("--checkpoint", help="A training run (the out_dir of `archon train`; the demo's lm/), an exported model, or a shipped model's name (archon list-models).")],
    suite: Annotated[str, typer.Option(help="table1 (speech-to-video), table2 (image-conditioned TTS), table3 (ablations), or all.")] = "all",
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for NAME.md, NAME.json and NAME.png.")] = Path("runs/eval"),
    name: Annotated[str, typer.Option(help="File name (stem) of the report.")] = "eval",
    heldout: Annotated[int, typer.Option(help="Held-out clips to evaluate on.")] = 8,
    data: Annotated[Optional[Path], typer.Option(help="A stored held-out dataset instead of generating clips.")] = None,
    dataset: Annotated[Optional[str], typer.Option(help="The dataset plugin that generates held-out clips (default: the installed evaluation defaults').")] = None,
    seconds: Annotated[Optional[float], typer.Option(help="Held-out clip length (default: the training clips').")] = None,
    data_seed: Annotated[int, typer.Option("--data-seed", help="Seed of the generated held-out clips.")] = 0,
    experts: Annotated[Optional[Path], typer.Option(help="Per-modality experts for Table 3 (default: CHECKPOINT-experts).")] = None,
    train_experts: Annotated[bool, typer.Option("--train-experts", help="Train the experts Table 3 needs first (same data and budget).")] = False,
    expert_steps: Annotated[Optional[int], typer.Option("--expert-steps", help="Steps per expert instead of the matched budget.")] = None,
    experts_data: Annotated[Optional[Path], typer.Option("--experts-data", help="Train the experts on this recipe run's data (its data/ and lm/token-cache) instead of the checkpoint's own: how a shipped or exported model, which keeps no training data, gets its experts (make the run with `archon pretrain --recipe NAME --tokenizers-from MODEL --out RUN`). Default experts folder: RUN-experts.")] = None,
    seed: Annotated[int, typer.Option(help="Sampling seed (clip i uses seed + i).")] = 0,
    seeds: Annotated[int, typer.Option(help="Sampling seeds per clip: each model row runs this many times (run k: clip i with seed + k x clips + i) and a clip's score is its mean over them; the paper's Table 3 uses 3.")] = 1,
    temperature: TemperatureOption = 1.0,
    top_k: TopKOption = None,
    top_p: TopPOption = 0.9,
    greedy: GreedyOption = False,
    greedy_for: GreedyForOption = [],  # noqa: B006
    max_text_tokens: Annotated[Optional[int], typer.Option("--max-text-tokens", help="Budget of free-length text outputs.")] = None,
    skip: Annotated[list[str], typer.Option("--skip", help="Leave a modality out of every chain, e.g. video (repeat).")] = [],  # noqa: B006
    artifacts: ArtifactsOption = None,
    step: StepOption = None,
    plot: Annotated[bool, typer.Option("--plot/--no-plot", help="Write NAME.png (needs matplotlib).")] = True,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress.")] = True,
    controls: Annotated[bool, typer.Option("--controls/--no-controls", help="Compare every step of the control chains with its shuffled-condition control.")] = True,
    control_chain: Annotated[list[str], typer.Option("--control-chain", help="A chain to control step by step (repeat; default: the installed evaluation defaults', the paper's text-to-all and speech-to-video).")] = [],  # noqa: B006
    guidance_scale: Annotated[list[float], typer.Option("--guidance-scale", help="Also run the evaluation defaults' guidance chain (the paper's speech-to-video) with classifier-free guidance at this scale (repeat; 0 is unguided).")] = [],  # noqa: B006
    reuse: Annotated[Optional[Path], typer.Option(help="An earlier report (NAME.json) of the same checkpoint, clips, sampling and seeds: its scored rows are read from it, not run again (e.g. to add Table 3's experts).")] = None,
) -> None:
    """Evaluate a trained model as the paper's Tables 1-3 do, on held-out clips; write a report.

    Table 1: speech-driven video (lip sync, semantic accuracy / mIoU, video PSNR / SSIM, Frechet
    distances, description F1). Table 2: image-conditioned text-to-speech (MCD-DTW, voice
    proxies). Table 3: the full chain against the direct one (w/o thinking) and against
    per-modality experts with the same total parameters, data and budget (w/o unified model).
    Metrics come from the installed metric plugins (archon-eval-metrics). Controls: each step of
    text-to-all and speech-to-video from its own clip's conditions against another clip's, with
    the paired difference and its 95% interval, and a trivial baseline.
    """
    from archon_framework.eval import command_line, run_eval

    registry = load_registry_or_exit()
    sampling = _sampling(registry, greedy=greedy, temperature=temperature, top_k=top_k, top_p=top_p, greedy_for=greedy_for)
    with errors_exit():
        paths, _ = run_eval(
            registry=registry, checkpoint=checkpoint, suite=suite, out_dir=out_dir, name=name, heldout=heldout,
            data=data, dataset=dataset, seconds=seconds, data_seed=data_seed, experts=experts,
            train_experts_=train_experts, expert_steps=expert_steps, experts_data=experts_data, seed=seed, seeds=seeds, sampling=sampling,
            max_text_tokens=max_text_tokens, skip=skip, artifacts=artifacts, step=step, plot=plot, progress=progress,
            command=command_line(ctx), console=err,
            controls=(tuple(control_chain) or registry.eval_default().control_chains) if controls else (),
            guidance_scales=tuple(guidance_scale), reuse=reuse,
        )
    out.print("wrote " + ", ".join(str(p) for p in paths.values()))


# ---------------------------------------------------------------------- bench
def _benchmarks_dir() -> Path:
    """benchmarks/ of the source checkout this package runs from (editable installs)."""
    return Path(__file__).resolve().parents[2] / "benchmarks"


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def bench(
    ctx: typer.Context,
    name: Annotated[Optional[str], typer.Argument(help="A benchmark (file name without .py); none lists them.")] = None,
) -> None:
    """List the speed and quality benchmarks, or run one (its own options follow its name).

    Benchmarks print ratios measured side by side in one run (e.g. `archon bench lm_range_loss
    --steps 3`, `archon bench lm_decode --help`); they ship with the source checkout, not the wheel.
    """
    import ast
    import subprocess

    folder = _benchmarks_dir()
    if not folder.is_dir():
        err.print(f"[bold red]error:[/] {folder} does not exist: benchmarks ship with the source checkout "
                  "(git clone, then pip install -e .)")
        raise typer.Exit(2)
    scripts = {p.stem: p for p in sorted(folder.glob("*.py"))}
    if name is None:
        table = Table("benchmark", "what it measures", title=f"Benchmarks ({folder})")
        for stem, path in scripts.items():
            doc = ast.get_docstring(ast.parse(path.read_text())) or ""
            table.add_row(stem, doc.splitlines()[0] if doc else "")
        out.print(table)
        return
    if name not in scripts:
        err.print(f"[bold red]error:[/] no benchmark {name!r} in {folder}; choose one of {', '.join(scripts)}")
        raise typer.Exit(2)
    raise typer.Exit(subprocess.call([sys.executable, str(scripts[name]), *ctx.args]))


# ---------------------------------------------------------------------- verify
@app.command()
def verify(
    files: Annotated[list[Path], typer.Argument(help="Files to check (images, video, audio, JSON, NPZ...).")],
    trust: Annotated[Optional[Path], typer.Option(help="PEM trust anchors besides the development root and ARCHON_C2PA_TRUST.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    watermark: Annotated[bool, typer.Option("--watermark/--no-watermark", help="Also look for the invisible watermark in images and video.")] = True,
) -> None:
    """Say, per file, whether it was generated by this framework, by which checkpoint, and whether it was altered.

    Reads the C2PA Content Credentials (embedded, or the FILE.c2pa sidecar) and the invisible
    watermark of images and video. Every file gets a named status (generated, altered,
    tampered-manifest, no-manifest, other-generator, unsupported, unreadable, missing); the exit
    status is 0 only when every file is `generated` and unaltered.
    """
    from archon_framework.cli._verify import run_verify

    registry = load_registry_or_exit()
    with errors_exit():
        code = run_verify(files, trust=trust, as_json=as_json, watermark=watermark,
                          steps=registry.provenance_steps.values(), console=out)
    raise typer.Exit(code)


# ---------------------------------------------------------------------- demo
@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Where the demo writes everything (reused by a second run).")] = Path("runs/demo"),
    minutes: Annotated[float, typer.Option(help="Time budget of tokenizer and LM training, in minutes.")] = 10.0,
    steps: Annotated[Optional[int], typer.Option(help="Train the LM this many steps instead of by time.")] = None,
    clips: Annotated[int, typer.Option(help="Training clips to synthesize.")] = 24,
    heldout: Annotated[int, typer.Option(help="Held-out clips to generate from.")] = 2,
    seconds: Annotated[float, typer.Option(help="Clip length in seconds.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of data, training (unless --train-seed) and sampling.")] = 0,
    train_seed: Annotated[Optional[int], typer.Option(help="Seed of training alone (default: --seed): runs that differ only in it give the spread that training adds.")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars.")] = True,
    train: Annotated[bool, typer.Option("--train", help="Train every tokenizer and the LM from scratch within --minutes instead of using the shipped model.")] = False,
    model: Annotated[Optional[str], typer.Option(help="The shipped model (archon list-models) or an exported model's folder to run (default: the installed demo's, archon-paper's cpu-reference).")] = None,
) -> None:
    """Run the shipped reference model on held-out clips, or (--train) train one from scratch.

    Runs the installed demo (`archon_demos()`; archon-paper's is the paper's). Without --train:
    synthesizes held-out clips, runs the demo's chains (the paper's: text-to-all and
    speech-to-video with and without thinking) on them with the demo's shipped model (the
    paper's: `cpu-reference`, trained by `archon pretrain --recipe cpu-reference`), and writes an HTML page (index.html), a contact sheet and demo.json, with
    each output's distance from the ground truth. With --train: synthesizes training data and
    trains every tokenizer and a tiny LM within --minutes first. What a previous run made
    (found in --out) is reused.
    """
    from archon_framework.infer import shipped_models
    from archon_framework.infer._demo import DemoConfig, run_demo

    registry = load_registry_or_exit()
    report_failures(registry)
    with errors_exit():
        spec = registry.demo()
    use = None if train else model
    if not train and model is None:
        use = spec.model
        if use is not None and use not in shipped_models():
            err.print(f"[yellow]no shipped model {use!r} is installed: training one from scratch (--train)[/]")
            use = None
    with errors_exit():
        cfg = DemoConfig(out=str(out_dir), minutes=minutes, lm_steps=steps, clips=clips, heldout=heldout,
                         seconds=seconds, seed=seed, train_seed=train_seed, progress=progress, model=use)
        page = run_demo(cfg, registry, console=err)
    out.print(f"demo written: open {page}")


# ---------------------------------------------------------------------- pretrain
@app.command()
def pretrain(
    recipe: Annotated[Optional[str], typer.Option(help="An installed recipe's name (archon pretrain --list; archon-paper's cpu-reference) or a recipe .toml file (default: the only installed recipe).")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Where the run writes everything (a second run resumes it).")] = Path("runs/reference"),
    evaluate: Annotated[bool, typer.Option("--eval/--no-eval", help="Evaluate the trained model on the held-out clips.")] = True,
    list_: Annotated[bool, typer.Option("--list", help="List the shipped recipes and exit.")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars.")] = True,
    tokenizers_from: Annotated[Optional[str], typer.Option(help="Start from this model's tokenizers (a shipped model's name, archon list-models, or an exported model folder), verified and copied into OUT/tokenizers: only the LM and what that model lacks are trained (the recipe's tokenizers_from).")] = None,
) -> None:
    """Train every tokenizer, the video decoder and the LM from scratch by a deterministic recipe.

    A recipe gives step counts and seeds, never wall time, so two runs train the same models;
    an interrupted run resumes where it stopped. Writes the demo's page, curves.png (loss per
    modality against step), eval/ and recipe.json (commit, command, compile/train split per stage).
    """
    import attrs

    from archon_framework.infer._recipe import load_recipe, run_recipe

    registry = load_registry_or_exit()
    if list_:
        with errors_exit():
            for name in registry.recipes:
                out.print(f"{name}: {load_recipe(name, registry).description}")
        return
    report_failures(registry)
    with errors_exit():
        if recipe is None:
            if len(registry.recipes) != 1:
                raise ConfigError(f"pass --recipe: {len(registry.recipes)} recipes are installed "
                                f"({', '.join(registry.recipes) or 'none'}; archon pretrain --list)")
            recipe = next(iter(registry.recipes))
        recipe_ = load_recipe(recipe, registry)
        if tokenizers_from is not None:
            recipe_ = attrs.evolve(recipe_, demo={**recipe_.demo, "tokenizers_from": tokenizers_from})
        path = run_recipe(recipe_, registry, out_dir, progress=progress, evaluate=evaluate,
                          command=" ".join(["archon", *sys.argv[1:]]), console=err)
    out.print(f"recipe written: {path}")


@app.command("ship-model")
def ship_model_command(
    model: Annotated[Path, typer.Argument(help="An exported model folder (archon pretrain writes OUT/model).")],
    name: Annotated[Optional[str], typer.Option(help="The name it ships under (default: its recipe's).")] = None,
) -> None:
    """Copy an exported model into the installed packages, to be committed: the LM into
    archon_framework/weights/NAME, each tokenizer into the plugin that owns its modality."""
    from archon_framework.infer import ship_model

    with errors_exit():
        written = ship_model(model, name=name)
    for folder in written:
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        out.print(f"{folder}  {size / 2**20:.1f} MiB")


app.add_typer(data_app, name="data")
app.command("launch", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(launch_command)
app.command("train-tokenizer")(train_tokenizer_command)


def _mount_plugin_commands() -> None:
    try:
        registry = load_registry()
    except ArchonError:
        return  # the commands report the error
    loaded.append(registry)
    for sub, info in registry.commands:
        name = getattr(getattr(sub, "info", None), "name", None)
        if not isinstance(sub, typer.Typer) or not name:
            err.print(f"[yellow]plugin {info.name}: ignoring a command that is not a named typer.Typer[/]")
            continue
        app.add_typer(sub, name=name, help=f"[{info.label}] " + (sub.info.help or ""))


def main() -> None:
    """Console-script entry point."""
    _mount_plugin_commands()
    app()


if __name__ == "__main__":
    main()
