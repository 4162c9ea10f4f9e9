"""`archon data ingest` with real files read by the built-in plugins' loaders: wav/flac, label
PNGs, images, FLAME npz, description JSON and word-level captions for two clips, stored and read
back; a manifest whose files do not match its clips' lengths is refused, naming clip, file and
modality."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image
from typer.testing import CliRunner

import archon_framework.cli as cli
from archon_framework import ClipMeta, load_registry
from archon_framework.data import ClipDataset

LOADED = ("speech", "semantic", "image", "identity", "expression", "pose", "description", "script")
SECONDS, FPS, RATE = 1.0, 30, 16_000
runner = CliRunner()


@pytest.fixture(scope="module")
def registry():
    reg = load_registry()
    missing = [m for m in LOADED if m not in reg.modalities]
    if missing:
        pytest.fail(f"built-in modalities not installed: {missing}; failures: {reg.failures}")
    return reg


def _description() -> dict:
    from archon_text_t5 import DESCRIPTION_EXAMPLE, canonicalize_description

    return canonicalize_description(DESCRIPTION_EXAMPLE)


def _labels(frames: int, seed: int) -> np.ndarray:
    from archon_semantic_magvit import toy_label_video

    return toy_label_video(frames, rng=np.random.default_rng(seed))  # [frames, 128, 128]


def _write_clip_files(root: Path) -> dict:
    """Files for two clips in different formats and rates; returns what each clip should hold."""
    from archon_flame_rvq import FlameParams, save_flame_npz
    from archon_semantic_magvit import labels_to_colors, save_label_pngs, toy_image

    rng = np.random.default_rng(0)
    t = np.arange(int(0.9 * 44_100)) / 44_100  # c1: 0.9 s, 44.1 kHz stereo -> padded, mixed, resampled
    tone = 0.4 * np.sin(2 * np.pi * 300 * t)
    soundfile.write(root / "c1.wav", np.stack([tone, tone], axis=1), 44_100, subtype="PCM_16")
    speech2 = (0.3 * np.sin(2 * np.pi * 200 * np.arange(RATE) / RATE)).astype(np.float32)
    soundfile.write(root / "c2.flac", speech2, RATE)  # c2: exactly 1 s at 16 kHz

    labels1, labels2 = _labels(30, 1), _labels(29, 2)
    save_label_pngs(labels1, root / "c1_labels")  # palette PNGs, 30 frames
    (root / "c2_labels").mkdir()
    for i, frame in enumerate(labels_to_colors(labels2.repeat(2, axis=1).repeat(2, axis=2))):
        Image.fromarray(frame).save(root / "c2_labels" / f"f{i}.png")  # colourized 256 x 256, 29 frames

    image1 = toy_image(256, rng=rng)
    Image.fromarray(image1).save(root / "c1.png")
    Image.fromarray(toy_image(512, rng=rng)).save(root / "c2.jpg", quality=95)

    p1 = FlameParams(shape=rng.normal(size=100).astype(np.float32),
                     expression=rng.normal(size=(30, 50)).astype(np.float32),
                     pose=rng.normal(scale=0.1, size=(30, 6)).astype(np.float32))
    save_flame_npz(root / "c1.npz", p1)
    np.savez(root / "c2.npz", shape=rng.normal(size=(60, 100)), expression=rng.normal(size=(60, 50)),
             rotation=rng.normal(scale=0.1, size=(60, 3)), translation=rng.normal(size=(60, 3)), fps=60.0)

    description = _description()
    (root / "c1.json").write_text(json.dumps(description))
    (root / "c2.json").write_text(json.dumps({**description, "environment": {**description["environment"], "time_of_day": "Late Evening"}}))

    (root / "c1_words.json").write_text(json.dumps([
        {"word": "good", "start": 0.05, "duration": 0.3}, {"word": "morning", "start": 0.4, "end": 0.95},
        {"word": "everyone", "start": 0.98, "duration": 0.4}, {"word": "welcome", "start": 1.5, "duration": 0.4},
    ]))
    (root / "c2.srt").write_text("1\n00:00:00,000 --> 00:00:00,400\nhi\n\n2\n00:00:00,500 --> 00:00:00,900\nthere\n")
    return {"labels1": labels1, "labels2": labels2, "image1": image1, "p1": p1, "speech2": speech2,
            "description": description}


def _row(clip: str, files: dict) -> str:
    return json.dumps({"id": clip, "duration": SECONDS, "frame_rate": FPS, "sample_rate": RATE, "files": files})


def _files(clip: str, **override) -> dict:
    other = {"c1": {"speech": "c1.wav", "semantic": "c1_labels", "image": "c1.png", "script": "c1_words.json"},
             "c2": {"speech": "c2.flac", "semantic": "c2_labels", "image": "c2.jpg", "script": "c2.srt"}}[clip]
    npz = f"{clip}.npz"
    return {**other, "identity": npz, "expression": npz, "pose": npz, "description": f"{clip}.json", **override}


@pytest.fixture(scope="module")
def ingested(registry, tmp_path_factory):
    root = tmp_path_factory.mktemp("user_clips")
    expected = _write_clip_files(root)
    (root / "clips.jsonl").write_text(_row("c1", _files("c1")) + "\n" + _row("c2", _files("c2")) + "\n")
    result = runner.invoke(cli.app, ["data", "ingest", "--manifest", str(root / "clips.jsonl"), "--out", str(root / "ds")])
    assert result.exit_code == 0, result.output
    # Nothing is adjusted silently (issue 28, defect 1): each change is said with line, clip and file.
    said = " ".join(result.stderr.split())
    for change in ("clips.jsonl:1: clip 'c1', modality 'speech', file", "c1.wav): down-mixed 2 channels",
                   "c1.wav): resampled from 44100 Hz", "c1.wav): padded 0.900 s of audio with 0.100 s of silence",
                   "clips.jsonl:2: clip 'c2', modality 'semantic'", "padded 29 frames to the clip's 30",
                   "clips.jsonl:2: clip 'c2', modality 'expression'", "resampled 60 frames from 60 fps"):
        assert change in said, change
    assert "values adjusted to their clips" in " ".join(result.stdout.split())
    return root, ClipDataset(root / "ds"), expected


def test_ingested_clips_read_back_as_the_files_say(ingested):
    root, dataset, expected = ingested
    assert len(dataset) == 2 and set(LOADED) <= set(dataset.modalities)
    c1, c2 = dataset[0], dataset[1]
    assert c1.clip_id == "c1" and c1.meta.frames == 30 and c1.meta.samples == 16_000
    # speech: 0.9 s of stereo 44.1 kHz -> 16 kHz mono, then 0.1 s of silence
    assert c1["speech"].shape == (16_000,) and c1["speech"].dtype == np.float32
    assert not c1["speech"][14_500:].any() and np.abs(c1["speech"][:14_000]).max() > 0.35
    np.testing.assert_allclose(c2["speech"], expected["speech2"], atol=1e-4)
    # semantic: palette PNGs exact; 256 x 256 colourized PNGs back to 128 x 128 ids, 29 -> 30 frames
    np.testing.assert_array_equal(c1["semantic"], expected["labels1"])
    np.testing.assert_array_equal(c2["semantic"][:29], expected["labels2"])
    np.testing.assert_array_equal(c2["semantic"][29], expected["labels2"][28])
    np.testing.assert_array_equal(c1["image"], expected["image1"])
    assert c2["image"].shape == (256, 256, 3)
    # FLAME: c1 as saved; c2 at 60 fps resampled to 30, its per-frame shapes averaged
    np.testing.assert_array_equal(c1["identity"], expected["p1"].shape)
    np.testing.assert_array_equal(c1["expression"], expected["p1"].expression)
    np.testing.assert_array_equal(c1["pose"], expected["p1"].pose)
    with np.load(root / "c2.npz") as npz:
        np.testing.assert_allclose(c2["expression"], npz["expression"][::2], atol=1e-5)
        np.testing.assert_allclose(c2["pose"][:, 3:], npz["translation"][::2], atol=1e-5)
        np.testing.assert_allclose(c2["identity"], npz["shape"].mean(0), atol=1e-5)
    # text: canonical description; scripts are the caption words overlapping [0, 1 s)
    assert c1["description"] == expected["description"]
    assert c2["description"]["environment"]["time_of_day"] == "late_evening"
    assert c1["script"] == "good morning everyone" and c2["script"] == "hi there"


def test_every_stored_value_matches_its_loader_and_passes_validation(registry, ingested):
    root, dataset, _ = ingested
    for clip, name in zip(dataset, ("c1", "c2")):
        meta = ClipMeta(clip_id=name, duration=SECONDS, frame_rate=FPS, sample_rate=RATE)
        for modality, file in _files(name).items():
            direct = registry.modality(modality).load(root / file, meta)
            stored = clip[modality]
            if isinstance(direct, np.ndarray):
                np.testing.assert_array_equal(stored, direct)
            else:
                assert stored == direct
        registry.check_clip(clip)
    info = runner.invoke(cli.app, ["data", "info", str(root / "ds"), "--json"])
    assert info.exit_code == 0 and json.loads(info.stdout)["clips"] == 2


def _long_speech(root: Path) -> str:
    soundfile.write(root / "long.wav", np.zeros(24_000, np.float32), RATE)  # 1.5 s for a 1 s clip
    return "long.wav"


def _short_expression(root: Path) -> str:
    np.savez(root / "short.npz", expression=np.zeros((20, 50)))  # 20 frames for 30
    return "short.npz"


def _truncated_speech(root: Path) -> str:
    soundfile.write(root / "cut.wav", np.zeros(RATE, np.float32), RATE, subtype="PCM_16")
    (root / "cut.wav").write_bytes((root / "cut.wav").read_bytes()[:100])  # libsndfile reads 28 samples
    return "cut.wav"


def _many_label_frames(root: Path) -> str:
    from archon_semantic_magvit import save_label_pngs

    save_label_pngs(_labels(40, 3), root / "many")  # 40 frames for 30
    return "many"


@pytest.mark.parametrize(
    ("modality", "make", "message"),
    [
        ("speech", _long_speech, "longer than its clip"),
        ("speech", _truncated_speech, "shorter than its clip"),
        ("expression", _short_expression, "20 frames"),
        ("semantic", _many_label_frames, "40 frames"),
    ],
    ids=["speech-too-long", "speech-truncated", "expression-too-short", "semantic-too-long"],
)
def test_mismatched_lengths_are_refused_naming_clip_file_and_modality(ingested, tmp_path, modality, make, message):
    root = ingested[0]
    file = make(tmp_path)
    files = {k: str(root / v) for k, v in _files("c1").items()}
    (tmp_path / "bad.jsonl").write_text(_row("c1", files) + "\n" + _row("c3", {**files, modality: file}) + "\n")
    result = runner.invoke(cli.app, ["data", "ingest", "--manifest", str(tmp_path / "bad.jsonl"), "--out", str(tmp_path / "ds")])
    assert result.exit_code == 2
    assert f"bad.jsonl:2: clip 'c3', modality '{modality}', file {tmp_path / file}" in result.stderr
    assert message in result.stderr and "refused" in result.stderr
