"""Claims: folding several claims into one, batched openings of committed tensors, layouts."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gadget_harness import (
    SUMCHECK_FIELDS,
    T0,
    bump,
    honest_claim,
    i32,
    leaf_cases,
    mle_value,
    rejects,
    same_state,
    tampered,
)

from zkllm_jax import claims, commit, field
from zkllm_jax.claims import Claim, GadgetError

RNG = np.random.default_rng(5)


def _int(shape, lo=-(2**20), hi=2**20):
    return RNG.integers(lo, hi, shape).astype(np.int32)


# --- combine -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def combined():
    x = _int((5, 6))
    cs = [honest_claim(x, s) for s in (1, 2, 3)]
    c, prf, tp = claims.prove_combine(i32(x), cs, T0)
    return x, cs, c, prf, tp


def test_combine_folds_to_a_true_claim(combined):
    x, cs, c, prf, tp = combined
    cv, tv = claims.verify_combine(x.shape, cs, prf, T0)
    assert same_state(tp, tv)
    assert np.array_equal(np.asarray(cv.point), np.asarray(c.point))
    assert mle_value(x, cv.point) == int(field.decode(cv.value))


def test_combine_under_jit_gives_the_same_proof(combined):
    x, cs, c, prf, _ = combined
    cj, pj, _ = jax.jit(claims.prove_combine)(i32(x), cs, T0)
    assert np.array_equal(np.asarray(pj.messages), np.asarray(prf.messages))
    assert np.array_equal(np.asarray(cj.value), np.asarray(c.value))


def test_single_claim_passes_through():
    x = _int((4,))
    c = honest_claim(x, 9)
    out, prf, t = claims.prove_combine(i32(x), [c], T0)
    assert prf is None and out is c and same_state(t, T0)


@pytest.mark.parametrize("case", [(".messages", 0), (".messages", -1), (".final_evals", 0),
                                  (".final_evals", -1)])
def test_combine_tampered_message(combined, case):
    x, cs, _, prf, _ = combined
    rejects(lambda: claims.verify_combine(x.shape, cs, tampered(prf, case), T0))


def test_combine_leaves_are_all_tested(combined):
    assert {n for n, _ in leaf_cases(combined[3])} == set(SUMCHECK_FIELDS)


@pytest.mark.parametrize("i", range(3))
def test_combine_false_input_claim(combined, i):
    x, cs, _, _, _ = combined
    bad = list(cs)
    bad[i] = bump(cs[i])
    _c, prf, _ = claims.prove_combine(i32(x), bad, T0)  # the prover folds the true tensor
    with pytest.raises(GadgetError) as e:
        claims.verify_combine(x.shape, bad, prf, T0)
    assert e.value.check == "combine_sumcheck"


# --- openings ----------------------------------------------------------------------------------

GROUP_A, GROUP_B = "gens-a", "gens-b"


@pytest.fixture(scope="module")
def opened():
    gens = {GROUP_A: commit.setup(32, b"zkllm-test/claims-a"),
            GROUP_B: commit.setup(32, b"zkllm-test/claims-b")}
    # a, b share generators and row width (one group, though their row counts differ); c has
    # narrower rows; d other generators
    tensors = {"a": _int((6, 10)), "b": _int((16, 16)), "c": _int((3, 5)), "d": _int((16, 8))}
    gens_of = {"a": GROUP_A, "b": GROUP_A, "c": GROUP_A, "d": GROUP_B}
    coms, wits = {}, {}
    for i, (n, x) in enumerate(tensors.items()):
        coms[n], wits[n] = commit.commit(i32(x), gens[gens_of[n]], jax.random.PRNGKey(40 + i))
    cs = {"a": [honest_claim(tensors["a"], 1), honest_claim(tensors["a"], 2)],
          "b": [honest_claim(tensors["b"], 3)], "c": [honest_claim(tensors["c"], 4)],
          "d": [honest_claim(tensors["d"], 5), honest_claim(tensors["d"], 6)]}
    prf, tp = claims.prove_openings(cs, coms, wits, gens, T0, jax.random.PRNGKey(8),
                                    gens_of=gens_of)
    return tensors, gens, gens_of, coms, wits, cs, prf, tp


def _verify_openings(opened, cs=None, prf=None, coms=None):
    _, gens, gens_of, coms0, _, cs0, prf0, _ = opened
    return claims.verify_openings(cs or cs0, coms or coms0, gens, prf or prf0, T0,
                                  gens_of=gens_of)


def test_openings_verify(opened):
    *_, prf, tp = opened
    assert sorted(prf) == ["gens-a/c3", "gens-a/c4", "gens-b/c4"]
    assert prf["gens-a/c3"].combine is None  # one tensor, one claim: opened directly
    assert prf["gens-a/c4"].values.shape == (3, 8)  # a's two claims and b's at one point
    assert same_state(_verify_openings(opened), tp)


OPEN_LEAVES = [f"['{g}'].combine{leaf}" for g in ("gens-a/c4", "gens-b/c4")
               for leaf in SUMCHECK_FIELDS] + [
    f"['{g}']{leaf}" for g in ("gens-a/c3", "gens-a/c4", "gens-b/c4") for leaf in (
        ".values", ".opening.left", ".opening.right", ".opening.a", ".opening.z1",
        ".opening.z2")]


def test_opening_leaves_are_all_tested(opened):
    assert {n for n, _ in leaf_cases(opened[-2])} == set(OPEN_LEAVES)


@pytest.mark.parametrize("leaf", OPEN_LEAVES)
def test_tampered_opening(opened, leaf):
    prf = opened[-2]
    for case in [c for c in leaf_cases(prf) if c[0] == leaf]:
        rejects(lambda case=case: _verify_openings(opened, prf=tampered(prf, case)))


@pytest.mark.parametrize("name", ["a", "b", "c", "d"])
def test_false_claim_on_a_committed_tensor(opened, name):
    _tensors, gens, gens_of, coms, wits, cs, _, _ = opened
    bad = dict(cs)
    bad[name] = [bump(cs[name][0])] + list(cs[name][1:])
    prf, _ = claims.prove_openings(bad, coms, wits, gens, T0, jax.random.PRNGKey(8),
                                   gens_of=gens_of)
    rejects(lambda: _verify_openings(opened, cs=bad, prf=prf))


def test_swapped_commitment(opened):
    coms = dict(opened[3])
    coms["a"], coms["b"] = coms["b"], coms["a"]
    rejects(lambda: _verify_openings(opened, coms=coms))


def test_tampered_witness_after_commitment(opened):
    _tensors, gens, gens_of, coms, wits, cs, _, _ = opened
    w = dict(wits)
    m = w["d"].matrix
    w["d"] = commit.Witness(matrix=m.at[0, 0].set(field.add(m[0, 0], field.ones(()))),
                            blinds=w["d"].blinds)
    prf, _ = claims.prove_openings(cs, coms, w, gens, T0, jax.random.PRNGKey(8),
                                   gens_of=gens_of)
    rejects(lambda: _verify_openings(opened, prf=prf))


def test_openings_under_jit(opened):
    _tensors, gens, gens_of, coms, wits, cs, _prf, tp = opened
    fn = jax.jit(lambda c, w, t, k: claims.prove_openings(c, coms, w, gens, t, k,
                                                          gens_of=gens_of))
    pj, tj = fn(cs, wits, T0, jax.random.PRNGKey(8))
    assert same_state(tj, tp)
    assert same_state(_verify_openings(opened, prf=pj), tp)


def test_claims_without_commitment_are_refused(opened):
    _tensors, gens, gens_of, coms, wits, cs, _, _ = opened
    with pytest.raises(ValueError, match="no commitment"):
        claims.prove_openings({"zz": cs["a"]}, coms, wits, gens, T0, jax.random.PRNGKey(0),
                              gens_of=gens_of)


# --- public tensors and layouts ----------------------------------------------------------------


def test_public_claims():
    x = _int((3, 7))
    c = honest_claim(x, 11)
    claims.check_public("x", i32(x), [c])
    with pytest.raises(GadgetError, match="public_value"):
        claims.check_public("x", i32(x), [c, bump(c)])
    with pytest.raises(GadgetError, match="shape"):
        claims.check_public("x", i32(x), [Claim(point=c.point[1:], value=c.value)])


@pytest.mark.parametrize("axes", [(1, 0, 2), (2, 1, 0), (0, 2, 1)])
def test_transpose(axes):
    x = _int((3, 5, 4))
    c = claims.transpose(honest_claim(x, 12), x.shape, axes)
    assert mle_value(np.transpose(x, axes), c.point) == int(field.decode(c.value))


def test_reshape_layouts():
    x = _int((8, 4, 16))  # (T, H, hd) as q_proj's output (T, H·hd) with hd a power of two
    c = honest_claim(x, 13)
    c2 = claims.reshape(c, x.shape, (8, 64))
    assert mle_value(x.reshape(8, 64), c2.point) == int(field.decode(c2.value))
    assert claims.same_layout((9, 64), (576,)) and claims.same_layout((3, 2), (6,))
    assert not claims.same_layout((3, 5, 4), (15, 4)) and not claims.same_layout((2, 3), (6,))
    with pytest.raises(ValueError, match="padded layout"):
        claims.reshape(c, (2, 3), (6,))


def test_merge_renames():
    c = Claim(point=jnp.zeros((1, 8), jnp.uint32), value=field.ones(()))
    total = claims.merge({"w": [c]}, {"x": [c], "w": [c]}, {"x": "layer.in"})
    assert sorted(total) == ["layer.in", "w"] and len(total["w"]) == 2


@pytest.mark.parametrize("shape", [(3, 5, 6), (1,), (64,)])
def test_evaluate_many_native_path_agrees(monkeypatch, shape):
    """Large int32 tensors are evaluated by the native fold (no field copy); with the threshold
    lowered to every size the values equal the stacked field contraction's and the MLE's."""
    xs = [jnp.asarray(_int(shape)) for _ in range(3)]
    k = sum((d - 1).bit_length() for d in shape)
    point = field.encode([int(v) for v in RNG.integers(1, 2**62, k)]) if k else \
        jnp.zeros((0, field.LIMBS), jnp.uint32)
    stacked = claims.evaluate_many(xs, point)
    monkeypatch.setattr(claims, "_NATIVE_EVAL", 1)
    native = claims.evaluate_many(xs, point)
    assert np.array_equal(np.asarray(native), np.asarray(stacked))
    for x, v in zip(xs, field.decode(native)):
        assert int(v) == mle_value(x, point)
