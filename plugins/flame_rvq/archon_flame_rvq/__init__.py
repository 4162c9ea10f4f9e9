"""archon-flame-rvq: RVQ-VAE tokenizers for FLAME identity, expression and pose (Archon Sec. 3.1).

Raw values: identity ``float32 [dims.shape]``, expression ``float32 [frames, dims.expression]``,
pose ``float32 [frames, dims.pose]`` (axis-angle rotation 3 + translation 3), see `FlameDims`.
"""

from ._config import (
    FLAME_MODALITIES,
    FlameTokenizerConfig,
    ModelConfig,
    TrainConfig,
    shipped_config,
    shipped_config_names,
)
from ._dims import DEFAULT_DIMS, FlameDims
from ._model import AnimationRVQVAE, ConvDecoder, ConvEncoder
from ._params import FlameParams, Normalizer, load_flame_npz, save_flame_npz
from ._plugin import flame_modalities, make_tokenizer
from ._roundtrip import FIELD_OF_MODALITY, roundtrip_params
from ._synthetic import synthetic_flame_clips
from ._tokenizer import FlameTokenizer, num_tokens_for
from ._train import evaluate_tokenizer, train_tokenizer

__all__ = [
    "AnimationRVQVAE",
    "ConvDecoder",
    "ConvEncoder",
    "DEFAULT_DIMS",
    "FIELD_OF_MODALITY",
    "FLAME_MODALITIES",
    "FlameDims",
    "FlameParams",
    "FlameTokenizer",
    "FlameTokenizerConfig",
    "ModelConfig",
    "Normalizer",
    "TrainConfig",
    "evaluate_tokenizer",
    "flame_modalities",
    "load_flame_npz",
    "make_tokenizer",
    "num_tokens_for",
    "roundtrip_params",
    "save_flame_npz",
    "shipped_config",
    "shipped_config_names",
    "synthetic_flame_clips",
    "train_tokenizer",
]
