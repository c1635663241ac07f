"""Claims on tensors' MLEs: the currency every gadget takes and returns.

A `Claim` says "the MLE of some tensor at `point` is `value`". Tensors follow the `mle`
convention: per-axis zero padding to powers of two, row-major flattening, the last axis on the
lowest variables; a point is the flat point (Fr[m, 8] with m = Σ_axes ceil(log2 d)). A claim
set maps tensor names to the claims collected on them. Gadgets turn claims on their outputs into
claims on their inputs (working backwards from a layer's output); what is left at the end is
discharged in one of two ways:

- committed tensors: `prove_openings` opens every claim on a committed tensor, one batched
  Hyrax opening per (generator set, row width): the claims are first reduced to rows
  (v = eq(u_row)ᵀ·M, a native pass for int32 tensors), then a small sumcheck over the stacked
  rows (K claims × 2^c entries) moves them all to one column point, and one inner-product
  argument opens them there (see `prove_openings`). Soundness needs the commitments absorbed
  into the transcript before the challenges that produced the claims (a layer absorbs all of
  them first);
- public tensors (tokens, tables, public input/output): `check_public`, the verifier evaluates
  the MLE itself.

Folding claims (`prove_combine`). Claims f(u_i) = v_i, i < k, become one claim at a fresh
point by a random linear combination:
    Σ_i ρ_i v_i = Σ_x E(x)·f(x),   E(x) = Σ_i ρ_i eq(u_i, x),
a two-table instance of the sumcheck engine (the prover builds E as ONE table). At the final
point r the verifier computes E(r) = Σ_i ρ_i eq(u_i, r) itself and keeps f(r) as the new claim.
`prove_openings` runs the same argument on the claims' rows (2^c entries each) instead of on
the whole tensors, which is why it costs K·2^c, not the tensors' sizes.

Layout helpers: `transpose` permutes a claim's point with the axes of its tensor; `reshape`
checks that two shapes have the same padded layout (true when every axis merged into another is
a power of two) so the claim carries over unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from . import codecache, commit, curve, field, mle, prng, sumcheck
from .sumcheck import SumcheckError, SumcheckProof
from .transcript import Transcript

Array = jax.Array
R = field.R
COMBINE = b"claims/combine"
OPEN = b"claims/open"
DEFAULT_GENS = "default"  # the generator set's name when one `Generators` is passed


class GadgetError(ValueError):
    """A proof step was rejected: `gadget` names the step, `check` the failed check."""

    def __init__(self, gadget: str, check: str, detail: str, round: int | None = None):
        self.gadget = gadget
        self.check = check
        self.round = round
        where = f" (round {round})" if round is not None else ""
        super().__init__(f"{gadget} rejected: {check}{where}: {detail}")


@struct.dataclass
class Claim:
    """The MLE of a tensor at `point` (Fr[m, 8], the flat point) equals `value` (Fr[8])."""

    point: Array
    value: Array


ClaimSet = dict[str, list[Claim]]


@struct.dataclass
class GroupOpening:
    """Opening of K committed tensors sharing generators and layout.

    combine: the folding sumcheck (None when the group holds a single claim); values: Fr[K, 8],
    each tensor's MLE at the common point; opening: the batched Hyrax opening there.
    """

    combine: SumcheckProof | None
    values: Array
    opening: commit.OpeningProof


# --- small helpers -----------------------------------------------------------------------------


def num_vars(shape: Sequence[int]) -> int:
    """Variables of a tensor's MLE: Σ_axes ceil(log2 d)."""
    return sum(mle.num_vars(int(d)) for d in shape)


def as_tensor(x: Any, name: str = "x") -> Array:
    """An operand of `mle.partial_evaluate`: JAX int32 (or narrower) arrays as int32, folded
    there without a field copy; anything else as `as_field`."""
    if isinstance(x, (jax.Array, jax.core.Tracer)) and x.dtype in (jnp.int32, jnp.int16,
                                                                   jnp.int8):
        return x.astype(jnp.int32)
    return as_field(x, name)


