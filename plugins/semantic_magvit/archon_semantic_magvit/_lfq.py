"""Lookup-free quantization (LFQ), MAGVIT-v2 (Yu et al., 2024), as used by Archon Sec. 3.1.

Every latent channel is quantized to its sign; a token's index is its bits read LSB-first
(index = sum_i 2^i * [z_i > 0], i = 0..K-1), the order of MAGVIT-v2's equation and Open-MAGVIT2.
The implicit codebook {-1, +1}^K is never stored, and never materialised: the per-sample entropy
factorizes exactly over bits, and the codebook entropy is bounded from above by the sum of the
entropies of sub-groups of bits (2^group_size codes each).
"""

from __future__ import annotations

import attrs
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

__all__ = [
    "LFQOutput",
    "lfq",
    "bits_to_indices",
    "indices_to_bits",
    "indices_to_codes",
    "per_sample_entropy",
    "codebook_entropy",
    "commitment_loss",
]

# Floor inside the log: exact for any representable probability, finite gradient at 0.
_TINY = 1e-30


def bits_to_indices(bits: Int[Array, "*batch k"]) -> Int[Array, "*batch"]:
    """Bits (0/1) -> int32 indices, bit i weighted by 2^i (LSB-first)."""
    k = bits.shape[-1]
    weights = (2 ** jnp.arange(k, dtype=jnp.int32)).astype(jnp.int32)  # [k]
    return (bits.astype(jnp.int32) * weights).sum(-1).astype(jnp.int32)


def indices_to_bits(indices: Int[Array, "*batch"], k: int) -> Int[Array, "*batch k"]:
    """Inverse of :func:`bits_to_indices`: bit_i = (index >> i) & 1."""
    shifts = jnp.arange(k, dtype=jnp.int32)  # [k]
    return (indices.astype(jnp.int32)[..., None] >> shifts) & 1


def indices_to_codes(indices: Int[Array, "*batch"], k: int) -> Float[Array, "*batch k"]:
    """Indices -> codes in {-1, +1}^k (the quantized latents the decoder reads)."""
    return indices_to_bits(indices, k).astype(jnp.float32) * 2.0 - 1.0


@attrs.frozen
class LFQOutput:
    """What :func:`lfq` returns.

    Attributes:
        quantized: z + stop_gradient(sign(z) - z): forward value in {-1, +1}, identity gradient.
        indices: int32 token ids in [0, 2^K).
        commitment: mean((z - sg(q))^2).
        per_sample_entropy: E_z[H(p(.|z))] (exact, factorized over bits).
        codebook_entropy: sum over bit groups of H(E_z[p_group(.|z)]) (upper bound of the joint).
    """

    quantized: Float[Array, "*batch k"]
    indices: Int[Array, "*batch"]
    commitment: Float[Array, ""]
    per_sample_entropy: Float[Array, ""]
    codebook_entropy: Float[Array, ""]

    @property
    def entropy_loss(self) -> Float[Array, ""]:
        """MAGVIT-v2's entropy penalty: per-sample entropy minus codebook entropy (gamma = 1)."""
        return self.per_sample_entropy - self.codebook_entropy


jax.tree_util.register_pytree_node(
    LFQOutput,
    lambda o: ((o.quantized, o.indices, o.commitment, o.per_sample_entropy, o.codebook_entropy), None),
    lambda _, c: LFQOutput(*c),
)


def per_sample_entropy(z: Float[Array, "n k"], tau: float) -> Float[Array, ""]:
    """Mean over rows of H(p(.|z)), p(c|z) = softmax_c(2<z, c> / tau) over c in {-1, +1}^K.

    The logits are additive over bits, so p factorizes into independent bits with
    p(bit_i = 1) = sigmoid(4 z_i / tau) and H = sum_i H_b(sigmoid(4 z_i / tau)) exactly.
    """
    logit = 4.0 * z.astype(jnp.float32) / tau  # [n, k]
    p = jax.nn.sigmoid(logit)
    # H_b(sigmoid(x)) = softplus(x) - x * sigmoid(x), stable for large |x|.
    h = jax.nn.softplus(logit) - logit * p  # [n, k]
    return h.sum(-1).mean()


def _group_probs(z: Float[Array, "n g"], tau: float) -> Float[Array, "n codes"]:
    g = z.shape[-1]
    codes = indices_to_codes(jnp.arange(2**g, dtype=jnp.int32), g)  # [2^g, g]
    logits = 2.0 * z @ codes.T / tau  # [n, 2^g]
    return jax.nn.softmax(logits, axis=-1)


def codebook_entropy(z: Float[Array, "n k"], tau: float, group_size: int) -> Float[Array, ""]:
    """sum_groups H(mean_n p_group(.|z_n)): the batch codebook entropy, by bit groups.

    Bits are split into consecutive groups of ``group_size`` (the last may be smaller); each
    group's 2^group_size code distribution is averaged over the batch and its entropy taken.
    By subadditivity the sum is an upper bound on the joint entropy; with group_size >= K it is
    the exact joint entropy.
    """
    z = z.astype(jnp.float32)
    k = z.shape[-1]
    total = jnp.zeros((), jnp.float32)
    for start in range(0, k, group_size):
        avg = _group_probs(z[:, start : start + group_size], tau).mean(0)  # [2^g]
        total = total - (avg * jnp.log(jnp.maximum(avg, _TINY))).sum()
    return total


def commitment_loss(z: Float[Array, "*batch k"], q: Float[Array, "*batch k"]) -> Float[Array, ""]:
    """VQ-VAE-style commitment: mean((z - stop_gradient(q))^2)."""
    return jnp.mean((z - jax.lax.stop_gradient(q)) ** 2)


def lfq(
    z: Float[Array, "*batch k"], *, entropy_tau: float = 0.01, group_size: int = 9
) -> LFQOutput:
    """Quantize latents by sign (z == 0 maps to -1) with a straight-through estimator.

    Args:
        z: latents, channel last.
        entropy_tau: the entropy temperature (MAGVIT-v2: 0.01).
        group_size: bits per group of the codebook-entropy bound.
    """
    k = z.shape[-1]
    positive = z > 0
    q = jnp.where(positive, 1.0, -1.0).astype(z.dtype)
    quantized = z + jax.lax.stop_gradient(q - z)
    indices = bits_to_indices(positive.astype(jnp.int32))
    flat = z.reshape(-1, k)  # [n, k]
    return LFQOutput(
        quantized=quantized,
        indices=indices,
        commitment=commitment_loss(z, q),
        per_sample_entropy=per_sample_entropy(flat, entropy_tau),
        codebook_entropy=codebook_entropy(flat, entropy_tau, group_size),
    )
