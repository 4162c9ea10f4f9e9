"""The error hierarchy: every error the framework raises derives from ArchonError."""

from __future__ import annotations

__all__ = [
    "ArchonError",
    "VocabError",
    "LayoutMismatchError",
    "PluginError",
    "PluginConflictError",
    "TaskError",
    "PromptError",
    "RawValueError",
    "ConfigError",
    "DataError",
    "CheckpointError",
    "ArchonWarning",
    "DataWarning",
]


class ArchonError(Exception):
    """Base class of every error raised by archon-framework and its plugins.

    Each error names the file, field, modality or plugin at fault and, where there is one,
    what to do about it.
    """


class VocabError(ArchonError, ValueError):
    """A token id outside its range, or an inconsistent vocabulary declaration."""


class LayoutMismatchError(VocabError):
    """A saved vocabulary layout does not match the installed plugins."""


class PluginError(ArchonError):
    """A plugin failed to load or declared something invalid."""


class PluginConflictError(PluginError):
    """Two plugins claim the same name (modality, phrase, suite, dataset, metric)."""


class TaskError(ArchonError, ValueError):
    """A task or task suite is malformed or refers to something that is not installed."""


class PromptError(ArchonError, ValueError):
    """A token sequence is not a prompt the serializer produced."""


class RawValueError(ArchonError, ValueError):
    """A raw modality value (wave, frames, parameters, text) is not what the modality takes."""


class ConfigError(ArchonError, ValueError):
    """A configuration file or object is invalid (unknown key, wrong type)."""


class DataError(ArchonError):
    """A dataset on disk is missing, incomplete or inconsistent."""


class CheckpointError(ArchonError):
    """A checkpoint is missing, incomplete or incompatible."""


class ArchonWarning(UserWarning):
    """Base class of the warnings archon-framework and its plugins emit."""


class DataWarning(ArchonWarning):
    """A loader changed a value to fit its clip (padded, trimmed, resampled, down-mixed).

    Loaders never adjust a file silently: each adjustment is one warning naming the file and
    what was done. `archon data ingest` prints them with the manifest line and clip.
    """
