"""Flattening of residual-VQ codes ``[steps, levels]`` into one local id sequence and back."""

from __future__ import annotations

from typing import Literal

import numpy as np

from .._errors import VocabError

__all__ = ["TokenOrder", "codes_to_local_ids", "local_ids_to_codes"]

TokenOrder = Literal["frame", "level"]
"""``"frame"``: frame-major, levels low to high inside each step
``[t0:l0, t0:l1, .., t1:l0, ..]`` (the paper's speech layout); ``"level"``: level-major
``[l0:t0, l0:t1, .., l1:t0, ..]``."""


def _check_order(order: str) -> None:
    if order not in ("frame", "level"):
        raise VocabError(f"token order must be 'frame' or 'level', got {order!r}")


def codes_to_local_ids(
    codes: np.ndarray, codebook_size: int, *, order: TokenOrder = "frame"
) -> np.ndarray:
    """Map codes ``[steps, levels]`` to int32 local ids ``level * codebook_size + code``.

    Each level owns its own block of ``codebook_size`` ids, so the vocabulary is
    ``levels * codebook_size`` ids and the level of a token is visible from its id.

    Raises:
        VocabError: a code outside ``[0, codebook_size)`` or an unknown order.
    """
    _check_order(order)
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise VocabError(f"codes must be [steps, levels], got shape {codes.shape}")
    if codes.size and (codes.min() < 0 or codes.max() >= codebook_size):
        raise VocabError(f"codes must lie in [0, {codebook_size}), got {codes.min()}..{codes.max()}")
    offsets = np.arange(codes.shape[1], dtype=np.int64) * codebook_size
    ids = codes.astype(np.int64) + offsets[None, :]  # [steps, levels]
    if order == "level":
        ids = ids.T  # [levels, steps]
    return ids.reshape(-1).astype(np.int32)  # [steps * levels]


def local_ids_to_codes(
    local_ids: np.ndarray, num_levels: int, codebook_size: int, *, order: TokenOrder = "frame"
) -> np.ndarray:
    """Invert `codes_to_local_ids`: int32 local ids ``[steps * levels]`` to codes ``[steps, levels]``.

    Raises:
        VocabError: an id outside ``[0, levels * codebook_size)``, a length that is not a
            multiple of ``num_levels``, or an id in the block of another level than its position.
    """
    _check_order(order)
    ids = np.asarray(local_ids)
    size = num_levels * codebook_size
    if ids.ndim != 1:
        raise VocabError(f"local ids must be one-dimensional, got shape {ids.shape}")
    if not np.issubdtype(ids.dtype, np.integer):
        raise VocabError(f"local ids must be integers, got dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= size):
        raise VocabError(
            f"local ids must lie in [0, {size}) ({num_levels} levels x {codebook_size} codes), "
            f"got {ids.min()}..{ids.max()}"
        )
    if ids.size % num_levels:
        raise VocabError(
            f"{ids.size} local ids is not a multiple of the {num_levels} levels per step"
        )
    steps = ids.size // num_levels
    grid = ids.reshape(steps, num_levels) if order == "frame" else ids.reshape(num_levels, steps).T
    level_of = grid // codebook_size  # [steps, levels]
    expected = np.arange(num_levels)[None, :]
    if np.any(level_of != expected):
        step, pos = np.argwhere(level_of != expected)[0]
        raise VocabError(
            f"local id {grid[step, pos]} at step {step}, level position {pos} belongs to level "
            f"{level_of[step, pos]}; each position must hold an id of its own level "
            f"(level * {codebook_size} + code)"
        )
    return (grid % codebook_size).astype(np.int32)
