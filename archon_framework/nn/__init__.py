"""Generic neural building blocks (Equinox): causal 1-D and 3-D convolutions and residual VQ.

Modality-agnostic: the speech, animation, image, video and any third-party plugins share them.
Every layer acts on one example; batch with ``jax.vmap``.
"""

from ._conv1d import ACTIVATIONS, CausalConv1d, CausalConvTranspose1d, ResidualUnit1d, zero_biases
from ._conv3d import CausalConv3d, FrameGroupNorm, ResBlock3d
from ._kmeans import kmeans, nearest_code, squared_distances
from ._rvq import RVQOutput, RVQState, ResidualVQ, code_vectors, expected_code_counts, level_mask, update_codebooks
from ._tokens import TokenOrder, codes_to_local_ids, local_ids_to_codes

__all__ = [
    "ACTIVATIONS",
    "CausalConv1d",
    "CausalConv3d",
    "CausalConvTranspose1d",
    "FrameGroupNorm",
    "RVQOutput",
    "RVQState",
    "ResBlock3d",
    "ResidualUnit1d",
    "ResidualVQ",
    "TokenOrder",
    "code_vectors",
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
