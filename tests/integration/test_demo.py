"""`archon demo` end to end on the built-in plugins, at the smallest budget, and its reuse."""

from __future__ import annotations

import json

import pytest
from PIL import Image
from typer.testing import CliRunner

import archon_framework.cli as cli
from archon_framework import load_registry

THINKING = ("identity", "expression", "semantic", "description", "video")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    registry = load_registry()
    missing = {"speech", "image", "semantic", "video", "description"} - set(registry.modalities)
    if missing:
        pytest.fail(f"built-in modalities not installed: {missing}; failures: {registry.failures}")
    out = tmp_path_factory.mktemp("demo") / "run"
    args = ["demo", "--train", "--out", str(out), "--minutes", "0.05", "--steps", "2", "--clips", "2", "--heldout", "1",
            "--no-progress"]
    first = CliRunner().invoke(cli.app, args)
    assert first.exit_code == 0, first.output
    second = CliRunner().invoke(cli.app, args)
    assert second.exit_code == 0, second.output
    return out, first, second


@pytest.mark.slow
def test_demo_writes_every_chain_with_the_ground_truth(demo):
    out, first, _ = demo
    summary = json.loads((out / "demo.json").read_text())
    assert summary["lm_steps"] == 2
    [columns] = summary["samples"]
    chains = [c.split("/")[-1] for c in columns]
    assert chains == ["ground-truth", "text-to-all", "speech-to-video", "speech-to-video-direct"]
    manifests = {c: json.loads((out / col / "manifest.json").read_text()) for c, col in zip(chains[1:], columns[1:])}
    made = {c: [s["slot"].split("(")[0] for s in m["steps"] if s["kind"] != "given"] for c, m in manifests.items()}
    assert made["speech-to-video"] == list(THINKING)  # the chain's order, thinking before video
    # The ablation skips the thinking modalities; video is still rendered from semantic + description.
    assert made["speech-to-video-direct"] == ["semantic", "description", "video"]
    for chain, manifest in manifests.items():
        for step in manifest["steps"]:
            assert step["kind"] in ("given", "generated", "rendered"), (chain, step)
            if step["kind"] != "given":
                assert step["files"], (chain, step)
                assert all((out / columns[chains.index(chain)] / f).is_file() for f in step["files"]), (chain, step)
    page = (out / "index.html").read_text()
    for title in ("text-to-all", "speech-to-video (thinking)", "speech-to-video (direct)", "ground truth"):
        assert title in page
    with Image.open(out / "contact_sheet.png") as sheet:
        assert sheet.width > 256 and sheet.height > 256
    assert "demo written" in first.stdout
    # every training stage is reported, and at this budget each one is below its minimum, loudly
    stages = {st["stage"]: st for st in summary["stages"]}
    assert stages["language model (tiny)"]["steps"] == 2 and stages["language model (tiny)"]["below_min"]
    assert any(name.startswith("speech") for name in stages) and any(name.startswith("video") for name in stages)
    assert set(summary["undertrained"]) == {n for n, st in stages.items() if st["below_min"]}
    assert "UNDERTRAINED" in first.output and "BELOW MINIMUM" in page


@pytest.mark.slow
def test_a_second_demo_run_reuses_what_the_first_trained(demo):
    out, _, second = demo
    text = second.output
    assert "data: found 2 synthetic_heads clips" in text
    assert "tokenizer speech: found" in text and "tokenizer semantic: found" in text
    assert "LM: found a checkpoint of step 2" in text
    timings = json.loads((out / "demo.json").read_text())["timings_s"]
    assert not any(k.startswith("tokenizer ") for k in timings) and "lm" not in timings
    # the reused stages are still reported from their marks
    assert "language model (tiny)" in {st["stage"] for st in json.loads((out / "demo.json").read_text())["stages"]}


@pytest.mark.slow
def test_a_demo_folder_made_with_other_data_settings_is_refused(demo):
    out, _, _ = demo
    result = CliRunner().invoke(cli.app, ["demo", "--train", "--out", str(out), "--clips", "3", "--heldout", "1",
                                          "--no-progress"])
    assert result.exit_code == 2
    assert "made its data with other settings" in result.stderr and "clips 2 -> 3" in result.stderr


@pytest.mark.slow
def test_the_demo_runs_an_exported_model_without_training(demo, tmp_path):
    """`archon demo --model FOLDER` (what `archon demo` does with the shipped model): held-out clips
    only, nothing trained, every output scored against the ground truth on the page and in demo.json."""
    from archon_framework.infer import export_model

    trained, _, _ = demo
    export_model(trained / "lm", tmp_path / "model", load_registry(), tokenizers=trained / "tokenizers", name="demo")
    out = tmp_path / "run"
    result = CliRunner().invoke(cli.app, ["demo", "--model", str(tmp_path / "model"), "--out", str(out),
                                          "--heldout", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "demo.json").read_text())
    assert summary["stages"] == [] and summary["model"]["step"] == 2
    assert not (out / "data").exists() and (out / "heldout").is_dir()
    scored = summary["scores_vs_ground_truth"]
    assert any(k.startswith("speech-to-video (thinking): expression") for k in scored)
    assert "vs ground truth" in (out / "index.html").read_text()
