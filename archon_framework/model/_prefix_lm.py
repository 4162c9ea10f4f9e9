"""The PaLM-style prefix LM: a decoder with tied embeddings over the unified vocabulary."""

from __future__ import annotations

from pathlib import Path
from numbers import Integral

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from archon_framework._errors import CheckpointError, ConfigError, VocabError
from archon_framework.config import load_config, save_config
from archon_framework.model._config import PrefixLMConfig
from archon_framework.model._layers import Block, RMSNorm
from archon_framework.model._mask import prefix_lm_mask

__all__ = [
    "PrefixLM",
    "grow_vocab",
    "save_prefix_lm",
    "load_prefix_lm",
]


_UNROLL_LAYERS = 8  # deeper models scan over their layers rolled


class PrefixLM(eqx.Module):
    """PaLM-style prefix LM over a packed window (paper Sec. 3.2; PaLM Sec. 2).

    ``h_0 = E[tokens]``; ``h_l = Block_l(h_{l-1})`` under :func:`prefix_lm_mask`;
    ``logits = RMSNorm(h_L) E^T / sqrt(d)``. The output projection is the input embedding
    ``E ~ N(0, 1)`` (tied, PaLM's "shared input-output embeddings"), hence the ``1/sqrt(d)``.
    The blocks are stored stacked (every array has a leading ``n_layers`` axis) and run with
    ``lax.scan``, unrolled for shallow models (up to 8 layers) and rolled beyond, so compile
    time does not grow with depth. Acts on one window; ``jax.vmap``
    for a batch.

    **Factorized ranges** (``config.factorized``, MAGVIT-v2's LM over its 2^18 codes): the ids of
    such a range have no embedding row. Local id ``i = a |B| + b`` is embedded as ``A[a] + B[b]``
    and predicted through the same two tables (tied): joint logit ``l_A[a] + l_B[b]``, so
    ``log p(i) = log softmax(l_A)[a] + log softmax(l_B)[b]`` (``_head.py``). The embedding keeps
    the rows of every other id, in id order (``config.embedding_rows`` of them); ``A`` and ``B``
    are drawn N(0, 1/2), so an embedded sum and a joint logit have the scale of an exact row's.
    """

    embedding: Float[Array, "rows embed"]
    blocks: Block
    final_norm: RMSNorm
    factor_embeddings: tuple[tuple[Float[Array, "factor embed"], Float[Array, "second embed"]], ...]
    config: PrefixLMConfig = eqx.field(static=True)

    def __init__(self, config: PrefixLMConfig, *, key: PRNGKeyArray):
        k_emb, k_blocks = jax.random.split(key)
        self.config = config
        self.embedding = jax.random.normal(
            k_emb, (config.embedding_rows, config.d_model), jnp.float32
        ).astype(config.jnp_dtype)
        block_keys = jax.random.split(k_blocks, config.n_layers)
        self.blocks = eqx.filter_vmap(lambda k: Block(config, key=k))(block_keys)
        self.final_norm = RMSNorm(config.d_model, dtype=config.jnp_dtype)
        tables = []
        for i, f in enumerate(config.factorized):  # no key drawn without factorized ranges: old models unchanged
            ka, kb = jax.random.split(jax.random.fold_in(k_emb, i + 1))
            tables.append(tuple(
                (jax.random.normal(k, (n, config.d_model), jnp.float32) * 0.5**0.5).astype(config.jnp_dtype)
                for k, n in ((ka, f.factor), (kb, f.second))))
        self.factor_embeddings = tuple(tables)

    @property
    def vocab_size(self) -> int:
        """Ids of the unified vocabulary the model reads and predicts (``config.vocab_size``)."""
        return self.config.vocab_size

    def embedding_row(self, global_ids):
        """The embedding row of ids outside the factorized ranges (ints or an int array)."""
        rows = global_ids
        for f in self.config.factorized:
            rows = rows - (jnp.where(global_ids >= f.stop, f.size, 0) if isinstance(global_ids, jax.Array)
                           else (f.size if global_ids >= f.stop else 0))
        return rows

    def factorized_index(self, start: int, size: int) -> int | None:
        """Index of the factorized range ``[start, start + size)`` (static ints), None for an
        exact range.

        Raises:
            VocabError: the range cuts into a factorized range without being it.
        """
        for i, f in enumerate(self.config.factorized):
            if (start, size) == (f.start, f.size):
                return i
            if start < f.stop and f.start < start + size:
                raise VocabError(
                    f"vocabulary range [{start}, {start + size}) cuts into the factorized range {f.vocabulary!r} "
                    f"[{f.start}, {f.stop}); a factorized range is predicted whole (model config [[model.factorized]])"
                )
        return None

    def factor_logits(self, hidden: Float[Array, "*seq embed"], index: int
                      ) -> tuple[Float[Array, "*seq factor"], Float[Array, "*seq second"]]:
        """Both factors' logits ``(h A^T, h B^T) / sqrt(d)`` of factorized range ``index``."""
        a_rows, b_rows = self.factor_embeddings[index]
        return _project(hidden, a_rows), _project(hidden, b_rows)

    def _lookup(self, tokens: Int[Array, "*seq"]) -> Float[Array, "*seq embed"]:
        """Input embeddings of valid ids (no check): rows, or ``A[a] + B[b]`` in a factorized range."""
        if not self.config.factorized:
            return jnp.take(self.embedding, tokens, axis=0)
        x = jnp.take(self.embedding, jnp.clip(self.embedding_row(tokens), 0, self.embedding.shape[0] - 1), axis=0)
        for f, (a_rows, b_rows) in zip(self.config.factorized, self.factor_embeddings):
            local = tokens - f.start
            inside = (local >= 0) & (local < f.size)
            local = jnp.clip(local, 0, f.size - 1)
            x = jnp.where(inside[..., None], a_rows[local // f.second] + b_rows[local % f.second], x)
        return x

    def run_blocks(
        self,
        x: Float[Array, "seq embed"],
        positions: Int[Array, " seq"] | Int[Array, "seq axes"],
        mask: Bool[Array, "seq seq"],
    ) -> tuple[Float[Array, "seq embed"], tuple[Float[Array, "layers seq kv_heads head"], ...]]:
        """All blocks over ``x``; also returns each layer's keys and values (for a KV cache)."""
        dynamic, static = eqx.partition(self.blocks, eqx.is_array)

        def body(h, layer_params):
            block = eqx.combine(layer_params, static)
            normed = block.norm_attn(h)
            q, k, v = block.attention.project(normed, positions)
            h = block.finish(h, normed, block.attention.attend(q, k, v, mask))
            return h, (k, v)

        # Unrolled up to _UNROLL_LAYERS layers: a rolled scan cost ~12% of the blocks' time on the
        # CPU (per-layer slicing of the stacked weights, stacking of the backward's residuals)
        # and compiled no faster at 4 layers (benchmarks/lm_step_vs_handwritten.py --parts).
        unroll = self.config.n_layers if self.config.n_layers <= _UNROLL_LAYERS else 1
        x, (keys, values) = jax.lax.scan(body, x, dynamic, unroll=unroll)  # keys: [layers, seq, kv_heads, head]
        return x, (keys, values)

    def embed(self, tokens: Int[Array, " seq"]) -> Float[Array, "seq embed"]:
        """Input embeddings of ``tokens``; an id outside the vocabulary is a runtime error."""
        vocab = self.config.vocab_size
        tokens = eqx.error_if(
            tokens,
            (tokens < 0) | (tokens >= vocab),
            f"a token id lies outside the model's vocabulary 0..{vocab - 1}: the data was made "
            "under another vocabulary layout, or the model needs grow_vocab",
        )
        return self._lookup(tokens)

    def hidden_states(
        self,
        tokens: Int[Array, " seq"],
        *,
        segment_ids: Int[Array, " seq"],
        positions: Int[Array, " seq"] | Int[Array, "seq axes"],
        prefix_mask: Bool[Array, " seq"],
    ) -> Float[Array, "seq embed"]:
        """Final-normed hidden states of a packed window."""
        mask = prefix_lm_mask(segment_ids, prefix_mask.astype(bool))
        x = self.embed(tokens)  # [seq, embed]
        x, _ = self.run_blocks(x, positions, mask)
        return self.final_norm(x)

    def logits(self, hidden: Float[Array, "*seq embed"]) -> Float[Array, "*seq vocab"]:
        """Full-vocabulary logits (float32) through the tied embedding (a factorized range's
        entries are its joint logits ``l_A[a] + l_B[b]``)."""
        if not self.config.factorized:
            return _project(hidden, self.embedding)
        parts, at = [], 0
        for i, f in sorted(enumerate(self.config.factorized), key=lambda x: x[1].start):
            if f.start > at:
                parts.append(self._exact_logits(hidden, at, f.start - at))
            parts.append(self._joint_logits(hidden, i))
            at = f.stop
        if at < self.config.vocab_size:
            parts.append(self._exact_logits(hidden, at, self.config.vocab_size - at))
        return jnp.concatenate(parts, axis=-1)

    def _exact_logits(self, hidden, start, size: int):
        """Logits of an exact range (``start`` a global id, static or traced)."""
        rows = jax.lax.dynamic_slice_in_dim(self.embedding, self.embedding_row(start), size, axis=0)  # [size, embed]
        return _project(hidden, rows)

    def _joint_logits(self, hidden, index: int):
        """A factorized range's logits over all its ids, ``l_A[a] + l_B[b]`` at ``a |B| + b``."""
        la, lb = self.factor_logits(hidden, index)
        return (la[..., :, None] + lb[..., None, :]).reshape(*la.shape[:-1], -1)

    def range_logits(
        self, hidden: Float[Array, "*seq embed"], start: int | Int[Array, ""], size: int
    ) -> Float[Array, "*seq size"]:
        """Logits over the vocabulary slice ``[start, start + size)`` only.

        Only ``size`` embedding rows are read (``lax.dynamic_slice``), never the whole matrix, so
        generating a modality costs ``O(size)`` rather than ``O(vocab)`` (shared/notes
        perf-baseline.md Sec. 3: 25x faster head at 550K ids). ``size`` is static; ``start`` may be
        traced. Entry ``i`` is the logit of global id ``start + i``. A factorized range gives its
        joint logits (``[..., size]``; sampling uses :meth:`factor_logits` instead).

        Raises:
            VocabError: ``start``/``size`` fall outside the embedding (a traced ``start`` is
                checked at run time with ``eqx.error_if``, as XLA would clamp it silently).
        """
        return self.dispatch_range(start, size, lambda s: self._exact_logits(hidden, s, size),
                                   lambda i: self._joint_logits(hidden, i))

    def dispatch_range(self, start, size: int, exact, factorized):
        """``exact(start)`` for an exact range, ``factorized(index)`` for a factorized one.

        With a static ``start`` the choice is made here; with a traced one, a ``lax.cond`` on
        ``start`` between the exact head and each factorized range of width ``size``.

        Raises:
            VocabError: the range leaves the vocabulary or cuts into a factorized range (a traced
                ``start`` is checked at run time with ``eqx.error_if``, as XLA would clamp it silently).
        """
        vocab = self.config.vocab_size
        if not 0 < size <= vocab:
            raise VocabError(f"range size {size} must be in 1..{vocab} (the model's vocabulary)")
        if isinstance(start, Integral):
            if not 0 <= start <= vocab - size:  # type: ignore[operator]
                raise VocabError(
                    f"vocabulary range [{start}, {start + size}) lies outside the model's "
                    f"{vocab} ids; grow the model with grow_vocab or fix the layout range"
                )
            index = self.factorized_index(int(start), size)
            return exact(start) if index is None else factorized(index)
        # Traced: XLA would clamp a bad start, so check at run time.
        bad = (start < 0) | (start > vocab - size)
        for f in self.config.factorized:
            bad = bad | ((start < f.stop) & (f.start < start + size) & ((f.start != start) | (f.size != size)))
        start = eqx.error_if(start, bad, f"a vocabulary range of {size} ids starts outside the model's {vocab} ids "
                             "or cuts into a factorized range")
        same = [i for i, f in enumerate(self.config.factorized) if f.size == size]
        if size <= self.embedding.shape[0]:
            out = lambda: exact(start)  # noqa: E731
        else:  # no exact range this wide: one of the factorized ones is meant (the check above)
            out = (lambda i: lambda: factorized(i))(same.pop())
        for i in same:
            out = (lambda i, other: lambda: jax.lax.cond(
                start == self.config.factorized[i].start, lambda: factorized(i), other))(i, out)  # noqa: B023 (i is bound)
        return out()

    def __call__(
        self,
        tokens: Int[Array, " seq"],
        *,
        segment_ids: Int[Array, " seq"],
        positions: Int[Array, " seq"] | Int[Array, "seq axes"],
        prefix_mask: Bool[Array, " seq"],
    ) -> Float[Array, "seq vocab"]:
        """Full-vocabulary logits at every position of a packed window (see ``prefix_lm_mask``)."""
        hidden = self.hidden_states(
            tokens, segment_ids=segment_ids, positions=positions, prefix_mask=prefix_mask
        )
        return self.logits(hidden)


def _project(
    hidden: Float[Array, "*seq embed"], rows: Float[Array, "n embed"]
) -> Float[Array, "*seq n"]:
    scale = hidden.shape[-1] ** -0.5
    return jnp.einsum("...d,vd->...v", hidden, rows, preferred_element_type=jnp.float32) * scale


def grow_vocab(model: PrefixLM, new_vocab_size: int, *, key: PRNGKeyArray) -> PrefixLM:
    """Append embedding rows for a grown vocabulary layout; the old rows are untouched.

    New rows are drawn like the originals (N(0, 1)), so a new modality's ids start from the
    same distribution as the model's initial ones. Old ids keep their exact rows, which is what
    lets a layout extended with a new plugin load an old checkpoint.

    Raises:
        VocabError: ``new_vocab_size`` is smaller than the current vocabulary.
    """
    old = model.vocab_size
    if new_vocab_size < old:
        raise VocabError(
            f"grow_vocab: new vocabulary size {new_vocab_size} is smaller than the model's {old}; "
            "a layout may only append vocabularies"
        )
    if new_vocab_size == old:
        return model
    new_rows = jax.random.normal(key, (new_vocab_size - old, model.config.d_model), jnp.float32)
    embedding = jnp.concatenate([model.embedding, new_rows.astype(model.embedding.dtype)], axis=0)
    # The config is a static field, so build the grown module's skeleton and move the arrays in.
    skeleton = eqx.filter_eval_shape(
        PrefixLM, model.config.replace(vocab_size=new_vocab_size), key=jax.random.key(0)
    )
    grown = eqx.tree_at(
        lambda m: (m.embedding, m.blocks, m.final_norm),
        skeleton,
        (embedding, model.blocks, model.final_norm),
    )
    if model.factor_embeddings:  # the factorized ranges keep their tables (new ids come after them)
        grown = eqx.tree_at(lambda m: m.factor_embeddings, grown, model.factor_embeddings)
    return grown


_WEIGHTS, _CONFIG = "weights.eqx", "config.json"


def save_prefix_lm(folder: str | Path, model: PrefixLM) -> None:
    """Write ``weights.eqx`` (``eqx.tree_serialise_leaves``, no pickle) and ``config.json``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_config(model.config, folder / _CONFIG)
    eqx.tree_serialise_leaves(folder / _WEIGHTS, model)


def load_prefix_lm(folder: str | Path) -> PrefixLM:
    """Read a model written by :func:`save_prefix_lm`.

    Raises:
        CheckpointError: a file is missing or does not match its config.
    """
    folder = Path(folder)
    for name in (_CONFIG, _WEIGHTS):
        if not (folder / name).is_file():
            raise CheckpointError(f"{folder / name} is missing; save the model with save_prefix_lm")
    try:
        config = load_config(folder / _CONFIG, PrefixLMConfig)
    except ConfigError as err:
        raise CheckpointError(f"{folder / _CONFIG}: not a prefix-LM config ({err})") from err
    skeleton = eqx.filter_eval_shape(PrefixLM, config, key=jax.random.key(0))
    try:
        return eqx.tree_deserialise_leaves(folder / _WEIGHTS, skeleton)
    except (RuntimeError, ValueError) as err:
        raise CheckpointError(
            f"{folder / _WEIGHTS} does not match {folder / _CONFIG}: {err}"
        ) from err
