"""What the example adds beyond its modality: a chain, a metric and an evaluation table.

They enter through the same hooks as the paper's chains and Tables 1-3 (`archon_chains()`,
`archon_metrics()`, `archon_eval_tables()`): `archon generate --chain speech-to-emotion` and
`archon eval --suite emotion` work once the plugin is installed and a model was trained on the
`emotion` suite.
"""

from __future__ import annotations

from typing import Any

from archon_framework import Chain, EvalRow, EvalTable, Metric, chain_slots, chain_steps

__all__ = ["EMOTION_ACCURACY", "EMOTION_TABLE", "SPEECH_TO_EMOTION", "label_accuracy"]

#: The emotion of a clip from its speech (the emotion suite's ``speech(c)->emotion(t)``).
SPEECH_TO_EMOTION = Chain("speech-to-emotion", chain_slots("speech(c)"), chain_steps("speech(c)->emotion(t)"),
                          description="speech -> the clip's emotion label (example plugin archon-emotion)")


def label_accuracy(prediction: Any, reference: Any, *, meta: Any = None) -> float:
    """1.0 when the predicted label is the reference's (case and spaces ignored), else 0.0."""
    return float(str(prediction).strip().lower() == str(reference).strip().lower())


EMOTION_ACCURACY = Metric(name="emotion_accuracy", modalities=("emotion",), fn=label_accuracy, higher_is_better=True,
                          description="exact match of the generated emotion label with the clip's")

#: `archon eval --suite emotion`: the chain on every held-out clip, and the ground truth's ceiling.
EMOTION_TABLE = EvalTable(
    name="emotion",
    title="Emotion from speech",
    paper="not in the paper: an example of a third-party evaluation table",
    rows=(EvalRow("speech -> emotion", SPEECH_TO_EMOTION),
          EvalRow("ground truth", SPEECH_TO_EMOTION, models="ground-truth", note="the clip's own label: accuracy 1")),
    columns=("emotion_accuracy",),
    install="archon-emotion (pip install -e examples/emotion)",
)
