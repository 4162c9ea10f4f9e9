"""Video files: MP4 and GIF written and read back (imageio), the manifest loader, comparison strips."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archon_framework import ClipMeta, DataError, RawValueError
from archon_video_walt import VIDEO, load_video, side_by_side, write_video

# imageio-ffmpeg starts ffmpeg with fork + exec, which JAX's fork warning cannot tell from a bare fork.
pytestmark = pytest.mark.filterwarnings(r"ignore:os\.fork\(\) was called:RuntimeWarning")

PALETTE = np.array([[0, 0, 0], [255, 255, 255], [230, 30, 30], [20, 200, 40], [30, 40, 220]], np.uint8)


def meta(frames: int, fps: float = 30.0) -> ClipMeta:
    return ClipMeta(clip_id="io", duration=frames / fps, frame_rate=fps, sample_rate=16_000)


def _video(frame_colours: list[int], size: int = 16) -> np.ndarray:
    """One frame per entry: the top half in PALETTE[k], the bottom half in the next colour."""
    out = np.zeros((len(frame_colours), size, size, 3), np.uint8)
    for f, k in enumerate(frame_colours):
        out[f, : size // 2] = PALETTE[k % len(PALETTE)]
        out[f, size // 2:] = PALETTE[(k + 1) % len(PALETTE)]
    return out


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(colours=st.lists(st.integers(0, 2), min_size=1, max_size=24), fps=st.sampled_from([25.0, 30.0, 60.0]))
def test_gif_round_trips_exactly_even_with_repeated_frames(tmp_path, colours, fps):
    # Runs of equal frames are merged into one GIF image by Pillow; the delays restore them.
    video = _video(colours)
    path = write_video(video, tmp_path / "clip.gif", fps=fps)
    np.testing.assert_array_equal(load_video(path, meta(len(colours), fps)), video)


def test_mp4_round_trips_within_codec_error(tmp_path):
    yy, xx = np.mgrid[0:32, 0:48]
    frames = [np.stack([(xx * 5 + 10 * f) % 256, yy * 7, np.full_like(xx, 60 + 10 * f)], -1) for f in range(10)]
    video = np.asarray(frames, np.uint8)  # smooth gradients that move: what H.264 keeps well
    video[3] = video[2]
    path = write_video(video, tmp_path / "clip.mp4", fps=30)
    assert path.stat().st_size > 0 and not list(tmp_path.glob(".clip*"))  # no temporary file left behind
    back = load_video(path, meta(10))
    assert back.shape == video.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - video).mean() < 6


def test_loaded_files_are_valid_video_values(tmp_path):
    video = _video([0, 1, 2, 1, 0], size=16)
    path = write_video(video, tmp_path / "a.gif")
    VIDEO.check_raw(VIDEO.load(path, meta(5)), meta(5))
    np.save(tmp_path / "a.npy", video)
    np.testing.assert_array_equal(load_video(tmp_path / "a.npy", meta(5)), video)


def test_bad_files_and_values_are_named(tmp_path):
    video = _video([0, 1, 2])
    with pytest.raises(DataError, match=r"clip\.avi: video format must be one of \.mp4, \.gif"):
        write_video(video, tmp_path / "clip.avi")
    with pytest.raises(RawValueError, match=r"modality 'video': expected uint8 \[frames, H, W, 3\]"):
        write_video(video.astype(np.float32), tmp_path / "clip.gif")
    with pytest.raises(RawValueError, match="frames >= 1"):
        write_video(video[:0], tmp_path / "clip.gif")
    path = write_video(video, tmp_path / "clip.gif")
    with pytest.raises(RawValueError, match=r"clip\.gif: 3 frames, but clip 'io' needs 5"):
        load_video(path, meta(5))
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    with pytest.raises(RawValueError, match=r"junk\.mp4: cannot read a video"):
        load_video(tmp_path / "junk.mp4", meta(3))
    np.save(tmp_path / "wide.npy", np.zeros((3, 8, 8, 3), np.float32))
    with pytest.raises(RawValueError, match="8-bit"):
        load_video(tmp_path / "wide.npy", meta(3))


def test_side_by_side_puts_videos_and_colourized_labels_in_a_row():
    a, b = _video([0, 1, 2]), _video([2, 1])
    labels = np.zeros((3, 8, 8), np.uint8)
    labels[:, :4] = 3
    strip = side_by_side(a, b, semantic=PALETTE[labels])  # the caller colourizes (its palette)
    assert strip.shape == (2, 16, 48, 3)  # shortest length, three panels of 16 pixels
    np.testing.assert_array_equal(strip[:, :, 16:32], a[:2])
    np.testing.assert_array_equal(strip[:, :, 32:], b)
    assert not np.array_equal(strip[0, 0, 0], strip[0, -1, 0])  # label 3 and background differ in colour
    with pytest.raises(RawValueError, match="colourized label video"):
        side_by_side(a, semantic=labels)  # label ids, not colours
