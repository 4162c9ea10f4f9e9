"""KV-cache decoding: bidirectional prefill of the prompt, then one target token per step.

Generation follows paper eq. 2: one modality at a time, with logits restricted to that
modality's vocabulary range and either an exact token count (``generate_tokens``) or a budget that
stops at an end-of-sequence id (``generate_tokens_until``). Every function acts on one prompt; batch
with ``jax.vmap`` (prompts of different lengths share a padded buffer via ``prefix_len``).

Tokenizers whose positions draw from different sub-ranges (an RVQ tokenizer's position ``i``
uses the codebook block of its residual level; see ``token_ranges`` in docs/plugin-api.md) pass
``block_starts``: the global first id of each generated position's block, all blocks ``vocab_size``
wide. Each position's logits are then computed over its own block only (``range_logits`` with a
per-step start), never over the whole modality range followed by a mask.

``generate_tokens`` also takes a traced ``length`` (decode that many tokens into a ``num_tokens``
buffer: one compilation serves every length of a bucket, with the tokens of an exact-count
decode), and every function takes the unconditional prompt for classifier-free guidance
(``Sampling.guidance``): a second KV-cached stream beside the conditioned one, fed the same
tokens, whose range logits ``u`` turn the conditioned ``c`` into ``c + w (c - u)``. Sampling
itself (prefiltered top-k / top-p) lives in ``_sampling.py``.
"""

from __future__ import annotations

from numbers import Integral
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from archon_framework._errors import ConfigError, VocabError
from archon_framework.model._layers import rope_positions
from archon_framework.model._prefix_lm import PrefixLM
from archon_framework.model._sampling import Sampling, sample_factorized, sample_token, sample_token_exact

__all__ = [
    "KVCache",
    "Sampling",
    "Generation",
    "prefill",
    "decode_step",
    "sample_token",
    "sample_token_exact",
    "sample_factorized",
    "generate_tokens",
    "generate_tokens_until",
    "generate_tokens_uncached",
]


class KVCache(NamedTuple):
    """Preallocated keys and values of every layer; entry ``i`` belongs to position ``i``.

    With multi-query attention ``kv_heads == 1`` (shared/notes model-specs.md Sec. 6).
    """

    keys: Float[Array, "layers cache kv_heads head"]
    values: Float[Array, "layers cache kv_heads head"]


class Generation(NamedTuple):
    """Result of ``generate_tokens_until``.

    Attributes:
        global_ids: The generated ids; every entry from the end-of-sequence id on is ``eos_id``.
        valid: True on generated content, False on the end-of-sequence id and after it.
        length: Number of content tokens (``valid.sum()``).
    """

    global_ids: Int[Array, " budget"]
    valid: Bool[Array, " budget"]
    length: Int[Array, ""]


def prefill(
    model: PrefixLM,
    prefix_tokens: Int[Array, " prefix"],
    prefix_len: Int[Array, ""] | int,
    cache_len: int,
    prefix_times: Int[Array, " prefix"] | None = None,
) -> tuple[KVCache, Float[Array, " embed"]]:
    """One bidirectional forward over the prompt; fills the cache and returns the last hidden state.

    Positions ``0 .. prefix_len - 1`` are prefix tokens attending to each other in both
    directions (never prefill a prefix token by token: that would make it causal). Buffer entries
    from ``prefix_len`` on are padding; their cache entries are overwritten by the decoded tokens.
    ``prefix_times`` gives each prompt token's time, ``[prefix]``, or its time, row and column,
    ``[prefix, 3]`` (``SerializedExample.times``; None: all 0), which models with ``time_pairs``
    or ``space_pairs`` rotate by.

    Returns:
        The cache (``cache_len`` entries) and the final-normed hidden state at ``prefix_len - 1``,
        which predicts the first target token.
    """
    p = prefix_tokens.shape[0]
    idx = jnp.arange(p)
    valid = idx < prefix_len
    mask = valid[:, None] & valid[None, :]  # [prefix, prefix] bidirectional over the prompt
    x = model.embed(jnp.where(valid, prefix_tokens, 0))  # [prefix, embed]; padding ids unchecked
    x, (keys, values) = model.run_blocks(x, rope_positions(idx, prefix_times), mask)  # keys: [layers, prefix, kv_heads, head]
    pad = ((0, 0), (0, cache_len - p), (0, 0), (0, 0))
    cache = KVCache(jnp.pad(keys, pad), jnp.pad(values, pad))  # [layers, cache, kv_heads, head]
    last = jax.lax.dynamic_index_in_dim(x, prefix_len - 1, axis=0, keepdims=False)  # [embed]
    return cache, model.final_norm(last[None])[0]


