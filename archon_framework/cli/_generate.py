"""`archon generate` and `archon list-chains`: the command-line side of chained generation."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from archon_framework._clip import ClipMeta
from archon_framework._errors import ArchonError, ConfigError, DataError, TaskError
from archon_framework._plugins import Registry
from archon_framework._tasks import Slot
from archon_framework._chains import parse_slot, plan_chain
from archon_framework.infer._generate import GenerationResult, StepResult, choose_chain, generate, resolve_chain
from archon_framework.infer._model import load_checkpoint
from archon_framework.infer._outputs import write_outputs
from archon_framework.model import Sampling
from archon_framework.provenance import ProvenanceConfig

__all__ = ["parse_inputs", "load_inputs", "probe_seconds", "run_generate", "chain_rows", "print_chains"]


def parse_inputs(items: list[str], registry: Registry) -> dict[Slot, Path]:
    """``MOD=FILE`` (or ``MOD(STATE)=FILE``) options -> slot -> path; errors name the option."""
    out: dict[Slot, Path] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--input {item!r}: expected MODALITY=FILE, e.g. speech=hello.wav")
        key, file = item.split("=", 1)
        slot = parse_slot(key.strip(), registry.modalities)
        if slot in out:
            raise ConfigError(f"--input {item!r}: {slot} is given twice")
        path = Path(file).expanduser()
        if not path.exists():
            raise DataError(f"--input {item!r}: file {path} not found")
        out[slot] = path
    return out


def probe_seconds(files: dict[Slot, Path]) -> float | None:
    """The clip length from an audio condition file, if there is one (soundfile can read it)."""
    try:
        import soundfile as sf
    except ImportError:
        return None
    for path in files.values():
        if path.is_file() and path.suffix.lower() in (".wav", ".flac", ".ogg"):
            try:
                info = sf.info(str(path))
            except RuntimeError:
                continue
            return round(info.frames / info.samplerate, 6)
    return None


def load_inputs(files: dict[Slot, Path], registry: Registry, meta: ClipMeta) -> dict[Slot, Any]:
    """Read each condition file with its modality's `Modality.load` and check it for the clip."""
    values: dict[Slot, Any] = {}
    for slot, path in files.items():
        mod = registry.modality(slot.modality)
        where = f"--input {slot.modality}={path}"
        if mod.load is None:
            raise DataError(
                f"{where}: modality {slot.modality!r} ({registry.providers[slot.modality].label}) has no file loader "
                "(Modality.load), so it cannot be read from a file"
            )
        try:
            value = mod.load(path, meta)
        except ArchonError as err:
            raise type(err)(f"{where}: {err}") from err
        except Exception as err:
            raise DataError(f"{where}: could not load ({type(err).__name__}: {err})") from err
        try:
            values[slot] = mod.check_raw(value, meta)
        except ArchonError as err:
            raise type(err)(f"{where}: {err} (clip length {meta.duration:g} s; set it with --seconds)") from err
    return values


