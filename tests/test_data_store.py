"""Datasets on disk: round trips for any modality, crash safety, resume, bad input, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import grain
import numpy as np
import pytest
from typer.testing import CliRunner

import archon_framework.cli as cli
from archon_framework import Clip, ClipMeta, DataError, DatasetSpec, RawValueError, hookimpl
from archon_framework.data import ClipDataset, dataset_info, write_dataset
from archon_framework.testing import make_registry

from core_toys import ToyPlugin, array_modality


def make_clip(i: int, seconds: float = 0.4) -> Clip:
    rng = np.random.default_rng(i)
    meta = ClipMeta(clip_id=f"clip-{i:03d}", duration=seconds, frame_rate=10, sample_rate=100, source="toy")
    return Clip(meta, {
        "speech": rng.uniform(0, 1, (meta.frames, 2)).astype(np.float32),   # temporal array
        "image": rng.uniform(0, 1, (1, 2)).astype(np.float32),              # static array
        "script": f"clip number {i} says hé \"quoted\"",                     # text
        "emotion": "happy" if i % 2 else "sad",                            # a third-party value
        "description": {"appearance": {"hair": ["brown", str(i)]}},         # JSON
    })


STATIC = {"image": True, "emotion": True, "description": True}


def assert_same(a: Clip, b: Clip) -> None:
    assert a.meta == b.meta and set(a) == set(b)
    for k in a:
        if isinstance(a[k], np.ndarray):
            assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k
        else:
            assert a[k] == b[k], k


def test_round_trip_any_modality_and_grain(tmp_path):
    clips = [make_clip(i, seconds=0.4 + 0.1 * (i % 3)) for i in range(7)]
    write_dataset(tmp_path / "ds", clips, name="toy", static=STATIC, shard_size=3)
    ds = ClipDataset(tmp_path / "ds")
    assert len(ds) == 7 and ds.name == "toy"
    for a, b in zip(clips, ds):
        assert_same(a, b)
    only = ClipDataset(tmp_path / "ds", modalities=["emotion"])
    assert set(only[3]) == {"emotion"}
    loaded = list(grain.MapDataset.source(ds).shuffle(seed=1))
    assert sorted(c.clip_id for c in loaded) == [c.clip_id for c in clips]
    info = dataset_info(tmp_path / "ds")
    assert info["clips"] == 7 and info["shards"] == 3
    assert info["modalities"]["speech"]["rows"] == sum(c.meta.frames for c in clips)
    assert info["modalities"]["emotion"]["kind"] == "text"


def test_exception_mid_write_keeps_completed_shards_and_resume_finishes(tmp_path):
    def failing():
        for i in range(10):
            if i == 7:
                raise RuntimeError("power cut")
            yield make_clip(i)

    with pytest.raises(RuntimeError, match="power cut"):
        write_dataset(tmp_path / "ds", failing(), static=STATIC, shard_size=3)
    assert len(ClipDataset(tmp_path / "ds")) == 6  # two whole shards; the third never landed
    with pytest.raises(DataError, match="exists already"):
        write_dataset(tmp_path / "ds", [make_clip(0)], static=STATIC)
    write_dataset(tmp_path / "ds", (make_clip(i) for i in range(10)), static=STATIC, shard_size=3, resume=True)
    ds = ClipDataset(tmp_path / "ds")
    assert [c.clip_id for c in ds] == [f"clip-{i:03d}" for i in range(10)]
    assert not list((tmp_path / "ds").glob(".shard-*"))


def test_hard_kill_never_leaves_a_corrupt_dataset(tmp_path):
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(__import__('pathlib').Path(__file__).parent)!r})
        from test_data_store import make_clip, STATIC
        from archon_framework.data import write_dataset
        def clips():
            for i in range(9):
                if i == 5:
                    os._exit(9)   # like kill -9: no cleanup, no finally blocks
                yield make_clip(i)
        write_dataset({str(tmp_path / 'ds')!r}, clips(), static=STATIC, shard_size=2)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    ds = ClipDataset(tmp_path / "ds")
    assert [c.clip_id for c in ds] == [f"clip-{i:03d}" for i in range(4)]
    for i, c in enumerate(ds):
        assert_same(c, make_clip(i))


def test_inconsistent_values_are_refused_by_clip_and_modality(tmp_path):
    bad = make_clip(1)
    bad = bad.with_values(speech=bad["speech"].astype(np.float64))
    with pytest.raises(RawValueError, match="clip 'clip-001', modality 'speech'"):
        write_dataset(tmp_path / "ds", [make_clip(0), bad], static=STATIC)
    with pytest.raises(DataError, match="not an archon dataset"):
        ClipDataset(tmp_path / "nothing")
    assert not (tmp_path / "ds").exists()  # the failed first write left nothing behind
    write_dataset(tmp_path / "ok", [make_clip(0)], static=STATIC)
    with pytest.raises(DataError, match="no modality lidar"):
        ClipDataset(tmp_path / "ok", modalities=["lidar"])


def test_registry_checks_clips(toy_registry):
    clip = Clip(ClipMeta(clip_id="x", duration=0.4, frame_rate=10, sample_rate=100),
                {"speech": np.zeros((4, 2), np.float32), "image": np.zeros((1, 2), np.float64)})
    checked = toy_registry.check_clip(clip)
    assert checked["image"].dtype == np.float32
    with pytest.raises(RawValueError, match=r"clip 'x', modality 'speech': expected shape \(4, 2\), got \(5, 2\)"):
        toy_registry.check_clip(clip.with_values(speech=np.zeros((5, 2), np.float32)))
    with pytest.raises(RawValueError, match="modality 'lidar', which is not installed"):
        toy_registry.check_clip(clip.with_values(lidar=np.zeros(3)))


class ToyDataset:
    @hookimpl
    def archon_datasets(self):
        def generate(index, *, seed, seconds):
            rng = np.random.default_rng([seed, index])
            meta = ClipMeta(clip_id=f"toy-{seed}-{index}", duration=seconds, frame_rate=10, sample_rate=100)
            return Clip(meta, {"speech": rng.uniform(0, 1, (meta.frames, 2)).astype(np.float32), "script": "hi"})
        return [DatasetSpec(name="toy", generate=generate, modalities=("speech", "script"), default_seconds=0.5)]


def test_cli_synth_and_info(tmp_path, monkeypatch):
    reg = make_registry(("toy", ToyPlugin(array_modality("speech", 16))), ("toyds", ToyDataset()), with_byte_text=True)
    monkeypatch.setattr(cli._common, "load_registry", lambda: reg)
    runner = CliRunner()
    result = runner.invoke(cli.app, ["data", "synth", "--dataset", "toy", "--clips", "5", "--out", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli.app, ["data", "info", str(tmp_path / "d"), "--json"])
    info = json.loads(result.stdout)
    assert info["clips"] == 5 and info["modalities"]["speech"]["rows"] == 25
    again = runner.invoke(cli.app, ["data", "synth", "--dataset", "toy", "--clips", "5", "--out", str(tmp_path / "d")])
    assert again.exit_code == 2 and "exists already" in again.stderr
    missing = runner.invoke(cli.app, ["data", "synth", "--dataset", "nope", "--out", str(tmp_path / "e")])
    assert missing.exit_code == 2 and "dataset 'nope' is not installed" in missing.stderr
    # Deterministic by seed: a second dataset with the same seed holds the same clips.
    runner.invoke(cli.app, ["data", "synth", "--dataset", "toy", "--clips", "5", "--out", str(tmp_path / "f")])
    for a, b in zip(ClipDataset(tmp_path / "d"), ClipDataset(tmp_path / "f")):
        assert_same(a, b)


def _load_pair(path, meta):
    arr = np.loadtxt(path, dtype=np.float32, ndmin=2)
    if arr.shape[1] != 2:
        raise RawValueError(f"expected 2 columns, got {arr.shape[1]}")
    return arr


def test_ingest_manifest_through_plugin_loaders(tmp_path, monkeypatch):
    import attrs

    speech = attrs.evolve(array_modality("speech", 16), load=_load_pair)
    reg = make_registry(("toy", ToyPlugin(speech, array_modality("image", 8, temporal=False))), with_byte_text=True)
    np.savetxt(tmp_path / "a.txt", np.full((4, 2), 0.5))
    np.savetxt(tmp_path / "b.txt", np.full((3, 2), 0.5))
    (tmp_path / "m.jsonl").write_text(
        json.dumps({"id": "a", "duration": 0.4, "frame_rate": 10, "files": {"speech": "a.txt"}}) + "\n"
        + json.dumps({"id": "b", "duration": 0.4, "frame_rate": 10, "files": {"speech": "b.txt"}}) + "\n"
    )
    monkeypatch.setattr(cli._common, "load_registry", lambda: reg)
    runner = CliRunner()
    result = runner.invoke(cli.app, ["data", "ingest", "--manifest", str(tmp_path / "m.jsonl"), "--out", str(tmp_path / "d")])
    # Clip b has 3 frames for a 0.4 s clip at 10 fps: refused, naming line, clip and modality.
    assert result.exit_code == 2 and "m.jsonl:2: clip 'b', modality 'speech': expected shape (4, 2), got (3, 2)" in result.stderr
    (tmp_path / "m.csv").write_text("id,duration,frame_rate,speech,image\na,0.4,10,a.txt,\n")
    result = runner.invoke(cli.app, ["data", "ingest", "--manifest", str(tmp_path / "m.csv"), "--out", str(tmp_path / "e")])
    assert result.exit_code == 0, result.output
    assert np.array_equal(ClipDataset(tmp_path / "e")[0]["speech"], np.full((4, 2), 0.5, np.float32))
    (tmp_path / "n.csv").write_text("id,duration,frame_rate,image\na,0.4,10,a.txt\n")
    result = runner.invoke(cli.app, ["data", "ingest", "--manifest", str(tmp_path / "n.csv"), "--out", str(tmp_path / "f")])
    assert result.exit_code == 2 and "has no file loader" in result.stderr
    (tmp_path / "o.jsonl").write_text('{"id": "a"}\n')
    result = runner.invoke(cli.app, ["data", "ingest", "--manifest", str(tmp_path / "o.jsonl"), "--out", str(tmp_path / "g")])
    assert result.exit_code == 2 and "o.jsonl:1: each row needs 'id' and 'duration'" in result.stderr
    (tmp_path / "p.jsonl").write_text('{"id": "a", "duration": "one"}\n')
    result = runner.invoke(cli.app, ["data", "ingest", "--manifest", str(tmp_path / "p.jsonl"), "--out", str(tmp_path / "h")])
    assert result.exit_code == 2 and "p.jsonl:1: field 'duration': expected a number of seconds, got 'one'" in result.stderr


def test_a_failed_first_ingest_leaves_nothing_a_retry_trips_over(tmp_path, monkeypatch):
    """Issue 28, defect 3: the same command, run again once the file is fixed, succeeds."""
    import attrs

    speech = attrs.evolve(array_modality("speech", 16), load=_load_pair)
    reg = make_registry(("toy", ToyPlugin(speech)), with_byte_text=True)
    monkeypatch.setattr(cli._common, "load_registry", lambda: reg)
    np.savetxt(tmp_path / "a.txt", np.full((4, 3), 0.5))  # three columns: refused by the loader
    (tmp_path / "m.jsonl").write_text(json.dumps({"id": "a", "duration": 0.4, "frame_rate": 10, "files": {"speech": "a.txt"}}) + "\n")
    args = ["data", "ingest", "--manifest", str(tmp_path / "m.jsonl"), "--out", str(tmp_path / "d")]
    runner = CliRunner()
    first = runner.invoke(cli.app, args)
    assert first.exit_code == 2 and "expected 2 columns" in first.stderr
    assert not (tmp_path / "d").exists()
    np.savetxt(tmp_path / "a.txt", np.full((4, 2), 0.5))
    again = runner.invoke(cli.app, args)
    assert again.exit_code == 0, again.stderr
    assert [c.clip_id for c in ClipDataset(tmp_path / "d")] == ["a"]


def test_an_index_left_with_no_shard_is_written_over(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "archon-dataset.json").write_text(json.dumps({"format": "archon-dataset/1", "dataset": "old", "modalities": {}, "shards": []}))
    write_dataset(tmp_path / "d", [make_clip(0)], name="new", static=STATIC)
    assert ClipDataset(tmp_path / "d").name == "new" and len(ClipDataset(tmp_path / "d")) == 1
    write_dataset(tmp_path / "e", [], name="empty")  # an empty write is an empty dataset
    assert len(ClipDataset(tmp_path / "e")) == 0


_SLOW_SYNTH = """
import sys, time
sys.path.insert(0, {tests!r})
import numpy as np
import archon_framework.cli as cli
from archon_framework.testing import make_registry
from core_toys import ToyPlugin, array_modality
from test_data_store import ToyDataset