def dims(x: Array) -> tuple[int, ...]:
    """The logical shape of an `as_tensor` operand (an Fr tensor without its limb axis)."""
    return tuple(x.shape) if x.dtype == jnp.int32 else tuple(x.shape[:-1])


def as_field(x: Any, name: str = "x") -> Array:
    """A tensor as field elements: uint32[..., 8] is taken as Fr already; JAX int32 (or
    narrower) arrays and numpy integer arrays (any width, or Python ints as objects) encode."""
    if isinstance(x, (jax.Array, jax.core.Tracer)):
        return field.check(x, name) if x.dtype == jnp.uint32 else field.encode(x)
    a = np.asarray(x)
    if a.dtype == np.uint32:
        return field.check(jnp.asarray(a), name)
    if a.dtype == object or a.dtype.kind in "iub":
        return field.encode(a)
    raise TypeError(f"{name}: expected an integer or field tensor, got {a.dtype}")


def evaluate(x: Any, point: Any) -> Array:
    """The MLE of a tensor (int32 or Fr[..., 8]; per-axis padding) at a flat point. A JAX int32
    tensor is folded natively (`mle.evaluate_i32`): no field copy of it (a 7B layer's softmax
    advice at 2048 tokens, 2^27 entries a tensor, was 4 GiB per evaluation as field elements)."""
    tx = as_tensor(x)
    shape = dims(tx)
    if num_vars(shape) == 0:
        return as_field(tx).reshape(-1, field.LIMBS)[0]
    if tx.dtype == jnp.int32:
        return mle.evaluate_i32(tx, point)
    return mle.evaluate_tensor(tx, mle.split_point(point, shape))


# From this many entries an int32 tensor is evaluated without a field copy (below, the one
# stacked contraction dispatches fewer ops, which the eager CPU prover feels)
_NATIVE_EVAL = 1 << 22


def evaluate_many(xs: Sequence[Any], point: Any) -> Array:
    """The MLEs of equally shaped tensors at one flat point, Fr[K, 8]: one contraction of the
    stacked tensors instead of K evaluations (the same values as `evaluate` one by one).
    Large int32 tensors are folded natively one by one (`mle.evaluate_i32`): their field copy
    would be 8× their size (4 GiB for a 2^27-entry advice tensor)."""
    if all(getattr(x, "dtype", None) == jnp.int32 and x.size >= _NATIVE_EVAL for x in xs):
        return jnp.stack([mle.evaluate_i32(jnp.asarray(x), point) for x in xs])
    fx = as_field(jnp.stack([jnp.asarray(x) for x in xs]))
    shape = fx.shape[1:-1]
    if num_vars(shape) == 0:
        return fx.reshape(len(xs), -1, field.LIMBS)[:, 0]
    pts = mle.split_point(point, shape)
    return mle.partial_evaluate(fx, {a + 1: p for a, p in enumerate(pts)})


ints = field.ints  # the gadgets' name for it


def eq_ints(u: Sequence[int], v: Sequence[int]) -> int:
    """eq(u, v) over Python integers."""
    return sumcheck.eq_eval_ints(u, v)


def point_of(coords: Sequence[Array]) -> Array:
    """Concatenate coordinate blocks (each Fr[k, 8], possibly empty) into one point."""
    blocks = [c for c in coords if c.shape[0]]
    if not blocks:
        return jnp.zeros((0, field.LIMBS), jnp.uint32)
    return jnp.concatenate(blocks) if len(blocks) > 1 else blocks[0]


def add(claims: ClaimSet, name: str, *new: Claim) -> ClaimSet:
    """A new claim set with `new` claims appended to `name`."""
    out = {k: list(v) for k, v in claims.items()}
    out.setdefault(name, []).extend(new)
    return out


