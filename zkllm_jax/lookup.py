"""LogUp lookups proven with a GKR tree of fractional sums (LogUp-GKR).

Statement. Every element s_i of the witness columns lies in the public table t: with the
multiplicities m_j = #{i : s_i = t_j} (committed, small integers) and a challenge α drawn after
the commitment,

    Σ_i 1/(α − s_i) − Σ_j m_j/(α − t_j) = 0.

Tables. A range table holds [lo, lo + 2^k); a mapping table holds pairs (x_j, f(x_j)), and a
witness pair (x, y) is looked up as x + β·y with a second challenge β (claims on both columns
come back). Several columns into one table are one argument (their elements are concatenated).

Only m is committed (int32, the small-scalar MSM): no inverses, no full-width field vectors.
The fractions are summed by a binary tree proven layer by layer (GKR).

Tree. The witness side and the table side are two trees that meet at level b (level L holds 2^L
fractions; a ⊕ b below is the fraction sum (p_a·q_b + p_b·q_a, q_a·q_b)):
  leaves W_h, h = max(c + κ, b) variables, index (block i, element e):
      p = 1 (0 on padding),  q = α − s
  W_L = lo ⊕ hi of W_(L+1), lo/hi its halves split on the top variable, for b <= L < h;
  the table side T, b variables, index j:  p = −m_j,  q = α − t_j;
  the merge  F_b = W_b ⊕ T  (pairing index x of both), then F_L from F_(L+1) as above, to F_1.
  Every padding entry (per-axis padding of a column, unused blocks, the table's tail) is the
  zero-weight fraction 0/(α − 0), so m counts real elements only and the claims below are on the
  columns' ordinary zero-padded MLEs. A single tree over both sides would hold 2^(h+1) leaves,
  the table side padded from 2^b to 2^h: with b far below h (a 2^16 range table, 2^27 witness
  entries) every large level would be twice the size.

Proof of one level: from claims P = p_L(ρ), Q = q_L(ρ), a challenge λ and one instance of the
sumcheck engine,  Σ_x eq(ρ, x)·[p_lo·q_hi + p_hi·q_lo + λ·q_lo·q_hi](x) = P + λ·Q  (degree 3),
which ends in p_lo, p_hi, q_lo, q_hi at ρ'; a challenge μ moves to ρ = (ρ', μ) with
P = (1−μ)·p_lo + μ·p_hi and Q likewise. The steps have 1, ..., b variables (F_1 .. F_b; the b-th
is the merge, its lo/hi the sides W_b and T), then b, ..., h − 1 (W_b .. W_(h−1)). The merge
step ends in W_b's values at its point r, which the next step takes as its claims at ρ = r (no
μ), and T's: the verifier checks q_T(r) = α − t(r) (the table's MLE) and p_T(r) = −m(r) (the
opening of m at r). The root layer (F_1, two fractions) is sent in the clear; the verifier
checks q_root ≠ 0 and p_root = 0.

Leaf check. At the leaf point r (h coordinates) the verifier rebuilds p and q from the columns'
MLE values (sent by the prover and RETURNED to the caller as claims: a lookup never assumes how
its inputs are committed) and the padding indicators (closed form, O(log n)). The table's MLE
(closed form for range tables; O(table size) through `mle.evaluate` for mapping tables) and m's
MLE, whose opening is part of the proof (a Hyrax opening of the multiplicity commitment), are
checked at the merge. Opening m here keeps the verifier self-contained; batching m-openings of
several lookups at one point is a later optimisation.

Transcript order: begin("logup-gkr", [kind, M, K, W, h, b, c, κ, per column: ndim, dims...]);
absorb the table digest; absorb the multiplicity commitment; in zero-knowledge mode, the masks
of all h layer sumchecks (`sumcheck.premasks`: drawn together, committed in one batched MSM,
their commitments and nonce commitments absorbed as one "masks" entry); [β]; α; absorb layer
1; μ; per step: λ, the engine's instance (label "logup-gkr/layer", its mask already bound), μ
(none after the merge); absorb the column values; the Hyrax opening of m at the merge point.

Precondition (soundness): the looked-up columns must be fixed before `prove` draws α, i.e.
committed or determined by data already absorbed into the transcript. The returned claims must
then be checked against those commitments or reduced further.

Prover memory: the levels W_L with at most 2^KEEP_LOG fractions are kept (8 GiB in all at
KEEP_LOG = 26); larger ones, and the leaves, are rebuilt from the int32 witness in each pass of
the step that sums over them, entry by entry inside native passes (`_LeafRounds`, `_level`:
zkllm/logup.h; a pass reads the leaves' int32 words, not a level's field tables), and the
columns' values are folded from int32 (`mle.evaluate_i32`), so no field copy of a column is made.

Sizes: with h = max(c + κ, b) (c: the columns' common variable count, κ = ceil(log2 K),
b = max(1, ceil(log2 M))) the proof holds 4·(b + h(h−1)/2) + 4·h + 4 field elements of the h
layer steps, K·W column values, the commitment (2^(b − c_m) points) and the opening (2·c_m + 1
points, 3 scalars with m's value): see `proof_bytes`.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from . import commit, curve, ffi, field, mle, prng, sumcheck
from .sumcheck import SumcheckError, SumcheckProof
from .transcript import Transcript

Array = jax.Array
R = field.R
PROTOCOL = b"logup-gkr"
LAYER_LABEL = b"logup-gkr/layer"
GENERATOR_TAG = b"zkllm-jax/lookup/multiplicities"
# p_lo·q_hi + p_hi·q_lo + λ·q_lo·q_hi over the tables [p_lo, p_hi, q_lo, q_hi]
LAYER_TERMS = ((0, 3), (1, 2), (2, 3))
# The prover keeps the witness levels of at most 2^KEEP_LOG fractions (2^26: 4 GiB, the kept
# levels 8 GiB in all) and rebuilds larger ones from the int32 leaves in each pass of the step
# that sums over them: a 2^28-entry lookup peaked at 16.1 GB on an H100 instead of 24.8 (a
# 2^27 one at 12.6), for 1.51 s instead of 1.35. Prover-only (the same proof whatever it is).
KEEP_LOG = 26
RANGE, MAPPING = 0, 1
# On these platforms a lookup called with concrete arrays is proven as one compiled program.
# Op by op, the host's dispatch of its layer steps leaves an H100 idle about a third of the time
# (one 2^28-entry lookup: 0.79 s compiled against 1.18 s eager, peak 11.2 against 14.1 GB), but
# every distinct (table, column layout) compiles its own program of ~28 unrolled layer
# sumchecks, about 25 s each: a 7B layer at 2048 tokens (11 range chunks, 2 exp and 1 SiLU
# lookups) spent 72 s in its softmax and over 176 s in its finish on the first prove and did
# not finish within 480 s (H200, BENCHMARKS.md), where the eager path's per-step executables,
# shared by lookups of every size, proved it in about 200 s. So no platform by default; list
# "gpu" here for long runs that amortise the compilations. Prover-only: the same proof either
# way.
JIT_PLATFORMS: tuple[str, ...] = ()
_INT32_MIN, _INT32_MAX = -(1 << 31), (1 << 31) - 1


class LookupError(ValueError):
    """A lookup proof was rejected: `check` names the failed check (`shape`, `root_denominator`,
    `root_sum`, `layer_sumcheck`, `table_check`, `leaf_check`, `multiplicity_opening`);
    `layer` (the step, from 1) and `round` locate a failed layer sumcheck. Inside this module it shadows the builtin of the same name.
    """

    def __init__(self, check: str, detail: str, layer: int | None = None,
                 round: int | None = None):
        self.check = check
        self.layer = layer
        self.round = round
        where = f" in layer {layer}" if layer is not None else ""
        where += f", round {round}" if round is not None else ""
        super().__init__(f"lookup rejected: {check}{where}: {detail}")


# --- tables ------------------------------------------------------------------------------------


@struct.dataclass
class Table:
    """A public lookup table; build with `range_table` or `mapping_table`.

    inputs/outputs: int32[M] for mapping tables (sorted by input), None for range tables.
    """

    inputs: Array | None
    outputs: Array | None
    kind: int = struct.field(pytree_node=False)
    size: int = struct.field(pytree_node=False)
    lo: int = struct.field(pytree_node=False)
    digest: bytes = struct.field(pytree_node=False)

    @property
    def num_vars(self) -> int:
        """b: the table side's variables (at least 1)."""
        return max(1, mle.num_vars(self.size))


