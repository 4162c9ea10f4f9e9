"""Tests of archon_framework's per-frame helpers: fitting a loaded sequence to its clip, and the
procedural label video."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework import FRAME_TOLERANCE_SECONDS, ClipMeta, DataWarning, RawValueError, fit_frame_count, moving_ellipses_labels


def _meta(frames: int, fps: float = 30.0) -> ClipMeta:
    return ClipMeta(clip_id="c", duration=frames / fps, frame_rate=fps, sample_rate=16_000)


@settings(max_examples=40, deadline=None)
@given(want=st.integers(1, 90), delta=st.integers(-3, 3), fps=st.sampled_from([25.0, 30.0]), width=st.integers(1, 3))
def test_within_the_tolerance_frames_are_padded_with_the_last_or_dropped_from_the_end(want, delta, fps, width):
    meta = _meta(want, fps)
    have = want + delta
    slack = max(1, int(FRAME_TOLERANCE_SECONDS * fps + 1e-9))  # 2 frames at 25 fps, 3 at 30 fps
    if have < 1:
        return
    values = np.arange(have * width, dtype=np.float32).reshape(have, width)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if abs(delta) > slack:
            with pytest.raises(RawValueError, match=r"x\.npz: .* at most \d frame\(s\)"):
                fit_frame_count(values, meta, where="x.npz")
            return
        out = fit_frame_count(values, meta, where="x.npz")
    assert out.shape == (want, width)
    keep = min(have, want)
    np.testing.assert_array_equal(out[:keep], values[:keep])  # earlier frames never change
    np.testing.assert_array_equal(out[keep:], np.repeat(values[-1:], want - keep, axis=0))
    said = [w for w in caught if issubclass(w.category, DataWarning)]
    assert len(said) == (delta != 0) and all("x.npz" in str(w.message) for w in said)


def test_no_frames_and_a_custom_tolerance():
    with pytest.raises(RawValueError, match="labels/: no frames"):
        fit_frame_count(np.zeros((0, 4, 4), np.uint8), _meta(1), where="labels/")
    with pytest.warns(DataWarning, match="dropped the last 12"):
        assert fit_frame_count(np.zeros((42, 2)), _meta(30), where="f", tolerance_seconds=0.5).shape == (30, 2)


def test_moving_ellipses_are_seeded_labels_on_background():
    a = moving_ellipses_labels(5, 32, num_labels=21, rng=np.random.default_rng(3), num_shapes=4)
    b = moving_ellipses_labels(5, 32, num_labels=21, rng=np.random.default_rng(3), num_shapes=4)
    assert a.shape == (5, 32, 32) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert a.max() < 21 and (a == 0).any() and (a > 0).any()
    assert not np.array_equal(a[0], a[-1])  # they move
    assert set(np.unique(moving_ellipses_labels(2, 16, num_labels=2, rng=np.random.default_rng(0)))) <= {0, 1}
    with pytest.raises(ValueError, match="num_labels=1"):
        moving_ellipses_labels(2, 16, num_labels=1, rng=np.random.default_rng(0))
