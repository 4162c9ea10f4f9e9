"""Training examples from clips: tokenize each slot once, sample tasks by weight, serialize.

The flow of DESIGN.md, from a dataset of clips to what the packer takes:

    clip --SlotCodec.encode (tokenizer, then VocabRange.to_global; once per clip, modality,
         window; cached)--> global ids --Payload, PromptSerializer.serialize(task)--> LMExample

`TokenCache` holds the global ids of every (clip, modality, window) a suite needs, in one
tensorstore array with offsets (built once, checked against the vocabulary layout when
reopened). `TaskSampler` turns it into an endless, seeded grain stream: example `i` draws its
task from the suite's weights and its clip uniformly, both from `(seed, i)`, so the stream is
deterministic and its iterator state is a small checkpointable dict.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import grain
import numpy as np
import tensorstore as ts

from archon_framework._clip import Clip, ClipMeta
from archon_framework._codec import SlotCodec
from archon_framework._errors import DataError, LayoutMismatchError, TaskError
from archon_framework._modality import Modality
from archon_framework._prompt import Payload, PromptSerializer
from archon_framework._tasks import Slot, State, Task, TaskSuite
from archon_framework._vocab import VocabLayout
from archon_framework._windows import clip_windows, slot_value
from archon_framework.config import atomic_write_text
from archon_framework.data._packing import LMExample

__all__ = ["TokenCache", "TaskSampler", "slot_window_key", "needed_keys", "drop_conditions"]

CACHE_INDEX = "token-cache.json"


def slot_window_key(task: Task, slot: Slot) -> str:
    """Which window of its clip a slot reads: full, past, current, or a frame of one of them."""
    span = ("current" if task.has_past else "full")
    if slot.state is State.PAST:
        return "past"
    if slot.state is State.STATIC:
        return f"frame@{span}"
    return span


def needed_keys(suite: TaskSuite, modalities: Mapping[str, Modality]) -> set[tuple[str, str]]:
    """The (modality, window) pairs a suite's tasks read; time-invariant modalities use 'clip'."""
    keys = set()
    for task in suite.tasks:
        for slot in (*task.inputs, task.output):
            mod = modalities[slot.modality]
            keys.add((slot.modality, "clip" if not mod.temporal else slot_window_key(task, slot)))
    return keys


def drop_conditions(payloads: Sequence[Payload]) -> list[Payload]:
    """The inputs of an unconditional prompt (classifier-free guidance): each input keeps its
    header, its value is removed. Training with condition dropout and guided decoding both use it."""
    return [Payload(p.slot, np.zeros(0, np.int32)) for p in payloads]


#: window key -> (does the clip split into past/current?, which window of it)
_WINDOWS: dict[str, tuple[bool, State]] = {
    "full": (False, State.CURRENT),
    "frame@full": (False, State.STATIC),
    "past": (True, State.PAST),
    "current": (True, State.CURRENT),
    "frame@current": (True, State.STATIC),
}


