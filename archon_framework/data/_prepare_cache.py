"""The per-video cache of `archon data prepare`: a video's step results, written crash-safely.

`CACHE/<video id>/` holds `arrays.npz` (the arrays that reach the dataset; one array given
under two keys is stored once) and `result.json` (the other values, the steps' notes, the
issue that stopped the video, and a fingerprint of the file, its side files and the options).
It is written to a hidden temporary directory and renamed, so a crash leaves either the old
entry or the new one; an entry whose fingerprint differs is ignored and prepared again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from archon_framework.config import atomic_write_text

__all__ = ["fingerprint", "save_result", "load_result"]


def fingerprint(job: Any, steps: Sequence[Any], config: Any) -> str:
    """A digest of the video file, its side files (path, size, mtime), the options and the steps."""
    h = hashlib.sha256()
    for path in (job.path, *sorted(job.sidecars.values())):
        st = path.stat() if path.exists() else None
        h.update(f"{path}|{st.st_size if st else -1}|{st.st_mtime_ns if st else -1}\n".encode())
    cfg = attrs.asdict(config)
    for key in ("jobs", "min_seconds", "on_gap", "shard_size"):
        cfg.pop(key)  # cutting into clips happens after the cache
    h.update(json.dumps([cfg, [s.name for s in steps]], sort_keys=True, default=str).encode())
    return h.hexdigest()[:20]


def save_result(cache: Path, job: Any, fingerprint: str, work: Mapping[str, Any], notes: list, issue: dict | None,
                seconds: float, registry_keys: set[str]) -> None:
    """Write a video's result: the modality keys of `work` (and `valid@frames`), notes and issue."""
    tmp = cache / f".{job.video_id}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    arrays: dict[str, np.ndarray] = {}
    aliases: dict[str, str] = {}
    plain: dict[str, Any] = {}
    by_id: dict[int, str] = {}
    for key, value in work.items():
        if key.partition("@")[0] not in registry_keys and key != "valid@frames":
            continue  # intermediates (frames, landmarks) are not kept
        if isinstance(value, np.ndarray):
            if id(value) in by_id:
                aliases[key] = by_id[id(value)]
            else:
                by_id[id(value)] = key
                arrays[key] = value
        else:
            plain[key] = value
    if arrays:
        np.savez(tmp / "arrays.npz", **{k.replace("@", "__at__"): v for k, v in arrays.items()})  # type: ignore[arg-type]
    atomic_write_text(tmp / "result.json", json.dumps({
        "fingerprint": fingerprint, "video": str(job.path), "notes": notes, "issue": issue,
        "values": plain, "aliases": aliases, "seconds": seconds,
    }, ensure_ascii=False, default=float))
    final = cache / job.video_id
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)


def load_result(cache: Path, job: Any, fingerprint: str) -> dict[str, Any] | None:
    """A video's cached result with its values restored, or None (absent, unreadable or stale)."""
    folder = cache / job.video_id
    try:
        result = json.loads((folder / "result.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if result.get("fingerprint") != fingerprint:
        return None
    values = dict(result["values"])
    if (folder / "arrays.npz").exists():
        with np.load(folder / "arrays.npz", allow_pickle=False) as npz:
            values.update({k.replace("__at__", "@"): npz[k] for k in npz.files})
    for key, target in result["aliases"].items():
        values[key] = values[target]
    result["values"] = values
    return result
