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
trained suite before any compute and names what is missing.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import Literal

import attrs

from archon_framework._errors import TaskError
from archon_framework._modality import Modality
from archon_framework._tasks import Slot, State, Task, TaskSuite

__all__ = [
    "ChainStep",
    "Chain",
    "PlannedStep",
    "plan_chain",
    "parse_chain",
    "default_slot",
    "parse_slot",
    "register_chain",
    "get_chain",
    "list_chains",
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
    conditions: tuple[Slot, ...] = attrs.field(converter=tuple)
    steps: tuple[ChainStep, ...] = attrs.field(converter=_steps)
    optional: tuple[Slot, ...] = attrs.field(default=(), converter=tuple)
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
            return self.task.name
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


# ---------------------------------------------------------------------- the named chains
def _s(text: str) -> Slot:
    return parse_slot(text)


def _step(task: str) -> ChainStep:
    """``a(c)+b(t)->out(c)`` (a Table G task) or ``out(c)`` (rendered / automatic)."""
    if "->" not in task:
        return ChainStep(_s(task))
    lhs, rhs = task.split("->")
    return ChainStep(_s(rhs), tuple(_s(x) for x in lhs.split("+")))


_REGISTRY: dict[str, Chain] = {}


def register_chain(chain: Chain, *, replace: bool = False) -> Chain:
    """Add a chain to the registry that ``get_chain``, ``list_chains`` and the CLI read."""
    if chain.name in _REGISTRY and not replace:
        raise TaskError(f"a chain named {chain.name!r} is already registered")
    _REGISTRY[chain.name] = chain
    return chain


def get_chain(name: str) -> Chain:
    """A registered chain by name; TaskError listing the names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise TaskError(f"no chain named {name!r} (registered: {', '.join(sorted(_REGISTRY))})") from None


def list_chains() -> tuple[Chain, ...]:
    """Every registered chain, in registration order."""
    return tuple(_REGISTRY.values())


def _chain(name: str, conditions: str, steps: list[str], description: str, optional: str = "") -> Chain:
    return register_chain(Chain(
        name,
        tuple(_s(c) for c in conditions.split("+")),
        tuple(_step(s) for s in steps),
        tuple(_s(c) for c in optional.split("+")) if optional else (),
        description,
    ))


#: Paper Sec. 3.4 / Tab. 3 "Full Model": {speech, image} -> [shape, expression, semantic, description, video].
SPEECH_TO_VIDEO = _chain("speech-to-video", "speech(c)+image(t)", [
    "image(t)->identity(t)",
    "speech(c)+identity(t)+image(t)->expression(c)",
    "image(t)+expression(c)->semantic(c)",
    "image(t)+semantic(c)+speech(c)->description(t)",
    "video(c)",
], "speech + reference image -> video, thinking through identity, expression, semantic, description (paper Tab. 3 full)")

#: Paper Tab. 3 "w/o Thinking". Video is rendered from semantic + image + description here, so
#: the direct chain emits semantic straight from {speech, image} and the description the
#: renderer needs from the same inputs plus that semantic (as the full chain does), without the
#: intermediate identity and expression.
SPEECH_TO_VIDEO_DIRECT = _chain("speech-to-video-direct", "speech(c)+image(t)", [
    "speech(c)+image(t)->semantic(c)",
    "image(t)+semantic(c)+speech(c)->description(t)",
    "video(c)",
], "speech + reference image -> video without thinking: semantic directly from the conditions (paper Tab. 3 w/o thinking)")

#: Paper Sec. 4.2 / Fig. 4(a): a description (optionally with a script) -> every modality.
TEXT_TO_ALL = _chain("text-to-all", "description(t)", [
    "description(t)->script(c)",
    "description(t)+script(c)->speech(c)",
    "description(t)->image(t)",
    "description(t)+script(c)+speech(c)->identity(t)",
    "description(t)+script(c)+speech(c)+image(t)+identity(t)->expression(c)",
    "speech(c)+identity(t)+expression(c)+image(t)->pose(c)",
    "description(t)+script(c)+speech(c)+identity(t)+expression(c)+pose(c)+image(t)->semantic(c)",
    "video(c)",
], "description (+ optional script) -> script, speech, image, 3DMM, semantic, video (paper Fig. 4a)",
    optional="script(c)")

#: Paper Fig. 4(b): speech -> appearance (description) and script, then everything else.
SPEECH_TO_ALL = _chain("speech-to-all", "speech(c)", [
    "speech(c)->description(t)",
    "speech(c)->script(c)",
    "description(t)+script(c)+speech(c)->identity(t)",
    "description(t)->image(t)",
    "description(t)+script(c)+speech(c)+image(t)+identity(t)->expression(c)",
    "speech(c)+identity(t)+expression(c)+image(t)->pose(c)",
    "description(t)+script(c)+speech(c)+identity(t)+expression(c)+pose(c)+image(t)->semantic(c)",
    "video(c)",
], "speech -> description, script, 3DMM, image, semantic, video (paper Fig. 4b)")

#: Paper Fig. 4(c): fine-grained control with 3DMM and a reference image.
ANIMATION_TO_VIDEO = _chain("animation-to-video", "identity(t)+expression(c)+pose(c)+image(t)", [
    "image(t)+identity(t)+expression(c)+pose(c)->semantic(c)",
    "image(t)+semantic(c)->description(t)",
    "video(c)",
], "3DMM (identity, expression, pose) + image -> semantic, description, video (paper Fig. 4c)")

#: Paper Fig. 4(d), understanding from a semantic video: lip reading, voice, 3DMM, description.
SEMANTIC_TO_ALL = _chain("semantic-to-all", "semantic(c)", [
    "semantic(c)->expression(c)",
    "semantic(c)->pose(c)",
    "semantic(c)->script(c)",
    "script(c)+semantic(c)->speech(c)",
    "speech(c)->identity(t)",
    "identity(t)+expression(c)+pose(c)->description(t)",
], "semantic video -> expression, pose, script (lip reading), speech, identity, description (paper Fig. 4d)")

#: Paper Fig. 4(d), understanding a video. The LM reads video through its semantic rendering
#: and a reference frame (video itself is rendered, never tokenized).
VIDEO_TO_ALL = _chain("video-to-all", "semantic(c)+image(t)", [
    "semantic(c)->script(c)",
    "script(c)+semantic(c)->speech(c)",
    "image(t)->identity(t)",
    "semantic(c)->expression(c)",
    "semantic(c)->pose(c)",
    "image(t)+semantic(c)+speech(c)+script(c)->description(t)",
], "a video (as its semantic video + a frame) -> script, speech, 3DMM, description (paper Fig. 4d)")