def merge(total: ClaimSet, local: Mapping[str, Sequence[Claim]],
          names: Mapping[str, str] | None = None) -> ClaimSet:
    """Append a gadget's claims (local names) to a claim set, renaming through `names`.

    Local names missing from `names` keep their name.
    """
    out = {k: list(v) for k, v in total.items()}
    for k, cl in local.items():
        key = (names or {}).get(k, k)
        out.setdefault(key, []).extend(cl)
    return out


def absorb_claim(t: Transcript, label: bytes, c: Claim) -> Transcript:
    """Bind a claim (point, then value) into the transcript."""
    if c.point.shape[0]:
        t = t.absorb_field(label + b".point", c.point)
    return t.absorb_field(label + b".value", c.value)


def check_claim(c: Claim, nvars: int, what: str, gadget: str) -> Claim:
    """Validate a claim's shapes against a tensor of `nvars` variables (GadgetError `shape`)."""
    ok = (hasattr(c, "point") and hasattr(c.point, "shape") and c.point.ndim == 2
          and tuple(c.point.shape) == (nvars, field.LIMBS)
          and tuple(getattr(c.value, "shape", ())) == (field.LIMBS,))
    if not ok:
        got = (tuple(getattr(c.point, "shape", ())), tuple(getattr(c.value, "shape", ())))
        raise GadgetError(gadget, "shape", f"{what}: a claim needs point Fr[{nvars}, 8] and "
                          f"value Fr[8], got {got}")
    return c


# --- layouts -----------------------------------------------------------------------------------


def transpose(c: Claim, shape: Sequence[int], axes: Sequence[int]) -> Claim:
    """The same claim on `x.transpose(axes)` (x of `shape`): the point's blocks are permuted."""
    shape = tuple(int(d) for d in shape)
    axes = tuple(int(a) for a in axes)
    if sorted(axes) != list(range(len(shape))):
        raise ValueError(f"transpose: {axes} is not a permutation of {len(shape)} axes")
    if num_vars(shape) == 0:
        return c
    blocks = mle.split_point(c.point, shape)
    return Claim(point=point_of([blocks[a] for a in axes][::-1]), value=c.value)


def _is_pow2(d: int) -> bool:
    return d & (d - 1) == 0


def same_layout(shape: Sequence[int], new_shape: Sequence[int]) -> bool:
    """Whether reshaping `shape` to `new_shape` keeps every element at the same padded index.

    Axes are grouped as in a row-major reshape; inside each group every axis but the first of
    each side must be a power of two (then padding the product equals padding its factors).
    """
    a = [int(d) for d in shape if d != 1]
    b = [int(d) for d in new_shape if d != 1]
    if int(np.prod(a, dtype=np.int64)) != int(np.prod(b, dtype=np.int64)):
        return False
    i = j = 0
    while i < len(a) and j < len(b):
        ga, gb = [a[i]], [b[j]]
        pa, pb = a[i], b[j]
        i, j = i + 1, j + 1
        while pa != pb:
            if pa < pb:
                ga.append(a[i])
                pa *= a[i]
                i += 1
            else:
                gb.append(b[j])
                pb *= b[j]
                j += 1
        if not all(_is_pow2(d) for d in ga[1:] + gb[1:]):
            return False
    return i == len(a) and j == len(b)


def reshape(c: Claim, shape: Sequence[int], new_shape: Sequence[int]) -> Claim:
    """The same claim on `x.reshape(new_shape)`; ValueError if the padded layouts differ."""
    if not same_layout(shape, new_shape):
        raise ValueError(f"reshape: {tuple(shape)} -> {tuple(new_shape)} changes the padded "
                         "layout (an inner axis is not a power of two); claims do not carry over")
    return c


# --- folding claims ----------------------------------------------------------------------------


def _eq_sum(points: Sequence[Array], rho: Array, n: int) -> Array:
    """E(x) = Σ_i ρ_i eq(u_i, x) as a table Fr[2^n, 8]."""
    acc = field.zeros((1 << n,))
    for k, p in enumerate(points):
        acc = field.add(acc, field.mul(mle.eq_table(p), rho[k]))
    return acc


