"""Factorized ranges (MAGVIT-v2's LM head): an image code id ``a |B| + b`` as two factors.

Known answers: the factorized log-probabilities normalise over the range; the grouped and the
fused heads give the dense reference's loss and gradient (the joint logits ``l_A[a] + l_B[b]``
written out over the whole vocabulary); generation draws ids of the range only, from the joint
distribution, and the KV cache gives the tokens of a full recompute; a model without factorized
ranges keeps its parameters as before.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework import Vocabulary, VocabLayout
from archon_framework._errors import ConfigError, VocabError
from archon_framework.model import (
    FactorizedRange,
    PrefixLM,
    PrefixLMConfig,
    Sampling,
    generate_tokens,
    generate_tokens_uncached,
    grow_vocab,
    load_model_config,
    load_prefix_lm,
    sample_factorized,
    save_prefix_lm,
    target_loss,
    token_losses,
)
from archon_framework.model._head import RangeHead, fused_range_loss, grouped_range_head

IMAGE = FactorizedRange(vocabulary="image", start=30, size=24, factor=4)  # ids 30..53, 4 x 6 factors
RANGES = ((0, 30), (30, 24), (54, 10))  # text, image (factorized), another exact range after it
CONFIG = PrefixLMConfig(vocab_size=64, d_model=16, n_layers=2, n_heads=2, d_ff=32, max_seq_len=64,
                        factorized=(IMAGE,))
ROWS, SEQ, CHUNK = 2, 20, 8


@pytest.fixture(scope="module")
def model() -> PrefixLM:
    return PrefixLM(CONFIG, key=jax.random.key(5))


# ---------------------------------------------------------------------- the parameters
def test_factorized_range_has_two_tables_and_no_rows(model):
    assert model.embedding.shape == (64 - 24, 16)
    (a_rows, b_rows), = model.factor_embeddings
    assert a_rows.shape == (4, 16) and b_rows.shape == (6, 16)
    ids = jnp.arange(64)
    x = model.embed(ids)
    local = np.arange(24)
    np.testing.assert_allclose(x[30:54], a_rows[local // 6] + b_rows[local % 6], rtol=1e-6)
    np.testing.assert_array_equal(x[:30], model.embedding[:30])
    np.testing.assert_array_equal(x[54:], model.embedding[30:])  # ids after the range keep their order


def test_model_without_factorized_ranges_keeps_its_parameters():
    plain = PrefixLMConfig(vocab_size=64, d_model=16, n_layers=2, n_heads=2, d_ff=32, max_seq_len=64)
    m = PrefixLM(plain, key=jax.random.key(5))
    assert m.factor_embeddings == () and m.embedding.shape == (64, 16)
    assert len(jax.tree.leaves(m)) == 1 + len(jax.tree.leaves(m.blocks)) + len(jax.tree.leaves(m.final_norm))


def test_save_load_and_grow(tmp_path, model):
    save_prefix_lm(tmp_path, model)
    loaded = load_prefix_lm(tmp_path)
    assert loaded.config == CONFIG
    for a, b in zip(jax.tree.leaves(model), jax.tree.leaves(loaded)):
        np.testing.assert_array_equal(a, b)
    grown = grow_vocab(model, 70, key=jax.random.key(1))
    assert grown.vocab_size == 70 and grown.embedding.shape == (46, 16)
    np.testing.assert_array_equal(grown.embed(jnp.arange(64)), model.embed(jnp.arange(64)))


# ---------------------------------------------------------------------- the head normalises
@settings(max_examples=3, deadline=None)
@given(factor=st.sampled_from([2, 3, 8]), second=st.sampled_from([2, 5, 16]), seed=st.integers(0, 2**16),
       chunk=st.sampled_from([8, 32]))
def test_factorized_log_probs_sum_to_one(factor, second, seed, chunk):
    """Every id of the range as a target of the same hidden state: sum_i exp(-ce_i) = 1, from
    both the grouped and the fused head, equal to the joint log-softmax."""
    size, d = factor * second, 8
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    a_rows = jax.random.normal(k1, (factor, d))
    b_rows = jax.random.normal(k2, (second, d))
    hidden = jnp.broadcast_to(jax.random.normal(k3, (d,)) * 3.0, (size, d))
    start = 7
    targets = start + jnp.arange(size, dtype=jnp.int32)
    range_ids = jnp.zeros((size,), jnp.int32)
    lse, picked = grouped_range_head(hidden, targets, range_ids, ((a_rows, b_rows),), ((start, size),), chunk)
    log_p = picked - lse
    np.testing.assert_allclose(jnp.sum(jnp.exp(log_p)), 1.0, rtol=1e-5)
    la, lb = (hidden[0] @ r.T * d**-0.5 for r in (a_rows, b_rows))
    joint = jax.nn.log_softmax((la[:, None] + lb[None, :]).ravel())
    np.testing.assert_allclose(log_p, joint, atol=2e-5)
    _, lse_f, picked_f = fused_range_loss(hidden, targets, range_ids, jnp.ones((size,)), jnp.zeros((1, d)),
                                          (RangeHead(start, size, factor=0),), chunk, 0.0, ((a_rows, b_rows),))
    np.testing.assert_allclose(picked_f - lse_f, log_p, atol=2e-5)


# ---------------------------------------------------------------------- training loss
def _window(seed: int):
    rng = np.random.default_rng(seed)
    idx = np.arange(SEQ)
    seg = np.where(idx < 11, 1, 2)[None].repeat(ROWS, 0)
    pos = np.where(idx < 11, idx, idx - 11)[None].repeat(ROWS, 0)
    pre = ((idx < 3) | ((idx >= 11) & (idx < 14)))[None].repeat(ROWS, 0)
    loss_mask = ~pre
    range_ids = rng.choice([0, 1, 1, 2], (ROWS, SEQ))  # image targets most often
    starts, sizes = np.asarray(RANGES).T
    tokens = starts[range_ids] + rng.integers(0, 1 << 20, (ROWS, SEQ)) % sizes[range_ids]
    feats = dict(segment_ids=jnp.asarray(seg), positions=jnp.asarray(pos), prefix_mask=jnp.asarray(pre),
                 loss_mask=jnp.asarray(loss_mask))
    return jnp.asarray(tokens, jnp.int32), jnp.asarray(np.where(loss_mask, range_ids, -1), jnp.int32), feats


def _reference(model, tokens, range_ids, feats):
    """Mean CE + z-loss over targets from the dense logits (joint logits over the image range)."""
    logits = jax.vmap(lambda t, s, p, m: model(t, segment_ids=s, positions=p, prefix_mask=m))(
        tokens, feats["segment_ids"], feats["positions"], feats["prefix_mask"])[:, :-1]
    ids = jnp.arange(CONFIG.vocab_size)
    inside = jnp.stack([(ids >= a) & (ids < a + k) for a, k in RANGES])[jnp.maximum(range_ids[:, 1:], 0)]
    lse = jax.nn.logsumexp(jnp.where(inside, logits, -jnp.inf), axis=-1)
    picked = jnp.take_along_axis(logits, tokens[:, 1:, None], axis=-1)[..., 0]
    seg = feats["segment_ids"]
    mask = feats["loss_mask"][:, 1:] & (seg[:, 1:] == seg[:, :-1])
    per = jnp.where(mask, lse - picked + CONFIG.z_loss * lse**2, 0.0)
    return per.sum() / mask.sum().astype(per.dtype), jnp.where(mask, lse - picked, 0.0)


@pytest.fixture(scope="module")
def reference(model):
    """A window, and its dense reference loss, per-token CE and gradient (one compilation)."""
    tokens, range_ids, feats = _window(0)
    (ref, ref_ce), ref_grad = eqx.filter_jit(eqx.filter_value_and_grad(
        lambda m: _reference(m, tokens, range_ids, feats), has_aux=True))(model)
    return tokens, range_ids, feats, ref, ref_ce, ref_grad


def test_training_loss_and_gradient_equal_the_dense_reference(model, reference):
    tokens, range_ids, feats, ref, ref_ce, ref_grad = reference
    kw = dict(range_ids=range_ids, vocab_ranges=RANGES, chunk_size=CHUNK, **feats)

    def fused(m):
        loss, losses = target_loss(m, tokens, **kw)
        return loss, losses.ce

    def grouped(m):
        t = token_losses(m, tokens, **kw)
        return jnp.sum(t.ce + t.z) / t.mask.sum().astype(t.ce.dtype), t.ce

    for fn in (fused, grouped):
        (value, ce), grad = eqx.filter_jit(eqx.filter_value_and_grad(fn, has_aux=True))(model)
        np.testing.assert_allclose(value, ref, rtol=1e-5)
        np.testing.assert_allclose(ce[:, 1:], ref_ce, atol=1e-5)  # the per-token CE the trainer sums per modality
        for g, r in zip(jax.tree.leaves(grad), jax.tree.leaves(ref_grad)):
            np.testing.assert_allclose(g, r, atol=2e-6, rtol=1e-4)


def test_train_step_reports_the_image_modality_cross_entropy(model, reference):
    """The trainer's step on a factorized model: its per-modality CE (image included) is the
    dense reference's, and the step updates the factor tables."""
    from archon_framework.train import DataConfig, TrainConfig, make_optimizer, make_schedule, make_train_step

    tokens, range_ids, feats, _, ref_ce, _ = reference
    config = TrainConfig(out_dir="", steps=10, data=DataConfig(seq_len=SEQ, batch_size=ROWS))
    step = make_train_step(config, n_tasks=1, n_modalities=len(RANGES), modality_ranges=RANGES)
    batch = {"tokens": tokens, "modality_ids": range_ids, "task_ids": jnp.zeros_like(tokens), **feats}
    optimizer = make_optimizer(config)
    opt_state = optimizer.init(eqx.filter(model, eqx.is_array))
    schedule = make_schedule(config)
    new, opt_state, _, stats = step(batch, jax.tree.map(jnp.copy, model), opt_state, schedule(0))
    for m in range(len(RANGES)):
        is_m = range_ids[:, 1:] == m
        np.testing.assert_allclose(stats["mod_ce"][m], jnp.sum(jnp.where(is_m, ref_ce, 0.0)), rtol=1e-4)
        assert int(stats["mod_n"][m]) == int(jnp.sum(is_m & (ref_ce != 0)))
    new, *_ = step(batch, new, opt_state, schedule(1))  # the warm-up's first learning rate is 0; the second is not
    assert not np.allclose(new.factor_embeddings[0][0], model.factor_embeddings[0][0])


