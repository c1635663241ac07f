"""Range checks of committed int32 tensors, one LogUp-GKR lookup per range table.

A range is [lo, lo + 2^log_size). `prove` groups the columns by range (sorted by (lo, log_size),
then by name) and runs `lookup.prove` once per range, so several tensors checked against the
same range share one argument and one multiplicity commitment. The lookup returns claims on the
columns' MLEs at its point; they come back here as ordinary claims, to be discharged against the
columns' commitments (`claims.prove_openings`).

Soundness precondition (from `lookup`): the columns must be bound (committed and absorbed into
the transcript) before `prove` runs.

Packing. The lookup lays its columns out as blocks of one size, the largest column's (2^C
entries); a layer checks columns of very different sizes against one range, which would pad most
of them many times over. So columns of one range are packed (largest first, each at an offset
aligned to its own padded size 2^c_i) into as few 2^C blocks as fit, and the lookup runs over the
blocks. The unused tail of a block and each column's own padding are zeros, which every range
containing 0 accepts (ranges without 0 are not packed). At the lookup's point r (C coordinates)
the prover sends every column's value v_i = col_i(r[0:c_i]); the verifier checks, per block,
    block(r) = Σ_{i in the block} eq(r[c_i:C], o_i / 2^c_i)·v_i
(the block's MLE, o_i the column's offset), and returns the claims col_i(r[0:c_i]) = v_i. A
false v_i leaves a false claim on col_i, which its opening catches; true v_i give the block's
value, so packing adds no soundness error beyond the openings'.

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
from flax import struct

from .. import commit, field, lookup, mle
from ..claims import Claim, ClaimSet, GadgetError, evaluate_many, ints
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


@struct.dataclass
class PackedLookup:
    """A lookup over packed blocks (see the module docstring): values Fr[K, 8], each column's
    MLE at its prefix of the lookup's point, in the group's name order."""

    lookup: LookupProof
    values: Array


def _vars(shape: Sequence[int]) -> int:
    return sum(mle.num_vars(int(d)) for d in shape)


def packing(shapes: Sequence[Sequence[int]], rng: Range) -> list[list[tuple[int, int]]] | None:
    """Blocks of (column index, offset) for columns of these shapes, or None when packing does
    not reduce the number of blocks (or the range lacks 0, which fills the gaps)."""
    if not rng.lo <= 0 < rng.lo + (1 << rng.log_size) or len(shapes) < 2:
        return None
    sizes = [1 << _vars(s) for s in shapes]
    big = max(sizes)
    order = sorted(range(len(shapes)), key=lambda i: (-sizes[i], i))
    blocks: list[list[tuple[int, int]]] = []
    used = big
    for i in order:
        if used + sizes[i] > big:
            blocks.append([])
            used = 0
        blocks[-1].append((i, used))
        used += sizes[i]
    return blocks if len(blocks) < len(shapes) else None


def _flat_padded(x: Array) -> Array:
    widths = [(0, (1 << mle.num_vars(int(d))) - int(d)) for d in x.shape]
    return jnp.pad(jnp.asarray(x, jnp.int32), widths).reshape(-1)


def _blocks(cols: Sequence[Array], plan: list[list[tuple[int, int]]]) -> list[Array]:
    big = max(1 << _vars(c.shape) for c in cols)
    out = []
    for blk in plan:
        parts = [_flat_padded(cols[i]) for i, _ in blk]
        used = sum(int(p.shape[0]) for p in parts)
        if used < big:
            parts.append(jnp.zeros((big - used,), jnp.int32))
        out.append(jnp.concatenate(parts) if len(parts) > 1 else parts[0])
    return out


def _block_value(point: Sequence[int], blk: list[tuple[int, int]], vals: Sequence[int],
                 col_vars: Sequence[int]) -> int:
    from ..claims import eq_ints

    acc = 0
    for i, off in blk:
        c = col_vars[i]
        high = point[c:]
        acc += eq_ints(high, [(off >> c >> j) & 1 for j in range(len(high))]) * vals[i]
    return acc % field.R


def _values(cols: Sequence[Array], point: Array) -> Array:
    """Each column's MLE at point[:its variables], Fr[K, 8]; columns of one shape share a
    point, so they are evaluated together."""
    by: dict[tuple[int, ...], list[int]] = {}
    for i, c in enumerate(cols):
        by.setdefault(tuple(c.shape), []).append(i)
    out: list[Any] = [None] * len(cols)
    for shape, idx in by.items():
        vals = evaluate_many([cols[i] for i in idx], point[: _vars(shape)])
        for j, i in enumerate(idx):
            out[i] = vals[j]
    return jnp.stack(out)


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
        cols = [jnp.asarray(columns[n], jnp.int32) for n in names]
        plan = packing([c.shape for c in cols], rng)
        if check_witness:
            lookup.check_witness(table(rng), cols, names)
        looked = cols if plan is None else _blocks(cols, plan)
        m = lookup.multiplicities(table(rng), looked)
        cl, prf, t = lookup.prove_with_multiplicities(table(rng), looked, m, t,
                                                      generators(rng), keys[gi])
        if plan is None:
            proofs[rng.key] = prf
            for i, n in enumerate(names):
                out[n] = [Claim(point=cl.column_point(i), value=cl.values[i, 0])]
            continue
        point = cl.column_point(0)
        pts = [point[: _vars(c.shape)] for c in cols]
        vals = _values(cols, point)
        t = t.absorb_field(b"packed", vals)
        proofs[rng.key] = PackedLookup(lookup=prf, values=vals)
        for i, n in enumerate(names):
            out[n] = [Claim(point=pts[i], value=vals[i])]
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
        shp = [tuple(int(d) for d in shapes[n]) for n in names]
        plan = packing(shp, rng)
        prf = proofs[rng.key]
        if plan is not None:
            if not isinstance(prf, PackedLookup) or tuple(prf.values.shape) != (len(names),
                                                                                 field.LIMBS):
                raise GadgetError("range_check", "shape", f"range {rng.key}: expected a packed "
                                  f"lookup with {len(names)} column values")
            big = max(1 << _vars(s) for s in shp)
            looked, prf = [(big,)] * len(plan), prf.lookup
        elif isinstance(prf, PackedLookup):
            raise GadgetError("range_check", "shape", f"range {rng.key}: unexpected packing")
        else:
            looked = shp
        try:
            cl, t = lookup.verify(table(rng), looked, prf, t, generators(rng))
        except lookup.LookupError as e:
            raise GadgetError("range_check", e.check, f"range {rng.key} of {names}: {e}",
                              e.round) from e
        if plan is None:
            for i, n in enumerate(names):
                out[n] = [Claim(point=cl.column_point(i), value=cl.values[i, 0])]
            continue
        vals_f = proofs[rng.key].values
        vals = ints(vals_f)
        point = ints(cl.column_point(0))
        col_vars = [_vars(s) for s in shp]
        for b, blk in enumerate(plan):
            if _block_value(point, blk, vals, col_vars) != ints(cl.values[b, 0])[0]:
                raise GadgetError("range_check", "packing", f"range {rng.key}: block {b}'s "
                                  "value differs from its columns' values")
        t = t.absorb_field(b"packed", vals_f)
        pt = cl.column_point(0)
        for i, n in enumerate(names):
            out[n] = [Claim(point=pt[: col_vars[i]], value=vals_f[i])]
    return out, t


__all__ = [
    "PIECE_BITS",
    "PackedLookup",
    "Range",
    "generators",
    "packing",
    "prove",
    "signed_pieces",
    "signed_range",
    "split_signed",
    "table",
    "verify",
]
