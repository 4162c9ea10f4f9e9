"""Entry point of the archon-eval-metrics plugin: registers the offline evaluation metrics."""

from __future__ import annotations

from archon_framework import Metric, hookimpl

from archon_eval_metrics._metrics import eval_metrics

__all__ = ["archon_metrics"]


@hookimpl
def archon_metrics() -> list[Metric]:
    """Lip sync, speech, semantic, image, video and animation metrics (see the README)."""
    return eval_metrics()
