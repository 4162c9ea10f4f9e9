"""Editing a real clip (paper Sec. 4.2, Fig. 5; supplementary E.2, Fig. I).

A clip's modalities are the conditions; the user changes one of them (its script, its
description, or its motion taken from another clip), and an *editing chain* regenerates exactly
the modalities that depend on the change, keeping every other modality of the clip
bit-identical. Editing chains come from plugins (`archon_chains()`, `EditingChain`); the paper's
three (archon-paper) package its cases:

* ``edit-script``: new speech for an edited script in the clip's own voice (``script(c)`` with
  the clip's speech as the voice condition ``speech(p)``, the continuation task), then the
  expression, pose, semantic video and video that follow from the new speech.
* ``edit-description``: a new appearance from an edited description: image, identity, semantic
  video and video; script, speech and motion are kept.
* ``reenact``: expression and pose from another clip (resampled to this clip's frames, or
  refused, as configured), appearance (image, identity, description) from this one: semantic
  video and video are regenerated.

`edit_clip` checks everything before any compute: the edit names a modality the chain edits,
the clip has the modality being edited and every one the chain reads, and motion lengths.

After the run it measures the edit (`measure_edit`): for every regenerated modality the clip
has, the fraction of its tokens that changed; and the chain's `EditCheck` figures, each a
registered metric (archon-eval-metrics') on the new outputs against the edit or the clip as it
was. The script edit records pocketsphinx's word error rate of the new speech against the
edited script and against the original one (the recognized words follow the edit) and the
GE2E speaker similarity of the new speech to the clip's own (the voice is kept). The figures
go into the manifest; a metric that is not installed is recorded as not measured.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Literal

import attrs
import numpy as np

from archon_framework._clip import Clip
from archon_framework._errors import DataError, RawValueError, TaskError
from archon_framework._registry import Metric
from archon_framework._tasks import Slot, State
from archon_framework._chains import EditCheck, EditingChain, default_slot
from archon_framework.infer._generate import GenerationResult, Ids, StepResult, _execute
from archon_framework.infer._model import LoadedModel
from archon_framework.model import Sampling

__all__ = [
    "EditCheck",
    "EditingChain",
    "EditResult",
    "edit_check_figures",
    "edit_clip",
    "match_length",
    "measure_edit",
]

MotionLength = Literal["resample", "refuse"]


@attrs.frozen(eq=False)
class EditResult:
    """An edited clip.

    Attributes:
        result: the chain run (its conditions hold the edited and kept values).
        clip_id: the source clip.
        edited: the modalities the user changed.
        kept: the clip's modalities passed through unchanged (bit-identical).
        regenerated: the modalities the chain generated or rendered anew.
        notes: what was adjusted (a resampled motion) or left out, in words.
        figures: what `measure_edit` measured (empty when not measured).
    """

    result: GenerationResult
    clip_id: str
    edited: tuple[str, ...]
    kept: tuple[str, ...]
    regenerated: tuple[str, ...]
    notes: tuple[str, ...] = ()
    figures: Mapping[str, Any] = attrs.field(factory=dict)

    def manifest(self) -> dict[str, Any]:
        return {"chain": self.result.chain.name, "clip": self.clip_id, "edited": list(self.edited),
                "kept": list(self.kept), "regenerated": list(self.regenerated), "notes": list(self.notes),
                "figures": dict(self.figures)}


def match_length(value: Any, frames: int, *, modality: str, policy: MotionLength, source: str) -> tuple[np.ndarray, str]:
    """A per-frame array brought to ``frames`` frames: resampled linearly in time, or refused.

    Returns:
        The array and a note ("" when the length already matched).

    Raises:
        RawValueError: another length under ``policy="refuse"`` (named by modality and source).
    """
    arr = np.asarray(value)
    n = arr.shape[0] if arr.ndim else 0
    if n == frames:
        return arr, ""
    if policy == "refuse" or n < 2:
        raise RawValueError(
            f"{source}: {modality!r} has {n} frames, this clip {frames}; pass --motion-length resample "
            "(motion_length='resample') to resample it in time"
        )
    pos = np.linspace(0.0, n - 1.0, frames)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    w = (pos - lo).reshape((-1,) + (1,) * (arr.ndim - 1))
    if np.issubdtype(arr.dtype, np.floating):
        out = ((1.0 - w) * arr[lo] + w * arr[hi]).astype(arr.dtype)
    else:
        out = arr[np.rint(pos).astype(int)]  # labels and ids: nearest frame
    return out, f"{modality} resampled from {n} to {frames} frames ({source})"


def _clip_value(clip: Clip, modality: str, what: str) -> Any:
    if modality not in clip.values:
        raise DataError(f"clip {clip.clip_id!r} has no {modality!r} ({what}); it has {', '.join(sorted(clip.values))}")
    return clip[modality]


def edit_clip(
    model: LoadedModel,
    clip: Clip,
    edits: Mapping[str, Any],
    chain: EditingChain | str,
    *,
    sampling: Sampling = Sampling(),
    seed: int = 0,
    motion_length: MotionLength = "resample",
    motion_source: str = "the motion source",
    on_step: Callable[[int, int, StepResult], None] | None = None,
    measure: bool = True,
) -> EditResult:
    """Edit one modality of a real clip and regenerate exactly what depends on it.

    Args:
        model: a loaded model.
        clip: the clip; its modalities are the conditions and the kept values.
        edits: modality name -> new raw value (``{"script": "..."}``, ``{"description": {...}}``,
            ``{"expression": e, "pose": p}`` of another clip).
        chain: an `EditingChain` or the name of one in the model's registry (``registry.editing_chains``).
        sampling: how tokens are drawn (guidance included).
        seed: sampling seed.
        motion_length: a temporal edit of another length: "resample" (linear in time; said in
            the notes) or "refuse".
        motion_source: names the edit's origin in messages.
        on_step: called after each chain step.
        measure: record `measure_edit`'s figures in the result (metrics may take seconds).

    Raises:
        TaskError: the chain does not edit a named modality, an edited modality is missing,
            or a modality is not installed.
        DataError: the clip lacks the modality being edited or one the chain reads.
        RawValueError: an edited value is invalid for the clip (the modality's own checks), or
            a motion of another length under ``motion_length="refuse"``.
    """
    echain = model.registry.editing_chain(chain) if isinstance(chain, str) else chain
    mods = model.registry.modalities
    unknown = sorted(set(edits) - set(echain.edits))
    if unknown:
        raise TaskError(f"editing chain {echain.name!r} edits {', '.join(echain.edits)}, not {', '.join(unknown)}; "
                        f"choose a chain that edits it (archon list-chains --editing)")
    missing = [m for m in echain.edits if m not in edits]
    if missing:
        raise TaskError(f"editing chain {echain.name!r} needs new values for {', '.join(echain.edits)}; missing {', '.join(missing)}")
    for name in (*echain.edits, *echain.regenerates, *(s.modality for s in echain.chain.conditions)):
        if name not in mods:
            raise TaskError(f"editing chain {echain.name!r}: modality {name!r} is not installed")
    for name in echain.edits:
        _clip_value(clip, name, "the modality being edited")
    meta = clip.meta
    notes: list[str] = []
    conditions: dict[Slot, Any] = {}
    for name, value in edits.items():
        mod = mods[name]
        if mod.raw.time_axis_unit == "frames":
            value, note = match_length(value, meta.frames, modality=name, policy=motion_length, source=motion_source)
            if note:
                notes.append(note)
        try:
            conditions[default_slot(name, mods)] = mod.check_raw(value, meta)
        except RawValueError as err:
            raise RawValueError(f"edit {name}: {err}") from err
    for name in echain.voice:
        voice = mods[name].check_raw(_clip_value(clip, name, "the voice condition"), meta)
        conditions[Slot(name, State.PAST)] = Ids(model.codec(name).encode(voice, meta), local=False)
        notes.append(f"{name}(p) is the clip's own {name} (the voice condition)")
    regenerated = set(echain.regenerates)
    for slot in echain.chain.conditions:
        if slot not in conditions:
            conditions[slot] = mods[slot.modality].check_raw(_clip_value(clip, slot.modality, f"read by {echain.name!r}"), meta)
    kept: list[str] = []
    for name in sorted(clip.values):
        if name in edits or name in regenerated:
            continue
        if name not in mods:
            notes.append(f"{name} is not installed: left out")
            continue
        if mods[name].rendered:
            notes.append(f"{name} is rendered and its chain does not render it: left out of the edit (stale)")
            continue
        slot = default_slot(name, mods)
        if slot not in conditions:
            conditions[slot] = mods[name].check_raw(clip[name], meta)
        kept.append(name)
    result = _execute(model, echain.chain, conditions, meta=meta, sampling=sampling, seed=seed, max_text_tokens=None,
                      keep={}, on_step=on_step)
    return EditResult(result, meta.clip_id, tuple(echain.edits), tuple(kept),
                      tuple(s.output.modality for s in result.steps if s.kind in ("generated", "rendered", "failed")),
                      tuple(notes), measure_edit(model, echain, clip, edited_values(result, edits), result) if measure else {})


def edited_values(result: GenerationResult, names: Collection[str]) -> dict[str, Any]:
    """modality -> the value of each of `names` the chain read (the edit, as checked and resampled)."""
    return {slot.modality: v for slot, v in result.conditions.items()
            if slot.modality in names and slot.state is not State.PAST}


def regenerated_values(result: GenerationResult) -> dict[str, Any]:
    """modality -> each generated or rendered output's decoded value."""
    return {s.output.modality: s.value for s in result.steps if s.kind in ("generated", "rendered") and s.value is not None}


# ---------------------------------------------------------------------- measuring an edit
def _number(x: Any) -> float | None:
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _token_changes(model: LoadedModel, clip: Clip, result: GenerationResult) -> dict[str, Any]:
    """Per generated modality the clip has: the fraction of token positions whose id changed."""
    out: dict[str, Any] = {}
    mods = model.registry.modalities
    for step in result.steps:
        name = step.output.modality
        if step.kind != "generated" or step.global_ids is None or name not in clip.values:
            continue
        try:
            before = np.asarray(model.codec(name).encode(mods[name].check_raw(clip[name], clip.meta), clip.meta))
        except Exception as err:  # a clip value its tokenizer refuses: say so, keep measuring
            out[name] = {"error": f"{type(err).__name__}: {str(err)[:200]}"}
            continue
        after = np.asarray(step.global_ids)
        entry: dict[str, Any] = {"tokens": int(after.size), "original_tokens": int(before.size)}
        n = min(after.size, before.size)
        entry["changed"] = float(np.mean(after[:n] != before[:n])) if n else None
        out[name] = entry
    return out


def _check_figure(check: EditCheck, metrics: Mapping[str, Metric], clip: Clip, edits: Mapping[str, Any],
                  outputs: Mapping[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"metric": check.metric, "against": check.against, "description": check.description}
    metric = metrics.get(check.metric)
    if metric is None:
        return {**entry, "value": None, "not_measured": f"metric {check.metric!r} is not installed "
                f"(installed: {', '.join(sorted(metrics)) or 'none'})"}
    pred, ref = {}, {}
    for m in metric.modalities:
        pred[m] = outputs.get(m, edits.get(m, clip.values.get(m)))
        ref[m] = edits.get(m) if check.against == "edit" and m in edits else clip.values.get(m)
    lacking = sorted({m for m, v in (*pred.items(), *ref.items()) if v is None})
    if lacking:
        return {**entry, "value": None, "not_measured": f"no {', '.join(lacking)} to score"}
    single = len(metric.modalities) == 1
    try:
        value = metric.fn(pred[metric.modalities[0]] if single else pred,
                          ref[metric.modalities[0]] if single else ref, meta=clip.meta)
    except Exception as err:  # a plugin's metric: record its failure, keep the edit
        return {**entry, "value": None, "error": f"{type(err).__name__}: {str(err)[:200]}"}
    if isinstance(value, Mapping):
        return {**entry, "value": {str(k): _number(v) for k, v in value.items()}}
    return {**entry, "value": _number(value)}


def edit_check_figures(checks: Sequence[EditCheck], metrics: Mapping[str, Metric], clip: Clip,
                       edits: Mapping[str, Any], outputs: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Score `checks` on an edit's raw values.

    Args:
        checks: the figures to score (an editing chain's `checks`).
        metrics: name -> Metric (``registry.metrics``).
        clip: the clip as it was.
        edits: modality -> the edited value.
        outputs: modality -> the regenerated value.

    Returns:
        name -> ``{"metric", "against", "description", "value"}``; ``value`` is None (NaN
        included) with ``not_measured`` (the metric is not installed, a modality is missing)
        or ``error`` (the metric failed) saying why.
    """
    return {c.name: _check_figure(c, metrics, clip, edits, outputs) for c in checks}


def measure_edit(model: LoadedModel, chain: EditingChain | str, clip: Clip, edits: Mapping[str, Any],
                 result: GenerationResult) -> dict[str, Any]:
    """The figures of an edit: token changes per regenerated modality and the chain's checks.

    Args:
        model: the model that ran the edit (its registry's metrics score the checks).
        chain: the editing chain (its `checks`).
        clip: the clip as it was.
        edits: modality -> the edited value.
        result: the chain run.

    Returns:
        ``{"tokens_changed": {modality: {"changed", "tokens", "original_tokens"}}, "checks":
        {name: {"metric", "against", "description", "value"}}}``; a check that could not be
        scored has ``value`` None and says why (``not_measured`` or ``error``). NaN is None.
    """
    echain = model.registry.editing_chain(chain) if isinstance(chain, str) else chain
    return {"tokens_changed": _token_changes(model, clip, result),
            "checks": edit_check_figures(echain.checks, model.registry.metrics, clip, edits, regenerated_values(result))}
