"""BLS12-381 G1 as JAX arrays.

A point is `uint32[..., 3, 12]`: Jacobian (X, Y, Z) with each coordinate as twelve little-endian
32-bit limbs of its Montgomery form; Z = 0 is the identity. A point has many Jacobian forms, so
compare points with `eq` or through `to_compressed`, never by their limbs. Every function is
jit-able and vmap-able and runs in native custom calls.

Points made by this module (generators, hash_to_curve, from_compressed, from_affine, arithmetic)
are valid by construction; raw arrays from elsewhere go through `validate` first.
"""

from __future__ import annotations

import hashlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import ffi, field, hashing

P = 0x1A0111EA397FE69A4B1BA7B6434BACD764774B84F38512BF6730D2A0F6B0F6241EABFFFEB153FFFFB9FEFFFFFFFFAAAB
R = field.R
FP_LIMBS = 12
_MONT = 1 << 384
GEN_X = 0x17F1D3A73197D7942695638C4FA9AC0FC3688C4F9774B905A14E3A3F171BAC586C55E83FF97A1AEFFB3AF00ADB22C6BB
GEN_Y = 0x08B3F481E3AAA0F1A09E30ED741D8AE4FCF5E095D5D00AF600DB18CB2C04B3EDD03CC744A2888AE40CAA232946C5E7E1

Array = jax.Array
_VALIDATE_ERRORS = {
    1: "a coordinate is not a canonical Fp element (limbs >= p)",
    2: "the point is not on the curve y^2 = x^3 + 4",
    3: "the point is not in the prime-order subgroup",
}


def check(p: Any, name: str = "p") -> Array:
    """Shape and dtype check of a point array (uint32[..., 3, 12], not empty)."""
    if not hasattr(p, "dtype") or not hasattr(p, "shape"):
        raise TypeError(f"{name}: expected a uint32[..., 3, 12] point array, got {type(p).__name__}")
    if p.dtype != jnp.uint32:
        raise TypeError(f"{name}: point arrays are uint32[..., 3, 12], got dtype {p.dtype}")
    if p.ndim < 2 or tuple(p.shape[-2:]) != (3, FP_LIMBS):
        raise ValueError(f"{name}: point arrays are uint32[..., 3, 12], got shape {tuple(p.shape)}")
    if p.size == 0:
        raise ValueError(f"{name}: empty point array (shape {tuple(p.shape)})")
    return jnp.asarray(p)


def _out(batch: tuple[int, ...]) -> jax.ShapeDtypeStruct:
    return jax.ShapeDtypeStruct(batch + (3, FP_LIMBS), jnp.uint32)


def _fp_limbs(v: int) -> np.ndarray:
    return np.frombuffer((v * _MONT % P).to_bytes(48, "little"), dtype="<u4").astype(np.uint32)


def _fp_int(limbs: np.ndarray) -> int:
    return int.from_bytes(np.ascontiguousarray(limbs, dtype="<u4").tobytes(), "little") * pow(
        _MONT, -1, P
    ) % P


def from_affine(x: Any, y: Any, validate_points: bool = True) -> Array:
    """Affine integer coordinates (Python ints or sequences of them) -> points, validated.

    The pair (None, None) or (0, 0) is not the identity here; use `identity()`.
    """
    xs = np.asarray(x, dtype=object)
    ys = np.asarray(y, dtype=object)
    if xs.shape != ys.shape:
        raise ValueError(f"from_affine: x and y shapes differ: {xs.shape} vs {ys.shape}")
    flat = np.empty((xs.size, 3, FP_LIMBS), dtype=np.uint32)
    for i, (a, b) in enumerate(zip(xs.reshape(-1), ys.reshape(-1))):
        a, b = int(a), int(b)
        if not (0 <= a < P and 0 <= b < P):
            raise ValueError(f"from_affine: coordinate out of range [0, p) at index {i}")
        flat[i] = (_fp_limbs(a), _fp_limbs(b), _fp_limbs(1))
    pts = jnp.asarray(flat.reshape(xs.shape + (3, FP_LIMBS)))
    return validate(pts) if validate_points else pts


def to_affine(p: Any) -> list[tuple[int, int] | None]:
    """Points -> list of affine (x, y) Python ints, None for the identity (host, concrete)."""
    p = np.asarray(check(p)).reshape(-1, 3, FP_LIMBS)
    out: list[tuple[int, int] | None] = []
    for x, y, z in p:
        zi = _fp_int(z)
        if zi == 0:
            out.append(None)
            continue
        zinv = pow(zi, -1, P)
        out.append((_fp_int(x) * zinv**2 % P, _fp_int(y) * zinv**3 % P))
    return out


