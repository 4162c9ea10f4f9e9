"""What an edit measures (issue 25): the tokens each regenerated modality changed, and the
editing chain's checks, each a registered metric on the new outputs against the edit or the
clip as it was. Mechanics on a tiny untrained model (it cannot be claimed to keep a voice);
the script edit's real figures (pocketsphinx WER, GE2E speaker similarity) on waveforms."""

from __future__ import annotations

import json
import math

import attrs
import numpy as np
import pytest

from archon_framework import Clip, ClipMeta, Metric, load_registry
from archon_framework.infer import EditCheck, LoadedModel, Sampling, edit_check_figures, edit_clip
from archon_paper import EDIT_SCRIPT
from test_infer_editing import TOY_SCRIPT, VOICE_SUITE
from test_infer_kit import tiny_lm, toy_clip, toy_registry


def _script_is_new(prediction, reference, *, meta):
    return float(reference["script"] == "a new line")  # which script the reference holds


def _voice_cosine(prediction, reference, *, meta):
    a, b = np.asarray(prediction, np.float64).mean(0), np.asarray(reference, np.float64).mean(0)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _broken(prediction, reference, *, meta):
    raise ValueError("no model file")


TOY_METRICS = {m.name: m for m in (
    Metric(name="toy_script_is_new", modalities=("speech", "script"), fn=_script_is_new, higher_is_better=True),
    Metric(name="toy_voice_cosine", modalities=("speech",), fn=_voice_cosine, higher_is_better=True),
    Metric(name="toy_broken", modalities=("speech",), fn=_broken, higher_is_better=True),
    Metric(name="toy_nan", modalities=("speech",), fn=lambda p, r, *, meta: {"a": math.nan, "b": 2}, higher_is_better=True),
)}
CHECKED = attrs.evolve(TOY_SCRIPT, name="toy-edit-script-checked", checks=(
    EditCheck("reference_is_edit", "toy_script_is_new", "edit"),
    EditCheck("reference_is_clip", "toy_script_is_new", "clip"),
    EditCheck("voice", "toy_voice_cosine", "clip", "cosine of mean speech features"),
    EditCheck("broken", "toy_broken", "clip"),
    EditCheck("nan", "toy_nan", "clip"),
    EditCheck("absent", "speech_wer_not_here", "edit"),
))


@pytest.fixture(scope="module")
def model():
    registry = toy_registry()
    registry = attrs.evolve(registry, metrics={**registry.metrics, **TOY_METRICS})
    return LoadedModel(tiny_lm(registry.layout().total_size, 3), registry, registry.layout(), VOICE_SUITE,
                       source="random toy")


def test_an_edit_records_its_token_changes_and_checks_in_the_manifest(model):
    clip = toy_clip(3)
    out = edit_clip(model, clip, {"script": "a new line"}, CHECKED, sampling=Sampling(greedy=True))
    figures = json.loads(json.dumps(out.manifest()["figures"]))  # JSON as written
    changed = figures["tokens_changed"]
    assert set(changed) == {"speech", "expression"}  # the generated modalities the clip has (video is rendered)
    speech_ids = out.result.step("speech").global_ids
    before = model.layout.range("speech").to_global(model.tokenizer("speech").encode(clip["speech"], meta=clip.meta))
    assert changed["speech"] == {"tokens": len(speech_ids), "original_tokens": len(before),
                                 "changed": pytest.approx(float(np.mean(speech_ids != before)))}
    checks = figures["checks"]
    assert checks["reference_is_edit"]["value"] == 1.0 and checks["reference_is_clip"]["value"] == 0.0
    assert checks["voice"]["value"] == pytest.approx(_voice_cosine(out.result.step("speech").value, clip["speech"], meta=None))
    assert checks["voice"]["description"] == "cosine of mean speech features" and checks["voice"]["against"] == "clip"
    assert checks["broken"]["value"] is None and checks["broken"]["error"] == "ValueError: no model file"
    assert checks["nan"]["value"] == {"a": None, "b": 2.0}
    assert checks["absent"]["value"] is None and "metric 'speech_wer_not_here' is not installed" in checks["absent"]["not_measured"]
    unmeasured = edit_clip(model, clip, {"script": "a new line"}, CHECKED, sampling=Sampling(greedy=True), measure=False)
    assert unmeasured.figures == {} and np.array_equal(unmeasured.result.step("speech").global_ids, speech_ids)


def test_a_check_whose_modality_is_missing_is_not_measured():
    clip = Clip(ClipMeta(clip_id="c", duration=0.4, frame_rate=10, sample_rate=100), {"script": "old"})
    figures = edit_check_figures([EditCheck("voice", "toy_voice_cosine", "clip")], TOY_METRICS, clip, {"script": "new"}, {})
    assert figures["voice"]["value"] is None and figures["voice"]["not_measured"] == "no speech to score"


def test_the_script_edit_figures_run_the_real_recognizer_and_speaker_encoder():
    metrics = load_registry().metrics
    needed = {c.metric for c in EDIT_SCRIPT.checks}
    if not needed <= set(metrics):
        pytest.skip(f"needs archon-eval-metrics with archon-perception[speaker]: {sorted(needed - set(metrics))}")
    meta = ClipMeta(clip_id="held-out", duration=1.0, frame_rate=25, sample_rate=16_000)
    t = np.arange(16_000) / 16_000
    voice = (0.3 * np.sin(2 * np.pi * 140 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    clip = Clip(meta, {"speech": voice, "script": "hello there"})
    new = np.roll(voice, 800) * np.float32(0.8)
    figures = edit_check_figures(EDIT_SCRIPT.checks, metrics, clip, {"script": "good morning"}, {"speech": new})
    assert set(figures) == {"words_vs_edited_script", "words_vs_original_script", "characters_vs_edited_script",
                            "characters_vs_original_script", "voice_similarity_to_original", "pitch_error_to_original"}
    for name, figure in figures.items():
        assert "error" not in figure and "not_measured" not in figure, (name, figure)
        assert isinstance(figure["value"], float), (name, figure)
    assert all(figures[f"{unit}_vs_{script}_script"]["value"] >= 0
               for unit in ("words", "characters") for script in ("edited", "original"))
    assert 0.5 < figures["voice_similarity_to_original"]["value"] <= 1.0 + 1e-6  # the same synthetic voice, shifted
    assert figures["pitch_error_to_original"]["value"] < 0.5  # the same 140 Hz voice: its median F0 is kept
