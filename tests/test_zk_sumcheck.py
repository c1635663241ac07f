"""Zero-knowledge sumcheck (Libra masking, the mask opened by a Σ-protocol) and the Hyrax
inner-product argument: completeness, tampering with every mask message, fresh randomness per
proof, mode binding, the prover's curve-call count, and a simulator that produces accepting
transcripts without the witness."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from zk_simulator import FixedTranscript, simulate_opening, simulate_sumcheck

from zkllm_jax import commit, curve, field, mle, sumcheck
from zkllm_jax.sumcheck import SumcheckError
from zkllm_jax.transcript import Transcript

R = field.R
ZK = Transcript.new(b"zkllm-test/zk").with_rng(jax.random.key(1))
PLAIN = Transcript.new(b"zkllm-test/zk", zk=False)
RNG = np.random.default_rng(3)


def _rand_tables(k, n, seed=0):
    return [field.random(jax.random.key(100 * seed + i), (n,)) for i in range(k)]


def _prove(tables, t, u=None, terms=None, coeffs=None):
    return sumcheck.prove(tables, t, eq_point=u, terms=terms, coeffs=coeffs)


def _verify(claim, proof, t, m, k, u=None, terms=None, coeffs=None):
    return sumcheck.verify(claim, proof, t, num_vars=m, num_tables=k, eq_point=u, terms=terms,
                           coeffs=coeffs)


CASES = [  # (k, n, with_eq, terms)
    (1, 2, False, None), (2, 16, True, None), (3, 37, False, None), (2, 8, False, ((0,), (0, 1))),
    (4, 32, True, ((0, 1), (2,), (3, 3, 1))), (3, 64, False, ((0, 1, 2, 2),)),
]


@pytest.mark.parametrize("k,n,with_eq,terms", CASES)
def test_masked_sumcheck_verifies(k, n, with_eq, terms):
    tables = _rand_tables(k, n)
    m = max(1, mle.num_vars(n))
    u = field.random(jax.random.key(9), (m,)) if with_eq else None
    nt = len(terms) if terms else 1
    coeffs = field.random(jax.random.key(8), (nt,)) if terms else None
    fc, prf, tp = _prove(tables, ZK, u, terms, coeffs)
    d = sumcheck.degree(sumcheck.normalize_terms(terms, k), with_eq)
    assert prf.mask is not None and prf.messages.shape == (m, d + 1, 8)
    _, tv = _verify(fc.claim, prf, ZK, m, k, u, terms, coeffs)
    assert np.array_equal(np.asarray(tv.state), np.asarray(tp.state))
    for i in range(k):  # the rounds are masked but the reduction is the same: f_k(r)
        assert field.decode(mle.evaluate(tables[i], fc.point)) == field.decode(fc.values[i])
    # the plain engine proves the same claim without a mask
    fcp, prfp, _ = _prove(tables, PLAIN, u, terms, coeffs)
    assert prfp.mask is None and field.decode(fcp.claim) == field.decode(fc.claim)
    _verify(fcp.claim, prfp, PLAIN, m, k, u, terms, coeffs)


@pytest.fixture(scope="module")
def zk_instance():
    tables = _rand_tables(2, 16, seed=1)
    u = field.random(jax.random.key(2), (4,))
    fc, prf, _ = _prove(tables, ZK, u)
    return tables, u, fc, prf


def _bump(x, idx=()):
    return x.at[idx].set(field.add(x[idx], field.ones(())))


def _reject(zk_instance, bad, t=ZK):
    _, u, fc, _ = zk_instance
    with pytest.raises(SumcheckError) as e:
        _verify(fc.claim, bad, t, 4, 2, u)
    return e.value


def test_masked_honest_and_plain_still_reject(zk_instance):
    _, u, fc, prf = zk_instance
    _verify(fc.claim, prf, ZK, 4, 2, u)
    e = _reject(zk_instance, prf.replace(messages=_bump(prf.messages, (2, 0))))
    assert (e.check, e.round) == ("round_sum", 2)
    e = _reject(zk_instance, prf.replace(final_evals=_bump(prf.final_evals, 1)))
    assert e.check == "final_evaluation"


def test_tampered_mask_commitment(zk_instance):
    prf = zk_instance[3]
    bad = prf.replace(mask=prf.mask.replace(commitment=curve.double(prf.mask.commitment)))
    # ρ changes with the commitment, so the first round's sum no longer matches
    assert _reject(zk_instance, bad).check == "round_sum"


def test_tampered_mask_commitment_with_consistent_rho(zk_instance):
    """A commitment that does not change ρ (FixedTranscript) is caught by the opening."""
    _, u, fc, prf = zk_instance
    chal = _challenges_of(zk_instance)
    ft = FixedTranscript.of(chal)
    _verify(fc.claim, prf, ft, 4, 2, u)  # the honest proof also verifies with its challenges
    bad = prf.replace(mask=prf.mask.replace(commitment=curve.double(prf.mask.commitment)))
    with pytest.raises(SumcheckError, match="mask_opening"):
        _verify(fc.claim, bad, ft, 4, 2, u)


def test_tampered_mask_sum(zk_instance):
    prf = zk_instance[3]
    bad = prf.replace(mask=prf.mask.replace(total=_bump(prf.mask.total)))
    e = _reject(zk_instance, bad)
    assert (e.check, e.round) == ("round_sum", 0)


def test_tampered_mask_value(zk_instance):
    prf = zk_instance[3]
    bad = prf.replace(mask=prf.mask.replace(value=_bump(prf.mask.value)))
    assert _reject(zk_instance, bad).check == "final_evaluation"


def _tamper_opening(prf, name):
    op = prf.mask.opening
    x = getattr(op, name)
    if name == "delta":
        x = curve.double(x)
    elif name == "z":
        x = x.at[1].set(_bump(x[1]))
    else:
        x = _bump(x)
    return prf.replace(mask=prf.mask.replace(opening=op.replace(**{name: x})))


@pytest.mark.parametrize("name", ["delta", "t", "z", "z_blind"])
def test_tampered_mask_opening(zk_instance, name):
    # δ and t are absorbed before e, so changing them changes e and the commitment check fails
    e = _reject(zk_instance, _tamper_opening(zk_instance[3], name))
    assert e.check == "mask_opening" and "sigma_commitment" in str(e)


@pytest.mark.parametrize("name,check", [("delta", "sigma_commitment"), ("t", "sigma_value"),
                                        ("z", "sigma_commitment"), ("z_blind", "sigma_commitment")])
def test_tampered_mask_opening_with_fixed_challenges(zk_instance, name, check):
    """With e fixed in advance each of the Σ-protocol's two checks catches its own tampering."""
    _, u, fc, prf = zk_instance
    ft = FixedTranscript.of(_challenges_of(zk_instance))
    with pytest.raises(SumcheckError, match="mask_opening") as info:
        _verify(fc.claim, _tamper_opening(prf, name), ft, 4, 2, u)
    assert check in str(info.value)


