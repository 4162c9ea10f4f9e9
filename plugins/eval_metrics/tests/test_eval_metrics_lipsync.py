"""Lip sync: the offset search on hand-made signals with a known lag, and on a real clip."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework import ClipMeta, RawValueError
from archon_semantic_magvit import LABEL_INDEX
from archon_eval_metrics import (
    MOUTH_INTERIOR_LABELS,
    lipsync_area_envelope,
    mouth_opening_area,
    sync_offsets,
)
from archon_eval_metrics._lipsync import lipsync_confidence_metric, lipsync_distance_metric


def _smooth_signal(rng: np.random.Generator, frames: int) -> np.ndarray:
    """A syllable-like positive signal: smoothed noise, clipped at 0 (silences included)."""
    x = np.convolve(rng.normal(size=frames + 8), np.hanning(7), mode="same")[4 : frames + 4]
    return np.clip(x, 0.0, None)


def _delayed(x: np.ndarray, lag: int) -> np.ndarray:
    """``x`` delayed by ``lag`` frames (advanced when negative), zero-filled."""
    out = np.zeros_like(x)
    if lag >= 0:
        out[lag:] = x[: x.shape[0] - lag]
    else:
        out[:lag] = x[-lag:]
    return out


@settings(max_examples=40, deadline=None)
@given(lag=st.integers(-12, 12), seed=st.integers(0, 2**16))
def test_known_lag_is_found(lag, seed):
    rng = np.random.default_rng(seed)
    area = _smooth_signal(rng, 120)
    envelope = 3.0 * _delayed(area, lag) + 0.05 * rng.random(120)  # scale and noise do not matter
    score = sync_offsets(area, envelope)
    assert score.offset == lag
    assert score.confidence > 0.2
    assert score.distance == pytest.approx(score.distances.min())
    assert score.confidence == pytest.approx(np.median(score.distances) - score.distance)


def test_identical_signals_have_zero_distance_at_offset_zero():
    area = _smooth_signal(np.random.default_rng(0), 90)
    score = sync_offsets(area, area)
    assert score.offset == 0 and score.distance == pytest.approx(0.0, abs=1e-12)
    assert score.distances.shape == (31,) and score.max_offset == 15


def test_constant_mouth_has_no_confidence():
    envelope = _smooth_signal(np.random.default_rng(1), 60)
    score = sync_offsets(np.full(60, 0.2), envelope)
    assert score.confidence == pytest.approx(0.0, abs=1e-12)
    assert score.offset == 0  # ties go to the smallest |offset|


def test_short_clips_clamp_the_search_range():
    score = sync_offsets(np.arange(5.0), np.arange(5.0))
    assert score.max_offset == 4 and score.distances.shape == (9,)


def test_mouth_area_counts_interior_labels_only():
    video = np.zeros((3, 10, 10), np.uint8)
    video[:, 0, :] = LABEL_INDEX["upper_lip"]  # lips are not the opening
    video[1, 5, :4] = LABEL_INDEX["teeth"]
    video[2, 5:7, :] = LABEL_INDEX["other_in_the_mouth"]
    video[2, 8, 0] = LABEL_INDEX["tongue"]
    np.testing.assert_allclose(mouth_opening_area(video), [0.0, 0.04, 0.21])
    assert set(MOUTH_INTERIOR_LABELS) <= set(LABEL_INDEX)


def _shift_speech(wave: np.ndarray, frames: int, meta: ClipMeta) -> np.ndarray:
    """Delay the speech by ``frames`` video frames, keeping its length."""
    n = int(round(abs(frames) * meta.sample_rate / meta.frame_rate))
    if frames >= 0:
        return np.concatenate([np.zeros(n, wave.dtype), wave[: wave.shape[0] - n]])
    return np.concatenate([wave[n:], np.zeros(n, wave.dtype)])


def test_real_clip_is_in_sync(talking_clip):
    score = lipsync_area_envelope(talking_clip["semantic"], talking_clip["speech"], meta=talking_clip.meta)
    assert abs(score.offset) <= 1  # the generator drives the jaw by the loudness of the same frame
    assert score.confidence > 0.3


@pytest.mark.parametrize("shift", [-6, -2, 3, 8])
def test_shifting_the_audio_moves_the_best_offset_by_the_shift(talking_clip, shift):
    meta = talking_clip.meta
    base = lipsync_area_envelope(talking_clip["semantic"], talking_clip["speech"], meta=meta)
    moved = lipsync_area_envelope(talking_clip["semantic"], _shift_speech(talking_clip["speech"], shift, meta), meta=meta)
    assert moved.offset - base.offset == shift
    # the metric fns score the prediction against its own speech: out of sync costs distance
    aligned = {"semantic": talking_clip["semantic"], "speech": talking_clip["speech"]}
    assert lipsync_distance_metric(aligned, aligned, meta=meta) == pytest.approx(base.distance)
    assert lipsync_confidence_metric(aligned, aligned, meta=meta) == pytest.approx(base.confidence)


def test_bad_inputs_name_the_metric_and_field(talking_clip):
    meta = talking_clip.meta
    semantic, speech = talking_clip["semantic"], talking_clip["speech"]
    with pytest.raises(RawValueError, match=r"lipsync_area_envelope_confidence.*'speech'.*'semantic' has 80 frames"):
        lipsync_confidence_metric({"semantic": semantic[:80], "speech": speech}, {}, meta=meta)
    with pytest.raises(RawValueError, match=r"lipsync_area_envelope_distance.*no 'speech' value"):
        lipsync_distance_metric({"semantic": semantic}, {}, meta=meta)
    with pytest.raises(RawValueError, match=r"lipsync_area_envelope_confidence.*mapping"):
        lipsync_confidence_metric(semantic, speech, meta=meta)
    with pytest.raises(RawValueError, match=r"'semantic'.*labels 0..20"):
        lipsync_area_envelope(np.full((90, 4, 4), 99, np.uint8), speech, meta=meta)
    with pytest.raises(RawValueError, match=r"'semantic' must have 3 dimensions"):
        lipsync_area_envelope(semantic[0], speech, meta=meta)
    with pytest.raises(RawValueError, match=r"video feature has 5 frames, the audio feature 6"):
        sync_offsets(np.zeros(5), np.zeros(6))
