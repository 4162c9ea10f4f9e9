"""The plugins' tokenizer trainers run data-parallel (issue 23): the FLAME RVQ trainer and the
semantic tokenizer's (convolutional) trainer give the same losses on 2 host devices of one
process as on 1 device, and FLAME's on 2 processes x 1 device as on 1 process x 2 devices;
process 0 alone writes; a batch the devices cannot split is refused before any step.

Each run is a subprocess (its device count is fixed when JAX starts) of the worker below:
tiny configs, 5 steps.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from archon_framework.train import LocalLaunch

WORKER = r"""
import json, sys
from pathlib import Path
kind, out = sys.argv[1], Path(sys.argv[2])
args = sys.argv[3:]
if "--coordinator" in args:
    from archon_framework.train import ClusterConfig, join_cluster
    get = lambda k: args[args.index(k) + 1]
    join_cluster(ClusterConfig(coordinator=get("--coordinator"), num_processes=int(get("--num-processes")),
                               process_id=int(get("--process-id"))))
import attrs, jax, numpy as np
from archon_framework import ConfigError, enable_compilation_cache
enable_compilation_cache()  # $ARCHON_COMPILATION_CACHE: the runs of a test share what they can

out = out / f"process{jax.process_index()}"
result = {"devices": jax.device_count(), "processes": jax.process_count()}
if kind == "flame":
    from archon_flame_rvq import shipped_config, synthetic_flame_clips, train_tokenizer
    cfg = shipped_config("small", "expression")  # shrunk: a cheap compile
    cfg = attrs.evolve(cfg, model=attrs.evolve(cfg.model, channels=8, latent_dim=4, num_levels=2, codebook_size=16,
                                               blocks_per_stage=1, dilations=(1,), kmeans_iters=2),
                       train=attrs.evolve(cfg.train, batch_size=8, window_frames=8))
    clips = synthetic_flame_clips(4, seconds=1.0, seed=1)
    report = train_tokenizer(cfg, clips, out_dir=out, steps=5, seed=0, progress=False)
    result["losses"] = {**report["final"], **{f"heldout_{k}": v for k, v in report["heldout"].items()}}
    bad = attrs.evolve(cfg, train=attrs.evolve(cfg.train, batch_size=3))
    run_bad = lambda: train_tokenizer(bad, clips, out_dir=out / "bad", steps=1, progress=False)
else:
    from archon_framework import Clip, ClipMeta
    from archon_semantic_magvit import shipped_config, toy_label_video, train_semantic
    cfg = shipped_config("semantic_tiny")
    cfg = attrs.evolve(cfg, model=attrs.evolve(cfg.model, frame_size=32),
                       train=attrs.evolve(cfg.train, batch_size=4, clip_frames=5, crop_size=0, warmup_steps=2,
                                          eval_clips=1, checkpoint_every=1000),
                       loss=attrs.evolve(cfg.loss, adv_start=0))  # the discriminator (and its update) from step 0
    rng = np.random.default_rng(0)
    clips = [Clip(ClipMeta(clip_id=f"toy{i}", duration=5 / 30, frame_rate=30, sample_rate=16_000),
                  {"semantic": toy_label_video(5, 32, rng=rng, num_shapes=2)}) for i in range(4)]
    report = train_semantic(clips, out_dir=out, steps=5, progress=False, config=cfg)
    result["losses"] = {k: report[k] for k in ("first_loss", "final_loss", "label_accuracy", "mean_iou")}
    bad = attrs.evolve(cfg, train=attrs.evolve(cfg.train, batch_size=3))
    run_bad = lambda: train_semantic(clips, out_dir=out / "bad", steps=1, progress=False, config=bad)
if jax.device_count() > 1:
    try:
        run_bad()
    except ConfigError as err:
        result["refused"] = str(err)
    result["wrote_bad"] = (out / "bad").exists()
result["files"] = sorted(p.name for p in out.glob("*")) if out.exists() else []
print("RESULT " + json.dumps(result), flush=True)
"""


def _result(text: str) -> dict:
    found = re.search(r"^RESULT (.*)$", text, re.M)
    assert found, text[-3000:]
    return json.loads(found.group(1))


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    """The worker script, and the environment of its runs (one compilation cache for them all)."""
    folder = tmp_path_factory.mktemp("worker")
    script = folder / "tokenizer_worker.py"
    script.write_text(WORKER)
    return script, {"JAX_PLATFORMS": "cpu", "ARCHON_COMPILATION_CACHE": str(folder / "jax-cache")}


def _run(worker, kind: str, out, devices: int) -> dict:
    script, env = worker
    env = {**os.environ, **env, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    done = subprocess.run([sys.executable, str(script), kind, str(out)], env=env, capture_output=True, text=True,
                          timeout=900)
    return _result(done.stdout + done.stderr)


def _check_split_run(run: dict, one: dict, batch_field: str) -> None:
    assert run["losses"] == pytest.approx(one["losses"], rel=1e-5, abs=1e-5)
    assert run["refused"] == (f"{batch_field} = 3: not a multiple of the {run['devices']} data-parallel device(s) "
                              f"({run['processes']} process(es)); use a multiple of {run['devices']}")
    assert not run["wrote_bad"]  # refused before anything was written


def test_flame_trainer_on_2_devices_and_on_2_processes_matches_1_device(worker, tmp_path):
    one = _run(worker, "flame", tmp_path / "one", 1)
    two = _run(worker, "flame", tmp_path / "two", 2)
    assert (one["devices"], two["devices"]) == (1, 2) and "refused" not in one
    _check_split_run(two, one, "expression tokenizer: train.batch_size")
    assert {"model.eqx", "rvq_state.eqx", "report.json"} <= set(one["files"]) and two["files"] == one["files"]

    script, env = worker
    launch = LocalLaunch([sys.executable, str(script), "flame", str(tmp_path / "procs")], 2, devices_per_process=1,
                         env=env, output=None)
    outcome = launch.wait(grace_s=60, timeout_s=900)
    assert outcome.ok, launch.output(0)[-3000:] + launch.output(1)[-3000:]
    first, second = (_result(launch.output(i)) for i in range(2))
    assert (first["devices"], first["processes"]) == (2, 2)
    assert first["losses"] == pytest.approx(two["losses"], rel=1e-5, abs=1e-5)
    assert second["losses"] == first["losses"]  # every process reports the run's numbers
    _check_split_run(first, one, "expression tokenizer: train.batch_size")
    assert first["files"] == one["files"] and second["files"] == []  # process 0 alone writes


@pytest.mark.slow
def test_semantic_trainer_on_2_devices_matches_1_device(worker, tmp_path):
    one = _run(worker, "semantic", tmp_path / "one", 1)
    two = _run(worker, "semantic", tmp_path / "two", 2)
    _check_split_run(two, one, "semantic tokenizer: train.batch_size")
    assert "model.eqx" in one["files"] and two["files"] == one["files"]
