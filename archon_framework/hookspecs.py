"""The pluggy hook specifications every archon plugin may implement.

Hooks are called with keyword arguments only, so a spec can gain arguments without breaking
older plugins. Each returns a list; the core tags each item with the plugin that returned it.
"""

from __future__ import annotations

import pluggy

__all__ = ["PROJECT_NAME", "hookspec", "hookimpl", "ArchonHookSpecs"]

#: The pluggy project name and the entry-point group plugins register in.
PROJECT_NAME = "archon"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class ArchonHookSpecs:
    """Hook specifications (the namespace pluggy reads)."""

    # ------------------------------------------------------------------ modalities
    @hookspec
    def archon_modalities(self):
        """Return a list of `archon_framework.Modality` this plugin provides."""

    # ------------------------------------------------------------------ tasks
    @hookspec
    def archon_task_suites(self):
        """Return a list of `archon_framework.TaskSuite` this plugin provides."""

    # ------------------------------------------------------------------ data
    @hookspec
    def archon_datasets(self):
        """Return a list of `archon_framework.DatasetSpec` (clip generators or readers)."""

    @hookspec
    def archon_prepare_steps(self):
        """Return a list of `archon_framework.PrepareStep` (`archon data prepare`: videos -> clips)."""

    # ------------------------------------------------------------------ evaluation
    @hookspec
    def archon_metrics(self):
        """Return a list of `archon_framework.Metric` this plugin provides."""

    # ------------------------------------------------------------------ command line
    @hookspec
    def archon_commands(self):
        """Return a list of `typer.Typer` apps, each with a `name`, mounted under `archon`."""

    # ------------------------------------------------------------------ provenance
    @hookspec
    def archon_provenance_steps(self):
        """Return a list of `archon_framework.provenance.ProvenanceStep`: a plugin's own watermark or
        provenance mark for its modalities, applied to generated values before they are written
        and read back by `archon verify`."""
