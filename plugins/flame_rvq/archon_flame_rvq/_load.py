"""File loaders of ``identity``, ``expression`` and ``pose`` for manifest ingestion
(``archon data ingest``; paper Sec. D.4).

Each modality reads its arrays from an ``.npz`` (``numpy.load`` without pickle), so one file per
clip, as :func:`save_flame_npz` writes it, can serve all three rows of a manifest:

=============  ==========================================  ===================================
modality       arrays read                                  value
=============  ==========================================  ===================================
``identity``   ``shape`` ``[S]``, ``[1, S]`` or             ``float32 [S]``; per-frame shapes
               ``[frames, S]``                              (a fitter's output) are averaged
``expression`` ``expression`` ``[frames, E]``               ``float32 [frames, E]``
``pose``       ``pose`` ``[frames, P]``, or ``rotation``     ``float32 [frames, P]``
               ``[frames, 3]`` + ``translation``            (rotation, then translation)
               ``[frames, P - 3]``
=============  ==========================================  ===================================

``S, E, P`` are the installed :class:`FlameDims` (100, 50, 6 by default); other sizes are
refused (no silent truncation of a 100-coefficient expression to 50). NaN/inf are refused.

**Frame rate.** An optional scalar ``fps`` array gives the rate of the per-frame arrays; without
it they are taken to be at the clip's frame rate. Another rate is resampled to the clip's:
output frame ``i`` is the parameters at time ``i / frame_rate``, linearly interpolated between
the source frames, except the first three pose columns (the axis-angle head rotation), which are
interpolated on the rotation group (spherical linear interpolation, ``scipy`` ``Slerp``).

**Frame count.** ``round(duration * frame_rate)`` frames are needed; the core's
:func:`archon_framework.fit_frame_count` pads a shortfall of at most
``archon_framework.FRAME_TOLERANCE_SECONDS`` by repeating the last frame and drops an excess of
at most that much from the end; anything more is refused.

Every error is a :class:`archon_framework.RawValueError` naming the file and the array.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from jaxtyping import Float
from scipy.spatial.transform import Rotation, Slerp

from archon_framework import ClipMeta, DataError, DataWarning, RawValueError, fit_frame_count

from ._dims import DEFAULT_DIMS, FlameDims
from ._params import _checked

__all__ = [
    "ROTATION_DIMS",
    "read_npz_arrays",
    "resample_parameters",
    "load_flame",
]

#: The leading pose columns that hold the axis-angle head rotation (FlameDims.pose = 3 + translation).
ROTATION_DIMS: int = 3


def read_npz_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` (pickled objects refused).

    Raises:
        RawValueError: unreadable file, not an npz, or object arrays.
    """
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise RawValueError(f"file {path}: cannot read FLAME parameters as an .npz ({err})") from err
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise RawValueError(f"file {path}: expected an .npz of named arrays, got a single .npy array")
    try:
        with data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError) as err:
        raise RawValueError(f"file {path}: cannot read FLAME parameters as an .npz ({err})") from err


def _frame_rate(arrays: dict[str, np.ndarray], meta: ClipMeta, where: str) -> float:
    if "fps" not in arrays:
        return meta.frame_rate
    fps = np.asarray(arrays["fps"])
    if fps.size != 1 or fps.dtype.kind not in "fiu" or not np.isfinite(fps).all() or float(fps.ravel()[0]) <= 0:
        raise RawValueError(f"{where}: array 'fps' must be one positive number, got {fps.tolist()!r}")
    return float(fps.ravel()[0])


def resample_parameters(
    values: Float[np.ndarray, "frames dim"], source_fps: float, target_fps: float, *, rotation_dims: int = 0
) -> Float[np.ndarray, "out dim"]:
    """Resample per-frame parameters from ``source_fps`` to ``target_fps``.

    The output covers the source's duration, ``round(frames * target_fps / source_fps)`` frames
    (at least one); frame i holds time ``i / target_fps`` (times past the last source frame take
    the last frame). Columns are interpolated linearly, except the first ``rotation_dims`` (0 or
    3), an axis-angle rotation interpolated by slerp.
    """
    values = np.asarray(values, np.float64)
    frames = values.shape[0]
    if source_fps == target_fps or frames == 0:
        return values.astype(np.float32)
    n = max(1, int(round(frames * target_fps / source_fps)))
    pos = np.minimum(np.arange(n) * (source_fps / target_fps), frames - 1)  # source frame positions
    out = np.stack([np.interp(pos, np.arange(frames), col) for col in values.T], axis=1)  # [n, dim]
    if rotation_dims and frames > 1:
        slerp = Slerp(np.arange(frames, dtype=np.float64), Rotation.from_rotvec(values[:, :rotation_dims]))
        out[:, :rotation_dims] = slerp(pos).as_rotvec()
    return out.astype(np.float32)


