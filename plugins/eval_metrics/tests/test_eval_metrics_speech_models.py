"""WER/CER, DNSMOS, C-SIM and Id. Acc. by pretrained models: known answers and bad input."""

from __future__ import annotations

import importlib.metadata
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from archon_framework import ClipMeta
from archon_framework.eval import Prediction, score_predictions
from archon_eval_metrics import definition_of, edit_distance, error_rate, eval_metrics, normalize_text
from archon_eval_metrics._intelligibility import speech_cer_metric, speech_wer_metric
from archon_eval_metrics._voice_models import (
    speech_dnsmos_metric,
    voice_speaker_id_accuracy_metric,
    voice_speaker_similarity_metric,
)
from archon_perception import MissingPackageError
from archon_synthetic_heads import SynthConfig, clip_appearance, generate_clip, synthesize


@pytest.fixture(scope="module")
def voices():
    """Three 2-second held-out clips of different people (speech and script only)."""
    return [generate_clip(i, seed=7, seconds=2.0, split="test", config=SynthConfig(with_video=False))
            for i in (0, 2, 3)]


def _inputs(clip, speech=None):
    return {"speech": clip["speech"] if speech is None else speech, "script": clip["script"]}


# ---------------------------------------------------------------------- WER / CER
def test_a_wrong_script_raises_wer_and_cer(voices):
    a, b = voices[1], voices[2]
    right = speech_wer_metric(_inputs(a), _inputs(a), meta=a.meta)
    wrong = speech_wer_metric(_inputs(a), _inputs(b), meta=a.meta)
    assert right <= 0.4 < wrong
    assert speech_cer_metric(_inputs(a), _inputs(a), meta=a.meta) < speech_cer_metric(_inputs(a), _inputs(b), meta=a.meta)


def test_silence_recognizes_no_word_and_an_empty_script_is_missing(voices):
    clip = voices[0]
    silent = _inputs(clip, np.zeros_like(clip["speech"]))
    assert speech_wer_metric(silent, _inputs(clip), meta=clip.meta) == 1.0
    assert math.isnan(speech_wer_metric(_inputs(clip), {"script": " ?! "}, meta=clip.meta))


def test_error_rates_known_answers():
    assert normalize_text("Can you see the Difference?") == "can you see the difference"
    assert error_rate("Can you see the difference?", "and you see a difference") == pytest.approx(2 / 5)
    assert error_rate("abc", "abd", unit="char") == pytest.approx(1 / 3)
    assert error_rate("one two", "") == 1.0


@given(st.lists(st.sampled_from("abcd"), max_size=8), st.lists(st.sampled_from("abcd"), max_size=8))
def test_edit_distance_is_a_metric_bounded_by_the_longer_length(a, b):
    d = edit_distance(a, b)
    assert d == edit_distance(b, a) and (d == 0) == (a == b) and abs(len(a) - len(b)) <= d <= max(len(a), len(b))


# ---------------------------------------------------------------------- DNSMOS
def test_added_noise_lowers_dnsmos_and_silence_is_missing(voices):
    clip = voices[0]
    speech = clip["speech"][:19200]  # 1.2 s: tiled to 9.6 s, one 9.01 s DNSMOS window (2 s would take 7)
    rng = np.random.default_rng(0)
    noisy = speech + 0.05 * rng.standard_normal(speech.shape).astype(np.float32)
    clean = speech_dnsmos_metric(speech, speech, meta=clip.meta)
    worse = speech_dnsmos_metric(noisy, speech, meta=clip.meta)
    assert set(clean) == {"ovrl", "sig", "bak", "p808"} and all(1.0 <= v <= 5.0 for v in clean.values())
    assert worse["ovrl"] < clean["ovrl"] - 0.5 and worse["bak"] < clean["bak"]
    assert all(math.isnan(v) for v in speech_dnsmos_metric(np.zeros(16000, np.float32), None, meta=clip.meta).values())


# ---------------------------------------------------------------------- C-SIM, Id. Acc.
@pytest.fixture(scope="module")
def speakers():
    """Three held-out people's voices (espeak variants m6, f2, m3), each saying two sentences."""
    said = ("It only takes five minutes.", "Can you see the difference?")
    voices = [clip_appearance(i, seed=7, split="test").voice for i in (0, 2, 3)]
    return [[synthesize(text, voice).audio for text in said] for voice in voices]


def test_another_speaker_lowers_speaker_similarity_and_identification(speakers):
    meta = ClipMeta(clip_id="x", duration=2.0, frame_rate=30.0, sample_rate=16000)
    metas = [ClipMeta(clip_id=f"speaker{i}", duration=2.0, frame_rate=30.0, sample_rate=16000) for i in range(3)]
    enrol = [s[0] for s in speakers]  # each speaker's first sentence is the reference
    spoken = [s[1] for s in speakers]  # the "generated" speech: the second sentence
    for i in range(3):
        own = voice_speaker_similarity_metric(spoken[i], enrol[i], meta=meta)
        other = voice_speaker_similarity_metric(spoken[(i + 1) % 3], enrol[i], meta=meta)
        assert own > other, i
    assert voice_speaker_id_accuracy_metric(spoken, enrol, meta=metas) == 1.0
    rotated = spoken[1:] + spoken[:1]
    assert voice_speaker_id_accuracy_metric(rotated, enrol, meta=metas) == 0.0


def test_silence_identifies_no_speaker(voices):
    speech = [c["speech"] for c in voices]
    metas = [c.meta for c in voices]
    assert voice_speaker_id_accuracy_metric(speech, speech, meta=metas) == 1.0
    silent = [np.zeros_like(s) for s in speech]
    assert voice_speaker_id_accuracy_metric(silent, speech, meta=metas) == 0.0
    assert math.isnan(voice_speaker_similarity_metric(silent[0], speech[0], meta=metas[0]))
    assert math.isnan(voice_speaker_id_accuracy_metric(speech[:1], speech[:1], meta=metas[:1]))


# ---------------------------------------------------------------------- a missing package
def test_a_missing_package_names_its_extra_and_the_rest_of_the_report_runs(voices, monkeypatch):
    real_version = importlib.metadata.version

    def version(name):
        if name == "speechmos":
            raise importlib.metadata.PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    clip = voices[0]
    with pytest.raises(MissingPackageError, match=r"archon-perception\[quality\]"):
        speech_dnsmos_metric(clip["speech"], clip["speech"], meta=clip.meta)
    metrics = {m.name: m for m in eval_metrics() if m.name in ("speech_dnsmos", "speech_wer")}
    assert "archon-perception[quality]" in definition_of(metrics["speech_dnsmos"])["unavailable"]
    scores = score_predictions(metrics, [Prediction(produced={"speech": clip["speech"]},
                                                    given={"script": clip["script"]})], [clip])
    assert math.isfinite(scores.mean["speech_wer"])
    (error,) = scores.errors
    assert error.startswith("speech_dnsmos: MissingPackageError") and "archon-perception[quality]" in error


def test_bad_speech_names_the_metric(voices):
    meta = ClipMeta(clip_id="x", duration=1.0, frame_rate=30.0, sample_rate=16000)
    with pytest.raises(Exception, match="speech_dnsmos"):
        speech_dnsmos_metric(np.zeros((2, 10), np.float32), None, meta=meta)
