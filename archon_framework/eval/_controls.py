"""Shuffled-condition controls: does each chain step's output follow its conditions?

A claim that a model learned a step (say, expression from speech) is a comparison against a
control that removes the signal. For every step of a chain and every held-out clip ``i``, the
same model, sampling and seed generate the step's output twice, teacher-forced from ground-truth
conditions:

- **real**: the step's conditions from clip ``i``;
- **control**: the same conditions taken from clip ``pi(i)``, where ``pi`` is a fixed
  derangement of the held-out clips (no clip keeps its own conditions);

and each output is scored against clip ``i``'s ground truth with the step's main metric. A
**trivial baseline** is scored too: the mean (float arrays), the element-wise majority (integer
arrays such as label maps) or the most frequent value (text, JSON) of the *other* clips' ground
truth, which is what a model that ignores its conditions can at best learn.

The report per step gives the three means, the paired difference real - control oriented so
that a positive value means "better than the control" (whatever the metric's direction), and
its 95% bootstrap confidence interval (percentile, 10,000 resamples of the clips, fixed seed).
An interval that excludes zero is evidence that the output follows its condition.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from archon_framework._clip import Clip
from archon_framework._errors import TaskError
from archon_framework._plugins import Registry
from archon_framework._registry import Metric
from archon_framework._stats import paired_interval
from archon_framework._tasks import Slot, State
from archon_framework._windows import static_frame
from archon_framework.eval._score import is_set_level
from archon_framework._chains import Chain, ChainStep, plan_chain
from archon_framework.infer._board import Board
from archon_framework.infer._generate import board_nll, generate
from archon_framework.infer._model import LoadedModel
from archon_framework.model import Sampling

__all__ = ["StepControl", "baseline_value", "derangement", "installed_main_metrics", "main_metric", "step_controls",
           "target_nll"]


@attrs.frozen(kw_only=True)
class StepControl:
    """One chain step against its shuffled-condition control and a trivial baseline.

    Attributes:
        chain: the chain's name.
        step: the step (``inputs->output``).
        metric: the main metric's name (``name.key`` for a dict-valued metric).
        higher_is_better: the metric's direction.
        real, control, baseline: per-clip scores (NaN where a clip could not be scored).
        difference: mean paired real - control, oriented (positive: better than the control).
        low, high: its 95% bootstrap interval.
        notes: what was skipped and why.
        nll_real, nll_control: per clip, the LM's teacher-forced NLL (nats per target token) of
            the clip's own ground-truth output given the real and the control conditions (empty
            for a step the LM does not generate, such as a rendered video).
        nll_gain, nll_low, nll_high: mean paired ``nll_control - nll_real`` (positive: the real
            conditions explain the clip's own output better) and its 95% bootstrap interval.
    """

    chain: str
    step: str
    metric: str
    higher_is_better: bool
    real: tuple[float, ...]
    control: tuple[float, ...]
    baseline: tuple[float, ...]
    difference: float
    low: float
    high: float
    notes: tuple[str, ...] = ()
    nll_real: tuple[float, ...] = ()
    nll_control: tuple[float, ...] = ()
    nll_gain: float = math.nan
    nll_low: float = math.nan
    nll_high: float = math.nan

    @property
    def excludes_zero(self) -> bool:
        """The interval lies above zero: the step beats its control."""
        return self.low > 0

    @property
    def likelihood_excludes_zero(self) -> bool:
        """The NLL gain's interval lies above zero: the LM's likelihood of the clip's own output
        depends on its conditions, whatever sampling then makes of it."""
        return self.nll_low > 0

    def to_dict(self) -> dict[str, Any]:
        def mean(xs: Sequence[float]) -> float | None:
            vals = [x for x in xs if math.isfinite(x)]
            return round(float(np.mean(vals)), 6) if vals else None

        return {"chain": self.chain, "step": self.step, "metric": self.metric,
                "higher_is_better": self.higher_is_better, "n": sum(math.isfinite(x) for x in self.real),
                "real": mean(self.real), "control": mean(self.control), "baseline": mean(self.baseline),
                "difference": round(self.difference, 6), "ci95": [round(self.low, 6), round(self.high, 6)],
                "beats_control": self.excludes_zero, "notes": list(self.notes),
                "nll_real": mean(self.nll_real), "nll_control": mean(self.nll_control),
                "nll_gain": round(self.nll_gain, 6) if math.isfinite(self.nll_gain) else None,
                "nll_ci95": [round(self.nll_low, 6), round(self.nll_high, 6)] if math.isfinite(self.nll_gain) else None,
                "likelihood_beats_control": self.likelihood_excludes_zero}


def derangement(n: int, seed: int = 0) -> np.ndarray:
    """A permutation of ``range(n)`` with no fixed point (n >= 2), the same for a seed."""
    if n < 2:
        raise TaskError(f"a shuffled-condition control needs at least 2 held-out clips, got {n}")
    rng = np.random.default_rng(seed)
    while True:
        perm = rng.permutation(n)
        if not np.any(perm == np.arange(n)):
            return perm


def baseline_value(values: Sequence[Any]) -> Any:
    """The trivial output of a set of ground-truth values: the mean of float arrays, the
    element-wise majority of integer arrays, else the most frequent value (compared as JSON)."""
    if not values:
        raise TaskError("a baseline needs at least one value")
    arrays = [np.asarray(v) for v in values] if all(isinstance(v, np.ndarray) for v in values) else None
    if arrays is not None and len({a.shape for a in arrays}) == 1:
        stack = np.stack(arrays)
        if stack.dtype.kind == "f":
            return stack.mean(axis=0).astype(stack.dtype)
        if stack.dtype.kind in "iub":
            flat = stack.reshape(len(arrays), -1).astype(np.int64)
            offset = flat.min()
            counts = np.apply_along_axis(lambda col: np.bincount(col - offset).argmax(), 0, flat) + offset
            return counts.reshape(stack.shape[1:]).astype(stack.dtype)
    keyed = Counter(json.dumps(v, sort_keys=True, default=str) if not isinstance(v, np.ndarray) else repr(v.tolist())
                    for v in values)
    top = keyed.most_common(1)[0][0]
    for v in values:
        key = json.dumps(v, sort_keys=True, default=str) if not isinstance(v, np.ndarray) else repr(v.tolist())
        if key == top:
            return v
    return values[0]


def installed_main_metrics(registry: Registry) -> dict[str, str]:
    """The evaluation defaults' main metric per modality (``"name"`` or ``"name.key"``), for those
    whose metric is installed: the ``preferred`` of `main_metric` and `step_controls`."""
    return {m: k for m, k in registry.eval_default().main_metrics.items() if k.split(".")[0] in registry.metrics}


def main_metric(modality: str, metrics: Mapping[str, Metric], preferred: Mapping[str, str] | None = None) -> Metric | None:
    """The metric a step's output is judged by: ``preferred[modality]`` if given, else the first
    installed per-clip metric of that modality alone."""
    if preferred and modality in preferred:
        name = preferred[modality].split(".")[0]
        if name not in metrics:
            raise TaskError(f"main metric {preferred[modality]!r} of {modality!r} is not installed "
                            f"(installed: {', '.join(sorted(metrics))})")
        return metrics[name]
    for metric in metrics.values():
        if tuple(metric.modalities) == (modality,) and not is_set_level(metric):
            return metric
    return None


def metric_key(preferred: str | None) -> str | None:
    """The value's key of a main metric named ``"name.key"`` (None for ``"name"`` or no name)."""
    return preferred.split(".", 1)[1] if preferred and "." in preferred else None


def metric_score(metric: Metric, key: str | None, prediction: Any, reference: Any, clip: Clip) -> float:
    """One clip's score of `prediction` against `reference` by `metric` (its value `key` for a
    metric that returns several): NaN for a missing prediction or one the metric cannot take,
    which the controls count as missing rather than fail on."""
    if prediction is None:
        return math.nan
    try:
        value = metric.fn(prediction, reference, meta=clip.meta)
    except Exception:  # noqa: BLE001 - an output the metric cannot take is a missing score, counted
        return math.nan
    if isinstance(value, Mapping):
        value = value.get(key) if key else next(iter(value.values()), None)
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def step_controls(
    model: LoadedModel,
    clips: Sequence[Clip],
    chain: Chain,
    metrics: Mapping[str, Metric],
    *,
    preferred: Mapping[str, str] | None = None,
    sampling: Sampling = Sampling(),
    seed: int = 0,
    max_text_tokens: int | None = None,
    on_step: Callable[[str], None] | None = None,
    on_result: Callable[[StepControl], None] | None = None,
) -> list[StepControl]:
    """The shuffled-condition control of every step of `chain` on held-out `clips` (see the
    module doc). Steps whose output has no installed per-clip metric are skipped, with a note.

    `on_step` is called with a step's label before its clips run, `on_result` with its
    `StepControl` as soon as it is measured (an evaluation stopped later keeps what it logged)."""
    registry = model.registry
    plan = plan_chain(chain, modalities=registry.modalities, suite=model.suite, given=chain.conditions)
    out: list[StepControl] = []
    for planned in plan:
        if planned.kind == "given":
            continue
        slot: Slot = planned.output
        label = "+".join(str(s) for s in planned.inputs) + "->" + str(slot)
        preferred_name = (preferred or {}).get(slot.modality)
        metric = main_metric(slot.modality, metrics, preferred)
        if metric is None:
            continue
        key = metric_key(preferred_name)
        usable = [i for i, c in enumerate(clips)
                  if slot.modality in c.values and all(s.modality in c.values for s in planned.inputs)]
        if len(usable) < 2:
            continue
        if on_step is not None:
            on_step(f"{chain.name}: {label}")
        step = ChainStep(slot, planned.inputs if planned.kind == "generate" else None)
        one = Chain(f"{chain.name}[{slot}]", tuple(planned.inputs), (step,))
        perm = derangement(len(usable), seed)  # clip usable[n] reads the conditions of usable[perm[n]]
        outputs = []  # per clip: (clip, real output, control output, trivial baseline)
        nll: tuple[list[float], list[float]] = ([], [])  # per clip: real, control
        scored = planned.kind == "generate" and not registry.modality(slot.modality).rendered
        truth = {i: _slot_clip(clips[i], slot, registry) for i in usable}  # what the output is scored against
        for n, i in enumerate(usable):
            clip, other = clips[i], clips[usable[perm[n]]]
            got = []
            for source, into in ((clip, nll[0]), (other, nll[1])):
                conds = {s: source[s.modality] for s in planned.inputs}
                if scored:
                    into.append(target_nll(model, clip, conds, slot))
                result = generate(model, conds, one, meta=clip.meta, sampling=sampling, seed=seed + i,
                                  max_text_tokens=max_text_tokens)
                got.append(result.value(slot))
            trivial = baseline_value([truth[j][slot.modality] for j in usable if j != i])
            outputs.append((truth[i], got[0], got[1], trivial))
        real, control, base = _scored(metric, key, slot.modality, outputs)
        notes: tuple[str, ...] = ()
        others = {n: m for n, m in metrics.items() if n != metric.name}  # whatever the plugins' load order
        fallback = main_metric(slot.modality, others) if preferred_name else None
        if not any(math.isfinite(x) for x in real) and fallback is not None:
            # The preferred metric applies to none of these clips (e.g. one that reads a dataset's
            # own layout, on clips from another source): the modality's default metric judges.
            notes = (f"{metric.name} scored none of the {len(usable)} clips; judged by {fallback.name} instead",)
            metric, key = fallback, None
            real, control, base = _scored(metric, key, slot.modality, outputs)
        sign = 1.0 if metric.higher_is_better else -1.0
        diffs = [sign * (r - c) for r, c in zip(real, control)]
        mean, low, high = paired_interval(diffs, seed=seed)
        gain = paired_interval([c - r for r, c in zip(*nll)], seed=seed) if scored else (math.nan,) * 3
        out.append(StepControl(chain=chain.name, step=label, metric=metric.name + (f".{key}" if key else ""),
                               higher_is_better=metric.higher_is_better, real=tuple(real), control=tuple(control),
                               baseline=tuple(base), difference=mean, low=low, high=high, notes=notes,
                               nll_real=tuple(nll[0]), nll_control=tuple(nll[1]),
                               nll_gain=gain[0], nll_low=gain[1], nll_high=gain[2]))
        if on_result is not None:
            on_result(out[-1])
    return out


def _slot_clip(clip: Clip, slot: Slot, registry: Registry) -> Clip:
    """`clip` as a slot's output is scored: a time-invariant slot of a temporal modality
    (``semantic(t)``) on the one frame it reads (`static_frame`, as `Board` cuts its conditions),
    any other on the whole clip."""
    mod = registry.modality(slot.modality)
    if not (mod.temporal and slot.state is State.STATIC):
        return clip
    value, frame = static_frame(clip, mod)
    return Clip(frame, {slot.modality: value})


def target_nll(model: LoadedModel, clip: Clip, conditions: Mapping[Slot, Any], slot: Slot) -> float:
    """The LM's teacher-forced NLL (nats per token) of `clip`'s own `slot` given `conditions`
    (in the clip's windows; `board_nll`)."""
    board = Board(model, clip.meta)
    for s, value in {**conditions, slot: clip[slot.modality]}.items():
        board.put_condition(s, value)
    total, count = board_nll(model, board, tuple(conditions), slot)
    return total / max(count, 1)


def _scored(metric: Metric, key: str | None, modality: str,
            outputs: Sequence[tuple[Clip, Any, Any, Any]]) -> tuple[list[float], list[float], list[float]]:
    """Per-clip scores of the real outputs, the controls and the trivial baselines."""
    real, control, base = [], [], []
    for clip, got_real, got_control, trivial in outputs:
        reference = clip[modality]
        real.append(metric_score(metric, key, got_real, reference, clip))
        control.append(metric_score(metric, key, got_control, reference, clip))
        base.append(metric_score(metric, key, trivial, reference, clip))
    return real, control, base
