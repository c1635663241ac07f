"""LogUp-GKR lookups: completeness (range, mapping, batched, odd shapes), bad witnesses, attacks."""

from __future__ import annotations

import re
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from zkllm_jax import curve, ffi, field, lookup, mle, proof, sumcheck
from zkllm_jax.lookup import LookupError as LookupRejected
from zkllm_jax.lookup import LookupProof
from zkllm_jax.proof import ProofFormatError
from zkllm_jax.transcript import Transcript

R = field.R
T0 = Transcript.new(b"zkllm-test", zk=False)  # the flat proof format holds plain proofs
ZK = Transcript.new(b"zkllm-test")
RNG = np.random.default_rng(23)
RANGE = lookup.range_table(-128, 8)  # [-128, 128)


@pytest.fixture(scope="module")
def range_gens():
    return lookup.setup(RANGE)


def _key(i):
    return jax.random.PRNGKey(i)


def _range_values(shape, lo=-128, hi=128):
    """Random values of the range that include both ends."""
    v = RNG.integers(lo, hi, size=int(np.prod(shape)))
    v[0] = lo
    v[-1] = hi - 1
    return jnp.asarray(v.reshape(shape), jnp.int32)


def _mle_of(x, point):
    """A tensor's MLE (per-axis zero padding) at a flat point, independently of the prover."""
    fx = field.encode(x)
    if point.shape[0] == 0:  # a one-element tensor has no variables
        return int(field.decode(fx.reshape(-1, 8)[0]))
    return int(field.decode(mle.evaluate_tensor(fx, mle.split_point(point, x.shape))))


def _same_state(a, b):
    return np.array_equal(np.asarray(a.state), np.asarray(b.state))


def _prove_verify(table, columns, shapes, gens, key=1):
    claims, prf, tp = lookup.prove(table, columns, T0, gens, _key(key))
    out, tv = lookup.verify(table, shapes, proof.from_bytes(proof.to_bytes(prf), LookupProof),
                            T0, gens)
    assert _same_state(tp, tv)
    assert np.array_equal(np.asarray(out.point), np.asarray(claims.point))
    assert np.array_equal(np.asarray(out.values), np.asarray(claims.values))
    return claims, prf


def _size_ok(table, shapes, prf):
    lay = lookup.layout(table, shapes)
    c_m = prf.opening_left.shape[0]
    want = proof.header_bytes(LookupProof) + lookup.proof_bytes(lay, c_m)
    assert len(proof.to_bytes(prf)) == want


# --- completeness ------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 5, 1000, 1 << 12])
def test_range_lookup(range_gens, n):
    x = _range_values((n,))
    claims, prf = _prove_verify(RANGE, x, [(n,)], range_gens)
    assert field.decode(claims.values[0, 0]) == _mle_of(x, claims.column_point(0))
    _size_ok(RANGE, [(n,)], prf)
    # the multiplicities are the histogram (nothing else is committed)
    m = np.asarray(lookup.multiplicities(RANGE, x))
    assert np.array_equal(m, np.bincount(np.asarray(x) + 128, minlength=256))


def test_multidimensional_column_claims_use_per_axis_padding(range_gens):
    x = _range_values((3, 5, 6))
    claims, _ = _prove_verify(RANGE, x, [x.shape], range_gens)
    assert claims.col_vars == (2 + 3 + 3,)
    assert field.decode(claims.values[0, 0]) == _mle_of(x, claims.column_point(0))


def test_batched_range_lookups(range_gens):
    cols = [_range_values((7,)), _range_values((4, 9)), _range_values((33,))]
    claims, prf = _prove_verify(RANGE, cols, [c.shape for c in cols], range_gens)
    assert claims.col_vars == (3, 6, 6)
    for i, c in enumerate(cols):
        assert field.decode(claims.values[i, 0]) == _mle_of(c, claims.column_point(i))
    _size_ok(RANGE, [c.shape for c in cols], prf)


def _silu_table():
    """A clipped fixed-point SiLU on 2^10 inputs: x at scale 2^6 in [-512, 512)."""
    x = np.arange(-512, 512)
    xf = x / 64.0
    y = np.clip(np.round(64.0 * xf / (1.0 + np.exp(-xf))), -32, 400).astype(np.int64)
    return x, y


