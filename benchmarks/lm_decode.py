"""KV-cache decoding against recomputing the whole sequence per token (same run, same model).

Prints tokens/s of both and their ratio, and checks that both generate identical ids (greedy).
Baseline (shared/notes/perf-baseline.md Sec. 4, d=256, 4 layers, V=32768, 256 + 256 tokens):
5.3x with the cache under lax.scan.

    .venv/bin/python benchmarks/lm_decode.py --prefix 256 --new 256
"""

from __future__ import annotations

import argparse
import statistics
import time

import equinox as eqx
import jax
import numpy as np

from archon_framework.model import (
    PrefixLM,
    Sampling,
    generate,
    generate_uncached,
    load_model_config,
)


def _median_seconds(fn, repeats: int) -> float:
    fn().block_until_ready()  # compile and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn().block_until_ready()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="small", help="shipped model config or TOML file")
    parser.add_argument("--prefix", type=int, default=128, help="prompt length")
    parser.add_argument("--new", type=int, default=128, help="tokens to generate")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    config = load_model_config(args.config)
    config = config.replace(max_seq_len=max(config.max_seq_len, args.prefix + args.new))
    model = PrefixLM(config, key=jax.random.key(0))
    prompt = jax.random.randint(jax.random.key(1), (args.prefix,), 0, config.vocab_size)
    kwargs = dict(num_tokens=args.new, key=jax.random.key(2), sampling=Sampling(greedy=True))
    cached = eqx.filter_jit(generate)
    uncached = eqx.filter_jit(generate_uncached)

    same = np.array_equal(cached(model, prompt, **kwargs), uncached(model, prompt, **kwargs))
    t_cached = _median_seconds(lambda: cached(model, prompt, **kwargs), args.repeats)
    t_uncached = _median_seconds(lambda: uncached(model, prompt, **kwargs), args.repeats)
    print(f"config {args.config}: d={config.d_model} layers={config.n_layers} vocab={config.vocab_size}")
    print(f"prompt {args.prefix} tokens, {args.new} generated, greedy, median of {args.repeats}")
    print(f"  KV cache (prefill + lax.scan): {args.new / t_cached:9.1f} tokens/s")
    print(f"  recompute whole sequence:      {args.new / t_uncached:9.1f} tokens/s")
    print(f"  kv_speedup = {t_uncached / t_cached:.2f}x   identical tokens: {same}")
    if not same:
        raise SystemExit("KV-cache and recomputed generations differ")


if __name__ == "__main__":
    main()
