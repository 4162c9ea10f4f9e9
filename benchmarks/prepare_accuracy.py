"""`archon data prepare` against ground truth: synthetic_heads clips rendered to mp4 with their speech.

Each held-out (test split) clip's RGB video (30 fps) and speech are encoded as H.264/AAC mp4 and
prepared by the installed steps at 30 fps with `crop.mode = "full"` (the renders are already
head-centred, so the prepared semantic video lies on the generator's 128 x 128 grid). Reported,
each against the generator's own modalities:

* semantic: mean IoU over the labels present in the rendered labels (archon-semantic-magvit's
  `mean_iou`), per clip and per label;
* animation: Pearson correlation of the fitted `jaw_open` (expression 0) with the generator's
  jaw (its expression 0), and of the geometric mouth opening (inner-lip gap / face size) too;
* script: word error rate of the recognized script (pocketsphinx) against the spoken text;
* crop: jitter of the head box, mean |frame-to-frame centre motion| / box side, of the
  per-frame boxes and of the `smooth` crop (the `union` crop, the default, has none);
* speed: seconds of video prepared per wall-clock second, `--jobs` processes, cold start
  (process start, model loading) included; and the CPU seconds spent per second of video
  (all threads, the workers and ffmpeg included), which does not depend on what else runs on
  the machine: 2 cores prepare `2 / cpu_seconds_per_video_second` seconds of video per second.

Usage: python benchmarks/prepare_accuracy.py [--clips 8] [--seconds 4] [--jobs 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from archon_framework import load_registry
from archon_framework.data import ClipDataset, PrepareConfig, prepare_videos
from archon_perception import mouth_opening
from archon_prepare_mediapipe import face_boxes, steady_boxes, track_faces, write_video
from archon_semantic_magvit import LABELS
from archon_semantic_magvit._evaluate import per_label_iou  # noqa: PLC2701 - benchmarks may read plugin internals
from archon_synthetic_heads import generate_clip


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate after lower-casing and dropping punctuation (Levenshtein over words)."""
    ref = re.sub(r"[^a-z0-9' ]+", " ", reference.lower()).split()
    hyp = re.sub(r"[^a-z0-9' ]+", " ", hypothesis.lower()).split()
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(len(ref), 1)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the workers, ffmpeg), all threads."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _jitter(boxes: np.ndarray) -> float:
    return float(np.mean(np.linalg.norm(np.diff(boxes[:, :2], axis=0), axis=1) / boxes[1:, 2]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    registry = load_registry()
    with tempfile.TemporaryDirectory() as tmp:
        videos, truth = Path(tmp) / "videos", {}
        videos.mkdir()
        for i in range(args.clips):
            clip = generate_clip(i, seed=args.seed, seconds=args.seconds, split="test")
            name = f"clip{i:03d}"
            write_video(videos / f"{name}.mp4", clip["video"], clip.meta.frame_rate, clip["speech"], clip.meta.sample_rate)
            truth[name] = clip
        config = PrepareConfig(frame_rate=30.0, jobs=args.jobs, min_seconds=0.5, steps={"crop": {"mode": "full"}})
        t0, c0 = time.perf_counter(), _cpu_seconds()
        report = prepare_videos(registry, videos, Path(tmp) / "out", config=config)
        wall, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
        prepared = {c.clip_id: c for c in ClipDataset(Path(tmp) / "out")}

        rows, ious_by_label = [], {name: [] for name in LABELS}
        for name, ref in truth.items():
            got = prepared.get(name)
            if got is None:
                rows.append({"clip": name, "prepared": False, "issues": report["videos"][name]["issues"]})
                continue
            t = min(len(got["semantic"]), len(ref["semantic"]))
            ious = per_label_iou(got["semantic"][:t], ref["semantic"][:t])
            for label, iou in ious.items():
                ious_by_label[LABELS[label] if isinstance(label, (int, np.integer)) else label].append(iou)
            points, found = track_faces(ref["video"])
            opening = mouth_opening(points)
            rows.append({
                "clip": name, "prepared": True,
                "semantic_miou": float(np.mean(list(ious.values()))),
                "jaw_corr_fitted": _corr(got["expression"][:t, 0], ref["expression"][:t, 0]),
                "jaw_corr_mouth_gap": _corr(opening[:t], ref["expression"][:t, 0]),
                "wer": wer(ref["script"], got.get("script", "")) if "script" in got else 1.0,
                "script": got.get("script", ""), "spoken": ref["script"],
                "jitter_per_frame_box": _jitter(face_boxes(points[found])),
                "jitter_smooth_crop": _jitter(steady_boxes(face_boxes(points[found]), mode="smooth", fps=30.0)),
            })
        ok = [r for r in rows if r["prepared"]]
        seconds = args.clips * args.seconds
        summary = {
            "clips": args.clips, "prepared": len(ok), "seconds_of_video": seconds, "jobs": args.jobs,
            "wall_s": round(wall, 2), "video_seconds_per_second": round(seconds / wall, 3),
            "cpu_s": round(cpu, 2), "cpu_seconds_per_video_second": round(cpu / seconds, 3),
            "real_time_factor_on_2_cores_from_cpu": round(2 * seconds / cpu, 2),
            "semantic_miou": float(np.mean([r["semantic_miou"] for r in ok])),
            "jaw_corr_fitted": float(np.nanmean([r["jaw_corr_fitted"] for r in ok])),
            "jaw_corr_mouth_gap": float(np.nanmean([r["jaw_corr_mouth_gap"] for r in ok])),
            "wer": float(np.mean([r["wer"] for r in ok])),
            "jitter_per_frame_box": float(np.mean([r["jitter_per_frame_box"] for r in ok])),
            "jitter_smooth_crop": float(np.mean([r["jitter_smooth_crop"] for r in ok])),
            "jitter_union_crop": 0.0,
            "iou_per_label": {k: round(float(np.mean(v)), 3) for k, v in ious_by_label.items() if v},
            "issues": report["totals"]["issues"],
        }
        for r in rows:
            print(json.dumps(r))
        print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
