"""The provenance records: a plugin's own marking step, and what a run's outputs are stamped with."""

from __future__ import annotations

import hashlib
import importlib.metadata
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from archon_framework.config import sha256_file as file_sha256

__all__ = ["ProvenanceStep", "ProvenanceConfig", "installed_plugins", "framework_version", "value_sha256", "file_sha256"]

#: IPTC digital source type of everything a trained model generates.
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


@attrs.frozen(kw_only=True)
class ProvenanceStep:
    """A plugin's own watermark or provenance step for its modality (hook `archon_provenance_steps`).

    Attributes:
        name: unique step name (reported by `archon verify`).
        modalities: the modality names whose generated values it marks.
        mark: ``(value, *, modality, meta) -> value``: the raw value with the mark embedded,
            same type, dtype and shape; called before the value is written to files.
        detect: ``(path) -> dict | None``: read the mark back from a written file; a dict such
            as ``{"detected": True, ...}``, or None when the file is not one it reads.
        description: one line for listings.
    """

    name: str
    modalities: tuple[str, ...] = attrs.field(converter=tuple)
    mark: Callable[..., Any]
    detect: Callable[[Path], Mapping[str, Any] | None] | None = None
    description: str = ""


def framework_version() -> str:
    """The installed archon-framework version ("unknown" from a bare source tree)."""
    try:
        return importlib.metadata.version("archon-framework")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def installed_plugins() -> dict[str, str]:
    """Distribution -> version of every plugin registered in entry-point group ``archon``."""
    out: dict[str, str] = {"archon-framework": framework_version()}
    for ep in importlib.metadata.entry_points(group="archon"):
        dist = getattr(ep, "dist", None)
        name = dist.metadata["Name"] if dist is not None else ep.name
        out[name] = dist.version if dist is not None else "unknown"
    return dict(sorted(out.items()))


def value_sha256(value: Any) -> str:
    """Hex SHA-256 of a raw value: an array's dtype, shape and bytes; text as UTF-8; else its repr."""
    h = hashlib.sha256()
    if isinstance(value, str):
        h.update(b"str:" + value.encode("utf-8"))
    elif isinstance(value, Mapping):
        import json

        h.update(b"json:" + json.dumps(_canonical(value), sort_keys=True, default=str).encode("utf-8"))
    else:
        arr = np.asarray(value)
        if arr.dtype == object:
            h.update(b"repr:" + repr(value).encode("utf-8"))
        else:
            arr = np.ascontiguousarray(arr)
            h.update(f"array:{arr.dtype.str}:{arr.shape}:".encode() + arr.tobytes())
    return h.hexdigest()


def _canonical(value: Any) -> Any:
    """A JSON-able form of a structured value in which every array (at any depth) is its dtype,
    shape and the SHA-256 of its bytes, so no array counts by its (summarized) printed form; a
    value without arrays is returned as it is."""
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        arr = np.ascontiguousarray(np.asarray(value))
        return {"array": arr.dtype.str, "shape": list(arr.shape), "sha256": hashlib.sha256(arr.tobytes()).hexdigest()}
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


@attrs.frozen(kw_only=True)
class ProvenanceConfig:
    """How a run's outputs are stamped. On by default; `enabled=False` is recorded in the manifest.

    Attributes:
        enabled: sign every generated file and watermark generated frames.
        watermark: embed the built-in DWT-DCT watermark in generated images and video frames.
        steps: plugins' own marking steps (hook `archon_provenance_steps`).
        plugins: distribution -> version of the installed plugins (default: from entry points).
    """

    enabled: bool = True
    watermark: bool = True
    steps: tuple[ProvenanceStep, ...] = attrs.field(default=(), converter=tuple)
    plugins: Mapping[str, str] = attrs.field(factory=installed_plugins)

    @classmethod
    def from_registry(cls, registry: Any, *, enabled: bool = True, watermark: bool = True) -> ProvenanceConfig:
        """The config of a loaded registry: its plugins' versions and provenance steps."""
        plugins = {"archon-framework": framework_version()}
        for info in registry.plugins:
            plugins[info.distribution or info.name] = info.version or "unknown"
        steps = tuple(getattr(registry, "provenance_steps", {}).values())
        return cls(enabled=enabled, watermark=watermark, steps=steps, plugins=dict(sorted(plugins.items())))

    def steps_for(self, modality: str) -> tuple[ProvenanceStep, ...]:
        """The plugin steps that mark `modality`, in registration order."""
        return tuple(s for s in self.steps if modality in s.modalities)
