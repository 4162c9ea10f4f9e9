"""The invertible colour embedding of the 21 semantic labels (paper Sec. C.1, Table H)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from archon_semantic_magvit._labels import LABELS

__all__ = [
    "PALETTE",
    "PALETTE_MIN_DISTANCE",
    "labels_to_colors",
    "colors_to_labels",
    "labels_to_unit",
    "unit_palette",
    "palette_logits",
]

# One colour per label, every channel in {0, 128, 255}: 21 of the 27 points of the 3x3x3 grid of
# the RGB cube, so that any two colours differ by at least 128 in one channel (min pairwise L2
# distance 127 in uint8 units, i.e. ~1.0 in the model's [-1, 1] colour space). Background is black.
_COLORS: dict[str, tuple[int, int, int]] = {
    "background": (0, 0, 0),
    "face": (255, 128, 128),
    "neck": (128, 0, 0),
    "ears": (255, 128, 0),
    "upper_lip": (255, 0, 0),
    "lower_lip": (128, 0, 128),
    "nostrils": (128, 128, 0),
    "hair": (0, 0, 128),
    "brows": (0, 128, 0),
    "lashes": (0, 128, 128),
    "beard": (128, 128, 128),
    "teeth": (255, 255, 255),
    "tongue": (255, 0, 128),
    "other_in_the_mouth": (255, 0, 255),
    "pupil": (0, 0, 255),
    "iris": (0, 128, 255),
    "sclera": (255, 255, 128),
    "clothes": (0, 255, 0),
    "glasses": (0, 255, 255),
    "headwear": (255, 255, 0),
    "accessory": (128, 255, 128),
}

#: uint8 [21, 3]: row k is the RGB colour of label k (``LABELS[k]``).
PALETTE: np.ndarray = np.array([_COLORS[name] for name in LABELS], dtype=np.uint8)
PALETTE.setflags(write=False)


def _min_pairwise_distance(palette: np.ndarray) -> float:
    p = palette.astype(np.float64)
    d = np.sqrt(((p[:, None, :] - p[None, :, :]) ** 2).sum(-1))  # [21, 21]
    return float(d[~np.eye(len(p), dtype=bool)].min())


#: Smallest Euclidean distance between two palette colours, in uint8 units.
PALETTE_MIN_DISTANCE: float = _min_pairwise_distance(PALETTE)


def labels_to_colors(labels: np.ndarray) -> np.ndarray:
    """Colourize a label map or video.

    Args:
        labels: integer array [...] with values in 0..20 (checked by the caller).

    Returns:
        uint8 array [..., 3].
    """
    return PALETTE[np.asarray(labels, dtype=np.intp)]


def colors_to_labels(colors: np.ndarray) -> np.ndarray:
    """Invert :func:`labels_to_colors` by nearest palette colour (any RGB input is accepted).

    Args:
        colors: array [..., 3] of RGB values in uint8 units (any real dtype).

    Returns:
        uint8 array [...] of label ids.
    """
    c = np.asarray(colors, dtype=np.float32)
    p = PALETTE.astype(np.float32)
    d = ((c[..., None, :] - p) ** 2).sum(-1)  # [..., 21]
    return d.argmin(-1).astype(np.uint8)


def unit_palette() -> Float[Array, "labels 3"]:
    """The palette scaled to the model's colour space [-1, 1]."""
    return jnp.asarray(PALETTE, dtype=jnp.float32) / 127.5 - 1.0


def labels_to_unit(labels: Int[Array, "*shape"]) -> Float[Array, "*shape 3"]:
    """Label ids -> palette colours in [-1, 1] (jit-friendly)."""
    return unit_palette()[labels]


def palette_logits(pixels: Float[Array, "*shape 3"], tau: float) -> Float[Array, "*shape labels"]:
    """Eq. (3)'s segmentation logits: -tau * ||pixel - palette_k||^2, in [-1, 1] colour space."""
    d2 = ((pixels[..., None, :] - unit_palette()) ** 2).sum(-1)  # [..., 21]
    return -tau * d2

