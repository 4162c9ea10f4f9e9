"""`archon launch --local N`: N processes of one multi-process run on this machine (development,
tests, one host with several accelerators), each told its place in the run, and waited for.

Each process gets ``--coordinator 127.0.0.1:PORT --num-processes N --process-id I`` appended to
its command and, with ``devices_per_process = K``, K devices of its own: K forced host devices
on the CPU (``XLA_FLAGS=--xla_force_host_platform_device_count=K``) and accelerators
``I*K .. I*K+K-1`` elsewhere (``JAX_LOCAL_DEVICE_IDS``). Output lines are prefixed with the
process id. When one process fails, the others get `grace_s` seconds to stop on their own
(they name the lost process once its heartbeat times out), then are killed.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO

import attrs
import typer

from archon_framework._errors import ArchonError
from archon_framework.train._distributed import DistributedError, leave

__all__ = ["LaunchError", "LaunchResult", "LocalLaunch", "archon_command", "cluster_exit", "free_port", "launch_command",
           "launch_local"]


class LaunchError(DistributedError):
    """A process of a local launch failed; the message names it and its exit status."""


def free_port() -> int:
    """A TCP port free on localhost now (for the coordinator)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _with_host_devices(xla_flags: str, count: int) -> str:
    flag = "--xla_force_host_platform_device_count"
    kept = re.sub(rf"{flag}=\S+", "", xla_flags).split()
    return " ".join([*kept, f"{flag}={count}"])


@attrs.frozen
class LaunchResult:
    """How each process ended: exit codes by process id (negative: killed by that signal), and
    the first process that failed (None when all succeeded)."""

    returncodes: tuple[int, ...]
    first_failure: int | None

    @property
    def ok(self) -> bool:
        return self.first_failure is None


class LocalLaunch:
    """N local processes of one run (see the module docstring).

    Args:
        command: the program and its arguments, without the cluster flags.
        num_processes: N.
        devices_per_process: devices each process gets (0: leave the environment as it is).
        port: the coordinator's port (default: a free one).
        env: extra environment variables for every process.
        output: where prefixed output lines go (default: stdout); None keeps each process's
            output in `outputs` only.
        extra_args: more arguments for some processes, by process id (after the cluster flags).
    """

    def __init__(self, command: Sequence[str], num_processes: int, *, devices_per_process: int = 1,
                 port: int | None = None, env: Mapping[str, str] | None = None, output: IO[str] | None = sys.stdout,
                 extra_args: Mapping[int, Sequence[str]] | None = None) -> None:
        if num_processes < 1:
            raise LaunchError(f"--local {num_processes}: launch at least 1 process")
        if devices_per_process < 0:
            raise LaunchError(f"--devices-per-process {devices_per_process}: must be >= 0")
        if not command:
            raise LaunchError("nothing to launch: give the command after --")
        self.num_processes, self.port = num_processes, port or free_port()
        self.outputs: list[list[str]] = [[] for _ in range(num_processes)]
        self._output, self._lock = output, threading.Lock()
        self.processes: list[subprocess.Popen] = []
        self._readers: list[threading.Thread] = []
        for i in range(num_processes):
            proc_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
            if devices_per_process:
                proc_env["XLA_FLAGS"] = _with_host_devices(proc_env.get("XLA_FLAGS", ""), devices_per_process)
                proc_env["JAX_LOCAL_DEVICE_IDS"] = ",".join(
                    str(d) for d in range(i * devices_per_process, (i + 1) * devices_per_process))
            argv = [*command, "--coordinator", f"127.0.0.1:{self.port}", "--num-processes", str(num_processes),
                    "--process-id", str(i), *(extra_args or {}).get(i, ())]
            proc = subprocess.Popen(argv, env=proc_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    bufsize=1, start_new_session=True)
            self.processes.append(proc)
            reader = threading.Thread(target=self._read, args=(i, proc), daemon=True)
            reader.start()
            self._readers.append(reader)

    def _read(self, i: int, proc: subprocess.Popen) -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            self.outputs[i].append(line)
            if self._output is not None:
                with self._lock:
                    self._output.write(f"[process {i}] {line}")
                    self._output.flush()

    def output(self, i: int) -> str:
        """Everything process `i` wrote so far."""
        return "".join(self.outputs[i])

    def wait(self, *, grace_s: float = 30.0, timeout_s: float | None = None) -> LaunchResult:
        """Wait for every process; once one fails, the rest get `grace_s` seconds, then are killed.

        `timeout_s` bounds the whole wait (every process is killed when it runs out).
        """
        start, first, deadline = time.monotonic(), None, None
        try:
            while any(p.poll() is None for p in self.processes):
                now = time.monotonic()
                if first is None:
                    failed = [i for i, p in enumerate(self.processes) if p.poll() not in (None, 0)]
                    if failed:
                        first = failed[0]
                        deadline = now + grace_s
                if (deadline is not None and now > deadline) or (timeout_s is not None and now - start > timeout_s):
                    break
                time.sleep(0.1)
        finally:
            self.stop()
        for reader in self._readers:
            reader.join(5)
        codes = tuple(int(p.returncode) for p in self.processes)
        if first is None:
            bad = [i for i, c in enumerate(codes) if c != 0]
            first = bad[0] if bad else None
        return LaunchResult(codes, first)

    def stop(self) -> None:
        """Terminate, then kill, every process still running (their whole process groups)."""
        running = [p for p in self.processes if p.poll() is None]
        for p in running:
            _signal_group(p, signal.SIGTERM)
        end = time.monotonic() + 5
        while time.monotonic() < end and any(p.poll() is None for p in running):
            time.sleep(0.1)
        for p in running:
            if p.poll() is None:
                _signal_group(p, signal.SIGKILL)
            p.wait()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def launch_local(command: Sequence[str], num_processes: int, *, devices_per_process: int = 1, grace_s: float = 30.0,
                 env: Mapping[str, str] | None = None) -> LaunchResult:
    """Run N local processes of one run and wait for them (see `LocalLaunch`).

    Raises:
        LaunchError: a process failed, naming it and its exit status (after the others stopped).
    """
    launch = LocalLaunch(command, num_processes, devices_per_process=devices_per_process, env=env)
    try:
        result = launch.wait(grace_s=grace_s)
    except KeyboardInterrupt:
        launch.stop()
        raise
    if not result.ok:
        code = result.returncodes[result.first_failure]  # type: ignore[index]
        how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
        others = ", ".join(f"process {i}: {c}" for i, c in enumerate(result.returncodes) if i != result.first_failure)
        raise LaunchError(f"process {result.first_failure} of {num_processes} {how} (see its [process "
                          f"{result.first_failure}] lines); the others were stopped ({others})")
    return result


