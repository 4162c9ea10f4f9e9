"""Slots, tasks and task suites (paper Sec. 3.2, eq. 2: one output modality per task)."""

from __future__ import annotations

import enum
import re
import warnings
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from archon_framework._errors import TaskError

if TYPE_CHECKING:
    from archon_framework._modality import Modality

__all__ = ["State", "Slot", "Task", "TaskSuite", "parse_task"]


class State(enum.Enum):
    """The state of a modality in a task: the paper's p (past), c (current), t (time-invariant)."""

    PAST = "past"
    CURRENT = "current"
    STATIC = "time-invariant"

    @property
    def short(self) -> str:
        return {"past": "p", "current": "c", "time-invariant": "t"}[self.value]

    @classmethod
    def parse(cls, value: State | str) -> State:
        """Accepts a State, its value, its name or the paper's letter (p, c, t)."""
        if isinstance(value, State):
            return value
        key = str(value).strip().lower()
        aliases = {
            "p": cls.PAST, "past": cls.PAST,
            "c": cls.CURRENT, "current": cls.CURRENT,
            "t": cls.STATIC, "static": cls.STATIC, "time-invariant": cls.STATIC, "time_invariant": cls.STATIC,
        }
        try:
            return aliases[key]
        except KeyError:
            raise TaskError(
                f"unknown state {value!r}: use past (p), current (c) or time-invariant (t)"
            ) from None


@attrs.frozen(order=True)
class Slot:
    """A modality in a given state, e.g. `Slot("speech", "current")`."""

    modality: str = attrs.field()
    state: State = attrs.field(converter=State.parse, order=lambda s: s.value)  # type: ignore[misc]

    @modality.validator
    def _check(self, attribute, value):
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", value):
            raise TaskError(f"slot modality must be a modality name, got {value!r}")

    def __str__(self) -> str:
        return f"{self.modality}({self.state.short})"


def _to_slots(value: Iterable[Slot]) -> tuple[Slot, ...]:
    return tuple(value)


@attrs.frozen
class Task:
    """Generate one output slot from a set of input slots.

    Structural rules checked here: at least one input, no repeated input slot, the output is
    not an input, and the output is never `past` (the model predicts the present).
    `TaskSuite.check` adds the rules that need the installed modalities.
    """

    inputs: tuple[Slot, ...] = attrs.field(converter=_to_slots)
    output: Slot

    def __attrs_post_init__(self) -> None:
        if not self.inputs:
            raise TaskError(f"task -> {self.output}: needs at least one input")
        for slot in (*self.inputs, self.output):
            if not isinstance(slot, Slot):
                raise TaskError(f"task slots must be Slot objects, got {slot!r}")
        dup = [s for s, n in Counter(self.inputs).items() if n > 1]
        if dup:
            raise TaskError(f"task {self.name}: input {dup[0]} appears twice")
        if self.output in self.inputs:
            raise TaskError(f"task {self.name}: the output {self.output} is also an input")
        if self.output.state is State.PAST:
            raise TaskError(f"task {self.name}: the output cannot be in the past state")

    @property
    def name(self) -> str:
        """Canonical name, e.g. `description(t)+script(c)->speech(c)`."""
        return "+".join(str(s) for s in self.inputs) + "->" + str(self.output)

    @property
    def modalities(self) -> frozenset[str]:
        return frozenset(s.modality for s in (*self.inputs, self.output))

    @property
    def has_past(self) -> bool:
        return any(s.state is State.PAST for s in self.inputs)

    def __str__(self) -> str:
        return self.name


_SLOT_RE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*\(\s*([A-Za-z-]+)\s*\)\s*$")


def _parse_slot(text: str) -> Slot:
    m = _SLOT_RE.match(text)
    if not m:
        raise TaskError(f"cannot parse slot {text!r}: expected NAME(STATE), e.g. speech(c)")
    return Slot(m.group(1), m.group(2))


def parse_task(text: str) -> Task:
    """Parse a task name such as `speech(c)+identity(t)->expression(c)`."""
    if text.count("->") != 1:
        raise TaskError(f"cannot parse task {text!r}: expected INPUTS->OUTPUT")
    lhs, rhs = text.split("->")
    return Task(tuple(_parse_slot(s) for s in lhs.split("+")), _parse_slot(rhs))


def _check_weights(instance, attribute, weights: tuple[float, ...]) -> None:
    if len(weights) != len(instance.tasks):
        raise TaskError(
            f"suite {instance.name!r}: {len(weights)} weights for {len(instance.tasks)} tasks"
        )
    for task, w in zip(instance.tasks, weights):
        if not (w >= 0.0) or w == float("inf"):
            raise TaskError(f"suite {instance.name!r}: task {task.name} has invalid weight {w!r}")
    if instance.tasks and sum(weights) <= 0:
        raise TaskError(f"suite {instance.name!r}: weights sum to zero")