def range_table(lo: int, log_size: int) -> Table:
    """The table [lo, lo + 2^log_size) of int32 values."""
    lo, k = int(lo), int(log_size)
    if not 0 <= k <= 30:
        raise ValueError(f"range_table: log_size must be in [0, 30], got {k}")
    if lo < _INT32_MIN or lo + (1 << k) - 1 > _INT32_MAX:
        raise ValueError(f"range_table: [{lo}, {lo + (1 << k)}) does not fit int32")
    digest = hashlib.sha256(b"zkllm-jax/lookup/range" + lo.to_bytes(8, "big", signed=True)
                            + k.to_bytes(1, "big")).digest()
    return Table(inputs=None, outputs=None, kind=RANGE, size=1 << k, lo=lo, digest=digest)


def mapping_table(inputs: Any, outputs: Any) -> Table:
    """The table of pairs (inputs[j], outputs[j]) of a function: int32 columns, distinct inputs.

    Needs concrete arrays (tables are public constants); entries are stored sorted by input.
    """
    x = np.asarray(inputs)
    y = np.asarray(outputs)
    for name, v in (("inputs", x), ("outputs", y)):
        if v.ndim != 1 or v.size == 0 or v.dtype.kind not in "iu":
            raise ValueError(f"mapping_table: {name} must be a non-empty 1-D integer array, got "
                             f"{v.dtype}{v.shape}")
        if v.min() < _INT32_MIN or v.max() > _INT32_MAX:
            raise ValueError(f"mapping_table: {name} must fit int32")
    if x.shape != y.shape:
        raise ValueError(f"mapping_table: inputs {x.shape} and outputs {y.shape} differ in size")
    order = np.argsort(x, kind="stable")
    x, y = x[order].astype(np.int64), y[order].astype(np.int64)
    dup = np.flatnonzero(x[1:] == x[:-1])
    if dup.size:
        raise ValueError(f"mapping_table: input {int(x[dup[0]])} appears twice (a function "
                         "table needs distinct inputs)")
    digest = hashlib.sha256(b"zkllm-jax/lookup/mapping" + int(x.size).to_bytes(8, "big")
                            + x.astype(">i8").tobytes() + y.astype(">i8").tobytes()).digest()
    return Table(inputs=jnp.asarray(x.astype(np.int32)), outputs=jnp.asarray(y.astype(np.int32)),
                 kind=MAPPING, size=int(x.size), lo=0, digest=digest)


def _table_values(table: Table, beta: Array | None) -> Array:
    """The table's looked-up values t_j (Fr[M, 8]): lo + j, or x_j + β·f(x_j)."""
    if table.kind == RANGE:
        return field.encode(jnp.arange(table.size, dtype=jnp.int32) + jnp.int32(table.lo))
    return field.add(field.encode(table.inputs), field.mul(field.encode(table.outputs), beta))


def _table_mle_int(table: Table, r: Sequence[int], beta: int | None) -> int:
    """The table's MLE (zero-padded to 2^b) at r (b coordinates), over Python integers."""
    if table.kind == RANGE:
        k = table.size.bit_length() - 1
        v = table.lo + sum((1 << j) * r[j] for j in range(k))
        for j in range(k, len(r)):
            v = v * (1 - r[j])
        return v % R
    pt = field.encode(list(r))
    x = int(field.decode(mle.evaluate(field.encode(table.inputs), pt)))
    y = int(field.decode(mle.evaluate(field.encode(table.outputs), pt)))
    return (x + beta * y) % R


