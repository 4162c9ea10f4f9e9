"""The prefix-LM's hyperparameters, and the configs shipped with the package."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import attrs
import jax.numpy as jnp

from archon_framework._errors import ConfigError
from archon_framework.config import load_config

__all__ = ["PrefixLMConfig", "load_model_config", "shipped_model_configs"]

_DTYPES = ("float32", "bfloat16", "float16")


def _positive(instance: Any, attribute: attrs.Attribute, value: int) -> None:
    if value <= 0:
        raise ConfigError(f"model config field {attribute.name!r} must be > 0, got {value}")


@attrs.frozen(kw_only=True)
class PrefixLMConfig:
    """Hyperparameters of the PaLM-style prefix LM (paper Sec. 3.2; PaLM, Chowdhery et al. 2022).

    Attributes:
        vocab_size: Rows of the tied embedding, i.e. the size of the unified vocabulary layout.
        d_model: Width of the residual stream.
        n_layers: Number of decoder blocks.
        n_heads: Query heads; ``d_model`` must be a multiple of it (head size
            ``d_model // n_heads``).
        n_kv_heads: Key/value heads; 1 is multi-query attention (PaLM), ``n_heads`` is plain
            multi-head attention, anything dividing ``n_heads`` is grouped-query attention.
        d_ff: Hidden width of the SwiGLU MLP.
        parallel_block: PaLM's parallel block ``x + Attn(LN(x)) + MLP(LN(x))`` (one shared norm);
            False gives the sequential pre-norm block.
        rope_base: Base of the rotary position frequencies.
        z_loss: Weight of PaLM's auxiliary ``(log Z)^2`` loss; 0 disables it.
        max_seq_len: Longest window (packed context or prefix plus generation) the model serves.
        dtype: Parameter and activation dtype; softmax, norms and the loss always run in float32.
    """

    vocab_size: int = attrs.field(validator=_positive)
    d_model: int = attrs.field(validator=_positive)
    n_layers: int = attrs.field(validator=_positive)
    n_heads: int = attrs.field(validator=_positive)
    n_kv_heads: int = attrs.field(default=1, validator=_positive)
    d_ff: int = attrs.field(validator=_positive)
    parallel_block: bool = True
    rope_base: float = 10_000.0
    z_loss: float = 1e-4
    max_seq_len: int = attrs.field(default=8192, validator=_positive)
    dtype: str = "float32"

    def __attrs_post_init__(self) -> None:
        if self.d_model % self.n_heads:
            raise ConfigError(
                f"model config: d_model={self.d_model} is not a multiple of n_heads={self.n_heads}"
            )
        if self.n_heads % self.n_kv_heads:
            raise ConfigError(
                f"model config: n_heads={self.n_heads} is not a multiple of "
                f"n_kv_heads={self.n_kv_heads} (use 1 for multi-query attention)"
            )
        if (self.d_model // self.n_heads) % 2:
            raise ConfigError(
                f"model config: head size d_model/n_heads={self.d_model // self.n_heads} must be "
                "even for rotary positions"
            )
        if self.dtype not in _DTYPES:
            raise ConfigError(
                f"model config field 'dtype' must be one of {_DTYPES}, got {self.dtype!r}"
            )
        if self.z_loss < 0:
            raise ConfigError(f"model config field 'z_loss' must be >= 0, got {self.z_loss}")

    @property
    def head_dim(self) -> int:
        """Size of one attention head."""
        return self.d_model // self.n_heads

    @property
    def jnp_dtype(self) -> jnp.dtype:
        """The parameter dtype as a numpy dtype object."""
        return jnp.dtype(self.dtype)

    @property
    def non_embedding_params(self) -> int:
        """Parameters outside the (tied) embedding: blocks and norms."""
        d, kv = self.d_model, self.n_kv_heads * self.head_dim
        attention = 2 * d * d + 2 * d * kv  # wq, wo, wk, wv
        mlp = 3 * d * self.d_ff  # gate, up, down
        norms = d if self.parallel_block else 2 * d
        return self.n_layers * (attention + mlp + norms) + d  # + the final norm

    def training_flops_per_token(self, seq_len: int) -> float:
        """Model FLOPs of one training token (forward + backward), PaLM's MFU convention.

        ``6 (N + V d) + 12 L T d``: ``N`` non-embedding parameters, ``V d`` the tied output
        projection (the input lookup is a gather, not a matmul), and attention scores and values
        over a window of ``T = seq_len`` without halving for causality (PaLM App. B).
        """
        matmul_params = self.non_embedding_params + self.vocab_size * self.d_model
        return 6.0 * matmul_params + 12.0 * self.n_layers * seq_len * self.d_model

    def replace(self, **changes: Any) -> PrefixLMConfig:
        """A copy with some fields changed (validated again)."""
        return attrs.evolve(self, **changes)


def load_model_config(name_or_path: str | Path) -> PrefixLMConfig:
    """Load a model config: a shipped name (``tiny``, ``small``, ``paper_1b``) or a TOML/JSON file.

    The file holds a ``[model]`` table whose keys are the fields of :class:`PrefixLMConfig`.

    Raises:
        ConfigError: the file is missing, not TOML/JSON, lacks ``[model]``, or has unknown or
            invalid keys (the message names the file and the key).
    """
    name = str(name_or_path)
    if name in shipped_model_configs():
        resource = resources.files("archon_framework.model").joinpath("configs", f"{name}.toml")
        with resources.as_file(resource) as path:
            return load_config(path, PrefixLMConfig, section="model")
    path = Path(name_or_path)
    if not path.is_file():
        raise ConfigError(
            f"model config {name!r} is neither a file nor one of the shipped configs "
            f"{shipped_model_configs()}"
        )
    return load_config(path, PrefixLMConfig, section="model")


def shipped_model_configs() -> tuple[str, ...]:
    """Names of the model configs shipped in ``archon_framework/model/configs``."""
    folder = resources.files("archon_framework.model").joinpath("configs")
    return tuple(
        sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))
    )
