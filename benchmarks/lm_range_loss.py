"""The LM train step with a range-restricted softmax against the full-vocabulary one (same run).

At the unified vocabulary of the installed plugins (292,816 ids with the built-ins, 262,144 of
them the image codebook), the output head dominates a tiny model's step. With
`ModelSection.loss = "range"` each target token's softmax covers only its modality's range
and the head runs only where targets are (`token_losses` with `vocab_ranges`). Both steps run
on the same packed windows, whose examples imitate the Table G mix: a prefix of input tokens
and a target drawn from one modality's range, the modality picked with the given weights
(default: the demo suite's outputs). Steps are interleaved (ABAB); medians are printed with
their ratio.

    .venv/bin/python benchmarks/lm_range_loss.py --config tiny --seq-len 2048 --rows 1 --steps 5
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

from archon_framework import load_registry
from archon_framework.data import LMExample, pack_examples
from archon_framework.model import PrefixLM, load_model_config
from archon_framework.train import DataConfig, ModelSection, TrainConfig, make_optimizer, make_train_step

# (modality, target tokens per example, weight): the outputs of the demo suite for 1 s clips.
MIX = (("script", 20, 1.0), ("description", 300, 1.0), ("speech", 100, 1.0), ("image", 256, 1.0),
       ("identity", 8, 1.0), ("expression", 64, 1.0), ("pose", 48, 1.0), ("semantic", 576, 1.0))


def examples(n: int, names: list[str], ranges: dict[str, tuple[int, int]], vocab: int, seed: int) -> list[LMExample]:
    rng = np.random.default_rng(seed)
    mix = [m for m in MIX if m[0] in ranges]
    weights = np.asarray([w for _, _, w in mix]) / sum(w for _, _, w in mix)
    out = []
    for k in rng.choice(len(mix), n, p=weights):
        name, target, _ = mix[k]
        start, size = ranges[name]
        prefix = int(rng.integers(64, 700))
        ids = np.concatenate([rng.integers(0, vocab, prefix), start + rng.integers(0, size, target)])
        mods = np.where(np.arange(prefix + target) >= prefix, names.index(name), -1)
        out.append(LMExample(global_ids=ids, prefix_len=prefix, task_id=0, modality_ids=mods))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="tiny", help="shipped model config or TOML file")
    parser.add_argument("--seq-len", type=int, default=2048)
    parser.add_argument("--rows", type=int, default=1)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per variant (after one warm-up)")
    args = parser.parse_args()

    registry = load_registry()
    layout = registry.layout()
    names = sorted(registry.modalities)
    ranges = {m: (layout.range(mod.vocabulary.name).start, layout.range(mod.vocabulary.name).size)
              for m, mod in registry.modalities.items() if mod.vocabulary is not None}
    modality_ranges = tuple(ranges.get(m, (0, layout.total_size)) for m in names)
    model_cfg = load_model_config(args.config)
    model_cfg = model_cfg.replace(vocab_size=layout.total_size, max_seq_len=max(model_cfg.max_seq_len, args.seq_len))
    data = DataConfig(seq_len=args.seq_len, batch_size=args.rows)
    steps = {}
    for loss in ("range", "full"):
        cfg = TrainConfig(out_dir="", steps=1000, model=ModelSection(config=args.config, loss=loss), data=data)
        steps[loss] = make_train_step(cfg, n_tasks=1, n_modalities=len(names), modality_ranges=modality_ranges)
    optimizer = make_optimizer(TrainConfig(out_dir="", steps=1000, data=data))
    exs = examples(40 * (args.steps + 1) * args.rows, names, ranges, layout.total_size, seed=0)
    packed = pack_examples(grain.MapDataset.source(exs), seq_len=args.seq_len, num_packing_bins=4, too_long="drop")
    batches = iter(packed.batch(args.rows, drop_remainder=True))
    state = {}
    for loss in steps:
        m = PrefixLM(model_cfg, key=jax.random.key(0))
        state[loss] = [m, optimizer.init(eqx.filter(m, eqx.is_array))]
    times: dict[str, list[float]] = {"range": [], "full": []}
    first: dict[str, float] = {}
    for i in range(args.steps + 1):
        batch = {k: jnp.asarray(v) for k, v in next(batches).items()}
        for loss in steps:
            start = time.perf_counter()
            m, o, value, _ = steps[loss](batch, *state[loss], np.float32(1e-3))
            value.block_until_ready()
            state[loss] = [m, o]
            (times[loss].append if i else first.__setitem__)(*((time.perf_counter() - start,) if i else (loss, time.perf_counter() - start)))
    print(f"jax {jax.__version__}; {args.config} model over {layout.total_size:,} ids; {args.rows} x {args.seq_len} tokens")
    for loss in steps:
        print(f"  {loss:5s} softmax: median {statistics.median(times[loss]):6.2f} s/step over {len(times[loss])} steps "
              f"(compile + first {first[loss]:5.1f} s)")
    print(f"  range_vs_full = {statistics.median(times['full']) / statistics.median(times['range']):.2f}x faster")


if __name__ == "__main__":
    main()
