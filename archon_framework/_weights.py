"""Manifests of shipped trained weights: every file with its sha256, and how it was made.

Weights trained by a command of this repository may ship inside a package (a tokenizer's with
the plugin that owns it, as text_t5 ships its SentencePiece model). Each shipped folder holds a
``weights-manifest.json``::

    {"format": 1, "recipe": "cpu-reference", "command": "archon pretrain --recipe cpu-reference",
     "commit": "<git sha>", "files": {"speech/codec.eqx": {"sha256": "...", "bytes": 123}, ...}}

`verify_weights` checks every listed file before anything reads it: a file whose hash does not
match, a listed file that is missing and a file in the folder that the manifest does not list
are each refused with an error naming the file, so tampered or half-copied weights never load.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from archon_framework._errors import CheckpointError
from archon_framework.config import atomic_write_text, sha256_file

__all__ = ["WEIGHTS_MANIFEST", "verify_weights", "write_weights_manifest"]

WEIGHTS_MANIFEST = "weights-manifest.json"
_FORMAT = 1


def write_weights_manifest(root: str | Path, files: Iterable[str | Path], *, recipe: str, command: str,
                           commit: str | None, extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``root/weights-manifest.json`` listing `files` (paths under `root`) with their
    sha256 and size, the recipe, the command and the commit that produced them."""
    root = Path(root)
    listed: dict[str, dict[str, Any]] = {}
    for f in sorted(Path(p) for p in files):
        path = f if f.is_absolute() else root / f
        try:
            rel = path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            raise CheckpointError(f"{path}: not inside the weights folder {root}") from None
        if not path.is_file():
            raise CheckpointError(f"{path}: not a file, cannot list it in {root / WEIGHTS_MANIFEST}")
        listed[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    record = {"format": _FORMAT, "recipe": recipe, "command": command, "commit": commit, "files": listed,
              **dict(extra or {})}
    out = root / WEIGHTS_MANIFEST
    atomic_write_text(out, json.dumps(record, indent=2) + "\n")
    return out


def verify_weights(root: str | Path) -> dict[str, Any]:
    """Check a shipped weights folder against its manifest and return the manifest.

    Raises:
        CheckpointError: no or unreadable manifest; a listed file missing, of another size or
            hash (named, with both hashes); a file in the folder the manifest does not list.
    """
    root = Path(root)
    path = root / WEIGHTS_MANIFEST
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no weights manifest; refusing to load unlisted weights from {root}") from None
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{path}: not a readable weights manifest ({err})") from err
    files = record.get("files") if isinstance(record, dict) else None
    if record.get("format") != _FORMAT or not isinstance(files, dict) or not files:
        raise CheckpointError(f"{path}: not a format-{_FORMAT} weights manifest with a 'files' table")
    for rel, entry in sorted(files.items()):
        f = root / rel
        if not f.is_file():
            raise CheckpointError(f"{f}: listed in {path} but missing; the shipped weights are incomplete")
        if not isinstance(entry, dict) or "sha256" not in entry:
            raise CheckpointError(f"{path}: the entry of {rel} has no sha256")
        if entry.get("bytes") is not None and f.stat().st_size != entry["bytes"]:
            raise CheckpointError(f"{f}: {f.stat().st_size} bytes, but {path} lists {entry['bytes']}; not loading it")
        actual = sha256_file(f)
        if actual != entry["sha256"]:
            raise CheckpointError(f"{f}: sha256 {actual} does not match {entry['sha256']} in {path}; not loading it")
    unlisted = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                      if p.is_file() and p.name != WEIGHTS_MANIFEST and p.relative_to(root).as_posix() not in files
                      and "__pycache__" not in p.parts)
    if unlisted:
        raise CheckpointError(f"{root}: file(s) not listed in {path}: {', '.join(unlisted[:5])}"
                              + (" ..." if len(unlisted) > 5 else ""))
    return record