@pytest.fixture(scope="module")
def silu():
    x, y = _silu_table()
    table = lookup.mapping_table(x[::-1].copy(), y[::-1].copy())  # any order; stored sorted
    return table, lookup.setup(table), dict(zip(x.tolist(), y.tolist()))


def _silu_pairs(f, shape):
    xs = RNG.integers(-512, 512, size=int(np.prod(shape)))
    xs[0], xs[-1] = -512, 511
    ys = np.array([f[int(v)] for v in xs])
    return (jnp.asarray(xs.reshape(shape), jnp.int32), jnp.asarray(ys.reshape(shape), jnp.int32))


def test_mapping_lookup(silu):
    table, gens, f = silu
    x, y = _silu_pairs(f, (300,))
    claims, prf = _prove_verify(table, (x, y), [x.shape], gens)
    assert field.decode(claims.values[0, 0]) == _mle_of(x, claims.column_point(0))
    assert field.decode(claims.values[0, 1]) == _mle_of(y, claims.column_point(0))
    _size_ok(table, [x.shape], prf)


def test_batched_mapping_lookups(silu):
    table, gens, f = silu
    pairs = [_silu_pairs(f, (5, 3)), _silu_pairs(f, (40,))]
    claims, _ = _prove_verify(table, pairs, [p[0].shape for p in pairs], gens)
    for i, (x, y) in enumerate(pairs):
        assert field.decode(claims.values[i, 0]) == _mle_of(x, claims.column_point(i))
        assert field.decode(claims.values[i, 1]) == _mle_of(y, claims.column_point(i))


def test_square_mod_table():
    xs = np.arange(0, 64)
    table = lookup.mapping_table(xs, xs * xs % 61)
    x = jnp.asarray([0, 63, 5, 5, 17], jnp.int32)
    y = (x * x) % 61
    _prove_verify(table, (x, y), [x.shape], lookup.setup(table))


def test_jit_gives_the_same_proof_bytes(range_gens):
    x = _range_values((11,))
    f = lambda xx, t, k: lookup.prove(RANGE, xx, t, range_gens, k)
    _, pe, te = f(x, T0, _key(5))
    _, pj, tj = jax.jit(f)(x, T0, _key(5))
    assert proof.to_bytes(pe) == proof.to_bytes(pj)
    assert _same_state(te, tj)


def test_compiled_platforms_give_the_same_proof(range_gens, silu, monkeypatch):
    """Where a concrete lookup runs as one compiled program (`JIT_PLATFORMS`, none by
    default), the proof and transcript are the eager ones, zero knowledge included."""
    x = _range_values((5, 7))
    table, gens, f = silu
    cols = _silu_pairs(f, (3, 9))
    runs = {}
    for platforms in ((), ("cpu",)):
        monkeypatch.setattr(lookup, "JIT_PLATFORMS", platforms)
        before = lookup._prove_compiled._cache_size()
        _, pr, tr = lookup.prove(RANGE, x, ZK, range_gens, _key(6))
        _, pm, tm = lookup.prove(table, cols, ZK, gens, _key(7))
        runs[platforms] = (proof.tree_to_bytes(pr), tr, proof.tree_to_bytes(pm), tm)
        assert (lookup._prove_compiled._cache_size() > before) == bool(platforms)
    (a, ta, b, tb), (c, tc, d, td) = runs.values()
    assert a == c and b == d and _same_state(ta, tc) and _same_state(tb, td)
    # under a caller's jit the multiplicities are traced: the lookup is part of that program
    _, pj, tj = jax.jit(lambda v, t: lookup.prove(RANGE, v, t, range_gens, _key(6)))(x, ZK)
    assert proof.tree_to_bytes(pj) == a and _same_state(tj, ta)