def _begin_fold(t: Transcript, n: int, claims: Sequence[Claim]) -> tuple[Transcript, Array]:
    # "1": the number of folded tables (the encoding once allowed several)
    t = t.begin(COMBINE, [n, 1, len(claims)])
    if n:
        t = t.absorb_field(b"points", jnp.stack([c.point for c in claims]))
    t = t.absorb_field(b"values", jnp.stack([c.value for c in claims]))
    rho, t = t.challenges(b"rho", len(claims))
    return t, rho


def _fold_prove(table: Array, claims: Sequence[Claim], n: int, t: Transcript):
    """Fold the claims on one table Fr[2^n, 8] to one point: r, proof, t."""
    t, rho = _begin_fold(t, n, claims)
    fc, proof, t = sumcheck.prove([_eq_sum([c.point for c in claims], rho, n), table], t,
                                  label=COMBINE)
    return fc.point, proof, t


def _fold_verify(claims: Sequence[Claim], n: int, proof: SumcheckProof, t: Transcript,
                 gadget: str) -> tuple[list[int], int, Transcript]:
    """The verifier's side of `_fold_prove`: returns r (ints), F(r) and t."""
    t, rho = _begin_fold(t, n, claims)
    rho_i = ints(rho)
    total = sum(a * ints(c.value)[0] for a, c in zip(rho_i, claims)) % R
    if not isinstance(proof, SumcheckProof):
        raise GadgetError(gadget, "shape", "the folding proof is missing")
    try:
        fc, t = sumcheck.verify(field.encode(total), proof, t, num_vars=n, num_tables=2,
                                label=COMBINE)
    except SumcheckError as e:
        raise GadgetError(gadget, "combine_sumcheck", str(e), e.round) from e
    r = ints(fc.point)
    e_val, f_val = ints(fc.values)
    want = sum(w * eq_ints(ints(c.point), r) for w, c in zip(rho_i, claims)) % R
    if want != e_val:
        raise GadgetError(gadget, "combine_eq", "the folded eq table's final value "
                          "differs from Σ ρ_i eq(u_i, r)")
    return r, f_val, t


def prove_combine(x: Any, claims: Sequence[Claim], transcript: Transcript
                  ) -> tuple[Claim, SumcheckProof | None, Transcript]:
    """Fold several claims on one tensor (int32 or Fr[..., 8]) into one claim at a fresh point.

    One claim is returned unchanged (proof None, transcript untouched). Pure and jit-able.
    """
    fx = as_field(x)
    n = num_vars(fx.shape[:-1])
    claims = [check_claim(c, n, f"claims[{i}]", "combine") for i, c in enumerate(claims)]
    if not claims:
        raise ValueError("prove_combine: no claims")
    if len(claims) == 1:
        return claims[0], None, transcript
    if n == 0:
        raise ValueError("prove_combine: a one-element tensor's claims need no folding; "
                         "compare their values")
    r, proof, t = _fold_prove(mle.table(fx), claims, n, transcript)
    return Claim(point=r, value=proof.final_evals[1]), proof, t


def verify_combine(shape: Sequence[int], claims: Sequence[Claim], proof: SumcheckProof | None,
                   transcript: Transcript) -> tuple[Claim, Transcript]:
    """Check `prove_combine`; returns the folded claim. Raises GadgetError("combine", ...)."""
    n = num_vars(shape)
    claims = [check_claim(c, n, f"claims[{i}]", "combine") for i, c in enumerate(claims)]
    if not claims:
        raise ValueError("verify_combine: no claims")
    if len(claims) == 1:
        return claims[0], transcript
    if n == 0:
        raise ValueError("verify_combine: a one-element tensor's claims need no folding")
    r, f_val, t = _fold_verify(claims, n, proof, transcript, "combine")
    return Claim(point=field.encode(r), value=field.encode(f_val)), t


# --- public tensors ----------------------------------------------------------------------------


