"""Prefix-LM training throughput and MFU, and our packed step against the naive one (same run).

For each model config (shipped `tiny` and `small` by default):

* **ours**: the trainer's jitted step (`archon_framework.train.make_train_step`) on windows packed
  by `archon_framework.data.pack_examples` (several examples per window, segment ids, positions
  restarting per example, loss on targets only, cross-entropy as logsumexp - target logit);
* **naive**: the same model, optimizer and objective (CE + z-loss on target tokens) written the
  plain way: one example per row padded to the window, and a full-vocabulary
  `log_softmax` materialised and indexed at the targets.

Both run on examples drawn from one distribution (lengths uniform in `--min-len..--max-len`,
prefix a uniform share of each, random ids), interleaved step by step (ABAB) so machine noise hits
both alike. Throughput counts real (non-padding) tokens. MFU = model FLOP/s (PaLM's
`6 (N + V d) + 12 L T d` per token, `PrefixLMConfig.training_flops_per_token`) over this CPU's
f32 matmul rate measured in the same process before and after the steps: once for a matmul the
size of the model's MLP over a batch (`[rows * seq_len, d_model] @ [d_model, d_ff]`), once for a
2048^3 matmul (peak). Before timing, the script checks that both steps give the same loss on the
same examples.

    .venv/bin/python benchmarks/lm_train.py --configs tiny small --steps 4
"""

from __future__ import annotations

import argparse
import statistics
import time

import equinox as eqx
import grain
import jax
import jax.numpy as jnp
import numpy as np

from archon_framework.data import LMExample, pack_examples
from archon_framework.model import PrefixLM, load_model_config, token_losses
from archon_framework.train import DataConfig, TrainConfig, make_optimizer, make_train_step


def matmul_gflops(m: int, k: int, n: int, repeats: int = 5) -> float:
    """GFLOP/s of a jitted f32 `[m, k] @ [k, n]` (median of `repeats`, compile excluded)."""
    a = jax.random.normal(jax.random.key(0), (m, k), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (k, n), jnp.float32)
    f = jax.jit(jnp.dot)
    f(a, b).block_until_ready()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f(a, b).block_until_ready()
        times.append(time.perf_counter() - start)
    return 2.0 * m * k * n / statistics.median(times) / 1e9


def make_examples(n: int, *, vocab: int, min_len: int, max_len: int, seed: int) -> list[LMExample]:
    rng = np.random.default_rng(seed)
    out = []
    for length in rng.integers(min_len, max_len + 1, n):
        prefix = int(rng.integers(1, length))
        out.append(LMExample(global_ids=rng.integers(0, vocab, length), prefix_len=prefix, task_id=0,
                             modality_ids=np.where(np.arange(length) >= prefix, 0, -1)))
    return out


def packed_batches(examples: list[LMExample], *, seq_len: int, rows: int, bins: int):
    ds = pack_examples(grain.MapDataset.source(examples), seq_len=seq_len, num_packing_bins=bins, too_long="error")
    return iter(ds.batch(rows, drop_remainder=True))


def padded_batches(examples: list[LMExample], *, seq_len: int, rows: int):
    """One example per row, padded to the window (what the naive step eats)."""
    for i in range(0, len(examples) - rows + 1, rows):
        batch = {k: np.zeros((rows, seq_len), np.int32) for k in ("tokens", "segment_ids", "positions")}
        batch.update(prefix_mask=np.zeros((rows, seq_len), bool), loss_mask=np.zeros((rows, seq_len), bool))
        for r, ex in enumerate(examples[i:i + rows]):
            n = len(ex)
            batch["tokens"][r, :n], batch["segment_ids"][r, :n], batch["positions"][r, :n] = ex.global_ids, 1, np.arange(n)
            batch["prefix_mask"][r, :ex.prefix_len] = True
            batch["loss_mask"][r, ex.prefix_len:n] = True
        yield batch


