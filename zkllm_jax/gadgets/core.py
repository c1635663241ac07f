"""What every gadget shares: sumcheck calls that report GadgetError, and GQA head weights.

`prove_sumcheck` / `verify_sumcheck` wrap the engine (`zkllm_jax.sumcheck`) so that an instance
over a single entry (m = 0 variables, e.g. a contraction of length 1) needs no special case in
the gadgets: it sends the tables' only entries as the final values and the verifier checks the
summand directly. Errors come back as `GadgetError(gadget, "sumcheck", ...)` with the round.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from .. import field, mle, sumcheck
from ..claims import GadgetError, ints
from ..sumcheck import SumcheckError, SumcheckProof
from ..transcript import Transcript

Array = jax.Array
R = field.R


def prove_sumcheck(
    tables: Sequence[Array],
    transcript: Transcript,
    *,
    label: bytes,
    eq_point: Array | None = None,
    terms: Sequence[Sequence[int]] | None = None,
    coeffs: Array | None = None,
) -> tuple[Array, Array, SumcheckProof, Transcript]:
    """Prove Σ_x [eq(u, x)·] Σ_j c_j Π_{k∈S_j} f_k(x); returns (point, final values, proof, t).

    tables: flat Fr[n_k, 8]; m = ceil(log2 max n_k) may be 0 (one entry), in which case the
    eq point (if any) is empty and the proof has no rounds.
    """
    n = max(t.shape[0] for t in tables)
    m = mle.num_vars(n)
    if m >= 1:
        fc, proof, t = sumcheck.prove(list(tables), transcript, eq_point=eq_point, label=label,
                                      terms=terms, coeffs=coeffs)
        return fc.point, fc.values, proof, t
    k = len(tables)
    norm = sumcheck.normalize_terms(terms, k)
    d = sumcheck.degree(norm, eq_point is not None)
    finals = jnp.stack([tab[0] for tab in tables])
    t = transcript.begin(label + b"/single", [k, d])
    t = t.absorb_field(b"final", finals)
    proof = SumcheckProof(messages=jnp.zeros((0, d + 1, field.LIMBS), jnp.uint32),
                          final_evals=finals)
    return jnp.zeros((0, field.LIMBS), jnp.uint32), finals, proof, t


def verify_sumcheck(
    gadget: str,
    claim: int,
    proof: SumcheckProof,
    transcript: Transcript,
    *,
    num_vars: int,
    num_tables: int,
    label: bytes,
    eq_point: Array | None = None,
    terms: Sequence[Sequence[int]] | None = None,
    coeffs: Array | None = None,
) -> tuple[list[int], list[int], Transcript]:
    """Check a `prove_sumcheck` proof of `claim` (a Python int); returns (r, finals, t) as ints."""
    if not isinstance(proof, SumcheckProof):
        raise GadgetError(gadget, "shape", "the sumcheck proof is missing")
    if num_vars >= 1:
        try:
            fc, t = sumcheck.verify(field.encode(claim % R), proof, transcript,
                                    num_vars=num_vars, num_tables=num_tables, eq_point=eq_point,
                                    label=label, terms=terms, coeffs=coeffs)
        except SumcheckError as e:
            raise GadgetError(gadget, "sumcheck", str(e), e.round) from e
        return ints(fc.point), ints(fc.values), t
    norm = sumcheck.normalize_terms(terms, num_tables)
    d = sumcheck.degree(norm, eq_point is not None)
    if tuple(proof.messages.shape) != (0, d + 1, field.LIMBS) or tuple(
            proof.final_evals.shape) != (num_tables, field.LIMBS):
        raise GadgetError(gadget, "shape", f"a one-entry sumcheck has no rounds and "
                          f"{num_tables} final values")
    finals = ints(proof.final_evals)
    cs = [1] * len(norm) if coeffs is None else ints(coeffs)
    if sumcheck.combine_ints(finals, norm, cs) != claim % R:
        raise GadgetError(gadget, "sumcheck", "the single entry's summand differs from the claim")
    t = transcript.begin(label + b"/single", [num_tables, d])
    t = t.absorb_field(b"final", proof.final_evals)
    return [], finals, t


def group_weights_ints(u_heads: Sequence[int], heads: int, kv_heads: int) -> list[int]:
    """c_kv = Σ_{g<G} eq(u_h, kv·G + g), the MLE weights of kv head kv at query-head point u_h.

    A tensor K_exp(h, ...) = K(h // G, ...) (GQA, G = heads / kv_heads, any G) has the MLE
    K_exp(u_h, ...) = Σ_kv c_kv · K(kv, ...). Python integers, O(heads·log heads).
    """
    g = heads // kv_heads
    k = len(u_heads)
    out = []
    for kv in range(kv_heads):
        acc = 0
        for h in range(kv * g, (kv + 1) * g):
            acc = (acc + sumcheck.eq_eval_ints(u_heads, [(h >> j) & 1 for j in range(k)])) % R
        out.append(acc)
    return out


def bits(i: int, k: int) -> list[int]:
    """The k low bits of i, least significant first (a hypercube point as ints)."""
    return [(i >> j) & 1 for j in range(k)]


def encode_point(coords: Sequence[int]) -> Array:
    """Python ints -> a point Fr[k, 8] (k may be 0)."""
    if not coords:
        return jnp.zeros((0, field.LIMBS), jnp.uint32)
    return field.encode([int(c) % R for c in coords])


def split_ints(coords: Sequence[int], shape: Sequence[int]) -> list[list[int]]:
    """`mle.split_point` over Python ints: one block per axis (the last axis lowest)."""
    ks = [mle.num_vars(int(d)) for d in shape]
    if len(coords) != sum(ks):
        raise ValueError(f"split_ints: shape {tuple(shape)} needs {sum(ks)} coordinates")
    out, start = [], 0
    for k in reversed(ks):
        out.append(list(coords[start:start + k]))
        start += k
    return out[::-1]


def split_point(point: Array, shape: Sequence[int]) -> list[Array]:
    """`mle.split_point` that also accepts an empty point (every axis of length 1)."""
    ks = [mle.num_vars(int(d)) for d in shape]
    if point.shape[0] != sum(ks):
        raise ValueError(f"split_point: shape {tuple(shape)} needs {sum(ks)} coordinates, got "
                         f"{point.shape[0]}")
    out, start = [], 0
    for k in reversed(ks):
        out.append(point[start:start + k])
        start += k
    return out[::-1]


def evaluate_flat(tab: Array, point: Array) -> Array:
    """A flat table's MLE at a point (possibly empty: the first entry)."""
    if point.shape[0] == 0:
        return tab[0]
    return mle.evaluate(tab, point)
