"""The prefix-LM's hyperparameters, and the configs shipped with the package."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
import jax.numpy as jnp

from archon_framework._errors import ConfigError
from archon_framework.config import load_config

__all__ = ["FactorizedRange", "PrefixLMConfig", "load_model_config", "shipped_model_configs"]

_DTYPES = ("float32", "bfloat16", "float16")


def _positive(instance: Any, attribute: attrs.Attribute, value: int) -> None:
    if value <= 0:
        raise ConfigError(f"model config field {attribute.name!r} must be > 0, got {value}")


@attrs.frozen(kw_only=True)
class FactorizedRange:
    """A vocabulary range predicted as two factors, as MAGVIT-v2's LM predicts its 2^18 codes.

    Local id ``i = a * (size // factor) + b`` of the range is the pair ``(a, b)``: its input
    embedding is ``A[a] + B[b]`` and ``log p(i) = log softmax(h A^T)[a] + log softmax(h B^T)[b]``
    (``archon_framework.model._head``). The range then holds ``factor + size // factor`` rows
    instead of ``size`` (1,024 instead of 262,144 for 2^18 codes split 2^9 x 2^9).

    Attributes:
        vocabulary: The layout's vocabulary of the range (``PrefixLMConfig.for_layout`` reads its
            start and size there).
        start: Its first global id.
        size: Its number of ids.
        factor: Ids of the first factor ``a``; the second factor has ``size // factor``.
    """

    vocabulary: str
    start: int
    size: int = attrs.field(validator=_positive)
    factor: int = attrs.field(default=512, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if self.start < 0:
            raise ConfigError(f"model config: factorized range {self.vocabulary!r} has start {self.start} < 0")
        if self.factor < 2 or self.size % self.factor or self.size // self.factor < 2:
            raise ConfigError(
                f"model config: factorized range {self.vocabulary!r}: factor {self.factor} must be >= 2 and divide "
                f"its size {self.size} into a second factor >= 2 (2^18 ids: factor 512)"
            )

    @property
    def second(self) -> int:
        """Ids of the second factor ``b``."""
        return self.size // self.factor

    @property
    def stop(self) -> int:
        """One past its last global id."""
        return self.start + self.size


def _to_factorized(value: Iterable[FactorizedRange]) -> tuple[FactorizedRange, ...]:
    return tuple(value)


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
        time_pairs: Rotary pairs of each head turned by the token's time instead of its place
            (time-aligned multimodal RoPE, see ``apply_rope``): a target frame then finds the
            condition frames of its instant at one relative offset whatever the modalities'
            token rates. 0 (the default, and every checkpoint saved before it existed): one axis.
        space_pairs: Rotary pairs of each head turned by the token's place in its frame, half by
            its row, half by its column (M-RoPE's spatial axes, see ``apply_rope`` and
            ``archon_framework.token_grid``): a semantic code and the image codes of the patch
            it covers then meet at one offset. Even; 0 (the default, and every checkpoint saved
            before it existed): none.
        factorized: Vocabulary ranges predicted as two factors (:class:`FactorizedRange`); the
            other ids keep the exact tied head. Empty (the tiny and small configs) leaves the
            model as before.
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
    time_pairs: int = attrs.field(default=0)
    space_pairs: int = attrs.field(default=0)
    factorized: tuple[FactorizedRange, ...] = attrs.field(default=(), converter=_to_factorized)

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
        if not 0 <= self.time_pairs < self.d_model // self.n_heads // 2:
            raise ConfigError(
                f"model config field 'time_pairs' must lie in 0..{self.d_model // self.n_heads // 2 - 1} "
                f"(rotary pairs of a head of {self.d_model // self.n_heads}), got {self.time_pairs}"
            )
        if self.space_pairs < 0 or self.space_pairs % 2:
            raise ConfigError(f"model config field 'space_pairs' must be even and >= 0 (row and column pairs), got {self.space_pairs}")
        if self.space_pairs and self.time_pairs + self.space_pairs >= self.d_model // self.n_heads // 2:
            raise ConfigError(
                f"model config: time_pairs + space_pairs = {self.time_pairs + self.space_pairs} leaves no rotary pair "
                f"of a head of {self.d_model // self.n_heads} to the token's place (at most "
                f"{self.d_model // self.n_heads // 2 - 1})"
            )
        if self.dtype not in _DTYPES:
            raise ConfigError(
                f"model config field 'dtype' must be one of {_DTYPES}, got {self.dtype!r}"
            )
        if self.z_loss < 0:
            raise ConfigError(f"model config field 'z_loss' must be >= 0, got {self.z_loss}")
        reach = 0
        for f in sorted(self.factorized, key=lambda f: f.start):
            if f.start < reach or f.stop > self.vocab_size:
                raise ConfigError(
                    f"model config: factorized range {f.vocabulary!r} [{f.start}, {f.stop}) overlaps another one or "
                    f"leaves the vocabulary of {self.vocab_size} ids"
                )
            reach = f.stop
        if self.embedding_rows < 1:
            raise ConfigError("model config: the factorized ranges leave no id to the exact head")

    @property
    def embedding_rows(self) -> int:
        """Rows of the embedding matrix: every id outside the factorized ranges."""
        return self.vocab_size - sum(f.size for f in self.factorized)

    def for_layout(self, layout: Any) -> PrefixLMConfig:
        """This config for a vocabulary layout: its size, and each factorized range's place in it.

        Args:
            layout: An ``archon_framework.VocabLayout``.

        Raises:
            ConfigError: a factorized range's vocabulary is not in the layout, or has another size.
        """
        ranges = []
        for f in self.factorized:
            if f.vocabulary not in layout.names:
                raise ConfigError(
                    f"model config: factorized range {f.vocabulary!r} is not a vocabulary of the layout "
                    f"{list(layout.names)}; drop it from [[model.factorized]] or install its plugin"
                )
            r = layout.range(f.vocabulary)
            if r.size != f.size:
                raise ConfigError(
                    f"model config: factorized range {f.vocabulary!r} has {f.size} ids, the layout's vocabulary "
                    f"{f.vocabulary!r} {r.size}; set its size (and factor) in [[model.factorized]]"
                )
            ranges.append(attrs.evolve(f, start=r.start))
        return attrs.evolve(self, vocab_size=layout.total_size, factorized=tuple(ranges))

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
        projection (``V`` the head's rows, a factorized range counting its two factors' rows;
        the input lookup is a gather, not a matmul), and attention scores and values over a
        window of ``T = seq_len`` without halving for causality (PaLM App. B).
        """
        head_rows = self.embedding_rows + sum(f.factor + f.second for f in self.factorized)
        matmul_params = self.non_embedding_params + head_rows * self.d_model
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
