"""Seconds per clip-second of each pretrained-model metric of `archon eval` (issue 21), on this machine.

Each metric runs on the same real held-out synthetic clips (espeak speech, rendered RGB faces),
called through its registered ``Metric.fn`` exactly as the eval calls it, once to warm up (model
loading, first-call compilation; printed as "first") and then timed on fresh copies of the clips,
so the per-content caches that let several metrics share one FaceMesh pass or one recognition
do not hide any work (LMD's figure includes landmarking both videos; in the eval the reference's
landmarks are shared by the mouth and face LMD, and the prediction's by lip sync and detection rate). Printed per metric: seconds per clip-second (the median over clips), the
real-time factor's inverse, and the ratio to the cheapest metric measured in the same run. The
weight-free proxies (PSNR, the label-area lip sync) run beside them as the yardstick.

    .venv/bin/python benchmarks/eval_metrics_speed.py --clips 3 --seconds 2
    archon bench eval_metrics_speed --seconds 4

DNSMOS tiles a clip shorter than its 9.01 s window by doubling it and scores every 1 s hop of
the result, so its cost per clip-second is highest on short clips (a 2 s clip is scored as 7
windows, a 1.2 s clip as 1): ``--seconds`` changes its figure most.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import numpy as np

from archon_framework import load_registry

#: Metric -> the modalities its fn reads from the prediction (the reference is the clip itself).
METRICS = ("lipsync_face_confidence", "lmd_mouth", "face_detection_rate", "speech_wer", "speech_dnsmos",
           "voice_speaker_similarity", "video_psnr", "lipsync_area_envelope_confidence")


def _inputs(metric, clip):
    if len(metric.modalities) == 1:
        return clip[metric.modalities[0]]
    return {m: clip[m] for m in metric.modalities}


_CALLS = [0]


def _fresh(clip):
    """A copy of every array value: a copy with the same content would hit the caches, so each call perturbs
    a different speech sample by 1e-7 and flips the lowest bit of a different video pixel."""
    _CALLS[0] += 1
    k = _CALLS[0]
    values = {}
    for name in clip.values:
        value = clip[name]
        if isinstance(value, np.ndarray):
            value = value.copy()
            if name == "speech":
                value[k % value.shape[0]] += np.float32(1e-7)
            elif name == "video":
                value[0, k % value.shape[1], 0, 0] ^= 1
        values[name] = value
    return clip.with_values(**values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=3, help="held-out clips (each timed once)")
    parser.add_argument("--seconds", type=float, default=2.0, help="clip length (>= 1 s: lip sync searches +-15 frames)")
    parser.add_argument("--metrics", nargs="+", default=list(METRICS), help="metric names")
    args = parser.parse_args()

    warnings.simplefilter("ignore")
    registry = load_registry()
    missing = [m for m in args.metrics if m not in registry.metrics]
    if missing:
        parser.error(f"not installed: {', '.join(missing)} (pip install -e plugins/eval_metrics and "
                     "'plugins/perception[quality,speaker]')")
    heldout = registry.dataset("synthetic_heads_test")
    clips = [heldout.generate(i, seconds=args.seconds, seed=0) for i in range(args.clips)]
    print(f"{args.clips} held-out clips of {args.seconds:g} s; {os.cpu_count()} CPUs; load average "
          f"{os.getloadavg()[0]:.1f}")
    rows = []
    for name in args.metrics:
        metric = registry.metrics[name]
        warm = _fresh(clips[0])
        start = time.perf_counter()
        metric.fn(_inputs(metric, warm), _inputs(metric, clips[0]), meta=clips[0].meta)
        first = time.perf_counter() - start
        per_second = []
        for clip in clips:
            fresh, reference = _fresh(clip), _fresh(clip)  # from scratch: LMD landmarks both videos
            start = time.perf_counter()
            metric.fn(_inputs(metric, fresh), _inputs(metric, reference), meta=clip.meta)
            per_second.append((time.perf_counter() - start) / clip.meta.duration)
        rows.append((name, first, statistics.median(per_second)))
    cheapest = min(r[2] for r in rows)
    print(f"{'metric':36s} {'first (s)':>10s} {'s / clip-s':>11s} {'x real time':>12s} {'vs cheapest':>12s}")
    for name, first, cost in rows:
        print(f"{name:36s} {first:10.2f} {cost:11.4f} {1 / cost:12.1f} {cost / cheapest:12.1f}")


if __name__ == "__main__":
    main()
