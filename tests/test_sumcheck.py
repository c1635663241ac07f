"""The generic sumcheck engine: completeness across size classes and attacks that must fail."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from zkllm_jax import field, mle, sumcheck
from zkllm_jax.sumcheck import SumcheckError
from zkllm_jax.transcript import Transcript

R = field.R
RNG = np.random.default_rng(11)


def rand_ints(*shape):
    flat = [int.from_bytes(RNG.bytes(40), "little") % R for _ in range(int(np.prod(shape)))]
    return np.array(flat, dtype=object).reshape(shape)


def sum_ref(tables, u):
    m = max(1, mle.num_vars(max(len(t) for t in tables)))
    total = 0
    for x in range(1 << m):
        p = 1
        for t in tables:
            p = p * (int(t[x]) if x < len(t) else 0) % R
        if u is not None:
            for j, uj in enumerate(u):
                p = p * (uj if (x >> j) & 1 else 1 - uj) % R
        total = (total + p) % R
    return total, m


def make(k, n, with_eq):
    ints = [rand_ints(n) for _ in range(k)]
    m = max(1, mle.num_vars(n))
    u = list(rand_ints(m)) if with_eq else None
    return ints, u


T0 = Transcript.new(b"zkllm-test").with_rng(jax.random.key(5))


@pytest.mark.parametrize(
    "k,n,with_eq",
    [(1, 2, False), (1, 1, True), (2, 1000, False), (2, 64, True), (3, 37, True), (4, 5, False),
     (4, 33, True)],
)
def test_completeness(k, n, with_eq):
    ints, u = make(k, n, with_eq)
    tables = [field.encode(t) for t in ints]
    eq_point = field.encode(u) if with_eq else None
    fc, proof, tp = sumcheck.prove(tables, T0, eq_point=eq_point)
    want, m = sum_ref(ints, u)
    assert field.decode(fc.claim) == want
    assert proof.messages.shape == (m, k + int(with_eq) + 1, 8)
    out, tv = sumcheck.verify(fc.claim, proof, T0, num_vars=m, num_tables=k, eq_point=eq_point)
    assert np.array_equal(np.asarray(tv.state), np.asarray(tp.state))
    assert np.array_equal(np.asarray(out.point), np.asarray(fc.point))
    for i in range(k):  # the final values are the tables' MLEs at the final point
        assert field.decode(mle.evaluate(tables[i], out.point)) == field.decode(out.values[i])


def test_jit_gives_the_same_proof():
    ints, u = make(3, 100, True)
    tables, eq_point = jnp.stack([field.encode(t) for t in ints]), field.encode(u)
    prove = lambda t, tr, e: sumcheck.prove(t, tr, eq_point=e)
    _, pe, te = prove(tables, T0, eq_point)
    _, pj, tj = jax.jit(prove)(tables, T0, eq_point)
    assert np.array_equal(np.asarray(pe.messages), np.asarray(pj.messages))
    assert np.array_equal(np.asarray(pe.final_evals), np.asarray(pj.final_evals))
    assert np.array_equal(np.asarray(te.state), np.asarray(tj.state))


@pytest.fixture(scope="module")
def instance():
    ints, u = make(2, 16, True)
    tables, eq_point = [field.encode(t) for t in ints], field.encode(u)
    fc, proof, _ = sumcheck.prove(tables, T0, eq_point=eq_point)
    return fc, proof, eq_point


def _verify(claim, proof, eq_point, transcript=T0, label=b"sumcheck"):
    return sumcheck.verify(claim, proof, transcript, num_vars=4, num_tables=2, eq_point=eq_point,
                           label=label)


def _bump(x, idx):
    return x.at[idx].set(field.add(x[idx], field.ones(())))


def test_honest_instance_verifies(instance):
    fc, proof, u = instance
    _verify(fc.claim, proof, u)


def test_wrong_claimed_sum(instance):
    fc, proof, u = instance
    with pytest.raises(SumcheckError, match="round_sum in round 0") as e:
        _verify(field.add(fc.claim, field.ones(())), proof, u)
    assert e.value.check == "round_sum" and e.value.round == 0


@pytest.mark.parametrize("j", range(4))
def test_modified_round_message(instance, j):
    fc, proof, u = instance
    # p_j(0) changed: caught by round j's sum check
    bad = proof.replace(messages=_bump(proof.messages, (j, 0)))
    with pytest.raises(SumcheckError) as e:
        _verify(fc.claim, bad, u)
    assert (e.value.check, e.value.round) == ("round_sum", j)
    # p_j(3) changed (not in the sum): caught in the next round or at the end
    bad = proof.replace(messages=_bump(proof.messages, (j, 3)))
    with pytest.raises(SumcheckError) as e:
        _verify(fc.claim, bad, u)
    assert e.value.check in ("round_sum", "final_evaluation") and e.value.round >= j


def test_swapped_rounds(instance):
    fc, proof, u = instance
    msgs = proof.messages
    swapped = msgs.at[1].set(msgs[2]).at[2].set(msgs[1])
    with pytest.raises(SumcheckError):
        _verify(fc.claim, proof.replace(messages=swapped), u)


@pytest.mark.parametrize("i", range(2))
def test_wrong_final_evaluation(instance, i):
    fc, proof, u = instance
    bad = proof.replace(final_evals=_bump(proof.final_evals, i))
    with pytest.raises(SumcheckError, match="final_evaluation"):
        _verify(fc.claim, bad, u)


def test_transcript_desync(instance):
    fc, proof, u = instance
    with pytest.raises(SumcheckError):
        _verify(fc.claim, proof, u, transcript=T0.absorb_bytes(b"extra", b"\x00"))
    with pytest.raises(SumcheckError):
        _verify(fc.claim, proof, u, label=b"other-protocol")
    with pytest.raises(SumcheckError):  # a different eq point
        _verify(fc.claim, proof, _bump(u, 0))


def test_wrong_shapes_are_named(instance):
    fc, proof, u = instance
    with pytest.raises(SumcheckError, match="shape"):
        sumcheck.verify(fc.claim, proof, T0, num_vars=5, num_tables=2, eq_point=u)
    with pytest.raises(SumcheckError, match="shape"):
        sumcheck.verify(fc.claim, proof, T0, num_vars=4, num_tables=3, eq_point=u)
    with pytest.raises(ValueError, match="between 1 and 8"):
        sumcheck.prove([field.encode(rand_ints(4))] * 9, T0)
    with pytest.raises(ValueError, match="more than 4 factors"):
        sumcheck.prove([field.encode(rand_ints(4))] * 5, T0)


def test_native_round_kernels_match_reference():
    ints = [rand_ints(8) for _ in range(3)]
    tabs = jnp.stack([field.encode(t) for t in ints])
    evals = [int(v) for v in field.decode(sumcheck.round_evals(tabs))]
    want = [sum(np.prod([(t[2 * i] + s * (t[2 * i + 1] - t[2 * i])) for t in ints]) % R
                for i in range(4)) % R for s in range(4)]
    assert evals == want
    r = int(rand_ints(1)[0])
    folded, ev2 = sumcheck.fold_round(tabs, field.encode(r))
    assert np.array_equal(np.asarray(folded), np.asarray(mle.fold(tabs, field.encode(r))))
    assert np.array_equal(np.asarray(ev2), np.asarray(sumcheck.round_evals(folded)))


# --- sums of products: Σ_x [eq(u, x) ·] Σ_j c_j Π_{k∈S_j} f_k(x) -------------------------------


def terms_sum_ref(tables, terms, coeffs, u):
    m = max(1, mle.num_vars(max(len(t) for t in tables)))
    total = 0
    for x in range(1 << m):
        vals = [int(t[x]) if x < len(t) else 0 for t in tables]
        s = 0
        for term, c in zip(terms, coeffs):
            p = c
            for i in term:
                p = p * vals[i] % R
            s += p
        if u is not None:
            for j, uj in enumerate(u):
                s = s * (uj if (x >> j) & 1 else 1 - uj) % R
        total = (total + s) % R
    return total, m


MULTI = [
    # (K, n, eq, terms): the GKR layer shape, squares, degree 5, the widest instances
    (4, 32, True, ((0, 3), (1, 2), (2, 3))),
    (3, 19, False, ((0, 0, 1), (2,), (1, 2, 2, 0))),
    (2, 8, True, ((0, 0, 1, 1), (1,))),
    (7, 6, True, tuple((i, (i + 1) % 7) for i in range(7)) + ((0, 1, 2, 3),)),
    (8, 4, False, tuple((i % 8, (3 * i) % 8) for i in range(16))),
]


@pytest.mark.parametrize("k,n,with_eq,terms", MULTI)
def test_multi_term_completeness(k, n, with_eq, terms):
    ints, u = make(k, n, with_eq)
    coeff_ints = list(rand_ints(len(terms)))
    tables = [field.encode(t) for t in ints]
    eq_point = field.encode(u) if with_eq else None
    coeffs = field.encode(coeff_ints)
    fc, proof, tp = sumcheck.prove(tables, T0, eq_point=eq_point, terms=terms, coeffs=coeffs)
    want, m = terms_sum_ref(ints, terms, coeff_ints, u)
    assert field.decode(fc.claim) == want
    d = max(len(t) for t in terms) + int(with_eq)
    assert proof.messages.shape == (m, d + 1, 8)
    out, tv = sumcheck.verify(fc.claim, proof, T0, num_vars=m, num_tables=k, eq_point=eq_point,
                              terms=terms, coeffs=coeffs)
    assert np.array_equal(np.asarray(tv.state), np.asarray(tp.state))
    for i in range(k):
        assert field.decode(mle.evaluate(tables[i], out.point)) == field.decode(out.values[i])


def test_multi_term_threaded_passes():
    # large enough that the CPU passes split the pairs over several threads
    ints, u = make(4, 1 << 13, True)
    terms, coeff_ints = GKR_TERMS, list(rand_ints(3))
    tables, eq_point = [field.encode(t) for t in ints], field.encode(u)
    fc, proof, _ = sumcheck.prove(tables, T0, eq_point=eq_point, terms=terms,
                                  coeffs=field.encode(coeff_ints))
    assert field.decode(fc.claim) == terms_sum_ref(ints, terms, coeff_ints, u)[0]
    sumcheck.verify(fc.claim, proof, T0, num_vars=13, num_tables=4, eq_point=eq_point,
                    terms=terms, coeffs=field.encode(coeff_ints))


def test_multi_term_native_round_matches_reference():
    ints = [rand_ints(8) for _ in range(4)]
    terms = ((0, 3), (1, 2), (2, 2, 3))
    cs = list(rand_ints(3))
    tabs = jnp.stack([field.encode(t) for t in ints])
    evals = field.decode(sumcheck.round_evals(tabs, field.encode(cs), terms=terms))
    line = lambda t, i, s: (t[2 * i] + s * (t[2 * i + 1] - t[2 * i])) % R
    want = []
    for s in range(4):
        acc = 0
        for i in range(4):
            for term, c in zip(terms, cs):
                p = c
                for k in term:
                    p = p * line(ints[k], i, s) % R
                acc += p
        want.append(acc % R)
    assert [int(v) for v in evals] == want
    r = field.encode(int(rand_ints(1)[0]))
    folded, ev2 = sumcheck.fold_round(tabs, r, field.encode(cs), terms=terms)
    assert np.array_equal(np.asarray(folded), np.asarray(mle.fold(tabs, r)))
    assert np.array_equal(np.asarray(ev2),
                          np.asarray(sumcheck.round_evals(folded, field.encode(cs), terms=terms)))


def test_multi_term_jit_gives_the_same_proof():
    ints, u = make(4, 16, True)
    terms = ((0, 3), (1, 2), (2, 3))
    tables, eq_point = jnp.stack([field.encode(t) for t in ints]), field.encode(u)
    coeffs = field.encode(list(rand_ints(3)))
    prove = lambda t, tr, e, c: sumcheck.prove(t, tr, eq_point=e, terms=terms, coeffs=c)
    _, pe, te = prove(tables, T0, eq_point, coeffs)
    _, pj, tj = jax.jit(prove)(tables, T0, eq_point, coeffs)
    assert np.array_equal(np.asarray(pe.messages), np.asarray(pj.messages))
    assert np.array_equal(np.asarray(te.state), np.asarray(tj.state))


def _slice_chunk(chunk_len, args, c):
    (stacked,) = args
    return jax.lax.dynamic_slice_in_dim(stacked, c * chunk_len, chunk_len, axis=1)


@pytest.mark.parametrize("zk", [False, True])
@pytest.mark.parametrize("log_n,chunks,lazy", [(5, 4, 2), (6, 8, 1), (4, 2, 3), (3, 4, 5),
                                               (1, 1, 2), (2, 2, 2)])
def test_chunked_gives_the_same_proof(log_n, chunks, lazy, zk):
    # the same proof and transcript as the materialized stack, whatever the chunking and the
    # number of rounds done lazily (clamped where the chunks or rounds do not allow it)
    n = 1 << log_n
    ints, u = make(3, n, True)
    terms = ((0, 1), (1, 2), (2,))
    tables = [field.encode(t) for t in ints]
    eq_point = field.encode(u)
    stacked = jnp.stack(tables + [mle.eq_table(eq_point)])
    coeffs = field.encode(list(rand_ints(3)))
    t0 = Transcript.new(b"zkllm-test", zk=zk).with_rng(jax.random.key(5))
    fc, pe, te = sumcheck.prove_with_eq_table(stacked, t0, eq_point, terms=terms, coeffs=coeffs)
    b = n // chunks
    fcc, pc, tc = sumcheck.prove_chunked(_slice_chunk, b, (stacked[:-1],), chunks, b, 4, t0,
                                         eq_point, lazy=lazy, terms=terms, coeffs=coeffs)
    assert np.array_equal(np.asarray(tc.state), np.asarray(te.state))
    assert np.array_equal(np.asarray(pc.messages), np.asarray(pe.messages))
    assert np.array_equal(np.asarray(pc.final_evals), np.asarray(pe.final_evals))
    assert np.array_equal(np.asarray(fcc.claim), np.asarray(fc.claim))
    _, tv = sumcheck.verify(fcc.claim, pc, t0, num_vars=max(1, log_n), num_tables=3,
                            eq_point=eq_point, terms=terms, coeffs=coeffs)
    assert np.array_equal(np.asarray(tv.state), np.asarray(tc.state))


def test_chunked_bad_sizes_are_named():
    e = field.zeros((3,))
    with pytest.raises(ValueError, match="power-of-two"):
        sumcheck.prove_chunked(_slice_chunk, 3, (), 3, 3, 2, T0, e)
    with pytest.raises(ValueError, match="2..8"):
        sumcheck.prove_chunked(_slice_chunk, 4, (), 2, 4, 9, T0, e)
    with pytest.raises(ValueError, match="eq_point must be Fr\\[3, 8\\]"):
        sumcheck.prove_chunked(_slice_chunk, 4, (), 2, 4, 2, T0, field.zeros((2,)))
    two = field.zeros((2, 8))  # two tables where the call says one plus eq: Fr[2, 4, 8] chunks
    with pytest.raises(ValueError, match="a chunk must be Fr\\[1, 4, 8\\]"):
        sumcheck.prove_chunked(_slice_chunk, 4, (two,), 2, 4, 2, T0, e)


def test_chunked_trusted_checks_shapes_not_values():
    # trusted (transcript-drawn) arguments skip only the eager canonical check, a host sync
    tabs = field.encode(np.arange(8).reshape(1, 8) % 5)
    bad = jnp.full((3, 8), 0xFFFFFFFF, jnp.uint32)  # limbs >= r: not a field element
    with pytest.raises(ValueError, match="eq_point: non-canonical"):
        sumcheck.prove_chunked(_slice_chunk, 4, (tabs,), 2, 4, 2, T0, bad)
    with pytest.raises(TypeError, match="eq_point: field arrays are uint32"):
        sumcheck.prove_chunked(_slice_chunk, 4, (tabs,), 2, 4, 2, T0,
                               jnp.zeros((3, 8), jnp.int32), trusted=True)
    with pytest.raises(ValueError, match="eq_point must be Fr\\[3, 8\\]"):
        sumcheck.prove_chunked(_slice_chunk, 4, (tabs,), 2, 4, 2, T0, field.zeros((2,)),
                               trusted=True)
    u = field.encode(list(rand_ints(3)))
    _, p0, t0 = sumcheck.prove_chunked(_slice_chunk, 4, (tabs,), 2, 4, 2, T0, u)
    _, p1, t1 = sumcheck.prove_chunked(_slice_chunk, 4, (tabs,), 2, 4, 2, T0, u, trusted=True)
    assert np.array_equal(np.asarray(p0.messages), np.asarray(p1.messages))
    assert np.array_equal(np.asarray(t0.state), np.asarray(t1.state))


GKR_TERMS = ((0, 3), (1, 2), (2, 3))


@pytest.fixture(scope="module")
def multi():
    ints, u = make(4, 16, True)
    tables, eq_point = [field.encode(t) for t in ints], field.encode(u)
    coeffs = field.encode([1, 1, int(rand_ints(1)[0])])
    fc, proof, _ = sumcheck.prove(tables, T0, eq_point=eq_point, terms=GKR_TERMS, coeffs=coeffs)
    return fc, proof, eq_point, coeffs


def _verify_multi(multi, terms=GKR_TERMS, coeffs=None, proof=None, claim=None):
    fc, prf, u, cs = multi
    return sumcheck.verify(fc.claim if claim is None else claim, prf if proof is None else proof,
                           T0, num_vars=4, num_tables=4, eq_point=u, terms=terms,
                           coeffs=cs if coeffs is None else coeffs)


def test_multi_term_honest_verifies(multi):
    _verify_multi(multi)


@pytest.mark.parametrize("j", range(3))
def test_multi_term_wrong_coefficient(multi, j):
    cs = multi[3]
    with pytest.raises(SumcheckError) as e:
        _verify_multi(multi, coeffs=_bump(cs, j))
    assert e.value.check in ("round_sum", "final_evaluation")


@pytest.mark.parametrize("terms", [((0, 3), (1, 2), (1, 3)),  # another table in a term
                                   ((1, 2), (0, 3), (2, 3)),  # terms reordered
                                   ((0, 3), (2, 1), (2, 3)),  # factors reordered
                                   ((0, 3), (1, 2)),  # a term dropped
                                   ((0, 3), (1, 2), (2, 3), (0, 0))])  # a term added
def test_multi_term_wrong_term_structure(multi, terms):
    cs = multi[3]
    cs = cs[: len(terms)] if len(terms) <= 3 else jnp.concatenate([cs, cs[:1]])
    with pytest.raises(SumcheckError):
        _verify_multi(multi, terms=terms, coeffs=cs)


def test_multi_term_wrong_degree_is_a_shape_error(multi):
    with pytest.raises(SumcheckError, match="shape"):
        _verify_multi(multi, terms=((0, 3, 1), (1, 2), (2, 3)))


@pytest.mark.parametrize("j", range(4))
def test_multi_term_modified_messages(multi, j):
    proof = multi[1]
    for t in range(4):
        bad = proof.replace(messages=_bump(proof.messages, (j, t)))
        with pytest.raises(SumcheckError) as e:
            _verify_multi(multi, proof=bad)
        assert e.value.round >= j


@pytest.mark.parametrize("i", range(4))
def test_multi_term_wrong_final_value(multi, i):
    proof = multi[1]
    with pytest.raises(SumcheckError, match="final_evaluation"):
        _verify_multi(multi, proof=proof.replace(final_evals=_bump(proof.final_evals, i)))


def test_multi_term_wrong_claim(multi):
    with pytest.raises(SumcheckError, match="round_sum in round 0"):
        _verify_multi(multi, claim=field.add(multi[0].claim, field.ones(())))


def test_bad_term_structures_are_named():
    tabs = [field.encode(rand_ints(4))] * 2
    with pytest.raises(ValueError, match="outside"):
        sumcheck.prove(tabs, T0, terms=((0, 2),))
    with pytest.raises(ValueError, match="1 to 4"):
        sumcheck.prove(tabs, T0, terms=((0, 1, 0, 1, 0),))
    with pytest.raises(ValueError, match="1 to 4"):
        sumcheck.prove(tabs, T0, terms=((),))
    with pytest.raises(ValueError, match="between 1 and 16 terms"):
        sumcheck.prove(tabs, T0, terms=((0,),) * 17, coeffs=field.ones((17,)))
    with pytest.raises(ValueError, match="one per term"):
        sumcheck.prove(tabs, T0, terms=((0,), (1,)), coeffs=field.ones((3,)))
    with pytest.raises(TypeError, match="tuple of table indices"):
        sumcheck.prove(tabs, T0, terms=(0, 1))


@pytest.mark.gpu
def test_gpu_multi_term_matches_cpu():
    if not any(d.platform == "gpu" for d in jax.devices()):
        pytest.skip("no GPU")
    for k, n, with_eq, terms in MULTI:
        ints, u = make(k, n * 40, with_eq)
        tables = jnp.stack([jnp.pad(field.encode(t), ((0, (1 << mle.num_vars(n * 40)) - n * 40),
                                                      (0, 0))) for t in ints])
        eq_point = field.encode(u) if with_eq else None
        coeffs = field.encode(list(rand_ints(len(terms))))
        cpu = jax.devices("cpu")[0]
        gpu = next(d for d in jax.devices() if d.platform == "gpu")
        prove = jax.jit(lambda t, tr, e, c, terms=terms: sumcheck.prove(
            t, tr, eq_point=e, terms=terms, coeffs=c))
        outs = [prove(*jax.device_put((tables, T0, eq_point, coeffs), dev)) for dev in (cpu, gpu)]
        assert np.array_equal(np.asarray(outs[0][1].messages), np.asarray(outs[1][1].messages))


@pytest.mark.gpu
def test_gpu_matches_cpu():
    if not any(d.platform == "gpu" for d in jax.devices()):
        pytest.skip("no GPU")
    ints, u = make(3, 300, True)
    tables, eq_point = jnp.stack([field.encode(t) for t in ints]), field.encode(u)
    cpu = jax.devices("cpu")[0]
    gpu = next(d for d in jax.devices() if d.platform == "gpu")
    prove = jax.jit(lambda t, tr, e: sumcheck.prove(t, tr, eq_point=e))
    outs = [prove(*jax.device_put((tables, T0, eq_point), dev)) for dev in (cpu, gpu)]
    assert np.array_equal(np.asarray(outs[0][1].messages), np.asarray(outs[1][1].messages))


# --- the default instance's own pass (accumulate_product) against the term loop --------------


@pytest.mark.parametrize("k,with_eq", [(1, False), (2, False), (3, False), (4, False), (1, True),
                                       (2, True), (4, True)])
def test_product_pass_matches_term_loop(k, with_eq):
    # one term of all tables takes the product pass; the same sum split into two equal terms with
    # coefficients a and b (a + b = c) takes the term loop: the round values must be identical
    kn = k + int(with_eq)
    tabs = jnp.stack([field.encode(rand_ints(16)) for _ in range(kn)])
    a, b = (int(v) for v in rand_ints(2))
    one, two = (tuple(range(k)),), (tuple(range(k)),) * 2
    c1, c2 = field.encode([(a + b) % R]), field.encode([a, b])
    kw = {"has_eq": with_eq}
    ev1 = sumcheck.round_evals(tabs, c1, terms=one, **kw)
    assert np.array_equal(np.asarray(ev1), np.asarray(sumcheck.round_evals(tabs, c2, terms=two,
                                                                           **kw)))
    r = field.encode(int(rand_ints(1)[0]))
    f1, e1 = sumcheck.fold_round(tabs, r, c1, terms=one, **kw)
    f2, e2 = sumcheck.fold_round(tabs, r, c2, terms=two, **kw)
    assert np.array_equal(np.asarray(f1), np.asarray(f2))
    assert np.array_equal(np.asarray(e1), np.asarray(e2))
    # and both equal the definition on Python integers
    ints = [field.decode(t) for t in tabs]
    line = lambda t, i, s: (int(t[2 * i]) + s * (int(t[2 * i + 1]) - int(t[2 * i]))) % R
    want = []
    for s in range(kn + 1):
        acc = 0
        for i in range(8):
            p = (a + b) % R
            for t in ints:
                p = p * line(t, i, s) % R
            acc += p
        want.append(acc % R)
    assert [int(v) for v in field.decode(ev1)] == want


@pytest.mark.gpu
@pytest.mark.parametrize("k,log_n,with_eq,terms", [
    (2, 19, False, None),  # the benchmark's instance: grid-stride passes over many blocks
    (2, 16, True, None),
    (4, 15, True, GKR_TERMS),  # the term loop at a size with many blocks
])
def test_gpu_large_matches_cpu(k, log_n, with_eq, terms):
    if not any(d.platform == "gpu" for d in jax.devices()):
        pytest.skip("no GPU")
    tables = field.random(jax.random.PRNGKey(log_n), (k, 1 << log_n))
    eq_point = field.random(jax.random.PRNGKey(1), (log_n,)) if with_eq else None
    coeffs = field.random(jax.random.PRNGKey(2), (len(terms),)) if terms else None
    cpu = jax.devices("cpu")[0]
    gpu = next(d for d in jax.devices() if d.platform == "gpu")
    prove = jax.jit(lambda t, tr, e, c: sumcheck.prove(t, tr, eq_point=e, terms=terms, coeffs=c))
    outs = [prove(*jax.device_put((tables, T0, eq_point, coeffs), dev)) for dev in (cpu, gpu)]
    assert np.array_equal(np.asarray(outs[0][1].messages), np.asarray(outs[1][1].messages))
    assert np.array_equal(np.asarray(outs[0][1].final_evals), np.asarray(outs[1][1].final_evals))
    assert np.array_equal(np.asarray(outs[0][2].state), np.asarray(outs[1][2].state))
