"""The eval's scoring with the installed metric plugins (archon-eval-metrics, archon-text-t5) on
real synthetic held-out clips, reached only through the registry: known answers end to end."""

from __future__ import annotations

import numpy as np
import pytest

from archon_framework import load_registry
from archon_framework.eval import Prediction, ground_truth_run, heldout_clips, score_predictions
from archon_paper import SPEECH_TO_VIDEO


@pytest.fixture(scope="module")
def registry():
    reg = load_registry()
    if "lipsync_area_envelope_distance" not in reg.metrics or "synthetic_heads_test" not in reg.datasets:
        pytest.skip("needs archon-eval-metrics and archon-synthetic-heads installed")
    return reg


@pytest.fixture(scope="module")
def clips(registry):
    return heldout_clips(registry, n=2, dataset="synthetic_heads_test", seconds=2.0, seed=5)[0]


def _shift(speech: np.ndarray, frames: int, rate: float, sample_rate: int) -> np.ndarray:
    """Speech delayed by ``frames`` video frames (advanced when negative), zero-filled."""
    n = int(round(frames * sample_rate / rate))
    out = np.zeros_like(speech)
    if n >= 0:
        out[n:] = speech[: speech.shape[0] - n]
    else:
        out[:n] = speech[-n:]
    return out


def test_the_ground_truth_scores_perfectly(registry, clips):
    run = ground_truth_run(SPEECH_TO_VIDEO, clips, installed=list(registry.modalities))
    scores = score_predictions(registry.metrics, run.predictions, clips)
    v = scores.values()
    assert not scores.errors
    for key in ("semantic_label_accuracy", "semantic_mean_iou", "video_ssim", "description_attribute_f1.f1"):
        if key in v:
            assert v[key] == pytest.approx(1.0), key
    for key in ("identity_param_nrmse", "expression_param_nrmse", "semantic_label_area_frechet",
                "video_colour_histogram_frechet"):
        if key in v:
            assert v[key] == pytest.approx(0.0, abs=1e-6), key
    assert v["video_psnr"] > 100 and v["lipsync_area_envelope_abs_offset"] <= 1.0
    assert "speech_mcd_dtw" not in v and "image_psnr" not in v  # given, not produced: never scored


@pytest.mark.parametrize("shift", [-5, 4])
def test_a_shifted_speech_track_moves_the_best_offset_by_the_shift(registry, clips, shift):
    clip = clips[0]
    meta = clip.meta

    def abs_offset(speech):  # the generated semantic video scored with the speech it was made from
        pred = Prediction(produced={"semantic": clip["semantic"]}, given={"speech": speech})
        return score_predictions(registry.metrics, [pred], [clip]).per_clip[0]["lipsync_area_envelope_abs_offset"]

    assert abs_offset(clip["speech"]) == 0.0
    assert abs_offset(_shift(clip["speech"], shift, meta.frame_rate, meta.sample_rate)) == abs(shift)


def test_the_ground_truth_tops_the_pretrained_video_columns(registry, clips):
    """Table 1's main columns on the held-out clips themselves: in sync, zero landmark distance, every face found."""
    if "lipsync_face_confidence" not in registry.metrics:
        pytest.skip("needs archon-eval-metrics with archon-perception")
    run = ground_truth_run(SPEECH_TO_VIDEO, clips, installed=list(registry.modalities))
    v = score_predictions(registry.metrics, run.predictions, clips).values()
    assert v["lipsync_face_abs_offset"] <= 1.0 and v["lipsync_face_confidence"] > 0.1
    assert v["lmd_mouth"] == 0.0 and v["lmd_face"] == 0.0 and v["face_detection_rate"] == 1.0


def test_the_ground_truth_speech_is_the_ceiling_of_table2(registry, clips):
    """Table 2's main columns on the held-out speech: the recognizer's own WER, C-SIM 1, every speaker identified."""
    from archon_paper import TABLE2

    if "speech_wer" not in registry.metrics:
        pytest.skip("needs archon-eval-metrics with archon-perception")
    row = next(r for r in TABLE2.rows if r.models == "ground-truth")
    run = ground_truth_run(row.chain, clips, installed=list(registry.modalities))
    scores = score_predictions(registry.metrics, run.predictions, clips)
    v = scores.values()
    assert not scores.errors, scores.errors
    assert v["speech_wer"] >= 0.0 and v["speech_cer"] >= 0.0  # pocketsphinx's own error on espeak: no fixed bound
    assert v["voice_speaker_similarity"] == pytest.approx(1.0, abs=1e-5)
    assert v["voice_speaker_id_accuracy"] == 1.0 and 1.0 <= v["speech_dnsmos.ovrl"] <= 5.0