def test_mode_mismatch_is_rejected(zk_instance):
    tables, u, _, prf = zk_instance
    # a zero-knowledge proof checked as plain: the mode is absorbed first, and the mask is extra
    e = _reject(zk_instance, prf, t=PLAIN)
    assert e.check == "mask_shape"
    fcp, prfp, _ = _prove(tables, PLAIN, u)
    with pytest.raises(SumcheckError, match="mask_shape"):
        _verify(fcp.claim, prfp, ZK, 4, 2, u)
    # the same transcript label with the other mode gives other challenges
    _, prf_relabel, _ = _prove(tables, Transcript.new(b"zkllm-test/zk", zk=False).with_rng(
        jax.random.key(1)), u)
    assert prf_relabel.mask is None


def test_missing_prover_key_is_named():
    with pytest.raises(ValueError, match="with_rng"):
        _prove(_rand_tables(2, 4), Transcript.new(b"x"))


def _elements(prf):
    """Every Fr element and G1 point of a masked proof, as bytes."""
    fr = np.asarray(field.to_canonical_limbs(prf.messages)).reshape(-1, 8).tolist()
    fr += np.asarray(field.to_canonical_limbs(prf.final_evals)).reshape(-1, 8).tolist()
    mk, op = prf.mask, prf.mask.opening
    for x in (mk.total, mk.value, op.t, op.z_blind):
        fr.append(np.asarray(field.to_canonical_limbs(x)).tolist())
    fr += np.asarray(field.to_canonical_limbs(op.z)).reshape(-1, 8).tolist()
    pts = np.asarray(curve.to_compressed(np.stack([mk.commitment, op.delta]))).tolist()
    return {tuple(v) for v in fr}, {tuple(p) for p in pts}


