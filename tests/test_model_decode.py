"""Tests of KV-cache decoding and generation against the full forward pass."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from archon_framework._errors import ConfigError, VocabError
from archon_framework.model import (
    PrefixLM,
    PrefixLMConfig,
    Sampling,
    decode_step,
    generate,
    generate_uncached,
    generate_until,
    prefill,
    sample_token,
)

CONFIG = PrefixLMConfig(
    vocab_size=97, d_model=32, n_layers=2, n_heads=4, n_kv_heads=1, d_ff=64, max_seq_len=64
)
P, N = 7, 6


@pytest.fixture(scope="module")
def model() -> PrefixLM:
    return PrefixLM(CONFIG, key=jax.random.key(0))


def _prompt(seed: int = 1, n: int = P):
    return jax.random.randint(jax.random.key(seed), (n,), 0, CONFIG.vocab_size)


@eqx.filter_jit
def _cached_logits(model, tokens):
    """Prefill P tokens, then feed the targets one by one; logits predicting each target."""
    cache, h = prefill(model, tokens[:P], P, P + N)

    def step(cache, s):
        cache, h = decode_step(model, cache, tokens[P + s], P + s)
        return cache, h

    _, hs = jax.lax.scan(step, cache, jnp.arange(N - 1))
    return model.logits(jnp.concatenate([h[None], hs]))


@eqx.filter_jit
def _full_logits(model, tokens):
    idx = jnp.arange(P + N)
    return model(tokens, segment_ids=jnp.ones(P + N, jnp.int32), positions=idx, prefix_mask=idx < P)


@pytest.mark.parametrize("variant", ["parallel_mqa", "sequential_gqa"])
def test_kv_cache_logits_equal_full_forward(model, variant):
    if variant == "sequential_gqa":
        model = PrefixLM(CONFIG.replace(parallel_block=False, n_kv_heads=2), key=jax.random.key(1))
    tokens = _prompt(2, P + N)
    cached = np.asarray(_cached_logits(model, tokens))
    full = np.asarray(_full_logits(model, tokens))[P - 1 : P + N - 1]
    np.testing.assert_allclose(cached, full, atol=1e-5, rtol=0)


GREEDY = Sampling(greedy=True)
# Traced range start, so every call with these settings shares one compilation.
SAMPLED = dict(
    sampling=Sampling(temperature=8.0, top_k=20, top_p=0.95), vocab_start=jnp.int32(40), vocab_size=30
)
_gen = eqx.filter_jit(generate)
_gen_uncached = eqx.filter_jit(generate_uncached)


def test_greedy_generation_with_and_without_cache_agree(model):
    kwargs = dict(num_tokens=N, key=jax.random.key(0), sampling=GREEDY)
    cached = _gen(model, _prompt(), **kwargs)
    uncached = _gen_uncached(model, _prompt(), **kwargs)
    np.testing.assert_array_equal(cached, uncached)


def test_sampled_range_generation_agrees_and_stays_in_range(model):
    kwargs = dict(num_tokens=N, **SAMPLED)
    draws = [np.asarray(_gen(model, _prompt(), key=jax.random.key(s), **kwargs)) for s in range(3)]
    for s, cached in enumerate(draws):
        uncached = _gen_uncached(model, _prompt(), key=jax.random.key(s), **kwargs)
        np.testing.assert_array_equal(cached, uncached)
        assert cached.dtype == np.int32 and cached.min() >= 40 and cached.max() < 70  # global ids
    assert len({tuple(d) for d in draws}) > 1  # seeds matter
    np.testing.assert_array_equal(_gen(model, _prompt(), key=jax.random.key(0), **kwargs), draws[0])


def test_batched_generation_with_padded_prompts(model):
    lengths = [P, 4]
    prompts = [_prompt(3, n) for n in lengths]
    buffer = jnp.stack([jnp.pad(p, (0, P - p.shape[0]), constant_values=5) for p in prompts])
    greedy = GREEDY
    batched = eqx.filter_jit(
        jax.vmap(
            lambda toks, n: generate(
                model, toks, num_tokens=N, key=jax.random.key(0), sampling=greedy, prefix_len=n
            )
        )
    )(buffer, jnp.array(lengths))
    for row, prompt in zip(np.asarray(batched), prompts):
        alone = _gen_uncached(model, prompt, num_tokens=N, key=jax.random.key(0), sampling=greedy)
        np.testing.assert_array_equal(row, alone)


def test_generate_until_stops_at_eos(model):
    kwargs = dict(key=jax.random.key(4), **SAMPLED)
    full = np.asarray(_gen(model, _prompt(), num_tokens=N, **kwargs))
    until = eqx.filter_jit(generate_until)
    eos = int(full[2])
    first = int(np.argmax(full == eos))  # eos may occur before index 2
    out = until(model, _prompt(), max_tokens=N, eos_id=jnp.int32(eos), **kwargs)
    ids, valid = np.asarray(out.global_ids), np.asarray(out.valid)
    np.testing.assert_array_equal(ids[: first + 1], full[: first + 1])
    assert np.all(ids[first:] == eos)
    np.testing.assert_array_equal(valid, np.arange(N) < first)
    assert int(out.length) == first
    # An eos that never comes: the whole budget, all valid.
    never = next(i for i in range(40, 70) if i not in full)
    out = until(model, _prompt(), max_tokens=N, eos_id=jnp.int32(never), **kwargs)
    np.testing.assert_array_equal(out.global_ids, full)
    assert bool(out.valid.all()) and int(out.length) == N


def test_sample_token_respects_top_k_and_top_p():
    logits = jnp.log(jnp.array([0.5, 0.3, 0.15, 0.05]))
    keys = jax.random.split(jax.random.key(0), 400)
    draw = jax.jit(jax.vmap(lambda k, s: sample_token(logits, k, s), in_axes=(0, None)), static_argnums=1)
    assert set(np.asarray(draw(keys, Sampling(top_k=2)))) == {0, 1}
    assert set(np.asarray(draw(keys, Sampling(top_p=0.45)))) == {0}
    assert set(np.asarray(draw(keys, Sampling()))) == {0, 1, 2, 3}
    assert int(sample_token(logits, keys[0], Sampling(greedy=True))) == 0


def test_bad_generation_requests_are_refused(model):
    with pytest.raises(ConfigError, match="max_seq_len"):
        generate(model, _prompt(), num_tokens=100, key=jax.random.key(0))
    with pytest.raises(VocabError, match="outside"):
        generate(model, _prompt(), num_tokens=2, key=jax.random.key(0), vocab_start=90, vocab_size=10)
    with pytest.raises(VocabError, match="eos_id"):
        generate_until(
            model, _prompt(), max_tokens=2, eos_id=3, key=jax.random.key(0), vocab_start=10, vocab_size=5
        )
