"""MLE tables, evaluation, folding and partial evaluation against Python-integer references."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from zkllm_jax import field, mle

R = field.R
RNG = np.random.default_rng(7)


def rand_ints(*shape):
    flat = [int.from_bytes(RNG.bytes(40), "little") % R for _ in range(int(np.prod(shape)))]
    return np.array(flat, dtype=object).reshape(shape)


def eq_ref(u, x: int) -> int:
    acc = 1
    for j, uj in enumerate(u):
        acc = acc * (uj if (x >> j) & 1 else 1 - uj) % R
    return acc


def eval_ref(vals, u) -> int:
    return sum(int(v) * eq_ref(u, x) for x, v in enumerate(vals)) % R


def test_num_vars():
    assert [mle.num_vars(n) for n in (1, 2, 3, 4, 5, 1024, 1025)] == [0, 1, 2, 2, 3, 10, 11]
    with pytest.raises(ValueError):
        mle.num_vars(0)


def test_eq_table():
    u = rand_ints(4)
    got = field.decode(mle.eq_table(field.encode(u)))
    assert [int(v) for v in got] == [eq_ref(u, x) for x in range(16)]


@pytest.mark.parametrize("n,k", [(1, 0), (2, 1), (13, 4), (16, 4), (9, 6)])
def test_evaluate_matches_reference(n, k):
    vals, u = rand_ints(n), rand_ints(k)
    pt = field.encode(u) if k else np.zeros((0, 8), np.uint32)
    assert field.decode(mle.evaluate(field.encode(vals), pt)) == eval_ref(vals, u)


def test_evaluate_rejects_short_point():
    with pytest.raises(ValueError, match="more than 2"):
        mle.evaluate(field.encode(rand_ints(9)), field.encode(rand_ints(3)))


def test_fold_binds_variable_zero_and_batches():
    vals, r = rand_ints(2, 8), int(rand_ints(1)[0])
    got = field.decode(mle.fold(field.encode(vals), field.encode(r)))
    want = [[(a[2 * i] + r * (a[2 * i + 1] - a[2 * i])) % R for i in range(4)] for a in vals]
    assert [[int(v) for v in row] for row in got] == want
    with pytest.raises(ValueError, match="power of two"):
        mle.fold(field.encode(rand_ints(6)), field.encode(r))


def test_partial_evaluation_agrees_with_flat_mle():
    x = rand_ints(3, 5, 6)  # padded per axis to 4 x 8 x 8: 2 + 3 + 3 variables
    fx = field.encode(x)
    pts = [rand_ints(2), rand_ints(3), rand_ints(3)]
    # flat MLE of the per-axis padded tensor, last axis = lowest variables
    padded = np.zeros((4, 8, 8), dtype=object)
    padded[:3, :5, :6] = x
    flat_point = list(pts[2]) + list(pts[1]) + list(pts[0])
    want = eval_ref(padded.reshape(-1), flat_point)
    assert field.decode(mle.evaluate_tensor(fx, [field.encode(p) for p in pts])) == want
    assert field.decode(mle.evaluate(mle.table(fx), field.encode(flat_point))) == want
    split = mle.split_point(field.encode(flat_point), (3, 5, 6))
    assert [list(field.decode(s)) for s in split] == [list(p) for p in pts]
    # fix the middle axis only; the others stay
    part = mle.partial_evaluate(fx, {1: field.encode(pts[1])})
    assert part.shape == (3, 6, 8)
    got = field.decode(part)
    for i in range(3):
        for k in range(6):
            assert got[i, k] == eval_ref(list(x[i, :, k]), pts[1])


@pytest.mark.parametrize("shape,axes", [((3, 5, 6), (1,)), ((3, 5, 6), (0, 2)), ((4, 1, 3), (1,)),
                                        ((7,), (0,)), ((2, 8, 8), (1,)), ((5, 3), ())])
def test_partial_evaluate_of_int32_equals_the_field_path(shape, axes):
    """An int32 tensor's first contraction is a native fold (no field copy): the same values as
    the encoded tensor's, negative entries and int32's ends included, axes of length 1 and
    none fixed too, under jit."""
    x = RNG.integers(-(2**31), 2**31, size=shape, dtype=np.int64).astype(np.int32)
    x.reshape(-1)[0], x.reshape(-1)[-1] = -(2**31), 2**31 - 1
    nv = {a: mle.num_vars(shape[a]) for a in axes}
    pts = {a: field.encode(rand_ints(n)) if n else jnp.zeros((0, field.LIMBS), jnp.uint32)
           for a, n in nv.items()}
    want = np.asarray(mle.partial_evaluate(field.encode(x.astype(object)), pts))
    got = mle.partial_evaluate(jnp.asarray(x), pts)
    got_jit = jax.jit(mle.partial_evaluate)(jnp.asarray(x), pts)
    assert got.shape == want.shape
    np.testing.assert_array_equal(np.asarray(got), want)
    np.testing.assert_array_equal(np.asarray(got_jit), want)


def test_partial_evaluate_errors():
    fx = field.encode(rand_ints(3, 5))
    with pytest.raises(ValueError, match="expected 3 coordinates"):
        mle.partial_evaluate(fx, {1: field.encode(rand_ints(2))})
    with pytest.raises(ValueError, match="out of range"):
        mle.partial_evaluate(fx, {2: field.encode(rand_ints(2))})


def test_jit():
    vals, u = field.encode(rand_ints(16)), field.encode(rand_ints(4))
    assert field.decode(jax.jit(mle.evaluate)(vals, u)) == field.decode(mle.evaluate(vals, u))


@pytest.mark.parametrize("shape", [(1,), (2,), (7,), (3, 5, 6), (1, 9), (4, 1, 3)])
def test_evaluate_i32_matches_the_field_mle(shape):
    """The int32 path (a native fold of the tensor read as a matrix) gives the flat MLE of the
    per-axis padded tensor, negative entries and int32's ends included, under jit too."""
    x = RNG.integers(-(2**31), 2**31, size=shape, dtype=np.int64).astype(np.int32)
    x.reshape(-1)[0] = -(2**31)
    x.reshape(-1)[-1] = 2**31 - 1
    k = sum(mle.num_vars(d) for d in shape)
    padded = np.zeros(tuple(1 << mle.num_vars(d) for d in shape), dtype=object)
    padded[tuple(slice(0, d) for d in shape)] = x.astype(object) % R
    u = rand_ints(k)
    want = eval_ref(padded.reshape(-1), u)
    got = mle.evaluate_i32(jax.numpy.asarray(x), field.encode(u) if k else field.zeros((0,)))
    assert field.decode(got) == want
    assert field.decode(jax.jit(mle.evaluate_i32)(jax.numpy.asarray(x), field.encode(u) if k
                                                  else field.zeros((0,)))) == want


def test_evaluate_i32_errors():
    with pytest.raises(TypeError, match="int32"):
        mle.evaluate_i32(field.encode(rand_ints(4)), field.encode(rand_ints(2)))
    with pytest.raises(ValueError, match="expected 3 coordinates"):
        mle.evaluate_i32(jax.numpy.zeros((5,), jax.numpy.int32), field.encode(rand_ints(2)))
