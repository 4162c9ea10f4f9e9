"""Embedding rows started from the tokenizers' code vectors (`ModelSection.embed_init = "codebook"`).

A fresh LM embeds each of a modality's codes as an unrelated random vector, so until training
has shaped thousands of rows, two speech codes of the same loudness look no more alike to the
LM than two of different loudness, and what it can learn about a condition waits on that. The
tokenizer already knows which codes are alike: their latent vectors (an RVQ code's codebook
vector, an LFQ code's signs; `archon_framework.CodeVectorTokenizer`). Here each row becomes a
mix of a fixed random projection of its code's vector and its own random row:

    row_i = sqrt(share) * (v_i - mean_L) / std_L @ P  +  sqrt(1 - share) * r_i

with ``v_i`` standardized within its residual level ``L`` (levels carry residuals of very
different sizes), ``P ~ N(0, 1/dim)`` of shape ``[dim, d_model]`` (one per modality, from the
seed), rescaled so the projected rows have unit variance like the random rows ``r_i ~ N(0, 1)``
they are mixed with; every row keeps the scale of a fresh row, and no two codes share one. The
rows are tied with the output head, so codes alike in the tokenizer also start with alike
logits.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from archon_framework._errors import ConfigError
from archon_framework.model._prefix_lm import PrefixLM

__all__ = ["CodeVectors", "codebook_rows", "embed_code_vectors"]


@attrs.frozen
class CodeVectors:
    """A modality's code vectors placed in the unified vocabulary.

    Attributes:
        modality: its name (for messages).
        start: the global id of its local id 0.
        vectors: float ``[size, dim]``, row ``i`` for local id ``i``.
        block: the width of its residual levels' id blocks (None: one block).
    """

    modality: str
    start: int
    vectors: np.ndarray = attrs.field(eq=False)
    block: int | None = None


def codebook_rows(vectors: np.ndarray, *, d_model: int, block: int | None, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance rows ``[size, d_model]``: each level's vectors standardized, then projected by
    one random ``[dim, d_model]`` matrix.

    Raises:
        ConfigError: ``block`` does not divide the number of vectors.
    """
    v = np.asarray(vectors, np.float64)
    size, dim = v.shape
    width = size if block is None else int(block)
    if width < 1 or size % width:
        raise ConfigError(f"code vectors: {size} rows are not whole blocks of {width}")
    levels = v.reshape(size // width, width, dim)
    levels = levels - levels.mean(axis=1, keepdims=True)
    scale = np.sqrt((levels ** 2).sum(axis=2).mean(axis=1, keepdims=True) / dim)  # rms per level
    levels = levels / np.where(scale > 0, scale, 1.0)[..., None]
    proj = rng.normal(0.0, 1.0 / np.sqrt(dim), (dim, d_model))
    rows = levels.reshape(size, dim) @ proj
    std = rows.std()
    return (rows / (std if std > 0 else 1.0)).astype(np.float32)


def embed_code_vectors(model: PrefixLM, tables: Sequence[CodeVectors], *, share: float, seed: int) -> PrefixLM:
    """`model` with the embedding rows of each table's ids mixed with its projected code vectors.

    Args:
        model: a fresh model (its rows ``N(0, 1)``).
        tables: the modalities to start from their code vectors; a factorized range (no rows)
            is refused.
        share: the variance share of the projected vectors in each row, in (0, 1].
        seed: draws each modality's projection (folded with its start id).

    Raises:
        ConfigError: ``share`` outside (0, 1], a table outside the vocabulary or in a factorized
            range (named by modality).
    """
    if not 0.0 < share <= 1.0:
        raise ConfigError(f"model.codebook_share must lie in (0, 1], got {share}")
    if not tables:
        return model
    emb = np.array(model.embedding, np.float32)
    for t in tables:
        size = int(t.vectors.shape[0])
        if model.factorized_index(t.start, size) is not None:
            raise ConfigError(f"modality {t.modality!r}: its range is factorized (no embedding rows to start from code vectors)")
        if t.start < 0 or t.start + size > model.vocab_size:
            raise ConfigError(f"modality {t.modality!r}: ids [{t.start}, {t.start + size}) exceed the vocabulary of {model.vocab_size}")
        rows = codebook_rows(t.vectors, d_model=emb.shape[1], block=t.block, rng=np.random.default_rng([seed, t.start]))
        first = int(model.embedding_row(t.start))
        emb[first:first + size] = np.sqrt(share) * rows + np.sqrt(1.0 - share) * emb[first:first + size]
    new = jnp.asarray(emb, model.embedding.dtype)
    if isinstance(model.embedding, jax.Array):
        new = jax.device_put(new, model.embedding.sharding)
    return eqx.tree_at(lambda m: m.embedding, model, new)