def decode_step(
    model: PrefixLM, cache: KVCache, token: Int[Array, ""], index: Int[Array, ""],
    time: Int[Array, ""] | Int[Array, " 3"] | int = 0,
) -> tuple[KVCache, Float[Array, " embed"]]:
    """Feed one token at position ``index`` (which is also its cache entry) and time ``time``
    (or its time, row and column, ``[3]``, for a model with ``space_pairs``).

    It attends to every cache entry ``<= index``: the whole prompt and the tokens decoded so far.

    Returns:
        The updated cache and the final-normed hidden state predicting the next token.
    """
    dynamic, static = eqx.partition(model.blocks, eqx.is_array)
    cache_len = cache.keys.shape[1]
    mask = (jnp.arange(cache_len) <= index)[None, :]  # [1, cache]
    positions = rope_positions(jnp.reshape(index, (1,)), jnp.asarray(time, jnp.int32)[None])  # time: [] or [3]

    def body(h, layer):
        layer_params, k_cache, v_cache = layer
        block = eqx.combine(layer_params, static)
        normed = block.norm_attn(h)
        q, k, v = block.attention.project(normed, positions)  # q: [1, heads, head]
        k_cache = jax.lax.dynamic_update_slice_in_dim(k_cache, k, index, axis=0)
        v_cache = jax.lax.dynamic_update_slice_in_dim(v_cache, v, index, axis=0)
        h = block.finish(h, normed, block.attention.attend(q, k_cache, v_cache, mask))
        return h, (k_cache, v_cache)

    x = model._lookup(token[None])  # [1, embed]
    x, (keys, values) = jax.lax.scan(body, x, (dynamic, cache.keys, cache.values))
    return KVCache(keys, values), model.final_norm(x)[0]


class _Streams(NamedTuple):
    """The conditioned decoding stream and, with guidance, the unconditioned one beside it."""

    caches: tuple[KVCache, ...]
    lengths: tuple  # real prompt length of each stream
    target_times: Array | None  # per generated position, its time (None: all 0)


def _start(model, prefix_tokens, prefix_len, budget: int, sampling: Sampling, uncond_tokens, uncond_len,
           times: tuple = (None, None, None)):
    """Prefill the conditioned prompt (and the unconditional one when guided).

    ``times``: the conditioned prompt's, the generated positions' and the unconditional prompt's
    token times (each None: all 0)."""
    prefix_times, target_times, uncond_times = times
    prompts = [(prefix_tokens, prefix_len, prefix_times)]
    if sampling.guidance != 0.0:
        if uncond_tokens is None:
            raise ConfigError(
                f"guidance {sampling.guidance} needs uncond_tokens: the prompt with its conditions removed"
            )
        prompts.append((uncond_tokens, uncond_tokens.shape[0] if uncond_len is None else uncond_len, uncond_times))
    caches, hidden, lengths = [], [], []
    for tokens, n, t in prompts:
        cache, h = prefill(model, tokens, n, tokens.shape[0] + budget, t)
        caches.append(cache)
        hidden.append(h)
        lengths.append(n)
    return _Streams(tuple(caches), tuple(lengths), target_times), tuple(hidden)


def _advance(model, streams: _Streams, token, step) -> tuple[_Streams, tuple]:
    """Feed generated token ``step - 1`` to every stream; the hidden states predicting ``step``."""
    caches, hidden = [], []
    time = 0 if streams.target_times is None else streams.target_times[step - 1]
    for cache, n in zip(streams.caches, streams.lengths):
        cache, h = decode_step(model, cache, token, n + step - 1, time)
        caches.append(cache)
        hidden.append(h)
    return _Streams(tuple(caches), streams.lengths, streams.target_times), tuple(hidden)


