"""Building blocks of the MAGVIT-v2 3-D causal CNN (Yu et al., 2024; Archon Tables D and E).

Every module acts on one example, channel first: ``[channels, time, height, width]``.

The causal 3-D convolution, the per-frame GroupNorm and the residual block are the core's
(:mod:`archon_framework.nn`: ``CausalConv3d``, ``FrameGroupNorm``, ``ResBlock3d``, shared with the
video decoder); normalizing per frame makes the whole encoder causal: latent frame j depends only
on input frames <= 4j, and a lone image encodes exactly like frame 0 of a video. Temporal nearest
up-sampling mirrors this: each frame is repeated twice and the first copy of frame 0 dropped
(T -> 2T - 1), as MAGVIT-v2 drops frame 1 after depth-to-space.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from archon_framework.nn import CausalConv3d, FrameGroupNorm
from archon_framework.nn import ResBlock3d as ResBlock  # the Tables' name; parameters unchanged

__all__ = ["CausalConv3d", "FrameGroupNorm", "ResBlock", "Upsample", "nearest_upsample"]


def nearest_upsample(x: Float[Array, "c t h w"], time: int, space: int) -> Float[Array, "c t2 h2 w2"]:
    """Nearest-neighbour up-sampling; in time T -> 2T - 1 (frame 0 stays alone, causal)."""
    if time == 2:
        x = jnp.repeat(x, 2, axis=1)[:, 1:]  # [c, 2t - 1, h, w]
    if space > 1:
        x = jnp.repeat(jnp.repeat(x, space, axis=2), space, axis=3)  # [c, t, h*s, w*s]
    return x


class Upsample(eqx.Module):
    """Nearest up-sampling followed by a 3x3x3 causal conv (Table E, "Upsample + Conv3D")."""

    conv: CausalConv3d
    time: int = eqx.field(static=True)
    space: int = eqx.field(static=True)

    def __init__(self, in_channels: int, out_channels: int, *, time: int, space: int, kt: int, key: PRNGKeyArray):
        self.conv = CausalConv3d(in_channels, out_channels, (kt, 3, 3), key=key)
        self.time = time
        self.space = space

    def __call__(self, x: Float[Array, "c t h w"]) -> Float[Array, "c2 t2 h2 w2"]:
        return self.conv(nearest_upsample(x, self.time, self.space))
