"""Checking an editing chain on held-out clips: each clip edited, its figures averaged, each
figure measured against the clip as it was set beside the same figure against another clip.

The acceptance of the script edit (paper Sec. 4.2, Fig. 5a) is two claims on held-out clips:
the recognized words of the new speech follow the edited script, and its voice stays close to
the clip's own speaker. "Close" needs a yardstick: the new speech's speaker similarity to its
own clip is compared, clip by clip, with its similarity to another held-out clip's speech (a
different speaker in a multi-speaker set). The same control is taken for every check against
the clip (word error rate against another clip's script, too), so each figure comes with the
value it would have if the edit had nothing to do with this clip.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from archon_framework._clip import Clip
from archon_framework._errors import DataError
from archon_framework._stats import mean_stderr, paired_interval
from archon_framework.infer._editing import (
    EditingChain,
    EditResult,
    edit_check_figures,
    edit_clip,
    edited_values,
    regenerated_values,
)
from archon_framework.infer._model import LoadedModel
from archon_framework.model import Sampling

__all__ = ["check_edits"]


def _difference(own: Sequence[Any], control: Sequence[Any]) -> dict[str, Any]:
    """The paired difference (own - control) over the clips where both are finite floats: its
    mean, standard error, count and 95% bootstrap interval (``ci95``, None below two pairs)."""
    pairs = [a - b for a, b in zip(own, control)
             if isinstance(a, float) and isinstance(b, float) and math.isfinite(a) and math.isfinite(b)]
    entry = mean_stderr(pairs)
    _, low, high = paired_interval(pairs)
    entry["ci95"] = [low, high] if math.isfinite(low) else None
    return entry


def check_edits(
    model: LoadedModel,
    clips: Sequence[Clip],
    chain: EditingChain | str,
    *,
    edits: Callable[[int, Clip], dict[str, Any]] | None = None,
    sampling: Sampling = Sampling(),
    seed: int = 0,
    on_clip: Callable[[int, EditResult], None] | None = None,
) -> dict[str, Any]:
    """Edit every clip with `chain` and summarise what the edits measured.

    Args:
        model: a loaded model.
        clips: held-out clips (two at least: each is the control of another).
        chain: the editing chain (its `checks` are scored).
        edits: clip index, clip -> the edit (default, for a chain that edits one modality: the
            next clip's value of it, real values the model did not see with this clip; for
            archon-paper's ``edit-script``, another clip's words).
        sampling: how tokens are drawn.
        seed: sampling seed (clip i uses ``seed + i``).
        on_clip: called with each clip's edit.

    Returns:
        ``{"chain", "clips", "checks": {name: {"metric", "against", "mean", "stderr", "count",
        "control": {...}, "difference": {...}}}, "tokens_changed": {modality: {...}},
        "per_clip": [...]}``. For a check against the clip, ``control`` is the same figure
        with another held-out clip (the next one) in the clip's place, and ``difference`` the
        paired difference (figure minus control) over the clips where both are finite, with
        its 95% bootstrap interval (``ci95``: `archon_framework.eval.paired_interval`).

    Raises:
        DataError: fewer than two clips, or no default edit for the chain.
        (and what `edit_clip` raises for a clip that cannot be edited)
    """
    echain = model.registry.editing_chain(chain) if isinstance(chain, str) else chain
    if len(clips) < 2:
        raise DataError(f"check_edits: {len(clips)} clip(s); give two or more held-out clips (each is another's control)")
    if edits is None:
        if len(echain.edits) != 1:
            raise DataError(f"check_edits: editing chain {echain.name!r} edits {', '.join(echain.edits)}; "
                            "pass edits=(index, clip) -> {modality: value}")
        (edited,) = echain.edits

        def edits(i: int, clip: Clip) -> dict[str, Any]:
            return {edited: clips[(i + 1) % len(clips)][edited]}

    metrics = model.registry.metrics
    per_clip: list[dict[str, Any]] = []
    for i, clip in enumerate(clips):
        result = edit_clip(model, clip, edits(i, clip), echain, sampling=sampling, seed=seed + i)
        other = clips[(i + 1) % len(clips)]
        controls = edit_check_figures([c for c in echain.checks if c.against == "clip"], metrics, other,
                                      edited_values(result.result, echain.edits), regenerated_values(result.result))
        per_clip.append({"clip": clip.clip_id, "control_clip": other.clip_id, **result.figures,
                         "controls": {k: v.get("value") for k, v in controls.items()}})
        if on_clip is not None:
            on_clip(i, result)

    def values(name: str, key: str = "checks") -> list[Any]:
        return [r[key][name].get("value") if key == "checks" else r[key].get(name) for r in per_clip]

    checks: dict[str, Any] = {}
    for check in echain.checks:
        own = values(check.name)
        entry = {"metric": check.metric, "against": check.against, "description": check.description, **mean_stderr(own)}
        if check.against == "clip":
            ctrl = values(check.name, "controls")
            entry["control"] = mean_stderr(ctrl)
            entry["difference"] = _difference(own, ctrl)
        checks[check.name] = entry
    changed: dict[str, Any] = {}
    for r in per_clip:
        for name, t in r["tokens_changed"].items():
            changed.setdefault(name, []).append(t.get("changed"))
    return {"chain": echain.name, "clips": len(clips), "checks": checks,
            "tokens_changed": {k: mean_stderr(v) for k, v in changed.items()}, "per_clip": per_clip}
