"""Plugin loading: entry points in group `archon`, guarded per plugin, into a frozen Registry."""

from __future__ import annotations

import importlib.metadata
import os
import traceback
import types
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import pluggy

from archon_framework._capabilities import Renderer
from archon_framework._chains import Chain, EditingChain
from archon_framework._clip import Clip
from archon_framework._codec import tokenizer_capabilities
from archon_framework._errors import ArchonError, ConfigError, PluginConflictError, PluginError, RawValueError, TaskError
from archon_framework._modality import Modality, Tokenizer
from archon_framework._prompt import TextCodec
from archon_framework._registry import DatasetSpec, Metric, PluginFailure, PluginInfo, PrepareStep
from archon_framework._showcase import DemoSpec, EvalDefaults, EvalTable, RecipeFile, merge_defaults
from archon_framework._tasks import TaskSuite
from archon_framework._vocab import TEXT_VOCABULARY, Vocabulary, VocabLayout
from archon_framework.hookspecs import PROJECT_NAME, ArchonHookSpecs
from archon_framework.provenance._records import ProvenanceStep

__all__ = ["Registry", "UntrainedDefaultWarning", "load_registry", "blocked_from_env", "DISABLE_ENV"]

#: Comma-separated entry-point (or distribution) names of plugins not to load.
DISABLE_ENV = "ARCHON_DISABLE_PLUGINS"

def _core_version() -> str | None:
    try:
        return importlib.metadata.version("archon-framework")
    except importlib.metadata.PackageNotFoundError:
        return None


CORE_PLUGIN = PluginInfo(name="core", distribution="archon-framework", version=_core_version(), module="archon_framework")


def blocked_from_env() -> frozenset[str]:
    raw = os.environ.get(DISABLE_ENV, "")
    return frozenset(x.strip() for x in raw.split(",") if x.strip())


class UntrainedDefaultWarning(UserWarning):
    """An artifacts folder was given, but it lacks a trainable modality's tokenizer or renderer,
    so the plugin's seeded, untrained default is used (fine for a smoke test, meaningless tokens
    for a real run)."""


_DEFAULTED: set[tuple[str, str]] = set()


