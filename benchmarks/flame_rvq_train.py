"""Train the three FLAME tokenizers briefly on synthetic trajectories; print held-out error.

The error is in normalized units (per-dimension z-scores of the training set) next to the zero
(mean) baseline, i.e. predicting the training mean everywhere; ``ratio`` = error / baseline.
Uses the CPU-sized ``small`` configs (paper codebooks, F = 64, D = 32) unless told otherwise.

    .venv/bin/python benchmarks/flame_rvq_train.py --seconds 600     # ~10 min per tokenizer
    .venv/bin/python benchmarks/flame_rvq_train.py --steps 300       # a quick look
    .venv/bin/python benchmarks/flame_rvq_train.py --source synthetic_heads --clips 40

``--source synthetic_flame`` (default) uses this plugin's smooth stand-in trajectories
(`synthetic_flame_clips`); ``--source synthetic_heads`` uses the synthetic dataset plugin's clips
(archon-synthetic-heads must be installed).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from archon_flame_rvq import FLAME_MODALITIES, shipped_config, synthetic_flame_clips, train_tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="small", help="shipped config: small, paper, paper_supplementary")
    parser.add_argument("--modalities", nargs="+", default=list(FLAME_MODALITIES))
    parser.add_argument("--steps", type=int, default=None, help="steps per tokenizer")
    parser.add_argument("--seconds", type=float, default=None, help="wall-clock budget per tokenizer")
    parser.add_argument("--clips", type=int, default=60, help="synthetic clips (10%% held out)")
    parser.add_argument("--identity-clips", type=int, default=2000,
                        help="identity has one vector per clip, so it gets more clips")
    parser.add_argument("--clip-seconds", type=float, default=4.0)
    parser.add_argument("--out", type=Path, default=None, help="where to save (default: a temp dir)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--source", choices=["synthetic_flame", "synthetic_heads"], default="synthetic_flame")
    args = parser.parse_args()
    if args.steps is None and args.seconds is None:
        args.steps = 300
    out_root = args.out or Path(tempfile.mkdtemp(prefix="flame_rvq_"))
    rows = []
    heads = None
    if args.source == "synthetic_heads":
        from archon_synthetic_heads import generate_clip

        heads = [generate_clip(i, seed=args.seed, seconds=args.clip_seconds) for i in range(args.clips)]
    for name in args.modalities:
        if heads is not None:
            clips = heads
        else:
            count = args.identity_clips if name == "identity" else args.clips
            seconds = 0.2 if name == "identity" else args.clip_seconds
            clips = synthetic_flame_clips(count, seconds=seconds, seed=args.seed)
        config = shipped_config(args.config, name)
        report = train_tokenizer(config, clips, out_dir=out_root / name, steps=args.steps,
                                 seconds=args.seconds, seed=args.seed, progress=True)
        rows.append(report)
        held = report["heldout"]
        print(f"{name:10s} steps {report['steps']:6d} {report['seconds']:8.1f} s   held-out mse "
              f"{held['mse']:.4f}   zero baseline {held['zero_baseline_mse']:.4f}   ratio {held['ratio']:.3f}",
              flush=True)
    print(json.dumps(rows))
    print(f"saved under {out_root}")


if __name__ == "__main__":
    main()