# --- witness -----------------------------------------------------------------------------------


def _as_int32(x: Any, name: str) -> Array:
    if not hasattr(x, "dtype") or not hasattr(x, "shape"):
        raise TypeError(f"lookup: {name} must be an int32 array, got {type(x).__name__}")
    if x.dtype not in (jnp.int32, jnp.int16, jnp.int8, jnp.uint8, jnp.uint16):
        raise TypeError(f"lookup: {name} must be int32 (or narrower), got {x.dtype}")
    if x.ndim < 1 or x.size == 0:
        raise ValueError(f"lookup: {name} must have at least one axis and one element, got "
                         f"shape {tuple(x.shape)}")
    return jnp.asarray(x).astype(jnp.int32)


def _columns(table: Table, columns: Any, names: Sequence[str] | None = None):
    """[(name, x, y or None)]: range columns are arrays, mapping columns (x, y) pairs."""
    if hasattr(columns, "shape") or (table.kind == MAPPING and isinstance(columns, tuple)
                                     and len(columns) == 2 and hasattr(columns[0], "shape")):
        columns = [columns]
    columns = list(columns)
    if not columns:
        raise ValueError("lookup: no columns to look up")
    if names is None:
        names = [f"columns[{i}]" for i in range(len(columns))]
    if len(names) != len(columns):
        raise ValueError(f"lookup: {len(names)} names for {len(columns)} columns")
    out = []
    for name, col in zip(names, columns):
        if table.kind == RANGE:
            out.append((name, _as_int32(col, name), None))
            continue
        if not isinstance(col, (tuple, list)) or len(col) != 2:
            raise TypeError(f"lookup: {name} must be a pair (inputs, outputs) for a mapping table")
        x, y = _as_int32(col[0], f"{name} inputs"), _as_int32(col[1], f"{name} outputs")
        if x.shape != y.shape:
            raise ValueError(f"lookup: {name} inputs {tuple(x.shape)} and outputs "
                             f"{tuple(y.shape)} differ in shape")
        out.append((name, x, y))
    return out


def _index(table: Table, x: Array, y: Array | None) -> tuple[Array, Array]:
    """(index into the table, found) per element; never reads out of bounds."""
    if table.kind == RANGE:
        # (x − lo) mod 2^32 < 2^k exactly when lo <= x < lo + 2^k (the range fits int32)
        d = jax.lax.bitcast_convert_type(x, jnp.uint32) - jnp.uint32(table.lo & 0xFFFFFFFF)
        ok = d < jnp.uint32(table.size)
        return jnp.where(ok, d, 0).astype(jnp.int32), ok
    pos = jnp.minimum(jnp.searchsorted(table.inputs, x).astype(jnp.int32), table.size - 1)
    ok = (table.inputs[pos] == x) & (table.outputs[pos] == y)
    return pos, ok


def multiplicities(table: Table, columns: Any) -> Array:
    """m_j = how often table entry j occurs in the columns (int32[M]); jit-able.

    Out-of-table elements are dropped (never written out of bounds); `check_witness` is what
    rejects them, so callers inside `jit` must have validated their witness beforehand.
    """
    cols = _columns(table, columns)
    if table.kind == RANGE:  # a native histogram (XLA's scatter was 0.5 s of a 7B layer)
        out = jax.ShapeDtypeStruct((table.size,), jnp.int32)
        counts = [ffi.call("zk_range_histogram", out, x.reshape(-1), lo=int(table.lo),
                           size=int(table.size)) for _, x, _ in cols]
        return functools.reduce(jnp.add, counts)
    idx = []
    for _, x, y in cols:
        i, ok = _index(table, x.reshape(-1), None if y is None else y.reshape(-1))
        idx.append(jnp.where(ok, i, table.size))
    return jnp.zeros((table.size,), jnp.int32).at[jnp.concatenate(idx)].add(1, mode="drop")


def check_witness(table: Table, columns: Any, names: Sequence[str] | None = None) -> None:
    """Raise ValueError naming the column, index and value of the first out-of-table element.

    Needs concrete arrays (it raises); `prove` calls it whenever its columns are concrete.
    """
    for name, x, y in _columns(table, columns, names):
        if any(isinstance(v, jax.core.Tracer) for v in (x, y, table.inputs, table.outputs)):
            raise TypeError("check_witness needs concrete arrays; call it outside jax.jit")
        # concrete arrays may arrive inside a trace (closed over): evaluate the check now
        with jax.ensure_compile_time_eval():
            _, ok = _index(table, x.reshape(-1), None if y is None else y.reshape(-1))
            bad = np.flatnonzero(~np.asarray(ok))
        if not bad.size:
            continue
        at = tuple(int(i) for i in np.unravel_index(bad[0], x.shape))
        xv = int(np.asarray(x).reshape(-1)[bad[0]])
        if table.kind == RANGE:
            raise ValueError(f"lookup: {name}[{at}] = {xv} is outside the range table "
                             f"[{table.lo}, {table.lo + table.size}) ({bad.size} such elements)")
        yv = int(np.asarray(y).reshape(-1)[bad[0]])
        inputs = np.asarray(table.inputs)
        j = int(np.searchsorted(inputs, xv))
        if j < table.size and inputs[j] == xv:
            why = f"the table maps {xv} to {int(np.asarray(table.outputs)[j])}"
        else:
            why = f"{xv} is not an input of the table"
        raise ValueError(f"lookup: {name}[{at}] = ({xv}, {yv}) is not in the mapping table: "
                         f"{why} ({bad.size} such elements)")


