"""G1 arithmetic and MSM against arkworks (py-arkworks-bls12381) and Python integers."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import py_arkworks_bls12381 as ark
import pytest
from refs import ark_points, our_points, random_ark_points

from zkllm_jax import curve, field

R, P = field.R, curve.P


def ark_msm(points, scalars):
    return ark.G1Point.multiexp_unchecked(points, [ark.Scalar(int(s) % R) for s in scalars])


def test_generator_matches_arkworks():
    assert ark_points(curve.generator()) == [ark.G1Point()]
    assert curve.to_affine(curve.identity()) == [None]


def test_add_double_neg_vs_arkworks(rng):
    aps = random_ark_points(rng, 8)
    bps = random_ark_points(rng, 8)
    a, b = our_points(aps), our_points(bps)
    assert ark_points(curve.add(a, b)) == [x + y for x, y in zip(aps, bps)]
    assert ark_points(curve.double(a)) == [x + x for x in aps]
    assert ark_points(curve.neg(a)) == [-x for x in aps]
    assert ark_points(curve.sub(a, b)) == [x - y for x, y in zip(aps, bps)]


def test_group_law_edge_cases(rng):
    a = our_points(random_ark_points(rng, 4))
    o = curve.identity((4,))
    assert bool(jnp.all(curve.eq(curve.add(a, o), a)))
    assert bool(jnp.all(curve.eq(curve.add(o, a), a)))
    assert curve.to_affine(curve.add(a, curve.neg(a))) == [None] * 4  # P + (-P)
    assert bool(jnp.all(curve.eq(curve.add(a, a), curve.double(a))))  # doubling through add
    assert curve.to_affine(curve.double(o)) == [None] * 4
    # Same point in another Jacobian representative (Z scaled) still adds as a doubling.
    dbl = curve.double(a)
    assert bool(jnp.all(curve.eq(curve.add(dbl, curve.sub(dbl, a)), curve.add(dbl, a))))
    assert not bool(jnp.any(curve.eq(a, dbl)))


def test_scalar_mul_vs_arkworks(rng):
    aps = random_ark_points(rng, 6)
    ks = [0, 1, R - 1, rng.randrange(R), rng.randrange(R), 2**255 % R]
    got = curve.scalar_mul(our_points(aps), field.encode(ks))
    assert ark_points(got) == [p * ark.Scalar(k) for p, k in zip(aps, ks)]
    # Negative scalars: encode(-k) = r - k, so (-k)·P = -(k·P).
    neg = curve.scalar_mul(our_points(aps), field.encode([-k for k in ks]))
    assert ark_points(neg) == [-(p * ark.Scalar(k)) for p, k in zip(aps, ks)]
    assert curve.to_affine(curve.scalar_mul(curve.identity((2,)), field.encode([5, 7]))) == [None] * 2


@pytest.mark.parametrize("n", [1, 2, 3, 1000, 2**12 + 7])
def test_msm_vs_arkworks(rng, n):
    aps = random_ark_points(rng, n)
    ks = [rng.randrange(R) for _ in range(n)]
    ks[0] = 0
    if n > 2:
        ks[1], ks[2] = R - 1, 1
    got = curve.msm(our_points(aps), field.encode(ks))
    assert ark_points(got) == [ark_msm(aps, ks)]


@pytest.mark.parametrize("n", [1, 3, 1000, 2**12 + 7])
def test_msm_int32_vs_arkworks(rng, n):
    aps = random_ark_points(rng, n)
    ks = [rng.randrange(-(2**31), 2**31) for _ in range(n)]
    ks[0] = -(2**31)
    if n > 2:
        ks[1], ks[2] = 0, 2**31 - 1
    got = curve.msm(our_points(aps), jnp.array(ks, dtype=jnp.int32))
    assert ark_points(got) == [ark_msm(aps, ks)]
    # The small-scalar path agrees with the full-width path.
    full = curve.msm(our_points(aps), field.encode(np.array(ks, dtype=np.int64)))
    assert bool(curve.eq(got, full))


@pytest.mark.parametrize("bits", [2, 9, 16, 17, 20])
def test_msm_narrow_bound_vs_arkworks(rng, bits):
    """A bound |x| <= 2^(bits−1) (fewer windows), with its edges ±2^(bits−1); the unsigned
    dtypes' default bounds (uint16: 17, uint8: 9) hold their largest values; a scalar far beyond
    a narrow bound gives a different sum (the bound is used, not ignored)."""
    top = 1 << (bits - 1)
    aps = random_ark_points(rng, 300)
    ks = [rng.randrange(-top, top + 1) for _ in range(300)]
    ks[:5] = [top, -top, top - 1, 1 - top, 0]
    pts, sc = our_points(aps), jnp.array(ks, dtype=jnp.int32)
    assert ark_points(curve.msm(pts, sc, bits=bits)) == [ark_msm(aps, ks)]
    for dt, big in ((jnp.uint16, 65535), (jnp.uint8, 255)):
        u = [big, 0, 1] + [rng.randrange(big + 1) for _ in range(297)]
        assert ark_points(curve.msm(pts, jnp.array(u, dtype=dt))) == [ark_msm(aps, u)]
    if bits <= 16:  # beyond the bound and the CPU's spare window (at 300 terms, 8-bit windows)
        over = [2**31 - 1] + ks[1:]
        assert ark_points(curve.msm(pts, jnp.array(over, jnp.int32), bits=bits)) != \
            [ark_msm(aps, over)]


def test_msm_bound_is_checked():
    pts = curve.generator((2,))
    with pytest.raises(ValueError, match="bits=1"):
        curve.msm(pts, jnp.array([1, 2], jnp.int32), bits=1)
    with pytest.raises(ValueError, match="bits=33"):
        curve.msm(pts, jnp.array([1, 2], jnp.int32), bits=33)
    with pytest.raises(ValueError, match="integer scalars"):
        curve.msm(pts, field.encode([1, 2]), bits=8)


def test_msm_with_identity_and_repeated_points(rng):
    aps = random_ark_points(rng, 3)
    pts = jnp.concatenate([our_points(aps), curve.identity((1,)), our_points(aps[:1])])
    ks = [5, 6, 7, 8, 9]
    want = aps[0] * ark.Scalar(14) + aps[1] * ark.Scalar(6) + aps[2] * ark.Scalar(7)
    assert ark_points(curve.msm(pts, field.encode(ks))) == [want]
    # Cancelling terms: k·P + (-k)·P = O.
    two = jnp.concatenate([our_points(aps[:1])] * 2)
    assert curve.to_affine(curve.msm(two, field.encode([9, -9]))) == [None]


def test_msm_batched_rows_share_points(rng):
    aps = random_ark_points(rng, 50)
    rows = np.array([[rng.randrange(-1000, 1000) for _ in range(50)] for _ in range(4)])
    pts = our_points(aps)
    got = curve.msm(pts, jnp.asarray(rows, dtype=jnp.int32))
    assert got.shape == (4, 3, 12)
    assert ark_points(got) == [ark_msm(aps, list(r)) for r in rows]
    fr = curve.msm(pts, field.encode(rows))
    assert bool(jnp.all(curve.eq(fr, got)))
    # Per-row points with shared scalars.
    per_row = jnp.stack([pts, curve.double(pts)])
    got2 = curve.msm(per_row, jnp.asarray(rows[0], dtype=jnp.int32))
    assert ark_points(got2) == [ark_msm(aps, list(rows[0])), ark_msm([p + p for p in aps], list(rows[0]))]


def test_jit_and_vmap(rng):
    aps = random_ark_points(rng, 16)
    pts = our_points(aps)
    ks = np.array([[rng.randrange(R) for _ in range(16)] for _ in range(3)], dtype=object)
    sc = field.encode(ks)
    want = [ark_msm(aps, list(r)) for r in ks]
    assert ark_points(jax.jit(curve.msm)(pts, sc)) == want
    assert ark_points(jax.vmap(curve.msm, in_axes=(None, 0))(pts, sc)) == want
    stacked = jnp.stack([pts] * 3)
    assert ark_points(jax.vmap(curve.msm, in_axes=(0, 0))(stacked, sc)) == want
    f = jax.jit(lambda a, b: curve.double(curve.add(a, b)))
    assert ark_points(f(pts[:2], pts[2:4])) == [(aps[0] + aps[2]) * ark.Scalar(2),
                                                (aps[1] + aps[3]) * ark.Scalar(2)]


def _non_subgroup_point() -> tuple[int, int]:
    x = 1
    while True:
        rhs = (x**3 + 4) % P
        y = pow(rhs, (P + 1) // 4, P)
        if y * y % P == rhs:
            return x, y
        x += 1


def test_validation_rejects_bad_points():
    x, y = _non_subgroup_point()
    with pytest.raises(ValueError, match="prime-order subgroup"):
        curve.from_affine([x], [y])
    with pytest.raises(ValueError, match="not on the curve"):
        curve.from_affine([x], [(y + 1) % P])
    with pytest.raises(ValueError, match="out of range"):
        curve.from_affine([P], [y])
    pts = curve.from_affine([x], [y], validate_points=False)
    assert int(curve.status_of(pts)[0]) == 3
    with pytest.raises(ValueError, match="index \\(\\): .*subgroup"):
        curve.validate(pts[0])  # a single point, status of shape ()
    raw = np.array(curve.generator((1,)))
    raw[0, 0, :] = 0xFFFFFFFF
    with pytest.raises(ValueError, match="canonical"):
        curve.validate(jnp.asarray(raw))
    g = curve.generator((2,))
    with pytest.raises(TypeError, match="dtype"):
        curve.add(g.astype(jnp.int32), g)
    with pytest.raises(ValueError, match="shape"):
        curve.add(g[..., :11], g[..., :11])
    with pytest.raises(ValueError, match="empty"):
        curve.double(g[:0])
    with pytest.raises(ValueError, match="2 points but 3 scalars"):
        curve.msm(g, field.encode([1, 2, 3]))
    with pytest.raises(ValueError, match="empty"):
        curve.msm(g[:0], jnp.zeros((0,), jnp.int32))
    with pytest.raises(ValueError, match="non-empty"):
        curve.msm(g[:1], jnp.zeros((0,), jnp.int32))
