"""Records that plugins return besides modalities: datasets and metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from archon_framework._clip import Clip

__all__ = ["DatasetSpec", "Metric", "PluginInfo", "PluginFailure", "PrepareStep"]


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
        set_level: True for a metric that scores a whole set of clips at once (a Frechet
            distance): `fn` then takes two lists, one entry per clip, and ``meta=[...]``. (A
            metric whose `fn` carries the attribute ``archon_set_level = True``, the form before
            this field, is read as set-level when it is declared.)
    """

    name: str
    modalities: tuple[str, ...] = attrs.field(converter=tuple)
    fn: Callable[..., Any]
    higher_is_better: bool
    description: str = ""
    set_level: bool = False

    def __attrs_post_init__(self) -> None:
        if not self.set_level and getattr(self.fn, "archon_set_level", False) is True:
            object.__setattr__(self, "set_level", True)


@attrs.frozen(kw_only=True)
class PrepareStep:
    """One step of `archon data prepare` (raw videos -> stored clips) a plugin provides.

    Steps exchange a per-video work mapping: each reads the keys it `requires` and returns a
    mapping with the keys it `produces` (modality names, `MODALITY@frames` / `MODALITY@words`
    forms, or intermediate names such as `frames`); see `archon_framework.data.prepare_videos`.

    Attributes:
        name: unique step name (options live under `[steps.NAME]` of the prepare config).
        produces: the keys it adds.
        requires: the keys it reads (the steps that produce them run first).
        run: `(ctx, work) -> Mapping[str, Any]`; raises `PrepareError` to skip or split a video.
        description: one line for listings.
    """

    name: str
    produces: tuple[str, ...] = attrs.field(converter=tuple)
    requires: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    run: Callable[..., Any]
    description: str = ""
