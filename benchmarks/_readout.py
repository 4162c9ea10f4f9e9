"""The readout helpers the readout benchmarks share (issue 20): features of a clip's conditions,
a cross-validated ridge readout, the paired summary against a control, and the stored split.

Used by `identity_readout.py`, `pose_readout.py` and `rendered_readout.py`; nothing here is
learned by the LM: the readouts bound what a judged step can show.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from archon_framework.data import ClipDataset
from archon_framework.eval import paired_interval
from archon_framework.infer import tokenizers_folder
from archon_eval_metrics import normalized_rmse

__all__ = ["description_features", "fit_readout", "image_tokenizer", "nrmse", "paired_summary", "pixel_features",
           "stored_split", "token_features", "write_json"]

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