# --- layout ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """Static sizes of one lookup (see the module docstring)."""

    shapes: tuple[tuple[int, ...], ...]  # the columns' shapes
    col_vars: tuple[int, ...]  # c_i: per-axis padded variables of column i
    c: int  # common column variables
    kappa: int  # block variables (K columns)
    b: int  # table-side variables
    h: int  # the witness leaves' variables (h >= b)
    width: int  # W: 1 (range) or 2 (mapping)

    @property
    def num_cols(self) -> int:
        return len(self.shapes)

    def params(self, table: Table) -> list[int]:
        p = [table.kind, table.size, self.num_cols, self.width, self.h, self.b, self.c,
             self.kappa]
        for s in self.shapes:
            p += [len(s), *s]
        return p


def step_sizes(lay: Layout) -> list[int]:
    """The variables of each layer sumcheck, in order: 1..b (the last the merge), then b..h−1."""
    return list(range(1, lay.b + 1)) + list(range(lay.b, lay.h))


def _mask_shapes(lay: Layout) -> list[tuple[int, int]]:
    """(rounds, degree) of each layer sumcheck's mask (zero-knowledge mode), in order."""
    d = sumcheck.degree(sumcheck.normalize_terms(LAYER_TERMS, 4), True)
    return [(k, d) for k in step_sizes(lay)]


def layout(table: Table, shapes: Sequence[Sequence[int]]) -> Layout:
    """The layout of a lookup of columns with these shapes into `table`."""
    if shapes and all(isinstance(d, (int, np.integer)) for d in shapes):
        shapes = [shapes]  # one column's shape
    shapes = tuple(tuple(int(d) for d in s) for s in shapes)
    if not shapes:
        raise ValueError("lookup: no columns")
    for s in shapes:
        if len(s) == 0 or any(d < 1 for d in s):
            raise ValueError(f"lookup: column shape {s} must have at least one axis and element")
    col_vars = tuple(sum(mle.num_vars(d) for d in s) for s in shapes)
    c = max(col_vars)
    kappa = mle.num_vars(len(shapes))
    b = table.num_vars
    return Layout(shapes=shapes, col_vars=col_vars, c=c, kappa=kappa, b=b, h=max(c + kappa, b),
                  width=1 if table.kind == RANGE else 2)


def setup(table: Table, tag: bytes = GENERATOR_TAG, cols: int | None = None) -> commit.Generators:
    """Generators for committing this table's multiplicities (2^c_m columns)."""
    _, cm = commit.layout((1 << table.num_vars,), cols)
    return commit.setup(1 << cm, tag)


# --- proof objects -----------------------------------------------------------------------------


@struct.dataclass
class LookupProof:
    """A LogUp-GKR proof (flat, for the byte format).

    multiplicity_commitment: G1[2^(b − c_m)] Hyrax rows of m; layer1: Fr[4] = (p[0], p[1], q[0],
    q[1]) of the two-fraction layer; layer_messages: Fr[b + h(h−1)/2, 4] the layer steps' round
    messages (`step_sizes` rounds each); layer_finals: Fr[h, 4] their final values (p_lo, p_hi,
    q_lo, q_hi); column_values: Fr[K, W] the columns' MLEs at the returned point;
    multiplicity_value: m's MLE at the merge point; opening_*: the Hyrax opening of m there.
    """

    multiplicity_commitment: Array
    layer1: Array
    layer_messages: Array
    layer_finals: Array
    column_values: Array
    multiplicity_value: Array
    opening_left: Array
    opening_right: Array
    opening_a: Array
    opening_z1: Array
    opening_z2: Array
    layer_masks: tuple = ()  # zero-knowledge mode: each layer sumcheck's MaskProof, in order


@struct.dataclass
class LookupClaims:
    """Claims the caller must check or reduce: column i's MLE (library convention: per-axis
    zero padding, flat row-major, c_i variables) at point[0:c_i] is values[i] (Fr[8] for range
    tables; Fr[2, 8] = (inputs, outputs) for mapping tables).
    """

    point: Array  # Fr[c, 8]
    values: Array  # Fr[K, W, 8]
    col_vars: tuple[int, ...] = struct.field(pytree_node=False)

    def column_point(self, i: int) -> Array:
        """The point of column i's claim (its first c_i coordinates)."""
        return self.point[: self.col_vars[i]]


def proof_bytes(lay: Layout, col_vars_m: int) -> int:
    """Payload bytes of a proof (`proof.header_bytes(LookupProof)` adds the headers)."""
    h, b = lay.h, lay.b
    scalars = 4 + 4 * sum(step_sizes(lay)) + 4 * h + lay.num_cols * lay.width + 1 + 2
    points = (1 << (b - col_vars_m)) + 2 * col_vars_m + 1
    return 32 * scalars + 48 * points


# --- prover ------------------------------------------------------------------------------------


def _begin(transcript: Transcript, table: Table, lay: Layout) -> Transcript:
    return transcript.begin(PROTOCOL, lay.params(table)).absorb_bytes(b"table", table.digest)


def _padded_column(x: Array, c: int) -> Array:
    """Per-axis zero padding and flattening (the MLE convention), then padding to 2^c."""
    x = mle.flat_i32(x)
    return jnp.pad(x, (0, (1 << c) - x.shape[0]))


