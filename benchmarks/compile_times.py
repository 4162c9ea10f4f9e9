"""Cold compile seconds per tokenizer/video-decoder trainer at the demo's configs, and compiles per function.

Each trainer runs as the demo runs it (``registry.modalities[name].trainer(clips, steps=None,
seconds=--budget)``, the plugin's shipped tiny config; the budget counts training seconds after the
first compiled step) in a fresh process with JAX's persistent compilation cache off, so every
compilation is cold. ``--steps N`` runs a fixed step count instead: a run planned to end before a
tokenizer's discriminator starts then compiles its update without the discriminator. Per trainer
it prints:

- ``compile_s``: wall seconds JAX spent tracing, lowering and compiling (the union of its
  monitoring spans, so a jit traced inside another counts once), of which ``update_s`` in the
  trainer's update steps (the functions named in ``UPDATES``) and the rest in evaluation,
  encoding and sampling after training;
- ``compiles``: XLA compilations per function over the run: every update function should read 1; ``other_top``: the other functions that took longest to compile
  (``[compilations, backend seconds]``); ``training``: the trainer's own `TrainReport`(s);
- ``wall_s``: the whole trainer call (data preparation, training, saving, evaluation);
- with ``--warm``, the same run again on a persistent cache filled by the first one
  (``warm_compile_s``: what a second ``archon demo --train`` pays).

    .venv/bin/python benchmarks/compile_times.py                  # all trainers, a 2 s budget each
    .venv/bin/python benchmarks/compile_times.py --only speech,video --steps 5 --warm

Clips: ``--clips`` synthetic_heads clips of ``--seconds`` (the demo's default length, 1 s).
Machines differ and a busy 2-core machine varies by 2x: compare trainers within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

#: Names (JAX's ``fun_name``) of each trainer's jitted update steps.
UPDATES = ("step", "_update", "_autoencoder_update", "_denoiser_update", "_gen_step", "_disc_step")
TRAINERS = ("speech", "semantic", "image", "expression", "video")


class _Spans:
    """Compile spans and per-function backend compilations, from `jax.monitoring`."""

    EVENTS = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration",
              "/jax/core/compile/backend_compile_duration")

    def __init__(self) -> None:
        self.spans: list[tuple[float, float, str]] = []
        self.backend: dict[str, list[float]] = defaultdict(list)

    def __call__(self, event: str, start: float, end: float, **kw: Any) -> None:
        if event in self.EVENTS:
            name = str(kw.get("fun_name", "?"))
            self.spans.append((start, end, name))
            if event == self.EVENTS[-1]:
                self.backend[name].append(end - start)

    @staticmethod
    def union(spans: list[tuple[float, float]]) -> float:
        total, reach = 0.0, float("-inf")
        for a, b in sorted(spans):
            if b > max(a, reach):
                total += b - max(a, reach)
            reach = max(reach, b)
        return total


def _is_update(name: str) -> bool:
    return any(name == u or name.endswith(f"({u})") or name.endswith(f".{u}") for u in UPDATES)


def _clips(n: int, seconds: float) -> list[Any]:
    from archon_synthetic_heads import generate_clip

    return [generate_clip(i, seed=0, seconds=seconds) for i in range(n)]


def run_one(name: str, *, steps: int | None, budget: float, clips: int, seconds: float,
            cache: str | None) -> dict[str, Any]:
    """Run trainer ``name`` (``steps`` steps, else a ``budget`` of training seconds) in this
    process and measure its compilations."""
    import jax

    if cache:
        from archon_framework import enable_compilation_cache

        enable_compilation_cache(cache, min_compile_seconds=0.0)
    else:
        jax.config.update("jax_enable_compilation_cache", False)
    from archon_framework import load_registry

    registry = load_registry()
    data = _clips(clips, seconds)
    trainer = registry.modalities[name].trainer
    if trainer is None:
        raise SystemExit(f"compile_times: modality {name!r} has no trainer")
    spans = _Spans()
    jax.monitoring.register_event_time_span_listener(spans)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        report = trainer(data, out_dir=Path(tmp) / name, steps=steps, seconds=None if steps else budget, seed=0,
                         progress=False)
        wall = time.perf_counter() - start
    jax.monitoring.unregister_event_time_span_listener(spans)
    update_spans = [(a, b) for a, b, n in spans.spans if _is_update(n)]
    training = {k: v for k, v in report.items() if k == "training"}
    return {
        "trainer": name,
        "steps": report.get("steps", steps),
        "wall_s": round(wall, 1),
        "compile_s": round(_Spans.union([(a, b) for a, b, _ in spans.spans]), 1),
        "update_s": round(_Spans.union(update_spans), 1),
        "compiles": {n: len(v) for n, v in sorted(spans.backend.items()) if _is_update(n)},
        "other_compiles": sum(len(v) for n, v in spans.backend.items() if not _is_update(n)),
        "other_top": {n: [len(v), round(sum(v), 1)] for n, v in sorted(
            ((n, v) for n, v in spans.backend.items() if not _is_update(n)), key=lambda nv: -sum(nv[1]))[:8]},
        **training,
    }


def _child(name: str, args: argparse.Namespace, cache: str | None) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", name, "--budget", str(args.budget), "--clips", str(args.clips),
           "--seconds", str(args.seconds)] + (["--cache", cache] if cache else []) + (
           ["--steps", str(args.steps)] if args.steps else [])
    env = {**os.environ, "ARCHON_COMPILATION_CACHE": cache or "off"}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode:
        return {"trainer": name, "error": out.stderr.strip().splitlines()[-1:] or ["failed"]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(TRAINERS), help="comma-separated modalities")
    parser.add_argument("--steps", type=int, help="steps per trainer instead of a budget (video: split by ae_fraction)")
    parser.add_argument("--budget", type=float, default=2.0, help="training seconds per trainer (after compiling)")
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=1.0, help="clip length")
    parser.add_argument("--warm", action="store_true", help="run each again on a warm persistent cache")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child, steps=args.steps, budget=args.budget, clips=args.clips,
                                 seconds=args.seconds, cache=args.cache)))
        return
    results = []
    for name in args.only.split(","):
        with tempfile.TemporaryDirectory() as cache:
            row = _child(name, args, cache if args.warm else None)
            if args.warm and "error" not in row:
                warm = _child(name, args, cache)
                row["warm_compile_s"] = warm.get("compile_s")
                row["warm_wall_s"] = warm.get("wall_s")
        results.append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
