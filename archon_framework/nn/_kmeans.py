"""Weighted k-means in JAX, used to initialise vector-quantizer codebooks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

__all__ = ["kmeans", "nearest_code", "squared_distances"]


def squared_distances(
    x: Float[Array, "n dim"], codebook: Float[Array, "codes dim"]
) -> Float[Array, "n codes"]:
    """``||x_n - e_k||^2`` for every pair, without materialising ``[n, codes, dim]``."""
    x2 = jnp.sum(x * x, axis=-1, keepdims=True)  # [n, 1]
    e2 = jnp.sum(codebook * codebook, axis=-1)  # [codes]
    return x2 - 2.0 * (x @ codebook.T) + e2[None, :]  # [n, codes]


def nearest_code(
    x: Float[Array, "n dim"], codebook: Float[Array, "codes dim"]
) -> Int[Array, " n"]:
    """Index of the nearest codebook row for each row of ``x`` (ties go to the lower index)."""
    return jnp.argmin(squared_distances(x, codebook), axis=-1).astype(jnp.int32)


def kmeans(
    x: Float[Array, "n dim"],
    num_clusters: int,
    *,
    key: PRNGKeyArray,
    iters: int = 10,
    weights: Float[Array, " n"] | None = None,
) -> tuple[Float[Array, "codes dim"], Float[Array, " codes"]]:
    """Lloyd's k-means with weighted points; empty clusters keep their previous centroid.

    Centroids start as ``num_clusters`` points drawn (with replacement, in proportion to
    ``weights``) from ``x``. Points of weight 0 (padding, dropped levels) take no part.

    Args:
        x: the points.
        num_clusters: ``K``.
        key: PRNG key for the initial draw.
        iters: Lloyd iterations.
        weights: non-negative point weights (default all 1).

    Returns:
        ``(centroids [K, dim], counts [K])`` where ``counts`` is the total weight assigned to
        each centroid by the last assignment step.
    """
    n = x.shape[0]
    w = jnp.ones((n,), x.dtype) if weights is None else weights.astype(x.dtype)
    total = jnp.sum(w)
    # With no valid point at all, fall back to a uniform draw (the caller discards the result).
    p = jnp.where(total > 0, w / jnp.where(total > 0, total, 1.0), 1.0 / n)
    first = jax.random.choice(key, n, (num_clusters,), replace=True, p=p)
    centroids = x[first]  # [K, dim]

    def assign(c: Array) -> tuple[Array, Array]:
        onehot = jax.nn.one_hot(nearest_code(x, c), num_clusters, dtype=x.dtype) * w[:, None]
        counts = jnp.sum(onehot, axis=0)  # [K]
        sums = onehot.T @ x  # [K, dim]
        return counts, sums

    def lloyd(c: Array, _: None) -> tuple[Array, None]:
        counts, sums = assign(c)
        new = sums / jnp.maximum(counts, 1e-12)[:, None]
        return jnp.where(counts[:, None] > 0, new, c), None

    centroids, _ = jax.lax.scan(lloyd, centroids, None, length=iters)
    counts, _ = assign(centroids)
    return centroids, counts
