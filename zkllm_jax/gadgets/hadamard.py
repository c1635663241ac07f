"""Elementwise product Z = A ⊙ B (B may broadcast along axes of length 1, or be public).

Nothing is committed. A claim Z(u) = z becomes, by one sumcheck with an eq factor,
    z = Σ_x eq(u, x)·A(x)·B̄(x)            (three tables, degree 3)
ending at r with A(r) and B̄(r), where B̄ is B broadcast to Z's shape. The claim on A is A(r).
For B: along a broadcast axis of length d (B has length 1 there) B̄'s MLE is B's times the
padding indicator [i < d], whose MLE at r_axis is `prefix_indicator(d, r_axis)` (O(log d)); the
verifier divides it out to get the claim on B at r without that axis. A public B is evaluated by
the verifier instead, and no claim on it is returned.

The raw (unrescaled) product is what this gadget reduces; chain `rescale` in front of it.
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
    check_claim,
    evaluate,
    ints,
    point_of,
)
from ..claims import num_vars as nvars
from ..lookup import prefix_indicator
from ..sumcheck import SumcheckProof
from ..transcript import Transcript
from . import core

Array = jax.Array
R = field.R
HADAMARD = b"gadget/hadamard"


@struct.dataclass
class HadamardProof:
    """The sumcheck of Σ_x eq(u, x)·A(x)·B̄(x)."""

    sumcheck: SumcheckProof


def broadcast_shape(a_shape: Sequence[int], b_shape: Sequence[int]) -> tuple[int, ...]:
    """B's shape left-padded with 1s to A's rank; ValueError unless it broadcasts to A."""
    a_shape, b_shape = tuple(int(d) for d in a_shape), tuple(int(d) for d in b_shape)
    if len(b_shape) > len(a_shape):
        raise ValueError(f"hadamard: b {b_shape} has more axes than a {a_shape}")
    b_full = (1,) * (len(a_shape) - len(b_shape)) + b_shape
    for da, db in zip(a_shape, b_full):
        if db not in (1, da):
            raise ValueError(f"hadamard: b {b_shape} does not broadcast to a {a_shape}")
    return b_full


def restrict(point: Array, a_shape: Sequence[int], b_full: Sequence[int]) -> Array:
    """The coordinates of a point of A's shape that belong to B's non-broadcast axes."""
    blocks = core.split_point(point, a_shape)
    return point_of([blk for blk, da, db in zip(blocks, a_shape, b_full) if db == da][::-1])


def broadcast_factor(point_ints: Sequence[int], a_shape: Sequence[int],
                     b_full: Sequence[int]) -> int:
    """Π over broadcast axes of the padding indicator's MLE (B̄(r) = factor · B(r restricted))."""
    blocks = core.split_ints(list(point_ints), a_shape)
    acc = 1
    for blk, da, db in zip(blocks, a_shape, b_full):
        if db != da:
            acc = acc * prefix_indicator(da, blk) % R
    return acc


def prove_product(a: Array, b_bar: Array, u: Array, t: Transcript, *, label: bytes
                  ) -> tuple[Array, Array, SumcheckProof, Transcript]:
    """Σ_x eq(u, x)·A(x)·B̄(x) for field tensors of one shape; returns (r, finals, proof, t)."""
    return core.prove_sumcheck([mle.table(a), mle.table(b_bar)], t, label=label,
                               eq_point=u if u.shape[0] else None)


def verify_product(gadget: str, shape: Sequence[int], claim_value: int, proof: SumcheckProof,
                   t: Transcript, u: Array, *, label: bytes
                   ) -> tuple[list[int], list[int], Transcript]:
    """The verifier's side of `prove_product`: (r, [A(r), B̄(r)], t) as ints."""
    return core.verify_sumcheck(gadget, claim_value, proof, t, num_vars=nvars(shape),
                                num_tables=2, label=label, eq_point=u if u.shape[0] else None)