# the plain mode (for benchmarks) in the slow target: the default suite's zero-knowledge run covers
# the same chunking with masks on top
@pytest.mark.parametrize("zk", [pytest.param(False, marks=pytest.mark.slow), True])
def test_chunked_leaves_give_the_same_proof(silu, range_gens, monkeypatch, zk):
    """The leaves and large layers summed in chunks (as at 2^27 entries, where they do not fit
    a GPU whole) give the same proof and transcript as one chunk, for a batched mapping
    lookup (with a padding block) and a range lookup; the chunked proofs verify."""
    table, gens, f = silu
    pairs = [_silu_pairs(f, (5, 3)), _silu_pairs(f, (40,)), _silu_pairs(f, (7,))]
    x = _range_values((3, 37))
    t0 = ZK if zk else T0
    cases = [(table, pairs, [p[0].shape for p in pairs], gens), (RANGE, x, [x.shape], range_gens)]
    whole = [lookup.prove(tab, cols, t0, g, _key(6)) for tab, cols, _, g in cases]
    monkeypatch.setattr(sumcheck, "CHUNK_LOG", 2)
    for (tab, cols, shapes, g), (_, prf1, t1) in zip(cases, whole):
        _, prf, tp = lookup.prove(tab, cols, t0, g, _key(6))
        assert proof.tree_to_bytes(prf) == proof.tree_to_bytes(prf1)
        assert _same_state(tp, t1)
        _, tv = lookup.verify(tab, shapes, prf, t0, g)
        assert _same_state(tv, tp)


@pytest.mark.parametrize("zk", [pytest.param(False, marks=pytest.mark.slow), True])
def test_rebuilt_levels_give_the_same_proof(range_gens, monkeypatch, zk):
    """Witness levels larger than 2^KEEP_LOG are not kept but rebuilt from the leaves by the
    steps that sum over them (as for 2^28-entry lookups on a GPU): the same proof and
    transcript as with every level kept, in chunks too, and the proof verifies."""
    x = _range_values((4096,))  # h = 12 leaf variables, b = 8
    t0 = ZK if zk else T0
    _, prf1, t1 = lookup.prove(RANGE, x, t0, range_gens, _key(8))
    lay = lookup.layout(RANGE, [x.shape])
    monkeypatch.setattr(lookup, "KEEP_LOG", 9)
    monkeypatch.setattr(sumcheck, "CHUNK_LOG", 3)
    assert lookup._rebuilt(lay) == 2  # W_11 and W_10 rebuilt, W_9 kept
    steps, levels = [], []
    leaf_pass, level = lookup._LeafRounds._pass, lookup._level

    def spy_pass(self, *a, **kw):
        steps.append(self.aux[0])
        return leaf_pass(self, *a, **kw)

    def spy_level(lay_, args, depth):
        levels.append(depth)
        return level(lay_, args, depth)

    monkeypatch.setattr(lookup._LeafRounds, "_pass", spy_pass)
    monkeypatch.setattr(lookup, "_level", spy_level)
    # jitted on the layout and the step: trace them again with KEEP_LOG = 9 and the spies
    jitted = (lookup._levels, sumcheck._prove_source, sumcheck._prove)
    for f in jitted:
        f.clear_cache()
    try:
        _, prf, tp = lookup.prove(RANGE, x, t0, range_gens, _key(8))
    finally:
        for f in jitted:
            f.clear_cache()
    # the steps over the leaves, W_11 (2 leaves an entry) and W_10 (4) rebuild them; W_9, the
    # first kept level, is made from 8 leaves an entry
    assert set(steps) == {0, 1, 2} and levels == [3]
    assert proof.tree_to_bytes(prf) == proof.tree_to_bytes(prf1)
    assert _same_state(tp, t1)
    _, tv = lookup.verify(RANGE, [x.shape], prf, t0, range_gens)
    assert _same_state(tv, tp)


def _bits(a):
    return jax.lax.bitcast_convert_type(jnp.asarray(a, jnp.int32), jnp.uint32)


