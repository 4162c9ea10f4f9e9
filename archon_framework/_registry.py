"""Records that plugins return besides modalities: datasets and metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from archon_framework._clip import Clip

__all__ = ["DatasetSpec", "Metric", "PluginInfo", "PluginFailure"]


@attrs.frozen(kw_only=True)
class PluginInfo:
    """Provenance of a plugin: its entry-point name, distribution and version."""

    name: str
    distribution: str | None = None
    version: str | None = None
    module: str = ""

    @property
    def label(self) -> str:
        """`distribution version` for listings (the entry-point name when there is no distribution)."""
        if self.distribution:
            return f"{self.distribution} {self.version or ''}".strip()
        return self.name


@attrs.frozen(kw_only=True)
class PluginFailure:
    """A plugin that could not be loaded or whose hook failed: reported, never fatal."""

    plugin: PluginInfo
    stage: str  # "import", "register" or the hook name
    error: str


@attrs.frozen(kw_only=True)
class DatasetSpec:
    """A dataset a plugin provides: a deterministic generator or reader of clips.

    Attributes:
        name: unique dataset name (`archon data synth --dataset NAME`).
        generate: `(index, *, seed, seconds) -> Clip`, deterministic in (seed, index).
        modalities: the modality names each clip carries.
        default_seconds: clip length when none is asked for.
        description: one line for listings.
    """

    name: str
    generate: Callable[..., Clip]
    modalities: tuple[str, ...] = attrs.field(converter=tuple)
    default_seconds: float = 2.0
    description: str = ""


@attrs.frozen(kw_only=True)
class Metric:
    """An evaluation metric a plugin provides.

    Attributes:
        name: unique metric name.
        modalities: the modalities it scores.
        fn: `(prediction, reference, *, meta) -> float` (or a dict of named floats).
        higher_is_better: direction, for reports.
        description: what it measures and how (name proxies honestly).
    """

    name: str
    modalities: tuple[str, ...] = attrs.field(converter=tuple)
    fn: Callable[..., Any]
    higher_is_better: bool
    description: str = ""