def make_naive_step(optimizer):
    """The same update with the loss written plainly: full log-softmax, gather, mask, z-loss."""

    def loss_fn(model: PrefixLM, batch):
        def row(tokens, segment_ids, positions, prefix_mask, loss_mask):
            logits = model(tokens, segment_ids=segment_ids, positions=positions, prefix_mask=prefix_mask)[:-1]
            logp = jax.nn.log_softmax(logits, axis=-1)  # [seq - 1, vocab], materialised
            nll = -jnp.take_along_axis(logp, tokens[1:, None], axis=-1)[:, 0]
            z = model.config.z_loss * jnp.square(jax.nn.logsumexp(logits, axis=-1))
            mask = loss_mask[1:]
            return jnp.where(mask, nll + z, 0.0).sum(), jnp.where(mask, nll, 0.0).sum(), mask.sum()

        total, ce, count = jax.vmap(row)(batch["tokens"], batch["segment_ids"], batch["positions"],
                                         batch["prefix_mask"], batch["loss_mask"])
        count = jnp.maximum(count.sum(), 1)
        return total.sum() / count, ce.sum() / count

    @eqx.filter_jit(donate="all-except-first")
    def step(batch, model, opt_state, lr):
        (loss, ce), grads = eqx.filter_value_and_grad(loss_fn, has_aux=True)(model, batch)
        updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(model, eqx.is_array))
        updates = jax.tree.map(lambda u: lr * u, updates)  # the optimizer's rate is 1, as the trainer's is
        return eqx.apply_updates(model, updates), opt_state, loss, ce

    return step, eqx.filter_jit(loss_fn)


def our_loss(model: PrefixLM, batch) -> jax.Array:
    """The trainer's objective on a batch (to check the naive step computes the same thing)."""
    losses = jax.vmap(lambda t, s, p, pm, lm: token_losses(model, t, segment_ids=s, positions=p, prefix_mask=pm, loss_mask=lm))(
        batch["tokens"], batch["segment_ids"], batch["positions"], batch["prefix_mask"], batch["loss_mask"])
    return (losses.ce + losses.z).sum() / jnp.maximum(losses.mask.sum(), 1)


