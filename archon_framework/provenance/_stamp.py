"""Stamping a run's outputs: watermark the generated frames, then sign every generated file."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from archon_framework._errors import ArchonError, PluginError
from archon_framework.provenance._credentials import CredentialSigner
from archon_framework.provenance._records import ProvenanceConfig, file_sha256, framework_version, value_sha256
from archon_framework.provenance._watermark import can_carry, embed_watermark

__all__ = ["WATERMARK_NAME", "stamp_value", "condition_hashes", "generation_record", "sign_files", "manifest_section"]

#: How the built-in watermark is named in manifests and reports.
WATERMARK_NAME = "archon dwt-dct v1 (64 bits, chroma)"


def _is_frames(value: Any) -> bool:
    if value is None or isinstance(value, (str, Mapping)):
        return False
    arr = np.asarray(value)
    return arr.dtype == np.uint8 and arr.ndim in (3, 4) and arr.shape[-1] == 3 and can_carry(*arr.shape[-3:-1])


def stamp_value(value: Any, modality: str, meta: Any, config: ProvenanceConfig) -> tuple[Any, list[str]]:
    """The generated `value` with the watermark (RGB images and frames) and plugin marks embedded.

    Returns:
        The marked value and the names of the marks applied.
    """
    applied: list[str] = []
    if not config.enabled:
        return value, applied
    if config.watermark and _is_frames(value):
        value = embed_watermark(np.asarray(value))
        applied.append(WATERMARK_NAME)
    for step in config.steps_for(modality):
        try:
            marked = step.mark(value, modality=modality, meta=meta)
        except ArchonError:
            raise
        except Exception as err:
            raise PluginError(f"provenance step {step.name!r} failed on modality {modality!r}: {type(err).__name__}: {err}") from err
        if marked is None:
            raise PluginError(f"provenance step {step.name!r} returned None for modality {modality!r}; it must return the marked value")
        value = marked
        applied.append(step.name)
    return value, applied


def condition_hashes(conditions: Mapping[Any, Any], files: Mapping[Any, str] | None) -> dict[str, dict[str, str]]:
    """SHA-256 of each condition's raw value (and of the file it was read from, if any)."""
    out: dict[str, dict[str, str]] = {}
    for slot, value in conditions.items():
        entry = {"value_sha256": value_sha256(getattr(value, "ids", value))}
        src = (files or {}).get(slot)
        if src is not None and Path(src).is_file():
            entry["file_sha256"] = file_sha256(Path(src))
        out[str(slot)] = entry
    return out


def manifest_section(config: ProvenanceConfig, signer: CredentialSigner | None) -> dict[str, Any]:
    """The run manifest's ``provenance`` entry: on (with how) or off (explicitly)."""
    if not config.enabled:
        return {"enabled": False, "note": "provenance turned off explicitly: no credentials and no watermark"}
    return {
        "enabled": True,
        "credentials": "C2PA (embedded in PNG/GIF/WAV/MP4, sidecar FILE.c2pa for the rest)",
        "signer": None if signer is None else signer.identity.source,
        "watermark": WATERMARK_NAME if config.watermark else None,
        "steps": [s.name for s in config.steps],
        "unwatermarked_media": "audio and non-RGB outputs carry only the signed manifest",
    }


def generation_record(*, run: Mapping[str, Any], step: Mapping[str, Any] | None, marks: Iterable[str]) -> dict[str, Any]:
    """The ``org.archon.generation`` assertion of one file (`run` holds the run-wide fields)."""
    rec = {"framework_version": framework_version(), **run}
    if step is not None:
        rec.update({"step": step["slot"], "task": step.get("task"), "step_kind": step.get("kind")})
    rec["marks"] = list(marks)
    return rec


def sign_files(folder: Path, files: Iterable[tuple[str, Mapping[str, Any]]], signer: CredentialSigner) -> list[str]:
    """Sign each ``(name, generation record)`` under `folder`; returns the sidecars written."""
    sidecars = []
    for name, record in files:
        held = signer.sign(folder / name, record)
        if held.name != Path(name).name:
            sidecars.append(str(Path(name).with_name(held.name)))
    return sidecars
