"""DDIM sampling in v-space with classifier-free guidance, for one chunk of latent frames.

:func:`ddim_sample` is the generic loop (any v-prediction function, used by the tests with an
oracle); :func:`sample_chunk` runs it with the denoiser, encoding the conditions once and
evaluating the conditional and unconditional branches together as a batch of two.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from archon_video_walt._denoiser import Conditions, Context, Denoiser
from archon_video_walt._schedule import alpha_sigma, ddim_step, guided, time_grid

__all__ = ["ddim_sample", "guided_velocity", "sample_chunk"]


def ddim_sample(
    v_fn: Callable[[Float[Array, "..."], Float[Array, ""]], Float[Array, "..."]],
    noise: Float[Array, "..."],
    *,
    steps: int,
    shift: float = 1.0,
    eta: float = 0.0,
    key: PRNGKeyArray | None = None,
    start: float = 1.0,
    x_init: Float[Array, "..."] | None = None,
    known: Float[Array, "..."] | None = None,
    known_mask: Array | None = None,
) -> Float[Array, "..."]:
    """Integrate from time ``start`` down to 0 with ``steps`` DDIM steps; returns x_0.

    The state starts at z_start = alpha x_init + sigma noise (x_init = 0 by default; at
    start = 1, alpha = 0, so it is pure noise). With start = 0 nothing is noised and the input
    x_init comes back unchanged, whatever ``v_fn`` predicts.
    """
    a, s = alpha_sigma(start, shift)
    z = s * noise + (0.0 if x_init is None else a * x_init)
    times = time_grid(steps, start)
    key = jax.random.key(0) if key is None else key

    def body(i, carry):
        z, key = carry
        key, sub = jax.random.split(key)
        t, s_ = times[i], times[i + 1]
        z, _ = ddim_step(z, v_fn(z, t), t, s_, shift=shift, eta=eta, key=sub if eta > 0 else None,
                         known=known, known_mask=known_mask)
        return z, key

    z, _ = jax.lax.fori_loop(0, steps, body, (z, key))
    return z


def guided_velocity(denoiser: Denoiser, ctx: Context, ctx_u: Context, z: Float[Array, "c t h w"],
                    t: Float[Array, ""], guidance: float) -> Float[Array, "c t h w"]:
    """Classifier-free guided v-prediction v_u + w (v_c - v_u), the conditional (``ctx``) and
    unconditional (``ctx_u``) branches evaluated together as a batch of two."""
    both = jax.tree.map(lambda a, b: jnp.stack([a, b]), ctx, ctx_u)
    v = jax.vmap(denoiser.denoise, in_axes=(None, None, 0))(z, t, both)  # [2, C, T, h, w]
    return guided(v[0], v[1], guidance)


@eqx.filter_jit
def sample_chunk(
    denoiser: Denoiser,
    cond: Conditions,
    noise: Float[Array, "c t h w"],
    key: PRNGKeyArray,
    *,
    steps: int,
    guidance: float,
    uncond_drop: tuple[bool, bool, bool],
    shift: float = 1.0,
    eta: float = 0.0,
) -> Float[Array, "c t h w"]:
    """Normalized latents of one chunk: DDIM from noise, guided by v_u + w (v_c - v_u).

    The unconditional branch sets the ``uncond_drop`` flags (semantic, reference, text) on top of
    ``cond.drop``; with guidance 1 it is not computed.
    """
    ctx = denoiser.encode_conditions(cond)
    known_mask = cond.known_mask[None, :, None, None]  # [1, T, 1, 1]
    if guidance == 1.0:
        v_fn = lambda z, t: denoiser.denoise(z, t, ctx)  # noqa: E731
    else:
        ctx_u = denoiser.encode_conditions(cond._replace(drop=cond.drop | jnp.asarray(uncond_drop)))
        v_fn = lambda z, t: guided_velocity(denoiser, ctx, ctx_u, z, t, guidance)  # noqa: E731
    return ddim_sample(v_fn, noise, steps=steps, shift=shift, eta=eta, key=key,
                       known=cond.known, known_mask=known_mask)
