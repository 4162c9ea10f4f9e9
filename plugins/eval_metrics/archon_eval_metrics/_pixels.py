"""Pixel metrics against the ground truth: PSNR and SSIM of images and videos, label accuracy and
mean IoU of semantic videos.

SSIM is Wang, Bovik, Sheikh & Simoncelli 2004 ("Image quality assessment: from error visibility
to structural similarity", IEEE TIP 13(4)), as in their reference MATLAB ``ssim_index``: local
statistics under an 11 x 11 circular Gaussian window (sigma 1.5, normalized to sum 1),

    SSIM(x, y) = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2)),
    C1 = (0.01 L)^2,  C2 = (0.03 L)^2,  L = 255,

with population (weighted, not N-1) moments, averaged over the windows that fit inside the image
("valid" filtering). It equals scikit-image's ``structural_similarity(x, y, data_range=255,
gaussian_weights=True, sigma=1.5, use_sample_covariance=False)`` (scikit-image is not a
dependency). Colour images average the per-channel SSIM (scikit-image's ``channel_axis``
convention); videos average over frames. scipy's separable ``correlate1d`` does the filtering.

PSNR reuses :func:`archon_semantic_magvit.psnr` (uint8 peak 255; its MSE floor of 1e-10 caps a
perfect match at 148.1 dB instead of infinity); a video's PSNR is the mean of its frames'.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.ndimage
from jaxtyping import Float

from archon_framework import ClipMeta, RawValueError
from archon_semantic_magvit import NUM_LABELS, label_accuracy, mean_iou, psnr

from archon_eval_metrics._checks import as_array, same_shape

__all__ = [
    "gaussian_window",
    "ssim",
    "image_psnr_metric",
    "image_ssim_metric",
    "video_psnr_metric",
    "video_ssim_metric",
    "semantic_accuracy_metric",
    "semantic_iou_metric",
]

_K1, _K2 = 0.01, 0.03
_SIGMA, _RADIUS = 1.5, 5  # 11 taps


def gaussian_window(sigma: float = _SIGMA, radius: int = _RADIUS) -> Float[np.ndarray, " taps"]:
    """The 1-D factor of the SSIM window: ``exp(-k^2 / 2 sigma^2)``, ``k = -radius..radius``, sum 1."""
    k = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (k / sigma) ** 2)
    return w / w.sum()


def _local_mean(x: np.ndarray, window: np.ndarray, axes: tuple[int, int]) -> np.ndarray:
    """Weighted local means at every position where the window fits ("valid")."""
    out = x
    for axis in axes:
        out = scipy.ndimage.correlate1d(out, window, axis=axis, mode="constant")
    r = window.shape[0] // 2
    index = [slice(None)] * x.ndim
    for axis in axes:
        index[axis] = slice(r, x.shape[axis] - r)
    return out[tuple(index)]


def ssim(
    x: Any,
    y: Any,
    *,
    data_range: float = 255.0,
    axes: tuple[int, int] = (-2, -1),
    metric: str = "ssim",
) -> Float[np.ndarray, "..."]:
    """Mean SSIM over the valid windows of each 2-D slice, keeping the other axes.

    Args:
        x, y: arrays of one shape; ``axes`` are the spatial axes (e.g. ``(1, 2)`` for
            ``[frames, H, W, 3]``), each at least 11 long.
        data_range: ``L`` (255 for uint8).
        axes: the two spatial axes.
        metric: name for error messages.

    Returns:
        SSIM per slice: the input shape without ``axes`` (a 0-d array for a gray image).

    Raises:
        RawValueError: different shapes or an image smaller than the window.
    """
    a = as_array(metric, "prediction", x, dtype=np.float64)
    b = as_array(metric, "reference", y, dtype=np.float64)
    same_shape(metric, "image", a, b)
    axes = tuple(ax % a.ndim for ax in axes)
    if any(a.shape[ax] < 2 * _RADIUS + 1 for ax in axes):
        raise RawValueError(f"metric {metric}: images of shape {a.shape} are smaller than the 11 x 11 SSIM window")
    window = gaussian_window()
    c1, c2 = (_K1 * data_range) ** 2, (_K2 * data_range) ** 2
    mu_a, mu_b = _local_mean(a, window, axes), _local_mean(b, window, axes)
    var_a = _local_mean(a * a, window, axes) - mu_a**2
    var_b = _local_mean(b * b, window, axes) - mu_b**2
    cov = _local_mean(a * b, window, axes) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return (num / den).mean(axis=axes)


def _rgb(metric: str, prediction: Any, reference: Any, ndim: int) -> tuple[np.ndarray, np.ndarray]:
    kind = "image [H, W, 3]" if ndim == 3 else "video [frames, H, W, 3]"
    field = "image" if ndim == 3 else "video"
    p = as_array(metric, f"prediction {field!r}", prediction, ndim=ndim)
    r = as_array(metric, f"reference {field!r}", reference, ndim=ndim)
    for side, arr in (("prediction", p), ("reference", r)):
        if arr.shape[-1] != 3:
            raise RawValueError(f"metric {metric}: {side} {field!r} must be an RGB {kind}, got shape {arr.shape}")
    same_shape(metric, field, p, r)
    return p, r


def image_psnr_metric(prediction: Any, reference: Any, *, meta: ClipMeta) -> float:
    """Metric fn: PSNR in dB of a uint8 RGB image."""
    p, r = _rgb("image_psnr", prediction, reference, 3)
    return psnr(p, r)


def image_ssim_metric(prediction: Any, reference: Any, *, meta: ClipMeta) -> float:
    """Metric fn: SSIM of an RGB image (mean of the three channels)."""
    p, r = _rgb("image_ssim", prediction, reference, 3)
    return float(ssim(p, r, axes=(0, 1), metric="image_ssim").mean())


def video_psnr_metric(prediction: Any, reference: Any, *, meta: ClipMeta) -> float:
    """Metric fn: mean over frames of the per-frame PSNR in dB."""
    p, r = _rgb("video_psnr", prediction, reference, 4)
    return float(np.mean([psnr(pf, rf) for pf, rf in zip(p, r)]))


def video_ssim_metric(prediction: Any, reference: Any, *, meta: ClipMeta) -> float:
    """Metric fn: mean over frames and channels of the SSIM."""
    p, r = _rgb("video_ssim", prediction, reference, 4)
    # frame by frame: a whole 30 fps video in float64 moments would take gigabytes
    return float(np.mean([ssim(pf, rf, axes=(0, 1), metric="video_ssim").mean() for pf, rf in zip(p, r)]))


def _labels(metric: str, prediction: Any, reference: Any) -> tuple[np.ndarray, np.ndarray]:
    p = as_array(metric, "prediction 'semantic'", prediction, ndim=3)
    r = as_array(metric, "reference 'semantic'", reference, ndim=3)
    same_shape(metric, "semantic", p, r)
    for side, arr in (("prediction", p), ("reference", r)):
        if arr.dtype.kind not in "biu" or arr.min() < 0 or arr.max() >= NUM_LABELS:
            raise RawValueError(f"metric {metric}: {side} 'semantic' must hold integer labels 0..{NUM_LABELS - 1}")
    return p, r


def semantic_accuracy_metric(prediction: Any, reference: Any, *, meta: ClipMeta) -> float:
    """Metric fn: fraction of pixels with the right label (:func:`archon_semantic_magvit.label_accuracy`)."""
    return label_accuracy(*_labels("semantic_label_accuracy", prediction, reference))


def semantic_iou_metric(prediction: Any, reference: Any, *, meta: ClipMeta) -> float:
    """Metric fn: mean IoU over the labels present in the reference (:func:`archon_semantic_magvit.mean_iou`)."""
    return mean_iou(*_labels("semantic_mean_iou", prediction, reference))
