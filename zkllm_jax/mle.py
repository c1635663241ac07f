"""Multilinear extensions (MLEs) of field tensors.

Convention, used by every protocol in the library:
- a tensor's MLE is over its flat row-major index, variable 0 being the least significant bit;
- a 1-D table of length n is zero-padded to 2^ceil(log2 n);
- a multi-dimensional tensor is zero-padded per dimension (each axis to a power of two), so its
  variables split into one group per axis: the last axis owns the lowest variables. This is what
  makes `partial_evaluate` of one axis a contraction with an eq table.
- a point is `Fr[k, 8]`, coordinate j binding variable j.

The passes that touch a whole table (fold, sumcheck rounds) are single native custom calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from . import ffi, field

Array = jax.Array


def num_vars(n: int) -> int:
    """Number of variables of an MLE over n entries: ceil(log2 n), 0 for n = 1."""
    if n < 1:
        raise ValueError(f"an MLE needs at least one entry, got {n}")
    return (n - 1).bit_length()


def pad_axis(x: Array, axis: int) -> Array:
    """Zero-pad one batch axis of a field array to the next power of two."""
    axis = axis % (x.ndim - 1)
    n = x.shape[axis]
    extra = (1 << num_vars(n)) - n
    if extra == 0:
        return x
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, extra)
    return jnp.pad(x, widths)


def pad(x: Any) -> Array:
    """Zero-pad every batch axis of a field array `Fr[d0, ..., 8]` to powers of two."""
    x = field.check(x, "x")
    for axis in range(x.ndim - 1):
        x = pad_axis(x, axis)
    return x


def table(x: Any) -> Array:
    """The flat MLE table of a (multi-dimensional) field tensor: per-axis padding, then flatten."""
    x = pad(x)
    return x.reshape(-1, field.LIMBS)


def _check_point(point: Any, k: int | None = None, name: str = "point") -> Array:
    point = field.check(point, name)
    if point.ndim != 2:
        raise ValueError(f"{name}: a point is Fr[k, 8], got shape {tuple(point.shape)}")
    if k is not None and point.shape[0] != k:
        raise ValueError(f"{name}: expected {k} coordinates, got {point.shape[0]}")
    return point


def eq_table(point: Any) -> Array:
    """eq(u, x) for every x in {0,1}^k (Fr[2^k, 8]), built in k doubling rounds.

    Round j appends variable j as the next higher index bit: T' = [T·(1 − u_j), T·u_j].
    An empty point (k = 0) gives the one-entry table [1].
    """
    if hasattr(point, "shape") and point.shape[0] == 0:
        return field.ones((1,))
    return _eq_table(_check_point(point))


@jax.jit
def _eq_table(point: Array) -> Array:
    t = field.ones((1,))
    one = field.ones(())
    for j in range(point.shape[0]):
        uj = point[j]
        both = jnp.stack([field.sub(one, uj), uj])  # [2, 8]
        t = field.mul(both[:, None, :], t[None, :, :]).reshape(-1, field.LIMBS)
    return t


def eq_eval(u: Any, v: Any) -> Array:
    """eq(u, v) = Π_j (u_j v_j + (1 − u_j)(1 − v_j)) for two points of equal length."""
    u, v = _check_point(u, name="u"), _check_point(v, name="v")
    if u.shape != v.shape:
        raise ValueError(f"eq_eval: points of different lengths {u.shape[0]} and {v.shape[0]}")
    one = field.ones(())
    uv = field.mul(u, v)
    terms = field.add(field.add(field.sub(field.sub(one, u), v), uv), uv)  # 1 - u - v + 2uv
    acc = terms[0]
    for j in range(1, terms.shape[0]):
        acc = field.mul(acc, terms[j])
    return acc


def fold(tables: Any, r: Any) -> Array:
    """Bind variable 0 of each table to r: f'(x) = f(2x) + r·(f(2x+1) − f(2x)).

    tables: Fr[..., n, 8] with n a power of two ≥ 2 (a batch of tables shares the challenge);
    returns Fr[..., n/2, 8]. One native pass.
    """
    tables = field.check(tables, "tables")
    r = field.check(r, "r")
    if r.shape != (field.LIMBS,):
        raise ValueError(f"fold: the challenge is one field element, got shape {tuple(r.shape)}")
    if tables.ndim < 2:
        raise ValueError(f"fold: tables are Fr[..., n, 8], got shape {tuple(tables.shape)}")
    n = tables.shape[-2]
    if n < 2 or n & (n - 1):
        raise ValueError(f"fold: table length must be a power of two >= 2, got {n}")
    return fold_unchecked(tables, r)


def fold_unchecked(tables: Array, r: Array) -> Array:
    """`fold` without input validation, for callers that built their inputs (one custom call)."""
    n = tables.shape[-2]
    out = jax.ShapeDtypeStruct(tables.shape[:-2] + (n // 2, field.LIMBS), jnp.uint32)
    return ffi.call("zk_fr_mle_fold", out, tables, r, vmap_method="sequential")


def evaluate(tab: Any, point: Any) -> Array:
    """The MLE of a flat table at a point (Fr[k, 8]); the table is zero-padded to 2^k entries.

    The table may not be longer than 2^k. Folds variable 0, then 1, ...: n field muls in all.
    """
    tab = field.check(tab, "table")
    if tab.ndim != 2:
        raise ValueError(f"evaluate: a flat table is Fr[n, 8], got shape {tuple(tab.shape)}")
    k = point.shape[0] if hasattr(point, "shape") else 0
    if tab.shape[0] > (1 << k):
        raise ValueError(f"evaluate: table of {tab.shape[0]} entries has more than 2^{k} entries")
    if k == 0:
        return tab[0]
    return _evaluate(tab, _check_point(point))


@jax.jit
def _evaluate(tab: Array, point: Array) -> Array:
    k = point.shape[0]
    tab = jnp.pad(tab, ((0, (1 << k) - tab.shape[0]), (0, 0)))
    for j in range(k):
        tab = fold_unchecked(tab, point[j])
    return tab[0]


def flat_i32(x: Array) -> Array:
    """An integer tensor zero-padded per axis to powers of two and flattened row-major: the
    entries of its MLE table, still as integers."""
    return jnp.pad(x, [(0, (1 << num_vars(d)) - d) for d in x.shape]).reshape(-1)


def evaluate_i32(x: Any, point: Any) -> Array:
    """The MLE of an int32 tensor (per-axis zero padding, flat row-major) at a flat point.

    The tensor is read as a matrix whose columns are its low variables and folded by
    `field.fold_rows_i32` (one native pass of wide integer sums), so no field copy of it is made:
    a 2^28-entry column would be 8 GiB as field elements. The same value as `evaluate` of its
    encoded flat table."""
    if not hasattr(x, "dtype") or x.dtype != jnp.int32:
        raise TypeError(f"evaluate_i32: expected an int32 tensor, got "
                        f"{getattr(x, 'dtype', type(x).__name__)}")
    n = sum(num_vars(d) for d in x.shape)
    flat = flat_i32(x)
    if n == 0:  # one entry: no variables, an empty point
        if getattr(point, "shape", (0,))[0] != 0:
            raise ValueError(f"point: expected 0 coordinates, got {point.shape[0]}")
        return field.encode(flat[0])
    point = _check_point(point, n)
    c = (n + 1) // 2  # column variables: the low ones
    eq_row = eq_table(point[c:]) if n > c else field.ones((1,))
    folded = field.fold_rows_i32(flat.reshape(-1, 1 << c), eq_row)
    return field.inner_product(folded, eq_table(point[:c]))


def partial_evaluate(x: Any, points: dict[int, Any]) -> Array:
    """Fix chosen axes of a multi-dimensional tensor at points; the other axes stay.

    x: Fr[d0, ..., d_{m-1}, 8], or an int32 tensor [d0, ..., d_{m-1}]; points: {axis:
    Fr[ceil(log2 d_axis), 8]}. Axis a is zero-padded to a power of two and contracted with
    eq(points[a], ·), which is its MLE evaluated at that point with the other axes free. Returns
    the tensor without the fixed axes (remaining axes unpadded), as field elements. An int32
    tensor's first contraction is one native pass (`field.fold_rows_i32`): no field copy of it
    and no broadcast eq table of its size are made (a 7B layer's attention probabilities at
    2048 tokens, 2^27 entries, were 4 GiB as field elements and four such arrays at once).
    """
    is_int = hasattr(x, "dtype") and x.dtype == jnp.int32
    if not is_int:
        x = field.check(x, "x")
    nd = x.ndim - (0 if is_int else 1)
    norm: dict[int, Array] = {}
    for axis, p in points.items():
        if not -nd <= axis < nd:
            raise ValueError(f"partial_evaluate: axis {axis} out of range for {nd} axes")
        a = axis % nd
        if a in norm:
            raise ValueError(f"partial_evaluate: axis {a} given twice")
        k = num_vars(x.shape[a])
        if k == 0 and hasattr(p, "shape") and tuple(p.shape) == (0, field.LIMBS):
            norm[a] = p  # an axis of length 1 has no variables
        else:
            norm[a] = _check_point(p, k, name=f"points[{axis}]")
    if is_int and not norm:
        return field.encode(x)
    for a in sorted(norm, reverse=True):  # highest first so lower axis numbers stay valid
        if is_int:
            x, is_int = _fold_axis_i32(x, a, norm[a]), False
            continue
        if norm[a].shape[0] == 0:
            x = jnp.take(x, 0, axis=a)
            continue
        xa = pad_axis(x, a)
        eq = eq_table(norm[a])  # [2^k, 8]
        shape = [1] * (xa.ndim - 1)
        shape[a] = eq.shape[0]
        x = field.inner_product(xa, eq.reshape(tuple(shape) + (field.LIMBS,)), axis=a)
    return x


def _fold_axis_i32(x: Array, a: int, point: Array) -> Array:
    """Σ_i eq(point, i)·x[..., i (axis a), ...] as field elements, by `field.fold_rows_i32` over
    x with axis a moved first (an int32 copy unless a = 0). The zero padding of axis a adds
    nothing, so eq's first d_a entries suffice."""
    moved = jnp.moveaxis(x, a, 0)
    rest = moved.shape[1:]
    if point.shape[0] == 0:
        return field.encode(moved[0])
    e = eq_table(point)[: moved.shape[0]]
    folded = field.fold_rows_i32(moved.reshape(moved.shape[0], -1), e)
    return folded.reshape(tuple(rest) + (field.LIMBS,))


def evaluate_tensor(x: Any, points: Sequence[Any]) -> Array:
    """Evaluate a multi-dimensional tensor's MLE with one point per axis (in axis order)."""
    x = field.check(x, "x")
    if len(points) != x.ndim - 1:
        raise ValueError(f"evaluate_tensor: {x.ndim - 1} axes but {len(points)} points")
    return partial_evaluate(x, dict(enumerate(points)))


def split_point(point: Any, shape: Sequence[int]) -> list[Array]:
    """Split a flat point of a tensor (per-axis padding) into one point per axis.

    The last axis owns the lowest variables, so the flat point's first coordinates go to it.
    """
    point = _check_point(point)
    ks = [num_vars(d) for d in shape]
    if point.shape[0] != sum(ks):
        raise ValueError(f"split_point: shape {tuple(shape)} needs {sum(ks)} coordinates")
    out: list[Array] = []
    start = 0
    for k in reversed(ks):
        out.append(point[start : start + k])
        start += k
    return out[::-1]
