"""Tests of KV-cache decoding and generation against the full forward pass."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework._errors import ConfigError, VocabError
from archon_framework.model import (
    PrefixLM,
    PrefixLMConfig,
    Sampling,
    decode_step,
    generate_tokens,
    generate_tokens_uncached,
    generate_tokens_until,
    prefill,
    sample_token,
    sample_token_exact,
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
_gen = eqx.filter_jit(generate_tokens)
_gen_uncached = eqx.filter_jit(generate_tokens_uncached)


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
            lambda toks, n: generate_tokens(
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
    until = eqx.filter_jit(generate_tokens_until)
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
        generate_tokens(model, _prompt(), num_tokens=100, key=jax.random.key(0))
    with pytest.raises(VocabError, match="outside"):
        generate_tokens(model, _prompt(), num_tokens=2, key=jax.random.key(0), vocab_start=90, vocab_size=10)
    with pytest.raises(VocabError, match="eos_id"):
        generate_tokens_until(
            model, _prompt(), max_tokens=2, eos_id=3, key=jax.random.key(0), vocab_start=10, vocab_size=5
        )


# ---------------------------------------------------------------------- prefiltered top-k / top-p
# Four settings (static under jit): top-p whose nucleus may or may not lie in the 4 prefiltered
# candidates (the latter takes the full-sort fallback), top-k alone, and top-k with top-p.
PREFILTERED = (
    Sampling(top_p=0.5, prefilter=4),
    Sampling(temperature=2.0, top_p=0.9, prefilter=4),
    Sampling(top_k=5),
    Sampling(temperature=0.7, top_k=9, top_p=0.8, prefilter=4),
)
_KEYS = jax.random.split(jax.random.key(7), 64)
_draws = jax.jit(
    lambda logits, s: (
        jax.vmap(lambda k: sample_token(logits, k, PREFILTERED[s]))(_KEYS),
        jax.vmap(lambda k: sample_token_exact(logits, k, PREFILTERED[s]))(_KEYS),
    ),
    static_argnums=1,
)


@settings(max_examples=25, deadline=None)
@given(
    logits=st.lists(st.floats(-6.0, 6.0, width=32), min_size=32, max_size=32),
    which=st.integers(0, len(PREFILTERED) - 1),
)
def test_prefiltered_sampling_equals_the_full_sort(logits, which):
    fast, exact = _draws(jnp.asarray(logits, jnp.float32), which)
    np.testing.assert_array_equal(fast, exact)


def test_top_p_keeps_exactly_the_nucleus():
    # Probabilities 0.4, 0.3, 0.2, 0.1 (+ a negligible tail): top-p 0.65 keeps {0, 1}, not 2.
    probs = np.array([0.4, 0.3, 0.2, 0.1] + [1e-9] * 60)
    logits = jnp.log(jnp.asarray(probs / probs.sum(), jnp.float32))
    keys = jax.random.split(jax.random.key(1), 2000)
    for prefilter in (0, 8):
        draw = jax.jit(jax.vmap(lambda k: sample_token(logits, k, Sampling(top_p=0.65, prefilter=prefilter))))  # noqa: B023
        ids = np.asarray(draw(keys))
        assert set(ids.tolist()) == {0, 1}
        assert abs((ids == 0).mean() - 0.4 / 0.7) < 0.05  # renormalized within the nucleus


# ---------------------------------------------------------------------- length buckets
def test_a_traced_length_gives_the_same_tokens_as_an_exact_count(model):
    bucketed = eqx.filter_jit(lambda m, p, n, k: generate_tokens(m, p, num_tokens=8, key=k, length=n, **SAMPLED))
    for n in (2, 5, 8):
        exact = _gen(model, _prompt(), num_tokens=n, key=jax.random.key(3), **SAMPLED)
        out = np.asarray(bucketed(model, _prompt(), jnp.int32(n), jax.random.key(3)))
        np.testing.assert_array_equal(out[:n], exact)
        assert np.all(out[n:] == -1)


# ---------------------------------------------------------------------- classifier-free guidance
def test_guidance_zero_is_unguided_and_guided_cache_equals_recompute(model):
    uncond = _prompt(5, 3)
    kw = dict(num_tokens=N, key=jax.random.key(2), **SAMPLED)
    zero = _gen(model, _prompt(), uncond_tokens=uncond, **{**kw, "sampling": SAMPLED["sampling"]._replace(guidance=0.0)})
    np.testing.assert_array_equal(zero, _gen(model, _prompt(), **kw))
    kw["sampling"] = SAMPLED["sampling"]._replace(guidance=1.5)
    cached = np.asarray(_gen(model, _prompt(), uncond_tokens=uncond, **kw))
    np.testing.assert_array_equal(cached, _gen_uncached(model, _prompt(), uncond_tokens=uncond, **kw))
    assert cached.min() >= 40 and cached.max() < 70


def test_guided_generation_until_eos_follows_guided_generate(model):
    kw = dict(key=jax.random.key(6), uncond_tokens=_prompt(5, 3), vocab_start=jnp.int32(40), vocab_size=30,
              sampling=SAMPLED["sampling"]._replace(guidance=1.5))
    full = np.asarray(_gen(model, _prompt(), num_tokens=N, **kw))
    eos = int(full[3])
    first = int(np.argmax(full == eos))
    out = eqx.filter_jit(generate_tokens_until)(model, _prompt(), max_tokens=N, eos_id=jnp.int32(eos), **kw)
    np.testing.assert_array_equal(np.asarray(out.global_ids)[: first + 1], full[: first + 1])
    assert int(out.length) == first


def test_guidance_follows_cond_plus_w_times_cond_minus_uncond(model):
    """Greedy guided token 0 is the argmax of c + w (c - u) computed from two full forwards."""
    uncond, w = _prompt(5, 3), 4.0

    def last_logits(tokens):
        n = tokens.shape[0]
        idx = jnp.arange(n)
        h = model.hidden_states(tokens, segment_ids=jnp.ones(n, jnp.int32), positions=idx, prefix_mask=idx < n)
        return np.asarray(model.range_logits(h[-1], 40, 30))

    c, u = last_logits(_prompt()), last_logits(uncond)
    out = _gen(model, _prompt(), num_tokens=1, key=jax.random.key(0), uncond_tokens=uncond,
               sampling=Sampling(greedy=True, guidance=w), vocab_start=jnp.int32(40), vocab_size=30)
    assert int(out[0]) == 40 + int(np.argmax(c + w * (c - u)))


def test_guidance_without_an_unconditional_prompt_is_refused(model):
    with pytest.raises(ConfigError, match="uncond_tokens"):
        generate_tokens(model, _prompt(), num_tokens=2, key=jax.random.key(0), sampling=Sampling(guidance=1.0))
