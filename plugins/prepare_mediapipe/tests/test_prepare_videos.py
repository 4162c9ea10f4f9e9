"""`archon data prepare` on a folder of real mp4s: good clips stored, bad ones named and skipped,
and the prepared dataset trains the LM with `archon train` as it is."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from archon_framework import load_registry
from archon_framework.data import REPORT_FILE, ClipDataset
from archon_prepare_mediapipe import write_video
from archon_synthetic_heads import generate_clip
from archon_text_t5 import DESCRIPTION_EXAMPLE, validate_description

SECONDS = 1.2


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    import archon_framework.cli as cli

    d = tmp_path_factory.mktemp("videos")
    a, b = (generate_clip(i, seed=0, seconds=SECONDS, split="test") for i in range(2))
    write_video(d / "talk0.mp4", a["video"], 30.0, a["speech"])
    (d / "talk0.description.json").write_text(json.dumps(DESCRIPTION_EXAMPLE, default=dict))
    write_video(d / "talk1.mp4", b["video"], 30.0, b["speech"])
    (d / "talk1.srt").write_text("1\n00:00:00,100 --> 00:00:00,900\nhello there\n\n2\n00:00:05,000 --> 00:00:06,000\nlater\n")
    noise = np.random.default_rng(0).integers(0, 255, (30, 96, 128, 3), dtype=np.uint8)
    write_video(d / "noface.mp4", noise, 25.0, a["speech"][:16_000])
    write_video(d / "twofaces.mp4", np.concatenate([a["video"], b["video"]], axis=2), 30.0, a["speech"])
    (d / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(500))
    c = generate_clip(2, seed=0, seconds=2 * SECONDS + 0.4, split="test")
    lost = c["video"].copy()
    lost[36:48] = noise[:12, :1, :1]  # 0.4 s without a face in the middle: split around it
    write_video(d / "lost.mp4", lost, 30.0, c["speech"])
    (d / "prepare.toml").write_text("min_seconds = 0.8\n")
    out = tmp_path_factory.mktemp("prepared") / "data"
    runner = CliRunner()
    result = runner.invoke(cli.app, ["data", "prepare", "--videos", str(d), "--out", str(out), "--config", str(d / "prepare.toml")])
    return out, result, a, b


def test_good_videos_give_every_modality_and_bad_ones_are_named_and_skipped(prepared):
    out, result, a, b = prepared
    assert result.exit_code == 0, result.output
    report = json.loads((out / REPORT_FILE).read_text())
    status = {k: (v["status"], [i["kind"] for i in v["issues"]]) for k, v in report["videos"].items()}
    assert status == {"broken": ("skipped", ["corrupt"]), "noface": ("skipped", ["no_face"]),
                      "twofaces": ("skipped", ["several_faces"]), "talk0": ("prepared", []), "talk1": ("prepared", []),
                      "lost": ("partial", ["face_lost"])}
    for name in ("broken", "noface", "twofaces", "lost"):
        assert name in result.output
    clips = {c.clip_id: c for c in ClipDataset(out)}
    assert sorted(clips) == ["lost:000", "lost:001", "talk0", "talk1"]
    first, second = clips["lost:000"].meta, clips["lost:001"].meta
    assert first.start == 0 and 1.0 <= first.duration <= 1.3 and 1.5 <= second.start <= 1.7
    t = int(round(SECONDS * 25))
    shapes = {k: np.shape(v) for k, v in clips["talk0"].values.items() if isinstance(v, np.ndarray)}
    assert shapes == {"speech": (int(SECONDS * 16_000),), "video": (t, 256, 256, 3), "image": (256, 256, 3),
                      "semantic": (t, 128, 128), "identity": (100,), "expression": (t, 50), "pose": (t, 6)}
    assert clips["talk0"]["description"] == validate_description(json.loads(json.dumps(DESCRIPTION_EXAMPLE, default=dict)))
    assert "description" not in clips["talk1"] and report["totals"]["without"] == {"description": 3}
    assert clips["talk1"]["script"] == "hello there"  # the captions given, not ASR; the late cue is outside
    assert isinstance(clips["talk0"]["script"], str)  # recognized (pocketsphinx)
    assert np.array_equal(clips["talk0"]["image"], clips["talk0"]["video"][0])
    labels = set(np.unique(clips["talk0"]["semantic"]))
    assert {0, 1, 4, 5} <= labels  # background, face, upper and lower lip
    jaw = clips["talk0"]["expression"][:, 0]
    truth = a["expression"][:, 0]  # at 30 fps
    frames_30 = np.round(np.arange(t) * 30 / 25).astype(int).clip(0, len(truth) - 1)
    assert np.corrcoef(jaw, truth[frames_30])[0, 1] > 0.7


@pytest.mark.slow  # ~2 min on 2 busy cores: every tokenizer of archon72 encodes the clips, then one LM step
def test_the_prepared_dataset_trains_with_archon_train(prepared, tmp_path):
    import archon_framework.cli as cli

    out = prepared[0]
    (tmp_path / "train.toml").write_text(f"""
out_dir = "{tmp_path / 'run'}"
steps = 1
tensorboard = false
[data]
dataset = "{out}"
suite = "archon72"
seq_len = 4096
batch_size = 1
packing_bins = 1
[checkpoint]
every = 1
keep = 1
""")
    result = CliRunner().invoke(cli.app, ["train", "--config", str(tmp_path / "train.toml"), "--no-progress"])
    assert result.exit_code == 0, result.output
    metrics = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert metrics and np.isfinite(metrics[-1]["loss"])


def test_the_registry_lists_the_steps_in_order():
    from archon_framework.data import PrepareConfig, plan_steps

    order = [s.name for s in plan_steps(load_registry().prepare_steps, PrepareConfig())]
    assert order.index("media") < order.index("face") < order.index("crop") < order.index("semantic")
    assert order.index("face") < order.index("morphable") and order.index("media") < order.index("script")


@pytest.mark.slow  # compiles the expression tokenizer's training step
def test_the_prepared_animation_trains_the_flame_tokenizer(prepared, tmp_path):
    registry = load_registry()
    clips = ClipDataset(prepared[0])
    report = registry.modalities["expression"].trainer(clips, out_dir=tmp_path / "expression", steps=2, progress=False)
    assert report and (tmp_path / "expression").exists()
    tok = registry.tokenizer("expression", tmp_path)
    local_ids = tok.encode(clips[0]["expression"], meta=clips[0].meta)
    assert local_ids.shape == (registry.modalities["expression"].token_count(clips[0].meta),)
