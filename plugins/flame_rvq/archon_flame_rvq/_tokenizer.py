"""The FLAME tokenizers: raw parameters <-> local ids, with normalization, padding, save/load."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from archon_framework import ClipMeta, ConfigError, DataError, RawValueError, VocabError, Vocabulary
from archon_framework.config import atomic_write_text, to_dict
from archon_framework.nn import RVQState, code_vectors, codes_to_local_ids, local_ids_to_codes

from ._config import FlameTokenizerConfig, config_from_dict
from ._model import AnimationRVQVAE
from ._params import Normalizer

__all__ = ["FlameTokenizer", "check_raw", "num_tokens_for"]

CONFIG_FILE = "config.json"
MODEL_FILE = "model.eqx"
STATE_FILE = "rvq_state.eqx"
NORM_FILE = "normalization.npz"


def num_tokens_for(config: FlameTokenizerConfig, frames: int) -> int:
    """Exact token count: identity ``levels``; expression/pose ``ceil(frames / 4) * levels``."""
    if not config.temporal:
        return config.model.num_levels
    return math.ceil(frames / config.model.time_factor) * config.model.num_levels


def _where(config: FlameTokenizerConfig, meta: ClipMeta) -> str:
    return f"clip {meta.clip_id!r}, modality {config.modality!r}"


def check_raw(config: FlameTokenizerConfig, raw: Any, meta: ClipMeta) -> np.ndarray:
    """Validate a raw value: ``[dims.shape]`` (identity) or ``[meta.frames, dim]``, finite.

    Raises:
        RawValueError: naming the clip and modality, with the expected shape.
    """
    where = _where(config, meta)
    arr = np.asarray(raw)
    if arr.dtype.kind not in "fiu":
        raise RawValueError(f"{where}: FLAME parameters must be a float array, got dtype {arr.dtype}")
    want = (config.input_dim,) if not config.temporal else (meta.frames, config.input_dim)
    if arr.shape != want:
        layout = "[shape_dim]" if not config.temporal else "[frames, dim]"
        raise RawValueError(
            f"{where}: expected shape {want} ({layout}, frames = round(duration x frame_rate), "
            f"dims from FlameDims), got {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise RawValueError(f"{where}: FLAME parameters contain NaN or infinite values")
    return arr.astype(np.float32)


@eqx.filter_jit
def _encode(model: AnimationRVQVAE, state: RVQState, x: jax.Array) -> jax.Array:
    return model.encode(state, x)


@eqx.filter_jit
def _decode(model: AnimationRVQVAE, state: RVQState, codes: jax.Array) -> jax.Array:
    return model.decode(state, codes)


class FlameTokenizer:
    """Tokenizer of one FLAME modality (identity, expression or pose) with an `AnimationRVQVAE`.

    ``encode``: validate ``raw`` (shape, finite), z-score per dimension with the stored
    training statistics, pad the time axis at the end by repeating the last frame up to a
    multiple of 4, encode and quantize to codes ``[ceil(frames / 4), levels]``, flatten in
    ``config.token_order`` with local id ``level * codebook_size + code``. ``decode`` inverts
    it and trims back to ``meta.frames``. Identity (``[shape_dim]``, one vector per clip) is
    a length-1 sequence through the same network with strides 1, so it takes ``levels`` tokens.

    Attributes:
        config: the tokenizer's config.
        model: the network (trained or seeded).
        state: the RVQ codebooks.
        normalizer: per-dimension mean/std of the training set.
    """

    def __init__(
        self,
        config: FlameTokenizerConfig,
        model: AnimationRVQVAE,
        state: RVQState,
        normalizer: Normalizer,
    ):
        if normalizer.dim != config.input_dim:
            raise ConfigError(
                f"{config.modality} tokenizer: normalization has {normalizer.dim} dims, "
                f"the config {config.input_dim}"
            )
        self.config = config
        self.model = model
        self.state = state
        self.normalizer = normalizer
        self._vocabulary = Vocabulary(config.modality, config.model.vocabulary_size)

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def untrained(cls, config: FlameTokenizerConfig, *, seed: int = 0) -> FlameTokenizer:
        """A seeded, untrained tokenizer (identity normalization, Gaussian codebooks)."""
        k_model, k_state = jax.random.split(jax.random.key(seed))
        model = AnimationRVQVAE(config.model, config.input_dim, key=k_model)
        state = model.quantizer.init_state(key=k_state)
        return cls(config, model, state, Normalizer.identity(config.input_dim))

    def save(self, directory: str | Path) -> None:
        """Write ``config.json``, ``model.eqx``, ``rvq_state.eqx`` (no pickle) and
        ``normalization.npz`` into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write_text(directory / CONFIG_FILE, json.dumps(to_dict(self.config), indent=2) + "\n")
        eqx.tree_serialise_leaves(directory / MODEL_FILE, self.model)
        eqx.tree_serialise_leaves(directory / STATE_FILE, self.state)
        self.normalizer.save(directory / NORM_FILE)

    @classmethod
    def load(cls, directory: str | Path) -> FlameTokenizer:
        """Load what `save` (or the trainer) wrote.

        Raises:
            DataError: a missing or unreadable file.
            ConfigError: an invalid ``config.json``.
        """
        directory = Path(directory)
        missing = [f for f in (CONFIG_FILE, MODEL_FILE, STATE_FILE, NORM_FILE) if not (directory / f).is_file()]
        if missing:
            raise DataError(
                f"{directory}: not a FLAME tokenizer directory (missing {', '.join(missing)}); "
                "train one or pass None for the untrained default"
            )
        try:
            data = json.loads((directory / CONFIG_FILE).read_text())
        except ValueError as err:
            raise ConfigError(f"{directory / CONFIG_FILE}: not valid JSON ({err})") from err
        config = config_from_dict(data, source=str(directory / CONFIG_FILE))
        skeleton = cls.untrained(config)
        try:
            model = eqx.tree_deserialise_leaves(directory / MODEL_FILE, skeleton.model)
            state = eqx.tree_deserialise_leaves(directory / STATE_FILE, skeleton.state)
        except (OSError, ValueError, RuntimeError) as err:
            raise DataError(f"{directory}: weights do not match config.json ({err})") from err
        return cls(config, model, state, Normalizer.load(directory / NORM_FILE))

    # -- the Tokenizer protocol --------------------------------------------------------------

    @property
    def vocabulary(self) -> Vocabulary:
        """``Vocabulary(modality, levels * codebook_size)``."""
        return self._vocabulary

    def num_tokens(self, meta: ClipMeta) -> int:
        """Exact token count for a clip window (see `num_tokens_for`)."""
        return num_tokens_for(self.config, meta.frames)

    def token_ranges(self, num_tokens: int) -> np.ndarray:
        """The local id range ``[lo, hi)`` accepted at each position of an encoded sequence.

        Position ``i`` draws from the codebook block of its residual level: level
        ``i % levels`` in ``"frame"`` order, ``i // steps`` in ``"level"`` order (``steps =
        num_tokens / levels``); the block of level ``l`` is ``[l * K, (l + 1) * K)``. Every row
        has width ``K = codebook_size``.

        Returns:
            int64 ``[num_tokens, 2]``.

        Raises:
            VocabError: ``num_tokens`` is not a length `encode` produces (a non-negative
                multiple of ``levels``; exactly ``levels`` for identity).
        """
        levels, size = self.config.model.num_levels, self.config.model.codebook_size
        n = int(num_tokens)
        if n < 0 or n % levels or (not self.config.temporal and n != levels):
            want = f"{levels}" if not self.config.temporal else f"a multiple of {levels} (levels)"
            raise VocabError(f"{self.config.modality} tokenizer: no encoded sequence has {num_tokens} tokens; "
                             f"expected {want}")
        position = np.arange(n, dtype=np.int64)
        level = position % levels if self.config.token_order == "frame" else position // max(1, n // levels)
        lo = level * size
        return np.stack([lo, lo + size], axis=1)  # [num_tokens, 2]

    def code_vectors(self) -> np.ndarray:
        """The codebook vector of every local id ``level * K + code``, float32
        ``[levels * K, dim]`` (`archon_framework.CodeVectorTokenizer`)."""
        return code_vectors(self.state, self.config.model.num_levels)

    def encode_codes(self, raw: Any, *, meta: ClipMeta) -> np.ndarray:
        """Codes ``int32 [steps, levels]`` of a raw value (steps = 1 for identity)."""
        x = self.normalizer.normalize(check_raw(self.config, raw, meta))
        if not self.config.temporal:
            x = x[None, :]  # [S] -> [1, S]
        if x.shape[0] == 0:
            return np.zeros((0, self.config.model.num_levels), np.int32)
        factor = self.config.model.time_factor
        pad = -x.shape[0] % factor
        x = np.concatenate([x, np.repeat(x[-1:], pad, axis=0)])  # [T, C] -> [ceil(T/4)*4, C]
        return np.asarray(_encode(self.model, self.state, jnp.asarray(x)), np.int32)

    def encode(self, raw: Any, *, meta: ClipMeta) -> np.ndarray:
        """Raw parameters -> int32 local ids ``[num_tokens(meta)]``.

        Raises:
            RawValueError: wrong shape or dimension, non-numeric, NaN or inf.
        """
        codes = self.encode_codes(raw, meta=meta)
        return codes_to_local_ids(codes, self.config.model.codebook_size, order=self.config.token_order)

    def decode_codes(self, codes: np.ndarray, *, meta: ClipMeta) -> np.ndarray:
        """Raw parameters from codes ``[steps, n]`` (n <= levels: any prefix of levels)."""
        cfg = self.config
        codes = np.asarray(codes)
        steps = 1 if not cfg.temporal else math.ceil(meta.frames / cfg.model.time_factor)
        if codes.ndim != 2 or codes.shape[0] != steps or not 1 <= codes.shape[1] <= cfg.model.num_levels:
            raise VocabError(
                f"{_where(self.config, meta)}: expected codes [{steps}, 1..{cfg.model.num_levels}], got {codes.shape}"
            )
        if codes.dtype.kind not in "iu":
            raise VocabError(f"{_where(self.config, meta)}: codes must be integers, got dtype {codes.dtype}")
        if codes.size and (codes.min() < 0 or codes.max() >= cfg.model.codebook_size):
            raise VocabError(
                f"{_where(self.config, meta)}: codes must lie in [0, {cfg.model.codebook_size}), "
                f"got {codes.min()}..{codes.max()}"
            )
        if steps == 0:
            return np.zeros((0, cfg.input_dim), np.float32)
        z = np.asarray(_decode(self.model, self.state, jnp.asarray(codes, jnp.int32)))
        x = self.normalizer.denormalize(z)
        return x[0] if not cfg.temporal else x[: meta.frames]

    def decode(self, local_ids: np.ndarray, *, meta: ClipMeta) -> np.ndarray:
        """Local ids -> raw parameters (``[shape_dim]`` or ``[frames, dim]``, float32).

        Raises:
            VocabError: an id outside ``[0, vocabulary.size)``, in another level's block than
                its position, or a count other than ``num_tokens(meta)``.
        """
        cfg = self.config
        ids = np.asarray(local_ids)
        want = self.num_tokens(meta)
        try:
            codes = local_ids_to_codes(ids, cfg.model.num_levels, cfg.model.codebook_size, order=cfg.token_order)
        except VocabError as err:
            raise VocabError(f"{_where(self.config, meta)}: {err}") from err
        if ids.shape[0] != want:
            raise VocabError(
                f"{_where(self.config, meta)}: expected {want} local ids for {meta.frames} frames, got {ids.shape[0]}"
            )
        return self.decode_codes(codes, meta=meta)