def generator(shape: tuple[int, ...] = ()) -> Array:
    """The standard G1 generator, broadcast to `shape`."""
    g = np.stack([_fp_limbs(GEN_X), _fp_limbs(GEN_Y), _fp_limbs(1)])
    return jnp.broadcast_to(jnp.asarray(g), tuple(shape) + (3, FP_LIMBS))


def identity(shape: tuple[int, ...] = ()) -> Array:
    """The identity (Z = 0), broadcast to `shape`."""
    o = np.stack([_fp_limbs(1), _fp_limbs(1), np.zeros(FP_LIMBS, np.uint32)])
    return jnp.broadcast_to(jnp.asarray(o), tuple(shape) + (3, FP_LIMBS))


def validate(p: Any, name: str = "p") -> Array:
    """Reject points with non-canonical limbs, off the curve, or outside the subgroup.

    Needs a concrete array (the check raises); returns the array unchanged.
    """
    p = check(p, name)
    if isinstance(p, jax.core.Tracer):
        raise TypeError("validate needs a concrete array; call it outside jax.jit")
    status = np.asarray(status_of(p))
    bad = np.flatnonzero(status)  # flat, so a single point (status of shape ()) is covered too
    if bad.size:
        idx = tuple(int(i) for i in np.unravel_index(bad[0], status.shape))
        raise ValueError(f"{name}: invalid point at index {idx}: {_VALIDATE_ERRORS[int(status[idx])]}")
    return p


def status_of(p: Any) -> Array:
    """Per-point validity code (0 valid, 1 bad limbs, 2 off curve, 3 wrong subgroup); jit-able."""
    p = check(p)
    return ffi.call("zk_g1_validate", jax.ShapeDtypeStruct(p.shape[:-2] + (1,), jnp.uint32), p)[
        ..., 0
    ]


def _binary(target: str, a: Any, b: Any) -> Array:
    a, b = check(a, "a"), check(b, "b")
    batch = jnp.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = jnp.broadcast_to(a, batch + (3, FP_LIMBS))
    b = jnp.broadcast_to(b, batch + (3, FP_LIMBS))
    return ffi.call(target, _out(batch), a, b)


def add(a: Any, b: Any) -> Array:
    """a + b, broadcasting over batch axes."""
    return _binary("zk_g1_add", a, b)


def sub(a: Any, b: Any) -> Array:
    """a - b."""
    return add(a, neg(b))


def double(a: Any) -> Array:
    """2a."""
    a = check(a, "a")
    return ffi.call("zk_g1_double", _out(a.shape[:-2]), a)


def neg(a: Any) -> Array:
    """-a."""
    a = check(a, "a")
    return ffi.call("zk_g1_neg", _out(a.shape[:-2]), a)


def eq(a: Any, b: Any) -> Array:
    """Point equality (bool array), independent of the Jacobian representative."""
    a, b = check(a, "a"), check(b, "b")
    batch = jnp.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = jnp.broadcast_to(a, batch + (3, FP_LIMBS))
    b = jnp.broadcast_to(b, batch + (3, FP_LIMBS))
    out = ffi.call("zk_g1_eq", jax.ShapeDtypeStruct(batch + (1,), jnp.uint32), a, b)
    return out[..., 0].astype(bool)


def _scalars(k: Any) -> Array:
    if isinstance(k, (int, np.integer)) or (
        isinstance(k, np.ndarray) and (k.dtype == object or k.dtype.kind in "iu")
    ):
        return field.encode(k)
    return field.check(k, "k")


def scalar_mul(p: Any, k: Any) -> Array:
    """k·p elementwise; k is a field array (uint32[..., 8]) or integers, broadcast with p."""
    p, k = check(p, "p"), _scalars(k)
    batch = jnp.broadcast_shapes(p.shape[:-2], k.shape[:-1])
    p = jnp.broadcast_to(p, batch + (3, FP_LIMBS))
    k = jnp.broadcast_to(k, batch + (field.LIMBS,))
    return ffi.call("zk_g1_scalar_mul", _out(batch), p, k)


# the small-scalar path's bound per dtype: every |x| <= 2^(bits - 1)
_SMALL_BITS = {jnp.dtype(jnp.int32): 32, jnp.dtype(jnp.int16): 16, jnp.dtype(jnp.int8): 8,
               jnp.dtype(jnp.uint16): 17, jnp.dtype(jnp.uint8): 9, jnp.dtype(jnp.bool_): 2}


