"""The FLAME npz loaders of manifest ingestion (archon_flame_rvq._load)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from archon_framework import ClipMeta, RawValueError
from archon_flame_rvq import FlameDims, FlameParams, flame_modalities, save_flame_npz
from archon_flame_rvq._load import load_flame, resample_parameters


@pytest.fixture(scope="module")
def modalities():
    return {m.name: m for m in flame_modalities()}


def _meta(frames: int, fps: float = 30.0) -> ClipMeta:
    return ClipMeta(clip_id="c1", duration=frames / fps, frame_rate=fps, sample_rate=16_000)


def _params(frames: int, seed: int = 0) -> FlameParams:
    rng = np.random.default_rng(seed)
    return FlameParams(
        shape=rng.normal(size=100).astype(np.float32),
        expression=rng.normal(size=(frames, 50)).astype(np.float32),
        pose=rng.normal(scale=0.2, size=(frames, 6)).astype(np.float32),
    )


def test_one_npz_serves_all_three_modalities(tmp_path, modalities):
    params = _params(15)
    save_flame_npz(tmp_path / "f.npz", params)
    meta = _meta(15)
    expected = {"identity": params.shape, "expression": params.expression, "pose": params.pose}
    for name, mod in modalities.items():
        value = mod.load(tmp_path / "f.npz", meta)
        np.testing.assert_array_equal(value, expected[name])
        np.testing.assert_array_equal(mod.check_raw(value, meta), expected[name])


def test_identity_per_frame_is_averaged_and_pose_may_be_split(tmp_path):
    shapes = np.random.default_rng(1).normal(size=(4, 100)).astype(np.float32)
    rotation = np.full((6, 3), 0.1, np.float32)
    translation = np.arange(18, dtype=np.float32).reshape(6, 3)
    np.savez(tmp_path / "a.npz", shape=shapes, rotation=rotation, translation=translation)
    np.testing.assert_allclose(load_flame("identity", tmp_path / "a.npz", _meta(6)), shapes.mean(0), rtol=1e-6)
    pose = load_flame("pose", tmp_path / "a.npz", _meta(6))
    np.testing.assert_array_equal(pose, np.concatenate([rotation, translation], axis=1))
    np.savez(tmp_path / "b.npz", shape=shapes[:1])
    np.testing.assert_array_equal(load_flame("identity", tmp_path / "b.npz", _meta(6)), shapes[0])


def test_another_fps_is_resampled_to_the_clip_rate(tmp_path):
    t60 = np.arange(60) / 60.0  # 1 s at 60 fps
    expression = np.tile(t60[:, None], (1, 50)).astype(np.float32) * np.arange(50)  # linear in time
    angle = 0.8 * t60  # a steady turn about one axis
    axis = np.array([0.0, 0.6, 0.8])
    pose = np.concatenate([angle[:, None] * axis, np.tile(t60[:, None], (1, 3))], axis=1).astype(np.float32)
    np.savez(tmp_path / "f.npz", shape=np.zeros(100), expression=expression, pose=pose, fps=np.float64(60.0))
    meta = _meta(30)
    t30 = np.arange(30) / 30.0
    exp = load_flame("expression", tmp_path / "f.npz", meta)
    assert exp.shape == (30, 50)
    np.testing.assert_allclose(exp, np.tile(t30[:, None], (1, 50)) * np.arange(50), atol=1e-4)
    out = load_flame("pose", tmp_path / "f.npz", meta)
    np.testing.assert_allclose(out[:, :3], (0.8 * t30)[:, None] * axis, atol=1e-5)
    np.testing.assert_allclose(out[:, 3:], np.tile(t30[:, None], (1, 3)), atol=1e-5)
    np.savez(tmp_path / "g.npz", expression=expression[:50], fps=25)  # 2 s at 25 fps -> 60 frames
    assert load_flame("expression", tmp_path / "g.npz", _meta(60)).shape == (60, 50)


def test_rotations_are_interpolated_on_the_rotation_group():
    # Two rotations about different axes: the midpoint must be the geodesic (slerp) midpoint.
    a, b = Rotation.from_rotvec([0.0, 0.0, 1.2]), Rotation.from_rotvec([1.0, 0.0, 0.0])
    values = np.zeros((2, 6), np.float32)
    values[0, :3], values[1, :3] = a.as_rotvec(), b.as_rotvec()
    mid = resample_parameters(values, 1.0, 2.0, rotation_dims=3)[1, :3]  # t = 0.5
    half = a * Rotation.from_rotvec((a.inv() * b).as_rotvec() / 2)
    np.testing.assert_allclose(mid, half.as_rotvec(), atol=1e-5)


def test_dimensions_are_checked_against_flame_dims(tmp_path, modalities):
    np.savez(tmp_path / "wide.npz", expression=np.zeros((10, 100), np.float32))
    with pytest.raises(RawValueError, match=r"expression \(file .*wide\.npz\): array 'expression' must have shape \('\*', 50\), got \(10, 100\)"):
        modalities["expression"].load(tmp_path / "wide.npz", _meta(10))
    custom = {m.name: m for m in flame_modalities(dims=FlameDims(shape=10, expression=100))}
    assert custom["expression"].load(tmp_path / "wide.npz", _meta(10)).shape == (10, 100)
    np.savez(tmp_path / "s.npz", shape=np.zeros(300))
    with pytest.raises(RawValueError, match=r"array 'shape' must have shape \(100,\), got \(300,\)"):
        modalities["identity"].load(tmp_path / "s.npz", _meta(10))
    np.savez(tmp_path / "p.npz", rotation=np.zeros((10, 3)), translation=np.zeros((9, 3)))
    with pytest.raises(RawValueError, match=r"array 'translation' must have shape \(10, 3\)"):
        modalities["pose"].load(tmp_path / "p.npz", _meta(10))


def test_bad_npz_inputs_are_refused_naming_the_file(tmp_path):
    np.savez(tmp_path / "e.npz", shape=np.zeros(100))
    with pytest.raises(RawValueError, match=r"e\.npz\): no array 'expression' \(the npz holds: shape\)"):
        load_flame("expression", tmp_path / "e.npz", _meta(10))
    with pytest.raises(RawValueError, match=r"e\.npz\): no array 'pose' .* nor 'rotation'"):
        load_flame("pose", tmp_path / "e.npz", _meta(10))
    bad = np.zeros((10, 50), np.float32)
    bad[3, 4] = np.nan
    np.savez(tmp_path / "nan.npz", expression=bad)
    with pytest.raises(RawValueError, match=r"nan\.npz.*NaN"):
        load_flame("expression", tmp_path / "nan.npz", _meta(10))
    np.savez(tmp_path / "fps.npz", expression=np.zeros((10, 50)), fps=np.array([30.0, 25.0]))
    with pytest.raises(RawValueError, match=r"fps\.npz\): array 'fps' must be one positive number"):
        load_flame("expression", tmp_path / "fps.npz", _meta(10))
    np.save(tmp_path / "plain.npy", np.zeros((10, 50)))
    with pytest.raises(RawValueError, match=r"plain\.npy: expected an \.npz"):
        load_flame("expression", tmp_path / "plain.npy", _meta(10))
    (tmp_path / "junk.npz").write_text("junk")
    with pytest.raises(RawValueError, match=r"junk\.npz: cannot read"):
        load_flame("expression", tmp_path / "junk.npz", _meta(10))
    with pytest.raises(RawValueError, match=r"missing\.npz: cannot read"):
        load_flame("identity", tmp_path / "missing.npz", _meta(10))


def test_frame_counts_pad_or_drop_within_tolerance_else_refused(tmp_path):
    expression = np.random.default_rng(2).normal(size=(12, 50)).astype(np.float32)
    np.savez(tmp_path / "f.npz", expression=expression)
    padded = load_flame("expression", tmp_path / "f.npz", _meta(15))  # 3 short: last frame repeated
    np.testing.assert_array_equal(padded, np.concatenate([expression, expression[[11, 11, 11]]]))
    np.testing.assert_array_equal(load_flame("expression", tmp_path / "f.npz", _meta(9)), expression[:9])
    with pytest.raises(RawValueError, match=r"f\.npz\): 12 frames .* = 16 frames; at most 3 frame"):
        load_flame("expression", tmp_path / "f.npz", _meta(16))


@settings(max_examples=60, deadline=None)
@given(frames=st.integers(2, 40), dim=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_resampling_keeps_source_frames_at_shared_instants(frames, dim, seed):
    values = np.random.default_rng(seed).normal(size=(frames, dim)).astype(np.float32)
    np.testing.assert_array_equal(resample_parameters(values, 30.0, 30.0), values)
    half = resample_parameters(values, 60.0, 30.0)  # every other frame
    assert half.shape == (max(1, round(frames / 2)), dim)
    np.testing.assert_allclose(half, values[::2][: half.shape[0]], atol=1e-6)
    double = resample_parameters(values, 15.0, 30.0)  # even frames are the source frames
    assert double.shape == (2 * frames, dim)
    np.testing.assert_allclose(double[::2], values, atol=1e-6)


def test_padding_dropping_and_resampling_frames_are_said():
    """Issue 28, defect 1: a loader that pads, trims or resamples says so (DataWarning)."""
    from archon_framework import DataWarning
    from archon_flame_rvq._load import _per_frame, fit_frame_count

    meta = ClipMeta(clip_id="c", duration=1.0, frame_rate=30, sample_rate=16_000)
    with pytest.warns(DataWarning, match=r"f\.npz: padded 29 frames to the clip's 30"):
        assert fit_frame_count(np.zeros((29, 2), np.float32), meta, where="f.npz").shape == (30, 2)
    with pytest.warns(DataWarning, match=r"dropped the last 1 of 31 frames"):
        assert fit_frame_count(np.zeros((31, 2), np.float32), meta, where="f.npz").shape == (30, 2)
    with pytest.warns(DataWarning, match=r"resampled 25 frames from 25 fps to the clip's 30 fps"):
        assert _per_frame(np.zeros((25, 2), np.float32), 25.0, meta, "f.npz").shape == (30, 2)
