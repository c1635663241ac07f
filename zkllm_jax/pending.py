"""The work a proof step leaves to the end: range checks, table lookups and openings.

A step (a decoder layer, the embedding, the head, one stage of the per-layer workflow) reduces
its claims down to claims on committed tensors and lists the committed tensors whose range it
relies on. Instead of discharging them itself, it can hand them over as `Pending`; several
steps' `Pending` merge into one and `prove_finish` discharges them together:

1. one range check per range table over every range-checked tensor of the merged steps (LogUp
   over packed blocks, `gadgets.rangecheck`), whose claims join the others;
2. one mapping lookup per public table (SwiGLU's SiLU table) over every (input, output)
   column pair of the merged steps, whose claims join the others;
3. one batched Hyrax opening per (generator set, row width) over every claim on a committed
   tensor (`claims.prove_openings`): tensors of different layers share one opening.

Soundness. Both arguments need the tensors committed and absorbed before their challenges:
every step absorbs its commitments when it begins, so anything merged from earlier steps is
bound before the finish draws its first challenge. Claims on one tensor from different steps
(a layer's output read by the next layer) are folded into one by the opening's sumcheck.
Names are global within a finish (`rename` prefixes a step's local names); a tensor claimed
by two steps must carry the same name in both.

Batching saves the tables' fixed cost (2^16–2^17 entries per range table, 2^20 for SiLU) once
per step, the opening proofs once per step and the lookups' proof bytes; it costs memory, since the
prover keeps every merged tensor's witness until the finish.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from . import claims, codecache, commit, field, lookup, prng
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
    verifier's side): columns, name -> int32 tensor (range-checked and looked-up ones);
    witnesses, name -> opening witness. lookups: table key -> (input, output) column names
    to look up in that table; tables: table key -> (the public table, its multiplicity
    generators). shapes covers the looked-up columns too."""

    claims: ClaimSet
    ranges: dict[str, Range]
    shapes: dict[str, tuple[int, ...]]
    commitments: dict[str, commit.Commitment]
    columns: Mapping[str, Array] = MappingProxyType({})
    witnesses: Mapping[str, commit.Witness] = MappingProxyType({})
    lookups: Mapping[str, list[tuple[str, str]]] = MappingProxyType({})
    tables: Mapping[str, tuple[lookup.Table, commit.Generators]] = MappingProxyType({})


@struct.dataclass
class Finish:
    """ranges: one range lookup per range table; lookups: one mapping lookup per table;
    openings: one batched opening per group."""

    ranges: dict[str, LookupProof]
    lookups: dict[str, LookupProof]
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
                   witnesses=re(p.witnesses),
                   lookups={k: [(fn(x), fn(y)) for x, y in v] for k, v in p.lookups.items()},
                   tables=dict(p.tables))


def merge(a: Pending, b: Pending) -> Pending:
    """a's and b's work together; claims on one name are concatenated (a's first). A name
    range-checked by both must have the same range (checked once)."""
    cl = {k: list(v) for k, v in a.claims.items()}
    for k, v in b.claims.items():
        cl.setdefault(k, []).extend(v)
    for k in set(a.ranges) & set(b.ranges):
        if tuple(a.ranges[k]) != tuple(b.ranges[k]):
            raise ValueError(f"pending.merge: {k!r} is range-checked in two different ranges")
    for k in set(a.tables) & set(b.tables):
        if a.tables[k][0].digest != b.tables[k][0].digest:
            raise ValueError(f"pending.merge: two different tables under {k!r}")
    lk = {k: list(v) for k, v in a.lookups.items()}
    for k, v in b.lookups.items():
        lk.setdefault(k, []).extend(v)
    return Pending(claims=cl, ranges={**b.ranges, **a.ranges}, shapes={**b.shapes, **a.shapes},
                   commitments={**b.commitments, **a.commitments},
                   columns={**b.columns, **a.columns}, witnesses={**b.witnesses, **a.witnesses},
                   lookups=lk, tables={**b.tables, **a.tables})


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


def _with_claims(p: Pending, *more: Mapping[str, list]) -> ClaimSet:
    cl = {k: list(v) for k, v in p.claims.items()}
    for m in more:
        for k, v in m.items():
            cl.setdefault(k, []).extend(v)
    return cl


def _pair_claims(pairs: list[tuple[str, str]], lc: lookup.LookupClaims) -> ClaimSet:
    out: ClaimSet = {}
    for i, (x, y) in enumerate(pairs):
        pt = lc.column_point(i)
        out.setdefault(x, []).append(claims.Claim(point=pt, value=lc.values[i, 0]))
        out.setdefault(y, []).append(claims.Claim(point=pt, value=lc.values[i, 1]))
    return out


