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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

import attrs
import numpy as np

from archon_framework._clip import Clip
from archon_framework._errors import DataError, RawValueError, TaskError
from archon_framework._tasks import Slot, State
from archon_framework.infer._chains import Chain, ChainStep, default_slot, parse_slot
from archon_framework.infer._generate import GenerationResult, Ids, StepResult, _execute
from archon_framework.infer._model import LoadedModel
from archon_framework.model import Sampling

__all__ = [
    "EditingChain",
    "EditResult",
    "EDIT_SCRIPT",
    "EDIT_DESCRIPTION",
    "REENACT",
    "edit_clip",
    "get_editing_chain",
    "list_editing_chains",
    "match_length",
    "register_editing_chain",
]

MotionLength = Literal["resample", "refuse"]


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
    """

    name: str
    chain: Chain
    edits: tuple[str, ...] = attrs.field(converter=tuple)
    voice: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    description: str = ""

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
              voice: tuple[str, ...] = ()) -> EditingChain:
    chain = Chain(name, tuple(parse_slot(c) for c in conditions.split("+")), steps, description=description)
    _EDITING[name] = EditingChain(name, chain, edits, voice, description)
    return _EDITING[name]


#: Fig. 5(a): the edited script spoken in the clip's voice; lips, pose and video follow.
EDIT_SCRIPT = _register("edit-script", "script(c)+speech(p)+image(t)+identity(t)", _steps(
    "script(c)+speech(p)->speech(c)",
    "speech(c)+identity(t)+image(t)->expression(c)",
    "speech(c)+identity(t)+expression(c)+image(t)->pose(c)",
    "image(t)+identity(t)+expression(c)+pose(c)->semantic(c)",
    "video(c)",
), ("script",), "new speech for an edited script in the clip's own voice, then lips, pose, semantic, video (Fig. 5a)",
    voice=("speech",))

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
    """

    result: GenerationResult
    clip_id: str
    edited: tuple[str, ...]
    kept: tuple[str, ...]
    regenerated: tuple[str, ...]
    notes: tuple[str, ...] = ()

    def manifest(self) -> dict[str, Any]:
        return {"chain": self.result.chain.name, "clip": self.clip_id, "edited": list(self.edited),
                "kept": list(self.kept), "regenerated": list(self.regenerated), "notes": list(self.notes)}


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
        local = np.asarray(model.tokenizer(name).encode(voice, meta=meta), np.int32)
        conditions[Slot(name, State.PAST)] = Ids(local, local=True)
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
                      tuple(notes))
