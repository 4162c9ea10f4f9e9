"""The video denoiser's start, side by side in one process: every training window encoded before
the first update (the trainer until issue 27's change) against windows encoded the first time a
batch draws them (`archon_video_walt.LatentWindows`, what `train_video_decoder` does now).

    .venv/bin/python benchmarks/video_walt_encoding.py --train-clips 64 --steps 40 --rounds 2

Both variants run the same denoiser steps on the same draws (one trainer, its batch generator
reset before each run), after every function they call was compiled once (so the seconds are
encoding and training, not compilation), alternating which goes first in each round. The
autoencoder is untrained: the cost of encoding does not depend on its weights. Printed per
variant (median over rounds): seconds to the first finished update, seconds to the last, windows
encoded, seconds spent encoding; then the ratios lazy / eager. A time-budgeted stage (the demo's)
gets the difference as denoiser updates; a long stage that draws every window pays about the
same either way.

Measured (issue 27, the 2-core development machine with nothing else running, tiny config, 64
clips of 1 s = 384 windows, 40 updates of 8 windows, 2 rounds, the command above): first update
42.0 s eager against 8.9 s lazy (**0.21x**), all 40 updates 77.5 s against 62.2 s (**0.80x**),
242 of the 384 windows encoded (0.11 s a window either way). With the lazy path encoding 4
windows a call, the same run gave 0.90x: padding a step's few new windows to a full call cost
what the skipped windows saved, hence one window a call.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import attrs
import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from video_walt_train import load_clips  # noqa: E402 (a sibling benchmark's cached clips)

from archon_video_walt import (  # noqa: E402
    SHIPPED_CONFIGS,
    Autoencoder,
    DenoiserTrainer,
    LatentWindows,
    encode_windows,
    load_video_config,
    shipped_config,
)
from archon_video_walt._data import prepare_clips  # noqa: E402


def _run(variant: str, trainer: DenoiserTrainer, ae: Autoencoder, clips: list, config, *, steps: int,
         seed: int) -> dict[str, float]:
    trainer.rng = np.random.default_rng(seed + 3)  # the same draws for both variants
    start = time.perf_counter()
    if variant == "eager":
        windows = encode_windows(ae, clips, config)
    else:
        windows = LatentWindows(ae, clips, config, seed=seed)
    first = None
    for k in range(steps):
        trainer.step(trainer.batch(windows, clips, config.train.batch_size))  # floats: the update ran
        if k == 0:
            first = time.perf_counter() - start
    return {"first_update_s": float(first or 0.0), "total_s": time.perf_counter() - start,
            "encoded_windows": windows.encoded, "windows": len(windows), "encode_s": windows.encode_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="tiny", help=f"one of {SHIPPED_CONFIGS} or a config file")
    parser.add_argument("--train-clips", type=int, default=64)
    parser.add_argument("--clip-seconds", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=40, help="denoiser updates per run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/video_walt_report/data"),
                        help="clip cache (shared with video_walt_train.py)")
    parser.add_argument("--out", type=Path, default=None, help="also write the figures here as JSON")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    if args.steps < 1 or args.rounds < 1 or args.train_clips < 1:
        parser.error("--steps, --rounds and --train-clips must be at least 1")

    config = shipped_config(args.config) if args.config in SHIPPED_CONFIGS else load_video_config(args.config)
    config = attrs.evolve(config, train=attrs.evolve(config.train, eval_clips=0))
    clips = prepare_clips(load_clips(args.cache, split="train", seed=0, count=args.train_clips,
                                     seconds=args.clip_seconds, progress=not args.no_progress), config)
    ae = Autoencoder(config.autoencoder, key=jax.random.key(args.seed))
    trainer = DenoiserTrainer(config, steps=args.steps * args.rounds * 2 + 1, seed=args.seed)
    # Compile what both variants call: the window and the lone-frame encoders, and the update.
    warm = encode_windows(ae, clips[:1], config)
    LatentWindows(ae, clips[:1], config).fill()
    trainer.step(trainer.batch(warm, clips[:1], config.train.batch_size))

    runs: dict[str, list[dict[str, float]]] = {"eager": [], "lazy": []}
    for r in range(args.rounds):
        for variant in (("eager", "lazy") if r % 2 == 0 else ("lazy", "eager")):
            runs[variant].append(_run(variant, trainer, ae, clips, config, steps=args.steps, seed=args.seed))
            row = runs[variant][-1]
            print(f"round {r} {variant:5s}: first update {row['first_update_s']:7.2f} s, {args.steps} updates "
                  f"{row['total_s']:7.2f} s, encoded {row['encoded_windows']} of {row['windows']} windows "
                  f"in {row['encode_s']:.2f} s", flush=True)

    med = {v: {k: statistics.median(run[k] for run in rows) for k in rows[0]} for v, rows in runs.items()}
    ratios = {"first_update_lazy_over_eager": med["lazy"]["first_update_s"] / med["eager"]["first_update_s"],
              "total_lazy_over_eager": med["lazy"]["total_s"] / med["eager"]["total_s"]}
    print(f"\nmedian of {args.rounds} rounds, {len(clips)} clips, {args.steps} updates of "
          f"{config.train.batch_size} windows:")
    for v, m in med.items():
        print(f"  {v:5s} first update {m['first_update_s']:7.2f} s   all updates {m['total_s']:7.2f} s   "
              f"encoded {m['encoded_windows']:.0f}/{m['windows']:.0f}   encoding {m['encode_s']:.2f} s")
    print(f"  lazy / eager: first update {ratios['first_update_lazy_over_eager']:.3f}x, "
          f"all updates {ratios['total_lazy_over_eager']:.3f}x")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None},
            "runs": runs, "median": med, "ratios": ratios}, indent=2) + "\n")


if __name__ == "__main__":
    main()
