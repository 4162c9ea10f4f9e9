"""Chains of generation steps (paper Sec. 3.4, "thinking in modality") and their planning.

A chain is an ordered list of output slots generated from a set of condition slots, eq. 2 of
the paper: step ``j`` generates ``d_j`` from the conditions and ``d_1 .. d_{j-1}``. The model
is trained on a finite suite of tasks, so each step reads the *subset* of what is available
that forms a trained task: named chains spell that task out (all from Table G); a step without
explicit inputs takes the trained task with that output whose inputs are all available and
that reads the most of them (ties: the one reading more generated modalities, then suite
order). A rendered output (``video``) is made by its modality's Renderer from the raw values of
``Modality.derived_from``.

`plan_chain` checks a chain against the installed modalities, the given conditions and the
trained suite before any compute and names what is missing. Named chains come from plugins
(`archon_chains()`), into the frozen `Registry` (``registry.chain(name)``); this module holds no
chain of its own.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import Literal

import attrs

from archon_framework._errors import TaskError
from archon_framework._modality import Modality
from archon_framework._tasks import Slot, State, Task, TaskSuite, _to_slots

__all__ = [
    "ChainStep",
    "Chain",
    "PlannedStep",
    "plan_chain",
    "parse_chain",
    "default_slot",
    "parse_slot",
    "EditCheck",
    "EditingChain",
    "chain_steps",
    "chain_slots",
]


def default_slot(name: str, modalities: Mapping[str, Modality]) -> Slot:
    """A modality name as a slot: ``current`` for temporal modalities, else ``time-invariant``."""
    mod = modalities.get(name)
    if mod is None:
        raise TaskError(
            f"modality {name!r} is not installed (installed: {', '.join(sorted(modalities)) or 'none'})"
        )
    return Slot(name, State.CURRENT if mod.temporal else State.STATIC)


_SLOT = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*(?:\(\s*([A-Za-z-]+)\s*\))?\s*$")


def parse_slot(text: str | Slot, modalities: Mapping[str, Modality] | None = None) -> Slot:
    """``speech(c)`` -> Slot; a bare name (``speech``) takes its modality's default state."""
    if isinstance(text, Slot):
        return text
    m = _SLOT.match(str(text))
    if not m:
        raise TaskError(f"cannot parse slot {text!r}: expected NAME or NAME(STATE), e.g. speech or speech(c)")
    if m.group(2) is not None:
        return Slot(m.group(1), m.group(2))
    if modalities is None:
        raise TaskError(f"slot {text!r} has no state; write it as {text}(c) or {text}(t)")
    return default_slot(m.group(1), modalities)


@attrs.frozen
class ChainStep:
    """One step: an output slot and, optionally, the exact inputs it reads.

    Attributes:
        output: the slot this step generates (or renders).
        inputs: the task's inputs; None picks the largest trained task whose inputs are
            available (LM outputs) or reads ``derived_from`` (rendered outputs).
        guidance: this step's classifier-free guidance weight (``Sampling.guidance``);
            None takes the run's sampling.
    """

    output: Slot
    inputs: tuple[Slot, ...] | None = attrs.field(default=None, converter=lambda v: None if v is None else tuple(v))
    guidance: float | None = None

    def __str__(self) -> str:
        if self.inputs is None:
            return str(self.output)
        return "+".join(str(s) for s in self.inputs) + "->" + str(self.output)


def _steps(value: Iterable[ChainStep | Slot]) -> tuple[ChainStep, ...]:
    return tuple(v if isinstance(v, ChainStep) else ChainStep(v) for v in value)


@attrs.frozen
class Chain:
    """An ordered chain of generation steps from a set of conditions (paper eq. 2).

    Attributes:
        name: registry name (``speech-to-video``).
        conditions: slots that must be given.
        steps: the outputs, in generation order.
        optional: slots that may be given too; a given slot's step is skipped (its value is
            used as is), e.g. text-to-all with a script.
        description: one line for listings.
    """

    name: str
    conditions: tuple[Slot, ...] = attrs.field(converter=_to_slots)
    steps: tuple[ChainStep, ...] = attrs.field(converter=_steps)
    optional: tuple[Slot, ...] = attrs.field(default=(), converter=_to_slots)
    description: str = ""

    def __attrs_post_init__(self) -> None:
        if not self.steps:
            raise TaskError(f"chain {self.name!r} has no steps")
        outs = [s.output for s in self.steps]
        dup = {s for s in outs if outs.count(s) > 1}
        if dup:
            raise TaskError(f"chain {self.name!r} generates {sorted(dup)[0]} twice")
        both = set(outs) & set(self.conditions)
        if both:
            raise TaskError(f"chain {self.name!r}: {sorted(both)[0]} is both a condition and an output")

    @property
    def outputs(self) -> tuple[Slot, ...]:
        return tuple(s.output for s in self.steps)

    def signature(self) -> str:
        """``{speech(c), image(t)} -> [identity(t), expression(c), ...]`` as in the paper."""
        conds = ", ".join(str(s) for s in self.conditions)
        return "{" + conds + "} -> [" + ", ".join(str(s) for s in self.outputs) + "]"

    def restricted_to(self, installed: Collection[str]) -> tuple[Chain, tuple[Slot, ...]]:
        """This chain without the steps whose output modality is not installed.

        Returns the chain and the dropped outputs (the caller says so). Conditions are never
        dropped: a chain whose condition is not installed cannot run at all.
        """
        keep = tuple(s for s in self.steps if s.output.modality in installed)
        dropped = tuple(s.output for s in self.steps if s.output.modality not in installed)
        if not dropped:
            return self, ()
        return attrs.evolve(self, steps=keep), dropped


