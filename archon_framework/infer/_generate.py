"""Chained generation (paper eq. 2), editing, and automatic chain choice.

Each step serializes its task's inputs (conditions and earlier outputs, held by the run's
`Board`) exactly as a training example's prefix is serialized (`archon_framework.data.TaskSampler`:
the same windows, the same `SlotCodec`, the same `PromptSerializer.serialize`), then decodes the
output modality with the KV cache: exactly `Modality.num_tokens(meta)` tokens, or free-length
text until the end-of-sequence id within the modality's `max_tokens`, each token drawn from
logits computed over its vocabulary range (per-position blocks, `SlotCodec.ranges`, for a
`BlockedTokenizer`) only; the ids decode back through the same codec.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import attrs
import jax
import numpy as np

from archon_framework._clip import ClipMeta
from archon_framework._errors import ArchonError, RawValueError, TaskError
from archon_framework._plugins import Registry
from archon_framework._tasks import Slot, State, Task
from archon_framework.data._examples import drop_conditions
from archon_framework.infer._board import Board, Ids, lenient_text
from archon_framework._chains import Chain, PlannedStep, parse_chain, parse_slot, plan_chain
from archon_framework.infer._lm_steps import decode_fixed, decode_until, free_budget, score_target
from archon_framework.infer._model import LoadedModel
from archon_framework.model import Sampling

__all__ = ["Ids", "StepResult", "GenerationResult", "ChainScore", "generate", "edit", "choose_chain", "resolve_chain",
           "board_nll"]

StepKind = Literal["generated", "rendered", "given", "kept", "failed"]
#: Values keyed by slot, as `Slot`s or as text (`"speech(current)"`).
Conditions = Mapping[Slot, Any] | Mapping[str, Any] | Mapping[Slot | str, Any]


@attrs.frozen(eq=False)
class StepResult:
    """What one chain step produced.

    Attributes:
        output: the slot.
        kind: "generated" (by the LM), "rendered", "given" (a condition), "kept" (reused by an
            edit) or "failed" (see note).
        inputs: the slots it read.
        global_ids: the generated ids (None for rendered, given without ids, failed).
        value: the decoded raw value (None if it could not be decoded).
        valid: whether the value passes the modality's checks (`Modality.check_raw`).
        finished: free-length text: whether it ended with the end-of-sequence id.
        seconds: wall time of the step (compile included on first use).
        note: why a value is invalid, a step failed, or a budget was clamped.
    """

    output: Slot
    kind: StepKind
    inputs: tuple[Slot, ...] = ()
    global_ids: np.ndarray | None = None
    value: Any = None
    valid: bool = True
    finished: bool = True
    seconds: float = 0.0
    note: str = ""

    @property
    def task(self) -> Task | None:
        if self.kind in ("generated", "kept") and self.inputs and self.global_ids is not None:
            return Task(self.inputs, self.output)
        return None


@attrs.frozen(eq=False)
class GenerationResult:
    """A chain run: the conditions and every step's ids and value.

    Attributes:
        chain: the chain that ran.
        plan: its planned steps (tasks fixed).
        meta: the clip window generated.
        conditions: the given slots, raw values or `Ids`, as passed.
        steps: one result per planned step, in chain order.
        seed: the seed (each step's key is derived from it and the step's output slot).
        sampling: how tokens were drawn.
    """

    chain: Chain
    plan: tuple[PlannedStep, ...]
    meta: ClipMeta
    conditions: Mapping[Slot, Any]
    steps: tuple[StepResult, ...]
    seed: int
    sampling: Sampling

    def step(self, slot: Slot | str) -> StepResult:
        for s in self.steps:
            if s.output == slot or s.output.modality == slot or str(s.output) == slot:
                return s
        raise TaskError(f"chain {self.chain.name!r} has no step {slot}")

    def value(self, slot: Slot | str) -> Any:
        """The raw value of a step's output, or of a condition."""
        for k, v in self.conditions.items():
            if k == slot or k.modality == slot or str(k) == slot:
                if not isinstance(v, Ids):
                    return v
        return self.step(slot).value

    @property
    def outputs(self) -> dict[Slot, Any]:
        return {s.output: s.value for s in self.steps}