def bench_config(name: str, args: argparse.Namespace) -> None:
    model_cfg = load_model_config(name)
    model_cfg = model_cfg.replace(max_seq_len=max(model_cfg.max_seq_len, args.seq_len))
    train_cfg = TrainConfig(out_dir="", steps=1000, data=DataConfig(seq_len=args.seq_len, batch_size=args.rows))
    optimizer = make_optimizer(train_cfg)
    ours = make_train_step(train_cfg, n_tasks=1, n_modalities=1)
    naive, naive_loss = make_naive_step(optimizer)
    max_len = args.max_len or args.seq_len // 2
    n_naive = (args.steps + 1) * args.rows
    n_packed = int(2 * (args.steps + 2) * args.rows * args.seq_len / ((args.min_len + max_len) / 2)) + 64
    examples = make_examples(max(n_naive, n_packed), vocab=model_cfg.vocab_size, min_len=args.min_len,
                             max_len=max_len, seed=args.seed)
    packed_it = packed_batches(examples, seq_len=args.seq_len, rows=args.rows, bins=args.bins)
    padded_it = padded_batches(examples, seq_len=args.seq_len, rows=args.rows)

    model = PrefixLM(model_cfg, key=jax.random.key(0))
    check = next(padded_batches(examples, seq_len=args.seq_len, rows=args.rows))
    ours_value, naive_value = float(eqx.filter_jit(our_loss)(model, check)), float(naive_loss(model, check)[0])
    if abs(ours_value - naive_value) > 1e-4 * max(1.0, abs(ours_value)):
        raise SystemExit(f"{name}: the naive loss {naive_value} differs from ours {ours_value}")

    rows_tokens = args.rows * args.seq_len
    peak_before = matmul_gflops(2048, 2048, 2048)
    shape_before = matmul_gflops(rows_tokens, model_cfg.d_model, model_cfg.d_ff)
    states = {}
    for variant in ("ours", "naive"):
        m = PrefixLM(model_cfg, key=jax.random.key(0))
        states[variant] = [m, optimizer.init(eqx.filter(m, eqx.is_array))]
    fns = {"ours": ours, "naive": naive}
    its = {"ours": packed_it, "naive": padded_it}
    compile_s, times, tokens = {}, {"ours": [], "naive": []}, {"ours": [], "naive": []}
    budget_end = time.perf_counter() + args.seconds if args.seconds else None
    for i in range(args.steps + 1):  # step 0 compiles and warms up; ABAB after that
        for variant in ("ours", "naive"):
            batch = next(its[variant])
            real = int((batch["segment_ids"] > 0).sum())
            device_batch = {k: jnp.asarray(v) for k, v in batch.items()}
            start = time.perf_counter()
            model_v, opt_v, loss, _ = fns[variant](device_batch, *states[variant], np.float32(train_cfg.optim.peak_lr))
            loss.block_until_ready()
            elapsed = time.perf_counter() - start
            states[variant] = [model_v, opt_v]
            if i == 0:
                compile_s[variant] = elapsed
            else:
                times[variant].append(elapsed)
                tokens[variant].append(real)
        if budget_end is not None and i >= 2 and time.perf_counter() > budget_end:
            break
    peak = (peak_before + matmul_gflops(2048, 2048, 2048)) / 2
    shape_rate = (shape_before + matmul_gflops(rows_tokens, model_cfg.d_model, model_cfg.d_ff)) / 2

    flops_per_token = model_cfg.training_flops_per_token(args.seq_len)
    print(f"\n== {name}: d={model_cfg.d_model} layers={model_cfg.n_layers} heads={model_cfg.n_heads} "
          f"d_ff={model_cfg.d_ff} vocab={model_cfg.vocab_size}; {args.rows} rows x {args.seq_len} tokens; "
          f"{flops_per_token / 1e6:.2f} MFLOP/token")
    print(f"   f32 matmul: [{rows_tokens}x{model_cfg.d_model}]@[{model_cfg.d_model}x{model_cfg.d_ff}] "
          f"{shape_rate:7.1f} GFLOP/s   2048^3 {peak:7.1f} GFLOP/s (mean of before and after)")
    rate = {}
    for variant in ("ours", "naive"):
        t, n = sum(times[variant]), sum(tokens[variant])
        rate[variant] = n / t
        fill = n / (len(tokens[variant]) * rows_tokens)
        gflops = rate[variant] * flops_per_token / 1e9
        print(f"   {variant:5s} {len(times[variant])} steps, median {statistics.median(times[variant]):6.3f} s/step "
              f"(compile+first {compile_s[variant]:5.1f} s), window fill {fill:5.1%}: {rate[variant]:9.1f} tokens/s, "
              f"{gflops:6.1f} GFLOP/s, MFU {gflops / shape_rate:5.2f} (vs MLP-shaped matmul) "
              f"{gflops / peak:5.2f} (vs 2048^3)")
    print(f"   ours_vs_naive = {rate['ours'] / rate['naive']:.2f}x real tokens/s   "
          f"(same loss on the same examples: {ours_value:.5f} vs {naive_value:.5f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["tiny", "small"], help="shipped model configs or TOML files")
    parser.add_argument("--seq-len", type=int, default=512, help="context window")
    parser.add_argument("--rows", type=int, default=8, help="windows (rows) per step")
    parser.add_argument("--bins", type=int, default=8, help="first-fit packing bins")
    parser.add_argument("--min-len", type=int, default=32, help="shortest example")
    parser.add_argument("--max-len", type=int, default=0, help="longest example (default seq_len / 2)")
    parser.add_argument("--steps", type=int, default=4, help="timed steps per variant (after one warm-up)")
    parser.add_argument("--seconds", type=float, default=0.0, help="stop a config's timing after this long (min 2 steps)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind}; examples {args.min_len}.."
          f"{args.max_len or args.seq_len // 2} tokens, window {args.seq_len}")
    for name in args.configs:
        bench_config(name, args)


if __name__ == "__main__":
    main()
