"""zkFC and the attention matmuls: a claim on a product becomes claims on its two factors.

All three are one bilinear reduction over the contraction axis k (no commitment):

    Y[b, i, j] = Σ_k A[b, i, k] · B[b // G, j, k]      ("nt": B stored (Bb, J, K))
    Y[b, i, j] = Σ_k A[b, i, k] · B[b // G, k, j]      ("nn": B stored (Bb, K, J))

with G = Bs / Bb query heads per key/value head (GQA: any integer G, e.g. SmolLM2's 9 on 3).

- `prove` / `verify`: Y = X·Wᵀ with W stored (out, in) like transformers (no batch axis).
- `prove_scores`: scores = q·kᵀ per head (q (H, T, hd), k (KVH, Tk, hd)).
- `prove_context`: context = probs·v per head (probs (H, T, Tk), v (KVH, Tk, hd)).
These reduce the RAW product (before the rescale); chain `rescale` in front of them.

Protocol for a claim Y(u_b, u_i, u_j) = y. The batch (head) axis is elementwise, so it is
summed together with k:
    y = Σ_{b,k} eq(u_b, b) · A(b, u_i, k) · B_exp(b, u_j, k),   B_exp(b, ...) = B(b // G, ...),
one sumcheck over the prover's partial evaluations (tables A(·, u_i, ·), B_exp(·, u_j, ·) and the
eq table of u_b; without a batch axis it is the two-table Σ_k X(u_t, k)·W(u_o, k)). It ends at
(r_b, r_k) with A(r_b, u_i, r_k): the claim on A. The verifier checks the eq table's value. For
G = 1 the claim on B is B(r_b, u_j, r_k). For G > 1, B_exp's MLE is Σ_kv c_kv(r_b)·B(kv, ...)
with c_kv(r) = Σ_{g<G} eq(r, kv·G + g) (O(H) for the verifier): the prover sends the kv heads'
values β_kv = B(kv, u_j, r_k), the verifier checks Σ_kv c_kv(r_b)·β_kv = B_exp's final value,
draws r_kv and keeps the single claim B(r_kv, u_j, r_k) = Σ_kv eq(r_kv, kv)·β_kv (the β are the
MLE's values on the head cube, so a wrong β survives only if a nonzero multilinear polynomial
vanishes at r_kv). A contraction of length 1 without batch axis is a zero-round instance.

Sibling matmuls sharing the input (q/k/v, gate/up), `prove_siblings`: claims Y_s(u_t^s, u_o^s)
= y_s with challenges ρ_s give
    Σ_s ρ_s y_s = Σ_{t,k} X(t, k) · G(t, k),   G(t, k) = Σ_s ρ_s eq(u_t^s, t)·W_s(u_o^s, k),
one sumcheck over (t, k) that lands X on ONE point (r_t, r_k) whatever the claims' rows; the
prover sends w_s = W_s(u_o^s, r_k) and the verifier checks G(r_t, r_k) = Σ_s ρ_s eq(u_t^s, r_t)·
w_s. When all claims share u_t (`same_rows=True`) the cheaper instance Σ_k X(u_t, k)·Σ_s ρ_s
W_s(u_o^s, k) runs over k only (the verifier checks that the u_t agree).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from .. import field, mle
from ..claims import (
    Claim,
    ClaimSet,
    GadgetError,
    absorb_claim,
    as_field,
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
MATMUL = b"gadget/matmul"
SCORES = b"gadget/attention-scores"
CONTEXT = b"gadget/attention-context"
SIBLINGS = b"gadget/matmul-siblings"


@struct.dataclass
class MatmulProof:
    """sumcheck: the inner-product sumcheck; heads: Fr[Bb, 8] the kv heads' values β (GQA with
    G > 1), Fr[0, 8] otherwise."""

    sumcheck: SumcheckProof
    heads: Array


@struct.dataclass
class SiblingsProof:
    """sumcheck over (t, k) (or k with same_rows); weights: Fr[S, 8], w_s = W_s(u_o^s, r_k)."""

    sumcheck: SumcheckProof
    weights: Array


# --- the bilinear core -------------------------------------------------------------------------


def _shapes(a_shape, b_shape, nt: bool, gadget: str) -> tuple[int, int, int, int, int]:
    if len(a_shape) != 3 or len(b_shape) != 3:
        raise ValueError(f"{gadget}: factors must be 3-D (heads, rows, cols), got "
                         f"{tuple(a_shape)} and {tuple(b_shape)}")
    bs, i, k = (int(d) for d in a_shape)
    bb = int(b_shape[0])
    kb, j = (int(b_shape[2]), int(b_shape[1])) if nt else (int(b_shape[1]), int(b_shape[2]))
    if kb != k:
        raise ValueError(f"{gadget}: contraction lengths differ ({k} vs {kb})")
    if bb < 1 or bs % bb:
        raise ValueError(f"{gadget}: {bs} heads are not a multiple of {bb} key/value heads")
    return bs, i, j, k, bb


def _prove_bmm(a: Any, b: Any, claim: Claim, t: Transcript, *, nt: bool, label: bytes,
               gadget: str) -> tuple[Claim, Claim, MatmulProof, Transcript]:
    a, b = as_tensor(a, "a"), as_tensor(b, "b")  # int32 operands are folded natively
    bs, i, j, k, bb = _shapes(dims(a), dims(b), nt, gadget)
    g = bs // bb
    check_claim(claim, nvars((bs, i, j)), "output claim", gadget)
    t = t.begin(label, [bs, i, j, k, bb, int(nt)])
    t = absorb_claim(t, b"out", claim)
    u_b, u_i, u_j = core.split_point(claim.point, (bs, i, j))
    ta = mle.partial_evaluate(a, {1: u_i})  # Fr[Bs, K]: A(h, u_i, k)
    tb_j = mle.partial_evaluate(b, {1 if nt else 2: u_j})  # Fr[Bb, K]: B(kv, u_j, k)
    tb = tb_j[jnp.arange(bs) // g] if g > 1 else tb_j  # Fr[Bs, K]: B_exp(h, u_j, k)
    kk, kh = mle.num_vars(k), mle.num_vars(bs)
    tables = [mle.table(ta), mle.table(tb)]
    if kh:  # the batch axis is elementwise: Σ_{h,k} eq(u_b, h)·A(h, u_i, k)·B_exp(h, u_j, k)
        eq_h = mle.eq_table(u_b)
        tables.append(jnp.broadcast_to(eq_h[:, None, :], (1 << kh, 1 << kk, field.LIMBS))
                      .reshape(-1, field.LIMBS))
    r, finals, sc, t = core.prove_sumcheck(tables, t, label=label + b"/sumcheck")
    r_k, r_b = r[:kk], r[kk:]
    if g == 1:
        heads = jnp.zeros((0, field.LIMBS), jnp.uint32)
        b_val, b_batch = finals[1], r_b
    else:
        heads = mle.partial_evaluate(tb_j, {1: r_k})  # Fr[Bb]: B(kv, u_j, r_k)
        t = t.absorb_field(b"heads", heads)
        b_val, b_batch, t = _fold_heads(heads, t)
    b_point = point_of([r_k, u_j, b_batch]) if nt else point_of([u_j, r_k, b_batch])
    a_claim = Claim(point=point_of([r_k, u_i, r_b]), value=finals[0])
    return a_claim, Claim(point=b_point, value=b_val), MatmulProof(sumcheck=sc, heads=heads), t


def _fold_heads(heads: Array, t: Transcript) -> tuple[Array, Array, Transcript]:
    """Values on the kv-head cube -> one claim at a fresh head point."""
    kb = mle.num_vars(heads.shape[0])
    if kb == 0:
        return heads[0], jnp.zeros((0, field.LIMBS), jnp.uint32), t
    r_kv, t = t.challenges(b"kv", kb)
    return field.inner_product(heads, mle.eq_table(r_kv)[: heads.shape[0]]), r_kv, t


def _verify_bmm(a_shape, b_shape, claim: Claim, proof: MatmulProof, t: Transcript, *, nt: bool,
                label: bytes, gadget: str) -> tuple[Claim, Claim, Transcript]:
    bs, i, j, k, bb = _shapes(a_shape, b_shape, nt, gadget)
    g = bs // bb
    check_claim(claim, nvars((bs, i, j)), "output claim", gadget)
    want_heads = bb if g > 1 else 0
    if not isinstance(proof, MatmulProof) or tuple(proof.heads.shape) != (want_heads,
                                                                          field.LIMBS):
        raise GadgetError(gadget, "shape", f"the proof must carry {want_heads} head values")
    t = t.begin(label, [bs, i, j, k, bb, int(nt)])
    t = absorb_claim(t, b"out", claim)
    u_b, u_i, u_j = core.split_point(claim.point, (bs, i, j))
    kk, kh = mle.num_vars(k), mle.num_vars(bs)
    r_i, finals, t = core.verify_sumcheck(gadget, ints(claim.value)[0], proof.sumcheck, t,
                                          num_vars=kk + kh, num_tables=3 if kh else 2,
                                          label=label + b"/sumcheck")
    rk_i, rb_i = r_i[:kk], r_i[kk:]
    if kh and eq_ints(ints(u_b), rb_i) != finals[2]:
        raise GadgetError(gadget, "batch_eq", "the batch eq table's final value differs from "
                          "eq(u_b, r_b)")
    r_k, r_b = core.encode_point(rk_i), core.encode_point(rb_i)
    if g == 1:
        b_val, b_batch = field.encode(finals[1]), r_b
    else:
        beta = ints(proof.heads)
        c = core.group_weights_ints(rb_i, bs, bb)
        if sum(x * y for x, y in zip(c, beta)) % R != finals[1]:
            raise GadgetError(gadget, "head_groups", "Σ_kv c_kv(r_b)·β_kv differs from the "
                              "grouped factor's final value")
        t = t.absorb_field(b"heads", proof.heads)
        b_val, b_batch, t = _fold_heads(proof.heads, t)
    b_point = point_of([r_k, u_j, b_batch]) if nt else point_of([u_j, r_k, b_batch])
    a_claim = Claim(point=point_of([r_k, u_i, r_b]), value=field.encode(finals[0]))
    return a_claim, Claim(point=b_point, value=b_val), t


# --- zkFC ----------------------------------------------------------------------------------------


def _check_2d(x_shape, w_shape) -> None:
    if len(x_shape) != 2 or len(w_shape) != 2:
        raise ValueError(f"matmul: x is (T, in) and w is (out, in), got {tuple(x_shape)} and "
                         f"{tuple(w_shape)}")


def prove(x: Any, w: Any, out_claim: Claim, transcript: Transcript
          ) -> tuple[ClaimSet, MatmulProof, Transcript]:
    """Reduce a claim on Y = X·Wᵀ (X (T, in), W (out, in); int32 or Fr) to claims on X and W.

    Returns ({"x": [claim], "w": [claim]}, proof, transcript). Pure and jit-able.
    """
    tx, tw = as_tensor(x, "x"), as_tensor(w, "w")
    _check_2d(dims(tx), dims(tw))
    ca, cb, prf, t = _prove_bmm(tx[None], tw[None], out_claim, transcript, nt=True,
                                label=MATMUL, gadget="matmul")
    return {"x": [ca], "w": [cb]}, prf, t


def verify(x_shape: Sequence[int], w_shape: Sequence[int], out_claim: Claim, proof: MatmulProof,
           transcript: Transcript) -> tuple[ClaimSet, Transcript]:
    """Check `prove`; returns the claims on X and W. Raises GadgetError("matmul", ...)."""
    _check_2d(x_shape, w_shape)
    ca, cb, t = _verify_bmm((1, *x_shape), (1, *w_shape), out_claim, proof, transcript, nt=True,
                            label=MATMUL, gadget="matmul")
    return {"x": [ca], "w": [cb]}, t


# --- attention -----------------------------------------------------------------------------------


def prove_scores(q: Any, k: Any, out_claim: Claim, transcript: Transcript
                 ) -> tuple[ClaimSet, MatmulProof, Transcript]:
    """Claim on the raw scores[h, t, s] = Σ_d q[h, t, d]·k[h // G, s, d] -> claims on q, k.

    q: (H, T, hd), k: (KVH, Tk, hd). Returns ({"q": [...], "k": [...]}, proof, transcript).
    """
    ca, cb, prf, t = _prove_bmm(q, k, out_claim, transcript, nt=True, label=SCORES,
                                gadget="attention_scores")
    return {"q": [ca], "k": [cb]}, prf, t


def verify_scores(q_shape: Sequence[int], k_shape: Sequence[int], out_claim: Claim,
                  proof: MatmulProof, transcript: Transcript) -> tuple[ClaimSet, Transcript]:
    """Check `prove_scores`."""
    ca, cb, t = _verify_bmm(q_shape, k_shape, out_claim, proof, transcript, nt=True,
                            label=SCORES, gadget="attention_scores")
    return {"q": [ca], "k": [cb]}, t


def prove_context(p: Any, v: Any, out_claim: Claim, transcript: Transcript
                  ) -> tuple[ClaimSet, MatmulProof, Transcript]:
    """Claim on the raw context[h, t, d] = Σ_s p[h, t, s]·v[h // G, s, d] -> claims on p, v.

    p: (H, T, Tk), v: (KVH, Tk, hd). Returns ({"probs": [...], "v": [...]}, proof, transcript).
    """
    ca, cb, prf, t = _prove_bmm(p, v, out_claim, transcript, nt=False, label=CONTEXT,
                                gadget="attention_context")
    return {"probs": [ca], "v": [cb]}, prf, t


def verify_context(p_shape: Sequence[int], v_shape: Sequence[int], out_claim: Claim,
                   proof: MatmulProof, transcript: Transcript) -> tuple[ClaimSet, Transcript]:
    """Check `prove_context`."""
    ca, cb, t = _verify_bmm(p_shape, v_shape, out_claim, proof, transcript, nt=False,
                            label=CONTEXT, gadget="attention_context")
    return {"probs": [ca], "v": [cb]}, t


# --- siblings ------------------------------------------------------------------------------------


def _sibling_shapes(x_shape, w_shapes) -> tuple[int, int, list[int]]:
    if len(x_shape) != 2:
        raise ValueError(f"matmul_siblings: x is (T, in), got {tuple(x_shape)}")
    t_len, k = (int(d) for d in x_shape)
    outs = []
    for s, ws in enumerate(w_shapes):
        if len(ws) != 2 or int(ws[1]) != k:
            raise ValueError(f"matmul_siblings: w[{s}] must be (out, {k}), got {tuple(ws)}")
        outs.append(int(ws[0]))
    if not outs:
        raise ValueError("matmul_siblings: no weights")
    return t_len, k, outs


def _begin_siblings(t: Transcript, t_len: int, k: int, outs: list[int], same_rows: bool,
                    claims: Sequence[Claim]) -> tuple[Transcript, Array]:
    t = t.begin(SIBLINGS, [t_len, k, len(outs), int(same_rows), *outs])
    for c in claims:
        t = absorb_claim(t, b"out", c)
    rho, t = t.challenges(b"rho", len(outs))
    return t, rho


def prove_siblings(
    x: Any, ws: Sequence[Any], out_claims: Sequence[Claim], transcript: Transcript, *,
    same_rows: bool = False,
) -> tuple[ClaimSet, SiblingsProof, Transcript]:
    """Reduce claims on Y_s = X·W_sᵀ (one per sibling) to ONE claim on X and one per W_s.

    same_rows: all claims share their row point u_t (cheaper instance; checked by the verifier).
    Returns ({"x": [claim], "w0": [...], "w1": [...], ...}, proof, transcript). Jit-able.
    """
    fx = as_field(x, "x")
    fws = [as_tensor(w, f"ws[{s}]") for s, w in enumerate(ws)]  # int32 folded natively
    t_len, k, outs = _sibling_shapes(fx.shape[:-1], [dims(w) for w in fws])
    if len(out_claims) != len(outs):
        raise ValueError(f"matmul_siblings: {len(outs)} weights but {len(out_claims)} claims")
    for s, c in enumerate(out_claims):
        check_claim(c, nvars((t_len, outs[s])), f"claim {s}", "matmul_siblings")
    t, rho = _begin_siblings(transcript, t_len, k, outs, same_rows, out_claims)
    pts = [core.split_point(c.point, (t_len, n)) for c, n in zip(out_claims, outs)]
    wt = [mle.partial_evaluate(w, {0: p[1]}) for w, p in zip(fws, pts)]  # Fr[K] each
    kk = mle.num_vars(k)
    if same_rows:
        ta = mle.partial_evaluate(fx, {0: pts[0][0]})
        tb = field.sum(field.mul(jnp.stack(wt), rho[:, None, :]), axis=0)
        r, finals, sc, t = core.prove_sumcheck([ta, tb], t, label=SIBLINGS + b"/sumcheck")
        r_k, x_point = r, point_of([r, pts[0][0]])
    else:
        kpad = 1 << kk
        tx = mle.table(fx)
        g = field.zeros((tx.shape[0] // kpad, kpad))
        for s in range(len(outs)):
            rows = mle.eq_table(pts[s][0]) if pts[s][0].shape[0] else field.ones((1,))
            row = jnp.pad(field.mul(wt[s], rho[s]), ((0, kpad - k), (0, 0)))
            g = field.add(g, field.mul(rows[:, None, :], row[None, :, :]))
        r, finals, sc, t = core.prove_sumcheck([tx, g.reshape(-1, field.LIMBS)], t,
                                               label=SIBLINGS + b"/sumcheck")
        r_k, x_point = r[:kk], r
    weights = jnp.stack([core.evaluate_flat(w, r_k) for w in wt])
    t = t.absorb_field(b"weights", weights)
    out: ClaimSet = {"x": [Claim(point=x_point, value=finals[0])]}
    for s in range(len(outs)):
        out[f"w{s}"] = [Claim(point=point_of([r_k, pts[s][1]]), value=weights[s])]
    return out, SiblingsProof(sumcheck=sc, weights=weights), t


def verify_siblings(
    x_shape: Sequence[int], w_shapes: Sequence[Sequence[int]], out_claims: Sequence[Claim],
    proof: SiblingsProof, transcript: Transcript, *, same_rows: bool = False,
) -> tuple[ClaimSet, Transcript]:
    """Check `prove_siblings`. Raises GadgetError("matmul_siblings", ...)."""
    gadget = "matmul_siblings"
    t_len, k, outs = _sibling_shapes(x_shape, w_shapes)
    if len(out_claims) != len(outs):
        raise ValueError(f"matmul_siblings: {len(outs)} weights but {len(out_claims)} claims")
    for s, c in enumerate(out_claims):
        check_claim(c, nvars((t_len, outs[s])), f"claim {s}", gadget)
    if not isinstance(proof, SiblingsProof) or tuple(proof.weights.shape) != (len(outs),
                                                                            field.LIMBS):
        raise GadgetError(gadget, "shape", f"the proof must carry {len(outs)} weight values")
    t, rho = _begin_siblings(transcript, t_len, k, outs, same_rows, out_claims)
    rho_i = ints(rho)
    pts = [core.split_point(c.point, (t_len, n)) for c, n in zip(out_claims, outs)]
    rows = [ints(p[0]) if p[0].shape[0] else [] for p in pts]
    total = sum(r * ints(c.value)[0] for r, c in zip(rho_i, out_claims)) % R
    kk = mle.num_vars(k)
    w_vals = ints(proof.weights)
    if same_rows:
        if any(rw != rows[0] for rw in rows[1:]):
            raise GadgetError(gadget, "shape", "same_rows needs every claim at the same rows")
        r, finals, t = core.verify_sumcheck(gadget, total, proof.sumcheck, t, num_vars=kk,
                                            num_tables=2, label=SIBLINGS + b"/sumcheck")
        want = sum(a * b for a, b in zip(rho_i, w_vals)) % R
        r_k, x_point = r, point_of([core.encode_point(r), pts[0][0]])
    else:
        r, finals, t = core.verify_sumcheck(
            gadget, total, proof.sumcheck, t, num_vars=kk + mle.num_vars(t_len), num_tables=2,
            label=SIBLINGS + b"/sumcheck")
        r_k, r_t = r[:kk], r[kk:]
        want = sum(a * eq_ints(rw, r_t) * b
                   for a, rw, b in zip(rho_i, rows, w_vals)) % R
        x_point = core.encode_point(r)
    if want != finals[1]:
        raise GadgetError(gadget, "weights", "the weights' values do not give the combined "
                          "table's final value")
    t = t.absorb_field(b"weights", proof.weights)
    rk = core.encode_point(r_k)
    out: ClaimSet = {"x": [Claim(point=x_point, value=field.encode(finals[0]))]}
    for s in range(len(outs)):
        out[f"w{s}"] = [Claim(point=point_of([rk, pts[s][1]]), value=proof.weights[s])]
    return out, t


__all__ = [
    "CONTEXT", "MATMUL", "SCORES", "SIBLINGS", "MatmulProof", "SiblingsProof", "prove",
    "prove_context", "prove_scores", "prove_siblings", "verify", "verify_context",
    "verify_scores", "verify_siblings",
]
