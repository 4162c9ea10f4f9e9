"""The output head of the loss: logits only where targets are, grouped by vocabulary range.

A packed window's targets belong to a few vocabulary ranges of very different widths (2,000
text ids, 262,144 image ids). Chunking positions in window order makes every chunk that holds one
image target pay for all of its positions times the whole image range. Here target positions are
first sorted into *slots* grouped by range, each range's group padded to whole chunks, so a
chunk holds the targets of one range only and computes logits of that range only, over the
positions that need them; prefix and padding positions get no slot and cost nothing. Each
target's softmax still covers its whole range (paper eq. 2).

Two ways through the slots:

* :func:`grouped_range_head`: per-token ``(logsumexp, target logit)``, differentiable by autodiff
  (each chunk runs under ``jax.checkpoint``, so its logits are recomputed in the backward pass);
* :func:`fused_range_loss`: the weighted loss ``sum_i w_i (lse_i - logit_i + z lse_i^2)`` as one
  scalar whose gradient is computed in the forward pass, chunk by chunk, while the logits are
  at hand (``custom_vjp``): no recompute and no ``[positions, vocab]`` array, three matmuls of a
  chunk instead of four. The trainer's objective is such a weighted sum.

A range may be **factorized** (``PrefixLMConfig.factorized``; MAGVIT-v2's LM over its 2^18
lookup-free codes, Yu et al. 2024): local id ``i = a |B| + b`` has the joint logit
``l_A[a] + l_B[b]`` with ``l_A = h A^T / sqrt(d)``, ``l_B = h B^T / sqrt(d)``, so its softmax over
the ``|A| |B|`` ids is the product of the two factors' softmaxes,
``log p(i) = log softmax(l_A)[a] + log softmax(l_B)[b]`` and ``lse = lse_A + lse_B``: an image
target costs ``|A| + |B|`` = 1,024 logits instead of 262,144.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from archon_framework._errors import VocabError

__all__ = ["Slots", "RangeHead", "group_slots", "grouped_range_head", "fused_range_loss", "check_ranges"]


def check_ranges(vocab: int, vocab_ranges: tuple[tuple[int, int], ...]) -> None:
    """Raise :class:`VocabError` if a ``(start, size)`` range leaves the embedding's rows."""
    for start, size in vocab_ranges:
        if not (0 <= start and 0 < size and start + size <= vocab):
            raise VocabError(f"vocabulary range [{start}, {start + size}) lies outside the embedding's {vocab} "
                             "rows; grow the model with grow_vocab or fix the layout")


class Slots(NamedTuple):
    """Target positions sorted into chunks that each hold one vocabulary range.

    Attributes:
        index: ``[chunks, chunk]``: the position held by each slot; ``n`` (one past the last
            position) for an empty slot.
        first_chunk: ``[ranges]``: the first chunk of each range's group.
        n_chunks: ``[ranges]``: how many chunks each range's group fills.
        chunk_range: ``[chunks]``: the range of each chunk, ``ranges`` for an unused chunk.
    """

    index: Int[Array, "chunks chunk"]  # type: ignore[assignment]
    first_chunk: Int[Array, " ranges"]
    n_chunks: Int[Array, " ranges"]
    chunk_range: Int[Array, " chunks"]


