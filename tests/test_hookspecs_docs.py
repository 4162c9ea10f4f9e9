"""Every hook is documented as pytest documents its own: the spec's docstring says what it
returns, when it is called and shows an example, and docs/plugin-api.md lists it."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from archon_framework.hookspecs import ArchonHookSpecs

ROOT = Path(__file__).resolve().parents[1]
HOOKS = sorted(name for name in vars(ArchonHookSpecs) if name.startswith("archon_"))


def test_there_are_hooks():
    assert {"archon_modalities", "archon_commands"} <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_each_hookspec_says_what_it_returns_when_it_is_called_and_shows_an_example(hook):
    doc = inspect.getdoc(getattr(ArchonHookSpecs, hook)) or ""
    assert "\nReturns:\n" in doc, f"{hook}: no Returns section"
    assert "Called " in doc, f"{hook}: does not say when it is called"
    assert "\nExample:\n" in doc and f"def {hook}(" in doc, f"{hook}: no example implementing it"


@pytest.mark.parametrize("hook", HOOKS)
def test_the_plugin_api_page_documents_each_hook(hook):
    page = (ROOT / "docs" / "plugin-api.md").read_text()
    section = page[page.index("## Hooks"):page.index("## Public API used by plugins")]
    assert f"| `{hook}()` |" in section, f"docs/plugin-api.md: the Hooks table has no row for {hook}"
    assert f"def {hook}(" in section, f"docs/plugin-api.md: the Hooks examples do not implement {hook}"
