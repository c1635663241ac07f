"""Rescale: claims on the rescaled tensor and the committed pieces give the raw tensor's claim;
the pieces are range-checked and opened; the uniqueness attacks are rejected."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from gadget_harness import (
    MASK_FIELDS,
    SUMCHECK_FIELDS,
    T0,
    assert_holds,
    bump,
    honest_claim,
    i32,
    leaf_cases,
    raw,
    rejects,
    same_state,
    tampered,
    tiny,
)

from zkllm_jax import claims, commit
from zkllm_jax.claims import GadgetError
from zkllm_jax.gadgets import rangecheck, rescale

BITS = 16


def _commit_pieces(pieces, gens):
    coms, wits = {}, {}
    for i, n in enumerate(sorted(pieces)):
        coms[n], wits[n] = commit.commit(i32(pieces[n]), gens, jax.random.PRNGKey(70 + i))
    t = T0
    for n in sorted(coms):
        t = t.absorb_points(b"commitments", coms[n].rows)
    return coms, wits, t


def _prove(out, rem, claim, t, pieces=None, check_witness=True):
    pieces = pieces or rescale.advice(i32(out), i32(rem), BITS)
    return rescale.prove_advice({n: i32(v) for n, v in pieces.items()}, claim, t, bits=BITS,
                                key=jax.random.PRNGKey(4), check_witness=check_witness)


@pytest.fixture(scope="module")
def rs():
    _, _, wit = tiny()
    qp = wit["layers"]["self_attn"]["q_proj"]
    out, rem = qp["out"][0], qp["rem"][0]
    claim = honest_claim(out, 51)
    pieces = {n: np.asarray(v) for n, v in rescale.advice(i32(out), i32(rem), BITS).items()}
    gens = commit.setup(32, b"zkllm-test/rescale")
    coms, wits, t = _commit_pieces(pieces, gens)
    cs, prf, tp = _prove(out, rem, claim, t)
    piece_claims = {n: cs[n] for n in pieces}
    opening, tp = claims.prove_openings(piece_claims, coms, wits, gens, tp,
                                        jax.random.PRNGKey(5))
    st = {"out": out, "rem": rem, "raw": raw(out, rem), "claim": claim, "pieces": pieces,
          "gens": gens, "coms": coms, "wits": wits, "t": t, "proof": prf, "opening": opening,
          "tp": tp}
    st["stage1"] = _verify_gadget(st)
    return st


def _verify_gadget(st, proof=None, claim=None):
    cs, t = rescale.verify(st["out"].shape, claim or st["claim"], proof or st["proof"], st["t"],
                           bits=BITS)
    assert_holds({"raw": cs["raw"]}, {"raw": st["raw"]})  # what the matmul would reduce
    return cs, t


def _verify_openings(st, stage1, opening=None):
    cs, t = stage1
    return claims.verify_openings({n: cs[n] for n in st["pieces"]}, st["coms"], st["gens"],
                                  opening or st["opening"], t)


def _check(st, proof=None, claim=None, opening=None):
    return _verify_openings(st, _verify_gadget(st, proof, claim), opening)


def test_honest(rs):
    assert same_state(_verify_openings(rs, rs["stage1"]), rs["tp"])
    cs, _ = rs["stage1"]
    assert sorted(cs) == ["out_hi", "out_lo", "raw", "rem"]
    assert all(len(cs[n]) == 2 for n in rs["pieces"])  # at the claim's point and the lookup's
    assert_holds({n: cs[n] for n in rs["pieces"]}, rs["pieces"])


LOOKUP_FIELDS = [".multiplicity_commitment", ".layer1", ".layer_messages", ".layer_finals",
                 ".column_values", ".multiplicity_value", ".opening_left", ".opening_right",
                 ".opening_a", ".opening_z1", ".opening_z2"]
RANGES = ["[-32768,32768)", "[0,65536)"]
OPEN_FIELDS = [".values"] + [".combine" + f for f in SUMCHECK_FIELDS] + [
    ".opening.left", ".opening.right", ".opening.a", ".opening.z1", ".opening.z2"]
# each LogUp layer sumcheck's mask (zero knowledge): tamper the first layer's fully
LAYER_MASK = [".layer_masks[0]" + f[len(".mask"):] for f in MASK_FIELDS]


def test_leaves_are_all_tested(rs):
    names = {n for n, _ in leaf_cases(rs["proof"])}
    masks = {n for n in names if ".layer_masks[" in n}
    assert names - masks == {".values"} | {f".ranges['{r}']{f}" for r in RANGES
                                           for f in LOOKUP_FIELDS}
    assert {f".ranges['{RANGES[0]}']{f}" for f in LAYER_MASK} <= masks
    assert {n for n, _ in leaf_cases(rs["opening"])} == {f"['default/c5']{f}"
                                                         for f in OPEN_FIELDS}


# the second range's lookup has the same message kinds as the first: tamper the first one fully
@pytest.mark.parametrize("leaf", [".values"] + [f".ranges['{RANGES[0]}']{f}"
                                                 for f in LOOKUP_FIELDS + LAYER_MASK])
def test_tampered_message(rs, leaf):
    cases = [c for c in leaf_cases(rs["proof"]) if c[0] == leaf]
    if leaf != ".values":
        cases = cases[:1]
    for case in cases:
        rejects(lambda case=case: _check(rs, proof=tampered(rs["proof"], case)))


def test_tampered_message_in_the_second_range(rs):
    case = (f".ranges['{RANGES[1]}'].layer_messages", -1)
    rejects(lambda: _check(rs, proof=tampered(rs["proof"], case)))


@pytest.mark.parametrize("leaf", OPEN_FIELDS)
def test_tampered_opening(rs, leaf):
    full = f"['default/c5']{leaf}"
    for case in [c for c in leaf_cases(rs["opening"]) if c[0] == full]:
        rejects(lambda case=case: _verify_openings(rs, rs["stage1"],
                                                   tampered(rs["opening"], case)))


def test_tampered_claim(rs):
    rejects(lambda: _check(rs, claim=bump(rs["claim"])))


@pytest.mark.parametrize("which", ["out", "rem"])
def test_tampered_witness(rs, which):
    out, rem = np.array(rs["out"]), np.array(rs["rem"])
    (out if which == "out" else rem)[3, 5] += 1
    _, prf, _ = _prove(out, rem, rs["claim"], rs["t"])
    rejects(lambda: _verify_gadget(rs, proof=prf))


def _attack(rs, pieces, claim=None):
    """A prover committing `pieces` (consistent with the raw tensor) and proving honestly;
    `claim` is the claim on its own `out` (which the downstream steps would have used)."""
    claim = claim or rs["claim"]
    coms, wits, t = _commit_pieces(pieces, rs["gens"])
    cs, prf, tp = _prove(None, None, claim, t, pieces, check_witness=False)
    opening, _ = claims.prove_openings({n: cs[n] for n in pieces}, coms, wits, rs["gens"], tp,
                                       jax.random.PRNGKey(5))
    st = dict(rs, coms=coms, wits=wits, t=t)
    return lambda: _check(st, proof=prf, claim=claim, opening=opening)


def test_shifted_remainder_is_caught_by_the_range_check(rs):
    """(out + 1, rem − 2^16) gives the same raw value; only rem's range excludes it."""
    out, rem = np.array(rs["out"]), np.array(rs["rem"])
    out[0, 0] += 1
    rem[0, 0] -= 1 << BITS
    assert (raw(out, rem) == rs["raw"]).all()
    pieces = {n: np.asarray(v) for n, v in rescale.advice(i32(out), i32(rem), BITS).items()}
    with pytest.raises(GadgetError) as e:
        _attack(rs, pieces, honest_claim(out, 51))()
    assert e.value.gadget == "range_check"


