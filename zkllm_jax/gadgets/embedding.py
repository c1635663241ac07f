"""Embedding lookup: out[t] = E[tokens[t]] for public tokens and the committed table E (V, D).

A claim out(u_t, u_d) = y is an inner product over the vocabulary:
    y = Σ_v sel(v)·E(v, u_d),   sel(v) = Σ_{t<T} eq(u_t, t)·[tokens_t = v],
a sparse vector the verifier can evaluate anywhere from the public tokens:
    sel(r_v) = Σ_t eq(u_t, t)·eq(r_v, tokens_t)     (O(T·log V)).
One sumcheck over v (tables sel and E(·, u_d), the prover's partial evaluation) ends at r_v with
sel(r_v), which the verifier checks, and E(r_v, u_d): the claim on the table. Nothing new is
committed; E's claims are opened with its commitment (and shared with a tied lm_head).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from .. import field, mle
from ..claims import (
    Claim,
    ClaimSet,
    GadgetError,
    absorb_claim,
    as_tensor,
    check_claim,
    dims,
    eq_ints,
    ints,
    point_of,
)
from ..claims import num_vars as nvars
from ..sumcheck import SumcheckProof
from ..transcript import Transcript
from . import core

Array = jax.Array
R = field.R
EMBEDDING = b"gadget/embedding"


@struct.dataclass
class EmbeddingProof:
    """The sumcheck of Σ_v sel(v)·E(v, u_d)."""

    sumcheck: SumcheckProof


def _prefix_sums(x: Array) -> Array:
    """Inclusive prefix sums over the field along axis 0 (log-depth doubling; jit-able)."""
    n, step = x.shape[0], 1
    while step < n:
        shifted = jnp.concatenate([field.zeros((step,)), x[: n - step]])
        x = field.add(x, shifted)
        step *= 2
    return x


def selector(tokens: Array, u_t: Array, vocab: int) -> Array:
    """sel(v) = Σ_t eq(u_t, t)·[tokens_t = v] as a dense Fr[V, 8] (jit-able).

    Repeated tokens are summed by sorting and field prefix sums (no scatter-add over the field).
    """
    t_len = tokens.shape[0]
    eq = mle.eq_table(u_t)[:t_len]
    order = jnp.argsort(tokens, stable=True)
    tok, ev = tokens[order], eq[order]
    pre = _prefix_sums(ev)
    idx = jnp.arange(t_len)
    new_seg = jnp.concatenate([jnp.ones((1,), bool), tok[1:] != tok[:-1]])
    last = jnp.concatenate([tok[1:] != tok[:-1], jnp.ones((1,), bool)])
    first = jax.lax.cummax(jnp.where(new_seg, idx, 0))
    before = jnp.where((first > 0)[:, None], pre[jnp.maximum(first - 1, 0)], field.zeros(()))
    seg = field.sub(pre, before)
    dest = jnp.where(last, tok, vocab)
    return field.zeros((vocab,)).at[dest].set(seg, mode="drop")


def _check(table_shape: Sequence[int], tokens: Any, claim: Claim) -> tuple[int, int, int]:
    if len(table_shape) != 2:
        raise ValueError(f"embedding: the table is (vocab, hidden), got {tuple(table_shape)}")
    v, d = (int(x) for x in table_shape)
    tok = np.asarray(tokens) if not isinstance(tokens, jax.core.Tracer) else None
    if tokens.ndim != 1 or tokens.shape[0] < 1:
        raise ValueError(f"embedding: tokens must be 1-D and non-empty, got {tokens.shape}")
    if tok is not None and ((tok < 0) | (tok >= v)).any():
        raise ValueError(f"embedding: token {int(tok[(tok < 0) | (tok >= v)][0])} outside the "
                         f"vocabulary [0, {v})")
    check_claim(claim, nvars((tokens.shape[0], d)), "output claim", "embedding")
    return v, d, int(tokens.shape[0])


def _begin(t: Transcript, v: int, d: int, tokens: Array, claim: Claim) -> Transcript:
    t = t.begin(EMBEDDING, [v, d, tokens.shape[0]])
    t = t.absorb_bytes(b"tokens", jax.lax.bitcast_convert_type(
        jnp.asarray(tokens, jnp.int32), jnp.uint8).reshape(-1))
    return absorb_claim(t, b"out", claim)


def prove(table: Any, tokens: Any, out_claim: Claim, transcript: Transcript
          ) -> tuple[ClaimSet, EmbeddingProof, Transcript]:
    """Reduce a claim on table[tokens] (T, D) to a claim on the table; returns ({"table": ...}).

    table: int32 or Fr (V, D); tokens: int32 (T,), public. Pure and jit-able.
    """
    fe = as_tensor(table, "table")  # an int32 table is folded natively
    tokens = jnp.asarray(tokens, jnp.int32)
    v, d, t_len = _check(dims(fe), tokens, out_claim)
    t = _begin(transcript, v, d, tokens, out_claim)
    u_t, u_d = core.split_point(out_claim.point, (t_len, d))
    te = mle.partial_evaluate(fe, {1: u_d})  # Fr[V]: E(v, u_d)
    sel = selector(tokens, u_t, v)
    r, finals, sc, t = core.prove_sumcheck([sel, te], t, label=EMBEDDING + b"/sumcheck")
    claim = Claim(point=point_of([u_d, r]), value=finals[1])
    return {"table": [claim]}, EmbeddingProof(sumcheck=sc), t


def verify(table_shape: Sequence[int], tokens: Any, out_claim: Claim, proof: EmbeddingProof,
           transcript: Transcript) -> tuple[ClaimSet, Transcript]:
    """Check `prove` with the public tokens. Raises GadgetError("embedding", ...)."""
    tokens = jnp.asarray(np.asarray(tokens), jnp.int32)
    v, d, t_len = _check(table_shape, tokens, out_claim)
    if not isinstance(proof, EmbeddingProof):
        raise GadgetError("embedding", "shape", "not an EmbeddingProof")
    t = _begin(transcript, v, d, tokens, out_claim)
    u_t, u_d = core.split_point(out_claim.point, (t_len, d))
    kv = mle.num_vars(v)
    r_i, finals, t = core.verify_sumcheck("embedding", ints(out_claim.value)[0],
                                          proof.sumcheck, t, num_vars=kv, num_tables=2,
                                          label=EMBEDDING + b"/sumcheck")
    ut = ints(u_t) if u_t.shape[0] else []
    want = 0
    for i, tok in enumerate(np.asarray(tokens).tolist()):
        want = (want + eq_ints(ut, core.bits(i, len(ut))) * eq_ints(r_i, core.bits(tok, kv))) % R
    if want != finals[0]:
        raise GadgetError("embedding", "selector", "the token selector's MLE differs from the "
                          "sumcheck's final value")
    claim = Claim(point=point_of([u_d, core.encode_point(r_i)]), value=field.encode(finals[1]))
    return {"table": [claim]}, t


__all__ = ["EMBEDDING", "EmbeddingProof", "prove", "selector", "verify"]
