"""Held-out metrics of the tokenizers: label accuracy and mean IoU (semantic), PSNR (image)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from archon_framework import ClipMeta
from archon_semantic_magvit._labels import LABELS, NUM_LABELS

__all__ = ["label_accuracy", "mean_iou", "per_label_iou", "psnr", "evaluate_semantic", "evaluate_image"]


def label_accuracy(pred: np.ndarray, truth: np.ndarray) -> float:
    """Fraction of pixels whose label is right."""
    return float(np.mean(pred == truth))


def per_label_iou(pred: np.ndarray, truth: np.ndarray) -> dict[int, float]:
    """Intersection-over-union of each label present in ``truth`` (label id -> IoU)."""
    pred, truth = np.asarray(pred).ravel(), np.asarray(truth).ravel()
    n = int(max(pred.max(initial=0), truth.max(initial=0))) + 1
    # One pass: the joint histogram of (truth, pred) is the confusion matrix.
    confusion = np.bincount(truth.astype(np.int64) * n + pred, minlength=n * n).reshape(n, n)
    inter = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - inter
    return {int(k): float(inter[k] / union[k]) for k in np.flatnonzero(confusion.sum(1))}


def mean_iou(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean intersection-over-union over the labels present in ``truth``."""
    return float(np.mean(list(per_label_iou(pred, truth).values())))


def psnr(pred: np.ndarray, truth: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for uint8 images."""
    mse = np.mean((pred.astype(np.float64) - truth.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-10)))


def _meta(clip: Any, frames: int) -> ClipMeta:
    meta = getattr(clip, "meta", None)
    if meta is not None and meta.frames == frames:
        return meta
    return ClipMeta(clip_id=str(getattr(clip, "clip_id", "eval")), duration=frames / 30.0, frame_rate=30.0, sample_rate=16_000)


def evaluate_semantic(tokenizer: Any, train_clips: Sequence[Any], eval_clips: Sequence[Any]) -> dict[str, Any]:
    """Reconstruct held-out label videos through encode/decode; compare with the majority label.

    Returns accuracy and mean IoU (over the labels present in the held-out clips) of the
    reconstructions and of the majority-label baseline, the IoU of each present label (by name),
    and how many distinct codes the held-out clips use.
    """
    counts = np.bincount(np.concatenate([np.asarray(c["semantic"]).ravel() for c in train_clips]), minlength=NUM_LABELS)
    majority = int(counts.argmax())
    preds, truths, codes = [], [], set()
    for clip in eval_clips:
        truth = np.asarray(clip["semantic"])
        meta = _meta(clip, truth.shape[0])
        ids = tokenizer.encode(truth, meta=meta)
        codes.update(np.unique(ids).tolist())
        preds.append(tokenizer.decode(ids, meta=meta).ravel())
        truths.append(truth.ravel())
    pred, truth = np.concatenate(preds), np.concatenate(truths)
    baseline = np.full_like(truth, majority)
    ious = per_label_iou(pred, truth)
    return {
        "label_accuracy": label_accuracy(pred, truth),
        "mean_iou": float(np.mean(list(ious.values()))),
        "majority_label": majority,
        "baseline_label_accuracy": label_accuracy(baseline, truth),
        "baseline_mean_iou": mean_iou(baseline, truth),
        "label_iou": {LABELS[k]: round(v, 4) for k, v in ious.items()},
        "codes_used": len(codes),
    }


def evaluate_image(tokenizer: Any, train_clips: Sequence[Any], eval_clips: Sequence[Any]) -> dict[str, float]:
    """PSNR of held-out reconstructions vs predicting the training set's mean colour."""
    mean_colour = np.mean([np.asarray(c["image"], np.float64).reshape(-1, 3).mean(0) for c in train_clips], axis=0)
    ours, base = [], []
    for clip in eval_clips:
        truth = np.asarray(clip["image"])
        meta = _meta(clip, 1)
        ours.append(psnr(tokenizer.decode(tokenizer.encode(truth, meta=meta), meta=meta), truth))
        base.append(psnr(np.broadcast_to(np.round(mean_colour), truth.shape), truth))
    return {"psnr_db": float(np.mean(ours)), "baseline_mean_colour_psnr_db": float(np.mean(base))}