def test_two_proofs_share_no_message():
    tables = _rand_tables(3, 32, seed=4)
    u = field.random(jax.random.key(5), (5,))
    fa, pa, _ = _prove(tables, Transcript.new(b"s").with_rng(jax.random.key(10)), u)
    fb, pb, _ = _prove(tables, Transcript.new(b"s").with_rng(jax.random.key(11)), u)
    assert field.decode(fa.claim) == field.decode(fb.claim)
    for p, f in ((pa, fa), (pb, fb)):
        _verify(f.claim, p, Transcript.new(b"s"), 5, 3, u)
    fr_a, pt_a = _elements(pa)
    fr_b, pt_b = _elements(pb)
    assert not fr_a & fr_b and not pt_a & pt_b
    # the same key gives the same proof (deterministic given the key)
    _, pc, _ = _prove(tables, Transcript.new(b"s").with_rng(jax.random.key(10)), u)
    assert _elements(pc) == _elements(pa)


def _challenges_of(zk_instance):
    """The challenges a verifier draws on the honest proof (to fix them in advance)."""
    _, u, fc, prf = zk_instance
    recorded = []
    orig = Transcript.challenges

    def spy(self, label, n):
        c, t = orig(self, label, n)
        recorded.extend(int(v) for v in np.atleast_1d(field.decode(c)))
        return c, t

    Transcript.challenges = spy
    try:
        with jax.disable_jit():
            _verify(fc.claim, prf, ZK, 4, 2, u)
    finally:
        Transcript.challenges = orig
    return recorded


@pytest.mark.parametrize("with_eq,terms", [(True, None), (False, ((0, 1), (1,), (0, 0, 1)))])
def test_simulated_sumcheck_is_accepted(with_eq, terms):
    m, k = 5, 2
    norm = sumcheck.normalize_terms(terms, k)
    chal = [int.from_bytes(RNG.bytes(40), "big") % R for _ in range(1 + m + 1)]  # ρ, r, e
    u = [int.from_bytes(RNG.bytes(40), "big") % R for _ in range(m)] if with_eq else None
    coeffs = [int.from_bytes(RNG.bytes(40), "big") % R for _ in norm]
    claim, finals = 12345, [678, 91011]  # any statement: no tables exist
    prf = simulate_sumcheck(claim, finals, chal, m=m, terms=norm, coeffs=coeffs, eq_point=u,
                            rng=RNG)
    ft = FixedTranscript.of(chal)
    u_fr = field.encode(u) if with_eq else None
    fc, _ = _verify(field.encode(claim), prf, ft, m, k, u_fr, terms, field.encode(coeffs))
    assert [int(v) for v in field.decode(fc.point)] == chal[1 : 1 + m]
    # the simulated transcript only verifies against its own challenges
    with pytest.raises(SumcheckError):
        _verify(field.encode(claim), prf, FixedTranscript.of(chal[::-1]), m, k, u_fr, terms,
                field.encode(coeffs))


