"""Growing a trained run: a plugin adds a modality, and the run resumes into a bigger vocabulary.

The trainer's saved layout is extended (`VocabLayout.reconcile`: vocabularies appended, no id
moves); a checkpoint made under the smaller layout is restored at its own size
(`abstract_state`) and grown (`grow_state`): every trained array and optimizer moment kept bit
for bit, the embedding's new rows a fresh model's, their Adam moments zero. `plugins.json`
records which plugin provided each vocabulary, so that a resume without one of them is refused
naming the plugin (`removed_plugins_message`). The suite a grown run trains on is the old one
plus the new plugin's tasks, composed from the command line (`archon train --suite old+emotion`,
`--add-tasks`) by `resolve_train_suite`.
"""

from __future__ import annotations

import difflib
import json
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import equinox as eqx
import jax
import jax.numpy as jnp

from archon_framework._errors import ArchonError, CheckpointError, TaskError
from archon_framework._plugins import DISABLE_ENV, Registry
from archon_framework._tasks import Task, TaskSuite, parse_task
from archon_framework._vocab import VocabLayout
from archon_framework.config import atomic_write_text
from archon_framework.model import PrefixLM, PrefixLMConfig

__all__ = [
    "PLUGINS_FILE", "abstract_state", "compose_suite", "grow_state", "record_plugins", "read_plugins",
    "removed_plugins_message", "resolve_train_suite", "SUITE_FILE", "read_run_suite", "save_run_suite",
]

PLUGINS_FILE = "plugins.json"

SUITE_FILE = "suite.json"


def save_run_suite(out_dir: str | Path, suite: TaskSuite) -> None:
    """Record the suite a run trains on (tasks and weights, as sampled) in `out_dir/suite.json`."""
    record = {"name": suite.name, "tasks": [t.name for t in suite.tasks], "weights": [float(w) for w in suite.weights]}
    atomic_write_text(Path(out_dir) / SUITE_FILE, json.dumps(record, indent=2) + "\n")


def read_run_suite(run_dir: str | Path) -> TaskSuite | None:
    """The suite a run recorded with :func:`save_run_suite`, or None for a run without one.

    A checkpoint's model knows only these tasks, whether or not a plugin still provides the
    suite (the demo's suite, or one composed in Python, is provided by none).
    """
    path = Path(run_dir) / SUITE_FILE
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
        return TaskSuite(str(record["name"]), tuple(parse_task(t) for t in record["tasks"]),
                         tuple(float(w) for w in record["weights"]))
    except (OSError, ValueError, KeyError, TypeError, ArchonError) as err:
        raise CheckpointError(f"{path}: not a readable suite record ({err})") from err


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


# ---------------------------------------------------------------------- the suite of a grown run
def _scaled(suite: TaskSuite, mean: float) -> list[float]:
    """`suite`'s weights scaled to average `mean` (its own proportions kept)."""
    own = sum(suite.weights) / len(suite.weights)
    return [w * mean / own for w in suite.weights]


def _added_task(text: str, registry: Registry, base: TaskSuite, what: str) -> Task:
    """One ``--add-tasks`` item: a well-formed task of an installed suite, over installed modalities."""
    try:
        task = parse_task(text.strip())
    except TaskError as err:
        raise TaskError(f"{what}: {err}") from err
    missing = sorted(task.modalities - set(registry.modalities))
    if missing:
        raise TaskError(f"{what}: task {task.name}: modality {', '.join(map(repr, missing))} is not installed "
                        f"(installed: {', '.join(sorted(registry.modalities))}); install the plugin that provides it")
    declared = {t.name for s in registry.suites.values() for t in s.tasks}
    if task.name not in declared:
        close = difflib.get_close_matches(task.name, sorted(declared), n=3, cutoff=0.6)
        raise TaskError(f"{what}: unknown task {task.name}: no installed suite declares it"
                        + (f" (did you mean {', '.join(close)}?)" if close else "") + "; see archon list-tasks")
    if task in base.tasks:
        raise TaskError(f"{what}: task {task.name} is already in suite {base.name!r}")
    return task


