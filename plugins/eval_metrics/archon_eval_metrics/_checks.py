"""Input checks shared by the metrics: every error names the metric and the field at fault."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from archon_framework import RawValueError

__all__ = ["as_array", "same_shape", "field_of"]


def as_array(metric: str, field: str, value: Any, *, ndim: int | tuple[int, ...] | None = None,
             dtype: Any = None) -> np.ndarray:
    """``value`` as a finite numeric array, optionally of a given rank.

    Args:
        metric: the metric's name, for messages.
        field: which input this is (e.g. ``"prediction 'video'"``), for messages.
        value: the raw value.
        ndim: allowed rank(s).
        dtype: cast to this dtype after the checks.

    Raises:
        RawValueError: not numeric, wrong rank, empty, or NaN/inf.
    """
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise RawValueError(f"metric {metric}: {field} must be a numeric array, got dtype {arr.dtype}")
    ranks = (ndim,) if isinstance(ndim, int) else ndim
    if ranks is not None and arr.ndim not in ranks:
        want = " or ".join(str(r) for r in ranks)
        raise RawValueError(f"metric {metric}: {field} must have {want} dimensions, got shape {arr.shape}")
    if arr.size == 0:
        raise RawValueError(f"metric {metric}: {field} is empty (shape {arr.shape})")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise RawValueError(f"metric {metric}: {field} contains NaN or infinite values")
    return arr if dtype is None else arr.astype(dtype)


def same_shape(metric: str, field: str, prediction: np.ndarray, reference: np.ndarray) -> None:
    """Raise unless prediction and reference have one shape (the message quotes both).

    Raises:
        RawValueError: the shapes differ.
    """
    if prediction.shape != reference.shape:
        raise RawValueError(
            f"metric {metric}: prediction {field!r} has shape {prediction.shape}, the reference "
            f"{reference.shape}; they must match (same frames and size)"
        )


def field_of(metric: str, side: str, values: Any, modality: str) -> Any:
    """The value of ``modality`` in a multi-modality metric input (a mapping).

    Raises:
        RawValueError: ``values`` is not a mapping or lacks the modality.
    """
    if not isinstance(values, Mapping):
        raise RawValueError(
            f"metric {metric}: the {side} must be a mapping of modality -> value "
            f"(it scores several modalities), got {type(values).__name__}"
        )
    if modality not in values:
        raise RawValueError(
            f"metric {metric}: the {side} has no {modality!r} value (it has: {', '.join(sorted(values)) or 'none'})"
        )
    return values[modality]
