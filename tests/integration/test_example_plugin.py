"""A third-party plugin, installed as its own distribution, appears in both listings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from attrs import evolve as attrs_evolve

from archon_framework import Chain, Clip, ClipMeta, RawValueError, VocabError, chain_slots, chain_steps, hookimpl
from archon_framework.eval import evaluate, select_tables
from archon_framework.infer import plan_chain
from archon_framework.testing import check_modality, check_tokenizer, make_registry
from archon_paper import _plugin as paper
from archon_paper import archon72

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "emotion"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """pip-install the example into a private target directory (the real entry-point path)."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(EXAMPLE)],
        check=True, capture_output=True, text=True,
    )
    return target


def _archon(args: list[str], pythonpath: Path | None, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    else:
        env.pop("PYTHONPATH", None)
    return subprocess.run([sys.executable, "-m", "archon_framework.cli", *args], capture_output=True, text=True, env=env, cwd=cwd)


def test_installed_plugin_appears_and_disappears(installed, tmp_path):
    before = _archon(["list-modalities", "--json", "--save-layout", str(tmp_path / "layout.json")], None, tmp_path)
    assert before.returncode == 0, before.stderr
    base = {r["modality"]: r for r in json.loads(before.stdout)["modalities"]}
    assert "emotion" not in base

    after = _archon(["list-modalities", "--json", "--layout", str(tmp_path / "layout.json")], installed, tmp_path)
    assert after.returncode == 0, after.stderr
    data = json.loads(after.stdout)
    rows = {r["modality"]: r for r in data["modalities"]}
    emotion = rows["emotion"]
    assert emotion["distribution"] == "archon-emotion" and emotion["version"] == "0.1.0"
    # Appended after every existing range, and no existing id moved.
    assert emotion["global_range"] == [json.loads(before.stdout)["vocabulary_size"], json.loads(before.stdout)["vocabulary_size"] + 7]
    for name, row in base.items():
        assert rows[name]["global_range"] == row["global_range"]

    chains = _archon(["list-chains", "--json"], installed, tmp_path)
    assert chains.returncode == 0, chains.stderr
    assert "speech-to-emotion" in {c["name"] for c in json.loads(chains.stdout)}

    tasks = _archon(["list-tasks", "--suite", "emotion", "--json"], installed, tmp_path)
    assert tasks.returncode == 0, tasks.stderr
    assert [t["task"] for t in json.loads(tasks.stdout)["tasks"]][0] == "description(t)->emotion(t)"

    blocked = dict(os.environ, PYTHONPATH=str(installed), ARCHON_DISABLE_PLUGINS="emotion")
    out = subprocess.run([sys.executable, "-m", "archon_framework.cli", "list-modalities", "--json"], capture_output=True, text=True, env=blocked, cwd=tmp_path)
    assert "emotion" not in {r["modality"] for r in json.loads(out.stdout)["modalities"]}


def test_example_passes_the_conformance_kit(installed, monkeypatch):
    monkeypatch.syspath_prepend(str(installed))
    from archon_emotion import EMOTION, _plugin, emotion_suite

    reg = make_registry(("emotion", _plugin), with_byte_text=True)
    assert reg.providers["emotion"].name == "emotion"
    meta = ClipMeta(clip_id="c", duration=2.0, frame_rate=30, sample_rate=16_000)
    check_modality(EMOTION, meta=meta, raw="happy")
    ids = check_tokenizer(EMOTION, EMOTION.tokenizer(None), meta=meta, raw="happy", compare=lambda a, b: a == b or pytest.fail(b))
    assert ids.tolist() == [1]
    with pytest.raises(RawValueError, match="modality 'emotion': unknown label 'bored'"):
        EMOTION.check_raw("bored", meta)
    with pytest.raises(VocabError):
        EMOTION.tokenizer(None).decode(np.array([8]), meta=meta)
    # Its suite composes with the paper's.
    both = archon72().tasks + emotion_suite().tasks
    assert len(set(both)) == 77


def test_example_adds_a_chain_and_an_evaluation_table_through_hooks(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    from archon_emotion import EMOTION_TABLE, SPEECH_TO_EMOTION, _plugin, emotion_suite

    reg = make_registry(("paper", paper), ("emotion", _plugin), with_byte_text=True)
    assert not reg.failures
    assert reg.chain("speech-to-emotion") is SPEECH_TO_EMOTION and "speech-to-video" in reg.chains
    assert select_tables("emotion", tuple(reg.eval_tables.values())) == (EMOTION_TABLE,)
    assert reg.providers["emotion"].name == "emotion" and "emotion_accuracy" in reg.metrics
    # Its one step is a task of its own suite.
    speech = types.SimpleNamespace(temporal=True, rendered=False, derived_from=())
    modalities = {"speech": speech, "emotion": reg.modalities["emotion"]}
    plan = plan_chain(SPEECH_TO_EMOTION, modalities=modalities, suite=emotion_suite(), given=SPEECH_TO_EMOTION.conditions)
    assert [str(p) for p in plan] == ["speech(c)->emotion(t)"]
    # The table's ground-truth row, scored by the plugin's metric: the clip's own labels score 1.
    meta = ClipMeta(clip_id="c", duration=1.0, frame_rate=30, sample_rate=16_000)
    clips = [Clip(attrs_evolve(meta, clip_id=f"c{i}"), {"emotion": label}) for i, label in enumerate(("happy", "sad"))]
    truth = attrs_evolve(EMOTION_TABLE, rows=EMOTION_TABLE.rows[1:])
    result = evaluate(types.SimpleNamespace(registry=reg), clips, (truth,))
    row = result.tables[0].rows[0]
    assert row.status == "ok" and row.scores.mean["emotion_accuracy"] == 1.0 and row.scores.count["emotion_accuracy"] == 2


def test_a_chain_name_claimed_by_two_plugins_leaves_both_out_naming_both(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    from archon_emotion import _plugin

    class Rival:
        @hookimpl
        def archon_chains(self):
            return [Chain("speech-to-emotion", chain_slots("speech(c)"), chain_steps("speech(c)->emotion(t)"))]

    reg = make_registry(("emotion", _plugin), ("rival", Rival()))
    assert "speech-to-emotion" not in reg.chains
    (msg,) = {f.error for f in reg.conflicts}
    assert "chain 'speech-to-emotion' is declared twice" in msg and "emotion" in msg and "rival" in msg