def compose_suite(registry: Registry, spec: str, add_tasks: Sequence[str] = (), *,
                  recorded: TaskSuite | None = None, what: str = "--suite") -> TaskSuite:
    """The suite named by ``spec`` (``SUITE`` or ``SUITE+SUITE+...``) with the tasks ``add_tasks`` added.

    How a run resumes with a plugin's tasks added to the suite it was trained on
    (``demo+emotion``). The first suite is the base; every task of a later suite that the base
    lacks, and every added task, is appended, weighted so that an added task is sampled as
    often as an average task of the base (each added suite keeps its own proportions).

    Args:
        registry: the installed plugins.
        spec: an installed suite's name, or names joined by ``+``; the first may also be the
            suite ``recorded`` by the run (a suite composed before).
        add_tasks: task names (``speech(c)->emotion(t)``), each declared by an installed suite.
        recorded: the suite the run recorded (`read_run_suite`), if any.
        what: names the option or field in messages.

    Raises:
        TaskError: a suite that is not installed, a task that does not parse, names a
            modality that is not installed, is declared by no installed suite, or is in the
            suite already (each named).
    """
    known = dict(registry.suites)
    if recorded is not None:
        known.setdefault(recorded.name, recorded)
    names = [spec] if spec in known else [n.strip() for n in spec.split("+")]
    if not all(names):
        raise TaskError(f"{what} {spec!r}: expected SUITE or SUITE+SUITE+..., with no empty name")
    for name in names:
        if name not in known:
            raise TaskError(f"{what} {spec!r}: task suite {name!r} is not installed "
                            f"(installed: {', '.join(sorted(registry.suites)) or 'none'})")
    base = known[names[0]]
    mean = sum(base.weights) / len(base.weights)
    tasks, weights = list(base.tasks), list(base.weights)
    for name in names[1:]:
        for task, w in zip(known[name].tasks, _scaled(known[name], mean)):
            if task not in tasks:
                tasks.append(task)
                weights.append(w)
    added = [_added_task(t, registry, TaskSuite(spec, tuple(tasks), tuple(weights)), "--add-tasks")
             for t in add_tasks]
    dup = [t.name for i, t in enumerate(added) if t in added[:i]]
    if dup:
        raise TaskError(f"--add-tasks: task {dup[0]} is named twice")
    name = "+".join(names) + (f"+{len(added)} task{'s' if len(added) > 1 else ''}" if added else "")
    return TaskSuite(name, (*tasks, *added), (*weights, *[mean] * len(added)))


def resolve_train_suite(config: Any, registry: Registry, *, suite: str | None = None,
                        add_tasks: Sequence[str] = ()) -> tuple[Any, Registry]:
    """The training config and registry a run trains with when its suite is composed.

    ``suite`` (``--suite``) replaces ``data.suite``; a ``data.suite`` of the form ``A+B`` or
    added tasks compose a suite (`compose_suite`) that the returned registry holds under its
    name and that ``data.suite`` then names. Anything else is returned unchanged.

    Raises:
        TaskError: see `compose_suite`.
    """
    add_tasks = [t.strip() for t in add_tasks if t.strip()]
    spec = (suite if suite is not None else config.data.suite).strip()
    if "+" not in spec and not add_tasks:
        # One suite by name: the trainer's own checks name it if it is not installed.
        return (config if suite is None else attrs.evolve(config, data=attrs.evolve(config.data, suite=spec))), registry
    spec = spec or registry.default_suite()  # tasks added to the default suite
    composed = compose_suite(registry, spec, add_tasks, recorded=read_run_suite(config.out_dir),
                             what="--suite" if suite is not None else "data.suite")
    suites = types.MappingProxyType({**registry.suites, composed.name: composed})
    return attrs.evolve(config, data=attrs.evolve(config.data, suite=composed.name)), attrs.evolve(registry, suites=suites)
