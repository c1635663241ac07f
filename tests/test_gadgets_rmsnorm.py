"""RMSNorm with the gap-checked rsqrt on the tiny model's first input_layernorm: honest proofs
verify and end in true claims; wrong rsqrt values (even with matching fake gaps), wrong sums of
squares, wrong inputs and every tampered proof leaf are rejected."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from advice_harness import (
    commit_advice,
    gens_for,
    kind_cases,
    lean_cases,
    open_claims,
    sweep,
    verify_open,
)
from gadget_harness import (
    CFG,
    FX,
    assert_holds,
    bump,
    honest_claim,
    i32,
    ints_of,
    leaf_cases,
    same_state,
    tampered,
    tiny,
)
from zkllm_jax.models.intmath import wide_to_int

from zkllm_jax.claims import GadgetError
from zkllm_jax.gadgets import limbs, rescale, rmsnorm

F = FX.scale_bits
RB = FX.rsqrt_bits_for(CFG.rms_norm_eps)
EPS_FIXED = round(CFG.rms_norm_eps * (1 << (2 * F)))


def _params(x):
    return rmsnorm.params(*x.shape, scale_bits=F, rsqrt_bits=RB, eps_fixed=EPS_FIXED)


def _rescale_int(y, k):
    q = (y + (1 << (k - 1))) >> k
    return q, y - (q << k)


def _run(st, adv, wit, claim, x=None, weight=None, check_witness=True):
    """Commit `adv`, prove, open; returns everything the verifier side needs."""
    coms, wits, t = commit_advice(adv, st["gens"])
    cs, prf, tp = rmsnorm.prove(i32(st["x"] if x is None else x),
                                i32(st["g"] if weight is None else weight), wit, claim, t,
                                params=st["p"], key=jax.random.PRNGKey(4), adv=adv,
                                check_witness=check_witness)
    names = sorted(rmsnorm.committed(cs))
    opening, tp = open_claims(cs, names, coms, wits, st["gens"], tp)
    return {"coms": coms, "t": t, "proof": prf, "opening": opening, "tp": tp, "claim": claim}


@pytest.fixture(scope="module")
def rn():
    params, _, wit = tiny()
    ln = {k: v[0] for k, v in wit["layers"]["input_layernorm"].items()}
    x = wit["layers"]["input"][0]
    g = params["model"]["layers"]["input_layernorm"]["weight"][0]
    p = _params(x)
    adv = {n: np.asarray(v) for n, v in rmsnorm.advice(ln, p).items()}
    st = {"x": x, "g": g, "ln": ln, "p": p, "adv": adv,
          "gens": gens_for(adv, b"zkllm-test/rmsnorm")}
    st.update(_run(st, adv, ln, honest_claim(ln["out"], 61)))
    st["stage1"] = _verify_gadget(st)
    return st


def _verify_gadget(st, proof=None, claim=None, run=None):
    run = run or st
    cs, t = rmsnorm.verify(claim or run["claim"], proof or run["proof"], run["t"],
                           params=st["p"])
    # the claims left for the caller: x (the layer input) and the norm weight
    assert_holds({"x": cs["x"], "weight": cs["weight"]}, {"x": st["x"], "weight": st["g"]})
    return cs, t


def _check(st, proof=None, claim=None, opening=None, run=None):
    run = run or st
    cs, t = _verify_gadget(st, proof, claim, run)
    return verify_open(cs, sorted(rmsnorm.committed(cs)), run["coms"], st["gens"],
                       opening or run["opening"], t)


def test_witness_identities(rn):
    """The model's rsqrt is ⌊C/√v⌋ with both gaps as committed, and the limb layout holds."""
    p, ln = rn["p"], rn["ln"]
    v = wide_to_int(ln["sum_sq"])
    assert (v == (ints_of(rn["x"]) ** 2).sum(axis=1) + p.eps_total).all()
    r = ints_of(ln["rsqrt"])
    assert (limbs.value(rn["adv"]["rsqrt"]) == r).all()
    assert (limbs.value(rn["adv"]["gap_lo"]) == p.c2 - r * r * v).all()
    assert (limbs.value(rn["adv"]["gap_hi"]) == (r + 1) ** 2 * v - p.c2 - 1).all()


def test_honest(rn):
    assert same_state(_check(rn), rn["tp"])
    cs, _ = rn["stage1"]
    assert len(cs["x"]) == 2 and len(cs["weight"]) == 1
    assert_holds(rmsnorm.committed(cs), rn["adv"])
    assert set(rmsnorm.committed(cs)) == set(rn["adv"])


PARTS = ("out_rescale", "gain", "normed_rescale", "scale", "identity", "sum_sq",
         "rsqrt_values", "gap_lo_values", "gap_hi_values", "ranges")


def test_tampered_every_kind_of_leaf(rn):
    sweep(rn["proof"], kind_cases(rn["proof"]), PARTS, lambda p: _check(rn, proof=p))


