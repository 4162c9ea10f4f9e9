"""Train the tiny WALT video decoder on synthetic_heads clips; report held-out label accuracy and PSNR.

The issue's run (20 minutes of training on 2 cores; data generation is cached and not counted):

    .venv/bin/python benchmarks/video_walt_train.py --minutes 20 --out /tmp/video_walt_report

A quick check of the pipeline: ``--minutes 1`` (the figures then say little).

Data: ``archon_synthetic_heads.generate_clip`` clips ``0..--train-clips-1`` of the ``train`` split
for training and ``0..--eval-clips-1`` of a held-out split (``validation`` by default, or ``test``)
for the report, under ``--data-seed``: the splits draw from disjoint random streams (other people,
other motion, other sentences), so no held-out clip is seen in training. Clips are ``--clip-seconds``
long (30 fps, 128 x 128 semantic video, 256 x 256 reference image and RGB video) and cached as
``.npz`` under ``<out>/data`` (or ``--cache``).

Training: ``archon_video_walt.train_video_decoder`` with the ``tiny`` config (or ``--config``):
the autoencoder takes ``train.ae_fraction`` of the budget, the denoiser the rest (its windows'
encoding included). Report (``<out>/report.json``, also printed), on the first ``--eval-frames``
frames of every held-out clip, generated from its semantic video, first frame and description:

- ``generated``: label accuracy of the generated frames' colours against the conditioning label
  maps (``archon_video_walt.label_accuracy``: each pixel takes the label whose mean colour in the
  ground-truth frame is nearest), on all pixels and on the pixels whose label moved since frame 0,
  and PSNR against the ground truth;
- ``no_semantic``: the same model sampled with the semantic condition replaced by its learned null
  (a baseline that ignores the semantics), and ``static_reference``: the reference image held still;
- ``ground_truth``: the metric's ceiling; ``autoencoder``: the autoencoder's round trip.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import time
from pathlib import Path

import attrs
import numpy as np
from rich.progress import Progress

from archon_framework import Clip, ClipMeta, DataError
from archon_framework.config import atomic_write_bytes, atomic_write_text
from archon_video_walt import (
    SHIPPED_CONFIGS,
    VideoRenderer,
    evaluate_renderer,
    load_video_config,
    shipped_config,
    train_video_decoder,
)

_KEYS = ("semantic", "image", "video")


def _generate(index: int, *, seed: int, split: str, seconds: float) -> Clip:
    try:
        from archon_synthetic_heads import generate_clip
    except ImportError as err:  # pragma: no cover - the benchmark needs the dataset plugin
        sys.exit(f"this benchmark needs archon-synthetic-heads installed ({err})")
    return generate_clip(index, seed=seed, split=split, seconds=seconds)


def load_clips(cache: Path, *, split: str, seed: int, count: int, seconds: float, progress: bool) -> list[Clip]:
    """Clips ``0..count-1`` of ``split`` (semantic, image, video, description), cached as ``.npz``."""
    folder = Path(cache) / split / f"s{seed}"
    clips = []
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(f"synthetic_heads {split} clips", total=count)
        for index in range(count):
            meta = ClipMeta(clip_id=f"synthetic_heads/{split}/s{seed}/{index:07d}", duration=seconds, frame_rate=30.0,
                            sample_rate=16_000, source="synthetic_heads")
            path = folder / f"{index:07d}_{seconds:g}s_video.npz"
            if path.is_file():
                try:
                    with np.load(path) as data:
                        values = {k: data[k] for k in _KEYS}
                        values["description"] = json.loads(str(data["description"]))
                except (OSError, KeyError, ValueError) as err:
                    raise DataError(f"cached clip {path} is unreadable ({err}); delete it to regenerate") from err
            else:
                clip = _generate(index, seed=seed, split=split, seconds=seconds)
                values = {k: np.asarray(clip[k]) for k in _KEYS}
                values["description"] = clip["description"]
                buffer = io.BytesIO()
                np.savez_compressed(buffer, **{k: values[k] for k in _KEYS},
                                    description=np.asarray(json.dumps(values["description"])))
                atomic_write_bytes(path, buffer.getvalue())
            clips.append(Clip(meta, values))
            bar.update(task, advance=1)
    return clips


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def _row(name: str, r: dict) -> str:
    psnr = r.get("psnr_db")
    return (f"  {name:17s} label acc {r['label_accuracy']:.3f}   moving {r['moving_label_accuracy']:.3f}   "
            + ("" if psnr is None else f"PSNR {psnr:6.2f} dB"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=20.0, help="training wall-clock budget (both stages)")
    parser.add_argument("--config", default="tiny", help=f"one of {SHIPPED_CONFIGS} or a config file")
    parser.add_argument("--train-clips", type=int, default=48)
    parser.add_argument("--eval-clips", type=int, default=8)
    parser.add_argument("--eval-split", choices=("validation", "test"), default="validation")
    parser.add_argument("--eval-frames", type=int, default=None,
                        help="frames generated per held-out clip (default: two chunks, 2 * chunk_frames - 1)")
    parser.add_argument("--clip-seconds", type=float, default=2.0)
    parser.add_argument("--sample-steps", type=int, default=None, help="DDIM steps of the report (config default)")
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0, help="initialization, batches and sampling noise")
    parser.add_argument("--out", type=Path, default=Path("/tmp/video_walt_report"))
    parser.add_argument("--cache", type=Path, default=None, help="clip cache (default <out>/data)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    progress = not args.no_progress

    config = shipped_config(args.config) if args.config in SHIPPED_CONFIGS else load_video_config(args.config)
    # Every training clip trains: the report is on the held-out split, not on clips cut from training.
    config = attrs.evolve(config, train=attrs.evolve(config.train, eval_clips=0))
    cache = args.cache or args.out / "data"
    start = time.perf_counter()
    train = load_clips(cache, split="train", seed=args.data_seed, count=args.train_clips, seconds=args.clip_seconds,
                       progress=progress)
    held_out = load_clips(cache, split=args.eval_split, seed=args.data_seed, count=args.eval_clips,
                          seconds=args.clip_seconds, progress=progress)
    data_seconds = time.perf_counter() - start

    model_dir = args.out / "decoder"
    training = train_video_decoder(train, out_dir=model_dir, seconds=60.0 * args.minutes, seed=args.seed,
                                   progress=progress, config=config, evaluate=False)
    renderer = VideoRenderer.load(model_dir)
    frames = args.eval_frames or 2 * config.chunk_frames - 1
    start = time.perf_counter()
    held = evaluate_renderer(renderer, held_out, frames=frames, seed=args.seed, steps=args.sample_steps)
    eval_seconds = time.perf_counter() - start
    gen, base = held["generated"], held["no_semantic"]
    summary = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None},
        "data": {"train": f"synthetic_heads seed {args.data_seed} train 0..{args.train_clips - 1}",
                 "held_out": f"synthetic_heads seed {args.data_seed} {args.eval_split} 0..{args.eval_clips - 1}",
                 "clip_seconds": args.clip_seconds, "seconds_to_load": round(data_seconds, 1)},
        "config": args.config,
        "training": training,
        "held_out": held,
        "held_out_seconds": round(eval_seconds, 1),
        "ratios": {
            "label_accuracy_generated_over_no_semantic": gen["label_accuracy"] / base["label_accuracy"],
            "moving_label_accuracy_generated_over_no_semantic":
                gen["moving_label_accuracy"] / base["moving_label_accuracy"] if base["moving_label_accuracy"] else None,
            "label_accuracy_generated_over_ground_truth": gen["label_accuracy"] / held["ground_truth"]["label_accuracy"],
        },
    }
    atomic_write_text(args.out / "report.json", json.dumps(summary, indent=2) + "\n")
    ae, dn = training["autoencoder"], training["denoiser"]
    print(f"trained {args.minutes:g} min on {args.train_clips} clips: autoencoder {ae['steps']} steps "
          f"(loss {_num(ae['first_loss'])} -> {_num(ae['final_loss'])}), denoiser {dn['steps']} steps on "
          f"{dn['windows']} windows (v-loss {_num(dn['first_loss'])} -> {_num(dn['final_loss'])})")
    print(f"held out: {args.eval_clips} {args.eval_split} clips, first {frames} frames, {eval_seconds:.0f} s")
    for name in ("generated", "no_semantic", "static_reference", "ground_truth", "autoencoder"):
        print(_row(name, held[name]))
    r = summary["ratios"]
    moving = r["moving_label_accuracy_generated_over_no_semantic"]
    print(f"  generated / no_semantic label accuracy {r['label_accuracy_generated_over_no_semantic']:.2f} "
          f"(moving pixels {'n/a' if moving is None else f'{moving:.2f}'}); "
          f"generated / ground truth {r['label_accuracy_generated_over_ground_truth']:.2f}")
    print(f"saved under {args.out}")


if __name__ == "__main__":
    main()
