"""The plugins form a tree: what each imports is what its pyproject declares, the declared
dependencies have no cycle, and a modality plugin depends on the core alone.

Read from the source, not from what happens to be installed: each ``plugins/<dir>/pyproject.toml``
(its ``dependencies`` and ``optional-dependencies``) and every ``import`` statement of its package
and its tests (``ast``; imports inside functions count). A plugin is a *modality plugin* when its
package implements the ``archon_modalities`` hook; those may import ``archon_framework`` and
nothing else of ours. Consumers (datasets, metrics, prepare steps) may depend on modality plugins
and on each other, as long as no cycle forms.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE_DIST, CORE_MODULE = "archon-framework", "archon_framework"


def _dist_name(requirement: str) -> str:
    """``"archon-flame-rvq>=0.1 ; extra"`` -> ``"archon-flame-rvq"`` (PEP 503-normalized)."""
    name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1)
    return re.sub(r"[-_.]+", "-", name).lower()


def _imports(files: list[Path]) -> set[str]:
    """Top-level module names imported anywhere in ``files`` (plus ``pytest.importorskip("x")``)."""
    found: set[str] = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr == "importorskip" and node.args and isinstance(node.args[0], ast.Constant)):
                found.add(str(node.args[0].value).split(".")[0])
    return found


def _implements(files: list[Path], hook: str) -> bool:
    return any(isinstance(node, ast.FunctionDef) and node.name == hook
               for path in files for node in ast.walk(ast.parse(path.read_text())))


class Plugin:
    """One ``plugins/<dir>``: its distribution, import package, declared and imported archon names."""

    def __init__(self, folder: Path):
        project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
        self.folder = folder
        self.dist = _dist_name(project["name"])
        self.module = self.dist.replace("-", "_")
        self.requires = {_dist_name(r) for r in project.get("dependencies", [])}
        self.extras = {extra: {_dist_name(r) for r in reqs}
                       for extra, reqs in project.get("optional-dependencies", {}).items()}
        source = sorted((folder / self.module).rglob("*.py"))
        self.runtime_imports = _imports(source)
        self.test_imports = _imports(sorted((folder / "tests").rglob("*.py")))
        self.is_modality = _implements(source, "archon_modalities")

    def __repr__(self) -> str:
        return self.dist


PLUGINS = [Plugin(p.parent) for p in sorted(ROOT.glob("plugins/*/pyproject.toml"))]
OURS = {p.module: p.dist for p in PLUGINS} | {CORE_MODULE: CORE_DIST}


def _ours(modules: set[str], plugin: Plugin) -> set[str]:
    return {OURS[m] for m in modules if m in OURS and m != plugin.module}


def _declared_ours(requirements: set[str]) -> set[str]:
    return requirements & set(OURS.values())


def test_the_plugins_were_found_and_the_built_in_modalities_recognized():
    assert len(PLUGINS) >= 9
    modality = {p.dist for p in PLUGINS if p.is_modality}
    assert {"archon-text-t5", "archon-speech-soundstream", "archon-semantic-magvit", "archon-flame-rvq",
            "archon-video-walt"} <= modality
    assert "archon-synthetic-heads" not in modality


@pytest.mark.parametrize("plugin", PLUGINS, ids=repr)
def test_a_plugin_declares_exactly_the_archon_distributions_its_code_imports(plugin):
    imported = _ours(plugin.runtime_imports, plugin)
    optional = set().union(*(reqs for extra, reqs in plugin.extras.items() if extra != "test")) if plugin.extras else set()
    declared = _declared_ours(plugin.requires)
    assert CORE_DIST in declared, f"{plugin.folder.name}/pyproject.toml: depend on {CORE_DIST}"
    missing = imported - declared - optional
    assert not missing, f"{plugin.folder.name}: imports {sorted(missing)} but its pyproject does not declare them"
    stale = declared - imported - {CORE_DIST}
    assert not stale, f"{plugin.folder.name}/pyproject.toml: declares {sorted(stale)}, which its code never imports"


#: Installed by the Makefile with --no-deps (its protobuf pin clashes with grain's): archon-perception
#: declares its other requirements instead (see plugins/perception/pyproject.toml).
INSTALLED_WITHOUT_DEPS = {"mediapipe"}


@functools.cache
def _providers() -> dict[str, list[str]]:
    """Top-level module -> installed distributions providing it (read once: it scans every install)."""
    return importlib.metadata.packages_distributions()


def _requirement_closure(dists: set[str]) -> set[str]:
    """``dists`` and everything they require (extras' requirements excluded), from installed metadata."""
    seen: set[str] = set()
    todo = list(dists)
    while todo:
        dist = todo.pop()
        if dist in seen:
            continue
        seen.add(dist)
        try:
            requires = importlib.metadata.requires(dist) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        todo.extend(_dist_name(r) for r in requires if "extra ==" not in r)
    return seen


@pytest.mark.parametrize("plugin", PLUGINS, ids=repr)
def test_every_third_party_module_a_plugin_imports_comes_with_what_it_declares(plugin):
    """A fresh ``pip install plugins/<dir>`` brings every module its code imports (directly or
    through a declared dependency, the core's included)."""
    providers = _providers()
    optional = set().union(*(reqs for extra, reqs in plugin.extras.items() if extra != "test")) if plugin.extras else set()
    available = _requirement_closure(plugin.requires | optional)
    missing = {}
    for module in sorted(plugin.runtime_imports - set(sys.stdlib_module_names) - set(OURS) - {"__future__"}):
        dists = {_dist_name(d) for d in providers.get(module, ())}
        if dists and not dists & available and module not in INSTALLED_WITHOUT_DEPS:
            missing[module] = sorted(dists)
    assert not missing, f"{plugin.folder.name}: imports modules of undeclared distributions {missing}"


@pytest.mark.parametrize("plugin", PLUGINS, ids=repr)
def test_a_plugins_tests_import_only_what_it_or_its_test_extra_declares(plugin):
    every = plugin.requires.union(*plugin.extras.values())
    missing = _ours(plugin.test_imports, plugin) - _declared_ours(every)
    assert not missing, f"{plugin.folder.name}/tests import {sorted(missing)}: add them to its 'test' extra"


@pytest.mark.parametrize("plugin", [p for p in PLUGINS if p.is_modality], ids=repr)
def test_a_modality_plugin_depends_on_the_core_alone(plugin):
    assert _declared_ours(plugin.requires) == {CORE_DIST}, (
        f"{plugin.folder.name}: a modality plugin depends only on {CORE_DIST}; "
        f"it declares {sorted(_declared_ours(plugin.requires))}")
    optional = set().union(*(r for e, r in plugin.extras.items() if e != "test")) if plugin.extras else set()
    assert not _declared_ours(optional), f"{plugin.folder.name}: an extra other than 'test' names {sorted(optional)}"
    assert _ours(plugin.runtime_imports, plugin) <= {CORE_DIST}, f"{plugin.folder.name} imports another plugin"


def test_the_dependency_graph_has_no_cycle_and_the_core_imports_no_plugin():
    edges = {p.dist: _declared_ours(p.requires.union(*p.extras.values())) - {p.dist} for p in PLUGINS}
    core_imports = _imports(sorted((ROOT / CORE_MODULE).rglob("*.py")))
    edges[CORE_DIST] = {OURS[m] for m in core_imports if m in OURS} - {CORE_DIST}
    assert not edges[CORE_DIST], f"the core imports plugins: {sorted(edges[CORE_DIST])}"
    state: dict[str, str] = {}

    def visit(node: str, path: tuple[str, ...]) -> None:
        if state.get(node) == "done":
            return
        assert state.get(node) != "open", "dependency cycle: " + " -> ".join((*path, node))
        state[node] = "open"
        for dep in sorted(edges.get(node, ())):
            visit(dep, (*path, node))
        state[node] = "done"

    for node in sorted(edges):
        visit(node, ())


# ---------------------------------------------------------------------- the core's own modules
def _core_module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:`` (annotations, never executed)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


@functools.cache
def _core_graph() -> dict[str, set[str]]:
    """Core module -> the core modules it imports, at module level or inside a function (a lazy
    import is a dependency too: the demo's lazy import of a CLI command made the circle issue 24
    names), ``TYPE_CHECKING`` imports aside. ``from a.b import c`` depends on module ``a.b.c``
    when there is one, else on ``a.b``."""
    modules = {_core_module(p): p for p in (ROOT / CORE_MODULE).rglob("*.py")}

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        skip = _type_checking_only(tree)
        deps: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith(CORE_MODULE):
                deps.update(resolve(f"{node.module}.{a.name}") for a in node.names)
            elif isinstance(node, ast.Import):
                deps.update(resolve(a.name) for a in node.names if a.name.startswith(CORE_MODULE))
        graph[name] = deps - {None, name}
    return graph


def test_the_cores_modules_import_each_other_without_a_cycle():
    graph = _core_graph()
    assert {"archon_framework.cli._app", "archon_framework.infer._demo", "archon_framework.data._synthesize"} <= set(graph)
    state: dict[str, str] = {}

    def visit(node: str, path: tuple[str, ...]) -> None:
        if state.get(node) == "done":
            return
        assert state.get(node) != "open", "import cycle in the core: " + " -> ".join((*path, node))
        state[node] = "open"
        for dep in sorted(graph[node]):
            visit(dep, (*path, node))
        state[node] = "done"

    for node in sorted(graph):
        visit(node, ())


def test_only_the_cli_package_imports_the_cli():
    outside = sorted(name for name, deps in _core_graph().items()
                     if not name.startswith("archon_framework.cli") and any(d.startswith("archon_framework.cli") for d in deps))
    assert not outside, f"library modules import the command line: {outside}"


#: Names of plugin content the core may spell out, each with its reason: none (the trainer's default
#: suite is the registry's, `Registry.default_suite`).
CORE_NAMES_ALLOWED: set[tuple[str, str]] = set()


def test_the_core_names_no_built_in_plugins_content():
    """No string in the core's code (docstrings aside) is the name of a built-in plugin's dataset,
    suite, chain, table, demo or recipe, or of a plugin distribution or package: defaults come
    from what is installed (the demo spec, the evaluation defaults)."""
    from archon_framework import load_registry

    reg = load_registry()
    names = {*reg.datasets, *reg.suites, *reg.chains, *reg.editing_chains, *reg.eval_tables, *reg.demos, *reg.recipes,
             *(p.dist for p in PLUGINS), *(p.module for p in PLUGINS)}
    assert {"archon72", "synthetic_heads_test", "speech-to-video", "cpu-reference"} <= names, "archon-paper not installed"
    found = set()
    for path in sorted((ROOT / CORE_MODULE).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                if node.value in names:
                    found.add((str(path.relative_to(ROOT)), node.value))
    assert found <= CORE_NAMES_ALLOWED, f"the core names plugin content: {sorted(found - CORE_NAMES_ALLOWED)}"
