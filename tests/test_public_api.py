"""One public API: plugins and examples never import private core modules."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import archon_framework

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_SUBMODULES = ("config", "hookspecs", "testing", "cli", "eval", "train")


def _python_files(*dirs: str) -> list[Path]:
    return [p for d in dirs for p in (ROOT / d).rglob("*.py") if ".venv" not in p.parts and "build" not in p.parts]


@pytest.mark.parametrize("path", _python_files("plugins", "examples"), ids=lambda p: str(p.relative_to(ROOT)))
def test_plugins_use_only_the_public_api(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            assert not (parts[0] == "archon_framework" and any(p.startswith("_") for p in parts[1:])), (
                f"{path.relative_to(ROOT)}:{node.lineno} imports private {name}"
            )


def test_all_is_explicit_and_importable():
    for name in archon_framework.__all__:
        assert hasattr(archon_framework, name), name
    for sub in PUBLIC_SUBMODULES:
        module = importlib.import_module(f"archon_framework.{sub}")
        for name in getattr(module, "__all__", []):
            assert hasattr(module, name), f"archon_framework.{sub}.{name}"


def test_core_has_no_modality_specific_code():
    banned = ("soundstream", "magvit", "flame", "sentencepiece", "walt", "espeak")
    for path in _python_files("archon_framework"):
        text = path.read_text().lower()
        for word in banned:
            assert f"import {word}" not in text and f"from {word}" not in text, f"{path} imports {word}"


def test_one_public_generate_the_lm_level_one_is_generate_tokens():
    import archon_framework.infer as infer
    import archon_framework.model as model

    assert "generate" in infer.__all__ and "generate" not in model.__all__ and "generate_tokens" in model.__all__
    with pytest.warns(DeprecationWarning, match="archon_framework.model.generate is now generate_tokens"):
        old = model.generate
    assert old is model.generate_tokens
    with pytest.raises(AttributeError):
        model.no_such_name  # noqa: B018
