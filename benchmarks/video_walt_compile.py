"""Cold compile seconds of the video decoder's two updates: AdamW on one raveled vector against per array.

Both trainers' updates (`archon_video_walt._train._autoencoder_update` and `_denoiser_update`:
forward, backward, gradient clipping, AdamW) are lowered and compiled with JAX's persistent
cache off, once with the optimizer over the parameter arrays (110 in the tiny denoiser, the code
before issue 27) and once over all parameters raveled into one vector (`_train._flat`, the
default for AdamW: the same elementwise update and global-norm clipping), in interleaved
rounds in one process. It prints each variant's median seconds and the ratios, and checks
that one update of each variant gives the same parameters.

    .venv/bin/python benchmarks/video_walt_compile.py --rounds 2

``--parts`` prints where the autoencoder update's compile time goes instead: the encoder and
the decoder forward, the loss's gradient (forward + backward) and the whole update.

Measured (2 cores shared with other work, load average ~6; read the ratios), ``--rounds 3``:
autoencoder update 15.9 s per array -> 11.7 s raveled (**0.73x**; rounds 0.91, 0.73, 0.82),
denoiser update 30.7 s -> 27.9 s (**0.91x**; rounds 0.79, 0.91, 0.84), the same parameters after
one update. ``--parts`` (tiny, quieter): encoder forward 1.0 s, decoder forward 1.0 s, the loss's
gradient 5.7 s, the whole raveled update 8.8 s. Where the rest goes: the gradient's
~3,000 HLO instructions hold 41 convolutions and ~950 transposes and copies, the layout changes
of the causal conv layers (time-shifted copies concatenated, frames moved to the batch axis;
shared layers, not this plugin's); a single causal conv's gradient compiles in 1.2-2.2 s.
Nothing in the tiny autoencoder repeats (one residual block per stage). Scanning a stage's
residual blocks over run-time-stacked weights (the parameter tree unchanged) compiled 0.78x
at 4 blocks per stage of the tiny widths, but the paper autoencoder's scanned update had not
compiled after 4 CPU minutes against 29 s unrolled, so the blocks stay unrolled.
"""

from __future__ import annotations

import argparse
import statistics
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import archon_video_walt._train as train
from archon_video_walt import shipped_config


def _inputs(config, batch: int | None):
    tc = config.train
    ae = config.autoencoder
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.uniform(-1, 1, (batch or tc.ae_batch_size, 3, tc.ae_frames, tc.ae_crop, tc.ae_crop)),
                    jnp.float32)
    b, c, g, s = batch or tc.batch_size, ae.latent_channels, config.latent_size, config.semantic_size
    n = ae.latent_frames(config.chunk_frames)
    dn = (jnp.asarray(rng.standard_normal((b, c, n, g, g)), jnp.float32),
          jnp.zeros((b, config.chunk_frames, s, s), jnp.int32), jnp.asarray(rng.standard_normal((b, c, g, g)), jnp.float32),
          jnp.zeros((b, s, s), jnp.int32), jnp.zeros((b, config.text.max_bytes), jnp.uint8))
    return x, dn


def compile_update(which: str, config, flat: bool, x, dn) -> tuple[float, list]:
    """(lower + compile seconds, parameters after one update) of one trainer's update."""
    train._flat = lambda name: flat and name != "adafactor"  # read when a trainer is built and traced
    jax.clear_caches()
    key, lr = jax.random.key(0), np.float32(1e-3)
    if which == "autoencoder":
        tr = train.AutoencoderTrainer(config, steps=10)
        args, kw = (tr.model, tr.opt_state, x, key, lr), dict(kl_weight=config.autoencoder.kl_weight, tx=tr.tx, flat=flat)
        fn = train._autoencoder_update
    else:
        tr = train.DenoiserTrainer(config, steps=10)
        args, kw = (tr.model, tr.opt_state, tr.ema, *dn, key, lr), dict(config=config, tx=tr.tx)
        fn = train._denoiser_update
    start = time.perf_counter()
    compiled = fn.lower(*args, **kw).compile()
    seconds = time.perf_counter() - start
    model = compiled(*args, **kw)[0]
    return seconds, [np.asarray(a) for a in jax.tree.leaves(eqx.filter(model, eqx.is_array))]


def parts(config, x) -> None:
    """Cold compile seconds of the autoencoder update's parts, one after the other."""
    tr = train.AutoencoderTrainer(config, steps=10)
    params, static = eqx.partition(tr.model, eqx.is_array)

    def loss(p, x):
        recon, kl = jax.vmap(lambda v: eqx.combine(p, static)(v))(x)
        return jnp.mean((recon - x) ** 2) + jnp.mean(jnp.abs(recon - x)) + jnp.mean(kl)

    latent = jax.eval_shape(lambda p, x: jax.vmap(eqx.combine(p, static).encode)(x), params, x)
    jobs = {
        "encoder forward": (lambda p, x: jax.vmap(eqx.combine(p, static).encoder)(x), (params, x)),
        "decoder forward": (lambda p, z: jax.vmap(eqx.combine(p, static).decode)(z), (params, jnp.zeros(latent.shape))),
        "loss gradient": (jax.grad(loss), (params, x)),
    }
    for name, (fn, fargs) in jobs.items():
        jax.clear_caches()
        start = time.perf_counter()
        jax.jit(fn).lower(*fargs).compile()
        print(f"  {name:16s}: {time.perf_counter() - start:6.2f} s (lower + compile)", flush=True)
    seconds, _ = compile_update("autoencoder", config, True, x, None)
    print(f"  {'whole update':16s}: {seconds:6.2f} s (the gradient, clipping and AdamW)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="tiny", help="shipped video config")
    parser.add_argument("--batch", type=int, help="batch (default: the config's)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--parts", action="store_true", help="compile seconds of the autoencoder update's parts")
    args = parser.parse_args()
    jax.config.update("jax_enable_compilation_cache", False)
    config = shipped_config(args.config)
    x, dn = _inputs(config, args.batch)
    print(f"jax {jax.__version__}; video config {args.config!r}")
    if args.parts:
        parts(config, x)
        return
    times: dict[tuple[str, bool], list[float]] = {}
    params: dict[tuple[str, bool], list] = {}
    compile_update("autoencoder", config, True, x, dn)  # untimed: the process's first compile pays one-time costs
    for i in range(args.rounds):
        for flat in (True, False) if i % 2 == 0 else (False, True):
            for which in ("autoencoder", "denoiser"):
                seconds, params[which, flat] = compile_update(which, config, flat, x, dn)
                times.setdefault((which, flat), []).append(seconds)
                print(f"    {which} {'raveled' if flat else 'per array'}: {seconds:.1f} s", flush=True)
    for which in ("autoencoder", "denoiser"):
        same = all(np.allclose(a, b, rtol=1e-4, atol=1e-6) for a, b in zip(params[which, True], params[which, False]))
        med = {flat: statistics.median(times[which, flat]) for flat in (True, False)}
        ratios = [a / b for a, b in zip(times[which, True], times[which, False])]
        print(f"  {which:11s}: per array {med[False]:6.1f} s, raveled {med[True]:6.1f} s -> {med[True] / med[False]:.2f}x "
              f"(per round {', '.join(f'{r:.2f}' for r in ratios)}); same parameters after one update: {same}")


if __name__ == "__main__":
    main()
