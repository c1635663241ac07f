"""SHA-256 as a JAX operation.

`sha256` hashes every row of a uint8 array in one native custom call (CPU or CUDA), so it runs
inside `jax.jit` and under `vmap` and gives exactly `hashlib.sha256` digests. It is the hash of
the Fiat–Shamir transcript and of RFC 9380 hash-to-curve.

On the GPU each row is hashed by one thread: many short rows are fast, while one very long row
(megabytes) is sequential work for a single thread; hash long data in rows where the protocol
allows it.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import ffi

DIGEST_BYTES = 32

Array = jax.Array


def byte_rows(x: Any, name: str = "msgs") -> Any:
    """bytes, a list of equal-length bytes, or a uint8 array -> uint8 array (rows on the last axis).

    bytes give shape [L]; a list of n bytes objects gives [n, L]. Arrays keep their shape (and
    stay traced inside `jit`).
    """
    if isinstance(x, (bytes, bytearray, memoryview)):
        return np.frombuffer(bytes(x), dtype=np.uint8)
    if isinstance(x, (list, tuple)) and all(isinstance(m, (bytes, bytearray)) for m in x):
        if not x:
            raise ValueError(f"{name}: empty list of messages")
        lengths = {len(m) for m in x}
        if len(lengths) != 1:
            raise ValueError(
                f"{name}: messages in one call must have equal lengths, got lengths "
                f"{sorted(lengths)}"
            )
        return np.frombuffer(b"".join(bytes(m) for m in x), dtype=np.uint8).reshape(len(x), -1)
    if not hasattr(x, "dtype") or not hasattr(x, "shape"):
        raise TypeError(
            f"{name}: expected bytes, a list of bytes or a uint8 array, got {type(x).__name__}"
        )
    if x.dtype != jnp.uint8:
        raise TypeError(f"{name}: byte arrays must have dtype uint8, got {x.dtype}")
    if x.ndim < 1:
        raise ValueError(f"{name}: byte arrays need a trailing message axis, got a scalar")
    return x


def sha256(msgs: Any) -> Array:
    """SHA-256 of each row: uint8[..., L] -> uint8[..., 32] (any L >= 0, the same for all rows).

    Also accepts bytes (-> uint8[32]) and a list of equal-length bytes (-> uint8[n, 32]).
    jit-able and vmap-able.
    """
    m = byte_rows(msgs)
    batch = tuple(m.shape[:-1])
    out = jax.ShapeDtypeStruct(batch + (DIGEST_BYTES,), jnp.uint8)
    if int(np.prod(batch, dtype=np.int64)) == 0:
        return jnp.zeros(out.shape, jnp.uint8)
    return ffi.call("zk_sha256", out, jnp.asarray(m))