@pytest.mark.slow
def test_tampered_every_leaf(rn):
    sweep(rn["proof"], lean_cases(rn["proof"]), PARTS, lambda p: _check(rn, proof=p))


def test_tampered_opening(rn):
    for case in leaf_cases(rn["opening"], both_ends=False):
        with pytest.raises(GadgetError):
            verify_open(rn["stage1"][0], sorted(rmsnorm.committed(rn["stage1"][0])), rn["coms"],
                        rn["gens"], tampered(rn["opening"], case), rn["stage1"][1])


def test_tampered_claim(rn):
    with pytest.raises(GadgetError):
        _check(rn, claim=bump(rn["claim"]))


def _attack_rsqrt(rn, delta):
    """A prover that uses r + delta in row 2 and recomputes normed and out consistently; its
    gaps are then negative and can only be committed with out-of-range limbs."""
    p, ln = rn["p"], rn["ln"]
    x, g = ints_of(rn["x"]), ints_of(rn["g"])
    r = ints_of(ln["rsqrt"]).copy()
    r[2] += delta
    v = wide_to_int(ln["sum_sq"])
    normed, nrem = _rescale_int(x * r[:, None], RB)
    out, orem = _rescale_int(normed * g[None, :], F)
    lo, hi = p.c2 - r * r * v, (r + 1) ** 2 * v - p.c2 - 1
    assert (lo[2] < 0) if delta > 0 else (hi[2] < 0)

    def signed_limbs(w):  # limbs of |w| negated when w < 0: Σ 2^16i limb_i = w in the field
        mag = np.abs(w)
        ls = np.stack([(mag >> (16 * i)) & 0xFFFF for i in range(p.gap_limbs)], -1)
        return np.where((w < 0)[:, None], -ls, ls).astype(np.int32)

    adv = dict(rn["adv"])
    adv.update({f"out/{k}": np.asarray(v) for k, v in rescale.advice(
        i32(out.astype(np.int64)), i32(orem.astype(np.int64)), F).items()})
    adv.update({f"normed/{k}": np.asarray(v) for k, v in rescale.advice(
        i32(normed.astype(np.int64)), i32(nrem.astype(np.int64)), RB).items()})
    adv["rsqrt"] = np.asarray(limbs.from_int32(i32(r.astype(np.int64))))
    adv["gap_lo"], adv["gap_hi"] = signed_limbs(lo), signed_limbs(hi)
    wit = dict(ln, normed=normed.astype(np.int32), out=out.astype(np.int32))
    run = _run(rn, adv, wit, honest_claim(out.astype(np.int32), 61), check_witness=False)
    return lambda: _check(rn, run=run)


@pytest.mark.parametrize("delta", [1, -1])
def test_wrong_rsqrt_with_fake_gaps(rn, delta):
    with pytest.raises(GadgetError) as e:
        _attack_rsqrt(rn, delta)()
    assert e.value.gadget == "range_check"


def test_wrong_sum_of_squares(rn):
    ln = dict(rn["ln"])
    ss = np.array(ln["sum_sq"])
    ss[3, 0] += 1  # v off by one in row 3: only the Σx² sumcheck can notice
    ln["sum_sq"] = ss
    _coms, _wits, t = commit_advice(rn["adv"], rn["gens"])
    _, prf, _ = rmsnorm.prove(i32(rn["x"]), i32(rn["g"]), ln, rn["claim"], t, params=rn["p"],
                              key=jax.random.PRNGKey(4), adv=rn["adv"])
    with pytest.raises(GadgetError) as e:
        _verify_gadget(rn, proof=prf)
    assert e.value.gadget == "rmsnorm"


@pytest.mark.parametrize("which", ["x", "weight", "normed", "rsqrt", "gap_lo"])
def test_tampered_witness(rn, which):
    x, g, ln, adv = np.array(rn["x"]), np.array(rn["g"]), dict(rn["ln"]), dict(rn["adv"])
    if which == "x":
        x[1, 7] += 1
    elif which == "weight":
        g[5] += 1
    elif which == "normed":
        ln["normed"] = np.array(ln["normed"])
        ln["normed"][0, 0] += 1
    else:
        adv[which] = np.array(adv[which])
        adv[which][4, 0] += 1
    run = _run(rn, adv, ln, rn["claim"], x=x, weight=g)
    with pytest.raises(GadgetError):
        _check(rn, run=run)


def test_bad_witness_is_named(rn):
    ln = dict(rn["ln"])
    ln["rsqrt"] = np.array(ln["rsqrt"])
    ln["rsqrt"][1] = -3
    with pytest.raises(ValueError, match=r"rsqrt\(1,\) is negative"):
        rmsnorm.advice(ln, rn["p"])
    gl = np.array(rn["ln"]["gap_lo"])
    gl[0, -1] = 1  # far above the gap bound
    with pytest.raises(ValueError, match="gap_lo"):
        rmsnorm.advice(dict(rn["ln"], gap_lo=gl), rn["p"])