def _draw(
    model, hidden, key, step, sampling: Sampling, vocab_start, size: int, block_starts=None
) -> Int[Array, ""]:
    """Token ``step`` as a global id: range logits, sampled with ``fold_in(key, step)``.

    With ``block_starts`` the range of step ``s`` starts at ``block_starts[s]`` (traced). With
    two hidden states (guided) the logits are ``cond + w * (cond - uncond)``. A factorized range
    draws its two factors (``sample_factorized``); guidance, linear in the logits, applies to each
    factor's exactly as to the joint logits.
    """
    start = vocab_start if block_starts is None else block_starts[step]
    key = jax.random.fold_in(key, step)

    def guided(logits, uncond):
        return logits if uncond is None else logits + sampling.guidance * (logits - uncond)

    def exact(start):
        logits = [model._exact_logits(h, start, size) for h in hidden]  # [size] each
        return sample_token(guided(logits[0], logits[1] if len(hidden) > 1 else None), key, sampling)

    def factorized(index):
        la, lb = zip(*(model.factor_logits(h, index) for h in hidden))
        uncond = len(hidden) > 1
        return sample_factorized(guided(la[0], la[1] if uncond else None), guided(lb[0], lb[1] if uncond else None),
                                 key, sampling)

    local = model.dispatch_range(start, size, exact, factorized)
    return (local + start).astype(jnp.int32)


def _check(
    model: PrefixLM,
    prefix_buffer: int,
    budget: int,
    vocab_start,
    vocab_size: int | None,
    block_starts=None,
    uncond_tokens=None,
) -> int:
    size = model.vocab_size if vocab_size is None else vocab_size
    if budget < 1:
        raise ConfigError(f"generation needs at least one token, got num_tokens={budget}")
    if block_starts is not None:
        if vocab_size is None:
            raise ConfigError("block_starts needs vocab_size: the (static) width of every block")
        if jnp.ndim(block_starts) != 1 or jnp.shape(block_starts)[0] < budget:
            raise ConfigError(
                f"block_starts must be 1-D with one start per generated token ({budget}), got "
                f"shape {jnp.shape(block_starts)}"
            )
    longest = max(prefix_buffer, 0 if uncond_tokens is None else uncond_tokens.shape[0])
    if longest + budget > model.config.max_seq_len:
        raise ConfigError(
            f"prompt buffer {longest} + {budget} generated tokens exceeds the model config's "
            f"max_seq_len={model.config.max_seq_len}"
        )
    rows = model.vocab_size
    if isinstance(vocab_start, Integral) and not 0 <= vocab_start <= rows - size:  # type: ignore[operator]
        raise VocabError(
            f"generation range [{vocab_start}, {vocab_start + size}) lies outside the model's "
            f"{rows} ids"
        )
    return size


def _check_times(prefix_tokens, budget: int, prefix_times, target_times, uncond_tokens, uncond_times) -> None:
    """Each times array has one entry per token it times (a short one would be read clamped)."""
    for name, times, n, what in (
        ("prefix_times", prefix_times, prefix_tokens.shape[0], "prompt token"),
        ("target_times", target_times, budget, "generated position"),
        ("uncond_times", uncond_times, None if uncond_tokens is None else uncond_tokens.shape[0], "unconditional prompt token"),
    ):
        if times is None:
            continue
        shape = jnp.shape(times)
        if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 3)) or (n is not None and shape[0] < n):
            raise ConfigError(
                f"{name} must be [n] (a time) or [n, 3] (time, row, column) with one entry per {what} ({n}), "
                f"got shape {shape}"
            )


