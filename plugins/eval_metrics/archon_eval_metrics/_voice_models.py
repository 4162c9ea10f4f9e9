"""Speech quality (DNSMOS) and voice identity (C-SIM, Id. Acc.) by pretrained models in wheels.

* ``speech_dnsmos``: DNSMOS P.835 (SIG, BAK, OVRL) and P.808 of the predicted speech
  (archon-perception's speechmos wrapper); NaN for silence.
* ``voice_speaker_similarity`` (C-SIM, paper Tab. 2): cosine of the GE2E embeddings
  (Resemblyzer 0.1.4) of the predicted and the reference speech.
* ``voice_speaker_id_accuracy`` (Id. Acc., paper Tab. 2), set-level: each held-out clip's
  reference speech enrols one speaker (the synthetic clips each have their own person; a real
  data set's clips of one speaker would count as separate speakers, which makes the task harder,
  never easier); a prediction is identified correctly when the enrolment embedding closest to it
  (cosine) is its own clip's. Needs at least two speakers; a prediction without speech counts as
  wrong (it identifies no one).

A missing package makes every score of the metric an error that names the extra to install
(``archon-perception[quality]`` or ``[speaker]``); the other metrics still run.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from archon_framework import ClipMeta, RawValueError
from archon_perception import cosine_similarity, dnsmos, dnsmos_definition, speaker_definition, speaker_embedding

from archon_eval_metrics._checks import as_array
from archon_eval_metrics._definitions import with_definition
from archon_eval_metrics._frechet import set_level

__all__ = ["speech_dnsmos_metric", "voice_embedding", "voice_speaker_id_accuracy_metric",
           "voice_speaker_similarity_metric"]

_EMBEDDINGS: OrderedDict[bytes, np.ndarray] = OrderedDict()
_QUALITY: OrderedDict[bytes, dict[str, float]] = OrderedDict()


def _key(wave: np.ndarray, sample_rate: int) -> bytes:
    return hashlib.blake2b(wave.data, digest_size=16).digest() + str((wave.shape, sample_rate)).encode()


def voice_embedding(speech: Any, *, sample_rate: int, metric: str, field: str) -> np.ndarray:
    """GE2E embedding of a wave (NaN without speech), cached by content."""
    wave = np.ascontiguousarray(as_array(metric, field, speech, ndim=1, dtype=np.float32))
    key = _key(wave, sample_rate)
    if key not in _EMBEDDINGS:
        _EMBEDDINGS[key] = speaker_embedding(wave, sample_rate=sample_rate, name=f"metric {metric}: {field}")
        if len(_EMBEDDINGS) > 256:
            _EMBEDDINGS.popitem(last=False)
    return _EMBEDDINGS[key]


@with_definition(lambda: [dnsmos_definition()], {"scores": "ovrl, sig, bak (P.835), p808 (P.808)"})
def speech_dnsmos_metric(prediction: Any, reference: Any, *, meta: ClipMeta) -> dict[str, float]:
    """Metric fn: DNSMOS of the prediction's speech (the reference is not used); cached by content."""
    wave = np.ascontiguousarray(as_array("speech_dnsmos", "prediction 'speech'", prediction, ndim=1, dtype=np.float32))
    key = _key(wave, meta.sample_rate)
    if key not in _QUALITY:
        _QUALITY[key] = dnsmos(wave, sample_rate=meta.sample_rate,
                               name="metric speech_dnsmos: prediction 'speech'").as_dict()
        if len(_QUALITY) > 256:
            _QUALITY.popitem(last=False)
    return dict(_QUALITY[key])


@with_definition(lambda: [speaker_definition()], {"similarity": "cosine of GE2E embeddings, prediction vs reference"})
def voice_speaker_similarity_metric(prediction: Any, reference: Any, *, meta: ClipMeta) -> float:
    """Metric fn: C-SIM, the cosine of the speaker embeddings of prediction and reference speech."""
    name = "voice_speaker_similarity"
    return cosine_similarity(voice_embedding(prediction, sample_rate=meta.sample_rate, metric=name,
                                             field="prediction 'speech'"),
                             voice_embedding(reference, sample_rate=meta.sample_rate, metric=name,
                                             field="reference 'speech'"))


@set_level
@with_definition(lambda: [speaker_definition()],
                 {"enrolment": "each reference clip's speech is one speaker", "decision": "nearest cosine",
                  "no_speech": "counts as wrong", "min_speakers": 2})
def voice_speaker_id_accuracy_metric(predictions: Sequence[Any], references: Sequence[Any], *,
                                     meta: Sequence[ClipMeta]) -> float:
    """Set-level metric fn: Id. Acc., the fraction of predictions whose nearest enrolled speaker is their own.

    Raises:
        RawValueError: the lists differ in length.
    """
    name = "voice_speaker_id_accuracy"
    if not (len(predictions) == len(references) == len(meta)):
        raise RawValueError(f"metric {name}: {len(predictions)} predictions, {len(references)} references, "
                            f"{len(meta)} metas; give one of each per clip")
    enrolled = [voice_embedding(r, sample_rate=m.sample_rate, metric=name, field=f"reference 'speech' of {m.clip_id}")
                for r, m in zip(references, meta)]
    keep = [i for i, e in enumerate(enrolled) if np.all(np.isfinite(e))]  # a silent reference enrols no one
    if len(keep) < 2:
        return float("nan")
    bank = np.stack([enrolled[i] for i in keep])  # [speakers, 256]
    correct = 0
    for i in keep:
        e = voice_embedding(predictions[i], sample_rate=meta[i].sample_rate, metric=name,
                            field=f"prediction 'speech' of {meta[i].clip_id}")
        if np.all(np.isfinite(e)):
            correct += keep[int(np.argmax(bank @ e))] == i
    return correct / len(keep)
