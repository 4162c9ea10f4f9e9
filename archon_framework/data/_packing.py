"""Packing prefix-LM examples into fixed context windows (grain first-fit packing)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs
import grain
import numpy as np

from archon_framework._errors import ConfigError, DataError, VocabError

__all__ = ["LMExample", "PACKED_FEATURES", "pack_examples", "DEFAULT_SEQ_LEN"]

DEFAULT_SEQ_LEN = 8192
"""The paper's context window (Sec. 4.1: 8K tokens, several tasks per window)."""

PACKED_FEATURES = (
    "tokens",
    "segment_ids",
    "positions",
    "prefix_mask",
    "loss_mask",
    "task_ids",
    "modality_ids",
    "times",
)
"""The keys of every packed window, each an array ``[seq_len]``."""

_PER_TOKEN = ("tokens", "prefix_mask", "loss_mask", "task_ids", "modality_ids", "times")
_PAD_ID = -1  # task_ids / modality_ids on padding: no task, no modality


def _int_array(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=np.int32).reshape(-1)


def _optional_int_array(value: Any) -> np.ndarray | None:
    return None if value is None else _int_array(value)


def _optional_times(value: Any) -> np.ndarray | None:
    """Token times as given: ``[n]`` (a time) or ``[n, 3]`` (time, row, column)."""
    if value is None:
        return None
    times = np.asarray(value, dtype=np.int32)
    if times.ndim == 1 or (times.ndim == 2 and times.shape[1] == 3):
        return times
    raise DataError(f"times must be [n] (a time) or [n, 3] (time, row, column) per token, got shape {times.shape}")


def coordinates(times: Any, n: int) -> np.ndarray:
    """``[n, 3]`` time, row and column of each of ``n`` tokens from the first ``len(times)``
    given: a 1-D ``times`` is the time (row and column 0), None and the rest all 0."""
    out = np.zeros((n, 3), np.int32)
    if times is not None:
        times = np.asarray(times, np.int32)
        if times.ndim == 2:
            out[: times.shape[0]] = times
        else:
            out[: times.shape[0], 0] = times
    return out


@attrs.frozen(kw_only=True, eq=False)
class LMExample:
    """One prefix-LM example: a serialized prompt (prefix) followed by its target.

    Attributes:
        global_ids: ``int32[n]`` ids in the unified vocabulary; the first ``prefix_len`` are the
            prompt, the rest the target (the tokens that carry loss).
        prefix_len: Length of the prompt, ``1 <= prefix_len <= n``. At least one prefix token is
            required: the first target token is predicted from the last prefix position.
        task_id: Index of the task that made the example (the trainer maps it to a task name),
            copied to every token so losses can be aggregated per task.
        modality_ids: Optional ``int32[n]``: per token, the index of the modality it belongs to
            (for per-modality losses); -1 on every token when absent.
        times: Optional ``int32[n]``: per token, its time position (``archon_framework.token_times``;
            read by models with ``time_pairs > 0``), or ``int32[n, 3]``: its time, row and column
            (``archon_framework.token_grid``; also read by models with ``space_pairs > 0``);
            0 on every token when absent.
    """

    global_ids: np.ndarray = attrs.field(converter=_int_array)
    prefix_len: int = attrs.field(converter=int)
    task_id: int = attrs.field(default=0, converter=int)
    modality_ids: np.ndarray | None = attrs.field(default=None, converter=_optional_int_array)
    times: np.ndarray | None = attrs.field(default=None, converter=_optional_times)

    def __attrs_post_init__(self) -> None:
        n = self.global_ids.shape[0]
        if not 1 <= self.prefix_len <= n:
            raise DataError(
                f"task {self.task_id}: prefix_len={self.prefix_len} must be in 1..{n} (the "
                "example's length); every example needs a prompt token to predict its first "
                "target from"
            )
        if self.task_id < 0:
            raise DataError(f"task_id must be >= 0, got {self.task_id}")
        if self.modality_ids is not None and self.modality_ids.shape[0] != n:
            raise DataError(
                f"task {self.task_id}: modality_ids has {self.modality_ids.shape[0]} entries for "
                f"{n} tokens"
            )
        if self.times is not None and self.times.shape[0] != n:
            raise DataError(f"task {self.task_id}: times has {self.times.shape[0]} entries for {n} tokens")

    def __len__(self) -> int:
        return int(self.global_ids.shape[0])

    @classmethod
    def from_serialized(
        cls, example: Any, *, task_id: int, modality_ids: np.ndarray | None = None
    ) -> LMExample:
        """From the prompt serializer's output (anything with ``tokens``, ``prefix_len`` and
        ``loss_mask``, such as ``archon_framework.SerializedExample``), tagged with its task.

        Raises:
            DataError: its loss mask is not "exactly the tokens after the prefix" (the packer
                derives the loss mask from ``prefix_len``) or it has no target.
        """
        tokens = _int_array(example.tokens)
        loss_mask = np.asarray(example.loss_mask, bool).reshape(-1)
        expected = np.arange(tokens.shape[0]) >= int(example.prefix_len)
        if not np.array_equal(loss_mask, expected) or not loss_mask.any():
            raise DataError(
                f"task {task_id}: a training example needs a target right after its prefix and a "
                "loss mask on exactly those tokens; generation prompts (no target) are not packed"
            )
        return cls(
            global_ids=tokens,
            prefix_len=example.prefix_len,
            task_id=task_id,
            modality_ids=modality_ids,
            times=getattr(example, "times", None),
        )

    @classmethod
    def coerce(cls, value: LMExample | Mapping[str, Any]) -> LMExample:
        """An ``LMExample`` as is, or one built from a mapping with the same keys."""
        if isinstance(value, LMExample):
            return value
        if isinstance(value, Mapping):
            unknown = set(value) - {a.name for a in attrs.fields(cls)}
            if unknown:
                raise DataError(
                    f"example has unknown keys {sorted(unknown)}; expected global_ids, prefix_len, "
                    "task_id, modality_ids, times"
                )
            return cls(**value)
        raise DataError(f"cannot pack a {type(value).__name__}; give LMExample or a mapping")


