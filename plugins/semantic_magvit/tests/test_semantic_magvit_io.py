"""PNG label sequences, colourized previews and images on disk."""

import numpy as np
import pytest

from archon_framework import DataError, RawValueError
from archon_semantic_magvit import PALETTE, load_image, load_label_pngs, save_image, save_label_pngs, save_preview, toy_image, toy_label_video


def test_png_sequence_round_trip(tmp_path):
    video = toy_label_video(3, 32, rng=np.random.default_rng(0))
    video[0, 0, 0] = 20
    save_label_pngs(video, tmp_path / "seq")
    np.testing.assert_array_equal(load_label_pngs(tmp_path / "seq"), video)


def test_bad_labels_are_refused(tmp_path):
    with pytest.raises(RawValueError, match="semantic"):
        save_label_pngs(np.full((1, 4, 4), 21, np.uint8), tmp_path)
    with pytest.raises(DataError):
        load_label_pngs(tmp_path / "missing")


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_previews_are_written(tmp_path, suffix):
    video = toy_label_video(4, 32, rng=np.random.default_rng(1))
    path = save_preview(video, tmp_path / f"p{suffix}", fps=10)
    assert path.stat().st_size > 0
    if suffix == ".gif":
        import imageio.v3 as iio

        frames = iio.imread(path)
        assert frames.shape[0] == 4


def test_image_round_trip(tmp_path):
    img = toy_image(rng=np.random.default_rng(2))
    save_image(img, tmp_path / "a.png")
    np.testing.assert_array_equal(load_image(tmp_path / "a.png"), img)
    assert load_image(tmp_path / "a.png", size=64).shape == (64, 64, 3)
    assert PALETTE.shape == (21, 3)