def test_out_of_range_low_piece_is_caught(rs):
    """out = out_lo + 2^16·out_hi with out_lo pushed past 2^16: same out, piece out of range."""
    pieces = {n: np.array(v) for n, v in rs["pieces"].items()}
    pieces["out_lo"][2, 2] += 1 << 16
    pieces["out_hi"][2, 2] -= 1
    with pytest.raises(GadgetError) as e:
        _attack(rs, pieces)()
    assert e.value.gadget == "range_check"


def test_out_of_range_witness_is_named(rs):
    out, rem = np.array(rs["out"]), np.array(rs["rem"])
    rem[1, 1] = 1 << 15
    with pytest.raises(ValueError, match=r"rem\[\(1, 1\)\] = 32768 is outside"):
        _prove(out, rem, rs["claim"], rs["t"])


@pytest.mark.parametrize("bits,bound_out", [(22, False), (6, True)])
def test_other_shifts(bits, bound_out):
    """A wide remainder (RMSNorm's 2^22: split in pieces) without bounding out; a narrow one."""
    rng = np.random.default_rng(bits)
    y = rng.integers(-(1 << (bits + 20)), 1 << (bits + 20), (4, 6)).astype(object)
    out = ((y + (1 << (bits - 1))) >> bits).astype(np.int32)
    rem = (y - (out.astype(object) << bits)).astype(np.int32)
    claim = honest_claim(out, 52)
    _cs, prf, tp = rescale.prove(i32(out), i32(rem), claim, T0, bits=bits,
                                key=jax.random.PRNGKey(6), bound_out=bound_out)
    cv, tv = rescale.verify(out.shape, claim, prf, T0, bits=bits, bound_out=bound_out)
    assert same_state(tp, tv)
    pieces = {n: np.asarray(v) for n, v in rescale.advice(i32(out), i32(rem), bits,
                                                          bound_out).items()}
    assert sorted(pieces) == sorted(rescale.layout(bits, bound_out))
    assert_holds({n: cv[n] for n in pieces}, pieces)
    assert_holds({"raw": cv["raw"]}, {"raw": y})
    assert ("out" in cv) == (not bound_out)
    with pytest.raises(GadgetError):
        rescale.verify(out.shape, claim, prf, T0, bits=bits, bound_out=not bound_out)


def test_pieces_cover_their_ranges_exactly():
    for bits in (1, 8, 16, 17, 22, 32):
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        x = i32(np.array([lo, hi, 0, -1]))
        pieces = rangecheck.split_signed(x, bits)
        total = sum(np.asarray(p).astype(np.int64) << s
                    for p, (s, _) in zip(pieces, rangecheck.signed_pieces(bits)))
        assert (total == np.asarray(x)).all()
        for p, (_, rng) in zip(pieces, rangecheck.signed_pieces(bits)):
            p = np.asarray(p)
            assert (p >= rng.lo).all() and (p < rng.lo + (1 << rng.log_size)).all()
