"""Train the tiny semantic (and optionally image) tokenizer on procedural clips; print the report.

Run by hand, e.g. 15 minutes on 2 cores:
    .venv/bin/python benchmarks/semantic_magvit_report.py --seconds 900 --out /tmp/sem_magvit
Reports held-out per-pixel label accuracy and mean IoU against the majority-label baseline
(semantic) and PSNR against a mean-colour baseline (image, with --image).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from archon_framework import Clip, ClipMeta
from archon_semantic_magvit import toy_image, toy_label_video, train_image, train_semantic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=900.0)
    parser.add_argument("--clips", type=int, default=48)
    parser.add_argument("--frames", type=int, default=9)
    parser.add_argument("--out", type=Path, default=Path("/tmp/semantic_magvit_report"))
    parser.add_argument("--image", action="store_true", help="also train the image tokenizer")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    meta = lambda i: ClipMeta(clip_id=f"toy{i}", duration=args.frames / 30, frame_rate=30, sample_rate=16_000)
    clips = [Clip(meta(i), {"semantic": toy_label_video(args.frames, rng=rng), "image": toy_image(rng=rng)})
             for i in range(args.clips)]
    report = {"semantic": train_semantic(clips, out_dir=args.out / "semantic", seconds=args.seconds)}
    if args.image:
        report["image"] = train_image(clips, out_dir=args.out / "image", seconds=args.seconds)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
