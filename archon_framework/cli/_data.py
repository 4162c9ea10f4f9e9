"""`archon data`: write a dataset from a dataset plugin, and summarize one."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from archon_framework._errors import DataWarning
from archon_framework.cli._common import default_dataset, err, errors_exit, load_registry_or_exit, out

__all__ = ["data_app"]

data_app = typer.Typer(name="data", help="Write and inspect clip datasets.", no_args_is_help=True)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=False,
    )


@data_app.command("synth")
def synth(
    out_dir: Annotated[Path, typer.Option("--out", help="Dataset directory to write.")],
    clips: Annotated[int, typer.Option("--clips", min=1, help="Number of clips.")] = 16,
    seconds: Annotated[float | None, typer.Option("--seconds", help="Clip length (default: the dataset's).")] = None,
    dataset: Annotated[str | None, typer.Option("--dataset", help="Dataset plugin name (default: the installed demo's training data, or the only dataset installed).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed; clips are deterministic in (seed, index).")] = 0,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted dataset.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing dataset.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Refuse values of modalities that are not installed instead of leaving them out.")] = False,
) -> None:
    """Generate clips with a dataset plugin, validate them, and store them crash-safely.

    A dataset may produce modalities whose plugins are not installed (e.g. `video` without a
    video plugin): their values are left out with a note, or refused with --strict.
    """
    from archon_framework.data import synthesize

    registry = load_registry_or_exit()
    with errors_exit():
        dataset = dataset or default_dataset(registry)
        with _progress() as progress:
            task = progress.add_task(f"{dataset} -> {out_dir}", total=clips)
            length = synthesize(registry, out_dir, dataset=dataset, clips=clips, seconds=seconds, seed=seed,
                                resume=resume, overwrite=overwrite, strict=strict,
                                on_clip=lambda clip: progress.advance(task),
                                on_note=lambda note: err.print(f"[yellow]{note}[/]"))
    out.print(f"wrote {clips} clips of {length:g} s to {out_dir}")


@data_app.command("ingest")
def ingest(
    manifest: Annotated[Path, typer.Option("--manifest", help="A .jsonl or .csv manifest: one row per clip, a file per modality.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Dataset directory to write.")],
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted dataset.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing dataset.")] = False,
) -> None:
    """Store user clips, each file read by its modality plugin's loader and validated."""
    from archon_framework.data import ingest_clips, read_manifest, write_dataset

    registry = load_registry_or_exit()
    with errors_exit(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        total = len(read_manifest(manifest))
        static = {name: not mod.temporal for name, mod in registry.modalities.items()}
        try:
            with _progress() as progress:
                task = progress.add_task(f"{manifest.name} -> {out_dir}", total=total)
                write_dataset(out_dir, ingest_clips(registry, manifest), name=manifest.stem, static=static,
                              resume=resume, overwrite=overwrite, on_clip=lambda clip: progress.advance(task))
        finally:  # what the loaders adjusted, said even when a later clip fails
            for w in caught:
                err.print(f"[yellow]{w.category.__name__}: {w.message}[/]")
    adjusted = sum(1 for w in caught if issubclass(w.category, DataWarning))
    out.print(f"ingested {total} clips into {out_dir}" + (f" ({adjusted} values adjusted to their clips, see above)" if adjusted else ""))


@data_app.command("prepare")
def prepare(
    videos: Annotated[Path, typer.Option("--videos", help="A folder of videos (with STEM.MODALITY.EXT side files) or a .jsonl manifest.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Dataset directory to write (its report: prepare-report.json).")],
    config: Annotated[Path | None, typer.Option("--config", help="Prepare config (TOML): frame_rate, window_seconds, on_gap, [steps.NAME] ...")] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", min=1, help="Videos prepared in parallel (default: the config's).")] = None,
    cache: Annotated[Path | None, typer.Option("--cache", help="Per-video results, kept for resumption (default: OUT.cache).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted or extended run (reuses the cache).")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing dataset.")] = False,
) -> None:
    """Turn talking-head videos into every installed modality through the plugins' prepare steps.

    Each video is decoded, tracked and fitted by the installed steps (`archon_prepare_steps`),
    cut into clips (per video, per window, or around frames without a face), validated and
    stored. Videos that cannot be prepared (no face, corrupt, too short, ...) are named in the
    report and skipped; the rest of the folder is prepared.
    """
    import attrs

    from archon_framework.config import load_config
    from archon_framework.data import PrepareConfig, find_videos, prepare_videos
    from archon_framework.data._prepare import transcript_modality

    registry = load_registry_or_exit()
    with errors_exit():
        cfg = load_config(config, PrepareConfig) if config is not None else PrepareConfig()
        if jobs is not None:
            cfg = attrs.evolve(cfg, jobs=jobs)
        found = find_videos(videos, tuple(registry.modalities), transcript=transcript_modality(registry))
        with _progress() as progress:
            task = progress.add_task(f"{videos.name} -> {out_dir}", total=len(found))
            report = prepare_videos(registry, found, out_dir, config=cfg, cache=cache, resume=resume, overwrite=overwrite,
                                    on_video=lambda job, status: progress.advance(task))
    for vid, entry in report["videos"].items():
        for issue in entry["issues"]:
            err.print(f"[yellow]{vid}: {issue['kind']} ({issue['step']}): {issue['message']}[/]")
    t = report["totals"]
    out.print(f"prepared {t['clips']} clips ({t['seconds']:g} s) from {t['videos']} videos into {out_dir}; "
              f"{t['skipped']} skipped; report in {out_dir / 'prepare-report.json'}")


@data_app.command("info")
def info(
    path: Annotated[Path, typer.Argument(help="Dataset directory.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Summarize a dataset per modality: clips, dtype, shape, size on disk."""
    from archon_framework.data import dataset_info

    with errors_exit():
        summary = dataset_info(path)
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
        return
    table = Table(title=f"{path}: {summary['dataset']}, {summary['clips']} clips, {summary['seconds']:g} s, {summary['shards']} shards")
    for col in ("modality", "kind", "clips", "dtype", "shape per row", "rows", "MiB on disk"):
        table.add_column(col)
    for name, m in summary["modalities"].items():
        table.add_row(
            name, m["kind"] + (" (static)" if m["static"] else ""), str(m["clips"]), m.get("dtype", "-"),
            str(tuple(m["trailing_shape"])) if "trailing_shape" in m else "-", str(m.get("rows", "-")),
            f"{m['bytes_on_disk'] / 2**20:.2f}" if "bytes_on_disk" in m else "-",
        )
    out.print(table)