@attrs.frozen(kw_only=True)
class Registry:
    """Everything the installed plugins provide, built once and never mutated.

    Attributes:
        plugins: the plugins that loaded, in load order.
        failures: plugins (or hooks) that failed, with their errors.
        blocked: names of plugins skipped on purpose.
        modalities: name -> Modality.
        providers: modality / suite / dataset / metric name -> the plugin that provided it.
        suites, datasets, metrics: by name.
        commands: plugin CLI apps (typer) with their plugin.
        prepare_steps: `archon data prepare` steps by name.
        provenance_steps: plugins' own watermark / provenance steps by name.
        chains, editing_chains: named generation and editing chains (`archon_chains()`).
        eval_tables: `archon eval`'s tables (`archon_eval_tables()`), in load order.
        eval_defaults: what `archon eval` does by default (`archon_eval_defaults()`).
        demos: what `archon demo` runs (`archon_demos()`).
        recipes: `archon pretrain --recipe NAME` files (`archon_recipes()`).
    """

    plugins: tuple[PluginInfo, ...] = ()
    failures: tuple[PluginFailure, ...] = ()
    blocked: tuple[str, ...] = ()
    modalities: Mapping[str, Modality] = attrs.field(factory=dict)
    providers: Mapping[str, PluginInfo] = attrs.field(factory=dict)
    suites: Mapping[str, TaskSuite] = attrs.field(factory=dict)
    datasets: Mapping[str, DatasetSpec] = attrs.field(factory=dict)
    metrics: Mapping[str, Metric] = attrs.field(factory=dict)
    commands: tuple[tuple[Any, PluginInfo], ...] = ()
    prepare_steps: Mapping[str, PrepareStep] = attrs.field(factory=dict)
    provenance_steps: Mapping[str, ProvenanceStep] = attrs.field(factory=dict)
    chains: Mapping[str, Chain] = attrs.field(factory=dict)
    editing_chains: Mapping[str, EditingChain] = attrs.field(factory=dict)
    eval_tables: Mapping[str, EvalTable] = attrs.field(factory=dict)
    eval_defaults: Mapping[str, EvalDefaults] = attrs.field(factory=dict)
    demos: Mapping[str, DemoSpec] = attrs.field(factory=dict)
    recipes: Mapping[str, RecipeFile] = attrs.field(factory=dict)

    @property
    def conflicts(self) -> tuple[PluginFailure, ...]:
        """The plugins left out because they clash with another (both of each pair)."""
        return tuple(f for f in self.failures if f.stage == "conflict")

    # ------------------------------------------------------------------ vocabulary
    def vocabularies(self) -> list[Vocabulary]:
        seen: dict[str, Vocabulary] = {}
        for mod in self.modalities.values():
            if mod.vocabulary is not None:
                seen.setdefault(mod.vocabulary.name, mod.vocabulary)
        return list(seen.values())

    def layout(self, base: VocabLayout | None = None) -> VocabLayout:
        """The unified vocabulary of the installed plugins.

        With no `base`, a fresh deterministic allocation (text first at 0, then by name): the
        layout of a new model. With a saved `base` (a checkpoint's, or a layout file), the
        base extended by whatever was installed since, so no existing id moves; a base whose
        vocabularies are missing or resized raises `LayoutMismatchError` naming them.
        """
        if base is None:
            return VocabLayout.allocate(self.vocabularies())
        return base.reconcile(self.vocabularies())

    def for_artifacts(self, artifacts: str | Path | None) -> Registry:
        """This registry with each modality's vocabulary sized by its tokenizer in `artifacts`.

        A modality whose plugin declares `vocabulary_for` and whose tokenizer was trained into
        `artifacts/<name>` gets the vocabulary that tokenizer's configuration gives (a CPU
        recipe's image tokenizer with 2^12 codes instead of the paper's 2^18), so the unified
        vocabulary holds only ids the tokenizers can emit. Modalities sharing a vocabulary must
        agree on its size; the error names both modalities, the vocabulary and both sizes.
        """
        if artifacts is None:
            return self
        modalities: dict[str, Modality] = {}
        sized: dict[str, tuple[Vocabulary, str]] = {}
        for name, mod in self.modalities.items():
            path = Path(artifacts) / name
            if mod.vocabulary is None or mod.vocabulary_for is None or not path.exists():
                modalities[name] = mod
                continue
            try:
                vocab = mod.vocabulary_for(path)
            except ArchonError:
                raise
            except Exception as err:
                raise PluginError(f"modality {name!r} (plugin {self.providers[name].label}): cannot read the "
                                  f"vocabulary of the tokenizer in {path}: {err}") from err
            if not isinstance(vocab, Vocabulary) or vocab.name != mod.vocabulary.name:
                raise PluginError(f"modality {name!r} (plugin {self.providers[name].label}): vocabulary_for({path}) "
                                  f"returned {vocab!r}, expected a Vocabulary named {mod.vocabulary.name!r}")
            modalities[name] = attrs.evolve(mod, vocabulary=vocab)
        for name, mod in modalities.items():
            if mod.vocabulary is None:
                continue
            first = sized.setdefault(mod.vocabulary.name, (mod.vocabulary, name))
            if first[0] != mod.vocabulary:
                raise ConfigError(
                    f"{artifacts}: vocabulary {mod.vocabulary.name!r} has {first[0].size} ids for modality "
                    f"{first[1]!r} but {mod.vocabulary.size} for {name!r}; train their tokenizers with one size"
                )
        return attrs.evolve(self, modalities=modalities)

    def modality(self, name: str) -> Modality:
        try:
            return self.modalities[name]
        except KeyError:
            raise PluginError(
                f"modality {name!r} is not installed (installed: {', '.join(sorted(self.modalities)) or 'none'})"
            ) from None

    def suite(self, name: str) -> TaskSuite:
        try:
            return self.suites[name]
        except KeyError:
            raise TaskError(f"task suite {name!r} is not installed (installed: {', '.join(sorted(self.suites))})") from None

    def dataset(self, name: str) -> DatasetSpec:
        try:
            return self.datasets[name]
        except KeyError:
            raise PluginError(f"dataset {name!r} is not installed (installed: {', '.join(sorted(self.datasets)) or 'none'})") from None

    def chain(self, name: str) -> Chain:
        """A named chain (`archon_chains()`); TaskError listing the installed ones otherwise."""
        return _named(self.chains, name, "chain", "archon list-chains")

    def editing_chain(self, name: str) -> EditingChain:
        """A named editing chain (`archon_chains()`); TaskError listing the installed ones otherwise."""
        return _named(self.editing_chains, name, "editing chain", "archon list-chains --editing")

    def eval_default(self) -> EvalDefaults:
        """The installed `EvalDefaults` merged (`merge_defaults`): what `archon eval` does by default."""
        return merge_defaults(self.eval_defaults.values())

    def demo(self, name: str | None = None) -> DemoSpec:
        """A demo by name, or with None the first installed one (`archon_demos()`)."""
        if name is None and self.demos:
            return next(iter(self.demos.values()))
        return _named(self.demos, name or "", "demo", "install archon-paper or a plugin with archon_demos()")

    def default_suite(self) -> str:
        """The task suite a run uses when none is named: the first installed demo's, else the only suite.

        Raises:
            TaskError: no demo is installed and not exactly one suite is (the message lists them).
        """
        if self.demos:
            return self.demo().suite
        if len(self.suites) == 1:
            return next(iter(self.suites))
        raise TaskError(f"no task suite is named and none is the default: no installed demo names one and "
                        f"{len(self.suites)} suites are installed ({', '.join(sorted(self.suites)) or 'none'}); "
                        "name one (data.suite in the train config, or --suite)")

    def recipe(self, name: str) -> RecipeFile:
        """A recipe file by name (`archon_recipes()`); ConfigError listing the installed ones otherwise."""
        if name not in self.recipes:
            raise ConfigError(f"no recipe named {name!r} (installed: {', '.join(self.recipes) or 'none'}; "
                              "or give a .toml file)")
        return self.recipes[name]

    def check_clip(self, clip: Clip) -> Clip:
        """Validate every raw value of a clip against its modality's declaration.

        Returns the clip with values safely cast (e.g. int64 labels to uint8). Errors name the
        clip and the modality: a value for a modality that is not installed, a wrong dtype or
        shape (so lengths that disagree with the clip's duration across modalities), NaN, a
        value outside the declared range, or a plugin's own domain check.
        """
        values = {}
        for name, value in clip.values.items():
            mod = self.modalities.get(name)
            if mod is None:
                raise RawValueError(
                    f"clip {clip.clip_id!r}: a value for modality {name!r}, which is not installed "
                    f"(installed: {', '.join(sorted(self.modalities)) or 'none'})"
                )
            values[name] = mod.check_raw(value, clip.meta)
        return Clip(clip.meta, values)

    # ------------------------------------------------------------------ tokenizers
    def _make(self, name: str, factory: Callable[[Path | None], Any], artifacts: Path | None, what: str) -> Any:
        entry = None if artifacts is None else Path(artifacts) / name
        path = entry if entry is not None and entry.exists() else None
        if entry is not None and path is None and entry.is_symlink():
            # A dangling link is a trained tokenizer that moved, not an untrained one: never fall back.
            raise PluginError(f"modality {name!r} (plugin {self.providers[name].label}): its {what} in {entry} is a link "
                              f"to {entry.readlink()}, which does not exist; link or copy the trained {what} there again")
        if entry is not None and path is None and self.modalities[name].trainer is not None:
            key = (str(entry.parent.resolve()), name)
            if key not in _DEFAULTED:  # once per folder and modality, however often the tokenizer is made
                _DEFAULTED.add(key)
                warnings.warn(f"modality {name!r} (plugin {self.providers[name].label}): {artifacts} holds no trained "
                              f"{what} ({name}/); using the plugin's untrained default", UntrainedDefaultWarning,
                              stacklevel=3)
        try:
            return factory(path), path
        except PluginError:
            raise
        except Exception as err:
            raise PluginError(
                f"modality {name!r} (plugin {self.providers[name].label}): could not make its {what}"
                f"{f' from {path}' if path else ''}: {err}"
            ) from err

    def tokenizer(self, name: str, artifacts: Path | None = None) -> Any:
        """The tokenizer of a modality, loaded from `artifacts/<name>` if it exists.

        Its optional capabilities (`TextTokenizer`, `BlockedTokenizer`) are checked here, once
        per tokenizer made (`tokenizer_capabilities`); a rendered modality has a `renderer`.

        Raises:
            PluginError: the factory failed, or what it made breaks the tokenizer contract (the
                message names the modality and its plugin).
            ConfigError: the tokenizer's vocabulary differs from this registry's layout.
        """
        mod = self.modality(name)
        if mod.rendered:
            raise PluginError(f"modality {name!r} is rendered: it has a renderer (registry.renderer({name!r})), not a tokenizer")
        tok, path = self._make(name, mod.tokenizer, artifacts, "tokenizer")  # type: ignore[arg-type]
        made = tok.vocabulary if isinstance(tok, Tokenizer) else None
        if isinstance(made, Vocabulary) and made != mod.vocabulary:
            raise ConfigError(
                f"modality {name!r}: the tokenizer{f' in {path}' if path else ''} has vocabulary {made.name!r} of "
                f"{made.size} ids, but this registry's layout gives it {mod.vocabulary.size}; use "  # type: ignore[union-attr]
                f"registry.for_artifacts({str(artifacts)!r}) so the layout follows the trained tokenizers"
            )
        tokenizer_capabilities(mod, tok, plugin=self.providers[name].label)
        return tok

    def renderer(self, name: str, artifacts: Path | None = None) -> Renderer:
        """The renderer of a rendered modality, loaded from `artifacts/<name>` if it exists.

        Raises:
            PluginError: the modality has tokens, the factory failed, or what it made is not a
                `Renderer` (the message names the modality and its plugin).
        """
        mod = self.modality(name)
        if not mod.rendered:
            raise PluginError(f"modality {name!r} has tokens: it has a tokenizer (registry.tokenizer({name!r})), not a renderer")
        made, _ = self._make(name, mod.renderer, artifacts, "renderer")  # type: ignore[arg-type]
        tokenizer_capabilities(mod, made, plugin=self.providers[name].label)
        return made

    def text_codec(self, artifacts: Path | None = None) -> TextCodec:
        """The codec of the `text` vocabulary (from the first modality that uses it)."""
        for name, mod in self.modalities.items():
            if mod.vocabulary is not None and mod.vocabulary.name == TEXT_VOCABULARY:
                tok = self.tokenizer(name, artifacts)
                if isinstance(tok, TextCodec):
                    return tok
        raise PluginError(
            f"no installed modality provides a {TEXT_VOCABULARY!r} vocabulary with a text codec; "
            "install archon-text-t5 (or another text plugin)"
        )


