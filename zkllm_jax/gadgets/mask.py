"""Causal mask: prove X ⊙ M = 0 for the public mask M (1 where key s > query position).

In the model, `probs` (and softmax's `x` and `exp`) are exactly 0 wherever key s > start + t
(later keys, and unwritten cache slots); M[t, s] = [s > start + t] for t < T, s < Tk, broadcast
over leading (head) axes. The prover draws u from the transcript and proves the zero-check
    Σ_x eq(u, x)·X(x)·M̄(x) = 0
with one sumcheck (`hadamard.prove_product`). At its final point r the verifier evaluates M̄(r)
itself: the leading axes contribute padding indicators (O(log d)), and
    M(r_t, r_s) = Σ_{t<T} eq(r_t, t)·(S(Tk) − S(min(Tk, start + t + 1))),
    S(n) = Σ_{s<n} eq(r_s, s),
costs O(T + Tk) field operations. The claim X(r) is returned for the caller to discharge.

Soundness: X ⊙ M is a fixed tensor once X is bound (committed, or a function of committed data)
before u is drawn; if it is not zero, Σ_x eq(u, x)(X ⊙ M)(x) is a nonzero multilinear polynomial
in u and vanishes with probability ≤ n/p. Nothing is committed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from .. import field
from ..claims import Claim, ClaimSet, GadgetError, as_field
from ..claims import num_vars as nvars
from ..lookup import prefix_indicator
from ..sumcheck import SumcheckProof
from ..transcript import Transcript
from . import core, hadamard

Array = jax.Array
R = field.R
MASK = b"gadget/mask"


@struct.dataclass
class MaskProof:
    """The zero-check sumcheck Σ_x eq(u, x)·X(x)·M̄(x) = 0."""

    sumcheck: SumcheckProof


def causal_mask(t_len: int, tk: int, start: int = 0) -> Array:
    """int32 (T, Tk): 1 where key s > start + t (masked), else 0."""
    s = jnp.arange(tk)[None, :]
    t = jnp.arange(t_len)[:, None] + start
    return (s > t).astype(jnp.int32)


def _eq_table_ints(r: Sequence[int]) -> list[int]:
    tab = [1]
    for rj in r:
        tab = [v * (1 - rj) % R for v in tab] + [v * rj % R for v in tab]
    return tab


def mask_mle(r_t: Sequence[int], r_s: Sequence[int], t_len: int, tk: int, start: int = 0) -> int:
    """The MLE of `causal_mask(t_len, tk, start)` at (r_t, r_s), in O(T + Tk)."""
    et, es = _eq_table_ints(r_t), _eq_table_ints(r_s)
    prefix = [0]
    for v in es[:tk]:
        prefix.append((prefix[-1] + v) % R)
    total = 0
    for t in range(t_len):
        lo = min(tk, start + t + 1)
        total = (total + et[t] * (prefix[tk] - prefix[lo])) % R
    return total


def _check_shape(shape: Sequence[int], start: int) -> tuple[int, ...]:
    shape = tuple(int(d) for d in shape)
    if len(shape) < 2:
        raise ValueError(f"mask: the tensor is (..., T, Tk), got {shape}")
    if start < 0:
        raise ValueError(f"mask: start must be >= 0, got {start}")
    return shape


def _begin(t: Transcript, shape: tuple[int, ...], start: int) -> tuple[Transcript, Array]:
    t = t.begin(MASK, [len(shape), *shape, start])
    n = nvars(shape)
    if n == 0:
        return t, jnp.zeros((0, field.LIMBS), jnp.uint32)
    u, t = t.challenges(b"u", n)
    return t, u


def prove(x: Any, transcript: Transcript, *, start: int = 0
          ) -> tuple[ClaimSet, MaskProof, Transcript]:
    """Prove x ⊙ M = 0 for x of shape (..., T, Tk); returns ({"x": [claim]}, proof, t).

    x must be bound (committed or determined by committed data) before this runs. Jit-able.
    """
    fx = as_field(x, "x")
    shape = _check_shape(fx.shape[:-1], start)
    t, u = _begin(transcript, shape, start)
    m = field.encode(causal_mask(shape[-2], shape[-1], start))
    m_bar = jnp.broadcast_to(m, shape + (field.LIMBS,))
    r, finals, sc, t = hadamard.prove_product(fx, m_bar, u, t, label=MASK + b"/sumcheck")
    return {"x": [Claim(point=r, value=finals[0])]}, MaskProof(sumcheck=sc), t


def verify(shape: Sequence[int], proof: MaskProof, transcript: Transcript, *, start: int = 0
           ) -> tuple[ClaimSet, Transcript]:
    """Check `prove`; returns the claim on x. Raises GadgetError("mask", ...)."""
    shape = _check_shape(shape, start)
    if not isinstance(proof, MaskProof):
        raise GadgetError("mask", "shape", "not a MaskProof")
    t, u = _begin(transcript, shape, start)
    r_i, finals, t = hadamard.verify_product("mask", shape, 0, proof.sumcheck, t, u,
                                             label=MASK + b"/sumcheck")
    blocks = core.split_ints(r_i, shape)
    want = mask_mle(blocks[-2], blocks[-1], shape[-2], shape[-1], start)
    for blk, d in zip(blocks[:-2], shape[:-2]):
        want = want * prefix_indicator(d, blk) % R
    if want != finals[1]:
        raise GadgetError("mask", "mask_value", "the mask's MLE differs from the sumcheck's "
                          "final value")
    return {"x": [Claim(point=core.encode_point(r_i), value=field.encode(finals[0]))]}, t


__all__ = ["MASK", "MaskProof", "causal_mask", "mask_mle", "prove", "verify"]