def _json(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def run_generate(
    *,
    registry: Registry,
    checkpoint: Path,
    inputs: list[str],
    chain: str,
    out_dir: Path,
    overwrite: bool,
    seed: int,
    sampling: Sampling,
    seconds: float | None,
    frame_rate: float,
    sample_rate: int,
    artifacts: Path | None,
    step: int | None,
    candidates: list[str] | None,
    max_text_tokens: int | None,
    console: Console,
    provenance: bool = True,
) -> Path:
    """Everything `archon generate` does; bad input raises before any model compute.

    `provenance=False` (`--no-provenance`) writes no credentials and no watermark; the manifest says so.
    """
    if out_dir.exists() and not overwrite:
        raise ConfigError(f"output folder {out_dir} exists; pass --overwrite to replace it")
    files = parse_inputs(inputs, registry)
    if not files:
        raise ConfigError("no --input given: pass the chain's conditions as MODALITY=FILE")
    auto = chain == "auto"
    if auto:
        names = candidates or list(registry.chains)
        chains = [c for c in (resolve_chain(n, registry) for n in names) if set(c.conditions) <= set(files)]
        if not chains:
            raise TaskError(f"--chain auto: no candidate chain has its conditions among {', '.join(map(str, files))}")
    else:
        chains = [resolve_chain(chain, registry)]
        missing = [str(c) for c in chains[0].conditions if c not in files]
        if missing:
            raise TaskError(
                f"chain {chains[0].name!r} {chains[0].signature()} needs condition(s) {', '.join(missing)}; "
                f"given: {', '.join(map(str, files))} (pass them as --input MODALITY=FILE)"
            )
    model = load_checkpoint(checkpoint, registry, step=step, artifacts=artifacts)
    runnable = []
    errors = []
    for c in chains:
        try:
            plan_chain(c, modalities=registry.modalities, suite=model.suite, given=list(files))
            runnable.append(c)
        except TaskError as err:
            errors.append(str(err))
    if not runnable:
        raise TaskError(errors[0] if len(errors) == 1 else "no candidate chain can run: " + "; ".join(errors))
    if seconds is None:
        seconds = probe_seconds(files)
        if seconds is None:
            seconds = 2.0
            console.print("[dim]clip length 2 s (no audio condition to measure it from; --seconds to change)[/]")
    meta = ClipMeta(clip_id="generate", duration=seconds, frame_rate=frame_rate, sample_rate=sample_rate,
                    source=str(checkpoint))
    values = load_inputs(files, registry, meta)

    def report(i: int, n: int, res: StepResult) -> None:
        state = {"generated": "green", "rendered": "cyan", "given": "dim", "kept": "dim", "failed": "red"}[res.kind]
        tokens = "" if res.global_ids is None else f" {res.global_ids.shape[0]} tokens"
        console.print(f"  [{state}]{i + 1}/{n} {res.output} {res.kind}[/]{tokens} {res.seconds:.2f} s"
                      + (f" [yellow]({res.note})[/]" if res.note else ""))

    extra: dict[str, Any] = {"checkpoint": str(checkpoint), "checkpoint_step": model.step,
                             "artifacts": str(model.artifacts) if model.artifacts else None}
    if auto and len(runnable) > 1:
        console.print(f"choosing among {', '.join(c.name for c in runnable)} by the model's perplexity of the conditions")
        result, scores = choose_chain(model, values, runnable, meta=meta, sampling=sampling, seed=seed,
                                      max_text_tokens=max_text_tokens)
        for sc in scores:
            console.print(f"  {sc.chain}: perplexity {sc.perplexity:.3f} ({', '.join(sc.scored) or sc.note})")
        console.print(f"chose [bold]{result.chain.name}[/]")
        extra["choice"] = [{"chain": s.chain, "perplexity": _json(s.perplexity), "scored": list(s.scored), "note": s.note}
                           for s in scores]
        for i, res in enumerate(result.steps):
            report(i, len(result.steps), res)
    else:
        console.print(f"chain [bold]{runnable[0].name}[/] {runnable[0].signature()}")
        result = generate(model, values, runnable[0], meta=meta, sampling=sampling, seed=seed,
                          max_text_tokens=max_text_tokens, on_step=report)
    manifest = write_outputs(result, out_dir, registry.modalities, overwrite=overwrite,
                             condition_files={s: str(p) for s, p in files.items()}, extra=extra,
                             provenance=ProvenanceConfig.from_registry(registry, enabled=provenance))
    return manifest


def chain_rows(registry: Registry) -> list[dict[str, Any]]:
    return [{"name": c.name, "conditions": [str(s) for s in c.conditions], "optional": [str(s) for s in c.optional],
             "steps": [str(s) for s in c.steps], "description": c.description} for c in registry.chains.values()]


def print_chains(console: Console, registry: Registry, as_json: bool) -> None:
    rows = chain_rows(registry)
    if as_json:
        import sys

        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table(title="Generation chains (archon generate --chain NAME)")
    for col in ("chain", "conditions", "steps", "about"):
        table.add_column(col)
    for c, r in zip(registry.chains.values(), rows):
        missing = sorted({s.modality for s in (*c.conditions, *c.outputs)} - set(registry.modalities))
        about = r["description"] + (f" [yellow](not installed: {', '.join(missing)})[/]" if missing else "")
        table.add_row(c.name, " + ".join(r["conditions"]) + (f" [dim](optional {', '.join(r['optional'])})[/]" if r["optional"] else ""),
                      "\n".join(r["steps"]), about)
    console.print(table)


def summarize(result: GenerationResult) -> str:
    done = sum(s.kind in ("generated", "rendered") for s in result.steps)
    failed = [str(s.output) for s in result.steps if s.kind == "failed"]
    return f"{done} step(s) generated" + (f"; failed: {', '.join(failed)}" if failed else "")
