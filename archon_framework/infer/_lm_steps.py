"""Jitted decoding and scoring of one chain step with the prefix LM.

Prompts are padded to a bucket of a ladder of sizes 2^k and 1.5 x 2^k (the real length is
traced), fixed-length outputs are decoded into a buffer of the same ladder with their real
token count traced (``generate_tokens``'s
``length``: the tokens are those of an exact-count decode on the same key), and every step uses
per-position blocks (``block_starts``, a traced array; the block width is static). A chain
step therefore compiles once per (output modality, prompt bucket, target bucket): clips of
other lengths within the buckets reuse it (issue 27: a new clip length compiled again).

With ``Sampling.guidance`` the step also decodes the unconditional prompt (the same prompt
with its condition payloads removed, ``unconditional_prompt``) beside it, for classifier-free
guidance.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from archon_framework._codec import StepRanges
from archon_framework._errors import ConfigError
from archon_framework._vocab import VocabRange
from archon_framework.data import coordinates
from archon_framework.model import PrefixLM, Sampling, generate_tokens, generate_tokens_until, rope_positions

__all__ = [
    "StepRanges",
    "step_ranges",
    "bucket",
    "target_bucket",
    "free_budget",
    "decode_fixed",
    "decode_until",
    "score_target",
]

_MIN_BUCKET = 64
_MIN_TARGET_BUCKET = 16


def step_ranges(tokenizer: object, rng: VocabRange, n: int, *, modality: str) -> StepRanges:
    """The per-position ranges of ``n`` tokens of a modality (``StepRanges.of``).

    A `BlockedTokenizer` (``token_ranges(n)``, validated by ``validated_ranges``) restricts each
    position to its block; other tokenizers allow the whole vocabulary range. Within a chain
    step the modality's `SlotCodec.ranges` gives the same, cached.

    Raises:
        PluginError: ``token_ranges`` returned a malformed table (named by modality).
    """
    return StepRanges.of(modality, tokenizer, rng, n)


def _ladder(n: int, minimum: int) -> int:
    """The smallest of 2^k and 3 * 2^(k-1) (64, 96, 128, 192, 256, 384, ...) >= max(n, minimum):
    few distinct sizes, and a padded prompt at most 1.5x the real one."""
    n = max(n, minimum)
    size = 1 << max(0, (n - 1).bit_length())
    return 3 * size // 4 if 3 * size // 4 >= n else size


def bucket(prefix_len: int, budget: int, max_seq_len: int) -> int:
    """The padded prompt length: the next ladder size >= the prompt, within max_seq_len - budget."""
    room = max_seq_len - budget
    if prefix_len > room:
        raise ConfigError(
            f"the prompt has {prefix_len} tokens and the step generates {budget}: {prefix_len + budget} exceeds the "
            f"model's max_seq_len={max_seq_len}; use a shorter clip or a model with a longer context"
        )
    return min(_ladder(prefix_len, _MIN_BUCKET), room)


def target_bucket(num_tokens: int, prefix_len: int, max_seq_len: int) -> int:
    """The output buffer of a fixed-length step: the next ladder size >= ``num_tokens`` (16, 24,
    32, 48, 64, ...), or what is left after the prompt when that does not fit.

    The prompt's bucket is then taken within ``max_seq_len - target_bucket``, so both depend
    on the lengths only through their buckets (a long prompt near the context's end included).
    """
    size = _ladder(num_tokens, _MIN_TARGET_BUCKET)
    if prefix_len + size > max_seq_len:
        return max(num_tokens, max_seq_len - prefix_len)
    return size


def free_budget(prefix_len: int, budget: int, max_seq_len: int) -> int:
    """The token budget of a free-length output that fits after the prompt's padded bucket.

    Keeping the budget within ``max_seq_len - bucket`` (rather than ``- prefix_len``) lets
    prompts of similar lengths share one compilation; 0 when not even one token fits.
    """
    size = _ladder(prefix_len, _MIN_BUCKET)
    if size + 1 > max_seq_len:
        size = prefix_len
    return max(0, min(budget, max_seq_len - size))


def _padded(prompt: np.ndarray, size: int) -> jnp.ndarray:
    buf = np.zeros(size, np.int32)
    buf[: prompt.shape[0]] = prompt
    return jnp.asarray(buf)


def _uncond(uncond: np.ndarray | None, budget: int, max_seq_len: int, times: np.ndarray | None = None):
    """The padded unconditional prompt, its length and its token times (None, None, None when
    not guided)."""
    if uncond is None:
        return None, None, None
    size = bucket(uncond.shape[0], budget, max_seq_len)
    return _padded(uncond, size), jnp.int32(uncond.shape[0]), _times(times, size)


def _times(times: np.ndarray | None, size: int) -> jnp.ndarray:
    """Token times (`SerializedExample.times`: ``[n]`` or ``[n, 3]``; None all 0) as ``[size, 3]``
    time, row and column, padded with 0 (`coordinates`); each model reads the axes it rotates by."""
    return jnp.asarray(coordinates(times, size))


def _block_starts(ranges: StepRanges, size: int) -> jnp.ndarray:
    starts = ranges.starts
    pad = np.full(size - starts.shape[0], starts[-1] if starts.shape[0] else 0, np.int32)  # never drawn
    return jnp.asarray(np.concatenate([starts, pad]))


@eqx.filter_jit
def _fixed(lm, buffer, prefix_len, key, starts, length, uncond, uncond_len, times, num_tokens: int, width: int,
           sampling: Sampling):
    prefix_times, target_times, uncond_times = times
    return generate_tokens(lm, buffer, num_tokens=num_tokens, key=key, sampling=sampling, vocab_size=width,
                           prefix_len=prefix_len, block_starts=starts, length=length, uncond_tokens=uncond,
                           uncond_len=uncond_len, prefix_times=prefix_times, target_times=target_times,
                           uncond_times=uncond_times)


@eqx.filter_jit
def _until(lm, buffer, prefix_len, key, starts, eos, uncond, uncond_len, times, max_tokens: int, width: int,
           sampling: Sampling):
    prefix_times, target_times, uncond_times = times
    return generate_tokens_until(lm, buffer, max_tokens=max_tokens, eos_id=eos, key=key, sampling=sampling,
                                 vocab_size=width, prefix_len=prefix_len, block_starts=starts, uncond_tokens=uncond,
                                 uncond_len=uncond_len, prefix_times=prefix_times, target_times=target_times,
                                 uncond_times=uncond_times)


def _check_guidance(sampling: Sampling, uncond: np.ndarray | None) -> np.ndarray | None:
    if sampling.guidance == 0.0:
        return None
    if uncond is None:
        raise ConfigError(f"guidance {sampling.guidance} needs the unconditional prompt (the conditions removed)")
    return uncond


def decode_fixed(lm: PrefixLM, prompt: np.ndarray, ranges: StepRanges, key: jax.Array, sampling: Sampling,
                 uncond: np.ndarray | None = None, times: tuple = (None, None, None)) -> np.ndarray:
    """Exactly ``len(ranges.starts)`` global ids after ``prompt``, with the KV cache.

    ``uncond`` is the unconditional prompt, read when ``sampling.guidance`` is not 0. ``times``:
    the token times of the prompt, of the generated positions and of the unconditional prompt
    (``SerializedExample.times``, ``PromptSerializer.slot_times``; each None: all 0).
    """
    n = ranges.starts.shape[0]
    max_len = lm.config.max_seq_len
    uncond = _check_guidance(sampling, uncond)
    longest = prompt.shape[0] if uncond is None else max(prompt.shape[0], uncond.shape[0])
    buf = target_bucket(n, longest, max_len)
    size = bucket(prompt.shape[0], buf, max_len)
    u_tokens, u_len, u_times = _uncond(uncond, buf, max_len, times[2])
    clocks = (_times(times[0], size), _times(times[1], buf), u_times)
    out = _fixed(lm, _padded(prompt, size), jnp.int32(prompt.shape[0]), key, _block_starts(ranges, buf),
                 jnp.int32(n), u_tokens, u_len, clocks, buf, ranges.width, sampling)
    return np.asarray(out, dtype=np.int32)[:n]


def decode_until(lm: PrefixLM, prompt: np.ndarray, ranges: StepRanges, eos: int, key: jax.Array,
                 sampling: Sampling, uncond: np.ndarray | None = None,
                 times: tuple = (None, None, None)) -> tuple[np.ndarray, bool]:
    """Free-length ids until ``eos`` within ``len(ranges.starts)``; (ids without eos, ended).
    ``times`` as in `decode_fixed`."""
    n = ranges.starts.shape[0]
    size = bucket(prompt.shape[0], n, lm.config.max_seq_len)
    u_tokens, u_len, u_times = _uncond(_check_guidance(sampling, uncond), n, lm.config.max_seq_len, times[2])
    clocks = (_times(times[0], size), _times(times[1], n), u_times)
    gen = _until(lm, _padded(prompt, size), jnp.int32(prompt.shape[0]), key, jnp.asarray(ranges.starts),
                 jnp.int32(eos), u_tokens, u_len, clocks, n, ranges.width, sampling)
    length = int(gen.length)
    ids = np.asarray(gen.global_ids, dtype=np.int32)
    ended = length < n and int(ids[length]) == eos
    return ids[:length], ended


@eqx.filter_jit
def _nll(lm, tokens, times, real_len, prefix_len, starts, width: int):
    size = tokens.shape[0]
    idx = jnp.arange(size)
    hidden = lm.hidden_states(tokens, segment_ids=(idx < real_len).astype(jnp.int32),
                              positions=rope_positions(idx, times), prefix_mask=idx < prefix_len)
    pred = jnp.roll(hidden, 1, axis=0)  # pred[i] = hidden[i - 1] predicts token i

    def one(args):
        h, start, tok = args
        logits = lm.range_logits(h, start, width)
        return jax.nn.logsumexp(logits) - logits[jnp.clip(tok - start, 0, width - 1)]

    nll = jax.lax.map(one, (pred, starts, tokens))
    mask = (idx >= prefix_len) & (idx < real_len)
    return jnp.where(mask, nll, 0.0).sum(), mask.sum()


def score_target(lm: PrefixLM, tokens: np.ndarray, prefix_len: int, ranges: StepRanges,
                 times: np.ndarray | None = None) -> tuple[float, int]:
    """Teacher-forced NLL (nats, summed) of the target ``tokens[prefix_len:]`` and its length.

    Each target token is scored by the same restricted-range softmax that decoding samples
    from (``ranges`` gives one block per target position). ``times``: each token's time
    (``SerializedExample.times``; None: all 0), read by models that rotate by time.
    """
    n = tokens.shape[0]
    size = _ladder(n, _MIN_BUCKET)
    if n > lm.config.max_seq_len:
        raise ConfigError(f"a scored sequence of {n} tokens exceeds the model's max_seq_len={lm.config.max_seq_len}")
    size = min(size, lm.config.max_seq_len)
    starts = np.zeros(size, np.int32)
    starts[prefix_len:n] = ranges.starts[: n - prefix_len]
    total, count = _nll(lm, _padded(tokens, size), _times(times, size), jnp.int32(n), jnp.int32(prefix_len),
                        jnp.asarray(starts), ranges.width)
    return float(total), int(count)
