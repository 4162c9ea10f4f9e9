"""Provenance of a chain run's files: `write_outputs` signs every generated file and records the run
(checkpoint, plugins, condition hashes) in manifest.json; a plugin's own step marks its modality;
`archon verify` reports each file and an edited copy; turning provenance off is recorded."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from archon_framework import PluginError, hookimpl
from archon_framework.infer import generate, write_outputs
from archon_framework.provenance import (
    WATERMARK_NAME,
    ProvenanceConfig,
    ProvenanceStep,
    detect_watermark,
    sidecar_path,
    stamp_value,
    verify_file,
    verify_files,
)
from archon_framework.testing import make_registry
from test_infer_kit import META, THINK, ToyPlugin, toy_clip, toy_model
from test_provenance import head

EXTRA = {"checkpoint": "runs/toy-lm", "checkpoint_step": 12}


def _lsb_mark(value, *, modality, meta):
    frames = np.array(value, copy=True)
    frames[..., 0, 0, 2] |= 1  # blue LSB of each frame's corner: a (fragile) plugin mark
    return frames


def _lsb_detect(path):
    if path.suffix != ".npz":
        return None
    with np.load(path) as z:
        return {"detected": bool(np.all(z["value"][..., 0, 0, 2] & 1))}


class CornerMark:
    @hookimpl
    def archon_provenance_steps(self):
        return [ProvenanceStep(name="corner-lsb", modalities=("video",), mark=_lsb_mark, detect=_lsb_detect,
                               description="test mark")]


@pytest.fixture(scope="module", autouse=True)
def identity_dir(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        folder = tmp_path_factory.mktemp("identity")
        mp.setenv("ARCHON_PROVENANCE_DIR", str(folder))
        for var in ("ARCHON_C2PA_CERT", "ARCHON_C2PA_KEY", "ARCHON_C2PA_TRUST"):
            mp.delenv(var, raising=False)
        yield folder


@pytest.fixture(scope="module")
def registry():
    return make_registry(("toy_infer", ToyPlugin()), ("corner", CornerMark()))


@pytest.fixture(scope="module")
def run(registry):
    model = toy_model(registry)
    clip = toy_clip(0)
    return generate(model, {"speech": clip["speech"], "image": clip["image"]}, THINK, meta=META, seed=3)


@pytest.fixture(scope="module")
def written(run, registry, tmp_path_factory):
    out = tmp_path_factory.mktemp("gen") / "run"
    src = out.parent / "speech.npy"
    np.save(src, np.asarray(run.conditions[next(iter(run.conditions))]))
    manifest = write_outputs(run, out, registry.modalities, extra=EXTRA,
                             condition_files={next(iter(run.conditions)): str(src)},
                             provenance=ProvenanceConfig.from_registry(registry))
    return out, json.loads(manifest.read_text())


def test_every_generated_file_is_signed_and_the_manifest_records_the_run(written, run, registry):
    out, manifest = written
    generated = [f for st in manifest["steps"] for f in st["files"]] + ["tokens.npz", "manifest.json"]
    assert {"video.gif", "video.npz", "script.txt", "identity.npz"} <= set(generated)
    for r in verify_files([out / f for f in generated]):
        assert (r.status, r.generated_by_archon, r.altered, r.checkpoint, r.step) == \
            ("generated", True, False, "runs/toy-lm", 12), r
        assert r.generation["chain"] == "toy-think" and r.generation["conditions"] == manifest["condition_sha256"]
    assert manifest["checkpoint"] == "runs/toy-lm" and manifest["checkpoint_step"] == 12
    assert "archon-framework" in manifest["plugins"] and manifest["provenance"]["enabled"] is True
    assert manifest["provenance"]["steps"] == ["corner-lsb"]
    hashes = manifest["condition_sha256"]
    assert set(hashes) == {str(s) for s in run.conditions}
    assert all(len(h["value_sha256"]) == 64 for h in hashes.values())
    assert sum("file_sha256" in h for h in hashes.values()) == 1
    for cond in out.glob("conditions/*"):  # the user's inputs are not claimed as generated
        assert not cond.name.endswith(".c2pa") and verify_file(cond).status == "no-manifest"
    video = next(st for st in manifest["steps"] if st["slot"].startswith("video"))
    assert video["files"] and verify_file(out / "video.npz", steps=registry.provenance_steps.values()).plugin_marks == {"corner-lsb": {"detected": True}}
    signed = verify_file(out / "video.gif").generation
    assert signed["marks"] == ["corner-lsb"] and signed["step"] == video["slot"]  # 8x8 frames: too small to watermark


def test_verify_reports_an_edited_copy_and_exits_nonzero(written, tmp_path):
    from archon_framework.cli import app

    out, manifest = written
    for name in ("video.gif", "script.txt", "identity.npz"):
        shutil.copy(out / name, tmp_path / name)
        if sidecar_path(out / name).exists():
            shutil.copy(sidecar_path(out / name), sidecar_path(tmp_path / name))
    (tmp_path / "script.txt").write_text((out / "script.txt").read_text() + " (edited)")
    runner = CliRunner()
    ok = runner.invoke(app, ["verify", str(out / "video.gif"), str(out / "identity.npz"), "--json"])
    assert ok.exit_code == 0, ok.output
    assert [r["status"] for r in json.loads(ok.stdout)] == ["generated", "generated"]
    bad = runner.invoke(app, ["verify", "--json", str(tmp_path / "script.txt"), str(tmp_path / "identity.npz"),
                              str(tmp_path / "absent.mp4"), str(out / "conditions")])
    assert bad.exit_code == 1, bad.output
    rows = json.loads(bad.stdout)
    assert [(r["status"], r["altered"]) for r in rows] == [("altered", True), ("generated", False), ("missing", None),
                                                            ("missing", None)]
    assert rows[0]["checkpoint"] == "runs/toy-lm"
    table = runner.invoke(app, ["verify", str(tmp_path / "script.txt")])
    assert table.exit_code == 1 and "altered" in table.stdout and "Traceback" not in table.stdout


def test_provenance_off_is_explicit_and_recorded(run, registry, tmp_path):
    out = tmp_path / "plain"
    manifest = json.loads(write_outputs(run, out, registry.modalities, extra=EXTRA,
                                        provenance=ProvenanceConfig(enabled=False)).read_text())
    assert manifest["provenance"]["enabled"] is False and "turned off" in manifest["provenance"]["note"]
    assert not list(out.rglob("*.c2pa"))
    assert verify_file(out / "video.gif").status == "no-manifest"
    assert manifest["checkpoint_step"] == 12 and manifest["condition_sha256"]


def test_stamp_value_watermarks_frames_and_runs_plugin_steps():
    img = head(4, 96)
    marked, applied = stamp_value(img, "image", META, ProvenanceConfig(plugins={}))
    assert applied == [WATERMARK_NAME] and detect_watermark(marked, search=False).detected
    same, none = stamp_value(img, "image", META, ProvenanceConfig(enabled=False, plugins={}))
    assert none == [] and same is img
    wave = np.zeros(100, np.float32)
    assert stamp_value(wave, "speech", META, ProvenanceConfig(plugins={}))[1] == []  # audio: credentials only
    broken = ProvenanceStep(name="broken", modalities=("image",), mark=lambda v, **k: None)
    with pytest.raises(PluginError, match="broken"):
        stamp_value(img, "image", META, ProvenanceConfig(steps=(broken,), plugins={}))


def test_a_plugin_step_of_the_wrong_type_is_reported_not_fatal():
    class Bad:
        @hookimpl
        def archon_provenance_steps(self):
            return ["not a step"]

    reg = make_registry(("bad", Bad()))
    assert not reg.provenance_steps and any(f.plugin.name == "bad" for f in reg.failures)


def test_generate_has_the_explicit_off_switch():
    from archon_framework.cli import app

    result = CliRunner().invoke(app, ["generate", "--help"], terminal_width=200)
    assert result.exit_code == 0 and "--no-provenance" in result.stdout