def test_simulated_hyrax_opening_is_accepted():
    gens = commit.setup(16, b"zkllm-test/zk-sim")
    coms = [commit.commit(field.random(jax.random.key(i), (8, 16)), gens, jax.random.key(50 + i))[0]
            for i in range(2)]
    n, c = coms[0].num_vars, coms[0].col_vars
    point = [int.from_bytes(RNG.bytes(40), "big") % R for _ in range(n)]
    values = [int.from_bytes(RNG.bytes(40), "big") % R for _ in range(2)]  # not the true values
    chal = [int.from_bytes(RNG.bytes(40), "big") % R for _ in range(2 + 1 + c + 1)]
    prf = simulate_opening(coms, point, values, gens, chal, RNG)
    pt, vals = field.encode(point), field.encode(values)
    commit.verify_opening(coms, pt, vals, prf, gens, FixedTranscript.of(chal))
    with pytest.raises(commit.OpeningError, match="ipa_final"):
        commit.verify_opening(coms, pt, vals, prf, gens, FixedTranscript.of(chal[::-1]))


@pytest.mark.parametrize("n", [8, 13])
def test_vector_opening_completeness_and_binding(n):
    gens = sumcheck.mask_generators(n)
    vec = field.random(jax.random.key(3), (n,))
    blind = field.random(jax.random.key(4))
    a = field.random(jax.random.key(5), (n,))
    com = commit.commit_vector(vec, blind, gens)
    val, prf, tp = commit.prove_vector_opening(vec, blind, com, a, gens, ZK, jax.random.key(6))
    assert field.decode(val) == sum(int(x) * int(y) for x, y in zip(
        field.decode(vec), field.decode(a))) % R
    tv = commit.verify_vector_opening(com, a, val, prf, gens, ZK)
    assert np.array_equal(np.asarray(tv.state), np.asarray(tp.state))
    with pytest.raises(commit.OpeningError, match="sigma_commitment"):
        commit.verify_vector_opening(com, a, _bump(val), prf, gens, ZK)
    with pytest.raises(commit.OpeningError, match="sigma_commitment"):
        commit.verify_vector_opening(com, _bump(a, 3), val, prf, gens, ZK)
    # the same proof against another commitment, and a nonce commitment passed in by the caller
    other = commit.commit_vector(vec, _bump(blind), gens)
    with pytest.raises(commit.OpeningError, match="sigma_commitment"):
        commit.verify_vector_opening(other, a, val, prf, gens, ZK)
    d, b_d = commit.vector_nonce(jax.random.key(6), n)
    both = commit.commit_vectors(jnp.stack([vec, d]), jnp.stack([blind, b_d]), gens)
    assert bool(curve.eq(both[0], com))
    _, prf2, _ = commit.prove_vector_opening(vec, blind, com, a, gens, ZK, jax.random.key(6),
                                             both[1])
    # the same proof (δ compared as a point: a batched MSM may return another Jacobian form)
    assert bool(curve.eq(prf2.delta, prf.delta))
    assert all(np.array_equal(np.asarray(getattr(prf2, f)), np.asarray(getattr(prf, f)))
               for f in ("t", "z", "z_blind"))
    with pytest.raises(commit.OpeningError, match="shape"):
        commit.verify_vector_opening(com, a, val, prf.replace(z=prf.z[:-1]), gens, ZK)


@pytest.mark.parametrize("n", [1, 6, 13])
def test_vector_opening_on_the_host(n, monkeypatch):
    """A verifier's transcript (no key, host arrays) checks the opening on the host (hashlib,
    Python integers, a padded MSM): it accepts what the keyed (jitted) route accepts, ends in the
    same state, and rejects each tampering with the named check."""
    gens = sumcheck.mask_generators(n)
    vec, blind = field.random(jax.random.key(13), (n,)), field.random(jax.random.key(14))
    a = field.random(jax.random.key(15), (n,))
    com = commit.commit_vector(vec, blind, gens)
    val, prf, tp = commit.prove_vector_opening(vec, blind, com, a, gens, ZK, jax.random.key(16))
    host = Transcript.new(b"zkllm-test/zk")
    assert host.on_host(com, a, val) and not ZK.on_host()
    tv = commit.verify_vector_opening(com, a, val, prf, gens, host)
    assert np.array_equal(np.asarray(tv.state), np.asarray(tp.state))
    for bad in (prf.replace(z=_bump(prf.z, 0)), prf.replace(z_blind=_bump(prf.z_blind)),
                prf.replace(delta=curve.double(prf.delta))):
        with pytest.raises(commit.OpeningError, match="sigma_commitment"):
            commit.verify_vector_opening(com, a, val, bad, gens, host)
    with pytest.raises(commit.OpeningError, match="sigma_commitment"):
        commit.verify_vector_opening(com, a, _bump(val), prf, gens, host)
    noncanonical = prf.z.at[0].set(jnp.asarray(field._R_LIMBS))
    with pytest.raises(commit.OpeningError, match="shape.*non-canonical"):
        commit.verify_vector_opening(com, a, val, prf.replace(z=noncanonical), gens, host)
    # the value check, reached only with the challenge held fixed (t is bound into e)
    e, _ = commit._begin_vector(host, com, a, val, prf.delta, prf.t)
    monkeypatch.setattr(commit, "_begin_vector", lambda t, *args: (e, t))
    with pytest.raises(commit.OpeningError, match="sigma_value"):
        commit.verify_vector_opening(com, a, val, prf.replace(t=_bump(prf.t)), gens, host)



