"""The speech tokenizer: 16 kHz wave <-> local ids of the first 4 RVQ levels (Archon Sec. 3.1).

Token layout (``TokenConfig``):

* ``order="frame"`` (default, the paper's): ``[t0:l0, t0:l1, t0:l2, t0:l3, t1:l0, ...]``;
  ``order="level"``: ``[l0:t0, l0:t1, ..., l1:t0, ...]``.
* The local id of code ``c`` at level ``l`` is ``l * 1024 + c``, so the vocabulary is
  ``speech`` with ``4 * 1024 = 4096`` ids and a token's level is visible from its id. ``decode``
  refuses (``VocabError``) an id outside ``[0, 4096)``, a count other than ``num_tokens(meta)``
  (which is always a multiple of 4), and an id of the wrong level for its position.

Lengths: a clip of ``n = round(duration * 16000)`` samples takes ``F = ceil(n / 640)`` frames,
i.e. ``num_tokens = 4 * F`` (exactly ``25 * duration * 4`` when ``n`` is a multiple of 640).
``encode`` pads the wave with silence at the end to ``F * 640`` samples; ``decode`` returns exactly
``meta.samples`` samples (the padding trimmed), clipped to [-1, 1]. The tokenizer works at 16 kHz:
``meta.sample_rate`` must be 16000 (resample with :func:`archon_speech_soundstream.resample`).
"""

from __future__ import annotations

import math
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from archon_framework import ClipMeta, RawValueError, VocabError, Vocabulary
from archon_framework.nn import RVQState, code_vectors, codes_to_local_ids, local_ids_to_codes

from ._audio import check_wave
from ._codec import CONFIG_FILE, SoundStream, init_codec, load_codec, save_codec
from ._config import SoundStreamConfig, load_soundstream_config, shipped_config
from ._constants import HOP_LENGTH, SAMPLE_RATE

__all__ = [
    "vocabulary_for",
    "SPEECH_VOCABULARY",
    "SoundStreamTokenizer",
    "num_speech_frames",
    "num_speech_tokens",
    "make_tokenizer",
]

#: The speech token space: 4 levels x 1024 codes.
SPEECH_VOCABULARY = Vocabulary("speech", 4 * 1024)


def num_speech_frames(meta: ClipMeta) -> int:
    """``ceil(round(duration * 16000) / 640)`` token frames (25 per second)."""
    return math.ceil(int(round(meta.duration * SAMPLE_RATE)) / HOP_LENGTH)


def num_speech_tokens(meta: ClipMeta, *, levels: int = 4) -> int:
    """``levels * num_speech_frames(meta)``: 100 tokens per second with the paper's 4 levels."""
    return levels * num_speech_frames(meta)


@eqx.filter_jit
def _encode(codec: SoundStream, state: RVQState, wave: jax.Array, levels: int) -> jax.Array:
    return codec.encode(state, wave, levels=levels)


@eqx.filter_jit
def _decode(codec: SoundStream, state: RVQState, codes: jax.Array) -> jax.Array:
    return jnp.clip(codec.decode(state, codes), -1.0, 1.0)


