"""Training budgets that survive compilation: compile seconds apart from training seconds.

A trainer on a 2-core CPU can spend minutes compiling its update before the first step runs.
`StepBudget` keeps that out of the wall-time budget: the budget's clock starts when the first
step (the one that compiles) has finished, and every later compilation (a discriminator that
joins, an evaluation function) is taken off the clock too. Compilations are seen through JAX's
own monitoring events (`jax.monitoring`: tracing, lowering and backend compilation, each with its
start and end), so the compile seconds are what JAX spent compiling, not a guess from the first
step's wall time. Each stage has a minimum step count; a stage that stops below it says so in its
`TrainReport` and with an `UndertrainedWarning` on the terminal.

Typical loop::

    with StepBudget("speech codec", steps=None, seconds=60.0, min_steps=200) as budget:
        while budget.more():
            metrics = trainer.step(batch)  # blocks on its results (float(...))
            budget.step_done()
    report = budget.report()  # TrainReport(steps, compile_s, train_s, min_steps, below_min, ...)
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import jax

from archon_framework._errors import ConfigError

__all__ = ["COMPILE_EVENTS", "StepBudget", "TrainReport", "UndertrainedWarning", "training_record"]

#: The `jax.monitoring` events whose time spans make up a compilation.
COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)
_BACKEND_EVENT = COMPILE_EVENTS[-1]


class UndertrainedWarning(UserWarning):
    """A training stage stopped (its budget ran out) before its minimum step count."""


class _CompileSpans:
    """Records when JAX compiled while it is active (a context manager); counting compilations per
    function is `archon_framework.CompileCounter`'s job, this keeps the time spans so that compile
    seconds inside any window (after the first step, say) can be taken off a budget.

    Attributes:
        compiles: ``(function name, backend seconds)`` of every XLA compilation, in order (a
            persistent-cache hit counts too: it is JAX's compile request, answered from disk).
        spans: ``(start, end)`` wall-clock spans (``time.time``) of every tracing, lowering and
            backend compilation; nested spans (a jit traced inside another) overlap.
    """

    def __init__(self) -> None:
        self.compiles: list[tuple[str, float]] = []
        self.spans: list[tuple[float, float]] = []
        self._lock = threading.Lock()

    def _on_span(self, event: str, start_time: float, end_time: float, **kwargs: Any) -> None:
        if event in COMPILE_EVENTS:
            with self._lock:
                self.spans.append((start_time, end_time))
                if event == _BACKEND_EVENT:
                    self.compiles.append((str(kwargs.get("fun_name", "?")), end_time - start_time))

    def __enter__(self) -> _CompileSpans:
        jax.monitoring.register_event_time_span_listener(self._on_span)
        return self

    def __exit__(self, *exc: object) -> None:
        jax.monitoring.unregister_event_time_span_listener(self._on_span)

    def count(self, name: str | None = None) -> int:
        """Compilations so far (of functions whose name contains ``name``, when given)."""
        with self._lock:
            return sum(1 for n, _ in self.compiles if name is None or name in n)

    def seconds(self, since: float = float("-inf"), until: float = float("inf")) -> float:
        """Wall seconds spent compiling between ``since`` and ``until`` (``time.time``): the
        length of the union of the recorded spans clipped to that window (nested spans count once)."""
        with self._lock:
            spans = sorted((max(a, since), min(b, until)) for a, b in self.spans)
        total, reach = 0.0, float("-inf")
        for a, b in spans:
            if b <= a:
                continue
            if a > reach:
                total += b - a
            elif b > reach:
                total += b - reach
            reach = max(reach, b)
        return total


@attrs.frozen
class TrainReport:
    """How one training stage used its time.

    Attributes:
        stage: the stage's name (``"speech codec"``, ``"video autoencoder"``, ...).
        steps: optimizer steps taken.
        min_steps: the stage's minimum step count; fewer and ``below_min`` is true.
        compile_s: wall seconds JAX spent tracing, lowering and compiling during the stage.
        train_s: the stage's other wall seconds (steps, data, checkpoints).
        first_step_s: wall seconds of the first step, its compilation included.
        compiles: XLA compilations during the stage.
        budget_s: the wall-time budget (training seconds, after the first step), if any.
    """

    stage: str
    steps: int
    min_steps: int
    compile_s: float
    train_s: float
    first_step_s: float
    compiles: int
    budget_s: float | None = None

    @property
    def below_min(self) -> bool:
        """True when the stage took fewer steps than its minimum."""
        return self.steps < self.min_steps

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of every field plus ``below_min`` (seconds rounded to 0.01)."""
        out = attrs.asdict(self)
        for k in ("compile_s", "train_s", "first_step_s"):
            out[k] = round(out[k], 2)
        out["below_min"] = self.below_min
        return out

    def summary(self) -> str:
        """One line for a terminal: steps, the compile/train split, and the minimum when missed."""
        text = (f"{self.stage}: {self.steps} steps, compile {self.compile_s:.1f} s "
                f"({self.compiles} compilations), train {self.train_s:.1f} s")
        if self.below_min:
            text += f"; BELOW THE MINIMUM of {self.min_steps} steps: undertrained"
        return text


def training_record(reports: Sequence[TrainReport]) -> dict[str, Any]:
    """The keys a trainer adds to its JSON report for its stages (one for a tokenizer, two for
    the video decoder), the same for every trainer so a caller (the demo) reads them alike.

    Returns:
        ``{"training": [TrainReport.to_dict(), ...], "compile_s": sum, "train_s": sum,
        "below_min": any stage below its minimum}``.
    """
    return {
        "training": [r.to_dict() for r in reports],
        "compile_s": round(sum(r.compile_s for r in reports), 2),
        "train_s": round(sum(r.train_s for r in reports), 2),
        "below_min": any(r.below_min for r in reports),
    }


class StepBudget:
    """Decides when a training loop stops and times it, compile time apart.

    Args:
        stage: the stage's name, for the report and the warning.
        steps: stop after this many steps (None: no step limit).
        seconds: stop once this many training seconds have passed, counted from the end of the
            first step and without the time spent compiling (None: no time limit). The first
            step is always taken.
        min_steps: the stage's minimum; a stage that stops below it is flagged and warned about.
        clock: the wall clock (``time.time``; JAX's monitoring spans use it).

    Raises:
        ConfigError: a negative or zero ``steps`` or ``seconds``, a negative ``min_steps``, or
            neither ``steps`` nor ``seconds`` (the loop would never stop).
    """

    def __init__(self, stage: str, *, steps: int | None, seconds: float | None, min_steps: int = 1,
                 clock: Callable[[], float] = time.time):
        if steps is None and seconds is None:
            raise ConfigError(f"{stage}: give a step count or a time budget (both are None)")
        if steps is not None and steps < 1:
            raise ConfigError(f"{stage}: steps must be at least 1, got {steps}")
        if seconds is not None and not seconds > 0:
            raise ConfigError(f"{stage}: the time budget must be positive, got {seconds} s")
        if min_steps < 0:
            raise ConfigError(f"{stage}: min_steps must be at least 0, got {min_steps}")
        self.stage, self.steps, self.seconds, self.min_steps = stage, steps, seconds, int(min_steps)
        self.done = 0
        self._clock = clock
        self._log = _CompileSpans()
        self._start: float | None = None
        self._first_end: float | None = None
        self._end: float | None = None
        self._compiles_at_start = 0

    def __enter__(self) -> StepBudget:
        self._log.__enter__()
        self._start = self._clock()
        return self

    def __exit__(self, *exc: object) -> None:
        self._end = self._clock()
        self._log.__exit__(*exc)
        if exc[0] is None:
            report = self.report()
            if report.below_min:
                warnings.warn(report.summary(), UndertrainedWarning, stacklevel=2)

    def _now(self) -> float:
        return self._clock() if self._end is None else self._end

    def train_elapsed(self) -> float:
        """Training seconds counted against the budget: since the first step ended, less compiles."""
        if self._first_end is None:
            return 0.0
        now = self._now()
        return max(0.0, now - self._first_end - self._log.seconds(self._first_end, now))

    def remaining(self) -> float | None:
        """Budget seconds left (None without a time budget)."""
        return None if self.seconds is None else max(0.0, self.seconds - self.train_elapsed())

    def more(self) -> bool:
        """Whether the loop takes another step."""
        if self._start is None:
            raise RuntimeError("StepBudget.more() outside its `with` block")
        if self.steps is not None and self.done >= self.steps:
            return False
        return self.seconds is None or self.done == 0 or self.train_elapsed() < self.seconds

    def step_done(self) -> None:
        """Count one finished step (call it after the step's results are on the host)."""
        self.done += 1
        if self._first_end is None:
            self._first_end = self._clock()

    def report(self) -> TrainReport:
        """The stage's `TrainReport` so far (final once the ``with`` block has exited)."""
        if self._start is None:
            raise RuntimeError("StepBudget.report() before its `with` block")
        now = self._now()
        compile_s = self._log.seconds(self._start, now)
        first = (self._first_end or now) - self._start
        return TrainReport(stage=self.stage, steps=self.done, min_steps=self.min_steps, compile_s=compile_s,
                           train_s=max(0.0, now - self._start - compile_s), first_step_s=first,
                           compiles=self._log.count(), budget_s=self.seconds)
