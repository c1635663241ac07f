"""Wide non-negative integers as committed 16-bit limbs, and claims on them.

A value w ∈ [0, 2^(16·L)) of a tensor of shape S is committed as the int32 tensor
limbs[..., i] (shape S + (L,)), w = Σ_i 2^(16 i)·limbs[..., i], every limb range-checked in
[0, 2^16) (`RANGE`). A claim w(p) = y becomes ONE claim on the limb tensor:

    the prover sends v_i = limbs(p, i) for i < L (absorbed); the verifier checks
    Σ_i 2^(16 i)·v_i = y (`limb_sum`), draws τ (ceil(log2 L) challenges) and keeps the claim
    limbs(τ, p) = Σ_i eq(τ, i)·v_i  (the limb axis is the lowest, so the point is (τ, p)).

Soundness: if the sent vector v differs from the true one, the multilinear polynomial
Σ_i eq(τ, i)(v_i − v*_i) is nonzero and vanishes at the random τ with probability ≤ log L / p,
so a false vector leaves a false claim to be caught by the opening. With the limbs in range, w
is exactly the integer Σ 2^(16 i) limbs_i < 2^(16 L): no wrap-around as long as 16 L is far
below log2 p (the callers assert their bound).

Nothing here commits: the caller commits the limb tensors before any challenge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import field, mle
from ..claims import Claim, GadgetError, evaluate, ints, point_of
from ..transcript import Transcript
from .rangecheck import Range

Array = jax.Array
R = field.R
LIMB_BITS = 16
RANGE = Range(0, LIMB_BITS)


def count(bits: int) -> int:
    """Limbs needed for values below 2^bits."""
    return max(1, -(-int(bits) // LIMB_BITS))


def from_digits(digits: Any, num_limbs: int, name: str = "value") -> Array:
    """Base-2^8 digits (..., n) (the model's wide layout, non-negative) -> int32 limbs (..., L).

    Concrete inputs are checked: every digit in [0, 256) and nothing above L limbs (ValueError
    naming the tensor and index). Jit-able (unchecked under tracing).
    """
    d = jnp.asarray(digits, jnp.int32)
    n = d.shape[-1]
    if n % 2:
        d = jnp.concatenate([d, jnp.zeros(d.shape[:-1] + (1,), jnp.int32)], axis=-1)
    pairs = d.reshape(d.shape[:-1] + (-1, 2))
    limbs = pairs[..., 0] + (pairs[..., 1] << 8)
    if not isinstance(d, jax.core.Tracer):
        dn = np.asarray(d)
        bad = np.argwhere((dn < 0) | (dn > 255))
        if bad.size:
            raise ValueError(f"limbs: {name}{tuple(int(i) for i in bad[0])} = "
                             f"{int(dn[tuple(bad[0])])} is not a base-2^8 digit of a "
                             "non-negative value")
        high = np.argwhere(np.asarray(limbs)[..., num_limbs:] != 0)
        if high.size:
            raise ValueError(f"limbs: {name}{tuple(int(i) for i in high[0][:-1])} needs more than "
                             f"{num_limbs} limbs of 16 bits")
    if limbs.shape[-1] < num_limbs:
        limbs = jnp.pad(limbs, [(0, 0)] * (limbs.ndim - 1) + [(0, num_limbs - limbs.shape[-1])])
    return limbs[..., :num_limbs]


def from_int32(x: Any, num_limbs: int = 2, name: str = "value") -> Array:
    """Non-negative int32 x -> limbs (..., L) (L ≥ 2); concrete negatives raise ValueError."""
    x = jnp.asarray(x, jnp.int32)
    if not isinstance(x, jax.core.Tracer):
        bad = np.argwhere(np.asarray(x) < 0)
        if bad.size:
            raise ValueError(f"limbs: {name}{tuple(int(i) for i in bad[0])} is negative")
    parts = [x & 0xFFFF, x >> 16] + [jnp.zeros_like(x)] * (num_limbs - 2)
    return jnp.stack(parts[:num_limbs], axis=-1)


def value(limbs: Any) -> np.ndarray:
    """Σ 2^(16 i) limbs_i as Python ints (object array); for tests and witness checks."""
    a = np.asarray(limbs).astype(object)
    out = np.zeros(a.shape[:-1], dtype=object)
    for i in range(a.shape[-1]):
        out = out + a[..., i] * (1 << (LIMB_BITS * i))
    return out


def field_value(limbs: Any) -> Array:
    """Σ 2^(16 i) limbs_i as field elements Fr[..., 8] (exact: the sum is below p)."""
    limbs = jnp.asarray(limbs, jnp.int32)
    acc = field.encode(limbs[..., -1])
    base = field.encode(1 << LIMB_BITS)
    for i in range(limbs.shape[-1] - 2, -1, -1):
        acc = field.add(field.mul(acc, base), field.encode(limbs[..., i]))
    return acc


def _tau_claim(t: Transcript, vals: Array, point: Array, num_limbs: int, label: bytes
               ) -> tuple[Claim, Transcript]:
    k = mle.num_vars(num_limbs)
    if k == 0:
        return Claim(point=point, value=vals[0]), t
    tau, t = t.challenges(label + b".tau", k)
    padded = jnp.concatenate([vals, field.zeros(((1 << k) - num_limbs,))]) if (
        (1 << k) > num_limbs) else vals
    v = mle.evaluate(padded, tau)
    return Claim(point=point_of([tau, point]), value=v), t


def prove_claim(limbs: Any, point: Array, t: Transcript, *, label: bytes
                ) -> tuple[Claim, Array, Transcript]:
    """Prover: the limb values at `point` (a point of the value tensor), absorbed; returns the
    claim on the limb tensor, the values Fr[L, 8] (the proof part) and the transcript."""
    limbs = jnp.asarray(limbs, jnp.int32)
    n_l = limbs.shape[-1]
    moved = jnp.moveaxis(limbs, -1, 0)  # (L, ...): evaluate each limb plane at the point
    vals = jnp.stack([evaluate(moved[i], point) for i in range(n_l)])
    t = t.absorb_field(label, vals)
    claim, t = _tau_claim(t, vals, point, n_l, label)
    return claim, vals, t


def verify_claim(gadget: str, claim: Claim, vals: Array, num_limbs: int, t: Transcript, *,
                 label: bytes) -> tuple[Claim, Transcript]:
    """Verifier: check Σ 2^(16 i) v_i against the claim on the wide value; returns the claim on
    the limb tensor. Raises GadgetError(gadget, "limb_sum") / ("shape")."""
    if tuple(getattr(vals, "shape", ())) != (num_limbs, field.LIMBS):
        raise GadgetError(gadget, "shape", f"{label.decode()}: expected {num_limbs} limb values")
    v = ints(vals)
    if sum(x << (LIMB_BITS * i) for i, x in enumerate(v)) % R != ints(claim.value)[0]:
        raise GadgetError(gadget, "limb_sum", f"{label.decode()}: Σ 2^(16 i)·limb_i differs from "
                          "the claimed value")
    t = t.absorb_field(label, vals)
    return _tau_claim(t, vals, claim.point, num_limbs, label)


def shape_of(value_shape: Sequence[int], num_limbs: int) -> tuple[int, ...]:
    """The limb tensor's shape."""
    return tuple(int(d) for d in value_shape) + (int(num_limbs),)


__all__ = ["LIMB_BITS", "RANGE", "count", "field_value", "from_digits", "from_int32",
           "prove_claim", "shape_of", "value", "verify_claim"]