@pytest.mark.parametrize("width", [1, 2])
def test_native_leaf_passes_match_field_ops(width):
    """The native passes that rebuild a lookup's levels from int32 leaves (zkllm/logup.h) agree
    with the same levels, stacks, folds and round polynomials made by field ops, at every depth
    and number of lazy folds: any int32 values, indicators that are not all one."""
    rng = np.random.default_rng(11)
    h = 7
    x = rng.integers(-(2**31), 2**31, 1 << h, dtype=np.int64).astype(np.int32)
    y = rng.integers(-(2**31), 2**31, 1 << h, dtype=np.int64).astype(np.int32)
    ones = (rng.random(1 << h) < 0.8).astype(np.int32)
    alpha, beta = (field.encode(int(v)) for v in rng.integers(1, 2**62, 2))
    s = field.encode(jnp.asarray(x))
    if width == 2:
        s = field.add(s, field.mul(field.encode(jnp.asarray(y)), beta))
    level = jnp.stack([field.encode(jnp.asarray(ones)), field.sub(alpha, s)])
    args = (_bits(x), _bits(y) if width == 2 else jnp.zeros((1,), jnp.uint32), _bits(ones),
            jnp.stack([alpha, beta if width == 2 else field.zeros(())]))
    lay = SimpleNamespace(h=h, width=width)
    coeffs = field.encode([1, 1, int(rng.integers(2, 2**62))])
    kw = {"terms": lookup.LAYER_TERMS, "has_eq": True}
    for depth in range(4):
        assert (np.asarray(lookup._level(lay, args, depth)) == np.asarray(level)).all(), depth
        k = h - depth - 1
        eq_point = field.encode([int(v) for v in rng.integers(0, 2**62, k)])
        stack = jnp.concatenate([lookup._halves(level), mle.eq_table(eq_point)[None]])
        low = min(k, 3)
        for folds in range(min(3, k)):
            point = tuple(field.encode(int(v)) for v in rng.integers(0, 2**62, folds))
            want = stack
            for r in point:
                want = mle.fold_unchecked(want, r)
            src = lookup._LeafRounds((depth, width), args, mle.eq_table(eq_point[:low]),
                                     mle.eq_table(eq_point[low:]), 2)
            assert src.num_vars == k
            assert (np.asarray(src.fold(point)) == np.asarray(want)).all(), (depth, folds)
            evals = sumcheck.round_evals(want, coeffs, **kw)
            got = src.evals(point, coeffs, kw)
            assert (np.asarray(got) == np.asarray(evals)).all(), (depth, folds)
        level = lookup._products(lookup._halves(level))


def test_native_leaf_pass_shape_errors():
    """The native passes name a malformed operand instead of reading past it."""
    args = (_bits(np.zeros(16)), jnp.zeros((1,), jnp.uint32), _bits(np.ones(8)),
            jnp.stack([field.ones(()), field.zeros(())]))
    with pytest.raises(Exception, match="x, y and ones must have the same length"):
        jax.block_until_ready(lookup._level(SimpleNamespace(h=4, width=1), args, 0))
    args = (args[0], args[1], _bits(np.ones(16)), args[3])
    out = jax.ShapeDtypeStruct((2, 1, field.LIMBS), jnp.uint32)
    with pytest.raises(Exception, match="depth must be in"):
        jax.block_until_ready(ffi.call("zk_fr_logup_level", out, *args, depth=5, width=1))
    src = lookup._LeafRounds((1, 1), args, field.ones((4,)), field.ones((2,)), 2)
    with pytest.raises(Exception, match=re.escape("must number 2·|eq|·2^depth")):
        jax.block_until_ready(src.fold(()))


# --- witness errors ----------------------------------------------------------------------------


def test_out_of_range_value_is_named(range_gens):
    x = np.zeros((2, 4), np.int32)
    x[1, 2] = 128
    with pytest.raises(ValueError, match=r"remainder\[\(1, 2\)\] = 128 is outside the range "
                                         r"table \[-128, 128\)"):
        lookup.prove(RANGE, jnp.asarray(x), T0, range_gens, _key(0), names=["remainder"])
    x[1, 2] = -129
    with pytest.raises(ValueError, match=r"columns\[1\]\[\(1, 2\)\] = -129"):
        lookup.check_witness(RANGE, [jnp.zeros(3, jnp.int32), jnp.asarray(x)])
    # extreme int32 values do not wrap into the table
    for v in (-(2**31), 2**31 - 1):
        with pytest.raises(ValueError, match=str(v)):
            lookup.check_witness(RANGE, jnp.asarray([0, v], jnp.int32))


def test_out_of_table_pairs_are_named(silu):
    table, gens, f = silu
    x, y = _silu_pairs(f, (6,))
    bad_y = y.at[4].add(1)
    with pytest.raises(ValueError, match=rf"gate\[\(4,\)\] = \({int(x[4])}, {int(bad_y[4])}\) "
                                         rf"is not in the mapping table: the table maps"):
        lookup.prove(table, (x, bad_y), T0, gens, _key(0), names=["gate"])
    bad_x = x.at[2].set(600)
    with pytest.raises(ValueError, match="600 is not an input of the table"):
        lookup.check_witness(table, [(bad_x, y)])


