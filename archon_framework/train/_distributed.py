"""Multi-process runs on JAX's distributed runtime: joining a cluster, agreeing before the first
step, and naming a lost process.

A run on several hosts (or several processes of one host) is one JAX program per process, joined
through JAX's coordination service (``jax.distributed.initialize``). `join` connects a process,
from explicit settings (``archon train --coordinator HOST:PORT --num-processes N --process-id I``)
or from what the environment tells (SLURM, Open MPI, a Cloud TPU pod slice, Kubernetes, or
``JAX_COORDINATOR_ADDRESS``). On the CPU the cross-process collectives run on gloo.

Before any step, `preflight` gathers one fingerprint per process (host, plugins, vocabulary
layout, config, devices) and refuses the run on every process, naming each process that differs
from process 0 and how. A process that dies mid-run is detected by the coordination service's
heartbeat (`heartbeat_timeout_s`): the others stop with a `ProcessLostError` naming it, and a
restart of every process resumes from the last checkpoint.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import attrs
import jax
import numpy as np

from archon_framework._errors import ArchonError

__all__ = ["ClusterConfig", "DistributedError", "ProcessLostError", "allgather_json", "barrier", "detect_cluster",
           "join_cluster", "leave", "lost_process_error", "lost_processes", "naming_lost_processes", "preflight", "primary_first",
           "process_fingerprints", "run_fingerprint"]


class DistributedError(ArchonError):
    """A multi-process run cannot start or go on; the message names the process(es) at fault."""


class ProcessLostError(DistributedError):
    """A process of the run died or stopped answering; `lost` holds the process ids."""

    def __init__(self, message: str, lost: Sequence[int]) -> None:
        super().__init__(message)
        self.lost = tuple(lost)


@attrs.frozen(kw_only=True)
class ClusterConfig:
    """How a process joins a multi-process run (all three of the first fields, or none of them
    and an environment JAX detects).

    Attributes:
        coordinator: ``HOST:PORT`` of process 0's coordination service.
        num_processes: processes in the run.
        process_id: this process's id, ``0..num_processes - 1``.
        heartbeat_timeout_s: a process silent this long is declared lost, and the others stop
            with an error naming it (JAX's default is 100 s).
        shutdown_timeout_s: how long a finishing process waits for the others at exit.
        init_timeout_s: how long a process waits for all the others to join.
        detect: without explicit settings, join what JAX itself detects even where
            `detect_cluster` sees nothing (a Cloud TPU VM, whose slice JAX reads from the TPU
            metadata server).
    """

    coordinator: str | None = None
    num_processes: int | None = None
    process_id: int | None = None
    heartbeat_timeout_s: int = 100
    shutdown_timeout_s: int = 300
    init_timeout_s: int = 300
    detect: bool = False

    @property
    def explicit(self) -> bool:
        return any(v is not None for v in (self.coordinator, self.num_processes, self.process_id))

    def check(self) -> None:
        """Refuse incomplete or inconsistent settings, naming the flag at fault."""
        given = {"--coordinator": self.coordinator, "--num-processes": self.num_processes, "--process-id": self.process_id}
        missing = [k for k, v in given.items() if v is None]
        if self.explicit and missing:
            raise DistributedError(f"a multi-process run needs --coordinator, --num-processes and --process-id together; "
                                   f"missing {', '.join(missing)}")
        for name in ("heartbeat_timeout_s", "shutdown_timeout_s", "init_timeout_s"):
            if getattr(self, name) < 1:
                raise DistributedError(f"{name} = {getattr(self, name)}: must be >= 1 second")
        if not self.explicit:
            return
        host, sep, port = str(self.coordinator).rpartition(":")
        if not sep or not host or not port.isdigit():
            raise DistributedError(f"--coordinator {self.coordinator!r}: expected HOST:PORT of process 0")
        if self.num_processes < 1:
            raise DistributedError(f"--num-processes {self.num_processes}: must be >= 1")
        if not 0 <= self.process_id < self.num_processes:
            raise DistributedError(f"--process-id {self.process_id}: must lie in 0..{self.num_processes - 1} "
                                   f"(--num-processes {self.num_processes})")


# ---------------------------------------------------------------------- joining
def detect_cluster(environ: Mapping[str, str] | None = None) -> str | None:
    """The multi-process environment this process runs in, or None (a single-process run).

    The same variables JAX's own detection reads: SLURM (a step with several tasks), Open MPI
    (``mpirun``), a Cloud TPU VM of a pod slice, Kubernetes (a JobSet), or an explicit
    ``JAX_COORDINATOR_ADDRESS``.
    """
    env = os.environ if environ is None else environ
    if env.get("JAX_COORDINATOR_ADDRESS"):
        return "JAX_COORDINATOR_ADDRESS"
    slurm = ("SLURM_JOB_ID", "SLURM_STEP_NODELIST", "SLURM_NTASKS", "SLURM_PROCID", "SLURM_LOCALID")
    if all(v in env for v in slurm) and int(env.get("SLURM_NTASKS", "1") or 1) > 1:
        return "slurm"
    if "OMPI_MCA_orte_hnp_uri" in env and int(env.get("OMPI_COMM_WORLD_SIZE", "1") or 1) > 1:
        return "ompi"
    if env.get("TPU_WORKER_HOSTNAMES") and len(env["TPU_WORKER_HOSTNAMES"].split(",")) > 1:
        return "cloud-tpu"
    if "KUBERNETES_SERVICE_HOST" in env and env.get("JOBSET_NAME"):
        return "k8s"
    return None


def _set_config(name: str, value: Any) -> None:
    """`jax.config.update` for an option this jax version has (names move between versions)."""
    try:
        jax.config.update(name, value)
    except (AttributeError, KeyError, ValueError):
        pass


def join_cluster(cluster: ClusterConfig | None = None) -> bool:
    """Join a multi-process run; False (and nothing done) when there is none to join.

    Must come before anything touches a JAX device. With explicit settings the process joins
    them; without, it joins what `detect_cluster` finds (JAX reads the coordinator, the process
    count and id from the environment), else it runs alone.

    Raises:
        DistributedError: inconsistent settings, or the coordination service unreachable
            (naming the coordinator and the timeout).
    """
    cluster = cluster or ClusterConfig()
    cluster.check()
    detected = None if cluster.explicit else (detect_cluster() or ("JAX's detection" if cluster.detect else None))
    if not cluster.explicit and detected is None:
        return False
    if jax.distributed.is_initialized():
        return True
    # CPU collectives across processes run on gloo (the default in recent jax; older ones had none).
    _set_config("jax_cpu_collectives_implementation", "gloo")
    where = cluster.coordinator or f"the coordinator {detected} names"
    try:
        jax.distributed.initialize(
            coordinator_address=cluster.coordinator, num_processes=cluster.num_processes,
            process_id=cluster.process_id, initialization_timeout=cluster.init_timeout_s,
            heartbeat_timeout_seconds=cluster.heartbeat_timeout_s, shutdown_timeout_seconds=cluster.shutdown_timeout_s,
        )
    except Exception as err:  # jax raises RuntimeError/ValueError/XlaRuntimeError here
        raise DistributedError(
            f"process {cluster.process_id if cluster.process_id is not None else '?'} could not join the run at "
            f"{where} within {cluster.init_timeout_s} s ({err}); start every process with the same --coordinator and "
            "--num-processes and distinct --process-id, process 0 first reachable"
        ) from err
    _STATE["heartbeat_timeout_s"] = cluster.heartbeat_timeout_s
    _STATE["told"] = {"num_processes": cluster.num_processes, "process_id": cluster.process_id}
    _start_beats()
    return True


_STATE: dict[str, Any] = {"hosts": {}, "heartbeat_timeout_s": 100, "told": {}}
BEAT_S = 0.5  # how often each process bumps its counter in the coordination service's key-value store


def _client() -> Any:
    from jax._src import distributed  # the client: jax has no public call for liveness or key-values yet

    return distributed.global_state.client


def _start_beats() -> None:
    """Bump `archon/beat/<process>` every `BEAT_S` seconds, until exit (see `lost_processes`).

    JAX's own heartbeat tells the coordination service that a process died, but it then aborts
    every other process from a C++ thread, after `heartbeat_timeout_s`. These counters let a
    survivor name the dead process itself, in the seconds between the failed collective and that.
    """
    client, me, stop = _client(), jax.process_index(), threading.Event()

    def beat() -> None:
        n = 0
        while not stop.is_set():
            try:
                client.key_value_set(f"archon/beat/{me}", str(n), allow_overwrite=True)
            except Exception:  # the service is gone (process 0 died, or the run is shutting down)
                return
            n += 1
            stop.wait(BEAT_S)

    thread = threading.Thread(target=beat, name="archon-beat", daemon=True)
    thread.start()

    def halt() -> None:  # before the client is torn down at exit
        stop.set()
        thread.join(5)

    atexit.register(halt)


# ---------------------------------------------------------------------- gathering
def allgather_json(value: Any) -> list[Any]:
    """Every process's JSON-serializable `value`, in process order (the value itself on one process)."""
    if jax.process_count() == 1:
        return [value]
    from jax.experimental import multihost_utils

    data = np.frombuffer(json.dumps(value, sort_keys=True).encode(), dtype=np.uint8)
    sizes = np.asarray(multihost_utils.process_allgather(np.asarray([data.size], np.int32))).reshape(-1)
    padded = np.zeros(int(sizes.max()), np.uint8)
    padded[: data.size] = data
    rows = np.asarray(multihost_utils.process_allgather(padded)).reshape(len(sizes), -1)
    return [json.loads(bytes(row[:n]).decode()) for row, n in zip(rows, sizes)]


def barrier(name: str) -> None:
    """Wait until every process reaches the barrier `name` (a no-op on one process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


# ---------------------------------------------------------------------- the pre-flight check
def process_fingerprints(fingerprint: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every process's fingerprint, each with its process id, host and device count added."""
    own = {**fingerprint, "process": jax.process_index(), "host": socket.gethostname(), "pid": os.getpid(),
           "process_count": jax.process_count(), "local_devices": jax.local_device_count(),
           "platform": jax.default_backend()}
    told = _STATE["told"].get("num_processes")
    if told is not None:  # JAX goes by process 0's count; a process told another one is refused here
        own["num_processes"] = told
    prints = allgather_json(own)
    _STATE["hosts"] = {p["process"]: f"{p['host']} pid {p['pid']}" for p in prints}
    return prints


def preflight(fingerprint: Mapping[str, Any]) -> None:
    """Refuse a run whose processes disagree, before any step and on every process.

    `fingerprint` maps a name (``plugins``, ``layout``, ``config``, ...) to a JSON value that
    must be equal on every process; each process's device count and platform are compared too.

    Raises:
        DistributedError: naming, for each process that differs from process 0, its host and
            every field that differs (the values on both sides, or the keys that differ).
    """
    prints = process_fingerprints(fingerprint)
    if len(prints) == 1:
        return
    ignore = {"process", "host", "pid"}
    ref, problems = prints[0], []
    for other in prints[1:]:
        diffs = [_describe(key, ref.get(key), other.get(key)) for key in sorted(set(ref) | set(other) - ignore)
                 if key not in ignore and ref.get(key) != other.get(key)]
        if diffs:
            problems.append(f"process {other['process']} (host {other['host']}) differs from process 0 "
                            f"(host {ref['host']}): " + "; ".join(diffs))
    if problems:
        raise DistributedError("the processes of this run disagree, nothing was trained:\n  " + "\n  ".join(problems))


def _describe(key: str, ref: Any, other: Any) -> str:
    """One difference: the differing entries of two mappings, else both values."""
    if isinstance(ref, dict) and isinstance(other, dict):
        parts = []
        for k in sorted(set(ref) | set(other)):
            if k not in other:
                parts.append(f"{k} only on process 0 ({_short(ref[k])})")
            elif k not in ref:
                parts.append(f"{k} only here ({_short(other[k])})")
            elif ref[k] != other[k]:
                parts.append(_describe(k, ref[k], other[k]) if isinstance(ref[k], dict) else
                             f"{k} = {_short(other[k])} (process 0: {_short(ref[k])})")
        return f"{key}: " + ", ".join(parts)
    return f"{key} = {_short(other)} (process 0: {_short(ref)})"


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------- failures
def host_of(process: int) -> str:
    """The host (and pid) `preflight` recorded for `process`, or "host unknown"."""
    return _STATE["hosts"].get(process, "host unknown")


def lost_processes(wait_s: float = 4 * BEAT_S) -> list[int] | None:
    """The processes whose beat counters stopped, read twice `wait_s` apart (after a failed
    collective). A process that cannot reach the coordination service has lost process 0,
    which hosts it. None when nothing can be read (no distributed client).
    """
    if jax.process_count() == 1:
        return []
    client = _client()
    if client is None:
        return None
    me = jax.process_index()
    others = [p for p in range(jax.process_count()) if p != me]

    def read() -> dict[int, str | None]:
        out: dict[int, str | None] = {}
        for p in others:
            try:
                out[p] = client.key_value_try_get(f"archon/beat/{p}")
            except Exception as err:
                if "NOT_FOUND" not in str(err).upper():
                    raise
                out[p] = None
        return out

    try:
        before = read()
        time.sleep(wait_s)
        after = read()
    except Exception:  # the coordination service is gone with process 0
        return [0] if me != 0 else None
    return [p for p in others if before[p] == after[p]]


def leave(code: int) -> None:
    """Exit now, without JAX's shutdown barrier (which would wait for a lost process, and then
    abort): how a process of a broken run ends once it said why."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def lost_process_error(err: BaseException, step: int, checkpoint: str) -> ProcessLostError | None:
    """A `ProcessLostError` for a step that failed because a process was lost, else None.

    Args:
        err: what the step raised.
        step: the step that failed.
        checkpoint: where a restart resumes from (named in the message).
    """
    if jax.process_count() == 1 or isinstance(err, ArchonError):
        return None
    lost = lost_processes()
    if not lost:
        return None
    names = ", ".join(f"process {p} ({host_of(p)})" for p in lost)
    return ProcessLostError(
        f"step {step}: lost {names} of the {jax.process_count()}-process run (it stopped beating; the step failed "
        f"with: {str(err).splitlines()[0][:200]}); {checkpoint}; "
        "restart every process of the run to resume from it", lost)


@contextmanager
def primary_first(what: str) -> Iterator[None]:
    """Run the block on process 0 first, then on the others (which read what it wrote).

    If process 0's block fails, the others stop with a `DistributedError` quoting its error
    instead of waiting for it.
    """
    if jax.process_count() == 1:
        yield
        return
    if jax.process_index() != 0:
        outcome = allgather_json(None)[0]
        if outcome is not None:
            raise DistributedError(f"process 0 ({host_of(0)}) failed {what}: {outcome}")
        yield
        return
    try:
        yield
    except BaseException as err:
        allgather_json(f"{type(err).__name__}: {err}")
        raise
    allgather_json(None)


@contextmanager
def naming_lost_processes(step: int, checkpoint: Callable[[], str]) -> Iterator[None]:
    """Turn an error of a block that failed because a process was lost into a `ProcessLostError`
    naming it (see `lost_process_error`); other errors pass through. `checkpoint()` says where
    a restart resumes from."""
    try:
        yield
    except Exception as err:
        lost = lost_process_error(err, step, checkpoint())
        if lost is not None:
            raise lost from err
        raise


def run_fingerprint(registry: Any, config: Mapping[str, Any]) -> dict[str, Any]:
    """What every process of a training run must agree on: the plugins (and their versions),
    which plugin provides each modality, the vocabulary layout and the config."""
    return {
        "plugins": {info.name: info.version or "?" for info in registry.plugins},
        "modalities": {name: (registry.providers[name].name if name in registry.providers else "?")
                       for name in sorted(registry.modalities)},
        "layout": {r.vocabulary.name: [r.start, r.size] for r in registry.layout().ranges},
        "config": dict(config),
    }
