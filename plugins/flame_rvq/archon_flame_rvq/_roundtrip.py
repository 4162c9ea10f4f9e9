"""FLAME parameters through their tokens and back: what a trained tokenizer keeps of a clip."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from archon_framework import ClipMeta, DataError

from ._params import FlameParams

__all__ = ["FIELD_OF_MODALITY", "roundtrip_params"]

#: Which `FlameParams` field each FLAME modality tokenizes.
FIELD_OF_MODALITY: dict[str, str] = {"identity": "shape", "expression": "expression", "pose": "pose"}


def roundtrip_params(params: FlameParams, tokenizers: Mapping[str, Any], *, fps: float = 30.0,
                     clip_id: str = "roundtrip") -> FlameParams:
    """``params`` with each field that has a tokenizer replaced by ``decode(encode(field))``.

    Fields without a tokenizer are kept as they are, so a preview of the result shows only what
    the given tokenizers change.

    Args:
        params: one clip's parameters.
        tokenizers: modality name (``identity``, ``expression``, ``pose``) -> a tokenizer of it
            (e.g. `FlameTokenizer.load(...)`); any subset.
        fps: frame rate of the per-frame arrays (the clip lasts ``frames / fps`` seconds).
        clip_id: clip id of the metadata handed to the tokenizers.

    Raises:
        DataError: a key that is not a FLAME modality.
        RawValueError: parameters that do not fit a tokenizer.
    """
    unknown = sorted(set(tokenizers) - set(FIELD_OF_MODALITY))
    if unknown:
        raise DataError(f"roundtrip_params: {', '.join(map(repr, unknown))} is not a FLAME modality "
                        f"(expected some of {', '.join(FIELD_OF_MODALITY)})")
    frames = len(params.expression)
    meta = ClipMeta(clip_id=clip_id, duration=frames / fps, frame_rate=fps, sample_rate=16_000)
    decoded = {}
    for modality, tok in tokenizers.items():
        field = FIELD_OF_MODALITY[modality]
        decoded[field] = tok.decode(tok.encode(getattr(params, field), meta=meta), meta=meta)
    return attrs.evolve(params, **decoded)
