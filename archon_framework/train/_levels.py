"""Per-RVQ-level loss bookkeeping: which residual level a target token belongs to.

A tokenizer with residual levels (speech, identity, expression, pose) implements the optional
`BlockedTokenizer` capability, `token_ranges(num_tokens) -> int64 [num_tokens, 2]`: at each position of an encoded
sequence, the local id range `[lo, hi)` it draws from. All rows have the same width, and the
distinct `lo` values are the codebook blocks of its levels. So the level of a target token is
known from its id alone: the block its local id falls in. `LevelTable` holds those blocks for
every modality, computed once on the host from the slot codec (`SlotCodec.levels`, which
validates `token_ranges` as generation does); `level_index` maps a batch of tokens to flat level
indices inside the jitted step, so per-level sums need no host work per step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Int

from archon_framework._codec import SlotCodec, level_blocks
from archon_framework._vocab import VocabLayout

__all__ = ["LevelTable", "level_blocks", "level_index"]

_NO_BLOCK = np.iinfo(np.int32).max  # padding of `lo`: no local id reaches it


@attrs.frozen(kw_only=True, eq=False)
class LevelTable:
    """Level blocks of every modality, indexed like `TaskSampler.modality_names`.

    Attributes:
        names: flat level names, e.g. ``speech/level0``; a token's flat index points here.
        start: int32 [modalities]: global id of each modality's local id 0 (0 if no levels).
        lo: int32 [modalities, max_levels]: sorted local block starts, padded with int32 max.
        width: int32 [modalities]: block width (1 if no levels).
        levels: int32 [modalities]: number of levels (0 if none).
        offset: int32 [modalities]: flat index of each modality's level 0.
    """

    names: tuple[str, ...]
    start: np.ndarray
    lo: np.ndarray
    width: np.ndarray
    levels: np.ndarray
    offset: np.ndarray

    @classmethod
    def build(cls, modality_names: Sequence[str], layout: VocabLayout, vocabularies: Mapping[str, str],
              tokenizers: Mapping[str, Any], lengths: Mapping[str, int]) -> LevelTable:
        """Blocks of the modalities that have a tokenizer (with `token_ranges`) and a length.

        Args:
            modality_names: index -> modality name (the packer's `modality_ids`).
            layout: the vocabulary layout (global starts).
            vocabularies: modality -> vocabulary name.
            tokenizers: modality -> tokenizer (only those whose levels are wanted).
            lengths: modality -> a token count its tokenizer really produces.
        """
        found: dict[int, tuple[np.ndarray, int]] = {}
        starts: dict[int, int] = {}
        for i, name in enumerate(modality_names):
            if name in tokenizers and name in lengths:
                rng = layout.range(vocabularies[name])
                blocks = level_blocks(name, tokenizers[name], int(lengths[name]), rng.size)
                if blocks is not None:
                    found[i], starts[i] = blocks, rng.start
        return cls._of(modality_names, found, starts)

    @classmethod
    def from_codecs(cls, modality_names: Sequence[str], codecs: Mapping[str, SlotCodec],
                    lengths: Mapping[str, int]) -> LevelTable:
        """Blocks of the modalities that have a codec (whose tokenizer has levels) and a length.

        Args:
            modality_names: index -> modality name (the packer's `modality_ids`).
            codecs: modality -> its slot codec (only those whose levels are wanted).
            lengths: modality -> a token count its tokenizer really produces.
        """
        found: dict[int, tuple[np.ndarray, int]] = {}
        starts: dict[int, int] = {}
        for i, name in enumerate(modality_names):
            if name in codecs and name in lengths:
                blocks = codecs[name].levels(int(lengths[name]))
                if blocks is not None:
                    found[i], starts[i] = blocks, codecs[name].range.start
        return cls._of(modality_names, found, starts)

    @classmethod
    def _of(cls, modality_names: Sequence[str], found: Mapping[int, tuple[np.ndarray, int]],
            starts: Mapping[int, int]) -> LevelTable:
        n = len(modality_names)
        most = max((b.shape[0] for b, _ in found.values()), default=1)
        start, width = np.zeros(n, np.int32), np.ones(n, np.int32)
        levels, offset = np.zeros(n, np.int32), np.zeros(n, np.int32)
        lo = np.full((n, most), _NO_BLOCK, np.int32)
        names: list[str] = []
        for i, (blocks, w) in sorted(found.items()):
            name = modality_names[i]
            start[i] = starts[i]
            lo[i, : blocks.shape[0]], width[i], levels[i], offset[i] = blocks, w, blocks.shape[0], len(names)
            names.extend(f"{name}/level{k}" for k in range(blocks.shape[0]))
        return cls(names=tuple(names), start=start, lo=lo, width=width, levels=levels, offset=offset)

    @classmethod
    def none(cls) -> LevelTable:
        """A table without levels (no per-level statistics)."""
        empty = np.zeros(0, np.int32)
        return cls(names=(), start=empty, lo=np.zeros((0, 1), np.int32), width=empty, levels=empty, offset=empty)

    @property
    def size(self) -> int:
        """Number of (modality, level) pairs; 0 when no modality has levels."""
        return len(self.names)

    def arrays(self) -> dict[str, np.ndarray]:
        """The tables as a dict of arrays (what `level_index` takes)."""
        return {"start": self.start, "lo": self.lo, "width": self.width, "levels": self.levels, "offset": self.offset}


def level_index(tokens: Int[Array, "..."], modality_ids: Int[Array, "..."], mask: Bool[Array, "..."],
                table: Mapping[str, Any], size: int) -> Int[Array, "..."]:
    """Flat level index of each token in `0..size-1`, or `size` where it has none.

    A token has a level when it is masked in, belongs to a modality with levels and its local
    id (``token - start``) lies inside one of that modality's blocks ``[lo_k, lo_k + width)``.
    Works on device inside `jit` (the tables are small int32 arrays).
    """
    mods = jnp.asarray(modality_ids)
    has_mod = mods >= 0
    m = jnp.where(has_mod, mods, 0)
    start, lo = jnp.asarray(table["start"])[m], jnp.asarray(table["lo"])[m]  # lo: [*shape, max_levels]
    width, levels, offset = (jnp.asarray(table[k])[m] for k in ("width", "levels", "offset"))
    local = jnp.asarray(tokens) - start
    k = (local[..., None] >= lo).sum(axis=-1) - 1  # the last block starting at or below the id
    k_safe = jnp.clip(k, 0, lo.shape[-1] - 1)
    block_lo = jnp.take_along_axis(lo, k_safe[..., None], axis=-1)[..., 0]
    ok = mask & has_mod & (k >= 0) & (k < levels) & (local < block_lo + width)
    return jnp.where(ok, offset + k_safe, size)
