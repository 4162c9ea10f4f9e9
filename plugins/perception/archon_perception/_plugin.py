"""Entry point of the archon-perception plugin.

archon-perception is a library of offline pretrained models (face landmarks, speech recognition,
speech quality, speaker embeddings) that metric and data plugins call; it registers no modality,
task or metric of its own (the metrics that use it are archon-eval-metrics').
"""

from __future__ import annotations

__all__: list[str] = []
