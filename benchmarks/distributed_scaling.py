"""Multi-process data-parallel training on this machine: throughput for 1, 2 and 4 processes, and
each process's data-loading rate against what its step consumes (issue 23).

Each run is `archon_framework.train.Trainer` on N local processes joined through JAX's
distributed runtime (`LocalLaunch`, one CPU device per process, gloo collectives), the tiny
prefix LM, packed windows of `--seq-len` tokens, `--rows` windows per process (weak scaling:
the global batch grows with the processes, as when hosts are added). Reported per run:

* **tokens/s**: global batch tokens over the median step time (steps after the compiled first
  two), and **scaling efficiency** = tokens/s / (N x tokens/s of 1 process). On a 2-core machine
  processes beyond 2 share cores, so efficiency falls: the figures are data, not a claim;
* **loading/consumption**: windows/s a process's own streams (`Trainer.batches`, its rows only)
  produce, timed alone after training, over the windows/s its step consumes (rows / step time);
  above 1 the loader keeps up with the step.

    .venv/bin/python benchmarks/distributed_scaling.py --processes 1 2 4 --steps 8
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _registry():
    """Three small array modalities (8-bin quantizers) and one suite over them, byte text."""
    from archon_framework import Modality, RawSpec, Slot, Task, TaskSuite, Vocabulary, hookimpl
    from archon_framework.testing import make_registry

    class Quantizer:
        def __init__(self, vocab):
            self.vocabulary = vocab

        def encode(self, raw, *, meta):
            return np.clip((np.asarray(raw, np.float32).ravel() * self.vocabulary.size).astype(np.int32), 0,
                           self.vocabulary.size - 1)

        def decode(self, local_ids, *, meta):
            return ((np.asarray(local_ids, np.float32) + 0.5) / self.vocabulary.size).reshape(-1, 2)

    def modality(name, size, temporal=True):
        vocab = Vocabulary(name, size)
        return Modality(name=name, vocabulary=vocab, temporal=temporal, phrase=f"{name} signal",
                        raw=RawSpec(kind="array", dtype="float32", shape=("frames", 2) if temporal else (1, 2),
                                    value_range=(0.0, 1.0)),
                        num_tokens=(lambda meta: 2 * meta.frames) if temporal else (lambda meta: 2),
                        tokenizer=lambda path, vocab=vocab: Quantizer(vocab))

    suite = TaskSuite("bench", (Task((Slot("speech", "c"),), Slot("expression", "c")),
                                Task((Slot("expression", "c"),), Slot("speech", "c")),
                                Task((Slot("speech", "p"),), Slot("speech", "c"))))

    class Plugin:
        @hookimpl
        def archon_modalities(self):
            return [modality("speech", 16), modality("expression", 32), modality("image", 64, temporal=False)]

        @hookimpl
        def archon_task_suites(self):
            return [suite]

    return make_registry(("bench", Plugin()), with_byte_text=True)


def _clips(n: int):
    from archon_framework import Clip, ClipMeta

    out = []
    for i in range(n):
        rng = np.random.default_rng(i)
        meta = ClipMeta(clip_id=f"c{i}", duration=2.0, frame_rate=25, sample_rate=100)
        out.append(Clip(meta, {"speech": rng.uniform(0, 1, (50, 2)).astype(np.float32),
                               "expression": rng.uniform(0, 1, (50, 2)).astype(np.float32),
                               "image": rng.uniform(0, 1, (1, 2)).astype(np.float32), "script": f"clip {i}"}))
    return out


def worker(args: argparse.Namespace) -> None:
    """One process: train, time the steps, then time this process's data loading alone."""
    from archon_framework.train import (ClusterConfig, DataConfig, ModelSection, TrainConfig, Trainer,
                                        join_cluster)

    join_cluster(ClusterConfig(coordinator=args.coordinator, num_processes=args.num_processes,
                               process_id=args.process_id))
    import jax

    n = jax.process_count()
    config = TrainConfig(out_dir=args.out, steps=args.steps, log_every=args.steps, tensorboard=False,
                         model=ModelSection(config="tiny"),
                         data=DataConfig(suite="bench", seq_len=args.seq_len, batch_size=args.rows * n, packing_bins=4))
    trainer = Trainer(config, _registry(), clips=_clips(32), progress=False)
    stamps: list[float] = []
    trainer.train(on_step=lambda step, record: stamps.append(time.perf_counter()))
    step_s = statistics.median(np.diff(stamps[1:])) if len(stamps) > 3 else float("nan")
    it = trainer.batches()
    next(it)
    start, windows = time.perf_counter(), 0
    for _ in range(args.load_batches):
        windows += len(next(it)["tokens"])
    load_rate = windows / (time.perf_counter() - start)
    print("RESULT " + json.dumps({"process": jax.process_index(), "processes": n, "step_s": step_s,
                                  "global_tokens": args.rows * n * args.seq_len,
                                  "loading_windows_per_s": load_rate, "consumed_windows_per_s": args.rows / step_s}),
          flush=True)


def run(processes: int, args: argparse.Namespace, root: Path) -> list[dict]:
    from archon_framework.train import LocalLaunch

    command = [sys.executable, __file__, "--worker", "--out", str(root / f"p{processes}"), "--steps", str(args.steps),
               "--rows", str(args.rows), "--seq-len", str(args.seq_len), "--load-batches", str(args.load_batches)]
    env = {"JAX_PLATFORMS": "cpu"}
    if processes == 1:
        done = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, timeout=1800)
        outputs = [done.stdout + done.stderr]
    else:
        launch = LocalLaunch(command, processes, devices_per_process=1, env=env, output=None)
        launch.wait(timeout_s=1800)
        outputs = [launch.output(i) for i in range(processes)]
    results = [json.loads(line[7:]) for text in outputs for line in text.splitlines() if line.startswith("RESULT ")]
    if len(results) != processes:
        raise SystemExit(f"{processes}-process run failed:\n" + "\n".join(o[-2000:] for o in outputs))
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--rows", type=int, default=4, help="windows per process per step")
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--load-batches", type=int, default=20)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--coordinator", help=argparse.SUPPRESS)
    p.add_argument("--num-processes", type=int, help=argparse.SUPPRESS)
    p.add_argument("--process-id", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return
    print(f"tiny prefix LM, seq_len {args.seq_len}, {args.rows} windows per process per step, {args.steps} steps, "
          f"{os.cpu_count()} CPU cores, one CPU device per process")
    print(f"{'processes':>9} {'step s':>8} {'tokens/s':>10} {'efficiency':>10} {'loading/consumption (per process)':>36}")
    base = None
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.processes:
            results = run(n, args, Path(tmp))
            step_s = max(r["step_s"] for r in results)
            tokens_s = results[0]["global_tokens"] / step_s
            base = base or tokens_s / n
            ratios = " ".join(f"{r['loading_windows_per_s'] / r['consumed_windows_per_s']:.1f}"
                              for r in sorted(results, key=lambda r: r["process"]))
            print(f"{n:>9} {step_s:>8.3f} {tokens_s:>10.0f} {tokens_s / (n * base):>10.2f} {ratios:>36}", flush=True)


if __name__ == "__main__":
    main()
