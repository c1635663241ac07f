"""The BLS12-381 scalar field Fr as JAX arrays.

An element is `uint32[..., 8]`: eight little-endian 32-bit limbs of its Montgomery form
x·2^256 mod r. Every function here is jit-able and vmap-able; arithmetic runs in native custom
calls (CPU or CUDA). Conversions from Python integers happen on the host; int32 arrays convert
on the device, so traced fixed-point tensors enter the field inside `jit`.

Inputs are checked: dtype and shape always, canonical limbs (< r) whenever the array is concrete
(outside `jit`), since a traced value cannot raise, and the code is not inside `trusted()`.

`trusted()` is for provers: they check their field-valued inputs once on entry, and everything
they compute after that is made by these functions, canonical by construction. On an accelerator
each canonical test waits for the device (its answer decides whether to raise), and a layer's
prover made about 3,500 of them: one 7B layer at 2048 tokens took 24.2-24.4 s on an H200 with
them and 20.9-21.2 s with those on device arrays skipped. The scope is a context variable (like
JAX's own configuration contexts): it changes which checks run, never a result.

Small concrete arrays in host memory (numpy, or JAX arrays on the CPU) are checked, decoded and
encoded on the host, in numpy and Python integers: a verifier handles thousands of small arrays
of many shapes, and each shape cost an XLA compilation on the device path (most of a first
verification's time). Same values either way.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import ffi, prng

R = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
LIMBS = 8
_R_LIMBS = np.array([(R >> (32 * i)) & 0xFFFFFFFF for i in range(LIMBS)], dtype=np.uint32)

Array = jax.Array
# concrete host arrays of at most this many elements take the host path (module docstring)
HOST_MAX = 1 << 14
_MONT = (1 << 256) % R
_MONT_INV = pow(_MONT, -1, R)


def _limbs_of_ints(values: np.ndarray) -> np.ndarray:
    """Object array of non-negative ints < 2^256 -> uint32[..., 8] (little-endian)."""
    flat = values.reshape(-1)
    out = np.empty((flat.size, LIMBS), dtype=np.uint32)
    for i, v in enumerate(flat):
        out[i] = np.frombuffer(int(v).to_bytes(32, "little"), dtype="<u4")
    return out.reshape(values.shape + (LIMBS,))


def _ints_of_limbs(limbs: np.ndarray) -> np.ndarray:
    flat = np.ascontiguousarray(limbs, dtype="<u4").reshape(-1, LIMBS)
    out = np.empty(flat.shape[0], dtype=object)
    for i, row in enumerate(flat):
        out[i] = int.from_bytes(row.tobytes(), "little")
    return out.reshape(limbs.shape[:-1])


def _is_concrete(x: Any) -> bool:
    return not isinstance(x, jax.core.Tracer)


def on_host(x: Any) -> bool:
    """A numpy array, or a concrete JAX array whose every shard is in CPU memory."""
    if isinstance(x, np.ndarray):
        return True
    if isinstance(x, jax.core.Tracer) or not hasattr(x, "devices"):
        return False
    return all(d.platform == "cpu" for d in x.devices())


def _small_host(x: Any, elements: int) -> bool:
    return elements <= HOST_MAX and on_host(x)


def mont_limbs(ints: Any) -> np.ndarray:
    """Python ints (any, reduced mod r) -> uint32[..., 8] Montgomery limbs, on the host."""
    arr = np.asarray(ints, dtype=object)
    return _limbs_of_ints(np.vectorize(lambda v: int(v) % R * _MONT % R, otypes=[object])(arr)
                          if arr.size else arr)


def ints_of_mont(limbs: np.ndarray) -> np.ndarray:
    """uint32[..., 8] Montgomery limbs -> an object array of ints in [0, r), on the host."""
    ints = _ints_of_limbs(limbs)
    return np.vectorize(lambda v: v * _MONT_INV % R, otypes=[object])(ints) if ints.size \
        else ints


_TRUSTED: contextvars.ContextVar[bool] = contextvars.ContextVar("zkllm_jax.field.trusted",
                                                              default=False)


@contextlib.contextmanager
def trusted() -> Iterator[None]:
    """Within the block, `check` skips its canonical-limb test (module docstring): for a
    prover's own values, once its inputs have been checked. Nests; restores on exit."""
    token = _TRUSTED.set(True)
    try:
        yield
    finally:
        _TRUSTED.reset(token)


def check(x: Any, name: str = "x", *, canonical: bool = True) -> Array:
    """Validate a field array: uint32 dtype, trailing axis of 8 limbs, not empty, canonical.

    canonical=False skips the last check, for values this process computed with field ops (on
    a concrete array it is an eager pass that waits for the device to catch up); so does a call
    inside `trusted()`."""
    if canonical and not _TRUSTED.get():
        return check_canonical(x, name)
    _check_layout(x, name)
    return jnp.asarray(x)


