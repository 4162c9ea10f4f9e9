"""archon-emotion: an example third-party plugin adding a per-clip `emotion` label.

It uses only archon_framework's public API and registers through its entry point, exactly as
the built-in plugins do: install it (`pip install -e examples/emotion`) and it appears in
`archon list-modalities` and `archon list-tasks --suite emotion`.
"""

from archon_emotion._modality import EMOTIONS, EMOTION, EmotionTokenizer, emotion_suite

__all__ = ["EMOTIONS", "EMOTION", "EmotionTokenizer", "emotion_suite"]
