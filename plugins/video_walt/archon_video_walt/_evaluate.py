"""Held-out metrics of generated videos: label accuracy of the colours, PSNR, and baselines.

**Label accuracy.** The generated video should follow the conditioning label maps. Each frame's
label map (the semantic input, up-sampled to the video by nearest neighbour) splits the ground
truth frame into regions; the mean colour of every region is that label's colour in that frame.
Each generated pixel is classified as the label whose mean colour is nearest (Euclidean RGB), and
the accuracy is the fraction of pixels whose class is the conditioning label. The ground truth
video itself scores below 1 (shading, and the label maps are at half the video's resolution):
that score is the ceiling. ``moving`` restricts the count to pixels whose label differs from the
first frame's label at the same place, where only a model that follows the semantic video can be
right and a still image is always wrong.

**Baselines** that ignore the semantic video: the reference image held still for every frame, and
the same model sampled with the semantic condition replaced by its learned null (the classifier-
free-guidance branch that never sees the label maps).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from archon_video_walt._data import TrainingClip, prepare_clips, upsample_labels

__all__ = ["psnr", "label_accuracy", "evaluate_renderer"]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB between two uint8 arrays of one shape."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def label_accuracy(video: np.ndarray, truth: np.ndarray, semantic: np.ndarray) -> dict[str, float]:
    """Label accuracy of ``video`` [F, H, W, 3] against ``semantic`` [F, S, S] through the per-label
    mean colours of ``truth`` [F, H, W, 3]; returns {"all": ..., "moving": ... (nan if none)}."""
    factor = video.shape[1] // semantic.shape[1]
    labels = upsample_labels(np.asarray(semantic, np.int64), factor)  # [F, H, W]
    correct = total = moving_correct = moving_total = 0
    for f in range(video.shape[0]):
        lab = labels[f].ravel()
        present = np.unique(lab)
        counts = np.bincount(lab, minlength=present.max() + 1)[present].astype(np.float64)
        ref = truth[f].reshape(-1, 3).astype(np.float64)
        means = np.stack([np.bincount(lab, weights=ref[:, ch], minlength=present.max() + 1)[present] for ch in range(3)],
                         axis=1) / counts[:, None]  # [K, 3]
        pix = video[f].reshape(-1, 3).astype(np.float64)
        d = (pix**2).sum(1, keepdims=True) - 2 * pix @ means.T + (means**2).sum(1)  # [HW, K]
        hit = present[np.argmin(d, axis=1)] == lab
        correct += int(hit.sum())
        total += hit.size
        moved = lab != labels[0].ravel()
        moving_correct += int(hit[moved].sum())
        moving_total += int(moved.sum())
    return {"all": correct / total, "moving": moving_correct / moving_total if moving_total else float("nan")}


def _mean(rows: list[dict[str, float]], key: str) -> float:
    vals = [r[key] for r in rows if np.isfinite(r[key])]
    return float(np.mean(vals)) if vals else float("nan")


def evaluate_renderer(renderer: Any, clips: Sequence[Any], *, frames: int | None = None, seed: int = 0,
                      steps: int | None = None, guidance: float | None = None) -> dict[str, Any]:
    """Generate each clip's first ``frames`` frames (all when None) and score them.

    ``clips`` are archon Clips (with video, semantic, image, description) or prepared
    TrainingClips. Returns per method (``generated``, ``no_semantic``, ``static_reference``,
    ``ground_truth``, ``autoencoder``) the mean over clips of label accuracy (all pixels and moving
    pixels) and PSNR against the ground truth video.
    """
    if clips and not isinstance(clips[0], TrainingClip):
        clips = prepare_clips(clips, renderer.config)
    rows: dict[str, list[dict[str, float]]] = {k: [] for k in
                                                ("generated", "no_semantic", "static_reference", "ground_truth", "autoencoder")}
    for clip in clips:
        n = clip.video.shape[0] if frames is None else min(frames, clip.video.shape[0])
        sem, truth = clip.semantic[:n], clip.video[:n]
        outputs = {
            "generated": renderer.generate(sem, clip.reference, clip.description, seed=seed, steps=steps, guidance=guidance),
            "no_semantic": renderer.generate(sem, clip.reference, clip.description, seed=seed, steps=steps,
                                             guidance=guidance, drop=("semantic",)),
            "static_reference": np.repeat(clip.image[None], n, axis=0),
            "ground_truth": truth,
            "autoencoder": renderer.reconstruct(truth),
        }
        for name, video in outputs.items():
            acc = label_accuracy(video, truth, sem)
            rows[name].append({"label_accuracy": acc["all"], "moving_label_accuracy": acc["moving"],
                               "psnr_db": psnr(video, truth) if name != "ground_truth" else float("nan")})
    report: dict[str, Any] = {"clips": len(clips), "frames": frames}
    for name, r in rows.items():
        report[name] = {k: _mean(r, k) for k in ("label_accuracy", "moving_label_accuracy", "psnr_db")}
    report["ground_truth"].pop("psnr_db")
    return report
