"""Exported and shipped models, read and shipped: a trained model as a small, verified folder, and by name.

`archon_framework.infer._export.export_model` writes an exported model from a training run: what
generation needs and nothing more, each part with a `weights-manifest.json`
(`archon_framework._weights`)::

    <dest>/model.json                 name, recipe, command, commit, which plugin owns which tokenizer
    <dest>/lm/model.json              training config, vocabulary layout, step, parameter dtype
    <dest>/lm/suite.json              the tasks it was trained on
    <dest>/lm/params.eqx              the LM's parameters (equinox leaves, numpy format, no pickle)
    <dest>/tokenizers/<modality>/...  each trained tokenizer, as its trainer wrote it

`ship_model` copies an exported model into the packages: the LM into ``archon_framework/weights/
<name>/`` and each tokenizer into ``<plugin package>/weights/<name>/<modality>/`` of the plugin
that owns the modality (as text_t5 ships its SentencePiece model). `shipped_models` lists what the
installed packages ship, and `resolve_model` turns a name into a folder that `load_checkpoint`,
`archon generate`, `archon eval` and `archon demo` read: every manifest is verified first (a file
whose hash does not match is refused, naming it) and the tokenizers are linked from their plugins
into one folder in the user's cache.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from archon_framework._errors import CheckpointError
from archon_framework._weights import verify_weights
from archon_framework.config import atomic_write_text

__all__ = ["EXPORTED_MODEL", "PARAMS_FILE", "is_exported", "load_exported_params", "read_exported", "resolve_model",
           "ship_model", "shipped_models", "tokenizers_folder"]

#: The file that marks an exported LM folder (beside its params.eqx).
EXPORTED_MODEL = "model.json"
PARAMS_FILE = "params.eqx"
_FORMAT = 1
#: Parameter dtypes an export may store (bfloat16 halves the size; loading casts back to float32).
_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def is_exported(folder: str | Path) -> bool:
    """Whether `folder` is an exported LM (``lm/`` of an exported model)."""
    return (Path(folder) / EXPORTED_MODEL).is_file() and (Path(folder) / PARAMS_FILE).is_file()


def _to_storage(params: Any, dtype: str) -> Any:
    """Params as numpy arrays of `dtype`; bfloat16 is stored as its uint16 bit pattern (numpy's own
    format has no bfloat16), so the file reads back with plain numpy and allow_pickle=False."""
    def one(x: Any) -> Any:
        a = np.asarray(jnp.asarray(x, _DTYPES[dtype]))
        return a.view(np.uint16) if dtype == "bfloat16" else a
    return jax.tree.map(one, params)


def _from_storage(stored: Any, like: Any, dtype: str) -> Any:
    def one(s: Any, ref: Any) -> Any:
        a = np.asarray(s)
        if dtype == "bfloat16":
            a = a.view(jnp.bfloat16)
        return jnp.asarray(a, ref.dtype)
    return jax.tree.map(one, stored, like)


def read_exported(folder: str | Path) -> dict[str, Any]:
    """The verified record (``model.json``) of an exported LM folder."""
    folder = Path(folder)
    verify_weights(folder)
    try:
        record = json.loads((folder / EXPORTED_MODEL).read_text())
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{folder / EXPORTED_MODEL}: not a readable exported model ({err})") from err
    if not isinstance(record, dict) or record.get("format") != _FORMAT or record.get("dtype") not in _DTYPES:
        raise CheckpointError(f"{folder / EXPORTED_MODEL}: not a format-{_FORMAT} exported model")
    return record


def load_exported_params(folder: str | Path, like: Any, dtype: str) -> Any:
    """The exported parameters, shaped and typed as `like` (the model's own params)."""
    path = Path(folder) / PARAMS_FILE
    template = _to_storage(like, dtype)
    try:
        stored = eqx.tree_deserialise_leaves(path, template)
    except Exception as err:
        raise CheckpointError(f"{path}: its parameters do not match the model config it names ({err})") from err
    return _from_storage(stored, like, dtype)


# ---------------------------------------------------------------------------- shipping
def _package_dir(package: str) -> Path:
    try:
        return Path(str(resources.files(package)))
    except ModuleNotFoundError:
        raise CheckpointError(f"package {package!r} is not installed") from None


def ship_model(exported: str | Path, *, name: str | None = None) -> list[Path]:
    """Copy an exported model into the installed packages (the LM into archon_framework, each
    tokenizer into the plugin that owns it); returns the folders written. For a checkout with
    editable installs this writes into the source tree, ready to commit."""
    exported = Path(exported)
    top = json.loads((exported / "model.json").read_text())
    name = name or top["name"]
    verify_weights(exported / "lm")
    written = []
    core = _package_dir("archon_framework") / "weights" / name
    if core.exists():
        shutil.rmtree(core)
    shutil.copytree(exported / "lm", core / "lm")
    atomic_write_text(core / "model.json", json.dumps({**top, "name": name}, indent=2) + "\n")
    written.append(core)
    for modality, owner in sorted(top["tokenizers"].items()):
        src = exported / "tokenizers" / modality
        verify_weights(src)
        target = _package_dir(owner["package"]) / "weights" / name / modality
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(src, target)
        written.append(target)
    return written


def shipped_models() -> dict[str, Path]:
    """Name -> folder of every model the installed archon_framework ships."""
    root = _package_dir("archon_framework") / "weights"
    if not root.is_dir():
        return {}
    return {p.name: p for p in sorted(root.iterdir()) if (p / "model.json").is_file()}


def _cache_root() -> Path:
    import os

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "archon" / "models"


def resolve_model(name_or_path: str | Path) -> Path:
    """A model folder (with ``lm/`` and ``tokenizers/``) for a shipped model's name; any other
    value is returned as a path.

    For a name, every manifest (the LM's and each tokenizer's, in its plugin) is verified, then
    the parts are linked into one folder under ``~/.cache/archon/models/<name>-<install>``,
    ``<install>`` a digest of where the parts are: each installation (a second checkout, a CI
    clone beside it) has its own, so one never relinks another's under a running process.

    Raises:
        CheckpointError: a shipped file is missing, changed or unlisted (named); a plugin that
            owns one of its tokenizers is not installed (named, with how to install it).
    """
    text = str(name_or_path)
    shipped = shipped_models()
    if text not in shipped or Path(text).exists():
        return Path(name_or_path)
    core = shipped[text]
    top = json.loads((core / "model.json").read_text())
    verify_weights(core / "lm")
    parts = {"lm": core / "lm"}
    for modality, owner in sorted(top["tokenizers"].items()):
        try:
            folder = _package_dir(owner["package"]) / "weights" / text / modality
        except CheckpointError:
            raise CheckpointError(
                f"shipped model {text!r}: its {modality} tokenizer ships with plugin {owner['distribution'] or owner['plugin']} "
                f"(package {owner['package']}), which is not installed; pip install it"
            ) from None
        if not folder.is_dir():
            raise CheckpointError(f"shipped model {text!r}: {folder} is missing from plugin {owner['package']}")
        verify_weights(folder)
        parts[f"tokenizers/{modality}"] = folder
    install = hashlib.sha256("\n".join(f"{rel}={src.resolve()}" for rel, src in sorted(parts.items())).encode())
    out = _cache_root() / f"{text}-{install.hexdigest()[:12]}"
    (out / "tokenizers").mkdir(parents=True, exist_ok=True)
    for rel, src in parts.items():
        link = out / rel
        if link.is_symlink() and link.resolve() == src.resolve():
            continue
        if link.is_symlink() or link.is_file():
            link.unlink()
        elif link.exists():
            shutil.rmtree(link)
        try:
            link.symlink_to(src.resolve(), target_is_directory=True)
        except OSError:  # no symlinks here (some Windows setups): copy instead
            shutil.copytree(src, link)
    stale = [p for p in (out / "tokenizers").iterdir() if f"tokenizers/{p.name}" not in parts]
    for p in stale:
        p.unlink() if p.is_symlink() else shutil.rmtree(p)
    atomic_write_text(out / "model.json", json.dumps(top, indent=2) + "\n")
    return out


def tokenizers_folder(name_or_path: str | Path) -> Path:
    """The folder of a model's tokenizers (one sub-folder per modality, what
    ``registry.tokenizer(modality, folder)`` loads): a shipped model's (by name, verified as
    `resolve_model` does), an exported model's or a recipe run's (each keeps them in
    ``tokenizers/``), with links resolved.

    Raises:
        CheckpointError: the folder has no ``tokenizers/`` (named), or what `resolve_model` raises.
    """
    folder = (resolve_model(name_or_path) / "tokenizers").resolve()
    if not folder.is_dir():
        raise CheckpointError(f"{name_or_path}: no tokenizers folder at {folder} (give a shipped model's name, "
                              f"archon list-models, an exported model folder or a recipe run folder)")
    return folder