def test_masked_sumcheck_adds_one_msm():
    """The mask costs the prover one MSM (its commitment and the opening's nonce commitment in
    one batched call) and no scalar multiplication or addition: on a GPU every curve call is a serial chain
    of milliseconds, so this count is the zero-knowledge overhead (BENCHMARKS.md)."""
    import re

    tables = _rand_tables(2, 64)
    calls = {}
    for name, t in (("zk", ZK), ("plain", PLAIN)):
        text = jax.jit(lambda a, b, t=t: _prove([a, b], t)).lower(*tables).as_text()
        calls[name] = re.findall(r'custom_call_target\s*=\s*"(zk_g1_\w+)"|@(zk_g1_\w+)\(', text)
        calls[name] = [a or b for a, b in calls[name]]
    assert calls["plain"] == []
    # besides the MSM only the transcript's point encodings (compress: C twice, δ once)
    assert calls["zk"].count("zk_g1_msm") == 1, calls["zk"]
    assert set(calls["zk"]) == {"zk_g1_msm", "zk_g1_compress"}, calls["zk"]


# --- masks committed ahead (premasks) -----------------------------------------------------------

PRE_SIZES = (8, 16, 32)  # three sumchecks of different rounds: their mask rows are zero-padded
PRE_CHUNKS = (1, 2, 4)  # one chunk (the stack built once), then the lazy rounds


def _pre_chunk(b, args, c):
    (tabs,) = args
    return jax.lax.dynamic_slice_in_dim(tabs, c * b, b, axis=1)


def _pre_shapes():
    d = sumcheck.degree(sumcheck.normalize_terms(None, 2), True)
    return [(mle.num_vars(n), d) for n in PRE_SIZES]


def _pre_instances():
    out = []
    for i, n in enumerate(PRE_SIZES):
        tabs = jnp.stack(_rand_tables(2, n, seed=20 + i))
        out.append((tabs, field.random(jax.random.key(30 + i), (mle.num_vars(n),))))
    return out


