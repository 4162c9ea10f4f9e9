"""Growing a trained run: a plugin adds a modality, and the run resumes into a bigger vocabulary.

The trainer's saved layout is extended (`VocabLayout.reconcile`: vocabularies appended, no id
moves); a checkpoint made under the smaller layout is restored at its own size
(`abstract_state`) and grown (`grow_state`): every trained array and optimizer moment kept bit
for bit, the embedding's new rows a fresh model's, their Adam moments zero. `plugins.json`
records which plugin provided each vocabulary, so that a resume without one of them is refused
naming the plugin (`removed_plugins_message`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from archon_framework._errors import CheckpointError
from archon_framework._plugins import DISABLE_ENV, Registry
from archon_framework._vocab import VocabLayout
from archon_framework.config import atomic_write_text
from archon_framework.model import PrefixLM, PrefixLMConfig

__all__ = ["PLUGINS_FILE", "abstract_state", "grow_state", "record_plugins", "read_plugins", "removed_plugins_message"]

PLUGINS_FILE = "plugins.json"


# ---------------------------------------------------------------------- which plugin gave which vocabulary
def _vocabulary_plugins(registry: Registry) -> dict[str, dict[str, Any]]:
    """vocabulary -> {"plugin": label, "modalities": [...]} of the installed plugins."""
    out: dict[str, dict[str, Any]] = {}
    for name, mod in sorted(registry.modalities.items()):
        if mod.vocabulary is None:
            continue
        info = registry.providers.get(name)
        entry = out.setdefault(mod.vocabulary.name, {"plugin": info.label if info else "?", "modalities": []})
        entry["modalities"].append(name)
    return out


def read_plugins(out_dir: Path) -> dict[str, dict[str, Any]]:
    """The run's `plugins.json` (empty for a run made before it was kept).

    Raises:
        CheckpointError: the file is not a JSON object.
    """
    path = Path(out_dir) / PLUGINS_FILE
    if not path.exists():
        return {}
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: not a readable record of the run's plugins ({err})") from err
    if not isinstance(record, dict):
        raise CheckpointError(f"{path}: not a record of the run's plugins (expected a JSON object)")
    return record


def record_plugins(out_dir: Path, registry: Registry, layout: VocabLayout) -> None:
    """Keep `out_dir/plugins.json`: the plugin that provided each vocabulary of `layout`."""
    record = read_plugins(out_dir)
    current = _vocabulary_plugins(registry)
    merged = {name: current.get(name) or record.get(name) for name in layout.names}
    merged = {k: v for k, v in merged.items() if v is not None}
    if merged != record:
        atomic_write_text(Path(out_dir) / PLUGINS_FILE, json.dumps(merged, indent=2, sort_keys=True) + "\n")


def removed_plugins_message(out_dir: Path, missing: Sequence[str]) -> str:
    """Why a run cannot resume without the vocabularies `missing`, naming their plugins and the way on."""
    record = read_plugins(out_dir)
    named = []
    for vocab in missing:
        entry = record.get(vocab)
        if isinstance(entry, dict):
            named.append(f"vocabulary {vocab!r} of plugin {entry.get('plugin')} "
                         f"(modalities: {', '.join(entry.get('modalities', [])) or '?'})")
        else:
            named.append(f"vocabulary {vocab!r} (its plugin is not recorded)")
    return (
        f"{out_dir}: this run was trained with {'; '.join(named)}, which no installed plugin provides now "
        f"(uninstalled, or blocked in {DISABLE_ENV}); its checkpoints and token cache hold those ids. "
        "Install the plugin again (and unblock it), or train into a new out_dir"
    )


# ---------------------------------------------------------------------- restoring and growing
def abstract_state(config: PrefixLMConfig, optimizer: Any, sharding: Callable[[Any], Any]) -> tuple[Any, Any]:
    """Shapes, dtypes and shardings of a model's parameters and optimizer state under `config`.

    Restore targets for a checkpoint of another vocabulary size; nothing is allocated.
    """
    skeleton = eqx.filter_eval_shape(PrefixLM, config, key=jax.random.key(0))
    params = eqx.filter(skeleton, lambda x: isinstance(x, jax.ShapeDtypeStruct))
    opt = jax.eval_shape(optimizer.init, params)

    def place(x: Any) -> Any:
        if isinstance(x, jax.ShapeDtypeStruct):
            return jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding(x))
        return x

    return jax.tree_util.tree_map(place, params), jax.tree_util.tree_map(place, opt)


def grow_state(params: Any, opt_state: Any, fresh_params: Any, fresh_opt: Any) -> tuple[Any, Any]:
    """Grow restored parameters and optimizer state to the shapes of a fresh model's.

    Leaf by leaf: a leaf of the fresh shape is kept as restored; a leaf with fewer rows (the
    embedding and its Adam moments) gets the fresh leaf's extra rows appended: a fresh model's
    initialisation for the parameters, zeros for the moments. The old rows are not touched.

    Raises:
        CheckpointError: the trees hold different arrays, or an array differs other than in rows.
    """

    def grow(old: Any, fresh: Any) -> Any:
        if not eqx.is_array(old) or old.shape == fresh.shape:
            return old
        if old.ndim != fresh.ndim or old.shape[1:] != fresh.shape[1:] or old.shape[0] > fresh.shape[0]:
            raise CheckpointError(f"cannot grow a checkpoint array of shape {old.shape} into {fresh.shape}: "
                                  "only the vocabulary's rows may grow")
        return jnp.concatenate([jnp.asarray(old), jnp.asarray(fresh[old.shape[0]:], old.dtype)], axis=0)

    def grow_tree(old: Any, fresh: Any) -> Any:
        # The trees differ in static metadata (the model config's vocab_size): match them leaf by
        # leaf and rebuild in the fresh tree's structure.
        old_leaves = jax.tree_util.tree_leaves(old)
        fresh_leaves, treedef = jax.tree_util.tree_flatten(fresh)
        if len(old_leaves) != len(fresh_leaves):
            raise CheckpointError(f"the checkpoint holds {len(old_leaves)} arrays where this model has "
                                  f"{len(fresh_leaves)}: it was trained with another model config")
        return jax.tree_util.tree_unflatten(treedef, [grow(a, b) for a, b in zip(old_leaves, fresh_leaves)])

    return grow_tree(params, fresh_params), grow_tree(opt_state, fresh_opt)
