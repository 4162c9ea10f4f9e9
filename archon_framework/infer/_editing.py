"""Editing a real clip (paper Sec. 4.2, Fig. 5; supplementary E.2, Fig. I).

A clip's modalities are the conditions; the user changes one of them (its script, its
description, or its motion taken from another clip), and an *editing chain* regenerates exactly
the modalities that depend on the change, keeping every other modality of the clip
bit-identical. Three named chains package the paper's cases (all tasks from Table G):

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
from archon_framework.infer._chains import Chain, ChainStep, default_slot, parse_slot
from archon_framework.infer._generate import GenerationResult, Ids, StepResult, _execute
from archon_framework.infer._model import LoadedModel
from archon_framework.model import Sampling

__all__ = [
    "EditCheck",
    "EditingChain",
    "EditResult",
    "EDIT_SCRIPT",
    "EDIT_DESCRIPTION",
    "REENACT",
    "edit_check_figures",
    "edit_clip",
    "get_editing_chain",
    "list_editing_chains",
    "match_length",
    "measure_edit",
    "register_editing_chain",
]

MotionLength = Literal["resample", "refuse"]


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


_EDITING: dict[str, EditingChain] = {}


def _steps(*tasks: str) -> tuple[ChainStep, ...]:
    out = []
    for task in tasks:
        if "->" in task:
            lhs, rhs = task.split("->")
            out.append(ChainStep(parse_slot(rhs), tuple(parse_slot(x) for x in lhs.split("+"))))
        else:
            out.append(ChainStep(parse_slot(task)))
    return tuple(out)


def _register(name: str, conditions: str, steps: tuple[ChainStep, ...], edits: tuple[str, ...], description: str,
              voice: tuple[str, ...] = (), checks: tuple[EditCheck, ...] = ()) -> EditingChain:
    chain = Chain(name, tuple(parse_slot(c) for c in conditions.split("+")), steps, description=description)
    _EDITING[name] = EditingChain(name, chain, edits, voice, description, checks)
    return _EDITING[name]


#: The script edit's figures (paper Sec. 4.2: new words, the same voice).
SCRIPT_CHECKS = (
    EditCheck("words_vs_edited_script", "speech_wer", "edit",
              "word error rate of the recognized new speech against the edited script (low: the words follow the edit)"),
    EditCheck("words_vs_original_script", "speech_wer", "clip",
              "word error rate of the recognized new speech against the clip's own script (high: the words changed)"),
    EditCheck("voice_similarity_to_original", "voice_speaker_similarity", "clip",
              "cosine of the speaker embeddings of the new speech and the clip's own speech (high: the voice is kept)"),
)


#: Fig. 5(a): the edited script spoken in the clip's voice; lips, pose and video follow.
EDIT_SCRIPT = _register("edit-script", "script(c)+speech(p)+image(t)+identity(t)", _steps(
    "script(c)+speech(p)->speech(c)",
    "speech(c)+identity(t)+image(t)->expression(c)",
    "speech(c)+identity(t)+expression(c)+image(t)->pose(c)",
    "image(t)+identity(t)+expression(c)+pose(c)->semantic(c)",
    "video(c)",
), ("script",), "new speech for an edited script in the clip's own voice, then lips, pose, semantic, video (Fig. 5a)",
    voice=("speech",), checks=SCRIPT_CHECKS)

#: Fig. 5(b): appearance from an edited description; script, speech and motion are kept.
EDIT_DESCRIPTION = _register("edit-description", "description(t)+script(c)+speech(c)+expression(c)+pose(c)", _steps(
    "description(t)->image(t)",
    "description(t)+script(c)+speech(c)->identity(t)",
    "description(t)+script(c)+speech(c)+identity(t)+expression(c)+pose(c)+image(t)->semantic(c)",
    "video(c)",
), ("description",), "a new appearance (image, identity, semantic, video) from an edited description (Fig. 5b)")

#: Fig. 5(c): expression and pose of another clip drive this clip's appearance.
REENACT = _register("reenact", "expression(c)+pose(c)+image(t)+identity(t)", _steps(
    "image(t)+identity(t)+expression(c)+pose(c)->semantic(c)",
    "video(c)",
), ("expression", "pose"), "reenactment: expression and pose from another clip, appearance from this one (Fig. 5c)")


def register_editing_chain(chain: EditingChain, *, replace: bool = False) -> EditingChain:
    """Add an editing chain to the registry (``replace`` to overwrite a name)."""
    if chain.name in _EDITING and not replace:
        raise TaskError(f"an editing chain named {chain.name!r} is already registered")
    _EDITING[chain.name] = chain
    return chain


def get_editing_chain(name: str) -> EditingChain:
    try:
        return _EDITING[name]
    except KeyError:
        raise TaskError(f"no editing chain named {name!r} (registered: {', '.join(sorted(_EDITING))})") from None


def list_editing_chains() -> tuple[EditingChain, ...]:
    return tuple(_EDITING.values())


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
        chain: an `EditingChain` or a registered name (`list_editing_chains`).
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
    echain = get_editing_chain(chain) if isinstance(chain, str) else chain
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
    echain = get_editing_chain(chain) if isinstance(chain, str) else chain
    return {"tokens_changed": _token_changes(model, clip, result),
            "checks": edit_check_figures(echain.checks, model.registry.metrics, clip, edits, regenerated_values(result))}