def _key(seed: int, slot: Slot) -> jax.Array:
    """A step's sampling key: from the seed and the output slot, so edits reuse it."""
    return jax.random.fold_in(jax.random.key(seed), zlib.crc32(str(slot).encode()) & 0x7FFFFFFF)


def resolve_chain(chain: Chain | str, registry: Registry) -> Chain:
    """A Chain from a Chain, the name of one the plugins provide (``registry.chains``), or a
    ``CONDITIONS->OUTPUTS`` expression over the registry's modalities."""
    if isinstance(chain, Chain):
        return chain
    if "->" in chain:
        return parse_chain(chain, registry.modalities)
    return registry.chain(chain)


def _run_generate(model: LoadedModel, board: Board, step: PlannedStep, key: jax.Array, sampling: Sampling,
                  max_text_tokens: int | None) -> StepResult:
    slot = step.output
    mod = model.registry.modality(slot.modality)
    codec = model.codec(slot.modality)
    rng = codec.range
    if rng.stop > model.lm.vocab_size:
        raise TaskError(f"{slot}: the model has no embedding rows for {mod.vocabulary.name!r} (installed after training)")  # type: ignore[union-attr]
    inputs = [board.payload(s) for s in step.inputs]
    sampling = sampling.for_output(slot.modality)
    if step.guidance is not None:
        sampling = sampling._replace(guidance=float(step.guidance))
    guided = sampling.guidance != 0.0
    ser = model.serializer
    start = time.perf_counter()
    note = ""
    if ser.is_text(slot.modality):
        budget = mod.max_tokens or 256
        if max_text_tokens is not None:
            budget = min(budget, max_text_tokens)
        prompt_ex = ser.serialize(inputs, slot)
        prompt = prompt_ex.tokens
        room = free_budget(prompt.shape[0], budget, model.lm.config.max_seq_len)
        if room < budget:
            note = f"text budget {room} tokens (max_seq_len {model.lm.config.max_seq_len})"
            budget = room
        if budget < 1:
            raise TaskError(f"{slot}: the prompt ({prompt.shape[0]} tokens) leaves no room in max_seq_len={model.lm.config.max_seq_len}")
        uncond_ex = ser.serialize(drop_conditions(inputs), slot) if guided else None
        ids, ended = decode_until(model.lm, prompt, codec.ranges(budget), ser.eos_global, key, sampling,
                                  None if uncond_ex is None else uncond_ex.tokens,
                                  (prompt_ex.times, None, None if uncond_ex is None else uncond_ex.times))
        seconds = time.perf_counter() - start
        text, text_note = lenient_text(model, ids)
        value = codec.value_of(text)
        note = "; ".join(x for x in (note, text_note, "" if ended else f"no end-of-sequence within {budget} tokens") if x)
        result_ids, finished = ids, ended
    else:
        n = board.expected_tokens(slot)
        if n is None:
            raise TaskError(f"{slot}: {slot.modality!r} is not text and declares no token count (num_tokens) for a window")
        prompt_ex = ser.serialize(inputs, slot, target_tokens=n)
        uncond_ex = ser.serialize(drop_conditions(inputs), slot, target_tokens=n) if guided else None
        result_ids = decode_fixed(model.lm, prompt_ex.tokens, codec.ranges(n), key, sampling,
                                  None if uncond_ex is None else uncond_ex.tokens,
                                  (prompt_ex.times, ser.slot_times(slot, n), None if uncond_ex is None else uncond_ex.times))
        seconds = time.perf_counter() - start
        finished = True
        try:
            value = codec.decode(result_ids, board.window(slot))
        except ArchonError as err:
            value, note = None, f"could not decode: {err}"
    if guided:
        note = "; ".join(x for x in (f"classifier-free guidance w={sampling.guidance:g}", note) if x)
    valid = value is not None
    if value is not None:
        try:
            value = mod.check_raw(value, board.window(slot))
        except RawValueError as err:
            valid = False
            note = "; ".join(x for x in (note, f"invalid value: {err}") if x)
    board.settle(slot, result_ids, value, valid, note)
    return StepResult(slot, "generated", step.inputs, result_ids, value, valid, finished, seconds, note)


