"""The description as bytes, and the small learned byte-level text encoder of the denoiser.

The denoiser cross-attends to text embeddings of the description (paper Sec. 3.3). WALT used a
frozen T5; nothing may be downloaded here, and the framework's text codec (SentencePiece, plugin
archon-text-t5) is trained for the language model, not for conditioning, so the decoder learns its
own encoder over the **canonical JSON** of the description: keys sorted, no spaces, UTF-8,
``json.dumps(description, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``. Its bytes
(cut at ``text.max_bytes``; the synthetic descriptions take about 1.4 kB) are embedded, grouped
``text.patch`` at a time into tokens by a strided byte convolution, and encoded by a pre-LN
transformer. Byte-level keeps the plugin independent of any tokenizer artifact.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import equinox as eqx
import jax
import numpy as np
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from archon_framework import RawValueError
from archon_video_walt._attention import MultiHeadAttention
from archon_video_walt._config import TextEncoderConfig
from archon_video_walt._layers import Dense, LayerNorm, normal_init

__all__ = ["canonical_json", "description_bytes", "TextEncoder", "TransformerLayer"]


def _has_text(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, Mapping):
        return any(_has_text(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_text(v) for v in value)
    return value is not None and not isinstance(value, bool) or value is True


def canonical_json(description: Any, *, where: str = "modality 'description'") -> str:
    """The conditioning text of a description: the canonical JSON of a description dict.

    A description a language model generated but did not finish as a valid one (archon-text-t5's
    ``UnparsedDescription``: an object with a ``text`` string, plus ``value`` when the text was
    JSON that broke the schema) conditions the decoder with the canonical JSON of that ``value``
    if it is a dict, else with its verbatim text: a chained generation still ends in video, and the
    decoder sees what the model wrote. RawValueError for anything else, or an empty description.
    """
    text = getattr(description, "text", None)
    if not isinstance(description, Mapping) and isinstance(text, str):
        value = getattr(description, "value", None)
        if isinstance(value, Mapping) and _has_text(value):
            description = value
        elif text.strip():
            return text.strip()
        else:
            raise RawValueError(f"{where}: the generated description is empty")
    if not isinstance(description, Mapping):
        raise RawValueError(f"{where}: expected a description dict (Fig. K JSON), got {type(description).__name__}")
    if not _has_text(description):
        raise RawValueError(f"{where}: the description is empty (no field has a value); the video decoder "
                            "needs at least one described attribute, or a config with conditioning.text = false")
    try:
        return json.dumps(description, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as err:
        raise RawValueError(f"{where}: the description is not JSON-serializable ({err})") from err


def description_bytes(description: Any, max_bytes: int, *, where: str = "modality 'description'") -> np.ndarray:
    """int32 [max_bytes]: byte + 1 of the canonical JSON (cut at max_bytes), 0 = padding."""
    raw = canonical_json(description, where=where).encode("utf-8")[:max_bytes]
    out = np.zeros(max_bytes, np.int32)
    out[: len(raw)] = np.frombuffer(raw, np.uint8).astype(np.int32) + 1
    return out


class TransformerLayer(eqx.Module):
    """Pre-LN self-attention + GELU MLP over ``[tokens, width]`` with a key mask."""

    norm1: LayerNorm
    attn: MultiHeadAttention
    norm2: LayerNorm
    fc1: Dense
    fc2: Dense

    def __init__(self, width: int, heads: int, *, key: PRNGKeyArray):
        ka, k1, k2 = jax.random.split(key, 3)
        self.norm1 = LayerNorm(width)
        self.attn = MultiHeadAttention(width, heads, key=ka)
        self.norm2 = LayerNorm(width)
        self.fc1 = Dense(width, 4 * width, key=k1)
        self.fc2 = Dense(4 * width, width, zero_init=True, key=k2)

    def __call__(self, x: Float[Array, "n d"], mask: Bool[Array, " n"]) -> Float[Array, "n d"]:
        x = x + self.attn(self.norm1(x), mask=mask)
        return x + self.fc2(jax.nn.gelu(self.fc1(self.norm2(x))))


class TextEncoder(eqx.Module):
    """Bytes int32 [max_bytes] -> text embeddings [max_bytes / patch, out_width] and a validity mask."""

    embed: Float[Array, "257 w"]
    patchify: Dense
    pos: Float[Array, "n w"]
    layers: list[TransformerLayer]
    norm: LayerNorm
    out: Dense
    patch: int = eqx.field(static=True)

    def __init__(self, cfg: TextEncoderConfig, out_width: int, *, key: PRNGKeyArray):
        ke, kp, kpos, ko, *kl = jax.random.split(key, 4 + cfg.depth)
        self.embed = normal_init(ke, (257, cfg.width), 1.0)
        self.patchify = Dense(cfg.patch * cfg.width, cfg.width, key=kp)
        self.pos = normal_init(kpos, (cfg.tokens, cfg.width), 0.02)
        self.layers = [TransformerLayer(cfg.width, cfg.heads, key=k) for k in kl]
        self.norm = LayerNorm(cfg.width)
        self.out = Dense(cfg.width, out_width, key=ko)
        self.patch = cfg.patch

    def __call__(self, text: Int[Array, " b"]) -> tuple[Float[Array, "n d"], Bool[Array, " n"]]:
        n = text.shape[0] // self.patch
        x = self.embed[text].reshape(n, -1)  # [n, patch * w]: the bytes of each token side by side
        valid = (text.reshape(n, self.patch) > 0).any(-1)  # [n]
        x = self.patchify(x) + self.pos
        for layer in self.layers:
            x = layer(x, valid | ~valid.any())  # an all-padding text attends to itself, then is masked out
        return self.out(self.norm(x)), valid
