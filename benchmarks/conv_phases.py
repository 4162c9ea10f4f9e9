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
from archon_framework.nn import CausalConv1d, CausalConvTranspose1d
from archon_speech_soundstream import shipped_config


def _timed(fn, args, repeats: int) -> float:
    jax.block_until_ready(fn(*args))  # compile
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - start)
    return best


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
    codec, train = cfg.codec, cfg.train
    widths = [codec.channels] + [codec.channels * m for m in codec.channel_mults]
    key = jax.random.key(0)
    rows = []
    length = train.segment_samples
    for i, stride in enumerate(codec.strides):  # encoder: [C_i, T] -> [C_{i+1}, T / S]
        layer = CausalConv1d(widths[i], widths[i + 1], 2 * stride, stride=stride, key=key)
        rows.append((f"down {widths[i]}->{widths[i + 1]} /{stride}", layer, (widths[i], length), lambda m, v: m.conv(v)))
        length //= stride
    for i in reversed(range(len(codec.strides))):  # decoder: [C_{i+1}, T] -> [C_i, T * S]
        stride = codec.strides[i]
        layer = CausalConvTranspose1d(widths[i + 1], widths[i], 2 * stride, stride=stride, key=key)
        dilated = lambda m, v: m.conv(v)[:, : v.shape[1] * m.stride]  # noqa: E731
        rows.append((f"up {widths[i + 1]}->{widths[i]} x{stride}", layer, (widths[i + 1], length), dilated))
        length *= stride
    print(f"config {args.config}: batch {args.batch} x {train.segment_samples} samples, forward + backward, "
          f"best of {args.repeats}")  # fmt: skip
    print(f"{'layer':24s} {'dilated ms':>11s} {'phases ms':>10s} {'speed-up':>9s}")
    total = [0.0, 0.0]
    for name, layer, shape, dilated in rows:
        x = jax.random.normal(jax.random.key(1), (args.batch, *shape))
        same = np.allclose(jax.vmap(layer)(x), jax.vmap(lambda v: dilated(layer, v))(x), rtol=1e-4, atol=1e-4)
        if not same:
            raise SystemExit(f"{name}: the phase form differs from the dilated form")
        slow = _timed(_fwd_bwd(dilated), (layer, x), args.repeats)
        fast = _timed(_fwd_bwd(lambda m, v: m(v)), (layer, x), args.repeats)
        total[0] += slow
        total[1] += fast
        print(f"{name:24s} {slow * 1e3:11.2f} {fast * 1e3:10.2f} {slow / fast:8.1f}x")
    print(f"{'all strided layers':24s} {total[0] * 1e3:11.2f} {total[1] * 1e3:10.2f} {total[0] / total[1]:8.1f}x")


if __name__ == "__main__":
    main()
