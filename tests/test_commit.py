"""Hyrax commitments and hiding inner-product openings: completeness, binding, attacks, sizes."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from zkllm_jax import commit, curve, field, mle, proof
from zkllm_jax.commit import OpeningError, OpeningProof
from zkllm_jax.transcript import Transcript

TAG = b"zkllm-test/hyrax"
T0 = Transcript.new(b"zkllm-test")


@pytest.fixture(scope="module")
def gens():
    return commit.setup(256, TAG)


def _key(i):
    return jax.random.PRNGKey(i)


def _int_tensor(shape, seed=0):
    return jax.random.randint(_key(seed), shape, -(2**20), 2**20, dtype=jnp.int32)


def _open_and_check(tensors, gens, cols=None, seed=1):
    coms, wits = zip(*[commit.commit(x, gens, _key(seed + i), cols) for i, x in enumerate(tensors)])
    n = coms[0].num_vars
    pt = field.random(_key(99), (n,))
    vals, prf, tp = commit.prove_opening(coms, wits, pt, gens, T0, _key(7))
    for x, v in zip(tensors, vals):
        fx = field.encode(x) if x.dtype == jnp.int32 else x
        shape = fx.shape[:-1]
        want = mle.evaluate_tensor(fx, mle.split_point(pt, shape))
        assert field.decode(v) == field.decode(want)
    tv = commit.verify_opening(coms, pt, vals, prf, gens, T0)
    assert np.array_equal(np.asarray(tv.state), np.asarray(tp.state))
    return coms, pt, vals, prf


@pytest.mark.parametrize("shape", [(2,), (5, 7), (3, 1, 6), (16, 16)])
def test_completeness_int32(gens, shape):
    _open_and_check([_int_tensor(shape)], gens)


def test_completeness_field_tensor(gens):
    _open_and_check([field.random(_key(3), (3, 11))], gens)


def test_original_layout_cols(gens):
    coms, *_ = _open_and_check([_int_tensor((8, 16))], gens, cols=32)
    assert coms[0].col_vars == 5 and coms[0].rows.shape[0] == 4


def test_opening_of_2_16_elements(gens):
    coms, _, _, prf = _open_and_check([_int_tensor((256, 256), seed=5)], gens)
    assert coms[0].col_vars == 8
    assert len(proof.to_bytes(prf)) == proof.header_bytes(OpeningProof) + 96 * 8 + 112


def test_batched_opening(gens):
    xs = [_int_tensor((6, 10), seed=s) for s in (1, 2)] + [field.random(_key(4), (6, 10))]
    coms, pt, vals, prf = _open_and_check(xs, gens)
    bad = vals.at[1].set(field.add(vals[1], field.ones(())))
    with pytest.raises(OpeningError, match="ipa_final"):
        commit.verify_opening(coms, pt, bad, prf, gens, T0)


def test_different_tags_give_different_commitments():
    x = _int_tensor((4, 4))
    a, _ = commit.commit(x, commit.setup(4, b"tag-a"), _key(0))
    b, _ = commit.commit(x, commit.setup(4, b"tag-b"), _key(0))
    assert not bool(jnp.any(curve.eq(a.rows, b.rows)))
    g = commit.setup(4, b"tag-a")
    assert not bool(curve.eq(g.h, g.u)) and not bool(jnp.any(curve.eq(g.g, g.h)))


def test_hiding_blinds_change_commitment(gens):
    x = _int_tensor((4, 4))
    a, _ = commit.commit(x, gens, _key(0))
    b, _ = commit.commit(x, gens, _key(1))
    assert not bool(jnp.any(curve.eq(a.rows, b.rows)))


def test_int32_and_field_paths_agree(gens):
    x = _int_tensor((4, 8))
    a, _ = commit.commit(x, gens, _key(0))
    b, _ = commit.commit(field.encode(x), gens, _key(0))
    assert bool(jnp.all(curve.eq(a.rows, b.rows)))


def test_int_bits_known_answers():
    """The least bits with |x| <= 2^(bits−1), against Python integers, edges included."""
    for vals in ([0], [1, -1], [2], [3], [-4, 4], [5], [65535], [65536, -3], [-65536],
                 [-65537], [2**31 - 1], [-(2**31)], [0, 7, -9]):
        m = max(abs(v) for v in vals)
        want = next(b for b in range(2, 33) if m <= 2 ** (b - 1))
        assert commit.int_bits({"x": jnp.array(vals, jnp.int32)}) == {"x": want}, vals
    assert jax.jit(lambda x: len(commit.int_bits({"x": x})))(jnp.zeros(3, jnp.int32)) == 0


def test_bounded_commitment_equals_full_width(gens):
    """A measured bound gives the same points as full width (blinds' digits included); a bound
    that does not hold gives other points."""
    x = jax.random.randint(_key(3), (16, 16), -(2**15), 2**16, dtype=jnp.int32)
    bits = commit.int_bits({"x": x})["x"]
    assert bits == 17
    full, _ = commit.commit(x, gens, _key(0))
    for b in (bits, 20, 32):
        a, _ = commit.commit(x, gens, _key(0), bits=b)
        assert bool(jnp.all(curve.eq(a.rows, full.rows))), b
        assert bool(jnp.all(curve.eq(commit.commitment(x, gens, _key(0), bits=b).rows,
                                     full.rows)))
    big = x * (1 << 14)  # up to 2^30: beyond the bound and the CPU's spare window
    wrong = commit.commitment(big, gens, _key(0), bits=bits)
    assert not bool(jnp.all(curve.eq(wrong.rows, commit.commitment(big, gens, _key(0)).rows)))
    with pytest.raises(ValueError, match="bits must lie in"):
        commit.commit(x, gens, _key(0), bits=40)


def test_int32_witness_stays_int32_and_folds_in_blocks(gens, monkeypatch):
    """An int32 tensor's witness keeps its matrix as int32 (8x smaller than Fr); `matrix` reads
    it as field elements, and folding its rows block by block gives the one-pass result."""
    x = _int_tensor((24, 40), seed=5)
    _, w = commit.commit(x, gens, _key(2))
    _, c = commit.layout(x.shape)
    assert w.grid.dtype == jnp.int32 and w.grid.shape == (32, 1 << c)
    assert w.data is x  # the tensor itself, not a laid-out copy
    fx = commit.witness(field.encode(x), _key(2))
    assert np.array_equal(np.asarray(w.matrix), np.asarray(fx.matrix))
    assert np.array_equal(np.asarray(w.blinds), np.asarray(fx.blinds))
    pt = field.random(_key(3), (commit.layout(x.shape)[0],))
    eq_row = mle.eq_table(pt[c:])
    whole = np.asarray(commit.fold_rows(w, eq_row))
    want = np.asarray(field.inner_product(fx.matrix, eq_row[:, None, :], axis=0))
    assert np.array_equal(whole, want)
    for chunk in (1, 64, 256):  # blocks of one row, one row, four rows (64 columns)
        monkeypatch.setattr(commit, "_FOLD_CHUNK", chunk)
        assert np.array_equal(np.asarray(commit.fold_rows(w, eq_row)), whole)
        assert np.array_equal(np.asarray(commit.fold_rows(fx, eq_row)), whole)
        assert np.array_equal(np.asarray(commit.evaluate(w, pt)),
                              np.asarray(commit.evaluate(fx, pt)))


@pytest.mark.parametrize("rows,cols", [(1, 1), (1, 7), (5, 3), (64, 300), (600, 2)])
def test_native_i32_fold_matches_field_ops(rows, cols):
    """`field.fold_rows_i32` (wide integer sums, one reduction per column) equals the fold
    by field operations, with the int32 extremes and zeros present, eagerly and under jit."""
    rng = np.random.default_rng(rows * 1000 + cols)
    m = rng.integers(-(2**31), 2**31, (rows, cols), dtype=np.int64).astype(np.int32)
    k = min(m.size, 5)
    m.flat[:k] = [-(2**31), 2**31 - 1, 0, -1, 1][:k]
    e = field.random(_key(rows + cols), (rows,))
    mj = jnp.asarray(m)
    want = np.asarray(field.inner_product(field.encode(mj), e[:, None, :], axis=0))
    assert np.array_equal(np.asarray(field.fold_rows_i32(mj, e)), want)
    assert np.array_equal(np.asarray(jax.jit(field.fold_rows_i32)(mj, e)), want)


def test_native_i32_fold_names_bad_inputs():
    e = field.random(_key(0), (4,))
    with pytest.raises(TypeError, match="int32"):
        field.fold_rows_i32(jnp.zeros((4, 2), jnp.float32), e)
    with pytest.raises(ValueError, match=r"Fr\[3, 8\]"):
        field.fold_rows_i32(jnp.zeros((3, 2), jnp.int32), e)


def test_homomorphic_add_and_scale(gens):
    x, y = _int_tensor((4, 8), 1), _int_tensor((4, 8), 2)
    cx, wx = commit.commit(x, gens, _key(1))
    cy, wy = commit.commit(y, gens, _key(2))
    cs = commit.add(cx, commit.scale(cy, 3))
    ws = commit.add_witness(wx, commit.scale_witness(wy, 3))
    pt = field.random(_key(5), (cs.num_vars,))
    vals, prf, _ = commit.prove_opening([cs], [ws], pt, gens, T0, _key(6))
    commit.verify_opening([cs], pt, vals, prf, gens, T0)
    want = mle.evaluate_tensor(field.encode(x + 3 * y), mle.split_point(pt, (4, 8)))
    assert field.decode(vals[0]) == field.decode(want)


@pytest.fixture(scope="module")
def opened(gens):
    return _open_and_check([_int_tensor((8, 8), seed=11)], gens)


def test_wrong_value_rejected(gens, opened):
    coms, pt, vals, prf = opened
    with pytest.raises(OpeningError, match="ipa_final"):
        commit.verify_opening(coms, pt, field.add(vals, field.ones((1,))), prf, gens, T0)


def test_swapped_commitment_rejected(gens, opened):
    _, pt, vals, prf = opened
    other, _ = commit.commit(_int_tensor((8, 8), seed=12), gens, _key(3))
    with pytest.raises(OpeningError, match="ipa_final"):
        commit.verify_opening([other], pt, vals, prf, gens, T0)


def test_wrong_point_or_transcript_rejected(gens, opened):
    coms, pt, vals, prf = opened
    with pytest.raises(OpeningError):
        commit.verify_opening(coms, pt.at[0].set(field.ones(())), vals, prf, gens, T0)
    with pytest.raises(OpeningError):
        commit.verify_opening(coms, pt, vals, prf, gens, Transcript.new(b"other"))


@pytest.mark.parametrize("part", ["left", "right", "a", "z1", "z2", "swap_rounds"])
def test_tampered_proof_parts_rejected(gens, opened, part):
    coms, pt, vals, prf = opened
    if part in ("left", "right"):
        arr = getattr(prf, part)
        bad = prf.replace(**{part: arr.at[1].set(curve.double(arr[1]))})
    elif part == "a":
        bad = prf.replace(a=curve.double(prf.a))
    elif part == "swap_rounds":
        bad = prf.replace(left=prf.left[::-1], right=prf.right[::-1])
    else:
        bad = prf.replace(**{part: field.add(getattr(prf, part), field.ones(()))})
    with pytest.raises(OpeningError, match="ipa_final"):
        commit.verify_opening(coms, pt, vals, bad, gens, T0)


def test_host_and_jitted_verifiers_agree(gens, opened, monkeypatch):
    """A verifier's transcript (no key, host arrays) checks small openings with Python integers
    and one padded MSM (`_verify_core_host`, the route every other test here takes); the jitted
    route accepts the same proofs in the same end state and rejects the same tamperings, and the
    host route refuses a non-canonical scalar by name."""
    coms, pt, vals, prf = opened
    used = []
    host = commit._verify_core_host
    monkeypatch.setattr(commit, "_verify_core_host", lambda *a: used.append(1) or host(*a))
    t_host = commit.verify_opening(coms, pt, vals, prf, gens, T0)
    assert used == [1]
    with pytest.raises(OpeningError, match="shape.*non-canonical"):
        commit.verify_opening(coms, pt, vals, prf.replace(z1=jnp.asarray(field._R_LIMBS)), gens,
                              T0)
    monkeypatch.setattr(commit, "HOST_TERMS", 0)
    t_jit = commit.verify_opening(coms, pt, vals, prf, gens, T0)
    assert used == [1, 1] and np.array_equal(np.asarray(t_host.state), np.asarray(t_jit.state))
    for bad in (prf.replace(z2=field.add(prf.z2, field.ones(()))),
                prf.replace(left=prf.left[::-1], right=prf.right[::-1])):
        with pytest.raises(OpeningError, match="ipa_final"):
            commit.verify_opening(coms, pt, vals, bad, gens, T0)
    with pytest.raises(OpeningError, match="ipa_final"):
        commit.verify_opening(coms, pt, field.add(vals, field.ones((1,))), prf, gens, T0)
    assert used == [1, 1]


def test_jit_prover_gives_the_same_proof_bytes(gens):
    x = _int_tensor((8, 8), seed=2)
    cm, w = commit.commit(x, gens, _key(1))
    cmj, _ = jax.jit(commit.commit, static_argnums=(3,))(x, gens, _key(1), None)
    assert np.array_equal(np.asarray(cm.rows), np.asarray(cmj.rows))
    pt = field.random(_key(5), (cm.num_vars,))
    f = lambda c, w, p, t, k: commit.prove_opening([c], [w], p, gens, t, k)
    _, pe, _ = f(cm, w, pt, T0, _key(4))
    _, pj, _ = jax.jit(f)(cm, w, pt, T0, _key(4))
    assert proof.to_bytes(pe) == proof.to_bytes(pj)


def test_proof_size_is_logarithmic(gens):
    sizes = []
    for side in (4, 16, 64):  # 2^4 .. 2^12 elements
        coms, _, _, prf = _open_and_check([_int_tensor((side, side))], gens)
        c = coms[0].col_vars
        nbytes = len(proof.to_bytes(prf))
        assert nbytes == proof.header_bytes(OpeningProof) + commit.proof_bytes(c)
        assert commit.proof_bytes(c) == 96 * c + 112
        sizes.append(nbytes)
    assert [b - a for a, b in itertools.pairwise(sizes)] == [192, 192]


def test_bad_inputs_are_named(gens):
    with pytest.raises(ValueError, match="power of two"):
        commit.setup(3, TAG)
    with pytest.raises(ValueError, match="generators"):
        commit.commit(_int_tensor((64, 64)), commit.setup(4, TAG), _key(0))
    cm, w = commit.commit(_int_tensor((4, 4)), gens, _key(0))
    with pytest.raises(ValueError, match="point must be"):
        commit.prove_opening([cm], [w], field.random(_key(1), (3,)), gens, T0, _key(2))