def check_public(name: str, x: Any, claims: Sequence[Claim]) -> None:
    """Verifier: every claim on the public tensor `x` must match its MLE (GadgetError)."""
    fx = as_field(x, name)
    n = num_vars(fx.shape[:-1])
    for i, c in enumerate(claims):
        check_claim(c, n, f"{name}[{i}]", "public")
        if ints(evaluate(fx, c.point)) != ints(c.value):
            raise GadgetError("public", "public_value", f"claim {i} on the public tensor {name!r} "
                              "differs from its MLE")


# --- openings of committed tensors -------------------------------------------------------------


def _groups(claims: Mapping[str, Sequence[Claim]], commitments: Mapping[str, commit.Commitment],
            gens_of: Mapping[str, str] | None, gens: Any) -> dict[str, list[str]]:
    """Tensors grouped by (generator set, column variables c), each group's names sorted,
    under the key "<gens>/c<c>": tensors of any row count share an opening when their rows
    have the same width."""
    names = [k for k, v in claims.items() if v]
    if isinstance(gens, commit.Generators):
        gens = {DEFAULT_GENS: gens}
    groups: dict[str, list[str]] = {}
    for name in sorted(names):
        if name not in commitments:
            raise ValueError(f"openings: claims on {name!r}, which has no commitment")
        g = (gens_of or {}).get(name, next(iter(gens)) if len(gens) == 1 else None)
        if g is None or g not in gens:
            raise ValueError(f"openings: no generator set for {name!r} (pass gens_of)")
        groups.setdefault(f"{g}/c{commitments[name].col_vars}", []).append(name)
    return groups


def _gens_named(gens: Any, key: str) -> commit.Generators:
    if isinstance(gens, commit.Generators):
        return gens
    return gens[key.rsplit("/", 1)[0]]


def _entries(members: Sequence[str], claims: Mapping[str, Sequence[Claim]],
             commitments: Mapping[str, commit.Commitment]) -> list[tuple[str, Claim]]:
    """A group's claims in order (member by member), each checked against its tensor."""
    out = []
    for m in members:
        n = commitments[m].num_vars
        out += [(m, check_claim(c, n, f"{m}[{i}]", "openings")) for i, c in enumerate(claims[m])]
    return out


def _begin_group(t: Transcript, c: int, entries: Sequence[tuple[str, Claim]],
                 commitments: Mapping[str, commit.Commitment]) -> tuple[Transcript, Array]:
    """Bind a group's layout, claims' points and values; ρ (one challenge per claim)."""
    t = t.begin(OPEN, [c, len(entries), *[commitments[m].num_vars for m, _ in entries]])
    t = t.absorb_field(b"points", jnp.concatenate([cl.point for _, cl in entries]))
    t = t.absorb_field(b"values", jnp.stack([cl.value for _, cl in entries]))
    rho, t = t.challenges(b"rho", len(entries))
    return t, rho


def _row_eq(cl: Claim, c: int, n: int) -> Array:
    """eq(u_row) for a claim on a tensor of n variables, c of them columns."""
    return mle.eq_table(cl.point[c:]) if n > c else field.ones((1,))