def test_losses_refuse_ranges_that_cut_the_factorized_one(model):
    tokens, range_ids, feats = _window(1)
    with pytest.raises(VocabError, match="factorized range 'image'"):
        target_loss(model, tokens, range_ids=range_ids, vocab_ranges=((0, 30), (30, 12), (54, 10)), **feats)
    with pytest.raises(ConfigError, match="range losses"):
        target_loss(model, tokens, **feats)


# ---------------------------------------------------------------------- sampling and decoding
def test_factorized_sampling_draws_the_joint_distribution():
    la = jnp.asarray([0.5, -1.0, 2.0])
    lb = jnp.asarray([0.0, 1.0, -0.5, 0.3])
    joint = np.asarray(jax.nn.softmax((la[:, None] + lb[None, :]).ravel()))
    keys = jax.random.split(jax.random.key(0), 20_000)
    draws = np.asarray(jax.vmap(lambda k: sample_factorized(la, lb, k, Sampling()))(keys))
    assert draws.min() >= 0 and draws.max() < 12
    freq = np.bincount(draws, minlength=12) / draws.size
    assert 0.5 * np.abs(freq - joint).sum() < 0.02  # total variation (sampling noise ~0.01)
    assert int(sample_factorized(la, lb, keys[0], Sampling(greedy=True))) == int(np.argmax(joint))


