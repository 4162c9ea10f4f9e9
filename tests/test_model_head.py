"""The grouped output head (model/_head.py): slots, and the losses against a dense reference.

The reference is the meaning of the range loss written densely: full-vocabulary logits at every
position, each target's softmax taken over its own range (paper eq. 2), CE + z-loss averaged over
the targets, and its gradient by plain autodiff. The grouped head (`token_losses`) and the fused
head (`target_loss`, which the trainer uses) must give the same values and gradients on random
target/range assignments.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework._errors import ConfigError, VocabError
from archon_framework.model import PrefixLM, PrefixLMConfig, target_loss, token_losses
from archon_framework.model._head import group_slots

ROWS, SEQ, CHUNK = 2, 24, 8
RANGES = ((0, 40), (40, 50), (90, 7))  # one wide, one medium, one narrow; ids 97.. in none
CONFIG = PrefixLMConfig(vocab_size=101, d_model=16, n_layers=2, n_heads=2, d_ff=32, max_seq_len=64)


@pytest.fixture(scope="module")
def model() -> PrefixLM:
    return PrefixLM(CONFIG, key=jax.random.key(3))


def _window(seed: int, split: int, prefixes: tuple[int, int]):
    """Two packed examples per row (the second from `split`), each target in a random range."""
    rng = np.random.default_rng(seed)
    idx = np.arange(SEQ)
    seg = np.where(idx < split, 1, 2)[None].repeat(ROWS, 0)
    seg[1, SEQ - 3:] = 0  # padding at the end of the second row
    pos = np.where(idx < split, idx, idx - split)[None].repeat(ROWS, 0)
    pre = ((idx < prefixes[0]) | ((idx >= split) & (idx < split + prefixes[1])))[None].repeat(ROWS, 0)
    loss_mask = ~pre & (seg > 0)
    range_ids = rng.integers(0, len(RANGES), (ROWS, SEQ))
    starts, sizes = np.asarray(RANGES).T
    tokens = starts[range_ids] + rng.integers(0, 1 << 20, (ROWS, SEQ)) % sizes[range_ids]
    feats = dict(segment_ids=seg, positions=pos, prefix_mask=pre, loss_mask=loss_mask)
    return (jnp.asarray(tokens, jnp.int32), jnp.asarray(np.where(loss_mask, range_ids, -1), jnp.int32),
            {k: jnp.asarray(v) for k, v in feats.items()})


def _reference(model, tokens, range_ids, feats):
    """Mean CE + z-loss over targets, each softmax over its range, from dense logits."""
    logits = jax.vmap(lambda t, s, p, m: model(t, segment_ids=s, positions=p, prefix_mask=m))(
        tokens, feats["segment_ids"], feats["positions"], feats["prefix_mask"])[:, :-1]  # predicts tokens[:, 1:]
    ids = jnp.arange(CONFIG.vocab_size)
    inside = jnp.stack([(ids >= a) & (ids < a + k) for a, k in RANGES])[jnp.maximum(range_ids[:, 1:], 0)]
    lse = jax.nn.logsumexp(jnp.where(inside, logits, -jnp.inf), axis=-1)
    picked = jnp.take_along_axis(logits, tokens[:, 1:, None], axis=-1)[..., 0]
    seg = feats["segment_ids"]
    mask = feats["loss_mask"][:, 1:] & (seg[:, 1:] == seg[:, :-1]) & (seg[:, 1:] != 0)
    per = jnp.where(mask, lse - picked + CONFIG.z_loss * jnp.square(lse), 0.0)
    return per.sum() / jnp.maximum(mask.sum(), 1).astype(per.dtype)


def _grouped(model, tokens, range_ids, feats):
    out = token_losses(model, tokens, range_ids=range_ids, vocab_ranges=RANGES, chunk_size=CHUNK, **feats)
    return (out.ce + out.z).sum() / jnp.maximum(out.mask.sum(), 1).astype(out.ce.dtype)


def _fused(model, tokens, range_ids, feats):
    return target_loss(model, tokens, range_ids=range_ids, vocab_ranges=RANGES, chunk_size=CHUNK, **feats)[0]


_GRADS = {name: eqx.filter_jit(eqx.filter_value_and_grad(f)) for name, f in
          (("reference", _reference), ("grouped", _grouped), ("fused", _fused))}


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), split=st.integers(6, SEQ - 6), p0=st.integers(1, 5), p1=st.integers(1, 5))
def test_grouped_and_fused_heads_equal_the_dense_range_loss(model, seed, split, p0, p1):
    tokens, range_ids, feats = _window(seed, split, (p0, p1))
    ref_value, ref_grad = _GRADS["reference"](model, tokens, range_ids, feats)
    for name in ("grouped", "fused"):
        value, grad = _GRADS[name](model, tokens, range_ids, feats)
        assert float(value) == pytest.approx(float(ref_value), rel=1e-5), name
        for a, b in zip(jax.tree.leaves(grad), jax.tree.leaves(ref_grad)):
            np.testing.assert_allclose(a, b, atol=2e-6, rtol=1e-4, err_msg=name)


def test_fused_per_token_losses_equal_token_losses_and_weights_apply(model):
    tokens, range_ids, feats = _window(7, 11, (3, 2))
    kwargs = dict(range_ids=range_ids, vocab_ranges=RANGES, chunk_size=CHUNK, **feats)
    plain = eqx.filter_jit(token_losses)(model, tokens, **kwargs)
    loss, fused = eqx.filter_jit(target_loss)(model, tokens, **kwargs)
    for a, b in zip(plain, fused):
        np.testing.assert_allclose(a, b, atol=1e-6)
    weights = jnp.arange(ROWS * SEQ, dtype=jnp.float32).reshape(ROWS, SEQ) / 100
    weighted, _ = eqx.filter_jit(target_loss)(model, tokens, token_weights=weights, **kwargs)
    expected = jnp.sum(jnp.where(plain.mask, weights * (plain.ce + plain.z), 0.0))
    assert float(weighted) == pytest.approx(float(expected), rel=1e-5)
    assert float(loss) == pytest.approx(float((plain.ce + plain.z).sum() / plain.mask.sum().astype(plain.ce.dtype)), rel=1e-6)


def test_full_vocabulary_target_loss_equals_the_unchunked_loss(model):
    tokens, _, feats = _window(1, 12, (2, 4))
    plain = eqx.filter_jit(token_losses)(model, tokens, **feats)  # no chunks: one [seq, vocab] softmax per row
    loss, fused = eqx.filter_jit(target_loss)(model, tokens, chunk_size=5, **feats)
    np.testing.assert_allclose(fused.ce, plain.ce, atol=1e-5)
    assert float(loss) == pytest.approx(float((plain.ce + plain.z).sum() / plain.mask.sum().astype(plain.ce.dtype)), rel=1e-5)


_group_slots = jax.jit(group_slots, static_argnums=(1, 2))


@settings(max_examples=25, deadline=None)
@given(range_ids=st.lists(st.integers(-1, 2), min_size=30, max_size=30), chunk=st.sampled_from([1, 7]))
def test_slots_hold_each_target_once_and_one_range_per_chunk(range_ids, chunk):
    rid = np.asarray(range_ids, np.int32)
    slots = jax.tree.map(np.asarray, _group_slots(jnp.asarray(rid), 3, chunk))
    n = len(rid)
    held = slots.index[slots.index < n]
    assert sorted(held.tolist()) == np.flatnonzero(rid >= 0).tolist()  # every target once, nothing else
    for k, row in enumerate(slots.index):
        ranges = set(rid[row[row < n]].tolist())
        assert ranges <= {int(slots.chunk_range[k])}  # one range per chunk, the one it is labelled with
    counts = np.bincount(rid[rid >= 0], minlength=3)
    np.testing.assert_array_equal(slots.n_chunks, -(-counts // chunk))  # padding wastes < one chunk per range
    assert (slots.chunk_range < 3).sum() == slots.n_chunks.sum()


def test_ranges_outside_the_embedding_and_half_range_arguments_are_refused(model):
    tokens, range_ids, feats = _window(0, 10, (2, 2))
    with pytest.raises(VocabError, match=r"vocabulary range \[90, 110\) lies outside the embedding's 101 rows"):
        target_loss(model, tokens, range_ids=range_ids, vocab_ranges=((0, 40), (40, 50), (90, 20)), **feats)
    with pytest.raises(ConfigError, match="range_ids and vocab_ranges together"):
        target_loss(model, tokens, range_ids=range_ids, **feats)