def prove_openings(
    claims: Mapping[str, Sequence[Claim]],
    commitments: Mapping[str, commit.Commitment],
    witnesses: Mapping[str, commit.Witness],
    gens: commit.Generators | Mapping[str, commit.Generators],
    transcript: Transcript,
    key: Array,
    *,
    gens_of: Mapping[str, str] | None = None,
) -> tuple[dict[str, GroupOpening], Transcript]:
    """Discharge every claim on committed tensors: one batched opening per group.

    claims: name -> claims (names without claims are skipped); gens: one generator set, or a
    mapping of named sets with `gens_of` (tensor name -> set name). Groups are (generator set,
    column count), in sorted order. Returns the proofs by group key and the transcript.
    Jit-able.

    A group's claims j (on tensor k_j at u_j = (u_col, u_row), value y_j) are first reduced to
    their rows: v_j = eq(u_row)ᵀ·M_k (2^c entries), committed as P_j = Σ_i eq(u_row)_i·C_k,i
    (the verifier forms it from the row commitments), with y_j = ⟨v_j, eq(u_col)⟩. With more
    than one claim, a sumcheck over (x, τ) of V(x, τ)·A(x, τ), V(·, j) = v_j and
    A(·, j) = ρ_j·eq(u_col_j, ·), moves every claim to one point r (2^c·K entries, not the
    tensors' sizes); the prover sends y'_j = v_j(r), the verifier checks
    Σ_j eq(r_τ, j)·y'_j = V(r, r_τ) and computes A(r, r_τ) itself. Finally ρ' combines the
    y'_j into ONE Hyrax opening at r of P = Σ_j ρ'_j P_j (one inner-product argument per group,
    whatever the number of tensors and claims).
    """
    groups = _groups(claims, commitments, gens_of, gens)
    keys = prng.split(key, max(1, len(groups)))
    out: dict[str, GroupOpening] = {}
    t = transcript
    for gi, (gkey, members) in enumerate(sorted(groups.items())):
        codecache.relieve(t.state)
        c = commitments[members[0]].col_vars
        entries = _entries(members, claims, commitments)
        t, rho = _begin_group(t, c, entries, commitments)
        eq_rows = [_row_eq(cl, c, commitments[m].num_vars) for m, cl in entries]
        v = jnp.stack([commit.fold_rows(witnesses[m], e) for (m, _), e in zip(entries, eq_rows)])
        beta = jnp.stack([field.inner_product(witnesses[m].blinds, e)
                          for (m, _), e in zip(entries, eq_rows)])
        if len(entries) == 1:
            point, fold = entries[0][1].point[:c], None
        else:
            kappa = mle.num_vars(len(entries))
            pad = field.zeros(((1 << kappa) - len(entries), 1 << c))
            a = field.mul(jnp.stack([mle.eq_table(cl.point[:c]) for _, cl in entries]),
                          rho[:, None, :])
            tables = [jnp.concatenate([a, pad]).reshape(-1, field.LIMBS),
                      jnp.concatenate([v, pad]).reshape(-1, field.LIMBS)]
            fc, fold, t = sumcheck.prove(tables, t, label=OPEN)
            point = fc.point[:c]
        values = field.inner_product(v, mle.eq_table(point)[None], axis=-1)
        t = t.absorb_field(b"opened", values)
        rho2, t = t.challenges(b"rho2", len(entries))
        gs = _gens_named(gens, gkey)
        vec = field.sum(field.mul(v, rho2[:, None, :]), axis=0)
        blind = field.inner_product(beta, rho2, axis=0)
        p = curve.add(curve.msm(gs.g[: 1 << c], vec), curve.scalar_mul(gs.h, blind))
        com = commit.Commitment(rows=p[None], num_vars=c, col_vars=c)
        wit = commit.Witness(vec[None], blind[None])
        _, op, t = commit.prove_opening([com], [wit], point, gs, t, keys[gi])
        out[gkey] = GroupOpening(combine=fold, values=values, opening=op)
    return out, t


