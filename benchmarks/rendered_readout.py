"""What the image and semantic steps' conditions determine: bounds before any LM (issue 20).

Two judged steps whose outputs are pictures, each scored as `archon eval` scores it (the
installed metric), given the clip's own conditions and, as the control, the next held-out
clip's, with the paired difference (real - control, positive: better than the control) and its
95% bootstrap interval, beside the trivial baseline:

- text-to-all ``description(t)->image(t)`` by `image_psnr`: a ridge readout of the image
  (64 x 64, upsampled to full size) from the description's attributes (one-hot of every
  ``key=value``), fitted on the first clips, penalty by 5-fold cross-validation;
- speech-to-video ``image(t)+expression(c)->semantic(c)`` by `semantic_label_accuracy`: the
  reference image is the clip's first frame, whose semantic map the renderer draws from the
  same scene, so a perfect reader of the image gives that map; repeated over the window it is
  what the step can reach without the expression (which moves only the mouth and the eyes).

    .venv/bin/python benchmarks/rendered_readout.py --data runs/r90b/data --test 128
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from archon_framework import load_registry
from archon_framework.eval import baseline_value

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _readout import description_features, fit_readout, paired_summary, stored_split, write_json  # noqa: E402


def _row(name: str, real: list[float], ctrl: list[float], base: list[float], seed: int) -> dict[str, Any]:
    row = paired_summary(real, ctrl, lower_is_better=False, seed=seed)
    print(f"| {name} | {row['real']:.3f} | {row['control']:.3f} | {np.mean(base):.3f} | "
          f"{row['difference']:+.3f} [{row['ci95'][0]:+.3f}, {row['ci95'][1]:+.3f}] |", flush=True)
    return {**row, "baseline": float(np.mean(base))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a stored dataset of rendered clips")
    parser.add_argument("--test", type=int, default=128, help="the last clips, held out")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    parser.add_argument("--out", type=Path, default=None, help="JSON report")
    args = parser.parse_args()

    clips, fit = stored_split(parser, args.data, None, args.test, ("image", "semantic", "description"))
    n = len(clips)
    test = list(range(fit, n))
    other = test[1:] + test[:1]
    metrics = load_registry().metrics
    psnr, accuracy = metrics["image_psnr"].fn, metrics["semantic_label_accuracy"].fn
    print(f"{n} clips from {args.data}: {fit} fitted, the last {args.test} held out")
    print("| step (decoder) | own conditions | another clip's | baseline | real - control [95% CI] |")
    print("|---|--:|--:|--:|---|")
    report: dict[str, Any] = {"data": str(args.data), "clips": n, "test": args.test}

    size = clips[0]["image"].shape[0]
    small = 64
    k = size // small
    pixels = np.stack([np.asarray(c["image"], np.float64).reshape(small, k, small, k, 3).mean(axis=(1, 3)).ravel()
                       for c in clips])
    x = description_features(clips, fit)
    readout, _ = fit_readout(x[:fit], pixels[:fit])

    def picture(row: np.ndarray) -> np.ndarray:
        img = np.clip(row.reshape(small, small, 3), 0, 255).repeat(k, 0).repeat(k, 1)
        return img.round().astype(np.uint8)

    pred = {i: picture(readout(x[i][None])[0]) for i in range(fit, n)}
    mean_image = picture(pixels[:fit].mean(0))
    report["description(t)->image(t)"] = _row(
        "`description(t)->image(t)` (ridge from the attributes), image_psnr",
        [psnr(pred[i], clips[i]["image"], meta=clips[i].meta) for i in test],
        [psnr(pred[j], clips[i]["image"], meta=clips[i].meta) for i, j in zip(test, other)],
        [psnr(mean_image, clips[i]["image"], meta=clips[i].meta) for i in test], args.seed)

    def first_map(i: int) -> np.ndarray:
        sem = np.asarray(clips[i]["semantic"])
        return np.broadcast_to(sem[:1], sem.shape).copy()

    majority = baseline_value([np.asarray(clips[i]["semantic"]) for i in range(fit)])
    report["image(t)+expression(c)->semantic(c)"] = _row(
        "`image(t)+expression(c)->semantic(c)` (the image's own first-frame map), semantic_label_accuracy",
        [accuracy(first_map(i), clips[i]["semantic"], meta=clips[i].meta) for i in test],
        [accuracy(first_map(j), clips[i]["semantic"], meta=clips[i].meta) for i, j in zip(test, other)],
        [accuracy(majority, clips[i]["semantic"], meta=clips[i].meta) for i in test], args.seed)
    write_json(args.out, report)


if __name__ == "__main__":
    main()
