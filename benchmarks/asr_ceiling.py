"""How long must a clip be for pocketsphinx to tell its words? The word check's ceiling (issue 25).

An edit of a clip's script is judged by the words pocketsphinx recognizes in the new speech
(`speech_wer` of archon-eval-metrics, against the edited script). No generated speech can score
better than the ground truth does, and the check means something only where the ground truth's
recognized words are nearer its own script than another clip's. This scores, on held-out
synthetic clips (`synthetic_heads`' test split, unrendered: `performed_clip`) of each length,
the ground-truth speech's WER (and CER) against its own script and against the next clip's
script, as a paired difference with a 95% bootstrap interval, for the whole clip and for its
current window (after the past window, about the second half: what `edit_check.py --window
current` edits).

    .venv/bin/python benchmarks/asr_ceiling.py --seconds 1 2 4 --clips 32 --out runs/asr-ceiling.json
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from archon_framework import Clip, State, cut_clip, load_registry
from archon_framework.eval import paired_interval
from archon_synthetic_heads import performed_clip

METRICS = ("speech_wer", "speech_cer")


def _window(clip: Clip, registry, which: str) -> Clip:
    """The clip itself (``whole``) or its current window (after its past window, as the edit's)."""
    return clip if which == "whole" else cut_clip(clip, State.CURRENT, registry.modalities)


def score(seconds: float, clips: int, *, seed: int, registry) -> dict[str, Any]:
    """WER/CER of each clip's ground-truth speech against its own and the next clip's script."""
    made = [performed_clip(i, seed=seed, seconds=seconds, split="test") for i in range(clips)]
    out: dict[str, Any] = {"seconds": seconds, "clips": clips}
    for which in ("whole", "current"):
        cut = [_window(c, registry, which) for c in made]
        row: dict[str, Any] = {"words_per_clip": float(np.mean([len(c["script"].split()) for c in cut]))}
        for name in METRICS:
            fn = registry.metrics[name].fn
            own, other = [], []
            for i, clip in enumerate(cut):
                nxt = cut[(i + 1) % len(cut)]
                own.append(float(fn({"speech": clip["speech"]}, {"script": clip["script"]}, meta=clip.meta)))
                other.append(float(fn({"speech": clip["speech"]}, {"script": nxt["script"]}, meta=clip.meta)))
            pairs = [(o, t) for o, t in zip(own, other) if math.isfinite(o) and math.isfinite(t)]
            diff, lo, hi = paired_interval([t - o for o, t in pairs], seed=seed)  # > 0: nearer its own script
            row[name] = {"own": float(np.mean([o for o, _ in pairs])), "other": float(np.mean([t for _, t in pairs])),
                         "other_minus_own": diff, "ci95": [lo, hi], "clips": len(pairs)}
        out[which] = row
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, nargs="+", default=[1.0, 2.0, 4.0], help="clip lengths to score")
    parser.add_argument("--clips", type=int, default=32, help="held-out clips per length")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (and the bootstrap's)")
    parser.add_argument("--out", type=Path, help="write the rows as JSON here")
    args = parser.parse_args(argv)
    if args.clips < 2:
        parser.error("--clips must be at least 2 (each clip is compared with the next one's script)")
    if any(s <= 0 for s in args.seconds):
        parser.error(f"--seconds must be positive, got {args.seconds}")
    registry = load_registry()
    missing = [m for m in METRICS if m not in registry.metrics]
    if missing:
        parser.error(f"the metrics {', '.join(missing)} are not installed (archon-eval-metrics)")
    rows = []
    for seconds in args.seconds:
        t0 = time.perf_counter()
        row = score(seconds, args.clips, seed=args.seed, registry=registry)
        row["wall_s"] = round(time.perf_counter() - t0, 1)
        rows.append(row)
        for which in ("whole", "current"):
            r = row[which]
            figures = "  ".join(
                f"{name[7:].upper()} own {f['own']:.3f} other {f['other']:.3f} other-own {f['other_minus_own']:+.3f} "
                f"[{f['ci95'][0]:+.3f}, {f['ci95'][1]:+.3f}]" for name, f in ((n, r[n]) for n in METRICS))
            print(f"{seconds:g} s {which:7s} words {r['words_per_clip']:.1f}  {figures}", flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"rows": rows, "clips": args.clips, "seed": args.seed}, indent=1))


if __name__ == "__main__":
    main()
