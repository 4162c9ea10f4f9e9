"""Datasets of clips on disk: arrays in tensorstore (zarr), text and JSON alongside, a JSON index.

```
DIR/
  archon-dataset.json        the index: format, modality specs, shards and their clips
  shard-00000/
    speech.zarr              one zarr array per array modality: the shard's clips concatenated
    semantic.zarr            along axis 0 (levanter's jagged layout: flat data + offsets)
    values.json              text and JSON values: {clip_id: {modality: value}}
  shard-00001/ ...
```

Crash safety: a shard is written into a hidden temporary directory and renamed into place, and
only then is the index rewritten (atomically, by rename). Readers see only the shards the index
lists, so an interrupted write leaves the clips of the completed shards readable and never a
half-written one; `write_dataset(..., resume=True)` continues where it stopped. The index is
first written with the first complete shard: a write that fails before it leaves no dataset,
so the same command can simply be run again.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import tensorstore as ts

from archon_framework._clip import Clip, ClipMeta
from archon_framework._errors import DataError, RawValueError
from archon_framework.config import atomic_write_text

__all__ = ["INDEX_FILE", "FORMAT", "ClipDataset", "write_dataset", "dataset_info"]

INDEX_FILE = "archon-dataset.json"
FORMAT = "archon-dataset/1"


def _meta_dict(meta: ClipMeta) -> dict[str, Any]:
    return attrs.asdict(meta)


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) or (hasattr(value, "__array__") and not isinstance(value, (str, Mapping)))


def _read_index(root: Path) -> dict[str, Any]:
    path = root / INDEX_FILE
    if not path.exists():
        raise DataError(f"{root}: not an archon dataset (no {INDEX_FILE}); write one with `archon data synth`")
    try:
        index = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: unreadable dataset index ({err})") from err
    if index.get("format") != FORMAT:
        raise DataError(f"{path}: unknown dataset format {index.get('format')!r} (expected {FORMAT!r})")
    return index


def _zarr_spec(path: Path) -> dict[str, Any]:
    return {"driver": "zarr", "kvstore": {"driver": "file", "path": str(path)}}


def _write_shard(root: Path, name: str, clips: Sequence[Clip], specs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Write one shard atomically; returns its clip entries for the index."""
    tmp = root / f".{name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    entries: list[dict[str, Any]] = []
    stacks: dict[str, list[np.ndarray]] = {}
    offsets: dict[str, int] = {}
    values: dict[str, dict[str, Any]] = {}
    for clip in clips:
        entry: dict[str, Any] = {"id": clip.clip_id, "meta": _meta_dict(clip.meta), "arrays": {}, "values": []}
        for modality, value in clip.values.items():
            if _is_array(value):
                arr = np.asarray(value)
                flat = arr.reshape((1, *arr.shape)) if arr.ndim == 0 or specs[modality]["static"] else arr
                start = offsets.get(modality, 0)
                stacks.setdefault(modality, []).append(flat)
                offsets[modality] = start + flat.shape[0]
                entry["arrays"][modality] = {"start": start, "stop": offsets[modality], "shape": list(arr.shape)}
            else:
                values.setdefault(clip.clip_id, {})[modality] = value
                entry["values"].append(modality)
        entries.append(entry)
    for modality, parts in stacks.items():
        data = np.concatenate(parts, axis=0)
        store = ts.open(_zarr_spec(tmp / f"{modality}.zarr"), create=True, dtype=ts.dtype(data.dtype.name), shape=data.shape).result()
        store.write(data).result()
    atomic_write_text(tmp / "values.json", json.dumps(values, ensure_ascii=False))
    final = root / name
    shutil.rmtree(final, ignore_errors=True)  # a shard left behind by a crash before the index update
    os.replace(tmp, final)
    return entries


def _spec_of(modality: str, value: Any, static: bool) -> dict[str, Any]:
    if _is_array(value):
        arr = np.asarray(value)
        trailing = list(arr.shape) if static else list(arr.shape[1:])
        return {"kind": "array", "dtype": arr.dtype.name, "trailing_shape": trailing, "static": static}
    return {"kind": "json" if isinstance(value, Mapping) else "text", "static": static}


