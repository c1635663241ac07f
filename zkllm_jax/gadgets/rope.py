"""RoPE: the raw Z = x ⊙ cos + rotate_half(x) ⊙ sin, with public cos/sin tables.

x: (H, T, hd), cos/sin: (T, hd) (the rows of `models.tables.rope_tables` at the positions),
broadcast over heads. The model's output is rescale(Z, 2^f): chain `rescale` in front.

rotate_half is a signed permutation of the head dimension: rot(x)[j] = −x[j + hd/2] for
j < hd/2 and x[j − hd/2] above. With hd a power of two its MLE is, for b the top head-dim
variable (variable log2(hd) − 1 of the flat point, as the head dim owns the lowest variables),
    rot(x)(r) = −(1 − r_b)·x(r|b←1) + r_b·x(r|b←0).
No commitment. Protocol for Z(u) = z: one sumcheck (degree 3, two terms)
    z = Σ_y eq(u, y)·[X(y)·C̄(y) + ROT(y)·S̄(y)]
over the tables X, ROT (= rot(x), built by the prover), C̄, S̄ ends at r; the verifier evaluates
C̄(r), S̄(r) from the public tables (head padding indicator × the (T, hd) table's MLE). The prover
sends x0 = x(r|b←0), x1 = x(r|b←1); the verifier checks X(r) = (1 − r_b)·x0 + r_b·x1 and
ROT(r) = −(1 − r_b)·x1 + r_b·x0, draws ρ and keeps ONE claim x(r|b←ρ) = (1 − ρ)·x0 + ρ·x1 (x0, x1
are a line through two points, so a wrong pair survives only if the line differs at ρ).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from .. import field, mle
from ..claims import (
    Claim,
    ClaimSet,
    GadgetError,
    absorb_claim,
    as_field,
    check_claim,
    evaluate,
    ints,
)
from ..claims import num_vars as nvars
from ..lookup import prefix_indicator
from ..sumcheck import SumcheckProof
from ..transcript import Transcript
from . import core

Array = jax.Array
R = field.R
ROPE = b"gadget/rope"
TERMS = ((0, 2), (1, 3))  # X·C̄ + ROT·S̄ over the tables [X, ROT, C̄, S̄]


@struct.dataclass
class RopeProof:
    """sumcheck: the two-term sumcheck; halves: Fr[2, 8] = (x(r|b←0), x(r|b←1))."""

    sumcheck: SumcheckProof
    halves: Array


def _check_shapes(x_shape: Sequence[int], table_shape: Sequence[int]) -> tuple[int, int, int]:
    if len(x_shape) != 3:
        raise ValueError(f"rope: x is (heads, T, head_dim), got {tuple(x_shape)}")
    h, t_len, hd = (int(d) for d in x_shape)
    if hd < 2 or hd & (hd - 1):
        raise ValueError(f"rope: head_dim must be a power of two for the rotate_half identity, "
                         f"got {hd}")
    if tuple(int(d) for d in table_shape) != (t_len, hd):
        raise ValueError(f"rope: cos/sin must be (T, head_dim) = {(t_len, hd)}, got "
                         f"{tuple(table_shape)}")
    return h, t_len, hd


def rotate_half(x: Array) -> Array:
    """rotate_half over the field (last batch axis): [−x2, x1]."""
    x1, x2 = jnp.split(x, 2, axis=-2)
    return jnp.concatenate([field.neg(x2), x1], axis=-2)


def _begin(t: Transcript, shape, claim: Claim) -> Transcript:
    t = t.begin(ROPE, list(shape))
    return absorb_claim(t, b"out", claim)


def _with_bit(point: Array, b: int, value: Array) -> Array:
    return point.at[b].set(value)


def prove(x: Any, cos: Any, sin: Any, out_claim: Claim, transcript: Transcript
          ) -> tuple[ClaimSet, RopeProof, Transcript]:
    """Reduce a claim on the raw RoPE output to one claim on x; returns ({"x": [...]}, ...).

    x: int32 or Fr (H, T, hd); cos, sin: int32 (T, hd). Pure and jit-able.
    """
    fx = as_field(x, "x")
    shape = fx.shape[:-1]
    _h, _t_len, hd = _check_shapes(shape, cos.shape)
    if tuple(sin.shape) != tuple(cos.shape):
        raise ValueError(f"rope: cos {tuple(cos.shape)} and sin {tuple(sin.shape)} differ")
    check_claim(out_claim, nvars(shape), "output claim", "rope")
    t = _begin(transcript, shape, out_claim)
    c_bar = jnp.broadcast_to(as_field(cos, "cos"), shape + (field.LIMBS,))
    s_bar = jnp.broadcast_to(as_field(sin, "sin"), shape + (field.LIMBS,))
    tables = [mle.table(v) for v in (fx, rotate_half(fx), c_bar, s_bar)]
    r, _finals, sc, t = core.prove_sumcheck(tables, t, label=ROPE + b"/sumcheck",
                                           eq_point=out_claim.point, terms=TERMS)
    b = mle.num_vars(hd) - 1
    halves = jnp.stack([evaluate(fx, _with_bit(r, b, field.zeros(()))),
                        evaluate(fx, _with_bit(r, b, field.ones(())))])
    t = t.absorb_field(b"halves", halves)
    rho, t = t.challenge(b"rho")
    value = field.add(halves[0], field.mul(rho, field.sub(halves[1], halves[0])))
    claim = Claim(point=_with_bit(r, b, rho), value=value)
    return {"x": [claim]}, RopeProof(sumcheck=sc, halves=halves), t


def verify(x_shape: Sequence[int], cos: Any, sin: Any, out_claim: Claim, proof: RopeProof,
           transcript: Transcript) -> tuple[ClaimSet, Transcript]:
    """Check `prove` against the public cos/sin tables. Raises GadgetError("rope", ...)."""
    shape = tuple(int(d) for d in x_shape)
    h, t_len, hd = _check_shapes(shape, cos.shape)
    check_claim(out_claim, nvars(shape), "output claim", "rope")
    if not isinstance(proof, RopeProof) or tuple(proof.halves.shape) != (2, field.LIMBS):
        raise GadgetError("rope", "shape", "the proof must carry two half values")
    t = _begin(transcript, shape, out_claim)
    r_i, finals, t = core.verify_sumcheck("rope", ints(out_claim.value)[0], proof.sumcheck, t,
                                          num_vars=nvars(shape), num_tables=4,
                                          label=ROPE + b"/sumcheck", eq_point=out_claim.point,
                                          terms=TERMS)
    kd, kt = mle.num_vars(hd), mle.num_vars(t_len)
    pt_tab = core.encode_point(r_i[: kd + kt])
    head = prefix_indicator(h, r_i[kd + kt:])
    for name, tab, got in (("cos", cos, finals[2]), ("sin", sin, finals[3])):
        if ints(evaluate(as_field(tab, name), pt_tab))[0] * head % R != got:
            raise GadgetError("rope", f"{name}_table", f"the public {name} table's MLE differs "
                              "from the sumcheck's final value")
    b = kd - 1
    x0, x1 = ints(proof.halves)
    rb = r_i[b]
    if ((1 - rb) * x0 + rb * x1) % R != finals[0]:
        raise GadgetError("rope", "halves_x", "(1 − r_b)·x0 + r_b·x1 differs from X(r)")
    if (-(1 - rb) * x1 + rb * x0) % R != finals[1]:
        raise GadgetError("rope", "halves_rotated", "−(1 − r_b)·x1 + r_b·x0 differs from "
                          "rotate_half(X)(r)")
    t = t.absorb_field(b"halves", proof.halves)
    rho, t = t.challenge(b"rho")
    rho_i = ints(rho)[0]
    point = core.encode_point(r_i[:b] + [rho_i] + r_i[b + 1:])
    value = field.encode(((1 - rho_i) * x0 + rho_i * x1) % R)
    return {"x": [Claim(point=point, value=value)]}, t


__all__ = ["ROPE", "TERMS", "RopeProof", "prove", "rotate_half", "verify"]
