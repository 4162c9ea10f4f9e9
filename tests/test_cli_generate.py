"""`archon generate` and `archon list-chains` end to end on a briefly trained toy checkpoint,
and the bad inputs they refuse (missing or wrong conditions, another layout, an existing out)."""

from __future__ import annotations

import json

import attrs
import numpy as np
import pytest
from typer.testing import CliRunner

import archon_framework.cli as cli
from archon_framework import LayoutMismatchError, Vocabulary, hookimpl
from archon_framework.infer import load_checkpoint
from archon_framework.testing import make_registry
from archon_framework.train import CheckpointConfig, DataConfig, TrainConfig, Trainer
from test_infer_kit import META, SUITE, ToyPlugin, toy_clip, toy_modalities, toy_registry, write_condition_files

CHAIN = "speech+image->identity,expression,script,video"
CLIP = ["--seconds", "0.4", "--frame-rate", "10", "--sample-rate", "100"]


@pytest.fixture(scope="module")
def registry():
    return toy_registry()


@pytest.fixture(scope="module")
def run(registry, tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_generate")
    cfg = TrainConfig(out_dir=str(root / "run"), steps=2, log_every=1,
                      data=DataConfig(suite="toy_infer", seq_len=512, batch_size=2, packing_bins=2),
                      checkpoint=CheckpointConfig(every=2, keep=1))
    Trainer(cfg, registry, clips=[toy_clip(i) for i in range(4)], progress=False).train()
    files = write_condition_files(root / "in", toy_clip(7))
    return root, files


@pytest.fixture
def invoke(registry, monkeypatch):
    monkeypatch.setattr(cli._common, "load_registry", lambda: registry)
    monkeypatch.setattr(cli._common, "loaded", [])

    def call(*args):
        return CliRunner().invoke(cli.app, [str(a) for a in args])

    return call


def _args(run, out, *inputs, chain=CHAIN):
    root, files = run
    args = ["generate", "--checkpoint", root / "run", "--chain", chain, "--out", out, *CLIP]
    for name in inputs:
        args += ["--input", f"{name}={files[name]}"]
    return args


def test_generate_writes_every_modality_and_a_manifest(run, invoke, tmp_path, registry):
    out = tmp_path / "out"
    result = invoke(*_args(run, out, "speech", "image"), "--seed", 3, "--temperature", 0.8, "--top-k", 5,
                    "--greedy-for", "script")
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sampling"]["greedy_for"] == ["script"]
    assert [s["slot"] for s in manifest["steps"]] == ["identity(t)", "expression(c)", "script(c)", "video(c)"]
    assert [s["kind"] for s in manifest["steps"]] == ["generated", "generated", "generated", "rendered"]
    assert manifest["checkpoint_step"] == 2 and manifest["sampling"]["top_k"] == 5 and manifest["seed"] == 3
    assert {"identity.npz", "expression.npz", "script.txt", "video.gif", "tokens.npz"} <= {p.name for p in out.iterdir()}
    assert {p.name for p in (out / "conditions").iterdir()} >= {"speech.npz", "image.npz"}
    layout = registry.layout()
    with np.load(out / "tokens.npz") as z:
        assert np.all(layout.range("expression").contains(z["expression(c)"]))
        assert z["expression(c)"].shape == (registry.modality("expression").token_count(META),)
    with np.load(out / "video.npz") as z:
        assert z["value"].shape == (META.frames, 8, 8, 3) and z["value"].dtype == np.uint8


def test_named_and_auto_chains(run, invoke, tmp_path):
    result = invoke("list-chains")
    assert result.exit_code == 0 and "speech-to-video-direct" in result.output and "text-to-all" in result.output
    rows = json.loads(invoke("list-chains", "--json").output)
    assert {r["name"] for r in rows} >= {"speech-to-video", "speech-to-video-direct", "text-to-all", "speech-to-all",
                                         "semantic-to-all", "video-to-all", "animation-to-video"}
    out = tmp_path / "auto"
    result = invoke(*_args(run, out, "speech", "image", chain="auto"), "--candidates",
                    "speech+image->identity,expression,video; speech+image->expression,video; text-to-all")
    assert result.exit_code == 0, result.output
    assert "choosing among speech+image->identity,expression,video, speech+image->expression,video" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    choice = {c["chain"]: c for c in manifest["choice"]}
    assert manifest["chain"] == manifest["choice"][0]["chain"] and f"chose {manifest['chain']}" in result.output
    assert set(choice) == {"speech+image->identity,expression,video", "speech+image->expression,video"}
    assert all(c["perplexity"] >= 1.0 for c in choice.values())


def test_missing_condition_is_refused(run, invoke, tmp_path):
    result = invoke(*_args(run, tmp_path / "o", "speech"))
    assert result.exit_code == 2 and "needs condition(s) image(t)" in result.output
    assert not (tmp_path / "o").exists()


def test_condition_of_the_wrong_length_is_refused(run, invoke, tmp_path):
    bad = tmp_path / "short.npy"
    np.save(bad, np.zeros((3, 2), np.float32))
    root, files = run
    result = invoke("generate", "--checkpoint", root / "run", "--chain", CHAIN, "--out", tmp_path / "o", *CLIP,
                    "--input", f"speech={bad}", "--input", f"image={files['image']}")
    assert result.exit_code == 2
    assert "modality 'speech'" in result.output and "expected shape (4, 2)" in result.output and "--seconds" in result.output


def test_existing_output_folder_needs_overwrite(run, invoke, tmp_path):
    out = tmp_path / "exists"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    result = invoke(*_args(run, out, "speech", "image"))
    assert result.exit_code == 2 and "exists; pass --overwrite" in result.output
    assert (out / "keep.txt").exists()
    result = invoke(*_args(run, out, "speech", "image"), "--overwrite", "--greedy")
    assert result.exit_code == 0, result.output
    assert not (out / "keep.txt").exists() and (out / "manifest.json").exists()


def test_checkpoint_of_another_vocabulary_layout_is_refused(run, invoke, tmp_path, monkeypatch):
    mods = [attrs.evolve(m, vocabulary=Vocabulary("speech", 20)) if m.name == "speech" else m for m in toy_modalities()]

    class Resized(ToyPlugin):
        @hookimpl
        def archon_modalities(self):
            return mods

    other = make_registry(("toy_infer", Resized()))
    with pytest.raises(LayoutMismatchError, match="vocabulary 'speech' has size 16 in the layout but 20 installed"):
        load_checkpoint(run[0] / "run", other)
    monkeypatch.setattr(cli._common, "load_registry", lambda: other)
    result = invoke(*_args(run, tmp_path / "o", "speech", "image"))
    assert result.exit_code == 2 and "does not match the installed plugins" in result.output


def test_other_bad_inputs(run, invoke, tmp_path, registry, monkeypatch):
    root, files = run
    base = ["generate", "--checkpoint", root / "run", "--out", tmp_path / "o", *CLIP]
    result = invoke(*base, "--chain", CHAIN, "--input", f"speech{files['speech']}")
    assert result.exit_code == 2 and "expected MODALITY=FILE" in result.output
    result = invoke(*base, "--chain", CHAIN, "--input", f"speech={tmp_path / 'none.npy'}", "--input", f"image={files['image']}")
    assert result.exit_code == 2 and "not found" in result.output
    result = invoke(*base, "--chain", "no-such-chain", "--input", f"speech={files['speech']}")
    assert result.exit_code == 2 and "no chain named 'no-such-chain'" in result.output
    result = invoke("generate", "--checkpoint", tmp_path, "--out", tmp_path / "o", "--chain", CHAIN, *CLIP,
                    "--input", f"speech={files['speech']}", "--input", f"image={files['image']}")
    assert result.exit_code == 2 and "not a training run" in result.output
    result = invoke(*base, "--chain", "speech+image->pose", "--input", f"speech={files['speech']}", "--input", f"image={files['image']}")
    assert result.exit_code == 2 and "modality 'pose' is not installed" in result.output
    result = invoke(*base, "--chain", "image->script", "--input", f"image={files['image']}")
    assert result.exit_code == 2 and "no task of the suite 'toy_infer' generates script(c)" in result.output
    assert "task image(t)->script(c) is not in the suite" in result.output
    # A modality without a file loader.
    mods = [attrs.evolve(m, load=None) if m.name == "image" else m for m in toy_modalities()]

    class NoLoader(ToyPlugin):
        @hookimpl
        def archon_modalities(self):
            return mods

    monkeypatch.setattr(cli._common, "load_registry", lambda: make_registry(("toy_infer", NoLoader())))
    result = invoke(*base, "--chain", CHAIN, "--input", f"speech={files['speech']}", "--input", f"image={files['image']}")
    assert result.exit_code == 2 and "modality 'image'" in result.output and "has no file loader" in result.output
    assert SUITE.name == "toy_infer"


def test_greedy_for_an_uninstalled_modality_is_refused_by_name(run, invoke, tmp_path):
    result = invoke(*_args(run, tmp_path / "out", "speech", "image"), "--greedy-for", "descripton")
    assert result.exit_code == 2 and "no installed modality 'descripton'" in result.output
    assert not (tmp_path / "out").exists()
