"""CUDA handlers against the CPU handlers: the same inputs give bit-identical results.

Every test runs one jitted function twice, with its inputs committed to the CPU and then to the
GPU. Field results and elementwise curve results must match limb for limb (both back ends run
the same header code); MSM results are compared as points (`curve.eq`), since the GPU
accumulates in another order and so lands on another Jacobian representative. The CPU handlers
are themselves checked against arkworks and Python integers in test_field.py / test_curve.py.

Skipped unless JAX sees a GPU and the CUDA module is built (run with `-m gpu`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from zkllm_jax import curve, ffi, field

pytestmark = pytest.mark.gpu

R, P = field.R, curve.P


def _devices():
    try:
        return jax.devices("cpu")[0], jax.devices("gpu")[0]
    except RuntimeError:
        return None, None


CPU, GPU = _devices()
if GPU is None or not ffi.HAS_CUDA_MODULE:
    pytest.skip("needs a CUDA device and the zkllm CUDA module", allow_module_level=True)


def both(fn, *args):
    """fn jitted with its inputs on the CPU, then on the GPU; outputs as numpy arrays."""
    outs = []
    for dev in (CPU, GPU):
        placed = jax.device_put(args, dev)
        res = jax.jit(fn)(*placed)
        outs.append(jax.tree.map(np.asarray, res))
    return outs


def assert_identical(fn, *args):
    cpu, gpu = both(fn, *args)
    for c, g in zip(jax.tree.leaves(cpu), jax.tree.leaves(gpu)):
        assert c.shape == g.shape and c.dtype == g.dtype
        np.testing.assert_array_equal(g, c)
    return cpu


def on_cpu(fn, *args):
    """fn(*args) computed on the CPU, as a writable numpy array."""
    with jax.default_device(CPU):
        return np.array(fn(*args))


def same_points(a, b) -> bool:
    with jax.default_device(CPU):
        return bool(np.all(np.asarray(curve.eq(jnp.asarray(a), jnp.asarray(b)))))


def fr_values(seed: int, shape) -> np.ndarray:
    """Random field elements with 0, 1, r-1 and 2 planted at the front."""
    vals = on_cpu(lambda: field.random(jax.random.PRNGKey(seed), shape))
    flat = vals.reshape(-1, field.LIMBS)
    special = on_cpu(lambda: field.encode([0, 1, R - 1, 2]))
    k = min(len(flat), len(special))
    flat[:k] = special[:k]
    return flat.reshape(vals.shape)


def points(seed: int, n: int) -> np.ndarray:
    """n random points: mostly Z != 1, a few normalised (Z = 1), every 17th the identity."""
    def make():
        k = field.random(jax.random.PRNGKey(seed), (n,))
        return curve.scalar_mul(curve.generator((n,)), k)

    pts = on_cpu(make)
    m = min(n, 4)
    aff = curve.to_affine(pts[:m])
    xs = [a[0] for a in aff]
    ys = [a[1] for a in aff]
    pts[:m] = np.array(curve.from_affine(xs, ys, validate_points=False))
    pts[5::17] = np.asarray(curve.identity())
    return pts


# --- field -------------------------------------------------------------------------------------


def test_fr_elementwise():
    a, b = fr_values(1, (5000,)), fr_values(2, (5000,))
    assert_identical(field.add, a, b)
    assert_identical(field.sub, a, b)
    assert_identical(field.mul, a, b)
    assert_identical(field.neg, a)
    assert_identical(field.to_canonical_limbs, a)
    canon = on_cpu(field.to_canonical_limbs, a)
    assert_identical(field.from_canonical_limbs, canon)
    wide = np.array(jax.random.bits(jax.random.PRNGKey(3), (777, 16), dtype=jnp.uint32))
    wide[0] = 0xFFFFFFFF
    assert_identical(field.from_wide, wide)
    ints = np.array(jax.random.randint(jax.random.PRNGKey(4), (999,), -(2**31), 2**31 - 1,
                                         dtype=jnp.int32))
    ints[:4] = [0, -1, -(2**31), 2**31 - 1]
    assert_identical(field.encode, ints)


def test_fr_pow():
    a = fr_values(5, (300,))
    exps = [0, 1, 2, R - 2, R - 1, 2**256 - 1] + [int(x) for x in np.arange(294) * 7919 + 3]
    out = assert_identical(lambda x: field.pow(x, exps), a)
    # exps[3] = r - 2, so out[3] is the inverse of a[3] = 2.
    inv = on_cpu(field.inv, a)
    np.testing.assert_array_equal(out[3], inv[3])


@pytest.mark.parametrize("n", [1, 7, 1000, 2**16 + 1])
def test_fr_batch_inv_with_zeros(n):
    a = fr_values(10 + n, (n,))
    a[3::5] = 0
    a[n // 2 :: 97] = 0
    out = assert_identical(field.inv, a)
    zero = np.all(a == 0, axis=-1)
    assert np.all(out[zero] == 0)
    prod = on_cpu(field.mul, a, out)
    one = on_cpu(lambda: field.ones())
    assert np.all(prod[~zero] == one)


@pytest.mark.parametrize(
    "shape",
    [(1, 1), (1, 63), (1, 64), (1, 2**16 + 3), (7, 1000), (300, 5), (2048, 70), (2, 3, 513)],
)
def test_fr_sum_and_inner_product(shape):
    a, b = fr_values(20, shape), fr_values(21, shape)
    s = assert_identical(field.sum, a)
    assert s.shape == shape[:-1] + (field.LIMBS,)
    assert_identical(field.inner_product, a, b)
    assert_identical(lambda x: field.sum(x, axis=0), a)
    # Known answer: Σ (r-1) over n terms is -n.
    minus_one = np.broadcast_to(on_cpu(lambda: field.encode(R - 1)), shape + (field.LIMBS,))
    got = both(field.sum, np.ascontiguousarray(minus_one))[1]
    want = on_cpu(lambda: field.encode(-shape[-1]))
    assert np.all(got == want)


@pytest.mark.parametrize("words", [8, 8 * 3, 8 * 64 * 2])
def test_reduction_scratch_smaller_than_asked(words):
    """The partials are a result sized by the caller; a smaller one caps the parts (down to a
    single pass over each row), never the answer."""
    a, b = fr_values(22, (3, 2**16 + 5)), fr_values(23, (3, 2**16 + 5))

    def short(x, y):
        out = (jax.ShapeDtypeStruct((3, field.LIMBS), jnp.uint32),
               jax.ShapeDtypeStruct((words,), jnp.uint32))
        return (ffi.call("zk_fr_sum", out, x)[0], ffi.call("zk_fr_inner_product", out, x, y)[0])

    _, got = both(short, a, b)
    cpu = assert_identical(lambda x, y: (field.sum(x), field.inner_product(x, y)), a, b)
    for g, c in zip(got, cpu):
        np.testing.assert_array_equal(g, c)


def test_sumcheck_pass_scratch_smaller_than_asked():
    """A round pass's grid is capped at the blocks its partials buffer holds (one block with the
    smallest buffer): the same round polynomial and folded tables."""
    from zkllm_jax import sumcheck

    tables = fr_values(24, (3, 2**15))
    r = fr_values(25, (1,))[0]
    terms = sumcheck.term_exponents(((0, 1), (2,)), 3)
    coeffs = fr_values(26, (2,))

    def run(t, rr, c, words):
        outs = (jax.ShapeDtypeStruct((3, 2**14, field.LIMBS), jnp.uint32),
                jax.ShapeDtypeStruct((3, field.LIMBS), jnp.uint32),
                jax.ShapeDtypeStruct((words,), jnp.uint32))
        return ffi.call("zk_fr_sumcheck_fold_round", outs, t, rr, c, vmap_method="sequential",
                        terms=terms, num_tables=3, has_eq=0)[:2]

    want = assert_identical(lambda t, rr, c: run(t, rr, c, 8 * 9 * 2048), tables, r, coeffs)
    for words in (8, 8 * 9 * 3):
        _, got = both(lambda t, rr, c, w=words: run(t, rr, c, w), tables, r, coeffs)
        for g, c in zip(got, want):
            np.testing.assert_array_equal(g, c)


def test_transcript_step():
    """The fused absorb-and-squeeze step (one device thread) gives the CPU's bytes; the CPU's
    are checked against hashlib in test_transcript.py."""
    x = fr_values(27, (5,))
    state = np.arange(32, dtype=np.uint8)
    meta = np.frombuffer(b"\x00\x00\x00\x03abc\x01\x00\x00\x00\x01", np.uint8)
    squeeze = np.frombuffer(b"\x00\x00\x00\x01r\x00\x00\x00\x02", np.uint8)

    def step(s, v, m, q):
        outs = (jax.ShapeDtypeStruct((32,), jnp.uint8),
                jax.ShapeDtypeStruct((2, field.LIMBS), jnp.uint32))
        return ffi.call("zk_transcript_step", outs, s, v, m, q)

    assert_identical(step, state, x, meta, squeeze)


@pytest.mark.parametrize("lo,log_size", [(-(1 << 15), 16), (0, 17), (-32, 6)])
def test_range_histogram(lo, log_size):
    """Warp-aggregated atomics on the GPU count what the CPU counts, with a third of the entries
    on one bin, values outside the range and a length that is not a multiple of a block."""
    rng = np.random.default_rng(log_size)
    x = rng.integers(lo - 100, lo + (1 << log_size) + 100, (1 << 20) + 77).astype(np.int32)
    x[::3] = lo + 1

    def hist(v):
        out = jax.ShapeDtypeStruct((1 << log_size,), jnp.int32)
        return ffi.call("zk_range_histogram", out, v, lo=lo, size=1 << log_size)

    cpu = assert_identical(hist, x)
    assert int(cpu.sum()) == int(((x >= lo) & (x < lo + (1 << log_size))).sum())


@pytest.mark.parametrize("rows,cols", [(1, 1), (3, 2048), (1000, 3), (2**16, 64), (50, 70)])
def test_fr_fold_rows_i32(rows, cols):
    rng = np.random.default_rng(rows + cols)
    m = rng.integers(-(2**31), 2**31, (rows, cols), dtype=np.int64).astype(np.int32)
    m.flat[: min(m.size, 3)] = [-(2**31), 2**31 - 1, 0][: min(m.size, 3)]
    assert_identical(field.fold_rows_i32, m, fr_values(22, (rows,)))


# --- curve -------------------------------------------------------------------------------------


def test_g1_elementwise():
    a, b = points(30, 200), points(31, 200)
    b[7] = a[7]  # doubling through add
    b[8] = on_cpu(curve.neg, a[8])  # P + (-P)
    assert_identical(curve.add, a, b)
    assert_identical(curve.double, a)
    assert_identical(curve.neg, a)
    eq = assert_identical(curve.eq, a, b)
    assert eq[7] and not eq[9]
    # Another representative of the same point compares equal on the GPU.
    twice = on_cpu(curve.double, a)
    other = on_cpu(curve.sub, twice, a)
    assert np.all(assert_identical(curve.eq, a, other))


def test_g1_scalar_mul():
    a = points(40, 64)
    k = fr_values(41, (64,))
    assert_identical(curve.scalar_mul, a, k)


def test_g1_validate():
    x = 1
    while True:  # a point on the curve outside the prime-order subgroup
        rhs = (x**3 + 4) % P
        y = pow(rhs, (P + 1) // 4, P)
        if y * y % P == rhs:
            break
        x += 1
    good = points(50, 8)
    bad = np.asarray(curve.from_affine([x, x], [y, (y + 1) % P], validate_points=False))
    limbs = good[:1].copy()
    limbs[0, 0, :] = 0xFFFFFFFF
    allp = np.concatenate([good, bad, limbs])
    status = assert_identical(curve.status_of, allp)
    assert list(status) == [0] * 8 + [3, 2, 1]


# --- MSM ---------------------------------------------------------------------------------------


def fr_scalars(seed: int, shape) -> np.ndarray:
    return fr_values(seed, shape)


def i32_scalars(seed: int, shape) -> np.ndarray:
    k = np.array(jax.random.randint(jax.random.PRNGKey(seed), shape, -(2**31), 2**31 - 1,
                                      dtype=jnp.int32))
    flat = k.reshape(-1)
    special = [-(2**31), 0, 2**31 - 1, -1, 1]
    flat[: min(len(flat), 5)] = special[: min(len(flat), 5)]
    return flat.reshape(shape)


def assert_msm_matches(pts, sc):
    cpu, gpu = both(curve.msm, pts, sc)
    assert cpu.shape == gpu.shape
    assert same_points(cpu, gpu)
    return cpu


@pytest.mark.parametrize("n", [1, 2, 3, 1000, 2**12 + 7])
def test_msm_fr(n):
    assert_msm_matches(points(60 + n, n), fr_scalars(61 + n, (n,)))


@pytest.mark.parametrize("n", [1, 2, 3, 1000, 2**12 + 7])
def test_msm_i32(n):
    pts = points(70 + n, n)
    k = i32_scalars(71 + n, (n,))
    got = assert_msm_matches(pts, k)
    # The small-scalar path equals the full-width path on the GPU too.
    full = on_cpu(field.encode, k.astype(np.int64))
    assert same_points(both(curve.msm, pts, full)[1], got)


def test_msm_batches():
    pts = points(80, 300)
    # Shared points, one scalar row per MSM (Hyrax rows).
    assert_msm_matches(pts, fr_scalars(81, (4, 300)))
    assert_msm_matches(pts, i32_scalars(82, (5, 300)))
    # Per-row points, shared scalars.
    rows = np.stack([pts, on_cpu(curve.double, pts), on_cpu(curve.neg, pts)])
    assert_msm_matches(rows, fr_scalars(83, (300,)))
    assert_msm_matches(rows, i32_scalars(84, (300,)))
    # Both batched.
    assert_msm_matches(rows, i32_scalars(85, (3, 300)))
    # vmap over rows runs the batched handler.
    sc = fr_scalars(86, (3, 300))
    cpu, gpu = both(jax.vmap(curve.msm, in_axes=(None, 0)), pts, sc)
    assert same_points(cpu, gpu)


def test_msm_skewed_and_cancelling_scalars():
    n = 5000
    pts = points(90, n)
    # Every scalar equal: one huge bucket per window.
    assert_msm_matches(pts, np.full((n,), -7, np.int32))
    assert_msm_matches(pts, np.broadcast_to(on_cpu(lambda: field.encode(5)), (n, 8)).copy())
    # Small magnitudes (quantised weights), zeros included.
    small = np.asarray(jax.random.randint(jax.random.PRNGKey(91), (3, n), -300, 300,
                                          dtype=jnp.int32))
    assert_msm_matches(pts, small)
    # k·P + (-k)·P = O.
    two = np.concatenate([pts[:1], pts[:1]])
    out = both(curve.msm, two, np.array([9, -9], np.int32))[1]
    assert curve.to_affine(out) == [None]
    # All scalars zero.
    out = both(curve.msm, pts[:100], np.zeros((100,), np.int32))[1]
    assert curve.to_affine(out) == [None]


def test_msm_hyrax_shape_smoke():
    """Many rows of shared points with int32 scalars (the commitment layout), GPU vs CPU."""
    pts = points(95, 2048)
    k = np.asarray(jax.random.randint(jax.random.PRNGKey(96), (64, 2048), -(2**15), 2**15,
                                      dtype=jnp.int32))
    assert_msm_matches(pts, k)


@pytest.mark.parametrize("bits", [2, 9, 17, 20])
def test_msm_narrow_bound(bits):
    """A bound |x| <= 2^(bits−1) (fewer windows; the advice commitments' 17), its edges
    included, batched rows of shared points as in a commitment: GPU equals CPU equals the
    full-width path."""
    top = 1 << (bits - 1)
    pts = points(97, 700)
    k = np.array(jax.random.randint(jax.random.PRNGKey(98 + bits), (6, 700), -top, top + 1,
                                      dtype=jnp.int32))
    k[0, :4] = [top, -top, top - 1, 1 - top]
    cpu, gpu = both(lambda p, s: curve.msm(p, s, bits=bits), pts, k)
    assert same_points(cpu, gpu)
    assert same_points(both(curve.msm, pts, k)[1], gpu)


# --- other targets through the public API --------------------------------------------------------


def test_compress_roundtrip_and_hash_to_curve():
    pts = points(100, 50)
    comp = assert_identical(curve.to_compressed, pts)
    back_cpu, back_gpu = both(curve.from_compressed, comp)
    assert same_points(back_cpu, back_gpu) and same_points(back_cpu, pts)
    msgs = np.frombuffer(bytes(range(64)) * 4, np.uint8).reshape(4, 64)
    h_cpu, h_gpu = both(lambda m: curve.hash_to_curve(m, b"ZKLLM-GPU-TEST"), msgs)
    assert same_points(h_cpu, h_gpu)
