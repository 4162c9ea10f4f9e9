"""Training objectives: eq. (3) of the paper for semantic video, its RGB analogue for images.

Semantic (paper Sec. C.1, eq. 3)::

    L = L_recon + 0.3 L_adv + L_commit + 3.0 L_seg   (+ w_ent L_entropy, MAGVIT-v2's LFQ term)

with L_recon the L2 error between palette-coloured input and reconstruction (both in [-1, 1]),
L_adv the hinge generator loss of the patch temporal discriminator, L_commit the LFQ commitment,
and L_seg the per-pixel cross-entropy against the ground-truth labels with logits
-tau ||x_hat - palette_k||^2, tau = 10. Eq. (3) has no entropy term; we keep MAGVIT-v2's (weight
from the config, 0 reproduces eq. 3 exactly) because the checkpoint Archon fine-tunes from was
trained with it and it keeps the 2^10 codes in use. The image objective drops L_seg.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

from archon_semantic_magvit._config import LossConfig
from archon_semantic_magvit._discriminator import PatchDiscriminator, generator_adv_loss, hinge_d_loss
from archon_semantic_magvit._lfq import lfq
from archon_semantic_magvit._model import Magvit
from archon_semantic_magvit._palette import palette_logits

__all__ = ["generator_loss", "discriminator_loss", "segmentation_loss", "reconstruct"]


def segmentation_loss(
    recon: Float[Array, "b c t h w"], labels: Int[Array, "b t h w"], tau: float
) -> Float[Array, ""]:
    """Pixel-wise CE with logits -tau * ||pixel - palette_k||^2 (pixels in [-1, 1])."""
    pixels = jnp.moveaxis(recon, 1, -1)  # [b, t, h, w, 3]
    logits = palette_logits(pixels, tau)  # [b, t, h, w, 21]
    # One-hot rather than an integer gather: its gradient is a dense product, not a scatter.
    one_hot = jax.nn.one_hot(labels, logits.shape[-1], dtype=logits.dtype)  # [b, t, h, w, 21]
    return -(jax.nn.log_softmax(logits, axis=-1) * one_hot).sum(-1).mean()


def generator_loss(
    model: Magvit,
    disc: PatchDiscriminator,
    x: Float[Array, "b c t h w"],
    labels: Int[Array, "b t h w"] | None,
    cfg: LossConfig,
    adv_on: bool | Bool[Array, ""],
) -> tuple[Float[Array, ""], tuple[dict[str, Float[Array, ""]], Float[Array, "b c t h w"]]]:
    """The tokenizer's total loss, and (its terms, the reconstruction).

    ``adv_on`` is False before ``adv_start``: the adversarial term is then left out. A Python
    bool decides at trace time (False: the discriminator is not even traced); a traced 0-d bool
    puts the term in a ``lax.cond`` (its ``adv`` metric is 0 while off), so one compiled step
    serves the whole run.
    """
    z = jnp.moveaxis(jax.vmap(model.encoder)(x), 1, -1)  # [b, t', h', w', k]
    # One LFQ call over the whole batch: the codebook entropy averages code probabilities over
    # every token of every clip in the batch (not per clip), as MAGVIT-v2 does.
    q = lfq(z, entropy_tau=cfg.entropy_tau, group_size=cfg.entropy_group_size)
    recon = jax.vmap(model.decode_codes)(q.quantized)  # [b, c, t, h, w]
    metrics = {
        "recon": jnp.mean((recon - x) ** 2),
        "commit": q.commitment,
        "entropy": q.entropy_loss,
    }
    total = (
        cfg.recon_weight * metrics["recon"]
        + cfg.commit_weight * metrics["commit"]
        + cfg.entropy_weight * metrics["entropy"]
    )
    if isinstance(adv_on, jax.Array):
        arrays, static = eqx.partition(disc, eqx.is_array)
        metrics["adv"] = jax.lax.cond(
            adv_on, lambda d, r: generator_adv_loss(jax.vmap(eqx.combine(d, static))(r)),
            lambda d, r: jnp.zeros((), r.dtype), arrays, recon,
        )
        total = total + cfg.adv_weight * metrics["adv"]  # + 0.0 while off: the same total
    elif adv_on:
        metrics["adv"] = generator_adv_loss(jax.vmap(disc)(recon))
        total = total + cfg.adv_weight * metrics["adv"]
    if labels is not None and cfg.seg_weight > 0:
        metrics["seg"] = segmentation_loss(recon, labels, cfg.seg_tau)
        total = total + cfg.seg_weight * metrics["seg"]
    metrics["total"] = total
    return total, (metrics, recon)


def discriminator_loss(
    disc: PatchDiscriminator, x: Float[Array, "b c t h w"], recon: Float[Array, "b c t h w"]
) -> Float[Array, ""]:
    """Hinge loss of the discriminator on real clips and (detached) reconstructions."""
    real = jax.vmap(disc)(x)
    fake = jax.vmap(disc)(jax.lax.stop_gradient(recon))
    return hinge_d_loss(real, fake)


def reconstruct(model: Magvit, x: Float[Array, "b c t h w"]) -> Float[Array, "b c t h w"]:
    """Batch reconstruction through the quantizer (no losses)."""
    return jax.vmap(lambda v: model(v)[0])(x)
