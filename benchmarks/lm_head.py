"""Range-restricted output head against the full projection followed by masking (same run).

Two cases over a large unified vocabulary (the paper's ~550K ids):
  * decode: next-token argmax for a batch of hidden states, restricted to one modality's range;
  * loss: cross-entropy forward + backward over a window whose targets lie in that range.
"Full" computes ``h @ E^T`` over every id and masks the ids outside the range; "range" reads only
the range's rows (``PrefixLM.range_logits``). Both must agree; the script checks it. Baseline
(shared/notes/perf-baseline.md Sec. 3, V=550000, 1024-id range): 25x on the head.

    .venv/bin/python benchmarks/lm_head.py --vocab 550000 --range-size 1024
"""

from __future__ import annotations

import argparse
import statistics
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from archon_framework.model import PrefixLM, PrefixLMConfig


def _median_seconds(fn, repeats: int) -> float:
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=int, default=550_000)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--range-start", type=int, default=256_128)
    parser.add_argument("--range-size", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=8, help="hidden states per decode step")
    parser.add_argument("--tokens", type=int, default=128, help="window length for the loss case")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    config = PrefixLMConfig(
        vocab_size=args.vocab, d_model=args.d_model, n_layers=1, n_heads=4, d_ff=4 * args.d_model
    )
    model = PrefixLM(config, key=jax.random.key(0))
    start, size = args.range_start, args.range_size
    keys = jax.random.split(jax.random.key(1), 2)
    h_dec = jax.random.normal(keys[0], (args.batch, args.d_model))
    h_loss = jax.random.normal(keys[1], (args.tokens, args.d_model))
    targets = start + jax.random.randint(jax.random.key(2), (args.tokens,), 0, size)
    in_range = (jnp.arange(args.vocab) >= start) & (jnp.arange(args.vocab) < start + size)

    @eqx.filter_jit
    def decode_full(m, h):
        logits = jnp.where(in_range, m.logits(h), -jnp.inf)  # [batch, vocab]
        return jnp.argmax(logits, axis=-1)

    @eqx.filter_jit
    def decode_range(m, h):
        return start + jnp.argmax(m.range_logits(h, start, size), axis=-1)  # [batch]

    def ce(logits, local_targets):
        lse = jax.nn.logsumexp(logits, axis=-1)
        return jnp.mean(lse - jnp.take_along_axis(logits, local_targets[:, None], axis=-1)[:, 0])

    @eqx.filter_jit
    def loss_full(m, h):
        f = lambda m, h: ce(jnp.where(in_range, m.logits(h), -jnp.inf), targets)
        return eqx.filter_value_and_grad(f)(m, h)

    @eqx.filter_jit
    def loss_range(m, h):
        f = lambda m, h: ce(m.range_logits(h, start, size), targets - start)
        return eqx.filter_value_and_grad(f)(m, h)

    same_ids = np.array_equal(decode_full(model, h_dec), decode_range(model, h_dec))
    (lf, gf), (lr, gr) = loss_full(model, h_loss), loss_range(model, h_loss)
    same_loss = bool(jnp.allclose(lf, lr, atol=1e-4)) and bool(
        jnp.allclose(gf.embedding, gr.embedding, atol=1e-5)
    )
    rows = [
        ("decode argmax", lambda: decode_full(model, h_dec), lambda: decode_range(model, h_dec)),
        ("loss fwd+bwd", lambda: loss_full(model, h_loss), lambda: loss_range(model, h_loss)),
    ]
    print(f"vocab {args.vocab}, d={args.d_model}, range [{start}, {start + size}), median of {args.repeats}")
    for name, full, ranged in rows:
        t_full = _median_seconds(full, args.repeats)
        t_range = _median_seconds(ranged, args.repeats)
        print(f"  {name:14s} full+mask {t_full * 1e3:9.2f} ms   range {t_range * 1e3:8.2f} ms   "
              f"range_speedup = {t_full / t_range:.1f}x")
    print(f"  same argmax ids: {same_ids}   same loss and embedding gradient: {same_loss}")
    if not (same_ids and same_loss):
        raise SystemExit("range-restricted head disagrees with full projection + masking")


if __name__ == "__main__":
    main()
