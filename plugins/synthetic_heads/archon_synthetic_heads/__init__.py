"""archon-synthetic-heads: a seeded synthetic talking-head dataset (the embedded default of the
Archon paper's Sec. D clips): speech by espeak-ng, script, FLAME-like identity/expression/pose,
semantic video with the 21 labels of Table H, RGB image and video, and a Fig. K description.
"""

from archon_synthetic_heads._appearance import IDENTITY_COMPONENTS
from archon_synthetic_heads._corpus import SPLITS, load_corpus, split_sentences
from archon_synthetic_heads._espeak import EspeakError, Voice, synthesize
from archon_synthetic_heads._flame_preview import preview_flame_params, render_flame_preview, save_label_preview
from archon_synthetic_heads._metrics import head_pitch, head_pitch_correlation, mouth_opening_correlation
from archon_synthetic_heads._generate import (FRAME_RATE, SOURCE, SPLIT_CODES, SynthConfig, clip_id, generate_clip,
                                              mixed_clip, performed_clip)
from archon_synthetic_heads._motion import EXPRESSION_COMPONENTS, loudness_envelope
from archon_synthetic_heads._preview import (
    Appearance,
    clip_appearance,
    generate_parameters,
    neutral_appearance,
    render_parameters,
    sample_identities,
)
from archon_synthetic_heads._render import IMAGE_SIZE, SEMANTIC_SIZE

__all__ = [
    "Appearance",
    "EXPRESSION_COMPONENTS",
    "EspeakError",
    "FRAME_RATE",
    "IDENTITY_COMPONENTS",
    "IMAGE_SIZE",
    "SEMANTIC_SIZE",
    "SOURCE",
    "SPLITS",
    "SPLIT_CODES",
    "SynthConfig",
    "Voice",
    "clip_appearance",
    "clip_id",
    "generate_clip",
    "generate_parameters",
    "head_pitch",
    "head_pitch_correlation",
    "load_corpus",
    "loudness_envelope",
    "mixed_clip",
    "mouth_opening_correlation",
    "neutral_appearance",
    "performed_clip",
    "preview_flame_params",
    "render_flame_preview",
    "render_parameters",
    "sample_identities",
    "save_label_preview",
    "split_sentences",
    "synthesize",
]
