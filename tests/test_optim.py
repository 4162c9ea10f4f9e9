"""The shared warm-up + cosine learning-rate schedule."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archon_framework.optim import warmup_cosine_schedule


def test_warm_up_then_cosine_to_the_end_value():
    sched = warmup_cosine_schedule(1e-3, warmup_steps=10, steps=110, end_value=1e-4)
    assert float(sched(0)) == 0.0
    assert float(sched(5)) == pytest.approx(5e-4)
    assert float(sched(10)) == pytest.approx(1e-3)
    assert float(sched(60)) == pytest.approx(1e-4 + 0.5 * (1e-3 - 1e-4), rel=1e-5)  # half-way
    assert float(sched(110)) == float(sched(500)) == pytest.approx(1e-4)


def test_without_steps_the_rate_is_held_after_the_warm_up():
    assert float(warmup_cosine_schedule(2e-3, warmup_steps=0, steps=None)(0)) == pytest.approx(2e-3)
    warm = warmup_cosine_schedule(2e-3, warmup_steps=4, steps=None)
    assert [float(warm(i)) for i in (0, 2, 4, 10_000)] == pytest.approx([0.0, 1e-3, 2e-3, 2e-3])


@given(warmup=st.integers(0, 50), steps=st.integers(1, 60))
def test_a_run_shorter_than_its_warm_up_still_peaks_and_decays(warmup, steps):
    sched = warmup_cosine_schedule(1.0, warmup_steps=warmup, steps=steps, end_value=0.25)
    rates = [float(sched(i)) for i in range(steps + 2)]
    assert max(rates) == pytest.approx(1.0)
    assert rates[steps] == rates[steps + 1] == pytest.approx(0.25)
    peak = rates.index(max(rates))
    assert all(b <= a + 1e-6 for a, b in zip(rates[peak:], rates[peak + 1 :]))  # no rise after the peak


def test_negative_lengths_are_refused():
    with pytest.raises(ValueError, match="warmup_steps=-1"):
        warmup_cosine_schedule(1.0, warmup_steps=-1, steps=10)
    with pytest.raises(ValueError, match="steps=-5"):
        warmup_cosine_schedule(1.0, warmup_steps=0, steps=-5)
