"""The 2-D preview: parameters drawn through the synthetic dataset's geometry, written as GIF/PNG."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image

from archon_framework import DataError, PluginError, RawValueError
from archon_flame_rvq import (
    FlameParams,
    FlameTokenizer,
    Normalizer,
    colorize_labels,
    preview_params,
    render_preview,
    save_flame_npz,
    save_preview,
)

heads = pytest.importorskip("archon_synthetic_heads")


def _label(name: str) -> int:
    from archon_semantic_magvit import LABEL_INDEX  # installed with archon-synthetic-heads

    return LABEL_INDEX[name]


@pytest.fixture(scope="module")
def clip():
    """A 0.5-s synthetic_heads clip (15 frames) and its person."""
    config = heads.SynthConfig(with_video=False)
    return heads.generate_clip(2, seed=5, seconds=0.5, config=config), heads.clip_appearance(2, seed=5)


@pytest.fixture(scope="module")
def fitted_expression_tokenizer(tiny_tokenizers, clip):
    """The tiny untrained expression tokenizer with the clip's statistics (decodes to its range)."""
    tok = tiny_tokenizers["expression"]
    return FlameTokenizer(tok.config, tok.model, tok.state, Normalizer.fit([clip[0]["expression"]]))


def test_ground_truth_parameters_reproduce_the_clips_labels(clip):
    c, person = clip
    labels = render_preview(shape=c["identity"], expression=c["expression"], pose=c["pose"], appearance=person)
    assert labels.shape == c["semantic"].shape
    agreement = float(np.mean(labels == c["semantic"]))
    assert agreement > 0.999, agreement  # the same renderer on the same inputs: 1.0 when written


def test_a_decoded_expression_sequence_renders(clip, fitted_expression_tokenizer, tmp_path):
    c, _ = clip
    tok = fitted_expression_tokenizer
    ids = tok.encode(c["expression"], meta=c.meta)  # 15 frames: padded to 16 inside
    decoded = tok.decode(ids, meta=c.meta)
    labels = render_preview(expression=decoded)  # neutral person, still head
    assert labels.shape == (15, 128, 128) and labels.dtype == np.uint8
    assert (labels == _label("face")).sum() > 15 * 1000
    gif = save_preview([render_preview(expression=c["expression"]), labels], tmp_path / "side.gif", fps=15)
    with Image.open(gif) as img:
        assert img.n_frames == 15 and img.size == (2 * 128 + 2, 128)
    png = save_preview(labels, tmp_path / "strip.png", columns=5)
    with Image.open(png) as img:
        assert img.size == (5 * 128, 128)


def test_missing_parts_are_neutral_and_shapes_are_checked():
    still = render_preview()  # one frame of the mean identity
    assert still.shape == (1, 128, 128)
    pose = np.zeros((4, 6), np.float32)
    pose[:, 1] = 0.3  # turned: the nose moves, so frames differ from the still head
    assert not np.array_equal(render_preview(pose=pose)[0], still[0])
    with pytest.raises(RawValueError, match="4 frames, pose 3"):
        render_preview(expression=np.zeros((4, 50)), pose=np.zeros((3, 6)))
    with pytest.raises(RawValueError, match="NaN"):
        render_preview(expression=np.full((2, 50), np.inf))


def test_a_missing_renderer_is_a_plugin_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "archon_synthetic_heads", None)  # import now fails
    with pytest.raises(PluginError, match="archon-synthetic-heads"):
        render_preview(expression=np.zeros((2, 50)))


def test_colours_use_the_semantic_palette_or_gray(monkeypatch):
    from archon_semantic_magvit import PALETTE

    labels = np.arange(21, dtype=np.uint8).reshape(1, 3, 7)
    np.testing.assert_array_equal(colorize_labels(labels), PALETTE[labels])
    monkeypatch.setitem(sys.modules, "archon_semantic_magvit", None)
    gray = colorize_labels(labels)
    assert np.all(gray[..., 0] == gray[..., 2]) and np.all(np.diff(gray[0, ..., 0].ravel().astype(int)) > 0)
    with pytest.raises(RawValueError, match="labels 0..20"):
        colorize_labels(np.full((1, 2, 2), 21, np.uint8))


def test_bad_preview_files_are_refused(tmp_path):
    labels = np.zeros((2, 8, 8), np.uint8)
    with pytest.raises(DataError, match=r"\.gif .* or \.png"):
        save_preview(labels, tmp_path / "x.mp4")
    with pytest.raises(RawValueError, match="equal frame counts"):
        save_preview([labels, labels[:1]], tmp_path / "x.gif")
    with pytest.raises(RawValueError, match="no frames"):
        save_preview(labels[:0], tmp_path / "x.gif")


def test_preview_cli_round_trips_through_saved_tokenizers(clip, fitted_expression_tokenizer, tmp_path):
    from typer.testing import CliRunner

    from archon_flame_rvq._cli import make_app

    c, _ = clip
    save_flame_npz(tmp_path / "p.npz", FlameParams(shape=c["identity"], expression=c["expression"], pose=c["pose"]))
    fitted_expression_tokenizer.save(tmp_path / "toks" / "expression")
    runner = CliRunner()
    result = runner.invoke(make_app(), ["preview", str(tmp_path / "p.npz"), "--out", str(tmp_path / "v.png"),
                                        "--tokenizers", str(tmp_path / "toks")])
    assert result.exit_code == 0, result.output
    assert "original | decoded" in result.output
    with Image.open(tmp_path / "v.png") as img:
        assert img.size == (8 * 128, 2 * 128)  # rows: original, decoded
    bad = runner.invoke(make_app(), ["preview", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "w.gif")])
    assert bad.exit_code == 2 and "missing.npz" in bad.output


def test_preview_params_without_tokenizers(clip, tmp_path):
    c, _ = clip
    params = FlameParams(shape=c["identity"], expression=c["expression"][:3], pose=c["pose"][:3])
    path = preview_params(params, tmp_path / "one.gif", seed=1)
    with Image.open(path) as img:
        assert img.n_frames == 3 and img.size == (128, 128)
