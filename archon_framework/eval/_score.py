"""Score chain outputs against held-out clips with the installed plugins' metrics.

The metrics come from ``registry.metrics`` (the ``archon_metrics()`` hook); the core never
imports a metrics plugin. The calling convention is the one archon-eval-metrics documents for
every installed plugin's metrics:

* a metric of one modality gets the two raw values, ``fn(prediction, reference, meta=...)``;
  one of several modalities gets two ``{modality: value}`` mappings of exactly its modalities;
* a *set-level* metric (declared with ``Metric(set_level=True)``, e.g. the Frechet
  distances) gets two lists, one entry per clip, and ``meta=[...]``;
* a float result is reported under the metric's name, a dict ``{"f1": x}`` as ``"name.f1"``;
* a metric whose score depends on a pretrained model carries a versioned definition: its ``fn``
  has ``archon_definition``, a zero-argument callable returning a JSON-ready dict (the models'
  packages, versions, file sha256s and settings, and the metric's parameters), which the report
  writes beside the score (:func:`metric_definition`).

Which metrics score a chain run: those whose modalities the reference has, whose modalities
are all either produced by the run or given to it, and **at least one of which the run
produced** (so a condition is never scored against itself: the given image is not an output,
but lip sync reads the generated semantic video *with* the given speech).

An output its modality refused (a generated description that is not valid JSON) is still
scored where a metric takes it (description F1 scores it 0), so a row is not flattered by
leaving its failures out; a metric that cannot take it counts an error. Outputs with no value
at all (a failed render) are not scored; the report gives the valid count of each output.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import attrs

from archon_framework._clip import Clip
from archon_framework._registry import Metric

__all__ = ["Prediction", "MetricScores", "combine_seeds", "definition_id", "is_set_level", "metric_applies", "metric_definition",
           "score_predictions"]


def is_set_level(metric: Metric) -> bool:
    """Whether a metric scores a whole set at once (``Metric.set_level``)."""
    return metric.set_level


def metric_definition(metric: Metric) -> dict[str, Any] | None:
    """The versioned definition of a metric (``fn.archon_definition()``), or None for a plain formula.

    A definition that cannot be built (its model package is broken) is returned as
    ``{"unavailable": message}``: it never stops a report.
    """
    make = getattr(metric.fn, "archon_definition", None)
    if make is None:
        return None
    try:
        out = make()
    except Exception as err:  # a plugin's code: report it, keep going
        return {"unavailable": f"{type(err).__name__}: {err}"}
    return out if isinstance(out, dict) else {"unavailable": f"archon_definition returned {type(out).__name__}"}


def definition_id(definition: Mapping[str, Any] | None) -> str | None:
    """A short id of a definition: the first 12 hex digits of the sha256 of its canonical JSON."""
    if definition is None:
        return None
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@attrs.frozen(eq=False)
class Prediction:
    """What one chain run gave for one held-out clip.

    Attributes:
        produced: modality -> value of every generated or rendered output that has one.
        given: modality -> value of each condition.
        invalid: the outputs with no value or a value their modality refused.
    """

    produced: Mapping[str, Any]
    given: Mapping[str, Any]
    invalid: tuple[str, ...] = ()

    def value(self, modality: str) -> Any:
        return self.produced[modality] if modality in self.produced else self.given[modality]


def metric_applies(metric: Metric, prediction: Prediction, reference: Clip) -> bool:
    """See the module doc."""
    mods = metric.modalities
    return (bool(mods) and all(m in reference for m in mods)
            and all(m in prediction.produced or m in prediction.given for m in mods)
            and any(m in prediction.produced for m in mods))


def _inputs(metric: Metric, values: Any) -> Any:
    if len(metric.modalities) == 1:
        return values(metric.modalities[0])
    return {m: values(m) for m in metric.modalities}


def _flatten(metric: Metric, value: Any) -> dict[str, float]:
    def number(x: Any) -> float:
        try:
            return float(x)
        except (TypeError, ValueError):
            return math.nan

    if isinstance(value, Mapping):
        return {f"{metric.name}.{k}": number(v) for k, v in value.items()}
    return {metric.name: number(value)}


@attrs.frozen(kw_only=True)
class MetricScores:
    """The scores of one table row.

    Attributes:
        mean: per-clip metric key -> mean over the clips where it is finite (NaN if none).
        stderr: per-clip metric key -> standard error of that mean (NaN below two clips).
        count: per-clip metric key -> number of clips with a finite value.
        set_level: set-level metric key -> its value over every clip it applied to.
        set_count: set-level metric key -> the number of those clips.
        per_clip: metric key -> value, one mapping per clip (set-level keys left out).
        errors: "metric: message" -> how many clips it failed on.
    """

    mean: Mapping[str, float]
    stderr: Mapping[str, float]
    count: Mapping[str, int]
    set_level: Mapping[str, float]
    set_count: Mapping[str, int]
    per_clip: tuple[Mapping[str, float], ...]
    errors: Mapping[str, int]

    def values(self) -> dict[str, float]:
        """Means and set-level values in one mapping, sorted by key."""
        return dict(sorted({**self.mean, **self.set_level}.items()))

    def counts(self) -> dict[str, int]:
        return dict(sorted({**self.count, **self.set_count}.items()))


def _summarize(per_clip: Sequence[Mapping[str, float]]) -> tuple[dict[str, float], dict[str, float], dict[str, int]]:
    """Per key: the mean over the clips where it is finite, its standard error, and that count."""
    mean, stderr, count = {}, {}, {}
    for key in sorted({k for s in per_clip for k in s}):
        finite = [s[key] for s in per_clip if key in s and math.isfinite(s[key])]
        n = count[key] = len(finite)
        mean[key] = sum(finite) / n if finite else math.nan
        var = sum((x - mean[key]) ** 2 for x in finite) / (n - 1) if n > 1 else math.nan
        stderr[key] = math.sqrt(var / n) if n > 1 else math.nan
    return mean, stderr, count


def combine_seeds(runs: Sequence[MetricScores]) -> MetricScores:
    """One row's scores over several sampling seeds (each a `score_predictions` of the same clips).

    A clip's score is the mean of its finite scores over the seeds (so the clips stay the unit
    of the row's mean, standard error and paired intervals, and a seed that failed on a clip
    does not drop the clip); a set-level value is the mean of the seeds' values; errors add up.
    One run is returned as it is.
    """
    if not runs:
        raise ValueError("combine_seeds: no runs")
    if len(runs) == 1:
        return runs[0]
    n = len(runs[0].per_clip)
    if any(len(r.per_clip) != n for r in runs):
        raise ValueError(f"combine_seeds: runs over different clips ({', '.join(str(len(r.per_clip)) for r in runs)})")
    per_clip = []
    for i in range(n):
        values: dict[str, list[float]] = {}
        for r in runs:
            for k, v in r.per_clip[i].items():
                if math.isfinite(v):
                    values.setdefault(k, []).append(v)
        keys = sorted({k for r in runs for k in r.per_clip[i]})
        per_clip.append({k: sum(values[k]) / len(values[k]) if k in values else math.nan for k in keys})
    mean, stderr, count = _summarize(per_clip)
    set_values: dict[str, float] = {}
    set_count: dict[str, int] = {}
    for key in sorted({k for r in runs for k in r.set_level}):
        finite = [r.set_level[key] for r in runs if key in r.set_level and math.isfinite(r.set_level[key])]
        set_values[key] = sum(finite) / len(finite) if finite else math.nan
        set_count[key] = max(r.set_count.get(key, 0) for r in runs)
    errors: dict[str, int] = {}
    for r in runs:
        for k, v in r.errors.items():
            errors[k] = errors.get(k, 0) + v
    return MetricScores(mean=mean, stderr=stderr, count=count, set_level=set_values, set_count=set_count,
                        per_clip=tuple(per_clip), errors=errors)


def _call(metric: Metric, pred: Any, ref: Any, meta: Any, errors: dict[str, int]) -> dict[str, float] | None:
    try:
        return _flatten(metric, metric.fn(pred, ref, meta=meta))
    except Exception as err:  # a plugin's metric: count and report the failure, keep scoring
        key = f"{metric.name}: {type(err).__name__}: {str(err)[:200]}"
        errors[key] = errors.get(key, 0) + 1
        return None


def score_predictions(
    metrics: Mapping[str, Metric] | Collection[Metric],
    predictions: Sequence[Prediction | None],
    references: Sequence[Clip],
) -> MetricScores:
    """Per-clip metrics averaged over the clips, and set-level metrics over the whole set.

    Args:
        metrics: name -> Metric (``registry.metrics``) or Metrics.
        predictions: one per reference; None for a clip the run could not produce at all.
        references: the held-out clips.
    """
    items = list(metrics.values()) if isinstance(metrics, Mapping) else list(metrics)
    items.sort(key=lambda m: m.name)
    errors: dict[str, int] = {}
    per_clip: list[dict[str, float]] = []
    for pred, ref in zip(predictions, references, strict=True):
        scores: dict[str, float] = {}
        if pred is not None:
            for metric in items:
                if is_set_level(metric) or not metric_applies(metric, pred, ref):
                    continue
                out = _call(metric, _inputs(metric, pred.value), _inputs(metric, ref.__getitem__), ref.meta, errors)
                scores.update(out or {})
        per_clip.append(dict(sorted(scores.items())))
    mean, stderr, count = _summarize(per_clip)
    set_values: dict[str, float] = {}
    set_count: dict[str, int] = {}
    for metric in items:
        if not is_set_level(metric):
            continue
        pairs = [(p, r) for p, r in zip(predictions, references) if p is not None and metric_applies(metric, p, r)]
        if not pairs:
            continue
        out = _call(metric, [_inputs(metric, p.value) for p, _ in pairs], [_inputs(metric, r.__getitem__) for _, r in pairs],
                    [r.meta for _, r in pairs], errors)
        for key, value in (out or {}).items():
            set_values[key], set_count[key] = value, len(pairs)
    return MetricScores(mean=mean, stderr=stderr, count=count, set_level=set_values, set_count=set_count, per_clip=tuple(per_clip),
                        errors=errors)
