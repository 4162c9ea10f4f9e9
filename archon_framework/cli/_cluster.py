"""The options by which a command joins a multi-process run (`archon train`, `archon
train-tokenizer`): declared once here, so every command that trains takes the same flags and
environment detection, and joins the same way."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from archon_framework.cli._common import errors_exit

__all__ = ["Coordinator", "DetectCluster", "HeartbeatTimeout", "NumProcesses", "ProcessId", "join_from_options"]

# Optional[...] as in the other commands' options.
Coordinator = Annotated[Optional[str], typer.Option(
    "--coordinator", metavar="HOST:PORT",
    help="Join a multi-process run whose process 0 listens there (with --num-processes, --process-id); default: "
         "the run SLURM, Open MPI, a Cloud TPU pod slice or $JAX_COORDINATOR_ADDRESS describe, else one process.")]
NumProcesses = Annotated[Optional[int], typer.Option("--num-processes", help="Processes in the multi-process run.")]
ProcessId = Annotated[Optional[int], typer.Option(
    "--process-id", help="This process's id, 0..N-1 (0 hosts the coordinator).")]
HeartbeatTimeout = Annotated[int, typer.Option(
    "--heartbeat-timeout", metavar="S", help="Seconds after which a silent process counts as lost and the run stops.")]
DetectCluster = Annotated[bool, typer.Option(
    "--distributed", help="Join the multi-process run JAX detects even where no scheduler variable shows one "
                          "(a Cloud TPU pod slice's workers).")]


def join_from_options(coordinator: str | None, num_processes: int | None, process_id: int | None,
                      heartbeat_timeout: int = 100, distributed: bool = False) -> bool:
    """Join the run the options (or the environment) describe, before anything touches a JAX
    device; False when the command runs alone. Bad settings or an unreachable coordinator print
    the error naming the flag or the coordinator and exit with status 2 (at once, without JAX's
    shutdown barrier, in a run already joined)."""
    from archon_framework.train import ClusterConfig, join_cluster
    from archon_framework.train._launch import cluster_exit

    with cluster_exit(), errors_exit():
        return join_cluster(ClusterConfig(coordinator=coordinator, num_processes=num_processes, process_id=process_id,
                                          heartbeat_timeout_s=heartbeat_timeout, detect=distributed))
