"""Packaging: the core ships its type annotations (PEP 561), and CI installs every plugin."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_core_is_marked_typed_and_the_marker_is_package_data():
    assert (ROOT / "archon_framework" / "py.typed").is_file()
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "py.typed" in data.get("archon_framework", [])


def test_the_makefile_installs_every_plugin_directory():
    makefile = (ROOT / "Makefile").read_text()
    listed = set(re.search(r"^PLUGINS :=((?:.*\\\n)*.*)$", makefile, flags=re.M).group(1).replace("\\", " ").split())
    present = {f"plugins/{p.parent.name}" for p in ROOT.glob("plugins/*/pyproject.toml")}
    assert present <= listed, f"add {sorted(present - listed)} to the Makefile's PLUGINS line"


def test_make_test_runs_the_lint_and_type_gate_before_the_tests_with_tools_the_test_extra_installs():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, flags=re.M).group(1).split("\n")
    commands = [line.strip() for line in recipe if line.strip()]
    assert commands == ["$(BIN)/ruff check .", "$(BIN)/mypy", "$(BIN)/python -m pytest"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extra = {re.split(r"[<>=~\[ ]", r)[0] for r in project["project"]["optional-dependencies"]["test"]}
    assert {"ruff", "mypy"} <= extra
    assert "archon_framework" in project["tool"]["mypy"]["files"]
    assert {"E9", "F"} <= set(project["tool"]["ruff"]["lint"]["select"])
    # a blanket ignore_errors would hide a module from the gate; overrides switch off named codes only
    assert not any(o.get("ignore_errors") for o in project["tool"]["mypy"].get("overrides", []))
