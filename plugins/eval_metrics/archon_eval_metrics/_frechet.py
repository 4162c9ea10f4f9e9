"""Fréchet distances between sets of clips over documented, weight-free features.

FID (Heusel et al. 2017) fits a Gaussian to the Inception features of each set and reports the
Fréchet (2-Wasserstein) distance between the two Gaussians,

    FD = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a^{1/2} S_b S_a^{1/2})^{1/2}).

Here the features are hand-made instead of Inception's (so values are not comparable to FID):

* semantic videos, :func:`label_area_features` (42 numbers): for each of the 21 labels, the
  mean and the standard deviation over frames of the fraction of the frame it covers (how much
  of each part is drawn, and how much that moves);
* RGB images and videos, :func:`colour_histogram_features` (48 numbers): per channel, a 16-bin
  histogram of the 0..255 values over all pixels (of all frames), as fractions.

The trace term uses the symmetric form ``(S_a^{1/2} S_b S_a^{1/2})^{1/2}`` (equal in trace to
``(S_a S_b)^{1/2}``) through eigendecompositions, which stays real and exact for the singular
covariances that small evaluation sets give (a set of n clips has rank <= n - 1);
``scipy.linalg.sqrtm(S_a @ S_b)``, which FID code uses, returns complex round-off there.
Covariances are unbiased (``ddof=1``); a set of one clip has zero covariance, so its distance to
another single clip is the squared Euclidean distance of their features. Small sets bias the
estimate upwards (as for FID): compare numbers computed on sets of one size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np
from jaxtyping import Float

from archon_framework import ClipMeta, Metric, RawValueError
from archon_semantic_magvit import NUM_LABELS

from archon_eval_metrics._checks import as_array

__all__ = [
    "Gaussian",
    "fit_gaussian",
    "frechet_distance",
    "frechet_distance_gaussians",
    "label_area_features",
    "colour_histogram_features",
    "HISTOGRAM_BINS",
    "set_level",
    "is_set_level",
    "SET_LEVEL_ATTRIBUTE",
    "semantic_frechet_metric",
    "image_frechet_metric",
    "video_frechet_metric",
]

#: Bins per colour channel of :func:`colour_histogram_features`.
HISTOGRAM_BINS: int = 16
#: The attribute :func:`set_level` puts on a metric fn (the form before ``Metric(set_level=True)``).
SET_LEVEL_ATTRIBUTE: str = "archon_set_level"


def set_level(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a metric fn as set-level: it takes sequences of values (one per clip) on both sides."""
    setattr(fn, SET_LEVEL_ATTRIBUTE, True)
    return fn


def is_set_level(metric: Any) -> bool:
    """Whether a ``Metric`` (its ``set_level``; or a bare fn marked with :func:`set_level`) scores
    sets of clips rather than one clip."""
    if isinstance(metric, Metric):
        return metric.set_level
    return bool(getattr(metric, SET_LEVEL_ATTRIBUTE, False))


@attrs.frozen(eq=False)
class Gaussian:
    """A fitted Gaussian: mean ``[dim]`` and covariance ``[dim, dim]``."""

    mean: np.ndarray
    cov: np.ndarray