def _begin(t: Transcript, a_shape, b_full, public: bool, claim: Claim) -> Transcript:
    t = t.begin(HADAMARD, [len(a_shape), *a_shape, *b_full, int(public)])
    return absorb_claim(t, b"out", claim)


def prove(a: Any, b: Any, out_claim: Claim, transcript: Transcript, *, b_public: bool = False
          ) -> tuple[ClaimSet, HadamardProof, Transcript]:
    """Reduce a claim on A ⊙ B to claims on A and (unless b_public) B.

    a, b: int32 or Fr tensors, b broadcastable to a. Returns ({"a": [...], "b": [...]}, proof,
    transcript). Pure and jit-able.
    """
    fa, fb = as_field(a, "a"), as_field(b, "b")
    a_shape = fa.shape[:-1]
    b_full = broadcast_shape(a_shape, fb.shape[:-1])
    check_claim(out_claim, nvars(a_shape), "output claim", "hadamard")
    t = _begin(transcript, a_shape, b_full, b_public, out_claim)
    fb = fb.reshape(b_full + (field.LIMBS,))
    b_bar = jnp.broadcast_to(fb, a_shape + (field.LIMBS,))
    r, finals, sc, t = prove_product(fa, b_bar, out_claim.point, t,
                                     label=HADAMARD + b"/sumcheck")
    out: ClaimSet = {"a": [Claim(point=r, value=finals[0])]}
    if not b_public:
        rb = restrict(r, a_shape, b_full)
        out["b"] = [Claim(point=rb, value=evaluate(fb, rb) if b_full != a_shape else finals[1])]
    return out, HadamardProof(sumcheck=sc), t


def verify(a_shape: Sequence[int], b_shape: Sequence[int], out_claim: Claim,
           proof: HadamardProof, transcript: Transcript, *, b_public: Any | None = None
           ) -> tuple[ClaimSet, Transcript]:
    """Check `prove`. Pass the public B as `b_public` (then no claim on B is returned).

    Raises GadgetError("hadamard", check, ...).
    """
    a_shape = tuple(int(d) for d in a_shape)
    b_full = broadcast_shape(a_shape, b_shape)
    check_claim(out_claim, nvars(a_shape), "output claim", "hadamard")
    if not isinstance(proof, HadamardProof):
        raise GadgetError("hadamard", "shape", "not a HadamardProof")
    t = _begin(transcript, a_shape, b_full, b_public is not None, out_claim)
    r_i, finals, t = verify_product("hadamard", a_shape, ints(out_claim.value)[0],
                                    proof.sumcheck, t, out_claim.point,
                                    label=HADAMARD + b"/sumcheck")
    r = core.encode_point(r_i)
    factor = broadcast_factor(r_i, a_shape, b_full)
    rb = restrict(r, a_shape, b_full)
    out: ClaimSet = {"a": [Claim(point=r, value=field.encode(finals[0]))]}
    if b_public is not None:
        fb = as_field(b_public, "b_public")
        if tuple(fb.shape[:-1]) != tuple(int(d) for d in b_shape):
            raise ValueError(f"hadamard: public b has shape {tuple(fb.shape[:-1])}, expected "
                             f"{tuple(b_shape)}")
        want = ints(evaluate(fb.reshape(b_full + (field.LIMBS,)), rb))[0] * factor % R
        if want != finals[1]:
            raise GadgetError("hadamard", "public_factor", "the public factor's MLE differs "
                              "from the sumcheck's final value")
        return out, t
    if factor == 0:
        raise GadgetError("hadamard", "degenerate", "the broadcast indicator vanishes at r")
    b_val = finals[1] * pow(factor, -1, R) % R
    out["b"] = [Claim(point=rb, value=field.encode(b_val))]
    return out, t


__all__ = ["HADAMARD", "HadamardProof", "broadcast_factor", "broadcast_shape", "prove",
           "prove_product", "restrict", "verify", "verify_product"]
