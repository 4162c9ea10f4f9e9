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
    rows; process 0 alone writes --out.
    """
    from archon_framework.data import ClipDataset
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
        try:
            report = mod.trainer(clips, out_dir=out_dir, steps=steps, seconds=seconds, seed=seed, progress=progress)
        except ArchonError:
            raise
        except Exception as error:
            raise PluginError(f"modality {modality!r} ({registry.providers[modality].label}): its tokenizer trainer "
                              f"failed: {type(error).__name__}: {error}") from error
    import jax

    if jax.process_index() == 0:
        summary = {k: report[k] for k in ("steps", "compile_s", "train_s", "below_min") if k in (report or {})}
        err.print(json.dumps(summary))
        out.print(f"trained the {modality} tokenizer" + (f" on {jax.process_count()} processes" if joined else "")
                  + f"; it and report.json are in {out_dir}")
