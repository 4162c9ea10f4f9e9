"""Frames per second of the semantic and image tokenizers (encode and decode) on this CPU.

Run by hand:  .venv/bin/python benchmarks/semantic_magvit_speed.py [--config tiny|paper] [--repeats 3]
Prints one line per tokenizer, measured side by side in one run (compilation excluded).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from archon_framework import ClipMeta
from archon_semantic_magvit import ImageTokenizer, SemanticTokenizer, shipped_config, toy_image, toy_label_video


def _rate(fn, repeats: int) -> float:
    fn()  # compile
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return repeats / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=("tiny", "paper"), default="tiny")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--frames", type=int, default=17)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    meta = ClipMeta(clip_id="bench", duration=args.frames / 30.0, frame_rate=30.0, sample_rate=16_000)
    sem = SemanticTokenizer.untrained(shipped_config(f"semantic_{args.config}"))
    img = ImageTokenizer.untrained(shipped_config(f"image_{args.config}"))
    video, image = toy_label_video(args.frames, rng=rng), toy_image(rng=rng)
    sem_ids, img_ids = sem.encode(video, meta=meta), img.encode(image, meta=meta)
    rows = [
        ("semantic encode", args.frames * _rate(lambda: sem.encode(video, meta=meta), args.repeats)),
        ("semantic decode", args.frames * _rate(lambda: sem.decode(sem_ids, meta=meta), args.repeats)),
        ("image encode", _rate(lambda: img.encode(image, meta=meta), args.repeats)),
        ("image decode", _rate(lambda: img.decode(img_ids, meta=meta), args.repeats)),
    ]
    print(f"config={args.config} frames={args.frames} (semantic 128x128 labels, image 256x256 RGB)")
    for name, fps in rows:
        print(f"  {name:16s} {fps:8.2f} frames/s")
    print(f"  semantic/image encode ratio {rows[0][1] / rows[2][1]:.2f}")


if __name__ == "__main__":
    main()