def verify_openings(
    claims: Mapping[str, Sequence[Claim]],
    commitments: Mapping[str, commit.Commitment],
    gens: commit.Generators | Mapping[str, commit.Generators],
    proofs: Mapping[str, GroupOpening],
    transcript: Transcript,
    *,
    gens_of: Mapping[str, str] | None = None,
) -> Transcript:
    """Check `prove_openings`. Raises GadgetError("openings", check, ...) naming the group."""
    groups = _groups(claims, commitments, gens_of, gens)
    if not isinstance(proofs, Mapping) or set(proofs) != set(groups):
        raise GadgetError("openings", "shape", f"proofs for groups "
                          f"{sorted(proofs) if isinstance(proofs, Mapping) else proofs}, "
                          f"expected {sorted(groups)}")
    t = transcript
    for gkey, members in sorted(groups.items()):
        codecache.relieve(t.state)
        prf = proofs[gkey]
        c = commitments[members[0]].col_vars
        entries = _entries(members, claims, commitments)
        k = len(entries)
        if not isinstance(prf, GroupOpening) or tuple(getattr(prf.values, "shape", ())) != (
                k, field.LIMBS):
            raise GadgetError("openings", "shape", f"group {gkey}: values must be Fr[{k}, 8]")
        t, rho = _begin_group(t, c, entries, commitments)
        y = ints(prf.values)
        if k == 1:
            point = entries[0][1].point[:c]
            if y[0] != ints(entries[0][1].value)[0]:
                raise GadgetError("openings", "value", f"group {gkey}: the opened value differs "
                                  f"from the claim on {members[0]!r}")
        else:
            point, t = _verify_group_fold(gkey, c, entries, rho, y, prf.combine, t)
        t = t.absorb_field(b"opened", prf.values)
        rho2, t = t.challenges(b"rho2", k)
        rho2_i = ints(rho2)
        # P = Σ_j ρ'_j Σ_i eq(u_row_j)_i C_{k_j, i}: one MSM over every claim's row commitments
        rows = jnp.concatenate([commitments[m].rows for m, _ in entries])
        scal = jnp.concatenate([field.mul(_row_eq(cl, c, commitments[m].num_vars), rho2[j])
                                for j, (m, cl) in enumerate(entries)])
        p = curve.msm(rows, scal)
        total = field.encode(sum(a * b for a, b in zip(rho2_i, y)) % R)
        com = commit.Commitment(rows=p[None], num_vars=c, col_vars=c)
        try:
            t = commit.verify_opening([com], point, total[None], prf.opening,
                                      _gens_named(gens, gkey), t)
        except commit.OpeningError as e:
            raise GadgetError("openings", "opening", f"group {gkey}: {e}") from e
    return t


def _verify_group_fold(gkey: str, c: int, entries: Sequence[tuple[str, Claim]], rho: Array,
                       y: Sequence[int], proof: SumcheckProof | None, t: Transcript
                       ) -> tuple[Array, Transcript]:
    """The verifier's side of a group's sumcheck: returns the common point r and t."""
    k = len(entries)
    kappa = mle.num_vars(k)
    rho_i = ints(rho)
    total = sum(a * ints(cl.value)[0] for a, (_, cl) in zip(rho_i, entries)) % R
    if not isinstance(proof, SumcheckProof):
        raise GadgetError("openings", "shape", f"group {gkey}: the folding proof is missing")
    try:
        fc, t = sumcheck.verify(field.encode(total), proof, t, num_vars=c + kappa, num_tables=2,
                                label=OPEN)
    except SumcheckError as e:
        raise GadgetError("openings", "combine_sumcheck", f"group {gkey}: {e}", e.round) from e
    r_all = ints(fc.point)
    r, r_tau = r_all[:c], r_all[c:]
    a_val, v_val = ints(fc.values)
    w = [eq_ints(r_tau, [(j >> b) & 1 for b in range(kappa)]) for j in range(k)]
    want = sum(w[j] * rho_i[j] * eq_ints(ints(cl.point[:c]), r)
               for j, (_, cl) in enumerate(entries)) % R
    if want != a_val:
        raise GadgetError("openings", "combine_eq", f"group {gkey}: the folded eq table's final "
                          "value differs from Σ_j eq(r_τ, j)·ρ_j·eq(u_j, r)")
    if sum(a * b for a, b in zip(w, y)) % R != v_val:
        raise GadgetError("openings", "stacked_value", f"group {gkey}: Σ_j eq(r_τ, j)·y'_j "
                          "differs from the folded claim")
    return fc.point[:c], t


__all__ = [
    "COMBINE", "OPEN", "Claim", "ClaimSet", "GadgetError", "GroupOpening", "absorb_claim", "add",
    "as_field", "check_claim", "check_public", "evaluate", "ints", "merge", "num_vars",
    "point_of", "prove_combine", "prove_openings", "reshape", "same_layout", "transpose",
    "verify_combine", "verify_openings",
]
