"""Sampling weights of a task suite (paper Sec. 3.2): uniform, output-balanced, or S(i) from
measured task perplexities. Suites themselves come from plugins (`archon_task_suites()`)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from archon_framework._errors import TaskError
from archon_framework._tasks import TaskSuite

__all__ = ["uniform_weights", "output_balanced_weights", "perplexity_weights"]


def uniform_weights(suite: TaskSuite) -> TaskSuite:
    """Every task equally likely."""
    return suite.with_weights([1.0] * len(suite))


def output_balanced_weights(suite: TaskSuite) -> TaskSuite:
    """Every output modality equally likely: task i gets 1 / N_m(i)."""
    counts = suite.output_counts()
    return suite.with_weights([1.0 / counts[t.output.modality] for t in suite.tasks])


def perplexity_weights(suite: TaskSuite, perplexities: Mapping[str, float]) -> TaskSuite:
    """The paper's S(i) = log(p_i) / N_m(i), from measured task perplexities (by task name).

    p_i is the perplexity of task i under a baseline trained with uniform weights; N_m(i) the
    number of tasks sharing task i's output modality. A perplexity of exactly 1 (a solved
    task) gets weight 0; perplexities below 1, non-finite or missing are errors.
    """
    counts = suite.output_counts()
    weights = []
    for task in suite.tasks:
        if task.name not in perplexities:
            raise TaskError(f"perplexity_weights: no perplexity for task {task.name}")
        p = float(perplexities[task.name])
        if not math.isfinite(p) or p < 1.0:
            raise TaskError(f"perplexity_weights: task {task.name} has perplexity {p!r}; it must be finite and >= 1")
        weights.append(math.log(p) / counts[task.output.modality])
    if sum(weights) <= 0:
        raise TaskError("perplexity_weights: every task has perplexity 1, so every weight is 0")
    return suite.with_weights(weights)