def group_slots(range_ids: Int[Array, " n"], n_ranges: int, chunk: int) -> Slots:
    """Sort positions by range into whole chunks (positions with ``range_id < 0`` get no slot).

    With ``n`` positions there are ``ceil(n / chunk) + n_ranges`` chunks: each range's group is
    padded to whole chunks, which wastes less than one chunk per range.
    """
    n = range_ids.shape[0]
    rid = jnp.where((range_ids >= 0) & (range_ids < n_ranges), range_ids, n_ranges)  # n_ranges: no slot
    counts = jnp.bincount(rid, length=n_ranges + 1)
    n_chunks = (counts[:n_ranges] + chunk - 1) // chunk
    first_chunk = jnp.cumsum(n_chunks) - n_chunks
    order = jnp.argsort(rid, stable=True)  # positions grouped by range, in window order inside a group
    sorted_rid = rid[order]
    group_begin = jnp.cumsum(counts) - counts  # where each range's group starts in `order`
    rank = jnp.arange(n) - group_begin[sorted_rid]
    total = (-(-n // chunk) + n_ranges) * chunk
    first_slot = jnp.concatenate([first_chunk * chunk, jnp.array([total])])
    slot = jnp.where(sorted_rid < n_ranges, first_slot[sorted_rid] + rank, total)  # total: dropped
    index = jnp.full((total,), n, jnp.int32).at[slot].set(order.astype(jnp.int32), mode="drop")
    k = jnp.arange(total // chunk)
    chunk_range = jnp.full(k.shape, n_ranges, jnp.int32)
    for r in range(n_ranges):
        inside = (k >= first_chunk[r]) & (k < first_chunk[r] + n_chunks[r])
        chunk_range = jnp.where(inside, r, chunk_range)
    return Slots(index.reshape(-1, chunk), first_chunk.astype(jnp.int32), n_chunks.astype(jnp.int32), chunk_range)


def _project(h: Float[Array, "c embed"], rows: Float[Array, "v embed"]) -> Float[Array, "c v"]:
    scale = h.shape[-1] ** -0.5
    return jnp.einsum("cd,vd->cv", h, rows, preferred_element_type=jnp.float32) * scale


def _lse_and_picked(logits: Float[Array, "c v"], local: Int[Array, " c"]):
    lse = jax.nn.logsumexp(logits, axis=-1)
    return lse, jnp.take_along_axis(logits, local[:, None], axis=-1)[:, 0]


def _to_slots(slots: Slots, *arrays: Array) -> list[Array]:
    """Each ``[n, ...]`` array gathered into ``[chunks, chunk, ...]`` slots (zeros on empty slots)."""
    out = []
    for a in arrays:
        padded = jnp.concatenate([a, jnp.zeros((1,) + a.shape[1:], a.dtype)])
        out.append(padded[slots.index])
    return out


def _from_slots(slots: Slots, n: int, values: Array) -> Array:
    """The inverse of :func:`_to_slots` for ``[chunks, chunk]`` values; 0 at positions without a slot."""
    return jnp.zeros((n + 1,), values.dtype).at[slots.index.ravel()].set(values.ravel())[:n]


class RangeHead(NamedTuple):
    """How the logits of one target range are made.

    Attributes:
        start: Its first global id (targets are ``start + local``).
        size: Its number of ids.
        row: First embedding row of an exact range (``E[row : row + size]``); -1 if factorized.
        factor: Index into the factor tables of a factorized range (local id
            ``a * len(B) + b``, logits ``h A^T`` and ``h B^T``); -1 if exact.
    """

    start: int
    size: int
    row: int = -1
    factor: int = -1


def _factor_lse_and_picked(h, a_rows, b_rows, local):
    """A factorized range: ``lse = lse_A + lse_B`` and ``picked = l_A[a] + l_B[b]`` (the joint
    logits ``l_A[a] + l_B[b]`` normalized over all ``|A| |B|`` ids), with both factors' logits."""
    second = b_rows.shape[0]
    la, lb = _project(h, a_rows), _project(h, b_rows)  # [c, |A|], [c, |B|]
    lse_a, picked_a = _lse_and_picked(la, local // second)
    lse_b, picked_b = _lse_and_picked(lb, local % second)
    return lse_a + lse_b, picked_a + picked_b, (la, lse_a), (lb, lse_b)


def grouped_range_head(hidden: Float[Array, "n embed"], targets: Int[Array, " n"], range_ids: Int[Array, " n"],
                       rows: tuple[Float[Array, "size embed"] | tuple[Array, Array], ...],
                       vocab_ranges: tuple[tuple[int, int], ...],
                       chunk: int) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
    """Per position, logsumexp over its target's range and the target's logit (0 without a range).

    ``rows[r]`` are the embedding rows of ``vocab_ranges[r]`` (sliced once by the caller, so a
    branch that does not run yields a zero cotangent of its own rows only), or for a factorized
    range the pair of factor tables ``(A, B)``: its logsumexp and target logit are then those of
    the joint logits ``l_A[a] + l_B[b]``.
    """
    n = hidden.shape[0]
    slots = group_slots(range_ids, len(vocab_ranges), chunk)
    h, tgt = _to_slots(slots, hidden, targets)

    def one_chunk(args):
        h, tgt, r_chunk = args  # [c, embed], [c], []
        lse = jnp.zeros(tgt.shape, jnp.float32)
        picked = jnp.zeros(tgt.shape, jnp.float32)
        for r, (start, size) in enumerate(vocab_ranges):
            def on(h, tgt, w, start=start, size=size):
                local = jnp.clip(tgt - start, 0, size - 1)
                if isinstance(w, tuple):
                    return _factor_lse_and_picked(h, w[0], w[1], local)[:2]
                return _lse_and_picked(_project(h, w), local)

            def off(h, tgt, w):
                return jnp.zeros(tgt.shape, jnp.float32), jnp.zeros(tgt.shape, jnp.float32)

            here = r_chunk == r
            l, p = jax.lax.cond(here, on, off, h, tgt, rows[r])
            lse, picked = jnp.where(here, l, lse), jnp.where(here, p, picked)
        return lse, picked

    lse, picked = jax.lax.map(jax.checkpoint(one_chunk), (h, tgt, slots.chunk_range))
    return _from_slots(slots, n, lse), _from_slots(slots, n, picked)


def _softmax_grad(logits, lse, local, coef, w, scale):
    """``d loss / d logits`` of ``w (lse - logit[local]) + z-loss`` for one chunk: ``coef softmax
    - w onehot``, times the logits' scale (``coef = w (1 + 2 z lse)``)."""
    g = jnp.exp(logits - lse[:, None]) * coef[:, None]
    return g.at[jnp.arange(local.shape[0]), local].add(-w) * scale


def fused_range_loss(hidden: Float[Array, "n embed"], targets: Int[Array, " n"], range_ids: Int[Array, " n"],
                     weights: Float[Array, " n"], embedding: Float[Array, "rows embed"],
                     heads: tuple[RangeHead, ...], chunk: int, z_loss: float,
                     factor_tables: tuple[tuple[Array, Array], ...] = ()
                     ) -> tuple[Float[Array, ""], Float[Array, " n"], Float[Array, " n"]]:
    """``sum_i w_i (lse_i - logit_i + z_loss lse_i^2)`` with its gradient computed in the forward pass.

    Returns the loss (differentiable in ``hidden``, ``embedding`` and ``factor_tables``) and, as
    plain values (no gradient), each position's logsumexp and target logit (0 without a range).
    The embedding's gradient is one dense array that each chunk adds its range's rows into,
    never one per range. Each range's chunks run in a ``while`` loop over that range's group
    only; per chunk the logits are made once and give the lse, the target logit, the hidden
    states' gradient ``(w (1 + 2 z lse) softmax - w onehot) E_r / sqrt(d)`` and the rows'
    gradient, accumulated. A factorized range (``RangeHead.factor``) does the same with its two
    factors' logits: ``lse = lse_A + lse_B``, and each factor's gradient is its own softmax's.
    """
    n, d = hidden.shape
    slots = group_slots(range_ids, len(heads), chunk)
    h_slots, t_slots, w_slots = (x.reshape((-1,) + x.shape[2:]) for x in _to_slots(slots, hidden, targets, weights))
    scale = d**-0.5

    def run(h_slots, embedding, tables, with_grad: bool):
        total = h_slots.shape[0]
        lse_b = jnp.zeros((total,), jnp.float32)
        picked_b = jnp.zeros((total,), jnp.float32)
        dh_b = jnp.zeros((total, d), jnp.float32) if with_grad else None
        acc = jnp.zeros(embedding.shape, jnp.float32) if with_grad else None  # the embedding's gradient
        acc_f = tuple((jnp.zeros(a.shape, jnp.float32), jnp.zeros(b.shape, jnp.float32)) for a, b in tables
                      ) if with_grad else None  # the factor tables' gradients
        for r, head in enumerate(heads):
            if head.factor < 0:
                w_rows = jax.lax.slice_in_dim(embedding, head.row, head.row + head.size, axis=0)
            else:
                w_rows = tables[head.factor]

            def body(k, carry, head=head, w_rows=w_rows):
                lse_b, picked_b, dh_b, acc, acc_f = carry
                at = k * chunk
                h = jax.lax.dynamic_slice_in_dim(h_slots, at, chunk)  # [c, embed]
                local = jnp.clip(jax.lax.dynamic_slice_in_dim(t_slots, at, chunk) - head.start, 0, head.size - 1)
                if head.factor < 0:
                    logits = _project(h, w_rows)  # [c, size]
                    lse, picked = _lse_and_picked(logits, local)
                else:
                    lse, picked, (la, lse_a), (lb, lse_b_) = _factor_lse_and_picked(h, *w_rows, local)
                lse_b = jax.lax.dynamic_update_slice_in_dim(lse_b, lse, at, 0)
                picked_b = jax.lax.dynamic_update_slice_in_dim(picked_b, picked, at, 0)
                if with_grad:
                    w = jax.lax.dynamic_slice_in_dim(w_slots, at, chunk).astype(jnp.float32)
                    coef = w * (1.0 + 2.0 * z_loss * lse)
                    if head.factor < 0:
                        g = _softmax_grad(logits, lse, local, coef, w, scale)  # d loss / d (h E^T), [c, size]
                        dh = jnp.einsum("cv,vd->cd", g, w_rows, preferred_element_type=jnp.float32)
                        acc = acc.at[head.row:head.row + head.size].add(
                            jnp.einsum("cv,cd->vd", g, h, preferred_element_type=jnp.float32))
                    else:
                        second = w_rows[1].shape[0]
                        ga = _softmax_grad(la, lse_a, local // second, coef, w, scale)  # [c, |A|]
                        gb = _softmax_grad(lb, lse_b_, local % second, coef, w, scale)  # [c, |B|]
                        dh = (jnp.einsum("cv,vd->cd", ga, w_rows[0], preferred_element_type=jnp.float32)
                              + jnp.einsum("cv,vd->cd", gb, w_rows[1], preferred_element_type=jnp.float32))
                        da, db = acc_f[head.factor]
                        da = da + jnp.einsum("cv,cd->vd", ga, h, preferred_element_type=jnp.float32)
                        db = db + jnp.einsum("cv,cd->vd", gb, h, preferred_element_type=jnp.float32)
                        acc_f = acc_f[:head.factor] + ((da, db),) + acc_f[head.factor + 1:]
                    dh_b = jax.lax.dynamic_update_slice_in_dim(dh_b, dh, at, 0)
                return lse_b, picked_b, dh_b, acc, acc_f

            lo = slots.first_chunk[r]
            lse_b, picked_b, dh_b, acc, acc_f = jax.lax.fori_loop(lo, lo + slots.n_chunks[r], body,
                                                                  (lse_b, picked_b, dh_b, acc, acc_f))
        loss = jnp.sum(w_slots * (lse_b - picked_b + z_loss * jnp.square(lse_b)))
        return loss, lse_b, picked_b, dh_b, acc, acc_f

    @jax.custom_vjp
    def loss_fn(h_slots, embedding, tables):
        loss, lse_b, picked_b, *_ = run(h_slots, embedding, tables, False)
        return loss, lse_b, picked_b

    def fwd(h_slots, embedding, tables):
        loss, lse_b, picked_b, dh_b, d_embedding, d_tables = run(h_slots, embedding, tables, True)
        return (loss, lse_b, picked_b), (dh_b, d_embedding, d_tables)

    def bwd(res, cotangents):
        dh_b, d_embedding, d_tables = res
        g = cotangents[0]  # lse and picked leave this function without a gradient (stop_gradient below)
        d_tables = jax.tree.map(lambda x, t: (g * x).astype(t.dtype), d_tables, factor_tables)
        return (g * dh_b).astype(h_slots.dtype), (g * d_embedding).astype(embedding.dtype), d_tables

    loss_fn.defvjp(fwd, bwd)
    loss, lse_b, picked_b = loss_fn(h_slots, embedding, tuple(factor_tables))
    lse_b, picked_b = jax.lax.stop_gradient(lse_b), jax.lax.stop_gradient(picked_b)
    shape = slots.index.shape
    return loss, _from_slots(slots, n, lse_b.reshape(shape)), _from_slots(slots, n, picked_b.reshape(shape))
