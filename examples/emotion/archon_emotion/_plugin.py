"""Hook implementations: the entry point `emotion` in group `archon` points here."""

from __future__ import annotations

from archon_framework import hookimpl

from archon_emotion._modality import EMOTION, emotion_suite


@hookimpl
def archon_modalities():
    return [EMOTION]


@hookimpl
def archon_task_suites():
    return [emotion_suite()]
