"""How many rows a training step should hold on this machine (issue 27: shapes chosen by measurement).

The recipe's LM (`cpu-reference`: small config, a 2048-token window, since its longest examples, a
semantic video with its conditions, need about 1,500 tokens) can take 1, 2 or 4 windows a step.
This measures the trainer's jitted step (`make_train_step`) on packed windows of random examples
(lengths uniform in `--min-len..--max-len`, as `lm_train.py` draws them) for each row count,
interleaved round by round so machine noise hits all alike, and prints real tokens per second and
each count's rate relative to 1 row. More rows only pay if the cores are not already full.

    .venv/bin/python benchmarks/lm_batch_shapes.py --config small --vocab 34768 --rows 1 2 4 --steps 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from archon_framework.model import PrefixLM, load_model_config
from archon_framework.train import DataConfig, TrainConfig, make_optimizer, make_train_step
from lm_train import make_examples, packed_batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="small", help="a shipped model config or a TOML file")
    parser.add_argument("--vocab", type=int, default=0, help="unified vocabulary size (default: the config's)")
    parser.add_argument("--seq-len", type=int, default=2048, help="context window")
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 2, 4], help="windows per step to compare")
    parser.add_argument("--min-len", type=int, default=150, help="shortest example")
    parser.add_argument("--max-len", type=int, default=1500, help="longest example")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per row count (after one warm-up)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    cfg = load_model_config(args.config)
    cfg = cfg.replace(max_seq_len=max(cfg.max_seq_len, args.seq_len), **({"vocab_size": args.vocab} if args.vocab else {}))
    runs = {}
    for rows in args.rows:
        train_cfg = TrainConfig(out_dir="", steps=1000, data=DataConfig(seq_len=args.seq_len, batch_size=rows))
        optimizer = make_optimizer(train_cfg)
        model = PrefixLM(cfg, key=jax.random.key(0))
        n = int(2 * (args.steps + 2) * rows * args.seq_len / ((args.min_len + args.max_len) / 2)) + 64
        examples = make_examples(n, vocab=cfg.vocab_size, min_len=args.min_len, max_len=args.max_len, seed=args.seed)
        runs[rows] = {"step": make_train_step(train_cfg, n_tasks=1, n_modalities=1),
                      "state": [model, optimizer.init(eqx.filter(model, eqx.is_array))],
                      "batches": packed_batches(examples, seq_len=args.seq_len, rows=rows, bins=8),
                      "times": [], "tokens": [], "first": 0.0}
    for i in range(args.steps + 1):  # round 0 compiles; then one step of each row count per round
        for run in runs.values():
            batch = next(run["batches"])
            real = int((batch["segment_ids"] > 0).sum())
            device_batch = {k: jnp.asarray(v) for k, v in batch.items()}
            start = time.perf_counter()
            model, opt_state, loss, _ = run["step"](device_batch, *run["state"], np.float32(train_cfg.optim.peak_lr))
            loss.block_until_ready()
            elapsed = time.perf_counter() - start
            run["state"] = [model, opt_state]
            if i == 0:
                run["first"] = elapsed
            else:
                run["times"].append(elapsed)
                run["tokens"].append(real)
    print(f"{args.config}: d={cfg.d_model} layers={cfg.n_layers} vocab={cfg.vocab_size}, window {args.seq_len}, "
          f"examples of {args.min_len}-{args.max_len} tokens, {args.steps} timed steps each")
    base = None
    for rows, run in runs.items():
        rate = sum(run["tokens"]) / sum(run["times"])
        base = base or rate
        print(f"  {rows} row(s): median {statistics.median(run['times']):6.2f} s/step (compile+first {run['first']:5.1f} s), "
              f"{rate:8.1f} real tokens/s, {rate / base:4.2f}x the first row count")


if __name__ == "__main__":
    main()
