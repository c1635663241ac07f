"""zkAttn softmax on the tiny model's first layer (H = 4, T = Tk = 8) and on hand-made scores with
ties: honest proofs verify and end in true claims; a shift below the maximum, a runner-up posing
as the maximum, a non-one-hot indicator, probs off by one with a matching remainder, a wrong exp
table output, wrong scores, a wrong output claim and every tampered proof leaf are rejected."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from advice_harness import commit_advice, gens_for, open_claims, verify_open
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
from zkllm_jax.models import FixedPointConfig
from zkllm_jax.models.tables import exp_tables

from zkllm_jax import proof as proof_bytes
from zkllm_jax import sumcheck
from zkllm_jax.claims import GadgetError
from zkllm_jax.gadgets import softmax

F, RB, BITS, KR = FX.scale_bits, FX.softmax_round_bits, FX.softmax_digit_bits, FX.softmax_recip_bits
H, T = 4, 8
LOWER = np.tril(np.ones((T, T), bool))  # attended: key j ≤ query t


def reference(s, exp_tables, shift=None, half_up=False, bits=BITS) -> dict:
    """The model's softmax witness from scores (numpy int64), optionally with a forced shift;
    half_up rounds x to nearest (round_rem may be negative) instead of down as the model does."""
    s = np.asarray(s, np.int64)
    if shift is None:
        shift = np.where(LOWER, s, -(1 << 62)).max(-1)
    x = np.where(LOWER, shift[..., None] - s, 0)
    u = (x + (1 << (RB - 1)) * half_up) >> RB
    rr = x - (u << RB)
    digits, outs = [], []
    for tab, b in zip(exp_tables, bits):
        d = u & ((1 << b) - 1)
        u = u >> b
        digits.append(d)
        outs.append(np.asarray(tab, np.int64)[d])
    wit = {"shift": shift, "x": x, "round_rem": rr, "digits": np.stack(digits),
           **_from_table_outputs(np.stack(outs))}
    return {k: v.astype(np.int32) for k, v in wit.items()}


def _from_table_outputs(outs) -> dict:
    """The witness downstream of the exp tables' outputs (int64 (K, H, T, T)): the product
    chain (empty with one digit), exp, the row sums, their reciprocals and the rounded
    normalisation."""
    e, prods, rems = outs[0], [], []
    for o in outs[1:]:
        y = e * o
        e = (y + (1 << (F - 1))) >> F
        prods.append(e)
        rems.append(y - (e << F))
    exp = np.where(LOWER, e, 0)
    z = exp.sum(-1)
    inv = (1 << (F + KR)) // z
    y = exp * inv[..., None]
    p = (y + (1 << (KR - 1))) >> KR
    none = np.zeros((0, *outs.shape[1:]), np.int64)  # one digit: no products
    return {"table_out": outs, "prod_out": np.stack(prods) if prods else none,
            "prod_rem": np.stack(rems) if rems else none, "exp": exp, "row_sum": z,
            "recip": inv, "recip_rem": (1 << (F + KR)) - inv * z, "probs": p,
            "div_rem": y - (p << KR)}


def _adv(st, wit):
    return {n: np.asarray(v) for n, v in softmax.advice(wit, st["p"]).items()}


def _run(st, adv, claim, scores=None, check_witness=True, range_check=True, opening=True):
    """Commit `adv`, prove (and open the advice claims); what the verifier side needs."""
    coms, wits, t = commit_advice(adv, st["gens"])
    cs, prf, tp = softmax.prove(i32(st["s"] if scores is None else scores), {}, claim, t,
                                params=st["p"], tables=st["tables"], key=jax.random.PRNGKey(4),
                                adv=adv, range_check=range_check, check_witness=check_witness)
    out = {"coms": coms, "t": t, "proof": prf, "tp": tp, "t_prove": tp, "claim": claim,
           "range_check": range_check}
    if opening:
        out["opening"], out["tp"] = open_claims(cs, sorted(softmax.committed(cs)), coms, wits,
                                                st["gens"], tp)
    return out


def _verify_gadget(st, proof=None, claim=None, run=None):
    run = run or st
    cs, t = softmax.verify(claim or run["claim"], proof or run["proof"], run["t"],
                           params=st["p"], tables=st["tables"], range_check=run["range_check"])
    assert len(cs["scores"]) == 1
    assert_holds({"scores": cs["scores"]}, {"scores": st["s"]})
    return cs, t


def _check(st, proof=None, claim=None, run=None):
    run = run or st
    cs, t = _verify_gadget(st, proof, claim, run)
    return verify_open(cs, sorted(softmax.committed(cs)), run["coms"], st["gens"],
                       run["opening"], t)


def _setup(s, wit, tables, seed, bits=BITS):
    p = softmax.params(H, T, T, scale_bits=F, round_bits=RB, digit_bits=bits)
    st = {"s": np.asarray(s), "wit": wit, "p": p, "exp": tables["exp"],
          "tables": softmax.tables(tables["exp"])}
    st["adv"] = _adv(st, wit)
    st["gens"] = gens_for(st["adv"], b"zkllm-test/softmax")
    st.update(_run(st, st["adv"], honest_claim(wit["probs"], seed)))
    st["stage1"] = _verify_gadget(st)
    return st


@pytest.fixture(scope="module")
def sm():
    _, tables, wit = tiny()
    attn = wit["layers"]["self_attn"]
    return _setup(attn["scores"]["out"][0], {k: v[0] for k, v in attn["softmax"].items()},
                  tables, 63)


def _tie_scores():
    """Random scores with planted row maxima: a tie at (0, 3) (keys 0 and 2), a runner-up 5
    below the maximum at (1, 5) (keys 4 and 2), a three-way tie at (2, 7)."""
    rng = np.random.default_rng(7)
    s = rng.integers(-(1 << 20), 1 << 20, size=(H, T, T)).astype(np.int64)
    top = 1 << 21
    s[0, 3, 0] = s[0, 3, 2] = top
    s[1, 5, 4], s[1, 5, 2] = top, top - 5
    s[2, 7, [1, 4, 6]] = top
    s[3, 0, 0] = top  # the only attended key of row 0
    return s.astype(np.int32)


@pytest.fixture(scope="module")
def ties(sm):
    s = _tie_scores()
    return _setup(s, reference(s, sm["exp"]), {"exp": sm["exp"]}, 64)


def test_reference_matches_model(sm):
    """The test's reference softmax reproduces the model's witness (so the attacks below are
    built with the model's arithmetic)."""
    ref = reference(sm["s"], sm["exp"])
    for k, v in ref.items():
        np.testing.assert_array_equal(v, sm["wit"][k], err_msg=k)


def test_witness_identities(sm):
    """The advice encodes the reciprocal, the normalisation and the argmax as the docstring
    says."""
    w, adv = sm["wit"], sm["adv"]
    xv, pos = ints_of(adv["round_rem"]), RB
    assert (xv >= 0).all() and (xv < 1 << RB).all()
    for k, b in enumerate(BITS):
        xv = xv + (ints_of(adv[f"digits/{k}"]) << pos)
        pos += b
    assert (xv == ints_of(w["x"])).all() and (xv >= 0).all()
    def joined(name):
        return ints_of(adv[name + "_lo"]) + (ints_of(adv[name + "_hi"]) << 16)

    z = ints_of(adv["row_sum"])
    assert (z == ints_of(w["exp"]).sum(-1)).all()
    inv = ints_of(adv["recip/lo"]) + (ints_of(adv["recip/hi"]) << 16)
    irem, gap = joined("recip/rem"), joined("recip/gap")
    assert (inv * z + irem == 1 << (F + KR)).all() and (irem >= 0).all() and (gap >= 0).all()
    assert (irem + gap == z - 1).all()
    rho = joined("div/rem")
    assert (rho >= 0).all() and (rho < 1 << KR).all()
    probs = ints_of(w["probs"])
    assert ((probs << KR) + rho == ints_of(w["exp"]) * inv[..., None] + (1 << (KR - 1))).all()
    exact = (ints_of(w["exp"]) << F) / z[..., None]
    assert np.abs(probs - exact).max() <= 1  # within an ulp of the exact quotient
    ind = adv["argmax"]
    assert (ind.sum(-1) == 1).all() and (ind * ~LOWER == 0).all()
    np.testing.assert_array_equal((ind * sm["s"]).sum(-1), w["shift"])


def test_honest(sm):
    assert same_state(_check(sm), sm["tp"])
    cs, _ = sm["stage1"]
    assert_holds(softmax.committed(cs), sm["adv"])
    assert set(softmax.committed(cs)) == set(sm["adv"])
    assert set(softmax.shapes(sm["p"])) == set(sm["adv"])
    for n, shp in softmax.shapes(sm["p"]).items():
        assert sm["adv"][n].shape == shp, n
    # under 150 kB plain; each sumcheck's mask (zero knowledge, T0) adds 0.4–0.6 kB here
    assert len(proof_bytes.tree_to_bytes(sm["proof"])) < 260_000


def test_honest_with_ties(ties):
    """Tied maxima (the first one is the argmax) and a single-key row verify."""
    ind = ties["adv"]["argmax"]
    assert ind[0, 3, 0] == 1 and ind[0, 3, 2] == 0 and ind[2, 7, 1] == 1
    assert same_state(_check(ties), ties["tp"])
    assert_holds(softmax.committed(ties["stage1"][0]), ties["adv"])


def test_range_check_by_caller(sm):
    """range_check=False: no range proofs, the same claims minus the lookups' range claims."""
    run = _run(sm, sm["adv"], sm["claim"], range_check=False, opening=False)
    assert run["proof"].ranges == {}
    cs, _ = _verify_gadget(sm, run=run)
    assert_holds(softmax.committed(cs), sm["adv"])
    for n in softmax.ranges(sm["p"]):
        assert len(cs[n]) == len(sm["stage1"][0][n]) - 1, n
    with pytest.raises(GadgetError):
        softmax.verify(sm["claim"], run["proof"], run["t"], params=sm["p"], tables=sm["tables"])
    with pytest.raises(GadgetError):
        softmax.verify(sm["claim"], sm["proof"], sm["t"], params=sm["p"], tables=sm["tables"],
                       range_check=False)


def _lean(proof):
    """Every leaf of the sumchecks and values (both ends), every leaf of the first exp lookup,
    one leaf of the other exp lookups and of one range lookup (exp and range lookups are the same
    proof type, so the first one stands for the message kinds; the slow test tampers them all)."""
    cases = [c for c in leaf_cases(proof) if not c[0].startswith((".exp", ".ranges"))]
    cases += [c for c in leaf_cases(proof, both_ends=False) if c[0].startswith(".exp[0]")]
    cases += [(f".exp[{k}].layer_messages", -1) for k in range(1, len(proof.exp))]
    return cases + [(f".ranges['{min(proof.ranges)}'].layer_messages", -1)]


def test_tampered_every_leaf(sm):
    names = {n for n, _ in leaf_cases(sm["proof"])}
    last = f"exp[{len(BITS) - 1}]"
    for part in ("products", "identities", "values", "rows", "division", "division_values",
                 "exp[0]", last, "ranges"):
        assert any(n.startswith("." + part) for n in names), part
    for case in _lean(sm["proof"]):
        with pytest.raises(GadgetError):
            _check(sm, proof=tampered(sm["proof"], case))


@pytest.mark.slow
def test_tampered_every_leaf_exhaustive(sm):
    for case in leaf_cases(sm["proof"]):
        with pytest.raises(GadgetError):
            _check(sm, proof=tampered(sm["proof"], case))


def test_tampered_opening(sm):
    cs, t = sm["stage1"]
    for case in leaf_cases(sm["opening"], both_ends=False):
        with pytest.raises(GadgetError):
            verify_open(cs, sorted(softmax.committed(cs)), sm["coms"], sm["gens"],
                        tampered(sm["opening"], case), t)


def test_tampered_claim(sm):
    """A wrong value on probs: the honest proof no longer verifies for it, and a proof made for
    it passes the gadget (probs is committed advice) but not the opening."""
    with pytest.raises(GadgetError):
        _check(sm, claim=bump(sm["claim"]))
    run = _run(sm, sm["adv"], bump(sm["claim"]))
    _verify_gadget(sm, run=run)
    with pytest.raises(GadgetError) as e:
        _check(sm, run=run)
    assert e.value.gadget == "openings"


def _dishonest(st, wit, adv=None, claim_seed=65, scores=None):
    adv = _adv(st, wit) if adv is None else adv
    run = _run(st, adv, honest_claim(wit["probs"], claim_seed), scores=scores,
               check_witness=False, opening=False)
    with pytest.raises(GadgetError) as e:
        _verify_gadget(st, run=run)
    return e.value


def test_shift_below_max(sm):
    """shift = max − 1 with x, digits, products and probs recomputed: x is −1 at the argmax.
    Rounded to nearest (u = 0, round_rem = −1, out of its range) the identities hold and the
    argmax row sum Σ_j ind·x ≠ 0; rounded down (u = −1, digits wrapped to their tables' last
    entries) the digits no longer sum to x and the identities fail."""
    s = sm["s"]
    shift = np.where(LOWER, s.astype(np.int64), -(1 << 62)).max(-1) - 1
    for half_up, check in ((True, "rows"), (False, "identities")):
        with np.errstate(divide="ignore", invalid="ignore"):  # wrapped digits: rows sum to 0
            wit = reference(s, sm["exp"], shift, half_up=half_up)
        adv = _adv(sm, wit)
        adv["argmax"] = sm["adv"]["argmax"]  # the true argmax (x has no zero left in any row)
        assert _dishonest(sm, wit, adv).check == check


def test_runner_up_as_max(ties):
    """Row (1, 5): key 2 is 5 below the maximum (key 4). A prover that points the argmax at key 2
    and uses its score as shift gets a fully consistent witness if x(4) = −5 is rounded to
    u = 0, round_rem = −5, except that round_rem is negative: only its range check objects
    (rounded down, u = −1 has no digits in range and the identities fail instead)."""
    s = ties["s"]
    shift = np.where(LOWER, s.astype(np.int64), -(1 << 62)).max(-1)
    shift[1, 5] -= 5
    wit = reference(s, ties["exp"], shift, half_up=True)
    adv = _adv(ties, wit)
    assert adv["argmax"][1, 5, 2] == 1 and adv["round_rem"][1, 5, 4] == -5
    assert (adv["digits/0"][1, 5, 4], adv["digits/1"][1, 5, 4]) == (0, 0)
    err = _dishonest(ties, wit, adv)
    assert err.gadget == "range_check"
    wit = reference(s, ties["exp"], shift)
    adv = _adv(ties, wit)
    assert adv["round_rem"][1, 5, 4] == (1 << RB) - 5 and adv["digits/0"][1, 5, 4] == (1 << BITS[0]) - 1
    assert _dishonest(ties, wit, adv).check == "identities"


def test_shift_pieces_out_of_range(sm):
    """The same shift with its pieces moved (lo + 2^16, hi − 1): every identity holds, the
    range check of lo rejects (shift must be an int32: it bounds every attended score)."""
    adv = dict(sm["adv"])
    lo, hi = np.array(adv["shift/lo"]), np.array(adv["shift/hi"])
    lo[2, 3] += 1 << 16
    hi[2, 3] -= 1
    adv.update({"shift/lo": lo, "shift/hi": hi})
    assert _dishonest(sm, sm["wit"], adv).gadget == "range_check"


def test_not_one_hot(ties):
    """On the tie at (0, 3): ind = 2 and −1 on the two maxima keeps Σ_j ind = 1 and Σ_j ind·x = 0
    but breaks ind ∈ {0, 1}; ind = 1 on both breaks the row sum; ind on a masked key breaks
    ind·M = 0."""
    for val, check in (((2, -1), "identities"), ((1, 1), "rows")):
        adv = dict(ties["adv"])
        adv["argmax"] = np.array(adv["argmax"])
        adv["argmax"][0, 3, [0, 2]] = val
        assert _dishonest(ties, ties["wit"], adv).check == check
    adv = dict(ties["adv"])
    adv["argmax"] = np.array(adv["argmax"])
    adv["argmax"][3, 0] = 0
    adv["argmax"][3, 0, 5] = 1  # masked key, where x = 0 too
    assert _dishonest(ties, ties["wit"], adv).check == "identities"


@pytest.mark.parametrize("delta", [1, -1])
def test_probs_off_by_one(sm, delta):
    """probs ± 1 at one element with div_rem ∓ 2^K: the normalisation identity still holds,
    but the remainder leaves [0, 2^K) (its high piece is out of range)."""
    wit = dict(sm["wit"])
    probs, rem = np.array(wit["probs"]), np.array(wit["div_rem"])
    probs[2, 6, 3] += delta
    rem[2, 6, 3] -= delta << KR
    wit.update(probs=probs, div_rem=rem)
    err = _dishonest(sm, wit)
    assert err.gadget == "range_check"


@pytest.mark.parametrize("delta", [1, -1])
def test_reciprocal_off_by_one(sm, delta):
    """inv ± 1 on one row with its remainder ∓ z and that row's probs recomputed: the row
    identity holds but the remainder (delta = 1) or its gap (delta = −1) is negative; inv ± 1
    with the remainder kept breaks the division zero-check."""
    wit = dict(sm["wit"])
    inv, irem = np.array(wit["recip"]).astype(np.int64), np.array(wit["recip_rem"])
    inv[1, 5] += delta
    irem[1, 5] -= delta * wit["row_sum"][1, 5]
    y = np.asarray(wit["exp"]).astype(np.int64) * inv[..., None]
    probs = (y + (1 << (KR - 1))) >> KR
    base = dict(wit, recip=inv, probs=probs, div_rem=y - (probs << KR))
    base = {n: np.asarray(v, np.int32) for n, v in base.items()}
    assert _dishonest(sm, dict(base, recip_rem=irem.astype(np.int32))).gadget == "range_check"
    assert _dishonest(sm, base).check == "division"


def test_wrong_row_sum(sm):
    """z + 1 on one row with its reciprocal and probs recomputed from it: every identity but
    the row sums holds."""
    wit = dict(sm["wit"])
    z = np.array(wit["row_sum"]).astype(np.int64)
    z[3, 7] += 1
    inv = (1 << (F + KR)) // z
    y = np.asarray(wit["exp"]).astype(np.int64) * inv[..., None]
    probs = (y + (1 << (KR - 1))) >> KR
    bad = dict(wit, row_sum=z, recip=inv, recip_rem=(1 << (F + KR)) - inv * z, probs=probs,
               div_rem=y - (probs << KR))
    assert _dishonest(sm, {n: np.asarray(v, np.int32) for n, v in bad.items()}).check == "rows"


@pytest.mark.parametrize("k", [0, 1])
def test_wrong_table_output(sm, k):
    """table_out/k + 1 at one element with the products, exp and probs recomputed: only the exp
    lookup objects."""
    wit = dict(sm["wit"])
    outs = np.array(wit["table_out"]).astype(np.int64)
    outs[k, 1, 6, 2] += 1
    wit.update(_from_table_outputs(outs))
    wit = {n: np.asarray(v, np.int32) for n, v in wit.items()}
    assert _dishonest(sm, wit).check.startswith(f"exp_lookup{k}:")


def test_wrong_scores(sm):
    """The honest advice proven against scores with one attended element changed."""
    s = np.array(sm["s"])
    s[0, 4, 1] += 1
    err = _dishonest(sm, sm["wit"], sm["adv"], claim_seed=63, scores=s)
    assert err.check == "identities"


def test_bad_inputs_are_named(sm):
    wit = dict(sm["wit"])
    outs = np.array(wit["table_out"])
    k = len(BITS) - 1  # the last digit's table
    outs[k, 0, 1, 1] += 1
    adv = _adv(sm, dict(wit, table_out=outs))
    with pytest.raises(ValueError, match=rf"digits/{k}, table_out/{k}\)\[\(0, 1, 1\)\]"):
        softmax.prove(i32(sm["s"]), {}, sm["claim"], sm["t"], params=sm["p"],
                      tables=sm["tables"], key=jax.random.PRNGKey(1), adv=adv)
    with pytest.raises(ValueError, match="advice"):
        softmax.prove(i32(sm["s"]), {}, sm["claim"], sm["t"], params=sm["p"],
                      tables=sm["tables"], key=jax.random.PRNGKey(1),
                      adv={k: v for k, v in sm["adv"].items() if k != "argmax"})
    with pytest.raises(ValueError, match="exp table"):
        softmax.prove(i32(sm["s"]), {}, sm["claim"], sm["t"], params=sm["p"],
                      tables=sm["tables"][:-1], key=jax.random.PRNGKey(1), adv=sm["adv"])
    with pytest.raises(GadgetError):
        softmax.verify(sm["claim"], sm["proof"], sm["t"], params=sm["p"],
                       tables=sm["tables"][::-1])


@pytest.mark.parametrize("kw", [
    {"heads": 1, "rows": 1, "keys": 1},
    {"scale_bits": 17},
    {"digit_bits": (23,)},
    {"digit_bits": (0,)},
    {"digit_bits": (17, 8)},
    {"digit_bits": (8, 8, 8, 8)},
    {"round_bits": 8, "digit_bits": (16, 16)},
    {"keys": 1 << 16},
    {"recip_bits": 16},
    {"recip_bits": 31},
])
def test_params_rejected(kw):
    args = {"heads": H, "rows": T, "keys": T, "scale_bits": F, "round_bits": RB,
            "digit_bits": BITS} | kw
    with pytest.raises(ValueError):
        softmax.params(args.pop("heads"), args.pop("rows"), args.pop("keys"), **args)


def test_one_digit(sm):
    """One exp digit (one table of 2^14 entries here, 2^22 in a model): no product chain, one
    exp lookup, four tensors fewer; the proof verifies and opens. A wrong table output (exp and
    probs recomputed) fails the lookup; the model's two-digit proof is refused under one-digit
    parameters (shape)."""
    bits = (14,)  # x < 2^21 + 2^20 < 2^(RB + 14) on the tie scores
    fx1 = FixedPointConfig(softmax_digit_bits=bits, max_score_bits=21)
    exp1 = exp_tables(CFG, fx1)
    s = _tie_scores()
    st = _setup(s, reference(s, exp1, bits=bits), {"exp": exp1}, 67, bits=bits)
    assert st["proof"].products is None and len(st["proof"].exp) == 1
    assert len(st["adv"]) == len(sm["adv"]) - 4
    _check(st)
    wit = dict(st["wit"])
    outs = np.array(wit["table_out"]).astype(np.int64)
    outs[0, 1, 6, 2] += 1
    wit.update(_from_table_outputs(outs))
    wit = {n: np.asarray(v, np.int32) for n, v in wit.items()}
    assert _dishonest(st, wit).check.startswith("exp_lookup0:")
    with pytest.raises(GadgetError) as e:
        softmax.verify(sm["claim"], sm["proof"], sm["t"], params=st["p"], tables=st["tables"])
    assert e.value.check == "shape"


@pytest.mark.slow
def test_prover_jits(sm):
    """The prover under jit gives the same proof and transcript."""
    fn = jax.jit(lambda s, adv, c, t, key: softmax.prove(
        s, {}, c, t, params=sm["p"], tables=sm["tables"], key=key, adv=adv,
        check_witness=False))
    _, pj, tj = fn(i32(sm["s"]), {k: i32(v) for k, v in sm["adv"].items()}, sm["claim"],
                   sm["t"], jax.random.PRNGKey(4))
    for a, b in zip(jax.tree_util.tree_leaves(pj), jax.tree_util.tree_leaves(sm["proof"])):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert same_state(tj, sm["t_prove"])


@pytest.mark.parametrize("heads", [3])
def test_chunked_heads_give_the_same_proof(sm, monkeypatch, heads):
    """The sumchecks' tables built one head at a time (as at 32 heads x 2048^2, where the
    stack does not fit) give the same proof and transcript as one chunk; 3 heads have a zero
    padding head in the last chunk. The proof verifies."""
    s = np.asarray(sm["s"])[:heads]
    wit = reference(s, sm["exp"])
    p = softmax.params(heads, T, T, scale_bits=F, round_bits=RB, digit_bits=BITS)
    adv = {k: i32(v) for k, v in softmax.advice(wit, p).items()}
    claim = honest_claim(wit["probs"], 66)

    def prove():
        return softmax.prove(i32(s), {}, claim, sm["t"], params=p, tables=sm["tables"],
                             key=jax.random.PRNGKey(4), adv=adv, range_check=False)

    assert softmax._chunking(p).chunks == 1
    _, prf1, t1 = prove()
    monkeypatch.setattr(sumcheck, "CHUNK_LOG", 0)
    assert softmax._chunking(p).chunks == 4
    cs4, prf4, t4 = prove()
    assert proof_bytes.tree_to_bytes(prf4) == proof_bytes.tree_to_bytes(prf1)
    assert same_state(t4, t1)
    _, tv = softmax.verify(claim, prf4, sm["t"], params=p, tables=sm["tables"],
                           range_check=False)
    assert same_state(tv, t4)
    assert_holds(softmax.committed(cs4), adv)
