"""Exported and shipped models: a trained model as a small, verified folder, and by name.

A training run (`archon train`, or the ``lm/`` of `archon demo` / `archon pretrain`) holds orbax
checkpoints with the optimizer state. `export_model` writes what generation needs and nothing
more, each part with a `weights-manifest.json` (`archon_framework._weights`)::

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

import json
import shutil
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from archon_framework._errors import CheckpointError
from archon_framework._plugins import Registry
from archon_framework._weights import WEIGHTS_MANIFEST, verify_weights, write_weights_manifest
from archon_framework.config import atomic_write_text, to_dict

__all__ = ["EXPORTED_MODEL", "export_model", "is_exported", "resolve_model", "ship_model", "shipped_models"]

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


def export_model(run_dir: str | Path, dest: str | Path, registry: Registry, *, tokenizers: str | Path | None = None,
                 name: str, recipe: str = "", command: str = "", commit: str | None = None,
                 dtype: str = "float32", extra: Mapping[str, Any] | None = None) -> Path:
    """Export the latest checkpoint of a training run, and the tokenizers it was trained with,
    into `dest` (see the module doc); returns ``dest/model.json``.

    Args:
        run_dir: the training run (its ``checkpoints/``).
        dest: the exported folder (replaced if it exists; written beside it first).
        registry: the installed plugins (the owner of each tokenizer is recorded).
        tokenizers: the tokenizers' folder (default: the run's ``data.artifacts``).
        name, recipe, command, commit: recorded in every manifest.
        dtype: the stored parameter dtype, ``float32`` or ``bfloat16``.
        extra: more fields for ``model.json`` (e.g. the held-out data settings).
    """
    from archon_framework.infer._model import load_checkpoint
    from archon_framework.train._trainer import SUITE_FILE

    if dtype not in _DTYPES:
        raise CheckpointError(f"export: dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}")
    run, dest = Path(run_dir), Path(dest)
    model = load_checkpoint(run, registry, artifacts=tokenizers)
    config, step = _read_config(run)
    tmp = dest.with_name(dest.name + ".tmp-export")
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "lm").mkdir(parents=True)
    params, _ = eqx.partition(model.lm, eqx.is_array)
    eqx.tree_serialise_leaves(tmp / "lm" / PARAMS_FILE, _to_storage(params, dtype))
    shutil.copyfile(run / SUITE_FILE, tmp / "lm" / SUITE_FILE)
    has_tokenizers = model.artifacts is not None and any(
        p.is_dir() and p.name in registry.modalities for p in model.artifacts.iterdir())
    config["data"]["artifacts"] = "../tokenizers" if has_tokenizers else ""
    record = {"format": _FORMAT, "config": config, "layout": json.loads(model.layout.to_json()), "step": step,
              "dtype": dtype, "model_config": to_dict(model.lm.config)}
    atomic_write_text(tmp / "lm" / EXPORTED_MODEL, json.dumps(record, indent=2) + "\n")
    stamp = {"recipe": recipe, "command": command, "commit": commit}
    write_weights_manifest(tmp / "lm", [PARAMS_FILE, SUITE_FILE, EXPORTED_MODEL], **stamp)
    owners: dict[str, dict[str, str]] = {}
    if model.artifacts is not None:
        for folder in sorted(p for p in model.artifacts.iterdir() if p.is_dir()):
            if folder.name not in registry.modalities:
                continue
            target = tmp / "tokenizers" / folder.name
            shutil.copytree(folder, target, ignore=shutil.ignore_patterns(WEIGHTS_MANIFEST, "__pycache__"))
            write_weights_manifest(target, [p for p in target.rglob("*") if p.is_file()], **stamp)
            info = registry.providers[folder.name]
            owners[folder.name] = {"plugin": info.name, "distribution": info.distribution or "",
                                   "package": (info.module or "").split(".")[0]}
    top = {"format": _FORMAT, "name": name, **stamp, "step": step, "dtype": dtype, "tokenizers": owners,
           **dict(extra or {})}
    atomic_write_text(tmp / "model.json", json.dumps(top, indent=2) + "\n")
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)
    return dest / "model.json"


def _read_config(run: Path) -> tuple[dict[str, Any], int]:
    from archon_framework.eval._cli import read_run

    config, step = read_run(run)
    return to_dict(config), step


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
    the parts are linked into one folder under ``~/.cache/archon/models/<name>``.

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
    out = _cache_root() / text
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