def msm(points: Any, scalars: Any, bits: int | None = None) -> Array:
    """Σ_i scalars[..., i]·points[..., i] (Pippenger, signed windows).

    points: uint32[..., n, 3, 12]; scalars: field elements uint32[..., n, 8], or int32[..., n]
    (or narrower) for the small-scalar path (weights, digits, multiplicities), which needs ~8x
    fewer windows. Batch axes broadcast; a points array without batch axes is shared by every
    MSM of the batch (Hyrax row commitments) without being copied.

    bits (small-scalar path only): a bound |x| <= 2^(bits−1) on every scalar, in [2, 32];
    fewer bits, fewer windows. By default it is the dtype's (32 for int32, 17 for uint16). A
    smaller bound than the dtype's is the caller's promise, not checked here (checking would
    wait for the device): give one measured from the data (`commit.int_bits`). A scalar beyond
    it makes the sum wrong.
    """
    points = check(points, "points")
    if not hasattr(scalars, "dtype"):
        scalars = np.asarray(scalars)
    small = jnp.dtype(scalars.dtype) in _SMALL_BITS
    if bits is not None and (not small or not 2 <= int(bits) <= 32):
        raise ValueError(f"msm: bits={bits} needs integer scalars and a value in [2, 32]")
    if small:
        bits = min(int(bits), _SMALL_BITS[jnp.dtype(scalars.dtype)]) if bits is not None \
            else _SMALL_BITS[jnp.dtype(scalars.dtype)]
        scalars = jnp.asarray(scalars).astype(jnp.int32)
        if scalars.ndim < 1 or scalars.size == 0:
            raise ValueError(f"msm: scalars must be a non-empty [..., n] array, got {scalars.shape}")
        n, s_batch = scalars.shape[-1], scalars.shape[:-1]
    else:
        scalars = _scalars(scalars)
        if scalars.ndim < 2:
            raise ValueError(f"msm: scalars must be uint32[..., n, 8], got {scalars.shape}")
        n, s_batch = scalars.shape[-2], scalars.shape[:-2]
    if points.shape[-3] != n:
        raise ValueError(
            f"msm: {points.shape[-3]} points but {n} scalars (points {tuple(points.shape)}, "
            f"scalars {tuple(scalars.shape)})"
        )
    p_batch = points.shape[:-3]
    batch = jnp.broadcast_shapes(p_batch, s_batch)
    # A side whose batch is trivial is passed once and shared by the handler.
    if int(np.prod(p_batch, dtype=np.int64)) != 1:
        points = jnp.broadcast_to(points, batch + points.shape[-3:])
    if int(np.prod(s_batch, dtype=np.int64)) != 1:
        scalars = jnp.broadcast_to(scalars, batch + scalars.shape[len(s_batch):])
    if small:
        return ffi.call("zk_g1_msm_i32", _out(batch), points, scalars, vmap_method="expand_dims",
                        bits=np.int32(bits))
    return ffi.call("zk_g1_msm", _out(batch), points, scalars, vmap_method="expand_dims")


# --- RFC 9380 hash to curve -------------------------------------------------------------------

SUITE = "BLS12381G1_XMD:SHA-256_SSWU_RO_"
_MAX_DST = 255


def _dst_bytes(dst: Any) -> np.ndarray:
    """A domain separation tag as uint8[D]; tags over 255 bytes are hashed per RFC 9380 5.3.3."""
    if not isinstance(dst, (bytes, bytearray)):
        raise TypeError(f"dst: expected bytes, got {type(dst).__name__}")
    dst = bytes(dst)
    if not dst:
        raise ValueError("dst: the domain separation tag must not be empty (RFC 9380 3.1)")
    if len(dst) > _MAX_DST:
        dst = hashlib.sha256(b"H2C-OVERSIZE-DST-" + dst).digest()
    return np.frombuffer(dst, dtype=np.uint8)


def hash_to_curve(msgs: Any, dst: bytes) -> Array:
    """RFC 9380 hash_to_curve, suite BLS12381G1_XMD:SHA-256_SSWU_RO_, under the tag `dst`.

    msgs: bytes (-> one point, uint32[3, 12]), a list of n equal-length bytes (-> [n, 3, 12]),
    or a uint8[..., L] array (-> [..., 3, 12]; traced arrays are fine inside `jit`). dst: the
    domain separation tag, non-empty bytes; tags longer than 255 bytes are first reduced to
    SHA-256("H2C-OVERSIZE-DST-" || dst) as RFC 9380 section 5.3.3 prescribes. The points are in
    the prime-order subgroup and nobody knows their discrete logarithms.
    """
    d = _dst_bytes(dst)
    m = hashing.byte_rows(msgs)
    batch = tuple(m.shape[:-1])
    if int(np.prod(batch, dtype=np.int64)) == 0:
        raise ValueError(f"msgs: no messages to hash (shape {tuple(m.shape)})")
    # expand_dims keeps the unbatched tag at its own size when the messages are vmapped.
    return ffi.call(
        "zk_g1_hash_to_curve", _out(batch), jnp.asarray(m), jnp.asarray(d),
        vmap_method="expand_dims",
    )


