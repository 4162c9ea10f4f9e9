"""Strided and transposed causal convolutions as stride phases against the dilated forms, on this CPU.

Run by hand (not a test):

    .venv/bin/python benchmarks/conv_phases.py [--config small] [--batch 4] [--repeats 20]

`archon_framework.nn.CausalConv1d` (stride > 1) and `CausalConvTranspose1d` run as ``stride``
phases at one rate; the equinox layer each wraps (``layer.conv``) runs the same map as a strided
convolution (whose input gradient dilates the output gradient with zeros) or a zero-stuffed
transposed convolution. For every strided layer of a speech codec config, on a training batch
(``train.segment_samples``), this prints the time of forward + backward (gradients of the weights
and of the input, as inside a network) of both forms and their ratio, measured side by side in one
run, and checks that both give the same values.
"""

from __future__ import annotations

import argparse
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from archon_speech_soundstream import Decoder, Encoder, shipped_config


def _timed(fn, args, repeats: int) -> float:
    jax.block_until_ready(fn(*args))  # compile
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - start)
    return best


def _dilated_down(layer, x):
    return layer.conv(x)  # the wrapped equinox strided convolution


def _dilated_up(layer, x):
    return layer.conv(x)[:, : x.shape[1] * layer.stride]  # zero-stuffed, trimmed to be causal


def _fwd_bwd(call):
    @eqx.filter_jit
    def run(layer, x):
        def loss(lx):
            layer, x = lx
            return jnp.sum(jnp.sin(jax.vmap(lambda v: call(layer, v))(x)))

        return eqx.filter_value_and_grad(loss)((layer, x))

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="small", help="speech codec config (tiny, small, paper)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    cfg = shipped_config(args.config)
    encoder, decoder = Encoder(cfg.codec, key=jax.random.key(0)), Decoder(cfg.codec, key=jax.random.key(1))
    rows = []  # the codec's own strided layers, each with its input shape during training
    length = cfg.train.segment_samples
    for block in encoder.blocks:  # [C_i, T] -> [C_{i+1}, T / S]
        rows.append((f"/{block.down.stride}", block.down, (block.down.in_channels, length), _dilated_down))
        length //= block.down.stride
    for block in decoder.blocks:  # [C_{i+1}, T] -> [C_i, T * S]
        rows.append((f"x{block.up.stride}", block.up, (block.up.in_channels, length), _dilated_up))
        length *= block.up.stride
    print(f"config {args.config}: batch {args.batch} x {cfg.train.segment_samples} samples, forward + backward, "
          f"best of {args.repeats}")  # fmt: skip
    print(f"{'layer':24s} {'dilated ms':>11s} {'phases ms':>10s} {'speed-up':>9s}")
    total = [0.0, 0.0]
    for scale, layer, shape, dilated in rows:
        x = jax.random.normal(jax.random.key(1), (args.batch, *shape))
        y = jax.vmap(layer)(x)
        name = f"{'down' if dilated is _dilated_down else 'up'} {shape[0]}->{y.shape[1]} {scale}"
        if not np.allclose(y, jax.vmap(lambda v: dilated(layer, v))(x), rtol=1e-4, atol=1e-4):  # noqa: B023 (used at once)
            raise SystemExit(f"{name}: the phase form differs from the dilated form")
        slow = _timed(_fwd_bwd(dilated), (layer, x), args.repeats)
        fast = _timed(_fwd_bwd(lambda m, v: m(v)), (layer, x), args.repeats)
        total[0] += slow
        total[1] += fast
        print(f"{name:24s} {slow * 1e3:11.2f} {fast * 1e3:10.2f} {slow / fast:8.1f}x")
    print(f"{'all strided layers':24s} {total[0] * 1e3:11.2f} {total[1] * 1e3:10.2f} {total[0] / total[1]:8.1f}x")


if __name__ == "__main__":
    main()
