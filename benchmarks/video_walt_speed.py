"""Seconds of compute per generated second of video for the WALT video decoder on this CPU.

Run by hand:  .venv/bin/python benchmarks/video_walt_speed.py [--config tiny] [--seconds 2] [--repeats 3]

Renders a ``--seconds`` clip (30 fps; 128 x 128 semantic video + 256 x 256 reference image ->
256 x 256 RGB for the tiny config) with a seeded, untrained renderer, which costs exactly what a
trained one does: the DDIM steps (``diffusion.sample_steps``, classifier-free guidance evaluating
two branches per step unless ``--guidance 1``), the chunking (``chunk_frames`` per chunk, chunks
sharing one frame) and the autoencoder's decoding. Compilation is excluded (one warm-up render);
the figures are medians over ``--repeats`` renders. Prints the seconds per generated second (the
real-time factor: below 1 is faster than real time), per frame, and the share of the time spent
outside the denoiser (the autoencoder's encoding and decoding), measured with one DDIM step.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path


from archon_framework import ClipMeta
from archon_video_walt import SHIPPED_CONFIGS, VideoRenderer, chunk_plan, load_video_config, shipped_config, toy_clip


def _median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: compilation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="tiny", help=f"one of {SHIPPED_CONFIGS} or a config file (.toml/.json)")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of the rendered clip")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=None, help="DDIM steps (default: the config's)")
    parser.add_argument("--guidance", type=float, default=None, help="CFG weight (default: the config's; 1 = one branch)")
    args = parser.parse_args()

    config = shipped_config(args.config) if args.config in SHIPPED_CONFIGS else load_video_config(Path(args.config))
    renderer = VideoRenderer.untrained(config, seed=0)
    frames = int(round(args.seconds * args.fps))
    clip = toy_clip(0, frames=frames, semantic_size=config.semantic_size, output_size=config.image_size,
                    frame_rate=args.fps)
    meta = ClipMeta(clip_id="bench", duration=frames / args.fps, frame_rate=args.fps, sample_rate=16_000)
    inputs = (clip["semantic"], clip["image"], clip["description"])
    steps = config.diffusion.sample_steps if args.steps is None else args.steps
    guidance = config.diffusion.guidance if args.guidance is None else args.guidance

    def render(n_steps: int):
        return lambda: renderer.generate(*inputs, seed=0, meta=meta, steps=n_steps, guidance=guidance)

    total = _median_seconds(render(steps), args.repeats)
    one_step = _median_seconds(render(1), args.repeats)
    per_step = (total - one_step) / max(steps - 1, 1)
    outside = max(one_step - per_step, 0.0)  # encoding the reference/continuations and decoding
    length, starts = chunk_plan(frames, config.chunk_frames, config.autoencoder.temporal_downsample)
    d = config.denoiser
    print(f"config={args.config} output {config.output_size}x{config.output_size}, {frames} frames "
          f"({meta.duration:g} s at {args.fps:g} fps) in {len(starts)} chunk(s) of {length} frames; "
          f"{steps} DDIM steps, guidance {guidance:g} ({'1 branch' if guidance == 1.0 else '2 branches'}); "
          f"denoiser width {d.width} depth {d.depth}; {os.cpu_count()} CPUs; median of {args.repeats}")
    print(f"  render           {total:8.2f} s   {total / meta.duration:8.2f} s per generated second   "
          f"{1000 * total / frames:8.1f} ms per frame")
    print(f"  one DDIM step    {per_step:8.3f} s   (all chunks; {per_step / len(starts) * 1000:.1f} ms per chunk)")
    print(f"  autoencoder etc. {outside:8.2f} s   ({100 * outside / total:.0f}% of the render)")
    print(f"  real-time factor {total / meta.duration:.2f} (1 = real time)")


if __name__ == "__main__":
    main()
