"""Test-session hygiene shared by the core's and every plugin's tests.

XLA's CPU backend maps each compiled executable into memory as several regions, and JAX keeps
every executable alive in its caches. The whole suite compiles thousands of them, which passes
Linux's default limit of 65,530 memory mappings per process (``vm.max_map_count``) about
two-thirds of the way through; the next compile or run then dies with a segmentation fault.
Dropping the caches after each test module keeps the count bounded; a module that needs a
function again compiles it again.
"""

from __future__ import annotations

import gc

import pytest


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_executables():
    yield
    import jax

    jax.clear_caches()
    gc.collect()
