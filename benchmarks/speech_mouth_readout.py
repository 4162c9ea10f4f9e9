"""How much of the mouth do the speech tokens carry? A ridge readout, per speech tokenizer (issue 20).

For each video frame of the first `--clips` unrendered synthetic training clips, the histogram of
the speech's level-0 and level-1 codes in the frame's time span (one-hot, plus a bias) is mapped
to the frame's mouth opening (expression dim 0, ``jaw_open``) by ridge regression, fitted on all
but the last `--test` clips and scored on those (held-out R² and correlation). The same frames
for every tokenizer named, side by side in one run, with the correlation of the mouth and the
frame's loudness for scale. A readout this simple that finds the mouth says the tokens hold
what an LM's expression step needs; it is no measure of what the LM learns.

    .venv/bin/python benchmarks/speech_mouth_readout.py --tokenizer cpu-reference --tokenizer runs/speech-small
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from archon_framework import load_registry

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conditioning_probe import level_codes, performed_clips, span_histogram  # noqa: E402
from speech_voice_kept import speech_tokenizer  # noqa: E402


def frame_rows(tok, clips) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(features, mouth, clip index, loudness) per video frame."""
    rows, mouth, groups, loud = [], [], [], []
    for k, clip in enumerate(clips):
        codes, width = level_codes(tok, clip["speech"], clip.meta)
        jaw, wave = clip["expression"][:, 0], clip["speech"]
        n_frames = jaw.shape[0]
        for f in range(n_frames):
            a, b = f * wave.size // n_frames, (f + 1) * wave.size // n_frames
            rows.append(np.append(span_histogram(codes, f, n_frames, width), np.float32(1.0)))  # with a bias
            mouth.append(jaw[f])
            groups.append(k)
            loud.append(float(np.sqrt(np.mean(wave[a:b] ** 2))))
    return np.stack(rows), np.asarray(mouth), np.asarray(groups), np.asarray(loud)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokenizer", action="append", required=True,
                        help="a speech tokenizer folder or a shipped model's name (repeat to compare)")
    parser.add_argument("--clips", type=int, default=1200)
    parser.add_argument("--test", type=int, default=200, help="the last clips, held out")
    parser.add_argument("--ridge", type=float, default=1.0)
    args = parser.parse_args()
    if not 0 < args.test < args.clips:
        parser.error(f"--test must lie in 1..{args.clips - 1}, got {args.test}")

    registry = load_registry()
    clips = performed_clips(args.clips, seed=0)
    print(f"{args.clips} clips: {args.clips - args.test} for the fit, the last {args.test} held out")
    for name in args.tokenizer:
        t0 = time.perf_counter()
        tok, path = speech_tokenizer(name, registry)
        x, y, g, loud = frame_rows(tok, clips)
        fit, test = g < args.clips - args.test, g >= args.clips - args.test
        a = x[fit]
        beta = np.linalg.solve(a.T @ a + args.ridge * np.eye(a.shape[1]), a.T @ y[fit])
        pred = x[test] @ beta
        r2 = 1 - np.mean((y[test] - pred) ** 2) / np.var(y[test])
        print(f"{name} ({path}): held-out R² {r2:.3f}, correlation {np.corrcoef(pred, y[test])[0, 1]:.3f} "
              f"({fit.sum()} / {test.sum()} frames; {time.perf_counter() - t0:.0f} s)")
    print(f"for scale: correlation of the mouth with the frame's loudness {np.corrcoef(loud[test], y[test])[0, 1]:.3f}")


if __name__ == "__main__":
    main()