class _Resolved(Mapping):
    """p's witnesses, a None entry "w/<name>" read from `weights[name]` only when opened (so a
    prover batching many layers never holds every weight's Fr matrix at once).

    Each witness read is tested for non-canonical field elements on the device without waiting
    (`field.noncanonical`); `check()` fetches every test at once and raises naming the first bad
    witness (`commit.check_witness`'s message). A test per read would wait for the device each
    time: 368 reads in a small layer's openings."""

    def __init__(self, wits: Mapping[str, Any], weights: Mapping[str, commit.Witness] | None):
        self._wits, self._weights = wits, weights
        self._bad: dict[str, Array] = {}

    def _read(self, name: str) -> tuple[commit.Witness, str]:
        w = self._wits[name]
        if w is None:
            if self._weights is None or not name.startswith("w/"):
                raise KeyError(f"pending: no witness for {name!r}")
            return self._weights[name[2:]], f"weights[{name[2:]}]"
        return w, f"witnesses[{name}]"

    def __getitem__(self, name: str) -> commit.Witness:
        w, _ = self._read(name)
        if name not in self._bad and not isinstance(w.blinds, jax.core.Tracer):
            tests = [field.noncanonical(x) for x in commit.field_parts(w).values()]
            self._bad[name] = functools.reduce(jnp.logical_or, tests)
        return w

    def check(self) -> None:
        """Raise ValueError naming the first witness read with a non-canonical element."""
        names = list(self._bad)
        for name, bad in zip(names, jax.device_get([self._bad[n] for n in names])):
            if bad:
                commit.check_witness(*self._read(name))

    def __iter__(self):
        return iter(self._wits)

    def __len__(self) -> int:
        return len(self._wits)


def prove_finish(p: Pending, weight_gens: commit.Generators, transcript: Transcript, key: Array,
                 *, check_witness: bool = True,
                 weights: Mapping[str, commit.Witness] | None = None,
                 progress: Callable[[str], None] | None = None) -> tuple[Finish, Transcript]:
    """Discharge `p`: the range checks, the lookups, then every claim's opening (jit-able).
    A witness given as None under "w/<name>" is read from `weights[name]` when its group is
    opened. progress(part), if given (eager use only), is called after "range_check",
    "lookups" and "openings"."""
    # the witnesses (the only field-valued inputs) are checked as they are read (_Resolved)
    with field.trusted():
        return _prove_finish(p, weight_gens, transcript, key, check_witness, weights, progress)


def _prove_finish(p, weight_gens, transcript, key, check_witness, weights, progress):
    def mark(part: str, tr: Transcript) -> None:
        if progress is not None:
            jax.block_until_ready(tr.state)
            progress(part)

    missing = set(p.ranges) - set(p.columns)
    if missing:
        raise ValueError(f"pending: no column for range-checked {sorted(missing)}")
    k_rng, k_lk, k_open = prng.split(key, 3)
    transcript = transcript.with_rng(key)  # masks the folding sumchecks (zero-knowledge mode)
    rc, range_proofs, t = rangecheck.prove({n: p.columns[n] for n in p.ranges}, p.ranges,
                                           transcript, k_rng, check_witness=check_witness)
    mark("range_check", t)
    codecache.relieve(t.state)
    found, lookup_proofs = [rc], {}
    for i, name in enumerate(sorted(p.lookups)):
        pairs = p.lookups[name]
        table, gens_m = p.tables[name]
        cols = [(jnp.asarray(p.columns[x], jnp.int32), jnp.asarray(p.columns[y], jnp.int32))
                for x, y in pairs]
        if check_witness:
            lookup.check_witness(table, cols, [f"({x}, {y})" for x, y in pairs])
        m = lookup.multiplicities(table, cols)
        lc, lookup_proofs[name], t = lookup.prove_with_multiplicities(
            table, cols, m, t, gens_m, prng.fold_in(k_lk, i))
        found.append(_pair_claims(pairs, lc))
    mark("lookups", t)
    codecache.relieve(t.state)
    cl = _with_claims(p, *found)
    gens = {WEIGHT_GENS: weight_gens, ADVICE_GENS: _advice_gens_for(p)}
    wits = _Resolved(p.witnesses, weights)
    openings, t = claims.prove_openings(cl, p.commitments, wits, gens, t, k_open,
                                        gens_of=gens_of(cl))
    wits.check()
    mark("openings", t)
    return Finish(ranges=range_proofs, lookups=lookup_proofs, openings=openings), t


def verify_finish(p: Pending, weight_gens: commit.Generators, fin: Finish,
                  transcript: Transcript) -> Transcript:
    """Check `prove_finish`. Raises GadgetError ("range_check", "lookup" or "openings",
    naming the range, table or group)."""
    if not isinstance(fin, Finish):
        raise claims.GadgetError("finish", "shape", "not a Finish proof")
    rc, t = rangecheck.verify({n: p.shapes[n] for n in p.ranges}, p.ranges, fin.ranges,
                              transcript)
    codecache.relieve(t.state)
    if not isinstance(fin.lookups, Mapping) or set(fin.lookups) != set(p.lookups):
        raise claims.GadgetError("lookup", "shape", "the lookup proofs do not match the "
                                 f"tables {sorted(p.lookups)}")
    found = [rc]
    for name in sorted(p.lookups):
        pairs = p.lookups[name]
        table, gens_m = p.tables[name]
        try:
            lc, t = lookup.verify(table, [p.shapes[x] for x, _ in pairs], fin.lookups[name], t,
                                  gens_m)
        except lookup.LookupError as e:
            raise claims.GadgetError("lookup", e.check, f"table {name!r}: {e}", e.round) from e
        found.append(_pair_claims(pairs, lc))
    codecache.relieve(t.state)
    cl = _with_claims(p, *found)
    gens = {WEIGHT_GENS: weight_gens, ADVICE_GENS: _advice_gens_for(p)}
    return claims.verify_openings(cl, p.commitments, gens, fin.openings, t, gens_of=gens_of(cl))


__all__ = ["ADVICE_GENS", "ADVICE_TAG", "EMPTY", "WEIGHT_GENS", "Finish", "Pending",
           "advice_generators", "gens_of", "merge", "prove_finish", "rename", "verify_finish"]
