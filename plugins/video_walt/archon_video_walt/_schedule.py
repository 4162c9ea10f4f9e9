"""v-prediction (Salimans & Ho, 2022) with a cosine noise schedule, DDIM steps and guidance.

Continuous time t in [0, 1]: z_t = alpha_t x + sigma_t eps, alpha_t^2 + sigma_t^2 = 1, with the
cosine schedule alpha_t = cos(pi t / 2), sigma_t = sin(pi t / 2) (zero terminal SNR at t = 1,
which v-prediction handles). An optional resolution ``shift`` s moves the log-SNR by -2 log s
(s = 1: the plain cosine schedule). The network predicts v = alpha_t eps - sigma_t x, and

    x_hat   = alpha_t z_t - sigma_t v_hat,
    eps_hat = sigma_t z_t + alpha_t v_hat,

so a DDIM (eta = 0) step t -> s is z_s = alpha_s x_hat + sigma_s eps_hat; it reproduces
alpha_s x + sigma_s eps exactly when v_hat is the true v. The loss is ||v - v_hat||^2, which is
(1 + SNR_t) ||x - x_hat||^2. Classifier-free guidance combines the conditional and unconditional
predictions linearly in v: v = v_u + w (v_c - v_u).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

__all__ = [
    "alpha_sigma",
    "log_snr",
    "v_target",
    "x_from_v",
    "eps_from_v",
    "ddim_step",
    "guided",
    "time_grid",
]


def log_snr(t: Float[Array, "..."], shift: float = 1.0) -> Float[Array, "..."]:
    """log(alpha^2 / sigma^2) of the (shifted) cosine schedule; +inf at t = 0, -inf at t = 1."""
    half_pi_t = 0.5 * jnp.pi * jnp.asarray(t, jnp.float32)
    return -2.0 * jnp.log(jnp.tan(half_pi_t)) - 2.0 * jnp.log(shift)


def alpha_sigma(t: Float[Array, "..."], shift: float = 1.0) -> tuple[Float[Array, "..."], Float[Array, "..."]]:
    """(alpha_t, sigma_t) with alpha^2 + sigma^2 = 1; exactly (1, 0) at t = 0 and (0, 1) at t = 1."""
    t = jnp.clip(jnp.asarray(t, jnp.float32), 0.0, 1.0)
    # float32 cos(pi / 2) is -4e-8: clip so that alpha is exactly 0 at t = 1, never negative.
    c, s_ = jnp.clip(jnp.cos(0.5 * jnp.pi * t), 0.0, 1.0), jnp.clip(jnp.sin(0.5 * jnp.pi * t), 0.0, 1.0)
    if shift == 1.0:
        return c, s_
    # alpha^2 = sigmoid(log_snr): with log_snr = -2 log tan(pi t / 2) - 2 log s,
    # alpha = 1 / sqrt(1 + s^2 tan^2), sigma = s tan / sqrt(1 + s^2 tan^2), written with cos/sin.
    norm = jnp.sqrt(c**2 + (shift * s_) ** 2)
    return c / norm, shift * s_ / norm


def _b(a: Float[Array, "..."], like: Float[Array, "..."]) -> Float[Array, "..."]:
    """Broadcast per-example scalars [B] (or a scalar) against an array [B, ...]."""
    a = jnp.asarray(a)
    return a.reshape(a.shape + (1,) * (like.ndim - a.ndim))


def v_target(x: Float[Array, "..."], eps: Float[Array, "..."], alpha, sigma) -> Float[Array, "..."]:
    """v = alpha eps - sigma x."""
    return _b(alpha, x) * eps - _b(sigma, x) * x


def x_from_v(z: Float[Array, "..."], v: Float[Array, "..."], alpha, sigma) -> Float[Array, "..."]:
    """x_hat = alpha z - sigma v."""
    return _b(alpha, z) * z - _b(sigma, z) * v


def eps_from_v(z: Float[Array, "..."], v: Float[Array, "..."], alpha, sigma) -> Float[Array, "..."]:
    """eps_hat = sigma z + alpha v."""
    return _b(sigma, z) * z + _b(alpha, z) * v


def ddim_step(z: Float[Array, "..."], v: Float[Array, "..."], t, s, *, shift: float = 1.0, eta: float = 0.0,
              key: jax.Array | None = None, known: Float[Array, "..."] | None = None,
              known_mask: Array | None = None) -> tuple[Float[Array, "..."], Float[Array, "..."]]:
    """One DDIM step from time t to s < t; returns (z_s, x_hat).

    With eta > 0 (and a key) the step adds fresh noise of standard deviation
    sigma_eta = eta (sigma_s / sigma_t) sqrt(1 - alpha_t^2 / alpha_s^2), as in DDIM with
    alphabar = alpha^2. ``known`` / ``known_mask`` (broadcastable booleans) replace x_hat where
    the clean value is given (the first latent frame of a continued chunk).
    """
    a_t, s_t = alpha_sigma(t, shift)
    a_s, s_s = alpha_sigma(s, shift)
    x_hat = x_from_v(z, v, a_t, s_t)
    eps_hat = eps_from_v(z, v, a_t, s_t)
    if known is not None:
        x_hat = jnp.where(known_mask, known, x_hat)
    if eta > 0.0 and key is not None:
        ratio = jnp.clip(1.0 - (a_t / jnp.maximum(a_s, 1e-12)) ** 2, 0.0, 1.0)
        s_eta = eta * (s_s / jnp.maximum(s_t, 1e-12)) * jnp.sqrt(ratio)
        s_dir = jnp.sqrt(jnp.clip(s_s**2 - s_eta**2, 0.0))
        z_s = _b(a_s, z) * x_hat + _b(s_dir, z) * eps_hat + _b(s_eta, z) * jax.random.normal(key, z.shape)
    else:
        z_s = _b(a_s, z) * x_hat + _b(s_s, z) * eps_hat
    return z_s, x_hat


def guided(v_cond: Float[Array, "..."], v_uncond: Float[Array, "..."], weight: float) -> Float[Array, "..."]:
    """Classifier-free guidance in v-space: v_u + w (v_c - v_u) (w = 1: the conditional prediction)."""
    return v_uncond + weight * (v_cond - v_uncond)


def time_grid(steps: int, start: float = 1.0) -> Float[Array, " n"]:
    """steps + 1 times from ``start`` down to 0, evenly spaced (DDIM's sampling grid)."""
    return jnp.linspace(start, 0.0, steps + 1)
