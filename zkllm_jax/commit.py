"""Hyrax matrix commitments with hiding Pedersen rows, opened by a hiding inner-product argument.

Layout. A tensor is zero-padded per axis and flattened row-major (the `mle` convention) to
N = 2^n entries and read as a matrix M[rows, cols] with cols = 2^c, rows = 2^(n−c): the low c
variables index columns, the high n − c index rows. The default is c = ceil(n/2) (cols ≥ rows):
a square-root split that balances the commitment (rows points) against the opening's verifier
MSM (cols points); the original zkLLM's choice (out_features·32 generators) is available by
passing `cols`. The MLE at u = (u_col, u_row) is eq(u_row)ᵀ · M · eq(u_col).

Generators. G_j = curve.generators(cols, tag)[j]; the blinding generator H and the inner-product
generator U come from the distinct tags tag + b"/blind" and tag + b"/ipa-u" (RFC 9380
hash-to-curve, so nobody knows discrete logs between them).

Commitment. C_i = Σ_j M[i, j]·G_j + b_i·H with blinds b_i = `blinds(key, rows)` drawn from the
caller's key (`prng`), so `witness(tensor, key)` recomputes the prover's side without the MSM
(`zkllm_jax.weights` keeps weight witnesses this way). int32 tensors
(fixed-point weights) commit through the small-scalar MSM; field tensors through the Fr MSM.
Each row's blind is part of its MSM: one more column (b_i on H) for field tensors, 16 more
for int32 ones (b_i's 16-bit digits on 2^(16k)·H), not a separate scalar multiplication.
Commitments are additively homomorphic (`add`, `scale`), which residual connections use.

Opening at u, for several commitments at the same point (batched with challenges ρ_k):
  1. transcript: begin("hyrax-open", [n, c, K]); absorb the commitments, the point, the values
     y_k; squeeze ρ (K values) and w; U' = w·U.
  2. v = Σ_k ρ_k eq(u_row)ᵀ M_k, β = Σ_k ρ_k ⟨eq(u_row), b_k⟩, y = Σ_k ρ_k y_k, a = eq(u_col);
     the verifier forms P = Σ_k ρ_k Σ_i eq(u_row)_i C_{k,i} + y·U' = ⟨v, G⟩ + ⟨v, a⟩·U' + β·H.
  3. c rounds of the Bulletproofs halving with blinded cross terms:
     L = ⟨v_lo, G_hi⟩ + ⟨v_lo, a_hi⟩·U' + λ·H, R = ⟨v_hi, G_lo⟩ + ⟨v_hi, a_lo⟩·U' + μ·H,
     absorb L, R, squeeze x; v ← x·v_lo + x⁻¹·v_hi, a ← x⁻¹·a_lo + x·a_hi,
     G ← x⁻¹·G_lo + x·G_hi, P ← x²·L + P + x⁻²·R, β ← β + x²·λ + x⁻²·μ.
  4. a Schnorr proof of knowledge of (v, β) with P = v·(G + a·U') + β·H: A = d·(G + a·U') + s·H,
     absorb A, squeeze e, z1 = d + e·v, z2 = s + e·β. Verifier: z1·(G + a·U') + z2·H = A + e·P,
     with G = ⟨s_vec, G⟩ (one MSM of cols points) and a = Π_t (x_t⁻¹(1 − u_t) + x_t·u_t).
  Proof: 2c points, one point, two scalars = 96c + 112 bytes of payload (`proof` adds headers).
  The cross terms and the final step are blinded, so the opening reveals nothing beyond y.

Vector openings (`commit_vector`, `prove_vector_opening`): a short vector s of n entries
committed as one point C = ⟨s, G⟩ + b·H (sumcheck masks) is opened at a public functional a to
y = ⟨s, a⟩ by a Σ-protocol (Hyrax's proof of a dot product, with y public), not by the
inner-product argument: the prover draws d ∈ Fr^n and b_d from its key and sends
δ = ⟨d, G⟩ + b_d·H and t = ⟨d, a⟩; after the challenge e it sends z = e·s + d and
z_b = e·b + b_d; the verifier checks ⟨z, G⟩ + z_b·H = e·C + δ (one MSM of n + 3 points) and
⟨z, a⟩ = e·y + t. Two accepting answers to one (δ, t) give s = (z − z′)/(e − e′) with
⟨s, a⟩ = y, and (z, z_b) is uniform whatever s is, so the proof reveals nothing beyond y. It is
linear in n (32·(n + 2) + 48 bytes) where the argument is logarithmic, but needs one MSM where
the argument needs 2c + 1 and a scalar multiplication per generator: short vectors, opened
once per sumcheck, are latency-bound on a GPU (an MSM costs milliseconds there at any small n),
so the MSM count is what matters. δ does not depend on the transcript, so a caller may compute
it with C in one batched MSM (`commit_vectors`).

The prover never folds generators: after r rounds they are σ·G_r with G_r[i] = Σ_j s_j·G[i +
j·2^(c−r)] (s the tensor product of (1, x_t²), σ = Π x_t⁻¹), so each round's L and R are one
batched MSM over the original generators' strided halves and A is one MSM; the verifier's
final check is one MSM that must vanish. On a GPU a batch of scalar multiplications is a
latency-bound chain of ~4 ms, the same as an MSM of a few thousand points.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from . import curve, field, mle, prng
from .transcript import Transcript

Array = jax.Array
R = field.R
# A verifier's host transcript checks an opening of at most this many MSM terms (rows of every
# commitment plus the generators) with Python integers and a padded MSM (`_verify_core_host`);
# larger ones keep the jitted route, whose compilation is then small beside its work.
HOST_TERMS = 1 << 16


class OpeningError(ValueError):
    """An opening proof was rejected; `check` names the failed check."""

    def __init__(self, check: str, detail: str):
        self.check = check
        super().__init__(f"hyrax opening rejected: {check}: {detail}")


# An int32 commitment's blind b = Σ_k d_k·2^(16k) (d_k < 2^16) enters its MSM as BLIND_DIGITS
# more columns, digits d_k on points 2^(16k)·H, instead of one full-width scalar multiplication
# b·H per row: on an H100 those took 1.15 s of a 7B layer's 6.4 s advice commitment.
BLIND_DIGITS = 16
BLIND_DIGIT_BITS = 16


@struct.dataclass
class Generators:
    """g: uint32[cols, 3, 12] row generators; h: blinding generator; u: inner-product generator;
    h_digits: uint32[BLIND_DIGITS, 3, 12], the points 2^(16k)·H of int32 commitments' blind
    digits (made once by `setup`: per commitment they were 16 scalar multiplications)."""

    g: Array
    h: Array
    u: Array
    h_digits: Array


@struct.dataclass
class Commitment:
    """Row commitments uint32[rows, 3, 12]; `num_vars`, `col_vars` give the layout."""

    rows: Array
    num_vars: int = struct.field(pytree_node=False)
    col_vars: int = struct.field(pytree_node=False)


@jax.tree_util.register_pytree_node_class
class Witness:
    """The prover's side of a commitment: the matrix and the blinds Fr[rows, 8].

    The matrix is stored as given: int32[rows, cols] for an int32 tensor (8x smaller than its
    field elements; `commit` and `witness` keep int32 tensors so) or Fr[rows, cols, 8]. With a
    `layout` (n, c), `data` is the int32 tensor in its own shape, laid out as the matrix on each
    access (`commit` keeps an int32 tensor so: the witness then shares the caller's buffer
    instead of holding a second copy, 13 GiB for a 7B layer's advice at 2048 tokens).
    `grid` is the stored matrix, `matrix` reads it as Fr[rows, cols, 8] (converting an int32
    one on each access). A pytree of (data, blinds), the layout static.
    """

    def __init__(self, matrix: Array, blinds: Array, layout: tuple[int, int] | None = None):
        self.data = matrix
        self.blinds = blinds
        self.layout = layout

    @property
    def grid(self) -> Array:
        """The stored matrix: int32[rows, cols] or Fr[rows, cols, 8]."""
        if self.layout is None:
            return self.data
        return _int_matrix(self.data, *self.layout)

    @property
    def matrix(self) -> Array:
        """The matrix as field elements Fr[rows, cols, 8]."""
        d = self.grid
        return field.encode(d) if d.dtype == jnp.int32 else d

    @property
    def is_int(self) -> bool:
        return self.data.dtype == jnp.int32

    def tree_flatten(self):
        return (self.data, self.blinds), self.layout

    @classmethod
    def tree_unflatten(cls, aux, children):
        obj = object.__new__(cls)
        obj.data, obj.blinds = children
        obj.layout = aux
        return obj

    def __repr__(self) -> str:
        return f"Witness(data={self.data!r}, blinds={self.blinds!r}, layout={self.layout!r})"


def field_parts(w: Witness) -> dict[str, Array]:
    """A witness's field-valued parts by name: its blinds, and its matrix unless it is int32."""
    return {"blinds": w.blinds} if w.is_int else {"blinds": w.blinds, "matrix": w.data}


def check_witness(w: Witness, name: str) -> Witness:
    """Canonical-limb checks of a witness's field parts (`field_parts`), inside
    `field.trusted()` too: a prover's check of a witness it was given. Returns `w`."""
    for part, x in field_parts(w).items():
        field.check_canonical(x, f"{name}.{part}")
    return w


@struct.dataclass
class VectorOpeningProof:
    """Σ-protocol of a vector opening: delta uint32[3, 12], t Fr[8], z Fr[n, 8], z_blind Fr[8]."""

    delta: Array
    t: Array
    z: Array
    z_blind: Array


@struct.dataclass
class OpeningProof:
    """Inner-product argument: L, R uint32[c, 3, 12], a: uint32[3, 12], z1, z2: Fr[8]."""

    left: Array
    right: Array
    a: Array
    z1: Array
    z2: Array


def setup(cols: int, tag: bytes) -> Generators:
    """Generators for matrices of `cols` columns (a power of two) under a domain tag."""
    if cols < 1 or cols & (cols - 1):
        raise ValueError(f"setup: cols must be a power of two >= 1, got {cols}")
    # concrete even when called while tracing, so callers may cache the result
    with jax.ensure_compile_time_eval():
        h = curve.generators(1, tag + b"/blind")[0]
        digits = np.array([1 << (BLIND_DIGIT_BITS * k) for k in range(BLIND_DIGITS)], object)
        return Generators(
            g=curve.generators(cols, tag),
            h=h,
            u=curve.generators(1, tag + b"/ipa-u")[0],
            h_digits=curve.scalar_mul(h, digits),
        )


def layout(shape: Sequence[int], cols: int | None = None) -> tuple[int, int]:
    """(n, c): the padded tensor has 2^n entries, the matrix 2^c columns."""
    n = sum(mle.num_vars(d) for d in shape)
    if cols is None:
        c = (n + 1) // 2
    else:
        if cols < 1 or cols & (cols - 1):
            raise ValueError(f"layout: cols must be a power of two, got {cols}")
        c = min(cols.bit_length() - 1, n)
    return n, c


def _padded_flat(x: Any, is_int: bool) -> Array:
    """Per-axis zero padding and row-major flattening (the MLE convention)."""
    if is_int:
        return mle.flat_i32(x)
    # not mle.table: x was checked already, and its eager canonical check is a pass over it
    widths = [(0, (1 << mle.num_vars(d)) - d) for d in x.shape[:-1]] + [(0, 0)]
    return jnp.pad(x, widths).reshape(-1, field.LIMBS)


def _inspect(tensor: Any, cols: int | None) -> tuple[Any, bool, int, int]:
    """(tensor, is_int, n, c) after checking the tensor's dtype and rank."""
    is_int = hasattr(tensor, "dtype") and tensor.dtype in (jnp.int32, jnp.int16, jnp.int8)
    if not is_int:
        tensor = field.check(tensor, "tensor")
        shape = tensor.shape[:-1]
    else:
        shape = tensor.shape
    if len(shape) == 0:
        raise ValueError("commit: the tensor needs at least one axis")
    n, c = layout(shape, cols)
    return tensor, is_int, n, c


def commit(
    tensor: Any, gens: Generators, key: Array, cols: int | None = None,
    bits: int | None = None,
) -> tuple[Commitment, Witness]:
    """Commit to a tensor: int32[...] (small-scalar MSM) or Fr[..., 8]. Pure and jit-able.

    Returns the commitment and the prover's witness (matrix and blinds) for openings.
    bits (int tensors): a bound |x| <= 2^(bits−1) on the entries, fewer MSM windows when
    smaller; measure it with `int_bits` (a wrong bound gives a wrong commitment: `curve.msm`).
    """
    tensor, is_int, n, c = _inspect(tensor, cols)
    _check_gens(gens, c)
    msm_bits = _msm_bits(is_int, bits)
    if is_int:  # the witness keeps the tensor itself (no laid-out copy)
        com, b = _commit(tensor, gens, key, n, c, is_int, False, msm_bits)
        return com, Witness(jnp.asarray(tensor, jnp.int32), b, layout=(n, c))
    return _commit(tensor, gens, key, n, c, is_int, True, msm_bits)


def commitment(
    tensor: Any, gens: Generators, key: Array, cols: int | None = None,
    bits: int | None = None,
) -> Commitment:
    """`commit(...)[0]` without materialising the witness (32 bytes per padded entry)."""
    tensor, is_int, n, c = _inspect(tensor, cols)
    _check_gens(gens, c)
    return _commit(tensor, gens, key, n, c, is_int, False, _msm_bits(is_int, bits))[0]


def _check_gens(gens: Generators, c: int) -> None:
    if gens.g.shape[0] < (1 << c):
        raise ValueError(f"commit: {1 << c} columns need {1 << c} generators, "
                         f"got {gens.g.shape[0]}")


def _msm_bits(is_int: bool, bits: int | None) -> int | None:
    """The row MSM's bound: the tensor's, and 17 for the blinds' 16-bit digits."""
    if bits is None or not is_int:
        return None
    if not 2 <= int(bits) <= 32:
        raise ValueError(f"commit: bits must lie in [2, 32], got {bits}")
    return max(int(bits), BLIND_DIGIT_BITS + 1)


def int_bits(tensors: Mapping[str, Any]) -> dict[str, int]:
    """name -> the least bits with |x| <= 2^(bits−1) for every entry (at least 2), for int
    tensors, measured on the device with one transfer for all; {} under a trace."""
    if any(isinstance(v, jax.core.Tracer) for v in tensors.values()):
        return {}
    ext = jax.device_get(_extremes(tuple(tensors.values())))
    return {k: max(2, 1 + (max(-int(lo), int(hi)) - 1).bit_length())
            for k, (lo, hi) in zip(tensors, ext)}


# a tuple, not the caller's dict: names would be part of the cache key, and weights.commit_all
# (one tensor per call, hundreds of names) would compile once per name instead of per shape
@jax.jit
def _extremes(tensors: tuple[Array, ...]) -> tuple[tuple[Array, Array], ...]:
    return tuple((jnp.min(v).astype(jnp.int32), jnp.max(v).astype(jnp.int32)) for v in tensors)


def witness(tensor: Any, key: Array, cols: int | None = None) -> Witness:
    """`commit(tensor, gens, key, cols)[1]` without the MSM: the prover's matrix and blinds."""
    tensor, is_int, n, c = _inspect(tensor, cols)
    return _witness(tensor, key, n, c, is_int)


def blinds(key: Array, rows: int) -> Array:
    """The row blinds Fr[rows, 8] that `commit` draws from `key` (part of the key contract)."""
    return field.random(key, (rows,))


def _matrix(tensor, n, c, is_int):
    """The padded matrix: int32[rows, cols] for int tensors, Fr[rows, cols, 8] otherwise."""
    rows, ncols = 1 << (n - c), 1 << c
    flat = _padded_flat(jnp.asarray(tensor).astype(jnp.int32) if is_int else tensor, is_int)
    return flat.reshape(rows, ncols) if is_int else flat.reshape(rows, ncols, field.LIMBS)


@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _witness(tensor, key, n, c, is_int):
    return Witness(matrix=_matrix(tensor, n, c, is_int), blinds=blinds(key, 1 << (n - c)))


def _blind_columns(gens: Generators, b: Array, is_int: bool) -> tuple[Array, Array]:
    """Points and scalars whose MSM per row is b_i·H: one column (H, b) for field matrices; for
    int32 ones, the blinds' 16-bit digits on 2^(16k)·H."""
    if not is_int:
        return gens.h[None], b[:, None]
    pts = gens.h_digits
    limbs = field.to_canonical_limbs(b)
    digits = jnp.stack([limbs & 0xFFFF, limbs >> 16], axis=-1).astype(jnp.int32)
    return pts, digits.reshape(b.shape[0], BLIND_DIGITS)


@functools.partial(jax.jit, static_argnums=(3, 4, 5, 6, 7))
def _commit(tensor, gens, key, n, c, is_int, with_witness, bits=None):
    mat = _matrix(tensor, n, c, is_int)
    b = blinds(key, 1 << (n - c))
    h_pts, h_scalars = _blind_columns(gens, b, is_int)
    c_rows = curve.msm(jnp.concatenate([gens.g[: 1 << c], h_pts]),
                       jnp.concatenate([mat, h_scalars], axis=1), bits=bits)
    com = Commitment(rows=c_rows, num_vars=n, col_vars=c)
    if not with_witness:
        return com, b
    return com, Witness(matrix=mat, blinds=b)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _int_matrix(tensor, n, c):
    return _matrix(tensor, n, c, True)


# --- homomorphic operations -------------------------------------------------------------------


def _same_layout(a: Commitment, b: Commitment) -> None:
    if (a.num_vars, a.col_vars) != (b.num_vars, b.col_vars):
        raise ValueError(f"commitments of different layouts: (n, c) = {(a.num_vars, a.col_vars)} "
                         f"vs {(b.num_vars, b.col_vars)}")


def add(a: Commitment, b: Commitment) -> Commitment:
    """Commitment to the sum of the committed tensors (blinds add too)."""
    _same_layout(a, b)
    return Commitment(rows=curve.add(a.rows, b.rows), num_vars=a.num_vars, col_vars=a.col_vars)


def scale(a: Commitment, s: Any) -> Commitment:
    """Commitment to s times the committed tensor (s a field element Fr[8] or an int)."""
    s = field.encode(s) if isinstance(s, int) else s
    return Commitment(rows=curve.scalar_mul(a.rows, s), num_vars=a.num_vars, col_vars=a.col_vars)


def add_witness(a: Witness, b: Witness) -> Witness:
    """The witness of `add(a, b)`."""
    return Witness(matrix=field.add(a.matrix, b.matrix), blinds=field.add(a.blinds, b.blinds))


def scale_witness(a: Witness, s: Any) -> Witness:
    """The witness of `scale(a, s)`."""
    s = field.encode(s) if isinstance(s, int) else s
    return Witness(matrix=field.mul(a.matrix, s), blinds=field.mul(a.blinds, s))


# --- opening ----------------------------------------------------------------------------------


_FOLD_CHUNK = 1 << 20  # matrix entries converted to field elements at a time by fold_rows


def fold_rows(w: Witness, eq_row: Array) -> Array:
    """eq_rowᵀ · M (Fr[cols, 8]) for the witness matrix M and a row vector Fr[rows, 8].

    An int32 matrix folds in one native pass (`field.fold_rows_i32`, wide integer sums); a
    field matrix runs over blocks of rows (about 2^20 entries each), so only one block is laid
    out for the reduction at a time. Field addition is exact: the same result as one pass.
    """
    d = w.grid
    if d.dtype == jnp.int32:  # one native pass, no field copy of the matrix
        return field.fold_rows_i32(d, eq_row)
    rows, cols = d.shape[0], d.shape[1]
    per = max(1, min(rows, _FOLD_CHUNK // cols))
    if per == rows:
        return _fold_block(d, eq_row)
    blocks = rows // per
    xs = (d.reshape((blocks, per) + d.shape[1:]), eq_row.reshape(blocks, per, field.LIMBS))

    def body(acc, x):
        return field.add(acc, _fold_block(*x)), None

    acc, _ = jax.lax.scan(body, field.zeros((cols,)), xs)
    return acc


def _fold_block(d: Array, eq_row: Array) -> Array:
    mat = field.encode(d) if d.dtype == jnp.int32 else d
    return field.inner_product(mat, eq_row[:, None, :], axis=0)


def evaluate(w: Witness, point: Any) -> Array:
    """The committed tensor's MLE at a point (prover side): eq(u_row)ᵀ · M · eq(u_col)."""
    c = w.layout[1] if w.layout is not None else w.data.shape[1].bit_length() - 1
    v = fold_rows(w, mle.eq_table(point[c:]))
    return field.inner_product(v, mle.eq_table(point[:c]))


def _begin(t: Transcript, coms: Sequence[Commitment], point: Array, values: Array):
    n, c = coms[0].num_vars, coms[0].col_vars
    t = t.begin(b"hyrax-open", [n, c, len(coms)])
    t = t.absorb_points(b"commitments", jnp.stack([cm.rows for cm in coms]))
    t = t.absorb_field(b"point", point)
    t = t.absorb_field(b"values", values)
    rho, t = t.challenges(b"rho", len(coms))
    w, t = t.challenge(b"w")
    return t, rho, w


def _check_point(coms: Sequence[Commitment], point: Any) -> Array:
    if not coms:
        raise ValueError("opening: no commitments")
    for cm in coms[1:]:
        _same_layout(coms[0], cm)
    point = field.check(point, "point")
    n = coms[0].num_vars
    if point.shape != (n, field.LIMBS) or n == 0:
        raise ValueError(f"opening: the point must be Fr[{n}, 8] (n >= 1), got "
                         f"{tuple(point.shape)}")
    return point


def prove_opening(
    commitments: Sequence[Commitment],
    witnesses: Sequence[Witness],
    point: Any,
    gens: Generators,
    transcript: Transcript,
    key: Array,
) -> tuple[Array, OpeningProof, Transcript]:
    """Open one or more commitments (same generators and layout) at one point.

    Returns the values Fr[K, 8] (the tensors' MLEs at `point`), the proof and the transcript.
    Pure and jit-able; `key` supplies the blinding randomness.
    """
    point = _check_point(commitments, point)
    if len(witnesses) != len(commitments):
        raise ValueError("prove_opening: one witness per commitment")
    return _prove_opening(tuple(commitments), tuple(witnesses), point, gens, transcript, key)


@jax.jit
def _prove_opening(coms, wits, point, gens, transcript, key):
    c = coms[0].col_vars
    eq_row = mle.eq_table(point[c:]) if coms[0].num_vars > c else field.ones((1,))
    a = mle.eq_table(point[:c]) if c else field.ones((1,))
    folded = [fold_rows(w, eq_row) for w in wits]
    values = jnp.stack([field.inner_product(v, a) for v in folded])
    t, rho, w = _begin(transcript, coms, point, values)
    v = field.mul(jnp.stack(folded), rho[:, None, :])
    v = field.sum(v, axis=0)
    beta = field.sum(field.mul(jnp.stack([field.inner_product(x.blinds, eq_row) for x in wits]),
                               rho), axis=0)
    proof, t = _ipa_prove(v, a, beta, gens, w, t, key)
    return values, proof, t


def _ipa_prove(v: Array, a: Array, beta: Array, gens: Generators, w: Array, t: Transcript,
               key: Array) -> tuple[OpeningProof, Transcript]:
    """The blinded inner-product argument for P = ⟨v, G⟩ + ⟨v, a⟩·U' + β·H, U' = w·U.

    v: the folded rows, a: eq(u_col); len(v) = 2^c; steps 3–4 of the module docstring.
    """
    n = v.shape[0]
    c = n.bit_length() - 1
    g = gens.g[:n]
    ends = jnp.stack([gens.u, gens.h])
    sigma = field.ones(())
    # After r rounds the generators are σ·G_r with G_r[i] = Σ_j s[j]·G[i + j·m], m = 2^(c−r):
    # each cross term is one MSM over the original generators (their strided halves) and no
    # generator is ever folded (a batch of scalar multiplications is a latency-bound chain on a
    # GPU, and the MSMs cost the same at any small size).
    s = field.ones((1,))
    keys = prng.split(key, 2 * c + 2)
    lefts, rights = [], []
    for rnd in range(c):
        h = v.shape[0] // 2
        v_lo, v_hi, a_lo, a_hi = v[:h], v[h:], a[:h], a[h:]
        lam = field.random(keys[2 * rnd])
        mu = field.random(keys[2 * rnd + 1])
        c_l, c_r = field.inner_product(v_lo, a_hi), field.inner_product(v_hi, a_lo)
        halves = g.reshape(s.shape[0], 2, h, 3, curve.FP_LIMBS)
        s_sig = field.mul(s, sigma)
        # the coefficient of G[i + (2j + half)·h] is σ·s_j·v_half[i]
        lo_hi = field.mul(s_sig[None, :, None], jnp.stack([v_lo, v_hi])[:, None])
        lo_hi = lo_hi.reshape(2, -1, field.LIMBS)
        pts = jnp.stack([halves[:, 1].reshape(-1, 3, curve.FP_LIMBS),
                         halves[:, 0].reshape(-1, 3, curve.FP_LIMBS)])
        pts = jnp.concatenate([pts, jnp.broadcast_to(ends, (2, 2, 3, curve.FP_LIMBS))], axis=1)
        scal = jnp.stack([
            jnp.concatenate([lo_hi[0], field.mul(c_l, w)[None], lam[None]]),
            jnp.concatenate([lo_hi[1], field.mul(c_r, w)[None], mu[None]]),
        ])
        left, right = curve.msm(pts, scal)
        t = t.absorb_points(b"L", left).absorb_points(b"R", right)
        x, t = t.challenge(b"x")
        xi = field.inv(x)
        x2, xi2 = field.mul(x, x), field.mul(xi, xi)
        v = field.add(field.mul(v_lo, x), field.mul(v_hi, xi))
        a = field.add(field.mul(a_lo, xi), field.mul(a_hi, x))
        s = jnp.stack([s, field.mul(s, x2)], axis=1).reshape(-1, field.LIMBS)
        sigma = field.mul(sigma, xi)
        beta = field.add(beta, field.add(field.mul(x2, lam), field.mul(xi2, mu)))
        lefts.append(left)
        rights.append(right)
    # Schnorr proof of knowledge of (v, β) with P = v·(G + a·U') + β·H, G = σ·⟨s, G⟩:
    # A = d·(G + a·U') + s_b·H is one MSM
    d, s_b = field.random(keys[-2]), field.random(keys[-1])
    big_a = curve.msm(jnp.concatenate([g, ends]), jnp.concatenate([
        field.mul(s, field.mul(d, sigma)), field.mul(field.mul(d, a[0]), w)[None], s_b[None]]))
    t = t.absorb_points(b"A", big_a)
    e, t = t.challenge(b"e")
    z1 = field.add(d, field.mul(e, v[0]))
    z2 = field.add(s_b, field.mul(e, beta))
    empty = jnp.zeros((0, 3, curve.FP_LIMBS), jnp.uint32)
    proof = OpeningProof(
        left=jnp.stack(lefts) if lefts else empty,
        right=jnp.stack(rights) if rights else empty,
        a=big_a, z1=z1, z2=z2,
    )
    return proof, t


def verify_opening(
    commitments: Sequence[Commitment],
    point: Any,
    values: Any,
    proof: OpeningProof,
    gens: Generators,
    transcript: Transcript,
) -> Transcript:
    """Check that the committed tensors' MLEs at `point` are `values` (Fr[K, 8]).

    Raises OpeningError naming the failed check; returns the transcript.
    """
    point = _check_point(commitments, point)
    values = field.check(values, "values")
    k = len(commitments)
    n, c = commitments[0].num_vars, commitments[0].col_vars
    if values.shape != (k, field.LIMBS):
        raise OpeningError("shape", f"values must be Fr[{k}, 8], got {tuple(values.shape)}")
    if proof.left.shape != (c, 3, curve.FP_LIMBS) or proof.right.shape != (c, 3, curve.FP_LIMBS):
        raise OpeningError("shape", f"L and R must hold {c} points each")
    if gens.g.shape[0] < (1 << c):
        raise OpeningError("shape", f"{1 << c} columns need {1 << c} generators")
    for cm in commitments:
        if cm.rows.shape != (1 << (n - c), 3, curve.FP_LIMBS):
            raise OpeningError("shape", f"a commitment must have {1 << (n - c)} rows")
    coms = tuple(commitments)
    if (len(coms) << (n - c)) + (1 << c) <= HOST_TERMS and isinstance(transcript, Transcript) \
            and transcript.on_host(point, values, gens.g, *(cm.rows for cm in coms),
                                   *jax.tree_util.tree_leaves(proof)):
        ok, t = _verify_core_host(coms, point, values, proof, gens, transcript)
    else:
        ok, t = _verify_core(coms, point, values, proof, gens, transcript)
    if not bool(ok):
        raise OpeningError("ipa_final", "z1·(G + a·U') + z2·H differs from A + e·P")
    return t


@jax.jit
def _verify_core(commitments, point, values, proof, gens, transcript):
    n, c = commitments[0].num_vars, commitments[0].col_vars
    t, rho, w = _begin(transcript, commitments, point, values)
    eq_row = mle.eq_table(point[c:]) if n > c else field.ones((1,))
    # P = Σ_k ρ_k Σ_i eq_row_i C_{k,i} + y·U'
    scal = field.mul(rho[:, None, :], eq_row[None, :, :]).reshape(-1, field.LIMBS)
    y = field.sum(field.mul(values, rho), axis=0)
    rows = jnp.concatenate([cm.rows for cm in commitments])
    return _ipa_verify(rows, scal, y, proof, gens, w, point[:c], t)


def _verify_core_host(coms, point, values, proof, gens, transcript):
    """`_verify_core` for a verifier's host transcript and a small opening: the transcript
    hashes on the host, the scalars are Python integers and the final check is one MSM padded
    to a power of two of terms, so openings of every commitment shape share a few compilations
    instead of one program each (the jitted route's cost in a cold verify)."""
    n, c = coms[0].num_vars, coms[0].col_vars
    for name in ("z1", "z2"):
        try:
            field.check(getattr(proof, name), name)
        except ValueError as err:
            raise OpeningError("shape", f"the opening's {err}") from err
    t = transcript.begin(b"hyrax-open", [n, c, len(coms)])
    rows = np.concatenate([np.asarray(cm.rows) for cm in coms])
    t = t.absorb_points(b"commitments", rows.reshape(len(coms), -1, *rows.shape[1:]))
    t = t.absorb_field(b"point", point)
    t = t.absorb_field(b"values", values)
    rho, t = t.challenges(b"rho", len(coms))
    w, t = t.challenge(b"w")
    r, pt, vals = field.R, field.ints(point), field.ints(values)
    rho_i, w_i = field.ints(rho), field.ints(w)[0]
    eq_row = [1]
    for rj in pt[c:]:  # the jitted eq_table's order: variable j is index bit j
        eq_row = [v * (1 - rj) % r for v in eq_row] + [v * rj % r for v in eq_row]
    scal = [rk * e % r for rk in rho_i for e in eq_row]
    y = sum(v * rk for v, rk in zip(vals, rho_i)) % r
    left, right = np.asarray(proof.left), np.asarray(proof.right)
    xs = []
    for rnd in range(c):
        t = t.absorb_points(b"L", left[rnd]).absorb_points(b"R", right[rnd])
        x, t = t.challenge(b"x")
        xs.append(field.ints(x)[0])
    xi = [pow(x, r - 2, r) for x in xs]  # field.inv's value, 0 at 0
    svec, a_fin = [1], 1
    for bit in range(c):
        rnd = c - 1 - bit
        svec = [v * xi[rnd] % r for v in svec] + [v * xs[rnd] % r for v in svec]
        a_fin = a_fin * (xi[rnd] * (1 - pt[bit]) + xs[rnd] * pt[bit]) % r
    cross = [x * x % r for x in xs] + [v * v % r for v in xi]
    t = t.absorb_points(b"A", proof.a)
    e, t = t.challenge(b"e")
    e_i, (z1,), (z2,) = field.ints(e)[0], field.ints(proof.z1), field.ints(proof.z2)
    u_coef = w_i * (z1 * a_fin - e_i * y)
    sc = ([v * z1 for v in svec] + [u_coef, z2, -1] + [v * -e_i for v in scal]
          + [v * -e_i for v in cross])
    pts = [np.asarray(gens.g)[: 1 << c], np.stack([np.asarray(gens.u), np.asarray(gens.h),
                                                   np.asarray(proof.a)]), rows, left, right]
    pad = (1 << (len(sc) - 1).bit_length()) - len(sc)
    pts.append(np.broadcast_to(np.asarray(gens.h), (pad, *gens.h.shape)))
    ok = curve.eq(curve.msm(jnp.asarray(np.concatenate(pts)),
                            jnp.asarray(field.mont_limbs(sc + [0] * pad))), curve.identity())
    return ok, t


def _ipa_verify(rows: Array, scal: Array, y: Array, proof: OpeningProof, gens: Generators,
                w: Array, u_col: Array, t: Transcript) -> tuple[Array, Transcript]:
    """The verifier's side of `_ipa_prove` for P = ⟨scal, rows⟩ + y·U' and a = eq(u_col).

    The final check z1·(G + a·U') + z2·H = A + e·(P + Σ x²·L + x⁻²·R) is one MSM that must
    vanish. Returns (ok, transcript)."""
    c = u_col.shape[0]
    xs = []
    for rnd in range(c):
        t = t.absorb_points(b"L", proof.left[rnd]).absorb_points(b"R", proof.right[rnd])
        x, t = t.challenge(b"x")
        xs.append(x)
    if c:
        x = jnp.stack(xs)
        xi = field.inv(x)
        # s_vec: round t binds index bit c−1−t with (x_t⁻¹, x_t); build from bit 0 upwards
        svec = field.ones((1,))
        for bit in range(c):
            rnd = c - 1 - bit
            pair = jnp.stack([xi[rnd], x[rnd]])
            svec = field.mul(pair[:, None, :], svec[None]).reshape(-1, field.LIMBS)
        # eq(u_col) folds to Π_t (x_t⁻¹(1 − u_t) + x_t·u_t); bit j pairs with round c−1−j
        terms = field.add(field.mul(xi[::-1], field.sub(field.ones(()), u_col)),
                          field.mul(x[::-1], u_col))
        a_fin = terms[0]
        for j in range(1, c):
            a_fin = field.mul(a_fin, terms[j])
        cross = jnp.concatenate([field.mul(x, x), field.mul(xi, xi)])
    else:  # one column: a = eq() = (1)
        svec, a_fin, cross = field.ones((1,)), field.ones(()), field.zeros((0,))
    t = t.absorb_points(b"A", proof.a)
    e, t = t.challenge(b"e")
    minus_e = field.neg(e)
    u_coef = field.mul(w, field.sub(field.mul(proof.z1, a_fin), field.mul(e, y)))
    pts = jnp.concatenate([gens.g[: 1 << c], jnp.stack([gens.u, gens.h, proof.a]), rows,
                           proof.left, proof.right])
    sc = jnp.concatenate([field.mul(svec, proof.z1), u_coef[None], proof.z2[None],
                          field.neg(field.ones((1,))), field.mul(scal, minus_e),
                          field.mul(cross, minus_e)])
    return curve.eq(curve.msm(pts, sc), curve.identity()), t


# --- vector commitments (short, e.g. sumcheck masks) -------------------------------------------


def _check_vector_gens(n: int, gens: Generators, what: str) -> None:
    if n < 1 or gens.g.shape[0] < n:
        raise ValueError(f"{what}: a vector of 1 to {gens.g.shape[0]} entries, got {n}")


def commit_vector(vec: Array, blind: Array, gens: Generators) -> Array:
    """Hiding Pedersen commitment ⟨vec, G⟩ + blind·H to Fr[n, 8] (one G1 point)."""
    return commit_vectors(vec[None], blind[None], gens)[0]


def commit_vectors(vecs: Array, blinds: Array, gens: Generators) -> Array:
    """`commit_vector` of each row of Fr[k, n, 8] with blinds Fr[k, 8], in one batched MSM."""
    _check_vector_gens(vecs.shape[1], gens, "commit_vectors")
    pts = jnp.concatenate([gens.g[: vecs.shape[1]], gens.h[None]])
    return curve.msm(pts, jnp.concatenate([vecs, blinds[:, None]], axis=1))


def vector_nonce(key: Array, n: int) -> tuple[Array, Array]:
    """The opening's random vector d (Fr[n, 8]) and its blind b_d, drawn from `key`."""
    k_d, k_b = prng.split(key, 2)
    return field.random(k_d, (n,)), field.random(k_b)


def _begin_vector(t: Transcript, com: Array, a: Array, value: Array, delta: Array,
                  t_val: Array, bound: bool = False) -> tuple[Array, Transcript]:
    # bound: C and δ were absorbed earlier on this transcript (a batch of masks committed up
    # front), so e already depends on them; a label of its own keeps the two forms apart
    if bound:
        t = t.begin(b"vector-open/sigma-bound", [a.shape[0]]).absorb_field(b"functional", a)
        t = t.absorb_field(b"value", value).absorb_field(b"t", t_val)
        return t.challenge(b"e")
    t = t.begin(b"vector-open/sigma", [a.shape[0]])
    t = t.absorb_points(b"commitment", com).absorb_field(b"functional", a)
    t = t.absorb_field(b"value", value)
    t = t.absorb_points(b"delta", delta).absorb_field(b"t", t_val)
    e, t = t.challenge(b"e")
    return e, t


def prove_vector_opening(vec: Array, blind: Array, com: Array, a: Array, gens: Generators,
                         transcript: Transcript, key: Array | None, delta: Array | None = None,
                         *, nonce: tuple[Array, Array] | None = None, bound: bool = False,
                         ) -> tuple[Array, VectorOpeningProof, Transcript]:
    """Prove ⟨vec, a⟩ = value for com = commit_vector(vec, blind) and a public a (Fr[n, 8]).

    The nonce (d, b_d) comes from `key` (or is given as `nonce`, with key None); `delta` is its
    commitment if the caller already made it (`commit_vectors` with `vector_nonce(key, n)`),
    else it is computed here (one MSM). bound: com and delta were already absorbed into this
    transcript (`verify_vector_opening` must be told the same). Returns (value, proof,
    transcript). Pure and jit-able.
    """
    n = vec.shape[0]
    _check_vector_gens(n, gens, "prove_vector_opening")
    if a.shape != vec.shape:
        raise ValueError(f"prove_vector_opening: the functional must be Fr[{n}, 8], got "
                         f"{tuple(a.shape)}")
    d, b_d = vector_nonce(key, n) if nonce is None else nonce
    if delta is None:
        delta = commit_vector(d, b_d, gens)
    value = field.inner_product(vec, a)
    t_val = field.inner_product(d, a)
    e, t = _begin_vector(transcript, com, a, value, delta, t_val, bound)
    z = field.add(field.mul(vec, e), d)
    z_blind = field.add(field.mul(blind, e), b_d)
    return value, VectorOpeningProof(delta=delta, t=t_val, z=z, z_blind=z_blind), t


def verify_vector_opening(com: Array, a: Array, value: Array, proof: VectorOpeningProof,
                          gens: Generators, transcript: Transcript, *, bound: bool = False
                          ) -> Transcript:
    """Check `prove_vector_opening`: ⟨committed vector, a⟩ = value. Raises OpeningError
    (`shape`, `sigma_commitment`: ⟨z, G⟩ + z_b·H ≠ e·C + δ, `sigma_value`: ⟨z, a⟩ ≠ e·y + t).
    bound: com and proof.delta were absorbed into the transcript before (the prover's `bound`)."""
    n = a.shape[0]
    if n < 1 or gens.g.shape[0] < n:
        raise OpeningError("shape", f"the functional's length {n} is not in [1, "
                           f"{gens.g.shape[0]}]")
    want = [(proof.delta, (3, curve.FP_LIMBS), "delta"), (proof.t, (field.LIMBS,), "t"),
            (proof.z, (n, field.LIMBS), "z"), (proof.z_blind, (field.LIMBS,), "z_blind")]
    for arr, shape, name in want:
        if tuple(getattr(arr, "shape", ())) != shape:
            raise OpeningError("shape", f"the opening's {name} must have shape {shape}, got "
                               f"{tuple(getattr(arr, 'shape', ()))}")
    if isinstance(transcript, Transcript) and transcript.on_host(
            com, a, value, proof.delta, proof.t, proof.z, proof.z_blind):
        ok_com, ok_val, t = _verify_vector_host(com, a, value, proof, gens, transcript, bound)
    else:
        ok_com, ok_val, t = _verify_vector(com, a, value, proof, gens, transcript, bound)
    if not bool(ok_com):
        raise OpeningError("sigma_commitment", "⟨z, G⟩ + z_b·H differs from e·C + δ")
    if not bool(ok_val):
        raise OpeningError("sigma_value", "⟨z, a⟩ differs from e·value + t")
    return t


@functools.partial(jax.jit, static_argnums=(6,))
def _verify_vector(com, a, value, proof, gens, transcript, bound):
    n = a.shape[0]
    e, t = _begin_vector(transcript, com, a, value, proof.delta, proof.t, bound)
    minus_one = field.neg(field.ones(()))
    # ⟨z, G⟩ + z_b·H − e·C − δ must be the identity: one MSM
    pts = jnp.concatenate([gens.g[:n], gens.h[None], com[None], proof.delta[None]])
    sc = jnp.concatenate([proof.z, proof.z_blind[None], field.neg(e)[None], minus_one[None]])
    ok_com = curve.eq(curve.msm(pts, sc), curve.identity())
    ok_val = jnp.all(field.inner_product(proof.z, a) == field.add(field.mul(e, value), proof.t))
    return ok_com, ok_val, t


def _verify_vector_host(com, a, value, proof, gens, transcript, bound):
    """`_verify_vector` for a verifier's host transcript: the transcript hashes on the host, the
    value check is in Python integers, and the MSM is padded to a power of two of terms (zero
    scalars), so the masks' many lengths share a few compilations instead of one each."""
    n = a.shape[0]
    for name in ("t", "z", "z_blind"):
        try:
            field.check(getattr(proof, name), name)
        except ValueError as err:
            raise OpeningError("shape", f"the opening's {err}") from err
    e, t = _begin_vector(transcript, com, a, value, proof.delta, proof.t, bound)
    z, av = field.ints_of_mont(np.asarray(proof.z)), field.ints_of_mont(np.asarray(a))
    e_i, y, t_i = (int(field.ints_of_mont(np.asarray(v))) for v in (e, value, proof.t))
    ok_val = sum(int(zi) * int(ai) for zi, ai in zip(z, av)) % field.R == (e_i * y + t_i) % field.R
    pad = (1 << (n + 2).bit_length()) - (n + 3)
    pts = jnp.concatenate([gens.g[:n], gens.h[None], com[None], proof.delta[None],
                           jnp.broadcast_to(gens.h, (pad,) + gens.h.shape)])
    sc = np.concatenate([np.asarray(proof.z), np.asarray(proof.z_blind)[None],
                         field.mont_limbs([-e_i, -1] + [0] * pad)])
    ok_com = curve.eq(curve.msm(pts, jnp.asarray(sc)), curve.identity())
    return ok_com, ok_val, t


def proof_bytes(c: int) -> int:
    """Payload bytes of an opening proof with 2^c columns: 2c + 1 points and 2 scalars."""
    return 48 * (2 * c + 1) + 2 * 32


__all__ = [
    "Commitment", "Generators", "OpeningError", "OpeningProof", "VectorOpeningProof", "Witness",
    "add", "add_witness", "blinds", "commit", "commit_vector", "commit_vectors", "commitment",
    "evaluate", "fold_rows", "layout", "proof_bytes", "prove_opening", "prove_vector_opening",
    "scale", "scale_witness", "setup", "vector_nonce", "verify_opening",
    "verify_vector_opening", "witness",
]
