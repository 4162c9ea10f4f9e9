"""The prefix LM (paper Sec. 3.2): PaLM-style decoder, mask, per-token loss, KV-cache decoding."""

from archon_framework.model._config import FactorizedRange, PrefixLMConfig, load_model_config, shipped_model_configs
from archon_framework.model._decode import (
    Generation,
    KVCache,
    Sampling,
    decode_step,
    generate_tokens,
    generate_tokens_uncached,
    generate_tokens_until,
    prefill,
    sample_factorized,
    sample_token,
    sample_token_exact,
)
from archon_framework.model._embed_init import CodeVectors, codebook_rows, embed_code_vectors
from archon_framework.model._layers import Attention, Block, RMSNorm, SwiGLU, apply_rope, rope_positions
from archon_framework.model._mask import prefix_lm_mask
from archon_framework.model._loss import TokenLosses, target_loss, token_losses
from archon_framework.model._prefix_lm import PrefixLM, grow_vocab, load_prefix_lm, save_prefix_lm

__all__ = [
    "Attention",
    "Block",
    "CodeVectors",
    "FactorizedRange",
    "Generation",
    "KVCache",
    "PrefixLM",
    "PrefixLMConfig",
    "RMSNorm",
    "Sampling",
    "SwiGLU",
    "TokenLosses",
    "apply_rope",
    "codebook_rows",
    "embed_code_vectors",
    "rope_positions",
    "decode_step",
    "generate_tokens",
    "generate_tokens_uncached",
    "generate_tokens_until",
    "grow_vocab",
    "load_model_config",
    "load_prefix_lm",
    "prefill",
    "prefix_lm_mask",
    "sample_factorized",
    "sample_token",
    "sample_token_exact",
    "save_prefix_lm",
    "shipped_model_configs",
    "target_loss",
    "token_losses",
]


#: The names before ``generate_tokens`` (issue 24: one public ``generate``, the chain's in
#: `archon_framework.infer`); kept for one release, with a DeprecationWarning.
_DEPRECATED = {"generate": "generate_tokens", "generate_uncached": "generate_tokens_uncached",
               "generate_until": "generate_tokens_until"}


def __getattr__(name: str):
    if name in _DEPRECATED:
        import warnings

        warnings.warn(f"archon_framework.model.{name} is now {_DEPRECATED[name]} (archon_framework.infer.generate "
                      "runs a chain); the old name goes in the next release", DeprecationWarning, stacklevel=2)
        return globals()[_DEPRECATED[name]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
