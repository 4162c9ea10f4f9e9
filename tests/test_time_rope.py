"""Time-aligned rotary positions: token times, the two-axis rotation, and its path through
packing, the training loss, scoring and cached decoding (issue 20)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework import TIME_STEPS, State, token_times
from archon_framework._errors import ConfigError
from archon_framework.data import LMExample, pack_examples
from archon_framework.model import (
    PrefixLM,
    PrefixLMConfig,
    Sampling,
    apply_rope,
    decode_step,
    generate_tokens,
    generate_tokens_uncached,
    prefill,
    rope_positions,
)
from archon_framework.train._step import batch_losses

CONFIG = PrefixLMConfig(vocab_size=97, d_model=32, n_layers=2, n_heads=4, d_ff=64, max_seq_len=64, time_pairs=2)
P, N = 7, 6


@pytest.fixture(scope="module")
def model() -> PrefixLM:
    return PrefixLM(CONFIG, key=jax.random.key(0))


# ------------------------------------------------------------------ token times
@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 500), state=st.sampled_from([State.CURRENT, State.PAST]))
def test_token_times_spread_a_window_in_order(n, state):
    t = token_times(n, state)
    assert t.shape == (n,) and t.dtype == np.int32
    lo = -TIME_STEPS if state is State.PAST else 0
    assert np.all((t >= lo) & (t < lo + TIME_STEPS))
    assert np.all(np.diff(t) >= 0)
    if n:
        assert t[0] == lo


@settings(max_examples=60, deadline=None)
@given(f1=st.integers(1, 40), f2=st.integers(1, 40), l1=st.integers(1, 8), l2=st.integers(1, 8), k=st.integers(0, 39))
def test_frames_of_one_instant_share_a_time(f1, f2, l1, l2, k):
    """Frame-ordered payloads of two rates (f frames x l levels): frames that start at the same
    fraction of the window start at the same time, whatever their token rates."""
    a, b = token_times(f1 * l1, State.CURRENT), token_times(f2 * l2, State.CURRENT)
    g = np.gcd(f1, f2)
    step1, step2 = f1 // g, f2 // g  # frame k*step1 of a and k*step2 of b share an instant
    if k < g:
        assert a[k * step1 * l1] == b[k * step2 * l2]


def test_untimed_tokens_sit_at_zero():
    assert not token_times(9, State.STATIC).any()
    assert not token_times(9, None).any()


# ------------------------------------------------------------------ the rotation
@settings(max_examples=30, deadline=None)
@given(pos=st.lists(st.integers(-300, 300), min_size=12, max_size=12), seed=st.integers(0, 99))
def test_one_axis_model_reads_only_the_place(pos, seed):
    x = jax.random.normal(jax.random.key(seed), (len(pos), 2, 8))
    place = jnp.asarray(pos)
    times = jnp.asarray(pos[::-1])
    np.testing.assert_array_equal(apply_rope(x, place, 1e4), apply_rope(x, jnp.stack([place, times], -1), 1e4))


@settings(max_examples=30, deadline=None)
@given(shift=st.integers(-200, 200), tshift=st.integers(-200, 200), seed=st.integers(0, 99))
def test_scores_depend_on_relative_place_and_time_only(shift, tshift, seed):
    """RoPE on both axes: moving every token by the same place and time leaves q.k unchanged."""
    kq, kk = jax.random.split(jax.random.key(seed))
    q, k = jax.random.normal(kq, (5, 1, 16)), jax.random.normal(kk, (5, 1, 16))
    pos = jnp.stack([jnp.arange(5), jnp.asarray([0, 3, 3, 7, 50])], -1)
    moved = pos + jnp.asarray([shift, tshift])

    def scores(p):
        return jnp.einsum("qhd,khd->qk", apply_rope(q, p, 1e4, 3), apply_rope(k, p, 1e4, 3))

    np.testing.assert_allclose(scores(pos), scores(moved), atol=2e-3)


def test_a_timed_model_refuses_positions_without_time():
    with pytest.raises(ValueError, match="positions \\[seq, 2\\]"):
        apply_rope(jnp.ones((3, 1, 8)), jnp.arange(3), 1e4, 1)


@pytest.mark.parametrize("pairs", [-1, 4, 9])
def test_time_pairs_out_of_range_is_a_config_error(pairs):
    with pytest.raises(ConfigError, match="time_pairs"):
        PrefixLMConfig(vocab_size=97, d_model=32, n_layers=1, n_heads=4, d_ff=64, time_pairs=pairs)


# ------------------------------------------------------------------ the model
def _places(times):
    return rope_positions(jnp.arange(times.shape[0]), times)


def test_times_change_a_timed_models_logits(model):
    tokens = jax.random.randint(jax.random.key(1), (P + N,), 0, 97)
    kw = dict(segment_ids=jnp.ones(P + N, jnp.int32), prefix_mask=jnp.arange(P + N) < P)
    a = model(tokens, positions=_places(jnp.zeros(P + N, jnp.int32)), **kw)
    b = model(tokens, positions=_places(jnp.arange(P + N) * 7), **kw)
    assert not np.allclose(a, b, atol=1e-4)


def test_targets_stay_causal_with_times(model):
    """Changing target token j leaves every logit before j unchanged, whatever the times."""
    tokens = jax.random.randint(jax.random.key(2), (P + N,), 0, 97)
    times = jnp.asarray(token_times(P + N, State.CURRENT))
    kw = dict(segment_ids=jnp.ones(P + N, jnp.int32), positions=_places(times), prefix_mask=jnp.arange(P + N) < P)
    j = P + 3
    a = model(tokens, **kw)
    b = model(tokens.at[j].set((tokens[j] + 1) % 97), **kw)
    np.testing.assert_allclose(a[:j], b[:j], atol=1e-5)
    assert not np.allclose(a[j:], b[j:], atol=1e-5)


@eqx.filter_jit
def _cached_logits(model, tokens, times):
    cache, h = prefill(model, tokens[:P], P, P + N, times[:P])

    def step(cache, s):
        return decode_step(model, cache, tokens[P + s], P + s, times[P + s])

    _, hs = jax.lax.scan(step, cache, jnp.arange(N - 1))
    return model.logits(jnp.concatenate([h[None], hs]))


def test_kv_cache_with_times_equals_the_full_forward(model):
    tokens = jax.random.randint(jax.random.key(3), (P + N,), 0, 97)
    times = jnp.asarray(np.r_[token_times(P, State.PAST), token_times(N, State.CURRENT)])
    full = model(tokens, segment_ids=jnp.ones(P + N, jnp.int32), positions=_places(times),
                 prefix_mask=jnp.arange(P + N) < P)[P - 1: P + N - 1]
    np.testing.assert_allclose(_cached_logits(model, tokens, times), full, atol=1e-5)


def test_generation_with_times_cached_and_uncached_agree(model):
    prompt = jax.random.randint(jax.random.key(4), (P,), 0, 97)
    kw = dict(num_tokens=N, key=jax.random.key(5), sampling=Sampling(temperature=3.0), vocab_start=40, vocab_size=30,
              prefix_times=jnp.asarray(token_times(P, State.CURRENT)), target_times=jnp.asarray(token_times(N, State.CURRENT)))
    cached = generate_tokens(model, prompt, **kw)
    np.testing.assert_array_equal(cached, generate_tokens_uncached(model, prompt, **kw))
    untimed = generate_tokens(model, prompt, **{**kw, "prefix_times": None, "target_times": None})
    assert cached.shape == untimed.shape == (N,)


# ------------------------------------------------------------------ packing and the loss
def test_packing_carries_times_and_pads_with_zero():
    a = LMExample(global_ids=np.arange(5), prefix_len=2, times=[0, 0, 10, 20, 30])
    b = LMExample(global_ids=np.arange(3), prefix_len=1)
    w = next(iter(pack_examples(iter_dataset([a, b]), seq_len=10, num_packing_bins=1)))
    np.testing.assert_array_equal(w["times"][:, 0], [0, 0, 10, 20, 30, 0, 0, 0, 0, 0])
    assert w["times"].shape == (10, 3) and not w["times"][:, 1:].any()  # no row or column given


def iter_dataset(examples):
    import grain

    return grain.MapDataset.source(examples).to_iter_dataset()


def test_mismatched_times_are_refused():
    with pytest.raises(Exception, match="times has 2 entries for 3 tokens"):
        LMExample(global_ids=np.arange(3), prefix_len=1, times=[0, 1])


def test_the_training_loss_reads_the_times(model):
    tokens = jax.random.randint(jax.random.key(6), (1, P + N), 0, 97)
    batch = {"tokens": tokens, "segment_ids": jnp.ones((1, P + N), jnp.int32), "positions": jnp.arange(P + N)[None],
             "prefix_mask": (jnp.arange(P + N) < P)[None], "loss_mask": (jnp.arange(P + N) >= P)[None],
             "modality_ids": jnp.full((1, P + N), -1), "times": jnp.zeros((1, P + N), jnp.int32)}
    flat = batch_losses(model, batch)
    timed = batch_losses(model, {**batch, "times": jnp.asarray(token_times(P + N, State.CURRENT))[None]})
    assert not np.allclose(np.asarray(flat[0]), np.asarray(timed[0]), atol=1e-5)


# ------------------------------------------------------------------ the chain-step decoder and scorer
def test_chain_step_decoding_and_scoring_use_the_times(model):
    """`decode_fixed` (bucketed, padded) and `score_target` give what the full forward over the
    same places and times gives: greedy ids are its range argmaxes, the score its NLL."""
    from archon_framework._codec import StepRanges
    from archon_framework.infer._lm_steps import decode_fixed, score_target

    prompt = np.asarray(jax.random.randint(jax.random.key(7), (P,), 0, 97), np.int32)
    times = np.r_[token_times(P, State.PAST), token_times(N, State.CURRENT)].astype(np.int32)
    ranges = StepRanges(np.full(N, 40, np.int32), 30)
    ids = decode_fixed(model, prompt, ranges, jax.random.key(0), Sampling(greedy=True),
                       times=(times[:P], times[P:], None))
    tokens = np.r_[prompt, ids].astype(np.int32)
    logits = np.asarray(model(jnp.asarray(tokens), segment_ids=jnp.ones(P + N, jnp.int32),
                              positions=_places(jnp.asarray(times)), prefix_mask=jnp.arange(P + N) < P))
    block = logits[P - 1: P + N - 1, 40:70]
    np.testing.assert_array_equal(ids, 40 + block.argmax(-1))
    nll = float(np.sum(jax.nn.logsumexp(block, -1) - block[np.arange(N), ids - 40]))
    total, count = score_target(model, tokens, P, ranges, times)
    assert count == N and abs(total - nll) < 1e-3
    assert abs(score_target(model, tokens, P, ranges, None)[0] - nll) > 1e-3  # the times were read


def test_short_times_are_refused_not_read_clamped(model):
    prompt = jnp.arange(P) % 97
    with pytest.raises(ConfigError, match="target_times must be .* one entry per generated position"):
        generate_tokens(model, prompt, num_tokens=N, key=jax.random.key(0), target_times=jnp.zeros(N - 1, jnp.int32))
    with pytest.raises(ConfigError, match="prefix_times"):
        generate_tokens(model, prompt, num_tokens=N, key=jax.random.key(0), prefix_times=jnp.zeros(P - 2, jnp.int32))
