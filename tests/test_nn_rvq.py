"""Tests of archon_framework.nn residual VQ, k-means and token flattening."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework import VocabError
from archon_framework.nn import (
    RVQState,
    ResidualVQ,
    codes_to_local_ids,
    expected_code_counts,
    kmeans,
    level_mask,
    local_ids_to_codes,
    update_codebooks,
)

LEVELS, CODES, DIM = 4, 16, 3
RVQ = ResidualVQ(num_levels=LEVELS, codebook_size=CODES, dim=DIM, dead_code_threshold=0.0)


@eqx.filter_jit
def quantize(rvq: ResidualVQ, state: RVQState, x: jax.Array, num_active: jax.Array):
    return jax.vmap(lambda xi, n: rvq(state, xi, num_active=n))(x, num_active)


@eqx.filter_jit
def decode(rvq: ResidualVQ, state: RVQState, codes: jax.Array):
    return jax.vmap(lambda c: rvq.decode(state, c))(codes)


@eqx.filter_jit
def update(rvq: ResidualVQ, state: RVQState, residuals, codes, mask, key):
    return rvq.update(state, residuals, codes, mask=mask, key=key)


@jax.jit
def update_with(state: RVQState, residuals, codes, mask, key, decay, eps, threshold):
    """`update_codebooks` with traced hyperparameters: one compilation for every setting."""
    return update_codebooks(
        state, residuals.reshape(-1, LEVELS, DIM), codes.reshape(-1, LEVELS), key=key,
        mask=mask.reshape(-1, LEVELS), decay=decay, eps=eps, dead_code_threshold=threshold,
    )


def _full_mask(x: jax.Array, n: int = LEVELS) -> jax.Array:
    return level_mask(jnp.full(x.shape[:2], n), LEVELS)


def _data(seed: int, batch: int = 6, steps: int = 20) -> jax.Array:
    return jax.random.normal(jax.random.key(seed), (batch, steps, DIM))


def _all(batch: int, n: int = LEVELS) -> jax.Array:
    return jnp.full((batch,), n, jnp.int32)


@pytest.fixture(scope="module")
def fitted() -> tuple[RVQState, jax.Array]:
    """A state whose codebooks were k-means-initialised on a batch, plus that batch."""
    x = _data(0)
    state = RVQ.init_state(key=jax.random.key(1))
    out = quantize(RVQ, state, x, _all(x.shape[0]))
    state = update(RVQ, state, out.residuals, out.codes, None, jax.random.key(2))
    assert bool(state.initialized)
    return state, x


def _errors_by_prefix(state: RVQState, x: jax.Array) -> np.ndarray:
    out = quantize(RVQ, state, x, _all(x.shape[0]))
    errs = []
    for n in range(1, LEVELS + 1):
        recon = decode(RVQ, state, out.codes[..., :n])
        errs.append(np.asarray(jnp.sum(jnp.square(x - recon), axis=-1)))  # [batch, T]
    return np.stack(errs)  # [levels, batch, T]


def test_codes_in_range_and_decode_matches_quantized(fitted):
    state, x = fitted
    out = quantize(RVQ, state, x, _all(x.shape[0]))
    codes = np.asarray(out.codes)
    assert codes.shape == (x.shape[0], x.shape[1], LEVELS) and codes.dtype == np.int32
    assert codes.min() >= 0 and codes.max() < CODES
    np.testing.assert_allclose(decode(RVQ, state, out.codes), out.quantized, atol=1e-5)


def test_prefix_decode_matches_quantizer_dropout(fitted):
    state, x = fitted
    num_active = jnp.array([1, 2, 3, 4, 1, 3], jnp.int32)
    out = quantize(RVQ, state, x, num_active)
    for i, n in enumerate(np.asarray(num_active)):
        recon = decode(RVQ, state, out.codes[i : i + 1, :, :n])[0]
        np.testing.assert_allclose(recon, out.quantized[i], atol=1e-5)
        commit = np.asarray(out.commit_loss[i])
        assert np.all(commit[n:] == 0) and np.all(commit[:n] > 0)


def test_fitted_error_non_increasing_in_levels(fitted):
    state, x = fitted
    mean_err = _errors_by_prefix(state, x).mean(axis=(1, 2))
    assert np.all(np.diff(mean_err) <= 1e-7), mean_err
    assert mean_err[-1] < 0.5 * mean_err[0]


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16))
def test_error_non_increasing_exactly_with_zero_codes(seed: int):
    # With the zero vector in every codebook, a level can never make a vector's error worse.
    state = RVQ.init_state(key=jax.random.key(seed), scale=0.7)
    state = eqx.tree_at(lambda s: s.codebooks, state, state.codebooks.at[:, 0].set(0.0))
    errs = _errors_by_prefix(state, _data(seed + 1))
    assert np.all(np.diff(errs, axis=0) <= 1e-5)


def test_kmeans_init_beats_random_init(fitted):
    state, x = fitted
    random_state = RVQ.init_state(key=jax.random.key(1))
    err_fit = _errors_by_prefix(state, x)[-1].mean()
    err_rand = _errors_by_prefix(random_state, x)[-1].mean()
    assert err_fit < 0.5 * err_rand


def test_straight_through_gradient_is_identity(fitted):
    state, x = fitted
    w = jax.random.normal(jax.random.key(3), x[0].shape)
    grad = jax.grad(lambda xi: jnp.sum(RVQ(state, xi).quantized * w))(x[0])
    np.testing.assert_allclose(grad, w, rtol=1e-6)


def test_commitment_gradient_reaches_input_at_every_level(fitted):
    state, x = fitted
    jac = jax.jacrev(lambda xi: RVQ(state, xi).commit_loss)(x[0])  # [levels, T, dim]
    assert np.all(np.abs(np.asarray(jac)).sum(axis=(1, 2)) > 0)


def test_ema_moves_used_codes_toward_assigned_means(fitted):
    state, x = fitted
    shifted = x + 0.3  # moves every vector, so the assigned means move away from the codes
    out = quantize(RVQ, state, shifted, _all(x.shape[0]))
    new = update_with(state, out.residuals, out.codes, _full_mask(x), jax.random.key(4),
                      0.5, 1e-5, 0.0)
    res = np.asarray(out.residuals[:, :, 0]).reshape(-1, DIM)
    codes = np.asarray(out.codes[:, :, 0]).reshape(-1)
    moved = 0
    for k in np.unique(codes):
        target = res[codes == k].mean(axis=0)
        before = np.linalg.norm(np.asarray(state.codebooks[0, k]) - target)
        after = np.linalg.norm(np.asarray(new.codebooks[0, k]) - target)
        assert after < before
        moved += 1
    assert moved > 1


def test_ema_with_zero_decay_is_one_lloyd_step(fitted):
    state, x = fitted
    out = quantize(RVQ, state, x, _all(x.shape[0]))
    new = update_with(state, out.residuals, out.codes, _full_mask(x), jax.random.key(5),
                      0.0, 1e-9, 0.0)
    res = np.asarray(out.residuals[:, :, 1]).reshape(-1, DIM)
    codes = np.asarray(out.codes[:, :, 1]).reshape(-1)
    for k in np.unique(codes):
        np.testing.assert_allclose(new.codebooks[1, k], res[codes == k].mean(axis=0), atol=1e-4)


def test_dead_codes_are_replaced_by_batch_residuals(fitted):
    state, x = fitted
    threshold = 1.5
    starved = eqx.tree_at(lambda s: s.cluster_size, state, state.cluster_size.at[:, :5].set(0.0))
    out = quantize(RVQ, starved, x, _all(x.shape[0]))
    new = update_with(starved, out.residuals, out.codes, _full_mask(x), jax.random.key(6),
                      0.99, 1e-5, threshold)
    assert float(new.cluster_size.min()) >= threshold - 1e-6
    for level in range(LEVELS):
        rows = np.asarray(out.residuals[:, :, level]).reshape(-1, DIM)
        for k in range(5):
            dist = np.abs(rows - np.asarray(new.codebooks[level, k])).max(axis=1).min()
            assert dist < 1e-6, (level, k)


def test_masked_rows_and_unused_levels_do_not_update(fitted):
    state, x = fitted
    out = quantize(RVQ, state, x, _all(x.shape[0], 2))
    mask = _full_mask(x, 2)  # levels 2, 3 dropped everywhere
    new = update_with(state, out.residuals, out.codes, mask, jax.random.key(7), 0.99, 1e-5, 1.0)
    np.testing.assert_array_equal(new.codebooks[2:], state.codebooks[2:])
    assert not np.array_equal(new.codebooks[:2], state.codebooks[:2])


def test_quantizer_dropout_draws_every_prefix():
    n = np.asarray(RVQ.sample_num_active(key=jax.random.key(0), batch=400))
    assert n.min() == 1 and n.max() == LEVELS and set(n.tolist()) == set(range(1, LEVELS + 1))
    half = np.asarray(RVQ.sample_num_active(key=jax.random.key(0), batch=400, prob=0.0))
    assert np.all(half == LEVELS)


def test_kmeans_recovers_separated_clusters():
    centers = jnp.array([[-5.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    pts = centers[jnp.arange(90) % 3] + 0.1 * jax.random.normal(jax.random.key(0), (90, 2))
    found, counts = jax.jit(lambda p, k: kmeans(p, 3, key=k, iters=10))(pts, jax.random.key(3))
    assert float(counts.sum()) == 90.0
    dist = jnp.min(jnp.linalg.norm(found[:, None] - centers[None], axis=-1), axis=0)
    # k-means can stall in a local optimum from an unlucky draw, but every center is matched
    # here because the draw is seeded and the clusters are far apart.
    assert float(dist.max()) < 0.2


def test_decode_refuses_out_of_range_codes(fitted):
    state, _ = fitted
    bad = jnp.full((1, 3, LEVELS), CODES, jnp.int32)
    with pytest.raises(Exception, match="outside"):
        jax.block_until_ready(decode(RVQ, state, bad))


@settings(max_examples=25, deadline=None)
@given(steps=st.integers(0, 7), levels=st.integers(1, 5), order=st.sampled_from(["frame", "level"]))
def test_local_ids_round_trip(steps: int, levels: int, order: str):
    rng = np.random.default_rng(steps * 10 + levels)
    codes = rng.integers(0, 11, size=(steps, levels))
    ids = codes_to_local_ids(codes, 11, order=order)
    assert ids.dtype == np.int32 and ids.shape == (steps * levels,)
    assert ids.size == 0 or ids.max() < levels * 11
    np.testing.assert_array_equal(local_ids_to_codes(ids, levels, 11, order=order), codes)


def test_local_id_order_is_documented_layout():
    codes = np.array([[1, 2], [3, 4]])  # [steps, levels]
    np.testing.assert_array_equal(codes_to_local_ids(codes, 10), [1, 12, 3, 14])
    np.testing.assert_array_equal(codes_to_local_ids(codes, 10, order="level"), [1, 3, 12, 14])


def test_bad_local_ids_raise_vocab_error():
    with pytest.raises(VocabError, match=r"\[0, 20\)"):
        local_ids_to_codes(np.array([0, 25]), 2, 10)
    with pytest.raises(VocabError, match="multiple"):
        local_ids_to_codes(np.array([0, 11, 2]), 2, 10)
    with pytest.raises(VocabError, match="own level"):
        local_ids_to_codes(np.array([11, 1]), 2, 10)
    with pytest.raises(VocabError, match="order"):
        codes_to_local_ids(np.zeros((2, 2), int), 10, order="time")


def test_update_codebooks_function_is_pure(fitted):
    state, x = fitted
    out = quantize(RVQ, state, x, _all(x.shape[0]))
    before = np.asarray(state.codebooks).copy()
    a = update_with(state, out.residuals, out.codes, _full_mask(x), jax.random.key(0), 0.9, 1e-5, 1.0)
    b = update_with(state, out.residuals, out.codes, _full_mask(x), jax.random.key(0), 0.9, 1e-5, 1.0)
    np.testing.assert_array_equal(state.codebooks, before)
    np.testing.assert_array_equal(a.codebooks, b.codebooks)


def test_expected_code_counts_match_the_dropout_sampler():
    # The shares the formula assumes are those sample_num_active draws: level l takes part in
    # the examples whose drawn depth is at least l.
    depth = np.asarray(RVQ.sample_num_active(key=jax.random.key(0), batch=200_000, prob=0.5))
    measured = np.array([(depth > level).mean() for level in range(LEVELS)])
    counts = expected_code_counts(1.0, num_levels=LEVELS, codebook_size=CODES, dropout=0.5)
    np.testing.assert_allclose(counts * CODES, measured, atol=0.01)
    assert expected_code_counts(32.0, num_levels=LEVELS, codebook_size=CODES) == pytest.approx([2.0] * LEVELS)
