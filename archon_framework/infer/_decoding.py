"""Jitted decoding and scoring of one chain step with the prefix LM.

Prompts are padded to a power-of-two bucket (the real length is traced), and every step uses
per-position blocks (``block_starts``, a traced array; the block width is static), so a whole
chain compiles once per (output modality, clip length, bucket) whatever its prompts hold.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from archon_framework._errors import ConfigError, PluginError
from archon_framework._vocab import VocabRange
from archon_framework.model import PrefixLM, Sampling, generate, generate_until

__all__ = ["StepRanges", "step_ranges", "bucket", "free_budget", "decode_fixed", "decode_until", "score_target"]

_MIN_BUCKET = 64


class StepRanges:
    """Where each generated position may draw from: global block starts and one static width.

    Attributes:
        starts: int32 [n] global first id of each position's block.
        width: the block width (the whole range for tokenizers without ``token_ranges``).
    """

    def __init__(self, starts: np.ndarray, width: int) -> None:
        self.starts = np.asarray(starts, dtype=np.int32)
        self.width = int(width)

    def contains(self, global_ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(global_ids)
        s = self.starts[: ids.shape[0]]
        return (ids >= s) & (ids < s + self.width)


def step_ranges(tokenizer: object, rng: VocabRange, n: int, *, modality: str) -> StepRanges:
    """The per-position ranges of ``n`` tokens of a modality (see ``token_ranges`` in the docs).

    A tokenizer with ``token_ranges(n) -> int64 [n, 2]`` (local ``[lo, hi)`` per position, all of
    one width) restricts each position to its block; others allow the whole vocabulary range.

    Raises:
        PluginError: ``token_ranges`` returned a malformed table (named by modality).
    """
    fn = getattr(tokenizer, "token_ranges", None)
    if fn is None:
        return StepRanges(np.full(n, rng.start, np.int32), rng.size)
    table = np.asarray(fn(n))
    if table.shape != (n, 2) or not np.issubdtype(table.dtype, np.integer):
        raise PluginError(f"modality {modality!r}: token_ranges({n}) must be an int array of shape ({n}, 2), got {table.dtype} {table.shape}")
    lo, hi = table[:, 0].astype(np.int64), table[:, 1].astype(np.int64)
    widths = hi - lo
    if n and (np.any(widths != widths[0]) or widths[0] <= 0):
        raise PluginError(f"modality {modality!r}: token_ranges rows must all have one positive width, got {sorted(set(widths.tolist()))[:5]}")
    if n and (lo.min() < 0 or hi.max() > rng.size):
        raise PluginError(f"modality {modality!r}: token_ranges leave the vocabulary 0..{rng.size - 1} (rows {lo.min()}..{hi.max()})")
    return StepRanges(lo + rng.start, int(widths[0]) if n else rng.size)


def bucket(prefix_len: int, budget: int, max_seq_len: int) -> int:
    """The padded prompt length: the next power of two >= the prompt, within max_seq_len - budget."""
    room = max_seq_len - budget
    if prefix_len > room:
        raise ConfigError(
            f"the prompt has {prefix_len} tokens and the step generates {budget}: {prefix_len + budget} exceeds the "
            f"model's max_seq_len={max_seq_len}; use a shorter clip or a model with a longer context"
        )
    size = max(_MIN_BUCKET, 1 << max(0, (prefix_len - 1).bit_length()))
    return min(size, room)


def free_budget(prefix_len: int, budget: int, max_seq_len: int) -> int:
    """The token budget of a free-length output that fits after the prompt's padded bucket.

    Keeping the budget within ``max_seq_len - bucket`` (rather than ``- prefix_len``) lets
    prompts of similar lengths share one compilation; 0 when not even one token fits.
    """
    size = max(_MIN_BUCKET, 1 << max(0, (prefix_len - 1).bit_length()))
    if size + 1 > max_seq_len:
        size = prefix_len
    return max(0, min(budget, max_seq_len - size))


def _padded(prompt: np.ndarray, size: int) -> jnp.ndarray:
    buf = np.zeros(size, np.int32)
    buf[: prompt.shape[0]] = prompt
    return jnp.asarray(buf)


@eqx.filter_jit
def _fixed(lm, buffer, prefix_len, key, starts, num_tokens: int, width: int, sampling: Sampling):
    return generate(lm, buffer, num_tokens=num_tokens, key=key, sampling=sampling,
                    vocab_size=width, prefix_len=prefix_len, block_starts=starts)


@eqx.filter_jit
def _until(lm, buffer, prefix_len, key, starts, eos, max_tokens: int, width: int, sampling: Sampling):
    return generate_until(lm, buffer, max_tokens=max_tokens, eos_id=eos, key=key, sampling=sampling,
                          vocab_size=width, prefix_len=prefix_len, block_starts=starts)


def decode_fixed(lm: PrefixLM, prompt: np.ndarray, ranges: StepRanges, key: jax.Array, sampling: Sampling) -> np.ndarray:
    """Exactly ``len(ranges.starts)`` global ids after ``prompt``, with the KV cache."""
    n = ranges.starts.shape[0]
    size = bucket(prompt.shape[0], n, lm.config.max_seq_len)
    out = _fixed(lm, _padded(prompt, size), jnp.int32(prompt.shape[0]), key, jnp.asarray(ranges.starts),
                 n, ranges.width, sampling)
    return np.asarray(out, dtype=np.int32)


def decode_until(lm: PrefixLM, prompt: np.ndarray, ranges: StepRanges, eos: int, key: jax.Array,
                 sampling: Sampling) -> tuple[np.ndarray, bool]:
    """Free-length ids until ``eos`` within ``len(ranges.starts)``; (ids without eos, ended)."""
    n = ranges.starts.shape[0]
    size = bucket(prompt.shape[0], n, lm.config.max_seq_len)
    gen = _until(lm, _padded(prompt, size), jnp.int32(prompt.shape[0]), key, jnp.asarray(ranges.starts),
                 jnp.int32(eos), n, ranges.width, sampling)
    length = int(gen.length)
    ids = np.asarray(gen.global_ids, dtype=np.int32)
    ended = length < n and int(ids[length]) == eos
    return ids[:length], ended


@eqx.filter_jit
def _nll(lm, tokens, real_len, prefix_len, starts, width: int):
    size = tokens.shape[0]
    idx = jnp.arange(size)
    hidden = lm.hidden_states(tokens, segment_ids=(idx < real_len).astype(jnp.int32), positions=idx,
                              prefix_mask=idx < prefix_len)
    pred = jnp.roll(hidden, 1, axis=0)  # pred[i] = hidden[i - 1] predicts token i

    def one(args):
        h, start, tok = args
        logits = lm.range_logits(h, start, width)
        return jax.nn.logsumexp(logits) - logits[jnp.clip(tok - start, 0, width - 1)]

    nll = jax.lax.map(one, (pred, starts, tokens))
    mask = (idx >= prefix_len) & (idx < real_len)
    return jnp.where(mask, nll, 0.0).sum(), mask.sum()


def score_target(lm: PrefixLM, tokens: np.ndarray, prefix_len: int, ranges: StepRanges) -> tuple[float, int]:
    """Teacher-forced NLL (nats, summed) of the target ``tokens[prefix_len:]`` and its length.

    Each target token is scored by the same restricted-range softmax that decoding samples
    from (``ranges`` gives one block per target position).
    """
    n = tokens.shape[0]
    size = max(_MIN_BUCKET, 1 << max(0, (n - 1).bit_length()))
    if n > lm.config.max_seq_len:
        raise ConfigError(f"a scored sequence of {n} tokens exceeds the model's max_seq_len={lm.config.max_seq_len}")
    size = min(size, lm.config.max_seq_len)
    starts = np.zeros(size, np.int32)
    starts[prefix_len:n] = ranges.starts[: n - prefix_len]
    total, count = _nll(lm, _padded(tokens, size), jnp.int32(n), jnp.int32(prefix_len), jnp.asarray(starts), ranges.width)
    return float(total), int(count)