def test_decoding_with_cache_equals_recompute_and_stays_in_range(model):
    """Guided nucleus sampling over the factorized range: the KV cache gives the full recompute's
    tokens, and so does the inference path, whose range start is traced (one compilation for
    every range of a width); the same width at a traced exact start reads the exact head."""
    prompt = jnp.asarray([1, 5, 9, 12, 2, 40, 61], jnp.int32)  # an image id in the prompt too
    sampling = Sampling(temperature=0.8, top_p=0.7, guidance=1.5)
    kw = dict(num_tokens=6, key=jax.random.key(2), sampling=sampling, vocab_size=24, uncond_tokens=prompt[:3])
    run = eqx.filter_jit(lambda m, starts: generate_tokens(m, prompt, block_starts=starts, **kw))
    cached = np.asarray(run(model, jnp.full((6,), 30)))
    np.testing.assert_array_equal(cached, np.asarray(generate_tokens_uncached(model, prompt, vocab_start=30, **kw)))
    assert ((cached >= 30) & (cached < 54)).all()
    exact = np.asarray(run(model, jnp.full((6,), 0)))
    np.testing.assert_array_equal(exact, np.asarray(generate_tokens(model, prompt, vocab_start=0, **kw)))
    assert ((exact >= 0) & (exact < 24)).all()


# ---------------------------------------------------------------------- configs
def test_config_errors_and_layout():
    with pytest.raises(ConfigError, match="factor 5"):
        FactorizedRange(vocabulary="image", start=0, size=24, factor=5)
    with pytest.raises(ConfigError, match="overlaps"):
        CONFIG.replace(factorized=(IMAGE, FactorizedRange(vocabulary="x", start=50, size=8, factor=2)))
    with pytest.raises(ConfigError, match="leaves the vocabulary"):
        CONFIG.replace(vocab_size=40)
    layout = VocabLayout.allocate([Vocabulary("text", 30), Vocabulary("audio", 10), Vocabulary("image", 24)])
    placed = CONFIG.for_layout(layout)
    assert placed.vocab_size == 64 and placed.factorized[0].start == layout.range("image").start == 40
    with pytest.raises(ConfigError, match="'image' has 24 ids"):
        CONFIG.for_layout(VocabLayout.allocate([Vocabulary("text", 30), Vocabulary("image", 16)]))
    with pytest.raises(ConfigError, match="not a vocabulary of the layout"):
        CONFIG.for_layout(VocabLayout.allocate([Vocabulary("text", 30)]))


def test_paper_config_factorizes_the_image_range():
    paper = load_model_config("paper_1b")
    (image,) = paper.factorized
    assert (image.vocabulary, image.start, image.size, image.factor, image.second) == ("image", 256_128, 2**18, 512, 512)
    assert paper.embedding_rows == paper.vocab_size - 2**18
    for name in ("tiny", "small"):
        assert load_model_config(name).factorized == ()
