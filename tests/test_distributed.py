"""Multi-process training on JAX's distributed runtime (issue 23), on this machine's CPU.

2 processes x 2 host devices train on the same global batches as 1 process x 4 devices and
give the same losses (to 1e-5) on a data mesh and a data x FSDP mesh; checkpoints move between
2 and 1 processes; a killed process is named by the one that survives, and a restart resumes.
The runs are subprocesses of `tests/distributed_worker.py` (the toy suite, the tiny model).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import grain
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework import ArchonError, ConfigError
from archon_framework.train._distributed import ClusterConfig, DistributedError, detect_cluster
from archon_framework.train._launch import LaunchError, LocalLaunch, _with_host_devices, archon_command, launch_local
from archon_framework.train._streams import BatchStreams, merge_stream_states, stream_count

WORKER = Path(__file__).parent / "distributed_worker.py"
DEVICES = 4


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """One compilation cache for every run of this module (the reference and resumed runs share
    their programs)."""
    return tmp_path_factory.mktemp("jax-cache")


def _env(cache_dir: Path) -> dict[str, str]:
    return {"JAX_PLATFORMS": "cpu", "ARCHON_COMPILATION_CACHE": str(cache_dir)}


def run(out: Path, processes: int, *args: str, cache_dir: Path, kill: tuple[int, int] | None = None) -> list[str]:
    """Run the worker on `processes` processes (DEVICES devices in all); each process's output.

    `kill=(process, step)` kills that process once it printed that step.
    """
    command = [sys.executable, str(WORKER), "--out", str(out), *args]
    if processes == 1:  # a plain single-process run: no cluster at all
        env = {**os.environ, **_env(cache_dir), "XLA_FLAGS": _with_host_devices(os.environ.get("XLA_FLAGS", ""), DEVICES)}
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        return [done.stdout + done.stderr]
    launch = LocalLaunch(command, processes, devices_per_process=DEVICES // processes, env=_env(cache_dir), output=None)
    if kill is not None:
        victim, step = kill
        end = time.monotonic() + 600
        while f"STEP {victim} {step}\n" not in launch.output(victim) and time.monotonic() < end:
            if launch.processes[victim].poll() is not None:
                break
            time.sleep(0.05)
        launch.processes[victim].kill()
    launch.wait(grace_s=120, timeout_s=600)
    return [launch.output(i) for i in range(processes)]


def losses(output: str) -> dict[int, float]:
    found = {int(m.group(1)): float(m.group(2)) for m in re.finditer(r"^LOSS (\d+) (\S+)$", output, re.M)}
    assert found, output[-3000:]
    return found


def assert_close(got: dict[int, float], want: dict[int, float], steps) -> None:
    for step in steps:
        assert abs(got[step] - want[step]) <= 1e-5, (step, got, want)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, cache_dir):
    """Uninterrupted 1-process x 4-device runs of 5 steps, data mesh and data x FSDP mesh
    (the data run checkpoints at steps 3 and 5)."""
    root = tmp_path_factory.mktemp("reference")
    data = run(root / "data", 1, "--every", "3", cache_dir=cache_dir)[0]
    fsdp = run(root / "fsdp", 1, "--mesh-data", "2", "--fsdp", "2", cache_dir=cache_dir)[0]
    assert "DONE 0 of 1 with 4 devices" in data, data[-3000:]
    return {"data": losses(data), "fsdp": losses(fsdp), "data_dir": root / "data"}


def test_data_mesh_two_processes_then_resumed_by_one(tmp_path, reference, cache_dir):
    """2 x 2 devices train steps 1-3 as 1 x 4 does; their checkpoint resumes in 1 process."""
    first = run(tmp_path, 2, "--stop-at", "3", "--every", "3", cache_dir=cache_dir)
    assert "DONE 1 of 2 with 4 devices" in first[1], first[1][-3000:]
    assert_close(losses(first[0]), reference["data"], range(1, 4))
    assert "LOSS" not in first[1]  # process 0 alone reports
    resumed = run(tmp_path, 1, cache_dir=cache_dir)[0]
    assert_close(losses(resumed), reference["data"], (4, 5))
    logged = [line for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert len(logged) == 5  # steps 1-3 written once (by process 0), then 4-5


def test_one_process_checkpoint_resumed_by_two(tmp_path, reference, cache_dir):
    """The reference's checkpoint at step 3 (1 process) continues on 2 processes as it did on 1."""
    shutil.copytree(reference["data_dir"], tmp_path / "run")
    shutil.rmtree(tmp_path / "run" / "checkpoints" / "5")
    out = run(tmp_path / "run", 2, cache_dir=cache_dir)
    assert sorted(losses(out[0])) == [4, 5]
    assert_close(losses(out[0]), reference["data"], (4, 5))


