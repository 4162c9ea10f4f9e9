"""Tokenizers of the ``semantic`` and ``image`` modalities (the archon Tokenizer protocol).

Token order: time-major, then row-major over the latent grid, i.e. the flattening of a
``[T', H', W']`` grid: ids[t * H' * W' + y * W' + x]. Semantic: T' = (F_pad - 1) / 4 + 1 latent
frames of 8 x 8 tokens, F_pad = F rounded up to 1 + 4n by repeating the last frame (trimmed back
to ``meta.frames`` frames on decode). Image: 16 x 16 tokens.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from archon_framework import CheckpointError, ClipMeta, RawValueError, VocabError, Vocabulary
from archon_framework.config import atomic_write_text
from archon_semantic_magvit._config import TokenizerConfig, load_tokenizer_config, shipped_config
from archon_semantic_magvit._data import pad_frames, padded_frames
from archon_semantic_magvit._labels import NUM_LABELS
from archon_semantic_magvit._lfq import indices_to_codes
from archon_semantic_magvit._model import Magvit, init_magvit
from archon_semantic_magvit._palette import labels_to_unit, palette_logits

__all__ = ["SemanticTokenizer", "ImageTokenizer", "semantic_num_tokens", "image_num_tokens", "load_tokenizer",
           "config_vocabulary", "vocabulary_for"]

_MODEL_FILE = "model.eqx"
_CONFIG_FILE = "config.json"


def config_vocabulary(config: TokenizerConfig) -> Vocabulary:
    """The vocabulary of a tokenizer config: its LFQ codebook, 2^embedding_dim codes."""
    return Vocabulary(config.modality, config.model.codebook_size)


def vocabulary_for(artifact_dir: Path) -> Vocabulary:
    """The vocabulary of the tokenizer saved in ``artifact_dir``, from its ``config.json`` alone
    (``Modality.vocabulary_for``: the unified vocabulary follows the trained tokenizer)."""
    return config_vocabulary(load_tokenizer_config(Path(artifact_dir) / _CONFIG_FILE))


# The default tokenizers' vocabularies (the tiny configs, what ``load_tokenizer(.., None)`` makes):
# semantic 2^10 as in the paper; image 2^12, where the paper's config (image_paper.toml) has 2^18.
SEMANTIC_VOCABULARY = config_vocabulary(shipped_config("semantic_tiny"))
IMAGE_VOCABULARY = config_vocabulary(shipped_config("image_tiny"))


def semantic_num_tokens(meta: ClipMeta) -> int:
    """((F_pad - 1) / 4 + 1) * 64 tokens for F = meta.frames frames (0 for an empty window)."""
    f = padded_frames(meta.frames)
    return 0 if f == 0 else ((f - 1) // 4 + 1) * 64


def image_num_tokens(meta: ClipMeta) -> int:
    """16 x 16 tokens whatever the clip length."""
    return 256


@eqx.filter_jit
def _encode_semantic(model: Magvit, labels: Int[Array, "t h w"]) -> Int[Array, "t2 h2 w2"]:
    x = jnp.moveaxis(labels_to_unit(labels.astype(jnp.int32)), -1, 0)  # [3, T, H, W]
    return model.encode(x)


@eqx.filter_jit
def _decode_semantic(model: Magvit, grid: Int[Array, "t2 h2 w2"]) -> Int[Array, "t h w"]:
    x = jnp.moveaxis(model.decode(grid), 0, -1)  # [T, H, W, 3]
    return jnp.argmax(palette_logits(x, 1.0), axis=-1).astype(jnp.uint8)  # nearest colour


@eqx.filter_jit
def _encode_image(model: Magvit, image: Int[Array, "h w 3"]) -> Int[Array, "1 h2 w2"]:
    x = jnp.moveaxis(image.astype(jnp.float32) / 127.5 - 1.0, -1, 0)[:, None]  # [3, 1, H, W]
    return model.encode(x)


@eqx.filter_jit
def _decode_image(model: Magvit, grid: Int[Array, "1 h2 w2"]) -> Float[Array, "h w 3"]:
    x = jnp.moveaxis(model.decode(grid)[:, 0], 0, -1)  # [H, W, 3]
    return jnp.clip(jnp.round((x + 1.0) * 127.5), 0, 255)


class _MagvitTokenizer:
    """Shared machinery: the model, its config, ids checks, save/load (no pickle)."""

    modality: str
    vocabulary: Vocabulary

    def __init__(self, model: Magvit, config: TokenizerConfig):
        if config.modality != self.modality:
            raise CheckpointError(f"a {config.modality!r} tokenizer config cannot make the {self.modality!r} tokenizer")
        self.model = model
        self.config = config
        self.vocabulary = config_vocabulary(config)  # 2^embedding_dim: the config decides

    @classmethod
    def untrained(cls, config: TokenizerConfig | None = None, *, seed: int = 0):
        """A seeded, untrained network (the tiny config by default): valid ids, poor reconstructions."""
        config = config or shipped_config(f"{cls.modality}_tiny")
        return cls(init_magvit(config.model, key=jax.random.key(seed)), config)

    def save(self, directory: Path) -> None:
        """Write ``config.json`` and ``model.eqx`` (equinox.tree_serialise_leaves) to ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        eqx.tree_serialise_leaves(directory / _MODEL_FILE, self.model)
        atomic_write_text(directory / _CONFIG_FILE, json.dumps(self.config.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path):
        """Load what :meth:`save` (or the trainer) wrote; CheckpointError names what is missing."""
        directory = Path(directory)
        for name in (_CONFIG_FILE, _MODEL_FILE):
            if not (directory / name).is_file():
                raise CheckpointError(
                    f"{directory / name} is missing: train the {cls.modality!r} tokenizer into {directory} first"
                )
        config = TokenizerConfig.from_dict(json.loads((directory / _CONFIG_FILE).read_text()), source=str(directory / _CONFIG_FILE))
        like = init_magvit(config.model, key=jax.random.key(0))
        try:
            model = eqx.tree_deserialise_leaves(directory / _MODEL_FILE, like)
        except Exception as err:  # equinox raises RuntimeError/ValueError on a shape mismatch
            raise CheckpointError(f"{directory / _MODEL_FILE} does not match {directory / _CONFIG_FILE}: {err}") from err
        return cls(model, config)

    def code_vectors(self) -> np.ndarray:
        """The LFQ code of every local id: its ``embedding_dim`` bits as -1/+1, float32
        ``[2^embedding_dim, embedding_dim]`` (`archon_framework.CodeVectorTokenizer`)."""
        k = self.config.model.embedding_dim
        return np.asarray(indices_to_codes(jnp.arange(self.vocabulary.size, dtype=jnp.int32), k), np.float32)

    def _where(self, meta: ClipMeta) -> str:
        return f"clip {meta.clip_id!r}, modality {self.modality!r}"

    def _check_ids(self, local_ids: Any, n: int, meta: ClipMeta) -> np.ndarray:
        ids = np.asarray(local_ids)
        if ids.dtype.kind not in "iu":
            raise VocabError(f"{self._where(meta)}: local ids must be integers, got dtype {ids.dtype}")
        if ids.ndim != 1 or ids.shape[0] != n:
            raise VocabError(f"{self._where(meta)}: expected {n} local ids for {meta.duration} s, got shape {ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocabulary.size):
            raise VocabError(
                f"{self._where(meta)}: local ids must lie in 0..{self.vocabulary.size - 1} "
                f"(vocabulary {self.vocabulary.name!r}), got min {ids.min()} max {ids.max()}"
            )
        return ids.astype(np.int32)


class SemanticTokenizer(_MagvitTokenizer):
    """Label videos uint8 [frames, 128, 128] (labels 0..20) <-> ((F_pad - 1) / 4 + 1) * 64 ids."""

    modality = "semantic"

    def num_tokens(self, meta: ClipMeta) -> int:
        """Ids for ``meta``: latent frames x latent_size^2 (64 per latent frame at 128 x 128)."""
        f = padded_frames(meta.frames)
        return 0 if f == 0 else self.config.model.latent_frames(f) * self.config.model.latent_size**2

    def check(self, raw: Any, meta: ClipMeta) -> np.ndarray:
        """Validate a label video for ``meta``; RawValueError names the clip and the modality."""
        where, size = self._where(meta), self.config.model.frame_size
        arr = np.asarray(raw)
        if arr.dtype.kind not in "iu":
            raise RawValueError(f"{where}: expected integer label ids (uint8), got dtype {arr.dtype}")
        if arr.shape != (meta.frames, size, size):
            raise RawValueError(
                f"{where}: expected shape ({meta.frames}, {size}, {size}) (frames = duration x frame rate), got {arr.shape}"
            )
        if arr.size and (arr.min() < 0 or arr.max() >= NUM_LABELS):
            raise RawValueError(f"{where}: label ids must lie in 0..{NUM_LABELS - 1} (Table H), got {arr.min()}..{arr.max()}")
        return arr.astype(np.uint8)

    def encode(self, raw: Any, *, meta: ClipMeta) -> np.ndarray:
        labels = self.check(raw, meta)
        if labels.shape[0] == 0:
            return np.zeros(0, np.int32)
        grid = _encode_semantic(self.model, jnp.asarray(pad_frames(labels)))  # [T', 8, 8]
        return np.asarray(grid, dtype=np.int32).reshape(-1)  # time-major, row-major

    def decode(self, local_ids: np.ndarray, *, meta: ClipMeta) -> np.ndarray:
        ids = self._check_ids(local_ids, self.num_tokens(meta), meta)
        size = self.config.model.frame_size
        if ids.size == 0:
            return np.zeros((0, size, size), np.uint8)
        s = self.config.model.latent_size
        grid = jnp.asarray(ids.reshape(-1, s, s))  # [T', 8, 8]
        return np.asarray(_decode_semantic(self.model, grid))[: meta.frames]  # [frames, 128, 128]


class ImageTokenizer(_MagvitTokenizer):
    """RGB images uint8 [256, 256, 3] <-> 16 x 16 = 256 ids in 0..2^embedding_dim - 1 (2^18 in the paper)."""

    modality = "image"

    def num_tokens(self, meta: ClipMeta) -> int:
        """latent_size^2 ids (16 x 16 = 256 at 256 x 256)."""
        return self.config.model.latent_size**2

    def check(self, raw: Any, meta: ClipMeta) -> np.ndarray:
        """Validate an image; RawValueError names the clip and the modality."""
        where, size = self._where(meta), self.config.model.frame_size
        arr = np.asarray(raw)
        if arr.dtype != np.uint8:
            raise RawValueError(f"{where}: expected a uint8 RGB image, got dtype {arr.dtype}")
        if arr.shape != (size, size, 3):
            raise RawValueError(f"{where}: expected shape ({size}, {size}, 3), got {arr.shape}; resize first")
        return arr

    def encode(self, raw: Any, *, meta: ClipMeta) -> np.ndarray:
        grid = _encode_image(self.model, jnp.asarray(self.check(raw, meta)))  # [1, 16, 16]
        return np.asarray(grid, dtype=np.int32).reshape(-1)

    def decode(self, local_ids: np.ndarray, *, meta: ClipMeta) -> np.ndarray:
        ids = self._check_ids(local_ids, self.num_tokens(meta), meta)
        s = self.config.model.latent_size
        return np.asarray(_decode_image(self.model, jnp.asarray(ids.reshape(1, s, s)))).astype(np.uint8)


def load_tokenizer(modality: str, artifact_dir: Path | None) -> SemanticTokenizer | ImageTokenizer:
    """The factory behind ``Modality.tokenizer``: trained weights from a directory, else untrained."""
    cls = SemanticTokenizer if modality == "semantic" else ImageTokenizer
    if artifact_dir is None:
        return cls.untrained()
    return cls.load(Path(artifact_dir))
