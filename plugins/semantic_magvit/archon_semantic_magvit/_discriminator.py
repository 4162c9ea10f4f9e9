"""Patch temporal discriminator of eq. (3)'s adversarial term (paper Sec. C.1).

A PatchGAN (Isola et al., 2017) lifted to space-time: (non-causal) 3-D convolutions with (4, 4, 4) kernels
(1-frame kernels for images) and stride (2, 2, 2) (stride 1 in time where the clip is already one
frame deep), LeakyReLU(0.2) and per-frame GroupNorm, ending in one real/fake logit per
space-time patch. The objective is the hinge loss of VQ-GAN (Esser et al., 2021):
D minimises mean(relu(1 - D(x))) + mean(relu(1 + D(x_hat))); the tokenizer minimises
-mean(D(x_hat)).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from archon_semantic_magvit._config import DiscriminatorConfig
from archon_semantic_magvit._layers import CausalConv3d, FrameGroupNorm

__all__ = ["PatchDiscriminator", "hinge_d_loss", "generator_adv_loss"]


class PatchDiscriminator(eqx.Module):
    """Video [C, T, H, W] -> patch logits [T'', H'', W''] (acts on one example)."""

    convs: list[CausalConv3d]
    norms: list[FrameGroupNorm | None]
    head: CausalConv3d
    temporal: bool = eqx.field(static=True)

    def __init__(self, cfg: DiscriminatorConfig, *, in_channels: int = 3, temporal: bool = True, key: PRNGKeyArray):
        keys = jax.random.split(key, cfg.num_layers + 1)
        kt = 4 if temporal else 1
        pad_t = (1, 2) if temporal else (0, 0)
        self.convs, self.norms = [], []
        ch_in = in_channels
        for i in range(cfg.num_layers):
            ch_out = cfg.base_channels * 2**i
            self.convs.append(
                CausalConv3d(ch_in, ch_out, (kt, 4, 4), (2 if temporal else 1, 2, 2), time_padding=pad_t, key=keys[i])
            )
            self.norms.append(None if i == 0 else FrameGroupNorm(min(4, ch_out), ch_out))
            ch_in = ch_out
        self.head = CausalConv3d(ch_in, 1, (1, 3, 3), key=keys[-1])
        self.temporal = temporal

    def __call__(self, x: Float[Array, "c t h w"]) -> Float[Array, "t2 h2 w2"]:
        for conv, norm in zip(self.convs, self.norms):
            x = conv(x)  # [c', ceil(t/2), h/2, w/2]
            if norm is not None:
                x = norm(x)
            x = jax.nn.leaky_relu(x, 0.2)
        return self.head(x)[0]  # [t'', h'', w'']


def hinge_d_loss(real_logits: Float[Array, "..."], fake_logits: Float[Array, "..."]) -> Float[Array, ""]:
    """Discriminator hinge loss."""
    return jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits))


def generator_adv_loss(fake_logits: Float[Array, "..."]) -> Float[Array, ""]:
    """The tokenizer's adversarial loss (hinge generator form)."""
    return -jnp.mean(fake_logits)