@pytest.mark.parametrize("mesh, against", [
    ((2, 2), "fsdp"),  # each process holds one data row of the mesh
    # FSDP across processes: every process holds every row (and builds every stream). The batches
    # do not depend on the mesh, which changes only the order of reductions: the data-mesh run's losses.
    ((1, 4), "data"),
])
def test_fsdp_meshes_on_two_processes_match_one(tmp_path, reference, cache_dir, mesh, against):
    out = run(tmp_path, 2, "--mesh-data", str(mesh[0]), "--fsdp", str(mesh[1]), cache_dir=cache_dir)
    assert_close(losses(out[0]), reference[against], range(1, 6))


def test_a_killed_process_is_named_and_a_restart_resumes(tmp_path, reference, cache_dir):
    started = time.monotonic()
    out = run(tmp_path, 2, "--every", "2", "--heartbeat", "20", "--seconds-per-step", "0.5",
              kill=(1, 3), cache_dir=cache_dir)
    message = re.search(r"^ERROR (.*)$", out[0], re.M)
    assert message, out[0][-3000:]
    assert re.match(r"ProcessLostError: step \d: lost process 1 \(", message.group(1)), message.group(1)
    assert f"the last good checkpoint is step 2 in {tmp_path / 'checkpoints'}" in message.group(1)
    assert time.monotonic() - started < 600
    restarted = run(tmp_path, 2, "--every", "2", cache_dir=cache_dir)
    assert sorted(losses(restarted[0])) == [3, 4, 5]
    assert_close(losses(restarted[0]), reference["data"], (3, 4, 5))


@pytest.mark.parametrize("extra, difference", [
    (["--extra-modality"], "layout: pose only here"),  # its plugins' vocabulary layout differs
    (["--num-processes", "3"], "num_processes = 3 (process 0: 2)"),  # JAX would go by process 0's count
])
def test_processes_that_disagree_are_refused_before_any_step(tmp_path, cache_dir, extra, difference):
    launch = LocalLaunch([sys.executable, str(WORKER), "--out", str(tmp_path)], 2, devices_per_process=2,
                         env=_env(cache_dir), output=None, extra_args={1: extra})
    result = launch.wait(grace_s=60, timeout_s=300)
    assert result.returncodes == (3, 3), launch.output(0)[-3000:]
    for i in (0, 1):
        text = launch.output(i)
        assert "ERROR DistributedError: the processes of this run disagree, nothing was trained" in text, text[-3000:]
        assert re.search(r"process 1 \(host [^)]+\) differs from process 0 \(host [^)]+\): .*" + re.escape(difference), text)
        assert "STEP" not in text
    assert not (tmp_path / "layout.json").exists()  # refused before process 0 laid out the run


# ---------------------------------------------------------------------- cheap checks, in process
@pytest.mark.parametrize("settings_, message", [
    (dict(coordinator="h:1"), r"missing --num-processes, --process-id"),
    (dict(coordinator="h:1", num_processes=2, process_id=2), r"--process-id 2: must lie in 0..1"),
    (dict(coordinator="h:1", num_processes=0, process_id=0), r"--num-processes 0: must be >= 1"),
    (dict(coordinator="nohostport", num_processes=2, process_id=0), r"--coordinator 'nohostport': expected HOST:PORT"),
    (dict(coordinator="h:1", num_processes=2, process_id=0, heartbeat_timeout_s=0), r"heartbeat_timeout_s = 0"),
])
def test_inconsistent_cluster_settings_are_refused(settings_, message):
    with pytest.raises(DistributedError, match=message):
        ClusterConfig(**settings_).check()


def test_cluster_environments_are_detected():
    assert detect_cluster({}) is None
    slurm = {"SLURM_JOB_ID": "7", "SLURM_STEP_NODELIST": "n[1-2]", "SLURM_PROCID": "0", "SLURM_LOCALID": "0"}
    assert detect_cluster({**slurm, "SLURM_NTASKS": "4"}) == "slurm"
    assert detect_cluster({**slurm, "SLURM_NTASKS": "1"}) is None  # one task: a single-process run
    assert detect_cluster({"OMPI_MCA_orte_hnp_uri": "x", "OMPI_COMM_WORLD_SIZE": "2"}) == "ompi"
    assert detect_cluster({"TPU_WORKER_HOSTNAMES": "a,b"}) == "cloud-tpu"
    assert detect_cluster({"JAX_COORDINATOR_ADDRESS": "h:1"}) == "JAX_COORDINATOR_ADDRESS"


