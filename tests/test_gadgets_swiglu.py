"""SwiGLU on the tiny model's first MLP: the SiLU mapping lookup, the two rescales and the
Hadamard product; honest proofs end in true claims on gate and up; a wrong table output, a
wrong act_in, wrong gate/up and every tampered proof leaf are rejected."""

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

from zkllm_jax.claims import GadgetError
from zkllm_jax.gadgets import swiglu


def _run(st, adv, wit, claim, up=None, check_witness=True):
    coms, wits, t = commit_advice(adv, st["gens"])
    cs, prf, tp = swiglu.prove(i32(st["up"] if up is None else up), wit, claim, t,
                               params=st["p"], table=st["table"], key=jax.random.PRNGKey(4),
                               adv=adv, check_witness=check_witness)
    opening, tp = open_claims(cs, sorted(swiglu.committed(cs)), coms, wits, st["gens"], tp)
    return {"coms": coms, "t": t, "proof": prf, "opening": opening, "tp": tp, "claim": claim}


@pytest.fixture(scope="module")
def sw():
    _, tables, wit = tiny()
    mlp = wit["layers"]["mlp"]
    s = {k: v[0] for k, v in mlp["swiglu"].items()}
    gate, up = mlp["gate_proj"]["out"][0], mlp["up_proj"]["out"][0]
    p = swiglu.params(*gate.shape, scale_bits=FX.scale_bits, step_bits=FX.silu_step_bits,
                      table_bits=FX.silu_table_bits)
    adv = {n: np.asarray(v) for n, v in swiglu.advice(s, p).items()}
    st = {"gate": gate, "up": up, "sw": s, "p": p, "adv": adv, "silu": tables["silu"],
          "table": swiglu.table(tables["silu"]), "gens": gens_for(adv, b"zkllm-test/swiglu")}
    st.update(_run(st, adv, s, honest_claim(s["hidden"], 62)))
    st["stage1"] = _verify_gadget(st)
    return st


def _verify_gadget(st, proof=None, claim=None, run=None):
    run = run or st
    cs, t = swiglu.verify(claim or run["claim"], proof or run["proof"], run["t"],
                          params=st["p"], table=st["table"])
    assert_holds({"gate": cs["gate"], "up": cs["up"]}, {"gate": st["gate"], "up": st["up"]})
    return cs, t


def _check(st, proof=None, claim=None, run=None):
    run = run or st
    cs, t = _verify_gadget(st, proof, claim, run)
    return verify_open(cs, sorted(swiglu.committed(cs)), run["coms"], st["gens"],
                       run["opening"], t)


def test_witness_identities(sw):
    s, half = sw["sw"], 1 << (FX.silu_table_bits - 1)
    shift = FX.scale_bits - FX.silu_step_bits
    assert (ints_of(s["act_in"]) * (1 << shift) + ints_of(s["act_in_rem"])
            == ints_of(sw["gate"])).all()
    assert (s["act"] == sw["silu"][s["act_in"] + half]).all()


def test_honest(sw):
    assert same_state(_check(sw), sw["tp"])
    cs, _ = sw["stage1"]
    assert len(cs["act"]) == 2 and len(cs["gate"]) == 1 and len(cs["up"]) == 1
    assert_holds(swiglu.committed(cs), sw["adv"])
    assert set(swiglu.committed(cs)) == set(sw["adv"])


PARTS = ("hidden_rescale", "product", "act_in_value", "act_in_rescale", "silu", "ranges")


def test_tampered_every_kind_of_leaf(sw):
    sweep(sw["proof"], kind_cases(sw["proof"]), PARTS, lambda p: _check(sw, proof=p))


@pytest.mark.slow
def test_tampered_every_leaf(sw):
    sweep(sw["proof"], lean_cases(sw["proof"]), PARTS, lambda p: _check(sw, proof=p))


def test_tampered_opening(sw):
    cs, t = sw["stage1"]
    for case in leaf_cases(sw["opening"], both_ends=False):
        with pytest.raises(GadgetError):
            verify_open(cs, sorted(swiglu.committed(cs)), sw["coms"], sw["gens"],
                        tampered(sw["opening"], case), t)


def test_tampered_claim(sw):
    with pytest.raises(GadgetError):
        _check(sw, claim=bump(sw["claim"]))


