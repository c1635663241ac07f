"""Residual add: out = A + B, proven homomorphically.

MLEs are linear, so out(u) = A(u) + B(u). For a claim out(u) = v the prover sends a = A(u); the
claims A(u) = a and B(u) = v − a follow (if both hold, out(u) = v). Nothing is committed: when A
and B are committed, `commitment(A, B)` is the commitment of out (Hyrax rows add), so out needs
no commitment of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
from flax import struct

from .. import commit, field
from ..claims import Claim, ClaimSet, GadgetError, absorb_claim, check_claim, evaluate
from ..claims import num_vars as nvars
from ..transcript import Transcript

Array = jax.Array
SKIP = b"gadget/skip"


@struct.dataclass
class SkipProof:
    """a_value: Fr[8], A's MLE at the claim's point."""

    a_value: Array


def _begin(t: Transcript, shape: Sequence[int], claim: Claim) -> Transcript:
    t = t.begin(SKIP, [len(shape), *shape])
    return absorb_claim(t, b"out", claim)


def prove(a: Any, b: Any, out_claim: Claim, transcript: Transcript
          ) -> tuple[ClaimSet, SkipProof, Transcript]:
    """Split a claim on A + B into claims on A and B; returns ({"a", "b"}, proof, t). Jit-able.

    b is accepted for the uniform API (its claim is derived, not computed).
    """
    shape = tuple(int(d) for d in a.shape)
    if tuple(int(d) for d in b.shape) != shape:
        raise ValueError(f"skip: a {shape} and b {tuple(b.shape)} differ in shape")
    check_claim(out_claim, nvars(shape), "output claim", "skip")
    t = _begin(transcript, shape, out_claim)
    a_val = evaluate(a, out_claim.point)
    t = t.absorb_field(b"a", a_val)
    b_val = field.sub(out_claim.value, a_val)
    return ({"a": [Claim(point=out_claim.point, value=a_val)],
             "b": [Claim(point=out_claim.point, value=b_val)]}, SkipProof(a_value=a_val), t)


def verify(shape: Sequence[int], out_claim: Claim, proof: SkipProof, transcript: Transcript
           ) -> tuple[ClaimSet, Transcript]:
    """Check `prove` (nothing to check but shapes: the claims carry the burden)."""
    shape = tuple(int(d) for d in shape)
    check_claim(out_claim, nvars(shape), "output claim", "skip")
    if not isinstance(proof, SkipProof) or tuple(proof.a_value.shape) != (field.LIMBS,):
        raise GadgetError("skip", "shape", "the proof must carry one field element")
    t = _begin(transcript, shape, out_claim)
    t = t.absorb_field(b"a", proof.a_value)
    b_val = field.sub(out_claim.value, proof.a_value)
    return ({"a": [Claim(point=out_claim.point, value=proof.a_value)],
             "b": [Claim(point=out_claim.point, value=b_val)]}, t)


def commitment(a: commit.Commitment, b: commit.Commitment) -> commit.Commitment:
    """The commitment of A + B from those of A and B (same generators and layout)."""
    return commit.add(a, b)


__all__ = ["SKIP", "SkipProof", "commitment", "prove", "verify"]
