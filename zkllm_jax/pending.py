"""The work a proof step leaves to the end: range checks and openings of committed tensors.

A step (a decoder layer, the embedding, the head, one stage of the per-layer workflow) reduces
its claims down to claims on committed tensors and lists the committed tensors whose range it
relies on. Instead of discharging them itself, it can hand them over as `Pending`; several
steps' `Pending` merge into one and `prove_finish` discharges them together:

1. one range check per range table over every range-checked tensor of the merged steps (LogUp
   over packed blocks, `gadgets.rangecheck`), whose claims join the others;
2. one batched Hyrax opening per (generator set, layout) over every claimed tensor
   (`claims.prove_openings`): equally shaped tensors of different layers share one opening.

Soundness. Both arguments need the tensors committed and absorbed before their challenges:
every step absorbs its commitments when it begins, so anything merged from earlier steps is
bound before the finish draws its first challenge. Claims on one tensor from different steps
(a layer's output read by the next layer) are folded into one by the opening's sumcheck.
Names are global within a finish (`rename` prefixes a step's local names); a tensor claimed
by two steps must carry the same name in both.

Batching saves the range tables' fixed cost (2^16–2^17 entries each) once per step, the
opening proofs once per step and the range lookups' proof bytes; it costs memory, since the
prover keeps every merged tensor's witness until the finish.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import jax
from flax import struct

from . import claims, commit
from .claims import ClaimSet, GroupOpening
from .gadgets import rangecheck
from .gadgets.rangecheck import Range
from .lookup import LookupProof
from .transcript import Transcript

Array = jax.Array
WEIGHT_GENS = "weights"
ADVICE_GENS = "advice"
ADVICE_TAG = b"zkllm-jax/advice"


class Pending(NamedTuple):
    """(A NamedTuple, hence a pytree: under jit return only its array parts and rebuild the
    ranges and shapes, which are static, outside.)

    claims: name -> claims on committed tensors; ranges: name -> the range it must lie in;
    shapes: name -> tensor shape (of every range-checked tensor); commitments: name -> its
    commitment (of every claimed or range-checked tensor). Prover only (empty on the
    verifier's side): columns, name -> int32 tensor (range-checked ones); witnesses, name ->
    opening witness."""

    claims: ClaimSet
    ranges: dict[str, Range]
    shapes: dict[str, tuple[int, ...]]
    commitments: dict[str, commit.Commitment]
    columns: Mapping[str, Array] = MappingProxyType({})
    witnesses: Mapping[str, commit.Witness] = MappingProxyType({})


@struct.dataclass
class Finish:
    """ranges: one range lookup per range table; openings: one batched opening per group."""

    ranges: dict[str, LookupProof]
    openings: dict[str, GroupOpening]


EMPTY = Pending(claims={}, ranges={}, shapes={}, commitments={})


def rename(p: Pending, fn: Callable[[str], str]) -> Pending:
    """The same pending work under new names (fn must be one-to-one on p's names)."""
    def re(d: Mapping[str, Any]) -> dict[str, Any]:
        out = {fn(k): v for k, v in d.items()}
        if len(out) != len(d):
            raise ValueError("pending.rename: two names map to one")
        return out
    return Pending(claims=re(p.claims), ranges=re(p.ranges), shapes=re(p.shapes),
                   commitments=re(p.commitments), columns=re(p.columns),
                   witnesses=re(p.witnesses))


def merge(a: Pending, b: Pending) -> Pending:
    """a's and b's work together; claims on one name are concatenated (a's first). A name
    range-checked by both must have the same range (checked once)."""
    cl = {k: list(v) for k, v in a.claims.items()}
    for k, v in b.claims.items():
        cl.setdefault(k, []).extend(v)
    for k in set(a.ranges) & set(b.ranges):
        if tuple(a.ranges[k]) != tuple(b.ranges[k]):
            raise ValueError(f"pending.merge: {k!r} is range-checked in two different ranges")
    return Pending(claims=cl, ranges={**b.ranges, **a.ranges}, shapes={**b.shapes, **a.shapes},
                   commitments={**b.commitments, **a.commitments},
                   columns={**b.columns, **a.columns}, witnesses={**b.witnesses, **a.witnesses})


def gens_of(names: Any) -> dict[str, str]:
    """Generator set of each tensor: weights ("w/..." names) or advice."""
    return {n: WEIGHT_GENS if n.split("/", 1)[0] == "w" else ADVICE_GENS for n in names}


@functools.lru_cache(maxsize=8)
def advice_generators(cols: int) -> commit.Generators:
    """The advice generators (hash-to-curve under ADVICE_TAG) for `cols` columns; sets of one
    tag differ only in length, each a prefix of the longer ones."""
    return commit.setup(cols, ADVICE_TAG)


def _advice_gens_for(p: Pending) -> commit.Generators:
    """Advice generators as wide as p's widest advice commitment (an opening uses the first
    2^col_vars of them, whatever the set's length)."""
    cols = [1 << c.col_vars for n, c in p.commitments.items() if gens_of([n])[n] == ADVICE_GENS]
    return advice_generators(max([1, *cols]))


def _with_range_claims(p: Pending, rc: Mapping[str, list]) -> ClaimSet:
    cl = {k: list(v) for k, v in p.claims.items()}
    for k, v in rc.items():
        cl.setdefault(k, []).extend(v)
    return cl


def prove_finish(p: Pending, weight_gens: commit.Generators, transcript: Transcript, key: Array,
                 *, check_witness: bool = True) -> tuple[Finish, Transcript]:
    """Discharge `p`: the range checks, then every claim's opening (jit-able)."""
    missing = set(p.ranges) - set(p.columns)
    if missing:
        raise ValueError(f"pending: no column for range-checked {sorted(missing)}")
    k_rng, k_open = jax.random.split(key)
    rc, range_proofs, t = rangecheck.prove({n: p.columns[n] for n in p.ranges}, p.ranges,
                                           transcript, k_rng, check_witness=check_witness)
    cl = _with_range_claims(p, rc)
    gens = {WEIGHT_GENS: weight_gens, ADVICE_GENS: _advice_gens_for(p)}
    openings, t = claims.prove_openings(cl, p.commitments, p.witnesses, gens, t, k_open,
                                        gens_of=gens_of(cl))
    return Finish(ranges=range_proofs, openings=openings), t


def verify_finish(p: Pending, weight_gens: commit.Generators, fin: Finish,
                  transcript: Transcript) -> Transcript:
    """Check `prove_finish`. Raises GadgetError ("range_check" or "openings", naming the
    range or the group)."""
    if not isinstance(fin, Finish):
        raise claims.GadgetError("finish", "shape", "not a Finish proof")
    rc, t = rangecheck.verify({n: p.shapes[n] for n in p.ranges}, p.ranges, fin.ranges,
                              transcript)
    cl = _with_range_claims(p, rc)
    gens = {WEIGHT_GENS: weight_gens, ADVICE_GENS: _advice_gens_for(p)}
    return claims.verify_openings(cl, p.commitments, gens, fin.openings, t, gens_of=gens_of(cl))


__all__ = ["ADVICE_GENS", "ADVICE_TAG", "EMPTY", "WEIGHT_GENS", "Finish", "Pending",
           "advice_generators", "gens_of", "merge", "prove_finish", "rename", "verify_finish"]