class _ToFeatures(grain.transforms.Map):
    """Turn an example into per-token arrays, checking ids against the vocabulary."""

    def __init__(self, vocab_size: int | None, task_names: Sequence[str] | None):
        self._vocab_size = vocab_size
        self._task_names = task_names

    def map(self, element: Any) -> dict[str, np.ndarray]:
        ex = LMExample.coerce(element)
        n = len(ex)
        if self._vocab_size is not None and n and (
            ex.global_ids.min() < 0 or ex.global_ids.max() >= self._vocab_size
        ):
            bad = ex.global_ids[(ex.global_ids < 0) | (ex.global_ids >= self._vocab_size)]
            raise VocabError(
                f"task {_task_name(ex.task_id, self._task_names)}: ids {bad[:5].tolist()} are "
                f"outside the vocabulary layout's 0..{self._vocab_size - 1}; the dataset was "
                "tokenized under another layout, so re-tokenize it"
            )
        is_prefix = np.arange(n) < ex.prefix_len
        return {
            "tokens": ex.global_ids,
            "prefix_mask": is_prefix,
            "loss_mask": ~is_prefix,
            "task_ids": np.full((n,), ex.task_id, np.int32),
            "modality_ids": (
                np.full((n,), _PAD_ID, np.int32) if ex.modality_ids is None else ex.modality_ids
            ),
            "times": coordinates(ex.times, n),
        }


def _task_name(task_id: int, task_names: Sequence[str] | None) -> str:
    if task_names is not None and 0 <= task_id < len(task_names):
        return f"{task_names[task_id]!r} (id {task_id})"
    return f"id {task_id}"


class _TooLong(grain.transforms.Filter):
    """Refuse (``error``) or drop with a counted warning (``drop``) what cannot fit a window."""

    def __init__(self, seq_len: int, rule: str, task_names: Sequence[str] | None):
        self._seq_len, self._rule, self._task_names = seq_len, rule, task_names
        self.dropped = 0

    def filter(self, element: dict[str, np.ndarray]) -> bool:
        n = element["tokens"].shape[0]
        if n <= self._seq_len:
            return True
        task = _task_name(int(element["task_ids"][0]), self._task_names)
        if self._rule == "error":
            raise ConfigError(
                f"task {task}: an example of {n} tokens (prefix "
                f"{int(element['prefix_mask'].sum())}) cannot fit the context window "
                f"seq_len={self._seq_len}; raise seq_len or pass too_long='drop'"
            )
        self.dropped += 1
        if self.dropped & (self.dropped - 1) == 0:  # warn at 1, 2, 4, 8, ... drops
            warnings.warn(
                f"packing: dropped an example of task {task} with {n} tokens > seq_len="
                f"{self._seq_len} ({self.dropped} dropped so far by this packer)",
                stacklevel=2,
            )
        return False


