"""Generic neural building blocks (Equinox): causal 1-D convolutions and residual VQ.

Modality-agnostic: the speech, animation and any third-party tokenizer plugins share them.
Every layer acts on one example; batch with ``jax.vmap``.
"""

from ._conv1d import ACTIVATIONS, CausalConv1d, CausalConvTranspose1d, ResidualUnit1d, zero_biases
from ._kmeans import kmeans, nearest_code, squared_distances
from ._rvq import RVQOutput, RVQState, ResidualVQ, expected_code_counts, level_mask, update_codebooks
from ._tokens import TokenOrder, codes_to_local_ids, local_ids_to_codes

__all__ = [
    "ACTIVATIONS",
    "CausalConv1d",
    "CausalConvTranspose1d",
    "RVQOutput",
    "RVQState",
    "ResidualUnit1d",
    "ResidualVQ",
    "TokenOrder",
    "codes_to_local_ids",
    "kmeans",
    "expected_code_counts",
    "level_mask",
    "local_ids_to_codes",
    "nearest_code",
    "squared_distances",
    "update_codebooks",
    "zero_biases",
]
