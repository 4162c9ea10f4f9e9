"""The prefix-LM attention mask over packed windows."""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Bool, Int

__all__ = ["prefix_lm_mask"]


def prefix_lm_mask(
    segment_ids: Int[Array, " seq"], prefix_mask: Bool[Array, " seq"]
) -> Bool[Array, "seq seq"]:
    """Which key each query may attend to in a packed prefix-LM window (paper Sec. 3.2).

    ``mask[i, j] = seg[i] == seg[j] and seg[j] != 0 and (j <= i or (prefix[i] and prefix[j]))``:
    bidirectional inside each example's prefix, causal over its target, nothing across packed
    examples, nothing to or from padding (segment 0). Segment ids, not token values, mark
    padding, because a real token may have id 0. The polarity of ``prefix_mask`` is 1 on prefix
    (bidirectional) tokens, like t5x's ``decoder_causal_attention`` but without its extra 1 after
    the last input: our windows are not shifted right by a BOS.

    A window of ``seq_len = 10`` packing example A (5 tokens, prefix 3) and example B (3 tokens,
    prefix 1), as the packer emits it (``archon_framework.data.pack_examples``)::

        index          0  1  2  3  4  5  6  7  8  9
        tokens        11 12 13 14 15 21 22 23  0  0
        segment_ids    1  1  1  1  1  2  2  2  0  0
        positions      0  1  2  3  4  0  1  2  0  0
        prefix_mask    1  1  1  0  0  1  0  0  0  0
        loss_mask      0  0  0  1  1  0  1  1  0  0

    gives (rows: query ``i``, columns: key ``j``)::

        i\\j  0  1  2  3  4  5  6  7  8  9
        0     1  1  1  0  0  0  0  0  0  0     A prefix: sees the whole A prefix
        1     1  1  1  0  0  0  0  0  0  0
        2     1  1  1  0  0  0  0  0  0  0
        3     1  1  1  1  0  0  0  0  0  0     A target: prefix + targets so far
        4     1  1  1  1  1  0  0  0  0  0
        5     0  0  0  0  0  1  0  0  0  0     B prefix
        6     0  0  0  0  0  1  1  0  0  0     B target
        7     0  0  0  0  0  1  1  1  0  0
        8     0  0  0  0  0  0  0  0  0  0     padding sees nothing
        9     0  0  0  0  0  0  0  0  0  0

    The loss at token ``i`` (``loss_mask[i] = 1``) is the cross-entropy of the logits at ``i - 1``
    for ``tokens[i]``: the last prefix position (2 for A, 5 for B) predicts the first target.

    Args:
        segment_ids: 1, 2, ... per packed example, 0 for padding.
        prefix_mask: True on prefix tokens.

    Returns:
        ``mask[query, key]``, True where attention is allowed.
    """
    seg_q, seg_k = segment_ids[:, None], segment_ids[None, :]  # [seq, 1], [1, seq]
    idx = jnp.arange(segment_ids.shape[0])
    causal = idx[None, :] <= idx[:, None]  # [seq, seq]
    both_prefix = prefix_mask[:, None] & prefix_mask[None, :]  # [seq, seq]
    return (seg_q == seg_k) & (seg_k != 0) & (causal | both_prefix)
