"""Exported and shipped models: an export loads and generates as its run does, ships into the
packages, resolves by name (`archon generate --checkpoint NAME`, `archon list-models`), and a
changed, missing or unlisted shipped file is refused, naming it, before anything loads."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import equinox as eqx
import jax
import numpy as np
import pytest
from typer.testing import CliRunner

import archon_framework.cli as cli
import archon_framework.infer._export as export_mod
import archon_framework.infer._shipped as shipped_mod
from archon_framework import CheckpointError
from archon_framework.infer import (export_model, generate, load_checkpoint, resolve_model, ship_model, shipped_models,
                                   tokenizers_folder)
from archon_framework.eval._cli import heldout_clips
from archon_framework.infer import Chain, ChainStep, parse_slot
from archon_framework.model import Sampling
from archon_framework.train import CheckpointConfig, DataConfig, TrainConfig, Trainer
from test_infer_kit import META, THINK, toy_clip, toy_registry, write_condition_files


@pytest.fixture(scope="module")
def registry():
    return toy_registry()


@pytest.fixture(scope="module")
def run(registry, tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    cfg = TrainConfig(out_dir=str(root / "run"), steps=2, log_every=1,
                      data=DataConfig(suite="toy_infer", seq_len=512, batch_size=2, packing_bins=2),
                      checkpoint=CheckpointConfig(every=2, keep=1))
    Trainer(cfg, registry, clips=[toy_clip(i) for i in range(4)], progress=False).train()
    tokenizers = root / "tokenizers" / "speech"  # a trained tokenizer's folder, as a trainer writes it
    tokenizers.mkdir(parents=True)
    (tokenizers / "config.json").write_text('{"levels": 1}\n')
    np.save(tokenizers / "codebook.npy", np.arange(12, dtype=np.float32))
    return root


@pytest.fixture
def packages(tmp_path, monkeypatch):
    """Each package's folder in a temporary tree, and the user's cache there too."""
    roots = tmp_path / "site-packages"
    monkeypatch.setattr(shipped_mod, "_package_dir", lambda package: roots / (package or "toyplugin"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return roots


def _tokens(model, seed=0):
    clip = toy_clip(9)
    result = generate(model, {"speech": clip["speech"], "image": clip["image"]}, THINK, meta=META,
                      sampling=Sampling(greedy=True), seed=seed)
    return [None if s.global_ids is None else np.asarray(s.global_ids).tolist() for s in result.steps]


def test_a_float32_export_generates_the_run_s_tokens(registry, run, tmp_path):
    record = json.loads(export_model(run / "run", tmp_path / "m", registry, tokenizers=run / "tokenizers",
                                     name="toy", recipe="r", command="archon test", commit="abc").read_text())
    assert record["step"] == 2 and set(record["tokenizers"]) == {"speech"} and record["commit"] == "abc"
    manifest = json.loads((tmp_path / "m" / "lm" / "weights-manifest.json").read_text())
    assert set(manifest["files"]) == {"params.eqx", "suite.json", "model.json"} and manifest["command"] == "archon test"
    original, exported = load_checkpoint(run / "run", registry), load_checkpoint(tmp_path / "m", registry)
    assert exported.step == original.step and [t.name for t in exported.suite.tasks] == [t.name for t in original.suite.tasks]
    for a, b in zip(jax.tree.leaves(eqx.filter(original.lm, eqx.is_array)), jax.tree.leaves(eqx.filter(exported.lm, eqx.is_array))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert _tokens(original) == _tokens(exported)
    assert (exported.artifacts / "speech" / "codebook.npy").is_file()


def test_a_bfloat16_export_is_half_the_size_and_within_rounding(registry, run, tmp_path):
    export_model(run / "run", tmp_path / "f", registry, name="toy", dtype="float32")
    export_model(run / "run", tmp_path / "b", registry, name="toy", dtype="bfloat16")
    full, half = ((tmp_path / d / "lm" / "params.eqx").stat().st_size for d in ("f", "b"))
    assert half < 0.6 * full
    a, b = load_checkpoint(tmp_path / "f", registry), load_checkpoint(tmp_path / "b", registry)
    for x, y in zip(jax.tree.leaves(eqx.filter(a.lm, eqx.is_array)), jax.tree.leaves(eqx.filter(b.lm, eqx.is_array))):
        assert y.dtype == x.dtype  # cast back to the model's dtype
        np.testing.assert_allclose(np.asarray(y), np.asarray(x), rtol=2**-7, atol=1e-30)
    with pytest.raises(CheckpointError, match="dtype must be one of"):
        export_model(run / "run", tmp_path / "x", registry, name="toy", dtype="int8")


def test_shipped_by_name_for_load_generate_and_the_cli(registry, run, tmp_path, packages, monkeypatch):
    export_model(run / "run", tmp_path / "m", registry, tokenizers=run / "tokenizers", name="toy-ref")
    written = ship_model(tmp_path / "m")
    assert written[0] == packages / "archon_framework" / "weights" / "toy-ref"
    assert (written[1] / "weights-manifest.json").is_file() and written[1].name == "speech"
    assert list(shipped_models()) == ["toy-ref"]
    folder = resolve_model("toy-ref")
    assert (folder / "lm").is_dir() and (folder / "tokenizers" / "speech" / "codebook.npy").is_file()
    assert resolve_model(tmp_path / "m") == tmp_path / "m"  # a path stays a path
    # The tokenizers of a shipped model (into its plugin's package) and of an exported folder.
    assert tokenizers_folder("toy-ref") == (folder / "tokenizers").resolve()
    assert (tokenizers_folder("toy-ref") / "speech").resolve() == written[1].resolve()
    assert tokenizers_folder(tmp_path / "m") == (tmp_path / "m" / "tokenizers").resolve()
    with pytest.raises(CheckpointError, match=re.escape(f"{tmp_path / 'gen'}: no tokenizers folder")):
        tokenizers_folder(tmp_path / "gen")
    model = load_checkpoint("toy-ref", registry)
    assert model.step == 2 and _tokens(model) == _tokens(load_checkpoint(run / "run", registry))

    monkeypatch.setattr(cli._common, "load_registry", lambda: registry)
    monkeypatch.setattr(cli._common, "loaded", [])
    runner = CliRunner()
    listed = runner.invoke(cli.app, ["list-models", "--json"])
    assert listed.exit_code == 0 and json.loads(listed.output)[0]["name"] == "toy-ref"
    files = write_condition_files(tmp_path / "in", toy_clip(7))
    out = tmp_path / "gen"
    result = runner.invoke(cli.app, ["generate", "--checkpoint", "toy-ref", "--chain", "speech+image->identity,expression",
                                     "--out", str(out), "--seconds", "0.4", "--frame-rate", "10", "--sample-rate", "100",
                                     "--input", f"speech={files['speech']}", "--input", f"image={files['image']}"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "manifest.json").read_text())["checkpoint_step"] == 2


@pytest.mark.parametrize("damage", ["changed", "missing", "unlisted"])
def test_a_damaged_shipped_file_is_refused_by_name(registry, run, tmp_path, packages, damage):
    export_model(run / "run", tmp_path / "m", registry, tokenizers=run / "tokenizers", name="toy-ref")
    where = ship_model(tmp_path / "m")[1]  # the speech tokenizer, in the package of the plugin that owns it
    assert where.parts[-3:] == ("weights", "toy-ref", "speech") and where.is_relative_to(packages)
    if damage == "changed":
        data = bytearray((where / "codebook.npy").read_bytes())
        data[-1] ^= 0xFF
        (where / "codebook.npy").write_bytes(bytes(data))
        match = r"codebook\.npy: sha256 .* does not match"
    elif damage == "missing":
        (where / "codebook.npy").unlink()
        match = r"codebook\.npy: listed in .* but missing"
    else:
        (where / "extra.npy").write_bytes(b"x")
        match = r"not listed in .*extra\.npy|extra\.npy"
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint("toy-ref", registry)


def test_a_changed_lm_file_is_refused_and_a_missing_plugin_named(registry, run, tmp_path, packages):
    export_model(run / "run", tmp_path / "m", registry, tokenizers=run / "tokenizers", name="toy-ref")
    ship_model(tmp_path / "m")
    params = packages / "archon_framework" / "weights" / "toy-ref" / "lm" / "params.eqx"
    original = params.read_bytes()
    params.write_bytes(original[:-4] + b"\0\0\0\0")
    with pytest.raises(CheckpointError, match=r"params\.eqx: sha256 .* not loading it"):
        load_checkpoint("toy-ref", registry)
    params.write_bytes(original)
    record = json.loads((params.parent.parent / "model.json").read_text())
    record["tokenizers"]["speech"]["package"] = "archon_not_installed_plugin"
    (params.parent.parent / "model.json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="its speech tokenizer ships with plugin .* not installed|is missing from plugin"):
        resolve_model("toy-ref")


def test_the_exported_folder_of_a_run_is_not_half_written_on_failure(registry, run, tmp_path, monkeypatch):
    dest = tmp_path / "m"
    export_model(run / "run", dest, registry, name="toy")
    before = (dest / "lm" / "params.eqx").read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(export_mod, "write_weights_manifest", fail)
    with pytest.raises(OSError, match="disk full"):
        export_model(run / "run", dest, registry, name="toy")
    assert (dest / "lm" / "params.eqx").read_bytes() == before  # the previous export is intact


def test_shipped_reference_weights_verify_load_and_generate():
    """The weights this repository ships (archon pretrain --recipe cpu-reference): every manifest
    holds, and the model loads with the installed plugins and generates a chain step."""
    from archon_framework import load_registry

    shipped = shipped_models()
    if "cpu-reference" not in shipped:
        pytest.skip("no shipped cpu-reference weights in this checkout")
    record = json.loads((shipped["cpu-reference"] / "model.json").read_text())
    assert record["recipe"] == "cpu-reference" and record["command"].startswith("archon pretrain")
    total = sum(p.stat().st_size for p in Path(resolve_model("cpu-reference")).rglob("*") if p.is_file())
    assert total <= 60 * 2**20
    registry = load_registry()
    model = load_checkpoint("cpu-reference", registry)
    assert model.step == record["step"] and len(model.suite) >= 10
    clips, _ = heldout_clips(registry, n=1, dataset=record["heldout_dataset"], seconds=record["clip_seconds"], seed=0)
    step = Chain("shipped-check", (parse_slot("description(t)"),),
                 (ChainStep(parse_slot("script(c)"), (parse_slot("description(t)"),)),))
    result = generate(model, {"description": clips[0]["description"]}, step, meta=clips[0].meta,
                      sampling=Sampling(greedy=True), seed=0)
    ids = np.asarray(result.steps[-1].global_ids)
    assert ids.size and np.all(model.layout.range(registry.modality("script").vocabulary.name).contains(ids))


def test_two_installations_keep_their_own_model_folders(registry, run, tmp_path, packages, monkeypatch):
    """A second installation on the machine (another checkout's packages) resolves the same name
    to a folder of its own: the first one's links are never turned into the other tree, so a
    process that resolved the model keeps loading it when the other checkout is deleted."""
    export_model(run / "run", tmp_path / "m", registry, tokenizers=run / "tokenizers", name="toy-ref")
    ship_model(tmp_path / "m")
    first = resolve_model("toy-ref")
    assert resolve_model("toy-ref") == first  # the same installation: the same folder
    other = tmp_path / "other-site-packages"
    shutil.copytree(packages, other)
    monkeypatch.setattr(shipped_mod, "_package_dir", lambda package: other / (package or "toyplugin"))
    second = resolve_model("toy-ref")
    assert second != first and second.parent == first.parent
    assert (second / "tokenizers" / "speech").resolve().is_relative_to(other)
    shutil.rmtree(other)  # the other checkout is removed
    assert (first / "tokenizers" / "speech").resolve().is_relative_to(packages)
    assert (first / "tokenizers" / "speech" / "codebook.npy").is_file() and (first / "lm").is_dir()
