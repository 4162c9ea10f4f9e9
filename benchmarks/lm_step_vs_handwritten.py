"""The trainer's LM step against a hand-written Equinox step of the same shape (same run).

* **ours**: `archon_framework.train.make_train_step` exactly as the `Trainer` builds it: the
  range-restricted loss (`ModelSection.loss = "range"`), chunked (`loss_chunk`), on packed windows
  (segment ids, positions restarting per example, a bidirectional prefix, loss on targets only).
* **hand**: the same architecture (tied embedding, parallel PaLM block: RMSNorm, multi-query
  attention with RoPE, SwiGLU, z-loss) written the plain way: the batch as batched matmuls (no
  `vmap`), a Python loop over layers (no `lax.scan`), a causal mask, the full `[tokens, vocab]`
  logits materialised once, AdamW after global-norm clipping. It sees the same token ids.

Before timing, both losses are checked equal on windows where the two objectives coincide (one
example per row, a one-token prefix, the whole vocabulary as the one range). Then the steps run
in interleaved rounds (the order alternates each round), and the script prints each one's median
and range, the ratio of medians with the range of the per-round ratios, and MFU: the model FLOPs
of a training token (`PrefixLMConfig.training_flops_per_token`, PaLM's convention) times the
tokens per second, over the f32 2048^3 matmul rate measured in the same process before and after.
`--parts` also times the blocks alone (forward + backward of the hidden states).

    .venv/bin/python benchmarks/lm_step_vs_handwritten.py --configs tiny small --rounds 7

Measured (issue 27, 2 busy CPU cores, 5 rounds, the same script on each tree): ours_vs_hand at
`small` 1.026x before (e9c2424: chunked range loss under `jax.checkpoint`, rolled `lax.scan`)
and 0.615x after (grouped target positions, fused head gradient, layers unrolled; the hand step
computes the logits of every position, ours of the targets only); blocks alone 1.169x -> 1.028x;
`tiny` 1.256x -> 1.054x (blocks 1.184x -> 1.038x).
"""

from __future__ import annotations

import argparse
import statistics
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from archon_framework.model import PrefixLM, PrefixLMConfig, load_model_config
from archon_framework.train import DataConfig, ModelSection, TrainConfig, make_optimizer, make_train_step


# ---------------------------------------------------------------------------------------------
# The hand-written step
# ---------------------------------------------------------------------------------------------

class HandBlock(eqx.Module):
    scale: jax.Array
    wq: jax.Array
    wk: jax.Array
    wv: jax.Array
    wo: jax.Array
    w_gate: jax.Array
    w_up: jax.Array
    w_down: jax.Array


class HandLM(eqx.Module):
    embedding: jax.Array
    blocks: list[HandBlock]
    final_scale: jax.Array


def hand_from_ours(model: PrefixLM) -> HandLM:
    """The same parameters, unstacked into one module per layer."""
    b = model.blocks
    layers = [HandBlock(b.norm_attn.scale[i], b.attention.wq[i], b.attention.wk[i], b.attention.wv[i],
                        b.attention.wo[i], b.mlp.w_gate[i], b.mlp.w_up[i], b.mlp.w_down[i])
              for i in range(model.config.n_layers)]
    return HandLM(model.embedding, layers, model.final_norm.scale)


def _rms(x, scale):
    return x * jax.lax.rsqrt(jnp.mean(x * x, axis=-1, keepdims=True) + 1e-6) * scale


