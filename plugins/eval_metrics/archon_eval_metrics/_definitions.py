"""Versioned metric definitions: what a score depends on, attached to its metric fn.

A metric fn marked with :func:`with_definition` carries ``archon_definition``, a zero-argument
callable returning a JSON-ready dict: the pretrained models it runs (package, version, sha256 of
each model file, every model setting) and the metric's own parameters (offsets, frame rates,
thresholds). ``archon eval`` writes it next to each score, and two reports' scores are
comparable only when their definitions are equal. When a model's package is missing, the
definition says so instead of failing, and so does every score of the metric.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from archon_perception import MissingPackageError, ModelDefinition

__all__ = ["DEFINITION_ATTRIBUTE", "definition_of", "with_definition"]

#: The attribute of a metric fn that holds its definition callable.
DEFINITION_ATTRIBUTE = "archon_definition"


def with_definition(models: Callable[[], list[ModelDefinition]], parameters: Mapping[str, Any]):
    """Decorator: attach ``archon_definition`` (the models' definitions and the metric's parameters)."""

    def definition() -> dict[str, Any]:
        try:
            listed = [m.to_json() for m in models()]
        except MissingPackageError as err:
            return {"parameters": dict(parameters), "unavailable": str(err), "extra": err.extra}
        return {"models": listed, "parameters": dict(parameters)}

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        setattr(fn, DEFINITION_ATTRIBUTE, definition)
        return fn

    return mark


def definition_of(metric: Any) -> dict[str, Any] | None:
    """The definition of a ``Metric`` (or bare fn), or None for a metric without one."""
    fn = getattr(metric, "fn", metric)
    make = getattr(fn, DEFINITION_ATTRIBUTE, None)
    return None if make is None else make()