# ---------------------------------------------------------------------- loading
def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return sorted(importlib.metadata.entry_points(group=PROJECT_NAME), key=lambda ep: ep.name)


def _info(ep: importlib.metadata.EntryPoint) -> PluginInfo:
    dist = getattr(ep, "dist", None)
    return PluginInfo(
        name=ep.name,
        distribution=dist.metadata["Name"] if dist is not None else None,
        version=dist.version if dist is not None else None,
        module=ep.value,
    )


def _error_text(err: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(err), err)).strip()


def load_registry(
    *,
    plugins: Iterable[tuple[str, object]] = (),
    entry_points: bool = True,
    blocked: Iterable[str] | None = None,
) -> Registry:
    """Load the installed plugins into a frozen Registry.

    Args:
        plugins: extra `(name, module_or_object)` pairs registered directly through pluggy,
            exactly as entry points are (tests use this; so can notebooks).
        entry_points: whether to load entry points in group `archon`.
        blocked: plugin names (entry-point or distribution) to skip; defaults to the
            `ARCHON_DISABLE_PLUGINS` environment variable.

    A plugin that fails to import or whose hook raises is recorded in `failures` and skipped.
    Two plugins declaring the same modality (or phrase, suite, dataset, metric) name, or one
    vocabulary with two sizes, are both left out: each is recorded in `failures` at stage
    ``"conflict"`` with a message naming both, and everything else loads (`Registry.conflicts`).
    """
    blocked_set = frozenset(blocked) if blocked is not None else blocked_from_env()
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(ArchonHookSpecs)
    failures: list[PluginFailure] = []
    loaded: list[PluginInfo] = []
    by_plugin: dict[str, PluginInfo] = {}
    skipped: list[str] = []

    candidates: list[tuple[PluginInfo, Callable[[], object]]] = []
    if entry_points:
        for ep in _entry_points():
            candidates.append((_info(ep), ep.load))
    for name, obj in plugins:
        candidates.append((PluginInfo(name=name, module=getattr(obj, "__name__", repr(obj))), lambda obj=obj: obj))  # type: ignore[misc]

    for info, load in candidates:
        if info.name in blocked_set or (info.distribution and info.distribution in blocked_set):
            skipped.append(info.name)
            continue
        if info.name in by_plugin:
            failures.append(PluginFailure(plugin=info, stage="register", error=f"plugin name {info.name!r} is already registered by {by_plugin[info.name].label}"))
            continue
        try:
            obj = load()
        except BaseException as err:  # noqa: BLE001 - one broken plugin must not take the host down
            if isinstance(err, (KeyboardInterrupt, SystemExit)):
                raise
            failures.append(PluginFailure(plugin=info, stage="import", error=_error_text(err)))
            continue
        try:
            _check_hook_names(obj, info)
            pm.register(obj, name=info.name)
        except Exception as err:
            failures.append(PluginFailure(plugin=info, stage="register", error=_error_text(err)))
            continue
        loaded.append(info)
        by_plugin[info.name] = info

    results = {hook: _collect(pm, hook, by_plugin, failures) for hook in (
        "archon_modalities", "archon_task_suites", "archon_datasets", "archon_metrics", "archon_commands",
        "archon_prepare_steps", "archon_provenance_steps", "archon_chains", "archon_eval_tables",
        "archon_eval_defaults", "archon_demos", "archon_recipes")}
    kinds = {"archon_modalities": ("modality", Modality), "archon_task_suites": ("task suite", TaskSuite),
             "archon_datasets": ("dataset", DatasetSpec), "archon_metrics": ("metric", Metric),
             "archon_prepare_steps": ("prepare step", PrepareStep),
             "archon_provenance_steps": ("provenance step", ProvenanceStep),
             "archon_chains": ("chain", (Chain, EditingChain)), "archon_eval_tables": ("evaluation table", EvalTable),
             "archon_eval_defaults": ("evaluation defaults", EvalDefaults), "archon_demos": ("demo", DemoSpec),
             "archon_recipes": ("recipe", RecipeFile)}
    for hook, (kind, cls) in kinds.items():
        results[hook] = _well_typed(kind, results[hook], cls, failures)  # type: ignore[arg-type]
    # A conflict between two plugins leaves both out (reported), never the whole host down.
    left_out = _conflicts(results, kinds, failures)
    if left_out:
        results = {hook: [(item, info) for item, info in items if info.name not in left_out] for hook, items in results.items()}
        loaded = [info for info in loaded if info.name not in left_out]

    providers: dict[str, PluginInfo] = {}
    modalities = _unique("modality", results["archon_modalities"], lambda m: m.name, providers)
    suites = _unique("task suite", results["archon_task_suites"], lambda s: s.name, {})
    datasets = _unique("dataset", results["archon_datasets"], lambda d: d.name, {})
    metrics = _unique("metric", results["archon_metrics"], lambda m: m.name, {})
    commands = tuple((c, info) for c, info in results["archon_commands"])
    prepare_steps = _unique("prepare step", results["archon_prepare_steps"], lambda s: s.name, {})
    provenance_steps = _unique("provenance step", results["archon_provenance_steps"], lambda s: s.name, {})
    chains = _unique("chain", [(c, i) for c, i in results["archon_chains"] if isinstance(c, Chain)], lambda c: c.name, {})
    editing = _unique("editing chain", [(c, i) for c, i in results["archon_chains"] if isinstance(c, EditingChain)],
                      lambda c: c.name, {})
    proxy = types.MappingProxyType
    return Registry(
        plugins=tuple(loaded), failures=tuple(failures), blocked=tuple(skipped),
        modalities=types.MappingProxyType(modalities), providers=types.MappingProxyType(providers),
        suites=types.MappingProxyType(suites), datasets=types.MappingProxyType(datasets),
        metrics=types.MappingProxyType(metrics),
        commands=commands, prepare_steps=types.MappingProxyType(prepare_steps),
        provenance_steps=types.MappingProxyType(provenance_steps),
        chains=proxy(chains), editing_chains=proxy(editing),
        eval_tables=proxy(_unique("evaluation table", results["archon_eval_tables"], lambda t: t.name, {})),
        eval_defaults=proxy(_unique("evaluation defaults", results["archon_eval_defaults"], lambda d: d.name, {})),
        demos=proxy(_unique("demo", results["archon_demos"], lambda d: d.name, {})),
        recipes=proxy(_unique("recipe", results["archon_recipes"], lambda r: r.name, {})),
    )


