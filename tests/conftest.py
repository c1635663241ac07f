"""Shared test helpers: conversions between our arrays and independent implementations."""

from __future__ import annotations

import gc
import os
import random

import jax
import pytest

# `cli.main` turns on a persistent compilation cache under ~/.cache unless told otherwise; the
# tests that call it in-process must not change this process's JAX options or write there (the
# CLI subprocess tests name their own cache through JAX's options, which win).
os.environ.setdefault("ZKLLM_JAX_CACHE", "off")


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
