"""A 2-D preview of FLAME parameters: the dataset's geometry draws them as a label video.

Any identity/expression/pose parameters (a decoded token sequence, a fitter's output) are drawn
by :func:`render_parameters`, the renderer that makes this dataset's semantic videos, colourized
with the semantic modality's palette and written as an animated GIF or a PNG strip. With FLAME
tokenizers (archon-flame-rvq), the parameters decoded from their tokens are drawn beside the
originals. ``archon heads preview-flame`` is the command line of :func:`preview_flame_params`.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from jaxtyping import UInt8

from archon_framework import DataError, RawValueError
from archon_framework.config import atomic_write_bytes
from archon_synthetic_heads._appearance import Appearance
from archon_synthetic_heads._contracts import LABELS, FlameDims, FlameParams, labels_to_colors, roundtrip_params
from archon_synthetic_heads._preview import render_parameters

__all__ = ["render_flame_preview", "save_label_preview", "preview_flame_params"]

_SEPARATOR = 2  # white pixels between side-by-side videos


def render_flame_preview(
    *,
    shape: np.ndarray | None = None,
    expression: np.ndarray | None = None,
    pose: np.ndarray | None = None,
    appearance: Appearance | None = None,
    seed: int | None = None,
    dims: FlameDims | None = None,
) -> UInt8[np.ndarray, "frames 128 128"]:
    """The label video (Table H) of FLAME parameters, any of which may be missing.

    Missing parts are neutral: ``shape`` zeros (the mean identity), ``expression`` zeros,
    ``pose`` zeros (facing the camera); the frame count comes from ``expression`` or ``pose``
    (one frame if only ``shape`` is given). So a decoded expression sequence alone previews as
    that expression on a neutral, still head.

    Example:
        >>> render_flame_preview(expression=np.zeros((4, 50))).shape
        (4, 128, 128)

    Args:
        shape: float ``[dims.shape]``.
        expression: float ``[frames, dims.expression]`` (the renderer draws components 0..9).
        pose: float ``[frames, 6]``.
        appearance: the person (e.g. ``clip_appearance(...)`` for the person of a generated
            clip); default a neutral person, or a random one drawn with ``seed``.
        seed: see ``appearance``.
        dims: FLAME sizes of the neutral fill-ins (default ``FlameDims()``).

    Raises:
        RawValueError: parameters of the wrong shape, frame counts that differ, NaN or inf.
    """
    dims = FlameDims() if dims is None else dims
    frames = next((len(v) for v in (expression, pose) if v is not None), 1)
    shape = np.zeros(dims.shape, np.float32) if shape is None else shape
    expression = np.zeros((frames, dims.expression), np.float32) if expression is None else expression
    pose = np.zeros((frames, 6), np.float32) if pose is None else pose
    return render_parameters(shape, expression, pose, appearance=appearance, seed=seed)


def _colorized(labels: np.ndarray) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.dtype.kind not in "iu" or arr.ndim != 3 or (arr.size and (arr.min() < 0 or arr.max() >= len(LABELS))):
        raise RawValueError(
            f"preview: expected a label video of integer labels 0..{len(LABELS) - 1}, [frames, H, W]; "
            f"got {arr.dtype} {arr.shape}"
        )
    return labels_to_colors(arr)  # [frames, H, W, 3]


def _side_by_side(videos: Sequence[np.ndarray]) -> np.ndarray:
    frames = {len(v) for v in videos}
    if len(frames) != 1:
        raise RawValueError(f"preview: side-by-side videos need equal frame counts, got {sorted(frames)}")
    parts = []
    for i, video in enumerate(videos):
        if i:
            parts.append(np.full((*video.shape[:2], _SEPARATOR, 3), 255, np.uint8))
        parts.append(video)
    return np.concatenate(parts, axis=2)  # [frames, H, sum W, 3]


def save_label_preview(
    labels: np.ndarray | Sequence[np.ndarray],
    path: str | Path,
    *,
    fps: float = 30.0,
    columns: int = 8,
) -> Path:
    """Write label video(s), colourized with the semantic palette, as a ``.gif`` or ``.png`` (atomically).

    Args:
        labels: ``[frames, H, W]`` labels, or a sequence of such videos of equal frame count,
            shown side by side (e.g. original and decoded).
        path: ``*.gif`` (every frame, ``fps``) or ``*.png`` (``columns`` evenly spaced frames
            in a row; rows are the side-by-side videos).
        fps: frame rate of the GIF.
        columns: frames in the PNG strip.

    Returns:
        ``path``.

    Raises:
        DataError: another file suffix.
        RawValueError: not label videos, no frames, or unequal frame counts.
    """
    from PIL import Image

    path = Path(path)
    videos = [labels] if isinstance(labels, np.ndarray) else list(labels)
    colors = [_colorized(v) for v in videos]  # each [frames, H, W, 3]
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".png"):
        raise DataError(f"{path}: a preview is written as .gif (animated) or .png (strip)")
    if not colors or len(colors[0]) == 0:
        raise RawValueError(f"{path}: nothing to preview (no frames)")
    buf = io.BytesIO()
    if suffix == ".gif":
        frames = [Image.fromarray(f) for f in _side_by_side(colors)]
        frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:],
                       duration=max(1, round(1000.0 / fps)), loop=0)
    else:
        _side_by_side(colors)  # the same frame-count check as the GIF
        picks = np.unique(np.linspace(0, len(colors[0]) - 1, max(1, columns)).round().astype(int))
        rows = [np.concatenate(list(c[picks]), axis=1) for c in colors]  # each [H, n * W, 3]
        Image.fromarray(np.concatenate(rows, axis=0)).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
    return path


def preview_flame_params(
    params: FlameParams,
    path: str | Path,
    *,
    tokenizers: Mapping[str, Any] | None = None,
    appearance: Appearance | None = None,
    seed: int | None = None,
    fps: float = 30.0,
    columns: int = 8,
) -> Path:
    """Preview FLAME parameters; with ``tokenizers``, also their reconstruction through the tokens.

    Args:
        params: one clip's parameters (``archon_flame_rvq.FlameParams``).
        path: the ``.gif`` or ``.png`` to write (see :func:`save_label_preview`).
        tokenizers: modality (``identity``/``expression``/``pose``) -> tokenizer; when given,
            the decoded parameters are drawn to the right of (GIF) or below (PNG) the originals.
        appearance: the person; default neutral, or random with ``seed``.
        seed: see ``appearance``.
        fps: frame rate of the parameters and of the GIF.
        columns: frames in a PNG strip.

    Returns:
        ``path``.

    Raises:
        DataError: a bad file suffix or a tokenizer key that is not a FLAME modality.
        RawValueError: parameters that do not fit the renderer or the tokenizers.
    """
    dims = FlameDims(shape=len(params.shape), expression=params.expression.shape[1], pose=params.pose.shape[1])

    def draw(p: FlameParams) -> np.ndarray:
        return render_flame_preview(shape=p.shape, expression=p.expression, pose=p.pose,
                                    appearance=appearance, seed=seed, dims=dims)

    videos = [draw(params)]
    if tokenizers:
        videos.append(draw(roundtrip_params(params, tokenizers, fps=fps, clip_id=str(path))))
    return save_label_preview(videos, path, fps=fps, columns=columns)