def generators(n: int, tag: bytes) -> Array:
    """n independent generators of G1: uint32[n, 3, 12].

    Definition (part of the proof format; changing it changes every commitment):

        generators(n, tag)[i] = hash_to_curve(I2OSP(i, 8), dst=tag)   for i = 0, 1, ..., n - 1

    where I2OSP(i, 8) is i as 8 bytes, big-endian, and hash_to_curve is RFC 9380
    BLS12381G1_XMD:SHA-256_SSWU_RO_ with domain separation tag `tag` (see `hash_to_curve`). So
    generators(m, tag) is a prefix of generators(n, tag) for m <= n, and a verifier rebuilds
    any generator from its index alone.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"generators: n must be an int, got {type(n).__name__}")
    n = int(n)
    if not 1 <= n <= 1 << 64:
        raise ValueError(f"generators: n must be in [1, 2^64], got {n}")
    _dst_bytes(tag)
    idx = np.arange(n, dtype=np.uint64).astype(">u8").view(np.uint8).reshape(n, 8)
    return hash_to_curve(idx, tag)


# --- ZCash compressed encoding ------------------------------------------------------------------

COMPRESSED_BYTES = 48
DECOMPRESS_ERRORS = {
    1: "bad flag bits (compression flag missing, or an infinity encoding with other bits set)",
    2: "x is not a canonical field element (x >= p)",
    3: "x is not the x-coordinate of a point on y^2 = x^3 + 4",
    4: "the point is not in the prime-order subgroup",
}


def to_compressed(p: Any) -> Array:
    """Points uint32[..., 3, 12] -> their 48-byte ZCash encodings, uint8[..., 48].

    The format of arkworks, blst, zkcrypto and py_ecc: x big-endian, with the top bits of byte 0
    holding 0x80 (compressed), 0x40 (point at infinity; all other bits zero) and 0x20 (y is the
    larger of ±y, i.e. y > (p-1)/2). Use `bytes(np.asarray(b))` for one point's bytes.
    """
    p = check(p)
    batch = tuple(p.shape[:-2])
    return ffi.call(
        "zk_g1_compress", jax.ShapeDtypeStruct(batch + (COMPRESSED_BYTES,), jnp.uint8), p
    )


def _encodings(b: Any) -> Any:
    e = hashing.byte_rows(b, "b")
    if e.shape[-1] != COMPRESSED_BYTES:
        raise ValueError(
            f"b: compressed G1 points are {COMPRESSED_BYTES} bytes, got a trailing axis of "
            f"{e.shape[-1]} (shape {tuple(e.shape)})"
        )
    if int(np.prod(e.shape[:-1], dtype=np.int64)) == 0:
        raise ValueError(f"b: no encodings to decode (shape {tuple(e.shape)})")
    return e


def from_compressed_with_status(b: Any) -> tuple[Array, Array]:
    """Decode ZCash encodings: uint8[..., 48] -> (points uint32[..., 3, 12], status uint32[...]).

    status is 0 for a valid point and otherwise the reason (`DECOMPRESS_ERRORS`): 1 bad flags,
    2 x >= p, 3 not on the curve, 4 not in the prime-order subgroup; those entries decode to the
    identity. jit-able and vmap-able: the way to decode inside `jit`, where callers must act on
    the status themselves. Accepts bytes, a list of bytes, or a uint8 array.
    """
    e = jnp.asarray(_encodings(b))
    batch = tuple(e.shape[:-1])
    pts, status = ffi.call(
        "zk_g1_decompress",
        (_out(batch), jax.ShapeDtypeStruct(batch, jnp.uint32)),
        e,
    )
    return pts, status


def from_compressed(b: Any) -> Array:
    """Decode and validate ZCash encodings: uint8[..., 48] (or bytes, list of bytes) -> points.

    On concrete input an invalid encoding raises ValueError naming its index and the reason
    (flags, x >= p, not on the curve, not in the subgroup). Inside `jit` nothing can raise and
    invalid encodings decode to the identity, so traced callers must use
    `from_compressed_with_status` and check the status.
    """
    pts, status = from_compressed_with_status(b)
    if isinstance(status, jax.core.Tracer):
        return pts
    st = np.asarray(status)
    bad = np.flatnonzero(st)  # flat, so a single encoding (status of shape ()) is covered too
    if bad.size:
        idx = tuple(int(i) for i in np.unravel_index(bad[0], st.shape))
        raise ValueError(
            f"from_compressed: invalid encoding at index {idx}: {DECOMPRESS_ERRORS[int(st[idx])]}"
        )
    return pts
