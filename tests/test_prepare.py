"""`archon data prepare`'s core: step planning, windows, the per-video cache, crash safety.

The steps here are a small real plugin over `.npz` "recordings" (speech, a face-found mask and
timed words), so the orchestration is tested without decoding video.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from archon_framework import ConfigError, DataError, PrepareStep, hookimpl, load_registry
from archon_framework.data import (
    REPORT_FILE, ClipDataset, PrepareConfig, PrepareError, VideoJob, clips_of, find_videos, plan_steps, prepare_videos,
)

SR, FPS = 16_000, 25.0
RUNS: list[str] = []
INTERRUPT: set[str] = set()


def _load(ctx, work):
    RUNS.append(ctx.job.video_id)
    if ctx.job.video_id in INTERRUPT:
        raise KeyboardInterrupt
    with np.load(ctx.job.path) as npz:
        if npz["speech"].size == 0:
            raise PrepareError("no_audio", f"{ctx.job.path}: no audio")
        return {"speech": npz["speech"], "valid@frames": npz["valid"].astype(bool),
                "script@words": [[str(w), float(a), float(b)] for w, a, b in npz["words"]]}


class NpzSteps:
    @hookimpl
    def archon_prepare_steps(self):
        return [PrepareStep(name="npz", produces=("speech", "valid@frames", "script@words"), run=_load)]


@pytest.fixture(scope="module")
def registry():
    return load_registry(plugins=[("npz_steps", NpzSteps())], blocked=["prepare_mediapipe"])


def _recording(path, seconds, *, valid=None, words=(("hello", 0.1, 0.4), ("world", 1.2, 1.6))):
    frames = int(round(seconds * FPS))
    speech = (0.1 * np.sin(np.arange(int(round(seconds * SR))) / 7)).astype(np.float32)
    np.savez(path, speech=speech, valid=np.ones(frames, bool) if valid is None else valid,
             words=np.array(words, dtype=object).astype(str) if words else np.zeros((0, 3), str))
    return VideoJob(video_id=path.stem, path=path)


def test_plan_orders_steps_by_what_they_require_and_names_both_producers_of_a_key():
    run = lambda ctx, work: {}  # noqa: E731
    steps = {s.name: s for s in [
        PrepareStep(name="b", produces=("y",), requires=("x",), run=run),
        PrepareStep(name="a", produces=("x",), run=run),
        PrepareStep(name="a2", produces=("x",), run=run),
    ]}
    with pytest.raises(ConfigError, match=r"'a' and 'a2' both produce 'x'.*choose.x"):
        plan_steps(steps, PrepareConfig())
    order = plan_steps(steps, PrepareConfig(choose={"x": "a2"}))
    assert [s.name for s in order] == ["a2", "b"]
    with pytest.raises(ConfigError, match="requires 'z', which no installed step produces"):
        plan_steps({"c": PrepareStep(name="c", produces=("w",), requires=("z",), run=run)}, PrepareConfig())
    with pytest.raises(ConfigError, match=r"\[steps.nope\] is not an installed step"):
        plan_steps(steps, PrepareConfig(choose={"x": "a"}, steps={"nope": {}}))


def test_a_lost_face_splits_the_video_and_pieces_shorter_than_min_seconds_are_reported(registry, tmp_path):
    valid = np.ones(100, bool)
    valid[30:40] = False  # 4 s: [0, 1.2) s, gap, [1.6, 4) s
    valid[90:] = True
    job = _recording(tmp_path / "v.npz", 4.0, valid=valid)
    with np.load(job.path) as npz:
        values = {"speech": npz["speech"], "valid@frames": npz["valid"], "script@words": [["hello", 0.1, 0.4], ["world", 1.2, 1.6]]}
    clips, issues = clips_of(job, values, registry, PrepareConfig(min_seconds=1.5))
    assert [(c.clip_id, c.meta.start, c.meta.duration) for c in clips] == [("v:000", 1.6, 2.4)]
    assert clips[0]["speech"].shape == (int(2.4 * SR),)
    assert clips[0]["script"] == ""  # no word overlaps [1.6, 4) s
    assert [i["kind"] for i in issues] == ["face_lost", "too_short"]
    clips, issues = clips_of(job, values, registry, PrepareConfig(min_seconds=1.0, window_seconds=1.0))
    assert [c.clip_id for c in clips] == ["v:000", "v:001", "v:002"]
    assert clips[0]["script"] == "hello"
    assert [i["kind"] for i in issues] == ["face_lost", "too_short", "too_short"]  # 0.2 s and 0.4 s left over
    clips, issues = clips_of(job, values, registry, PrepareConfig(on_gap="skip"))
    assert clips == [] and issues[0]["kind"] == "face_lost" and "skipped" in issues[0]["message"]


def test_bad_videos_are_reported_and_skipped_the_rest_stored_and_a_rerun_uses_the_cache(registry, tmp_path):
    jobs = [_recording(tmp_path / "a.npz", 2.0), _recording(tmp_path / "b.npz", 1.0)]
    np.savez(tmp_path / "silent.npz", speech=np.zeros(0, np.float32), valid=np.ones(25, bool), words=np.zeros((0, 3), str))
    jobs.append(VideoJob(video_id="silent", path=tmp_path / "silent.npz"))
    jobs.append(_recording(tmp_path / "short.npz", 0.5))
    RUNS.clear()
    report = prepare_videos(registry, jobs, tmp_path / "out")
    assert sorted(RUNS) == ["a", "b", "short", "silent"]
    assert {k: v["status"] for k, v in report["videos"].items()} == {"a": "prepared", "b": "prepared", "short": "skipped", "silent": "skipped"}
    assert report["videos"]["silent"]["issues"][0]["kind"] == "no_audio"
    assert report["videos"]["short"]["issues"][0]["kind"] == "too_short"
    ds = ClipDataset(tmp_path / "out")
    assert [c.clip_id for c in ds] == ["a", "b"]
    assert ds[0]["script"] == "hello world" and ds[0].meta.frame_rate == FPS
    assert json.loads((tmp_path / "out" / REPORT_FILE).read_text())["totals"]["clips"] == 2
    with pytest.raises(DataError, match="exists already; pass resume"):
        prepare_videos(registry, jobs, tmp_path / "out")
    RUNS.clear()
    prepare_videos(registry, jobs, tmp_path / "out", resume=True)
    assert RUNS == []  # every video came from the cache
    prepare_videos(registry, jobs, tmp_path / "out", overwrite=True)
    assert sorted(RUNS) == ["a", "b", "short", "silent"]


def test_an_interrupted_run_leaves_the_previous_dataset_whole_and_resumes(registry, tmp_path):
    jobs = [_recording(tmp_path / "a.npz", 1.0), _recording(tmp_path / "b.npz", 1.0)]
    prepare_videos(registry, jobs[:1], tmp_path / "out")
    before = sorted(p.name for p in (tmp_path / "out").iterdir())
    RUNS.clear()
    INTERRUPT.add("b")
    try:
        with pytest.raises(KeyboardInterrupt):
            prepare_videos(registry, jobs, tmp_path / "out", resume=True)
    finally:
        INTERRUPT.clear()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == before
    assert [c.clip_id for c in ClipDataset(tmp_path / "out")] == ["a"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # nothing half-written beside it
    RUNS.clear()
    prepare_videos(registry, jobs, tmp_path / "out", resume=True)
    assert RUNS == ["b"]
    assert [c.clip_id for c in ClipDataset(tmp_path / "out")] == ["a", "b"]


def test_a_folder_gives_each_video_its_side_files(tmp_path):
    for name in ("talk.mp4", "talk.srt", "talk.description.json", "other.mov", "notes.md"):
        (tmp_path / name).write_text("x")
    jobs = find_videos(tmp_path, ("script", "description"), transcript="script")
    assert [(j.video_id, sorted(j.sidecars)) for j in jobs] == [("other", []), ("talk", ["description", "script"])]
    with pytest.raises(DataError, match="takes a folder of videos or a .jsonl manifest"):
        find_videos(tmp_path / "talk.srt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no videos"):
        find_videos(tmp_path / "empty")


def test_videos_prepared_in_parallel_processes_give_the_same_dataset(registry, tmp_path):
    jobs = [_recording(tmp_path / f"{name}.npz", 1.0 + 0.2 * i) for i, name in enumerate("abc")]
    one = prepare_videos(registry, jobs, tmp_path / "one")
    two = prepare_videos(registry, jobs, tmp_path / "two", config=PrepareConfig(jobs=2))
    assert one["totals"] == two["totals"]
    for x, y in zip(ClipDataset(tmp_path / "one"), ClipDataset(tmp_path / "two")):
        assert x.meta == y.meta and np.array_equal(x["speech"], y["speech"]) and x["script"] == y["script"]
