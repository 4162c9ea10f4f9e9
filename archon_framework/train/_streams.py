"""The batch stream of a run split into independent packed streams, so that each process reads
only its share of the examples and any number of processes builds the same global batches.

With ``S`` streams and a global batch of ``B`` windows, stream ``s`` packs examples
``s, s + S, s + 2S, ...`` (grain's slicing of the example dataset, as ``ShardByJaxProcess`` does
per process) and fills rows ``s*B/S .. (s+1)*B/S - 1`` of every batch. A process builds only
the streams whose rows its devices hold (``local_rows``), so the global batch of step ``t`` is a
function of the config and ``S`` alone: 1 process x 4 devices and 2 processes x 2 devices train
on the same batches, and a checkpoint (the state of every stream) resumes on any number of
processes. ``S`` defaults to ``B`` (one stream per row), so the batches depend on neither the
device count nor the process count; ``S = 1`` is the single packed stream that runs made before
streams existed trained on (its iterator state is the plain grain state of their checkpoints).

    B = 4, S = 2, 2 processes x 2 devices, mesh data = 4:
    stream 0: examples 0, 2, 4, ... -> rows 0, 1 (process 0)
    stream 1: examples 1, 3, 5, ... -> rows 2, 3 (process 1)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import grain
import numpy as np
from jax.sharding import Sharding

from archon_framework._errors import CheckpointError, ConfigError

__all__ = ["BatchStreams", "local_rows", "merge_stream_states", "stream_count"]


def local_rows(sharding: Sharding, batch_size: int) -> list[int]:
    """The global batch rows this process's devices hold under `sharding`, in order.

    ``make_array_from_process_local_data`` takes a process's rows in this order: the rows of
    each addressed slice, slices in row order (a data axis that spans processes gives each a
    block; an FSDP axis that spans them gives every process all rows of its data slices).
    """
    rows: set[int] = set()
    for index in sharding.addressable_devices_indices_map((batch_size,)).values():
        rows.update(range(batch_size)[index[0]])  # type: ignore[index]
    return sorted(rows)


def stream_count(state: Mapping[str, Any] | None) -> int | None:
    """How many streams a saved data state holds (1 for a plain grain state), None for no state."""
    if state is None:
        return None
    return int(state["streams"]) if isinstance(state, Mapping) and "streams" in state else 1


def merge_stream_states(states: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One data state from every process's `BatchStreams.get_state()` (streams built by several
    processes are equal there; the first is kept)."""
    first = dict(states[0])
    if "streams" not in first:
        return first
    merged: dict[str, Any] = {}
    for state in states:
        for key, value in state["states"].items():
            merged.setdefault(key, value)
    return {"streams": first["streams"], "states": dict(sorted(merged.items(), key=lambda kv: int(kv[0])))}


class BatchStreams(Iterator[dict[str, np.ndarray]]):
    """This process's rows of each global batch, from the streams that fill them.

    Args:
        examples: the example dataset (index ``i`` -> example ``i``).
        pack: turns an example dataset into a grain dataset of packed windows.
        batch_size: global batch size ``B``.
        streams: the stream count ``S`` (a divisor of ``B``).
        rows: the global rows this process holds (`local_rows`); default all.
    """

    def __init__(self, examples: grain.MapDataset, pack: Callable[[grain.MapDataset], grain.IterDataset], *,
                 batch_size: int, streams: int, rows: Sequence[int] | None = None) -> None:
        if streams < 1 or batch_size % streams:
            raise ConfigError(f"data.streams = {streams}: must divide data.batch_size = {batch_size} "
                              "(each stream fills the same number of rows of every batch)")
        self.batch_size, self.streams = batch_size, streams
        self.rows = list(range(batch_size)) if rows is None else list(rows)
        per = batch_size // streams
        self._per = per
        self.owned = sorted({r // per for r in self.rows})  # the streams this process builds
        if streams == 1:  # one packed stream, batched: the single-stream layout and state of old runs
            self._its = {0: iter(pack(examples).batch(batch_size, drop_remainder=True))}
        else:
            self._its = {s: iter(pack(examples[s::streams]).batch(per, drop_remainder=True)) for s in self.owned}
        # Where each local row sits in the concatenation of the owned streams' blocks.
        self._take = np.asarray([self.owned.index(r // per) * per + r % per for r in self.rows])

    def __next__(self) -> dict[str, np.ndarray]:
        blocks = [next(self._its[s]) for s in self.owned]
        if len(blocks) == 1 and len(self.rows) == self.batch_size:
            return blocks[0]
        return {k: np.concatenate([b[k] for b in blocks])[self._take] for k in blocks[0]}

    def get_state(self) -> dict[str, Any]:
        """The state of this process's streams (`merge_stream_states` joins the processes')."""
        if self.streams == 1:
            return self._its[0].get_state()
        return {"streams": self.streams, "states": {str(s): self._its[s].get_state() for s in self.owned}}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Continue from a saved state (which must hold this layout's `streams`)."""
        saved = stream_count(state)
        if saved != self.streams:
            raise CheckpointError(f"the checkpoint's data state holds {saved} stream(s), this run reads "
                                  f"{self.streams} (data.streams); resume with data.streams = {saved}")
        if self.streams == 1:
            self._its[0].set_state(state)
            return
        missing = [s for s in self.owned if str(s) not in state["states"]]
        if missing:
            raise CheckpointError(f"the checkpoint's data state lacks stream(s) {missing} of {self.streams}")
        for s in self.owned:
            self._its[s].set_state(state["states"][str(s)])
