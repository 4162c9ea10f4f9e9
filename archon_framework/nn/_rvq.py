"""Residual vector quantization with EMA codebooks kept outside the gradient parameters."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from ._kmeans import kmeans, nearest_code

__all__ = ["RVQOutput", "RVQState", "ResidualVQ", "code_vectors", "expected_code_counts", "level_mask", "update_codebooks"]


class RVQState(eqx.Module):
    """The codebooks of a `ResidualVQ` and their EMA statistics: buffers, never trained by grad.

    Attributes:
        codebooks: ``[levels, codes, dim]`` code vectors ``e^l_k``.
        cluster_size: ``[levels, codes]`` EMA of assignment counts ``N_k``.
        embed_sum: ``[levels, codes, dim]`` EMA of the sum of assigned vectors ``m_k``.
        initialized: scalar bool; False until the first `update_codebooks` ran k-means.
    """

    codebooks: Float[Array, "levels codes dim"]
    cluster_size: Float[Array, "levels codes"]
    embed_sum: Float[Array, "levels codes dim"]
    initialized: Bool[Array, ""]


class RVQOutput(eqx.Module):
    """What `ResidualVQ.__call__` returns for one example of ``T`` vectors.

    Attributes:
        quantized: ``[T, dim]``: the sum of the active levels' code vectors in the forward
            pass, with a straight-through gradient (``d quantized / d x = I``).
        codes: ``[T, levels]`` int32 code indices, level 0 first. Codes of levels beyond
            ``num_active`` are the nearest codes of the remaining residual; they are not part
            of ``quantized`` and decoding uses only ``codes[:, :num_active]``.
        commit_loss: ``[levels]``: ``mean ||r_{l-1} - sg(q_l)||^2`` per level, 0 for inactive
            levels. Sum it (times beta) into the loss; gradients reach ``x`` at every level.
        residuals: ``[T, levels, dim]``: the input ``r_{l-1}`` of each level (gradient
            stopped), for `update_codebooks`.
        active: ``[levels]`` bool: which levels took part.
    """

    quantized: Float[Array, "time dim"]
    codes: Int[Array, "time levels"]
    commit_loss: Float[Array, " levels"]
    residuals: Float[Array, "time levels dim"]
    active: Bool[Array, " levels"]


def code_vectors(state: RVQState, levels: int) -> np.ndarray:
    """The code vector of every local id ``level * codebook_size + code`` of the first ``levels``
    levels (`codes_to_local_ids`' layout): float32 ``[levels * codebook_size, dim]``, for a
    tokenizer's `archon_framework.CodeVectorTokenizer` capability."""
    books = np.asarray(state.codebooks, np.float32)
    if not 1 <= levels <= books.shape[0]:
        raise ValueError(f"code_vectors: levels must lie in 1..{books.shape[0]}, got {levels}")
    return books[:levels].reshape(-1, books.shape[-1])


def level_mask(num_active: Int[Array, "*batch"], num_levels: int) -> Bool[Array, "*batch levels"]:
    """``mask[..., l] = l < num_active[...]``: the levels used under quantizer dropout."""
    num_active = jnp.asarray(num_active)
    levels = jnp.arange(num_levels).reshape((1,) * num_active.ndim + (num_levels,))  # [1.., levels]
    return levels < num_active[..., None]


def expected_code_counts(
    vectors_per_step: float, *, num_levels: int, codebook_size: int, dropout: float = 0.0
) -> np.ndarray:
    """``[levels]``: the EMA count an evenly used code settles at, per level.

    The EMA count of a code converges to its mean assignments per step. Under quantizer dropout
    as `ResidualVQ.sample_num_active` draws it (probability ``p``, depth uniform in ``1..L``),
    level ``l`` (1-based) quantizes a share ``(1 - p) + p (L - l + 1) / L`` of the vectors, spread
    over ``codebook_size`` codes. A ``dead_code_threshold`` near or above these values replaces
    live codes at every step and the codebook never settles.
    """
    depth = np.arange(1, num_levels + 1)
    share = (1.0 - dropout) + dropout * (num_levels - depth + 1) / num_levels
    return vectors_per_step * share / codebook_size


class ResidualVQ(eqx.Module):
    """Residual vector quantizer (SoundStream, Zeghidour et al. 2021, Sec. 3.2, Algorithm 1).

    With ``r_0 = x``: ``k_l = argmin_j ||r_{l-1} - e^l_j||^2``, ``q_l = e^l_{k_l}``,
    ``r_l = r_{l-1} - sg(q_l)`` and ``quantized = x + sg(sum_l q_l - x)`` (straight-through on
    the sum). Subtracting ``sg(q_l)`` rather than the straight-through value keeps the
    commitment gradient alive at every level (EnCodec issue #25).

    Functional design: this module holds only hyperparameters (static fields); the codebooks and
    their EMA statistics live in a separate `RVQState` pytree, created by `init_state`, read by
    `__call__`/`decode` and replaced by the pure `update_codebooks` (call `update` for this
    quantizer's settings). An optimizer therefore never sees the codebooks (AdamW's decoupled
    weight decay would otherwise shrink them), and checkpoints save the state beside the model.

    Codebook learning (EnCodec ``core_vq.py``, van den Oord et al. 2017 App. A.1): EMA with decay
    ``gamma`` and Laplace smoothing ``eps``; k-means on each level's residuals of the first batch;
    codes whose EMA count falls below ``dead_code_threshold`` are replaced by random residuals of
    the current batch. Quantizer dropout: `sample_num_active` draws the number of levels per
    example uniformly in ``1..levels``, so any prefix of levels decodes.

    Acts on one example ``[T, dim]``; vmap over a batch.
    """

    num_levels: int = eqx.field(static=True)
    codebook_size: int = eqx.field(static=True)
    dim: int = eqx.field(static=True)
    decay: float = eqx.field(static=True, default=0.99)
    eps: float = eqx.field(static=True, default=1e-5)
    dead_code_threshold: float = eqx.field(static=True, default=2.0)
    kmeans_iters: int = eqx.field(static=True, default=10)

    def __check_init__(self) -> None:
        for name in ("num_levels", "codebook_size", "dim", "kmeans_iters"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"ResidualVQ.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.decay < 1.0:
            raise ValueError(f"ResidualVQ.decay must be in [0, 1), got {self.decay}")
        if self.eps <= 0 or self.dead_code_threshold < 0:
            raise ValueError("ResidualVQ.eps must be > 0 and dead_code_threshold >= 0")

    def init_state(self, *, key: PRNGKeyArray, scale: float = 1.0) -> RVQState:
        """A fresh state: Gaussian codebooks (``scale`` std), zero statistics, not initialized."""
        shape = (self.num_levels, self.codebook_size, self.dim)
        codebooks = scale * jax.random.normal(key, shape, jnp.float32)
        return RVQState(
            codebooks=codebooks,
            cluster_size=jnp.zeros(shape[:2], jnp.float32),
            embed_sum=jnp.zeros(shape, jnp.float32),
            initialized=jnp.asarray(False),
        )

    def __call__(
        self,
        state: RVQState,
        x: Float[Array, "time dim"],
        *,
        num_active: Int[Array, ""] | int | None = None,
    ) -> RVQOutput:
        """Quantize ``x`` ``[T, dim]`` with the first ``num_active`` levels (default all)."""
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"ResidualVQ expects [time, {self.dim}], got shape {x.shape}")
        n_active = self.num_levels if num_active is None else num_active
        codebooks = jax.lax.stop_gradient(state.codebooks)

        def level(r: Array, inputs: tuple[Array, Array]) -> tuple[Array, tuple[Array, ...]]:
            codebook, index = inputs
            codes = nearest_code(jax.lax.stop_gradient(r), codebook)  # [T]
            active = index < n_active
            q = jnp.where(active, codebook[codes], 0.0)  # [T, dim]
            commit = jnp.where(active, jnp.mean(jnp.square(r - q)), 0.0)
            return r - q, (codes, commit, jax.lax.stop_gradient(r), q, active)

        levels = jnp.arange(self.num_levels)
        _, (codes, commit, residuals, q, active) = jax.lax.scan(level, x, (codebooks, levels))
        total = jnp.sum(q, axis=0)  # [levels, T, dim] -> [T, dim]
        quantized = x + jax.lax.stop_gradient(total - x)
        return RVQOutput(
            quantized=quantized,
            codes=codes.T,  # [levels, T] -> [T, levels]
            commit_loss=commit,
            residuals=jnp.swapaxes(residuals, 0, 1),  # [levels, T, dim] -> [T, levels, dim]
            active=active,
        )

    def decode(
        self, state: RVQState, codes: Int[Array, "time used_levels"]
    ) -> Float[Array, "time dim"]:
        """Sum the code vectors of ``codes`` ``[T, n]``, levels ``0..n-1`` (any prefix, n >= 1).

        Codes outside ``[0, codebook_size)`` raise (``equinox.error_if``, also under jit).
        """
        if codes.ndim != 2 or not 1 <= codes.shape[1] <= self.num_levels:
            raise ValueError(
                f"ResidualVQ.decode expects [time, n] codes with 1 <= n <= {self.num_levels}, "
                f"got shape {codes.shape}"
            )
        codes = eqx.error_if(
            codes,
            jnp.any((codes < 0) | (codes >= self.codebook_size)),
            f"ResidualVQ.decode: a code lies outside [0, {self.codebook_size})",
        )
        used = state.codebooks[: codes.shape[1]]  # [n, codes, dim]
        vectors = jax.vmap(lambda cb, c: cb[c], in_axes=(0, 1))(used, codes)  # [n, T, dim]
        return jnp.sum(vectors, axis=0)  # [T, dim]

    def sample_num_active(
        self, *, key: PRNGKeyArray, batch: int, prob: float = 1.0
    ) -> Int[Array, " batch"]:
        """Quantizer dropout: per example, with probability ``prob`` a number of levels drawn
        uniformly in ``1..num_levels`` (both ends included), else all levels."""
        k_draw, k_apply = jax.random.split(key)
        drawn = jax.random.randint(k_draw, (batch,), 1, self.num_levels + 1)
        apply = jax.random.bernoulli(k_apply, prob, (batch,))
        return jnp.where(apply, drawn, self.num_levels).astype(jnp.int32)

    def update(
        self,
        state: RVQState,
        residuals: Float[Array, "*batch levels dim"],
        codes: Int[Array, "*batch levels"],
        *,
        key: PRNGKeyArray,
        mask: Bool[Array, "*batch levels"] | None = None,
    ) -> RVQState:
        """`update_codebooks` with this quantizer's hyperparameters (inputs of any batch shape)."""
        return update_codebooks(
            state,
            residuals.reshape(-1, self.num_levels, self.dim),
            codes.reshape(-1, self.num_levels),
            key=key,
            mask=None if mask is None else mask.reshape(-1, self.num_levels),
            decay=self.decay,
            eps=self.eps,
            dead_code_threshold=self.dead_code_threshold,
            kmeans_iters=self.kmeans_iters,
        )


def _kmeans_init(
    state: RVQState, x: Float[Array, "n dim"], weights: Float[Array, " n"], *, key: PRNGKeyArray,
    iters: int,
) -> RVQState:
    """Sequential k-means: level l is fit to the residuals left by the fitted levels < l."""
    num_codes = state.codebooks.shape[1]

    def level(r: Array, k: Array) -> tuple[Array, tuple[Array, Array]]:
        centroids, counts = kmeans(r, num_codes, key=k, iters=iters, weights=weights)
        return r - centroids[nearest_code(r, centroids)], (centroids, counts)

    keys = jax.random.split(key, state.codebooks.shape[0])
    _, (codebooks, counts) = jax.lax.scan(level, x, keys)  # [levels, K, dim], [levels, K]
    return RVQState(
        codebooks=codebooks,
        cluster_size=counts,
        embed_sum=codebooks * counts[..., None],
        initialized=jnp.asarray(True),
    )


def _ema_level(
    codebook: Array, cluster_size: Array, embed_sum: Array, x: Array, codes: Array, w: Array,
    key: Array, *, decay: float, eps: float, threshold: float,
) -> tuple[Array, Array, Array]:
    """One level's EMA step with Laplace smoothing, then dead-code replacement."""
    num_codes = codebook.shape[0]
    onehot = jax.nn.one_hot(codes, num_codes, dtype=x.dtype) * w[:, None]  # [n, K]
    counts = jnp.sum(onehot, axis=0)  # [K]
    sums = onehot.T @ x  # [K, dim]
    new_size = decay * cluster_size + (1.0 - decay) * counts
    new_sum = decay * embed_sum + (1.0 - decay) * sums[...]
    total = jnp.sum(new_size)
    smoothed = (new_size + eps) / (total + num_codes * eps) * total
    new_codebook = new_sum / jnp.maximum(smoothed, 1e-12)[:, None]

    wsum = jnp.sum(w)
    any_valid = wsum > 0
    p = jnp.where(any_valid, w / jnp.where(any_valid, wsum, 1.0), 1.0 / w.shape[0])
    picks = x[jax.random.choice(key, x.shape[0], (num_codes,), replace=True, p=p)]  # [K, dim]
    dead = (new_size < threshold) & any_valid
    new_codebook = jnp.where(dead[:, None], picks, new_codebook)
    new_size = jnp.where(dead, threshold, new_size)
    new_sum = jnp.where(dead[:, None], picks * threshold, new_sum)
    # A level no example used in this batch (quantizer dropout) keeps its state untouched.
    return (
        jnp.where(any_valid, new_codebook, codebook),
        jnp.where(any_valid, new_size, cluster_size),
        jnp.where(any_valid, new_sum, embed_sum),
    )


def update_codebooks(
    state: RVQState,
    residuals: Float[Array, "n levels dim"],
    codes: Int[Array, "n levels"],
    *,
    key: PRNGKeyArray,
    mask: Bool[Array, "n levels"] | None = None,
    decay: float = 0.99,
    eps: float = 1e-5,
    dead_code_threshold: float = 2.0,
    kmeans_iters: int = 10,
) -> RVQState:
    """One pure codebook step from a batch's quantizer inputs (EnCodec ``core_vq.py``).

    If ``state.initialized`` is False, the codebooks are fit by k-means: level 0 on the inputs
    ``residuals[:, 0]`` (which is ``x``), each further level on the residuals the fitted levels
    leave; ``cluster_size`` and ``embed_sum`` start from the k-means counts and means.

    Otherwise, per level with one-hot assignments ``A`` (rows masked by ``mask``):
    ``N_k <- gamma N_k + (1 - gamma) sum_n A_nk``, ``m_k <- gamma m_k + (1 - gamma) sum_n A_nk r_n``,
    ``N~_k = (N_k + eps) / (sum N + K eps) * sum N`` and ``e_k = m_k / N~_k``. Then every code
    with ``N_k < dead_code_threshold`` is replaced by a random (unmasked) row of this batch's
    residuals at that level, with ``N_k`` reset to the threshold (so ``e_k = m_k / N_k`` holds).
    With ``decay = 0`` the EMA step is one k-means (Lloyd) step.

    Args:
        state: the current buffers.
        residuals: ``[n, levels, dim]`` inputs of each level (`RVQOutput.residuals`, flattened).
        codes: ``[n, levels]`` the codes the forward pass assigned to them.
        key: PRNG key (k-means draw, dead-code replacements).
        mask: ``[n, levels]`` which rows count (quantizer dropout, padding); default all.
        decay: EMA decay ``gamma``.
        eps: Laplace smoothing.
        dead_code_threshold: EMA count below which a code is replaced (0 disables). A code's EMA
            count settles at its mean assignments per step, about ``n / num_codes`` for an
            evenly used code, so keep the threshold well below that or live codes are replaced
            at every step and the codebook never settles.
        kmeans_iters: Lloyd iterations of the initial k-means.

    Returns:
        The new state.
    """
    n, num_levels, _ = residuals.shape
    residuals = jax.lax.stop_gradient(residuals)
    w = jnp.ones((n, num_levels), residuals.dtype) if mask is None else mask.astype(residuals.dtype)
    k_init, k_dead = jax.random.split(key)

    def ema(s: RVQState) -> RVQState:
        keys = jax.random.split(k_dead, num_levels)
        step = jax.vmap(
            lambda cb, cs, es, x, c, wl, k: _ema_level(
                cb, cs, es, x, c, wl, k, decay=decay, eps=eps, threshold=dead_code_threshold
            ),
            in_axes=(0, 0, 0, 1, 1, 1, 0),
        )
        cb, cs, es = step(s.codebooks, s.cluster_size, s.embed_sum, residuals, codes, w, keys)
        return RVQState(codebooks=cb, cluster_size=cs, embed_sum=es, initialized=s.initialized)

    def init(s: RVQState) -> RVQState:
        return _kmeans_init(s, residuals[:, 0], w[:, 0], key=k_init, iters=kmeans_iters)

    return jax.lax.cond(state.initialized, ema, init, state)