@functools.partial(jax.jit, static_argnums=(0,))
def _leaf_args(lay: Layout, table: Table, xs: tuple, ys: tuple, m_pad: Array, alpha: Array,
               beta: Array | None) -> tuple:
    """What the leaves and the table side are built from: the witness as uint32[2^h] bit
    patterns of int32 (the columns padded and concatenated: values, second values or a
    one-entry placeholder, the real-element indicator), (α, β) as Fr[2, 8] (β = 0 for range
    tables), and the table side's fractions (−m_j, α − t_j) as Fr[2, 2^b] (its tail the
    zero-weight 0/α)."""
    n = 1 << lay.h
    blocks = 1 << lay.kappa
    fill = [jnp.zeros((1 << lay.c,), jnp.int32)] * (blocks - len(xs))
    pad_w = (0, n - (blocks << lay.c))

    def side(cols):
        flat = jnp.pad(jnp.concatenate([_padded_column(v, lay.c) for v in cols] + fill), pad_w)
        return jax.lax.bitcast_convert_type(flat, jnp.uint32)

    sy = side(ys) if lay.width == 2 else jnp.zeros((1,), jnp.uint32)
    ones = side([jnp.ones(x.shape, jnp.int32) for x in xs])
    ab = jnp.stack([alpha, beta if beta is not None else field.zeros(())])
    pad_t = ((0, (1 << lay.b) - table.size), (0, 0))
    t_vals = jnp.pad(_table_values(table, beta), pad_t)
    table_side = jnp.stack([field.neg(field.encode(m_pad)), field.sub(alpha, t_vals)])
    return (side(xs), sy, ones, ab), table_side


def _level(lay: Layout, args: tuple, depth: int) -> Array:
    """W_(h−depth) as (p, q) Fr[2, 2^(h−depth), 8], rebuilt from the leaves in one native pass
    (leaf i: p = 1, 0 on padding; q = α − s_i; zkllm/logup.h)."""
    out = jax.ShapeDtypeStruct((2, 1 << (lay.h - depth), field.LIMBS), jnp.uint32)
    return ffi.call("zk_fr_logup_level", out, *args, vmap_method="sequential", depth=depth,
                    width=lay.width)


@jax.tree_util.register_pytree_node_class
class _LeafRounds:
    """The stack [p_lo, p_hi, q_lo, q_hi, eq] of the step that sums over W_(h−depth)'s halves
    (aux = (depth, width)), for `sumcheck.prove_source`: levels too large to keep, and the
    leaves, are rebuilt from the int32 witness entry by entry inside each native pass
    (zkllm/logup.h), so the stack exists only once folded `lazy` times."""

    num_tables = 5
    max_lazy = 2  # the native pass folds at most twice (zkllm/logup.h, kMaxFolds)

    def __init__(self, aux: tuple[int, int], args: tuple, eq_low: Array, eq_high: Array,
                 lazy: int):
        self.aux, self.args, self.lazy = aux, tuple(args), lazy
        self.eq_low, self.eq_high = eq_low, eq_high
        self.num_vars = (eq_low.shape[0] * eq_high.shape[0]).bit_length() - 1

    def tree_flatten(self) -> tuple:
        return (self.args, self.eq_low, self.eq_high), (self.aux, self.lazy)

    @classmethod
    def tree_unflatten(cls, static: tuple, leaves: tuple) -> _LeafRounds:
        args, eq_low, eq_high = leaves
        return cls(static[0], args, eq_low, eq_high, static[1])

    def _pass(self, point: tuple, out: Any, coeffs: Array, terms: np.ndarray,
              materialize: bool) -> Array:
        depth, width = self.aux
        r = jnp.stack(point) if point else field.zeros((1,))
        pairs = 0 if materialize else (1 << self.num_vars) >> (len(point) + 1)
        return ffi.call("zk_fr_logup_leaf_round", (out, sumcheck.scratch(pairs)), *self.args,
                        self.eq_low, self.eq_high, r, coeffs, vmap_method="sequential",
                        terms=terms, depth=depth, width=width, folds=len(point),
                        materialize=int(materialize))[0]

    def evals(self, point: tuple, coeffs: Array, kw: dict) -> Array:
        d = sumcheck.degree(kw["terms"], kw["has_eq"])
        out = jax.ShapeDtypeStruct((d + 1, field.LIMBS), jnp.uint32)
        terms = sumcheck.term_exponents(kw["terms"], self.num_tables)
        return self._pass(point, out, coeffs, terms, False)

    def fold(self, point: tuple) -> Array:
        n = (1 << self.num_vars) >> len(point)
        out = jax.ShapeDtypeStruct((self.num_tables, n, field.LIMBS), jnp.uint32)
        return self._pass(point, out, field.ones((1,)), np.zeros(1, np.int64), True)


def _layer_chunk(b: int, args: tuple, c: Array) -> Array:
    """Chunk c of a level's halves (Fr[4, b, 8])."""
    (tabs,) = args
    return jax.lax.dynamic_slice_in_dim(tabs, c * b, b, axis=1)


def _products(tabs: Array) -> Array:
    """(p', q') = (p_lo·q_hi + p_hi·q_lo, q_lo·q_hi) of (p_lo, p_hi, q_lo, q_hi): Fr[2, n, 8]."""
    p = field.add(field.mul(tabs[0], tabs[3]), field.mul(tabs[1], tabs[2]))
    return jnp.stack([p, field.mul(tabs[2], tabs[3])])


