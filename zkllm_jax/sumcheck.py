"""The one sumcheck engine: Σ_x [eq(u, x) ·] Σ_j c_j · Π_{k ∈ S_j} f_k(x) over the hypercube.

Every protocol in the library is an instance: it names its tables (K ≤ 8 MLEs of a common
length, zero-padded to 2^m; 7 with an eq point), its terms S_j (static tuples of table indices,
1 to 4 factors each, a table may repeat; at most 16 terms) with coefficients c_j (runtime field
elements, e.g. transcript challenges; default 1), optionally an eq point u, and a label for
domain separation. The default instance is one term of all tables: Σ_x Π_k f_k(x) [· eq(u, x)].

Round j binds variable j (variable 0 = least significant index bit, see `mle`). The round
polynomial p_j(t) = Σ_{x'} [eq ·] Σ_j c_j Π_{k∈S_j} f_k(r_0..r_{j−1}, t, x') has degree
D = max_j |S_j| (+1 with eq) ≤ 5 and is sent as its values at t = 0, 1, ..., D (messages
Fr[m, D+1, 8]). After the last round the prover sends f_k(r) for each table (not eq, which the
verifier computes), so the proof is m·(D+1) + K field elements.

Transcript order: begin(label, [K, m, D, has_eq, T, |S_0|, S_0..., |S_1|, S_1..., ...]);
[absorb eq point]; absorb the coefficients (Fr[T]); absorb the claimed sum; per round: absorb
p_j, squeeze r_j; absorb the final values.

Each round is one fused native pass (`zk_fr_sumcheck_fold_round`): it folds every table with
the previous challenge and evaluates the next round polynomial from the folded values while
they are in registers, so the tables are read once and written halved per round. The term
structure travels as a static attribute (the T×K exponent matrix), the coefficients as an
Fr[T, 8] operand. The round's transcript work (absorb p_j, squeeze r_j) is one native call too
(`Transcript.absorb_challenges`), and a masked round adds three field operations
(`_mask_rounds`), so a round is about a dozen device launches.

Zero knowledge (Libra's masking, Xie et al. 2019; Chiesa–Forbes–Spooner): when the transcript
is zero-knowledge (`Transcript.zk`, the default) the prover draws a random polynomial
g(x) = a_0 + Σ_i g_i(x_i), each g_i of degree D with zero constant term (1 + m·D random field
elements from `transcript.secret_key`), commits to its coefficient vector
s = (a_0, a_{0,1..D}, a_{1,1..D}, ...) (1 + m·D entries) with a hiding Pedersen vector
commitment under its own generators (`MASK_TAG`), and sends the commitment and
G = Σ_{x∈{0,1}^m} g(x) = 2^m·a_0 + 2^(m−1)·Σ_{i,d} a_{i,d}. The transcript absorbs both after the
claim and squeezes ρ; the rounds then prove claim + ρ·G for the summand + ρ·g. The g part of round
j is closed form: 2^(m−j−1)·(a_0 + Σ_{i<j} g_i(r_i) + g_j(t)) + 2^(m−j−2)·Σ_{i>j} g_i(1), added to
the engine's evaluations before they are absorbed. After the final values the prover sends
g(r) = ⟨s, ℓ(r)⟩ with ℓ(r) = (1, r_0, ..., r_0^D, r_1, ..., r_{m−1}^D) and proves it with
`commit.prove_vector_opening` (a Σ-protocol: one MSM, whose nonce commitment δ is computed with
the mask's commitment in one batched MSM, so a masked sumcheck adds one MSM to the prover's
sequence of custom calls; on a GPU a small MSM costs milliseconds whatever its size, and the
inner-product argument's 2c + 1 MSMs and c generator folds made a masked sumcheck ~200 ms
there). The verifier checks
the last round against [eq(u, r)·]Σ_j c_j Π f_k(r) + ρ·g(r) and the opening. Each round message
is then ρ·(a uniformly random degree-D polynomial with the right sum) plus the true one: the
messages are simulatable from the claim alone (tests/zk_simulator.py). The final values f_k(r)
are still sent in the clear (hiding them is the next step of the zero-knowledge issue).
Transcript order with the mask: ... absorb the claim; absorb "mask" (G1), "mask_sum"; squeeze
"mask_rho"; rounds; absorb the final values; absorb "mask_eval"; the vector opening. A caller
that knows a sequence of sumchecks ahead (a lookup's layers) draws their masks with `premasks`:
one batched MSM and one "masks" absorb for all; each sumcheck then skips "mask" and its
opening skips C and δ (`commit.prove_vector_opening(..., bound=True)`).

Chunked stacks (`prove_chunked`): a caller whose stack is too large to hold (a 7B layer's
softmax at 2048 tokens: 8 tables of 2^27 entries, 32 GiB; a lookup's leaves, 20 GiB) gives a
builder of contiguous chunks instead. Round j binds variable j, the lowest index bit, so the
first rounds only combine entries inside a chunk: their messages are sums over the chunks, each
rebuilt and folded with the challenges so far, and the tables are materialized only after
`LAZY_ROUNDS` rounds, 2^LAZY_ROUNDS times smaller. The proof and transcript are those of the
materialized stack (the messages are the same sums, added in another order).

The verifier works on Python integers (a handful per round) and raises `SumcheckError` naming
the failed check and round; it never asserts.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from . import commit, ffi, field, mle, prng
from .transcript import Transcript

Array = jax.Array
R = field.R
MAX_NATIVE_TABLES = 8  # what one native pass holds, the eq table included
MAX_TABLES = MAX_NATIVE_TABLES  # user tables without eq (MAX_TABLES − 1 with eq)
MAX_TERMS = 16
MAX_TERM_DEGREE = 4
# chunked stacks (`prove_chunked`): callers cut tables into chunks of about 2^CHUNK_LOG entries
# (a 2^22-entry chunk of 8 tables is 1 GiB) and fold the first LAZY_ROUNDS rounds chunk by chunk
CHUNK_LOG = 22
LAZY_ROUNDS = 2
# the most blocks a native round pass's partials hold: above the resident grid of any current GPU
# (an H100 or H200 holds 132 SMs × at most 8 blocks of 256 threads), so the grid is never capped
SCRATCH_BLOCKS = 2048
MASK_TAG = b"zkllm-jax/sumcheck-mask/v1"
MASK_PURPOSE = 0x6D61736B  # "mask": the transcript.secret_key purpose of the masks

Terms = tuple[tuple[int, ...], ...]


class SumcheckError(ValueError):
    """A sumcheck proof was rejected: `check` names the failed check, `round` its round."""

    def __init__(self, check: str, round: int | None, detail: str):
        self.check = check
        self.round = round
        where = f" in round {round}" if round is not None else ""
        super().__init__(f"sumcheck rejected: {check}{where}: {detail}")


@struct.dataclass
class MaskProof:
    """The zero-knowledge mask: its commitment (G1), G = Σ_x g(x), g(r) and g(r)'s opening."""

    commitment: Array
    total: Array
    value: Array
    opening: commit.VectorOpeningProof


