"""archon-semantic-magvit: MAGVIT-v2-style LFQ tokenizers for semantic video and images (Archon Sec. 3.1, C.1)."""

from archon_semantic_magvit._config import (
    SHIPPED_CONFIGS,
    DiscriminatorConfig,
    LossConfig,
    MagvitConfig,
    TokenizerConfig,
    TrainConfig,
    load_tokenizer_config,
    shipped_config,
)
from archon_semantic_magvit._data import pad_frames, padded_frames, toy_image, toy_label_video
from archon_semantic_magvit._evaluate import label_accuracy, mean_iou, psnr
from archon_semantic_magvit._io import load_image, load_label_pngs, save_image, save_label_pngs, save_preview
from archon_semantic_magvit._labels import LABEL_INDEX, LABELS, NUM_LABELS
from archon_semantic_magvit._lfq import (
    LFQOutput,
    bits_to_indices,
    codebook_entropy,
    indices_to_bits,
    indices_to_codes,
    lfq,
    per_sample_entropy,
)
from archon_semantic_magvit._model import Decoder, Encoder, Magvit
from archon_semantic_magvit._palette import PALETTE, PALETTE_MIN_DISTANCE, colors_to_labels, labels_to_colors
from archon_semantic_magvit._plugin import IMAGE, SEMANTIC
from archon_semantic_magvit._tokenizer import ImageTokenizer, SemanticTokenizer, image_num_tokens, semantic_num_tokens
from archon_semantic_magvit._train import Trainer, train_image, train_semantic

__all__ = [
    "bits_to_indices",
    "codebook_entropy",
    "colors_to_labels",
    "Decoder",
    "DiscriminatorConfig",
    "Encoder",
    "IMAGE",
    "image_num_tokens",
    "ImageTokenizer",
    "indices_to_bits",
    "indices_to_codes",
    "label_accuracy",
    "LABEL_INDEX",
    "LABELS",
    "labels_to_colors",
    "lfq",
    "LFQOutput",
    "load_image",
    "load_label_pngs",
    "load_tokenizer_config",
    "LossConfig",
    "Magvit",
    "MagvitConfig",
    "mean_iou",
    "NUM_LABELS",
    "pad_frames",
    "padded_frames",
    "PALETTE",
    "PALETTE_MIN_DISTANCE",
    "per_sample_entropy",
    "psnr",
    "save_image",
    "save_label_pngs",
    "save_preview",
    "SEMANTIC",
    "semantic_num_tokens",
    "SemanticTokenizer",
    "SHIPPED_CONFIGS",
    "shipped_config",
    "TokenizerConfig",
    "toy_image",
    "toy_label_video",
    "train_image",
    "train_semantic",
    "Trainer",
    "TrainConfig",
]
