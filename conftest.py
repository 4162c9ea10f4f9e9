"""Test-session hygiene shared by the core's and every plugin's tests.

XLA's CPU backend maps each compiled executable into memory as several regions, and JAX keeps
every executable alive in its caches. The whole suite compiles thousands of them, which passes
Linux's default limit of 65,530 memory mappings per process (``vm.max_map_count``) about
two-thirds of the way through; the next compile or run then dies with a segmentation fault.
After each test module, once the count passes a third of the limit, the caches are dropped; a
later module that needs a function again compiles it again (or loads it from the persistent cache).

JAX's persistent compilation cache is on, as in the CLI (`archon_framework.enable_compilation_cache`:
`$ARCHON_COMPILATION_CACHE`, else ~/.cache/archon/jax; `ARCHON_COMPILATION_CACHE=off` for a cold
run), so a second run of the suite loads what the first compiled.
"""

from __future__ import annotations

import atexit
import gc
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

from archon_framework import enable_compilation_cache

enable_compilation_cache()
# Provenance is on by default: generated files are signed with a development certificate made on
# first use. Tests make theirs in a folder of their own, never in the user's ~/.config/archon.
# The folder goes when the session ends (every pytest run used to leave one behind in /tmp).
if "ARCHON_PROVENANCE_DIR" not in os.environ:
    os.environ["ARCHON_PROVENANCE_DIR"] = tempfile.mkdtemp(prefix="archon-provenance-")
    atexit.register(shutil.rmtree, os.environ["ARCHON_PROVENANCE_DIR"], ignore_errors=True)

_MAPS = Path("/proc/self/maps")  # Linux; other systems have no such limit to watch
_CLEAR_ABOVE = 20_000  # one module (the demo's integration test) adds up to ~20,000


def _mappings() -> int:
    with _MAPS.open("rb") as f:
        return sum(1 for _ in f)


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_executables():
    yield
    if _MAPS.exists() and _mappings() > _CLEAR_ABOVE:
        import jax

        jax.clear_caches()
        gc.collect()


# Hypothesis draws the same examples on every run (seeded by each test's name), so a red CI is a
# bug in the change, not a new random draw; `HYPOTHESIS_PROFILE=explore make test` draws fresh
# examples (10x as many where a test does not set its own count) to hunt for new failures.
# No per-example deadline: a test asserts behaviour, not time (speed lives in benchmarks/), and a
# first example that compiles, or a busy CI machine, would otherwise fail a correct test.
settings.register_profile("deterministic", derandomize=True, deadline=None)
settings.register_profile("explore", derandomize=False, max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))
