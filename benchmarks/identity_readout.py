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
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from archon_framework import load_registry
from archon_framework.data import ClipDataset
from archon_framework.eval import paired_interval
from archon_framework.infer import tokenizers_folder
from archon_eval_metrics import normalized_rmse

_PENALTIES = tuple(10.0 ** k for k in range(-2, 6))


def _leaves(value: Any, path: str = "") -> Iterator[str]:
    """``key.path=value`` for every scalar and list item of a JSON value."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v, path)
    else:
        yield f"{path}={value}"


def description_features(clips: list, fit: int) -> np.ndarray:
    """One-hot of the ``key=value`` attributes seen in the first `fit` clips."""
    names = sorted({a for c in clips[:fit] for a in _leaves(c["description"])})
    index = {a: i for i, a in enumerate(names)}
    x = np.zeros((len(clips), len(names)), np.float64)
    for row, c in enumerate(clips):
        for a in _leaves(c["description"]):
            if a in index:
                x[row, index[a]] = 1.0
    return x


def pixel_features(clips: list, size: int = 32) -> np.ndarray:
    """The image averaged down to `size` x `size` x 3, in [0, 1]."""
    rows = []
    for c in clips:
        img = np.asarray(c["image"], np.float64) / 255.0
        h, w = img.shape[:2]
        rows.append(img[: h - h % size, : w - w % size].reshape(size, h // size, size, w // size, 3).mean(axis=(1, 3)).ravel())
    return np.stack(rows)


def image_tokenizer(name: str, registry: Any) -> tuple[Any, int]:
    """The image tokenizer of a model (shipped name, exported or recipe run folder) or of its
    folder, and its LFQ bits a position."""
    folder = Path(name)
    folder = folder if (folder / "config.json").is_file() else tokenizers_folder(name) / "image"
    tokenizer = registry.modalities["image"].tokenizer(folder)
    size = tokenizer.vocabulary.size
    bits = int(size).bit_length() - 1
    if 1 << bits != size:
        raise SystemExit(f"{folder}: an image vocabulary of {size} codes is not a power of two (LFQ bits expected)")
    return tokenizer, bits


def token_features(clips: list, tokenizer: Any, bits: int) -> np.ndarray:
    """The LFQ code of every image position as its `bits` signs (+-1)."""
    rows = []
    for c in clips:
        ids = np.asarray(tokenizer.encode(c["image"], meta=c.meta), np.int64)
        rows.append((((ids[:, None] >> np.arange(bits)) & 1) * 2.0 - 1.0).ravel())
    return np.stack(rows)


class _Ridge:
    """Ridge regression on standardized features, for every penalty at the cost of one
    eigendecomposition (of the Gram matrix in the primal or the dual form, whichever is smaller)."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.mu, self.sd, self.ym = x.mean(0), x.std(0) + 1e-9, y.mean(0)
        self.z = (x - self.mu) / self.sd
        self.dual = self.z.shape[0] < self.z.shape[1]
        gram = self.z @ self.z.T if self.dual else self.z.T @ self.z
        self.vals, self.vecs = np.linalg.eigh(gram)
        rhs = y - self.ym if self.dual else self.z.T @ (y - self.ym)
        self.proj = self.vecs.T @ rhs

    def __call__(self, penalty: float) -> Callable[[np.ndarray], np.ndarray]:
        solved = self.vecs @ (self.proj / (self.vals + penalty)[:, None])
        beta = self.z.T @ solved if self.dual else solved
        return lambda q: ((q - self.mu) / self.sd) @ beta + self.ym


def fit_readout(x: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None,
                folds: int = 5) -> tuple[Callable[[np.ndarray], np.ndarray], float]:
    """The ridge readout with the penalty of the best `folds`-fold cross-validated error (rows
    of one group, such as one clip's frames, stay in one fold)."""
    part = (np.arange(len(x)) if groups is None else np.asarray(groups)) % folds
    errors = np.zeros(len(_PENALTIES))
    for k in range(folds):
        ridge = _Ridge(x[part != k], y[part != k])
        for n, penalty in enumerate(_PENALTIES):
            errors[n] += float(np.sum((ridge(penalty)(x[part == k]) - y[part == k]) ** 2))
    best = _PENALTIES[int(np.argmin(errors))]
    return _Ridge(x, y)(best), best


def paired_summary(real: list[float], control: list[float], *, lower_is_better: bool, seed: int = 0) -> dict[str, Any]:
    """Means of a figure for the own and the control conditions, and their paired difference
    oriented so that positive is better than the control, with its 95% bootstrap interval."""
    sign = -1.0 if lower_is_better else 1.0
    diff, lo, hi = paired_interval([sign * (r - c) for r, c in zip(real, control)], seed=seed)
    return {"real": float(np.nanmean(real)), "control": float(np.nanmean(control)), "difference": diff, "ci95": [lo, hi]}


def stored_split(parser: argparse.ArgumentParser, data: Path, clips: int | None, test: int,
                 needs: tuple[str, ...]) -> tuple[list, int]:
    """The first `clips` (all: None) clips of a stored dataset and how many are fitted (the
    last `test` are held out); a parser error for a bad `test`, an exit naming what they lack."""
    stored = ClipDataset(data)
    n = min(clips or len(stored), len(stored))
    if not 0 < test < n - 10:
        parser.error(f"--test must lie in 1..{n - 11} for {n} clips, got {test}")
    loaded = [stored[i] for i in range(n)]
    missing = [m for m in needs if m not in loaded[0].values]
    if missing:
        raise SystemExit(f"{data}: its clips lack {', '.join(missing)} (give rendered clips)")
    return loaded, n - test


def write_json(path: Path | None, report: dict[str, Any]) -> None:
    """The JSON report, if a path was given."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {path}")


def nrmse(prediction: np.ndarray, reference: np.ndarray, used: np.ndarray) -> float:
    """`identity_param_nrmse` (archon-eval-metrics' `normalized_rmse`) of a prediction of the
    `used` dimensions of the whole `reference` vector (the others as the reference has them)."""
    whole = reference.copy()
    whole[used] = prediction
    return normalized_rmse(whole, reference, modality="identity")


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
