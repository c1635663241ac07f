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

Chunks. One lookup argument over 2^h witness entries makes the prover hold a few 2^h-element
field tables (tens of GiB at h = 30, what one 7B layer at 2048 tokens would need), so a range's
lookup is split into chunks of at most 2^MAX_LOOKUP_LOG entries: blocks are at most that large
(C = min(largest column's variables, MAX_LOOKUP_LOG)); a column longer than a block is split
into pieces of 2^C entries (piece j: flat entries [j·2^C, (j+1)·2^C) of the padded column),
each a whole block; consecutive blocks are grouped into chunks of 2^(MAX_LOOKUP_LOG − C), and
each chunk is its own LogUp-GKR lookup into the same public table, with its own multiplicity
commitment, challenges and packed values (absorbed in order). Piece j's value at the chunk's
point r is the column's MLE at (r[0:C], bits of j), an ordinary claim on the column, so a split
column gets one claim per piece, all discharged by its opening. Soundness is that of each
lookup (every entry of every chunk lies in the table) plus the openings; the chunks of a range
are proven one after another on one transcript, each bound by what came before. A range that
fits one chunk is proven exactly as before (same proof bytes, key `rng.key`); otherwise its
proofs are keyed `rng.key#k`.

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

from .. import commit, field, lookup, mle, prng
from ..claims import Claim, ClaimSet, GadgetError, evaluate_many, ints
from ..lookup import LookupProof
from ..transcript import Transcript

Array = jax.Array
PIECE_BITS = 16
# At most 2^MAX_LOOKUP_LOG witness entries per lookup argument (a protocol constant: prover
# and verifier derive the same chunks from it). Longer ranges are proven as several lookups
# into the same table (module docstring, "Chunks"). Each lookup costs a sequence of h masked
# layer sumchecks whatever its size, so fewer, larger lookups are faster: a 7B layer's 2048
# tokens need 41 lookups at 2^26, 21 at 2^27 and 11 at 2^28. Memory grows with the size; with
# the largest levels rebuilt (`lookup.KEEP_LOG`) and the columns folded as int32
# (`mle.evaluate_i32`), that layer proved on an H100 in 36.2 s at 2^28 (range checks 16.7 s)
# and 40.4 s at 2^27 (19.4 s; another call), both peaking at about 41,970 MiB (BENCHMARKS.md).
MAX_LOOKUP_LOG = 28


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


class Piece(NamedTuple):
    """One packed item: column `col` (index in its group), its `piece`-th run of 2^`vars`
    entries (piece 0 and the column's own size when the column is not split), at `offset`
    in its block."""

    col: int
    piece: int
    vars: int
    offset: int


class Chunk(NamedTuple):
    """One lookup argument of a range: packed `blocks` of pieces, or (unpacked) the columns
    `cols` themselves."""

    packed: bool
    blocks: list[list[Piece]]
    cols: list[int]


def plan(shapes: Sequence[Sequence[int]], rng: Range) -> tuple[list[Chunk], int]:
    """How the columns of one range are looked up: the chunks (one lookup argument each, of at
    most 2^MAX_LOOKUP_LOG witness entries) and the block size's variables C (see the module
    docstring). Deterministic in (shapes, rng, MAX_LOOKUP_LOG): prover and verifier agree."""
    col_vars = [_vars(s) for s in shapes]
    top, cap = max(col_vars), MAX_LOOKUP_LOG
    blocks: list[list[Piece]] | None
    if top > cap:
        if not rng.lo <= 0 < rng.lo + (1 << rng.log_size):
            raise ValueError(f"rangecheck: a column of 2^{top} entries is over 2^{cap} and the "
                             f"range {rng.key} lacks 0 (cannot split it into blocks)")
        c = cap
        items = [(i, j, min(v, c)) for i, v in enumerate(col_vars)
                 for j in range(1 << max(0, v - c))]
        items.sort(key=lambda it: (-it[2], it[0], it[1]))
        blocks, used = [], 1 << c
        for i, j, v in items:
            if used + (1 << v) > (1 << c):
                blocks.append([])
                used = 0
            blocks[-1].append(Piece(i, j, v, used))
            used += 1 << v
    else:
        c = top
        old = packing(shapes, rng)
        blocks = None if old is None else [[Piece(i, 0, col_vars[i], off) for i, off in blk]
                                           for blk in old]
    per = 1 << (cap - c)
    if blocks is None:
        idx = list(range(len(shapes)))
        return [Chunk(False, [], idx[k:k + per]) for k in range(0, len(idx), per)], c
    return [Chunk(True, blocks[k:k + per], []) for k in range(0, len(blocks), per)], c


def _chunk_keys(rng: Range, n: int) -> list[str]:
    return [rng.key] if n == 1 else [f"{rng.key}#{k}" for k in range(n)]


def _items(ch: Chunk) -> list[Piece]:
    """A packed chunk's pieces in the order of its values: by column, then piece."""
    return sorted((p for blk in ch.blocks for p in blk), key=lambda p: (p.col, p.piece))


def _piece_point(point: Array, p: Piece, col_vars: int) -> Array:
    """The column's point for piece p's value at the lookup's point: point[:vars], then the
    piece's index in binary (least significant first)."""
    if col_vars <= p.vars:
        return point[:col_vars]
    bits = field.encode([(p.piece >> b) & 1 for b in range(col_vars - p.vars)])
    return jnp.concatenate([point[: p.vars], bits])


def _piece_block_value(point: Sequence[int], blk: list[Piece], vals: Mapping[Piece, int]) -> int:
    from ..claims import eq_ints

    acc = 0
    for p in blk:
        high = point[p.vars:]
        acc += eq_ints(high, [(p.offset >> p.vars >> j) & 1 for j in range(len(high))]) * vals[p]
    return acc % field.R


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
    inside `jit`). Returns the claims on the columns (by name; a column split into pieces gets
    one claim per piece), the lookup proofs (by range key, "key#k" for the chunks of a range
    that needs several) and the transcript.
    """
    if set(columns) != set(ranges):
        raise ValueError(f"rangecheck: columns {sorted(columns)} and ranges {sorted(ranges)} "
                         "name different tensors")
    groups = _groups(ranges)
    keys = prng.split(key, max(1, len(groups)))
    out: ClaimSet = {}
    proofs: dict[str, LookupProof] = {}
    t = transcript
    for gi, (rng, names) in enumerate(groups):
        cols = [jnp.asarray(columns[n], jnp.int32) for n in names]
        col_vars = [_vars(c.shape) for c in cols]
        chunks, c = plan([c.shape for c in cols], rng)
        if check_witness:
            lookup.check_witness(table(rng), cols, names)
        flat: dict[int, Array] = {}
        for k, (ch, pkey) in enumerate(zip(chunks, _chunk_keys(rng, len(chunks)))):
            kk = keys[gi] if len(chunks) == 1 else prng.fold_in(keys[gi], k)
            if not ch.packed:
                looked = [cols[i] for i in ch.cols]
                m = lookup.multiplicities(table(rng), looked)
                cl, prf, t = lookup.prove_with_multiplicities(table(rng), looked, m, t,
                                                              generators(rng), kk)
                proofs[pkey] = prf
                for li, i in enumerate(ch.cols):
                    out.setdefault(names[i], []).append(
                        Claim(point=cl.column_point(li), value=cl.values[li, 0]))
                continue
            looked = _piece_blocks([[_piece(cols, flat, p) for p in blk] for blk in ch.blocks],
                                   c)
            m = lookup.multiplicities(table(rng), looked)
            cl, prf, t = lookup.prove_with_multiplicities(table(rng), looked, m, t,
                                                          generators(rng), kk)
            del looked
            point = cl.column_point(0)
            items = _items(ch)
            vals = _values([_piece(cols, flat, p) for p in items], point)
            t = t.absorb_field(b"packed", vals)
            proofs[pkey] = PackedLookup(lookup=prf, values=vals)
            for p, v in zip(items, vals):
                out.setdefault(names[p.col], []).append(
                    Claim(point=_piece_point(point, p, col_vars[p.col]), value=v))
    return out, proofs, t


def _piece(cols: Sequence[Array], flat: dict[int, Array], p: Piece) -> Array:
    """Piece p's entries: the column itself if whole, else its run of the flat padded column
    (flattened once per column, kept in `flat`)."""
    if _vars(cols[p.col].shape) <= p.vars:
        return cols[p.col]
    if p.col not in flat:
        flat[p.col] = _flat_padded(cols[p.col])
    return flat[p.col][p.piece << p.vars:(p.piece + 1) << p.vars]


def _piece_blocks(blocks: list[list[Array]], c: int) -> list[Array]:
    """Each block's pieces flattened (per-axis padding) and concatenated, zero-filled to 2^c."""
    out = []
    for parts in blocks:
        flat = [_flat_padded(x) for x in parts]
        used = sum(int(x.shape[0]) for x in flat)
        if used < (1 << c):
            flat.append(jnp.zeros(((1 << c) - used,), jnp.int32))
        out.append(jnp.concatenate(flat) if len(flat) > 1 else flat[0])
    return out


def verify(
    shapes: Mapping[str, Sequence[int]],
    ranges: Mapping[str, Range],
    proofs: Mapping[str, LookupProof],
    transcript: Transcript,
) -> tuple[ClaimSet, Transcript]:
    """Check `prove`; returns the claims on the columns. Raises GadgetError("range_check", ...)."""
    groups = _groups(ranges)
    plans = []
    for rng, names in groups:
        shp = [tuple(int(d) for d in shapes[n]) for n in names]
        chunks, c = plan(shp, rng)
        plans.append((rng, names, shp, chunks, c, _chunk_keys(rng, len(chunks))))
    want = {k for *_, ks in plans for k in ks}
    if set(proofs) != want:
        raise GadgetError("range_check", "shape", f"proofs for ranges {sorted(proofs)}, expected "
                          f"{sorted(want)}")
    out: ClaimSet = {}
    t = transcript
    for rng, names, shp, chunks, c, pkeys in plans:
        col_vars = [_vars(s) for s in shp]
        for ch, pkey in zip(chunks, pkeys):
            prf = proofs[pkey]
            if ch.packed:
                items = _items(ch)
                if not isinstance(prf, PackedLookup) or tuple(prf.values.shape) != (
                        len(items), field.LIMBS):
                    raise GadgetError("range_check", "shape", f"range {pkey}: expected a packed "
                                      f"lookup with {len(items)} column values")
                looked, lk = [(1 << c,)] * len(ch.blocks), prf.lookup
            elif isinstance(prf, PackedLookup):
                raise GadgetError("range_check", "shape", f"range {pkey}: unexpected packing")
            else:
                looked, lk = [shp[i] for i in ch.cols], prf
            try:
                cl, t = lookup.verify(table(rng), looked, lk, t, generators(rng))
            except lookup.LookupError as e:
                raise GadgetError("range_check", e.check, f"range {pkey} of {names}: {e}",
                                  e.round) from e
            if not ch.packed:
                for li, i in enumerate(ch.cols):
                    out.setdefault(names[i], []).append(
                        Claim(point=cl.column_point(li), value=cl.values[li, 0]))
                continue
            vals_f = prf.values
            vals = dict(zip(items, ints(vals_f)))
            point = ints(cl.column_point(0))
            for b, blk in enumerate(ch.blocks):
                if _piece_block_value(point, blk, vals) != ints(cl.values[b, 0])[0]:
                    raise GadgetError("range_check", "packing", f"range {pkey}: block {b}'s "
                                      "value differs from its columns' values")
            t = t.absorb_field(b"packed", vals_f)
            pt = cl.column_point(0)
            for p, v in zip(items, vals_f):
                out.setdefault(names[p.col], []).append(
                    Claim(point=_piece_point(pt, p, col_vars[p.col]), value=v))
    return out, t


__all__ = [
    "MAX_LOOKUP_LOG",
    "PIECE_BITS",
    "Chunk",
    "PackedLookup",
    "Piece",
    "Range",
    "generators",
    "packing",
    "plan",
    "prove",
    "signed_pieces",
    "signed_range",
    "split_signed",
    "table",
    "verify",
]