def generate_tokens(
    model: PrefixLM,
    prefix_tokens: Int[Array, " prefix"],
    *,
    num_tokens: int,
    key: PRNGKeyArray,
    sampling: Sampling = Sampling(),
    vocab_start: int | Int[Array, ""] = 0,
    vocab_size: int | None = None,
    prefix_len: int | Int[Array, ""] | None = None,
    block_starts: Int[Array, " num_tokens"] | None = None,
    length: Int[Array, ""] | None = None,
    uncond_tokens: Int[Array, " uncond"] | None = None,
    uncond_len: int | Int[Array, ""] | None = None,
    prefix_times: Int[Array, " prefix"] | None = None,
    target_times: Int[Array, " num_tokens"] | None = None,
    uncond_times: Int[Array, " uncond"] | None = None,
) -> Int[Array, " num_tokens"]:
    """Generate exactly ``num_tokens`` global ids from ``[vocab_start, vocab_start + vocab_size)``.

    Prefill once, then a ``lax.scan`` of ``num_tokens - 1`` cached decode steps (the last token
    is never fed back). Token ``s`` is drawn with ``jax.random.fold_in(key, s)``. Logits come
    from the range head only (``PrefixLM.range_logits``), so an id outside the target modality's
    range can never be produced.

    Args:
        model: The prefix LM.
        prefix_tokens: The prompt (global ids), possibly padded past ``prefix_len``.
        num_tokens: How many tokens to generate (static; the modality's exact token count), or
            the size of the output buffer when ``length`` is given.
        key: Sampling key (unused when greedy).
        sampling: Greedy or temperature / top-k / top-p, and the guidance weight.
        vocab_start: First global id of the target range (may be traced).
        vocab_size: Size of the target range (static); None means the whole vocabulary.
        prefix_len: Real prompt length when ``prefix_tokens`` is padded; defaults to its length.
        block_starts: Per generated position, the global first id of its block (may be traced);
            every block is ``vocab_size`` wide and ``vocab_start`` is then unused.
        length: A traced token count ``<= num_tokens``: only that many are decoded (a
            ``lax.while_loop``), the rest of the buffer is -1. With ``num_tokens`` a length
            bucket, outputs of every length in the bucket share one compilation, and token ``s``
            is the same as with ``num_tokens=length``.
        uncond_tokens: With ``sampling.guidance != 0``: the unconditional prompt (the same
            prompt with its condition payloads removed), possibly padded past ``uncond_len``.
        uncond_len: Its real length; defaults to its length.
        prefix_times, target_times, uncond_times: The time of each prompt token, of each
            generated position and of each unconditional prompt token (``SerializedExample.times``,
            ``PromptSerializer.slot_times``; ``[n]`` times or ``[n, 3]`` time, row and column), for
            models that rotate by them; None: all 0.

    Returns:
        ``int32[num_tokens]`` global ids.
    """
    p = prefix_tokens.shape[0]
    size = _check(model, p, num_tokens, vocab_start, vocab_size, block_starts, uncond_tokens)
    _check_times(prefix_tokens, num_tokens, prefix_times, target_times, uncond_tokens, uncond_times)
    prefix_len = p if prefix_len is None else prefix_len
    streams, hidden = _start(model, prefix_tokens, prefix_len, num_tokens, sampling, uncond_tokens, uncond_len,
                             (prefix_times, target_times, uncond_times))

    def draw(h, step):
        return _draw(model, h, key, step, sampling, vocab_start, size, block_starts)

    first = draw(hidden, 0)
    if length is not None:
        out = jnp.full((num_tokens,), -1, jnp.int32).at[0].set(first)

        def cond(state):
            return state[0] < length

        def step_fn(state):
            step, streams, prev, out = state
            streams, h = _advance(model, streams, prev, step)
            nxt = draw(h, step)
            return step + 1, streams, nxt, out.at[step].set(nxt)

        return jax.lax.while_loop(cond, step_fn, (jnp.int32(1), streams, first, out))[3]

    def body(carry, step):
        streams, prev = carry
        streams, h = _advance(model, streams, prev, step)
        nxt = draw(h, step)
        return (streams, nxt), nxt

    _, rest = jax.lax.scan(body, (streams, first), jnp.arange(1, num_tokens))
    return jnp.concatenate([first[None], rest])


def generate_tokens_until(
    model: PrefixLM,
    prefix_tokens: Int[Array, " prefix"],
    *,
    max_tokens: int,
    eos_id: int | Int[Array, ""],
    key: PRNGKeyArray,
    sampling: Sampling = Sampling(),
    vocab_start: int | Int[Array, ""] = 0,
    vocab_size: int | None = None,
    prefix_len: int | Int[Array, ""] | None = None,
    block_starts: Int[Array, " max_tokens"] | None = None,
    uncond_tokens: Int[Array, " uncond"] | None = None,
    uncond_len: int | Int[Array, ""] | None = None,
    prefix_times: Int[Array, " prefix"] | None = None,
    target_times: Int[Array, " max_tokens"] | None = None,
    uncond_times: Int[Array, " uncond"] | None = None,
) -> Generation:
    """Generate until the end-of-sequence id ``eos_id`` or ``max_tokens`` (free-length output).

    A ``lax.while_loop`` stops decoding at ``eos_id`` (under ``jax.vmap`` it runs until every
    prompt stopped). ``eos_id`` is a global id inside the target range. The token stream is the
    same as :func:`generate_tokens` would give up to and including the first ``eos_id``. ``eos_id`` may
    be traced (no recompilation per id), in which case its range is not checked here.
    ``block_starts``, guidance (``uncond_tokens``) and the token times work as in
    :func:`generate_tokens`.

    Raises:
        VocabError: ``eos_id`` is not in the target range.
    """
    p = prefix_tokens.shape[0]
    size = _check(model, p, max_tokens, vocab_start, vocab_size, block_starts, uncond_tokens)
    _check_times(prefix_tokens, max_tokens, prefix_times, target_times, uncond_tokens, uncond_times)
    if block_starts is None and isinstance(vocab_start, Integral) and isinstance(eos_id, Integral) and not (
        vocab_start <= eos_id < vocab_start + size
    ):
        raise VocabError(
            f"eos_id {eos_id} is outside the generation range [{vocab_start}, {vocab_start + size})"
        )
    prefix_len = p if prefix_len is None else prefix_len
    streams, hidden = _start(model, prefix_tokens, prefix_len, max_tokens, sampling, uncond_tokens, uncond_len,
                             (prefix_times, target_times, uncond_times))

    def draw(h, step):
        return _draw(model, h, key, step, sampling, vocab_start, size, block_starts)

    first = draw(hidden, 0)
    out = jnp.full((max_tokens,), eos_id, jnp.int32).at[0].set(first)

    def cond(state):
        step, _, prev, _ = state
        return (step < max_tokens) & (prev != eos_id)

    def body(state):
        step, streams, prev, out = state
        streams, h = _advance(model, streams, prev, step)
        nxt = draw(h, step)
        return step + 1, streams, nxt, out.at[step].set(nxt)

    _, _, _, out = jax.lax.while_loop(cond, body, (jnp.int32(1), streams, first, out))
    valid = jnp.cumsum(out == eos_id) == 0  # content before the first eos
    return Generation(global_ids=out, valid=valid, length=valid.sum().astype(jnp.int32))


