"""Matmul gadgets: zkFC (with real weight/input openings), q/k/v siblings, GQA attention."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from gadget_harness import (
    CFG,
    SC_LEAVES,
    T0,
    assert_holds,
    bump,
    bumped,
    fenc,
    honest_claim,
    i32,
    ints_of,
    leaf_cases,
    raw,
    rejects,
    same_state,
    tampered,
    tiny,
)

from zkllm_jax import claims, commit
from zkllm_jax.claims import GadgetError
from zkllm_jax.gadgets import matmul

RNG = np.random.default_rng(7)


# --- zkFC on the tiny model's q_proj, with the input and the weight committed ------------------


@pytest.fixture(scope="module")
def fc():
    params, _, wit = tiny()
    x = wit["layers"]["input_layernorm"]["out"][0]  # (T, D)
    w = params["model"]["layers"]["self_attn"]["q_proj"]["weight"][0]  # (H·hd, D)
    qp = wit["layers"]["self_attn"]["q_proj"]
    y = raw(qp["out"][0], qp["rem"][0])
    assert (y == ints_of(x) @ ints_of(w).T).all()  # the model's identity the gadget relies on
    claim = honest_claim(y, 21)
    gens = commit.setup(64, b"zkllm-test/matmul")
    coms, wits = {}, {}
    for i, (n, v) in enumerate((("x", x), ("w", w))):
        coms[n], wits[n] = commit.commit(i32(v), gens, jax.random.PRNGKey(60 + i))
    t = T0.absorb_points(b"commitments", coms["x"].rows).absorb_points(b"commitments",
                                                                          coms["w"].rows)
    cs, prf, tp = matmul.prove(i32(x), i32(w), claim, t)
    opening, tp = claims.prove_openings(cs, coms, wits, gens, tp, jax.random.PRNGKey(3))
    return {"x": x, "w": w, "claim": claim, "gens": gens, "coms": coms, "wits": wits, "t": t,
            "proof": (prf, opening), "tp": tp}


def _fc_check(fc, proof=None, claim=None):
    prf, opening = proof or fc["proof"]
    cs, t = matmul.verify(fc["x"].shape, fc["w"].shape, claim or fc["claim"], prf, fc["t"])
    return claims.verify_openings(cs, fc["coms"], fc["gens"], opening, t)


def _fc_prove(fc, x, w):
    cs, prf, t = matmul.prove(i32(x), i32(w), fc["claim"], fc["t"])
    opening, _ = claims.prove_openings(cs, fc["coms"], fc["wits"], fc["gens"], t,
                                       jax.random.PRNGKey(3))
    return prf, opening


def test_fc_honest(fc):
    assert same_state(_fc_check(fc), fc["tp"])


FC_LEAVES = ["[0]" + s for s in SC_LEAVES] + [f"[1]['default/c{c}']{leaf}" for c in (5, 6)
             for leaf in (".values", ".opening.left", ".opening.right", ".opening.a",
                                  ".opening.z1", ".opening.z2")]


def test_fc_leaves_are_all_tested(fc):
    assert {n for n, _ in leaf_cases(fc["proof"])} == set(FC_LEAVES)


@pytest.mark.parametrize("leaf", FC_LEAVES)
def test_fc_tampered_message(fc, leaf):
    for case in [c for c in leaf_cases(fc["proof"]) if c[0] == leaf]:
        rejects(lambda case=case: _fc_check(fc, proof=tampered(fc["proof"], case)))


def test_fc_tampered_claim(fc):
    rejects(lambda: _fc_check(fc, claim=bump(fc["claim"])))


@pytest.mark.parametrize("which,idx", [("x", (0, 0)), ("x", (7, 63)), ("w", (5, 9))])
def test_fc_tampered_witness(fc, which, idx):
    x, w = fc["x"], fc["w"]
    x, w = (bumped(x, idx), w) if which == "x" else (x, bumped(w, idx))
    rejects(lambda: _fc_check(fc, proof=_fc_prove(fc, x, w)))


def test_fc_prover_jits(fc):
    prf, _ = fc["proof"]
    _cs, pj, _ = jax.jit(matmul.prove)(i32(fc["x"]), i32(fc["w"]), fc["claim"], fc["t"])
    assert np.array_equal(np.asarray(pj.sumcheck.messages), np.asarray(prf.sumcheck.messages))


# --- attention: scores and context per head with GQA (4 query heads on 2 kv heads) ------------


def _attention(kind):
    _, _, wit = tiny()
    sa = wit["layers"]["self_attn"]
    g = CFG.num_attention_heads // CFG.num_key_value_heads
    if kind == "scores":
        a, b = sa["q_rope"]["out"][0], sa["k_rope"]["out"][0]  # (H, T, hd), (KVH, T, hd)
        y = np.einsum("htd,hsd->hts", ints_of(a), np.repeat(ints_of(b), g, 0))
        assert (y == raw(sa["scores"]["out"][0], sa["scores"]["rem"][0])).all()
        return a, b, y, matmul.prove_scores, matmul.verify_scores, ("q", "k")
    a = sa["softmax"]["probs"][0]  # (H, T, T)
    t_len = a.shape[1]
    b = sa["v_proj"]["out"][0].reshape(t_len, CFG.num_key_value_heads, -1).transpose(1, 0, 2)
    y = np.einsum("hts,hsd->htd", ints_of(a), np.repeat(ints_of(b), g, 0))
    assert (y == raw(sa["context"]["out"][0], sa["context"]["rem"][0])).all()
    return a, b, y, matmul.prove_context, matmul.verify_context, ("probs", "v")


@pytest.fixture(scope="module", params=["scores", "context"])
def attn(request):
    a, b, y, prove, verify, names = _attention(request.param)
    claim = honest_claim(y, 31)
    _cs, prf, tp = prove(i32(a), i32(b), claim, T0)
    return {"a": a, "b": b, "claim": claim, "proof": prf, "tp": tp, "prove": prove,
            "verify": verify, "names": names}


def _attn_check(at, proof=None, claim=None):
    cs, t = at["verify"](at["a"].shape, at["b"].shape, claim or at["claim"],
                         proof or at["proof"], T0)
    assert_holds(cs, dict(zip(at["names"], (at["a"], at["b"]))))
    return t


def test_attention_honest(attn):
    assert same_state(_attn_check(attn), attn["tp"])
    assert attn["proof"].heads.shape == (CFG.num_key_value_heads, 8)


@pytest.mark.parametrize("leaf", SC_LEAVES + [".heads"])
def test_attention_tampered_message(attn, leaf):
    assert {n for n, _ in leaf_cases(attn["proof"])} == set(SC_LEAVES + [".heads"])
    for case in [c for c in leaf_cases(attn["proof"]) if c[0] == leaf]:
        rejects(lambda case=case: _attn_check(attn, proof=tampered(attn["proof"], case)))


def test_attention_tampered_claim(attn):
    rejects(lambda: _attn_check(attn, claim=bump(attn["claim"])))


@pytest.mark.parametrize("which", ["a", "b"])
def test_attention_tampered_witness(attn, which):
    a, b = attn["a"], attn["b"]
    a, b = (bumped(a, (3, 7, 0)), b) if which == "a" else (a, bumped(b, (1, 0, 2)))
    _, prf, _ = attn["prove"](i32(a), i32(b), attn["claim"], T0)
    rejects(lambda: _attn_check(attn, proof=prf))


def test_wrong_head_grouping_is_rejected():
    """Query head h must use kv head h // G; a prover using h % KVH fails."""
    a, b, _y, prove, verify, _ = _attention("scores")
    kvh = b.shape[0]
    wrong = np.einsum("htd,hsd->hts", ints_of(a), ints_of(b)[np.arange(a.shape[0]) % kvh])
    claim = honest_claim(wrong, 32)
    _, prf, _ = prove(i32(a), i32(b), claim, T0)
    rejects(lambda: assert_holds(verify(a.shape, b.shape, claim, prf, T0)[0],
                                 {"q": a, "k": b}))


