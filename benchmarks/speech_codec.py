"""Encode / decode speed of the speech tokenizer as a multiple of real time, on this CPU.

Run by hand (not a test):

    .venv/bin/python benchmarks/speech_codec.py --seconds 10 --repeats 5 [--config paper | --checkpoint DIR]

Prints, side by side from one run, the real-time factors (audio seconds per wall second) of
encode (wave -> 4-level local ids) and decode (ids -> wave) after one warm-up call that compiles.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from archon_framework import ClipMeta
from archon_speech_soundstream import SoundStreamTokenizer, make_tokenizer, shipped_config, synthetic_speech


def _best(fn, repeats: int) -> float:
    fn()  # compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.min(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="audio length per call")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--checkpoint", type=Path, default=None, help="trained codec (default: untrained)")
    parser.add_argument("--config", choices=("tiny", "paper"), default="tiny", help="untrained codec size")
    args = parser.parse_args()
    if args.checkpoint is not None:
        tok = make_tokenizer(args.checkpoint)
    else:
        tok = SoundStreamTokenizer.untrained(shipped_config(args.config))
    meta = ClipMeta(clip_id="bench", duration=args.seconds, frame_rate=30.0, sample_rate=16_000)
    wave = synthetic_speech(args.seconds, seed=0)
    ids = tok.encode(wave, meta=meta)
    enc = _best(lambda: tok.encode(wave, meta=meta), args.repeats)
    dec = _best(lambda: tok.decode(ids, meta=meta), args.repeats)
    cfg = tok.cfg.codec
    print(f"config: channels={cfg.channels} mults={cfg.channel_mults} strides={cfg.strides} D={cfg.latent_dim}")
    print(f"audio {args.seconds:.1f} s, {ids.size} tokens, best of {args.repeats}")
    print(f"encode: {enc * 1e3:8.1f} ms  = {args.seconds / enc:8.1f} x real time")
    print(f"decode: {dec * 1e3:8.1f} ms  = {args.seconds / dec:8.1f} x real time")


if __name__ == "__main__":
    main()
