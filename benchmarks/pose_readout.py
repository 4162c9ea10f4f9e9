"""How much of a clip's head pose do the pose step's conditions carry? A ridge readout (issue 20).

Text-to-all's pose step is ``speech(c)+identity(t)+expression(c)+image(t)->pose(c)`` (the
paper's Table G task 40), judged by `head_pitch_correlation` (since stop 44; `pose_param_nrmse`
before) of a sampled output against the same step given another clip's conditions. This bounds what any model of the step can show, before
an LM is trained. Each video frame's pose (6 numbers) is read out by ridge regression (penalty
by 5-fold cross-validation over clips) from

- the speech's level-0 and level-1 codes in the frame's span and in the four frames around it
  (histograms, as `speech_mouth_readout.py`; what the LM reads of the speech),
- the frame's ground-truth expression (its 10 leading dimensions) and the clip's identity,
- with `--data` (rendered clips), the reference image's tokens (64 principal components of
  their LFQ bits; the reference image is the clip's first frame),

fitted on all but the last `--test` clips; and again with the description's head action added
(not an input of the step; it says which motion a clip makes, not its phase, so it changes a
frame's spread more than its mean).
On the held-out clips, per clip: the NRMSE and the head-pitch correlation of the readout's mean trajectory and of a
**sampled** one (the mean plus a random training clip's residual trajectory), given the clip's
own conditions and, as the control, the next held-out clip's; the paired difference
control - real with its 95% bootstrap interval.

    .venv/bin/python benchmarks/pose_readout.py --tokenizer cpu-reference --data runs/r90b/data --test 128
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from archon_eval_metrics import normalized_rmse
from archon_synthetic_heads import head_pitch_correlation
from archon_framework import load_registry

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conditioning_probe import level_codes, performed_clips, span_histogram  # noqa: E402
from _readout import (fit_readout, image_tokenizer, paired_summary, stored_split, token_features,
                              write_json)  # noqa: E402
from speech_voice_kept import speech_tokenizer  # noqa: E402


def clip_rows(tok: Any, clip: Any) -> tuple[np.ndarray, np.ndarray]:
    """(features of the step's speech, expression and identity; pose) of every video frame of one clip."""
    codes, width = level_codes(tok, clip["speech"], clip.meta)
    pose = np.asarray(clip["pose"], np.float64)
    frames = pose.shape[0]
    own = np.stack([span_histogram(codes, f, frames, width) for f in range(frames)])
    around = np.stack([own[max(f - 2, 0): f + 3].sum(0) - own[f] for f in range(frames)])
    expression = np.asarray(clip["expression"], np.float64)[:, :10]
    identity = np.repeat(np.asarray(clip["identity"], np.float64)[None, :14], frames, 0)
    return np.concatenate([own, around, expression, identity], 1), pose


def image_rows(clips: list, fit: int, folder: str, registry: Any, components: int = 64) -> list[np.ndarray]:
    """Per clip, the principal components (of the fitted clips) of its image tokens' LFQ bits."""
    bits = token_features(clips, *image_tokenizer(folder, registry))
    mu = bits[:fit].mean(0)
    _, _, vt = np.linalg.svd(bits[:fit] - mu, full_matrices=False)
    return list((bits - mu) @ vt[:components].T)


def head_action(clip: Any) -> np.ndarray:
    """One-hot of the description's head action (not an input of the step)."""
    said = set(clip["description"]["action"]["head_action"])
    return np.asarray([float(any(a in s for s in said)) for a in _HEAD_WORDS])


_HEAD_WORDS = ("nod", "turn", "tilt", "center", "still")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokenizer", default="cpu-reference",
                        help="the model whose speech (and image) tokenizers read the conditions: a shipped name or a folder")
    parser.add_argument("--data", type=Path, default=None,
                        help="a stored dataset of rendered clips (adds the reference image; default: unrendered clips)")
    parser.add_argument("--clips", type=int, default=1200, help="use the first N clips")
    parser.add_argument("--test", type=int, default=200, help="the last clips, held out")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampled residuals and the bootstrap")
    parser.add_argument("--out", type=Path, default=None, help="JSON report")
    args = parser.parse_args()

    t0 = time.perf_counter()
    registry = load_registry()
    tok, path = speech_tokenizer(args.tokenizer, registry)
    if args.data is not None:
        clips, fit = stored_split(parser, args.data, args.clips, args.test, ("speech", "expression", "identity", "pose",
                                                                            "description"))
    else:
        if not 0 < args.test < args.clips - 10:
            parser.error(f"--test must lie in 1..{args.clips - 11} for {args.clips} clips, got {args.test}")
        clips, fit = performed_clips(args.clips, seed=0), args.clips - args.test
    n = len(clips)
    per_clip = [clip_rows(tok, c) for c in clips]
    lengths = {p.shape[0] for _, p in per_clip}
    if len(lengths) != 1:
        raise SystemExit(f"clips of {sorted(lengths)} frames: the readout needs one length")
    frames = lengths.pop()
    blocks = {"the step's inputs": [f for f, _ in per_clip]}
    inputs = "speech codes, expression, identity"
    if "image" in clips[0].values:
        images = image_rows(clips, fit, args.tokenizer, registry)
        blocks["the step's inputs"] = [np.concatenate([f, np.repeat(im[None], frames, 0)], 1)
                                       for f, im in zip(blocks["the step's inputs"], images)]
        inputs += ", image tokens (64 principal components)"
    blocks["+ the description's head action (not an input)"] = [
        np.concatenate([f, np.repeat(head_action(c)[None], frames, 0)], 1) for f, c in zip(blocks["the step's inputs"], clips)]
    pose = [p for _, p in per_clip]
    print(f"{n} clips{f' from {args.data}' if args.data else ' (unrendered)'}: {fit} fitted (penalty by 5-fold CV over clips), "
          f"the last {args.test} held out; inputs: {inputs} (speech tokenizer {path}); {time.perf_counter() - t0:.0f} s")

    rng = np.random.default_rng(args.seed)
    test = list(range(fit, n))
    other = test[1:] + test[:1]  # the control: the next held-out clip's conditions
    pool = np.concatenate(pose[:fit])
    baseline = [normalized_rmse(np.broadcast_to(pool.mean(0), pose[i].shape), pose[i], modality="pose") for i in test]
    print(f"trivial baseline (the training mean): nrmse {np.mean(baseline):.3f}")
    print("| features | penalty | held-out R² | decoding, metric | own conditions | another clip's | real - control, signed to favour real [95% CI] |")
    print("|---|--:|--:|---|--:|--:|---|")
    report: dict[str, Any] = {"tokenizer": str(path), "data": str(args.data), "clips": n, "test": args.test,
                              "baseline_nrmse": float(np.mean(baseline)), "features": {}}
    groups = np.repeat(np.arange(fit), frames)
    for name, feats in blocks.items():
        readout, penalty = fit_readout(np.concatenate(feats[:fit]), pool, groups)
        pred = {i: readout(feats[i]) for i in range(n)}
        r2 = 1 - sum(np.sum((pose[i] - pred[i]) ** 2) for i in test) / sum(np.sum((pose[i] - pool.mean(0)) ** 2) for i in test)
        resid = [pose[k] - pred[k] for k in range(fit)]
        noise = [resid[k] for k in rng.integers(0, fit, size=len(test))]  # a random training clip's residual
        entry: dict[str, Any] = {"penalty": penalty, "r2": float(r2)}
        for kind, add in (("sampled", noise), ("mean", [0.0] * len(test))):
            for metric, score, lower in (("nrmse", lambda a, b: normalized_rmse(a, b, modality="pose"), True),
                                         ("pitch r", head_pitch_correlation, False)):
                real = [score(pred[i] + e, pose[i]) for i, e in zip(test, add)]
                ctrl = [score(pred[j] + e, pose[i]) for i, j, e in zip(test, other, add)]
                row = entry.setdefault(kind, {})[metric] = paired_summary(real, ctrl, lower_is_better=lower, seed=args.seed)
                print(f"| {name} | {penalty:g} | {r2:.3f} | {kind}, {metric} | {row['real']:.3f} | {row['control']:.3f} | "
                      f"{row['difference']:+.3f} [{row['ci95'][0]:+.3f}, {row['ci95'][1]:+.3f}] |", flush=True)
        report["features"][name] = entry
    write_json(args.out, report)


if __name__ == "__main__":
    main()
