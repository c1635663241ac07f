"""codecache.relieve: clears JAX's executables only above the map threshold, never while tracing."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

from zkllm_jax import codecache


@pytest.mark.skipif(codecache.map_usage() is None, reason="no /proc map count here")
def test_relieve_clears_above_threshold_only():
    usage = codecache.map_usage()
    assert 0 < usage < 1
    f = jax.jit(lambda a: a * 3 + 1)
    f(jnp.arange(5)).block_until_ready()
    assert f._cache_size() == 1
    assert not codecache.relieve(threshold=2.0)
    assert f._cache_size() == 1
    assert codecache.relieve(threshold=0.0)
    assert f._cache_size() == 0


def test_relieve_does_nothing_while_tracing():
    seen = []

    @jax.jit
    def g(a):
        seen.append(codecache.relieve(a, threshold=0.0))
        return a + 1

    g(jnp.arange(3)).block_until_ready()
    assert seen == [False]
