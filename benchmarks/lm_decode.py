"""Decoding, side by side in one run: KV cache vs recompute, wide-range sampling, length buckets.

1. KV-cache decoding against recomputing the whole sequence per token: tokens/s of both, their
   ratio, and a check that both generate identical ids (greedy). Baseline (shared/notes
   perf-baseline.md Sec. 4, d=256, 4 layers, V=32768, 256 + 256 tokens): 5.3x under lax.scan.
2. Sampling one token over a range of ``--sample-width`` ids (262,144: the image range):
   greedy, top-k 50, top-p 0.9 by a full sort (the exact reference) and top-p 0.9 with the
   4,096-wide top-k prefilter (``Sampling.prefilter``), on peaked logits (the share of the mass
   in the top 4,096 is printed) and on flat ones (where the nucleus does not fit and the
   prefilter falls back to the sort); the prefiltered and exact draws are checked identical.
3. Length buckets (issue 27): the chain-step decoder (``decode_fixed``) at one output length,
   then at another length in the same bucket, against exact-count ``generate_tokens`` compiled per
   length; the seconds of the call at the new length and the compilations it took.

    .venv/bin/python benchmarks/lm_decode.py --config tiny --prefix 256 --new 256
"""

from __future__ import annotations

import argparse
import statistics
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from archon_framework import CompileCounter
from archon_framework.infer import StepRanges
from archon_framework.infer._lm_steps import decode_fixed
from archon_framework.model import (
    PrefixLM,
    Sampling,
    generate_tokens,
    generate_tokens_uncached,
    load_model_config,
    sample_token,
    sample_token_exact,
)


def _median_seconds(fn, repeats: int) -> float:
    fn().block_until_ready()  # compile and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn().block_until_ready()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _sampling(width: int, repeats: int) -> None:
    """Per-token cost of each sampler over ``width`` ids: one jitted call per token."""
    cases = {
        "greedy": (sample_token, Sampling(greedy=True)),
        "top-k 50": (sample_token, Sampling(top_k=50)),
        "top-p 0.9, exact (full sort)": (sample_token_exact, Sampling(top_p=0.9)),
        "top-p 0.9, prefilter 4096": (sample_token, Sampling(top_p=0.9)),
    }
    fns = {name: jax.jit(lambda x, k, fn=fn, s=s: fn(x, k, s)) for name, (fn, s) in cases.items()}
    normal = jax.random.normal(jax.random.key(1), (width,))
    keys = jax.random.split(jax.random.key(2), 32)
    for label, logits in (("peaked (8 x normal)", 8.0 * normal), ("flat (normal)", normal)):
        top = float(jnp.exp(jax.nn.logsumexp(jax.lax.top_k(logits, 4096)[0]) - jax.nn.logsumexp(logits)))
        print(f"sampling over {width} ids, {label} logits: the top 4096 hold {top:.1%} of the mass")
        fast, exact = fns["top-p 0.9, prefilter 4096"], fns["top-p 0.9, exact (full sort)"]
        same = all(int(fast(logits, k)) == int(exact(logits, k)) for k in keys)
        times = {name: _median_seconds(lambda fn=fn: fn(logits, keys[0]), repeats)  # noqa: B023 (timed at once)
                 for name, fn in fns.items()}
        for name, t in times.items():
            print(f"  {name:30s} {t * 1e3:8.2f} ms/token  {times['top-p 0.9, exact (full sort)'] / t:7.1f}x faster than exact")
        print(f"  prefiltered == exact draws on {keys.shape[0]} keys: {same}")
        if not same:
            raise SystemExit("the prefiltered sampler differs from the exact one")


def _buckets(model, prompt, new: int) -> None:
    """A new output length within a bucket: the bucketed decoder against exact-count generate_tokens."""
    sampling = Sampling(temperature=1.0, top_p=0.9)
    lengths = (new, new - max(1, new // 8))  # one power-of-two bucket
    starts = np.zeros(new, np.int32)
    exact = eqx.filter_jit(generate_tokens)
    print(f"output lengths {lengths[0]} then {lengths[1]} (one bucket), prompt {prompt.shape[0]} tokens, top-p 0.9")
    rows = {}
    for name in ("bucketed (decode_fixed)", "exact count (generate_tokens)"):
        times, compiles = [], []
        for n in lengths:
            with CompileCounter() as counter:
                start = time.perf_counter()
                if name.startswith("bucketed"):
                    out = decode_fixed(model, np.asarray(prompt), StepRanges(starts[:n], model.config.vocab_size),
                                       jax.random.key(3), sampling)
                else:
                    out = np.asarray(exact(model, prompt, num_tokens=n, key=jax.random.key(3), sampling=sampling))
                times.append(time.perf_counter() - start)
            compiles.append(counter.total)
        rows[name] = out
        print(f"  {name:24s} first length {times[0]:7.2f} s ({compiles[0]} compiles); "
              f"new length {times[1]:7.2f} s ({compiles[1]} compiles)")
    same = np.array_equal(rows["bucketed (decode_fixed)"], rows["exact count (generate_tokens)"])
    print(f"  identical tokens at the new length: {same}")
    if not same:
        raise SystemExit("the bucketed decoder differs from the exact-count one")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="small", help="shipped model config or TOML file")
    parser.add_argument("--prefix", type=int, default=128, help="prompt length")
    parser.add_argument("--new", type=int, default=128, help="tokens to generate")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sample-width", type=int, default=262_144, help="range width for the sampling timings")
    parser.add_argument("--only", choices=("cache", "sampling", "buckets"), help="run one part")
    args = parser.parse_args()

    if args.only in (None, "sampling"):
        _sampling(args.sample_width, args.repeats)
        if args.only:
            return

    config = load_model_config(args.config)
    config = config.replace(max_seq_len=max(config.max_seq_len, args.prefix + args.new))
    model = PrefixLM(config, key=jax.random.key(0))
    prompt = jax.random.randint(jax.random.key(1), (args.prefix,), 0, config.vocab_size)
    if args.only == "buckets":
        _buckets(model, prompt, args.new)
        return
    kwargs = dict(num_tokens=args.new, key=jax.random.key(2), sampling=Sampling(greedy=True))
    cached = eqx.filter_jit(generate_tokens)
    uncached = eqx.filter_jit(generate_tokens_uncached)

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
    _buckets(model, prompt, args.new)


if __name__ == "__main__":
    main()
