"""Exact integer arithmetic in 32-bit JAX (no `jax_enable_x64`).

Why limbs: products of two values at scale 2^16 are at scale 2^32 and their sums over a hidden
dimension need ~50 bits, which int32 cannot hold and int64 needs x64 mode (a global switch the
field code must not depend on; int64 dots are also slow on GPUs). Instead each operand is split
into balanced 8-bit limbs (digits in [-128, 128)); limb products are at most 2^14, so an int8 x int8
dot with int32 accumulation is exact for contraction length < 2^17 / (number of limb pairs per
output digit). That dot is the fast path on both CPU (oneDNN) and GPU (int8 tensor cores), and its
result does not depend on summation order, so CPU and GPU agree bit for bit.

A *wide* integer is an int32 array of base-2^8 digit coefficients along axis 0:
value = Σ_i c[i]·2^(8i). After `normalize`, c[i] ∈ [0, 256) for every digit but the last, which
carries the sign. Witness tensors store wide values with the digit axis moved last.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

LIMB_BITS = 8
_B = 1 << LIMB_BITS


def limb_bound(n: int) -> int:
    """Largest |x| representable with n balanced 8-bit limbs (digits in [-128, 127])."""
    return 127 * ((1 << (LIMB_BITS * n)) - 1) // 255


def split_limbs(x: jax.Array, n: int) -> jax.Array:
    """Balanced base-256 digits of int32 `x`, shape (n, *x.shape), digits in [-128, 128).

    The top digit takes whatever is left; callers check |x| <= limb_bound(n) so that it too lies in
    [-128, 128) (otherwise the int8 cast would wrap).
    """
    x = x.astype(jnp.int32)
    out = []
    for _ in range(n - 1):
        d = ((x + 128) & 0xFF) - 128
        out.append(d)
        x = (x - d) >> LIMB_BITS  # exact: x - d is a multiple of 256
    out.append(x)
    return jnp.stack(out)


def exact_dot_general(
    x: jax.Array, w: jax.Array, dimension_numbers, x_limbs: int, w_limbs: int
) -> jax.Array:
    """Exact integer `lax.dot_general(x, w)` as unnormalized wide coefficients.

    Returns int32 of shape (x_limbs + w_limbs - 1, *dot_shape). Requires the contraction length K
    to satisfy min(x_limbs, w_limbs)·K·2^14 < 2^31 (checked by the caller, `fixed.linear`).
    """
    (xc, wc), (xb, wb) = dimension_numbers
    xl = split_limbs(x, x_limbs).astype(jnp.int8)
    if w.dtype == jnp.int8:  # already split by `presplit` (limb axis first)
        wl = w
        if wl.shape[0] != w_limbs:
            raise ValueError(f"pre-split weight has {wl.shape[0]} limbs, expected {w_limbs}")
    else:
        wl = split_limbs(w, w_limbs).astype(jnp.int8)
    # Shift every axis index by one for the leading limb axis; the limb axes become free axes, so
    # all limb pairs come out of one dot (one GEMM instead of x_limbs·w_limbs small ones).
    dn = (
        (tuple(a + 1 for a in xc), tuple(a + 1 for a in wc)),
        (tuple(a + 1 for a in xb), tuple(a + 1 for a in wb)),
    )
    p = jax.lax.dot_general(xl, wl, dn, preferred_element_type=jnp.int32)
    # p: (*batch, x_limbs, *x_free, w_limbs, *w_free)
    nb = len(xb)
    nxf = x.ndim - len(xc) - nb

    # sum limb pairs by shift with strided reads (no transpose of the big product tensor)
    def pair(i, j):
        return p[(slice(None),) * nb + (i,) + (slice(None),) * nxf + (j,)]

    return jnp.stack(
        [
            sum(pair(i, k - i) for i in range(max(0, k - w_limbs + 1), min(x_limbs, k + 1)))
            for k in range(x_limbs + w_limbs - 1)
        ]
    )


def exact_mul(a: jax.Array, b: jax.Array, a_limbs: int = 4, b_limbs: int = 4) -> jax.Array:
    """Exact elementwise product of int32 arrays as unnormalized wide coefficients."""
    return conv(split_limbs(a, a_limbs), split_limbs(b, b_limbs))


def from_int32(x: jax.Array, n: int = 4) -> jax.Array:
    """Normalized wide digits of int32 `x` (n >= 4)."""
    x = x.astype(jnp.int32)
    ds = [(x >> (LIMB_BITS * i)) & 0xFF for i in range(3)] + [x >> 24]  # top digit signed
    return pad_digits(jnp.stack(ds), n)


def pad_digits(c: jax.Array, n: int) -> jax.Array:
    """Extend wide coefficients with zero digits to length n (value unchanged)."""
    if c.shape[0] >= n:
        return c
    return jnp.concatenate([c, jnp.zeros((n - c.shape[0],) + c.shape[1:], jnp.int32)])


def normalize(c: jax.Array, n: int | None = None) -> jax.Array:
    """Carry-propagate wide coefficients: digits in [0, 256) except the signed top one."""
    if n is not None:
        c = pad_digits(c, n)
    if c.shape[0] <= 8:
        # unrolled: XLA fuses the whole carry chain into one pass over big tensors
        out, carry = [], jnp.zeros(c.shape[1:], jnp.int32)
        for i in range(c.shape[0] - 1):
            t = c[i] + carry
            out.append(t & 0xFF)
            carry = t >> LIMB_BITS  # floor division keeps the low digit non-negative
        out.append(c[-1] + carry)
        return jnp.stack(out)

    def step(carry, ci):
        t = ci + carry
        return t >> LIMB_BITS, t & 0xFF

    # long chains only occur on per-row scalars (RMSNorm): a scan keeps compile time small
    carry, low = jax.lax.scan(step, jnp.zeros(c.shape[1:], jnp.int32), c[:-1])
    return jnp.concatenate([low, (c[-1] + carry)[None]])


def _diagonals(na: int, nb: int) -> np.ndarray:
    m = np.zeros((na, nb, na + nb - 1), np.int32)
    for i in range(na):
        for j in range(nb):
            m[i, j, i + j] = 1
    return m


def sum_diagonals(p: jax.Array) -> jax.Array:
    """(na, nb, ...) limb-pair products -> (na+nb-1, ...) coefficients c[k] = Σ_{i+j=k} p[i, j]."""
    na, nb = p.shape[0], p.shape[1]
    if na * nb <= 16:  # big tensors, few pairs: fused adds beat a dot with a 0/1 matrix
        return jnp.stack(
            [
                sum(p[i, k - i] for i in range(max(0, k - nb + 1), min(na, k + 1)))
                for k in range(na + nb - 1)
            ]
        )
    # many pairs on small per-row values (RMSNorm's bisection): one einsum keeps the graph small
    return jnp.einsum(
        "ij...,ijk->k...", p, jnp.asarray(_diagonals(na, nb)), preferred_element_type=jnp.int32
    )


def conv(a: jax.Array, b: jax.Array) -> jax.Array:
    """Product of two normalized wide values (digit-wise convolution, unnormalized result)."""
    ea = a.reshape(a.shape[:1] + (1,) + a.shape[1:])
    eb = b.reshape((1,) + b.shape)
    return sum_diagonals(ea * eb)


def sub(a: jax.Array, b: jax.Array) -> jax.Array:
    """a − b for wide values (unnormalized)."""
    n = max(a.shape[0], b.shape[0])
    return pad_digits(a, n) - pad_digits(b, n)


def is_negative(c: jax.Array) -> jax.Array:
    """Sign test; `c` must be normalized with enough digits that the top one does not wrap."""
    return c[-1] < 0


def to_float(c: jax.Array, shift: int = 0) -> jax.Array:
    """Approximate value·2^-shift in float32 (used only for range checks, never for results)."""
    w = jnp.asarray([2.0 ** (LIMB_BITS * i - shift) for i in range(c.shape[0])], jnp.float32)
    return jnp.tensordot(w, c.astype(jnp.float32), axes=1)


def const_digits(value: int, n: int) -> np.ndarray:
    """Normalized wide digits of a non-negative Python int (public constants)."""
    if value < 0 or value >= 1 << (LIMB_BITS * n - 1):
        raise ValueError(f"constant {value} does not fit {n} digits")
    return np.array([(value >> (LIMB_BITS * i)) & 0xFF for i in range(n)], np.int32)


def rescale_int(x: jax.Array, k: int) -> tuple[jax.Array, jax.Array]:
    """Round-half-up rescale of int32 x by 2^k: x = 2^k·q + r with r ∈ [−2^(k−1), 2^(k−1))."""
    q = (x + (1 << (k - 1))) >> k
    return q, x - (q << k)


def rescale_wide(c: jax.Array, k: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Round-half-up rescale of a wide value by 2^k (1 <= k <= 30).

    Returns (q, r, q_estimate) with value = 2^k·q + r, r ∈ [−2^(k−1), 2^(k−1)), both int32, and a
    float32 estimate of q that callers compare against the int32 range (q wraps silently if the
    true quotient does not fit).
    """
    d = normalize(c, max(c.shape[0], (k + 31) // LIMB_BITS + 2))
    a, b = divmod(k, LIMB_BITS)
    low = jnp.zeros(d.shape[1:], jnp.int32)
    for i in range(a):
        low = low + (d[i] << (LIMB_BITS * i))
    low = low + ((d[a] & ((1 << b) - 1)) << (LIMB_BITS * a))  # low ∈ [0, 2^k)
    high = d[-1]
    for i in range(d.shape[0] - 2, a, -1):
        high = (high << LIMB_BITS) + d[i]
    high = (high << (LIMB_BITS - b)) + (d[a] >> b)
    up = (low >= (1 << (k - 1))).astype(jnp.int32)
    est = to_float(d, k)
    return high + up, low - (up << k), est


def isqrt_gap(v: jax.Array, c2: np.ndarray, bits: int = 30) -> jax.Array:
    """Largest r in [0, 2^bits) with r²·v <= C² (v, C² normalized wide; v > 0).

    Bisection on r with exact wide comparisons; this is the integer function the prover pins down
    by range-checking C² − r²·v >= 0 and (r+1)²·v − C² − 1 >= 0.
    """
    n = v.shape[0] + 10
    c2w = jnp.asarray(c2).reshape((-1,) + (1,) * (v.ndim - 1))

    def fits(r):
        rd = from_int32(r, 4)
        prod = normalize(conv(normalize(conv(rd, rd), 9), v), n)
        return ~is_negative(normalize(sub(c2w, prod), n))

    def body(i, r):
        cand = r | jnp.left_shift(jnp.int32(1), bits - 1 - i)
        return jnp.where(fits(cand), cand, r)

    return jax.lax.fori_loop(0, bits, body, jnp.zeros(v.shape[1:], jnp.int32))


def rsqrt_gaps(v: jax.Array, r: jax.Array, c2: np.ndarray) -> tuple[jax.Array, jax.Array]:
    """(C² − r²v, (r+1)²v − C² − 1), both normalized wide and non-negative for the right r."""
    n = v.shape[0] + 10
    c2w = jnp.asarray(c2).reshape((-1,) + (1,) * (v.ndim - 1))

    def sq_times_v(x):
        xd = from_int32(x, 4)
        return normalize(conv(normalize(conv(xd, xd), 9), v), n)

    lo = normalize(sub(c2w, sq_times_v(r)), n)
    one = jnp.ones_like(r)
    hi = normalize(sub(sub(sq_times_v(r + 1), c2w), from_int32(one, 4)), n)
    return lo, hi


def recip_floor(z: jax.Array, k: int) -> tuple[jax.Array, jax.Array]:
    """inv = floor(2^k / z) and its remainder r ∈ [0, z), for 1 <= z < 2^31 and 2^k/z < 2^31.

    Restoring long division of 2^k in uint32 (the running remainder stays below z, so doubling it
    never wraps): inv·z + r = 2^k.
    """
    zu = z.astype(jnp.uint32)
    rem = jnp.ones_like(zu)
    q = jnp.zeros_like(zu)
    for _ in range(k):
        rem = rem << 1
        bit = rem >= zu
        rem = jnp.where(bit, rem - zu, rem)
        q = (q << 1) | bit.astype(jnp.uint32)
    return q.astype(jnp.int32), rem.astype(jnp.int32)


def wide_to_int(digits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Exact Python-int values of wide digits (any normalization) as a numpy object array."""
    d = np.moveaxis(np.asarray(digits), axis, -1).astype(object)
    out = np.zeros(d.shape[:-1], dtype=object)
    for i in range(d.shape[-1]):
        out = out + d[..., i] * (1 << (LIMB_BITS * i))
    return out
