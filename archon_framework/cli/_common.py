"""What every `archon` command shares: the consoles, the loaded registry, errors as exit codes."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import typer
from rich.console import Console

from archon_framework._errors import ArchonError, PluginError
from archon_framework._plugins import DISABLE_ENV, Registry, load_registry

__all__ = ["default_dataset", "err", "errors_exit", "load_registry_or_exit", "loaded", "out", "report_failures"]

out = Console(width=None if sys.stdout.isatty() else 160)  # pipes and logs get whole rows
err = Console(stderr=True, soft_wrap=True)

#: The registry `main` loaded at start-up, reused by every command (empty until then).
loaded: list[Registry] = []


@contextlib.contextmanager
def errors_exit(code: int = 2) -> Iterator[None]:
    """Print an ArchonError (it names what is at fault) and exit with `code`, no traceback."""
    try:
        yield
    except ArchonError as e:
        err.print(f"[bold red]error:[/] {e}")
        raise typer.Exit(code) from e


def load_registry_or_exit() -> Registry:
    """The installed plugins' registry; a conflict is printed and exits with status 2."""
    if loaded:
        return loaded[0]
    with errors_exit():
        return load_registry()


def report_failures(registry: Registry) -> None:
    """Say which plugins failed (and at which stage) and which were blocked."""
    for f in registry.failures:
        err.print(f"[yellow]plugin {f.plugin.name} ({f.plugin.label}) failed at {f.stage}:[/] {f.error}")
    if registry.blocked:
        err.print(f"[dim]blocked by {DISABLE_ENV}: {', '.join(registry.blocked)}[/]")


def default_dataset(registry: Registry, *, heldout: bool = False) -> str:
    """The dataset a command uses when ``--dataset`` is left out: the installed demo's training
    (or held-out) data, else the only dataset installed; PluginError otherwise, listing them."""
    if registry.demos:
        spec = registry.demo()
        return spec.heldout_dataset if heldout else spec.dataset
    if len(registry.datasets) == 1:
        return next(iter(registry.datasets))
    raise PluginError(f"pass --dataset: no installed demo names one (installed datasets: "
                      f"{', '.join(registry.datasets) or 'none'})")
