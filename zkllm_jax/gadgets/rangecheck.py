"""Range checks of committed int32 tensors, one LogUp-GKR lookup per range table.

A range is [lo, lo + 2^log_size). `prove` groups the columns by range (sorted by (lo, log_size),
then by name) and runs `lookup.prove` once per range, so several tensors checked against the
same range share one argument and one multiplicity commitment. The lookup returns claims on the
columns' MLEs at its point; they come back here as ordinary claims, to be discharged against the
columns' commitments (`claims.prove_openings`).

Soundness precondition (from `lookup`): the columns must be bound (committed and absorbed into
the transcript) before `prove` runs.

Wide signed values are split into 16-bit pieces so no table exceeds 2^16 entries:
`signed_pieces(bits)` describes a value v in [−2^(bits−1), 2^(bits−1)) as
    bits ≤ 16:       v itself, range [−2^(bits−1), 2^(bits−1));
    16 < bits ≤ 32:  v = lo + 2^16·hi, lo ∈ [0, 2^16), hi ∈ [−2^(bits−17), 2^(bits−17)),
and the pieces cover exactly that interval, each value once.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from .. import commit, lookup
from ..claims import Claim, ClaimSet, GadgetError
from ..lookup import LookupProof
from ..transcript import Transcript

Array = jax.Array
PIECE_BITS = 16


class Range(NamedTuple):
    """The integers [lo, lo + 2^log_size)."""

    lo: int
    log_size: int

    @property
    def key(self) -> str:
        return f"[{self.lo},{self.lo + (1 << self.log_size)})"


def signed_range(bits: int) -> Range:
    """[−2^(bits−1), 2^(bits−1))."""
    return Range(-(1 << (bits - 1)), bits)


def signed_pieces(bits: int) -> list[tuple[int, Range]]:
    """(shift, range) of each piece of a signed `bits`-bit value (see the module docstring)."""
    if not 1 <= bits <= 32:
        raise ValueError(f"signed_pieces: bits must be in [1, 32], got {bits}")
    if bits <= PIECE_BITS:
        return [(0, signed_range(bits))]
    return [(0, Range(0, PIECE_BITS)), (PIECE_BITS, signed_range(bits - PIECE_BITS))]


def split_signed(x: Array, bits: int) -> list[Array]:
    """The pieces of int32 x (as `signed_pieces(bits)`); jit-able."""
    x = jnp.asarray(x, jnp.int32)
    if bits <= PIECE_BITS:
        return [x]
    return [x & ((1 << PIECE_BITS) - 1), x >> PIECE_BITS]


@functools.cache
def table(rng: Range) -> lookup.Table:
    """The lookup table of a range (cached)."""
    return lookup.range_table(rng.lo, rng.log_size)


@functools.cache
def generators(rng: Range) -> commit.Generators:
    """Generators of the range's multiplicity commitment (cached)."""
    return lookup.setup(table(rng))


def _groups(ranges: Mapping[str, Range]) -> list[tuple[Range, list[str]]]:
    by: dict[Range, list[str]] = {}
    for name in sorted(ranges):
        by.setdefault(Range(*ranges[name]), []).append(name)
    return sorted(by.items())


def prove(
    columns: Mapping[str, Any],
    ranges: Mapping[str, Range],
    transcript: Transcript,
    key: Array,
    *,
    check_witness: bool = True,
) -> tuple[ClaimSet, dict[str, LookupProof], Transcript]:
    """Prove every column (int32 tensor, by name) lies in its range.

    Concrete columns are checked first (ValueError naming the column, index and value) unless
    `check_witness` is False (then an out-of-range element only makes verification fail, as
    inside `jit`). Returns the claims on the columns (by name), the lookup proofs (by range
    key) and the transcript.
    """
    if set(columns) != set(ranges):
        raise ValueError(f"rangecheck: columns {sorted(columns)} and ranges {sorted(ranges)} "
                         "name different tensors")
    groups = _groups(ranges)
    keys = jax.random.split(key, max(1, len(groups)))
    out: ClaimSet = {}
    proofs: dict[str, LookupProof] = {}
    t = transcript
    for gi, (rng, names) in enumerate(groups):
        cols = [columns[n] for n in names]
        if check_witness:
            cl, prf, t = lookup.prove(table(rng), cols, t, generators(rng), keys[gi],
                                      names=names)
        else:
            m = lookup.multiplicities(table(rng), cols)
            cl, prf, t = lookup.prove_with_multiplicities(table(rng), cols, m, t,
                                                          generators(rng), keys[gi])
        proofs[rng.key] = prf
        for i, n in enumerate(names):
            out[n] = [Claim(point=cl.column_point(i), value=cl.values[i, 0])]
    return out, proofs, t


def verify(
    shapes: Mapping[str, Sequence[int]],
    ranges: Mapping[str, Range],
    proofs: Mapping[str, LookupProof],
    transcript: Transcript,
) -> tuple[ClaimSet, Transcript]:
    """Check `prove`; returns the claims on the columns. Raises GadgetError("range_check", ...)."""
    groups = _groups(ranges)
    if set(proofs) != {rng.key for rng, _ in groups}:
        raise GadgetError("range_check", "shape", f"proofs for ranges {sorted(proofs)}, expected "
                          f"{sorted(rng.key for rng, _ in groups)}")
    out: ClaimSet = {}
    t = transcript
    for rng, names in groups:
        try:
            cl, t = lookup.verify(table(rng), [tuple(shapes[n]) for n in names], proofs[rng.key],
                                  t, generators(rng))
        except lookup.LookupError as e:
            raise GadgetError("range_check", e.check, f"range {rng.key} of {names}: {e}",
                              e.round) from e
        for i, n in enumerate(names):
            out[n] = [Claim(point=cl.column_point(i), value=cl.values[i, 0])]
    return out, t


__all__ = ["PIECE_BITS", "Range", "generators", "prove", "signed_pieces", "signed_range",
           "split_signed", "table", "verify"]
