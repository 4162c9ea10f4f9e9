"""Where training metrics go: `metrics.jsonl` always, TensorBoard event files when installed.

TensorBoard is optional and never a dependency: `tensorboardX` is used if importable, else
`tensorboard`'s own event-file writer (it needs only `tensorboard` and protobuf, no TensorFlow),
else TensorBoard logging is skipped with one info line.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from archon_framework.config import atomic_write_text

__all__ = ["MetricsLog", "ScalarWriter", "open_tensorboard", "perplexity", "scalars", "tag_name"]

log = logging.getLogger("archon_framework.train")


class ScalarWriter(Protocol):
    """The part of a TensorBoard writer the trainer uses."""

    def add_scalar(self, tag: str, value: float, step: int) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class _TensorboardEventWriter:
    """Scalars through `tensorboard`'s own EventFileWriter (no TensorFlow needed)."""

    def __init__(self, logdir: Path, purge_step: int | None = None) -> None:
        from tensorboard.compat.proto.event_pb2 import Event, SessionLog
        from tensorboard.compat.proto.summary_pb2 import Summary
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        self._event, self._summary = Event, Summary
        self._writer = EventFileWriter(str(logdir))
        if purge_step is not None:  # TensorBoard drops earlier events at >= this step
            self._writer.add_event(Event(wall_time=time.time(), step=purge_step,
                                         session_log=SessionLog(status=SessionLog.START)))

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        summary = self._summary(value=[self._summary.Value(tag=tag, simple_value=float(value))])
        self._writer.add_event(self._event(wall_time=time.time(), step=int(step), summary=summary))

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


def open_tensorboard(logdir: Path, *, purge_step: int | None = None) -> ScalarWriter | None:
    """A TensorBoard scalar writer on `logdir`, or None (with one info line) if none is installed.

    `purge_step`: a resumed run's first step; TensorBoard hides what an earlier (crashed) run
    of the same directory logged from that step on.
    """
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        pass
    else:
        return SummaryWriter(str(logdir), purge_step=purge_step)
    try:
        return _TensorboardEventWriter(logdir, purge_step)
    except ImportError:
        log.info("TensorBoard logging skipped: neither tensorboardX nor tensorboard is installed "
                 "(metrics still go to metrics.jsonl)")
        return None


def scalars(record: dict[str, Any]) -> Iterator[tuple[str, float]]:
    """A metrics record as TensorBoard tags.

    ``loss``, ``ce``, ``lr``, ``grad_norm``, ``tokens_per_s``; ``loss/task/<task>`` and
    ``ppl/task/<task>``; ``loss/<modality>`` and ``ppl/<modality>``; ``loss/<modality>/level<k>``
    and ``ppl/<modality>/level<k>`` for modalities with residual levels. Task names become
    legal tags with :func:`tag_name`.
    """
    for key in ("loss", "ce", "lr", "grad_norm", "tokens_per_s"):
        if key in record:
            yield key, float(record[key])
    for group, prefix in (("task", "task/"), ("modality", ""), ("level", "")):
        for name, ce in record.get(f"{group}_ce", {}).items():
            yield f"loss/{prefix}{tag_name(name)}", float(ce)
            yield f"ppl/{prefix}{tag_name(name)}", perplexity(ce)


def tag_name(name: str) -> str:
    """A TensorBoard-legal tag (``[A-Za-z0-9_./-]``) for a metric name.

    ``description(t)+script(c)->speech(c)`` becomes ``description.t_and_script.c_to_speech.c``;
    ``speech/level0`` is unchanged.
    """
    name = re.sub(r"\(([^)]*)\)", r".\1", name.replace("->", "_to_").replace("+", "_and_"))
    return re.sub(r"[^A-Za-z0-9_./-]", "_", name)


def perplexity(ce: float) -> float:
    """exp(cross-entropy in nats); inf where that overflows float64."""
    return math.exp(ce) if ce < 700 else math.inf


class MetricsLog:
    """Appends records to `out/metrics.jsonl` and, if enabled and installed, to TensorBoard.

    A run resumed from the checkpoint of step `start` first drops the records of later steps
    (written by a run that died before its next checkpoint): the resumed run logs them again.

    Args:
        out: the run directory.
        tensorboard: also write event files under `out/tensorboard`.
        start: the step the run resumes from (0 for a fresh run).
        enabled: False on the non-primary hosts of a multi-host run (they write nothing).
    """

    def __init__(self, out: Path, *, tensorboard: bool, start: int = 0, enabled: bool = True) -> None:
        self._jsonl = self._tb = None
        if not enabled:
            return
        path = out / "metrics.jsonl"
        if path.exists():
            _drop_records_after(path, start)
        self._jsonl = path.open("a")
        if tensorboard:
            self._tb = open_tensorboard(out / "tensorboard", purge_step=start + 1 if start else None)

    def write(self, record: dict[str, Any]) -> None:
        """Write one record (a JSON line; its scalars to TensorBoard at `record['step']`)."""
        if self._jsonl is not None:
            self._jsonl.write(json.dumps(record) + "\n")
            self._jsonl.flush()
        if self._tb is not None:
            for tag, value in scalars(record):
                self._tb.add_scalar(tag, value, record["step"])
            self._tb.flush()

    def close(self) -> None:
        if self._jsonl is not None:
            self._jsonl.close()
        if self._tb is not None:
            self._tb.close()


def _drop_records_after(path: Path, step: int) -> None:
    """Rewrite `path` (atomically) without the records of steps after `step`, if it has any."""
    lines = path.read_text().splitlines(keepends=True)
    keep = []
    for line in lines:
        try:
            late = json.loads(line)["step"] > step
        except (ValueError, KeyError, TypeError):
            late = True  # a line cut short by a crash
        if not late:
            keep.append(line)
    if len(keep) != len(lines):
        atomic_write_text(path, "".join(keep))
