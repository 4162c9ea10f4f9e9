"""Seconds of each chain step with a trained checkpoint (the demo's tiny LM by default).

Runs each chain on held-out synthetic clips twice per clip: the first run compiles (its times are
printed as "first"), the second is timed (the median over clips is printed per step, with the
tokens the step generated and its share of the chain). Conditions come from the held-out clips
of the `synthetic_heads_test` dataset plugin, as in `archon demo`.

Then one clip of another length (``--other-seconds``, default 1.05x) runs once: when its prompts
and outputs fall in the same length buckets (the default does for 1 s clips at 30 fps: 60 and
64 expression tokens share the 64 bucket, 576 semantic tokens the 768 one), it takes the
steady time, not the first run's
(issue 27: a new clip length compiled again, 48.6 s against 19.4 s steady). The compilations it
caused are counted (``CompileCounter``) and printed per function.

    .venv/bin/archon demo --out runs/demo
    .venv/bin/python benchmarks/chain_steps.py --checkpoint runs/demo/lm --chains speech-to-video speech-to-video-direct
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

from archon_framework import CompileCounter, load_registry
from archon_framework.infer import Sampling, generate, load_checkpoint

CONDITIONS = {"speech-to-video": ("speech", "image"), "speech-to-video-direct": ("speech", "image"),
              "text-to-all": ("description", "script"), "speech-to-all": ("speech",)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="runs/demo/lm", help="a training run (archon train / archon demo)")
    parser.add_argument("--chains", nargs="+", default=["speech-to-video", "speech-to-video-direct"],
                        choices=sorted(CONDITIONS))
    parser.add_argument("--clips", type=int, default=3, help="held-out clips (timed runs)")
    parser.add_argument("--seconds", type=float, default=1.0, help="clip length")
    parser.add_argument("--other-seconds", type=float, default=None, help="the other clip length (default 1.05x)")
    args = parser.parse_args()

    registry = load_registry()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = load_checkpoint(args.checkpoint, registry)
    heldout = registry.dataset("synthetic_heads_test")
    clips = [heldout.generate(i, seconds=args.seconds, seed=0) for i in range(args.clips)]
    sampling = Sampling(temperature=1.0, top_p=0.9)
    print(f"checkpoint {args.checkpoint} (step {model.step}); {args.clips} held-out clips of {args.seconds:g} s")
    for name in args.chains:
        chain = registry.chain(name)  # the installed chains (archon-paper's)
        first: list[float] = []
        per_step: dict[str, list[float]] = {}
        tokens: dict[str, int] = {}
        for i, clip in enumerate(clips):
            conds = {c: clip[c] for c in CONDITIONS[name]}
            for run in range(2 if i == 0 else 1):
                start = time.perf_counter()
                result = generate(model, conds, chain, meta=clip.meta, sampling=sampling, seed=i)
                total = time.perf_counter() - start
                if i == 0 and run == 0:
                    first.append(total)
                    continue
                for step in result.steps:
                    if step.kind in ("generated", "rendered"):
                        per_step.setdefault(str(step.output), []).append(step.seconds)
                        tokens[str(step.output)] = 0 if step.global_ids is None else int(step.global_ids.shape[0])
        whole = sum(statistics.median(v) for v in per_step.values())
        print(f"\n== {name}: first run (compiling) {first[0]:.1f} s; timed runs, median per step:")
        for slot, times in per_step.items():
            med = statistics.median(times)
            kind = f"{tokens[slot]:5d} tokens" if tokens[slot] else "  rendered  "
            print(f"   {slot:16s} {kind}  {med:7.3f} s  {med / whole:6.1%}")
        print(f"   {'chain':16s} {'':12s}  {whole:7.3f} s")
        other = args.other_seconds or round(1.05 * args.seconds, 3)
        clip = heldout.generate(args.clips, seconds=other, seed=0)
        with CompileCounter() as compiles:
            start = time.perf_counter()
            generate(model, {c: clip[c] for c in CONDITIONS[name]}, chain, meta=clip.meta, sampling=sampling, seed=0)
            total = time.perf_counter() - start
        lm = {f: n for f, n in compiles.by_function.items() if f in ("jit(_fixed)", "jit(_until)")}
        print(f"   a {other:g} s clip (another length): {total:.3f} s; LM decoding compiles {lm or 'none'}; "
              f"{compiles.total} compiles in all (plugins' decoders and renderers included)")


if __name__ == "__main__":
    main()
