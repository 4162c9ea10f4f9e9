"""Configs and records: one cattrs converter, TOML/JSON files, unknown keys refused by name."""

from __future__ import annotations

import hashlib
import json
import numbers
import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any, TypeVar

import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError

from archon_framework._errors import ConfigError

__all__ = ["converter", "to_dict", "from_dict", "load_config", "save_config", "atomic_write_text", "atomic_write_bytes",
           "replace_atomically", "sha256_file"]

T = TypeVar("T")

#: The one converter of the project. Unknown keys are errors, never silently dropped.
converter = cattrs.Converter(forbid_extra_keys=True)


def _structure_int(value: Any, _: type) -> int:
    """An int field takes an integer (or an integral float such as 1e4), never 8.5 or true."""
    if isinstance(value, bool) or (isinstance(value, numbers.Real) and not float(value).is_integer()):
        raise ValueError(f"expected an integer, got {value!r}")
    return int(value)


def _structure_float(value: Any, _: type) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def _structure_bool(value: Any, _: type) -> bool:
    if isinstance(value, bool) or (isinstance(value, numbers.Integral) and value in (0, 1)):
        return bool(value)
    raise ValueError(f"expected true or false, got {value!r}")


converter.register_structure_hook(int, _structure_int)
converter.register_structure_hook(float, _structure_float)
converter.register_structure_hook(bool, _structure_bool)  # registered after int: bool is an int subclass


def to_dict(obj: Any) -> Any:
    """Unstructure an attrs record to plain JSON/TOML-able data."""
    return converter.unstructure(obj)


def _flatten_errors(err: BaseException, path: str = "") -> list[str]:
    if isinstance(err, ForbiddenExtraKeysError):
        keys = ", ".join(sorted(err.extra_fields))
        return [f"unknown key(s) {keys}" + (f" in {path}" if path else "")]
    if isinstance(err, (ClassValidationError, cattrs.errors.IterableValidationError, ExceptionGroup)):
        out: list[str] = []
        for sub in err.exceptions:
            note = ""
            notes = getattr(sub, "__notes__", None) or []
            if notes:
                note = str(notes[0])
                # cattrs notes read like "Structuring class Foo @ attribute bar"
                if "@ attribute " in note:
                    note = note.split("@ attribute ", 1)[1]
                elif "@ index " in note:
                    note = f"[{note.split('@ index ', 1)[1]}]"
            sub_path = f"{path}.{note}" if path and note else (note or path)
            out.extend(_flatten_errors(sub, sub_path))
        return out
    if isinstance(err, KeyError):
        return [f"missing key {path or err}"]
    return [f"{path}: {err}" if path else str(err)]


def from_dict(cls: type[T], data: Any, *, source: str = "<config>") -> T:
    """Structure plain data into `cls`; `ConfigError` naming the source and the bad keys."""
    try:
        return converter.structure(data, cls)
    except Exception as err:  # cattrs raises a tree of errors; flatten it into one message
        problems = "; ".join(_flatten_errors(err)) or repr(err)
        raise ConfigError(f"{source}: invalid {cls.__name__}: {problems}") from err


def load_config(path: str | Path, cls: type[T], *, section: str | None = None) -> T:
    """Load a TOML or JSON file (optionally one `[section]` of it) into the attrs class `cls`."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config ({err})") from err
    try:
        if path.suffix == ".json":
            data = json.loads(raw)
        else:
            data = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'} ({err})") from err
    if section is not None:
        if section not in data:
            raise ConfigError(f"{path}: missing section [{section}]")
        data = data[section]
        source = f"{path} [{section}]"
    else:
        source = str(path)
    return from_dict(cls, data, source=source)


def save_config(obj: Any, path: str | Path) -> None:
    """Write an attrs record as JSON (atomically: a crash never leaves half a file)."""
    atomic_write_text(Path(path), json.dumps(to_dict(obj), indent=2, sort_keys=False) + "\n")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def replace_atomically(tmp: str | Path, path: Path) -> None:
    """Move a finished temporary file onto `path` with the permissions a plain ``open`` would give.

    (``tempfile.mkstemp`` creates files readable by their owner only.)
    """
    os.chmod(tmp, _FILE_MODE)
    os.replace(tmp, path)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and a rename in the same directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        replace_atomically(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Text version of `atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def sha256_file(path: str | Path) -> str:
    """The hex sha256 of a file's bytes, read in 1 MiB blocks (shipped weights, model files,
    provenance records all hash files this one way)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
