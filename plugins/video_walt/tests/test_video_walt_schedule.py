"""v-prediction identities, the cosine schedule, DDIM and classifier-free guidance."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_video_walt import alpha_sigma, ddim_sample, ddim_step, eps_from_v, guided, log_snr, time_grid, v_target, x_from_v

times = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
shifts = st.sampled_from([1.0, 0.5, 2.0])


def _xe(seed: int, shape=(2, 3, 4)):
    kx, ke = jax.random.split(jax.random.key(seed))
    return jax.random.normal(kx, shape), jax.random.normal(ke, shape)


@settings(max_examples=40, deadline=None)
@given(t=times, shift=shifts, seed=st.integers(0, 1000))
def test_x_and_eps_are_recovered_from_z_and_v(t, shift, seed):
    x, eps = _xe(seed)
    a, s = alpha_sigma(t, shift)
    z = a * x + s * eps
    v = v_target(x, eps, a, s)
    np.testing.assert_allclose(x_from_v(z, v, a, s), x, atol=2e-5)  # x0 = alpha z - sigma v
    np.testing.assert_allclose(eps_from_v(z, v, a, s), eps, atol=2e-5)  # eps = sigma z + alpha v


@settings(max_examples=40, deadline=None)
@given(t=times, shift=shifts)
def test_alpha_sigma_lie_on_the_unit_circle(t, shift):
    a, s = alpha_sigma(t, shift)
    assert float(a**2 + s**2) == pytest.approx(1.0, abs=1e-6)
    assert float(a) >= 0 and float(s) >= 0


@pytest.mark.parametrize("shift", [1.0, 2.0])
def test_schedule_ends_and_snr_decreases(shift):
    assert [float(x) for x in alpha_sigma(0.0, shift)] == pytest.approx([1.0, 0.0])
    assert [float(x) for x in alpha_sigma(1.0, shift)] == pytest.approx([0.0, 1.0], abs=1e-7)
    snr = np.asarray(log_snr(jnp.linspace(0.01, 0.99, 99), shift))
    assert np.all(np.diff(snr) < 0)
    a, s = alpha_sigma(0.3)
    assert float(log_snr(0.3)) == pytest.approx(float(jnp.log(a**2 / s**2)), rel=1e-5)


def test_v_loss_is_one_plus_snr_times_x_loss():
    x, eps = _xe(0)
    a, s = alpha_sigma(0.4)
    z = a * x + s * eps
    v = v_target(x, eps, a, s)
    v_hat = v + 0.1 * jax.random.normal(jax.random.key(9), v.shape)
    x_hat = x_from_v(z, v_hat, a, s)
    lhs = jnp.sum((v - v_hat) ** 2)
    rhs = (1 + a**2 / s**2) * jnp.sum((x - x_hat) ** 2)
    assert float(lhs) == pytest.approx(float(rhs), rel=1e-4)


def test_ddim_step_with_the_true_v_lands_on_the_forward_process():
    x, eps = _xe(1)
    a_t, s_t = alpha_sigma(0.8)
    a_s, s_s = alpha_sigma(0.3)
    z_t = a_t * x + s_t * eps
    z_s, x_hat = ddim_step(z_t, v_target(x, eps, a_t, s_t), 0.8, 0.3)
    np.testing.assert_allclose(z_s, a_s * x + s_s * eps, atol=2e-5)
    np.testing.assert_allclose(x_hat, x, atol=2e-5)


def test_ddim_with_an_oracle_reproduces_the_data_from_pure_noise():
    x, eps = _xe(2)

    def oracle(z, t):  # the exact v of (x, eps) on the trajectory z_t = alpha x + sigma eps
        a, s = alpha_sigma(t)
        return v_target(x, eps, a, s)

    out = ddim_sample(oracle, eps, steps=7)
    np.testing.assert_allclose(out, x, atol=5e-5)


def test_ddim_with_zero_noise_steps_returns_the_input_whatever_the_model():
    x, noise = _xe(3)
    wild = lambda z, t: 100.0 * z + 7.0  # noqa: E731 - a model that predicts nonsense
    out = ddim_sample(wild, noise, steps=5, start=0.0, x_init=x)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(x))


def test_known_frames_are_kept_by_the_sampler():
    x, noise = _xe(4, (2, 3, 4))
    mask = jnp.asarray([True, False])[:, None, None]
    out = ddim_sample(lambda z, t: jnp.zeros_like(z), noise, steps=4, known=x, known_mask=mask)
    np.testing.assert_allclose(out[0], x[0], atol=1e-6)


def test_stochastic_ddim_is_deterministic_per_key_and_differs_across_keys():
    x, noise = _xe(5)
    fn = lambda z, t: 0.5 * z  # noqa: E731
    a = ddim_sample(fn, noise, steps=4, eta=1.0, key=jax.random.key(0))
    b = ddim_sample(fn, noise, steps=4, eta=1.0, key=jax.random.key(0))
    c = ddim_sample(fn, noise, steps=4, eta=1.0, key=jax.random.key(1))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.allclose(np.asarray(a), np.asarray(c))


@settings(max_examples=20, deadline=None)
@given(w=st.floats(-2.0, 5.0), seed=st.integers(0, 100))
def test_guidance_is_linear_in_v_and_one_means_conditional(w, seed):
    vc, vu = _xe(seed)
    np.testing.assert_allclose(guided(vc, vu, 1.0), vc, atol=1e-6)
    np.testing.assert_allclose(guided(vc, vu, w), vu + w * (vc - vu), atol=1e-5)


def test_time_grid_runs_from_start_to_zero():
    g = np.asarray(time_grid(4, 0.8))
    assert g[0] == pytest.approx(0.8) and g[-1] == 0.0 and len(g) == 5 and np.all(np.diff(g) < 0)
