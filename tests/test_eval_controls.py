"""Shuffled-condition controls: the derangement, the baseline, the interval, and a known answer
(a deterministic renderer follows its conditions exactly, so it beats its control)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework import Clip, ClipMeta, Metric, TaskError
from archon_framework.eval import (baseline_value, derangement, main_metric, metric_key, metric_score, paired_interval,
                                   step_controls)
from archon_framework.eval._cli import _control_line
from archon_framework.infer import load_checkpoint
from archon_paper import SPEECH_TO_VIDEO
from test_eval import registry, run  # noqa: F401  (module fixtures: a briefly trained toy checkpoint)
from test_eval_kit import TOY_METRICS, _generate, mean_abs_error


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 60), seed=st.integers(0, 2**16))
def test_a_derangement_moves_every_clip(n, seed):
    perm = derangement(n, seed)
    assert sorted(perm.tolist()) == list(range(n)) and not np.any(perm == np.arange(n))
    assert np.array_equal(perm, derangement(n, seed))


def test_one_clip_has_no_control():
    with pytest.raises(TaskError, match="at least 2 held-out clips"):
        derangement(1)


def test_the_baseline_is_the_mean_the_majority_or_the_mode():
    floats = [np.full((3, 2), v, np.float32) for v in (0.0, 1.0, 2.0)]
    np.testing.assert_allclose(baseline_value(floats), np.full((3, 2), 1.0))
    labels = [np.array([[1, 2]], np.uint8), np.array([[1, 3]], np.uint8), np.array([[4, 3]], np.uint8)]
    assert baseline_value(labels).tolist() == [[1, 3]] and baseline_value(labels).dtype == np.uint8
    assert baseline_value(["a", "b", "b"]) == "b"
    assert baseline_value([{"k": 1}, {"k": 2}, {"k": 1}]) == {"k": 1}


def test_the_interval_of_a_constant_difference_is_that_constant():
    mean, low, high = paired_interval([0.5] * 10)
    assert mean == low == high == 0.5
    mean, low, high = paired_interval([1.0, -1.0] * 20)
    assert mean == 0.0 and low < 0 < high
    assert all(math.isnan(x) for x in paired_interval([math.nan]))


def test_the_main_metric_is_the_modalitys_own_per_clip_metric():
    metrics = {m.name: m for m in TOY_METRICS}
    assert main_metric("semantic", metrics).name == "semantic_error"  # not the two-modality toy_sync
    assert main_metric("video", metrics) is None  # only a set-level metric
    with pytest.raises(TaskError, match="not installed"):
        main_metric("semantic", metrics, {"semantic": "nope"})


def test_a_score_is_nan_where_the_metric_cannot_judge_and_reads_a_named_value():
    def two_values(prediction, reference, meta):
        if prediction.shape != reference.shape:
            raise ValueError("shapes differ")
        return {"error": float(np.abs(prediction - reference).mean()), "peak": float(np.abs(prediction).max())}

    metric = Metric(name="two", modalities=("semantic",), fn=two_values, higher_is_better=False)
    clip = Clip(ClipMeta(clip_id="c", duration=1.0, frame_rate=25.0, sample_rate=16000), {})
    ref = np.zeros((2, 2), np.float32)
    assert metric_key("two.peak") == "peak" and metric_key("two") is None and metric_key(None) is None
    assert metric_score(metric, "peak", np.full((2, 2), 3.0), ref, clip) == 3.0
    assert metric_score(metric, None, np.full((2, 2), 3.0), ref, clip) == 3.0  # the first value: error
    assert math.isnan(metric_score(metric, "error", None, ref, clip))  # nothing generated
    assert math.isnan(metric_score(metric, "error", np.zeros(3), ref, clip))  # an output it cannot take
    assert math.isnan(metric_score(metric, "missing", np.zeros((2, 2)), ref, clip))


def _toy(run, registry, n):  # noqa: F811
    """The briefly trained toy checkpoint, `n` held-out clips and the toy metrics plus a video error."""
    metrics = {m.name: m for m in TOY_METRICS}
    metrics["video_error"] = Metric(name="video_error", modalities=("video",), fn=mean_abs_error, higher_is_better=False)
    return load_checkpoint(run / "run", registry), [_generate(i, seed=0) for i in range(n)], metrics


def test_a_renderer_beats_its_control_and_every_step_gets_a_row(run, registry):  # noqa: F811
    model, clips, metrics = _toy(run, registry, 4)
    logged: list = []
    found = step_controls(model, clips, SPEECH_TO_VIDEO, metrics, preferred={"video": "video_error"}, seed=0,
                          on_result=logged.append)
    assert logged == found  # each step reported as soon as it is measured, in order
    rows = {r.step.split("->")[-1]: r for r in found}
    line = _control_line(rows["video(c)"])  # what `archon eval` logs for it
    assert line.startswith("video_error (n 4): real 0, control ") and "beats the control" in line
    assert "NLL gain" not in line and "NLL gain" in _control_line(rows["identity(t)"])  # rendered: no likelihood
    # the toy video is rendered from the clip's own semantic + image: exact with the real conditions
    video = rows["video(c)"]
    assert video.real == (0.0,) * 4 and all(c > 0 for c in video.control)
    assert video.difference > 0 and video.excludes_zero
    assert video.to_dict()["beats_control"] and video.to_dict()["n"] == 4
    # the LM's steps (4 training steps: not learned) are reported whichever way they fall
    assert {"identity(t)", "semantic(c)"} <= set(rows)
    assert all(len(r.real) == len(r.control) == len(r.baseline) == 4 for r in rows.values())


def test_a_preferred_metric_that_scores_no_clip_gives_way_to_the_modalitys_own(run, registry):  # noqa: F811
    """A main metric that reads one dataset's layout scores no clip of another source: the step is
    judged by the modality's default metric instead, and the row says so."""
    model, clips, metrics = _toy(run, registry, 3)

    def other_layout(prediction, reference, *, meta):
        raise ValueError(f"clip {meta.clip_id}: not this metric's layout")

    metrics["video_layout"] = Metric(name="video_layout", modalities=("video",), fn=other_layout, higher_is_better=True)
    rows = {r.step.split("->")[-1]: r for r in step_controls(model, clips, SPEECH_TO_VIDEO, metrics,
                                                             preferred={"video": "video_layout"}, seed=0)}
    video = rows["video(c)"]
    assert video.metric == "video_error" and not video.higher_is_better
    assert video.real == (0.0,) * 3 and video.excludes_zero
    assert video.notes == ("video_layout scored none of the 3 clips; judged by video_error instead",)
    from archon_framework.eval._report import _controls_md

    assert any("judged by video_error instead" in line for line in _controls_md([video]))