def _run_render(model: LoadedModel, board: Board, step: PlannedStep, seed: int) -> StepResult:
    slot = step.output
    renderer = model.renderer(slot.modality)  # a Renderer: checked when it was made
    inputs, bad = {}, []
    for src in step.inputs:
        try:
            inputs[src.modality] = board.raw_value(src)
        except ArchonError as err:
            return StepResult(slot, "failed", step.inputs, note=f"input {src} has no value: {err}")
        if src in board.valid:
            bad.append(f"{src} ({board.valid[src]})")
    start = time.perf_counter()
    try:
        value = renderer.render(inputs, meta=board.meta, seed=seed)
    except Exception as err:  # a plugin's renderer: report, do not crash the chain
        why = f"the renderer failed: {type(err).__name__}: {err}"
        if bad:
            why += "; invalid inputs: " + "; ".join(bad)
        return StepResult(slot, "failed", step.inputs, seconds=time.perf_counter() - start, note=why)
    seconds = time.perf_counter() - start
    mod = model.registry.modality(slot.modality)
    note, valid = ("rendered from invalid inputs: " + "; ".join(bad)) if bad else "", True
    try:
        value = mod.check_raw(value, board.window(slot))
    except RawValueError as err:
        valid, note = False, "; ".join(x for x in (note, f"invalid value: {err}") if x)
    board.settle(slot, None, value, valid, note)
    return StepResult(slot, "rendered", step.inputs, None, value, valid, True, seconds, note)


def _normalize_conditions(model: LoadedModel, conditions: Conditions) -> dict[Slot, Any]:
    out: dict[Slot, Any] = {}
    for key, value in conditions.items():
        slot = parse_slot(key, model.registry.modalities)
        if slot.modality not in model.registry.modalities:
            raise TaskError(f"condition {key!r}: modality {slot.modality!r} is not installed")
        if slot in out:
            raise TaskError(f"condition {slot} is given twice")
        out[slot] = value
    return out


def _infer_meta(model: LoadedModel, conditions: Mapping[Slot, Any]) -> ClipMeta:
    for slot, value in conditions.items():
        mod = model.registry.modality(slot.modality)
        unit = mod.raw.time_axis_unit
        if unit and not isinstance(value, Ids) and slot.state is State.CURRENT:
            n = int(np.asarray(value).shape[0])
            rate = 30.0 if unit == "frames" else 16_000
            return ClipMeta(clip_id="generate", duration=n / rate, frame_rate=30.0, sample_rate=16_000)
    raise TaskError("pass meta= (the clip's duration and rates): no condition has a time axis to infer it from")


def _execute(model: LoadedModel, chain: Chain, conditions: Mapping[Slot, Any], *, meta: ClipMeta, sampling: Sampling,
             seed: int, max_text_tokens: int | None, keep: Mapping[Slot, StepResult],
             on_step: Callable[[int, int, StepResult], None] | None) -> GenerationResult:
    plan = plan_chain(chain, modalities=model.registry.modalities, suite=model.suite, given=list(conditions))
    for p in plan:  # everything needed is installed: fail before compute
        if p.kind == "render":
            model.renderer(p.output.modality)
    board = Board(model, meta)
    for slot, value in conditions.items():
        board.put_condition(slot, value)
    results: list[StepResult] = []
    for i, step in enumerate(plan):
        if step.kind == "given":
            value = conditions[step.output]
            res = StepResult(step.output, "given", (), board.ids.get(step.output),
                             None if isinstance(value, Ids) else board.raw.get(step.output))
        elif step.output in keep:
            res = attrs.evolve(keep[step.output], kind="kept", seconds=0.0)
            board.settle(res.output, res.global_ids, res.value, res.valid, res.note)
        elif step.kind == "generate":
            res = _run_generate(model, board, step, _key(seed, step.output), sampling, max_text_tokens)
        else:
            res = _run_render(model, board, step, seed)
        results.append(res)
        if on_step is not None:
            on_step(i, len(plan), res)
    return GenerationResult(chain, plan, meta, dict(conditions), tuple(results), seed, sampling)


