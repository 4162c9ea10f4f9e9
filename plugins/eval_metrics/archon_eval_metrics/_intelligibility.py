"""Intelligibility: word and character error rates of speech against its script, by pocketsphinx.

The paper's Table 2 setting: the generated speech is recognized offline (archon-perception's
pocketsphinx 5.1.1 US-English model) and compared with the script it was generated from; the
ground-truth speech scored the same way is the ceiling (the recognizer's own error).

Both texts are normalized the same way: lower case, every character other than a-z, 0-9 and the
apostrophe becomes a space, runs of spaces collapse. ``WER = (S + D + I) / N`` over words (Levenshtein
alignment, N the script's word count); ``CER`` the same over the characters of the normalized texts
(spaces included). A script with no word scores NaN (nothing to recognize: missing, not zero);
silent speech recognizes no word and scores WER 1.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from archon_framework import ClipMeta, RawValueError
from archon_perception import Transcript, asr_definition, recognize

from archon_eval_metrics._checks import field_of
from archon_eval_metrics._definitions import with_definition

__all__ = ["edit_distance", "normalize_text", "speech_cer_metric", "speech_wer_metric", "error_rate", "transcribe"]

_PARAMETERS = {"normalization": "lower case; [^a-z0-9'] -> space; spaces collapsed",
               "wer": "word Levenshtein / script words", "cer": "character Levenshtein / script characters",
               "empty_script": "NaN"}
_CACHE: OrderedDict[bytes, Transcript] = OrderedDict()


def normalize_text(text: str) -> str:
    """Lower case, only ``a-z 0-9 '`` and single spaces."""
    return " ".join(re.sub(r"[^a-z0-9']+", " ", text.lower()).split())


def edit_distance(reference: Sequence[Any], hypothesis: Sequence[Any]) -> int:
    """Levenshtein distance (substitutions, deletions, insertions each cost 1)."""
    previous = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, 1):
        current = [i]
        for j, h in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


def error_rate(script: str, heard: str, *, unit: str = "word") -> float:
    """WER (``unit="word"``) or CER (``"char"``) of `heard` against `script`, after :func:`normalize_text`.

    Returns NaN when the script has nothing to recognize.
    """
    ref, hyp = normalize_text(script), normalize_text(heard)
    if unit == "word":
        ref_units, hyp_units = ref.split(), hyp.split()
    elif unit == "char":
        ref_units, hyp_units = list(ref), list(hyp)
    else:
        raise RawValueError(f"error_rate: unit must be 'word' or 'char', got {unit!r}")
    if not ref_units:
        return float("nan")
    return edit_distance(ref_units, hyp_units) / len(ref_units)


def transcribe(speech: Any, *, sample_rate: int, metric: str) -> Transcript:
    """pocketsphinx's transcript of a wave, cached by content (WER and CER read one recognition)."""
    wave = np.ascontiguousarray(np.asarray(speech))
    key = hashlib.blake2b(wave.data, digest_size=16).digest() + str((wave.dtype, wave.shape, sample_rate)).encode()
    if key not in _CACHE:
        _CACHE[key] = recognize(wave, sample_rate=sample_rate, name=f"metric {metric}: prediction 'speech'")
        if len(_CACHE) > 64:
            _CACHE.popitem(last=False)
    return _CACHE[key]


def _rate(name: str, unit: str, prediction: Mapping[str, Any], reference: Mapping[str, Any], meta: ClipMeta) -> float:
    speech = field_of(name, "prediction", prediction, "speech")
    script = field_of(name, "reference", reference, "script")
    if not isinstance(script, str):
        raise RawValueError(f"metric {name}: the reference 'script' must be text, got {type(script).__name__}")
    if not normalize_text(script):
        return float("nan")
    return error_rate(script, transcribe(speech, sample_rate=meta.sample_rate, metric=name).text, unit=unit)


def _models() -> list:
    return [asr_definition()]


@with_definition(_models, _PARAMETERS)
def speech_wer_metric(prediction: Mapping[str, Any], reference: Mapping[str, Any], *, meta: ClipMeta) -> float:
    """Metric fn: word error rate of the prediction's speech against the reference script."""
    return _rate("speech_wer", "word", prediction, reference, meta)


@with_definition(_models, _PARAMETERS)
def speech_cer_metric(prediction: Mapping[str, Any], reference: Mapping[str, Any], *, meta: ClipMeta) -> float:
    """Metric fn: character error rate of the prediction's speech against the reference script."""
    return _rate("speech_cer", "char", prediction, reference, meta)