def _rope(x, cos, sin):  # x [b, s, h, dh]; cos, sin [s, 1, dh/2]
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def hand_hidden(model: HandLM, cfg: PrefixLMConfig, tokens):
    """Final-normed hidden states `[batch, seq, d]` under a causal mask."""
    bsz, seq = tokens.shape
    h, dh = cfg.n_heads, cfg.head_dim
    freqs = cfg.rope_base ** (-jnp.arange(dh // 2, dtype=jnp.float32) / (dh // 2))
    angles = jnp.arange(seq, dtype=jnp.float32)[:, None] * freqs[None]
    cos, sin = jnp.cos(angles)[:, None], jnp.sin(angles)[:, None]
    causal = jnp.tril(jnp.ones((seq, seq), bool))
    x = model.embedding[tokens]  # [b, s, d]
    for blk in model.blocks:
        n = _rms(x, blk.scale)
        q = _rope((n @ blk.wq).reshape(bsz, seq, h, dh), cos, sin)
        k = _rope((n @ blk.wk).reshape(bsz, seq, 1, dh), cos, sin)[:, :, 0]
        v = (n @ blk.wv).reshape(bsz, seq, dh)
        s = jnp.einsum("bqhd,bkd->bhqk", q, k) * dh**-0.5
        p = jax.nn.softmax(jnp.where(causal, s, jnp.finfo(jnp.float32).min), axis=-1)
        attn = jnp.einsum("bhqk,bkd->bqhd", p, v).reshape(bsz, seq, h * dh) @ blk.wo
        x = x + attn + (jax.nn.silu(n @ blk.w_gate) * (n @ blk.w_up)) @ blk.w_down
    return _rms(x, model.final_scale)


def hand_loss(model: HandLM, cfg: PrefixLMConfig, tokens, loss_mask):
    """Causal LM loss (CE + z-loss) on `loss_mask` tokens, every array `[batch, seq]`."""
    x = hand_hidden(model, cfg, tokens)[:, :-1]
    logits = (x @ model.embedding.T) * cfg.d_model**-0.5  # [b, s - 1, vocab]
    lse = jax.nn.logsumexp(logits, axis=-1)
    picked = jnp.take_along_axis(logits, tokens[:, 1:, None], axis=-1)[..., 0]
    mask = loss_mask[:, 1:]
    count = jnp.maximum(mask.sum(), 1)
    return jnp.where(mask, lse - picked + cfg.z_loss * lse**2, 0.0).sum() / count


def make_hand_step(cfg: PrefixLMConfig, optimizer: optax.GradientTransformation):
    @eqx.filter_jit(donate="all-except-first")
    def step(batch, model, opt_state, lr):
        loss, grads = eqx.filter_value_and_grad(hand_loss)(model, cfg, batch["tokens"], batch["loss_mask"])
        updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(model, eqx.is_array))
        updates = jax.tree.map(lambda u: lr * u, updates)  # the optimizer's rate is 1, as ours is
        return eqx.apply_updates(model, updates), opt_state, loss

    return step


# ---------------------------------------------------------------------------------------------
# Data, timing
# ---------------------------------------------------------------------------------------------

def packed_batch(rng: np.random.Generator, rows: int, seq: int, vocab: int, *, min_len: int, max_len: int,
                 single: bool = False) -> dict[str, np.ndarray]:
    """Windows filled greedily with examples (uniform length, prefix a uniform share of each);
    `single`: one example per row spanning the window with a one-token prefix."""
    batch = {k: np.zeros((rows, seq), np.int32) for k in ("tokens", "segment_ids", "positions")}
    batch.update(prefix_mask=np.zeros((rows, seq), bool), loss_mask=np.zeros((rows, seq), bool),
                 task_ids=np.full((rows, seq), -1, np.int32), modality_ids=np.full((rows, seq), -1, np.int32))
    for r in range(rows):
        at, seg = 0, 1
        while True:
            n = seq if single else int(rng.integers(min_len, max_len + 1))
            if at + n > seq:
                break
            prefix = 1 if single else int(rng.integers(1, n))
            sl = slice(at, at + n)
            batch["tokens"][r, sl] = rng.integers(0, vocab, n)
            batch["segment_ids"][r, sl] = seg
            batch["positions"][r, sl] = np.arange(n)
            batch["prefix_mask"][r, at:at + prefix] = True
            batch["loss_mask"][r, at + prefix:at + n] = True
            batch["task_ids"][r, sl] = 0
            batch["modality_ids"][r, at + prefix:at + n] = 0
            at, seg = at + n, seg + 1
    return batch


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    f = jax.jit(jnp.dot)
    f(a, a).block_until_ready()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f(a, a).block_until_ready()
        times.append(time.perf_counter() - start)
    return 2.0 * n**3 / statistics.median(times) / 1e9


def _blocks_fns(cfg: PrefixLMConfig):
    """Forward + backward of the blocks alone (sum of the final hidden states), ours and hand."""

    def ours(model: PrefixLM, b):
        h = jax.vmap(lambda t, s, p, m: model.hidden_states(t, segment_ids=s, positions=p, prefix_mask=m))(
            b["tokens"], b["segment_ids"], b["positions"], b["prefix_mask"])
        return h.sum()

    def hand(model: HandLM, b):
        return hand_hidden(model, cfg, b["tokens"]).sum()

    return eqx.filter_jit(eqx.filter_grad(ours)), eqx.filter_jit(eqx.filter_grad(hand))


def rounds(fns: dict, n_rounds: int) -> dict[str, list[float]]:
    """Each fn once to compile, then `n_rounds` interleaved rounds (order alternating)."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    first = {}
    names = list(fns)
    for i in range(n_rounds + 1):
        for name in names if i % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            jax.block_until_ready(fns[name]())
            elapsed = time.perf_counter() - start
            (times[name].append(elapsed) if i else first.__setitem__(name, elapsed))
    times["_first"] = [first[n] for n in names]
    return times


def _summary(ts: list[float]) -> str:
    return f"median {statistics.median(ts):7.3f} s (range {min(ts):.3f}-{max(ts):.3f})"


def bench_config(name: str, args: argparse.Namespace) -> None:
    cfg = load_model_config(name)
    cfg = cfg.replace(max_seq_len=max(cfg.max_seq_len, args.seq_len))
    vocab = cfg.vocab_size
    train_cfg = TrainConfig(out_dir="", steps=1000, model=ModelSection(config=name, loss="range", loss_chunk=args.chunk),
                            data=DataConfig(seq_len=args.seq_len, batch_size=args.rows))
    optimizer = make_optimizer(train_cfg)
    ours = make_train_step(train_cfg, n_tasks=1, n_modalities=1, modality_ranges=((0, vocab),))
    hand = make_hand_step(cfg, optimizer)
    rng = np.random.default_rng(args.seed)

    # The two objectives coincide on one causal example per row with the whole vocabulary as range.
    model = PrefixLM(cfg, key=jax.random.key(0))
    check = {k: jnp.asarray(v) for k, v in packed_batch(rng, args.rows, args.seq_len, vocab, min_len=0, max_len=0,
                                                        single=True).items()}
    m0 = PrefixLM(cfg, key=jax.random.key(0))
    o0 = optimizer.init(eqx.filter(m0, eqx.is_array))
    lr = np.float32(train_cfg.optim.peak_lr)  # every step's rate (its value costs nothing)
    _, _, ours_value, _ = ours(check, m0, o0, lr)
    hand_value = float(eqx.filter_jit(hand_loss)(hand_from_ours(model), cfg, check["tokens"], check["loss_mask"]))
    if abs(float(ours_value) - hand_value) > 1e-4 * max(1.0, abs(hand_value)):
        raise SystemExit(f"{name}: the hand-written loss {hand_value} differs from ours {float(ours_value)}")

    batches = [{k: jnp.asarray(v) for k, v in packed_batch(rng, args.rows, args.seq_len, vocab,
                                                         min_len=args.min_len, max_len=args.seq_len // 2).items()}
               for _ in range(4)]
    states = {"ours": [PrefixLM(cfg, key=jax.random.key(0))], "hand": [hand_from_ours(PrefixLM(cfg, key=jax.random.key(0)))]}
    for s in states.values():
        s.append(optimizer.init(eqx.filter(s[0], eqx.is_array)))
    counter = {"ours": 0, "hand": 0}

    def run(variant, fn):
        def call():
            batch = batches[counter[variant] % len(batches)]
            counter[variant] += 1
            out = fn(batch, *states[variant], lr)
            states[variant][:] = out[:2]
            return out[2]
        return call

    peak_before = matmul_gflops()
    times = rounds({"hand": run("hand", hand), "ours": run("ours", ours)}, args.rounds)
    peak = (peak_before + matmul_gflops()) / 2
    tokens = args.rows * args.seq_len
    flops = cfg.training_flops_per_token(args.seq_len) * tokens
    ratios = [o / h for o, h in zip(times["ours"], times["hand"])]
    print(f"\n== {name}: d={cfg.d_model} layers={cfg.n_layers} heads={cfg.n_heads}/{cfg.n_kv_heads} d_ff={cfg.d_ff} "
          f"V={vocab}; {args.rows} x {args.seq_len} tokens; loss chunk {args.chunk}; "
          f"losses {float(ours_value):.5f} (ours) vs {hand_value:.5f} (hand)")
    print(f"   f32 2048^3 matmul peak {peak:7.1f} GFLOP/s (mean of before and after)")
    for i, variant in enumerate(("hand", "ours")):
        med = statistics.median(times[variant])
        print(f"   {variant:5s} {_summary(times[variant])}, compile+first {times['_first'][i]:6.1f} s, "
              f"MFU {flops / med / 1e9 / peak:5.2f}")
    print(f"   ours_vs_hand = {statistics.median(times['ours']) / statistics.median(times['hand']):.3f}x "
          f"(per-round ratios {min(ratios):.2f}-{max(ratios):.2f}, {args.rounds} rounds)")

    if args.parts:
        ours_blocks, hand_blocks = _blocks_fns(cfg)
        m, hm, b = PrefixLM(cfg, key=jax.random.key(0)), hand_from_ours(PrefixLM(cfg, key=jax.random.key(0))), batches[0]
        t = rounds({"hand": lambda: hand_blocks(hm, b), "ours": lambda: ours_blocks(m, b)}, args.rounds)
        print(f"   blocks fwd+bwd: hand {_summary(t['hand'])}; ours {_summary(t['ours'])}; "
              f"ours_vs_hand = {statistics.median(t['ours']) / statistics.median(t['hand']):.3f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["tiny", "small"], help="shipped model configs or TOML files")
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--chunk", type=int, default=256, help="loss_chunk of the trainer's head")
    parser.add_argument("--min-len", type=int, default=32, help="shortest packed example")
    parser.add_argument("--rounds", type=int, default=7, help="timed interleaved rounds (after one warm-up)")
    parser.add_argument("--parts", action="store_true", help="also time the blocks alone")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind}")
    for name in args.configs:
        bench_config(name, args)


if __name__ == "__main__":
    main()
