"""Shared test helpers: conversions between our arrays and independent implementations."""

from __future__ import annotations

import atexit
import gc
import os
import random
import shutil
import tempfile

import jax
import pytest

# `cli.main` turns on a persistent compilation cache under ~/.cache unless told otherwise; the
# tests that call it in-process must not change this process's JAX options or write there (the
# CLI subprocess tests name their own cache through JAX's options, which win).
os.environ.setdefault("ZKLLM_JAX_CACHE", "off")

# A persistent compilation cache of this test session's own (a fresh temporary folder, removed
# at exit): the per-module clearing below drops every executable, and without it each module
# recompiled the same eager ops (thousands, ~0.1 s each on 2 cores) and the same sumcheck, lookup
# and opening programs. Every executable is written, as `zkllm` does (cli._enable_compilation_cache).
_XLA_CACHE = tempfile.mkdtemp(prefix="zkllm-test-xla-")
atexit.register(shutil.rmtree, _XLA_CACHE, ignore_errors=True)
jax.config.update("jax_compilation_cache_dir", _XLA_CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


@pytest.fixture(scope="module", autouse=True)
def _fresh_jax_caches():
    """Drop JAX's compiled executables after each test module: the default suite runs in one
    process, and thousands of eager-op executables (each with its own code mappings) piled up
    until XLA's compiler crashed in a late module in a CI dry run."""
    yield
    jax.clear_caches()
    gc.collect()


@pytest.fixture
def rng() -> random.Random:
    return random.Random(0x5EED)
