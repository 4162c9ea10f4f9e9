"""The prefix LM's training losses: next-token cross-entropy and z-loss on the targets of packed windows.

``token_losses`` gives them per token (the grouped head, gradients by autodiff); ``target_loss``
gives the trainer's weighted objective with the fused head (``_head.py``), whose gradient is
computed in the forward pass. Both take a softmax per target over its modality's range (paper
eq. 2), and a factorized range (``PrefixLMConfig.factorized``) through its two factors.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

from archon_framework._errors import ConfigError
from archon_framework.model._head import RangeHead, check_ranges, fused_range_loss, grouped_range_head
from archon_framework.model._prefix_lm import PrefixLM

__all__ = ["TokenLosses", "token_losses", "target_loss"]


class TokenLosses(NamedTuple):
    """Per-token losses of one window, aligned with the token each one predicts.

    Attributes:
        ce: Cross-entropy of ``tokens[i]`` given the logits at ``i - 1``; 0 where not a target.
        z: The z-loss term ``weight * logsumexp(logits[i - 1])^2``; 0 where not a target.
        mask: The loss mask (targets only), so the trainer can weight by task or modality.
    """

    ce: Float[Array, " seq"]
    z: Float[Array, " seq"]
    mask: Bool[Array, " seq"]


def token_losses(
    model: PrefixLM,
    tokens: Int[Array, "*rows seq"],
    *,
    segment_ids: Int[Array, "*rows seq"],
    positions: Int[Array, "*rows seq"] | Int[Array, "*rows seq 2"],
    prefix_mask: Bool[Array, "*rows seq"],
    loss_mask: Bool[Array, "*rows seq"],
    chunk_size: int | None = None,
    range_ids: Int[Array, "*rows seq"] | None = None,
    vocab_ranges: tuple[tuple[int, int], ...] | None = None,
) -> TokenLosses:
    """Next-token cross-entropy and z-loss on the target tokens of packed windows.

    The loss of token ``i`` uses the logits at ``i - 1``; the packer only sets ``loss_mask`` on
    target tokens, whose predecessor is always in the same example (every example has at least
    one prefix token). A loss-mask entry whose predecessor lies in another segment, or on
    padding, is ignored, so nothing is ever predicted across a packing boundary.

    **Range-restricted softmax.** With ``vocab_ranges`` (static ``(start, size)`` pairs) and
    ``range_ids`` (per token, the index of the range its id belongs to, -1 where it is not a
    target), the softmax of each target token runs over its own range only: the same
    distribution that generation samples from (paper eq. 2, logits limited to the target
    modality). Target positions are first grouped by range into chunks of ``chunk_size``
    (``archon_framework.model._head``), so a chunk computes the logits of one range over the
    positions that need them: prefix positions cost nothing and a text target never pays for
    the 262,144 image codes. Every target needs a range (a run-time error otherwise). Leading
    ``rows`` are flattened before the head, so do not ``vmap`` this function when using ranges
    or chunks (``cond`` would turn into ``select`` and compute every branch). For training,
    :func:`target_loss` gives the same objective with a cheaper gradient.

    Args:
        model: The prefix LM.
        tokens: The packed windows' global ids (see ``prefix_lm_mask``), ``[seq]`` or
            ``[rows, seq]``.
        segment_ids: Their segment ids, shaped like ``tokens``.
        positions: Their positions, shaped like ``tokens``, or with a last axis of 2 (place,
            time) for models that rotate by time (``apply_rope``).
        prefix_mask: True on prefix tokens, shaped like ``tokens``.
        loss_mask: True on target tokens.
        chunk_size: If set, the head runs ``chunk_size`` target positions at a time under
            ``jax.checkpoint`` so a ``[seq, vocab]`` array never lives whole (large
            vocabularies); with ranges it defaults to 256.
        range_ids: Per token, an index into ``vocab_ranges`` (with ``vocab_ranges``).
        vocab_ranges: ``(start, size)`` of each target range; None means a full softmax.

    Returns:
        Per-token losses, shaped like ``tokens``; the trainer reduces them (per task, per
        modality, or overall).
    """
    if (range_ids is None) != (vocab_ranges is None):
        raise ConfigError("token_losses: pass range_ids and vocab_ranges together (or neither)")
    batched = tokens.ndim == 2
    hidden, targets, mask, next_range, ranges = _head_inputs(
        model, tokens, segment_ids, positions, prefix_mask, loss_mask, range_ids, vocab_ranges)
    rows, seq = mask.shape
    if vocab_ranges is None and chunk_size is None:
        lse, picked = _lse_and_picked(model.logits(hidden), targets)
    else:
        weights = tuple(model.factor_embeddings[h.factor] if h.factor >= 0
                        else jax.lax.slice_in_dim(model.embedding, h.row, h.row + h.size, axis=0)
                        for h in _range_heads(model, ranges))
        lse, picked = grouped_range_head(hidden, targets, next_range, weights, ranges, chunk_size or 256)
    out = _per_token(model, lse.reshape(rows, seq), picked.reshape(rows, seq), mask)
    return out if batched else TokenLosses(*(x[0] for x in out))


def target_loss(
    model: PrefixLM,
    tokens: Int[Array, "*rows seq"],
    *,
    segment_ids: Int[Array, "*rows seq"],
    positions: Int[Array, "*rows seq"] | Int[Array, "*rows seq 2"],
    prefix_mask: Bool[Array, "*rows seq"],
    loss_mask: Bool[Array, "*rows seq"],
    chunk_size: int = 256,
    range_ids: Int[Array, "*rows seq"] | None = None,
    vocab_ranges: tuple[tuple[int, int], ...] | None = None,
    token_weights: Float[Array, "*rows seq"] | None = None,
) -> tuple[Float[Array, ""], TokenLosses]:
    """The training objective ``sum_i w_i (ce_i + z_i)`` over target tokens, with a fused head.

    The same losses as :func:`token_losses` (same arguments and masks, same range-restricted
    softmax), reduced to one scalar: by default the mean over target tokens
    (``w_i = 1 / #targets``), else ``token_weights`` on the targets. Its gradient is exact, but the
    head's part is computed in the forward pass while each chunk's logits are at hand
    (``fused_range_loss``), so no chunk is recomputed in the backward pass; and target positions
    are grouped by range first, so each chunk computes one range's logits over the positions
    that need them, and non-target positions cost nothing.

    Returns:
        The scalar loss and the per-token losses as values (they carry no gradient: take the
        gradient of the scalar).
    """
    if (range_ids is None) != (vocab_ranges is None):
        raise ConfigError("target_loss: pass range_ids and vocab_ranges together (or neither)")
    batched = tokens.ndim == 2
    hidden, targets, mask, next_range, ranges = _head_inputs(
        model, tokens, segment_ids, positions, prefix_mask, loss_mask, range_ids, vocab_ranges)
    rows, seq = mask.shape
    if token_weights is None:
        weights = mask.astype(jnp.float32) / jnp.maximum(mask.sum(), 1).astype(jnp.float32)
    else:
        weights = jnp.where(mask, token_weights.reshape(rows, seq), 0.0)
    next_weights = jnp.roll(weights, -1, axis=1).ravel()  # weight of the token each position predicts
    loss, lse, picked = fused_range_loss(hidden, targets, next_range, next_weights.astype(jnp.float32),
                                         model.embedding, _range_heads(model, ranges), chunk_size,
                                         model.config.z_loss, model.factor_embeddings)
    out = _per_token(model, lse.reshape(rows, seq), picked.reshape(rows, seq), mask)
    return loss, (out if batched else TokenLosses(*(x[0] for x in out)))


def _head_inputs(model, tokens, segment_ids, positions, prefix_mask, loss_mask, range_ids, vocab_ranges):
    """Hidden states ``[rows * seq, embed]``, targets, the loss mask per token ``[rows, seq]``, and
    per position the range index of the token it predicts (-1 for none), with the ranges."""
    if tokens.ndim == 1:
        tokens, segment_ids, positions, prefix_mask, loss_mask = (
            x[None] for x in (tokens, segment_ids, positions, prefix_mask, loss_mask))
        range_ids = None if range_ids is None else range_ids[None]
    rows, seq = tokens.shape
    hidden = jax.vmap(lambda t, s, p, m: model.hidden_states(t, segment_ids=s, positions=p, prefix_mask=m))(
        tokens, segment_ids, positions, prefix_mask)  # [rows, seq, embed]
    targets = jnp.roll(tokens, -1, axis=1)  # targets[:, i] = tokens[:, i + 1]; the wrapped last entry is unused
    # Never predict across a packing boundary, even if a caller's loss mask says so.
    same_segment = segment_ids == jnp.roll(segment_ids, 1, axis=1)
    mask = (loss_mask.astype(bool) & same_segment & (segment_ids != 0)).at[:, 0].set(False)
    if vocab_ranges is None:
        ranges, range_ids = ((0, model.vocab_size),), jnp.zeros_like(tokens)
    else:
        ranges = tuple((int(a), int(k)) for a, k in vocab_ranges)
        range_ids = eqx.error_if(
            range_ids, loss_mask.astype(bool) & ((range_ids < 0) | (range_ids >= len(ranges))),
            "token_losses: a target token has no vocabulary range (range_ids must index vocab_ranges on every "
            "loss_mask position)",
        )
    check_ranges(model.vocab_size, ranges)
    # mask[:, 0] is False, so the wrapped last entry of the roll is never a target.
    next_range = jnp.where(jnp.roll(mask, -1, axis=1), jnp.roll(range_ids, -1, axis=1), -1)
    return hidden.reshape(rows * seq, -1), targets.ravel(), mask, next_range.ravel(), ranges


def _range_heads(model: PrefixLM, ranges: tuple[tuple[int, int], ...]) -> tuple[RangeHead, ...]:
    """Each target range's head: its embedding rows, or its factor tables."""
    if model.config.factorized and ranges == ((0, model.vocab_size),):
        names = ", ".join(repr(f.vocabulary) for f in model.config.factorized)
        raise ConfigError(f"the model predicts the ranges of {names} as factors (model config [[model.factorized]]): "
                          "train it with range losses (train config model.loss = 'range'), not one full softmax")
    heads = []
    for start, size in ranges:
        index = model.factorized_index(start, size)
        heads.append(RangeHead(start, size, factor=index) if index is not None
                     else RangeHead(start, size, row=model.embedding_row(start)))
    return tuple(heads)


def _per_token(model: PrefixLM, lse: Float[Array, "rows seq"], picked: Float[Array, "rows seq"],
               mask: Bool[Array, "rows seq"]) -> TokenLosses:
    """Per-position head outputs shifted right by one, so entry i belongs to token i."""
    rows = lse.shape[0]
    lse = jnp.concatenate([jnp.zeros((rows, 1), lse.dtype), lse[:, :-1]], axis=1)
    picked = jnp.concatenate([jnp.zeros((rows, 1), picked.dtype), picked[:, :-1]], axis=1)
    ce = jnp.where(mask, lse - picked, 0.0)
    z = jnp.where(mask, model.config.z_loss * jnp.square(lse), 0.0)
    return TokenLosses(ce=ce, z=z, mask=mask)


def _lse_and_picked(logits: Float[Array, "n v"], local: Int[Array, " n"]) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
    lse = jax.nn.logsumexp(logits, axis=-1)
    return lse, jnp.take_along_axis(logits, local[:, None], axis=-1)[:, 0]