def _to_tasks(value: Iterable[Task]) -> tuple[Task, ...]:
    return tuple(value)


def _default_weights(self) -> tuple[float, ...]:
    n = len(self.tasks)
    return tuple(1.0 / n for _ in range(n)) if n else ()


@attrs.frozen
class TaskSuite:
    """A named, weighted set of tasks. Weights are sampling probabilities (normalized on use)."""

    name: str
    tasks: tuple[Task, ...] = attrs.field(converter=_to_tasks)
    weights: tuple[float, ...] = attrs.field(
        default=attrs.Factory(_default_weights, takes_self=True),
        converter=lambda ws: tuple(float(w) for w in ws),
        validator=_check_weights,
    )

    def __attrs_post_init__(self) -> None:
        dup = [t for t, n in Counter(self.tasks).items() if n > 1]
        if dup:
            raise TaskError(f"suite {self.name!r}: task {dup[0].name} appears twice")

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return len(self.tasks)

    def __iter__(self):
        return iter(self.tasks)

    @property
    def modalities(self) -> frozenset[str]:
        return frozenset().union(*(t.modalities for t in self.tasks)) if self.tasks else frozenset()

    @property
    def probabilities(self) -> tuple[float, ...]:
        total = sum(self.weights)
        return tuple(w / total for w in self.weights)

    def task(self, name: str) -> Task:
        for t in self.tasks:
            if t.name == name:
                return t
        raise TaskError(f"suite {self.name!r} has no task {name!r}")

    def output_counts(self) -> Mapping[str, int]:
        """N_m: the number of tasks whose output is modality m."""
        return dict(Counter(t.output.modality for t in self.tasks))

    # ------------------------------------------------------------------ transforms
    def with_weights(self, weights: Sequence[float] | Mapping[str, float]) -> TaskSuite:
        """Same tasks, new weights (a sequence in task order, or a mapping by task name)."""
        if isinstance(weights, Mapping):
            missing = [t.name for t in self.tasks if t.name not in weights]
            if missing:
                raise TaskError(f"suite {self.name!r}: no weight for task(s) {', '.join(missing)}")
            weights = [weights[t.name] for t in self.tasks]
        return TaskSuite(self.name, self.tasks, tuple(weights))

    def filter_installed(self, installed: Collection[str], *, strict: bool = False) -> TaskSuite:
        """Keep the tasks whose modalities are all installed.

        Dropped tasks are reported with a `UserWarning` that names them and the missing
        modalities; with `strict=True` they are an error instead. This is the documented
        policy for a suite that references a modality that is not installed.
        """
        keep, dropped = [], []
        for task, w in zip(self.tasks, self.weights):
            missing = sorted(task.modalities - set(installed))
            if missing:
                dropped.append(f"{task.name} (missing {', '.join(missing)})")
            else:
                keep.append((task, w))
        if dropped:
            missing_all = sorted(set().union(*(t.modalities for t in self.tasks)) - set(installed))
            shown = "; ".join(dropped[:3]) + ("; ..." if len(dropped) > 3 else "")
            message = (
                f"suite {self.name!r}: {len(dropped)} of {len(self.tasks)} task(s) dropped because these modalities "
                f"are not installed: {', '.join(missing_all)} (e.g. {shown})"
            )
            if strict:
                raise TaskError(message)
            warnings.warn(message, UserWarning, stacklevel=2)
        if not keep:
            raise TaskError(f"suite {self.name!r}: no task is left once uninstalled modalities are removed")
        return TaskSuite(self.name, tuple(t for t, _ in keep), tuple(w for _, w in keep))

    def check(self, modalities: Mapping[str, Modality]) -> None:
        """Check every task against installed modality declarations (name -> Modality).

        Errors name the task and the slot: an unknown modality, a time-invariant modality in
        the past or current state, a rendered modality (no vocabulary) as an output.
        """
        for task in self.tasks:
            for slot in (*task.inputs, task.output):
                mod = modalities.get(slot.modality)
                if mod is None:
                    raise TaskError(
                        f"suite {self.name!r}, task {task.name}: modality {slot.modality!r} is not installed"
                    )
                if not mod.temporal and slot.state is not State.STATIC:
                    raise TaskError(
                        f"suite {self.name!r}, task {task.name}: {slot.modality!r} is time-invariant, "
                        f"so its state must be time-invariant, not {slot.state.value}"
                    )
            if modalities[task.output.modality].vocabulary is None:
                raise TaskError(
                    f"suite {self.name!r}, task {task.name}: {task.output.modality!r} has no tokens "
                    "(it is rendered), so it cannot be an output of the language model"
                )