def test_each_lm_step_reports_the_likelihood_of_the_clips_own_output_under_both_conditions(run, registry):  # noqa: F811
    """The NLL gain: the LM's teacher-forced NLL of the clip's own output given another clip's
    conditions minus given its own; a rendered step (no LM) has none."""
    from archon_framework.eval._controls import target_nll
    from archon_framework.eval._report import _controls_md

    model, clips, metrics = _toy(run, registry, 3)
    rows = {r.step.split("->")[-1]: r for r in step_controls(model, clips, SPEECH_TO_VIDEO, metrics,
                                                             preferred={"video": "video_error"}, seed=0)}
    video = rows.pop("video(c)")
    assert video.nll_real == () and math.isnan(video.nll_gain) and not video.likelihood_excludes_zero
    assert video.to_dict()["nll_ci95"] is None
    assert rows
    for row in rows.values():
        assert len(row.nll_real) == len(row.nll_control) == 3
        assert all(math.isfinite(x) and x > 0 for x in row.nll_real + row.nll_control)
        gains = [c - r for r, c in zip(row.nll_real, row.nll_control)]
        assert row.nll_gain == pytest.approx(float(np.mean(gains)))
        assert row.nll_low <= row.nll_gain <= row.nll_high
        d = row.to_dict()
        assert d["nll_real"] == pytest.approx(float(np.mean(row.nll_real)), abs=1e-6)
    # the same clip and conditions score the same; another clip's conditions score differently
    from archon_framework._tasks import parse_task

    semantic = rows["semantic(c)"]
    task = parse_task(semantic.step)
    conds = {s: clips[0][s.modality] for s in task.inputs}
    assert target_nll(model, clips[0], conds, task.output) == pytest.approx(semantic.nll_real[0], rel=1e-5)
    lines = _controls_md([semantic, video])
    assert "NLL gain" in lines[4] and lines[-2].endswith("| - |")


def test_installed_main_metrics_leave_out_what_is_not_installed():
    import attrs

    from archon_framework import load_registry
    from archon_framework.eval import installed_main_metrics

    installed = load_registry()
    full = installed_main_metrics(installed)
    assert full == {m: k for m, k in installed.eval_default().main_metrics.items()}  # all installed here
    gone = next(iter(full.values())).split(".")[0]
    fewer = attrs.evolve(installed, metrics={k: v for k, v in installed.metrics.items() if k != gone})
    assert {m: k for m, k in full.items() if k.split(".")[0] != gone} == installed_main_metrics(fewer)


def test_a_time_invariant_slot_of_a_temporal_modality_reads_its_frame_of_the_whole_clips_value(run, registry):  # noqa: F811
    """`expression(t)` (Table G's image tasks) given the clip's whole expression reads the frame
    training cuts for it, as if that frame were given; a value of neither length is refused."""
    from archon_framework import RawValueError, Slot, State, clip_windows, slot_value
    from archon_framework.eval._controls import _slot_clip, target_nll
    from archon_framework.infer._board import Board

    model, clips, _ = _toy(run, registry, 2)
    clip = clips[0]
    frame = clip_windows(clip.meta, has_past=False)
    first = {m: slot_value(clip, registry.modality(m), State.STATIC, frame)[0] for m in ("expression", "semantic")}
    assert first["expression"].shape[0] == 1 < clip["expression"].shape[0]
    board = Board(model, clip.meta)
    board.put_condition(Slot("expression", "t"), clip["expression"])
    np.testing.assert_array_equal(board.raw_value(Slot("expression", "t")), first["expression"])
    with pytest.raises(RawValueError, match=f"clip '{clip.meta.clip_id}.*'expression'"):
        board.put_condition(Slot("expression", "t"), clip["expression"][:3])
    # the likelihood of a time-invariant target: the same from the whole clip's values as from the frames
    image, expr, sem = Slot("image", "t"), Slot("expression", "t"), Slot("semantic", "t")
    whole = target_nll(model, clip, {image: clip["image"], expr: clip["expression"]}, sem)
    cut = Clip(frame[State.STATIC], {"semantic": first["semantic"]})
    assert whole == pytest.approx(target_nll(model, cut, {image: clip["image"], expr: first["expression"]}, sem))
    # and such an output is scored against that frame
    scored = _slot_clip(clip, sem, registry)
    assert scored.meta == frame[State.STATIC] and np.array_equal(scored["semantic"], first["semantic"])
    assert _slot_clip(clip, Slot("semantic", "c"), registry) is clip
