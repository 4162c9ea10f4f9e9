"""Versioned definitions of the pretrained models this plugin wraps: package, version, file hashes."""

from __future__ import annotations

import functools
import importlib.metadata
from pathlib import Path
from typing import Any

import attrs

from archon_framework import ArchonError
from archon_framework.config import sha256_file

__all__ = ["MissingPackageError", "ModelDefinition", "PerceptionError", "file_sha256", "installed_version"]


class PerceptionError(ArchonError, ValueError):
    """Bad input to a perception model (the message names the modality and the field at fault)."""


class MissingPackageError(ArchonError, ImportError):
    """The package that carries a model is not installed, or not at the pinned version.

    Attributes:
        package: the distribution that is missing (e.g. ``mediapipe``).
        extra: what to install (a pip requirement or the extra of archon-perception).
    """

    def __init__(self, message: str, *, package: str, extra: str) -> None:
        super().__init__(message)
        self.package = package
        self.extra = extra


@functools.lru_cache(maxsize=64)
def file_sha256(path: str) -> str:
    """The sha256 of a model file, hex (``archon_framework.config.sha256_file``, cached per path
    for the life of the process)."""
    return sha256_file(path)


def installed_version(package: str, *, pinned: str, install: str) -> str:
    """The installed version of `package`, checked against the pin.

    Args:
        package: distribution name.
        pinned: the version the definitions were made with.
        install: what to run to get it, quoted in the error.

    Raises:
        MissingPackageError: not installed, or installed at another version.
    """
    try:
        version = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError as err:
        raise MissingPackageError(f"{package} {pinned} is not installed: {install}",
                                  package=package, extra=install) from err
    if version != pinned:
        raise MissingPackageError(
            f"{package} {version} is installed but archon-perception's definitions pin {package} {pinned} "
            f"(other releases may not carry the same model files): {install}", package=package, extra=install)
    return version


@attrs.frozen(kw_only=True)
class ModelDefinition:
    """What a score made with a pretrained model depends on; two scores compare only when equal.

    Attributes:
        name: the model, e.g. ``mediapipe.face_mesh``.
        package: the distribution whose wheel carries the model files.
        version: that distribution's version.
        files: file path relative to the package's model folder -> sha256.
        parameters: every setting the wrapper passes (thresholds, rates, windows).
    """

    name: str
    package: str
    version: str
    files: dict[str, str] = attrs.field(factory=dict)
    parameters: dict[str, Any] = attrs.field(factory=dict)

    @classmethod
    def from_files(cls, *, name: str, package: str, version: str, root: Path, files: list[str],
                   parameters: dict[str, Any]) -> ModelDefinition:
        """A definition whose file hashes are read from `root` / each of `files`.

        Raises:
            MissingPackageError: a model file is not in the installed package.
        """
        hashes = {}
        for rel in files:
            path = Path(root) / rel
            if not path.is_file():
                raise MissingPackageError(f"{package} {version}: model file {path} is missing from the installed "
                                          "package; reinstall it", package=package, extra=f"{package}=={version}")
            hashes[rel] = file_sha256(str(path))
        return cls(name=name, package=package, version=version, files=hashes, parameters=dict(parameters))

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the form written into reports)."""
        return {"name": self.name, "package": self.package, "version": self.version,
                "files": dict(sorted(self.files.items())), "parameters": dict(sorted(self.parameters.items()))}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelDefinition:
        """Inverse of :meth:`to_json`.

        Raises:
            PerceptionError: a field is missing.
        """
        try:
            return cls(name=data["name"], package=data["package"], version=data["version"],
                       files=dict(data.get("files", {})), parameters=dict(data.get("parameters", {})))
        except (KeyError, TypeError) as err:
            raise PerceptionError(f"model definition {data!r}: missing or bad field {err}") from err

    def differences(self, other: ModelDefinition) -> list[str]:
        """Human-readable differences from `other` (empty when the two are comparable)."""
        mine, theirs = self.to_json(), other.to_json()
        out = [f"{key}: {mine[key]!r} != {theirs[key]!r}" for key in ("name", "package", "version")
               if mine[key] != theirs[key]]
        for group in ("files", "parameters"):
            for key in sorted(set(mine[group]) | set(theirs[group])):
                a, b = mine[group].get(key, "<absent>"), theirs[group].get(key, "<absent>")
                if a != b:
                    out.append(f"{group}.{key}: {a!r} != {b!r}")
        return out
