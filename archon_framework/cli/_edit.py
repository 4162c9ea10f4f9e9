"""`archon edit`: edit a real clip from the command line (see `_editing.py` for the chains).

A clip is given as one of

* ``DATASET_DIR`` or ``DATASET_DIR#ID`` (a stored dataset, `archon data synth` / `ingest`; the
  clip by id or by index, the first when omitted),
* a folder holding one file per modality named ``MODALITY.EXT`` (``speech.wav``,
  ``script.txt``, ...) and optionally ``clip.json`` (``duration``, ``frame_rate``,
  ``sample_rate``), each read by its modality's loader,
* ``MODALITY=FILE`` items (``--clip speech=a.wav --clip image=face.png``).

The edit is ``MODALITY=VALUE`` for a modality an installed editing chain edits alone (its new
text for a text modality, a JSON file for a JSON one: with archon-paper, ``script=TEXT`` and
``description=FILE``), or ``motion=OTHER_CLIP`` (any clip form but the last) for a chain that
edits several modalities, all taken from the other clip (archon-paper's ``reenact``: expression
and pose).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console

from archon_framework._clip import Clip, ClipMeta
from archon_framework._errors import ConfigError, DataError
from archon_framework._plugins import Registry
from archon_framework.cli._generate import load_inputs, parse_inputs, probe_seconds
from archon_framework.infer._editing import EditingChain, edit_clip
from archon_framework.infer._generate import StepResult
from archon_framework.infer._model import load_checkpoint
from archon_framework.infer._outputs import write_outputs
from archon_framework.model import Sampling
from archon_framework.provenance import ProvenanceConfig

__all__ = ["MOTION", "default_editing_chain", "edit_kind", "edit_kinds", "load_clip", "parse_edit", "run_edit"]

#: ``--edit motion=OTHER_CLIP``: the modalities a chain editing several takes from another clip.
MOTION = "motion"


def edit_kinds(registry: Registry) -> dict[str, str]:
    """``--edit KIND=...`` -> what its value is (``TEXT``, ``FILE`` or ``OTHER_CLIP``), from the
    installed editing chains: a modality edited alone by one of them, and ``motion`` when one
    edits several."""
    kinds: dict[str, str] = {}
    for echain in registry.editing_chains.values():
        if _from_other_clip(echain, registry):
            kinds.setdefault(MOTION, "OTHER_CLIP")
        elif echain.edits[0] in registry.modalities:
            raw = registry.modalities[echain.edits[0]].raw.kind
            kinds.setdefault(echain.edits[0], "TEXT" if raw == "text" else "FILE")
    return kinds


def _from_other_clip(echain: EditingChain, registry: Registry) -> bool:
    """A chain whose edits come from another clip: it edits several modalities, or arrays."""
    mods = registry.modalities
    return len(echain.edits) > 1 or any(m in mods and mods[m].raw.kind == "array" for m in echain.edits)


def default_editing_chain(registry: Registry, kind: str) -> EditingChain:
    """The editing chain an ``--edit KIND=`` runs when no ``--chain`` is given: the first installed
    one (``archon_chains()``) that edits exactly the kind's modality, or for ``motion`` the first
    whose edits come from another clip."""
    for echain in registry.editing_chains.values():
        if _from_other_clip(echain, registry) if kind == MOTION else (echain.edits == (kind,)):
            return echain
    installed = ", ".join(f"{e.name} (edits {'+'.join(e.edits)})" for e in registry.editing_chains.values()) or "none"
    raise ConfigError(f"--edit {kind}=: no installed editing chain edits {kind} (installed: {installed}); "
                      "install archon-paper or a plugin whose archon_chains() provides one, or pass --chain")


def _dataset_clip(root: Path, which: str | None) -> Clip:
    from archon_framework.data import ClipDataset

    ds = ClipDataset(root)
    if not len(ds):
        raise DataError(f"{root}: the dataset holds no clips")
    if which is None:
        return ds[0]
    ids = [c["id"] for shard in ds.index["shards"] for c in shard["clips"]]  # type: ignore[index]
    if which in ids:
        return ds[ids.index(which)]
    if which.isdigit() and int(which) < len(ds):
        return ds[int(which)]
    raise DataError(f"{root}: no clip {which!r} (ids {', '.join(ids[:5])}{', ...' if len(ids) > 5 else ''}; or an index < {len(ds)})")


def _folder_files(folder: Path, registry: Registry) -> tuple[list[str], dict[str, Any]]:
    items, meta = [], {}
    for path in sorted(folder.iterdir()):
        if path.name == "clip.json":
            try:
                meta = json.loads(path.read_text())
            except json.JSONDecodeError as err:
                raise DataError(f"{path}: not JSON ({err})") from err
            if not isinstance(meta, dict):
                raise DataError(f"{path}: expected an object with duration, frame_rate, sample_rate")
        elif path.stem in registry.modalities and not registry.modality(path.stem).rendered:
            items.append(f"{path.stem}={path}")
    if not items:
        raise DataError(f"{folder}: no file named after an installed modality ({', '.join(sorted(registry.modalities))})")
    return items, meta


def load_clip(spec: list[str], registry: Registry, *, seconds: float | None, frame_rate: float, sample_rate: int,
              what: str = "--clip") -> Clip:
    """A clip from a dataset, a folder of per-modality files, or ``MODALITY=FILE`` items."""
    if not spec:
        raise ConfigError(f"{what}: give a dataset (DIR or DIR#ID), a folder of MODALITY.EXT files, or MODALITY=FILE items")
    meta_fields: dict[str, Any] = {}
    if len(spec) == 1 and "=" not in spec[0]:
        text = spec[0]
        root, _, which = text.partition("#")
        path = Path(root).expanduser()
        if not path.exists():
            raise DataError(f"{what} {text}: {path} not found")
        if (path / "archon-dataset.json").exists():
            return _dataset_clip(path, which or None)
        if not path.is_dir():
            raise DataError(f"{what} {text}: neither a dataset, a folder of modality files, nor MODALITY=FILE")
        items, meta_fields = _folder_files(path, registry)
        clip_id = path.name
    else:
        items, clip_id = spec, "clip"
    files = parse_inputs(items, registry)
    duration = seconds or meta_fields.get("duration") or probe_seconds(files)
    if duration is None:
        raise ConfigError(f"{what}: the clip's length is unknown (no audio file, no clip.json); pass --seconds")
    meta = ClipMeta(clip_id=str(meta_fields.get("id", clip_id)), duration=float(duration),
                    frame_rate=float(meta_fields.get("frame_rate", frame_rate)),
                    sample_rate=int(meta_fields.get("sample_rate", sample_rate)), source=" ".join(spec))
    values = load_inputs(files, registry, meta)
    return Clip(meta, {slot.modality: v for slot, v in values.items()})


def edit_kind(text: str, registry: Registry) -> str:
    """The kind of an ``--edit`` option (`edit_kinds`: with archon-paper script, description, motion)."""
    kind, sep, _ = text.partition("=")
    kinds = edit_kinds(registry)
    if not sep or kind.strip() not in kinds:
        forms = [f"{k}={v}" for k, v in kinds.items()]
        expected = (", ".join(forms[:-1]) + " or " + forms[-1]) if len(forms) > 1 else (forms[0] if forms else
                                                                                         "an installed editing chain")
        raise ConfigError(f"--edit {text!r}: expected {expected}")
    return kind.strip()


def parse_edit(text: str, registry: Registry, *, seconds: float | None, frame_rate: float, sample_rate: int,
               motion: tuple[str, ...]) -> tuple[str, dict[str, Any], str]:
    """``MODALITY=TEXT`` | ``MODALITY=FILE`` | ``motion=OTHER_CLIP`` -> (kind, edits, source).

    ``motion`` names the modalities a motion edit takes from the other clip (the editing chain's
    ``edits``).
    """
    kind = edit_kind(text, registry)
    value = text.partition("=")[2]
    form = edit_kinds(registry)[kind]
    if form == "TEXT":
        if not value.strip():
            raise ConfigError(f"--edit {kind}=: the new {kind} is empty")
        return kind, {kind: value}, "the command line"
    if form == "FILE":
        path = Path(value).expanduser()
        if not path.is_file():
            raise DataError(f"--edit {kind}={value}: file {path} not found")
        if registry.modalities[kind].raw.kind != "json":
            raise ConfigError(f"--edit {kind}={value}: modality {kind!r} is edited from another clip "
                              f"(--edit {MOTION}=OTHER_CLIP with a chain that edits it), not from a file")
        try:
            new = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataError(f"--edit {kind}={value}: {path} is not JSON ({err})") from err
        return kind, {kind: new}, str(path)
    other = load_clip([value], registry, seconds=seconds, frame_rate=frame_rate, sample_rate=sample_rate,
                      what=f"--edit {MOTION}=")
    missing = [m for m in motion if m not in other.values]
    if missing:
        raise DataError(f"--edit {MOTION}={value}: the motion source has no {', '.join(missing)}")
    return kind, {m: other[m] for m in motion}, f"clip {other.clip_id!r} ({value})"


def _print_figures(figures: dict[str, Any], console: Console) -> None:
    """The edit's measured figures, one line each (they are in manifest.json too)."""
    for name, t in figures.get("tokens_changed", {}).items():
        if t.get("changed") is not None:
            console.print(f"  {name}: {t['changed']:.0%} of its {t['tokens']} tokens changed from the clip's")
    for name, check in figures.get("checks", {}).items():
        value = check.get("value")
        if isinstance(value, float):
            console.print(f"  {name} ({check['metric']} against the {check['against']}): {value:.3f}")
        else:
            console.print(f"  {name} ({check['metric']}): {value if value is not None else 'not measured'} "
                          f"({check.get('not_measured') or check.get('error') or ''})")