def fit_gaussian(features: Float[np.ndarray, "n dim"], *, metric: str = "frechet_distance", side: str = "features") -> Gaussian:
    """Mean and unbiased covariance of ``features`` (one row per clip; zero covariance for one row).

    Raises:
        RawValueError: not a non-empty finite 2-D array.
    """
    x = as_array(metric, side, features, ndim=2, dtype=np.float64)
    cov = np.cov(x, rowvar=False, ddof=1).reshape(x.shape[1], x.shape[1]) if x.shape[0] > 1 else np.zeros((x.shape[1],) * 2)
    return Gaussian(x.mean(axis=0), cov)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix (negative round-off clipped)."""
    vals, vecs = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


def frechet_distance_gaussians(a: Gaussian, b: Gaussian, *, metric: str = "frechet_distance") -> float:
    """The Fréchet distance between two Gaussians (>= 0).

    Raises:
        RawValueError: the two have different dimensions.
    """
    if a.mean.shape != b.mean.shape or a.cov.shape != b.cov.shape:
        raise RawValueError(
            f"metric {metric}: the two feature sets have dimensions {a.mean.shape[0]} and {b.mean.shape[0]}"
        )
    root_a = _psd_sqrt(a.cov)
    middle = root_a @ b.cov @ root_a
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)).sum()
    diff = a.mean - b.mean
    value = float(diff @ diff + np.trace(a.cov) + np.trace(b.cov) - 2.0 * trace_sqrt)
    return max(value, 0.0)


def frechet_distance(features_a: Float[np.ndarray, "n dim"], features_b: Float[np.ndarray, "m dim"], *,
                     metric: str = "frechet_distance") -> float:
    """Fit a Gaussian to each feature set (rows = clips) and return their Fréchet distance.

    Raises:
        RawValueError: bad arrays or different feature dimensions.
    """
    a = fit_gaussian(features_a, metric=metric, side="the first feature set")
    b = fit_gaussian(features_b, metric=metric, side="the second feature set")
    return frechet_distance_gaussians(a, b, metric=metric)


def label_area_features(semantic: Any, *, metric: str = "label_area_features", field: str = "'semantic'") -> np.ndarray:
    """Per label, the mean and std over frames of its area fraction: float64 ``[2 * 21]``.

    Raises:
        RawValueError: not a ``[frames, H, W]`` video of labels 0..20.
    """
    labels = as_array(metric, field, semantic, ndim=3)
    if labels.dtype.kind not in "biu" or labels.min() < 0 or labels.max() >= NUM_LABELS:
        raise RawValueError(f"metric {metric}: {field} must hold integer labels 0..{NUM_LABELS - 1}")
    frames = labels.shape[0]
    flat = labels.reshape(frames, -1).astype(np.int64)
    offsets = (np.arange(frames) * NUM_LABELS)[:, None]
    counts = np.bincount((flat + offsets).ravel(), minlength=frames * NUM_LABELS).reshape(frames, NUM_LABELS)
    fractions = counts / flat.shape[1]  # [frames, labels]
    return np.concatenate([fractions.mean(axis=0), fractions.std(axis=0)])


def colour_histogram_features(rgb: Any, *, bins: int = HISTOGRAM_BINS, metric: str = "colour_histogram_features",
                              field: str = "'image'") -> np.ndarray:
    """Per channel, a ``bins``-bin histogram of 0..255 over all pixels, as fractions: ``[3 * bins]``.

    Accepts an image ``[H, W, 3]`` or a video ``[frames, H, W, 3]``.

    Raises:
        RawValueError: not RGB, or values outside 0..255.
    """
    x = as_array(metric, field, rgb, ndim=(3, 4))
    if x.shape[-1] != 3:
        raise RawValueError(f"metric {metric}: {field} must be RGB (last axis 3), got shape {x.shape}")
    if x.min() < 0 or x.max() > 255:
        raise RawValueError(f"metric {metric}: {field} must hold values in 0..255")
    # bin of value v: floor(v * bins / 256); counting the 256 integer levels first keeps a video cheap
    levels = np.floor(np.moveaxis(x, -1, 0).reshape(3, -1)).astype(np.int64) if x.dtype != np.uint8 \
        else np.moveaxis(x, -1, 0).reshape(3, -1)  # [3, pixels]
    counts = np.stack([np.bincount(levels[c], minlength=256) for c in range(3)])  # [3, 256]
    bin_of = np.minimum(np.arange(256) * bins // 256, bins - 1)
    hist = np.stack([np.bincount(bin_of, weights=counts[c], minlength=bins) for c in range(3)])  # [3, bins]
    return (hist / levels.shape[1]).ravel()


def _as_set(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _set_frechet(name: str, features: Callable[..., np.ndarray], field: str,
                 predictions: Any, references: Any) -> float:
    preds, refs = _as_set(predictions), _as_set(references)
    if not preds or not refs:
        raise RawValueError(f"metric {name}: both sets need at least one clip (got {len(preds)} and {len(refs)})")
    fa = np.stack([features(v, metric=name, field=f"prediction {i} {field!r}") for i, v in enumerate(preds)])
    fb = np.stack([features(v, metric=name, field=f"reference {i} {field!r}") for i, v in enumerate(refs)])
    return frechet_distance(fa, fb, metric=name)


@set_level
def semantic_frechet_metric(predictions: Any, references: Any, *, meta: ClipMeta | Sequence[ClipMeta] | None = None) -> float:
    """Set-level metric fn: Fréchet distance of :func:`label_area_features` of two sets of label videos."""
    return _set_frechet("semantic_label_area_frechet", label_area_features, "semantic", predictions, references)


@set_level
def image_frechet_metric(predictions: Any, references: Any, *, meta: ClipMeta | Sequence[ClipMeta] | None = None) -> float:
    """Set-level metric fn: Fréchet distance of :func:`colour_histogram_features` of two sets of images."""
    return _set_frechet("image_colour_histogram_frechet", colour_histogram_features, "image", predictions, references)


@set_level
def video_frechet_metric(predictions: Any, references: Any, *, meta: ClipMeta | Sequence[ClipMeta] | None = None) -> float:
    """Set-level metric fn: Fréchet distance of :func:`colour_histogram_features` of two sets of videos."""
    return _set_frechet("video_colour_histogram_frechet", colour_histogram_features, "video", predictions, references)