def check_canonical(x: Any, name: str = "x") -> Array:
    """`check` with its canonical-limb test on any concrete array, inside `trusted()` too: for
    a prover's inputs."""
    _check_layout(x, name)
    if _small_host(x, x.size // LIMBS):
        check_canonical_host(np.asarray(x), name)
    elif _is_concrete(x):
        # Concrete arrays may also arrive inside a trace (closed over by a jitted function):
        # evaluate the check eagerly even then.
        with jax.ensure_compile_time_eval():
            x = jnp.asarray(x)
            if bool(_any_noncanonical(x)):
                idx = tuple(int(i) for i in np.argwhere(~np.asarray(_lt_modulus(x)))[0])
                raise ValueError(
                    f"{name}: non-canonical field element (limbs >= r) at index {idx}"
                )
    return jnp.asarray(x)


def noncanonical(x: Any) -> Array:
    """A bool scalar: whether any element of the field array x has limbs >= r. Jit-able; on a
    concrete array it is queued on x's device and read when the caller asks (no wait here)."""
    _check_layout(x, name="x")
    return _any_noncanonical(jnp.asarray(x))


def check_canonical_host(x: np.ndarray, name: str) -> None:
    """`check`'s canonical-limb test for a host array: ValueError naming the first index."""
    ok = _lt_modulus(x, np)
    if not ok.all():
        idx = tuple(int(i) for i in np.argwhere(~ok)[0])
        raise ValueError(f"{name}: non-canonical field element (limbs >= r) at index {idx}")


def _check_layout(x: Any, name: str) -> None:
    if not hasattr(x, "dtype") or not hasattr(x, "shape"):
        raise TypeError(f"{name}: expected a uint32[..., 8] field array, got {type(x).__name__}")
    if x.dtype != jnp.uint32:
        raise TypeError(f"{name}: field arrays are uint32[..., 8], got dtype {x.dtype}")
    if x.ndim < 1 or x.shape[-1] != LIMBS:
        raise ValueError(f"{name}: field arrays are uint32[..., 8], got shape {tuple(x.shape)}")
    if x.size == 0:
        raise ValueError(f"{name}: empty field array (shape {tuple(x.shape)})")


@jax.jit
def _any_noncanonical(x: Array) -> Array:
    # one compiled kernel: an eager check of every op's inputs must not cost ~25 dispatches.
    # Large arrays are scanned in blocks of 2^20 elements: XLA materialised a full-size copy
    # for the limb slices (a 32 GiB temporary for a 32 GiB table on the GPU).
    flat = x.reshape(-1, LIMBS)
    n, blk = flat.shape[0], _CHECK_BLOCK
    if n <= blk:
        return jnp.any(~_lt_modulus(flat))

    def body(i: Array, acc: Array) -> Array:
        start = jnp.minimum(i * blk, n - blk)  # the last block overlaps: fine for any()
        return acc | jnp.any(~_lt_modulus(jax.lax.dynamic_slice_in_dim(flat, start, blk, 0)))

    return jax.lax.fori_loop(0, -(-n // blk), body, jnp.bool_(False))


_CHECK_BLOCK = 1 << 20


def _lt_modulus(x: Array, xp: Any = jnp) -> Array:
    lt = xp.zeros(x.shape[:-1], dtype=bool)
    eq = xp.ones(x.shape[:-1], dtype=bool)
    for i in reversed(range(LIMBS)):
        limb = x[..., i]
        lt = lt | (eq & (limb < _R_LIMBS[i]))
        eq = eq & (limb == _R_LIMBS[i])
    return lt


def _out(shape: Sequence[int], width: int = LIMBS) -> jax.ShapeDtypeStruct:
    return jax.ShapeDtypeStruct(tuple(shape) + (width,), jnp.uint32)


def _binary(target: str, a: Any, b: Any) -> Array:
    a, b = check(a, "a"), check(b, "b")
    shape = jnp.broadcast_shapes(a.shape[:-1], b.shape[:-1])
    a = jnp.broadcast_to(a, shape + (LIMBS,))
    b = jnp.broadcast_to(b, shape + (LIMBS,))
    return ffi.call(target, _out(shape), a, b)


def _unary(target: str, a: Array) -> Array:
    return ffi.call(target, _out(a.shape[:-1]), a)


# --- conversions -------------------------------------------------------------------------------


def encode(x: Any) -> Array:
    """Integers -> field elements (Montgomery form), negatives mapping to r - |x|.

    Accepts a Python int, a (nested) sequence of ints, a numpy integer or object array (any size
    of integer, reduced mod r), or an int8/int16/int32/uint8/uint16/bool JAX array (traced or
    not), which converts on the device.
    """
    if isinstance(x, (jax.Array, jax.core.Tracer)):
        if x.dtype not in (jnp.int32, jnp.int16, jnp.int8, jnp.uint8, jnp.uint16, jnp.bool_):
            raise TypeError(
                f"encode: JAX arrays must be int32 or narrower (got {x.dtype}); "
                "pass wider integers as numpy int64/object arrays or Python ints"
            )
        if x.size == 0:
            raise ValueError(f"encode: empty array (shape {tuple(x.shape)})")
        bits = jax.lax.bitcast_convert_type(x.astype(jnp.int32), jnp.uint32)
        return ffi.call("zk_fr_from_i32", _out(x.shape), bits[..., None])
    arr = np.asarray(x)
    if arr.size == 0:
        raise ValueError(f"encode: empty input (shape {arr.shape})")
    if arr.dtype == object or arr.dtype.kind in "iub":
        if arr.size <= HOST_MAX:
            return jnp.asarray(mont_limbs(arr))
        if arr.dtype.kind == "b" or (arr.dtype.kind in "iu" and arr.dtype.itemsize < 4) or (
            arr.dtype == np.int32
        ):
            return encode(jnp.asarray(arr.astype(np.int32)))
        ints = np.vectorize(lambda v: int(v) % R, otypes=[object])(arr)
        return from_canonical_limbs(jnp.asarray(_limbs_of_ints(ints)))
    raise TypeError(f"encode: expected integers, got {arr.dtype}")


def from_canonical_limbs(limbs: Any) -> Array:
    """uint32[..., 8] limbs of integers < r (plain form) -> Montgomery form."""
    return _unary("zk_fr_to_mont", check(limbs, "limbs"))


def to_canonical_limbs(a: Any) -> Array:
    """Montgomery form -> uint32[..., 8] limbs of the plain integer in [0, r)."""
    return _unary("zk_fr_from_mont", check(a, "a"))


def decode(a: Any, signed: bool = False) -> Any:
    """Field elements -> Python ints (an int for a single element, else an object ndarray).

    With `signed`, values above (r-1)/2 come back negative (x - r), undoing `encode` of
    negative integers.
    """
    if _is_concrete(a) and hasattr(a, "shape") and len(a.shape) >= 1 and \
            np.prod(a.shape[:-1], dtype=np.int64) <= HOST_MAX:
        _check_layout(a, "a")
        host = np.asarray(a)  # one transfer; the conversion is a multiplication per element
        check_canonical_host(host, "a")
        ints = ints_of_mont(host)
    else:
        a = check(a, "a")
        if not _is_concrete(a):
            raise TypeError("decode needs a concrete array; call it outside jax.jit")
        ints = _ints_of_limbs(np.asarray(to_canonical_limbs(a)))
    if signed:
        ints = np.vectorize(lambda v: v - R if v > R // 2 else v, otypes=[object])(ints)
    return ints.item() if ints.ndim == 0 else ints


def ints(x: Any) -> list[int]:
    """Field elements as a flat list of Python ints (`decode`, flattened)."""
    return [int(v) for v in np.atleast_1d(decode(x)).reshape(-1)]


def from_wide(w: Any) -> Array:
    """uint32[..., 16] little-endian 512-bit integers -> field elements (reduced mod r).

    Reducing 512 uniform bits gives a distribution within 2^-257 of uniform.
    """
    if w.dtype != jnp.uint32 or w.ndim < 1 or w.shape[-1] != 16:
        raise ValueError(f"from_wide: expected uint32[..., 16], got {w.dtype}{tuple(w.shape)}")
    return ffi.call("zk_fr_from_wide", _out(w.shape[:-1]), w)


def random(key: Array, shape: Sequence[int] = ()) -> Array:
    """Uniform field elements of the given batch shape from a key (`prng`: 512 bits each)."""
    return from_wide(prng.bits(key, tuple(shape) + (16,)))


def zeros(shape: Sequence[int] = ()) -> Array:
    """The element 0 broadcast to `shape`."""
    return jnp.zeros(tuple(shape) + (LIMBS,), dtype=jnp.uint32)


_ONE_MONT = np.frombuffer(((1 << 256) % R).to_bytes(32, "little"), dtype="<u4").astype(np.uint32)


def ones(shape: Sequence[int] = ()) -> Array:
    """The element 1 (Montgomery form 2^256 mod r) broadcast to `shape`."""
    return jnp.broadcast_to(jnp.asarray(_ONE_MONT), tuple(shape) + (LIMBS,))


# --- arithmetic --------------------------------------------------------------------------------


def add(a: Any, b: Any) -> Array:
    """a + b, broadcasting over the batch axes."""
    return _binary("zk_fr_add", a, b)


def sub(a: Any, b: Any) -> Array:
    """a - b, broadcasting over the batch axes."""
    return _binary("zk_fr_sub", a, b)


def mul(a: Any, b: Any) -> Array:
    """a · b, broadcasting over the batch axes."""
    return _binary("zk_fr_mul", a, b)


def neg(a: Any) -> Array:
    """-a."""
    return _unary("zk_fr_neg", check(a, "a"))


def inv(a: Any) -> Array:
    """Elementwise inverse by batch inversion (Montgomery's trick); 0 maps to 0."""
    return _unary("zk_fr_batch_inv", check(a, "a"))


def pow(a: Any, e: Any) -> Array:
    """a^e for non-negative integer exponents e (an int or an int array broadcast with a)."""
    a = check(a, "a")
    e_arr = np.asarray(e, dtype=object)
    if any(int(v) < 0 or int(v) >= 1 << 256 for v in e_arr.reshape(-1)):
        raise ValueError("pow: exponents must be integers in [0, 2^256)")
    e_limbs = jnp.asarray(_limbs_of_ints(np.vectorize(int, otypes=[object])(e_arr)))
    shape = jnp.broadcast_shapes(a.shape[:-1], e_limbs.shape[:-1])
    return ffi.call(
        "zk_fr_pow",
        _out(shape),
        jnp.broadcast_to(a, shape + (LIMBS,)),
        jnp.broadcast_to(e_limbs, shape + (LIMBS,)),
    )


def _move_reduce_axis(a: Array, axis: int) -> Array:
    if a.ndim < 2:
        raise ValueError("reductions need at least one batch axis besides the limb axis")
    axis = axis % (a.ndim - 1)
    return jnp.moveaxis(a, axis, -2)


def reduce_scratch_words(rows: int, n: int) -> int:
    """uint32 words of partials the CUDA reduction of `rows` rows of n elements uses
    (xla_ffi/cuda/field_cuda.cu: about 1024 blocks, each thread over at least 4 elements). The
    partials are a result of the call, not memory the handler allocates, so XLA can record it
    into a command buffer; the CPU handler ignores them."""
    rows = max(int(rows), 1)
    if n < 64:
        return LIMBS
    parts = min(-(-1024 // rows), -(-int(n) // 1024))
    return LIMBS * rows * parts if parts > 1 else LIMBS


def _reduce(target: str, a: Array, *more: Array) -> Array:
    rows = int(np.prod(a.shape[:-2], dtype=np.int64))
    scratch = jax.ShapeDtypeStruct((reduce_scratch_words(rows, a.shape[-2]),), jnp.uint32)
    return ffi.call(target, (_out(a.shape[:-2]), scratch), a, *more)[0]


def sum(a: Any, axis: int = -1) -> Array:
    """Σ over one batch axis (default: the last axis before the limbs)."""
    return _reduce("zk_fr_sum", _move_reduce_axis(check(a, "a"), axis))


def inner_product(a: Any, b: Any, axis: int = -1) -> Array:
    """Σ_i a_i·b_i over one batch axis, broadcasting the other batch axes."""
    a, b = check(a, "a"), check(b, "b")
    shape = jnp.broadcast_shapes(a.shape, b.shape)
    a = _move_reduce_axis(jnp.broadcast_to(a, shape), axis)
    b = _move_reduce_axis(jnp.broadcast_to(b, shape), axis)
    return _reduce("zk_fr_inner_product", a, b)


def fold_rows_i32(m: Any, e: Any) -> Array:
    """eᵀ·M = Σ_i e_i·M[i, :] (Fr[cols, 8]) for an int32 matrix M [rows, cols] and a field
    vector e (Fr[rows, 8]): one native pass with wide integer accumulation and one reduction
    per column, instead of converting every entry to a field element and multiplying (the fold
    of a Hyrax opening of int32 weights). The same result as
    `inner_product(encode(M), e[:, None], axis=0)`."""
    e = check(e, "e")
    if not hasattr(m, "dtype") or m.dtype != jnp.int32 or m.ndim != 2:
        raise TypeError(f"fold_rows_i32: M must be int32[rows, cols], got "
                        f"{getattr(m, 'dtype', type(m).__name__)}{tuple(getattr(m, 'shape', ()))}")
    if e.shape != (m.shape[0], LIMBS):
        raise ValueError(f"fold_rows_i32: e must be Fr[{m.shape[0]}, 8], got {tuple(e.shape)}")
    bits = jax.lax.bitcast_convert_type(m, jnp.uint32)
    return ffi.call("zk_fr_fold_rows_i32", _out((m.shape[1],)), bits, e,
                    vmap_method="sequential")
