"""The mouth-opening and head-pitch metrics: what they reward, what they refuse."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework import ClipMeta, RawValueError
from archon_synthetic_heads import _plugin
from scipy.spatial.transform import Rotation

from archon_synthetic_heads._generate import perform
from archon_synthetic_heads._metrics import head_pitch, head_pitch_correlation, mouth_opening_correlation

META = ClipMeta(clip_id="c", duration=1.0, frame_rate=30.0, sample_rate=16000, source="synthetic_heads")


def _expr(jaw: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = rng.normal(size=(jaw.size, 50))
    out[:, 0] = jaw
    return out


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), gain=st.floats(0.1, 10.0), offset=st.floats(-2.0, 2.0))
def test_it_reads_only_the_mouth_and_ignores_its_scale(seed, gain, offset):
    rng = np.random.default_rng(seed)
    jaw = rng.random(30)
    ref = _expr(jaw, rng)
    same_mouth = _expr(gain * jaw + offset, rng)  # every other dimension redrawn
    assert mouth_opening_correlation(same_mouth, ref, meta=META) == pytest.approx(1.0)
    assert mouth_opening_correlation(_expr(-jaw, rng), ref, meta=META) == pytest.approx(-1.0)
    r = mouth_opening_correlation(_expr(rng.random(30), rng), ref, meta=META)
    assert -1.0 <= r <= 1.0


def test_a_still_mouth_scores_zero_and_a_still_reference_none():
    rng = np.random.default_rng(0)
    ref = _expr(rng.random(30), rng)
    assert mouth_opening_correlation(_expr(np.full(30, 0.3), rng), ref, meta=META) == 0.0
    assert math.isnan(mouth_opening_correlation(ref, _expr(np.zeros(30), rng), meta=META))


@pytest.mark.parametrize(("pred", "ref", "meta", "match"), [
    (np.zeros((29, 50)), np.zeros((30, 50)), META, r"one length.*\(29, 50\).*\(30, 50\)"),
    (np.zeros(30), np.zeros((30, 50)), META, "frames, dims"),
    (np.full((30, 50), np.nan), np.ones((30, 50)), META, "non-finite"),
    (np.zeros((30, 50)), np.zeros((30, 50)), ClipMeta(clip_id="v", duration=1.0, frame_rate=30.0, sample_rate=16000,
                                                        source="my_videos"), "clip v.*comes from 'my_videos'"),
])
def test_bad_input_is_refused_naming_the_clip_and_shapes(pred, ref, meta, match):
    with pytest.raises(RawValueError, match=match):
        mouth_opening_correlation(pred, ref, meta=meta)


def _pose(pitch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A pose whose pitch is `pitch` and whose yaw, roll and translation are random."""
    n = pitch.size
    euler = np.stack([pitch, rng.uniform(-0.4, 0.4, n), rng.uniform(-0.3, 0.3, n)], 1)
    return np.concatenate([Rotation.from_euler("xyz", euler).as_rotvec(), rng.normal(0, 0.01, (n, 3))], 1)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), gain=st.floats(0.2, 3.0), offset=st.floats(-0.2, 0.2))
def test_head_pitch_reads_only_the_nod_and_ignores_its_scale(seed, gain, offset):
    rng = np.random.default_rng(seed)
    pitch = rng.uniform(-0.1, 0.1, 30)
    ref = _pose(pitch, rng)
    np.testing.assert_allclose(head_pitch(ref), pitch, atol=1e-9)
    same_nod = _pose(gain * pitch + offset, rng)  # yaw, roll and translation redrawn
    assert head_pitch_correlation(same_nod, ref, meta=META) == pytest.approx(1.0)
    assert head_pitch_correlation(_pose(-pitch, rng), ref, meta=META) == pytest.approx(-1.0)


def test_a_synthetic_head_nods_with_its_own_words():
    """What makes the metric judge the pose step by its speech: a pose that nods 50 ms after each
    of the clip's word onsets (and is otherwise still) scores far higher against the clip's pose
    than the same nods at another clip's word onsets."""
    clips = [perform(i, seed=0, seconds=1.0, split="test") for i in range(16)]
    frames = clips[0].motion.pose.shape[0]
    t = np.arange(frames) / clips[0].meta.frame_rate

    def nods_at_words(c) -> np.ndarray:
        onsets = np.array([w.start + c.offset for w in c.synth.words])
        pitch = np.exp(-0.5 * ((t[None] + 0.05 - onsets[:, None]) / 0.1) ** 2).sum(0)
        return np.concatenate([Rotation.from_euler("x", 0.03 * pitch[:, None]).as_rotvec(), np.zeros((frames, 3))], 1)

    own = [head_pitch_correlation(nods_at_words(c), c.motion.pose, meta=META) for c in clips]
    other = [head_pitch_correlation(nods_at_words(clips[(i + 1) % 16]), c.motion.pose, meta=META)
             for i, c in enumerate(clips)]
    assert np.mean(own) > np.mean(other) + 0.3, (np.mean(own), np.mean(other))
    still = np.zeros((frames, 6))
    assert head_pitch_correlation(still, clips[0].motion.pose, meta=META) == 0.0
    assert math.isnan(head_pitch_correlation(clips[0].motion.pose, still, meta=META))


@pytest.mark.parametrize(("pred", "ref", "match"), [
    (np.zeros((29, 6)), np.zeros((30, 6)), r"one length.*\(29, 6\).*\(30, 6\)"),
    (np.zeros((30, 2)), np.zeros((30, 6)), r"dims >= 3"),
    (np.full((30, 6), np.nan), np.ones((30, 6)), "non-finite"),
])
def test_head_pitch_bad_input_is_refused_naming_the_clip_and_shapes(pred, ref, match):
    with pytest.raises(RawValueError, match=match) as err:
        head_pitch_correlation(pred, ref, meta=META)
    assert "pose (clip c)" in str(err.value)


def test_the_plugin_registers_them_for_expression_and_pose():
    metrics = {m.name: m for m in _plugin.archon_metrics()}
    assert metrics["mouth_opening_correlation"].modalities == ("expression",)
    assert metrics["head_pitch_correlation"].modalities == ("pose",)
    assert all(m.higher_is_better and not m.set_level for m in metrics.values())
