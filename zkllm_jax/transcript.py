"""Fiat–Shamir transcript: an immutable value threaded through provers and verifiers.

A `Transcript` is a pytree holding one 32-byte SHA-256 chaining state. Every operation returns
a new transcript; nothing is mutated, so prover functions stay pure and `jax.jit`-able (hashing
runs in the native `zk_sha256` custom call on CPU and GPU).

Encoding (version 1, all integers big-endian; `lp(b)` = u32(len(b)) || b):

    new(label):         S0 = SHA256("zkllm-jax/transcript/v1" || lp(label))
    absorb:             S' = SHA256(0x01 || S || lp(label) || kind || u32(ndim) || u64(dim)*ndim
                                    || u64(len(payload)) || D(payload))
                        D(p) = p if len(p) <= 2^16, else
                        D(SHA256(0x04 || c_0) || ... || SHA256(0x04 || c_{k-1})), c_i the
                        2^16-byte chunks of p (the last one zero-padded)
    challenges(label, n):
                        S' = SHA256(0x02 || S || lp(label) || u32(n))
                        B_i = SHA256(0x03 || S' || u32(i))  for i = 0 .. 2n−1
                        c_j = int_be((B_2j || B_2j+1)[0:48]) mod r

kind: 0 raw bytes, 1 field elements, 2 G1 points, 3 unsigned integers (shapes, parameters).
Payloads: field elements as 32-byte little-endian canonical integers (not Montgomery), G1
points as 48-byte ZCash compressed encodings, integers as u64 big-endian; elements in row-major
order. The shape is absorbed with the payload, so `[a, b]` and `[[a], [b]]` differ.

Long payloads go through their chunks' digests (D) because a row of `hashing.sha256` is one
GPU thread's sequential work: a 7B model's logits at 2048 tokens (2.1 GB as field elements)
took 65 s hashed as one row on an H100. The chunks are hashed in parallel on either platform;
u64(len(payload)) fixes the chunking and the padding, so D is collision-resistant as SHA-256 is.
Payloads up to 2^16 bytes (every one of a test-sized proof) are absorbed as they are.

Reducing 384 uniform bits mod r (255 bits) leaves a statistical distance below 2^-128.

Domain separation: every protocol absorbs its name and its shapes first (see `begin`).

Mode. A transcript is zero-knowledge (the default) or plain, fixed when it is created and
absorbed first (`new` absorbs ints "zero-knowledge" = [1] or [0] right after the label), so a
proof made in one mode never verifies in the other. The mode is static pytree metadata
(`Transcript.zk`): the one sumcheck engine reads it and masks its round messages when it is on.

Host hashing. A verifier's transcript (no prover key) whose state and inputs are concrete arrays
in host memory hashes with `hashlib` on the host, converting small field payloads with Python
integers: the same bytes and states, without the XLA compilation per (label, shape) that the
jitted path pays (most of a first verification's time). Provers, traced values and arrays on an
accelerator take the jitted path.

Fused steps. `absorb_challenges` (absorb field elements, then squeeze challenges) gives the
bytes of the two steps; off the host it is one `zk_transcript_step` custom call (one device
thread: a few SHA-256 blocks) instead of about ten small ones, which is what a sumcheck round's
transcript work costs.

Prover randomness. A prover attaches its secret key with `with_rng(key)` (`prng`: 256 bits from
`prng.fresh()`); the key rides along as a pytree leaf and is never absorbed (a verifier's
transcript has none, and the same keyed transcript also verifies). `secret_key(purpose)` derives
fresh randomness from the key and the current state (as Merlin's transcript RNG does), so every
protocol instance draws independent masks without threading keys through every gadget. Hiding
is bounded by the key: 256 bits, or 64 for a JAX threefry key (tests).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from . import curve, ffi, field, hashing, prng

Array = jax.Array

DOMAIN = b"zkllm-jax/transcript/v1"
KIND_BYTES, KIND_FIELD, KIND_POINTS, KIND_INTS = 0, 1, 2, 3
CHALLENGE_BYTES = 48
CHUNK_BYTES = 1 << 16  # payloads longer than this are absorbed through their chunks' digests


def _lp(b: bytes) -> bytes:
    return len(b).to_bytes(4, "big") + b


def _label(label: bytes | str) -> bytes:
    if isinstance(label, str):
        label = label.encode()
    if not isinstance(label, (bytes, bytearray)):
        raise TypeError(f"transcript labels are bytes or str, got {type(label).__name__}")
    return bytes(label)


def field_bytes(x: Any) -> Array:
    """Fr[..., 8] -> uint8[..., 32]: little-endian canonical integers (jit-able)."""
    limbs = field.to_canonical_limbs(x)
    shifts = jnp.arange(4, dtype=jnp.uint32) * 8
    b = (limbs[..., :, None] >> shifts) & 0xFF
    return b.astype(jnp.uint8).reshape(limbs.shape[:-1] + (32,))


def bytes_to_field_be(b: Array) -> Array:
    """uint8[..., L] (L ≤ 64), a big-endian integer per row -> Fr[..., 8] reduced mod r."""
    n = b.shape[-1]
    if n > 64:
        raise ValueError(f"bytes_to_field_be: at most 64 bytes per element, got {n}")
    le = jnp.flip(b, axis=-1)
    le = jnp.pad(le, [(0, 0)] * (b.ndim - 1) + [(0, 64 - n)]).astype(jnp.uint32)
    le = le.reshape(b.shape[:-1] + (16, 4))
    words = le[..., 0] | (le[..., 1] << 8) | (le[..., 2] << 16) | (le[..., 3] << 24)
    return field.from_wide(words)


@struct.dataclass
class Transcript:
    """The chaining state (uint8[32]), the prover's key (or None) and the mode (static).

    Build with `Transcript.new(label, zk=...)`; a prover adds its key with `with_rng`.
    """

    state: Array
    rng: Array | None = None
    zk: bool = struct.field(pytree_node=False, default=True)

    @staticmethod
    def new(label: bytes | str, *, zk: bool = True) -> Transcript:
        """A fresh transcript for the protocol family `label`, zero-knowledge unless zk=False."""
        if not isinstance(zk, bool):
            raise TypeError(f"Transcript.new: zk must be a bool, got {type(zk).__name__}")
        digest = hashing.sha256(DOMAIN + _lp(_label(label)))
        t = Transcript(state=jnp.asarray(digest), zk=zk)
        return t.absorb_ints(b"zero-knowledge", [int(zk)])

    def with_rng(self, key: Array) -> Transcript:
        """This transcript carrying the prover's secret key (never absorbed; see `prng`)."""
        return self.replace(rng=key)

    def secret_key(self, purpose: int) -> Array:
        """Prover randomness for the next protocol step: the key folded with the state.

        Raises ValueError when no key is attached (a verifier's transcript, or a prover that
        forgot `with_rng`): a zero-knowledge prover must never run without fresh randomness.
        """
        if self.rng is None:
            raise ValueError("zero-knowledge proving needs prover randomness: attach a PRNG key "
                             "with transcript.with_rng(key), or use Transcript.new(..., zk=False)")
        return prng.secret(self.rng, int(purpose), self.state)

    def on_host(self, *xs: Any) -> bool:
        """Whether this transcript hashes on the host with these inputs (module docstring,
        "Host hashing")."""
        return self.rng is None and all(field.on_host(x) for x in (self.state, *xs))

    def absorb_bytes(self, label: bytes | str, data: Any) -> Transcript:
        """Absorb raw bytes (bytes or a uint8 array, flattened row-major)."""
        raw = hashing.byte_rows(data, "data")
        if self.on_host(raw):
            flat = np.asarray(raw, np.uint8).reshape(-1)
            meta = _meta(label, KIND_BYTES, (flat.shape[0],), flat.shape[0])
            return self.replace(state=_host_absorb(self.state, flat.tobytes(), meta))
        arr = jnp.asarray(raw).reshape(-1)
        meta = _meta(label, KIND_BYTES, (arr.shape[0],), arr.shape[0])
        return self.replace(state=_absorb_payload(self.state, arr, meta))

    def absorb_field(self, label: bytes | str, x: Any) -> Transcript:
        """Absorb field elements Fr[..., 8] (canonical bytes, shape included)."""
        _check_shape(x, (field.LIMBS,), "field elements", "uint32[..., 8]")
        meta = _meta(label, KIND_FIELD, x.shape[:-1], 32 * (x.size // field.LIMBS))
        if x.size // field.LIMBS <= field.HOST_MAX and self.on_host(x):
            host = np.asarray(x)
            # limbs >= r would be reduced silently (as the jitted path, which cannot raise, does):
            # refuse them, so one value has one encoding
            field.check_canonical_host(host, "transcript: field elements")
            ints = field.ints_of_mont(host).reshape(-1)
            payload = b"".join(int(v).to_bytes(32, "little") for v in ints)
            return self.replace(state=_host_absorb(self.state, payload, meta))
        return self.replace(state=_absorb_field(self.state, x, meta))

    def absorb_points(self, label: bytes | str, p: Any) -> Transcript:
        """Absorb G1 points uint32[..., 3, 12] (compressed encodings, shape included)."""
        _check_shape(p, (3, curve.FP_LIMBS), "points", "uint32[..., 3, 12]")
        meta = _meta(label, KIND_POINTS, p.shape[:-2], 48 * (p.size // (3 * curve.FP_LIMBS)))
        if self.on_host(p):  # the encoding is one native call, the hashing is hashlib's
            enc = np.asarray(curve.to_compressed(p), np.uint8)
            return self.replace(state=_host_absorb(self.state, enc.tobytes(), meta))
        return self.replace(state=_absorb_points(self.state, p, meta))

    def absorb_ints(self, label: bytes | str, values: Sequence[int]) -> Transcript:
        """Absorb static non-negative integers (shapes, parameters, flags) as u64 big-endian."""
        vals = [int(v) for v in values]
        if any(v < 0 or v >= 1 << 64 for v in vals):
            raise ValueError(f"absorb_ints: values must be in [0, 2^64), got {vals}")
        payload = b"".join(v.to_bytes(8, "big") for v in vals)
        meta = _meta(label, KIND_INTS, (len(vals),), len(payload))
        if self.on_host():
            return self.replace(state=_host_absorb(self.state, payload, meta))
        return self.replace(state=_absorb_payload(self.state, np.frombuffer(payload, np.uint8),
                                                  meta))

    def begin(self, protocol: bytes | str, shapes: Sequence[int]) -> Transcript:
        """Domain separation: absorb a protocol's name and its static shapes/parameters."""
        return self.absorb_bytes(b"protocol", _label(protocol)).absorb_ints(b"shape", shapes)

    def fork(self, label: bytes | str, index: int) -> Transcript:
        """The independent branch `index` of this transcript (parallel sub-proofs).

        Branches of one state differ only in (label, index), so sub-proofs drawn from them can
        be made in any order or on different devices; `join` binds their ends back together.
        """
        return self.absorb_ints(b"fork/" + _label(label), [int(index)])

    def join(self, label: bytes | str, branches: Sequence[Transcript]) -> Transcript:
        """This transcript after absorbing the final states of `branches`, in order."""
        if not branches:
            raise ValueError("join: no branches")
        states = jnp.stack([jnp.asarray(b.state, jnp.uint8).reshape(32) for b in branches])
        return self.absorb_bytes(b"join/" + _label(label), states)

    def challenges(self, label: bytes | str, n: int) -> tuple[Array, Transcript]:
        """n field challenges Fr[n, 8] and the next transcript."""
        if n < 1:
            raise ValueError(f"challenges: n must be >= 1, got {n}")
        meta = _lp(_label(label)) + int(n).to_bytes(4, "big")
        if self.on_host():
            c, state = _host_challenges(self.state, meta, int(n))
        else:
            c, state = _challenges(self.state, meta, int(n))
        return c, self.replace(state=state)

    def challenge(self, label: bytes | str) -> tuple[Array, Transcript]:
        """One field challenge Fr[8] and the next transcript."""
        c, t = self.challenges(label, 1)
        return c[0], t

    def absorb_challenges(self, label: bytes | str, x: Any, challenge_label: bytes | str,
                          n: int = 1) -> tuple[Array, Transcript]:
        """`absorb_field(label, x)` then `challenges(challenge_label, n)`: the same challenges
        and state. Off the host, a payload up to CHUNK_BYTES takes one native call (the
        `zk_transcript_step` custom call) instead of the ten or so small ones of the two steps:
        a sumcheck round's whole transcript work."""
        _check_shape(x, (field.LIMBS,), "field elements", "uint32[..., 8]")
        k = x.size // field.LIMBS
        if n < 1 or 32 * k > CHUNK_BYTES or (k <= field.HOST_MAX and self.on_host(x)):
            return self.absorb_field(label, x).challenges(challenge_label, n)
        meta = _meta(label, KIND_FIELD, x.shape[:-1], 32 * k)
        squeeze = _lp(_label(challenge_label)) + int(n).to_bytes(4, "big")
        state, c = _absorb_challenges(self.state, x, meta, squeeze, int(n))
        return c, self.replace(state=state)


def _meta(label: bytes | str, kind: int, shape: Sequence[int], nbytes: int) -> bytes:
    """The static part of an absorb after the state: label, kind, shape, payload length."""
    shape = tuple(int(d) for d in shape)
    return (
        _lp(_label(label))
        + bytes([kind])
        + len(shape).to_bytes(4, "big")
        + b"".join(d.to_bytes(8, "big") for d in shape)
        + int(nbytes).to_bytes(8, "big")
    )


def _check_shape(x: Any, tail: tuple[int, ...], what: str, spelled: str) -> None:
    if not hasattr(x, "dtype") or x.dtype != jnp.uint32 or tuple(x.shape[-len(tail):]) != tail:
        raise TypeError(f"transcript: {what} must be {spelled}, got "
                        f"{getattr(x, 'dtype', type(x).__name__)}{tuple(getattr(x, 'shape', ()))}")
    if x.size == 0:
        raise ValueError(f"transcript: empty array of {what}")


def _host_absorb(state: Any, payload: bytes, meta: bytes) -> Array:
    """`_absorb_payload` with hashlib on the host."""
    while len(payload) > CHUNK_BYTES:  # D(payload), as `_digest_long`
        k = -(-len(payload) // CHUNK_BYTES)
        payload = payload.ljust(k * CHUNK_BYTES, b"\0")
        payload = b"".join(hashlib.sha256(b"\x04" + payload[i * CHUNK_BYTES:(i + 1) * CHUNK_BYTES])
                           .digest() for i in range(k))
    body = b"\x01" + np.asarray(state, np.uint8).tobytes() + meta + payload
    return jnp.asarray(np.frombuffer(hashlib.sha256(body).digest(), np.uint8))


def _host_challenges(state: Any, meta: bytes, n: int) -> tuple[Array, Array]:
    """`_challenges` with hashlib on the host."""
    st = hashlib.sha256(b"\x02" + np.asarray(state, np.uint8).tobytes() + meta).digest()
    blocks = [hashlib.sha256(b"\x03" + st + i.to_bytes(4, "big")).digest() for i in range(2 * n)]
    vals = [int.from_bytes((blocks[2 * j] + blocks[2 * j + 1])[:CHALLENGE_BYTES], "big")
            for j in range(n)]
    return (jnp.asarray(field.mont_limbs(vals).reshape(n, field.LIMBS)),
            jnp.asarray(np.frombuffer(st, np.uint8)))


# The hashing steps are jitted with their static header, so eager callers (verifiers) pay one
# compilation per shape instead of one per elementwise operation.
@functools.partial(jax.jit, static_argnums=(2,))
def _absorb_payload(state: Array, payload: Array, meta: bytes) -> Array:
    head = jnp.asarray(np.frombuffer(b"\x01", np.uint8))
    tail = jnp.asarray(np.frombuffer(meta, np.uint8))
    return hashing.sha256(jnp.concatenate([head, state, tail,
                                           _digest_long(jnp.asarray(payload, jnp.uint8))]))


def _digest_long(payload: Array) -> Array:
    """D(payload) of the module docstring: the payload itself up to CHUNK_BYTES, else its
    chunks' digests (recursively)."""
    while payload.shape[0] > CHUNK_BYTES:
        k = -(-payload.shape[0] // CHUNK_BYTES)
        rows = jnp.pad(payload, (0, k * CHUNK_BYTES - payload.shape[0])).reshape(k, CHUNK_BYTES)
        rows = jnp.concatenate([jnp.full((k, 1), 4, jnp.uint8), rows], axis=1)
        payload = hashing.sha256(rows).reshape(-1)
    return payload


@functools.partial(jax.jit, static_argnums=(2,))
def _absorb_field(state: Array, x: Array, meta: bytes) -> Array:
    return _absorb_payload(state, field_bytes(x).reshape(-1), meta)


@functools.partial(jax.jit, static_argnums=(2,))
def _absorb_points(state: Array, p: Array, meta: bytes) -> Array:
    return _absorb_payload(state, curve.to_compressed(p).reshape(-1), meta)


@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _absorb_challenges(state: Array, x: Array, meta: bytes, squeeze: bytes, n: int
                       ) -> tuple[Array, Array]:
    outs = (jax.ShapeDtypeStruct((32,), jnp.uint8),
            jax.ShapeDtypeStruct((n, field.LIMBS), jnp.uint32))
    return ffi.call("zk_transcript_step", outs, jnp.asarray(state, jnp.uint8).reshape(32),
                    x.reshape(-1, field.LIMBS), np.frombuffer(meta, np.uint8),
                    np.frombuffer(squeeze, np.uint8))


@functools.partial(jax.jit, static_argnums=(1, 2))
def _challenges(state: Array, meta: bytes, n: int) -> tuple[Array, Array]:
    head = jnp.asarray(np.frombuffer(b"\x02", np.uint8))
    state = hashing.sha256(
        jnp.concatenate([head, state, jnp.asarray(np.frombuffer(meta, np.uint8))])
    )
    counters = np.arange(2 * n, dtype=">u4").view(np.uint8).reshape(2 * n, 4)
    rows = jnp.concatenate(
        [jnp.full((2 * n, 1), 3, jnp.uint8), jnp.broadcast_to(state, (2 * n, 32)),
         jnp.asarray(counters)],
        axis=1,
    )
    blocks = hashing.sha256(rows).reshape(n, 64)[:, :CHALLENGE_BYTES]
    return bytes_to_field_be(blocks), state
