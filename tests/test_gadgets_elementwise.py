"""Hadamard product (with broadcasting and public factors), residual add, causal mask."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from gadget_harness import (
    FX,
    SC_LEAVES,
    T0,
    assert_holds,
    bump,
    bumped,
    honest_claim,
    i32,
    ints_of,
    leaf_cases,
    mle_value,
    raw,
    rejects,
    same_state,
    tampered,
    tiny,
)

from zkllm_jax import commit, field, mle
from zkllm_jax.claims import GadgetError
from zkllm_jax.gadgets import hadamard, mask, skip

# --- Hadamard on the tiny model: act ⊙ up (SwiGLU), normed ⊙ g (RMSNorm, broadcast) ------------


def _instance(kind):
    params, _, wit = tiny()
    lay = wit["layers"]
    if kind == "swiglu":
        sw = lay["mlp"]["swiglu"]
        a, b = sw["act"][0], lay["mlp"]["up_proj"]["out"][0]
        y = raw(sw["hidden"][0], sw["hidden_rem"][0])
    else:  # RMSNorm's gain: normed (T, D) ⊙ g (D,) broadcast over tokens
        ln = lay["input_layernorm"]
        a, b = ln["normed"][0], params["model"]["layers"]["input_layernorm"]["weight"][0]
        y = raw(ln["out"][0], ln["out_rem"][0])
    assert (y == ints_of(a) * ints_of(b)).all()
    return a, b, y


@pytest.fixture(scope="module", params=["swiglu", "rmsnorm-gain"])
def had(request):
    a, b, y = _instance(request.param)
    claim = honest_claim(y, 81)
    _cs, prf, tp = hadamard.prove(i32(a), i32(b), claim, T0)
    return {"a": a, "b": b, "claim": claim, "proof": prf, "tp": tp}


def _had_check(h, proof=None, claim=None):
    cs, t = hadamard.verify(h["a"].shape, h["b"].shape, claim or h["claim"], proof or h["proof"],
                            T0)
    assert_holds(cs, {"a": h["a"], "b": h["b"]})
    return t


def test_hadamard_honest(had):
    assert same_state(_had_check(had), had["tp"])
    assert {n for n, _ in leaf_cases(had["proof"])} == set(SC_LEAVES)


@pytest.mark.parametrize("leaf", SC_LEAVES)
def test_hadamard_tampered_message(had, leaf):
    for case in [c for c in leaf_cases(had["proof"]) if c[0] == leaf]:
        rejects(lambda case=case: _had_check(had, proof=tampered(had["proof"], case)))


def test_hadamard_tampered_claim(had):
    rejects(lambda: _had_check(had, claim=bump(had["claim"])))


@pytest.mark.parametrize("which", ["a", "b"])
def test_hadamard_tampered_witness(had, which):
    a, b = had["a"], had["b"]
    if which == "a":
        a = bumped(a, (4, 1))
    else:
        b = bumped(b, (3,) if b.ndim == 1 else (4, 1))
    _, prf, _ = hadamard.prove(i32(a), i32(b), had["claim"], T0)
    rejects(lambda: _had_check(had, proof=prf))


def test_hadamard_public_factor():
    """x·rsqrt with rsqrt public-like (T, 1) broadcast: the verifier evaluates B itself."""
    _, _, wit = tiny()
    ln = wit["layers"]["input_layernorm"]
    a, b = wit["layers"]["input"][0], ln["rsqrt"][0][:, None]
    y = raw(ln["normed"][0], ln["normed_rem"][0], FX.rsqrt_bits_for(1e-5))
    assert (y == ints_of(a) * ints_of(b)).all()
    claim = honest_claim(y, 82)
    _cs, prf, tp = hadamard.prove(i32(a), i32(b), claim, T0, b_public=True)
    cv, tv = hadamard.verify(a.shape, b.shape, claim, prf, T0, b_public=i32(b))
    assert same_state(tp, tv) and sorted(cv) == ["a"]
    assert_holds(cv, {"a": a})
    with pytest.raises(GadgetError, match="public_factor"):
        hadamard.verify(a.shape, b.shape, claim, prf, T0, b_public=i32(bumped(b, (0, 0))))
    with pytest.raises(GadgetError):  # the flag is bound into the transcript
        hadamard.verify(a.shape, b.shape, claim, prf, T0)


def test_hadamard_bad_broadcast():
    with pytest.raises(ValueError, match="does not broadcast"):
        hadamard.prove(i32(np.zeros((4, 3))), i32(np.zeros((2,))),
                       honest_claim(np.zeros((4, 3), np.int32), 1), T0)


# --- residual add --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def res():
    _, _, wit = tiny()
    lay = wit["layers"]
    a, b = lay["input"][0], lay["self_attn"]["o_proj"]["out"][0]
    y = lay["residual_attn"][0]
    assert (ints_of(y) == ints_of(a) + ints_of(b)).all()
    claim = honest_claim(y, 83)
    _cs, prf, tp = skip.prove(i32(a), i32(b), claim, T0)
    return {"a": a, "b": b, "claim": claim, "proof": prf, "tp": tp}


def _res_check(r, proof=None, claim=None):
    cs, t = skip.verify(r["a"].shape, claim or r["claim"], proof or r["proof"], T0)
    assert_holds(cs, {"a": r["a"], "b": r["b"]})
    return t


def test_skip_honest(res):
    assert same_state(_res_check(res), res["tp"])


def test_skip_tampered(res):
    rejects(lambda: _res_check(res, proof=tampered(res["proof"], (".a_value", 0))))
    rejects(lambda: _res_check(res, claim=bump(res["claim"])))
    _, prf, _ = skip.prove(i32(bumped(res["a"], (0, 0))), i32(res["b"]), res["claim"], T0)
    rejects(lambda: _res_check(res, proof=prf))


def test_skip_commitments_add():
    """The residual's commitment is the sum of its operands' (it opens to A + B)."""
    gens = commit.setup(8, b"zkllm-test/skip")
    a, b = np.arange(12).reshape(3, 4), np.arange(12).reshape(3, 4) * 7 - 5
    ca, wa = commit.commit(i32(a), gens, jax.random.PRNGKey(1))
    cb, wb = commit.commit(i32(b), gens, jax.random.PRNGKey(2))
    cab, wab = skip.commitment(ca, cb), commit.add_witness(wa, wb)
    pt = field.random(jax.random.PRNGKey(3), (cab.num_vars,))
    vals, prf, _ = commit.prove_opening([cab], [wab], pt, gens, T0, jax.random.PRNGKey(4))
    commit.verify_opening([cab], pt, vals, prf, gens, T0)
    assert int(field.decode(vals[0])) == mle_value(a + b, pt)


# --- causal mask ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def msk():
    _, _, wit = tiny()
    p = wit["layers"]["self_attn"]["softmax"]["probs"][0]  # (H, T, T)
    m = np.asarray(mask.causal_mask(p.shape[1], p.shape[2]))
    assert (p * m == 0).all() and (p * (1 - m) != 0).any()
    _cs, prf, tp = mask.prove(i32(p), T0)
    return {"p": p, "proof": prf, "tp": tp}


def _mask_check(mk, proof=None, start=0):
    cs, t = mask.verify(mk["p"].shape, proof or mk["proof"], T0, start=start)
    assert_holds(cs, {"x": mk["p"]})
    return t


def test_mask_honest(msk):
    assert same_state(_mask_check(msk), msk["tp"])


@pytest.mark.parametrize("leaf", SC_LEAVES)
def test_mask_tampered_message(msk, leaf):
    for case in [c for c in leaf_cases(msk["proof"]) if c[0] == leaf]:
        rejects(lambda case=case: _mask_check(msk, proof=tampered(msk["proof"], case)))


def test_mask_nonzero_masked_entry(msk):
    p = bumped(msk["p"], (2, 1, 6))  # key 6 > query 1: must be zero
    _, prf, _ = mask.prove(i32(p), T0)
    rejects(lambda: mask.verify(p.shape, prf, T0))


def test_mask_wrong_start(msk):
    rejects(lambda: _mask_check(msk, start=1))


@pytest.mark.parametrize("t_len,tk,start", [(3, 7, 2), (5, 5, 0), (1, 9, 4)])
def test_mask_mle_closed_form(t_len, tk, start):
    rng = np.random.default_rng(t_len)
    m = np.asarray(mask.causal_mask(t_len, tk, start))
    kt, ks = (t_len - 1).bit_length(), (tk - 1).bit_length()
    rt = [int(v) for v in rng.integers(0, 1 << 62, kt)]
    rs = [int(v) for v in rng.integers(0, 1 << 62, ks)]
    padded = np.pad(m, ((0, (1 << kt) - t_len), (0, (1 << ks) - tk)))
    want = int(field.decode(field.inner_product(field.encode(padded).reshape(-1, 8),
                                                mle.eq_table(field.encode(rs + rt)))))
    assert mask.mask_mle(rt, rs, t_len, tk, start) == want
