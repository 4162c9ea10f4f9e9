"""Hook implementations: the entry point `emotion` in group `archon` points here."""

from __future__ import annotations

from archon_framework import hookimpl

from archon_emotion._evaluation import EMOTION_ACCURACY, EMOTION_TABLE, SPEECH_TO_EMOTION
from archon_emotion._modality import EMOTION, emotion_suite


@hookimpl
def archon_modalities():
    return [EMOTION]


@hookimpl
def archon_task_suites():
    return [emotion_suite()]


@hookimpl
def archon_chains():
    return [SPEECH_TO_EMOTION]


@hookimpl
def archon_metrics():
    return [EMOTION_ACCURACY]


@hookimpl
def archon_eval_tables():
    return [EMOTION_TABLE]
