"""The `archon` CLI: listings as tables and JSON, errors with exit codes, the demo's settings."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import archon_framework.cli as cli
from archon_framework.testing import make_registry

from archon_paper import _plugin as paper
from core_toys import ToyPlugin, array_modality

runner = CliRunner()


@pytest.fixture()
def registry(monkeypatch):
    reg = make_registry(("paper", paper), ("toy", ToyPlugin(array_modality("speech", 16, phrase="speech audio"))),
                        with_byte_text=True)
    monkeypatch.setattr(cli._common, "load_registry", lambda: reg)
    return reg


def test_list_modalities_json(registry):
    result = runner.invoke(cli.app, ["list-modalities", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    rows = {r["modality"]: r for r in data["modalities"]}
    assert rows["script"]["global_range"] == [0, 257]
    assert rows["speech"]["global_range"] == [258, 273] and rows["speech"]["plugin"] == "toy"
    assert rows["speech"]["temporal"] is True and rows["speech"]["tokens_per_second"] == 60.0
    assert data["vocabulary_size"] == 274


def test_list_modalities_table(registry):
    result = runner.invoke(cli.app, ["list-modalities"])
    assert result.exit_code == 0
    assert "speech" in result.stdout and "258..273" in result.stdout


def test_saved_layout_is_extended_not_moved(registry, tmp_path, monkeypatch):
    runner.invoke(cli.app, ["list-modalities", "--save-layout", str(tmp_path / "l.json")])
    grown = make_registry(("toy", ToyPlugin(array_modality("speech", 16, phrase="speech audio"),
                                            array_modality("aardvark", 5))), with_byte_text=True)
    monkeypatch.setattr(cli._common, "load_registry", lambda: grown)
    fresh = {r["modality"]: r for r in json.loads(runner.invoke(cli.app, ["list-modalities", "--json"]).stdout)["modalities"]}
    assert fresh["aardvark"]["global_range"] == [258, 262]  # a fresh allocation sorts by name
    kept = {r["modality"]: r for r in json.loads(runner.invoke(cli.app, ["list-modalities", "--json", "--layout", str(tmp_path / "l.json")]).stdout)["modalities"]}
    assert kept["speech"]["global_range"] == [258, 273] and kept["aardvark"]["global_range"] == [274, 278]


def test_layout_that_does_not_match_exits_2(registry, tmp_path):
    (tmp_path / "l.json").write_text('{"ranges": [{"vocabulary": {"name": "text", "size": 3}, "start": 0}]}')
    result = runner.invoke(cli.app, ["list-modalities", "--layout", str(tmp_path / "l.json")])
    assert result.exit_code == 2 and "size 3 in the layout but 258" in result.stderr


def test_list_tasks(registry):
    result = runner.invoke(cli.app, ["list-tasks", "--json"])
    data = json.loads(result.stdout)
    assert len(data["tasks"]) == 72 and "image" in data["missing_modalities"]
    assert data["tasks"][0] == {"task": "description(t)->script(c)", "inputs": ["description(t)"], "output": "script(c)", "weight": pytest.approx(1 / 72)}
    result = runner.invoke(cli.app, ["list-tasks", "--json", "--installed-only"])
    tasks = json.loads(result.stdout)["tasks"]
    assert {t["task"] for t in tasks} == {"script(p)->script(c)", "speech(c)->script(c)", "script(c)->speech(c)",
                                          "script(c)+speech(p)->speech(c)", "speech(p)->speech(c)"}
    assert sum(t["weight"] for t in tasks) == pytest.approx(1.0)
    result = runner.invoke(cli.app, ["list-tasks", "--suite", "nope"])
    assert result.exit_code == 2 and "'nope' is not installed" in result.stderr


def test_every_command_has_help():
    for command in ([], ["list-modalities"], ["list-tasks"], ["demo"]):
        result = runner.invoke(cli.app, [*command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--minutes", "0"], "--minutes must be > 0"), (["--steps", "0"], "--steps must be >= 1"),
     (["--clips", "1"], "at least 2 training clips"), (["--seconds", "-1"], "--seconds must be > 0"),
     (["--train-seed", "1"], "--train-seed seeds training, and a run of the model 'cpu-reference' trains nothing")],
)
def test_demo_refuses_bad_settings_before_any_work(args, message, tmp_path):
    result = runner.invoke(cli.app, ["demo", "--out", str(tmp_path / "demo"), *args])
    assert result.exit_code == 2 and message in result.stderr
    assert not (tmp_path / "demo").exists()


def test_rendered_modality_is_listed_without_a_range(monkeypatch):
    from archon_framework import Modality, RawSpec

    video = Modality(name="video", vocabulary=None, temporal=True, phrase="video",
                     raw=RawSpec(kind="array", dtype="uint8", shape=("frames", None, None, 3)),
                     num_tokens=lambda meta: None, tokenizer=lambda path: None, derived_from=("speech", "image"))
    reg = make_registry(("toy", ToyPlugin(array_modality("speech", 16, phrase="speech audio"), video)), with_byte_text=True)
    monkeypatch.setattr(cli._common, "load_registry", lambda: reg)
    rows = {r["modality"]: r for r in json.loads(runner.invoke(cli.app, ["list-modalities", "--json"]).stdout)["modalities"]}
    assert rows["video"]["global_range"] is None and rows["video"]["rendered_from"] == ["speech", "image"]
    assert "rendered from speech+image" in runner.invoke(cli.app, ["list-modalities"]).stdout


def test_bench_lists_every_benchmark_with_what_it_measures_and_refuses_unknown_ones():
    from pathlib import Path

    folder = Path(cli.__file__).resolve().parents[2] / "benchmarks"
    result = runner.invoke(cli.app, ["bench"])
    assert result.exit_code == 0
    names = sorted(p.stem for p in folder.glob("*.py"))
    assert names and all(n in result.stdout for n in names)
    rows = [line for line in result.stdout.splitlines() if any(f" {n} " in line for n in names)]
    assert all(len(row.split("│")[2].strip()) > 10 for row in rows)  # each has a docstring line
    result = runner.invoke(cli.app, ["bench", "no_such_bench"])
    assert result.exit_code == 2 and "no benchmark 'no_such_bench'" in result.stderr
