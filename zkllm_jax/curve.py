"""BLS12-381 G1 as JAX arrays.

A point is `uint32[..., 3, 12]`: Jacobian (X, Y, Z) with each coordinate as twelve little-endian
32-bit limbs of its Montgomery form; Z = 0 is the identity. A point has many Jacobian forms, so
compare points with `eq` or through `to_compressed`, never by their limbs. Every function is
jit-able and vmap-able and runs in native custom calls.

Points made by this module (generators, hash_to_curve, from_compressed, from_affine, arithmetic)
are valid by construction; raw arrays from elsewhere go through `validate` first.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import ffi, field

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
    bad = np.argwhere(status != 0)
    if bad.size:
        idx = tuple(int(i) for i in bad[0])
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


def msm(points: Any, scalars: Any) -> Array:
    """Σ_i scalars[..., i]·points[..., i] (Pippenger, signed windows).

    points: uint32[..., n, 3, 12]; scalars: field elements uint32[..., n, 8], or int32[..., n]
    for the small-scalar path (weights, digits, multiplicities), which needs ~8x fewer windows.
    Batch axes broadcast; a points array without batch axes is shared by every MSM of the batch
    (Hyrax row commitments) without being copied.
    """
    points = check(points, "points")
    if not hasattr(scalars, "dtype"):
        scalars = np.asarray(scalars)
    small = scalars.dtype in (jnp.int32, jnp.int16, jnp.int8, jnp.uint8, jnp.uint16, jnp.bool_)
    if small:
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
    target = "zk_g1_msm_i32" if small else "zk_g1_msm"
    return ffi.call(target, _out(batch), points, scalars, vmap_method="expand_dims")