def generate(
    model: LoadedModel,
    conditions: Conditions,
    chain: Chain | str,
    *,
    meta: ClipMeta | None = None,
    sampling: Sampling = Sampling(),
    seed: int = 0,
    max_text_tokens: int | None = None,
    on_step: Callable[[int, int, StepResult], None] | None = None,
) -> GenerationResult:
    """Run a chain: each step generates one modality from its task's inputs (paper eq. 2).

    Args:
        model: a loaded model (`load_checkpoint`).
        conditions: slot (`Slot`, ``"speech(c)"`` or a modality name) -> raw value, or `Ids`.
        chain: a `Chain`, the name of an installed chain (``registry.chains``) or ``"speech+image->identity,video"``.
        meta: the clip to generate (duration, frame and sample rates); inferred from a
            condition with a time axis at 30 fps / 16 kHz when None.
        sampling: greedy, or temperature / top-k / top-p.
        seed: sampling seed; step keys derive from it and the output slot.
        max_text_tokens: a tighter budget for free-length text than the modalities' max_tokens.
        on_step: called after each step with (index, number of steps, result).

    Raises:
        TaskError: missing conditions, a step whose task is not in the model's suite, a
            modality not installed (all before any compute).
        RawValueError: a condition of the wrong length, shape or range for `meta`.
    """
    chain = resolve_chain(chain, model.registry)
    conds = _normalize_conditions(model, conditions)
    if meta is None:
        meta = _infer_meta(model, conds)
    return _execute(model, chain, conds, meta=meta, sampling=sampling, seed=seed,
                    max_text_tokens=max_text_tokens, keep={}, on_step=on_step)


def downstream(plan: Sequence[PlannedStep], changed: set[Slot]) -> set[Slot]:
    """The outputs of the planned steps that (transitively) read a changed slot."""
    dirty: set[Slot] = set()
    for step in plan:
        if any(s in changed or s in dirty for s in step.inputs):
            dirty.add(step.output)
    return dirty


def edit(
    model: LoadedModel,
    previous: GenerationResult,
    changes: Conditions,
    *,
    seed: int | None = None,
    sampling: Sampling | None = None,
    on_step: Callable[[int, int, StepResult], None] | None = None,
) -> GenerationResult:
    """Change inputs of a finished chain run and regenerate only what depends on them.

    A change replaces a condition, or the output of a step (e.g. the expression of another
    clip), which then counts as given. Steps that read a changed slot, directly or through
    another regenerated step, run again with the same per-step keys (same seed by default);
    all other steps keep their ids and values.
    """
    changed = _normalize_conditions(model, changes)
    conditions = dict(previous.conditions)
    outputs = set(previous.chain.outputs)
    for slot, value in changed.items():
        if slot not in conditions and slot not in outputs:
            raise TaskError(
                f"edit: {slot} is neither a condition nor an output of chain {previous.chain.name!r} "
                f"(conditions: {', '.join(map(str, previous.conditions))}; outputs: {', '.join(map(str, outputs))})"
            )
        conditions[slot] = value
    dirty = downstream(previous.plan, set(changed))
    keep = {s.output: s for s in previous.steps if s.output not in dirty and s.output not in changed
            and s.kind != "given" and s.kind != "failed"}
    return _execute(model, previous.chain, conditions, meta=previous.meta,
                    sampling=previous.sampling if sampling is None else sampling,
                    seed=previous.seed if seed is None else seed, max_text_tokens=None, keep=keep, on_step=on_step)


# ---------------------------------------------------------------------- automatic choice
@attrs.frozen
class ChainScore:
    """How a candidate chain scored.

    Attributes:
        chain: its name.
        perplexity: per-token perplexity (lower is better); inf when it could not run.
        scored: what was scored, e.g. ``identity(t)+expression(c)->speech(c)``.
        note: why it could not run or be scored.
    """

    chain: str
    perplexity: float
    scored: tuple[str, ...] = ()
    note: str = ""