class TokenCache:
    """Global ids of every (clip, modality, window) a suite needs, tokenized once.

    Make one with `build(clips, serializer, tokenizers, keys)` (keys from `needed_keys`), keep
    it with `save`, and reopen it with `load`, which checks the vocabulary layout. When a run
    grows (a plugin adds a modality, the suite adds tasks), `extend` tokenizes only the
    (modality, window) pairs the cache lacks; the ids already cached stay as they are, which
    is valid because a grown layout only appends vocabularies (no id moves).

    Args:
        entries: (clip index, modality, window) -> global ids.
        layout: the vocabulary layout the ids belong to.
        keys: the (modality, window) pairs the cache was built for (default: those of
            `entries`; a clip lacking a modality has no entry for it, yet its pair was built).
        clip_ids: the ids of the clips, in dataset order (lets `extend` refuse another dataset).
    """

    def __init__(self, entries: Mapping[tuple[int, str, str], np.ndarray], layout: VocabLayout, *,
                 keys: Iterable[tuple[str, str]] | None = None, clip_ids: Sequence[str] | None = None) -> None:
        self._entries = dict(entries)
        self.layout = layout
        self.keys = frozenset(keys if keys is not None else ((m, k) for _, m, k in self._entries))
        self.clip_ids = tuple(clip_ids) if clip_ids is not None else None

    # ------------------------------------------------------------------ building
    @classmethod
    def build(
        cls,
        clips: Sequence[Clip],
        serializer: PromptSerializer,
        tokenizers: Mapping[str, Any],
        keys: Iterable[tuple[str, str]],
        *,
        past_fraction: float = 0.5,
        on_clip: Callable[[int], None] | None = None,
    ) -> TokenCache:
        keys = sorted(set(keys))
        entries = cls._tokenize_all(clips, serializer, tokenizers, keys, past_fraction, on_clip)
        return cls(entries, serializer.layout, keys=keys, clip_ids=[clips[i].clip_id for i in range(len(clips))])

    def extend(
        self,
        clips: Sequence[Clip],
        serializer: PromptSerializer,
        tokenizers: Mapping[str, Any],
        keys: Iterable[tuple[str, str]],
        *,
        past_fraction: float = 0.5,
        on_clip: Callable[[int], None] | None = None,
    ) -> TokenCache:
        """This cache plus the (modality, window) pairs of `keys` it lacks, under the serializer's layout.

        Only the missing pairs are tokenized (`tokenizers` needs only their modalities); every
        cached id is kept as it is. The serializer's layout must extend this cache's layout
        (the same ranges first, new vocabularies appended) and `clips` must be the dataset the
        cache was built from.

        Raises:
            LayoutMismatchError: the serializer's layout moves or drops an id of this cache.
            DataError: `clips` is not the dataset the cache was built from.
        """
        if not serializer.layout.extends(self.layout):
            raise LayoutMismatchError(
                "cannot extend the token cache: its ids were made under another vocabulary layout "
                f"({self.layout.diff(r.vocabulary for r in serializer.layout.ranges).describe()}); rebuild the cache"
            )
        ids = [clips[i].clip_id for i in range(len(clips))]
        if self.clip_ids is not None and tuple(ids) != self.clip_ids:
            raise DataError(
                f"cannot extend the token cache: it was built from {len(self.clip_ids)} clips "
                f"({', '.join(self.clip_ids[:3])}{', ...' if len(self.clip_ids) > 3 else ''}), the dataset now "
                f"holds {len(ids)} ({', '.join(ids[:3])}{', ...' if len(ids) > 3 else ''}); rebuild the cache"
            )
        missing = sorted(set(keys) - self.keys)
        entries = dict(self._entries)
        entries.update(self._tokenize_all(clips, serializer, tokenizers, missing, past_fraction, on_clip))
        return TokenCache(entries, serializer.layout, keys=self.keys | set(missing), clip_ids=ids)

    @classmethod
    def _tokenize_all(cls, clips: Sequence[Clip], serializer: PromptSerializer, tokenizers: Mapping[str, Any],
                      keys: Sequence[tuple[str, str]], past_fraction: float,
                      on_clip: Callable[[int], None] | None) -> dict[tuple[int, str, str], np.ndarray]:
        codecs = {m: SlotCodec(serializer.modalities[m], tokenizers[m], serializer) for m in sorted({m for m, _ in keys})}
        entries: dict[tuple[int, str, str], np.ndarray] = {}
        for i in range(len(clips)):
            clip = clips[i]
            for modality, key in keys:
                if modality not in clip.values:
                    continue  # a clip without this modality cannot serve tasks that need it
                value, meta = cls._window(clip, codecs[modality].modality, key, past_fraction)
                entries[(i, modality, key)] = codecs[modality].encode(value, meta)
            if on_clip is not None:
                on_clip(i)
        return entries

    @staticmethod
    def _window(clip: Clip, mod: Modality, key: str, past_fraction: float) -> tuple[Any, ClipMeta]:
        """The value a (modality, window key) reads from a clip, and its window."""
        if key == "clip":
            return clip[mod.name], clip.meta
        has_past, state = _WINDOWS[key]
        windows = clip_windows(clip.meta, has_past=has_past, past_fraction=past_fraction)
        return slot_value(clip, mod, state, windows)

    # ------------------------------------------------------------------ storage
    def save(self, root: str | Path) -> None:
        """One int32 zarr array (all ids) plus a JSON index of offsets, keys, clips and the layout.

        Written into a sibling folder first and moved into place whole, so a save killed half way
        leaves the previous cache (or none), never a mix.
        """
        root = Path(root)
        root.parent.mkdir(parents=True, exist_ok=True)
        tmp = root.with_name(f"{root.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        keys = sorted(self._entries)
        flat = np.concatenate([self._entries[k] for k in keys]) if keys else np.zeros(0, np.int32)
        store = ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": str(tmp / "ids.zarr")}},
                        create=True, delete_existing=True, dtype=ts.int32, shape=[max(1, flat.shape[0])]).result()
        if flat.shape[0]:
            store[: flat.shape[0]].write(flat).result()
        offsets, pos = [], 0
        for k in keys:
            n = int(self._entries[k].shape[0])
            offsets.append([k[0], k[1], k[2], pos, pos + n])
            pos += n
        index = {"layout": json.loads(self.layout.to_json()), "entries": offsets, "keys": sorted(map(list, self.keys))}
        if self.clip_ids is not None:
            index["clip_ids"] = list(self.clip_ids)
        atomic_write_text(tmp / CACHE_INDEX, json.dumps(index))
        old = root.with_name(f"{root.name}.old-{os.getpid()}")
        if root.exists():
            root.rename(old)
        tmp.rename(root)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, root: str | Path, layout: VocabLayout) -> TokenCache:
        """Reopen a cache under `layout`.

        A cache made under a layout that `layout` extends (vocabularies appended since) opens
        under `layout`: its ids did not move. Tokens of the new vocabularies are added with
        `extend`.

        Raises:
            LayoutMismatchError: the cache was made under a layout `layout` does not extend.
            DataError: no readable cache in `root`.
        """
        root = Path(root)
        try:
            index = json.loads((root / CACHE_INDEX).read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise DataError(f"{root}: no readable token cache ({err})") from err
        saved = VocabLayout.from_json(json.dumps(index["layout"]), source=str(root / CACHE_INDEX))
        if not layout.extends(saved):
            raise LayoutMismatchError(
                f"{root}: the cached tokens were made under another vocabulary layout "
                f"({saved.diff(r.vocabulary for r in layout.ranges).describe()}); rebuild the cache"
            )
        flat = np.asarray(ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": str(root / "ids.zarr")}}, open=True).result().read().result())
        entries = {(i, m, k): flat[a:b] for i, m, k, a, b in index["entries"]}
        keys = [(m, k) for m, k in index["keys"]] if "keys" in index else None
        return cls(entries, layout, keys=keys, clip_ids=index.get("clip_ids"))

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self._entries)

    def get(self, clip_index: int, modality: str, key: str) -> np.ndarray | None:
        return self._entries.get((clip_index, modality, key))

    def clips_with(self, needs: Iterable[tuple[str, str]]) -> list[int]:
        needs = list(needs)
        clip_ids = sorted({i for i, _, _ in self._entries})
        return [i for i in clip_ids if all((i, m, k) in self._entries for m, k in needs)]


class TaskSampler:
    """An endless, deterministic stream of training examples drawn from a task suite.

    Example `i` picks its task with probability equal to the suite's weight and a clip that
    holds every modality the task needs, both from a generator seeded by `(seed, i)`.

    Args:
        cache: the token cache.
        suite: the task suite (weights = sampling probabilities).
        serializer: the prompt serializer.
        seed: the stream's seed.
        condition_dropout: probability that an example's conditions are removed
            (`drop_conditions`), for classifier-free guidance.
        condition_dropout_tasks: per-task probabilities by task name, overriding it.
    """

    def __init__(self, cache: TokenCache, suite: TaskSuite, serializer: PromptSerializer, *, seed: int = 0,
                 condition_dropout: float = 0.0, condition_dropout_tasks: Mapping[str, float] | None = None) -> None:
        self.cache, self.suite, self.serializer, self.seed = cache, suite, serializer, seed
        names = [t.name for t in suite.tasks]
        per_task = dict(condition_dropout_tasks or {})
        unknown = sorted(set(per_task) - set(names))
        if unknown:
            raise TaskError(f"condition_dropout_tasks: task(s) {', '.join(unknown)} are not in suite {suite.name!r}")
        self._dropout = [float(per_task.get(n, condition_dropout)) for n in names]
        bad = [f"{n}={p}" for n, p in zip(names, self._dropout) if not 0.0 <= p < 1.0]
        if bad:
            raise TaskError(f"condition dropout must lie in [0, 1): {', '.join(bad)}")
        self._probs = np.asarray(suite.probabilities, dtype=np.float64)
        self._modality_index = {name: i for i, name in enumerate(sorted(serializer.modalities))}
        self._clips: list[list[int]] = []
        for task in suite.tasks:
            needs = [(s.modality, "clip" if not serializer.modalities[s.modality].temporal else slot_window_key(task, s))
                     for s in (*task.inputs, task.output)]
            self._clips.append(cache.clips_with(needs))
        empty = [t.name for t, c in zip(suite.tasks, self._clips) if not c]
        if empty:
            raise TaskError(f"suite {suite.name!r}: no clip holds every modality of task(s) {', '.join(empty)}")

    @property
    def modality_names(self) -> tuple[str, ...]:
        """Index -> modality name for `LMExample.modality_ids`."""
        return tuple(sorted(self.serializer.modalities))

    def example(self, index: int) -> LMExample:
        rng = np.random.default_rng([self.seed, index])
        t = int(rng.choice(len(self._probs), p=self._probs))
        task = self.suite.tasks[t]
        clip = self._clips[t][int(rng.integers(len(self._clips[t])))]
        drop = self._dropout[t] > 0.0 and bool(rng.random() < self._dropout[t])  # no draw when off
        return self.build(task, t, clip, drop_inputs=drop)

    def build(self, task: Task, task_id: int, clip: int, *, drop_inputs: bool = False) -> LMExample:
        payloads = []
        for slot in (*task.inputs, task.output):
            mod = self.serializer.modalities[slot.modality]
            key = "clip" if not mod.temporal else slot_window_key(task, slot)
            payloads.append(Payload(slot, self.cache.get(clip, slot.modality, key)))
        inputs = drop_conditions(payloads[:-1]) if drop_inputs else payloads[:-1]
        ex = self.serializer.serialize(inputs, payloads[-1])
        modality_ids = np.full(ex.tokens.shape[0], -1, dtype=np.int32)
        modality_ids[ex.prefix_len:] = self._modality_index[task.output.modality]
        return LMExample.from_serialized(ex, task_id=task_id, modality_ids=modality_ids)

    def dataset(self) -> grain.MapDataset:
        """A grain MapDataset over example indices (use `.to_iter_dataset()`, then pack)."""
        return grain.MapDataset.range(2**62).map(self.example)
