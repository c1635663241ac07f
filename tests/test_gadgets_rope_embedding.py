"""RoPE (public cos/sin, rotate_half as two claims) and the embedding lookup."""

from __future__ import annotations

import numpy as np
import pytest
from gadget_harness import (
    CFG,
    SC_LEAVES,
    T0,
    TOKENS,
    assert_holds,
    bump,
    bumped,
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

from zkllm_jax import claims
from zkllm_jax.gadgets import embedding, rope

# --- RoPE on the tiny model's keys (2 kv heads) ------------------------------------------------


@pytest.fixture(scope="module")
def rp():
    _, tables, wit = tiny()
    sa = wit["layers"]["self_attn"]
    kp = sa["k_proj"]["out"][0]  # (T, KVH·hd)
    t_len = kp.shape[0]
    x = kp.reshape(t_len, CFG.num_key_value_heads, CFG.head_dim).transpose(1, 0, 2)
    cos, sin = tables["rope_cos"][:t_len], tables["rope_sin"][:t_len]
    xo = ints_of(x)
    rot = np.concatenate([-xo[..., CFG.head_dim // 2:], xo[..., : CFG.head_dim // 2]], -1)
    y = raw(sa["k_rope"]["out"][0], sa["k_rope"]["rem"][0])
    assert (y == xo * ints_of(cos) + rot * ints_of(sin)).all()
    claim = honest_claim(y, 91)
    _cs, prf, tp = rope.prove(i32(x), i32(cos), i32(sin), claim, T0)
    return {"x": x, "kp": kp, "cos": cos, "sin": sin, "claim": claim, "proof": prf, "tp": tp}


def _rope_check(r, proof=None, claim=None, cos=None):
    cs, t = rope.verify(r["x"].shape, i32(r["cos"] if cos is None else cos), i32(r["sin"]),
                        claim or r["claim"], proof or r["proof"], T0)
    assert_holds(cs, {"x": r["x"]})
    return cs, t


def test_rope_honest(rp):
    cs, t = _rope_check(rp)
    assert same_state(t, rp["tp"])
    assert len(cs["x"]) == 1  # rotate_half's two claims are merged into one


def test_rope_claim_carries_to_the_projection_output(rp):
    """(KVH, T, hd) -> (T, KVH, hd) -> (T, KVH·hd): the claim lands on k_proj's output."""
    cs, _ = _rope_check(rp)
    c = claims.transpose(cs["x"][0], rp["x"].shape, (1, 0, 2))
    c = claims.reshape(c, (rp["kp"].shape[0], CFG.num_key_value_heads, CFG.head_dim),
                       rp["kp"].shape)
    claims.check_public("k_proj.out", i32(rp["kp"]), [c])


@pytest.mark.parametrize("leaf", SC_LEAVES + [".halves"])
def test_rope_tampered_message(rp, leaf):
    assert {n for n, _ in leaf_cases(rp["proof"])} == set(SC_LEAVES + [".halves"])
    for case in [c for c in leaf_cases(rp["proof"]) if c[0] == leaf]:
        rejects(lambda case=case: _rope_check(rp, proof=tampered(rp["proof"], case)))


def test_rope_tampered_claim_witness_and_table(rp):
    rejects(lambda: _rope_check(rp, claim=bump(rp["claim"])))
    for idx in [(0, 0, 0), (1, 7, 12)]:  # a low and a high (rotated) half element
        _, prf, _ = rope.prove(i32(bumped(rp["x"], idx)), i32(rp["cos"]), i32(rp["sin"]),
                               rp["claim"], T0)
        rejects(lambda prf=prf: _rope_check(rp, proof=prf))
    rejects(lambda: _rope_check(rp, cos=bumped(rp["cos"], (3, 3))))


def test_rope_needs_a_power_of_two_head_dim():
    x = i32(np.zeros((2, 4, 6)))
    with pytest.raises(ValueError, match="power of two"):
        rope.prove(x, i32(np.zeros((4, 6))), i32(np.zeros((4, 6))),
                   honest_claim(np.zeros((2, 4, 6), np.int32), 1), T0)


# --- embedding -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emb():
    params, _, wit = tiny()
    table = params["model"]["embed_tokens"]["weight"]
    out = wit["embed"]["out"]
    assert (out == table[TOKENS]).all() and len(set(TOKENS.tolist())) < len(TOKENS)
    claim = honest_claim(out, 92)
    _cs, prf, tp = embedding.prove(i32(table), i32(TOKENS), claim, T0)
    return {"table": table, "claim": claim, "proof": prf, "tp": tp}


def _emb_check(e, proof=None, claim=None, tokens=TOKENS):
    cs, t = embedding.verify(e["table"].shape, tokens, claim or e["claim"], proof or e["proof"],
                             T0)
    assert_holds(cs, {"table": e["table"]})
    return t


def test_embedding_honest(emb):
    assert same_state(_emb_check(emb), emb["tp"])


@pytest.mark.parametrize("leaf", SC_LEAVES)
def test_embedding_tampered_message(emb, leaf):
    for case in [c for c in leaf_cases(emb["proof"]) if c[0] == leaf]:
        rejects(lambda case=case: _emb_check(emb, proof=tampered(emb["proof"], case)))


def test_embedding_tampered_claim_table_and_tokens(emb):
    rejects(lambda: _emb_check(emb, claim=bump(emb["claim"])))
    _, prf, _ = embedding.prove(i32(bumped(emb["table"], (TOKENS[2], 7))), i32(TOKENS),
                                emb["claim"], T0)
    rejects(lambda: _emb_check(emb, proof=prf))
    other = TOKENS.copy()
    other[3] = 21
    rejects(lambda: _emb_check(emb, tokens=other))


def test_embedding_selector_sums_repeated_tokens():
    import jax

    from zkllm_jax import field, mle
    toks = np.array([4, 1, 4, 4, 0, 1, 9], np.int32)
    u = field.random(jax.random.PRNGKey(3), (3,))
    sel = embedding.selector(i32(toks), u, 12)
    eq = [int(v) for v in field.decode(mle.eq_table(u))[: len(toks)]]
    want = [sum(e for e, tk in zip(eq, toks) if tk == v) % field.R for v in range(12)]
    assert [int(v) for v in field.decode(sel)] == want
    with pytest.raises(ValueError, match="outside the vocabulary"):
        embedding.prove(i32(np.zeros((12, 4))), i32(np.array([12])),
                        honest_claim(np.zeros((1, 4), np.int32), 1), T0)
