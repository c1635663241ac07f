"""Fr arithmetic against Python integers mod r and against arkworks' Scalar."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import py_arkworks_bls12381 as ark
import pytest

from zkllm_jax import field

R = field.R
EDGES = [0, 1, 2, R - 1, R - 2, (R - 1) // 2, (R + 1) // 2, 2**255 % R, 2**254, 2**253 - 1,
         2**128, 2**64 - 1, 2**32, 0xFFFFFFFF, int("ffffffff" * 7 + "7", 16) % R,
         sum(1 << (32 * i + 31) for i in range(8)) % R]


def values(rng, n=64):
    return EDGES + [rng.randrange(R) for _ in range(n)]


def test_constants_match_arkworks():
    assert R == int(ark.Scalar(0) - ark.Scalar(1)) + 1


def test_encode_decode_roundtrip(rng):
    xs = values(rng)
    assert list(field.decode(field.encode(xs))) == xs


@pytest.mark.parametrize("op,ref", [
    (field.add, lambda a, b: (a + b) % R),
    (field.sub, lambda a, b: (a - b) % R),
    (field.mul, lambda a, b: a * b % R),
])
def test_binary_ops_vs_python(rng, op, ref):
    xs = values(rng)
    ys = list(reversed(values(rng)))
    got = field.decode(op(field.encode(xs), field.encode(ys)))
    assert list(got) == [ref(a, b) for a, b in zip(xs, ys)]


def test_ops_vs_arkworks(rng):
    xs, ys = values(rng, 32), values(rng, 32)[::-1]
    a, b = field.encode(xs), field.encode(ys)
    prod = field.decode(field.mul(a, b))
    inv = field.decode(field.inv(a))
    for x, y, p, i in zip(xs, ys, prod, inv):
        assert p == int(ark.Scalar(x) * ark.Scalar(y))
        if x:
            assert i == int(ark.Scalar(x).inverse())
    s = field.decode(field.sum(a))
    acc = ark.Scalar(0)
    for x in xs:
        acc = acc + ark.Scalar(x)
    assert s == int(acc)


def test_neg_and_inverse_identities(rng):
    xs = values(rng)
    a = field.encode(xs)
    assert list(field.decode(field.neg(a))) == [(-x) % R for x in xs]
    assert list(field.decode(field.inv(a))) == [pow(x, -1, R) if x else 0 for x in xs]
    prod = field.decode(field.mul(a, field.inv(a)))
    assert list(prod) == [1 if x else 0 for x in xs]


def test_batch_inverse_large_with_zeros(rng):
    xs = [rng.randrange(R) if i % 97 else 0 for i in range(10_000)]
    got = field.decode(field.inv(field.encode(xs)))
    assert all(g == (pow(x, -1, R) if x else 0) for g, x in zip(got, xs))


def test_pow(rng):
    xs = values(rng, 16)
    es = [0, 1, 2, 3, R - 1, R - 2, 2**256 - 1] + [rng.randrange(2**256) for _ in range(len(xs) - 7)]
    got = field.decode(field.pow(field.encode(xs), np.array(es, dtype=object)))
    assert list(got) == [pow(x, e, R) for x, e in zip(xs, es)]
    assert int(ark.Scalar(xs[-1]).pow(ark.Scalar(5))) == field.decode(field.pow(field.encode(xs[-1]), 5))


def test_sum_and_inner_product_axes(rng):
    m = np.array([[rng.randrange(R) for _ in range(5)] for _ in range(3)], dtype=object)
    w = np.array([[rng.randrange(R) for _ in range(5)] for _ in range(3)], dtype=object)
    a, b = field.encode(m), field.encode(w)
    assert list(field.decode(field.sum(a, axis=1))) == [sum(r) % R for r in m]
    assert list(field.decode(field.sum(a, axis=0))) == [sum(c) % R for c in m.T]
    ip = field.decode(field.inner_product(a, b))
    assert list(ip) == [sum(x * y for x, y in zip(r, s)) % R for r, s in zip(m, w)]


def test_encode_int_arrays():
    x32 = jnp.array([0, 1, -1, 2**31 - 1, -(2**31), 12345, -98765], dtype=jnp.int32)
    got = field.decode(field.encode(x32))
    assert list(got) == [int(v) % R for v in np.asarray(x32)]
    assert list(field.decode(field.encode(x32), signed=True)) == [int(v) for v in np.asarray(x32)]
    x64 = np.array([2**62, -(2**63), 7], dtype=np.int64)
    assert list(field.decode(field.encode(x64))) == [int(v) % R for v in x64]
    assert field.decode(field.encode(-5)) == R - 5
    assert field.decode(field.encode(R + 3)) == 3
    i8 = jnp.array([-128, 127], dtype=jnp.int8)
    assert list(field.decode(field.encode(i8), signed=True)) == [-128, 127]


def test_from_wide_and_random(rng):
    ws = [rng.randrange(2**512) for _ in range(20)] + [2**512 - 1, 0, R, R * R]
    limbs = np.array([np.frombuffer(w.to_bytes(64, "little"), dtype="<u4") for w in ws])
    got = field.decode(field.from_wide(jnp.asarray(limbs, dtype=jnp.uint32)))
    assert list(got) == [w % R for w in ws]
    r = field.random(jax.random.key(1), (1000,))
    vals = field.decode(r)
    assert len(set(vals)) == 1000 and all(0 <= v < R for v in vals)
    assert max(vals) > R // 2  # uniform over [0, r), not a narrow range


def test_jit_and_vmap(rng):
    xs, ys = values(rng, 8), values(rng, 8)[::-1]
    a, b = field.encode(xs), field.encode(ys)

    @jax.jit
    def f(a, b):
        return field.add(field.mul(a, b), field.inv(b))

    want = [(x * y + (pow(y, -1, R) if y else 0)) % R for x, y in zip(xs, ys)]
    assert list(field.decode(f(a, b))) == want
    # vmap over a batch axis of a reduction.
    batch = jnp.stack([a, b])
    got = jax.vmap(field.sum)(batch)
    assert list(field.decode(got)) == [sum(xs) % R, sum(ys) % R]
    got2 = jax.vmap(field.inner_product, in_axes=(0, None))(batch, b)
    assert list(field.decode(got2)) == [
        sum(x * y for x, y in zip(xs, ys)) % R, sum(y * y for y in ys) % R]
    enc = jax.jit(field.encode)(jnp.array([-3, 4], dtype=jnp.int32))
    assert list(field.decode(enc, signed=True)) == [-3, 4]


def test_broadcasting(rng):
    xs = values(rng, 4)
    a = field.encode(xs)
    two = field.encode(2)
    assert list(field.decode(field.mul(a, two))) == [2 * x % R for x in xs]


def test_bad_inputs():
    good = field.encode([1, 2])
    with pytest.raises(TypeError, match="dtype"):
        field.add(good.astype(jnp.int32), good)
    with pytest.raises(ValueError, match="shape"):
        field.add(good[:, :7], good[:, :7])
    with pytest.raises(ValueError, match="empty"):
        field.mul(good[:0], good[:0])
    bad = np.array([[(R >> (32 * i)) & 0xFFFFFFFF for i in range(8)]], dtype=np.uint32)
    with pytest.raises(ValueError, match="non-canonical.*index \\(0,\\)"):
        field.add(jnp.asarray(bad), good[:1])
    with pytest.raises(TypeError, match="int32 or narrower"):
        field.encode(jnp.array([1.5], dtype=jnp.float32))
    with pytest.raises(ValueError, match="empty"):
        field.encode([])
    with pytest.raises(ValueError, match="exponents"):
        field.pow(good, -1)
    with pytest.raises(TypeError):
        field.add([1, 2], good)


def test_trusted_scope_skips_only_the_canonical_test():
    """Inside field.trusted() (a prover's scope) `check` lets a non-canonical array through,
    for small host arrays and for the large-array path alike; layout errors still raise;
    check_canonical raises inside too; the scope nests and is restored on exit, also after an
    exception."""
    big = np.zeros((field.HOST_MAX + 1, 8), np.uint32)
    big[-1] = [(R >> (32 * i)) & 0xFFFFFFFF for i in range(8)]
    small = jnp.asarray(big[-1:])
    for bad, idx in ((small, "(0,)"), (jnp.asarray(big), f"({field.HOST_MAX},)")):
        with pytest.raises(ValueError, match=f"non-canonical.*index \\{idx[:-1]}\\)"):
            field.check(bad)
        with field.trusted():
            assert field.check(bad).shape == bad.shape
            with field.trusted():
                field.check(bad)
            field.check(bad)  # still trusted after the inner scope closed
            with pytest.raises(ValueError, match="non-canonical"):
                field.check_canonical(bad, "input")
            with pytest.raises(ValueError, match="shape"):
                field.check(bad[:, :7])
        with pytest.raises(ValueError, match="non-canonical"):
            field.check(bad)
    with pytest.raises(RuntimeError), field.trusted():
        raise RuntimeError
    with pytest.raises(ValueError, match="non-canonical"):
        field.check(small)


def test_noncanonical_flag():
    """field.noncanonical: True exactly when some element has limbs >= r, eager or jitted."""
    good = field.encode([0, 1, R - 1])
    r_limbs = jnp.asarray([(R >> (32 * i)) & 0xFFFFFFFF for i in range(8)], jnp.uint32)
    for bad in (good.at[2].set(r_limbs), good.at[0].set(jnp.full(8, 0xFFFFFFFF, jnp.uint32))):
        assert bool(field.noncanonical(bad)) and bool(jax.jit(field.noncanonical)(bad))
    assert not bool(field.noncanonical(good)) and not bool(jax.jit(field.noncanonical)(good))
    with pytest.raises(ValueError, match="shape"):
        field.noncanonical(good[:, :7])
