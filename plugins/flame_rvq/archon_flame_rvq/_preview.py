"""A 2-D preview of FLAME parameters: the synthetic dataset's geometry draws them as a label video.

The renderer lives in the optional distribution ``archon-synthetic-heads`` (which itself depends
on this plugin), so it is imported only when a preview is asked for. Colours come from
``archon_semantic_magvit.PALETTE`` (the semantic modality's label colours) when that plugin is
installed, else from a built-in grayscale ramp.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from archon_framework import ClipMeta, DataError, PluginError, RawValueError
from archon_framework.config import atomic_write_bytes

from ._dims import DEFAULT_DIMS, FlameDims
from ._params import FlameParams

__all__ = ["colorize_labels", "preview_params", "render_preview", "save_preview"]

_HEADS = "archon-synthetic-heads"
_NUM_LABELS = 21  # Table H
_SEPARATOR = 2  # pixels between side-by-side videos


def _synthetic_heads() -> Any:
    """The ``archon_synthetic_heads`` module, or a PluginError naming the distribution."""
    try:
        import archon_synthetic_heads
    except ImportError as err:
        raise PluginError(
            f"archon_flame_rvq preview: rendering parameters needs the distribution {_HEADS} "
            f"(pip install {_HEADS}); it could not be imported ({err})"
        ) from err
    return archon_synthetic_heads


def render_preview(
    *,
    shape: np.ndarray | None = None,
    expression: np.ndarray | None = None,
    pose: np.ndarray | None = None,
    appearance: Any = None,
    seed: int | None = None,
    dims: FlameDims = DEFAULT_DIMS,
) -> np.ndarray:
    """Label video ``uint8 [frames, 128, 128]`` (Table H) of FLAME parameters, drawn by the
    synthetic dataset's renderer (``archon_synthetic_heads.render_parameters``).

    Missing parts are neutral: ``shape`` zeros (the mean identity), ``expression`` zeros,
    ``pose`` zeros (facing the camera); the frame count comes from ``expression`` or ``pose``
    (one frame if only ``shape`` is given). So a decoded expression sequence alone previews as
    that expression on a neutral, still head.

    Args:
        shape: float [dims.shape].
        expression: float [frames, dims.expression] (the renderer draws components 0..9).
        pose: float [frames, 6].
        appearance: an ``archon_synthetic_heads.Appearance`` (e.g. ``clip_appearance(...)``
            for the person of a generated clip); default a neutral person, or a random one
            drawn with ``seed``.
        seed: see ``appearance``.
        dims: FLAME sizes for the neutral fill-ins.

    Raises:
        PluginError: archon-synthetic-heads is not installed.
        RawValueError: parameters of the wrong shape, frame counts that differ, NaN or inf.
    """
    heads = _synthetic_heads()
    frames = next((len(v) for v in (expression, pose) if v is not None), 1)
    shape = np.zeros(dims.shape, np.float32) if shape is None else shape
    expression = np.zeros((frames, dims.expression), np.float32) if expression is None else expression
    pose = np.zeros((frames, 6), np.float32) if pose is None else pose
    return heads.render_parameters(shape, expression, pose, appearance=appearance, seed=seed)


def _check_labels(labels: np.ndarray) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.dtype.kind not in "iu" or arr.ndim != 3 or (arr.size and (arr.min() < 0 or arr.max() >= _NUM_LABELS)):
        raise RawValueError(
            f"preview: expected a label video of integer labels 0..{_NUM_LABELS - 1}, [frames, H, W]; "
            f"got {arr.dtype} {arr.shape}"
        )
    return arr.astype(np.uint8)


def colorize_labels(labels: np.ndarray) -> np.ndarray:
    """``uint8 [frames, H, W, 3]``: the semantic palette of archon-semantic-magvit if installed,
    else gray levels ``12 * label`` (background black).

    Raises:
        RawValueError: not a ``[frames, H, W]`` video of labels 0..20.
    """
    labels = _check_labels(labels)
    try:
        from archon_semantic_magvit import PALETTE

        palette = np.asarray(PALETTE, np.uint8)
    except ImportError:
        gray = (np.arange(_NUM_LABELS) * 12).astype(np.uint8)
        palette = np.stack([gray, gray, gray], axis=1)
    return palette[labels]


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


def save_preview(
    labels: np.ndarray | Sequence[np.ndarray],
    path: str | Path,
    *,
    fps: float = 30.0,
    columns: int = 8,
) -> Path:
    """Write label video(s) as an animated ``.gif`` or a ``.png`` strip (atomically).

    Args:
        labels: ``[frames, H, W]`` labels, or a sequence of such videos of equal frame count,
            shown side by side (e.g. original and decoded).
        path: ``*.gif`` (every frame, ``fps``) or ``*.png`` (``columns`` evenly spaced frames
            in a row; rows are the side-by-side videos).
        fps: frame rate of the GIF.
        columns: frames in the PNG strip.

    Raises:
        DataError: another file suffix.
        RawValueError: not label videos, or unequal frame counts.
    """
    from PIL import Image

    path = Path(path)
    videos = [labels] if isinstance(labels, np.ndarray) else list(labels)
    colors = [colorize_labels(v) for v in videos]  # each [frames, H, W, 3]
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
        picks = np.unique(np.linspace(0, len(colors[0]) - 1, max(1, columns)).round().astype(int))
        rows = [np.concatenate(list(c[picks]), axis=1) for c in colors]  # each [H, n * W, 3]
        Image.fromarray(np.concatenate(rows, axis=0)).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
    return path


def preview_params(
    params: FlameParams,
    path: str | Path,
    *,
    tokenizers: dict[str, Any] | None = None,
    seed: int | None = None,
    fps: float = 30.0,
) -> Path:
    """Preview FLAME parameters; with ``tokenizers`` (modality -> `FlameTokenizer`), also their
    reconstruction through the tokens, side by side (original left, decoded right).

    Raises:
        PluginError: archon-synthetic-heads is not installed.
        RawValueError: parameters that do not fit the tokenizers.
    """
    frames = len(params.expression)
    dims = FlameDims(shape=len(params.shape), expression=params.expression.shape[1], pose=params.pose.shape[1])
    original = {"shape": params.shape, "expression": params.expression, "pose": params.pose}
    videos = [render_preview(**original, seed=seed, dims=dims)]
    if tokenizers:
        meta = ClipMeta(clip_id=str(path), duration=frames / fps, frame_rate=fps, sample_rate=16_000)
        decoded = dict(original)
        for modality, key in (("identity", "shape"), ("expression", "expression"), ("pose", "pose")):
            tok = tokenizers.get(modality)
            if tok is not None:
                decoded[key] = tok.decode(tok.encode(original[key], meta=meta), meta=meta)
        videos.append(render_preview(**decoded, seed=seed, dims=dims))
    return save_preview(videos, path, fps=fps)
