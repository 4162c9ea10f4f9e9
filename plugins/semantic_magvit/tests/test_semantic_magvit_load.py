"""The semantic and image file loaders of manifest ingestion (archon_semantic_magvit._load)."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from archon_framework import ClipMeta, RawValueError
from archon_semantic_magvit import IMAGE, SEMANTIC, labels_to_colors, save_label_pngs, toy_image, toy_label_video
from archon_semantic_magvit._load import (
    load_reference_image,
    load_semantic,
    read_label_frames,
    resample_frame_indices,
)


def _meta(frames: int, fps: float = 30.0) -> ClipMeta:
    return ClipMeta(clip_id="c1", duration=frames / fps, frame_rate=fps, sample_rate=16_000)


@pytest.fixture(scope="module")
def video() -> np.ndarray:
    return toy_label_video(12, rng=np.random.default_rng(0), num_shapes=5)  # [12, 128, 128]


def _write(directory: Path, frames, names=None, mode="L") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(frames):
        Image.fromarray(np.asarray(frame), mode=mode).save(directory / (names[t] if names else f"{t:03d}.png"))
    return directory


def test_palette_pngs_round_trip_and_validate(tmp_path, video):
    save_label_pngs(video, tmp_path / "p")
    meta = _meta(12)
    loaded = load_semantic(tmp_path / "p", meta)
    np.testing.assert_array_equal(loaded, video)
    assert SEMANTIC.load is load_semantic
    np.testing.assert_array_equal(SEMANTIC.check_raw(loaded, meta), video)


def test_grayscale_frames_are_sorted_by_name_numerically(tmp_path, video):
    names = [f"f{t}.png" for t in range(12)]  # f10.png sorts before f2.png as plain text
    _write(tmp_path / "g", video, names)
    (tmp_path / "g" / "notes.txt").write_text("ignored")
    np.testing.assert_array_equal(read_label_frames(tmp_path / "g"), video)


def test_colourized_pngs_map_back_to_labels(tmp_path, video):
    _write(tmp_path / "c", labels_to_colors(video), mode="RGB")
    np.testing.assert_array_equal(load_semantic(tmp_path / "c", _meta(12)), video)


def test_colours_off_the_palette_are_refused_naming_file_and_frame(tmp_path, video):
    colors = labels_to_colors(video).copy()
    colors[3, 10, 20] = (60, 60, 60)  # between black and grey: no label's colour
    _write(tmp_path / "c", colors, mode="RGB")
    with pytest.raises(RawValueError, match=r"003\.png, frame 3\): 1 pixel\(s\) are no colour of the label palette"):
        load_semantic(tmp_path / "c", _meta(12))


def test_label_ids_outside_0_to_20_are_refused_naming_file_and_frame(tmp_path, video):
    bad = video.copy()
    bad[5, 0, 0] = 21
    _write(tmp_path / "b", bad)
    with pytest.raises(RawValueError, match=r"005\.png, frame 5\): label ids must lie in 0\.\.20.*\[21\]"):
        load_semantic(tmp_path / "b", _meta(12))


def test_square_frames_of_another_size_are_resized_nearest(tmp_path, video):
    big = video.repeat(2, axis=1).repeat(2, axis=2)  # [12, 256, 256]
    _write(tmp_path / "big", big)
    np.testing.assert_array_equal(load_semantic(tmp_path / "big", _meta(12)), video)


def test_wrong_frame_sizes_are_refused(tmp_path, video):
    _write(tmp_path / "wide", video[:, :, :100])
    with pytest.raises(RawValueError, match=r"frame 0\): frame is 100x128 pixels; label maps must be square"):
        load_semantic(tmp_path / "wide", _meta(12))
    _write(tmp_path / "mixed", [video[0], video[1, :64, :64]])
    with pytest.raises(RawValueError, match=r"001\.png, frame 1\): frame is 64x64 but frame 0"):
        load_semantic(tmp_path / "mixed", _meta(2))


def test_frame_counts_pad_or_drop_within_tolerance_else_refused(tmp_path, video):
    save_label_pngs(video, tmp_path / "p")  # 12 frames
    padded = load_semantic(tmp_path / "p", _meta(14))  # 2 missing: last frame repeated
    np.testing.assert_array_equal(padded[:12], video)
    np.testing.assert_array_equal(padded[12:], video[[11, 11]])
    np.testing.assert_array_equal(load_semantic(tmp_path / "p", _meta(10)), video[:10])  # 2 extra dropped
    with pytest.raises(RawValueError, match=r"12 frames .* lasts 0\.6 s = 18 frames; at most 3 frame"):
        load_semantic(tmp_path / "p", _meta(18))
    with pytest.raises(RawValueError, match=r"12 frames .* = 6 frames"):
        load_semantic(tmp_path / "p", _meta(6))


def test_label_video_is_resampled_to_the_clip_rate(tmp_path, video):
    iio.imwrite(tmp_path / "v.mp4", labels_to_colors(video), fps=20, codec="libx264", macro_block_size=1)
    meta = _meta(18)  # 12 frames at 20 fps = 0.6 s = 18 frames at 30 fps
    loaded = load_semantic(tmp_path / "v.mp4", meta)
    assert loaded.shape == (18, 128, 128) and loaded.dtype == np.uint8
    expected = video[resample_frame_indices(12, 20.0, 30.0)]  # nearest source frame in time
    assert (loaded == expected).mean() > 0.95  # lossy coding smears label edges
    SEMANTIC.check_raw(loaded, meta)


def test_a_video_that_is_not_colourized_labels_is_refused(tmp_path):
    noise = np.random.default_rng(1).integers(0, 256, (4, 128, 128, 3), dtype=np.uint8)
    iio.imwrite(tmp_path / "n.mp4", noise, fps=30, codec="libx264", macro_block_size=1)
    with pytest.raises(RawValueError, match=r"n\.mp4, frame 0\): \d+% of the pixels are no colour"):
        load_semantic(tmp_path / "n.mp4", _meta(4))


def test_missing_or_unsupported_semantic_inputs_are_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(RawValueError, match="no .png frames"):
        load_semantic(tmp_path / "empty", _meta(2))
    (tmp_path / "x.npy").write_bytes(b"")
    with pytest.raises(RawValueError, match=r"x\.npy.*folder of label PNGs"):
        load_semantic(tmp_path / "x.npy", _meta(2))
    with pytest.raises(RawValueError, match=r"gone\.mp4: cannot decode"):
        load_semantic(tmp_path / "gone.mp4", _meta(2))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "0.png").write_text("not a png")
    with pytest.raises(RawValueError, match=r"0\.png, frame 0\): cannot read"):
        load_semantic(tmp_path / "bad", _meta(1))


@settings(max_examples=80, deadline=None)
@given(frames=st.integers(1, 120), src=st.sampled_from([10.0, 24.0, 25.0, 29.97, 30.0, 50.0, 60.0]))
def test_frame_resampling_is_nearest_in_time_and_covers_the_source(frames, src):
    idx = resample_frame_indices(frames, src, 30.0)
    assert len(idx) == max(1, round(frames * 30.0 / src))
    assert idx[0] == 0 and np.all(np.diff(idx) >= 0) and idx.max() < frames
    times = np.arange(len(idx)) / 30.0
    inside = times <= (frames - 1) / src
    assert np.all(np.abs(idx[inside] / src - times[inside]) <= 0.5 / src + 1e-9)


# ---------------------------------------------------------------- image


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return toy_image(256, rng=np.random.default_rng(3))


def test_png_image_round_trips_and_validates(tmp_path, image):
    Image.fromarray(image).save(tmp_path / "a.png")
    meta = _meta(3)
    loaded = load_reference_image(tmp_path / "a.png", meta)
    np.testing.assert_array_equal(loaded, image)
    assert IMAGE.load is load_reference_image
    np.testing.assert_array_equal(IMAGE.check_raw(loaded, meta), image)


def test_jpeg_and_other_square_sizes_are_resized_to_256(tmp_path, image):
    Image.fromarray(image).save(tmp_path / "a.jpg", quality=95)
    jpg = load_reference_image(tmp_path / "a.jpg", _meta(3))
    assert jpg.shape == (256, 256, 3) and np.abs(jpg.astype(int) - image).mean() < 4
    Image.fromarray(image.repeat(2, axis=0).repeat(2, axis=1)).save(tmp_path / "big.png")  # 512 x 512
    big = load_reference_image(tmp_path / "big.png", _meta(3))
    assert big.shape == (256, 256, 3) and np.abs(big.astype(int) - image).mean() < 4
    Image.fromarray(image[::2, ::2]).convert("L").save(tmp_path / "gray.png")  # 128 x 128 grayscale
    gray = load_reference_image(tmp_path / "gray.png", _meta(3))
    assert gray.shape == (256, 256, 3) and np.array_equal(gray[..., 0], gray[..., 2])


def test_first_frame_of_a_video_is_the_image(tmp_path, image):
    iio.imwrite(tmp_path / "v.mp4", np.stack([image, 255 - image]), fps=30, codec="libx264", macro_block_size=1)
    loaded = load_reference_image(tmp_path / "v.mp4", _meta(2))
    assert loaded.shape == (256, 256, 3) and np.abs(loaded.astype(int) - image).mean() < 8


def test_bad_images_are_refused_naming_the_file(tmp_path, image):
    Image.fromarray(image[:, :200]).save(tmp_path / "wide.png")
    with pytest.raises(RawValueError, match=r"wide\.png\): image is 200x256 pixels.*square"):
        load_reference_image(tmp_path / "wide.png", _meta(1))
    rgba = np.concatenate([image, np.full((256, 256, 1), 255, np.uint8)], axis=-1)
    rgba[0, 0, 3] = 0
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "alpha.png")
    with pytest.raises(RawValueError, match=r"alpha\.png\): has transparent pixels"):
        load_reference_image(tmp_path / "alpha.png", _meta(1))
    (tmp_path / "junk.png").write_text("junk")
    with pytest.raises(RawValueError, match=r"junk\.png\): cannot read"):
        load_reference_image(tmp_path / "junk.png", _meta(1))
    with pytest.raises(RawValueError, match=r"missing\.png\): cannot read"):
        load_reference_image(tmp_path / "missing.png", _meta(1))
    with pytest.raises(RawValueError, match="got a folder"):
        load_reference_image(tmp_path, _meta(1))


def test_padding_and_dropping_frames_are_said():
    """Issue 28, defect 1: a loader that pads or trims says so (DataWarning)."""
    from archon_framework import DataWarning
    from archon_semantic_magvit._load import fit_frame_count

    meta = ClipMeta(clip_id="c", duration=1.0, frame_rate=30, sample_rate=16_000)
    with pytest.warns(DataWarning, match=r"labels/: padded 29 frames to the clip's 30"):
        assert fit_frame_count(np.zeros((29, 4, 4), np.uint8), meta, where="labels/").shape == (30, 4, 4)
    with pytest.warns(DataWarning, match=r"dropped the last 2 of 32 frames"):
        assert fit_frame_count(np.zeros((32, 4, 4), np.uint8), meta, where="labels/").shape == (30, 4, 4)


def test_resizing_is_said_once_per_file(tmp_path):
    """Issue 28, defect 1: 256 x 256 label PNGs resized to 128 x 128 are said, once per file."""
    import warnings

    from archon_framework import DataWarning

    labels = toy_label_video(3, rng=np.random.default_rng(0)).repeat(2, axis=1).repeat(2, axis=2)  # [3, 256, 256]
    save_label_pngs(labels, tmp_path / "big")
    meta = ClipMeta(clip_id="c", duration=0.1, frame_rate=30, sample_rate=16_000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert SEMANTIC.load(tmp_path / "big", meta).shape == (3, 128, 128)
    said = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert len(said) == 1 and "big): 256x256 label maps resized to 128x128 (nearest neighbour) (3 frames)" in said[0]
    Image.fromarray(toy_image(512, rng=np.random.default_rng(1))).save(tmp_path / "big.png")
    with pytest.warns(DataWarning, match=r"big\.png\): 512x512 pixels resized to 256x256"):
        IMAGE.load(tmp_path / "big.png", meta)
