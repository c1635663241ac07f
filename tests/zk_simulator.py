"""A test-only simulator: accepting zero-knowledge transcripts without the witness.

Honest-verifier zero knowledge says a transcript can be produced from the public statement
alone when the verifier's challenges are known in advance. `FixedTranscript` is a transcript
whose challenges are a list fixed beforehand (it ignores what is absorbed), so the verifiers
run unchanged against it; `simulate_opening` and `simulate_sumcheck` then build accepting
proofs from the statement and those challenges only:
- the inner-product argument: random L_t, R_t and z1, z2, then A solves the final check;
- the vector opening (a Σ-protocol): random z and z_b, then δ and t solve the two checks;
- the masked sumcheck: a random mask commitment and G, random round polynomials with the right
  sums, then g(r) solves the last round's check (ρ ≠ 0) and its opening is simulated.
The masked sumcheck is given the final values f_k(r): those are still revealed in the clear (the
next step of the zero-knowledge issue hides them), so they are part of what is simulated from.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from zkllm_jax import commit, curve, field, mle, sumcheck
from zkllm_jax.sumcheck import MaskProof, SumcheckProof

R = field.R


@struct.dataclass
class FixedTranscript:
    """Duck-types `Transcript` for verifiers: challenges come from `values` in order."""

    values: jax.Array  # Fr[N, 8]
    pos: jax.Array  # int32, the next challenge's index
    rng: None = None
    zk: bool = struct.field(pytree_node=False, default=True)

    @staticmethod
    def of(ints: Sequence[int]) -> FixedTranscript:
        return FixedTranscript(values=field.encode([int(v) % R for v in ints]),
                               pos=jnp.zeros((), jnp.int32))

    def begin(self, *_):
        return self

    def absorb_bytes(self, *_):
        return self

    absorb_field = absorb_points = absorb_ints = absorb_bytes

    def challenges(self, _label, n):
        out = jax.lax.dynamic_slice(self.values, (self.pos, 0), (n, field.LIMBS))
        return out, self.replace(pos=self.pos + n)

    def challenge(self, label):
        c, t = self.challenges(label, 1)
        return c[0], t


def _rand(rng: np.random.Generator) -> int:
    return int.from_bytes(rng.bytes(48), "big") % R


def _point(s: int):
    return curve.scalar_mul(curve.generator(), field.encode(s % R))


def simulate_ipa(p, gens: commit.Generators, w: int, xs: Sequence[int], e: int, a_final: int,
                 rng: np.random.Generator) -> commit.OpeningProof:
    """An accepting inner-product argument for the point P (y·U' included), without v or β."""
    c = len(xs)
    u1 = curve.scalar_mul(gens.u, field.encode(w))
    lefts = [_point(_rand(rng)) for _ in range(c)]
    rights = [_point(_rand(rng)) for _ in range(c)]
    for x, left, right in zip(xs, lefts, rights):
        p = curve.add(p, curve.add(curve.scalar_mul(left, field.encode(x * x % R)),
                                   curve.scalar_mul(right, field.encode(pow(x, -2, R)))))
    svec = [1]
    for bit in range(c):  # round t binds index bit c−1−t, as in commit._ipa_verify
        x = xs[c - 1 - bit]
        svec = [v * pow(x, -1, R) % R for v in svec] + [v * x % R for v in svec]
    g_fin = curve.msm(gens.g[: 1 << c], field.encode(svec))
    base = curve.add(g_fin, curve.scalar_mul(u1, field.encode(a_final)))
    z1, z2 = _rand(rng), _rand(rng)
    big_a = curve.sub(curve.add(curve.scalar_mul(base, field.encode(z1)),
                                curve.scalar_mul(gens.h, field.encode(z2))),
                      curve.scalar_mul(p, field.encode(e)))
    empty = jnp.zeros((0, 3, curve.FP_LIMBS), jnp.uint32)
    return commit.OpeningProof(left=jnp.stack(lefts) if c else empty,
                               right=jnp.stack(rights) if c else empty, a=big_a,
                               z1=field.encode(z1), z2=field.encode(z2))


def simulate_opening(coms: Sequence[commit.Commitment], point: Sequence[int],
                     values: Sequence[int], gens: commit.Generators,
                     challenges: Sequence[int], rng: np.random.Generator
                     ) -> commit.OpeningProof:
    """An accepting Hyrax opening of `coms` at `point` to `values` (ints) with the challenges
    (ρ_1..ρ_K, w, x_0..x_{c−1}, e) fixed in advance, without the committed matrices."""
    k, c = len(coms), coms[0].col_vars
    rho, w, xs, e = challenges[:k], challenges[k], challenges[k + 1 : k + 1 + c], challenges[-1]
    eq_row = field.decode(mle.eq_table(field.encode(list(point[c:])))) if len(point) > c else [1]
    scal = [rh * int(q) % R for rh in rho for q in np.atleast_1d(eq_row)]
    y = sum(rh * v for rh, v in zip(rho, values)) % R
    u1 = curve.scalar_mul(gens.u, field.encode(w))
    pts = jnp.concatenate([jnp.concatenate([cm.rows for cm in coms]), u1[None]])
    p = curve.msm(pts, field.encode(scal + [y]))
    a_fin = 1
    for j in range(c):  # eq(u_col) folded: Π_j (x⁻¹(1 − u_j) + x·u_j), bit j with round c−1−j
        x = xs[c - 1 - j]
        a_fin = a_fin * (pow(x, -1, R) * (1 - point[j]) + x * point[j]) % R
    return simulate_ipa(p, gens, w, xs, e, a_fin, rng)


def simulate_vector_opening(com, a: Sequence[int], value: int, gens: commit.Generators, e: int,
                            rng: np.random.Generator) -> commit.VectorOpeningProof:
    """An accepting vector opening of `com` at the functional `a` to `value` with the challenge
    e fixed in advance, without the committed vector."""
    z = [_rand(rng) for _ in a]
    z_b = _rand(rng)
    pts = jnp.concatenate([gens.g[: len(a)], gens.h[None], com[None]])
    delta = curve.msm(pts, field.encode(z + [z_b, -e % R]))  # ⟨z, G⟩ + z_b·H − e·C
    t = (sum(x * y for x, y in zip(z, a)) - e * value) % R
    return commit.VectorOpeningProof(delta=delta, t=field.encode(t), z=field.encode(z),
                                     z_blind=field.encode(z_b))


def simulate_sumcheck(claim: int, finals: Sequence[int], challenges: Sequence[int], *, m: int,
                      terms: sumcheck.Terms, coeffs: Sequence[int], eq_point: Sequence[int] | None,
                      rng: np.random.Generator) -> SumcheckProof:
    """An accepting masked sumcheck proof of `claim` with final values `finals`, from the
    challenges (ρ, r_0..r_{m−1}, e) fixed in advance, without the tables."""
    d = sumcheck.degree(terms, eq_point is not None)
    rho, r = challenges[0], challenges[1 : 1 + m]
    total = _rand(rng)
    mask_com = _point(_rand(rng))
    cur = (claim + rho * total) % R
    msgs = []
    for j in range(m):  # a random degree-D polynomial with p(0) + p(1) = the running claim
        p = [0] + [_rand(rng) for _ in range(d)]
        p[0] = (cur - p[1]) % R
        msgs.append(p)
        cur = sumcheck.lagrange_eval(p, r[j])
    expect = sumcheck.combine_ints(list(finals), terms, list(coeffs))
    if eq_point is not None:
        expect = expect * sumcheck.eq_eval_ints(eq_point, r) % R
    g_r = (cur - expect) * pow(rho, -1, R) % R  # the mask's value that closes the last round
    ell = [1] + [pow(ri, k, R) for ri in r for k in range(1, d + 1)]
    gens = sumcheck.mask_generators(len(ell))
    opening = simulate_vector_opening(mask_com, ell, g_r, gens, challenges[1 + m], rng)
    mask = MaskProof(commitment=mask_com, total=field.encode(total), value=field.encode(g_r),
                     opening=opening)
    return SumcheckProof(messages=field.encode(msgs), final_evals=field.encode(list(finals)),
                         mask=mask)