class SoundStreamTokenizer:
    """`archon_framework.Tokenizer` for ``speech`` backed by a :class:`SoundStream` codec."""

    def __init__(self, cfg: SoundStreamConfig, codec: SoundStream, state: RVQState):
        self.cfg = cfg
        self.codec = codec
        self.state = state
        self._vocab = Vocabulary(SPEECH_VOCABULARY.name, cfg.vocab_size)

    # ---- construction -------------------------------------------------------------------------

    @classmethod
    def untrained(cls, cfg: SoundStreamConfig | None = None, *, seed: int = 0) -> SoundStreamTokenizer:
        """A seeded, untrained codec (valid ids, no meaningful audio); tiny config by default."""
        cfg = shipped_config("tiny") if cfg is None else cfg
        codec, state = init_codec(cfg, key=jax.random.key(seed))
        return cls(cfg, codec, state)

    @classmethod
    def load(cls, directory: str | Path) -> SoundStreamTokenizer:
        """Load a codec saved by :meth:`save` or by the trainer."""
        cfg, codec, state = load_codec(directory)
        return cls(cfg, codec, state)

    def save(self, directory: str | Path) -> Path:
        """``config.json`` + ``codec.eqx`` (``equinox.tree_serialise_leaves``; no pickle)."""
        return save_codec(directory, self.cfg, self.codec, self.state)

    # ---- Tokenizer protocol -------------------------------------------------------------------

    @property
    def vocabulary(self) -> Vocabulary:
        """``Vocabulary("speech", levels * codebook_size)``."""
        return self._vocab

    @property
    def levels(self) -> int:
        """RVQ levels kept as tokens."""
        return self.cfg.tokens.levels

    def num_tokens(self, meta: ClipMeta) -> int:
        """Exact token count for a clip window (see the module docstring)."""
        return num_speech_tokens(meta, levels=self.levels)

    def encode(self, raw: np.ndarray, *, meta: ClipMeta) -> np.ndarray:
        """Wave ``float32 [meta.samples]`` (16 kHz mono, [-1, 1]) -> int32 local ids.

        Raises:
            RawValueError: wrong rate, length, rank, NaN, empty or out-of-range samples.
        """
        codes = self.encode_codes(raw, meta=meta, levels=self.levels)  # [frames, levels]
        return codes_to_local_ids(codes, self.cfg.codec.codebook_size, order=self.cfg.tokens.order)

    def decode(self, local_ids: np.ndarray, *, meta: ClipMeta) -> np.ndarray:
        """Local ids -> wave ``float32 [meta.samples]`` in [-1, 1].

        Raises:
            VocabError: ids outside the vocabulary, a count other than ``num_tokens(meta)``, or an
                id whose level does not match its position.
        """
        self._check_rate(meta)
        expected = self.num_tokens(meta)
        ids = np.asarray(local_ids)
        if ids.ndim != 1 or ids.shape[0] != expected:
            raise VocabError(
                f"speech (clip {meta.clip_id!r}): expected {expected} local ids "
                f"({self.levels} levels x {expected // self.levels} frames for {meta.duration} s), "
                f"got shape {ids.shape}"
            )
        try:
            codes = local_ids_to_codes(
                ids, self.levels, self.cfg.codec.codebook_size, order=self.cfg.tokens.order
            )  # [frames, levels]
        except VocabError as err:
            raise VocabError(f"speech (clip {meta.clip_id!r}): {err}") from err
        return self.decode_codes(codes)[: meta.samples]

    def token_ranges(self, num_tokens: int) -> np.ndarray:
        """Per position of an encoded sequence of ``num_tokens`` ids, the local id range it accepts.

        Returns ``int64 [num_tokens, 2]`` rows ``[lo, hi)`` = ``[l * 1024, (l + 1) * 1024)`` where
        ``l`` is the RVQ level of the position in the configured order (``frame``: ``i % levels``;
        ``level``: ``i // (num_tokens / levels)``). Every row spans ``codebook_size`` ids.

        Raises:
            VocabError: ``num_tokens`` negative or not a multiple of the level count.
        """
        levels, size = self.levels, self.cfg.codec.codebook_size
        if isinstance(num_tokens, bool) or not isinstance(num_tokens, (int, np.integer)) or num_tokens < 0:
            raise VocabError(f"speech token_ranges: num_tokens must be an int >= 0, got {num_tokens!r}")
        if num_tokens % levels:
            raise VocabError(
                f"speech token_ranges: {num_tokens} tokens is not a multiple of the {levels} levels per frame"
            )
        position = np.arange(int(num_tokens), dtype=np.int64)
        if self.cfg.tokens.order == "frame":
            level = position % levels
        else:
            level = position // max(int(num_tokens) // levels, 1)
        lo = level * size
        return np.stack([lo, lo + size], axis=1)  # [num_tokens, 2]

    def code_vectors(self) -> np.ndarray:
        """The codebook vector of every local id ``level * 1024 + code`` of the token levels,
        float32 ``[levels * 1024, dim]`` (`archon_framework.CodeVectorTokenizer`)."""
        return code_vectors(self.state, self.levels)

    # ---- codes, for evaluation ----------------------------------------------------------------

    def encode_codes(self, raw: np.ndarray, *, meta: ClipMeta, levels: int | None = None) -> np.ndarray:
        """Codes ``int32 [frames, levels]`` of the first ``levels`` levels (default: token levels)."""
        self._check_rate(meta)
        levels = self.levels if levels is None else levels
        if not 1 <= levels <= self.cfg.codec.levels:
            raise RawValueError(f"speech: levels must be in 1..{self.cfg.codec.levels}, got {levels}")
        wave = check_wave(raw, where=f"clip {meta.clip_id!r}", expected_samples=meta.samples)
        frames = num_speech_frames(meta)
        padded = np.zeros(frames * HOP_LENGTH, np.float32)
        padded[: wave.shape[0]] = wave  # silence after the end, trimmed again by decode
        codes = _encode(self.codec, self.state, jnp.asarray(padded), levels)  # [frames, levels]
        return np.asarray(codes, dtype=np.int32)

    def decode_codes(self, codes: np.ndarray) -> np.ndarray:
        """Wave ``float32 [frames * 640]`` from codes ``[frames, n]`` of levels ``0..n-1``."""
        codes = np.asarray(codes)
        if codes.ndim != 2 or not 1 <= codes.shape[1] <= self.cfg.codec.levels:
            raise VocabError(f"speech: codes must be [frames, 1..{self.cfg.codec.levels}], got {codes.shape}")
        if codes.size and (codes.min() < 0 or codes.max() >= self.cfg.codec.codebook_size):
            raise VocabError(f"speech: codes must lie in [0, {self.cfg.codec.codebook_size})")
        return np.asarray(_decode(self.codec, self.state, jnp.asarray(codes, jnp.int32)), dtype=np.float32)

    def reconstruct(self, raw: np.ndarray, *, meta: ClipMeta, levels: int | None = None) -> np.ndarray:
        """``decode_codes(encode_codes(raw, levels))`` trimmed to ``meta.samples``."""
        return self.decode_codes(self.encode_codes(raw, meta=meta, levels=levels))[: meta.samples]

    @staticmethod
    def _check_rate(meta: ClipMeta) -> None:
        if meta.sample_rate != SAMPLE_RATE:
            raise RawValueError(
                f"speech (clip {meta.clip_id!r}): the tokenizer works at {SAMPLE_RATE} Hz but the "
                f"clip metadata says {meta.sample_rate} Hz; resample with "
                "archon_speech_soundstream.resample and set sample_rate=16000"
            )


def vocabulary_for(artifact_dir: Path) -> Vocabulary:
    """The vocabulary of the codec saved in ``artifact_dir`` (levels kept x codebook size), read
    from its ``config.json`` alone (``Modality.vocabulary_for``)."""
    return Vocabulary(SPEECH_VOCABULARY.name, load_soundstream_config(Path(artifact_dir) / CONFIG_FILE).vocab_size)


def make_tokenizer(artifact_dir: Path | None = None) -> SoundStreamTokenizer:
    """The modality's tokenizer factory: load ``artifact_dir`` or build the untrained default."""
    if artifact_dir is None:
        return SoundStreamTokenizer.untrained()
    return SoundStreamTokenizer.load(artifact_dir)