def _array(arrays: dict[str, np.ndarray], name: str, shape: tuple[int | None, ...], where: str) -> np.ndarray:
    if name not in arrays:
        raise RawValueError(f"{where}: no array {name!r} (the npz holds: {', '.join(sorted(arrays)) or 'nothing'})")
    try:
        return _checked(name, arrays[name], shape, where)
    except DataError as err:
        raise RawValueError(str(err)) from err


def _per_frame(values: np.ndarray, fps: float, meta: ClipMeta, where: str, rotation_dims: int = 0) -> np.ndarray:
    if values.shape[0] == 0:
        raise RawValueError(f"{where}: the per-frame arrays have no frames")
    if fps != meta.frame_rate:
        warnings.warn(f"{where}: resampled {values.shape[0]} frames from {fps:g} fps to the clip's {meta.frame_rate:g} fps",
                      DataWarning, stacklevel=2)
    values = resample_parameters(values, fps, meta.frame_rate, rotation_dims=rotation_dims)
    return fit_frame_count(values, meta, where=where)


def load_flame(
    modality: str, path: str | Path, meta: ClipMeta, *, dims: FlameDims = DEFAULT_DIMS
) -> np.ndarray:
    """Read one FLAME modality's value of a clip from an ``.npz`` (``Modality.load``; see the
    module docstring for the arrays and rules).

    Args:
        modality: ``"identity"``, ``"expression"`` or ``"pose"``.
        path: the ``.npz``.
        meta: the clip (its frame rate and duration).
        dims: the installed FLAME dimensions.

    Raises:
        RawValueError: unreadable file, a missing array, wrong dimensions, NaN/inf, a bad ``fps``,
            or a frame count off by more than the tolerance; the file is named.
    """
    path = Path(path)
    where = f"{modality} (file {path})"
    arrays = read_npz_arrays(path)
    if modality == "identity":
        shape = np.asarray(arrays.get("shape", np.zeros(0)))
        shape = _array(arrays, "shape", (None, dims.shape) if shape.ndim == 2 else (dims.shape,), where)
        if shape.ndim == 2:
            if shape.shape[0] == 0:
                raise RawValueError(f"{where}: array 'shape' has no frames")
            shape = shape.mean(axis=0)  # per-frame fits of one person: their mean
        return shape.astype(np.float32)
    fps = _frame_rate(arrays, meta, where)
    if modality == "expression":
        return _per_frame(_array(arrays, "expression", (None, dims.expression), where), fps, meta, where)
    if modality == "pose":
        if "pose" in arrays:
            pose = _array(arrays, "pose", (None, dims.pose), where)
        elif "rotation" in arrays or "translation" in arrays:
            rotation = _array(arrays, "rotation", (None, ROTATION_DIMS), where)
            translation = _array(arrays, "translation", (rotation.shape[0], dims.pose - ROTATION_DIMS), where)
            pose = np.concatenate([rotation, translation], axis=1)  # [frames, 3 + (P - 3)]
        else:
            raise RawValueError(
                f"{where}: no array 'pose' [frames, {dims.pose}] nor 'rotation' [frames, 3] + 'translation' "
                f"[frames, {dims.pose - ROTATION_DIMS}] (the npz holds: {', '.join(sorted(arrays)) or 'nothing'})"
            )
        rot = ROTATION_DIMS if dims.pose >= ROTATION_DIMS else 0
        return _per_frame(pose, fps, meta, where, rotation_dims=rot)
    raise RawValueError(f"{path}: {modality!r} is not a FLAME modality (identity, expression, pose)")
