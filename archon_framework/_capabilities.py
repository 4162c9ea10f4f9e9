"""The optional capabilities of a modality's tokenizer or renderer, as declared protocols.

Every token modality's tokenizer implements `Tokenizer` (``vocabulary``, ``encode``,
``decode``). Beyond that a tokenizer may implement, and the core reads only through these
protocols:

* `TextTokenizer` (``to_text`` / ``from_text``): the raw value of a modality in the ``text``
  vocabulary as the text its prompt payload carries (a description dict as canonical JSON),
  and back. A text modality without it carries ``str(value)`` and decodes to the text itself.
* `BlockedTokenizer` (``token_ranges``): the local id block each position of an encoded
  sequence draws from, e.g. the codebook of each residual level. Generation restricts each
  position to its block; training logs a loss per level (one level per distinct block).
* `CodeVectorTokenizer` (``code_vectors``): the vector each local id stands for in the
  tokenizer's latent space (an RVQ code's codebook vector, an LFQ code's signs). A trainer may
  start the LM's embedding rows of the modality from them (``ModelSection.embed_init``).

A rendered modality (no vocabulary) has a `Renderer` instead of a tokenizer, made by its
``Modality.renderer`` factory.

A plugin claims a capability by implementing its protocol's methods. Which capabilities a
tokenizer has is found once, when it is made (`Registry.tokenizer`, `SlotCodec`), by
`tokenizer_capabilities`: a tokenizer that implements part of a protocol (``to_text`` without
``from_text``), or one that its modality cannot use (``to_text`` outside the ``text``
vocabulary), is refused there with an error naming the modality and its plugin; the
conformance kit (`archon_framework.testing.check_tokenizer`) checks what each capability
returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from archon_framework._clip import ClipMeta

__all__ = ["TextTokenizer", "BlockedTokenizer", "CodeVectorTokenizer", "Renderer", "CAPABILITY_METHODS", "missing_methods"]


@runtime_checkable
class TextTokenizer(Protocol):
    """A tokenizer of a modality in the ``text`` vocabulary: raw value <-> the text it carries.

    ``from_text(to_text(raw))`` is a value the modality accepts (equal to ``raw`` up to the
    text normalization of the vocabulary); ``from_text`` of a text that does not parse returns
    a value the modality's ``check_raw`` refuses (generation reports it as invalid) rather
    than raising.
    """

    def to_text(self, raw: Any) -> str:
        """The raw value as the text its prompt payload carries."""
        ...

    def from_text(self, text: str) -> Any:
        """The raw value of a text (the inverse of `to_text`)."""
        ...


@runtime_checkable
class BlockedTokenizer(Protocol):
    """A tokenizer whose positions each draw from one block of local ids (levels, codebooks).

    ``token_ranges(n)`` is an integer array ``[n, 2]`` of local ``[lo, hi)`` per position of an
    encoded sequence of ``n`` ids; every row has the same positive width, the rows lie inside
    the vocabulary and distinct blocks do not overlap. The distinct ``lo`` values are the
    levels, in order (a tokenizer with a single block has no levels).
    """

    def token_ranges(self, num_tokens: int) -> np.ndarray:
        """int [num_tokens, 2]: the local id block ``[lo, hi)`` of each position."""
        ...


@runtime_checkable
class CodeVectorTokenizer(Protocol):
    """A tokenizer whose local ids stand for vectors of its latent space.

    ``code_vectors()`` is a finite float array ``[vocabulary.size, dim]``: row ``i`` is what local
    id ``i`` decodes from (for residual levels, the code vector of the id's level; ids of one
    level are comparable with each other). Ids that mean similar things have similar rows, which
    is what an LM's embedding, started from them, can use before it has learned anything.
    """

    def code_vectors(self) -> np.ndarray:
        """float [vocabulary.size, dim]: the latent vector of each local id."""
        ...


@runtime_checkable
class Renderer(Protocol):
    """Makes a modality that has no tokens (video) from the raw values of others."""

    def render(self, inputs: Mapping[str, Any], *, meta: ClipMeta, seed: int = 0) -> Any:
        """The rendered raw value from ``{modality: raw value}`` of the modality's ``derived_from``."""
        ...


#: capability name -> (its protocol, the methods that implement it)
CAPABILITY_METHODS: dict[str, tuple[type, tuple[str, ...]]] = {
    "text": (TextTokenizer, ("to_text", "from_text")),
    "blocks": (BlockedTokenizer, ("token_ranges",)),
    "vectors": (CodeVectorTokenizer, ("code_vectors",)),
    "render": (Renderer, ("render",)),
}


def missing_methods(obj: object, capability: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(implemented, missing) methods of a capability on ``obj``: both non-empty is a partial claim."""
    _, methods = CAPABILITY_METHODS[capability]
    have = tuple(m for m in methods if callable(getattr(obj, m, None)))
    return have, tuple(m for m in methods if m not in have)