@struct.dataclass
class Premask:
    """A sumcheck's mask drawn and committed ahead of it (`premasks`): the coefficient vector
    Fr[1 + m·D, 8] and its blind, the opening's nonce vector and its blind, and the two
    commitments (G1), both already absorbed into the transcript."""

    vec: Array
    blind: Array
    nonce: Array
    nonce_blind: Array
    commitment: Array
    delta: Array


@struct.dataclass
class SumcheckProof:
    """messages: Fr[m, D+1, 8] round polynomials at t = 0..D; final_evals: Fr[K, 8];
    mask: the masking polynomial's messages (zero-knowledge mode) or None (plain)."""

    messages: Array
    final_evals: Array
    mask: MaskProof | None = None


@struct.dataclass
class FinalClaims:
    """What a sumcheck reduces to: the tables' values at `point` (Fr[m, 8])."""

    point: Array
    values: Array  # Fr[K, 8], f_k(point)
    claim: Array  # Fr[8], the proven sum


# --- term structure ----------------------------------------------------------------------------


def normalize_terms(terms: Sequence[Sequence[int]] | None, num_tables: int) -> Terms:
    """Check a term structure against K tables; None means one term of all tables.

    Returns it as a tuple of tuples (hashable, so it can be a static argument of `jit`).
    """
    k = int(num_tables)
    if terms is None:
        if k > MAX_TERM_DEGREE:
            raise ValueError(f"sumcheck: the default term (all {k} tables) has more than "
                             f"{MAX_TERM_DEGREE} factors; pass terms")
        return (tuple(range(k)),)
    if isinstance(terms, (str, bytes)) or not isinstance(terms, Sequence):
        raise TypeError(f"sumcheck: terms are a sequence of index tuples, got {type(terms)}")
    out = []
    for j, term in enumerate(terms):
        if isinstance(term, (str, bytes)) or not isinstance(term, Sequence):
            raise TypeError(f"sumcheck: terms[{j}] must be a tuple of table indices, got {term!r}")
        idx = tuple(int(i) for i in term)
        if not 1 <= len(idx) <= MAX_TERM_DEGREE:
            raise ValueError(f"sumcheck: terms[{j}] has {len(idx)} factors; a term has 1 to "
                             f"{MAX_TERM_DEGREE}")
        if any(not 0 <= i < k for i in idx):
            raise ValueError(f"sumcheck: terms[{j}] = {idx} names a table outside [0, {k})")
        out.append(idx)
    if not 1 <= len(out) <= MAX_TERMS:
        raise ValueError(f"sumcheck: between 1 and {MAX_TERMS} terms, got {len(out)}")
    return tuple(out)


def degree(terms: Terms, has_eq: bool) -> int:
    """D: the round polynomials' degree."""
    return max(len(t) for t in terms) + int(has_eq)


def term_exponents(terms: Terms, num_native: int) -> np.ndarray:
    """The T×K exponent matrix (flattened int64) the native passes take as an attribute."""
    e = np.zeros((len(terms), num_native), dtype=np.int64)
    for j, term in enumerate(terms):
        for i in term:
            e[j, i] += 1
    return e.reshape(-1)


def _shape_params(k: int, m: int, terms: Terms, has_eq: bool) -> list[int]:
    """The static parameters absorbed by `begin`: sizes, then the terms (length-prefixed)."""
    params = [k, m, degree(terms, has_eq), int(has_eq), len(terms)]
    for term in terms:
        params += [len(term), *term]
    return params


def _check_coeffs(coeffs: Any, terms: Terms, trusted: bool = False) -> Array:
    if coeffs is None:
        return field.ones((len(terms),))
    coeffs = field.check(coeffs, "coeffs", canonical=not trusted)
    if coeffs.shape != (len(terms), field.LIMBS):
        raise ValueError(f"sumcheck: coeffs must be Fr[{len(terms)}, 8] (one per term), got "
                         f"{tuple(coeffs.shape)}")
    return coeffs


# --- native passes -----------------------------------------------------------------------------


def _native_terms(tables: Array, terms: Terms | None, has_eq: bool) -> tuple[Terms, int]:
    k_native = tables.shape[0]
    terms = normalize_terms(terms, k_native - int(has_eq))
    return terms, degree(terms, has_eq)


