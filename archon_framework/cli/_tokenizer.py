"""`archon train-tokenizer`: train one modality's tokenizer (or decoder) with its plugin's trainer,
on one process or as one process of a multi-process run (the same cluster flags as `archon train`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from archon_framework._errors import ArchonError, ConfigError, PluginError
from archon_framework.cli._cluster import (
    Coordinator,
    DetectCluster,
    HeartbeatTimeout,
    NumProcesses,
    ProcessId,
    join_from_options,
)
from archon_framework.cli._common import err, errors_exit, load_registry_or_exit, out

__all__ = ["train_tokenizer_command"]


def train_tokenizer_command(
    modality: Annotated[str, typer.Option("--modality", help="The modality whose tokenizer (or decoder) to train (archon list-modalities).")],
    data: Annotated[Path, typer.Option("--data", help="A dataset folder (archon data synth / ingest / prepare).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder the trained tokenizer and its report.json go to.")],
    steps: Annotated[Optional[int], typer.Option(help="Optimizer steps (default: the plugin's config).")] = None,
    seconds: Annotated[Optional[float], typer.Option(help="Training-time budget instead of --steps (compilation not counted).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of initialization and batch sampling (the same on every process).")] = 0,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress.")] = True,
    coordinator: Coordinator = None,
    num_processes: NumProcesses = None,
    process_id: ProcessId = None,
    heartbeat_timeout: HeartbeatTimeout = 100,
    distributed: DetectCluster = False,
) -> None:
    """Train one modality's tokenizer on a dataset with its plugin's trainer (Modality.trainer).

    The built-in trainers are data-parallel over every device of the run: several processes
    (archon launch --local N -- train-tokenizer ..., or SLURM, Open MPI, a Cloud TPU pod slice)
    train one tokenizer together, each drawing the same batches from --seed and keeping its
    rows; process 0 alone writes --out. Before any step the processes compare their plugins,
    vocabulary layout and settings (a difference stops every process, naming it); a process
    lost mid-run is named by the others, and the run is started again (a tokenizer run keeps
    no resumable checkpoint).
    """
    from archon_framework.data import ClipDataset
    from archon_framework.train._distributed import preflight, run_fingerprint
    from archon_framework.train._launch import cluster_exit

    joined = join_from_options(coordinator, num_processes, process_id, heartbeat_timeout, distributed)
    registry = load_registry_or_exit()
    with cluster_exit(), errors_exit():
        if modality not in registry.modalities:
            raise ConfigError(f"--modality {modality!r}: not installed (installed: {', '.join(sorted(registry.modalities))})")
        mod = registry.modalities[modality]
        if mod.trainer is None:
            raise PluginError(f"--modality {modality!r} ({registry.providers[modality].label}): its plugin has no "
                              "tokenizer trainer")
        dataset = ClipDataset(data)
        clips = [dataset[i] for i in range(len(dataset))]
        preflight(run_fingerprint(registry, {"modality": modality, "steps": steps, "seconds": seconds, "seed": seed,
                                             "clips": len(clips)}))
        try:
            report = mod.trainer(clips, out_dir=out_dir, steps=steps, seconds=seconds, seed=seed, progress=progress)
        except ArchonError:
            raise
        except Exception as error:
            _raise_if_process_lost(error, modality)
            raise PluginError(f"modality {modality!r} ({registry.providers[modality].label}): its tokenizer trainer "
                              f"failed: {type(error).__name__}: {error}") from error
    import jax

    if jax.process_index() == 0:
        summary = {k: report[k] for k in ("steps", "compile_s", "train_s", "below_min") if k in (report or {})}
        err.print(json.dumps(summary))
        out.print(f"trained the {modality} tokenizer" + (f" on {jax.process_count()} processes" if joined else "")
                  + f"; it and report.json are in {out_dir}")


def _raise_if_process_lost(error: Exception, modality: str) -> None:
    """A `ProcessLostError` naming the process(es) whose loss failed the trainer, if that is why."""
    import jax

    from archon_framework.train._distributed import ProcessLostError, host_of, lost_processes

    if jax.process_count() == 1:
        return
    lost = lost_processes()
    if lost:
        names = ", ".join(f"process {p} ({host_of(p)})" for p in lost)
        raise ProcessLostError(
            f"training the {modality} tokenizer: lost {names} of the {jax.process_count()}-process run (it stopped "
            f"beating; the step failed with: {str(error).splitlines()[0][:200]}); a tokenizer run keeps no resumable "
            "checkpoint: start every process of the run again", lost) from error
