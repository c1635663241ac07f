"""RMSNorm with its rsqrt, exactly as the fixed-point model computes it (docs/models.md).

For x (T, D) and the norm weight g (D,), with f = scale bits, R = rsqrt bits, E = D·round(ε·2^2f)
and C² = D·2^(2f+2R):
    v_t      = Σ_j x_tj² + E                       (wide; not committed, reduced to x)
    r_t      = ⌊C/√v_t⌋, pinned by gap_lo = C² − r²v ≥ 0 and gap_hi = (r+1)²v − C² − 1 ≥ 0
    normed   = rescale(x ⊙ r, 2^R)                 (r broadcast over columns)
    out      = rescale(normed ⊙ g, 2^f)            (g broadcast over rows)

Committed advice (`advice`; the caller commits each int32 tensor and absorbs the commitments
before `prove`), names as returned in the claim set:
- `out/<piece>`, `normed/<piece>`: the two rescales' pieces (`rescale.advice`; both outputs
  bounded as int32);
- `rsqrt`: r as two 16-bit limbs (T, 2);
- `gap_lo`, `gap_hi`: the gaps as L 16-bit limbs (T, L), L = `Params.gap_limbs`.
Every piece and limb is range-checked, all in one `rangecheck` call (one lookup per range).

Reduction of a claim on out(u), in transcript order:
1. rescale(out) → claim on normed ⊙ g; hadamard → claims normed(r1), g(r1_d) (returned as
   "weight" for the weight's commitment);
2. rescale(normed) → claim on x ⊙ r̄; hadamard → claims x(r2) and r(r2_t);
3. the rsqrt identities, per row, as one zero-check over rows at w (challenges) with λ:
       Σ_t eq(w, t)·[r²v + gap_lo − C² + λ·((r+1)²v − C² − 1 − gap_hi)]·[t < T] = 0
   (tables r, v, gap_lo, gap_hi, 1_{t<T}; the verifier checks the indicator's value itself),
   ending in claims r(ρ), v(ρ), gap_lo(ρ), gap_hi(ρ);
4. v(ρ) − E·[ρ < T] = Σ_{t,j} eq(ρ, t)·x(t, j)² by one sumcheck over (t, j) (the verifier
   checks the eq table's final value), ending in a claim x(r3);
5. claims on r, gap_lo, gap_hi become claims on their limb tensors (`limbs`);
6. the range checks.
The claims on x ("x": two of them) and g ("weight") are the caller's to discharge.

Soundness. Integer bounds: |x| < 2^b with b = `Params.x_bits` (31 for an int32 tensor, the
caller's to establish: a range check, or a sum of two range-checked tensors for b = 32), so
0 < v < D·2^(2b) + E; r < 2^32 and each gap < 2^(16 L) by their limbs' range checks. Every term of
both identities is then below 2^(16 L + 2) < p/2 (checked when the parameters are built), so
each identity over the field is an identity over the integers; with both gaps non-negative,
r²v ≤ C² < (r+1)²v, i.e. r = ⌊C/√v⌋ is the only admissible value. A false per-row identity makes
the zero-check's polynomial in w nonzero (probability ≤ log T / p of vanishing) and the
sumchecks fail except with probability ≤ 5(log T)/p and 4(log T + log D)/p. The rescales and
Hadamard products are sound as documented in their modules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from .. import field, mle, sumcheck
from ..claims import Claim, ClaimSet, GadgetError, absorb_claim, check_claim, ints
from ..claims import num_vars as nvars
from ..lookup import LookupProof, prefix_indicator
from ..sumcheck import SumcheckProof
from ..transcript import Transcript
from . import core, hadamard, limbs, rangecheck, rescale
from .hadamard import HadamardProof
from .rangecheck import Range
from .rescale import RescaleProof

Array = jax.Array
R = field.R
RMSNORM = b"gadget/rmsnorm"
RSQRT_LIMBS = 2
# terms of the zero-check over the tables [r, v, gap_lo, gap_hi, one]
IDENTITY_TERMS = ((0, 0, 1), (0, 1), (1,), (2,), (3,), (4,))


class Params(NamedTuple):
    """Static sizes and constants of one RMSNorm (see `params`)."""

    rows: int
    dim: int
    scale_bits: int
    rsqrt_bits: int
    eps_fixed: int  # round(ε·2^(2f)); E = dim·eps_fixed
    gap_limbs: int
    x_bits: int = 31  # |x| < 2^x_bits, established by the caller

    @property
    def eps_total(self) -> int:
        return self.dim * self.eps_fixed

    @property
    def c2(self) -> int:
        return self.dim << (2 * self.scale_bits + 2 * self.rsqrt_bits)

    def ints(self) -> list[int]:
        return [self.rows, self.dim, self.scale_bits, self.rsqrt_bits, self.eps_fixed,
                self.gap_limbs, self.x_bits]


def params(rows: int, dim: int, *, scale_bits: int, rsqrt_bits: int, eps_fixed: int,
           x_bits: int = 31) -> Params:
    """Parameters for x of shape (rows, dim); eps_fixed = round(ε·2^(2·scale_bits)) ≥ 1.

    x_bits: the caller's bound |x| < 2^x_bits (31 for an int32 tensor; 32 for a residual sum of
    two range-checked int32 tensors that is not committed itself). The gap width: gap_lo ≤ C²,
    gap_hi < (r+1)²·v ≤ 2^64·(D·2^(2·x_bits) + E).
    """
    rows, dim = int(rows), int(dim)
    if rows < 1 or dim < 1:
        raise ValueError(f"rmsnorm: x must be (T, D) with T, D ≥ 1, got ({rows}, {dim})")
    if int(eps_fixed) < 1:
        raise ValueError("rmsnorm: eps_fixed must be ≥ 1 (v > 0 needs ε > 0)")
    if not 1 <= int(x_bits) <= 40:
        raise ValueError(f"rmsnorm: x_bits must be in [1, 40], got {x_bits}")
    if not 1 <= rsqrt_bits <= 30 or not 1 <= scale_bits <= 30:
        raise ValueError("rmsnorm: scale_bits and rsqrt_bits must be in [1, 30]")
    c2 = dim << (2 * scale_bits + 2 * rsqrt_bits)
    v_max = dim * (1 << (2 * int(x_bits))) + dim * int(eps_fixed)
    bits = max(c2.bit_length(), ((1 << 64) * v_max).bit_length())
    n_l = limbs.count(bits)
    if limbs.LIMB_BITS * n_l + 4 >= R.bit_length() - 1:
        raise ValueError(f"rmsnorm: gaps of {bits} bits are too wide for the field")
    return Params(rows, dim, int(scale_bits), int(rsqrt_bits), int(eps_fixed), n_l, int(x_bits))


@struct.dataclass
class RMSNormProof:
    """The steps in transcript order (see the module docstring)."""

    out_rescale: RescaleProof
    gain: HadamardProof
    normed_rescale: RescaleProof
    scale: HadamardProof
    identity: SumcheckProof
    sum_sq: SumcheckProof
    rsqrt_values: Array  # Fr[2, RSQRT_LIMBS, 8]: r's limbs at r2_t and at ρ
    gap_lo_values: Array  # Fr[L, 8] at ρ
    gap_hi_values: Array  # Fr[L, 8] at ρ
    ranges: dict[str, LookupProof]


def advice(wit: Mapping[str, Any], p: Params) -> dict[str, Array]:
    """The int32 tensors to commit, by name, from the model's layernorm witness
    (`sum_sq, rsqrt, gap_lo, gap_hi, normed, normed_rem, out, out_rem`). Concrete inputs are
    checked (ValueError naming the tensor)."""
    out = {f"out/{k}": v for k, v in rescale.advice(
        wit["out"], wit["out_rem"], p.scale_bits).items()}
    out.update({f"normed/{k}": v for k, v in rescale.advice(
        wit["normed"], wit["normed_rem"], p.rsqrt_bits).items()})
    out["rsqrt"] = limbs.from_int32(wit["rsqrt"], RSQRT_LIMBS, "rsqrt")
    out["gap_lo"] = limbs.from_digits(wit["gap_lo"], p.gap_limbs, "gap_lo")
    out["gap_hi"] = limbs.from_digits(wit["gap_hi"], p.gap_limbs, "gap_hi")
    return out


def ranges(p: Params) -> dict[str, Range]:
    """The range of every committed tensor (all range-checked)."""
    out = {f"out/{k}": v for k, v in rescale.ranges(p.scale_bits).items()}
    out.update({f"normed/{k}": v for k, v in rescale.ranges(p.rsqrt_bits).items()})
    out.update({n: limbs.RANGE for n in ("rsqrt", "gap_lo", "gap_hi")})
    return out


def shapes(p: Params) -> dict[str, tuple[int, ...]]:
    """The shape of every committed tensor."""
    out = {n: (p.rows, p.dim) for n in ranges(p) if n.startswith(("out/", "normed/"))}
    out["rsqrt"] = limbs.shape_of((p.rows,), RSQRT_LIMBS)
    out["gap_lo"] = out["gap_hi"] = limbs.shape_of((p.rows,), p.gap_limbs)
    return out


def _sub(adv: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix):]: v for k, v in adv.items() if k.startswith(prefix)}


def _merge_pieces(out: ClaimSet, cs: ClaimSet, prefix: str) -> None:
    for k, cl in cs.items():
        if k != "raw":
            out.setdefault(prefix + k, []).extend(cl)


def _begin(t: Transcript, p: Params, claim: Claim) -> Transcript:
    t = t.begin(RMSNORM, p.ints())
    return absorb_claim(t, b"out", claim)


def _identity_coeffs(lam: int, c2: int) -> list[int]:
    return [(1 + lam) % R, 2 * lam % R, lam % R, 1, (-lam) % R, (-((1 + lam) * c2 + lam)) % R]


def _identity_coeffs_field(lam: Array, c2: int) -> Array:
    """`_identity_coeffs` over field elements (the prover's side; jit-able)."""
    one = field.ones(())
    lam1 = field.add(one, lam)
    last = field.neg(field.add(field.mul(lam1, field.encode(c2 % R)), lam))
    return jnp.stack([lam1, field.add(lam, lam), lam, one, field.neg(lam), last])


def _wide_field(digits: Any) -> Array:
    """Base-2^8 digits (..., n) (top digit signed) as field elements."""
    d = jnp.asarray(digits, jnp.int32)
    acc = field.encode(d[..., -1])
    base = field.encode(256)
    for i in range(d.shape[-1] - 2, -1, -1):
        acc = field.add(field.mul(acc, base), field.encode(d[..., i]))
    return acc


def _challenges(t: Transcript, n: int, label: bytes) -> tuple[Array, Transcript]:
    if n == 0:
        return jnp.zeros((0, field.LIMBS), jnp.uint32), t
    return t.challenges(label, n)


def prove(
    x: Any,
    weight: Any,
    wit: Mapping[str, Any],
    out_claim: Claim,
    transcript: Transcript,
    *,
    params: Params,
    key: Array | None = None,
    adv: Mapping[str, Any] | None = None,
    range_check: bool = True,
    check_witness: bool = True,
) -> tuple[ClaimSet, RMSNormProof, Transcript]:
    """Reduce a claim on the RMSNorm output to claims on x, the weight and the advice.

    x: int32 (T, D); weight: int32 (D,); wit: the model's layernorm witness (its `sum_sq`
    builds the prover's v table); adv: the committed advice (default `advice(wit, params)`; pass
    the committed tensors, or dishonest ones in tests); key: randomness of the range lookups.
    Returns ({"x", "weight", advice names...}, proof, transcript).
    """
    p = params
    x = jnp.asarray(x, jnp.int32)
    if tuple(x.shape) != (p.rows, p.dim) or tuple(jnp.shape(weight)) != (p.dim,):
        raise ValueError(f"rmsnorm: x {tuple(x.shape)} / weight {tuple(jnp.shape(weight))} do not "
                         f"match ({p.rows}, {p.dim}) / ({p.dim},)")
    adv = dict(advice(wit, p) if adv is None else adv)
    if sorted(adv) != sorted(ranges(p)):
        raise ValueError(f"rmsnorm: advice {sorted(adv)}, expected {sorted(ranges(p))}")
    check_claim(out_claim, nvars((p.rows, p.dim)), "output claim", "rmsnorm")
    t = _begin(transcript, p, out_claim)
    claims: ClaimSet = {}
    cs1, pr1, t = rescale.prove_advice(_sub(adv, "out/"), out_claim, t, bits=p.scale_bits,
                                       range_check=False)
    _merge_pieces(claims, cs1, "out/")
    normed = wit["normed"]
    cs2, pr2, t = hadamard.prove(jnp.asarray(normed, jnp.int32), jnp.asarray(weight, jnp.int32),
                                 cs1["raw"][0], t)
    claims["weight"] = cs2["b"]
    cs3, pr3, t = rescale.prove_advice(_sub(adv, "normed/"), cs2["a"][0], t, bits=p.rsqrt_bits,
                                       range_check=False)
    _merge_pieces(claims, cs3, "normed/")
    r_limbs = jnp.asarray(adv["rsqrt"], jnp.int32)
    r_f = limbs.field_value(r_limbs)  # (T, 8)
    fx = field.encode(x)
    cs4, pr4, t = hadamard.prove(fx, r_f[:, None, :], cs3["raw"][0], t)
    claims["x"] = list(cs4["a"])

    # 3. the rsqrt identities at a random row point
    m = mle.num_vars(p.rows)
    w, t = _challenges(t, m, b"w")
    lam, t = t.challenge(b"lambda")
    v_f = _wide_field(wit["sum_sq"])
    glo_f = limbs.field_value(adv["gap_lo"])
    ghi_f = limbs.field_value(adv["gap_hi"])
    one_f = field.ones((p.rows,))
    coeffs = _identity_coeffs_field(lam, p.c2)
    rho, _fin, pr_id, t = core.prove_sumcheck(
        [r_f, v_f, glo_f, ghi_f, one_f], t, label=RMSNORM + b"/identity",
        eq_point=w if m else None, terms=IDENTITY_TERMS, coeffs=coeffs)

    # 4. v(ρ) from x by Σ_{t,j} eq(ρ, t)·x(t, j)²
    kd = mle.num_vars(p.dim)
    e_rows = mle.eq_table(rho)[: 1 << m]
    e_tab = jnp.broadcast_to(e_rows[:, None, :], (1 << m, 1 << kd, field.LIMBS))
    x_tab = mle.pad(fx).reshape(-1, field.LIMBS)
    r3, fin3, pr_sq, t = core.prove_sumcheck([e_tab.reshape(-1, field.LIMBS), x_tab], t,
                                             label=RMSNORM + b"/sum_sq", terms=((0, 1, 1),))
    claims["x"].append(Claim(point=r3, value=fin3[1]))

    # 5. limbs
    c_a, va, t = limbs.prove_claim(r_limbs, cs4["b"][0].point, t, label=b"rsqrt.scale")
    c_b, vb, t = limbs.prove_claim(r_limbs, rho, t, label=b"rsqrt.identity")
    c_lo, vlo, t = limbs.prove_claim(adv["gap_lo"], rho, t, label=b"gap_lo")
    c_hi, vhi, t = limbs.prove_claim(adv["gap_hi"], rho, t, label=b"gap_hi")
    claims["rsqrt"] = [c_a, c_b]
    claims["gap_lo"] = [c_lo]
    claims["gap_hi"] = [c_hi]

    proofs: dict[str, LookupProof] = {}
    if range_check:
        if key is None:
            raise ValueError("rmsnorm: range_check needs a PRNG key")
        rc, proofs, t = rangecheck.prove({n: jnp.asarray(v, jnp.int32) for n, v in adv.items()},
                                         ranges(p), t, key, check_witness=check_witness)
        for n, cl in rc.items():
            claims[n] = claims[n] + cl
    proof = RMSNormProof(out_rescale=pr1, gain=pr2, normed_rescale=pr3, scale=pr4,
                         identity=pr_id, sum_sq=pr_sq, rsqrt_values=jnp.stack([va, vb]),
                         gap_lo_values=vlo, gap_hi_values=vhi, ranges=proofs)
    return claims, proof, t


def verify(
    out_claim: Claim,
    proof: RMSNormProof,
    transcript: Transcript,
    *,
    params: Params,
    range_check: bool = True,
) -> tuple[ClaimSet, Transcript]:
    """Check `prove`; returns the claims on x, the weight and the advice tensors.

    Raises GadgetError: ("rmsnorm", check) with check `shape`, `row_indicator`, `sum_sq_eq`,
    `limb_sum` or `sumcheck`, or the sub-gadget's name ("rescale", "hadamard", "range_check").
    """
    p = params
    if not isinstance(proof, RMSNormProof):
        raise GadgetError("rmsnorm", "shape", "not an RMSNormProof")
    check_claim(out_claim, nvars((p.rows, p.dim)), "output claim", "rmsnorm")
    t = _begin(transcript, p, out_claim)
    claims: ClaimSet = {}
    cs1, t = rescale.verify((p.rows, p.dim), out_claim, proof.out_rescale, t,
                            bits=p.scale_bits, range_check=False)
    _merge_pieces(claims, cs1, "out/")
    cs2, t = hadamard.verify((p.rows, p.dim), (p.dim,), cs1["raw"][0], proof.gain, t)
    claims["weight"] = cs2["b"]
    cs3, t = rescale.verify((p.rows, p.dim), cs2["a"][0], proof.normed_rescale, t,
                            bits=p.rsqrt_bits, range_check=False)
    _merge_pieces(claims, cs3, "normed/")
    cs4, t = hadamard.verify((p.rows, p.dim), (p.rows, 1), cs3["raw"][0], proof.scale, t)
    claims["x"] = list(cs4["a"])
    r_claim_scale = cs4["b"][0]

    m = mle.num_vars(p.rows)
    w, t = _challenges(t, m, b"w")
    lam, t = t.challenge(b"lambda")
    coeffs = field.encode(_identity_coeffs(ints(lam)[0], p.c2))
    rho_i, fin, t = core.verify_sumcheck(
        "rmsnorm", 0, proof.identity, t, num_vars=m, num_tables=5,
        label=RMSNORM + b"/identity", eq_point=w if m else None, terms=IDENTITY_TERMS,
        coeffs=coeffs)
    r_val, v_val, glo_val, ghi_val, one_val = fin
    if one_val != prefix_indicator(p.rows, rho_i):
        raise GadgetError("rmsnorm", "row_indicator", "the row indicator's final value is wrong")
    rho = core.encode_point(rho_i)

    kd = mle.num_vars(p.dim)
    target = (v_val - p.eps_total * one_val) % R
    r3_i, fin3, t = core.verify_sumcheck("rmsnorm", target, proof.sum_sq, t, num_vars=m + kd,
                                         num_tables=2, label=RMSNORM + b"/sum_sq",
                                         terms=((0, 1, 1),))
    if fin3[0] != sumcheck.eq_eval_ints(rho_i, r3_i[kd:]):
        raise GadgetError("rmsnorm", "sum_sq_eq", "the row eq table's final value is wrong")
    claims["x"].append(Claim(point=core.encode_point(r3_i), value=field.encode(fin3[1])))

    rv = proof.rsqrt_values
    if tuple(getattr(rv, "shape", ())) != (2, RSQRT_LIMBS, field.LIMBS):
        raise GadgetError("rmsnorm", "shape", "rsqrt_values must be Fr[2, 2, 8]")
    c_a, t = limbs.verify_claim("rmsnorm", r_claim_scale, rv[0], RSQRT_LIMBS, t,
                                label=b"rsqrt.scale")
    c_b, t = limbs.verify_claim("rmsnorm", Claim(point=rho, value=field.encode(r_val)), rv[1],
                                RSQRT_LIMBS, t, label=b"rsqrt.identity")
    c_lo, t = limbs.verify_claim("rmsnorm", Claim(point=rho, value=field.encode(glo_val)),
                                 proof.gap_lo_values, p.gap_limbs, t, label=b"gap_lo")
    c_hi, t = limbs.verify_claim("rmsnorm", Claim(point=rho, value=field.encode(ghi_val)),
                                 proof.gap_hi_values, p.gap_limbs, t, label=b"gap_hi")
    claims["rsqrt"] = [c_a, c_b]
    claims["gap_lo"] = [c_lo]
    claims["gap_hi"] = [c_hi]
    if range_check:
        rc, t = rangecheck.verify(shapes(p), ranges(p), proof.ranges, t)
        for n, cl in rc.items():
            claims[n] = claims[n] + cl
    elif proof.ranges:
        raise GadgetError("rmsnorm", "shape", "range proofs present but range_check is off")
    return claims, t


def committed(claims: Mapping[str, Sequence[Claim]]) -> dict[str, list[Claim]]:
    """The claims on this gadget's own committed advice (for `claims.prove_openings`)."""
    return {k: list(v) for k, v in claims.items() if k not in ("x", "weight")}


__all__ = [
    "IDENTITY_TERMS",
    "RMSNORM",
    "RSQRT_LIMBS",
    "Params",
    "RMSNormProof",
    "advice",
    "committed",
    "params",
    "prove",
    "ranges",
    "shapes",
    "verify",
]