def _prove_premasked(t, use_premasks=True):
    pms = [None] * len(PRE_SIZES)
    if use_premasks:
        pms, t = sumcheck.premasks(t, _pre_shapes())
    out = []
    for (tabs, u), chunks, pm in zip(_pre_instances(), PRE_CHUNKS, pms):
        n = tabs.shape[1]
        fc, prf, t = sumcheck.prove_chunked(_pre_chunk, n // chunks, (tabs,), chunks,
                                            n // chunks, 3, t, u, premask=pm)
        out.append((fc, prf))
    return out, t


def _verify_premasked(results, t, masks=None, premasked=True):
    masks = [prf.mask for _, prf in results] if masks is None else masks
    t = sumcheck.absorb_masks(t, masks, _pre_shapes())
    for (fc, prf), (_, u) in zip(results, _pre_instances()):
        _, t = sumcheck.verify(fc.claim, prf, t, num_vars=u.shape[0], num_tables=2, eq_point=u,
                               premasked=premasked)
    return t


@pytest.fixture(scope="module")
def premasked():
    return _prove_premasked(ZK)


def test_premasked_sumchecks_verify(premasked):
    results, tp = premasked
    tv = _verify_premasked(results, ZK)
    assert np.array_equal(np.asarray(tv.state), np.asarray(tp.state))
    for (fc, _), (tabs, u) in zip(results, _pre_instances()):
        for i in range(2):  # the same reduction as an unmasked sumcheck
            assert field.decode(mle.evaluate(tabs[i], fc.point)) == field.decode(fc.values[i])
    # each mask commitment is the unpadded vector commitment the opening checks against
    for _, prf in results:
        assert prf.mask.opening.z.shape[0] == sumcheck.mask_len(prf.messages.shape[0], 3)


def test_premasked_rejections(premasked):
    results, _ = premasked
    with pytest.raises(SumcheckError):  # checked in the per-sumcheck transcript order instead
        _verify_premasked(results, ZK, premasked=False)
    masks = [prf.mask for _, prf in results]
    with pytest.raises(SumcheckError, match="mask_shape"):  # the masks absorbed in another order
        _verify_premasked(results, ZK, masks=[masks[1], masks[0], masks[2]])
    with pytest.raises(SumcheckError, match="3 masks expected"):
        sumcheck.absorb_masks(ZK, masks[:2], _pre_shapes())
    # a tampered commitment or nonce commitment: absorbed ahead, so every later challenge moves
    for name in ("commitment", "delta"):
        bad = list(results)
        fc, prf = bad[2]
        mask = prf.mask
        if name == "commitment":
            mask = mask.replace(commitment=curve.double(mask.commitment))
        else:
            mask = mask.replace(opening=mask.opening.replace(delta=curve.double(
                mask.opening.delta)))
        bad[2] = (fc, prf.replace(mask=mask))
        with pytest.raises(SumcheckError) as e:
            _verify_premasked(bad, ZK)
        assert e.value.check == "round_sum", name  # the first sumcheck's ρ moved


def test_premasked_opening_is_checked(premasked):
    """A premasked sumcheck whose opening answer is wrong, with the transcript otherwise the
    honest one (the masks absorbed as the prover did), fails its opening."""
    results, _ = premasked
    (fc, prf), (_, u) = results[0], _pre_instances()[0]
    op = prf.mask.opening
    for name in ("z_blind", "t"):
        bad = prf.replace(mask=prf.mask.replace(opening=op.replace(**{name: _bump(
            getattr(op, name))})))
        t = sumcheck.absorb_masks(ZK, [p.mask for _, p in results], _pre_shapes())
        with pytest.raises(SumcheckError, match="mask_opening"):
            sumcheck.verify(fc.claim, bad, t, num_vars=u.shape[0], num_tables=2, eq_point=u,
                            premasked=True)


def test_premask_errors():
    with pytest.raises(ValueError, match="zero-knowledge transcript"):
        sumcheck.premasks(PLAIN, _pre_shapes())
    with pytest.raises(ValueError, match="rounds >= 1"):
        sumcheck.premasks(ZK, [(0, 3)])
    pms, t = sumcheck.premasks(ZK, [(5, 3)])  # for 5 rounds, used on a 3-round sumcheck
    tabs, u = _pre_instances()[0]
    with pytest.raises(ValueError, match="premask"):
        sumcheck.prove_chunked(_pre_chunk, 8, (tabs,), 1, 8, 3, t, u, premask=pms[0])


def test_premasks_take_one_msm_for_all():
    """Three premasked sumchecks cost the prover one MSM and one batch of point encodings in
    all; drawn one by one, one MSM each (and three encodings each)."""
    import re

    def count(use):
        text = jax.jit(lambda: _prove_premasked(ZK, use)[0]).lower().as_text()
        found = re.findall(r'custom_call_target\s*=\s*"(zk_g1_\w+)"|@(zk_g1_\w+)\(', text)
        found = [a or b for a, b in found]
        return found.count("zk_g1_msm"), found.count("zk_g1_compress")

    assert count(True) == (1, 1)
    assert count(False)[0] == len(PRE_SIZES)
