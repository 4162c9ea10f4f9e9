"""The FLAME preview: parameters drawn through the dataset's geometry, written as GIF/PNG, and
the ``archon heads preview-flame`` command (moved here from archon-flame-rvq, whose tokenizers
it uses: the dependency points from this dataset to the modality plugin)."""

from __future__ import annotations

import attrs
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from archon_framework import DataError, RawValueError
from archon_flame_rvq import FlameParams, FlameTokenizer, Normalizer, roundtrip_params, save_flame_npz, shipped_config
from archon_semantic_magvit import LABEL_INDEX, PALETTE
from archon_synthetic_heads import (
    SynthConfig,
    clip_appearance,
    generate_clip,
    preview_flame_params,
    render_flame_preview,
    save_label_preview,
)
from archon_synthetic_heads._cli import make_app


@pytest.fixture(scope="module")
def clip():
    """A 0.5-s synthetic_heads clip (15 frames) and its person."""
    return generate_clip(2, seed=5, seconds=0.5, config=SynthConfig(with_video=False)), clip_appearance(2, seed=5)


@pytest.fixture(scope="module")
def expression_tokenizer(clip):
    """A tiny untrained expression tokenizer with the clip's statistics (decodes to its range)."""
    cfg = shipped_config("small", "expression")
    cfg = attrs.evolve(cfg, model=attrs.evolve(cfg.model, channels=16, latent_dim=8))
    tok = FlameTokenizer.untrained(cfg, seed=3)
    return FlameTokenizer(tok.config, tok.model, tok.state, Normalizer.fit([clip[0]["expression"]]))


def test_ground_truth_parameters_reproduce_the_clips_labels(clip):
    c, person = clip
    labels = render_flame_preview(shape=c["identity"], expression=c["expression"], pose=c["pose"], appearance=person)
    np.testing.assert_array_equal(labels, c["semantic"])  # the same renderer on the same inputs


def test_a_decoded_expression_sequence_renders_beside_the_original(clip, expression_tokenizer, tmp_path):
    c, _ = clip
    params = FlameParams(shape=c["identity"], expression=c["expression"], pose=c["pose"])
    decoded = roundtrip_params(params, {"expression": expression_tokenizer}, fps=30.0)
    assert decoded.shape is params.shape and decoded.pose is params.pose  # untouched without a tokenizer
    assert decoded.expression.shape == c["expression"].shape and not np.allclose(decoded.expression, c["expression"])
    labels = render_flame_preview(expression=decoded.expression)  # neutral person, still head
    assert labels.shape == (15, 128, 128) and labels.dtype == np.uint8
    assert (labels == LABEL_INDEX["face"]).sum() > 15 * 1000
    gif = save_label_preview([render_flame_preview(expression=c["expression"]), labels], tmp_path / "side.gif", fps=15)
    with Image.open(gif) as img:
        assert img.n_frames == 15 and img.size == (2 * 128 + 2, 128)
    png = save_label_preview(labels, tmp_path / "strip.png", columns=5)
    with Image.open(png) as img:
        assert img.size == (5 * 128, 128)
        assert tuple(np.asarray(img.convert("RGB"))[64, 64]) == tuple(PALETTE[labels[0, 64, 64]])


def test_missing_parts_are_neutral_and_shapes_are_checked():
    still = render_flame_preview()  # one frame of the mean identity
    assert still.shape == (1, 128, 128)
    pose = np.zeros((4, 6), np.float32)
    pose[:, 1] = 0.3  # turned: the nose moves, so frames differ from the still head
    assert not np.array_equal(render_flame_preview(pose=pose)[0], still[0])
    with pytest.raises(RawValueError, match="4 frames, pose 3"):
        render_flame_preview(expression=np.zeros((4, 50)), pose=np.zeros((3, 6)))
    with pytest.raises(RawValueError, match="NaN"):
        render_flame_preview(expression=np.full((2, 50), np.inf))
    with pytest.raises(DataError, match="'speech' is not a FLAME modality"):
        roundtrip_params(FlameParams(shape=np.zeros(100), expression=np.zeros((2, 50)), pose=np.zeros((2, 6))),
                         {"speech": None})


def test_bad_preview_files_are_refused(tmp_path):
    labels = np.zeros((2, 8, 8), np.uint8)
    with pytest.raises(DataError, match=r"\.gif .* or \.png"):
        save_label_preview(labels, tmp_path / "x.mp4")
    with pytest.raises(RawValueError, match="equal frame counts"):
        save_label_preview([labels, labels[:1]], tmp_path / "x.gif")
    with pytest.raises(RawValueError, match="no frames"):
        save_label_preview(labels[:0], tmp_path / "x.gif")
    with pytest.raises(RawValueError, match="labels 0..20"):
        save_label_preview(np.full((1, 2, 2), 21, np.uint8), tmp_path / "x.png")
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_preview_command_round_trips_through_saved_tokenizers(clip, expression_tokenizer, tmp_path):
    c, _ = clip
    save_flame_npz(tmp_path / "p.npz", FlameParams(shape=c["identity"], expression=c["expression"], pose=c["pose"]))
    expression_tokenizer.save(tmp_path / "toks" / "expression")
    runner = CliRunner()
    result = runner.invoke(make_app(), ["preview-flame", str(tmp_path / "p.npz"), "--out", str(tmp_path / "v.png"),
                                        "--tokenizers", str(tmp_path / "toks")])
    assert result.exit_code == 0, result.output
    assert "original | decoded" in result.output
    with Image.open(tmp_path / "v.png") as img:
        assert img.size == (8 * 128, 2 * 128)  # rows: original, decoded
    bad = runner.invoke(make_app(), ["preview-flame", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "w.gif")])
    assert bad.exit_code == 2 and "missing.npz" in bad.output


def test_preview_without_tokenizers_is_one_video(clip, tmp_path):
    c, _ = clip
    params = FlameParams(shape=c["identity"], expression=c["expression"][:3], pose=c["pose"][:3])
    path = preview_flame_params(params, tmp_path / "one.gif", seed=1)
    with Image.open(path) as img:
        assert img.n_frames == 3 and img.size == (128, 128)
