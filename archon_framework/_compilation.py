"""JAX compilation: the persistent compilation cache, and counting what a block of code compiles.

On a 2-core CPU the time a user feels is compilation, not arithmetic. JAX's persistent
compilation cache keeps every compiled executable on disk, keyed by the lowered program, the
backend and the JAX version, so a second run of the same command (or of the test suite) loads
executables instead of compiling them. The CLI and the test suite turn it on by default:

- the directory is ``$ARCHON_COMPILATION_CACHE`` if set, else ``$XDG_CACHE_HOME/archon/jax``
  (``~/.cache/archon/jax``);
- ``ARCHON_COMPILATION_CACHE=off`` (or ``archon --no-compile-cache``) turns it off;
- a directory that cannot be created or written is warned about once and compiling goes on
  without a cache; a corrupt entry is JAX's own business: it warns and compiles again.

:class:`CompileCounter` counts the backend compilations (and persistent-cache hits) per jitted
function inside a ``with`` block, from JAX's monitoring events: the tool the tests use to hold
"every jitted function compiles once per distinct shape", and the trainers use to split a
run's wall time into compile time and training time.
"""

from __future__ import annotations

import os
import tempfile
import threading
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

__all__ = [
    "CACHE_ENV",
    "CompileCounter",
    "compilation_cache_dir",
    "default_compilation_cache_dir",
    "enable_compilation_cache",
]

CACHE_ENV = "ARCHON_COMPILATION_CACHE"
_OFF = {"", "0", "off", "false", "no", "none"}

# JAX's monitoring event names (jax._src.dispatch); stable since JAX 0.4.
_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
_SAVED_EVENT = "/jax/compilation_cache/compile_time_saved_sec"
_HIT_EVENT = "/jax/compilation_cache/cache_hits"

_lock = threading.Lock()
_enabled: Path | None = None
_warned: set[str] = set()


def default_compilation_cache_dir() -> Path | None:
    """Where the cache lives by default: ``$ARCHON_COMPILATION_CACHE``, else the user's cache
    directory (``$XDG_CACHE_HOME/archon/jax``, ``~/.cache/archon/jax``); None when the variable
    says ``off``."""
    env = os.environ.get(CACHE_ENV)
    if env is not None:
        return None if env.strip().lower() in _OFF else Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "archon" / "jax"


def _writable(path: Path) -> str | None:
    """None if `path` can be created and written, else why not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-", delete=True) as f:
            f.write(b"archon")
            f.flush()
    except OSError as err:
        return f"{type(err).__name__}: {err}"
    return None


def enable_compilation_cache(path: str | Path | None = None, *, min_compile_seconds: float = 0.5,
                             max_bytes: int = 4 << 30) -> Path | None:
    """Turn on JAX's persistent compilation cache and return its directory (None: left off).

    Args:
        path: the cache directory; default :func:`default_compilation_cache_dir`.
        min_compile_seconds: executables that compiled faster than this are not written (JAX's
            default is 1 s; most of our tiny-shape compiles take 0.5-5 s).
        max_bytes: the directory's size limit; the least recently used entries go first
            (the whole test suite writes about a gigabyte).

    A directory that cannot be created or written is warned about once (naming it and the
    reason) and the cache stays off: compiling still works, never fails because of the cache.
    Calling it again with the same directory does nothing.
    """
    global _enabled
    target = Path(path).expanduser() if path is not None else default_compilation_cache_dir()
    if target is None:
        return None
    target = target.absolute()
    with _lock:
        if _enabled == target:
            return target
        problem = _writable(target)
        if problem is not None:
            if str(target) not in _warned:
                _warned.add(str(target))
                warnings.warn(f"JAX compilation cache {target} is not usable ({problem}); compiling without it "
                              f"(set {CACHE_ENV}=DIR for another directory, or =off)", RuntimeWarning, stacklevel=2)
            return None
        import jax

        jax.config.update("jax_compilation_cache_dir", str(target))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_seconds))
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
        jax.config.update("jax_compilation_cache_max_size", int(max_bytes))
        _reset_jax_cache()
        _enabled = target
        return target


def compilation_cache_dir() -> Path | None:
    """The directory :func:`enable_compilation_cache` turned on in this process, or None."""
    return _enabled


def _reset_jax_cache() -> None:
    """Make JAX re-read the cache directory (it initializes its cache object once)."""
    try:
        from jax._src import compilation_cache as cc  # no public reset; absent: nothing to reset
    except ImportError:  # pragma: no cover - JAX layout changed
        return
    reset = getattr(cc, "reset_cache", None)
    if reset is not None:
        reset()


class CompileCounter:
    """Counts backend compilations per jitted function inside a ``with`` block.

    A persistent-cache hit goes through the same path and is counted too (the program was
    lowered and looked up again: what "compiles once" forbids), and `cache_hits` says how
    many of the compilations the cache answered. Example::

        with CompileCounter() as compiles:
            for _ in range(5):
                state = step(state)
        assert compiles.count("step") == 1

    Attributes:
        by_function: compilations per function name (JAX's `fun_name`, e.g. ``"step"``).
        seconds: wall seconds spent in those compilations (cache lookups included).
        cache_hits: how many of them the persistent cache answered.
        seconds_saved: the compile seconds the cache hits saved, as JAX reports them.
    """

    def __init__(self) -> None:
        self.by_function: Counter[str] = Counter()
        self.seconds = 0.0
        self.cache_hits = 0
        self.seconds_saved = 0.0
        self._lock = threading.Lock()

    @property
    def total(self) -> int:
        """All compilations counted."""
        return sum(self.by_function.values())

    def count(self, name: str) -> int:
        """Compilations of functions named `name` (JAX may decorate it as ``jit(name)``)."""
        return sum(n for f, n in self.by_function.items() if f == name or f in (f"jit({name})", f"pjit({name})"))

    def _on_duration(self, event: str, duration_secs: float, **kwargs: Any) -> None:
        with self._lock:
            if event == _COMPILE_EVENT:
                self.by_function[str(kwargs.get("fun_name", "?"))] += 1
                self.seconds += duration_secs
            elif event == _SAVED_EVENT:
                self.seconds_saved += duration_secs

    def _on_event(self, event: str, **kwargs: Any) -> None:
        if event == _HIT_EVENT:
            with self._lock:
                self.cache_hits += 1

    def __enter__(self) -> CompileCounter:
        from jax import monitoring

        monitoring.register_event_duration_secs_listener(self._on_duration)
        monitoring.register_event_listener(self._on_event)
        return self

    def __exit__(self, *exc: object) -> None:
        from jax import monitoring

        for name, fn in (("unregister_event_duration_listener", self._on_duration),
                         ("unregister_event_listener", self._on_event)):
            unregister = getattr(monitoring, name, None)  # absent before JAX 0.4.36
            if unregister is not None:
                try:
                    unregister(fn)
                except (AssertionError, ValueError):  # already gone
                    pass
