"""Train the tiny speech codec briefly and report held-out MCD-DTW: 4 levels vs 1 level vs silence.

Run by hand (not a test):

    .venv/bin/python benchmarks/speech_train_mcd.py --seconds 900 --out /tmp/speech_codec

The training source is the plugin's speech-like generator
(`archon_speech_soundstream.synthetic_speech`: harmonics with vibrato through moving formants,
noise bursts, pauses, a -60 dBFS noise floor). TODO(issue 5): train on the espeak speech of
`archon_synthetic_heads` clips once that plugin is merged. The last clip is held out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import attrs
from archon_framework import Clip, ClipMeta
from archon_speech_soundstream import shipped_config, synthetic_speech, train_tokenizer


def _clips(n: int, seconds: float) -> list[Clip]:
    return [
        Clip(
            ClipMeta(clip_id=f"synth{i}", duration=seconds, frame_rate=30.0, sample_rate=16_000),
            {"speech": synthetic_speech(seconds, seed=1000 + i)},
        )
        for i in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=900.0, help="wall-clock training budget")
    parser.add_argument("--steps", type=int, default=None, help="optional step cap")
    parser.add_argument("--clips", type=int, default=24, help="number of synthetic clips (last held out)")
    parser.add_argument("--clip-seconds", type=float, default=4.0)
    parser.add_argument("--out", type=Path, default=Path("/tmp/archon_speech_codec"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--adversarial-start", type=int, default=None, help="step at which the discriminator starts (default: config)"
    )
    args = parser.parse_args()
    cfg = shipped_config("tiny")
    if args.adversarial_start is not None:
        cfg = attrs.evolve(cfg, loss=attrs.evolve(cfg.loss, adversarial_start=args.adversarial_start))
    report = train_tokenizer(
        _clips(args.clips, args.clip_seconds),
        out_dir=args.out,
        steps=args.steps,
        seconds=args.seconds,
        seed=args.seed,
        config=cfg,
    )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
