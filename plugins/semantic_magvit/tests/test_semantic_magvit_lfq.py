"""Lookup-free quantization: bijection, straight-through, factorized and grouped entropies."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_semantic_magvit import bits_to_indices, codebook_entropy, indices_to_bits, indices_to_codes, lfq, per_sample_entropy


def _brute_probs(z, tau):
    k = z.shape[-1]
    codes = indices_to_codes(jnp.arange(2**k), k)  # [2^k, k]
    return jax.nn.softmax(2.0 * z @ codes.T / tau, axis=-1)  # [n, 2^k]


def test_index_bits_bijection_exhaustive_up_to_12_bits():
    for k in (1, 2, 5, 10, 12):
        ids = jnp.arange(2**k, dtype=jnp.int32)
        bits = indices_to_bits(ids, k)
        assert set(np.unique(np.asarray(bits))) <= {0, 1}
        np.testing.assert_array_equal(np.asarray(bits_to_indices(bits)), np.asarray(ids))
        assert len({tuple(b) for b in np.asarray(bits).tolist()}) == 2**k


def test_index_bits_bijection_random_18_bit_ids():
    ids = jnp.asarray(np.random.default_rng(0).integers(0, 2**18, 100_000), jnp.int32)
    np.testing.assert_array_equal(np.asarray(bits_to_indices(indices_to_bits(ids, 18))), np.asarray(ids))


def test_lsb_first_order_and_sign_convention():
    out = lfq(jnp.array([[0.3, -0.2, 0.7, 0.0]]))
    assert int(out.indices[0]) == 1 + 4  # bit 0 and bit 2 set; z == 0 counts as -1
    np.testing.assert_array_equal(np.asarray(out.quantized[0]), [1.0, -1.0, 1.0, -1.0])


_lfq = jax.jit(lfq)
_grad_st = jax.jit(jax.grad(lambda z: lfq(z).quantized.sum()))


@settings(max_examples=15, deadline=None)
@given(st.sampled_from([3, 10]), st.integers(0, 2**31 - 1))
def test_quantized_values_indices_and_straight_through(k, seed):
    z = jnp.asarray(np.random.default_rng(seed).normal(size=(7, k)), jnp.float32)
    out = _lfq(z)
    assert set(np.unique(np.asarray(out.quantized))) <= {-1.0, 1.0}
    assert int(out.indices.min()) >= 0 and int(out.indices.max()) < 2**k
    np.testing.assert_array_equal(np.asarray(indices_to_codes(out.indices, k)), np.asarray(out.quantized))
    grad = _grad_st(z)
    np.testing.assert_array_equal(np.asarray(grad), np.ones_like(np.asarray(z)))


_factorized = jax.jit(per_sample_entropy)
_brute = jax.jit(lambda z, tau: (lambda p: -(p * jnp.log(jnp.maximum(p, 1e-30))).sum(-1).mean())(_brute_probs(z, tau)))


@settings(max_examples=15, deadline=None)
@given(st.sampled_from([1, 4, 10]), st.floats(0.05, 2.0), st.integers(0, 2**31 - 1))
def test_factorized_per_sample_entropy_equals_brute_force(k, tau, seed):
    z = jnp.asarray(np.random.default_rng(seed).normal(size=(16, k)) * 0.3, jnp.float32)
    tau = jnp.float32(tau)
    np.testing.assert_allclose(float(_factorized(z, tau)), float(_brute(z, tau)), rtol=1e-4, atol=1e-5)


_joint = jax.jit(lambda z, tau: (lambda p: -(p * jnp.log(jnp.maximum(p, 1e-30))).sum())(_brute_probs(z, tau).mean(0)))
_grouped = jax.jit(codebook_entropy, static_argnames="group_size")


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(0.1, 2.0))
def test_group_bound_is_at_least_the_exact_joint_entropy(seed, tau):
    z = np.random.default_rng(seed).normal(size=(64, 8)) * 0.5
    z[:, 4:] += z[:, :4]  # correlated bits across the two groups
    z, tau = jnp.asarray(z, jnp.float32), jnp.float32(tau)
    joint = float(_joint(z, tau))
    np.testing.assert_allclose(float(_grouped(z, tau, group_size=8)), joint, rtol=1e-4, atol=1e-4)
    assert float(_grouped(z, tau, group_size=4)) >= joint - 1e-4


def test_codebook_entropy_extremes():
    k = 6
    same = jnp.tile(jnp.array([[1.0, -1.0, 1.0, 1.0, -1.0, 1.0]]), (500, 1))
    assert float(codebook_entropy(same, 0.01, group_size=3)) < 1e-3
    codes = indices_to_codes(jnp.asarray(np.random.default_rng(1).integers(0, 2**k, 20_000)), k)
    h = float(codebook_entropy(codes, 0.01, group_size=6))
    assert abs(h - k * math.log(2)) < 0.01
    assert h <= k * math.log(2) + 1e-5


def test_entropy_loss_sign_rewards_confident_diverse_codes():
    rng = np.random.default_rng(2)
    diverse = jnp.asarray(rng.choice([-1.0, 1.0], (4096, 6)))
    collapsed = jnp.ones((4096, 6))
    assert float(lfq(diverse).entropy_loss) < float(lfq(collapsed).entropy_loss)


def test_commitment_pulls_latents_to_their_codes():
    z = jnp.array([[0.5, -2.0]])
    assert math.isclose(float(lfq(z).commitment), ((0.5 - 1) ** 2 + (-2 + 1) ** 2) / 2, rel_tol=1e-6)
    assert list(itertools.chain(*np.asarray(jax.grad(lambda z: lfq(z).commitment)(z)).tolist())) == [-0.5, -1.0]
