"""The plugin through the registry: registration, score_clip and score_clips on real clips."""

from __future__ import annotations

import math

import numpy as np
import pytest

from archon_framework import Clip, Metric, PluginError, RawValueError, load_registry
from archon_framework.testing import make_registry
from archon_eval_metrics import (
    animation_metrics,
    applicable_metrics,
    eval_metrics,
    higher_is_better,
    is_set_level,
    score_clip,
    score_clips,
)
from archon_eval_metrics import _plugin


@pytest.fixture(scope="module")
def registry():
    """Every installed plugin, through the entry points (text_t5 adds description F1)."""
    return load_registry()


def test_registered_through_the_entry_point(registry):
    ours = {m.name for m in eval_metrics()}
    assert ours <= set(registry.metrics)
    assert not [f for f in registry.failures if f.plugin.name == "eval_metrics"]
    # alone, through pluggy as the entry point does it
    alone = make_registry(("eval_metrics", _plugin))
    assert set(alone.metrics) == ours


def test_declarations_are_honest_and_well_formed():
    metrics = eval_metrics()
    assert len({m.name for m in metrics}) == len(metrics)
    for m in metrics:
        assert isinstance(m, Metric) and m.modalities and len(m.description) > 20
        assert "sync-c" not in m.name.lower()
    by_name = {m.name: m for m in metrics}
    assert "PROXY" in by_name["voice_cepstral_cosine"].description
    assert "not comparable to published Sync-C" in by_name["lipsync_area_envelope_confidence"].description
    assert {n for n, m in by_name.items() if is_set_level(m)} == {
        "semantic_label_area_frechet", "image_colour_histogram_frechet", "video_colour_histogram_frechet",
        "voice_speaker_id_accuracy"}


def test_a_clip_against_itself_scores_perfectly(registry, video_clips):
    clip = video_clips[0]
    scores = score_clip(registry, clip, clip)
    zero = [k for k in scores if k.endswith(("_nrmse", "_mcd_dtw", "_semitones"))]
    one = ["image_ssim", "video_ssim", "semantic_label_accuracy", "semantic_mean_iou", "voice_cepstral_cosine"]
    assert len(zero) == 5
    for key in zero:
        assert scores[key] == pytest.approx(0.0, abs=1e-9), key
    for key in one:
        assert scores[key] == pytest.approx(1.0), key
    assert scores["image_psnr"] > 148 and scores["video_psnr"] > 148
    # lip sync scores the mouth against the speech, not the clip against itself: in sync, confident
    assert scores["lipsync_area_envelope_abs_offset"] <= 1 and scores["lipsync_area_envelope_confidence"] > 0.3
    if "description_attribute_f1" in registry.metrics:  # archon-text-t5's, reused as registered
        assert scores["description_attribute_f1.f1"] == 1.0
    assert not any(is_set_level(registry.metrics[k.split(".")[0]]) for k in scores)


def test_another_clip_scores_worse(registry, video_clips):
    a, b = video_clips
    same, other = score_clip(registry, a, a), score_clip(registry, b, a)
    for key, value in other.items():
        if key.startswith(("lipsync", "speech_dnsmos", "face_detection_rate")):
            continue  # each prediction against its own speech, or alone: not a comparison
        if key.startswith(("speech_wer", "speech_cer")):
            continue  # pocketsphinx hears little of 1-s espeak clips; WER's known answers are in test_..._speech_models
        better = higher_is_better(registry, key)
        assert (value <= same[key]) if better else (value >= same[key]), key
    assert other["image_ssim"] < 0.9 and other["semantic_mean_iou"] < 0.9 and other["speech_mcd_dtw"] > 1.0


def test_only_metrics_whose_modalities_both_clips_carry(registry, video_clips):
    clip = video_clips[0]
    speech_only = Clip(clip.meta, {"speech": clip["speech"]})
    scores = score_clip(registry, speech_only, clip)
    assert set(scores) == {"speech_mcd_dtw", "voice_cepstral_cosine", "voice_pitch_error_semitones",
                           "voice_speaker_similarity", *(f"speech_dnsmos.{k}" for k in ("ovrl", "sig", "bak", "p808"))}
    no_speech = Clip(clip.meta, {"semantic": clip["semantic"]})
    names = {m.name for m in applicable_metrics(registry, no_speech, clip)}
    assert names == {"semantic_label_accuracy", "semantic_mean_iou"}  # lip sync needs speech too
    assert {m.name for m in applicable_metrics(registry, no_speech, clip, set_level=True)} == {
        "semantic_label_area_frechet"}


def test_score_clips_averages_and_adds_set_level_metrics(registry, video_clips):
    a, b = video_clips
    summary = score_clips(registry, [a, b], [a, b])
    assert summary.count["image_psnr"] == 2 and summary.mean["image_ssim"] == pytest.approx(1.0)
    for name in ("semantic_label_area_frechet", "image_colour_histogram_frechet", "video_colour_histogram_frechet"):
        assert summary.set_level[name] == pytest.approx(0.0, abs=1e-9)
        assert summary.set_count[name] == 2
    images = [registry.metrics[n] for n in ("image_colour_histogram_frechet", "image_psnr")]
    swapped = score_clips(images, [b, a], [a, b])
    assert swapped.set_level["image_colour_histogram_frechet"] == pytest.approx(0.0, abs=1e-9)  # same set
    darker = [c.with_values(image=(c["image"] // 2).astype(np.uint8)) for c in (a, b)]
    shifted = score_clips(images, darker, [a, b])
    assert shifted.set_level["image_colour_histogram_frechet"] > 0.01
    assert shifted.as_dict() == {"image_colour_histogram_frechet": shifted.set_level["image_colour_histogram_frechet"],
                                 "image_psnr": shifted.mean["image_psnr"]}


def test_tokenizer_normalized_animation_metrics_replace_the_defaults(registry, video_clips):
    clip = video_clips[0]
    import archon_flame_rvq

    normalizer = archon_flame_rvq.Normalizer.fit([clip["expression"]])
    metrics = {m.name: m for m in animation_metrics({"expression": normalizer})}
    pred = clip.with_values(expression=clip["expression"] + normalizer.std)
    assert score_clip(metrics, pred, clip)["expression_param_nrmse"] == pytest.approx(1.0, rel=1e-5)


def test_bad_inputs(registry, video_clips):
    a, b = video_clips
    short = a.with_values(video=a["video"][:10])
    with pytest.raises(RawValueError, match=r"video_psnr: prediction 'video' has shape \(10, 256, 256, 3\)"):
        score_clip([registry.metrics["video_psnr"]], short, a)
    with pytest.raises(RawValueError, match=r"lipsync_face_abs_offset: 'speech' lasts 30.00 video frames"):
        score_clip(registry, short, a)
    with pytest.raises(RawValueError, match=r"score_clips: needs as many predictions as references"):
        score_clips(registry, [a], [a, b])
    bad = Metric(name="chatty", modalities=("speech",), fn=lambda p, r, *, meta: "great", higher_is_better=True)
    with pytest.raises(PluginError, match=r"metric chatty: returned str"):
        score_clip([bad], a, a)
    with pytest.raises(PluginError, match=r"no metric named 'nope'"):
        higher_is_better(registry, "nope.f1")
    nan_pitch = Metric(name="nan", modalities=("speech",), fn=lambda p, r, *, meta: math.nan, higher_is_better=False)
    summary = score_clips([nan_pitch], [a], [a])
    assert summary.count["nan"] == 0 and math.isnan(summary.mean["nan"])