def run_edit(
    *,
    registry: Registry,
    checkpoint: Path,
    clip: list[str],
    edit: str,
    chain: str | None,
    out_dir: Path,
    overwrite: bool,
    seed: int,
    sampling: Sampling,
    seconds: float | None,
    frame_rate: float,
    sample_rate: int,
    motion_length: str,
    artifacts: Path | None,
    step: int | None,
    console: Console,
    provenance: bool = True,
) -> Path:
    """Everything `archon edit` does; bad input raises before any model compute."""
    if out_dir.exists() and not overwrite:
        raise ConfigError(f"output folder {out_dir} exists; pass --overwrite to replace it")
    if motion_length not in ("resample", "refuse"):
        raise ConfigError(f"--motion-length {motion_length!r}: expected resample or refuse")
    echain: EditingChain = registry.editing_chain(chain) if chain else default_editing_chain(registry, edit_kind(edit, registry))
    kind, edits, source = parse_edit(edit, registry, seconds=seconds, frame_rate=frame_rate, sample_rate=sample_rate,
                                     motion=echain.edits)
    source_clip = load_clip(clip, registry, seconds=seconds, frame_rate=frame_rate, sample_rate=sample_rate)
    model = load_checkpoint(checkpoint, registry, step=step, artifacts=artifacts)
    console.print(f"editing {', '.join(echain.edits)} of clip {source_clip.clip_id!r} with [bold]{echain.name}[/] "
                  f"{echain.chain.signature()}")

    def report(i: int, n: int, res: StepResult) -> None:
        console.print(f"  {i + 1}/{n} {res.output} {res.kind} {res.seconds:.2f} s" + (f" ({res.note})" if res.note else ""))

    result = edit_clip(model, source_clip, edits, echain, sampling=sampling, seed=seed,
                       motion_length=motion_length, motion_source=source, on_step=report)  # type: ignore[arg-type]
    for note in result.notes:
        console.print(f"  [yellow]{note}[/]")
    _print_figures(result.figures, console)  # type: ignore[arg-type]
    extra = {"checkpoint": str(checkpoint), "checkpoint_step": model.step,
             "edit": {**result.manifest(), "kind": kind, "source": source, "clip_spec": list(clip)}}
    return write_outputs(result.result, out_dir, registry.modalities, overwrite=overwrite, extra=extra,
                         provenance=ProvenanceConfig.from_registry(registry, enabled=provenance))
