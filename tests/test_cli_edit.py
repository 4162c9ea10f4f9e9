"""`archon edit` end to end on a briefly trained toy checkpoint: a clip folder edited by its
script and by another clip's motion, the manifest of kept vs regenerated, and bad edits."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import archon_framework.cli as cli
from archon_framework import ClipMeta, hookimpl
from archon_framework.infer import Chain, ChainStep, EditingChain
from archon_framework.testing import make_registry
from archon_framework.train import CheckpointConfig, DataConfig, TrainConfig, Trainer
from archon_paper import _plugin as paper
from test_infer_kit import ToyPlugin, s, toy_clip, write_condition_files

CLIP = ["--frame-rate", "10", "--sample-rate", "100"]


class ToyEdits:
    """The toy editing chains, provided as any plugin provides chains (`archon_chains`)."""

    @hookimpl
    def archon_chains(self):
        return [EditingChain("toy-cli-script", Chain("toy-cli-script", (s("script(c)"), s("identity(t)")), (
                    ChainStep(s("speech(c)"), (s("script(c)"),)),
                    ChainStep(s("expression(c)"), (s("speech(c)"), s("identity(t)"))),
                    ChainStep(s("video(c)")),
                )), edits=("script",)),
                EditingChain("toy-cli-reenact", Chain("toy-cli-reenact", (s("expression(c)"), s("image(t)")), (
                    ChainStep(s("video(c)")),
                )), edits=("expression",))]


@pytest.fixture(scope="module")
def registry():
    return make_registry(("paper", paper), ("toy_infer", ToyPlugin()), ("toy_edits", ToyEdits()))


@pytest.fixture(scope="module")
def run(registry, tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_edit")
    cfg = TrainConfig(out_dir=str(root / "run"), steps=1, log_every=1,
                      data=DataConfig(suite="toy_infer", seq_len=512, batch_size=2, packing_bins=2),
                      checkpoint=CheckpointConfig(every=1, keep=1))
    Trainer(cfg, registry, clips=[toy_clip(i) for i in range(3)], progress=False).train()
    write_condition_files(root / "clip", toy_clip(7))
    longer = ClipMeta(clip_id="other", duration=0.6, frame_rate=10, sample_rate=100)
    write_condition_files(root / "other", toy_clip(8, longer))
    return root


@pytest.fixture
def invoke(registry, monkeypatch):
    monkeypatch.setattr(cli._common, "load_registry", lambda: registry)
    monkeypatch.setattr(cli._common, "loaded", [])
    return lambda *args: CliRunner().invoke(cli.app, [str(a) for a in args])


def _edit(run, out, edit, *more):
    return ["edit", "--checkpoint", run / "run", "--clip", run / "clip", "--edit", edit, "--out", out, *CLIP, *more]


def test_edit_a_script_writes_kept_and_regenerated(run, invoke, tmp_path):
    out = tmp_path / "edited"
    result = invoke(*_edit(run, out, "script=hello again", "--chain", "toy-cli-script", "--seed", 2, "--no-provenance"))
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    edit = manifest["edit"]
    assert edit["edited"] == ["script"] and edit["regenerated"] == ["speech", "expression", "video"]
    assert sorted(edit["kept"]) == ["identity", "image"]
    original = toy_clip(7)
    with np.load(out / "conditions" / "identity.npz") as z:
        np.testing.assert_array_equal(z["value"], original["identity"])  # kept bit-identical
    assert (out / "conditions" / "script.txt").read_text().startswith("hello again")
    assert {"speech.npz", "expression.npz", "tokens.npz"} <= {p.name for p in out.iterdir()}
    changed = edit["figures"]["tokens_changed"]  # measured against the clip's own tokens, and said
    assert set(changed) == {"speech", "expression"} and 0.0 <= changed["speech"]["changed"] <= 1.0
    assert "tokens changed from the clip's" in result.output


def test_motion_from_a_longer_clip_is_resampled_or_refused(run, invoke, tmp_path):
    out = tmp_path / "reenact"
    result = invoke(*_edit(run, out, f"motion={run / 'other'}", "--chain", "toy-cli-reenact", "--no-provenance"))
    assert result.exit_code == 0, result.output
    assert "resampled from 6 to 4 frames" in result.output
    edit = json.loads((out / "manifest.json").read_text())["edit"]
    assert edit["regenerated"] == ["video"] and "speech" in edit["kept"]
    assert any("resampled" in n for n in edit["notes"])
    refused = invoke(*_edit(run, tmp_path / "r2", f"motion={run / 'other'}", "--chain", "toy-cli-reenact",
                            "--motion-length", "refuse"))
    assert refused.exit_code != 0 and "6 frames" in refused.output and not (tmp_path / "r2").exists()


def test_bad_edits_name_what_is_wrong(run, invoke, tmp_path):
    import shutil

    bad_json = tmp_path / "desc.json"
    bad_json.write_text("{not json")
    no_script = tmp_path / "no_script"
    shutil.copytree(run / "clip", no_script)
    (no_script / "script.txt").unlink()
    cases = [
        # The toy registry has no description modality, so no installed chain edits it from a file.
        ("description=" + str(bad_json), [], "expected script=TEXT or motion=OTHER_CLIP"),
        ("pose=1", [], "expected script=TEXT"),
        ("script=hi", ["--chain", "toy-cli-reenact"], "edits expression, not script"),
        ("script=hi", ["--chain", "no-such-chain"], "no editing chain"),
    ]
    for edit, more, message in cases:
        out = tmp_path / "never"
        result = invoke(*_edit(run, out, edit, *more))
        assert result.exit_code != 0, (edit, result.output)
        assert message in " ".join(result.output.split()), (edit, result.output)
        assert not out.exists()
    # The clip lacks the modality being edited.
    lacking = ["edit", "--checkpoint", run / "run", "--clip", no_script, "--edit", "script=hi", "--out",
               tmp_path / "never", "--chain", "toy-cli-script", *CLIP]
    result = invoke(*lacking)
    assert result.exit_code != 0 and not (tmp_path / "never").exists()
    assert "has no 'script' (the modality being edited)" in " ".join(result.output.split()), result.output
