"""Lip sync, LMD and face detection on RGB pixels by FaceMesh: known answers on real synthetic clips."""

from __future__ import annotations

import math

import numpy as np
import pytest

from archon_framework import RawValueError
from archon_eval_metrics import definition_of, eval_metrics, face_lipsync, landmark_distance
from archon_eval_metrics._face_sync import (
    face_detection_rate_metric,
    lipsync_face_abs_offset_metric,
    lipsync_face_confidence_metric,
    lmd_mouth_metric,
)
from archon_synthetic_heads import generate_clip


@pytest.fixture(scope="module")
def heads():
    """Two 2-second held-out clips of different people, with RGB video."""
    return [generate_clip(i, seed=7, seconds=2.0, split="test") for i in range(2)]


def _delay(speech: np.ndarray, frames: int, sample_rate: int, frame_rate: float) -> np.ndarray:
    """The speech delayed by `frames` video frames (advanced if negative), same length."""
    n = int(round(abs(frames) * sample_rate / frame_rate))
    if frames >= 0:
        return np.concatenate([np.zeros(n, speech.dtype), speech[:len(speech) - n]])
    return np.concatenate([speech[n:], np.zeros(n, speech.dtype)])


def test_ground_truth_is_in_sync_and_beats_another_voice(heads):
    a, b = heads
    truth = face_lipsync(a["video"], a["speech"], meta=a.meta)
    other = face_lipsync(a["video"], b["speech"], meta=a.meta)
    assert abs(truth.offset) <= 1
    assert truth.confidence > other.confidence and truth.distance < other.distance


@pytest.mark.parametrize("k", [4, -3])
def test_delaying_the_audio_by_k_frames_moves_the_best_offset_by_k(heads, k):
    clip = heads[0]
    truth = face_lipsync(clip["video"], clip["speech"], meta=clip.meta)
    shifted = face_lipsync(clip["video"], _delay(clip["speech"], k, clip.meta.sample_rate, clip.meta.frame_rate),
                           meta=clip.meta)
    assert shifted.offset - truth.offset == k


def test_landmark_distance_is_zero_on_itself_and_grows_for_another_face(heads):
    a, b = heads
    assert landmark_distance(a["video"], a["video"], region="mouth") == 0.0
    mouth_other = landmark_distance(a["video"], b["video"], region="mouth")
    face_other = landmark_distance(a["video"], b["video"], region="face")
    late = landmark_distance(a["video"], np.concatenate([a["video"][:1]] * 3 + [a["video"][:-3]]), region="mouth")
    assert mouth_other > 1.0 and face_other > 1.0 and late > 0.0
    half = a["video"][:, ::2, ::2]  # the same video at half the size: LMD is in reference pixels
    assert landmark_distance(half, a["video"], region="face") < 0.3 * face_other


def test_a_video_without_a_face_is_scored_missing_never_zero(heads):
    clip = heads[0]
    blank = np.full_like(clip["video"], 90)
    pred = {"video": blank, "speech": clip["speech"]}
    assert face_detection_rate_metric(blank, clip["video"], meta=clip.meta) == 0.0
    assert math.isnan(lipsync_face_confidence_metric(pred, pred, meta=clip.meta))
    assert math.isnan(lmd_mouth_metric(blank, clip["video"], meta=clip.meta))
    assert face_detection_rate_metric(clip["video"], clip["video"], meta=clip.meta) == 1.0


def test_silent_speech_is_scored_missing(heads):
    clip = heads[0]
    pred = {"video": clip["video"], "speech": np.zeros_like(clip["speech"])}
    assert math.isnan(lipsync_face_abs_offset_metric(pred, pred, meta=clip.meta))


def test_clips_shorter_than_the_offset_search_are_refused(heads):
    clip = heads[0]
    n = int(round(20 * clip.meta.sample_rate / clip.meta.frame_rate))
    with pytest.raises(RawValueError, match="lipsync_face.*20 frames, shorter than the offset search"):
        face_lipsync(clip["video"][:20], clip["speech"][:n], meta=clip.meta)
    with pytest.raises(RawValueError, match="'speech' lasts"):
        face_lipsync(clip["video"], clip["speech"][:n], meta=clip.meta)
    with pytest.raises(RawValueError, match="uint8 RGB video"):
        face_lipsync(clip["video"].astype(np.float32), clip["speech"], meta=clip.meta)


def test_every_pretrained_metric_carries_its_definition():
    metrics = {m.name: m for m in eval_metrics()}
    lipsync = definition_of(metrics["lipsync_face_confidence"])
    assert lipsync["models"][0]["package"] == "mediapipe" and lipsync["parameters"]["max_offset_frames"] == 15
    assert all(len(digest) == 64 for digest in lipsync["models"][0]["files"].values())
    assert definition_of(metrics["speech_wer"])["models"][0]["package"] == "pocketsphinx"
    assert definition_of(metrics["video_psnr"]) is None  # a formula, no model