def scratch(pairs: int) -> jax.ShapeDtypeStruct:
    """The partials buffer of a native round pass over `pairs` pairs, a result of the call (not
    memory the handler allocates, so XLA can record the pass into a command buffer): on CUDA
    one block per 256 pairs up to SCRATCH_BLOCKS blocks of at most MAX_NATIVE_TABLES + 1 field
    elements (xla_ffi/cuda/sumcheck_cuda.cu); the CPU handler ignores it."""
    blocks = min(-(-int(pairs) // 256), SCRATCH_BLOCKS)
    words = field.LIMBS * (MAX_NATIVE_TABLES + 1) * blocks if blocks > 1 else field.LIMBS
    return jax.ShapeDtypeStruct((words,), jnp.uint32)


def round_evals(
    tables: Array, coeffs: Array | None = None, *, terms: Terms | None = None,
    has_eq: bool = False,
) -> Array:
    """Round polynomial at t = 0..D of the instance's summand (one pass).

    tables: Fr[K, n, 8] (the eq table last when has_eq); coeffs: Fr[T, 8] or None (ones).
    Returns Fr[D+1, 8].
    """
    terms, d = _native_terms(tables, terms, has_eq)
    if coeffs is None:
        coeffs = field.ones((len(terms),))
    outs = (jax.ShapeDtypeStruct((d + 1, field.LIMBS), jnp.uint32),
            scratch(tables.shape[1] // 2))
    return ffi.call("zk_fr_sumcheck_round", outs, tables, coeffs, vmap_method="sequential",
                    terms=term_exponents(terms, tables.shape[0]), num_tables=int(tables.shape[0]),
                    has_eq=int(has_eq))[0]


def fold_round(
    tables: Array, r: Array, coeffs: Array | None = None, *, terms: Terms | None = None,
    has_eq: bool = False,
) -> tuple[Array, Array]:
    """Fold variable 0 of every table with r and evaluate the next round polynomial (one pass).

    Fr[K, n, 8], Fr[8] -> (Fr[K, n/2, 8], Fr[D+1, 8]); n ≥ 4.
    """
    terms, d = _native_terms(tables, terms, has_eq)
    if coeffs is None:
        coeffs = field.ones((len(terms),))
    k, n = tables.shape[0], tables.shape[1]
    outs = (
        jax.ShapeDtypeStruct((k, n // 2, field.LIMBS), jnp.uint32),
        jax.ShapeDtypeStruct((d + 1, field.LIMBS), jnp.uint32),
        scratch(n // 4),
    )
    folded, evals, _ = ffi.call("zk_fr_sumcheck_fold_round", outs, tables, r, coeffs,
                                vmap_method="sequential", terms=term_exponents(terms, k),
                                num_tables=int(k), has_eq=int(has_eq))
    return folded, evals


# --- prover ------------------------------------------------------------------------------------


def _stack(tables: Any, max_tables: int) -> tuple[Array, int]:
    if hasattr(tables, "shape"):
        t = field.check(tables, "tables")
        if t.ndim != 3:
            raise ValueError(f"sumcheck: tables are Fr[K, n, 8], got shape {tuple(t.shape)}")
        n = t.shape[1]
        if 1 <= t.shape[0] <= max_tables and n >= 2 and n & (n - 1) == 0:
            return t, n.bit_length() - 1  # already stacked and padded: no copy
        seq = [t[i] for i in range(t.shape[0])]
    else:
        seq = [field.check(t, f"tables[{i}]") for i, t in enumerate(tables)]
        for i, t in enumerate(seq):
            if t.ndim != 2:
                raise ValueError(f"sumcheck: tables[{i}] must be Fr[n, 8], got {tuple(t.shape)}")
    if not 1 <= len(seq) <= max_tables:
        raise ValueError(f"sumcheck: between 1 and {max_tables} tables, got {len(seq)}")
    m = max(1, mle.num_vars(max(t.shape[0] for t in seq)))
    n = 1 << m
    padded = [jnp.pad(t, ((0, n - t.shape[0]), (0, 0))) if t.shape[0] != n else t for t in seq]
    return jnp.stack(padded), m


def _begin(
    transcript: Transcript, label: bytes, k: int, m: int, terms: Terms, eq_point: Any,
    coeffs: Array,
) -> Transcript:
    has_eq = eq_point is not None
    t = transcript.begin(label, _shape_params(k, m, terms, has_eq))
    if has_eq:
        t = t.absorb_field(b"eq_point", eq_point)
    return t.absorb_field(b"coeffs", coeffs)


def prove(
    tables: Any,
    transcript: Transcript,
    *,
    eq_point: Any | None = None,
    label: bytes | str = b"sumcheck",
    terms: Sequence[Sequence[int]] | None = None,
    coeffs: Any | None = None,
) -> tuple[FinalClaims, SumcheckProof, Transcript]:
    """Prove Σ_x [eq(eq_point, x) ·] Σ_j c_j Π_{k∈S_j} f_k(x) = claim (the claim is returned).

    tables: Fr[K, n, 8] or a sequence of K flat tables Fr[n_k, 8] (zero-padded to a common
    2^m, m ≥ 1); eq_point: Fr[m, 8] or None; terms: static tuples of table indices (None: one
    term of all tables); coeffs: Fr[T, 8] (None: all ones). Pure and jit-able.
    """
    has_eq = eq_point is not None
    stacked, m = _stack(tables, MAX_NATIVE_TABLES - int(has_eq))
    k = stacked.shape[0]
    terms = normalize_terms(terms, k)
    coeffs = _check_coeffs(coeffs, terms)
    if has_eq:
        eq_point = field.check(eq_point, "eq_point")
        if eq_point.shape != (m, field.LIMBS):
            raise ValueError(f"sumcheck: eq_point must be Fr[{m}, 8], got {tuple(eq_point.shape)}")
        # the eq table is the last table: a common factor of every term
        stacked = jnp.concatenate([stacked, mle.eq_table(eq_point)[None]], axis=0)
    return _prove(stacked, transcript, eq_point, coeffs, _label_bytes(label), terms)


def prove_with_eq_table(
    stacked: Array,
    transcript: Transcript,
    eq_point: Any,
    *,
    label: bytes | str = b"sumcheck",
    terms: Sequence[Sequence[int]] | None = None,
    coeffs: Any | None = None,
) -> tuple[FinalClaims, SumcheckProof, Transcript]:
    """`prove(stacked[:-1], eq_point=eq_point, ...)` for a caller that already appended
    `mle.eq_table(eq_point)` as the last table (Fr[K + 1, 2^m, 8]): the same proof and
    transcript, without `prove`'s copy of the tables into a new stack (large lookups build
    theirs in one pass). A wrong eq table only yields a proof that fails verification.
    """
    stacked = field.check(stacked, "tables")
    eq_point = field.check(eq_point, "eq_point")
    if stacked.ndim != 3 or not 2 <= stacked.shape[0] <= MAX_NATIVE_TABLES:
        raise ValueError(f"sumcheck: tables with the eq table are Fr[K + 1, n, 8], K + 1 <= "
                         f"{MAX_NATIVE_TABLES}; got shape {tuple(stacked.shape)}")
    n = stacked.shape[1]
    if n < 2 or n & (n - 1):
        raise ValueError(f"sumcheck: table length must be a power of two >= 2, got {n}")
    m = n.bit_length() - 1
    if eq_point.shape != (m, field.LIMBS):
        raise ValueError(f"sumcheck: eq_point must be Fr[{m}, 8], got {tuple(eq_point.shape)}")
    terms = normalize_terms(terms, stacked.shape[0] - 1)
    coeffs = _check_coeffs(coeffs, terms)
    return _prove(stacked, transcript, eq_point, coeffs, _label_bytes(label), terms)


@jax.tree_util.register_pytree_node_class
class _Chunked:
    """Stacked tables given as `build(aux, args, c)` -> Fr[K − 1, B, 8], the c-th of `chunks`
    contiguous chunks of B = 2^m / chunks entries, never all at once; the eq table, last, is
    eq_low·eq_high[c] (eq_low = eq of the point's low log2(B) variables, eq_high of the rest,
    both computed once: rebuilding eq per chunk was most of a chunk's kernel launches).

    The first `lazy` rounds bind variables inside a chunk, so their messages are sums over the
    chunks, each built and folded with the challenges so far (the chunk is rebuilt per round:
    work traded for memory); after them the tables are materialized already folded `lazy`
    times, 2^lazy times smaller than the stack they stand for.
    """

    def __init__(self, build: Any, aux: Any, args: tuple, eq_low: Array, eq_high: Array,
                 chunks: int, chunk_len: int, num_tables: int, lazy: int):
        self.build, self.aux, self.args = build, aux, args
        self.eq_low, self.eq_high = eq_low, eq_high
        self.chunks, self.chunk_len = chunks, chunk_len
        self.num_tables, self.lazy = num_tables, lazy
        self.num_vars = (chunks * chunk_len).bit_length() - 1

    def tree_flatten(self) -> tuple:
        return (self.args, self.eq_low, self.eq_high), (
            self.build, self.aux, self.chunks, self.chunk_len, self.num_tables, self.lazy)

    @classmethod
    def tree_unflatten(cls, static: tuple, leaves: tuple) -> _Chunked:
        build, aux, chunks, chunk_len, num_tables, lazy = static
        args, eq_low, eq_high = leaves
        return cls(build, aux, tuple(args), eq_low, eq_high, chunks, chunk_len, num_tables, lazy)

    def chunk(self, c: Array) -> Array:
        """Chunk c of the whole stack, the eq table included: Fr[K, B, 8]."""
        eq = field.mul(self.eq_low, jax.lax.dynamic_index_in_dim(self.eq_high, c, 0, False))
        return jnp.concatenate([self.build(self.aux, self.args, c), eq[None]])

    def _folded(self, c: Array, point: tuple) -> Array:
        tab = self.chunk(c)
        for r in point:
            tab = mle.fold_unchecked(tab, r)
        return tab

    def evals(self, point: tuple, coeffs: Array, kw: dict) -> Array:
        def body(c: Array, acc: Array) -> Array:
            return field.add(acc, round_evals(self._folded(c, point), coeffs, **kw))

        d = degree(kw["terms"], kw["has_eq"])
        return jax.lax.fori_loop(0, self.chunks, body, field.zeros((d + 1,)))

    def fold(self, point: tuple) -> Array:
        part = self.chunk_len >> len(point)

        def body(c: Array, out: Array) -> Array:
            return jax.lax.dynamic_update_slice_in_dim(out, self._folded(c, point), c * part,
                                                       axis=1)

        out = field.zeros((self.num_tables, self.chunks * part))
        return jax.lax.fori_loop(0, self.chunks, body, out)


def chunk_len(n: int) -> int:
    """Entries per chunk for a stack of n entries: 2^CHUNK_LOG, at least 2, at most n."""
    return min(n, max(2, 1 << CHUNK_LOG))


def _lazy_args(eq_point: Any, m: int, lazy: int | None, cap: int, terms: Any, num_tables: int,
               coeffs: Any, trusted: bool) -> tuple[Array, int, Terms, Array]:
    """What `prove_chunked` and `prove_source` check and default alike: eq_point Fr[m, 8] (values
    checked unless trusted), the lazy rounds (LAZY_ROUNDS by default) clamped to [1, cap] and to
    at least one round after them, the terms over the tables without eq, and their coeffs."""
    eq_point = field.check(eq_point, "eq_point", canonical=not trusted)
    if eq_point.shape != (m, field.LIMBS):
        raise ValueError(f"sumcheck: eq_point must be Fr[{m}, 8], got {tuple(eq_point.shape)}")
    lazy = LAZY_ROUNDS if lazy is None else int(lazy)
    lazy = max(1, min(lazy, cap, m - 1))
    terms = normalize_terms(terms, num_tables - 1)
    return eq_point, lazy, terms, _check_coeffs(coeffs, terms, trusted)


def prove_chunked(
    build: Any,
    aux: Any,
    args: tuple,
    chunks: int,
    chunk_len: int,
    num_tables: int,
    transcript: Transcript,
    eq_point: Any,
    *,
    lazy: int | None = None,
    label: bytes | str = b"sumcheck",
    terms: Sequence[Sequence[int]] | None = None,
    coeffs: Any | None = None,
    trusted: bool = False,
    premask: Premask | None = None,
) -> tuple[FinalClaims, SumcheckProof, Transcript]:
    """`prove_with_eq_table(stacked, ...)` for a stack too large to hold: the same proof and
    transcript, where `stacked` (Fr[num_tables, chunks·chunk_len, 8], the eq table of eq_point
    last) is the concatenation over c of `build(aux, args, c)` (Fr[num_tables − 1, chunk_len,
    8]: the tables without eq, which is built here; c a traced int32 index; build a static,
    hashable function, aux static and hashable, args arrays). The largest table held is the
    stack folded `lazy` times (default LAZY_ROUNDS, clamped to what the chunks allow). One
    chunk builds the stack once. Runs as one compiled program (the chunk loops are
    `lax.fori_loop`s).

    trusted: eq_point and coeffs were drawn from this prover's transcript (canonical by
    construction), so only their shapes are checked: the eager value check blocks until the
    device has caught up, 2 host syncs per sumcheck in a lookup's chain of layers.
    premask: this sumcheck's mask from `premasks` (zero-knowledge transcripts only), instead of
    one drawn and committed here.
    """
    n = chunks * chunk_len
    if chunks < 1 or chunk_len < 2 or n & (n - 1):
        raise ValueError(f"sumcheck: {chunks} chunks of {chunk_len} entries: the stack must "
                         f"have a power-of-two length >= 2 and chunks of >= 2 entries")
    if not 2 <= num_tables <= MAX_NATIVE_TABLES:
        raise ValueError(f"sumcheck: tables with the eq table are 2..{MAX_NATIVE_TABLES}, got "
                         f"{num_tables}")
    m = n.bit_length() - 1
    # a chunk's round pass needs two entries: B/2^(lazy−1) >= 2
    eq_point, lazy, terms, coeffs = _lazy_args(eq_point, m, lazy, chunk_len.bit_length() - 1,
                                               terms, num_tables, coeffs, trusted)
    return _prove_chunked(build, aux, tuple(args), chunks, chunk_len, num_tables, transcript,
                          eq_point, coeffs, lazy, _label_bytes(label), terms, premask)


# one compiled program: the chunk loops are lax loops, and the tables (built canonical by the
# caller's builder) skip the eager canonical-limb check, whose temporary is as large as them
@functools.partial(jax.jit, static_argnums=(0, 1, 3, 4, 5, 9, 10, 11))
def _prove_chunked(build, aux, args, chunks, chunk_len, num_tables, transcript, eq_point, coeffs,
                   lazy, label, terms, premask):
    # checked while tracing (once per compilation, not per call)
    got = jax.eval_shape(functools.partial(build, aux), args, jnp.int32(0))
    want = (num_tables - 1, chunk_len, field.LIMBS)
    if getattr(got, "shape", None) != want or got.dtype != jnp.uint32:
        raise ValueError(f"sumcheck: a chunk must be Fr{list(want)} (the tables without eq), "
                         f"the builder gives {getattr(got, 'dtype', type(got).__name__)}"
                         f"{list(getattr(got, 'shape', ()))}")
    low = chunk_len.bit_length() - 1
    src = _Chunked(build, aux, args, mle.eq_table(eq_point[:low]), mle.eq_table(eq_point[low:]),
                   chunks, chunk_len, num_tables, lazy)
    if chunks == 1 or src.num_vars < 2:  # nothing to save: build the stack once
        stacked = src.fold(()) if chunks > 1 else src.chunk(jnp.int32(0))
        return _prove(stacked, transcript, eq_point, coeffs, label, terms, premask=premask)
    return _prove(None, transcript, eq_point, coeffs, label, terms, src, premask)


def prove_source(
    source: Any,
    aux: Any,
    args: tuple,
    num_vars: int,
    transcript: Transcript,
    eq_point: Any,
    *,
    lazy: int | None = None,
    label: bytes | str = b"sumcheck",
    terms: Sequence[Sequence[int]] | None = None,
    coeffs: Any | None = None,
    premask: Premask | None = None,
) -> tuple[FinalClaims, SumcheckProof, Transcript]:
    """`prove_chunked` for a stack that native passes rebuild from smaller data (a lookup's
    witness levels from its int32 leaves): the same proof and transcript as the materialized
    stack of 2^num_vars entries, its eq table (of eq_point) last.

    source: a static pytree class; `source(aux, args, eq_low, eq_high, lazy)` (eq_low, eq_high:
    eq of the point's low EQ_LOW_LOG variables and of the rest, so eq[x] = eq_low[x mod B]·
    eq_high[x / B]) has `num_tables`, `num_vars`, `lazy`, `evals(point, coeffs, kw)` (the next
    round polynomial of the stack folded with `point`) and `fold(point)` (that stack, eq
    included), and may cap `lazy` with `max_lazy`. The first `lazy` rounds (default
    LAZY_ROUNDS) never hold the stack. eq_point and coeffs are trusted (drawn from this
    prover's transcript): shapes are checked, not values. premask: as in `prove_chunked`.
    """
    m = int(num_vars)
    if m < 1:
        raise ValueError(f"sumcheck: a source stack needs at least one variable, got {m}")
    eq_point, lazy, terms, coeffs = _lazy_args(eq_point, m, lazy, getattr(source, "max_lazy", m),
                                               terms, source.num_tables, coeffs, True)
    return _prove_source(source, aux, tuple(args), m, transcript, eq_point, coeffs, lazy,
                         _label_bytes(label), terms, premask)


# eq of a source stack's low variables: 2^EQ_LOW_LOG entries, read once per entry of a pass
EQ_LOW_LOG = 12


@functools.partial(jax.jit, static_argnums=(0, 1, 3, 7, 8, 9))
def _prove_source(source, aux, args, m, transcript, eq_point, coeffs, lazy, label, terms,
                  premask):
    low = min(m, EQ_LOW_LOG)
    src = source(aux, args, mle.eq_table(eq_point[:low]), mle.eq_table(eq_point[low:]), lazy)
    if m < 2:  # one round: the stack is two entries
        return _prove(src.fold(()), transcript, eq_point, coeffs, label, terms, premask=premask)
    return _prove(None, transcript, eq_point, coeffs, label, terms, src, premask)


def _label_bytes(label: bytes | str) -> bytes:
    return label.encode() if isinstance(label, str) else bytes(label)


# --- masking polynomial (zero-knowledge mode) ---------------------------------------------------


def mask_len(m: int, d: int) -> int:
    """Length of the mask's committed coefficient vector: 1 + m·D."""
    return 1 + m * d


@functools.cache
def mask_generators(n: int) -> commit.Generators:
    """Generators of the masks' vector commitments (their own hash-to-curve tag), at least n."""
    return commit.setup(1 << (n - 1).bit_length(), MASK_TAG)


@functools.cache
def _int_consts(values: tuple[int, ...]) -> np.ndarray:
    """Constants in Montgomery form, computed in numpy (usable while tracing)."""
    raw = b"".join((v * (1 << 256) % R).to_bytes(32, "little") for v in values)
    return np.frombuffer(raw, dtype="<u4").astype(np.uint32).reshape(len(values), field.LIMBS)


def _const(v: int) -> Array:
    return jnp.asarray(_int_consts((v,))[0])


def _draw_mask(t: Transcript, m: int, d: int) -> tuple[Array, Array, Array]:
    """The mask's coefficient vector Fr[1 + m·D, 8], its blind and an opening key."""
    k_vec, k_blind, k_open = prng.split(t.secret_key(MASK_PURPOSE), 3)
    return field.random(k_vec, (mask_len(m, d),)), field.random(k_blind), k_open


def _mask_total(vec: Array, m: int, d: int) -> Array:
    """G = Σ_{x∈{0,1}^m} g(x) = 2^m·a_0 + 2^(m−1)·Σ_{i,d} a_{i,d}."""
    rest = field.sum(vec[1 : 1 + m * d], axis=0)
    return field.add(field.mul(vec[0], _const(1 << m)), field.mul(rest, _const(1 << (m - 1))))


def _mask_rounds(coef: Array, rho: Array) -> tuple[Array, Array]:
    """ρ times the g part of every round (module docstring), at t = 0..D:
        ρ·[2^(m−j−1)·(prefix_j + g_j(t)) + 2^(m−j−2)·Σ_{i>j} g_i(1)]  (no sum for j = m − 1)
    = fixed[j] + scale[j]·prefix_j, prefix_j = a_0 + Σ_{i<j} g_i(r_i) the only part that depends on
    the challenges. coef: Fr[m, D, 8] (a_{i,1..D}). Returns fixed Fr[m, D+1, 8] and scale Fr[m, 8],
    computed for all rounds in a few batched calls, so that a round adds three field operations
    to its pass instead of ten."""
    m, d = coef.shape[0], coef.shape[1]
    powers = jnp.asarray(_int_consts(tuple(t ** e for t in range(d + 1) for e in range(1, d + 1)))
                         ).reshape(d + 1, d, field.LIMBS)
    g = field.inner_product(powers[None], coef[:, None], axis=2)  # g_j(t): Fr[m, D+1]
    later = np.triu(np.ones((m, m), np.int64), 1)  # later[j, i] = (i > j)
    later = jnp.asarray(_int_consts(tuple(int(v) for v in later.reshape(-1)))).reshape(
        m, m, field.LIMBS)
    suffix = field.inner_product(later, field.sum(coef, axis=1)[None])  # Σ_{i>j} g_i(1)
    c1 = jnp.asarray(_int_consts(tuple(1 << (m - j - 1) for j in range(m))))
    c2 = jnp.asarray(_int_consts(tuple((1 << (m - j - 2)) if j < m - 1 else 0
                                       for j in range(m))))
    fixed = field.add(field.mul(g, c1[:, None]), field.mul(suffix, c2)[:, None])
    return field.mul(fixed, rho), field.mul(c1, rho)


def _powers(r: Array, d: int) -> Array:
    """(r, r^2, ..., r^D) as Fr[D, 8]."""
    out = [r]
    for _ in range(d - 1):
        out.append(field.mul(out[-1], r))
    return jnp.stack(out)


def premasks(transcript: Transcript, shapes: Sequence[tuple[int, int]]
             ) -> tuple[tuple[Premask, ...], Transcript]:
    """Masks for a sequence of zero-knowledge sumchecks, drawn and committed before the first.

    shapes: (rounds m, degree D) of each sumcheck, in order. Every mask and its opening's nonce
    come from the transcript's secret key; all 2·len(shapes) vectors are committed in one
    batched MSM and the pairs (C, δ) absorbed as one "masks" entry (one batch of point
    encodings), where a mask drawn by its own sumcheck costs an MSM and three encodings. Pass
    each to `prove_chunked` / `prove_source` (premask=); the verifier absorbs the proofs' masks
    with `absorb_masks` and checks each with `verify(..., premasked=True)`.
    """
    if not transcript.zk:
        raise ValueError("sumcheck: premasks need a zero-knowledge transcript")
    shapes = tuple((int(m), int(d)) for m, d in shapes)
    if not shapes or any(m < 1 or d < 1 for m, d in shapes):
        raise ValueError(f"sumcheck: premasks need (rounds >= 1, degree >= 1) pairs, got {shapes}")
    return _premasks(transcript, shapes)


@functools.partial(jax.jit, static_argnums=(1,))
def _premasks(transcript: Transcript, shapes: tuple) -> tuple[tuple[Premask, ...], Transcript]:
    n = max(mask_len(m, d) for m, d in shapes)
    keys = prng.split(transcript.secret_key(MASK_PURPOSE), len(shapes))
    masks, rows, blinds = [], [], []
    for i, (m, d) in enumerate(shapes):
        k_vec, k_blind, k_open = prng.split(keys[i], 3)
        vec, blind = field.random(k_vec, (mask_len(m, d),)), field.random(k_blind)
        nonce, nonce_blind = commit.vector_nonce(k_open, mask_len(m, d))
        masks.append((vec, blind, nonce, nonce_blind))
        pad = ((0, n - vec.shape[0]), (0, 0))  # zero tails: the same commitment as unpadded
        rows += [jnp.pad(vec, pad), jnp.pad(nonce, pad)]
        blinds += [blind, nonce_blind]
    pts = commit.commit_vectors(jnp.stack(rows), jnp.stack(blinds), mask_generators(n))
    pts = pts.reshape(len(shapes), 2, 3, pts.shape[-1])
    out = tuple(Premask(vec=v, blind=b, nonce=nv, nonce_blind=nb, commitment=pts[i, 0],
                        delta=pts[i, 1]) for i, (v, b, nv, nb) in enumerate(masks))
    return out, transcript.absorb_points(b"masks", pts)


def absorb_masks(transcript: Transcript, masks: Sequence[MaskProof],
                 shapes: Sequence[tuple[int, int]]) -> Transcript:
    """The verifier's side of `premasks`: check each mask's shapes against (m, D) and absorb the
    masks' (commitment, nonce commitment) pairs as the prover did. Raises SumcheckError."""
    if len(masks) != len(shapes):
        raise SumcheckError("mask_shape", None, f"{len(shapes)} masks expected, got "
                            f"{len(masks)}")
    for mask, (m, d) in zip(masks, shapes):
        _check_mask_shape(mask, int(m), int(d))
    pts = jnp.stack([jnp.stack([mk.commitment, mk.opening.delta]) for mk in masks])
    return transcript.absorb_points(b"masks", pts)


@functools.partial(jax.jit, static_argnums=(4, 5))
def _prove(
    stacked: Array | None, transcript: Transcript, eq_point: Array | None, coeffs: Array,
    label: bytes, terms: Terms, chunked: Any = None, premask: Premask | None = None,
) -> tuple[FinalClaims, SumcheckProof, Transcript]:
    has_eq = eq_point is not None
    kw = {"terms": terms, "has_eq": has_eq}
    if chunked is None:
        k = stacked.shape[0] - int(has_eq)
        m = stacked.shape[1].bit_length() - 1
        evals = round_evals(stacked, coeffs, **kw)
    else:
        k, m = chunked.num_tables - int(has_eq), chunked.num_vars
        evals = chunked.evals((), coeffs, kw)
    t = _begin(transcript, label, k, m, terms, eq_point, coeffs)
    claim = field.add(evals[0], evals[1])
    t = t.absorb_field(b"claim", claim)
    d = degree(terms, has_eq)
    if premask is not None and (not t.zk or premask.vec.shape[0] != mask_len(m, d)):
        raise ValueError(f"sumcheck: a premask needs a zero-knowledge transcript and "
                         f"{mask_len(m, d)} coefficients, got {premask.vec.shape[0]}")
    if t.zk:
        if premask is None:
            vec, blind, k_open = _draw_mask(t, m, d)
            nonce, nonce_blind = commit.vector_nonce(k_open, vec.shape[0])
            # the opening's nonce commitment does not depend on the transcript: one MSM for both
            mask_com, delta = commit.commit_vectors(jnp.stack([vec, nonce]),
                                                    jnp.stack([blind, nonce_blind]),
                                                    mask_generators(vec.shape[0]))
            t = t.absorb_points(b"mask", mask_com)
        else:  # drawn, committed and absorbed ahead (`premasks`)
            vec, blind, nonce, nonce_blind = (premask.vec, premask.blind, premask.nonce,
                                              premask.nonce_blind)
            mask_com, delta = premask.commitment, premask.delta
        gens = mask_generators(vec.shape[0])
        total = _mask_total(vec, m, d)
        t = t.absorb_field(b"mask_sum", total)
        rho, t = t.challenge(b"mask_rho")
        coef = vec[1 : 1 + m * d].reshape(m, d, field.LIMBS)
        fixed, scale = _mask_rounds(coef, rho)
        prefix, powers = vec[0], []
    messages, point = [], []
    for j in range(m):
        if t.zk:  # ρ times the g part of round j (`_mask_rounds`)
            evals = field.add(evals, field.add(fixed[j], field.mul(scale[j], prefix)))
        messages.append(evals)
        r, t = t.absorb_challenges(b"round", evals, b"r")
        r = r[0]
        point.append(r)
        if t.zk:
            powers.append(_powers(r, d))
            prefix = field.add(prefix, field.inner_product(coef[j], powers[-1]))
        if chunked is not None and j + 1 < chunked.lazy:
            evals = chunked.evals(tuple(point), coeffs, kw)
        elif chunked is not None and j + 1 == chunked.lazy:
            stacked = chunked.fold(tuple(point))  # lazy < m: at least one round follows
            evals = round_evals(stacked, coeffs, **kw)
        elif j < m - 1:
            stacked, evals = fold_round(stacked, r, coeffs, **kw)
        else:
            stacked = mle.fold_unchecked(stacked, r)
    final = stacked[:k, 0]
    t = t.absorb_field(b"final", final)
    mask = None
    if t.zk:
        t = t.absorb_field(b"mask_eval", prefix)  # g(r) = a_0 + Σ_i g_i(r_i)
        # ℓ(r) = (1, r_0..r_0^D, ..., r_{m−1}..r_{m−1}^D), g(r) = ⟨s, ℓ(r)⟩, from the rounds' powers
        ell = jnp.concatenate([field.ones((1,)), *powers])
        _, opening, t = commit.prove_vector_opening(vec, blind, mask_com, ell, gens, t, None,
                                                    delta, nonce=(nonce, nonce_blind),
                                                    bound=premask is not None)
        mask = MaskProof(commitment=mask_com, total=total, value=prefix, opening=opening)
    proof = SumcheckProof(messages=jnp.stack(messages), final_evals=final, mask=mask)
    return FinalClaims(point=jnp.stack(point), values=final, claim=claim), proof, t


# --- verifier ----------------------------------------------------------------------------------


def _ints(x: Array) -> np.ndarray | int:
    return field.decode(x)


def lagrange_eval(values: Sequence[int], r: int) -> int:
    """Evaluate the polynomial with p(i) = values[i] (i = 0..D) at r, over Python integers."""
    d = len(values) - 1
    total = 0
    for i, v in enumerate(values):
        num, den = 1, 1
        for j in range(d + 1):
            if j != i:
                num = num * (r - j) % R
                den = den * (i - j) % R
        total = (total + v * num * pow(den, -1, R)) % R
    return total


def eq_eval_ints(u: Sequence[int], v: Sequence[int]) -> int:
    """eq(u, v) over Python integers."""
    acc = 1
    for a, b in zip(u, v):
        acc = acc * (a * b + (1 - a) * (1 - b)) % R
    return acc


def combine_ints(values: Sequence[int], terms: Terms, coeffs: Sequence[int]) -> int:
    """Σ_j c_j Π_{k∈S_j} values[k] over Python integers (the summand at one point)."""
    total = 0
    for term, c in zip(terms, coeffs):
        p = c
        for i in term:
            p = p * values[i] % R
        total = (total + p) % R
    return total


def verify(
    claim: Any,
    proof: SumcheckProof,
    transcript: Transcript,
    *,
    num_vars: int,
    num_tables: int,
    eq_point: Any | None = None,
    label: bytes | str = b"sumcheck",
    terms: Sequence[Sequence[int]] | None = None,
    coeffs: Any | None = None,
    premasked: bool = False,
) -> tuple[FinalClaims, Transcript]:
    """Check a proof of Σ_x [eq(eq_point, x) ·] Σ_j c_j Π_{k∈S_j} f_k(x) = claim.

    `terms` and `coeffs` must be the prover's (they are bound into the transcript). premasked:
    the proof's mask was committed ahead (`premasks`) and absorbed by the caller
    (`absorb_masks`). Returns the final claims (point r and the prover's values f_k(r), which
    the caller must check against commitments or later protocols) and the transcript. Raises
    SumcheckError.
    """
    m, k = int(num_vars), int(num_tables)
    has_eq = eq_point is not None
    if not 1 <= k <= MAX_NATIVE_TABLES - int(has_eq):
        raise SumcheckError("shape", None, f"between 1 and {MAX_NATIVE_TABLES - int(has_eq)} "
                            f"tables, got {k}")
    terms = normalize_terms(terms, k)
    coeffs = _check_coeffs(coeffs, terms)
    d = degree(terms, has_eq)
    msgs, finals = proof.messages, proof.final_evals
    if tuple(msgs.shape) != (m, d + 1, field.LIMBS):
        raise SumcheckError("shape", None, f"messages must be Fr[{m}, {d + 1}, 8], got "
                            f"{tuple(msgs.shape)}")
    if tuple(finals.shape) != (k, field.LIMBS):
        raise SumcheckError("shape", None, f"final_evals must be Fr[{k}, 8], got "
                            f"{tuple(finals.shape)}")
    claim = field.check(claim, "claim")
    u = None
    if has_eq:
        eq_point = field.check(eq_point, "eq_point")
        if eq_point.shape != (m, field.LIMBS):
            raise SumcheckError("shape", None, f"eq_point must be Fr[{m}, 8]")
        u = [int(v) for v in _ints(eq_point)]
    t = _begin(transcript, _label_bytes(label), k, m, terms, eq_point, coeffs)
    t = t.absorb_field(b"claim", claim)
    cur = int(_ints(claim))
    mask = proof.mask
    if t.zk:
        _check_mask_shape(mask, m, d)
        if not premasked:
            t = t.absorb_points(b"mask", mask.commitment)
        t = t.absorb_field(b"mask_sum", mask.total)
        rho_fr, t = t.challenge(b"mask_rho")
        rho = int(_ints(rho_fr))
        cur = (cur + rho * int(_ints(mask.total))) % R
    elif mask is not None:
        raise SumcheckError("mask_shape", None, "a plain sumcheck proof carries no mask (the "
                            "proof is zero-knowledge but a plain one was expected)")
    msg_ints = _ints(msgs)
    point = []
    for j in range(m):
        p = [int(v) for v in msg_ints[j]]
        if (p[0] + p[1]) % R != cur:
            raise SumcheckError("round_sum", j, "p(0) + p(1) differs from the running claim")
        t = t.absorb_field(b"round", msgs[j])
        r, t = t.challenge(b"r")
        point.append(r)
        cur = lagrange_eval(p, int(_ints(r)))
    vals = [int(v) for v in np.atleast_1d(_ints(finals))]
    expect = combine_ints(vals, terms, [int(c) for c in np.atleast_1d(_ints(coeffs))])
    if u is not None:
        expect = expect * eq_eval_ints(u, [int(_ints(r)) for r in point]) % R
    if t.zk:
        expect = (expect + rho * int(_ints(mask.value))) % R
    if expect != cur:
        raise SumcheckError("final_evaluation", m - 1,
                            "the terms at the final values" + (" plus ρ·g(r)" if t.zk else "")
                            + " differ from the last round")
    t = t.absorb_field(b"final", finals)
    if t.zk:
        t = t.absorb_field(b"mask_eval", mask.value)
        ell = _mask_functional_ints([int(_ints(r)) for r in point], d)
        try:
            t = commit.verify_vector_opening(mask.commitment, ell, mask.value, mask.opening,
                                             mask_generators(ell.shape[0]), t, bound=premasked)
        except commit.OpeningError as e:
            raise SumcheckError("mask_opening", None, f"g(r) does not open the mask "
                                f"commitment ({e})") from e
    return FinalClaims(point=jnp.stack(point), values=finals, claim=claim), t


def _mask_functional_ints(point: Sequence[int], d: int) -> Array:
    """ℓ(r) = (1, r_0..r_0^D, ..., r_{m−1}..r_{m−1}^D) from Python integers (the verifier's
    side of the prover's g(r) = ⟨s, ℓ(r)⟩)."""
    vals = [1]
    for r in point:
        vals += [pow(r, e, R) for e in range(1, d + 1)]
    return field.encode(vals)


def _check_mask_shape(mask: Any, m: int, d: int) -> None:
    """A zero-knowledge proof's mask must be present with the shapes of m rounds of degree D."""
    if not isinstance(mask, MaskProof):
        raise SumcheckError("mask_shape", None, "a zero-knowledge sumcheck proof needs its mask "
                            "(the proof is plain but zero knowledge was expected)")
    pt, fr = (3, 12), (field.LIMBS,)
    op = mask.opening
    if not isinstance(op, commit.VectorOpeningProof):
        raise SumcheckError("mask_shape", None, "the mask's opening must be a VectorOpeningProof")
    want = [(mask.commitment, pt, "commitment"), (mask.total, fr, "total"),
            (mask.value, fr, "value"), (op.delta, pt, "opening delta"), (op.t, fr, "opening t"),
            (op.z, (mask_len(m, d),) + fr, "opening z"), (op.z_blind, fr, "opening z_blind")]
    for arr, shape, name in want:
        if tuple(getattr(arr, "shape", ())) != shape:
            raise SumcheckError("mask_shape", None, f"the mask's {name} must have shape {shape}, "
                                f"got {tuple(getattr(arr, 'shape', ()))}")