def test_wrong_table_output(sw):
    """act off by one at one element (hidden recomputed to match): only the lookup objects."""
    s = dict(sw["sw"])
    act = np.array(s["act"])
    act[2, 9] += 1
    y = ints_of(act) * ints_of(sw["up"])
    hidden = (y + (1 << 15)) >> 16
    s.update(act=act, hidden=hidden.astype(np.int32),
             hidden_rem=(y - hidden * (1 << 16)).astype(np.int32))
    adv = {n: np.asarray(v) for n, v in swiglu.advice(s, sw["p"]).items()}
    run = _run(sw, adv, s, honest_claim(s["hidden"], 62), check_witness=False)
    with pytest.raises(GadgetError) as e:
        _check(sw, run=run)
    assert e.value.check.startswith("silu_lookup")


def test_wrong_act_in(sw):
    """act_in + 1 with act = the table at act_in + 1 and rem − 64: a consistent table row and the
    same gate, so only rem's range check objects."""
    s = dict(sw["sw"])
    half = 1 << (FX.silu_table_bits - 1)
    a_in, rem, act = (np.array(s[k]) for k in ("act_in", "act_in_rem", "act"))
    a_in[1, 3] += 1
    rem[1, 3] -= 64
    act[1, 3] = sw["silu"][a_in[1, 3] + half]
    y = ints_of(act) * ints_of(sw["up"])
    hidden = (y + (1 << 15)) >> 16
    s.update(act_in=a_in, act_in_rem=rem, act=act, hidden=hidden.astype(np.int32),
             hidden_rem=(y - hidden * (1 << 16)).astype(np.int32))
    adv = {n: np.asarray(v) for n, v in swiglu.advice(s, sw["p"]).items()}
    run = _run(sw, adv, s, honest_claim(s["hidden"], 62), check_witness=False)
    with pytest.raises(GadgetError) as e:
        _check(sw, run=run)
    assert e.value.gadget == "range_check"


@pytest.mark.parametrize("which", ["up", "gate", "hidden_rem"])
def test_tampered_witness(sw, which):
    s, up = dict(sw["sw"]), np.array(sw["up"])
    if which == "up":
        up[0, 1] += 1
        run = _run(sw, sw["adv"], s, sw["claim"], up=up)
        with pytest.raises(GadgetError):
            _check(sw, run=run)
        return
    if which == "gate":  # the proof is honest for another gate: the claim on gate is false
        gate = np.array(sw["gate"])
        gate[0, 0] += 64
        with pytest.raises(GadgetError):
            assert_holds({"gate": sw["stage1"][0]["gate"]}, {"gate": gate})
        return
    adv = dict(sw["adv"])
    adv["hidden/rem"] = np.array(adv["hidden/rem"])
    adv["hidden/rem"][5, 5] += 1
    run = _run(sw, adv, s, sw["claim"])
    with pytest.raises(GadgetError):
        _check(sw, run=run)


def test_out_of_table_is_named(sw):
    s = dict(sw["sw"])
    act = np.array(s["act"])
    act[0, 2] += 1
    with pytest.raises(ValueError, match=r"act_in, act\)\[\(0, 2\)\]"):
        swiglu.prove(i32(sw["up"]), dict(s, act=act), sw["claim"], sw["t"], params=sw["p"],
                     table=sw["table"], key=jax.random.PRNGKey(1))


def test_deferred_lookup_mode_must_match(sw):
    """With silu_lookup=False the proof carries no lookup (the caller batches it); a verifier
    in the other mode rejects either proof instead of skipping the lookup."""
    _, _, t = commit_advice(sw["adv"], sw["gens"])
    _, prf, _ = swiglu.prove(i32(sw["up"]), sw["sw"], sw["claim"], t, params=sw["p"],
                             table=sw["table"], key=jax.random.PRNGKey(4), adv=sw["adv"],
                             silu_lookup=False)
    assert prf.silu is None
    swiglu.verify(sw["claim"], prf, t, params=sw["p"], table=sw["table"], silu_lookup=False)
    with pytest.raises(GadgetError) as e:
        swiglu.verify(sw["claim"], prf, t, params=sw["p"], table=sw["table"])
    assert e.value.check == "shape"
    with pytest.raises(GadgetError):
        swiglu.verify(sw["claim"], sw["proof"], sw["t"], params=sw["p"], table=sw["table"],
                      silu_lookup=False)
