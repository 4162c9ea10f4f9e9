"""archon-emotion: an example third-party plugin adding a per-clip `emotion` label.

It uses only archon_framework's public API and registers through its entry point, exactly as
the built-in plugins do: install it (`pip install -e examples/emotion`) and it appears in
`archon list-modalities` and `archon list-tasks --suite emotion`. It also adds a chain
(`speech-to-emotion`, `archon list-chains`), a metric and an evaluation table
(`archon eval --suite emotion`) through the same hooks the paper's content uses.
"""

from archon_emotion._evaluation import EMOTION_ACCURACY, EMOTION_TABLE, SPEECH_TO_EMOTION, label_accuracy
from archon_emotion._modality import EMOTIONS, EMOTION, EmotionTokenizer, emotion_suite

__all__ = ["EMOTIONS", "EMOTION", "EMOTION_ACCURACY", "EMOTION_TABLE", "EmotionTokenizer", "SPEECH_TO_EMOTION",
           "emotion_suite", "label_accuracy"]
