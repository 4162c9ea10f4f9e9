"""The packer feeding the prefix LM end to end: the loss on packed windows falls (slow)."""

from __future__ import annotations

import equinox as eqx
import grain
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from archon_framework.data import LMExample, pack_examples
from archon_framework.model import PrefixLM, PrefixLMConfig, token_losses

VOCAB, SEQ = 64, 48


def _copy_examples(n: int, seed: int) -> list[LMExample]:
    """Prefix: random tokens then a separator (id 1); target: the same tokens again."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        body = rng.integers(2, VOCAB, int(rng.integers(3, 8)))
        out.append(LMExample(global_ids=np.concatenate([body, [1], body]), prefix_len=len(body) + 1,
                             task_id=i % 2))
    return out


@pytest.mark.slow
def test_lm_fits_packed_copy_windows():
    """60 AdamW steps on one batch of packed copy-task windows take the target cross-entropy
    from above the uniform baseline to under a tenth of it (gradients flow through the packed
    mask, the per-token loss and the tied embedding)."""
    windows = list(pack_examples(grain.MapDataset.source(_copy_examples(24, 0)), seq_len=SEQ,
                                 num_packing_bins=4))
    batch = {k: jnp.stack([w[k] for w in windows]) for k in windows[0]}  # [batch, seq]
    config = PrefixLMConfig(vocab_size=VOCAB, d_model=64, n_layers=2, n_heads=4, d_ff=128,
                            max_seq_len=SEQ)
    model = PrefixLM(config, key=jax.random.key(0))
    optimizer = optax.adamw(3e-3, weight_decay=1e-3)
    opt_state = optimizer.init(eqx.filter(model, eqx.is_array))

    def loss_fn(model):
        per_token = jax.vmap(
            lambda t, s, p, pm, lm: token_losses(
                model, t, segment_ids=s, positions=p, prefix_mask=pm, loss_mask=lm
            )
        )(batch["tokens"], batch["segment_ids"], batch["positions"], batch["prefix_mask"],
          batch["loss_mask"])
        n = per_token.mask.sum().astype(per_token.ce.dtype)
        return (per_token.ce.sum() + per_token.z.sum()) / n, per_token.ce.sum() / n

    @eqx.filter_jit
    def step(model, opt_state):
        (_, ce), grads = eqx.filter_value_and_grad(loss_fn, has_aux=True)(model)
        updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(model, eqx.is_array))
        return eqx.apply_updates(model, updates), opt_state, ce

    ces = []
    for _ in range(60):
        model, opt_state, ce = step(model, opt_state)
        ces.append(float(ce))
    unigram = np.log(VOCAB - 2)  # uniform over the content ids
    assert ces[0] > unigram
    assert ces[-1] < 0.1 * unigram, ces[::10]
