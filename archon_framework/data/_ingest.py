"""Ingestion of user clips: a manifest (one row per clip, a file per modality) read through
each modality plugin's own loader (`Modality.load`).

Manifest formats, paths relative to the manifest's directory:

* JSON Lines: `{"id": "c1", "duration": 2.0, "frame_rate": 30, "sample_rate": 16000,
  "files": {"speech": "c1.wav", "semantic": "c1_labels/", "description": "c1.json"}}`
* CSV: columns `id, duration, frame_rate, sample_rate` and one column per modality holding
  a path (empty cell: that clip has no value for it).

`frame_rate` and `sample_rate` default to 30 and 16000 (the paper's) when absent.
"""

from __future__ import annotations

import csv
import json
import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from archon_framework._clip import Clip, ClipMeta
from archon_framework._errors import ArchonError, DataError, DataWarning, RawValueError

__all__ = ["read_manifest", "ingest_clips", "META_COLUMNS"]

META_COLUMNS = ("id", "duration", "frame_rate", "sample_rate", "source")


def jsonl_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """``(line number, parsed JSON)`` of each non-blank line of a JSON-lines file; a line that is
    not JSON raises DataError naming the file and line."""
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{n}: not a JSON object ({err})") from err


def read_manifest(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a `.jsonl` or `.csv` manifest as `{"meta": {...}, "files": {modality: Path}}`."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: manifest not found")
    rows: list[dict[str, Any]] = []
    if path.suffix in (".jsonl", ".json"):
        for n, row in jsonl_rows(path):
            if not isinstance(row, dict) or not isinstance(row.get("files", {}), dict):
                raise DataError(f"{path}:{n}: a row is an object with an optional 'files' object")
            rows.append(_row(path, n, {k: v for k, v in row.items() if k != "files"}, row.get("files", {})))
    elif path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            for n, row in enumerate(csv.DictReader(f), 2):
                meta = {k: v for k, v in row.items() if k in META_COLUMNS and v not in (None, "")}
                files = {k: v for k, v in row.items() if k not in META_COLUMNS and v not in (None, "")}
                rows.append(_row(path, n, meta, files))
    else:
        raise DataError(f"{path}: unknown manifest format {path.suffix!r} (use .jsonl or .csv)")
    return rows


def _row(path: Path, line: int, meta: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
    unknown = set(meta) - set(META_COLUMNS)
    if unknown:
        raise DataError(f"{path}:{line}: unknown field(s) {', '.join(sorted(unknown))} (clip fields: {', '.join(META_COLUMNS)}; files go under 'files')")
    if "id" not in meta or "duration" not in meta:
        raise DataError(f"{path}:{line}: each row needs 'id' and 'duration' (seconds)")
    duration = _number(path, line, meta, "duration", float, "a number of seconds")
    frame_rate = _number(path, line, meta, "frame_rate", float, "frames per second", default=30.0)
    sample_rate = _number(path, line, meta, "sample_rate", int, "samples per second (an integer)", default=16_000)
    try:
        clip_meta = ClipMeta(
            clip_id=str(meta["id"]), duration=duration, frame_rate=frame_rate, sample_rate=sample_rate,
            source=str(meta.get("source", path.name)),
        )
    except (ValueError, ArchonError) as err:
        raise DataError(f"{path}:{line}: {err}") from err
    return {"meta": clip_meta, "files": {m: (path.parent / str(f)) for m, f in files.items()}, "line": line}


def _number(path: Path, line: int, meta: dict[str, Any], field: str, kind: type, what: str, default: Any = None) -> Any:
    """A numeric clip field (a JSON number or a CSV cell), or a DataError naming the field."""
    value = meta.get(field, default)
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        number = kind(float(value)) if kind is float else int(str(value).strip())
    except (TypeError, ValueError):
        raise DataError(f"{path}:{line}: field {field!r}: expected {what}, got {value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise DataError(f"{path}:{line}: field {field!r}: expected {what} above 0, got {value!r}")
    return number


def ingest_clips(registry: Any, manifest: str | Path) -> Iterator[Clip]:
    """Load each manifest row through the plugins' loaders and validate it (lazily).

    Errors name the manifest line, the clip, the modality and the file. What a loader adjusted
    (padded, trimmed, resampled) comes out as a `DataWarning` with the same location.
    """
    manifest = Path(manifest)
    for row in read_manifest(manifest):
        meta: ClipMeta = row["meta"]
        values: dict[str, Any] = {}
        for name, file in row["files"].items():
            where = f"{manifest}:{row['line']}: clip {meta.clip_id!r}, modality {name!r}, file {file}"
            if name not in registry.modalities:
                raise RawValueError(f"{where}: modality {name!r} is not installed")
            mod = registry.modalities[name]
            if mod.load is None:
                raise DataError(f"{where}: the plugin of {name!r} ({registry.providers[name].label}) has no file loader")
            if not file.exists():
                raise DataError(f"{where}: file not found")
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    values[name] = mod.load(file, meta)
            except ArchonError as err:
                raise type(err)(f"{where}: {err}") from err
            except Exception as err:
                raise DataError(f"{where}: could not load ({type(err).__name__}: {err})") from err
            for w in caught:  # the loader's adjustments, said with the manifest line and clip
                message = f"{where}: {w.message}" if issubclass(w.category, DataWarning) else w.message
                warnings.warn(message, w.category, stacklevel=2)
        try:
            yield registry.check_clip(Clip(meta, values))
        except RawValueError as err:
            raise RawValueError(f"{manifest}:{row['line']}: {err}") from err
