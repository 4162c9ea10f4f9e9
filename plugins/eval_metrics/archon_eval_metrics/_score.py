"""Apply registered metrics to clips: one pair (``score_clip``) or a whole set (``score_clips``).

Calling convention for a ``Metric.fn`` (every installed plugin's, not only this one's):

* a metric of one modality gets the two raw values: ``fn(prediction_value, reference_value,
  meta=reference.meta)``;
* a metric of several modalities gets two ``{modality: raw value}`` mappings holding exactly its
  modalities (e.g. lip sync gets ``{"semantic": ..., "speech": ...}``);
* a *set-level* metric (its fn marked with :func:`set_level`, i.e. the attribute
  ``archon_set_level = True``) gets two lists of such inputs, one entry per clip, and
  ``meta=[reference metas]``; it is skipped by :func:`score_clip` and run once over the set by
  :func:`score_clips`.

A metric applies to a pair when both clips carry all its modalities. The fn returns a float or a
dict of named floats; a dict ``{"f1": x}`` from metric ``m`` is reported as ``"m.f1"``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from archon_framework import Clip, Metric, PluginError, Registry, RawValueError

from archon_eval_metrics._frechet import is_set_level

__all__ = ["MetricSource", "ScoreSummary", "resolve_metrics", "applicable_metrics", "score_clip", "score_clips",
           "higher_is_better"]

#: Where metrics come from: a registry (its ``metrics``), a name -> Metric mapping, or Metrics.
MetricSource = Registry | Mapping[str, Metric] | Iterable[Metric]


def resolve_metrics(source: MetricSource) -> dict[str, Metric]:
    """Name -> Metric for any :data:`MetricSource`.

    Raises:
        PluginError: something that is not a Metric, or two metrics of one name.
    """
    if isinstance(source, Registry):
        items: Iterable[Any] = source.metrics.values()
    elif isinstance(source, Mapping):
        items = source.values()
    else:
        items = source
    out: dict[str, Metric] = {}
    for metric in items:
        if not isinstance(metric, Metric):
            raise PluginError(f"score_clip: expected archon_framework.Metric records, got {type(metric).__name__}")
        if metric.name in out:
            raise PluginError(f"score_clip: two metrics are named {metric.name!r}")
        out[metric.name] = metric
    return out


def _applies(metric: Metric, prediction: Clip, reference: Clip) -> bool:
    return bool(metric.modalities) and all(m in prediction and m in reference for m in metric.modalities)


def applicable_metrics(source: MetricSource, prediction: Clip, reference: Clip, *,
                       set_level: bool | None = False) -> list[Metric]:
    """The metrics whose modalities both clips carry, sorted by name.

    Args:
        set_level: False: per-clip metrics only; True: set-level only; None: both.
    """
    return [
        m for _, m in sorted(resolve_metrics(source).items())
        if _applies(m, prediction, reference) and (set_level is None or is_set_level(m) == set_level)
    ]


def _inputs(metric: Metric, clip: Clip) -> Any:
    if len(metric.modalities) == 1:
        return clip[metric.modalities[0]]
    return {m: clip[m] for m in metric.modalities}


def _flatten(metric: Metric, value: Any) -> dict[str, float]:
    def number(key: str, x: Any) -> float:
        if isinstance(x, bool) or not isinstance(x, (int, float)) and not hasattr(x, "__float__"):
            raise PluginError(
                f"metric {metric.name}: returned {type(x).__name__} for {key!r}; a metric fn returns a "
                "float or a dict of named floats"
            )
        return float(x)

    if isinstance(value, Mapping):
        return {f"{metric.name}.{k}": number(f"{metric.name}.{k}", v) for k, v in value.items()}
    return {metric.name: number(metric.name, value)}


def score_clip(source: MetricSource, prediction: Clip, reference: Clip) -> dict[str, float]:
    """Every applicable per-clip metric of ``source`` on one (prediction, reference) pair.

    Args:
        source: a registry (``load_registry()``), a name -> Metric mapping or Metrics (e.g.
            ``{**registry.metrics, **{m.name: m for m in animation_metrics(normalizers)}}``).
        prediction: the generated clip; put the conditioning inputs in it too where a metric
            scores the prediction against its own inputs (lip sync needs its ``speech``).
        reference: the ground truth; its ``meta`` is passed to every fn.

    Returns:
        metric name (or ``name.key``) -> value, sorted by name. Set-level metrics are left out.

    Raises:
        RawValueError: a metric's inputs are inconsistent (the message names metric and field).
        PluginError: a metric returned something that is not a number.
    """
    out: dict[str, float] = {}
    for metric in applicable_metrics(source, prediction, reference):
        value = metric.fn(_inputs(metric, prediction), _inputs(metric, reference), meta=reference.meta)
        out.update(_flatten(metric, value))
    return out


@attrs.frozen(kw_only=True)
class ScoreSummary:
    """Scores of a set of (prediction, reference) pairs.

    Attributes:
        per_clip: :func:`score_clip` of each pair, in order.
        mean: per-clip metric -> mean over the pairs where it is finite (NaN if none).
        count: per-clip metric -> number of pairs with a finite value.
        set_level: set-level metric -> its value over all pairs that carry its modalities.
        set_count: set-level metric -> number of pairs it was computed on.
    """

    per_clip: tuple[Mapping[str, float], ...]
    mean: Mapping[str, float]
    count: Mapping[str, int]
    set_level: Mapping[str, float]
    set_count: Mapping[str, int]

    def as_dict(self) -> dict[str, float]:
        """The means and the set-level values in one flat mapping, sorted by name."""
        return dict(sorted({**self.mean, **self.set_level}.items()))


def score_clips(source: MetricSource, predictions: Sequence[Clip], references: Sequence[Clip]) -> ScoreSummary:
    """Per-clip metrics on every pair (averaged) plus set-level metrics on the whole set.

    Raises:
        RawValueError: the two sequences differ in length or are empty; bad metric inputs.
        PluginError: a metric returned something that is not a number.
    """
    predictions, references = list(predictions), list(references)
    if len(predictions) != len(references) or not predictions:
        raise RawValueError(
            f"score_clips: needs as many predictions as references, at least one (got {len(predictions)} "
            f"and {len(references)})"
        )
    metrics = resolve_metrics(source)
    per_clip = tuple(score_clip(metrics, p, r) for p, r in zip(predictions, references))
    keys = sorted({k for scores in per_clip for k in scores})
    mean, count = {}, {}
    for key in keys:
        finite = [s[key] for s in per_clip if key in s and math.isfinite(s[key])]
        count[key] = len(finite)
        mean[key] = sum(finite) / len(finite) if finite else float("nan")
    set_values: dict[str, float] = {}
    set_count: dict[str, int] = {}
    for _name, metric in sorted(metrics.items()):
        if not is_set_level(metric):
            continue
        pairs = [(p, r) for p, r in zip(predictions, references) if _applies(metric, p, r)]
        if not pairs:
            continue
        value = metric.fn([_inputs(metric, p) for p, _ in pairs], [_inputs(metric, r) for _, r in pairs],
                          meta=[r.meta for _, r in pairs])
        flat = _flatten(metric, value)
        set_values.update(flat)
        set_count.update({k: len(pairs) for k in flat})
    return ScoreSummary(per_clip=per_clip, mean=mean, count=count, set_level=set_values, set_count=set_count)


def higher_is_better(source: MetricSource, key: str) -> bool:
    """The direction of a reported key (``name`` or ``name.sub``), from its Metric.

    Raises:
        PluginError: no metric of that name.
    """
    metrics = resolve_metrics(source)
    name = key if key in metrics else key.split(".", 1)[0]
    if name not in metrics:
        raise PluginError(f"no metric named {name!r} (known: {', '.join(sorted(metrics))})")
    return metrics[name].higher_is_better