def _check_hook_names(obj: object, info: PluginInfo) -> None:
    known = {n for n in dir(ArchonHookSpecs) if n.startswith("archon_")}
    for attr in dir(obj):
        if attr.startswith("archon_") and attr not in known and callable(getattr(obj, attr, None)):
            raise PluginError(f"plugin {info.label}: {attr}() is not an archon hook (known: {', '.join(sorted(known))})")


def _collect(pm: pluggy.PluginManager, hook: str, by_plugin: Mapping[str, PluginInfo], failures: list[PluginFailure]) -> list[tuple[Any, PluginInfo]]:
    out: list[tuple[Any, PluginInfo]] = []
    caller = getattr(pm.hook, hook)
    for impl in caller.get_hookimpls():  # registration order (pluggy calls them LIFO; we do not)
        info = by_plugin.get(impl.plugin_name, PluginInfo(name=impl.plugin_name))
        try:
            items = impl.function()
            if items is None:
                continue
            if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
                raise PluginError(f"{hook}() returned {type(items).__name__} {items!r:.60}, expected a list")
            items = list(items)
        except Exception as err:
            failures.append(PluginFailure(plugin=info, stage=hook, error=_error_text(err)))
            continue
        out.extend((item, info) for item in items)
    return out


def _well_typed(kind: str, items: Sequence[tuple[Any, PluginInfo]], cls: type | tuple[type, ...],
                failures: list[PluginFailure]) -> list[tuple[Any, PluginInfo]]:
    expected = " or ".join(c.__name__ for c in (cls if isinstance(cls, tuple) else (cls,)))
    out = []
    for item, info in items:
        if isinstance(item, cls):
            out.append((item, info))
        else:
            failures.append(PluginFailure(plugin=info, stage=f"{kind} declaration", error=f"returned {type(item).__name__}, expected {expected}"))
    return out


