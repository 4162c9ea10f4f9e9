"""FLAME parameter I/O (npz with named arrays) and the per-dimension normalization."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs
import numpy as np

from archon_framework import DataError, RawValueError

from ._dims import DEFAULT_DIMS, FlameDims

__all__ = ["FlameParams", "Normalizer", "load_flame_npz", "save_flame_npz"]

_STD_FLOOR = 1e-6


@attrs.frozen(kw_only=True, eq=False)
class FlameParams:
    """One clip's FLAME parameters (paper Sec. D.4).

    Attributes:
        shape: ``float32 [dims.shape]`` identity (time-invariant).
        expression: ``float32 [frames, dims.expression]``.
        pose: ``float32 [frames, dims.pose]``: axis-angle head rotation (3) + translation (3).
    """

    shape: np.ndarray
    expression: np.ndarray
    pose: np.ndarray


def _checked(name: str, value: np.ndarray, shape: tuple[int | None, ...], where: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiu":
        raise DataError(f"{where}: array {name!r} must be numeric, got dtype {arr.dtype}")
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
        pretty = tuple("*" if s is None else s for s in shape)
        raise DataError(f"{where}: array {name!r} must have shape {pretty}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{where}: array {name!r} contains NaN or infinite values")
    return arr.astype(np.float32)


def save_flame_npz(path: str | Path, params: FlameParams, *, dims: FlameDims = DEFAULT_DIMS) -> None:
    """Write ``shape``, ``expression`` and ``pose`` arrays (float32) to an ``.npz`` file.

    Raises:
        DataError: an array of the wrong shape for ``dims`` or with NaN/inf.
    """
    path = Path(path)
    where = f"FLAME parameters for {path}"
    shape = _checked("shape", params.shape, (dims.shape,), where)
    expression = _checked("expression", params.expression, (None, dims.expression), where)
    pose = _checked("pose", params.pose, (expression.shape[0], dims.pose), where)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, shape=shape, expression=expression, pose=pose)


def load_flame_npz(path: str | Path, *, dims: FlameDims = DEFAULT_DIMS) -> FlameParams:
    """Read an ``.npz`` with arrays ``shape [S]``, ``expression [frames, E]``, ``pose [frames, P]``.

    Raises:
        DataError: a missing file or array, a wrong shape for ``dims``, NaN/inf.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: cannot read FLAME parameters ({err})") from err
    missing = [k for k in ("shape", "expression", "pose") if k not in arrays]
    if missing:
        raise DataError(f"{path}: missing array(s) {missing}; an npz needs shape, expression, pose")
    expression = _checked("expression", arrays["expression"], (None, dims.expression), str(path))
    return FlameParams(
        shape=_checked("shape", arrays["shape"], (dims.shape,), str(path)),
        expression=expression,
        pose=_checked("pose", arrays["pose"], (expression.shape[0], dims.pose), str(path)),
    )


@attrs.frozen(eq=False)
class Normalizer:
    """Per-dimension z-scoring with the training set's statistics (paper supp. C.2, D.4).

    ``normalize(x) = (x - mean) / std`` and ``denormalize`` inverts it; a dimension whose
    standard deviation is below 1e-6 (constant over the data) uses std 1.

    Attributes:
        mean: ``float32 [dim]``.
        std: ``float32 [dim]``, all > 0.
    """

    mean: np.ndarray = attrs.field(converter=lambda a: np.asarray(a, np.float32))
    std: np.ndarray = attrs.field(converter=lambda a: np.asarray(a, np.float32))

    def __attrs_post_init__(self) -> None:
        if self.mean.shape != self.std.shape or self.mean.ndim != 1:
            raise RawValueError(f"Normalizer: mean {self.mean.shape} and std {self.std.shape} must be [dim]")
        if not (np.all(np.isfinite(self.mean)) and np.all(self.std > 0) and np.all(np.isfinite(self.std))):
            raise RawValueError("Normalizer: mean must be finite and std finite and positive")

    @classmethod
    def identity(cls, dim: int) -> Normalizer:
        """Mean 0, std 1 (an untrained tokenizer)."""
        return cls(np.zeros(dim), np.ones(dim))

    @classmethod
    def fit(cls, arrays: Sequence[np.ndarray]) -> Normalizer:
        """Statistics over all frames of ``arrays`` (each ``[frames, dim]`` or ``[dim]``)."""
        rows = np.concatenate([np.asarray(a, np.float64).reshape(-1, a.shape[-1]) for a in arrays])
        std = rows.std(axis=0)
        return cls(rows.mean(axis=0), np.where(std < _STD_FLOOR, 1.0, std))

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def normalize(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, np.float32) - self.mean) / self.std).astype(np.float32)

    def denormalize(self, z: np.ndarray) -> np.ndarray:
        return (np.asarray(z, np.float32) * self.std + self.mean).astype(np.float32)

    def save(self, path: Path) -> None:
        np.savez(path, mean=self.mean, std=self.std)

    @classmethod
    def load(cls, path: Path) -> Normalizer:
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(data["mean"], data["std"])
        except (OSError, KeyError, ValueError) as err:
            raise DataError(f"{path}: cannot read the normalization statistics ({err})") from err
