"""The persistent compilation cache (on by default, never fatal) and the compile counter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

from archon_framework import CompileCounter, default_compilation_cache_dir, enable_compilation_cache

_PROGRAM = textwrap.dedent("""
    import json, sys
    import jax, jax.numpy as jnp
    from archon_framework import CompileCounter, enable_compilation_cache
    enabled = enable_compilation_cache(sys.argv[1], min_compile_seconds=0.0)

    @jax.jit
    def archon_probe(x):
        return jnp.cumsum(jnp.sin(x) @ x.T, axis=0).sum()

    with CompileCounter() as compiles:
        value = float(archon_probe(jnp.arange(64.0).reshape(8, 8)))
    print(json.dumps({"enabled": str(enabled), "value": value, "compiles": compiles.count("archon_probe"),
                      "hits": compiles.cache_hits}))
""")


def _run(cache: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "ARCHON_COMPILATION_CACHE"}
    done = subprocess.run([sys.executable, "-c", _PROGRAM, str(cache)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_second_process_loads_what_the_first_compiled_and_a_corrupt_entry_recompiles(tmp_path):
    cache = tmp_path / "jax-cache"
    first = _run(cache)
    assert first["enabled"] == str(cache) and first["compiles"] == 1 and first["hits"] == 0
    assert any(cache.iterdir())
    second = _run(cache)
    assert second["hits"] >= 1 and second["value"] == first["value"]
    for entry in cache.rglob("*"):  # corrupt every entry: JAX warns and compiles again
        if entry.is_file():
            entry.write_bytes(b"not an executable")
    third = _run(cache)
    assert third["hits"] == 0 and third["value"] == first["value"]


def test_an_unwritable_cache_directory_warns_once_and_compiling_goes_on(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the directory should be")
    with pytest.warns(RuntimeWarning, match="not usable") as caught:
        assert enable_compilation_cache(blocked / "cache") is None
    assert str(blocked / "cache") in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert enable_compilation_cache(blocked / "cache") is None  # said once
    assert float(jax.jit(lambda x: x + 1)(jnp.float32(1))) == 2.0


def test_the_default_directory_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ARCHON_COMPILATION_CACHE", "off")
    assert default_compilation_cache_dir() is None
    assert enable_compilation_cache() is None
    monkeypatch.setenv("ARCHON_COMPILATION_CACHE", str(tmp_path / "c"))
    assert default_compilation_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("ARCHON_COMPILATION_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_compilation_cache_dir() == tmp_path / "xdg" / "archon" / "jax"


def test_the_counter_counts_each_function_per_shape():
    @jax.jit
    def counted_twice(x):
        return x * 3

    with CompileCounter() as compiles:
        counted_twice(jnp.ones(3))
        counted_twice(jnp.ones(3))
        counted_twice(jnp.ones(5))
    assert compiles.count("counted_twice") == 2 and compiles.seconds > 0
    counted_twice(jnp.ones(7))  # after the block: not counted
    assert compiles.count("counted_twice") == 2