# ---------------------------------------------------------------------- the commands
def archon_command(args: Sequence[str]) -> list[str]:
    """The argv that runs ``archon ARGS`` with this interpreter (through the `archon` console
    script's entry point, wherever the CLI lives)."""
    from importlib.metadata import entry_points

    found = [ep.value for ep in entry_points(group="console_scripts", name="archon")]
    module, _, attr = (found[0] if found else "archon_framework.cli:main").partition(":")
    return [sys.executable, "-c", f"import sys; from {module} import {attr} as main; sys.exit(main())", *args]


def launch_command(ctx: typer.Context,
                   local: int = typer.Option(..., "--local", metavar="N", help="Processes to start on this machine."),
                   devices_per_process: int = typer.Option(
                       1, "--devices-per-process", metavar="K",
                       help="Devices of each process: K forced host devices on the CPU, accelerators I*K..I*K+K-1 "
                            "on a GPU machine (0: leave the environment alone)."),
                   grace: float = typer.Option(30.0, "--grace", metavar="S",
                                               help="Seconds the others get to stop on their own once one fails.")) -> None:
    """Start N processes of one multi-process run on this machine and wait for them.

    Everything after -- is the archon command line each process runs (archon launch --local 2 -- train --config run.toml), with --coordinator 127.0.0.1:PORT --num-processes N --process-id I added.

    When one process fails, the others are stopped and the launch exits with status 3, naming the process that failed.
    """
    args = list(ctx.args)
    if not args:
        raise typer.BadParameter("give the archon command to run after --, e.g. -- train --config run.toml")
    try:
        launch_local(archon_command(args), local, devices_per_process=devices_per_process, grace_s=grace)
    except LaunchError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(3) from err


@contextmanager
def cluster_exit() -> Iterator[None]:
    """Around a command of a multi-process run: a process that stops on an error leaves at once
    (`leave`), without JAX's shutdown barrier that would wait for the others."""
    try:
        yield
    except (typer.Exit, ArchonError) as err:
        import jax

        if jax.distributed.is_initialized() and jax.process_count() > 1:
            leave(getattr(err, "exit_code", 3) or 3)
        raise
