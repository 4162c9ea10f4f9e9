"""A set-level metric is declared on the Metric (``set_level=True``); the older fn attribute still reads."""

from __future__ import annotations

from archon_framework import Metric
from archon_framework.eval import is_set_level


def _distance(preds, refs, *, meta=None) -> float:
    return float(len(preds) - len(refs))


def test_set_level_is_a_declared_field():
    per_clip = Metric(name="d", modalities=("video",), fn=_distance, higher_is_better=False)
    whole = Metric(name="d", modalities=("video",), fn=_distance, higher_is_better=False, set_level=True)
    assert not per_clip.set_level and not is_set_level(per_clip)
    assert whole.set_level and is_set_level(whole)


def test_a_fn_marked_the_old_way_is_read_once_when_declared():
    def marked(preds, refs, *, meta=None) -> float:
        return 0.0

    marked.archon_set_level = True
    assert Metric(name="m", modalities=("video",), fn=marked, higher_is_better=False).set_level
