"""Exporting a training run as a model folder (`export_model`); the folder's format, reading,
verification and shipping are `archon_framework.infer._shipped`'s.

A training run (`archon train`, or the ``lm/`` of `archon demo` / `archon pretrain`) holds orbax
checkpoints with the optimizer state; an exported model holds its parameters (float32 or
bfloat16), training config, layout and suite, and the tokenizers it was trained with.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import equinox as eqx

from archon_framework._errors import CheckpointError
from archon_framework._plugins import Registry
from archon_framework._weights import WEIGHTS_MANIFEST, write_weights_manifest
from archon_framework.config import atomic_write_text, to_dict
from archon_framework.infer._model import load_checkpoint, read_run
from archon_framework.infer._shipped import _DTYPES, _FORMAT, EXPORTED_MODEL, PARAMS_FILE, _to_storage

__all__ = ["export_model"]


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
    stamp = {"recipe": recipe, "command": command, "commit": commit}
    owners: dict[str, dict[str, str]] = {}  # the tokenizers copied beside the LM, by modality
    if model.artifacts is not None:
        for folder in sorted(p for p in model.artifacts.iterdir() if p.is_dir()):
            if folder.name not in registry.modalities:
                continue
            target = tmp / "tokenizers" / folder.name
            shutil.copytree(folder, target, ignore=shutil.ignore_patterns(WEIGHTS_MANIFEST, "__pycache__"))
            write_weights_manifest(target, [p.relative_to(target) for p in target.rglob("*") if p.is_file()], **stamp)  # type: ignore[arg-type]
            info = registry.providers[folder.name]
            owners[folder.name] = {"plugin": info.name, "distribution": info.distribution or "",
                                   "package": (info.module or "").split(".")[0]}
    config["data"]["artifacts"] = "../tokenizers" if owners else ""
    record = {"format": _FORMAT, "config": config, "layout": json.loads(model.layout.to_json()), "step": step,
              "dtype": dtype, "model_config": to_dict(model.lm.config)}
    atomic_write_text(tmp / "lm" / EXPORTED_MODEL, json.dumps(record, indent=2) + "\n")
    write_weights_manifest(tmp / "lm", [PARAMS_FILE, SUITE_FILE, EXPORTED_MODEL], **stamp)  # type: ignore[arg-type]
    top = {"format": _FORMAT, "name": name, **stamp, "step": step, "dtype": dtype, "tokenizers": owners,
           **dict(extra or {})}
    atomic_write_text(tmp / "model.json", json.dumps(top, indent=2) + "\n")
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)
    return dest / "model.json"


def _read_config(run: Path) -> tuple[dict[str, Any], int]:
    config, step = read_run(run)
    return to_dict(config), step