@pytest.mark.parametrize("g,kvh,t_len", [(3, 3, 3), (2, 1, 1)])
def test_other_group_sizes_and_one_key(g, kvh, t_len):
    """Non-power-of-two groups (SmolLM2 has 9 heads on 3); MQA with a single key (T = 1)."""
    p = RNG.integers(0, 1 << 16, (g * kvh, 2, t_len)).astype(np.int32)
    v = RNG.integers(-(1 << 16), 1 << 16, (kvh, t_len, 5)).astype(np.int32)
    y = np.einsum("hts,hsd->htd", ints_of(p), np.repeat(ints_of(v), g, 0))
    claim = honest_claim(y, 33)
    _cs, prf, tp = matmul.prove_context(i32(p), i32(v), claim, T0)
    cv, tv = matmul.verify_context(p.shape, v.shape, claim, prf, T0)
    assert same_state(tp, tv)
    assert_holds(cv, {"probs": p, "v": v})


# --- siblings: q/k/v share the input -----------------------------------------------------------


def _sibling_instance(same_rows: bool):
    """q/k/v of the tiny model's layer 0: input, weights and claims on the raw outputs."""
    params, _, wit = tiny()
    x = wit["layers"]["input_layernorm"]["out"][0]
    names = ("q_proj", "k_proj", "v_proj")
    ws = [params["model"]["layers"]["self_attn"][n]["weight"][0] for n in names]
    cs = []
    for s, (n, w) in enumerate(zip(names, ws)):
        wp = wit["layers"]["self_attn"][n]
        y = raw(wp["out"][0], wp["rem"][0])
        c = honest_claim(y, 40 + s)
        if same_rows and s:  # move the claim onto the rows of the first claim
            k_out = claims.num_vars((w.shape[0],))
            rows = cs[0].point[claims.num_vars((ws[0].shape[0],)):]
            point = jax.numpy.concatenate([c.point[:k_out], rows])
            c = claims.Claim(point=point, value=claims.evaluate(fenc(y), point))
        cs.append(c)
    return x, ws, cs


