"""Slots, tasks, suites: structure, installed-modality checks, Table G, sampling weights."""

from __future__ import annotations

import math
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archon_framework import (
    Slot, State, Task, TaskError, TaskSuite, output_balanced_weights, parse_task,
    perplexity_weights, uniform_weights,
)
from archon_paper import TABLE_G, archon72


def test_state_aliases_and_unknown_state():
    assert State.parse("p") is State.PAST and State.parse("current") is State.CURRENT
    assert State.parse("t") is State.STATIC and State.parse("time-invariant") is State.STATIC
    with pytest.raises(TaskError, match="unknown state 'future'"):
        Slot("speech", "future")


def test_task_structure_rules():
    s = Slot("speech", "c")
    with pytest.raises(TaskError, match="at least one input"):
        Task((), s)
    with pytest.raises(TaskError, match="also an input"):
        Task((s,), s)
    with pytest.raises(TaskError, match="past state"):
        Task((s,), Slot("speech", "p"))
    with pytest.raises(TaskError, match="appears twice"):
        Task((s, s), Slot("script", "c"))
    with pytest.raises(TaskError, match="modality name"):
        Slot("not a name", "c")


def test_archon72_is_table_g_exactly():
    suite = archon72()
    assert len(suite) == 72 and len(set(suite.tasks)) == 72
    assert suite.output_counts() == {
        "script": 5, "speech": 11, "image": 5, "identity": 4,
        "expression": 10, "pose": 9, "semantic": 22, "description": 6,
    }
    # The same input sets and states per output modality, row by row.
    i = 0
    for output, combos in TABLE_G:
        for combo in combos:
            task = suite.tasks[i]
            assert str(task.output) == output
            assert [str(s) for s in task.inputs] == combo.split("+")
            i += 1
    # A few rows checked against the paper's text directly.
    assert suite.task("expression(p)+speech(c)->expression(c)")
    assert suite.task("identity(t)+expression(t)+pose(t)->image(t)")
    assert suite.task("semantic(p)+expression(c)+pose(c)->semantic(c)")
    assert suite.task("identity(t)+expression(c)+pose(c)->description(t)")
    assert not any(t.output.modality == "video" for t in suite)


@given(st.sampled_from(archon72().tasks))
def test_task_names_round_trip(task):
    assert parse_task(task.name) == task


def test_suite_check_against_installed(toy_registry):
    suite = TaskSuite("s", (Task((Slot("speech", "c"),), Slot("image", "c")),))
    with pytest.raises(TaskError, match="'image' is time-invariant"):
        suite.check(toy_registry.modalities)
    suite = TaskSuite("s", (Task((Slot("lidar", "c"),), Slot("speech", "c")),))
    with pytest.raises(TaskError, match="'lidar' is not installed"):
        suite.check(toy_registry.modalities)


def test_filter_installed_warns_with_names_or_raises():
    suite = archon72()
    installed = {"speech", "script", "expression", "description"}
    with pytest.warns(UserWarning, match="not installed: identity, image, pose, semantic"):
        kept = suite.filter_installed(installed)
    assert all(t.modalities <= installed for t in kept) and len(kept) > 0
    assert kept.task("script(c)+speech(p)->speech(c)")
    with pytest.raises(TaskError, match="not installed"):
        suite.filter_installed(installed, strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(TaskError, match="no task is left"):
            suite.filter_installed({"image"})


def test_uniform_and_output_balanced_weights():
    suite = archon72()
    assert all(p == pytest.approx(1 / 72) for p in uniform_weights(suite).probabilities)
    bal = output_balanced_weights(suite)
    per_output = {}
    for t, p in zip(bal.tasks, bal.probabilities):
        per_output[t.output.modality] = per_output.get(t.output.modality, 0.0) + p
    assert all(v == pytest.approx(1 / 8) for v in per_output.values())


@given(st.lists(st.floats(1.0001, 1e4), min_size=72, max_size=72))
def test_perplexity_weights_follow_the_paper(ppl):
    suite = archon72()
    by_name = {t.name: p for t, p in zip(suite.tasks, ppl)}
    weighted = perplexity_weights(suite, by_name)
    counts = suite.output_counts()
    raw = [math.log(by_name[t.name]) / counts[t.output.modality] for t in suite.tasks]
    total = sum(raw)
    for p, r in zip(weighted.probabilities, raw):
        assert p == pytest.approx(r / total)


def test_perplexity_weights_bad_input():
    suite = archon72()
    good = {t.name: 2.0 for t in suite}
    with pytest.raises(TaskError, match="no perplexity for task"):
        perplexity_weights(suite, dict(list(good.items())[1:]))
    with pytest.raises(TaskError, match=">= 1"):
        perplexity_weights(suite, {**good, suite.tasks[0].name: 0.5})
    with pytest.raises(TaskError, match="every task has perplexity 1"):
        perplexity_weights(suite, {t.name: 1.0 for t in suite})


def test_bad_suite_weights_name_the_task():
    t = Task((Slot("speech", "c"),), Slot("script", "c"))
    with pytest.raises(TaskError, match="1 weights for 2 tasks"):
        TaskSuite("s", (t, Task((Slot("script", "c"),), Slot("speech", "c"))), (1.0,))
    with pytest.raises(TaskError, match="invalid weight"):
        TaskSuite("s", (t,), (-1.0,))
    with pytest.raises(TaskError, match="appears twice"):
        TaskSuite("s", (t, t))