def _reverse_tasks(model: LoadedModel, result: GenerationResult) -> list[Task]:
    """For each condition, the trained task that predicts it from the most generated slots."""
    generated = {s.output for s in result.steps if s.kind == "generated" and s.valid}
    tasks = []
    for cond in result.conditions:
        best = None
        for t in model.suite.tasks:
            if t.output == cond and set(t.inputs) <= generated and (best is None or len(t.inputs) > len(best.inputs)):
                best = t
        if best is not None:
            tasks.append(best)
    return tasks


def _score(model: LoadedModel, result: GenerationResult, tasks: Sequence[Task]) -> tuple[float, int]:
    board = Board(model, result.meta)
    for slot, value in result.conditions.items():
        board.put_condition(slot, value)
    for s in result.steps:
        if s.global_ids is not None:
            board.ids[s.output] = s.global_ids
        if s.value is not None and s.valid:
            board.raw[s.output] = s.value
    total, count = 0.0, 0
    for task in tasks:
        nll, n = board_nll(model, board, task.inputs, task.output)
        total, count = total + nll, count + n
    return total, count


def board_nll(model: LoadedModel, board: Board, inputs: Sequence[Slot], output: Slot) -> tuple[float, int]:
    """Teacher-forced NLL (nats, summed) of the board's `output` given its `inputs`, and the target
    length: the prompt as generation builds it, each target token scored by the restricted
    softmax decoding samples from (`score_target`)."""
    ex = model.serializer.serialize([board.payload(s) for s in inputs], board.payload(output))
    ranges = model.codec(output.modality).ranges(ex.target_len)
    return score_target(model.lm, ex.tokens, ex.prefix_len, ranges, ex.times)


def choose_chain(
    model: LoadedModel,
    conditions: Conditions,
    candidates: Sequence[Chain | str],
    *,
    meta: ClipMeta | None = None,
    sampling: Sampling = Sampling(),
    seed: int = 0,
    max_text_tokens: int | None = None,
) -> tuple[GenerationResult, list[ChainScore]]:
    """Run each candidate chain and keep the one whose outputs best explain the conditioning.

    Score (lower is better): the model's own per-token perplexity of the conditions given what
    the chain generated, through the trained tasks that predict each condition from the most
    generated slots (e.g. ``identity(t)+expression(c)->speech(c)`` after the full speech-to-
    video chain, ``semantic(c)->speech(c)`` after the direct one). When a candidate has no such
    task, every candidate is scored instead by the perplexity of its own generated tokens
    under its own steps. Candidates that cannot run (missing tasks or conditions) score inf.

    Returns:
        The chosen result and every candidate's score, best first.
    """
    conds = _normalize_conditions(model, conditions)
    if meta is None:
        meta = _infer_meta(model, conds)
    runs: list[tuple[str, GenerationResult | None, str]] = []
    for cand in candidates:
        chain = resolve_chain(cand, model.registry)
        try:
            plan_chain(chain, modalities=model.registry.modalities, suite=model.suite, given=list(conds))
        except TaskError as err:
            runs.append((chain.name, None, str(err)))
            continue
        runs.append((chain.name, _execute(model, chain, conds, meta=meta, sampling=sampling, seed=seed,
                                          max_text_tokens=max_text_tokens, keep={}, on_step=None), ""))
    if all(r is None for _, r, _ in runs):
        raise TaskError("no candidate chain can run: " + "; ".join(why for _, _, why in runs))
    reverse = {name: _reverse_tasks(model, r) for name, r, _ in runs if r is not None}
    use_reverse = all(reverse.values())
    scores: list[ChainScore] = []
    for name, result, why in runs:
        if result is None:
            scores.append(ChainScore(name, math.inf, (), why))
            continue
        if use_reverse:
            tasks = reverse[name]
        else:
            tasks = [Task(s.inputs, s.output) for s in result.steps if s.kind == "generated" and s.valid]
        if not tasks:
            scores.append(ChainScore(name, math.inf, (), "nothing to score"))
            continue
        nll, n = _score(model, result, tasks)
        scores.append(ChainScore(name, math.exp(nll / max(n, 1)), tuple(t.name for t in tasks),
                                 "" if use_reverse else "scored on its own generated tokens"))
    scores.sort(key=lambda s: s.perplexity)
    best = next(r for name, r, _ in runs if name == scores[0].chain)
    return best, scores  # type: ignore[return-value]
