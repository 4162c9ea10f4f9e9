"""The other plugins' public contracts this dataset builds on, imported in one place."""

from __future__ import annotations

from archon_flame_rvq import FlameDims, FlameParams, FlameTokenizer, load_flame_npz, roundtrip_params
from archon_semantic_magvit import LABEL_INDEX, LABELS, labels_to_colors
from archon_speech_soundstream import SAMPLE_RATE
from archon_text_t5 import validate_description

__all__ = [
    "LABELS", "LABEL_INDEX", "labels_to_colors", "FlameDims", "FlameParams", "FlameTokenizer", "load_flame_npz",
    "roundtrip_params", "SAMPLE_RATE", "validate_description",
]
