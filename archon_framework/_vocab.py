"""The unified vocabulary: token spaces, their contiguous global ranges, and the layout."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import attrs
import numpy as np

from archon_framework._errors import LayoutMismatchError, VocabError

__all__ = ["Vocabulary", "VocabRange", "VocabLayout", "LayoutDiff", "TEXT_VOCABULARY"]

#: The vocabulary that is placed first, at global id 0, as in the paper (text 0..256127).
TEXT_VOCABULARY = "text"


def _check_name(instance, attribute, value: str) -> None:
    if not isinstance(value, str) or not value or not value.replace("_", "a").isalnum():
        raise VocabError(
            f"{type(instance).__name__}.{attribute.name} must be a non-empty identifier "
            f"(letters, digits, underscores), got {value!r}"
        )


def _check_positive(instance, attribute, value: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise VocabError(f"{type(instance).__name__}.{attribute.name} must be a positive int, got {value!r}")


def _check_non_negative(instance, attribute, value: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
        raise VocabError(f"{type(instance).__name__}.{attribute.name} must be an int >= 0, got {value!r}")


@attrs.frozen
class Vocabulary:
    """A token space. Several modalities may share one (script and description share `text`).

    An RVQ tokenizer owns `levels * codebook_size` ids.

    Attributes:
        name: identifier of the token space, unique among installed plugins.
        size: number of local ids, `0 .. size - 1`.
    """

    name: str = attrs.field(validator=_check_name)
    size: int = attrs.field(validator=_check_positive)


@attrs.frozen
class VocabRange:
    """A contiguous slice `[start, start + size)` of the unified vocabulary for one `Vocabulary`.

    `to_global` and `to_local` are the only crossing between local and global ids, and both
    raise `VocabError` for an id outside the range: never a silent wrap.
    """

    vocabulary: Vocabulary
    start: int = attrs.field(validator=_check_non_negative)

    @property
    def size(self) -> int:
        return self.vocabulary.size

    @property
    def stop(self) -> int:
        """One past the last global id of the range."""
        return self.start + self.vocabulary.size

    def contains(self, global_ids) -> np.ndarray:
        """Elementwise: whether each global id lies in this range."""
        ids = np.asarray(global_ids)
        return (ids >= self.start) & (ids < self.stop)

    def to_global(self, local_ids) -> np.ndarray:
        """Local ids `0..size-1` -> global ids; raises `VocabError` naming the vocabulary."""
        ids = np.asarray(local_ids)
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise VocabError(f"vocabulary {self.vocabulary.name!r}: local ids must be integers, got {ids.dtype}")
        bad = (ids < 0) | (ids >= self.size)
        if np.any(bad):
            raise VocabError(
                f"vocabulary {self.vocabulary.name!r}: local id {int(ids[bad].flat[0])} is outside "
                f"0..{self.size - 1}"
            )
        return (ids.astype(np.int64) + self.start).astype(np.int32)

    def to_local(self, global_ids) -> np.ndarray:
        """Global ids -> local ids; raises `VocabError` for an id outside this range."""
        ids = np.asarray(global_ids)
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise VocabError(f"vocabulary {self.vocabulary.name!r}: global ids must be integers, got {ids.dtype}")
        bad = ~self.contains(ids)
        if np.any(bad):
            raise VocabError(
                f"vocabulary {self.vocabulary.name!r}: global id {int(ids[bad].flat[0])} is outside its "
                f"range {self.start}..{self.stop - 1}"
            )
        return (ids.astype(np.int64) - self.start).astype(np.int32)


@attrs.frozen
class LayoutDiff:
    """What differs between a saved layout and a set of installed vocabularies."""

    missing: tuple[str, ...] = ()  # in the layout, not installed
    added: tuple[str, ...] = ()  # installed, not in the layout
    resized: tuple[tuple[str, int, int], ...] = ()  # (name, size in layout, installed size)

    @property
    def is_empty(self) -> bool:
        return not (self.missing or self.added or self.resized)

    @property
    def extendable(self) -> bool:
        """True when the installed set only adds vocabularies: the layout can be extended."""
        return not (self.missing or self.resized)

    def describe(self) -> str:
        parts = []
        if self.missing:
            parts.append("in the layout but not installed: " + ", ".join(self.missing))
        if self.added:
            parts.append("installed but not in the layout: " + ", ".join(self.added))
        for name, old, new in self.resized:
            parts.append(f"vocabulary {name!r} has size {old} in the layout but {new} installed")
        return "; ".join(parts) or "no difference"


def _ranges_contiguous(instance, attribute, ranges: tuple[VocabRange, ...]) -> None:
    expected = 0
    seen: set[str] = set()
    for r in ranges:
        if r.vocabulary.name in seen:
            raise VocabError(f"vocabulary {r.vocabulary.name!r} appears twice in the layout")
        seen.add(r.vocabulary.name)
        if r.start != expected:
            raise VocabError(
                f"layout is not contiguous: vocabulary {r.vocabulary.name!r} starts at {r.start}, "
                f"expected {expected}"
            )
        expected = r.stop


def _to_ranges(value: Iterable[VocabRange]) -> tuple[VocabRange, ...]:
    return tuple(value)


@attrs.frozen
class VocabLayout:
    """The unified vocabulary: one contiguous range per vocabulary, in allocation order.

    `allocate` puts `text` first at 0 (as the paper does) and the others in sorted name order,
    so the layout depends only on the set of vocabularies installed, never on plugin load
    order. `extend` appends vocabularies after the existing ones without moving any id, which
    is how a trained model's vocabulary grows when a new modality arrives.
    """

    ranges: tuple[VocabRange, ...] = attrs.field(converter=_to_ranges, validator=_ranges_contiguous)

    # ---------------------------------------------------------------- construction
    @classmethod
    def allocate(cls, vocabularies: Iterable[Vocabulary]) -> VocabLayout:
        """Deterministic layout: `text` first at 0, then the rest sorted by name."""
        unique = _unique(vocabularies)
        order = sorted(unique.values(), key=lambda v: (v.name != TEXT_VOCABULARY, v.name))
        return cls._from_order(order, start=0, prefix=())

    def extends(self, base: VocabLayout) -> bool:
        """True when this layout is `base` with vocabularies appended (or `base` itself): no id of
        `base` moved, so whatever was tokenized or trained under `base` stays valid."""
        return self.ranges[: len(base.ranges)] == base.ranges

    def extend(self, vocabularies: Iterable[Vocabulary]) -> VocabLayout:
        """Append the vocabularies not in this layout (sorted by name); existing ids stay."""
        unique = _unique(vocabularies)
        for name, vocab in unique.items():
            if name in self.names and self.range(name).vocabulary != vocab:
                raise LayoutMismatchError(
                    f"cannot extend the layout: vocabulary {name!r} has size "
                    f"{self.range(name).size} in the layout but {vocab.size} in the new set"
                )
        new = sorted((v for n, v in unique.items() if n not in self.names), key=lambda v: v.name)
        return self._from_order(new, start=self.total_size, prefix=self.ranges)

    @classmethod
    def _from_order(cls, order, *, start: int, prefix: tuple[VocabRange, ...]) -> VocabLayout:
        ranges = list(prefix)
        for vocab in order:
            ranges.append(VocabRange(vocab, start))
            start += vocab.size
        return cls(tuple(ranges))

    # ---------------------------------------------------------------- queries
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.vocabulary.name for r in self.ranges)

    @property
    def total_size(self) -> int:
        """Size of the unified vocabulary (the LM's embedding rows)."""
        return self.ranges[-1].stop if self.ranges else 0

    def range(self, vocabulary: str | Vocabulary) -> VocabRange:
        """The range of a vocabulary, by name or object; `VocabError` if absent."""
        name = vocabulary.name if isinstance(vocabulary, Vocabulary) else vocabulary
        for r in self.ranges:
            if r.vocabulary.name == name:
                if isinstance(vocabulary, Vocabulary) and vocabulary != r.vocabulary:
                    raise VocabError(
                        f"vocabulary {name!r} has size {r.size} in the layout, not {vocabulary.size}"
                    )
                return r
        raise VocabError(f"vocabulary {name!r} is not in the layout (it has: {', '.join(self.names) or 'nothing'})")

    def owner(self, global_id: int) -> VocabRange:
        """The range holding a global id; `VocabError` for an id outside the unified vocabulary."""
        for r in self.ranges:
            if r.start <= global_id < r.stop:
                return r
        raise VocabError(f"global id {global_id} is outside the unified vocabulary 0..{self.total_size - 1}")

    def diff(self, vocabularies: Iterable[Vocabulary]) -> LayoutDiff:
        """Compare this (saved) layout with the installed vocabularies."""
        installed = _unique(vocabularies)
        missing = tuple(n for n in self.names if n not in installed)
        added = tuple(sorted(n for n in installed if n not in self.names))
        resized = tuple(
            (n, self.range(n).size, installed[n].size)
            for n in self.names
            if n in installed and installed[n].size != self.range(n).size
        )
        return LayoutDiff(missing, added, resized)

    def reconcile(self, vocabularies: Iterable[Vocabulary], *, allow_extend: bool = True) -> VocabLayout:
        """Map a saved layout onto the installed vocabularies.

        Returns this layout unchanged when they match, the extended layout when the installed
        set only adds vocabularies (and `allow_extend`), and otherwise raises
        `LayoutMismatchError` naming what differs.
        """
        vocabs = list(vocabularies)
        d = self.diff(vocabs)
        if d.is_empty:
            return self
        if d.extendable and allow_extend:
            return self.extend(vocabs)
        raise LayoutMismatchError(
            "the saved vocabulary layout does not match the installed plugins: " + d.describe()
            + ". Install the plugins the checkpoint was trained with, or unblock them."
        )

    # ---------------------------------------------------------------- (de)serialization
    def to_json(self) -> str:
        from archon_framework.config import to_dict

        return json.dumps(to_dict(self), indent=2)

    @classmethod
    def from_json(cls, text: str, *, source: str = "<string>") -> VocabLayout:
        from archon_framework._errors import ConfigError
        from archon_framework.config import from_dict

        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise VocabError(f"{source}: not a JSON vocabulary layout ({err})") from err
        try:
            return from_dict(cls, data, source=source)
        except ConfigError as err:
            raise VocabError(str(err)) from err

    def save(self, path: str | Path) -> None:
        from archon_framework.config import atomic_write_text

        atomic_write_text(Path(path), self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> VocabLayout:
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as err:
            raise VocabError(f"{path}: cannot read the vocabulary layout ({err})") from err
        return cls.from_json(text, source=str(path))

    def as_dict(self) -> Mapping[str, tuple[int, int]]:
        """name -> (start, stop) for display."""
        return {r.vocabulary.name: (r.start, r.stop) for r in self.ranges}


def _unique(vocabularies: Iterable[Vocabulary]) -> dict[str, Vocabulary]:
    out: dict[str, Vocabulary] = {}
    for vocab in vocabularies:
        prev = out.get(vocab.name)
        if prev is not None and prev != vocab:
            raise VocabError(
                f"vocabulary {vocab.name!r} is declared with two sizes: {prev.size} and {vocab.size}"
            )
        out[vocab.name] = vocab
    return out
