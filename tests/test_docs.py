"""The documentation cannot rot: the site (guides + API reference generated from the
docstrings) builds with warnings as errors, and the plugin tutorial's code runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "plugin-tutorial.md"


def python_blocks(markdown: str) -> list[str]:
    """The ```python fenced blocks of a markdown page, in order."""
    return re.findall(r"^```python\n(.*?)^```$", markdown, flags=re.S | re.M)


def test_docs_build_without_warnings(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reference = (tmp_path / "site" / "reference" / "core" / "index.html").read_text()
    for name in ("Modality", "RawSpec", "PromptSerializer", "DatasetSpec", "TaskSuite", "DataWarning"):
        assert f'id="archon_framework.{name}"' in reference, name  # generated from the docstrings
    assert (tmp_path / "site" / "plugin-tutorial" / "index.html").exists()


def test_plugin_tutorial_runs_as_written(tmp_path, monkeypatch):
    blocks = python_blocks(TUTORIAL.read_text())
    assert len(blocks) >= 8
    monkeypatch.chdir(tmp_path)  # the tutorial writes its dataset and run where it stands
    namespace: dict = {"__name__": "plugin_tutorial"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{TUTORIAL.name}[block {i}]", "exec"), namespace)  # noqa: S102 - our own docs
    assert (tmp_path / "breathing-run" / "metrics.jsonl").exists()
    assert namespace["registry"].modalities["breathing"].phrase == "breathing signal"
