"""The bundled corpus of presenter sentences, partitioned into train / validation / test."""

from __future__ import annotations

import functools
from importlib import resources

from archon_framework import DataError

__all__ = ["SPLITS", "load_corpus", "split_sentences"]

#: Dataset splits. Sentence i of the corpus belongs to "validation" when i % 10 == 8, to "test"
#: when i % 10 == 9, and to "train" otherwise, so held-out scripts are never seen in training.
SPLITS: tuple[str, ...] = ("train", "validation", "test")


@functools.cache
def load_corpus() -> tuple[str, ...]:
    """All sentences of ``data/sentences.txt`` in file order (comments and blanks skipped).

    Raises:
        DataError: the bundled file is missing or empty (a broken installation).
    """
    path = resources.files("archon_synthetic_heads") / "data" / "sentences.txt"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise DataError(f"synthetic_heads: cannot read the bundled corpus {path}: {err}; reinstall the plugin") from err
    lines = tuple(s.strip() for s in text.splitlines() if s.strip() and not s.lstrip().startswith("#"))
    if not lines:
        raise DataError(f"synthetic_heads: the bundled corpus {path} holds no sentences; reinstall the plugin")
    return lines


@functools.cache
def split_sentences(split: str) -> tuple[str, ...]:
    """The sentences of one split (see :data:`SPLITS` for the rule).

    Raises:
        DataError: `split` is not one of :data:`SPLITS`.
    """
    if split not in SPLITS:
        raise DataError(f"synthetic_heads: unknown split {split!r}; use one of {', '.join(SPLITS)}")
    want = {"validation": 8, "test": 9}.get(split)
    corpus = load_corpus()
    if want is None:
        return tuple(s for i, s in enumerate(corpus) if i % 10 < 8)
    return tuple(s for i, s in enumerate(corpus) if i % 10 == want)
