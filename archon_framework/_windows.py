"""Past, current and time-invariant windows of a clip, for the continuation tasks of Table G."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from archon_framework._clip import Clip, ClipMeta
from archon_framework._errors import TaskError
from archon_framework._modality import Modality
from archon_framework._tasks import State, Task

__all__ = ["clip_windows", "cut_clip", "task_windows", "slot_value", "static_frame", "window_clip", "words_window", "WINDOW_ALIGN_SECONDS"]

#: Window boundaries fall on multiples of 0.2 s: 6 video frames at 30 fps and 5 speech token
#: frames (3,200 samples at 16 kHz), so no frame or token straddles a boundary. (Tokenizers
#: with coarser time steps, such as 4-frame animation latents, pad their window as documented.)
WINDOW_ALIGN_SECONDS = 0.2


def task_windows(meta: ClipMeta, task: Task, *, past_fraction: float = 0.5, align: float = WINDOW_ALIGN_SECONDS) -> dict[State, ClipMeta]:
    """The clip windows a task's slots read (`clip_windows` with the task's `has_past`)."""
    try:
        return clip_windows(meta, has_past=task.has_past, past_fraction=past_fraction, align=align)
    except TaskError as err:
        raise TaskError(f"task {task.name}: {err}") from err


def clip_windows(meta: ClipMeta, *, has_past: bool, past_fraction: float = 0.5, align: float = WINDOW_ALIGN_SECONDS) -> dict[State, ClipMeta]:
    """The past, current and time-invariant windows of a clip.

    * With a `past` input (`has_past`), the clip is split: past = [0, s), current = [s, duration), with
      s = past_fraction x duration rounded to a multiple of `align` seconds.
    * Otherwise current = the whole clip.
    * `time-invariant` (for a temporal modality, e.g. `expression(t)` in the image tasks) = the
      single frame at the start of the current window, the frame the reference image shows.
    """
    if not 0.0 < past_fraction < 1.0:
        raise TaskError(f"past_fraction must lie in (0, 1), got {past_fraction}")
    windows: dict[State, ClipMeta] = {}
    if has_past:
        split = round(meta.duration * past_fraction / align) * align
        if split <= 0 or split >= meta.duration:
            raise TaskError(
                f"clip {meta.clip_id!r} ({meta.duration} s) is too short to split into past and current "
                f"windows aligned to {align} s"
            )
        windows[State.PAST] = meta.window(0.0, split, suffix="past")
        windows[State.CURRENT] = meta.window(split, meta.duration - split, suffix="current")
    else:
        windows[State.CURRENT] = meta
    current = windows[State.CURRENT]
    windows[State.STATIC] = meta.window(current.start - meta.start, 1.0 / meta.frame_rate, suffix="frame")
    return windows


def slot_value(clip: Clip, modality: Modality, state: State, windows: dict[State, ClipMeta]) -> tuple[Any, ClipMeta]:
    """The raw value a slot reads from a clip, with the metadata of its window."""
    value = clip[modality.name]
    if not modality.temporal:
        return value, clip.meta
    window = windows[state]
    if window.duration == clip.meta.duration:
        return value, window
    unit = modality.raw.time_axis_unit
    offset = window.start - clip.meta.start
    if unit is not None:
        rate = clip.meta.frame_rate if unit == "frames" else clip.meta.sample_rate
        begin = int(round(offset * rate))
        length = window.frames if unit == "frames" else window.samples
        arr = np.asarray(value)
        if begin + length > arr.shape[0]:
            raise TaskError(
                f"clip {clip.clip_id!r}, modality {modality.name!r}: window needs {unit} {begin}..{begin + length} "
                f"but the value has {arr.shape[0]}"
            )
        return arr[begin:begin + length], window
    if modality.window is not None:
        return modality.window(value, clip.meta, offset, window.duration), window
    raise TaskError(
        f"modality {modality.name!r} cannot be cut into past/current windows: its raw value has no time "
        "axis and the plugin declares no Modality.window"
    )


def static_frame(clip: Clip, modality: Modality) -> tuple[Any, ClipMeta]:
    """The frame a time-invariant slot of a temporal modality (``expression(t)``) reads from a
    whole clip given without a past window (generation, evaluation): the clip's first frame, cut
    by `slot_value` as training cuts it, with that frame's metadata."""
    return slot_value(clip, modality, State.STATIC, clip_windows(clip.meta, has_past=False))


def window_clip(clip: Clip, window: ClipMeta, modalities: Mapping[str, Modality], *,
                keep: Iterable[str] | None = None) -> Clip:
    """`clip` cut to `window` (one of its windows: `clip_windows`, `ClipMeta.window`) as a clip of
    its own: each temporal value cut by `slot_value`, time-invariant values kept. With `keep`, the
    values of those modalities alone (rendered ones included); otherwise those of every modality in
    `modalities` that is not rendered (what a training window reads). Cut arrays are copies, so
    the cut clip does not hold its whole clip's arrays in memory."""
    if keep is None:
        names = [n for n in clip.values if n in modalities and not modalities[n].rendered]
    else:
        names = list(keep)
        unknown = sorted(n for n in names if n not in modalities)
        if unknown:
            raise TaskError(f"window_clip: clip {clip.clip_id!r}: no modality {', '.join(map(repr, unknown))} is installed")
    windows = {State.CURRENT: window}
    values: dict[str, Any] = {}
    for name in names:
        mod = modalities[name]
        if mod.temporal:
            value = slot_value(clip, mod, State.CURRENT, windows)[0]
            values[name] = np.array(value) if isinstance(value, np.ndarray) else value
        else:
            values[name] = clip[name]
    return Clip(window, values)


def cut_clip(clip: Clip, state: State, modalities: Mapping[str, Modality], *, past_fraction: float = 0.5) -> Clip:
    """`clip` cut to the past or current window of its past/current split (`clip_windows`), as
    a clip of its own (`window_clip`): values of modalities not in `modalities`, and rendered
    ones, are left out (what a training window reads). For checking a model whose training
    windows were a split clip's halves on clips of that length."""
    if state is State.STATIC:
        raise TaskError("cut_clip: a clip is cut to its past or current window, not to one frame")
    windows = clip_windows(clip.meta, has_past=True, past_fraction=past_fraction)
    return window_clip(clip, windows[state], modalities)


def words_window(value: str, meta: ClipMeta, start: float, duration: float) -> str:
    """The words of an untimed text spoken in `[start, start + duration)` of its clip.

    Without word timings, words are taken as evenly spread over the clip: word i of n spans
    `[i, i + 1) * duration / n` and belongs to the window holding its midpoint, so past and
    current windows split the words without overlap or loss. An approximation: plugins with
    word timings (captions) should declare their own `Modality.window`.
    """
    words = value.split()
    if not words:
        return ""
    step = meta.duration / len(words)
    end = start + duration
    return " ".join(w for i, w in enumerate(words) if start <= (i + 0.5) * step < end)
