"""The core's own hook implementations: the paper's task suite."""

from __future__ import annotations

from archon_framework._suites import archon72
from archon_framework.hookspecs import hookimpl


@hookimpl
def archon_task_suites():
    return [archon72()]
