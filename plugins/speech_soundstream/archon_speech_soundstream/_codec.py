"""The SoundStream codec: encoder -> residual VQ -> decoder, plus saving and loading."""

from __future__ import annotations

import json
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
from archon_framework import CheckpointError
from archon_framework.config import atomic_write_text
from archon_framework.nn import ResidualVQ, RVQOutput, RVQState, zero_biases
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ._config import SoundStreamConfig
from ._model import Decoder, Encoder

__all__ = [
    "SoundStream",
    "init_codec",
    "codec_apply_batch",
    "save_codec",
    "load_codec",
    "CONFIG_FILE",
    "WEIGHTS_FILE",
]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "codec.eqx"


class SoundStream(eqx.Module):
    """SoundStream (Zeghidour et al. 2021) at Archon's rate (Sec. 3.1): 16 kHz <-> 25 Hz, RVQ 8 x 1024.

    ``wave [T] -> Encoder -> z [D, T/640] -> ResidualVQ (first n levels) -> Decoder -> [T]``.
    The codebooks are not parameters of this module: they live in an
    :class:`archon_framework.nn.RVQState` passed alongside (EMA-updated, never by gradients).
    Acts on one example; vmap over a batch.
    """

    encoder: Encoder
    decoder: Decoder
    quantizer: ResidualVQ

    def __init__(self, cfg: SoundStreamConfig, *, key: PRNGKeyArray):
        k_enc, k_dec = jax.random.split(key)
        c = cfg.codec
        self.encoder = Encoder(c, key=k_enc)
        self.decoder = Decoder(c, key=k_dec)
        if c.bias_init == "zeros":
            self.encoder, self.decoder = zero_biases(self.encoder), zero_biases(self.decoder)
        self.quantizer = ResidualVQ(
            num_levels=c.levels,
            codebook_size=c.codebook_size,
            dim=c.latent_dim,
            decay=c.ema_decay,
            dead_code_threshold=c.dead_code_threshold,
            kmeans_iters=c.kmeans_iters,
        )

    def __call__(
        self,
        state: RVQState,
        wave: Float[Array, " samples"],
        *,
        num_active: Int[Array, ""] | int | None = None,
    ) -> tuple[Float[Array, " samples"], RVQOutput]:
        """Reconstruct ``wave`` through the first ``num_active`` levels (default all)."""
        z = self.encoder(wave).T  # [samples] -> [frames, D]
        out = self.quantizer(state, z, num_active=num_active)
        return self.decoder(out.quantized.T), out  # [D, frames] -> [samples]

    def encode(
        self, state: RVQState, wave: Float[Array, " samples"], *, levels: int
    ) -> Int[Array, "frames levels"]:
        """Codes of the first ``levels`` levels, ``[samples / 640, levels]``, level 0 first."""
        z = self.encoder(wave).T  # [samples] -> [frames, D]
        return self.quantizer(state, z, num_active=levels).codes[:, :levels]

    def decode(self, state: RVQState, codes: Int[Array, "frames levels"]) -> Float[Array, " samples"]:
        """Wave ``[frames * 640]`` from codes of any prefix of levels ``[frames, n]``."""
        z = self.quantizer.decode(state, codes)  # [frames, n] -> [frames, D]
        return self.decoder(z.T)  # [D, frames] -> [frames * 640]


def init_codec(cfg: SoundStreamConfig, *, key: PRNGKeyArray) -> tuple[SoundStream, RVQState]:
    """A fresh codec and its (not yet k-means-initialised) codebook state."""
    k_model, k_codes = jax.random.split(key)
    codec = SoundStream(cfg, key=k_model)
    return codec, codec.quantizer.init_state(key=k_codes)


def save_codec(directory: str | Path, cfg: SoundStreamConfig, codec: SoundStream, state: RVQState) -> Path:
    """Write ``config.json`` and ``codec.eqx`` (``equinox.tree_serialise_leaves``, no pickle)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{WEIGHTS_FILE}.tmp"
    eqx.tree_serialise_leaves(tmp, (codec, state))
    tmp.replace(directory / WEIGHTS_FILE)
    atomic_write_text(directory / CONFIG_FILE, json.dumps(cfg.to_dict(), indent=2) + "\n")
    return directory


def load_codec(directory: str | Path) -> tuple[SoundStreamConfig, SoundStream, RVQState]:
    """Load what :func:`save_codec` wrote.

    Raises:
        CheckpointError: a missing or unreadable file, naming it.
    """
    directory = Path(directory)
    cfg_path, weights = directory / CONFIG_FILE, directory / WEIGHTS_FILE
    for path in (cfg_path, weights):
        if not path.is_file():
            raise CheckpointError(
                f"speech codec checkpoint {directory}: missing {path.name} "
                "(train one with the speech trainer, or pass None for the untrained default)"
            )
    try:
        data = json.loads(cfg_path.read_text())
    except ValueError as err:
        raise CheckpointError(f"speech codec checkpoint {cfg_path}: not valid JSON ({err})") from err
    cfg = SoundStreamConfig.from_dict(data, source=str(cfg_path))
    like = init_codec(cfg, key=jax.random.key(0))
    try:
        codec, state = eqx.tree_deserialise_leaves(weights, like)
    except Exception as err:  # noqa: BLE001 - equinox raises several types on mismatch
        raise CheckpointError(
            f"speech codec checkpoint {weights}: does not match {cfg_path.name} ({err})"
        ) from err
    return cfg, codec, state


def codec_apply_batch(
    codec: SoundStream, state: RVQState, waves: Float[Array, "batch samples"], num_active: Int[Array, " batch"]
) -> tuple[Float[Array, "batch samples"], RVQOutput]:
    """``jax.vmap`` of :meth:`SoundStream.__call__` over a batch (codebook state shared)."""
    return jax.vmap(lambda w, n: codec(state, w, num_active=n))(waves, jnp.asarray(num_active))
