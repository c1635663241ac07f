"""Rescale: Y = 2^k·Y' + r with r ∈ [−2^(k−1), 2^(k−1)) (round half up, `models/intmath.py`).

Direction of the claims: a claim on the rescaled tensor Y' (the op's `out`, which the next op
consumes) plus claims on the committed advice gives a claim on the raw product Y (which the
matmul / Hadamard / RoPE gadget then reduces). Y itself is never materialised.

Committed advice (`advice`, to be committed by the caller and absorbed before `prove`):
- the remainder r: `rem` (k ≤ 16), or its pieces `rem_lo`, `rem_hi` (16 < k ≤ 30);
- with `bound_out` (default), Y' as two 16-bit pieces `out_lo` ∈ [0, 2^16), `out_hi` ∈
  [−2^15, 2^15), i.e. Y' = out_lo + 2^16·out_hi is exactly an int32.
Every piece is range-checked by a lookup (`rangecheck`; `range_check=False` leaves that to the
caller, who then checks the `ranges(...)` of the same tensors, e.g. batched over a layer).

Protocol for a claim Y'(u) = v: the prover sends each piece's MLE at u; the verifier checks
v = out_lo(u) + 2^16·out_hi(u) (with `bound_out`) and outputs
    Y(u) = 2^k·v + Σ_pieces of r 2^shift·piece(u),
plus a claim per piece at u (and per piece at the lookup's point).

Why Y' must be bounded (uniqueness). r in range alone does not pin Y' in the field: for any r'
in range, Y'' = (Y − r')/2^k mod p satisfies the same linear relation. With both pieces of Y'
range-checked, the pairs (Y', r) ∈ int32 × [−2^(k−1), 2^(k−1)) map injectively to the field by
(Y', r) ↦ 2^k·Y' + r, since these integers span fewer than 2^(k+32) < p consecutive values; so for
the field element Y at most one admissible pair exists, and when Y is the true integer product
(|Y| < p/2 by the bounds on the factors) it is the round-half-up quotient and remainder.
`bound_out=False` is for a Y' that the caller bounds otherwise (e.g. a later lookup on a
committed Y'): its claim is then returned as {"out": [...]} for the caller to discharge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from .. import field
from ..claims import Claim, ClaimSet, GadgetError, absorb_claim, check_claim, evaluate, ints
from ..claims import num_vars as nvars
from ..lookup import LookupProof
from ..transcript import Transcript
from . import rangecheck
from .rangecheck import Range

Array = jax.Array
R = field.R
RESCALE = b"gadget/rescale"
OUT_BITS = 32


@struct.dataclass
class RescaleProof:
    """values: Fr[P, 8], each committed piece's MLE at the claim's point (sorted by name);
    ranges: the range lookups by range key (empty with range_check=False)."""

    values: Array
    ranges: dict[str, LookupProof]


def _check_bits(bits: int) -> int:
    if not 1 <= int(bits) <= 30:
        raise ValueError(f"rescale: the shift k must be in [1, 30], got {bits}")
    return int(bits)


def layout(bits: int, bound_out: bool = True) -> dict[str, tuple[str, int, Range]]:
    """The committed pieces: name -> (what: "rem" | "out", shift, range)."""
    bits = _check_bits(bits)
    out: dict[str, tuple[str, int, Range]] = {}
    rem = rangecheck.signed_pieces(bits)
    if len(rem) == 1:
        out["rem"] = ("rem", 0, rem[0][1])
    else:
        out["rem_lo"], out["rem_hi"] = (("rem", s, r) for s, r in rem)
    if bound_out:
        lo, hi = rangecheck.signed_pieces(OUT_BITS)
        out["out_lo"], out["out_hi"] = ("out", *lo), ("out", *hi)
    return out


def ranges(bits: int, bound_out: bool = True) -> dict[str, Range]:
    """The range each committed piece must lie in."""
    return {n: rng for n, (_, _, rng) in layout(bits, bound_out).items()}


def advice(out: Any, rem: Any, bits: int, bound_out: bool = True) -> dict[str, Array]:
    """The int32 tensors the caller commits (names as in `layout`); jit-able."""
    pieces = {"rem": rangecheck.split_signed(rem, bits),
              "out": rangecheck.split_signed(out, OUT_BITS)}
    used = {"rem": 0, "out": 0}
    res: dict[str, Array] = {}
    for name, (what, _, _) in layout(bits, bound_out).items():
        res[name] = pieces[what][used[what]]
        used[what] += 1
    return res


def _shape_of(x: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in x.shape)


def _begin(t: Transcript, bits: int, bound_out: bool, shape: Sequence[int],
           claim: Claim) -> Transcript:
    t = t.begin(RESCALE, [bits, int(bound_out), len(shape), *shape])
    return absorb_claim(t, b"out", claim)


def _raw_value(lay: dict, names: list[str], vals: list[int], v_out: int, bits: int) -> int:
    rem = sum(v << s for n, v in zip(names, vals) for (what, s, _) in [lay[n]] if what == "rem")
    return ((v_out << bits) + rem) % R


def prove(
    out: Any,
    rem: Any,
    out_claim: Claim,
    transcript: Transcript,
    *,
    bits: int,
    key: Array | None = None,
    bound_out: bool = True,
    range_check: bool = True,
) -> tuple[ClaimSet, RescaleProof, Transcript]:
    """Turn a claim on `out` (Y') into a claim on the raw Y = 2^bits·out + rem.

    out, rem: int32 tensors of one shape (the model's `out` and `rem`); key: randomness for the
    range lookups (needed with range_check). Returns ({"raw": [...], <piece>: [...], ...}, proof,
    transcript); with bound_out=False also {"out": [out_claim]}. Pure and jit-able.
    """
    shape = _shape_of(out)
    if _shape_of(rem) != shape:
        raise ValueError(f"rescale: out {shape} and rem {_shape_of(rem)} differ in shape")
    return prove_advice(advice(out, rem, bits, bound_out), out_claim, transcript, bits=bits,
                        key=key, bound_out=bound_out, range_check=range_check)


def prove_advice(
    pieces: dict[str, Any],
    out_claim: Claim,
    transcript: Transcript,
    *,
    bits: int,
    key: Array | None = None,
    bound_out: bool = True,
    range_check: bool = True,
    check_witness: bool = True,
) -> tuple[ClaimSet, RescaleProof, Transcript]:
    """`prove` from the committed pieces themselves (as returned by `advice`).

    For callers that committed the advice already (pass the same tensors), and for tests that
    build dishonest pieces: nothing here checks the pieces against `out`. check_witness=False
    skips the eager range check (an out-of-range piece then only fails verification).
    """
    bits = _check_bits(bits)
    lay = layout(bits, bound_out)
    names = sorted(lay)
    if sorted(pieces) != names:
        raise ValueError(f"rescale: pieces {sorted(pieces)}, expected {names}")
    shape = _shape_of(pieces[names[0]])
    if any(_shape_of(pieces[n]) != shape for n in names):
        raise ValueError("rescale: the pieces differ in shape")
    check_claim(out_claim, nvars(shape), "output claim", "rescale")
    t = _begin(transcript, bits, bound_out, shape, out_claim)
    u = out_claim.point
    values = jnp.stack([evaluate(pieces[n], u) for n in names])
    t = t.absorb_field(b"pieces", values)
    rem_val = field.zeros(())
    for n, v in zip(names, values):
        what, s, _ = lay[n]
        if what == "rem":
            rem_val = field.add(rem_val, field.mul(v, field.encode(1 << s)))
    raw = field.add(field.mul(out_claim.value, field.encode(1 << bits)), rem_val)
    claims: ClaimSet = {"raw": [Claim(point=u, value=raw)]}
    for n, v in zip(names, values):
        claims[n] = [Claim(point=u, value=v)]
    if not bound_out:
        claims["out"] = [out_claim]
    proofs: dict[str, LookupProof] = {}
    if range_check:
        if key is None:
            raise ValueError("rescale: range_check needs a PRNG key")
        rc, proofs, t = rangecheck.prove({n: pieces[n] for n in names}, ranges(bits, bound_out),
                                         t, key, check_witness=check_witness)
        for n, cl in rc.items():
            claims[n] = claims[n] + cl
    return claims, RescaleProof(values=values, ranges=proofs), t


def verify(
    shape: Sequence[int],
    out_claim: Claim,
    proof: RescaleProof,
    transcript: Transcript,
    *,
    bits: int,
    bound_out: bool = True,
    range_check: bool = True,
) -> tuple[ClaimSet, Transcript]:
    """Check `prove`; returns the claim on the raw tensor and on the pieces.

    Raises GadgetError("rescale", check, ...): `out_pieces` when out's pieces do not add up to
    the claim, `range_check` (as gadget "range_check") when a lookup fails.
    """
    bits = _check_bits(bits)
    shape = tuple(int(d) for d in shape)
    check_claim(out_claim, nvars(shape), "output claim", "rescale")
    lay = layout(bits, bound_out)
    names = sorted(lay)
    if not isinstance(proof, RescaleProof) or tuple(proof.values.shape) != (len(names),
                                                                            field.LIMBS):
        raise GadgetError("rescale", "shape", f"the proof must carry {len(names)} piece values")
    t = _begin(transcript, bits, bound_out, shape, out_claim)
    t = t.absorb_field(b"pieces", proof.values)
    vals = ints(proof.values)
    v_out = ints(out_claim.value)[0]
    if bound_out:
        pieces = sum(v << s for n, v in zip(names, vals) for (what, s, _) in [lay[n]]
                     if what == "out") % R
        if pieces != v_out:
            raise GadgetError("rescale", "out_pieces", "out_lo + 2^16·out_hi differs from the "
                              "claim on the rescaled tensor")
    u = out_claim.point
    claims: ClaimSet = {"raw": [Claim(point=u, value=field.encode(
        _raw_value(lay, names, vals, v_out, bits)))]}
    for i, n in enumerate(names):
        claims[n] = [Claim(point=u, value=proof.values[i])]
    if not bound_out:
        claims["out"] = [out_claim]
    if range_check:
        rc, t = rangecheck.verify({n: shape for n in names}, ranges(bits, bound_out),
                                  proof.ranges, t)
        for n, cl in rc.items():
            claims[n] = claims[n] + cl
    elif proof.ranges:
        raise GadgetError("rescale", "shape", "range proofs present but range_check is off")
    return claims, t


__all__ = ["OUT_BITS", "RESCALE", "RescaleProof", "advice", "layout", "prove", "prove_advice",
           "ranges", "verify"]