@pytest.fixture(scope="module", params=[False, True], ids=["rows-free", "same-rows"])
def sib(request):
    x, ws, cs = _sibling_instance(request.param)
    _, prf, tp = matmul.prove_siblings(i32(x), [i32(w) for w in ws], cs, T0,
                                       same_rows=request.param)
    return {"x": x, "ws": ws, "claims": cs, "proof": prf, "tp": tp, "same": request.param}


def _sib_check(sb, proof=None, cs=None):
    out, t = matmul.verify_siblings(sb["x"].shape, [w.shape for w in sb["ws"]],
                                    cs or sb["claims"], proof or sb["proof"], T0,
                                    same_rows=sb["same"])
    assert_holds(out, {"x": sb["x"], **{f"w{s}": w for s, w in enumerate(sb["ws"])}})
    return t


def test_siblings_honest(sib):
    assert same_state(_sib_check(sib), sib["tp"])


@pytest.mark.parametrize("leaf", SC_LEAVES + [".weights"])
def test_siblings_tampered_message(sib, leaf):
    for case in [c for c in leaf_cases(sib["proof"]) if c[0] == leaf]:
        rejects(lambda case=case: _sib_check(sib, proof=tampered(sib["proof"], case)))


@pytest.mark.parametrize("s", range(3))
def test_siblings_tampered_claim(sib, s):
    cs = list(sib["claims"])
    cs[s] = bump(cs[s])
    rejects(lambda: _sib_check(sib, cs=cs))


@pytest.mark.parametrize("which", ["x", "w1"])
def test_siblings_tampered_witness(sib, which):
    x, ws = sib["x"], list(sib["ws"])
    if which == "x":
        x = bumped(x, (2, 3))
    else:
        ws[1] = bumped(ws[1], (4, 4))
    _, prf, _ = matmul.prove_siblings(i32(x), [i32(w) for w in ws], sib["claims"], T0,
                                      same_rows=sib["same"])
    rejects(lambda: _sib_check(sib, proof=prf))


def test_same_rows_requires_shared_rows():
    x, ws, cs = _sibling_instance(False)
    _, prf, _ = matmul.prove_siblings(i32(x), [i32(w) for w in ws], cs, T0, same_rows=True)
    with pytest.raises(GadgetError, match="same rows"):
        matmul.verify_siblings(x.shape, [w.shape for w in ws], cs, prf, T0, same_rows=True)


def test_contraction_of_length_one():
    """K = 1 and no batch variables: a sumcheck of zero rounds (the values are checked)."""
    x = RNG.integers(-99, 99, (3, 1)).astype(np.int32)
    w = RNG.integers(-99, 99, (2, 1)).astype(np.int32)
    claim = honest_claim(ints_of(x) @ ints_of(w).T, 34)
    _cs, prf, tp = matmul.prove(i32(x), i32(w), claim, T0)
    assert prf.sumcheck.messages.shape[0] == 0
    cv, tv = matmul.verify(x.shape, w.shape, claim, prf, T0)
    assert same_state(tp, tv)
    assert_holds(cv, {"x": x, "w": w})
    for case in leaf_cases(prf):
        with pytest.raises(GadgetError, match="sumcheck"):
            matmul.verify(x.shape, w.shape, claim, tampered(prf, case), T0)
    rejects(lambda: matmul.verify(x.shape, w.shape, bump(claim), prf, T0))


def test_bad_shapes_are_named():
    x, w = i32(np.zeros((4, 6))), i32(np.zeros((5, 7)))
    c = honest_claim(np.zeros((4, 5), np.int32), 1)
    with pytest.raises(ValueError, match="contraction lengths differ"):
        matmul.prove(x, w, c, T0)
    with pytest.raises(ValueError, match="not a multiple"):
        matmul.prove_scores(i32(np.zeros((3, 2, 4))), i32(np.zeros((2, 2, 4))),
                            honest_claim(np.zeros((3, 2, 2), np.int32), 1), T0)
