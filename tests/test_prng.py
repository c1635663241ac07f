"""prng: 256-bit prover keys expanded with SHA-256, checked against hashlib."""

from __future__ import annotations

import hashlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from zkllm_jax import field, prng


def _b(words) -> bytes:
    return np.asarray(words).astype("<u4").tobytes()


def _c(i: int) -> bytes:
    return i.to_bytes(4, "big")


def test_fresh_keys_are_256_bit_and_distinct():
    a, b = prng.fresh(), prng.fresh()
    assert a.shape == (8,) and a.dtype == jnp.uint32 and _b(a) != _b(b)


def test_split_fold_bits_match_hashlib():
    k = prng.fresh()
    kb = _b(k)
    s = np.asarray(prng.split(k, 3))
    assert s.shape == (3, 8)
    for i in range(3):
        assert _b(s[i]) == hashlib.sha256(b"zkllm/prng/split" + kb + _c(i)).digest()
    assert _b(prng.fold_in(k, 7)) == hashlib.sha256(b"zkllm/prng/fold" + kb + _c(7)).digest()
    w = np.asarray(prng.bits(k, (3, 5)))
    ref = b"".join(hashlib.sha256(b"zkllm/prng/bits" + kb + _c(j)).digest() for j in range(2))
    assert w.shape == (3, 5) and _b(w.reshape(-1)) == ref[:60]


def test_jax_keys_are_widened_by_a_hash():
    raw = jax.random.PRNGKey(5)
    want = hashlib.sha256(b"zkllm/prng/64" + _b(raw)).digest()
    assert _b(prng.as_key(raw)) == want
    assert _b(prng.as_key(jax.random.key(5))) == want  # a typed threefry key: same bits


def test_traced_and_batched_calls_agree_with_eager():
    k = prng.fresh()
    eager = np.asarray(prng.fold_in(k, 9))
    assert np.array_equal(np.asarray(jax.jit(prng.fold_in)(k, jnp.uint32(9))), eager)
    batched = jax.vmap(lambda d: prng.fold_in(k, d))(jnp.arange(10, dtype=jnp.uint32))
    assert np.array_equal(np.asarray(batched[9]), eager)


def test_random_field_elements_use_512_bits_each():
    k = prng.fresh()
    x = field.random(k, (4,))
    assert np.array_equal(np.asarray(x), np.asarray(field.from_wide(prng.bits(k, (4, 16)))))
    assert len({bytes(np.asarray(r)) for r in x}) == 4


def test_bad_keys_are_named():
    with pytest.raises(TypeError, match=r"uint32\[8\].*int32\(8,\)"):
        prng.split(jnp.zeros(8, jnp.int32))
    with pytest.raises(TypeError, match=r"uint32\(4,\)"):
        prng.split(jnp.zeros(4, jnp.uint32))
    with pytest.raises(ValueError, match="2\\^32"):
        prng.fold_in(prng.fresh(), -1)
    with pytest.raises(ValueError, match="32 bytes, got 5"):
        prng.from_bytes(b"short")