@attrs.frozen
class PlannedStep:
    """A chain step after planning.

    Attributes:
        output: the slot.
        kind: "generate" (the LM emits its tokens), "render" (its Renderer makes it) or "given"
            (it was passed as a condition and is kept as is).
        inputs: the slots it reads (the task's inputs, or the rendered modality's sources).
        guidance: the chain step's guidance weight (None: the run's sampling).
    """

    output: Slot
    kind: Literal["generate", "render", "given"]
    inputs: tuple[Slot, ...] = ()
    guidance: float | None = None

    @property
    def task(self) -> Task | None:
        return Task(self.inputs, self.output) if self.kind == "generate" else None

    def __str__(self) -> str:
        if self.kind == "generate":
            return self.task.name  # type: ignore[union-attr]
        if self.kind == "render":
            return "+".join(str(s) for s in self.inputs) + "=>" + str(self.output) + " (rendered)"
        return f"{self.output} (given)"


def _trained(suite: TaskSuite, inputs: tuple[Slot, ...], out: Slot) -> Task | None:
    """The suite's task with these inputs (in any order) and output, in the suite's input order."""
    want = set(inputs)
    for task in suite.tasks:
        if task.output == out and set(task.inputs) == want and len(task.inputs) == len(inputs):
            return task
    return None


def _pick_task(out: Slot, available: list[Slot], generated: set[Slot], suite: TaskSuite) -> Task | None:
    best, best_key = None, None
    avail = set(available)
    for i, task in enumerate(suite.tasks):
        if task.output != out or not set(task.inputs) <= avail:
            continue
        key = (len(task.inputs), len(set(task.inputs) & generated), -i)
        if best_key is None or key > best_key:
            best, best_key = task, key
    return best


def plan_chain(
    chain: Chain,
    *,
    modalities: Mapping[str, Modality],
    suite: TaskSuite,
    given: Collection[Slot],
) -> tuple[PlannedStep, ...]:
    """Check a chain and fix each step's task, before any compute.

    Args:
        chain: the chain.
        modalities: the installed modalities.
        suite: the tasks the model was trained on.
        given: the slots passed as conditions.

    Raises:
        TaskError: a condition is missing, a modality is not installed, a step reads something
            that is neither given nor generated earlier, or a step's task is not in the suite
            (the message names the task and the suite).
    """
    given = list(dict.fromkeys(given))
    missing = [s for s in chain.conditions if s not in given]
    if missing:
        raise TaskError(
            f"chain {chain.name!r} {chain.signature()} needs condition(s) {', '.join(map(str, missing))}; "
            f"given: {', '.join(map(str, given)) or 'nothing'}"
        )
    for slot in (*given, *chain.outputs, *(i for s in chain.steps for i in (s.inputs or ()))):
        if slot.modality not in modalities:
            raise TaskError(
                f"chain {chain.name!r}: modality {slot.modality!r} ({slot}) is not installed "
                f"(installed: {', '.join(sorted(modalities))})"
            )
    available = list(given)
    generated: set[Slot] = set()
    planned: list[PlannedStep] = []
    for n, step in enumerate(chain.steps, 1):
        out = step.output
        where = f"chain {chain.name!r}, step {n} ({out})"
        if out in given:
            planned.append(PlannedStep(out, "given"))
            continue
        mod = modalities[out.modality]
        if mod.rendered:
            sources = []
            for name in mod.derived_from:
                if name not in modalities:
                    raise TaskError(f"{where}: {out.modality!r} is rendered from {name!r}, which is not installed")
                cands = [s for s in available if s.modality == name and s.state is not State.PAST]
                if not cands:
                    raise TaskError(
                        f"{where}: {out.modality!r} is rendered from {', '.join(mod.derived_from)}; "
                        f"{name!r} is neither a condition nor generated by an earlier step"
                    )
                sources.append(cands[0])
            if step.inputs is not None and set(step.inputs) != set(sources):
                raise TaskError(f"{where}: a rendered modality reads {', '.join(mod.derived_from)}, not the inputs listed")
            planned.append(PlannedStep(out, "render", tuple(sources)))
        else:
            if step.inputs is not None:
                absent = [s for s in step.inputs if s not in available]
                if absent:
                    raise TaskError(
                        f"{where}: reads {', '.join(map(str, absent))}, which is neither a condition nor "
                        "generated by an earlier step"
                    )
                task = _trained(suite, step.inputs, out)
                if task is None:
                    task = Task(step.inputs, out)
                    raise TaskError(
                        f"{where}: task {task.name} is not in the suite {suite.name!r} the model was trained "
                        "on; train with a suite that has it, or choose another chain"
                    )
            else:
                task = _pick_task(out, available, generated, suite)
                if task is None:
                    wanted = Task(tuple(available), out).name
                    known = [t.name for t in suite.tasks if t.output == out]
                    raise TaskError(
                        f"{where}: no task of the suite {suite.name!r} generates {out} from what is available; "
                        f"task {wanted} is not in the suite (its tasks with output {out}: "
                        f"{'; '.join(known) if known else 'none'})"
                    )
            planned.append(PlannedStep(out, "generate", task.inputs, step.guidance))
        available.append(out)
        generated.add(out)
    return tuple(planned)


