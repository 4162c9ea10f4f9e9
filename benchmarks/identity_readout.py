"""How much of a clip's identity do its conditions carry? A ridge readout per condition (issue 20).

The identity steps of the two judged chains are ``image(t)->identity(t)`` (speech-to-video) and
``description(t)+script(c)+speech(c)->identity(t)`` (text-to-all); `archon eval` judges each by
`identity_param_nrmse` of a sampled output against the same step given another clip's
conditions. This measures what any model of those steps can reach, before an LM is trained:

- a ridge readout of the identity vector (its dimensions that vary) from each condition, fitted
  on the first clips with its penalty chosen by 5-fold cross-validation there, and scored on
  the last `--test` clips: held-out R² over the identity's dimensions;
- what that implies for the metric `archon eval` reports: the NRMSE of a **sampled** output from
  the readout's conditional distribution (its mean plus the training residual of a random
  training clip) and of the **mean** alone (what a decoder of the most likely value gives), each
  given the clip's own condition and, as the control, the next held-out clip's, beside the
  training mean (the trivial baseline). The paired difference control - real (positive: the
  step beats its control) with its 95% bootstrap interval is the best that a model sampling at
  temperature 1, or decoding its mean, can show with a linear readout's knowledge on this
  many clips.

Conditions: the ground-truth image's pixels (downsampled to 32 x 32), the image tokenizer's
codes (the LFQ bits of every position: what the LM reads), and the description's attributes
(one-hot of every ``key=value``). Nothing here is learned by the LM; it bounds what it can learn.

    .venv/bin/python benchmarks/identity_readout.py --data runs/r90b/data --tokenizer cpu-reference
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from archon_framework import load_registry

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _readout import (description_features, fit_readout, image_tokenizer, nrmse, paired_summary,  # noqa: E402
                      pixel_features, stored_split, token_features, write_json)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a stored dataset of rendered clips (image, identity, description)")
    parser.add_argument("--tokenizer", default="cpu-reference",
                        help="the image tokenizer: a model's (shipped name, exported or recipe run folder) or its folder")
    parser.add_argument("--clips", type=int, default=None, help="use the first N clips (default: all)")
    parser.add_argument("--test", type=int, default=128, help="the last clips, held out")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampled residuals and the bootstrap")
    parser.add_argument("--out", type=Path, default=None, help="JSON report")
    args = parser.parse_args()

    clips, fit = stored_split(parser, args.data, args.clips, args.test, ("image", "identity", "description"))
    n = len(clips)
    full = np.stack([np.asarray(c["identity"], np.float64) for c in clips])
    used = np.flatnonzero(full[:fit].std(0) > 0)
    y = full[:, used]

    registry = load_registry()
    t0 = time.perf_counter()
    features = {"image pixels (32 x 32)": pixel_features(clips),
                f"image tokens ({args.tokenizer})": token_features(clips, *image_tokenizer(args.tokenizer, registry)),
                "description attributes": description_features(clips, fit)}
    print(f"{n} clips from {args.data}: {fit} fitted (penalty by 5-fold CV), the last {args.test} held out; "
          f"identity dims used {len(used)} of {full.shape[1]}; features in {time.perf_counter() - t0:.0f} s")

    rng = np.random.default_rng(args.seed)
    test = np.arange(fit, n)
    other = np.roll(test, -1)  # the control: the next held-out clip's condition
    baseline = [nrmse(y[:fit].mean(0), full[i], used) for i in test]
    report: dict[str, Any] = {"data": str(args.data), "clips": n, "test": args.test, "identity_dims": len(used),
                              "baseline_nrmse": float(np.mean(baseline)), "conditions": {}}
    print(f"trivial baseline (the training mean): nrmse {np.mean(baseline):.3f}")
    print("nrmse (lower is better) of a sampled output (the readout's mean plus a random training clip's residual) "
          "and of the mean alone, each given the clip's own condition (real) and the next clip's (control)")
    print("| condition | features | penalty | held-out R² | sampled: real | control | control - real [95% CI] | "
          "mean: real | control | control - real [95% CI] |")
    print("|---|--:|--:|--:|--:|--:|---|--:|--:|---|")
    for name, x in features.items():
        readout, penalty = fit_readout(x[:fit], y[:fit])
        pred = readout(x)
        r2 = 1 - np.sum((y[test] - pred[test]) ** 2) / np.sum((y[test] - y[:fit].mean(0)) ** 2)
        resid = y[:fit] - readout(x[:fit])  # in-sample: smaller than the held-out residual, favours sampling
        noise = resid[rng.integers(0, fit, size=len(test))]  # a random training clip's residual
        mean_err = [nrmse(pred[i], full[i], used) for i in test]
        real = [nrmse(pred[i] + e, full[i], used) for i, e in zip(test, noise)]
        ctrl = [nrmse(pred[j] + e, full[i], used) for i, j, e in zip(test, other, noise)]
        mean_ctrl = [nrmse(pred[j], full[i], used) for i, j in zip(test, other)]
        sampled = paired_summary(real, ctrl, lower_is_better=True, seed=args.seed)
        mean = paired_summary(mean_err, mean_ctrl, lower_is_better=True, seed=args.seed)
        cells = [f"{row['real']:.3f} | {row['control']:.3f} | {row['difference']:+.3f} [{row['ci95'][0]:+.3f}, "
                 f"{row['ci95'][1]:+.3f}]" for row in (sampled, mean)]
        print(f"| {name} | {x.shape[1]} | {penalty:g} | {r2:.3f} | {cells[0]} | {cells[1]} |", flush=True)
        report["conditions"][name] = {"features": int(x.shape[1]), "penalty": penalty, "r2": float(r2),
                                      "sampled": sampled, "mean": mean}
    write_json(args.out, report)


if __name__ == "__main__":
    main()