def _conflicts(results: Mapping[str, list[tuple[Any, PluginInfo]]], kinds: Mapping[str, tuple[str, Any]],
               failures: list[PluginFailure]) -> set[str]:
    """Find names claimed twice; report each conflict on both plugins and return who is left out.

    Conflicts are a name (of a modality, task suite, dataset, metric, step: every hook in
    `kinds`) declared by two plugins, two modalities sharing a prompt phrase, and one
    vocabulary declared with two sizes. The core
    is never left out (a plugin that clashes with it goes alone).
    """
    found: list[tuple[PluginInfo, PluginInfo, str]] = []
    for hook, (kind, _) in kinds.items():
        first: dict[str, PluginInfo] = {}
        for item, info in results[hook]:
            if item.name in first:  # by two plugins, or twice by one
                found.append((first[item.name], info, f"{kind} {item.name!r} is declared twice"))
            first.setdefault(item.name, info)
    phrases: dict[str, tuple[str, PluginInfo]] = {}
    vocabs: dict[str, tuple[Vocabulary, str, PluginInfo]] = {}
    for mod, info in results["archon_modalities"]:
        prev = phrases.setdefault(mod.phrase, (mod.name, info))
        if prev[0] != mod.name:
            found.append((prev[1], info, f"modalities {prev[0]!r} and {mod.name!r} use the same prompt phrase {mod.phrase!r}"))
        if mod.vocabulary is not None:
            v = vocabs.setdefault(mod.vocabulary.name, (mod.vocabulary, mod.name, info))
            if v[0] != mod.vocabulary:
                found.append((v[2], info, f"vocabulary {mod.vocabulary.name!r} has size {v[0].size} for modality {v[1]!r} "
                                          f"but {mod.vocabulary.size} for {mod.name!r}"))
    left_out: set[str] = set()
    for a, b, what in found:
        message = (f"{what}: {a.label} ({a.name}) and {b.label} ({b.name}); both are left out until one is "
                   f"uninstalled or blocked ({DISABLE_ENV}=NAME)")
        for info in {a.name: a, b.name: b}.values():
            if info.name != CORE_PLUGIN.name and info.name not in left_out:
                failures.append(PluginFailure(plugin=info, stage="conflict", error=message))
                left_out.add(info.name)
    return left_out


def _named(items: Mapping[str, Any], name: str, kind: str, hint: str) -> Any:
    try:
        return items[name]
    except KeyError:
        raise TaskError(f"no {kind} named {name!r} is installed (installed: {', '.join(items) or 'none'}; {hint})") from None


def _unique(kind: str, items: Sequence[tuple[Any, PluginInfo]], key: Callable[[Any], str], providers: dict[str, PluginInfo]) -> dict:
    out: dict[str, Any] = {}
    for item, info in items:
        name = key(item)
        if name in providers:  # _conflicts left one of them out; reaching here is a bug
            raise PluginConflictError(f"{kind} {name!r} is declared by {providers[name].label} and {info.label}")
        providers[name] = info
        out[name] = item
    return out