def test_bad_inputs_are_named(range_gens):
    with pytest.raises(TypeError, match="int32"):
        lookup.prove(RANGE, jnp.zeros(4, jnp.float32), T0, range_gens, _key(0))
    with pytest.raises(ValueError, match="multiplicities must be int32"):
        lookup.prove_with_multiplicities(RANGE, jnp.zeros(4, jnp.int32),
                                         jnp.zeros(255, jnp.int32), T0, range_gens, _key(0))
    with pytest.raises(ValueError, match="range_table"):
        lookup.range_table(2**31 - 4, 3)
    with pytest.raises(ValueError, match="appears twice"):
        lookup.mapping_table(np.array([1, 2, 1]), np.array([0, 0, 0]))
    with pytest.raises(ValueError, match="generators"):
        lookup.prove(RANGE, jnp.zeros(4, jnp.int32), T0, lookup.setup(lookup.range_table(0, 2)),
                     _key(0))


def test_histogram_is_safe_under_jit():
    x = jnp.asarray([-128, 127, 127, 128, -129, 2**31 - 1, -(2**31)], jnp.int32)
    m = jax.jit(lambda v: lookup.multiplicities(RANGE, v))(x)
    want = np.zeros(256, np.int32)
    want[0], want[255] = 1, 2
    assert np.array_equal(np.asarray(m), want)


@pytest.mark.parametrize("lo,log_size", [(-128, 8), (0, 16), (-(1 << 16), 17), (5, 1)])
def test_range_multiplicities_match_bincount(lo, log_size):
    """The native histogram (`zk_range_histogram`) against numpy over several columns, int16
    among them, with values below, inside and above the range and a value repeated across
    many entries; eager and jitted."""
    rng = np.random.default_rng(log_size)
    size = 1 << log_size
    cols = [rng.integers(lo - 40, lo + size + 40, n).astype(np.int32) for n in (1, 999, 1 << 15)]
    cols[2][::3] = lo  # one bin hit by a third of a column (warp-aggregated on a GPU)
    small = np.clip(rng.integers(lo, lo + size, (3, 50)), -(1 << 15), (1 << 15) - 1)
    cols.append(small.astype(np.int16))
    table = lookup.range_table(lo, log_size)
    flat = np.concatenate([c.reshape(-1).astype(np.int64) for c in cols])
    inside = flat[(flat >= lo) & (flat < lo + size)]
    want = np.bincount(inside - lo, minlength=size)
    got = lookup.multiplicities(table, [jnp.asarray(c) for c in cols])
    got_jit = jax.jit(lambda cs: lookup.multiplicities(table, cs))([jnp.asarray(c) for c in cols])
    assert got.dtype == jnp.int32 and got.shape == (size,)
    np.testing.assert_array_equal(np.asarray(got), want)
    np.testing.assert_array_equal(np.asarray(got_jit), want)


# --- attacks -----------------------------------------------------------------------------------

SHAPE = (37,)


@pytest.fixture(scope="module")
def honest(range_gens):
    x = _range_values(SHAPE)
    _, prf, _ = lookup.prove(RANGE, x, T0, range_gens, _key(3))
    return x, prf


def _verify(prf, gens, transcript=T0, table=RANGE, shapes=(SHAPE,)):
    return lookup.verify(table, shapes, prf, transcript, gens)


def _bump(a, idx):
    return a.at[idx].set(field.add(a[idx], field.ones(())))


def _with(prf, **kw):
    return prf.replace(**kw)


def test_honest_verifies(honest, range_gens):
    _verify(honest[1], range_gens)


def test_out_of_table_value_with_faked_multiplicities(honest, range_gens):
    x, _ = honest
    bad = x.at[5].set(128)  # one past the table's end
    m = lookup.multiplicities(RANGE, bad)  # drops the bad element
    for fake in (m, m.at[255].add(1), m.at[0].add(1)):
        _, prf, _ = lookup.prove_with_multiplicities(RANGE, bad, fake, T0, range_gens, _key(4))
        with pytest.raises(LookupRejected) as e:
            _verify(prf, range_gens)
        assert e.value.check == "root_sum"


def test_out_of_table_value_under_jit_fails_verification(honest, range_gens):
    x, _ = honest
    bad = x.at[0].set(-200)
    _, prf, _ = jax.jit(lambda v: lookup.prove(RANGE, v, T0, range_gens, _key(4)))(bad)
    with pytest.raises(LookupRejected, match="root_sum"):
        _verify(prf, range_gens)