def _halves(level: Array) -> Array:
    """A level (p, q) Fr[2, 2^L, 8] as its halves (p_lo, p_hi, q_lo, q_hi) Fr[4, 2^(L−1), 8]."""
    return level.reshape(4, level.shape[1] // 2, field.LIMBS)


def _rebuilt(lay: Layout) -> int:
    """How many witness levels below the leaves are rebuilt rather than kept: W_L is kept only if
    it has at most 2^KEEP_LOG entries (and W_b always is)."""
    return max(0, min(lay.h - 1 - KEEP_LOG, lay.h - 1 - lay.b))


@functools.partial(jax.jit, static_argnums=(0,))
def _levels(lay: Layout, args: tuple, table_side: Array) -> tuple[list, Array, list]:
    """The tree above the leaves (module docstring, "Tree"), as each sumcheck's tables:
    ([halves of F_2, ..., F_b] for steps 1..b−1, the merge step's (p_W, −m, q_W, α − t) at
    level b, [halves of W_(b+1), ..., W_(h−1)] for steps b..h−2, None for the levels rebuilt
    from the leaves) and layer 1 (halves of F_1). The first kept level is computed chunk by
    chunk from the leaves, which never exist whole (`_leaf_chunk` rebuilds them, and the
    levels above the kept ones, for the steps that sum over them)."""
    h, b = lay.h, lay.b
    d = _rebuilt(lay)  # 0 when h == b
    if h == b:  # the leaves are W_b
        w = _level(lay, args, 0)
        w_levels = []
    else:
        w = _level(lay, args, d + 1)  # the first kept level, W_(h−1−d)
        w_levels = [w]  # W_top down to W_(b+1)
        while w.shape[1] > 1 << b:
            w = _products(_halves(w))
            w_levels.append(w)
        w_levels.pop()  # W_b itself is the merge step's lo half
    merge = jnp.stack([w[0], table_side[0], w[1], table_side[1]])
    f = _products(merge)
    f_levels = [f]  # F_b down to F_1
    while f.shape[1] > 2:
        f = _products(_halves(f))
        f_levels.append(f)
    steps_f = [_halves(x) for x in f_levels[::-1][1:]]
    steps_w = [_halves(x) for x in w_levels[::-1]] + [None] * d
    return steps_f, merge, steps_w, _halves(f_levels[-1])


def prove(
    table: Table,
    columns: Any,
    transcript: Transcript,
    gens: commit.Generators,
    key: Array,
    *,
    names: Sequence[str] | None = None,
    cols: int | None = None,
) -> tuple[LookupClaims, LookupProof, Transcript]:
    """Prove that every element of `columns` is in `table`.

    columns: an int32 array or a sequence of them (range tables); a pair (inputs, outputs) of
    equal-shape int32 arrays or a sequence of pairs (mapping tables). Concrete columns are
    checked first (ValueError naming the column, index and value); inside `jit` the caller
    must have run `check_witness` (an out-of-table element then only makes the proof fail).
    gens: from `setup(table)`; key: randomness for the hiding commitment and opening; cols: the
    multiplicity commitment's columns (default: square-root layout). Pure and jit-able.
    Returns the claims on the columns, the proof and the transcript.
    """
    cols_ = _columns(table, columns, names)
    arrays = [v for _, x, y in cols_ for v in (x, y)] + [table.inputs, table.outputs]
    if not any(isinstance(v, jax.core.Tracer) for v in arrays):
        check_witness(table, columns, names)
    m = multiplicities(table, columns)
    return prove_with_multiplicities(table, columns, m, transcript, gens, key, cols=cols)


def prove_with_multiplicities(
    table: Table,
    columns: Any,
    m: Array,
    transcript: Transcript,
    gens: commit.Generators,
    key: Array,
    *,
    cols: int | None = None,
) -> tuple[LookupClaims, LookupProof, Transcript]:
    """`prove` with the multiplicities given (int32[M]) and no witness check.

    For callers that computed m themselves (e.g. one histogram for lookups batched across
    layers); a wrong m or an out-of-table element yields a proof that fails verification.
    """
    cols_ = _columns(table, columns)
    lay = layout(table, [x.shape for _, x, _ in cols_])
    if not hasattr(m, "dtype") or m.dtype != jnp.int32 or tuple(m.shape) != (table.size,):
        raise ValueError(f"lookup: multiplicities must be int32[{table.size}], got "
                         f"{getattr(m, 'dtype', type(m).__name__)}{tuple(getattr(m, 'shape', ()))}")
    if _compiled_here(m):
        return _prove_compiled(table, columns, m, transcript, gens, key, cols)
    _, c_m = commit.layout((1 << lay.b,), cols)
    if gens.g.shape[0] < (1 << c_m):
        raise ValueError(f"lookup: the multiplicity commitment needs {1 << c_m} generators, got "
                         f"{gens.g.shape[0]} (use lookup.setup(table))")
    k_commit, k_open = prng.split(key)
    m_pad = jnp.pad(m, (0, (1 << lay.b) - table.size))
    cm, wit = commit.commit(m_pad, gens, k_commit, 1 << c_m)
    t = _begin(transcript.with_rng(key), table, lay)  # the key also masks the layer sumchecks
    t = t.absorb_points(b"multiplicities", cm.rows)
    premasks = [None] * lay.h
    if t.zk:  # one batched MSM and one absorb for the h layer sumcheck's masks
        premasks, t = sumcheck.premasks(t, _mask_shapes(lay))
    beta = None
    if table.kind == MAPPING:
        beta, t = t.challenge(b"beta")
    alpha, t = t.challenge(b"alpha")
    xs = tuple(x for _, x, _ in cols_)
    ys = tuple(y for _, _, y in cols_) if table.kind == MAPPING else ()
    leaf_args, table_side = _leaf_args(lay, table, xs, ys, m_pad, alpha, beta)
    steps_f, merge, steps_w, layer1 = _levels(lay, leaf_args, table_side)
    layer1 = layer1.reshape(4, field.LIMBS)  # (p[0], p[1], q[0], q[1])
    del table_side
    t = t.absorb_field(b"layer1", layer1)
    mu, t = t.challenge(b"mu")
    rho = mu[None]
    msgs, finals, masks = [], [], []
    r_table = None
    # steps 1..b−1 (F), the merge at b, then b..h−1 (W; the last from the leaves): module
    # docstring, "Tree". Each step's tables are freed once summed.
    tables = [*steps_f, merge, *steps_w] + ([None] if lay.h > lay.b else [])
    del steps_f, merge, steps_w
    for i, k in enumerate(step_sizes(lay)):
        lam, t = t.challenge(b"lambda")
        coeffs = jnp.concatenate([field.ones((2,)), lam[None]])
        n = 1 << k
        cb = sumcheck.chunk_len(n)
        # this step sums over W_(k+1): a kept level chunk by chunk, the leaves and the levels
        # not kept rebuilt from the columns inside native passes
        if tables[i] is not None:
            fc, prf, t = sumcheck.prove_chunked(_layer_chunk, cb, (tables[i],), n // cb, cb, 5,
                                                t, rho, label=LAYER_LABEL, terms=LAYER_TERMS,
                                                coeffs=coeffs, trusted=True,
                                                premask=premasks[i])
        else:
            fc, prf, t = sumcheck.prove_source(_LeafRounds, (lay.h - k - 1, lay.width),
                                               leaf_args, k, t, rho, label=LAYER_LABEL,
                                               terms=LAYER_TERMS, coeffs=coeffs,
                                               premask=premasks[i])
        tables[i] = None
        msgs.append(prf.messages)
        finals.append(prf.final_evals)
        masks.append(prf.mask)
        if i == lay.b - 1:  # the merge: W_b's claims continue at r; the table side's are checked
            rho = r_table = fc.point
            continue
        mu, t = t.challenge(b"mu")
        rho = jnp.concatenate([fc.point, mu[None]])
    point = rho[: lay.c]
    values = _column_values(lay, xs, ys, point)
    t = t.absorb_field(b"columns", values)
    m_val, op, t = commit.prove_opening([cm], [wit], r_table, gens, t, k_open)
    proof = LookupProof(
        multiplicity_commitment=cm.rows, layer1=layer1,
        layer_messages=jnp.concatenate(msgs), layer_finals=jnp.stack(finals),
        column_values=values, multiplicity_value=m_val[0],
        opening_left=op.left, opening_right=op.right, opening_a=op.a, opening_z1=op.z1,
        opening_z2=op.z2, layer_masks=tuple(masks) if t.zk else (),
    )
    return LookupClaims(point=point, values=values, col_vars=lay.col_vars), proof, t


def _compiled_here(m: Any) -> bool:
    """Whether this call (concrete arrays, outside any trace) runs as one compiled program."""
    if isinstance(m, jax.core.Tracer) or not hasattr(m, "devices"):
        return False
    return all(d.platform in JIT_PLATFORMS for d in m.devices())


@functools.partial(jax.jit, static_argnums=(6,))
def _prove_compiled(table, columns, m, transcript, gens, key, cols):
    return prove_with_multiplicities(table, columns, m, transcript, gens, key, cols=cols)


@functools.partial(jax.jit, static_argnums=(0,))
def _column_values(lay: Layout, xs: tuple, ys: tuple, point: Array) -> Array:
    """Fr[K, W, 8]: each column's MLE (its own c_i variables) at point[0:c_i]."""
    vals = []
    for i, ci in enumerate(lay.col_vars):
        cols = (xs[i],) if lay.width == 1 else (xs[i], ys[i])
        row = [mle.evaluate_i32(v, point[:ci]) for v in cols]
        vals.append(jnp.stack(row))
    return jnp.stack(vals)


# --- verifier ----------------------------------------------------------------------------------


def _eq_bits(r: Sequence[int], i: int) -> int:
    acc = 1
    for j, rj in enumerate(r):
        acc = acc * (rj if (i >> j) & 1 else 1 - rj) % R
    return acc


def _zero_tail(r: Sequence[int], start: int, stop: int) -> int:
    """Π_{start <= j < stop} (1 − r_j): the MLE factor of zero padding from 2^start to 2^stop."""
    acc = 1
    for j in range(start, stop):
        acc = acc * (1 - r[j]) % R
    return acc


def prefix_indicator(n: int, r: Sequence[int]) -> int:
    """Σ_{i<n} eq(r, i): the MLE of [index < n] over len(r) variables, in O(len(r))."""
    k = len(r)
    if n >= 1 << k:
        return 1
    total, prefix = 0, 1
    for j in reversed(range(k)):  # i < n iff at the top differing bit n has 1 and i has 0
        if (n >> j) & 1:
            total = (total + prefix * (1 - r[j])) % R
            prefix = prefix * r[j] % R
        else:
            prefix = prefix * (1 - r[j]) % R
    return total


def shape_indicator(shape: Sequence[int], r: Sequence[int]) -> int:
    """The MLE of "a real element" of a per-axis zero-padded tensor (the last axis owns the
    lowest variables)."""
    acc, start = 1, 0
    for d in reversed(shape):
        k = mle.num_vars(d)
        acc = acc * prefix_indicator(d, r[start : start + k]) % R
        start += k
    return acc


def _ints(x: Any) -> list[int]:
    return [int(v) for v in np.atleast_1d(field.decode(x)).reshape(-1)]


def verify(
    table: Table,
    shapes: Sequence[Sequence[int]],
    proof: LookupProof,
    transcript: Transcript,
    gens: commit.Generators,
    *,
    cols: int | None = None,
) -> tuple[LookupClaims, Transcript]:
    """Check a lookup of columns of the given shapes into `table`.

    Returns the claims on the columns (which the caller must check against commitments or
    reduce further) and the transcript. Raises LookupError naming the failed check.
    """
    lay = layout(table, shapes)
    h, b = lay.h, lay.b
    _, c_m = commit.layout((1 << b,), cols)
    _check_shapes(proof, lay, b, c_m)
    masks = getattr(proof, "layer_masks", None)
    if not isinstance(masks, tuple) or len(masks) != (lay.h if transcript.zk else 0):
        raise LookupError("shape", f"a {'zero-knowledge' if transcript.zk else 'plain'} lookup "
                          f"has {lay.h if transcript.zk else 0} layer masks")
    if gens.g.shape[0] < (1 << c_m):
        raise LookupError("shape", f"the multiplicity commitment needs {1 << c_m} generators")
    cm = commit.Commitment(rows=proof.multiplicity_commitment, num_vars=b, col_vars=c_m)
    t = _begin(transcript, table, lay)
    t = t.absorb_points(b"multiplicities", cm.rows)
    if t.zk:
        try:
            t = sumcheck.absorb_masks(t, masks, _mask_shapes(lay))
        except SumcheckError as e:
            raise LookupError("shape", f"the layer masks: {e}") from e
    beta = None
    if table.kind == MAPPING:
        beta_fr, t = t.challenge(b"beta")
        beta = int(field.decode(beta_fr))
    alpha_fr, t = t.challenge(b"alpha")
    alpha = int(field.decode(alpha_fr))

    p0, p1, q0, q1 = _ints(proof.layer1)
    if q0 * q1 % R == 0:
        raise LookupError("root_denominator", "the root fraction's denominator is zero")
    if (p0 * q1 + p1 * q0) % R != 0:
        raise LookupError("root_sum", "the fractions do not sum to zero (Σ 1/(α − s) ≠ "
                          "Σ m/(α − t))")
    t = t.absorb_field(b"layer1", proof.layer1)
    mu_fr, t = t.challenge(b"mu")
    mu = int(field.decode(mu_fr))
    big_p, big_q = ((1 - mu) * p0 + mu * p1) % R, ((1 - mu) * q0 + mu * q1) % R
    rho = mu_fr[None]
    off = 0
    table_p = r_table = None
    for i, nv in enumerate(step_sizes(lay)):
        lam_fr, t = t.challenge(b"lambda")
        lam = int(field.decode(lam_fr))
        prf = SumcheckProof(messages=proof.layer_messages[off : off + nv],
                            final_evals=proof.layer_finals[i],
                            mask=proof.layer_masks[i] if t.zk else None)
        off += nv
        try:
            fc, t = sumcheck.verify(
                field.encode((big_p + lam * big_q) % R), prf, t, num_vars=nv, num_tables=4,
                eq_point=rho, label=LAYER_LABEL, terms=LAYER_TERMS,
                coeffs=jnp.concatenate([field.ones((2,)), lam_fr[None]]), premasked=True)
        except SumcheckError as e:
            raise LookupError("layer_sumcheck", str(e), layer=i + 1, round=e.round) from e
        plo, phi, qlo, qhi = _ints(prf.final_evals)
        if i == b - 1:  # the merge: (p_W, −m, q_W, α − t) at r; W_b's claims continue there
            r_table = fc.point
            if qhi != (alpha - _table_mle_int(table, _ints(r_table), beta)) % R:
                raise LookupError("table_check", "the table side's denominator at the merge "
                                  "point is not α minus the table's MLE")
            table_p, big_p, big_q, rho = phi, plo, qlo, r_table
            continue
        mu_fr, t = t.challenge(b"mu")
        mu = int(field.decode(mu_fr))
        big_p, big_q = ((1 - mu) * plo + mu * phi) % R, ((1 - mu) * qlo + mu * qhi) % R
        rho = jnp.concatenate([fc.point, mu_fr[None]])

    rp = _ints(rho)
    vals = _ints(proof.column_values)
    m_val = _ints(proof.multiplicity_value)[0]
    if (table_p + m_val) % R != 0:
        raise LookupError("table_check", "the table side's numerator at the merge point is not "
                          "minus the multiplicities' opened value")
    z_w = _zero_tail(rp, lay.c + lay.kappa, h)
    ind, s = 0, 0
    for i, (shape, ci) in enumerate(zip(lay.shapes, lay.col_vars)):
        w = _eq_bits(rp[lay.c : lay.c + lay.kappa], i) * _zero_tail(rp, ci, lay.c) % R
        ind = (ind + w * shape_indicator(shape, rp[:ci])) % R
        v = vals[lay.width * i]
        if lay.width == 2:
            v = v + beta * vals[2 * i + 1]
        s = (s + w * v) % R
    if z_w * ind % R != big_p or (alpha - z_w * s) % R != big_q:
        raise LookupError("leaf_check", "the leaves rebuilt from the column values differ from "
                          "the last layer's claims")
    t = t.absorb_field(b"columns", proof.column_values)
    op = commit.OpeningProof(left=proof.opening_left, right=proof.opening_right,
                             a=proof.opening_a, z1=proof.opening_z1, z2=proof.opening_z2)
    try:
        t = commit.verify_opening([cm], r_table, proof.multiplicity_value[None], op, gens, t)
    except commit.OpeningError as e:
        raise LookupError("multiplicity_opening", str(e)) from e
    claims = LookupClaims(point=rho[: lay.c], values=proof.column_values, col_vars=lay.col_vars)
    return claims, t


def _check_shapes(proof: LookupProof, lay: Layout, b: int, c_m: int) -> None:
    h = lay.h
    want = {
        "multiplicity_commitment": (1 << (b - c_m), 3, curve.FP_LIMBS),
        "layer1": (4, field.LIMBS),
        "layer_messages": (sum(step_sizes(lay)), 4, field.LIMBS),
        "layer_finals": (h, 4, field.LIMBS),
        "column_values": (lay.num_cols, lay.width, field.LIMBS),
        "multiplicity_value": (field.LIMBS,),
        "opening_left": (c_m, 3, curve.FP_LIMBS),
        "opening_right": (c_m, 3, curve.FP_LIMBS),
        "opening_a": (3, curve.FP_LIMBS),
        "opening_z1": (field.LIMBS,),
        "opening_z2": (field.LIMBS,),
    }
    for name, shape in want.items():
        got = tuple(getattr(proof, name).shape)
        if got != shape:
            raise LookupError("shape", f"{name} must have shape {shape}, got {got}")


__all__ = [
    "GENERATOR_TAG", "LAYER_TERMS", "Layout", "LookupClaims", "LookupError", "LookupProof",
    "Table", "check_witness", "layout", "mapping_table", "multiplicities", "prefix_indicator",
    "proof_bytes", "prove", "prove_with_multiplicities", "range_table", "setup",
    "shape_indicator", "step_sizes", "verify",
]
