"""SHA-256 custom call against hashlib."""

from __future__ import annotations

import hashlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from zkllm_jax import hashing

# Padding boundaries: 55/56 (length field fits or spills), 64 (one block), 119/120, 128, long.
LENGTHS = [0, 1, 3, 31, 32, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4099]


def ref(rows: np.ndarray) -> np.ndarray:
    flat = rows.reshape(int(np.prod(rows.shape[:-1])), rows.shape[-1])
    out = [np.frombuffer(hashlib.sha256(r.tobytes()).digest(), np.uint8) for r in flat]
    return np.stack(out).reshape(rows.shape[:-1] + (32,))


@pytest.mark.parametrize("length", LENGTHS)
def test_matches_hashlib(length):
    rows = np.random.default_rng(length).integers(0, 256, (3, length), dtype=np.uint8)
    np.testing.assert_array_equal(np.asarray(hashing.sha256(rows)), ref(rows))


def test_random_lengths_and_batch_shapes(rng):
    for _ in range(12):
        length = rng.randrange(0, 300)
        shape = (rng.randrange(1, 4), rng.randrange(1, 4), length)
        rows = np.random.default_rng(length).integers(0, 256, shape, dtype=np.uint8)
        got = hashing.sha256(jnp.asarray(rows))
        assert got.shape == shape[:-1] + (32,) and got.dtype == jnp.uint8
        np.testing.assert_array_equal(np.asarray(got), ref(rows))


def test_bytes_inputs():
    assert bytes(np.asarray(hashing.sha256(b"abc"))) == hashlib.sha256(b"abc").digest()
    assert bytes(np.asarray(hashing.sha256(b""))) == hashlib.sha256(b"").digest()
    got = np.asarray(hashing.sha256([b"ab", b"cd"]))
    assert [bytes(r) for r in got] == [hashlib.sha256(m).digest() for m in (b"ab", b"cd")]


def test_known_answer():
    # FIPS 180-4 example "abc" (independent of hashlib).
    want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert bytes(np.asarray(hashing.sha256(b"abc"))).hex() == want


def test_jit_and_vmap():
    rows = np.random.default_rng(1).integers(0, 256, (4, 5, 70), dtype=np.uint8)
    want = ref(rows)
    f = jax.jit(hashing.sha256)
    np.testing.assert_array_equal(np.asarray(f(rows)), want)
    np.testing.assert_array_equal(np.asarray(jax.vmap(hashing.sha256)(rows)), want)
    np.testing.assert_array_equal(
        np.asarray(jax.vmap(hashing.sha256, in_axes=1, out_axes=1)(rows)), want
    )
    # Digests feed further traced computation (as a transcript does).
    g = jax.jit(lambda m: hashing.sha256(hashing.sha256(m)))
    np.testing.assert_array_equal(np.asarray(g(rows)), ref(want))


def test_empty_batch():
    assert hashing.sha256(np.zeros((0, 5), np.uint8)).shape == (0, 32)


def test_bad_inputs():
    with pytest.raises(TypeError, match="uint8"):
        hashing.sha256(np.zeros((2, 4), np.int32))
    with pytest.raises(ValueError, match="scalar"):
        hashing.sha256(np.uint8(3))
    with pytest.raises(ValueError, match="equal lengths"):
        hashing.sha256([b"a", b"bc"])
    with pytest.raises(TypeError, match="bytes"):
        hashing.sha256("abc")