def _rekey(packed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Keep one copy of grain's segment ids and positions (all features share one layout)."""
    return {
        "tokens": packed["tokens"],
        "segment_ids": packed["tokens_segment_ids"],
        "positions": packed["tokens_positions"],
        "prefix_mask": packed["prefix_mask"],
        "loss_mask": packed["loss_mask"],
        "task_ids": packed["task_ids"],
        "modality_ids": packed["modality_ids"],
        "times": packed["times"],
    }


def pack_examples(
    examples: grain.IterDataset | grain.MapDataset,
    *,
    seq_len: int = DEFAULT_SEQ_LEN,
    num_packing_bins: int = 8,
    too_long: Literal["error", "drop"] = "error",
    vocab_size: int | None = None,
    task_names: Sequence[str] | None = None,
    shuffle_bins: bool = False,
    seed: int = 0,
) -> grain.IterDataset:
    """Pack prefix-LM examples into fixed windows of ``seq_len`` tokens (paper Sec. 4.1).

    First-fit packing (``grain.experimental.FirstFitPackIterDataset``): each example goes into
    the first of ``num_packing_bins`` open windows with room for it; when one fits nowhere, all
    open windows are emitted (in bin order, or shuffled with ``seed`` if ``shuffle_bins``) and
    packing restarts with it. Examples are never split, so a segment never straddles two windows.
    The iterator state (``get_state``/``set_state``) is checkpointable and a restored iterator
    yields exactly the windows the uninterrupted one would have.

    Rule for what does not fit: an example longer than ``seq_len`` can never fit.
    ``too_long="error"`` (default) raises ``ConfigError`` naming the task and both lengths, as the
    tasks' token counts are fixed and a window too small for one is a config mistake;
    ``too_long="drop"`` drops it and warns with a running count (at the 1st, 2nd, 4th, 8th ...).

    Each element is an :class:`LMExample` or a mapping with its fields. Windows are dicts of
    ``[seq_len]`` arrays (:data:`PACKED_FEATURES`): ``tokens`` int32 (0 on padding),
    ``segment_ids`` int32 (1, 2, ... per example, 0 = padding), ``positions`` int32 (restart at 0
    per example), ``prefix_mask`` and ``loss_mask`` bool (loss on targets only), ``task_ids`` and
    ``modality_ids`` int32 (-1 on padding), ``times`` int32 ``[seq_len, 3]`` (each token's time, row
    and column in its frame, ``archon_framework.token_times`` and ``token_grid``; 0 on padding and
    where an example gives none).
    Batch them with ``.batch(n, drop_remainder=True)``.

    With ``seq_len=10`` and 2 bins, examples A (5 tokens, prefix 3, task 0), B (3, prefix 1,
    task 1), C (6, prefix 2, task 2), D (4, prefix 4, task 0) arrive in that order: A and B go to
    bin 0, C does not fit bin 0 (8 + 6 > 10) and opens bin 1, D fits only bin 1. The windows::

        window 0       A  A  A  A  A  B  B  B  -  -
        tokens        11 12 13 14 15 21 22 23  0  0
        segment_ids    1  1  1  1  1  2  2  2  0  0
        positions      0  1  2  3  4  0  1  2  0  0
        prefix_mask    1  1  1  0  0  1  0  0  0  0
        loss_mask      0  0  0  1  1  0  1  1  0  0
        task_ids       0  0  0  0  0  1  1  1 -1 -1

        window 1       C  C  C  C  C  C  D  D  D  D
        tokens        31 32 33 34 35 36 41 42 43 44
        segment_ids    1  1  1  1  1  1  2  2  2  2
        positions      0  1  2  3  4  5  0  1  2  3
        prefix_mask    1  1  0  0  0  0  1  1  1  1
        loss_mask      0  0  1  1  1  1  0  0  0  0
        task_ids       2  2  2  2  2  2  0  0  0  0

    ``archon_framework.model.prefix_lm_mask`` turns window 0 into its attention mask; the loss of
    a ``loss_mask`` token comes from the logits one position earlier.

    Args:
        examples: A grain dataset of examples (a ``MapDataset`` is turned into an iterator).
        seq_len: Window length (the paper's 8192 by default).
        num_packing_bins: Windows filled at once; more bins waste less padding.
        too_long: ``"error"`` or ``"drop"`` for examples longer than ``seq_len``.
        vocab_size: If given, every id must lie in ``0..vocab_size - 1`` (``VocabError``).
        task_names: Names of the task ids, for error messages.
        shuffle_bins: Shuffle the windows of one packing round (seeded).
        seed: Seed of that shuffle.

    Returns:
        A grain ``IterDataset`` of packed windows.

    Raises:
        ConfigError: a bad argument, or (when iterating, ``too_long="error"``) an example longer
            than ``seq_len``.
    """
    if seq_len < 2:
        raise ConfigError(f"packing seq_len must be >= 2, got {seq_len}")
    if num_packing_bins < 1:
        raise ConfigError(f"packing num_packing_bins must be >= 1, got {num_packing_bins}")
    if too_long not in ("error", "drop"):
        raise ConfigError(f"packing too_long must be 'error' or 'drop', got {too_long!r}")
    if isinstance(examples, grain.MapDataset):
        examples = examples.to_iter_dataset()
    features = examples.map(_ToFeatures(vocab_size, task_names)).filter(
        _TooLong(seq_len, too_long, task_names)
    )
    packed = grain.experimental.FirstFitPackIterDataset(
        features,
        length_struct={k: seq_len for k in _PER_TOKEN},
        num_packing_bins=num_packing_bins,
        seed=seed,
        shuffle_bins=shuffle_bins,
        padding_struct={
            "tokens": None,
            "prefix_mask": None,
            "loss_mask": None,
            "task_ids": _PAD_ID,
            "modality_ids": _PAD_ID,
            "times": None,
        },
    )
    return packed.map(_rekey)
