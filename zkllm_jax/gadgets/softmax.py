"""zkAttn softmax over causally masked scores, exactly as the fixed-point model computes it.

For scores s (H, T, Tk) at scale 2^f, the causal mask N[t, j] = [j ≤ t] (1 = attended; the proof
covers a whole prompt, start = 0), R = round bits, digit widths b_0..b_{K−1} and the
normalisation's K_r = recip bits (docs/models.md):
    shift[h,t] = max_{j: N} s[h,t,j];    x = N ⊙ (shift − s) ≥ 0
    x = 2^R·u + round_rem,  round_rem ∈ [0, 2^R) (rounded down);   2^R·u = Σ_k 2^(o_k)·digit_k
    table_out_k = T_k[digit_k]   (public exp tables, one mapping lookup per digit)
    e_1 = rescale(table_out_0 ⊙ table_out_1, 2^f), e_i = rescale(e_{i−1} ⊙ table_out_i, 2^f)
    exp = N ⊙ e_{K−1};   z = Σ_j exp;   inv·z + irem = 2^(f+K_r),  irem ∈ [0, z)   (per row)
    2^(K_r)·probs + ρ = inv·exp + 2^(K_r−1),  ρ ∈ [0, 2^(K_r))   (round half up, per element)

Committed advice (`advice`; the caller commits every tensor and absorbs the commitments before
`prove`), all int32 of shape (H, T, Tk) except the row tensors (H, T) of `ROW_TENSORS`:
- `round_rem` ∈ [0, 2^R); `digits/k`, `table_out/k` (bounded by the mapping lookups), so that
  xv = round_rem + Σ_k 2^(o_k)·digit_k is an integer in [0, 2^(R+Σb)) (x itself is not committed);
- `prod/i` = e_{i+1} ∈ [0, 2^(f+1)) and `prod_rem/i` ∈ [−2^(f−1), 2^(f−1)) (the product chain);
- `argmax`: the one-hot indicator of the first maximum among the attended keys;
- `probs` ∈ [0, 2^(f+1)); `div/rem_lo` ∈ [0, 2^16), `div/rem_hi` ∈ [0, 2^(K_r−16)): ρ's pieces;
- per row: `shift/lo` ∈ [0, 2^16), `shift/hi` ∈ [−2^15, 2^15) (shift is an int32; the proof pins
  it to s at the argmax), `row_sum` z (not range-checked: the row sums pin it), `recip/lo`,
  `recip/hi` (inv's pieces), `recip/rem_lo`, `recip/rem_hi`, `recip/gap_lo`, `recip/gap_hi`
  (irem's and z − 1 − irem's), all in [0, 2^16).
exp is NOT committed (exp = N ⊙ e with the public N). With `range_check` the ranged tensors
(`ranges`) are checked here in one `rangecheck` call; otherwise the caller checks the same
`ranges(p)` (batched over the layer).

Why a reciprocal. An exact division p = round(2^f·exp / z) needs its remainder in [0, z), two
sided with a bound that varies by row: four 16-bit pieces per element. One reciprocal per row
and a K_r-bit rescale per element leave one remainder in a power-of-two range (two pieces, the
high one 8 bits at K_r = 24); the row checks are over (H, T) only. inv = ⌊2^(f+K_r)/z⌋ is at most
1 below the exact reciprocal, so a row's mass is within z/2^(K_r) ulp (≤ 8 at 2048 keys) of
exact and each element within ½ + 2^(f+1−K_r) ulp.

Reduction of a claim on probs(u) (probs is committed: the claim is returned for its opening), in
transcript order, with n = the variables of (H, T, Tk):
1. `products`: one zero-check at w_B with λ_B, Σ_x eq(w_B, x)·Σ_i λ_B^i·[a_i·t_i − 2^f·e_i − r_i]
   = 0 (a_1 = t_0, a_i = e_{i−1}); tables t_0..t_{K−1}, e_1..e_{K−1}, r_1..r_{K−1}; claims on all
   of them at r_B. With one digit (K = 1) there is no chain: e_0 = t_0 and this step is absent.
2. `identities`: one zero-check at w with c_i = λ^i over the elements,
       c_0·ind·(ind − N) + c_1·(xv + N·(s − shift̄)) + c_2·(2^(K_r)·p + ρ − inv̄·N·e − 2^(K_r−1)·V) = 0
   (xv from round_rem and the digits, ρ from its pieces, shift̄/inv̄ broadcast over keys with zero
   padding, V = the real elements, e = e_{K−1}); tables ind, N, D = s − shift̄, e, inv̄, p and one
   table Lin of all linear parts. At its end r the prover sends the values at r of every piece,
   digit, round_rem and s, and those of the row tensors but irem's and the gap's pieces at the
   row part r_row of r; the verifier checks N(r) (public, O(T + Tk)), D(r) = s(r) −
   shift(r_row)·[keys](r_j), inv̄(r) = (inv_lo + 2^16·inv_hi)(r_row)·[keys](r_j) and Lin(r).
3. `rows`: with μ, Σ_{h,t,j} eq((½,…,½, r_row), (j, h, t))·[ind·xv + μ·ind + μ²·N·e]
   = 2^(−k_j)·(μ·V_rows(r_row) + μ²·z(r_row)) (eq(½, j) = 2^(−k_j) weighs every key alike, so
   this is a row sum): Σ_j ind·xv = 0 and Σ_j ind = 1 on every row, and z = Σ_j N·e.
4. `division`: one zero-check over the rows at w_D with c_i = λ_D^i,
       c_0·(z·inv + irem − 2^(f+K_r)·V_rows) + c_1·(z − V_rows − irem − gap) = 0
   (inv, irem, gap from their pieces); tables z, inv_lo, inv_hi and Lin_d; the prover sends irem's
   and the gap's pieces at its end r_D, the verifier checks Lin_d(r_D).
5. `exp_lookup{k}`: K LogUp-GKR mapping lookups of (digits/k, table_out/k) into
   {(d, T_k[d]) : d < 2^(b_k)}, with claims on both columns.
6. the range checks.
Returned: ONE claim on "scores" (at r), and claims on every advice tensor (`committed`).

Soundness (with s a tensor bound before the challenges: the scores rescale's output, committed
but NOT range-checked: `layer.UNBOUNDED`). (2) gives, per element: ind ∈ {0,1} and ind = 0 where
masked (ind² = ind·N), and s = shift − xv on every attended element; shift is an int32 by its
pieces and xv an integer in [0, 2^(R+Σb)), so every attended s is an integer below 2^33 in
absolute value (masked scores stay unconstrained, and nothing below uses them: every term with s
is multiplied by N). The rescale's c = 2^f·s + rem with rem in its range then makes each attended
s the model's rounded score (c is an integer product of bounded q and k). With the ranges every
identity below is an integer identity (all terms are below 2^64 ≪ p). (3) gives exactly one
attended j* per row with ind = 1 and xv(j*) = 0, so shift = s(j*) and xv(j) = s(j*) − s(j) for
every attended j, and xv ≥ 0 (round_rem ≥ 0 and the digits in their tables' domains) makes s(j*)
the row maximum: shift and x are the model's. xv = round_rem + Σ_k 2^(o_k)·digit_k with round_rem ∈ [0, 2^R) and
the digits bounded by their tables makes u, round_rem and the digits the model's (the unique
floor decomposition), the lookups the table outputs, (1) with e_i ∈ [0, 2^(f+1)) and r_i in range
the round-half-up products (the pair (e_i, r_i) is unique), (3) the row sum z (an integer below
2^32), (4) with irem, gap ∈ [0, 2^32) and irem + gap = z − 1 the floor reciprocal (z ≥ 1, irem <
z: inv is unique; inv < 2^32 by its pieces), and (2) with ρ ∈ [0, 2^(K_r)) and p ∈ [0, 2^(f+1))
the rounded rescale (inv·e ≤ 2^(f+K_r) as e ≤ z, so the quotient fits p's range and (p, ρ) is
unique): p is the model's. Masked elements have N·e = 0, so 2^(K_r)·p + ρ = 2^(K_r−1) gives p = 0
without a separate mask proof on probs. Zero-checks fail except with probability n/p (the eq
polynomial) plus the sumcheck error 3n/p each (4n/p for the identities, of degree 4); the row
identities are fixed before r_row is drawn, so they hold at r_row only by chance ≤ n/p.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from .. import commit, field, lookup, mle, prng, sumcheck
from ..claims import Claim, ClaimSet, GadgetError, absorb_claim, check_claim, evaluate, ints
from ..claims import num_vars as nvars
from ..lookup import LookupProof, prefix_indicator, shape_indicator
from ..sumcheck import SumcheckProof
from ..transcript import Transcript
from . import core, rangecheck
from .mask import causal_mask, mask_mle
from .rangecheck import Range

Array = jax.Array
R = field.R
SOFTMAX = b"gadget/softmax"
TABLE_TAG = b"zkllm-jax/softmax/multiplicities"
PIECE_BITS = 16
PIECE = Range(0, PIECE_BITS)
INV2 = pow(2, -1, R)
# the identities zero-check over [ind, N, D = s − shift̄, e, inv̄, probs, Lin]
IDENTITY_TERMS = ((0, 0), (0, 1), (1, 2), (1, 3, 4), (5,), (6,))
# the division's zero-check over the rows: [z, inv_lo, inv_hi, Lin_d]
DIVISION_TERMS = ((0, 1), (0, 2), (3,))
DIV_PIECES = ("div/rem_lo", "div/rem_hi")
RECIP = ("recip/lo", "recip/hi")
ROW_PIECES = ("recip/rem_lo", "recip/rem_hi", "recip/gap_lo", "recip/gap_hi")
SHIFT = ("shift/lo", "shift/hi")
DIVISION_TABLES = ("row_sum", *RECIP)  # the division's tables besides Lin_d, in order
DIVISION_TENSORS = (*DIVISION_TABLES, *ROW_PIECES)
ROW_TENSORS = (*SHIFT, *DIVISION_TENSORS)
ROW_VALUES = (*SHIFT, *RECIP, "row_sum")  # sent at the identities' row point
# One digit maps x's rounded value through a single exp table (2^22 entries cover R = 8 and
# |s| < 2^29): no product chain, four fewer (H, T, Tk) tensors and one lookup instead of two,
# at the price of a table side (and the verifier's table evaluation) of 2^22.
MAX_ONE_DIGIT_BITS = 22


class Params(NamedTuple):
    """Static sizes: scores (heads, rows, keys) at 2^scale_bits, x rounded by 2^round_bits, then
    split into digits of digit_bits (least significant first), each through its exp table."""

    heads: int
    rows: int
    keys: int
    scale_bits: int
    round_bits: int
    digit_bits: tuple[int, ...]
    recip_bits: int = 24

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.heads, self.rows, self.keys)

    @property
    def num_digits(self) -> int:
        return len(self.digit_bits)

    @property
    def offsets(self) -> list[int]:
        """Bit offset of each digit in x (round_bits, round_bits + b_0, ...)."""
        out, pos = [], self.round_bits
        for b in self.digit_bits:
            out.append(pos)
            pos += b
        return out

    def ints(self) -> list[int]:
        return [self.heads, self.rows, self.keys, self.scale_bits, self.round_bits,
                len(self.digit_bits), *self.digit_bits, self.recip_bits]


def params(heads: int, rows: int, keys: int, *, scale_bits: int, round_bits: int,
           digit_bits: Sequence[int], recip_bits: int = 24) -> Params:
    """Parameters for scores of shape (heads, rows, keys) (causal mask, start 0).

    Bounds (ValueError otherwise): scale_bits ≤ 16 (table outputs, products and probs fit a
    17-bit range, remainders one 16-bit piece), round_bits ≤ 16, 2 or 3 digits of at most 16
    bits, or one digit of at most MAX_ONE_DIGIT_BITS bits (one exp table of up to 2^22 entries
    and no product chain), with round_bits + Σ digit_bits ≤ 32 (x below 2^32),
    keys·2^(scale_bits+1) ≤ 2^32 (the row sum below 2^32), 17 ≤ recip_bits ≤ 30 (the
    normalisation's remainder is two pieces: 16 bits and recip_bits − 16).
    """
    heads, rows, keys = int(heads), int(rows), int(keys)
    bits = tuple(int(b) for b in digit_bits)
    if min(heads, rows, keys) < 1 or heads * rows * keys < 2:
        raise ValueError(f"softmax: scores must be (H, T, Tk) with at least two elements, got "
                         f"({heads}, {rows}, {keys})")
    if not 1 <= scale_bits <= 16 or not 1 <= round_bits <= 16:
        raise ValueError(f"softmax: need 1 <= scale_bits, round_bits <= 16, got {scale_bits}, "
                         f"{round_bits}")
    if not ((2 <= len(bits) <= 3 and all(1 <= b <= 16 for b in bits))
            or (len(bits) == 1 and 1 <= bits[0] <= MAX_ONE_DIGIT_BITS)):
        raise ValueError(f"softmax: need 2 or 3 digits of 1..16 bits or one of 1.."
                         f"{MAX_ONE_DIGIT_BITS}, got {bits}")
    if round_bits + sum(bits) > 32:
        raise ValueError(f"softmax: round_bits + Σ digit_bits = {round_bits + sum(bits)} > 32")
    if keys << (scale_bits + 1) > 1 << 32:
        raise ValueError(f"softmax: {keys} keys at scale 2^{scale_bits} overflow the row sum")
    if not 17 <= recip_bits <= 30:
        raise ValueError(f"softmax: need 17 <= recip_bits <= 30, got {recip_bits}")
    return Params(heads, rows, keys, int(scale_bits), int(round_bits), bits, int(recip_bits))


# --- names and layout --------------------------------------------------------------------------


def _digit(k: int) -> str:
    return f"digits/{k}"


def _tout(k: int) -> str:
    return f"table_out/{k}"


def _prod(i: int) -> str:
    return f"prod/{i}"


def _prem(i: int) -> str:
    return f"prod_rem/{i}"


def _exp_name(p: Params) -> str:
    """e_{K−1}, the last product, or the table output with one digit (exp = N ⊙ e)."""
    return _tout(0) if p.num_digits == 1 else _prod(p.num_digits - 2)


def ranges(p: Params) -> dict[str, Range]:
    """The range-checked subset of the advice (digits and table outputs are bounded by their
    mapping lookups, the argmax indicator by the identities, shift by the argmax)."""
    out = {"round_rem": Range(0, p.round_bits), "probs": Range(0, p.scale_bits + 1),
           "div/rem_lo": PIECE, "div/rem_hi": Range(0, p.recip_bits - PIECE_BITS)}
    out.update({n: PIECE for n in (*RECIP, *ROW_PIECES)})
    out["shift/lo"], out["shift/hi"] = (rng for _, rng in rangecheck.signed_pieces(32))
    for i in range(p.num_digits - 1):
        out[_prod(i)] = Range(0, p.scale_bits + 1)
        out[_prem(i)] = rangecheck.signed_range(p.scale_bits)
    return out


def shapes(p: Params) -> dict[str, tuple[int, ...]]:
    """The shape of every advice tensor."""
    names = [*ranges(p), "argmax", "row_sum", *(_digit(k) for k in range(p.num_digits)),
             *(_tout(k) for k in range(p.num_digits))]
    return {n: (p.heads, p.rows) if n in ROW_TENSORS else p.shape for n in names}


def _lin_names(p: Params) -> list[str]:
    """The committed tensors inside the identities' linear table, in `values` order."""
    return [*_x_parts(p), *DIV_PIECES]


def _x_parts(p: Params) -> list[str]:
    """The committed parts of xv = round_rem + Σ_k 2^(o_k)·digit_k (weights `_x_weights`)."""
    return ["round_rem", *(_digit(k) for k in range(p.num_digits))]


def _x_weights(p: Params) -> list[int]:
    return [1, *(1 << o for o in p.offsets)]


def _value_names(p: Params) -> list[str]:
    """What `SoftmaxProof.values` holds: the linear parts and s at r; shift, inv's pieces and
    z at r_row."""
    return [*_lin_names(p), "scores", *ROW_VALUES]


def _product_tables(p: Params) -> list[str]:
    k, m = p.num_digits, p.num_digits - 1
    return ([_tout(i) for i in range(k)] + [_prod(i) for i in range(m)]
            + [_prem(i) for i in range(m)])


def product_terms(p: Params) -> tuple[tuple[int, ...], ...]:
    """Terms of the products zero-check over `_product_tables`: per product i (1-based),
    a_i·t_i, e_i, r_i with a_1 = t_0 and a_i = e_{i−1}."""
    k, m = p.num_digits, p.num_digits - 1
    out = []
    for i in range(1, k):
        a = 0 if i == 1 else k + i - 2
        out += [(a, i), (k + i - 1,), (k + m + i - 1,)]
    return tuple(out)


# --- public tables -----------------------------------------------------------------------------


def tables(exp_tables: Sequence[Any]) -> list[lookup.Table]:
    """The mapping tables {(d, T_k[d])} from the model's exp tables (`tables["exp"]`), cached."""
    out = []
    for k, tab in enumerate(exp_tables):
        a = np.asarray(tab)
        n = a.shape[0] if a.ndim == 1 else 0
        if a.ndim != 1 or n < 2 or n & (n - 1):
            raise ValueError(f"softmax: exp table {k} must have 2^b entries, got {a.shape}")
        if a.min() < 0 or a.max() > 1 << 17:
            # with one digit the table output is e itself: its bound keeps the identities integer
            raise ValueError(f"softmax: exp table {k} has values outside [0, 2^17]")
        out.append(_table(a.astype(np.int32).tobytes(), n))
    return out


@functools.lru_cache(maxsize=8)
def _table(raw: bytes, n: int) -> lookup.Table:
    return lookup.mapping_table(np.arange(n, dtype=np.int64), np.frombuffer(raw, np.int32))


@functools.lru_cache(maxsize=8)
def _gens(size: int) -> commit.Generators:
    _, cm = commit.layout((size,))
    return commit.setup(1 << cm, TABLE_TAG)


def generators(tab: lookup.Table) -> commit.Generators:
    """Generators of an exp lookup's multiplicity commitment (cached per table size)."""
    return _gens(1 << tab.num_vars)


def _check_tables(tabs: Sequence[lookup.Table], p: Params) -> str | None:
    if len(tabs) != p.num_digits:
        return f"{len(tabs)} exp tables for {p.num_digits} digits"
    for k, (tab, b) in enumerate(zip(tabs, p.digit_bits)):
        if tab.kind != lookup.MAPPING or tab.size != 1 << b:
            return f"exp table {k} must be a mapping table of 2^{b} entries"
    return None


# --- proof -------------------------------------------------------------------------------------


@struct.dataclass
class SoftmaxProof:
    """The steps in transcript order (see the module docstring).

    products: None with one digit (no product chain);
    values: Fr[V, 8], `_value_names` at the identities' point (the row tensors at its row part);
    division: the rows' reciprocal zero-check; division_values: Fr[4, 8], `ROW_PIECES` at its
    point; exp: one mapping lookup per digit; ranges: by range key (empty with range_check=False).
    """

    products: SumcheckProof | None
    identities: SumcheckProof
    values: Array
    rows: SumcheckProof
    division: SumcheckProof
    division_values: Array
    exp: tuple[LookupProof, ...]
    ranges: dict[str, LookupProof]


def _lower(p: Params) -> Array:
    """int32 (T, Tk): N[t, j] = [j ≤ t], the attended keys."""
    return 1 - causal_mask(p.rows, p.keys)


def argmax_indicator(x: Any, p: Params) -> Array:
    """int32 (H, T, Tk): 1 at the first attended key with x = 0 (the first row maximum)."""
    x = jnp.asarray(x, jnp.int32)
    cand = ((x == 0) & (_lower(p) == 1)[None]).astype(jnp.int32)
    return cand * (jnp.cumsum(cand, axis=-1) == 1).astype(jnp.int32)


def advice(wit: Mapping[str, Any], p: Params) -> dict[str, Array]:
    """Every int32 tensor to commit, by name, from the model's softmax witness (`shift, x,
    round_rem, digits, table_out, prod_out, prod_rem, row_sum, recip, recip_rem, probs,
    div_rem`). Jit-able.

    Pieces are split so that their weighted sum is the value in the field whatever the input
    (v = lo + 2^16·hi with an arithmetic hi), so an out-of-band remainder shows up as a piece
    outside its range; a negative x has no decomposition into round_rem and digits in their
    ranges.
    """
    i32 = functools.partial(jnp.asarray, dtype=jnp.int32)
    x = i32(wit["x"])
    if tuple(x.shape) != p.shape:
        raise ValueError(f"softmax: x {tuple(x.shape)}, expected {p.shape}")
    out: dict[str, Array] = {}
    out["round_rem"] = i32(wit["round_rem"])
    digits, touts = i32(wit["digits"]), i32(wit["table_out"])
    for k in range(p.num_digits):
        out[_digit(k)], out[_tout(k)] = digits[k], touts[k]
    prods, prems = i32(wit["prod_out"]), i32(wit["prod_rem"])
    for i in range(p.num_digits - 1):
        out[_prod(i)], out[_prem(i)] = prods[i], prems[i]
    out["argmax"] = argmax_indicator(x, p)
    out["shift/lo"], out["shift/hi"] = rangecheck.split_signed(i32(wit["shift"]), 32)
    out["probs"] = i32(wit["probs"])
    z, inv, irem = i32(wit["row_sum"]), i32(wit["recip"]), i32(wit["recip_rem"])
    out["row_sum"] = z
    # the rescale's signed remainder, offset to [0, 2^K) (every real element, masked ones too)
    rem = jnp.broadcast_to(i32(wit["div_rem"]), p.shape) + (1 << (p.recip_bits - 1))
    for (lo, hi), v in ((DIV_PIECES, rem), (RECIP, inv), (ROW_PIECES[:2], irem),
                        (ROW_PIECES[2:], z - 1 - irem)):
        out[lo], out[hi] = rangecheck.split_signed(v, 32)
    return out


def committed(claims: Mapping[str, Sequence[Claim]]) -> dict[str, list[Claim]]:
    """The claims on this gadget's own committed advice (for `claims.prove_openings`)."""
    return {k: list(v) for k, v in claims.items() if k != "scores"}


# --- coefficients (field arithmetic, shared by prover and verifier) ----------------------------


def _const(v: int) -> Array:
    return field.encode(int(v) % R)


def _powers(x: Array, n: int) -> list[Array]:
    out = [field.ones(())]
    for _ in range(n - 1):
        out.append(field.mul(out[-1], x))
    return out


def _product_coeffs(lam: Array, p: Params) -> Array:
    out = []
    for c in _powers(lam, p.num_digits - 1):
        out += [c, field.mul(_const(-(1 << p.scale_bits)), c), field.neg(c)]
    return jnp.stack(out)


def _identity_coeffs(c: list[Array], p: Params) -> Array:
    """Coefficients of `IDENTITY_TERMS` for the identities' powers c = (c_0, c_1, c_2)."""
    return jnp.stack([
        c[0], field.neg(c[0]),                              # ind·ind − ind·N
        c[1],                                               # N·(s − shift̄)
        field.neg(c[2]),                                    # −N·e·inv̄
        field.mul(_const(1 << p.recip_bits), c[2]),         # 2^K·p
        field.ones(()),                                     # Lin
    ])


def _linear_coeffs(c: list[Array], p: Params) -> tuple[Array, Array]:
    """(coefficients of `_lin_names` in Lin, Fr[L, 8]; the coefficient of V)."""
    coef = [field.mul(_const(w), c[1]) for w in _x_weights(p)]
    coef += [c[2], field.mul(_const(1 << PIECE_BITS), c[2])]
    return jnp.stack(coef), field.mul(_const(-(1 << (p.recip_bits - 1))), c[2])


def _division_coeffs(c: list[Array]) -> Array:
    """Coefficients of `DIVISION_TERMS`: c_0·z·inv (inv = lo + 2^16·hi), then Lin_d."""
    return jnp.stack([c[0], field.mul(_const(1 << PIECE_BITS), c[0]), field.ones(())])


def _division_linear(c: list[Array], p: Params) -> tuple[list[Array], Array, Array]:
    """Lin_d = Σ a_i·piece_i + c_1·z + v·V_rows: (a over `ROW_PIECES`, c_1, v), for
    c_0·(z·inv + irem − 2^(f+K)) + c_1·(z − 1 − irem − gap) = 0 on every real row."""
    hi = _const(1 << PIECE_BITS)
    ci = field.sub(c[0], c[1])
    a = [ci, field.mul(hi, ci), field.neg(c[1]), field.neg(field.mul(hi, c[1]))]
    v = field.neg(field.add(field.mul(_const(1 << (p.scale_bits + p.recip_bits)), c[0]), c[1]))
    return a, c[1], v


def row_terms(p: Params) -> tuple[tuple[int, ...], ...]:
    """Terms of the row sums over [ind, *xv's parts, N, e]: ind·part for each part, ind, N·e."""
    k = len(_x_parts(p))
    return (*((0, 1 + i) for i in range(k)), (0,), (k + 1, k + 2))


def _row_coeffs(mu: Array, p: Params) -> Array:
    return jnp.stack([*(_const(w) for w in _x_weights(p)), mu, field.mul(mu, mu)])


def _row_point(r: Array, p: Params) -> Array:
    """(½, …, ½, r_row): eq with it weighs every key of a row by 2^(−k_j)."""
    kj = mle.num_vars(p.keys)
    if kj == 0:
        return r
    return jnp.concatenate([jnp.broadcast_to(_const(INV2), (kj, field.LIMBS)), r[kj:]])


def _begin(t: Transcript, p: Params, tabs: Sequence[lookup.Table], claim: Claim) -> Transcript:
    t = t.begin(SOFTMAX, p.ints())
    for tab in tabs:
        t = t.absorb_bytes(b"table", tab.digest)
    return absorb_claim(t, b"probs", claim)


# The sumchecks' stacked tables are built from the int32 advice inside the sumcheck, whole heads
# at a time (`sumcheck.prove_chunked`; a chunk holds >= 2^sumcheck.CHUNK_LOG entries per table
# where the heads allow): at 32 heads x 2048^2 every Fr table is 4 GiB and a stack of 8 is
# 32 GiB, so the whole stack never exists; the first rounds are summed chunk by chunk and the
# tables are materialized folded twice (8 GiB). Small inputs are one chunk.


class _Chunking(NamedTuple):
    """Static: the parameters and how many (padded) heads a chunk holds."""

    p: Params
    heads: int

    @property
    def inner_vars(self) -> int:
        """Variables of one head's padded (T, Tk) table."""
        return mle.num_vars(self.p.rows) + mle.num_vars(self.p.keys)

    @property
    def chunks(self) -> int:
        return (1 << mle.num_vars(self.p.heads)) // self.heads

    @property
    def chunk_len(self) -> int:
        return self.heads << self.inner_vars


def _chunking(p: Params) -> _Chunking:
    g, total = 1, 1 << mle.num_vars(p.heads)
    inner = mle.num_vars(p.rows) + mle.num_vars(p.keys)
    while g < total and (g << inner) < sumcheck.chunk_len(total << inner):
        g *= 2
    return _Chunking(p, g)


def _heads(ck: _Chunking, c: Array) -> tuple[Array, Array]:
    """The chunk's head indices (clamped to real heads) and which of them are real."""
    idx = c * ck.heads + jnp.arange(ck.heads)
    return jnp.minimum(idx, ck.p.heads - 1), idx < ck.p.heads


def _flat(ck: _Chunking, valid: Array, x: Array) -> Array:
    """Fr (g, T, Tk, 8) of the chunk's heads -> its flat table Fr[g·T'·Tk', 8] (padded heads
    zero), the chunk of the whole tensor's `mle.table`."""
    x = jnp.where(valid[:, None, None, None], x, jnp.zeros_like(x))
    return mle.table(x)


def _enc(ck: _Chunking, idx: Array, valid: Array, x: Array) -> Array:
    return _flat(ck, valid, field.encode(x[idx]))


def _lower_fr(ck: _Chunking) -> Array:
    """Fr (g, T, Tk, 8): N broadcast over the chunk's heads."""
    p = ck.p
    return jnp.broadcast_to(field.encode(_lower(p)), (ck.heads, p.rows, p.keys, field.LIMBS))


def _product_chunk(ck: _Chunking, args: tuple, c: Array) -> Array:
    """[the product chain's tables...] of chunk c (the sumcheck appends eq(w, ·))."""
    idx, valid = _heads(ck, c)
    return jnp.stack([_enc(ck, idx, valid, x) for x in args])


def _identity_chunk(ck: _Chunking, args: tuple, c: Array) -> Array:
    """[ind, N, D = s − shift̄, e, inv̄, probs, Lin] of chunk c (the sumcheck appends eq(w, ·))."""
    argmax, e_i, s, shift_lo, shift_hi, inv_lo, inv_hi, probs, lin_xs, lc, vc = args
    p = ck.p
    idx, valid = _heads(ck, c)
    shape = (ck.heads, p.rows, p.keys)

    def bar(lo: Array, hi: Array) -> Array:  # lo + 2^16·hi per row, broadcast over the keys
        v = field.add(field.encode(lo[idx]), field.mul(field.encode(hi[idx]),
                                                       _const(1 << PIECE_BITS)))
        return jnp.broadcast_to(v[:, :, None], shape + (field.LIMBS,))

    inv_bar = bar(inv_lo, inv_hi)
    d = field.sub(field.encode(s[idx]), bar(shift_lo, shift_hi))
    lin = field.mul(field.ones(shape), vc)
    for i, x in enumerate(lin_xs):
        lin = field.add(lin, field.mul(field.encode(x[idx]), lc[i]))
    tabs = [field.encode(argmax[idx]), _lower_fr(ck), d, field.encode(e_i[idx]), inv_bar,
            field.encode(probs[idx]), lin]
    return jnp.stack([_flat(ck, valid, x) for x in tabs])


def _row_chunk(ck: _Chunking, args: tuple, c: Array) -> Array:
    """[ind, *xv's parts, N, e] of chunk c (the sumcheck appends eq(rp, ·))."""
    argmax, parts, e_i = args
    idx, valid = _heads(ck, c)
    tabs = [_enc(ck, idx, valid, x) for x in (argmax, *parts)]
    tabs += [_flat(ck, valid, _lower_fr(ck)), _enc(ck, idx, valid, e_i)]
    return jnp.stack(tabs)


def _row_claims(p: Params) -> list[tuple[int, str]]:
    """(index among the row sums' final values, tensor) of each claim they leave."""
    xp = _x_parts(p)
    return [(0, "argmax"), *((1 + i, k) for i, k in enumerate(xp)),
            (len(xp) + 2, _exp_name(p))]


@functools.partial(jax.jit, static_argnums=(0,))
def _division_tables(p: Params, adv: dict, c: list[Array]) -> list[Array]:
    """[z, inv_lo, inv_hi, Lin_d] over the rows (H, T), flat and zero-padded."""
    enc = field.encode
    a, cz, v = _division_linear(c, p)
    rows = (p.heads, p.rows)
    lin = field.add(field.mul(field.ones(rows), v), field.mul(enc(adv["row_sum"]), cz))
    for ai, k in zip(a, ROW_PIECES):
        lin = field.add(lin, field.mul(enc(adv[k]), ai))
    return [mle.table(enc(adv[k])) for k in DIVISION_TABLES] + [mle.table(lin)]


def _prove_chunked(build: Any, args: tuple, num_tables: int, t: Transcript, label: bytes,
                   eq_point: Array, terms: Any, coeffs: Array, p: Params
                   ) -> tuple[Array, Array, SumcheckProof, Transcript]:
    """`core.prove_sumcheck` over the tables `build` gives chunk by chunk (the same proof); the
    eq point and coefficients come from the transcript (trusted: no host sync)."""
    ck = _chunking(p)
    fc, prf, t = sumcheck.prove_chunked(build, ck, args, ck.chunks, ck.chunk_len, num_tables, t,
                                        eq_point, label=label, terms=tuple(map(tuple, terms)),
                                        coeffs=coeffs, trusted=True)
    return fc.point, fc.values, prf, t


# --- prover ------------------------------------------------------------------------------------


def prove(
    scores: Any,
    wit: Mapping[str, Any],
    out_claim: Claim,
    transcript: Transcript,
    *,
    params: Params,
    tables: Sequence[lookup.Table],
    key: Array,
    adv: Mapping[str, Any] | None = None,
    range_check: bool = True,
    check_witness: bool = True,
) -> tuple[ClaimSet, SoftmaxProof, Transcript]:
    """Reduce a claim on probs to ONE claim on the scores and claims on the committed advice.

    scores: int32 (H, T, Tk) (the scores rescale's output); wit: the model's softmax witness
    (only used for the default advice); tables: `tables(...)` of the model's exp tables; adv:
    the committed advice (default `advice(wit, params)`; pass the committed tensors, or dishonest
    ones in tests); key: randomness of the lookups. check_witness=False skips the eager table and
    range checks (a bad element then only fails verification). Pure and jit-able.
    Returns ({"scores": [claim], "probs": [...], advice names...}, proof, transcript).
    """
    p = params
    shape = p.shape
    s = jnp.asarray(scores, jnp.int32)
    if tuple(s.shape) != shape:
        raise ValueError(f"softmax: scores {tuple(s.shape)}, expected {shape}")
    bad = _check_tables(tables, p)
    if bad:
        raise ValueError(f"softmax: {bad}")
    adv = dict(advice(wit, p) if adv is None else adv)
    if sorted(adv) != sorted(shapes(p)):
        raise ValueError(f"softmax: advice {sorted(adv)}, expected {sorted(shapes(p))}")
    n = nvars(shape)
    kj = mle.num_vars(p.keys)
    check_claim(out_claim, n, "output claim", "softmax")
    adv = {k: jnp.asarray(v, jnp.int32) for k, v in adv.items()}
    keys = prng.split(key, p.num_digits + 1)
    t = _begin(transcript, p, tables, out_claim)
    claims: ClaimSet = {"probs": [out_claim]}

    def add(name: str, point: Array, value: Array) -> None:
        claims.setdefault(name, []).append(Claim(point=point, value=value))

    # 1. the product chain
    pr_b = None
    if p.num_digits > 1:
        w_b, t = t.challenges(b"w_products", n)
        lam_b, t = t.challenge(b"lambda_products")
        names_b = _product_tables(p)
        r_b, fin_b, pr_b, t = _prove_chunked(
            _product_chunk, tuple(adv[k] for k in names_b), len(names_b) + 1, t,
            SOFTMAX + b"/products", w_b, product_terms(p), _product_coeffs(lam_b, p), p)
        for i, name in enumerate(names_b):
            add(name, r_b, fin_b[i])

    # 2. the elementwise identities
    w, t = t.challenges(b"w", n)
    lam, t = t.challenge(b"lambda")
    c = _powers(lam, 3)
    lc, vc = _linear_coeffs(c, p)
    id_args = (adv["argmax"], adv[_exp_name(p)], s, *(adv[k] for k in (*SHIFT, *RECIP)),
               adv["probs"], tuple(adv[k] for k in _lin_names(p)), lc, vc)
    r, fin_a, pr_a, t = _prove_chunked(_identity_chunk, id_args, 8, t, SOFTMAX + b"/identities",
                                       w, IDENTITY_TERMS, _identity_coeffs(c, p), p)
    r_row = r[kj:]
    vnames = _value_names(p)
    vals = [evaluate(adv[k], r) for k in _lin_names(p)] + [evaluate(s, r)]
    vals += [evaluate(adv[k], r_row) for k in ROW_VALUES]
    values = jnp.stack(vals)
    t = t.absorb_field(b"values", values)
    add("argmax", r, fin_a[0])
    add(_exp_name(p), r, fin_a[3])
    add("probs", r, fin_a[5])
    for i, name in enumerate(_lin_names(p)):
        add(name, r, values[i])
    for name in ROW_VALUES:
        add(name, r_row, values[vnames.index(name)])

    # 3. the row sums: Σ_j ind·xv = 0, Σ_j ind = 1, z = Σ_j N·e
    mu, t = t.challenge(b"mu")
    rp = _row_point(r, p)
    xp = _x_parts(p)
    r3, fin_r, pr_r, t = _prove_chunked(
        _row_chunk, (adv["argmax"], tuple(adv[k] for k in xp), adv[_exp_name(p)]), len(xp) + 4,
        t, SOFTMAX + b"/rows", rp, row_terms(p), _row_coeffs(mu, p), p)
    for i, name in _row_claims(p):
        add(name, r3, fin_r[i])

    # 4. the division: inv = floor(2^(f+K) / z) on every row
    w_d, t = t.challenges(b"w_division", nvars((p.heads, p.rows)))
    lam_d, t = t.challenge(b"lambda_division")
    c_d = _powers(lam_d, 2)
    r_d, fin_d, pr_d, t = core.prove_sumcheck(
        _division_tables(p, {k: adv[k] for k in DIVISION_TENSORS}, c_d), t,
        label=SOFTMAX + b"/division", eq_point=w_d, terms=DIVISION_TERMS,
        coeffs=_division_coeffs(c_d))
    div_values = jnp.stack([evaluate(adv[k], r_d) for k in ROW_PIECES])
    t = t.absorb_field(b"division_values", div_values)
    for i, name in enumerate(DIVISION_TABLES):
        add(name, r_d, fin_d[i])
    for i, name in enumerate(ROW_PIECES):
        add(name, r_d, div_values[i])

    # 5. the exp tables
    exp_proofs = []
    for k in range(p.num_digits):
        col = [(adv[_digit(k)], adv[_tout(k)])]
        gens = generators(tables[k])
        if check_witness:
            lcl, prf, t = lookup.prove(tables[k], col, t, gens, keys[k],
                                       names=[f"({_digit(k)}, {_tout(k)})"])
        else:
            m = lookup.multiplicities(tables[k], col)
            lcl, prf, t = lookup.prove_with_multiplicities(tables[k], col, m, t, gens, keys[k])
        pt = lcl.column_point(0)
        add(_digit(k), pt, lcl.values[0, 0])
        add(_tout(k), pt, lcl.values[0, 1])
        exp_proofs.append(prf)

    # 6. the ranges
    proofs: dict[str, LookupProof] = {}
    if range_check:
        rc, proofs, t = rangecheck.prove({k: adv[k] for k in ranges(p)}, ranges(p), t,
                                         keys[-1], check_witness=check_witness)
        for k, cl in rc.items():
            claims[k] = claims[k] + cl
    claims["scores"] = [Claim(point=r, value=values[len(_lin_names(p))])]
    proof = SoftmaxProof(products=pr_b, identities=pr_a, values=values, rows=pr_r,
                         division=pr_d, division_values=div_values, exp=tuple(exp_proofs),
                         ranges=proofs)
    return claims, proof, t


# --- verifier ----------------------------------------------------------------------------------


def _lower_mle(p: Params, r: Sequence[int]) -> int:
    """The MLE of N broadcast over heads (zero padding) at a point of (H, T, Tk), O(T + Tk)."""
    rh, rt, rj = core.split_ints(list(r), p.shape)
    full = prefix_indicator(p.rows, rt) * prefix_indicator(p.keys, rj)
    return prefix_indicator(p.heads, rh) * (full - mask_mle(rt, rj, p.rows, p.keys)) % R


def _sumcheck(check: str, claim: int, proof: Any, t: Transcript, **kw
              ) -> tuple[list[int], list[int], Transcript]:
    try:
        return core.verify_sumcheck("softmax", claim, proof, t, **kw)
    except GadgetError as e:
        raise GadgetError("softmax", check, str(e), e.round) from e


def verify(
    out_claim: Claim,
    proof: SoftmaxProof,
    transcript: Transcript,
    *,
    params: Params,
    tables: Sequence[lookup.Table],
    range_check: bool = True,
) -> tuple[ClaimSet, Transcript]:
    """Check `prove`; returns the claim on the scores and the claims on the advice.

    Raises GadgetError("softmax", check) with check `shape`, `products` (the product chain's
    zero-check), `identities` (one-hot, argmax, normalisation and decomposition zero-check),
    `mask`, `shift`, `recip`, `linear` (its final values), `rows` (one-hot row sums and the row
    sum z), `division` (the rows' reciprocal zero-check), `division_linear` (its final values) or
    `exp_lookup<k>:<lookup check>`, or ("range_check", ...).
    """
    p = params
    shape = p.shape
    if not isinstance(proof, SoftmaxProof):
        raise GadgetError("softmax", "shape", "not a SoftmaxProof")
    bad = _check_tables(tables, p)
    if bad:
        raise GadgetError("softmax", "shape", bad)
    n = nvars(shape)
    kj = mle.num_vars(p.keys)
    vnames = _value_names(p)
    if (tuple(getattr(proof.values, "shape", ())) != (len(vnames), field.LIMBS)
            or tuple(getattr(proof.division_values, "shape", ())) != (len(ROW_PIECES), field.LIMBS)
            or not isinstance(proof.exp, tuple) or len(proof.exp) != p.num_digits
            or (proof.products is None) != (p.num_digits == 1)):
        raise GadgetError("softmax", "shape", f"values must be Fr[{len(vnames)}, 8], division "
                          f"values Fr[{len(ROW_PIECES)}, 8], there must be {p.num_digits} exp "
                          "lookups and a product chain exactly when there are several digits")
    check_claim(out_claim, n, "output claim", "softmax")
    t = _begin(transcript, p, tables, out_claim)
    claims: ClaimSet = {"probs": [out_claim]}

    def add(name: str, point: Array, value: int | Array) -> None:
        v = field.encode(value % R) if isinstance(value, int) else value
        claims.setdefault(name, []).append(Claim(point=point, value=v))

    # 1. the product chain
    if p.num_digits > 1:
        w_b, t = t.challenges(b"w_products", n)
        lam_b, t = t.challenge(b"lambda_products")
        names_b = _product_tables(p)
        rb_i, fin_b, t = _sumcheck("products", 0, proof.products, t, num_vars=n,
                                   num_tables=len(names_b), label=SOFTMAX + b"/products",
                                   eq_point=w_b, terms=product_terms(p),
                                   coeffs=_product_coeffs(lam_b, p))
        r_b = core.encode_point(rb_i)
        for i, name in enumerate(names_b):
            add(name, r_b, fin_b[i])

    # 2. the elementwise identities
    w, t = t.challenges(b"w", n)
    lam, t = t.challenge(b"lambda")
    c = _powers(lam, 3)
    r_i, fin, t = _sumcheck("identities", 0, proof.identities, t, num_vars=n, num_tables=7,
                            label=SOFTMAX + b"/identities", eq_point=w, terms=IDENTITY_TERMS,
                            coeffs=_identity_coeffs(c, p))
    ind_v, n_v, d_v, e_v, ib_v, p_v, lin_v = fin
    t = t.absorb_field(b"values", proof.values)
    vals = dict(zip(vnames, ints(proof.values)))
    keys_ind = prefix_indicator(p.keys, r_i[:kj])
    if n_v != _lower_mle(p, r_i):
        raise GadgetError("softmax", "mask", "the attended-keys table's final value is wrong")
    shift_v = vals["shift/lo"] + (vals["shift/hi"] << PIECE_BITS)
    if d_v != (vals["scores"] - shift_v * keys_ind) % R:
        raise GadgetError("softmax", "shift", "s − shift̄ differs from the values of s and shift")
    if ib_v != (vals["recip/lo"] + (vals["recip/hi"] << PIECE_BITS)) * keys_ind % R:
        raise GadgetError("softmax", "recip", "inv̄ differs from the values of inv's pieces")
    lc, vc = _linear_coeffs(c, p)
    want = ints(vc)[0] * shape_indicator(shape, r_i)
    want += sum(a * vals[k] for a, k in zip(ints(lc), _lin_names(p)))
    if lin_v != want % R:
        raise GadgetError("softmax", "linear", "the linear parts differ from the sent values")
    r = core.encode_point(r_i)
    r_row = r[kj:]
    add("argmax", r, ind_v)
    add(_exp_name(p), r, e_v)
    add("probs", r, p_v)
    for i, name in enumerate(_lin_names(p)):
        add(name, r, proof.values[i])
    for name in ROW_VALUES:
        add(name, r_row, proof.values[vnames.index(name)])

    # 3. the row sums
    mu, t = t.challenge(b"mu")
    mu_i = ints(mu)[0]
    rows_ind = shape_indicator((p.heads, p.rows), r_i[kj:])
    target = pow(INV2, kj, R) * (mu_i * rows_ind + mu_i * mu_i * vals["row_sum"]) % R
    xp = _x_parts(p)
    r3_i, fin_r, t = _sumcheck("rows", target, proof.rows, t, num_vars=n,
                               num_tables=len(xp) + 3, label=SOFTMAX + b"/rows",
                               eq_point=_row_point(r, p), terms=row_terms(p),
                               coeffs=_row_coeffs(mu, p))
    if fin_r[len(xp) + 1] != _lower_mle(p, r3_i):
        raise GadgetError("softmax", "mask", "the row sums' attended-keys value is wrong")
    r3 = core.encode_point(r3_i)
    for i, name in _row_claims(p):
        add(name, r3, fin_r[i])

    # 4. the division
    rows = (p.heads, p.rows)
    w_d, t = t.challenges(b"w_division", nvars(rows))
    lam_d, t = t.challenge(b"lambda_division")
    c_d = _powers(lam_d, 2)
    rd_i, fin_d, t = _sumcheck("division", 0, proof.division, t, num_vars=nvars(rows),
                               num_tables=4, label=SOFTMAX + b"/division", eq_point=w_d,
                               terms=DIVISION_TERMS, coeffs=_division_coeffs(c_d))
    t = t.absorb_field(b"division_values", proof.division_values)
    pieces = ints(proof.division_values)
    a, cz, v = _division_linear(c_d, p)
    want = ints(v)[0] * shape_indicator(rows, rd_i) + ints(cz)[0] * fin_d[0]
    want += sum(ai * x for ai, x in zip(ints(jnp.stack(a)), pieces))
    if fin_d[3] != want % R:
        raise GadgetError("softmax", "division_linear",
                          "the division's linear part differs from the sent pieces")
    r_d = core.encode_point(rd_i)
    for i, name in enumerate(DIVISION_TABLES):
        add(name, r_d, fin_d[i])
    for i, name in enumerate(ROW_PIECES):
        add(name, r_d, proof.division_values[i])

    # 5. the exp tables
    for k in range(p.num_digits):
        try:
            lcl, t = lookup.verify(tables[k], [shape], proof.exp[k], t, generators(tables[k]))
        except lookup.LookupError as e:
            raise GadgetError("softmax", f"exp_lookup{k}:{e.check}", str(e), e.round) from e
        pt = lcl.column_point(0)
        add(_digit(k), pt, lcl.values[0, 0])
        add(_tout(k), pt, lcl.values[0, 1])

    # 6. the ranges
    if range_check:
        rc, t = rangecheck.verify(shapes(p), ranges(p), proof.ranges, t)
        for k, cl in rc.items():
            claims[k] = claims[k] + cl
    elif proof.ranges:
        raise GadgetError("softmax", "shape", "range proofs present but range_check is off")
    claims["scores"] = [Claim(point=r, value=proof.values[vnames.index("scores")])]
    return claims, t


__all__ = [
    "DIVISION_TERMS",
    "IDENTITY_TERMS",
    "SOFTMAX",
    "TABLE_TAG",
    "Params",
    "SoftmaxProof",
    "advice",
    "argmax_indicator",
    "committed",
    "generators",
    "params",
    "product_terms",
    "prove",
    "ranges",
    "row_terms",
    "shapes",
    "tables",
    "verify",
]