def test_wrong_multiplicities(honest, range_gens):
    x, _ = honest
    m = lookup.multiplicities(RANGE, x)
    moved = m.at[int(x[3]) + 128].add(-1).at[(int(x[3]) + 129) % 256].add(1)
    _, prf, _ = lookup.prove_with_multiplicities(RANGE, x, moved, T0, range_gens, _key(4))
    with pytest.raises(LookupRejected, match="root_sum"):
        _verify(prf, range_gens)


def test_shifted_table_side_is_caught_at_the_merge(monkeypatch):
    # A prover whose table side is t + 1 looks up values in [1, 16] "in" [0, 16): with matching
    # multiplicities every fraction cancels and every layer is consistent, so only the merge's
    # check of the table side against the public table can reject.
    table = lookup.range_table(0, 4)
    gens = lookup.setup(table)
    x = jnp.asarray(RNG.integers(1, 17, size=64), jnp.int32).at[0].set(16)
    m = jnp.asarray(np.bincount(np.asarray(x) - 1, minlength=16), jnp.int32)
    real = lookup._table_values
    monkeypatch.setattr(lookup, "_table_values", lambda t, beta: field.add(real(t, beta),
                                                                           field.ones((t.size,))))
    lookup._leaf_args.clear_cache()  # its compiled copy would keep the honest table values
    try:
        _, prf, _ = lookup.prove_with_multiplicities(table, x, m, T0, gens, _key(6))
    finally:
        monkeypatch.undo()
        lookup._leaf_args.clear_cache()
    with pytest.raises(LookupRejected, match="table_check: the table side's denominator"):
        lookup.verify(table, [x.shape], prf, T0, gens)


def test_root_forced_to_zero_is_caught_by_the_next_layer(honest, range_gens):
    _, prf = honest
    p0, _, q0, q1 = (int(v) for v in field.decode(prf.layer1))
    # a forged p1 that keeps p0·q1 + p1·q0 = 0: change p0 and solve for p1
    p0b = (p0 + 1) % R
    p1b = (-p0b * q1 * pow(q0, -1, R)) % R
    bad = _with(prf, layer1=field.encode([p0b, p1b, q0, q1]))
    with pytest.raises(LookupRejected) as e:
        _verify(bad, range_gens)
    assert (e.value.check, e.value.layer) == ("layer_sumcheck", 1)


def test_zero_root_denominator(honest, range_gens):
    _, prf = honest
    bad = _with(prf, layer1=prf.layer1.at[2].set(field.zeros(())))
    with pytest.raises(LookupRejected, match="root_denominator"):
        _verify(bad, range_gens)


@pytest.mark.parametrize("row", [0, 1, 7, 20, 35])
def test_modified_layer_messages(honest, range_gens, row):
    _, prf = honest
    for col in (0, 3):
        bad = _with(prf, layer_messages=_bump(prf.layer_messages, (row, col)))
        with pytest.raises(LookupRejected) as e:
            _verify(bad, range_gens)
        assert e.value.check == "layer_sumcheck"


@pytest.mark.parametrize("layer", [0, 4, 7])
def test_modified_layer_finals(honest, range_gens, layer):
    _, prf = honest
    for col in range(4):
        bad = _with(prf, layer_finals=_bump(prf.layer_finals, (layer, col)))
        with pytest.raises(LookupRejected) as e:
            _verify(bad, range_gens)
        assert e.value.check == "layer_sumcheck" and e.value.layer == layer + 1


def test_modified_leaf_claims(honest, range_gens):
    _, prf = honest
    with pytest.raises(LookupRejected, match="leaf_check"):
        _verify(_with(prf, column_values=_bump(prf.column_values, (0, 0))), range_gens)
    with pytest.raises(LookupRejected, match="table_check"):  # m's value meets the merge's
        _verify(_with(prf, multiplicity_value=_bump(prf.multiplicity_value[None], 0)[0]),
                range_gens)


def test_modified_multiplicity_opening(honest, range_gens):
    _, prf = honest
    with pytest.raises(LookupRejected, match="multiplicity_opening"):
        _verify(_with(prf, opening_z1=_bump(prf.opening_z1[None], 0)[0]), range_gens)