def test_launch_names_the_failed_process_and_stops_the_others():
    code = "import sys, time\nargs = sys.argv\ni = int(args[args.index('--process-id') + 1])\n" \
           "sys.exit(5) if i == 1 else time.sleep(60)"
    started = time.monotonic()
    launch = LocalLaunch([sys.executable, "-c", code], 3, devices_per_process=0, output=io.StringIO())
    result = launch.wait(grace_s=0.5)
    assert result.first_failure == 1 and result.returncodes[1] == 5 and result.returncodes[0] < 0
    with pytest.raises(LaunchError, match=r"process 1 of 3 exited with status 5 .* the others were stopped"):
        launch_local([sys.executable, "-c", code], 3, devices_per_process=0, grace_s=0.5)
    assert time.monotonic() - started < 60  # not the 60 s the others would sleep


def test_host_device_flag_replaces_an_existing_one():
    assert _with_host_devices("--xla_force_host_platform_device_count=8 --foo", 2) == \
        "--foo --xla_force_host_platform_device_count=2"


# ---------------------------------------------------------------------- the streams
def _windows(examples: grain.MapDataset) -> grain.IterDataset:
    # A stand-in for packing: windows that say which examples they hold.
    return examples.map(lambda i: {"x": np.asarray([i, i * 7 % 5], np.int64)}).to_iter_dataset()


@settings(max_examples=12, deadline=None)
@given(st.sampled_from([(4, 1), (4, 2), (4, 4), (8, 2), (6, 3)]), st.sampled_from([1, 2]), st.integers(0, 5))
def test_processes_together_read_the_one_process_batches(shape, processes, steps):
    """Any split of the rows among processes yields, row for row, the single-process batches;
    a state merged from the processes resumes in one process where they stopped."""
    batch, streams = shape
    whole = BatchStreams(grain.MapDataset.range(10**6), _windows, batch_size=batch, streams=streams)
    per = batch // processes
    parts = [BatchStreams(grain.MapDataset.range(10**6), _windows, batch_size=batch, streams=streams,
                          rows=range(p * per, (p + 1) * per)) for p in range(processes)]
    for _ in range(steps):
        want = next(whole)["x"]
        got = np.concatenate([next(p)["x"] for p in parts])
        np.testing.assert_array_equal(got, want)
    merged = merge_stream_states([p.get_state() for p in parts])
    assert stream_count(merged) == streams
    resumed = BatchStreams(grain.MapDataset.range(10**6), _windows, batch_size=batch, streams=streams)
    resumed.set_state(merged)
    np.testing.assert_array_equal(next(resumed)["x"], next(whole)["x"])
    if streams > 1:  # every example is read once: stream s holds examples s, s+S, ...
        assert sorted(next(whole)["x"][:, 0] % streams) == sorted(np.repeat(np.arange(streams), batch // streams))


def test_stream_settings_are_checked():
    with pytest.raises(ConfigError, match=r"data.streams = 3: must divide data.batch_size = 4"):
        BatchStreams(grain.MapDataset.range(10), _windows, batch_size=4, streams=3)
    two = BatchStreams(grain.MapDataset.range(100), _windows, batch_size=4, streams=2)
    one = BatchStreams(grain.MapDataset.range(100), _windows, batch_size=4, streams=1)
    with pytest.raises(ArchonError, match=r"holds 1 stream\(s\), this run reads 2"):
        two.set_state(one.get_state())


# ---------------------------------------------------------------------- the commands
def test_train_refuses_incomplete_cluster_flags(tmp_path):
    from typer.testing import CliRunner

    import archon_framework.cli as cli

    result = CliRunner().invoke(cli.app, ["train", "--config", str(tmp_path / "t.toml"), "--coordinator", "h:1",
                                          "--process-id", "0"])
    assert result.exit_code == 2
    assert "missing --num-processes" in result.output


def test_archon_launch_runs_train_in_every_process_and_names_the_failure(tmp_path):
    """`archon launch` starts 2 processes of `archon train`, which join one run (JAX's
    distributed runtime); both refuse the config, and the launch names the failure."""
    (tmp_path / "t.toml").write_text(f'out_dir = "{tmp_path / "run"}"\n[data]\ndataset = "{tmp_path / "none"}"\n')
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(archon_command(["launch", "--local", "2", "--devices-per-process", "2", "--", "train",
                                          "--config", str(tmp_path / "t.toml"), "--no-progress"]),
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 3, done.stdout + done.stderr
    for i in (0, 1):
        assert f"[process {i}]   data.dataset = '{tmp_path / 'none'}': not a dataset directory" in done.stdout
    assert re.search(r"error: process [01] of 2 exited with status 2", done.stderr)
