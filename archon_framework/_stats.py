"""Summary statistics every report shares: a mean with its standard error, and the paired
bootstrap interval a learning claim is judged by (real against control, clip by clip).

Kept apart from `archon_framework.eval` and `archon_framework.infer` so that both (and the
benchmarks) compute intervals one way: eval imports infer, so neither can host it for the other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["mean_stderr", "paired_interval"]


def paired_interval(differences: Sequence[float], *, seed: int = 0, resamples: int = 10_000,
                    level: float = 0.95) -> tuple[float, float, float]:
    """Mean of the finite differences and its percentile bootstrap interval (`resamples`
    resamples of the pairs, a fixed `seed`); NaN bounds for fewer than two pairs."""
    d = np.asarray([x for x in differences if math.isfinite(x)], np.float64)
    if d.size == 0:
        return math.nan, math.nan, math.nan
    if d.size == 1:
        return float(d[0]), math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(resamples, d.size))].mean(axis=1)
    alpha = (1 - level) / 2
    return float(d.mean()), float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def mean_stderr(values: Sequence[Any]) -> dict[str, Any]:
    """``{"mean", "stderr", "count"}`` over the finite floats of `values` (others are not
    scored); ``{"mean": None, "count": 0}`` when there are none, stderr None for one."""
    finite = [v for v in values if isinstance(v, float) and math.isfinite(v)]
    if not finite:
        return {"mean": None, "count": 0}
    arr = np.asarray(finite)
    stderr = float(arr.std(ddof=1) / math.sqrt(arr.size)) if arr.size > 1 else None
    return {"mean": float(arr.mean()), "stderr": stderr, "count": int(arr.size)}
