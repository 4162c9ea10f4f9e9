"""StepBudget: the time budget starts after the first (compiling) step; compile seconds are kept apart."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import pytest

from archon_framework import ArchonError
from archon_framework.train import StepBudget, TrainReport, UndertrainedWarning, training_record


class FakeClock:
    """A wall clock the test moves by hand (compile spans come from JAX's real clock, so the
    tests that use it compile nothing inside the budget)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_budget_starts_after_the_first_step():
    clock = FakeClock()
    with StepBudget("stage", steps=None, seconds=10.0, min_steps=0, clock=clock) as budget:
        assert budget.more()
        clock.now += 500.0  # a very slow first step (compiling) does not eat the budget
        budget.step_done()
        assert budget.train_elapsed() == 0.0 and budget.more()
        for _ in range(4):
            clock.now += 3.0
            budget.step_done()
        assert not budget.more()  # 12 s of training > 10 s
    report = budget.report()
    assert report.steps == 5 and report.first_step_s == pytest.approx(500.0)
    assert report.train_s == pytest.approx(512.0)  # nothing was compiled inside the block


def test_a_step_limit_stops_first_and_the_first_step_is_always_taken():
    clock = FakeClock()
    with StepBudget("stage", steps=3, seconds=1e-9, min_steps=0, clock=clock) as budget:
        assert budget.more()  # the first step runs whatever the budget
        budget.step_done()
        clock.now += 1.0
        assert not budget.more()
    with StepBudget("stage", steps=2, seconds=None, min_steps=0) as budget:
        while budget.more():
            budget.step_done()
    assert budget.report().steps == 2


def test_below_the_minimum_is_flagged_and_warned():
    clock = FakeClock()
    with pytest.warns(UndertrainedWarning, match="BELOW THE MINIMUM of 5 steps"):
        with StepBudget("speech codec", steps=None, seconds=1.0, min_steps=5, clock=clock) as budget:
            while budget.more():
                clock.now += 0.6
                budget.step_done()
    report = budget.report()
    assert report.steps == 3 and report.below_min
    d = report.to_dict()
    assert d["below_min"] is True and d["min_steps"] == 5 and json.loads(json.dumps(d)) == d
    fine = TrainReport(stage="other", steps=9, min_steps=5, compile_s=2.0, train_s=3.0, first_step_s=2.5, compiles=1)
    record = training_record([fine, report])
    assert record["training"] == [fine.to_dict(), d] and record["below_min"] is True
    assert record["compile_s"] == pytest.approx(2.0 + report.compile_s, abs=0.01)
    assert training_record([fine])["below_min"] is False


def test_compile_seconds_are_measured_and_taken_off_the_budget():
    @jax.jit
    def f(x):
        for _ in range(30):  # a graph worth compiling
            x = jnp.sin(x) @ x
        return x

    with StepBudget("stage", steps=2, seconds=None, min_steps=1) as budget:
        while budget.more():
            f(jnp.ones((8 + budget.done, 8 + budget.done))).block_until_ready()  # two shapes: two compiles
            budget.step_done()
    report = budget.report()
    assert isinstance(report, TrainReport) and report.compiles >= 2 and report.compile_s > 0
    assert report.first_step_s >= report.compile_s / 2  # the first of two equal compiles
    # the second step's compile happened after the first step: it is not training time
    assert budget.train_elapsed() < report.compile_s


@pytest.mark.parametrize("kwargs", [dict(steps=None, seconds=None), dict(steps=0, seconds=None),
                                    dict(steps=None, seconds=0.0), dict(steps=1, seconds=None, min_steps=-1)])
def test_bad_budgets_are_refused_by_name(kwargs):
    with pytest.raises(ArchonError, match="my stage"):
        StepBudget("my stage", **kwargs)