reg = make_registry(("toy", ToyPlugin(array_modality("speech", 16))), ("toyds", ToyDataset()), with_byte_text=True)
spec = reg.datasets["toy"]
def slow(index, *, seed, seconds):
    time.sleep(0.01)
    return spec.generate(index, seed=seed, seconds=seconds)
import attrs
reg = attrs.evolve(reg, datasets={{"toy": attrs.evolve(spec, generate=slow)}})
cli._common.load_registry = lambda: reg
sys.argv = ["archon", "data", "synth", "--dataset", "toy", "--clips", "100000", "--out", {out!r}]
cli.app()
"""


def test_kill_9_during_synthesis_after_a_complete_shard_leaves_it_readable(tmp_path, monkeypatch):
    """Issue 28: SIGKILL `archon data synth` once the index lists a shard; resume finishes it."""
    import os
    import signal
    import time
    from pathlib import Path

    out = tmp_path / "d"
    script = _SLOW_SYNTH.format(tests=str(Path(__file__).parent), out=str(out))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    index = out / "archon-dataset.json"
    give_up = time.monotonic() + 600  # a guard against a hung child, not a timing assertion
    try:
        while proc.poll() is None and time.monotonic() < give_up:
            if index.exists() and json.loads(index.read_text())["shards"]:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read().decode()
        assert index.exists(), "the child wrote no shard"
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)  # mid-way through the next shard
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    ds = ClipDataset(out)
    stored = len(ds)
    assert stored >= 32 and stored % 32 == 0  # whole shards only
    reg = make_registry(("toy", ToyPlugin(array_modality("speech", 16))), ("toyds", ToyDataset()), with_byte_text=True)
    spec = reg.datasets["toy"]
    for i, clip in enumerate(ds):
        assert_same(clip, reg.check_clip(spec.generate(i, seed=0, seconds=spec.default_seconds)))
    monkeypatch.setattr(cli._common, "load_registry", lambda: reg)
    result = CliRunner().invoke(cli.app, ["data", "synth", "--dataset", "toy", "--clips", str(stored + 3), "--out", str(out), "--resume"])
    assert result.exit_code == 0, result.output
    assert [c.clip_id for c in ClipDataset(out)] == [f"toy-0-{i}" for i in range(stored + 3)]