def test_swapped_multiplicity_commitment(honest, range_gens):
    x, prf = honest
    _, other, _ = lookup.prove(RANGE, x, T0, range_gens, _key(9))  # fresh blinds
    with pytest.raises(LookupRejected):
        _verify(_with(prf, multiplicity_commitment=other.multiplicity_commitment), range_gens)


def test_transcript_desync_wrong_alpha(honest, range_gens):
    _, prf = honest
    with pytest.raises(LookupRejected):
        _verify(prf, range_gens, transcript=T0.absorb_bytes(b"extra", b"\x00"))


def test_other_table_or_shapes(honest, range_gens):
    _, prf = honest
    with pytest.raises(LookupRejected):
        _verify(prf, range_gens, table=lookup.range_table(-127, 8))
    with pytest.raises(LookupRejected):
        _verify(prf, range_gens, shapes=((36,),))  # same sizes, another statement
    with pytest.raises(LookupRejected, match="shape"):
        _verify(prf, range_gens, shapes=((1000,),))  # another layout


def test_flipped_bits_are_rejected(honest, range_gens):
    _, prf = honest
    data = proof.to_bytes(prf)
    rng = np.random.default_rng(len(data))
    checks = set()
    for bit in sorted({int(b) for b in rng.integers(0, 8 * len(data), size=12)}):
        bad = bytearray(data)
        bad[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises((ProofFormatError, LookupRejected)) as e:
            _verify(proof.from_bytes(bytes(bad), LookupProof), range_gens)
        checks.add(getattr(e.value, "check", None) or getattr(e.value, "field", None))
    assert None not in checks


# --- closed forms ------------------------------------------------------------------------------


def test_closed_form_indicators_match_tables():
    assert lookup.shape_indicator((1,), []) == 1
    for shape in [(5,), (8,), (3, 5), (2, 1, 7), (4, 4)]:
        k = sum(mle.num_vars(d) for d in shape)
        r = [int(v) for v in RNG.integers(0, 2**62, size=k)]
        ind = field.encode(jnp.ones(shape, jnp.int32))
        want = int(field.decode(mle.evaluate_tensor(ind, mle.split_point(field.encode(r), shape))))
        assert lookup.shape_indicator(shape, r) == want


def test_closed_over_witness_is_checked_inside_jit(range_gens):
    x = jnp.asarray([0, 300], jnp.int32)
    with pytest.raises(ValueError, match="outside the range table"):
        jax.jit(lambda t: lookup.prove(RANGE, x, t, range_gens, _key(0))[1])(T0)


@pytest.mark.gpu
def test_gpu_matches_cpu(silu):
    if not any(d.platform == "gpu" for d in jax.devices()):
        pytest.skip("no GPU")
    table, gens, f = silu
    pairs = [_silu_pairs(f, (700,)), _silu_pairs(f, (3, 30))]
    cpu = jax.devices("cpu")[0]
    gpu = next(d for d in jax.devices() if d.platform == "gpu")
    prove = jax.jit(lambda p, t, k: lookup.prove(table, p, t, gens, k)[1])
    outs = [proof.to_bytes(prove(*jax.device_put((pairs, T0, _key(2)), dev)))
            for dev in (cpu, gpu)]
    assert outs[0] == outs[1]
    lookup.verify(table, [p[0].shape for p in pairs], proof.from_bytes(outs[1]), T0, gens)


@pytest.mark.gpu
def test_gpu_rebuilt_levels_match_cpu(range_gens, monkeypatch):
    """A range lookup whose leaves and two levels are rebuilt by the native passes (every depth
    and lazy fold the 2^28-entry lookups use) gives the CPU's proof bytes on the GPU."""
    if not any(d.platform == "gpu" for d in jax.devices()):
        pytest.skip("no GPU")
    x = _range_values((4096,))
    monkeypatch.setattr(lookup, "KEEP_LOG", 9)
    jitted = (lookup._levels, sumcheck._prove_source, sumcheck._prove)
    for f in jitted:
        f.clear_cache()
    cpu = jax.devices("cpu")[0]
    gpu = next(d for d in jax.devices() if d.platform == "gpu")

    def prove_on(dev):
        with jax.default_device(dev):
            cols, t, gens, key = jax.device_put((x, ZK, range_gens, _key(4)), dev)
            return proof.tree_to_bytes(lookup.prove(RANGE, cols, t, gens, key)[1])

    try:
        outs = [prove_on(dev) for dev in (cpu, gpu)]
    finally:
        for f in jitted:
            f.clear_cache()
    assert outs[0] == outs[1]


# --- zero knowledge -----------------------------------------------------------------------------


def test_zero_knowledge_lookup_masks_every_layer(range_gens):
    x = _range_values(SHAPE)
    _, prf, tp = lookup.prove(RANGE, x, ZK, range_gens, _key(3))
    lay = lookup.layout(RANGE, (SHAPE,))
    assert len(prf.layer_masks) == lay.h
    _, tv = lookup.verify(RANGE, (SHAPE,), prf, ZK, range_gens)
    assert _same_state(tp, tv)
    # the tree format carries the masks
    back = proof.tree_from_bytes(proof.tree_to_bytes(prf), prf)
    lookup.verify(RANGE, (SHAPE,), back, ZK, range_gens)
    with pytest.raises(TypeError, match="tree_to_bytes"):
        proof.to_bytes(prf)
    # a different key: no layer message in common
    _, other, _ = lookup.prove(RANGE, x, ZK, range_gens, _key(4))
    a = {bytes(np.asarray(v)) for v in prf.layer_messages.reshape(-1, 8)}
    b = {bytes(np.asarray(v)) for v in other.layer_messages.reshape(-1, 8)}
    assert not a & b


def test_zero_knowledge_lookup_tampered_mask_and_mode(range_gens):
    x = _range_values(SHAPE)
    _, prf, _ = lookup.prove(RANGE, x, ZK, range_gens, _key(3))
    masks = list(prf.layer_masks)
    masks[-1] = masks[-1].replace(value=_bump(masks[-1].value, ()))
    with pytest.raises(LookupRejected) as e:
        lookup.verify(RANGE, (SHAPE,), prf.replace(layer_masks=tuple(masks)), ZK, range_gens)
    assert e.value.check == "layer_sumcheck" and "final_evaluation" in str(e.value)
    with pytest.raises(LookupRejected, match="layer masks"):  # zero-knowledge proof, plain expected
        lookup.verify(RANGE, (SHAPE,), prf, T0, range_gens)
    _, plain, _ = lookup.prove(RANGE, x, T0, range_gens, _key(3))
    with pytest.raises(LookupRejected, match="layer masks"):
        lookup.verify(RANGE, (SHAPE,), plain, ZK, range_gens)


def test_zero_knowledge_lookup_masks_committed_ahead(range_gens):
    """The h layer masks are committed in one batch before α: a changed mask commitment or nonce
    commitment moves every challenge after it, a mask of the wrong shape is named, and the masks
    in another order are rejected."""
    x = _range_values(SHAPE)
    _, prf, _ = lookup.prove(RANGE, x, ZK, range_gens, _key(3))
    masks = list(prf.layer_masks)
    sizes = lookup.step_sizes(lookup.layout(RANGE, (SHAPE,)))
    for i, m in enumerate(masks):  # each mask has its own step's length (rows zero-padded)
        assert m.opening.z.shape[0] == sumcheck.mask_len(sizes[i], 3)
    for i in (0, len(masks) - 1):
        for name in ("commitment", "delta"):
            bad = list(masks)
            if name == "commitment":
                bad[i] = bad[i].replace(commitment=curve.double(bad[i].commitment))
            else:
                bad[i] = bad[i].replace(opening=bad[i].opening.replace(
                    delta=curve.double(bad[i].opening.delta)))
            with pytest.raises(LookupRejected) as e:
                lookup.verify(RANGE, (SHAPE,), prf.replace(layer_masks=tuple(bad)), ZK,
                              range_gens)
            assert e.value.check == "layer_sumcheck", (i, name, e.value)
    bad = list(masks)
    bad[-1] = bad[-1].replace(opening=bad[-1].opening.replace(z=bad[-1].opening.z[:-1]))
    with pytest.raises(LookupRejected, match="shape.*layer masks"):
        lookup.verify(RANGE, (SHAPE,), prf.replace(layer_masks=tuple(bad)), ZK, range_gens)
    swapped = [masks[-1]] + masks[1:-1] + [masks[0]]
    with pytest.raises(LookupRejected, match="layer masks"):
        lookup.verify(RANGE, (SHAPE,), prf.replace(layer_masks=tuple(swapped)), ZK, range_gens)