def parse_chain(text: str, modalities: Mapping[str, Modality], *, name: str | None = None) -> Chain:
    """A chain from ``CONDITIONS->OUTPUTS``, e.g. ``speech+image->identity,expression,semantic,video``.

    Conditions are separated by ``+`` (or ``,``), outputs by ``,``; bare names take their
    modality's default state. Steps pick their tasks automatically (see the module doc).
    """
    if text.count("->") != 1:
        raise TaskError(f"cannot parse chain {text!r}: expected CONDITIONS->OUTPUT,OUTPUT,...")
    lhs, rhs = text.split("->")
    conds = tuple(parse_slot(s, modalities) for s in re.split(r"[+,]", lhs.strip(" {}")) if s.strip())
    outs = tuple(parse_slot(s, modalities) for s in rhs.strip(" []").split(",") if s.strip())
    if not conds or not outs:
        raise TaskError(f"cannot parse chain {text!r}: it needs at least one condition and one output")
    return Chain(name or text.replace(" ", ""), conds, outs, description="custom chain")


# ---------------------------------------------------------------------- writing chains down
def chain_slots(text: str) -> tuple[Slot, ...]:
    """``a(c)+b(t)`` -> the slots, in order (states written out; no modality lookup)."""
    return tuple(parse_slot(x) for x in text.split("+") if x.strip())


def chain_steps(*tasks: str) -> tuple[ChainStep, ...]:
    """Steps from Table G task names: ``a(c)+b(t)->out(c)`` (exact inputs) or ``out(c)`` (a
    rendered output, or a step whose task is picked from what is available)."""
    out = []
    for task in tasks:
        if "->" in task:
            lhs, rhs = task.split("->")
            out.append(ChainStep(parse_slot(rhs), chain_slots(lhs)))
        else:
            out.append(ChainStep(parse_slot(task)))
    return tuple(out)


# ---------------------------------------------------------------------- editing chains
@attrs.frozen
class EditCheck:
    """A figure an editing chain records: a registered metric on the edited clip's outputs.

    The metric's prediction holds, for each of its modalities, the regenerated output (else the
    edited value, else the clip's); its reference holds the edited value (``against="edit"``)
    or the clip's value as it was (``against="clip"``).

    Attributes:
        name: the figure's key in the manifest.
        metric: a registered metric's name (``registry.metrics``).
        against: "edit" or "clip".
        description: what the figure shows about the edit.
    """

    name: str
    metric: str
    against: Literal["edit", "clip"] = attrs.field(validator=attrs.validators.in_(("edit", "clip")))
    description: str = ""


@attrs.frozen
class EditingChain:
    """A chain that regenerates what depends on an edit of a clip.

    Attributes:
        name: registry name (``edit-script``).
        chain: its conditions are read from the clip (or the edit) and its steps are exactly
            what gets regenerated; every other modality of the clip is kept.
        edits: the modalities the user changes (``("expression", "pose")`` for reenactment).
        voice: modalities whose clip value conditions the chain as a past window
            (``speech(p)``: the clip's own voice), tokenized from the clip.
        description: one line for listings.
        checks: the figures `measure_edit` records for an edit with this chain.
    """

    name: str
    chain: Chain
    edits: tuple[str, ...] = attrs.field(converter=tuple)
    voice: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    description: str = ""
    checks: tuple[EditCheck, ...] = attrs.field(default=(), converter=tuple)

    @property
    def regenerates(self) -> tuple[str, ...]:
        return tuple(s.modality for s in self.chain.outputs)