def _last_hidden(model, buffer, times, n, step):
    """Full forward over ``buffer`` (prompt of ``n`` tokens + ``step`` generated); the state at the end."""
    idx = jnp.arange(buffer.shape[0])
    segment_ids = (idx < n + step).astype(jnp.int32)  # later positions are padding
    hidden = model.hidden_states(buffer, segment_ids=segment_ids, positions=rope_positions(idx, times), prefix_mask=idx < n)
    return jax.lax.dynamic_index_in_dim(hidden, n + step - 1, axis=0, keepdims=False)


def generate_tokens_uncached(
    model: PrefixLM,
    prefix_tokens: Int[Array, " prefix"],
    *,
    num_tokens: int,
    key: PRNGKeyArray,
    sampling: Sampling = Sampling(),
    vocab_start: int | Int[Array, ""] = 0,
    vocab_size: int | None = None,
    block_starts: Int[Array, " num_tokens"] | None = None,
    uncond_tokens: Int[Array, " uncond"] | None = None,
    prefix_times: Int[Array, " prefix"] | None = None,
    target_times: Int[Array, " num_tokens"] | None = None,
    uncond_times: Int[Array, " uncond"] | None = None,
) -> Int[Array, " num_tokens"]:
    """Reference generation without a cache: a full forward over the whole buffer per token.

    Same sampling, keys and guidance as :func:`generate_tokens`, so the two give the same ids; it
    exists to test the cache and to measure what the cache saves (``benchmarks/lm_decode.py``).
    """
    size = _check(model, prefix_tokens.shape[0], num_tokens, vocab_start, vocab_size, block_starts, uncond_tokens)
    _check_times(prefix_tokens, num_tokens, prefix_times, target_times, uncond_tokens, uncond_times)
    prompts = [(prefix_tokens, prefix_times)]
    if sampling.guidance != 0.0:
        if uncond_tokens is None:
            raise ConfigError(f"guidance {sampling.guidance} needs uncond_tokens: the prompt with its conditions removed")
        prompts.append((uncond_tokens, uncond_times))

    def clock(c, n):  # [n, 3] time, row and column (what is not given is 0)
        return rope_positions(jnp.zeros((n,), jnp.int32), None if c is None else jnp.asarray(c, jnp.int32)[:n])[:, 1:]

    buffers = tuple(jnp.zeros((t.shape[0] + num_tokens,), jnp.int32).at[: t.shape[0]].set(t) for t, _ in prompts)
    clocks = tuple(jnp.concatenate([clock(c, t.shape[0]), clock(target_times, num_tokens)]) for t, c in prompts)

    def body(buffers, step):
        hidden = tuple(_last_hidden(model, b, c, t.shape[0], step) for b, c, (t, _) in zip(buffers, clocks, prompts))
        tok = _draw(model, hidden, key, step, sampling, vocab_start, size, block_starts)
        buffers = tuple(
            jax.lax.dynamic_update_index_in_dim(b, tok, t.shape[0] + step, axis=0) for b, (t, _) in zip(buffers, prompts)
        )
        return buffers, tok

    _, tokens = jax.lax.scan(body, buffers, jnp.arange(num_tokens))
    return tokens
