"""The paper's task suite `archon72` (Table G) and the sampling weights of Sec. 3.2."""

from __future__ import annotations

import math
from collections.abc import Mapping

from archon_framework._errors import TaskError
from archon_framework._tasks import Slot, Task, TaskSuite

__all__ = ["archon72", "uniform_weights", "output_balanced_weights", "perplexity_weights", "TABLE_G"]

# Table G of the supplementary, row by row: output slot, then its input combinations, in the
# paper's order and with its abbreviations (desc, id, expr) expanded.
TABLE_G: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("script(c)", (
        "description(t)", "script(p)", "speech(c)", "expression(c)", "semantic(c)",
    )),
    ("speech(c)", (
        "description(t)", "description(t)+script(c)", "script(c)", "script(c)+speech(p)", "speech(p)",
        "script(c)+image(t)", "script(c)+semantic(c)", "script(c)+speech(p)+semantic(c)",
        "identity(t)+expression(c)", "semantic(c)", "script(c)+identity(t)",
    )),
    ("image(t)", (
        "description(t)", "speech(c)", "identity(t)", "identity(t)+expression(t)+pose(t)",
        "description(t)+identity(t)+expression(t)+pose(t)",
    )),
    ("identity(t)", (
        "description(t)", "description(t)+script(c)+speech(c)", "speech(c)", "image(t)",
    )),
    ("expression(c)", (
        "description(t)", "description(t)+script(c)+speech(c)+image(t)+identity(t)", "script(c)",
        "script(c)+speech(c)+identity(t)", "speech(c)", "speech(c)+identity(t)",
        "speech(c)+identity(t)+image(t)", "speech(c)+image(t)", "semantic(c)", "expression(p)+speech(c)",
    )),
    ("pose(c)", (
        "description(t)", "speech(c)", "speech(c)+identity(t)+expression(c)",
        "speech(c)+expression(c)+image(t)", "speech(c)+identity(t)+expression(c)+image(t)",
        "image(t)+identity(t)+expression(c)", "image(t)+expression(c)", "identity(t)+expression(c)",
        "semantic(c)",
    )),
    ("semantic(c)", (
        "description(t)", "description(t)+script(c)", "description(t)+script(c)+speech(c)",
        "description(t)+script(c)+speech(c)+identity(t)+expression(c)+pose(c)",
        "description(t)+image(t)",
        "description(t)+script(c)+speech(c)+identity(t)+expression(c)+pose(c)+image(t)",
        "script(c)", "script(c)+image(t)",
        "script(c)+speech(c)+identity(t)+expression(c)+pose(c)+image(t)",
        "speech(c)", "speech(c)+identity(t)+expression(c)+pose(c)",
        "speech(c)+identity(t)+expression(c)+pose(c)+image(t)", "speech(c)+image(t)",
        "speech(c)+expression(c)+pose(c)+image(t)", "image(t)", "image(t)+identity(t)+expression(c)+pose(c)",
        "image(t)+expression(c)+pose(c)", "image(t)+expression(c)", "identity(t)+expression(c)+pose(c)",
        "semantic(p)", "semantic(p)+speech(c)", "semantic(p)+expression(c)+pose(c)",
    )),
    ("description(t)", (
        "speech(c)", "image(t)+semantic(c)+speech(c)", "image(t)+semantic(c)+speech(c)+script(c)",
        "image(t)", "image(t)+semantic(c)", "identity(t)+expression(c)+pose(c)",
    )),
)


def _slot(text: str) -> Slot:
    name, state = text.rstrip(")").split("(")
    return Slot(name, state)


def archon72() -> TaskSuite:
    """The 72 tasks of the paper's Table G, in its order, with uniform weights."""
    tasks = []
    for output, combos in TABLE_G:
        out = _slot(output)
        for combo in combos:
            tasks.append(Task(tuple(_slot(s) for s in combo.split("+")), out))
    return TaskSuite("archon72", tuple(tasks))


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
