"""Property tests of the prefix LM (shared/notes/model-specs.md Sec. 6)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework._errors import CheckpointError, VocabError
from archon_framework.model import (
    PrefixLM,
    PrefixLMConfig,
    grow_vocab,
    load_prefix_lm,
    save_prefix_lm,
    token_losses,
)

SEQ = 16
CONFIG = PrefixLMConfig(
    vocab_size=97, d_model=32, n_layers=2, n_heads=4, n_kv_heads=1, d_ff=64, max_seq_len=64
)


@pytest.fixture(scope="module")
def model() -> PrefixLM:
    return PrefixLM(CONFIG, key=jax.random.key(0))


@eqx.filter_jit
def _forward(model, tokens, segment_ids, positions, prefix_mask):
    return model(tokens, segment_ids=segment_ids, positions=positions, prefix_mask=prefix_mask)


@eqx.filter_jit
def _losses(model, tokens, segment_ids, positions, prefix_mask, loss_mask, chunk_size=None):
    return token_losses(
        model, tokens, segment_ids=segment_ids, positions=positions, prefix_mask=prefix_mask,
        loss_mask=loss_mask, chunk_size=chunk_size,
    )


def _single(prefix_len: int, length: int = SEQ):
    """One example filling the window: segment ids, positions, prefix mask, loss mask."""
    idx = jnp.arange(length)
    return jnp.ones(length, jnp.int32), idx, idx < prefix_len, idx >= prefix_len


def _tokens(seed: int, n: int = SEQ):
    return jax.random.randint(jax.random.key(seed), (n,), 0, CONFIG.vocab_size)


@settings(max_examples=12, deadline=None)
@given(prefix_len=st.integers(1, SEQ - 1), data=st.data())
def test_changing_target_token_leaves_earlier_logits_unchanged(model, prefix_len, data):
    j = data.draw(st.integers(prefix_len, SEQ - 1))
    tokens = _tokens(prefix_len)
    changed = tokens.at[j].set((tokens[j] + 1 + data.draw(st.integers(0, 90))) % CONFIG.vocab_size)
    seg, pos, pre, _ = _single(prefix_len)
    a = np.asarray(_forward(model, tokens, seg, pos, pre))
    b = np.asarray(_forward(model, changed, seg, pos, pre))
    np.testing.assert_array_equal(a[:j], b[:j])  # every earlier position, prefix included
    assert not np.array_equal(a[j], b[j])  # the test can fail: position j sees token j


@settings(max_examples=12, deadline=None)
@given(prefix_len=st.integers(2, SEQ - 1), data=st.data())
def test_changing_prefix_token_changes_earlier_prefix_logits(model, prefix_len, data):
    i = data.draw(st.integers(1, prefix_len - 1))
    tokens = _tokens(i)
    changed = tokens.at[i].set((tokens[i] + 1) % CONFIG.vocab_size)
    seg, pos, pre, _ = _single(prefix_len)
    a = np.asarray(_forward(model, tokens, seg, pos, pre))
    b = np.asarray(_forward(model, changed, seg, pos, pre))
    assert np.abs(a[:i] - b[:i]).max() > 1e-6  # bidirectional prefix
    assert np.abs(a[prefix_len:] - b[prefix_len:]).max() > 1e-6  # and the targets see it


def test_packed_segments_are_independent(model):
    # Segment 1: 7 tokens (prefix 3); segment 2: 6 tokens (prefix 2); 3 pads.
    seg = jnp.array([1] * 7 + [2] * 6 + [0] * 3)
    pos = jnp.array(list(range(7)) + list(range(6)) + [0] * 3)
    pre = jnp.array([1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0], bool)
    tokens = _tokens(3)
    perturbed = tokens.at[7:13].set((tokens[7:13] + 5) % CONFIG.vocab_size)
    a = np.asarray(_forward(model, tokens, seg, pos, pre))
    b = np.asarray(_forward(model, perturbed, seg, pos, pre))
    np.testing.assert_array_equal(a[:7], b[:7])
    assert not np.array_equal(a[7:13], b[7:13])
    # Segment 2 alone (positions restart) gives the same logits as inside the pack.
    alone = np.asarray(
        _forward(model, tokens[7:13], jnp.ones(6, jnp.int32), jnp.arange(6), pre[7:13])
    )
    np.testing.assert_allclose(a[7:13], alone, atol=1e-5)
    # A loss mask that claims every token still never predicts across the boundary or on pads.
    out = _losses(model, tokens, seg, pos, pre, jnp.ones(SEQ, bool))
    want = np.array([0] + [1] * 6 + [0] + [1] * 5 + [0] * 3, bool)
    np.testing.assert_array_equal(out.mask, want)
    assert np.all(np.asarray(out.ce)[~want] == 0)


def test_pad_tokens_do_not_change_outputs(model):
    seg = jnp.array([1] * 10 + [0] * 6)
    pos = jnp.array(list(range(10)) + [0] * 6)
    pre = jnp.arange(SEQ) < 4
    tokens = _tokens(4)
    other_pads = tokens.at[10:].set(jnp.arange(6) * 7)
    other_pos = pos.at[10:].set(jnp.arange(3, 9))
    a = np.asarray(_forward(model, tokens, seg, pos, pre))
    b = np.asarray(_forward(model, other_pads, seg, other_pos, pre.at[10:].set(True)))
    np.testing.assert_array_equal(a[:10], b[:10])
    unpadded = np.asarray(_forward(model, tokens[:10], seg[:10], pos[:10], pre[:10]))
    np.testing.assert_allclose(a[:10], unpadded, atol=1e-5)
    losses = _losses(model, tokens, seg, pos, pre, (seg != 0) & ~pre)
    assert np.all(np.isfinite(losses.ce)) and np.all(np.asarray(losses.ce)[10:] == 0)


def test_loss_only_on_targets_and_matches_logits(model):
    tokens = _tokens(5)
    seg, pos, pre, loss_mask = _single(6)
    out = _losses(model, tokens, seg, pos, pre, loss_mask)
    logits = np.asarray(_forward(model, tokens, seg, pos, pre), np.float64)
    lse = np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1)) + logits.max(-1)
    for i in range(SEQ):
        if i >= 6:
            want = lse[i - 1] - logits[i - 1, int(tokens[i])]
            assert out.ce[i] == pytest.approx(want, abs=1e-4)
            assert out.z[i] == pytest.approx(CONFIG.z_loss * lse[i - 1] ** 2, rel=1e-4)
        else:
            assert out.ce[i] == 0 and out.z[i] == 0 and not out.mask[i]
    chunked = _losses(model, tokens, seg, pos, pre, loss_mask, chunk_size=4)
    np.testing.assert_allclose(chunked.ce, out.ce, atol=1e-5)
    np.testing.assert_allclose(chunked.z, out.z, atol=1e-7)


RANGES = ((0, 20), (24, 50), (80, 17))  # three target vocabularies; ids 20..23 and 74..79 in none


@eqx.filter_jit
def _range_losses(model, tokens, segment_ids, positions, prefix_mask, loss_mask, range_ids, chunk_size):
    return token_losses(
        model, tokens, segment_ids=segment_ids, positions=positions, prefix_mask=prefix_mask,
        loss_mask=loss_mask, range_ids=range_ids, vocab_ranges=RANGES, chunk_size=chunk_size,
    )


def _ranged_window(seed: int, prefix_len: int, r: int):
    """A window whose targets lie in range r (-1: anywhere, so no declared range applies)."""
    key = jax.random.key(seed)
    tokens = jax.random.randint(key, (SEQ,), 0, CONFIG.vocab_size)
    lo, size = RANGES[r] if r >= 0 else (0, CONFIG.vocab_size)
    targets = jax.random.randint(jax.random.fold_in(key, 1), (SEQ,), lo, lo + size)
    idx = jnp.arange(SEQ)
    tokens = jnp.where(idx >= prefix_len, targets, tokens)
    return tokens, jnp.where(idx >= prefix_len, r, -1).astype(jnp.int32)


@settings(max_examples=10, deadline=None)
@given(prefix_len=st.integers(1, SEQ - 1), r=st.sampled_from([0, 1, 2]), chunk=st.sampled_from([3, 4, 16]),
       seed=st.integers(0, 100))
def test_range_loss_is_a_softmax_over_the_target_range_only(model, prefix_len, r, chunk, seed):
    tokens, range_ids = _ranged_window(seed, prefix_len, r)
    seg, pos, pre, loss_mask = _single(prefix_len)
    out = _range_losses(model, tokens, seg, pos, pre, loss_mask, range_ids, chunk)
    logits = np.asarray(_forward(model, tokens, seg, pos, pre), np.float64)
    lo, size = RANGES[r]
    part = logits[:, lo:lo + size]
    lse = np.log(np.exp(part - part.max(-1, keepdims=True)).sum(-1)) + part.max(-1)
    for i in range(SEQ):
        if i >= prefix_len:
            assert out.ce[i] == pytest.approx(lse[i - 1] - logits[i - 1, int(tokens[i])], abs=1e-4)
            assert out.z[i] == pytest.approx(CONFIG.z_loss * lse[i - 1] ** 2, rel=1e-4)
        else:
            assert out.ce[i] == 0 and not out.mask[i]
    full = _losses(model, tokens, seg, pos, pre, loss_mask)  # a strict sub-range has the smaller normalizer
    assert np.all(np.asarray(out.ce)[prefix_len:] < np.asarray(full.ce)[prefix_len:])


def test_range_loss_of_a_batch_equals_each_row_and_has_gradients(model):
    rows = [_ranged_window(s, p, r) for s, p, r in ((1, 5, 0), (2, 9, 2), (3, 3, 1))]
    tokens = jnp.stack([t for t, _ in rows])
    range_ids = jnp.stack([r for _, r in rows])
    feats = [_single(p) for p in (5, 9, 3)]
    seg, pos, pre, lm = (jnp.stack([f[k] for f in feats]) for k in range(4))
    batch = _range_losses(model, tokens, seg, pos, pre, lm, range_ids, 8)
    for i in range(3):
        one = _range_losses(model, tokens[i], seg[i], pos[i], pre[i], lm[i], range_ids[i], 8)
        np.testing.assert_allclose(batch.ce[i], one.ce, atol=1e-5)

    def loss(m):
        out = token_losses(m, tokens, segment_ids=seg, positions=pos, prefix_mask=pre, loss_mask=lm,
                           range_ids=range_ids, vocab_ranges=RANGES, chunk_size=8)
        return out.ce.sum()

    grads = eqx.filter_grad(loss)(model).embedding
    assert np.all(np.isfinite(grads))
    # Rows outside every target range get gradient only through the inputs that use them.
    used = set(np.asarray(tokens).ravel().tolist())
    outside = [row for row in range(CONFIG.vocab_size)
               if not any(lo <= row < lo + n for lo, n in RANGES) and row not in used]
    assert outside  # the check below is not vacuous
    assert all(np.all(grads[row] == 0) for row in outside)
    assert np.any(grads[RANGES[1][0] : RANGES[1][0] + 5] != 0)  # rows of a target range do learn


def test_range_ids_without_ranges_and_targets_without_a_range_are_refused(model):
    tokens, range_ids = _ranged_window(0, 4, 0)
    seg, pos, pre, lm = _single(4)
    with pytest.raises(Exception, match="range_ids and vocab_ranges together"):
        token_losses(model, tokens, segment_ids=seg, positions=pos, prefix_mask=pre, loss_mask=lm, range_ids=range_ids)
    with pytest.raises(Exception, match="a target token has no vocabulary range"):
        _range_losses(model, tokens, seg, pos, pre, lm, range_ids.at[6].set(-1), 4)


def test_z_loss_is_zero_when_logsumexp_is_zero():
    # One-token vocabulary and a zero final-norm scale: the only logit is 0, so log Z = 0.
    config = CONFIG.replace(vocab_size=1)
    model = PrefixLM(config, key=jax.random.key(1))
    zeroed = eqx.tree_at(lambda m: m.final_norm.scale, model, jnp.zeros(config.d_model))
    tokens = jnp.zeros(SEQ, jnp.int32)
    seg, pos, pre, loss_mask = _single(3)
    out = _losses(zeroed, tokens, seg, pos, pre, loss_mask)
    assert np.all(np.asarray(out.z) == 0) and np.all(np.asarray(out.ce) == 0)
    nonzero = _losses(model, tokens, seg, pos, pre, loss_mask)
    assert np.all(np.asarray(nonzero.z)[3:] > 0)


def test_tied_embedding_gets_gradient_from_both_uses(model):
    tokens = _tokens(6)
    seg, pos, pre, loss_mask = _single(5)

    def loss(embed_in, embed_out):
        m_in = eqx.tree_at(lambda m: m.embedding, model, embed_in)
        hidden = m_in.hidden_states(tokens, segment_ids=seg, positions=pos, prefix_mask=pre)
        logits = eqx.tree_at(lambda m: m.embedding, model, embed_out).logits(hidden)
        lse = jax.nn.logsumexp(logits[:-1], axis=-1)
        ce = lse - jnp.take_along_axis(logits[:-1], tokens[1:, None], axis=-1)[:, 0]
        return jnp.sum(jnp.where(loss_mask[1:], ce, 0.0))

    @jax.jit
    def grads(e):
        return jax.grad(loss, argnums=(0, 1))(e, e), jax.grad(lambda x: loss(x, x))(e)

    (g_in, g_out), g_tied = grads(model.embedding)
    assert float(jnp.abs(g_in).max()) > 0 and float(jnp.abs(g_out).max()) > 0
    np.testing.assert_allclose(g_tied, g_in + g_out, atol=1e-5)
    # The model has no separate output matrix: its only vocab-sized array is the embedding.
    vocab_leaves = [x for x in jax.tree.leaves(model) if x.shape[0] == CONFIG.vocab_size]
    assert len(vocab_leaves) == 1


def test_range_logits_are_a_slice_of_full_logits(model):
    hidden = jax.random.normal(jax.random.key(7), (3, CONFIG.d_model))
    full = np.asarray(model.logits(hidden))
    range_20 = eqx.filter_jit(lambda m, h, start: m.range_logits(h, start, 20))
    part = np.asarray(range_20(model, hidden, jnp.int32(40)))  # traced start
    np.testing.assert_allclose(part, full[:, 40:60], atol=1e-5)
    with pytest.raises(VocabError, match="outside"):
        model.range_logits(hidden, 90, 20)
    with pytest.raises(eqx.EquinoxRuntimeError, match="outside"):
        range_20(model, hidden, jnp.int32(90)).block_until_ready()  # traced start, same compile


def test_grow_vocab_keeps_old_rows_and_inits_new(model):
    grown = grow_vocab(model, 150, key=jax.random.key(9))
    assert grown.config.vocab_size == 150 and grown.embedding.shape == (150, CONFIG.d_model)
    np.testing.assert_array_equal(grown.embedding[: CONFIG.vocab_size], model.embedding)
    new = np.asarray(grown.embedding[CONFIG.vocab_size :])
    assert 0.7 < new.std() < 1.3 and abs(new.mean()) < 0.2  # N(0, 1) like the originals
    # Old ids give the same logits over the old range.
    seg, pos, pre, _ = _single(4)
    tokens = _tokens(8)
    np.testing.assert_allclose(
        np.asarray(_forward(grown, tokens, seg, pos, pre))[:, : CONFIG.vocab_size],
        np.asarray(_forward(model, tokens, seg, pos, pre)),
        atol=1e-5,
    )
    with pytest.raises(VocabError, match="smaller"):
        grow_vocab(model, 10, key=jax.random.key(0))


def test_sequential_gqa_block_variant_is_causal():
    config = CONFIG.replace(parallel_block=False, n_kv_heads=2)
    model = PrefixLM(config, key=jax.random.key(2))
    assert model.blocks.norm_mlp is not None
    tokens = _tokens(11)
    seg, pos, pre, _ = _single(5)
    a = np.asarray(_forward(model, tokens, seg, pos, pre))
    b = np.asarray(_forward(model, tokens.at[9].set((tokens[9] + 1) % 97), seg, pos, pre))
    np.testing.assert_array_equal(a[:9], b[:9])
    assert not np.array_equal(a[9], b[9])


def test_save_and_load_roundtrip(model, tmp_path):
    save_prefix_lm(tmp_path / "lm", model)
    loaded = load_prefix_lm(tmp_path / "lm")
    assert loaded.config == model.config
    for a, b in zip(jax.tree.leaves(model), jax.tree.leaves(loaded)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(CheckpointError, match="missing"):
        load_prefix_lm(tmp_path / "nothing")


def test_token_outside_the_vocabulary_is_a_runtime_error(model):
    seg, pos, pre, _ = _single(4)
    tokens = _tokens(12).at[5].set(CONFIG.vocab_size)
    with pytest.raises(eqx.EquinoxRuntimeError, match="outside the model's vocabulary"):
        _forward(model, tokens, seg, pos, pre).block_until_ready()