def _check_consistent(spec: dict[str, Any], modality: str, value: Any, clip_id: str, static: bool) -> None:
    new = _spec_of(modality, value, static)
    if new != spec:
        raise RawValueError(
            f"clip {clip_id!r}, modality {modality!r}: value {new} differs from the dataset's {spec} "
            "(every clip of a dataset stores a modality with one dtype and trailing shape)"
        )


def write_dataset(
    root: str | Path,
    clips: Iterable[Clip],
    *,
    name: str = "dataset",
    validate: Callable[[Clip], Clip] | None = None,
    static: Mapping[str, bool] | None = None,
    shard_size: int = 32,
    resume: bool = False,
    overwrite: bool = False,
    on_clip: Callable[[Clip], None] | None = None,
) -> Path:
    """Write clips to `root` in shards of `shard_size` (see the module docstring).

    Args:
        root: the dataset directory.
        clips: the clips, in order. With `resume=True` the clips already stored are skipped
            by position, so pass the same deterministic sequence again.
        name: dataset name recorded in the index.
        validate: called on each clip before it is stored (e.g. the registry's raw checks);
            it raises `RawValueError` naming the clip and modality.
        static: modality name -> time-invariant (stored as one row per clip).
        shard_size: clips per shard (the unit of crash safety).
        resume: continue an interrupted dataset instead of refusing an existing one.
        overwrite: replace an existing dataset.
        on_clip: progress callback, called after each clip is validated.
    """
    root = Path(root)
    static = dict(static or {})
    existing = _existing_index(root)
    if existing is not None:
        if overwrite:
            shutil.rmtree(root)
            existing = None
        elif not resume:
            raise DataError(f"{root}: a dataset exists already; pass resume (continue it) or overwrite (replace it)")
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    for leftover in root.glob(".shard-*.tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    # The index is first written with the first complete shard (or at the end of an empty
    # write), so a write that fails before then leaves nothing a retry trips over.
    index = existing if existing is not None else {"format": FORMAT, "dataset": name, "modalities": {}, "shards": []}
    try:
        _write_clips(root, index, clips, validate=validate, static=static, shard_size=shard_size, on_clip=on_clip)
    except BaseException:
        if created and not (root / INDEX_FILE).exists():
            shutil.rmtree(root, ignore_errors=True)
        raise
    if not index["shards"]:  # an empty dataset is still a dataset
        atomic_write_text(root / INDEX_FILE, json.dumps(index, indent=1))
    return root


def _existing_index(root: Path) -> dict[str, Any] | None:
    """The index of a dataset at `root`, or None when there is none worth keeping.

    An index that lists no shard holds no clip: older versions left one behind when the first
    write failed, and it is written over rather than refused.
    """
    if not (root / INDEX_FILE).exists():
        return None
    index = _read_index(root)
    return index if index["shards"] else None


def _write_clips(
    root: Path, index: dict[str, Any], clips: Iterable[Clip], *, validate: Callable[[Clip], Clip] | None,
    static: Mapping[str, bool], shard_size: int, on_clip: Callable[[Clip], None] | None,
) -> None:
    done = sum(len(s["clips"]) for s in index["shards"])
    ids = {c["id"] for s in index["shards"] for c in s["clips"]}
    pending: list[Clip] = []

    def flush() -> None:
        shard = f"shard-{len(index['shards']):05d}"
        entries = _write_shard(root, shard, pending, index["modalities"])
        index["shards"].append({"name": shard, "clips": entries})
        atomic_write_text(root / INDEX_FILE, json.dumps(index, indent=1))
        pending.clear()

    for position, clip in enumerate(clips):
        if position < done:
            continue
        if validate is not None:
            clip = validate(clip)
        if clip.clip_id in ids:
            raise DataError(f"{root}: clip id {clip.clip_id!r} appears twice")
        ids.add(clip.clip_id)
        for modality, value in clip.values.items():
            is_static = static.get(modality, False)
            spec = index["modalities"].get(modality)
            if spec is None:
                index["modalities"][modality] = _spec_of(modality, value, is_static)
            else:
                _check_consistent(spec, modality, value, clip.clip_id, is_static)
        pending.append(clip)
        if on_clip is not None:
            on_clip(clip)
        if len(pending) >= shard_size:
            flush()
    if pending:
        flush()


class ClipDataset(Sequence[Clip]):
    """A dataset directory as a random-access sequence of Clips (a grain RandomAccessDataSource).

    ```python
    source = ClipDataset("runs/data")
    ds = grain.MapDataset.source(source).shuffle(seed=0)
    ```

    Args:
        root: the dataset directory.
        modalities: load only these modalities (default: all stored ones).
    """

    def __init__(self, root: str | Path, *, modalities: Iterable[str] | None = None) -> None:
        self.root = Path(root)
        self.index = _read_index(self.root)  # type: ignore[assignment, method-assign]
        stored = set(self.index["modalities"])  # type: ignore[index]
        self.modalities = tuple(sorted(stored if modalities is None else modalities))
        unknown = set(self.modalities) - stored
        if unknown:
            raise DataError(f"{self.root}: no modality {', '.join(sorted(unknown))} in this dataset (it has {', '.join(sorted(stored))})")
        self._entries: list[tuple[str, dict[str, Any]]] = [(s["name"], c) for s in self.index["shards"] for c in s["clips"]]  # type: ignore[index]
        self._arrays: dict[tuple[str, str], Any] = {}
        self._values: dict[str, dict[str, Any]] = {}

    @property
    def name(self) -> str:
        return self.index.get("dataset", "")  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"ClipDataset({str(self.root)!r}, {len(self)} clips, modalities={list(self.modalities)})"

    def _array(self, shard: str, modality: str) -> Any:
        key = (shard, modality)
        if key not in self._arrays:
            path = self.root / shard / f"{modality}.zarr"
            try:
                self._arrays[key] = ts.open(_zarr_spec(path), open=True).result()
            except Exception as err:
                raise DataError(f"{path}: cannot open stored {modality!r} array ({err})") from err
        return self._arrays[key]

    def _shard_values(self, shard: str) -> dict[str, Any]:
        if shard not in self._values:
            path = self.root / shard / "values.json"
            try:
                self._values[shard] = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError) as err:
                raise DataError(f"{path}: cannot read stored text/JSON values ({err})") from err
        return self._values[shard]

    def __getitem__(self, i: int) -> Clip:  # type: ignore[override]
        if not -len(self) <= i < len(self):
            raise IndexError(f"{self.root}: clip {i} of {len(self)}")
        shard, entry = self._entries[i]
        values: dict[str, Any] = {}
        for modality in self.modalities:
            if modality in entry["arrays"]:
                a = entry["arrays"][modality]
                data = self._array(shard, modality)[a["start"]:a["stop"]].read().result()
                values[modality] = np.asarray(data).reshape(a["shape"])
            elif modality in entry["values"]:
                values[modality] = self._shard_values(shard)[entry["id"]][modality]
        return Clip(ClipMeta(**entry["meta"]), values)

    def __iter__(self) -> Iterator[Clip]:
        for i in range(len(self)):
            yield self[i]


def dataset_info(root: str | Path) -> dict[str, Any]:
    """A per-modality summary of a dataset: clips, dtype, shapes, bytes on disk."""
    root = Path(root)
    index = _read_index(root)
    entries = [c for s in index["shards"] for c in s["clips"]]
    out: dict[str, Any] = {
        "dataset": index.get("dataset"), "clips": len(entries), "shards": len(index["shards"]),
        "seconds": float(sum(c["meta"]["duration"] for c in entries)), "modalities": {},
    }
    for modality, spec in sorted(index["modalities"].items()):
        count = sum(1 for c in entries if modality in c["arrays"] or modality in c["values"])
        info = {"kind": spec["kind"], "clips": count, "static": spec["static"]}
        if spec["kind"] == "array":
            info["dtype"] = spec["dtype"]
            info["trailing_shape"] = spec["trailing_shape"]
            info["rows"] = int(sum(c["arrays"][modality]["stop"] - c["arrays"][modality]["start"] for c in entries if modality in c["arrays"]))
            info["bytes_on_disk"] = int(sum(f.stat().st_size for s in index["shards"] for f in (root / s["name"] / f"{modality}.zarr").rglob("*") if f.is_file()))
        out["modalities"][modality] = info
    return out
