"""The prover's secret randomness: 256-bit keys expanded with SHA-256.

Zero knowledge is only as strong as the randomness of the masks and blinds. JAX's threefry keys
hold 64 bits, so a proof made from one would hide its witness against at most 2^64 work; these
keys are 256 bits (`fresh()` reads them from `os.urandom`), and every derived value is a
SHA-256 of (domain label, key, counter) — SHA-256 as a PRF, the hash the transcript already uses.

A key is uint32[8] (its bytes are the words little-endian). The functions also take a JAX
threefry key (uint32[2], or a typed key) and first widen it with a hash, so tests and benchmarks
may pass `jax.random.PRNGKey(n)`; such a key still holds only its 64 bits of entropy. All
functions run under `jax.jit` (the hash is the native `hashing.sha256` custom call).

Encodings (pinned against hashlib in tests/test_prng.py), with c a 4-byte big-endian counter:
    widen(k64)        = SHA-256("zkllm/prng/64"     || k64 bytes)
    split(k, n)[i]    = SHA-256("zkllm/prng/split"  || k || c(i))
    fold_in(k, d)     = SHA-256("zkllm/prng/fold"   || k || c(d))
    bits(k, shape)    = words of SHA-256("zkllm/prng/bits" || k || c(j)), j = 0, 1, …
    secret(k, p, s)   = SHA-256("zkllm/prng/secret" || k || c(p) || transcript state s)
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import hashing

KEY_WORDS = 8

Array = jax.Array

_WIDEN = b"zkllm/prng/64"
_SPLIT = b"zkllm/prng/split"
_FOLD = b"zkllm/prng/fold"
_BITS = b"zkllm/prng/bits"
_SECRET = b"zkllm/prng/secret"


def fresh() -> Array:
    """A new 256-bit key from the operating system's randomness."""
    return from_bytes(os.urandom(4 * KEY_WORDS))


def from_bytes(data: bytes) -> Array:
    """The key uint32[8] whose bytes (words little-endian) are `data` (32 bytes)."""
    if len(data) != 4 * KEY_WORDS:
        raise ValueError(f"prng.from_bytes: a key is {4 * KEY_WORDS} bytes, got {len(data)}")
    return jnp.asarray(np.frombuffer(bytes(data), "<u4").astype(np.uint32))


def as_key(key: Any) -> Array:
    """uint32[8]: `key` itself, or a JAX key (uint32[2] or typed) widened by a hash.

    Raises TypeError naming the shape and dtype of anything else.
    """
    if isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    dtype, shape = getattr(key, "dtype", None), tuple(getattr(key, "shape", ()))
    if dtype != np.uint32 or shape not in ((KEY_WORDS,), (2,)):
        raise TypeError(f"prover randomness: expected a key uint32[{KEY_WORDS}] (prng.fresh()) "
                        f"or a JAX PRNG key uint32[2], got {dtype}{shape}")
    return _widen(key) if shape == (2,) else jnp.asarray(key)


def split(key: Any, n: int = 2) -> Array:
    """n independent keys uint32[n, 8]."""
    return _split(as_key(key), int(n))


def fold_in(key: Any, data: Any) -> Array:
    """The key for `data` (an int in [0, 2^32) or a uint32 scalar, possibly traced) under `key`."""
    if isinstance(data, (int, np.integer)) and not 0 <= int(data) < 1 << 32:
        raise ValueError(f"prng.fold_in: data must be in [0, 2^32), got {int(data)}")
    return _fold(as_key(key), jnp.asarray(data).astype(jnp.uint32))


def bits(key: Any, shape: Sequence[int]) -> Array:
    """Uniform words uint32[shape]."""
    return _bits(as_key(key), tuple(int(d) for d in shape))


def secret(key: Any, purpose: int, state: Any) -> Array:
    """The key for one protocol step: `key` bound to a transcript state (uint8[32]) and a purpose."""
    return _secret(as_key(key), jnp.asarray(state, jnp.uint8).reshape(32),
                   jnp.uint32(int(purpose)))


def _key_bytes(key: Array) -> Array:
    return jax.lax.bitcast_convert_type(key, jnp.uint8).reshape(key.shape[:-1] + (4 * KEY_WORDS,))


def _counter(c: Array) -> Array:
    """uint8[..., 4]: c (uint32) big-endian."""
    c = c.astype(jnp.uint32)[..., None]
    return ((c >> jnp.array([24, 16, 8, 0], jnp.uint32)) & 0xFF).astype(jnp.uint8)


def _hash(label: bytes, *parts: Array) -> Array:
    """SHA-256 of label || parts (uint8 rows, broadcast over leading axes) as words uint32[..., 8]."""
    lead = jnp.broadcast_shapes(*(p.shape[:-1] for p in parts))
    rows = [jnp.broadcast_to(jnp.asarray(np.frombuffer(label, np.uint8)), lead + (len(label),))]
    rows += [jnp.broadcast_to(p, lead + p.shape[-1:]) for p in parts]
    digest = hashing.sha256(jnp.concatenate(rows, axis=-1))
    return jax.lax.bitcast_convert_type(digest.reshape(lead + (KEY_WORDS, 4)), jnp.uint32)


@jax.jit
def _widen(k64: Array) -> Array:
    return _hash(_WIDEN, jax.lax.bitcast_convert_type(k64, jnp.uint8).reshape(8))


@functools.partial(jax.jit, static_argnums=1)
def _split(key: Array, n: int) -> Array:
    return _hash(_SPLIT, _key_bytes(key)[None], _counter(jnp.arange(n, dtype=jnp.uint32)))


@jax.jit
def _fold(key: Array, data: Array) -> Array:
    return _hash(_FOLD, _key_bytes(key), _counter(data))


@functools.partial(jax.jit, static_argnums=1)
def _bits(key: Array, shape: tuple[int, ...]) -> Array:
    count = math.prod(shape)
    blocks = max(1, -(-count // KEY_WORDS))
    words = _hash(_BITS, _key_bytes(key)[None], _counter(jnp.arange(blocks, dtype=jnp.uint32)))
    return words.reshape(-1)[:count].reshape(shape)


@jax.jit
def _secret(key: Array, state: Array, purpose: Array) -> Array:
    return _hash(_SECRET, _key_bytes(key), _counter(purpose), state)
