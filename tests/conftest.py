"""Shared test helpers: conversions between our arrays and independent implementations."""

from __future__ import annotations

import gc
import random

import jax
import pytest


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
