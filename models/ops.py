"""The two arithmetic backends of the model: float32 reference and exact fixed point.

`llama.py` describes the network once and calls these ops by name; each op returns
`(output, witness)` where the witness is a dict of every integer tensor the layer prover needs
(empty for the float backend). Range checks are recorded in `ops.checks` as
`name -> float32[3] = (max |value|, bound, program order)`; `llama.check_ranges` turns violations into
`FixedPointRangeError`s outside of `jit`.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from . import intmath as im
from .config import FixedPointConfig, FixedPointRangeError, LlamaConfig

# Outputs must stay below this in magnitude; the margin covers float32 error of the overflow
# estimates (SmolLM2's residual stream reaches 22552 ≈ 2^30.5 at scale 2^16).
_INT32_SAFE = float((1 << 31) - (1 << 24))


def _stack(xs: list, shape: tuple) -> jax.Array:
    """int32 (len(xs), *shape); an empty list (one softmax digit: no products) stacks to (0, ...)."""
    return jnp.stack(xs) if xs else jnp.zeros((0, *shape), jnp.int32)


def _gqa_split(q: jax.Array, kvh: int) -> jax.Array:
    """(H, T, d) -> (KVH, G, T, d): query head h uses key/value head h // G (HF's repeat_kv)."""
    h, t, d = q.shape
    return q.reshape(kvh, h // kvh, t, d)


class FloatOps:
    """float32 reference ops with the semantics of `transformers`' LlamaForCausalLM."""

    fixed = False

    def __init__(self, cfg: LlamaConfig, fx: FixedPointConfig | None, tables: dict | None):
        self.cfg = cfg
        self.checks: dict[str, jax.Array] = {}

    def embed(self, table, tokens):
        return table[tokens], {}

    def linear(self, name, x, w):
        return jnp.einsum("...k,nk->...n", x, w, precision="highest"), {}

    def rmsnorm(self, name, x, g):
        var = jnp.mean(x * x, axis=-1, keepdims=True)
        return g * (x * jax.lax.rsqrt(var + self.cfg.rms_norm_eps)), {}

    def rope(self, name, x, pos):
        hd = self.cfg.head_dim
        inv = 1.0 / (self.cfg.rope_theta ** (jnp.arange(0, hd, 2, dtype=jnp.float32) / hd))
        ang = pos.astype(jnp.float32)[:, None] * inv[None, :]
        ang = jnp.concatenate([ang, ang], axis=-1)
        x1, x2 = jnp.split(x, 2, axis=-1)
        rot = jnp.concatenate([-x2, x1], axis=-1)
        return x * jnp.cos(ang) + rot * jnp.sin(ang), {}

    def scores(self, q, k):
        qg = _gqa_split(q, k.shape[0])
        s = jnp.einsum("cgtd,csd->cgts", qg, k, precision="highest")
        return s.reshape(q.shape[0], q.shape[1], k.shape[1]), {}

    def softmax(self, s, mask):
        s = s / math.sqrt(self.cfg.head_dim)
        s = jnp.where(mask, s, -jnp.inf)
        return jax.nn.softmax(s, axis=-1), {}

    def context(self, p, v):
        pg = _gqa_split(p, v.shape[0])
        o = jnp.einsum("cgts,csd->cgtd", pg, v, precision="highest")
        h, t = p.shape[0], p.shape[1]
        return o.reshape(h, t, -1).transpose(1, 0, 2).reshape(t, -1), {}

    def swiglu(self, gate, up):
        return jax.nn.silu(gate) * up, {}

    def add(self, name, a, b):
        return a + b


class FixedOps:
    """Exact integer ops; every output is the integer function the layer proofs check."""

    fixed = True

    def __init__(self, cfg: LlamaConfig, fx: FixedPointConfig, tables: dict):
        self.cfg, self.fx, self.t = cfg, fx, tables
        self.f = fx.scale_bits
        self.checks: dict[str, jax.Array] = {}

    # -- helpers -----------------------------------------------------------------------------
    def check(self, name: str, value: jax.Array, bound: float) -> None:
        """Record max |value| against a bound (violations reported by `llama.check_ranges`)."""
        m = jnp.max(jnp.abs(value.astype(jnp.float32))) if value.size else jnp.float32(0)
        # the third entry keeps program order (pytree flattening sorts dict keys)
        self.checks[name] = jnp.stack([m, jnp.float32(bound), jnp.float32(len(self.checks))])

    def mul_rescale(self, name: str, a, b, k: int, b_limbs: int = 4):
        """Exact elementwise a·b rescaled by 2^k: a·b = 2^k·out + rem."""
        q, r, est = im.rescale_wide(im.exact_mul(a, b, 4, b_limbs), k)
        self.check(name + ".out", est, _INT32_SAFE)
        return q, {"out": q, "rem": r}

    def _static_contraction(self, name: str, k: int) -> None:
        pairs = min(self.fx.act_limbs, self.fx.weight_limbs)
        if pairs * k * (1 << 14) >= 1 << 31:
            raise FixedPointRangeError(
                f"{name}: contraction length {k} too long for exact int32 limb accumulation"
            )

    # -- ops ---------------------------------------------------------------------------------
    def embed(self, table, tokens):
        h = table[tokens]
        return h, {"tokens": tokens, "out": h}

    def linear(self, name, x, w):
        """y = rescale(x·wᵀ, 2^f); the raw product is 2^f·out + rem (it does not fit int32)."""
        self._static_contraction(name, x.shape[-1])
        self.check(name + ".in", x, im.limb_bound(self.fx.act_limbs))
        # w is int32 (N, K), or its int8 limbs (weight_limbs, N, K) from `llama.presplit`
        c = im.exact_dot_general(
            x, w, (((x.ndim - 1,), (1,)), ((), ())), self.fx.act_limbs, self.fx.weight_limbs
        )
        q, r, est = im.rescale_wide(c, self.f)
        self.check(name + ".out", est, _INT32_SAFE)
        return q, {"out": q, "rem": r}

    def rmsnorm(self, name, x, g):
        """out = rescale(rescale(x·r, 2^R)·g, 2^f) with r = floor(sqrt(C²/v)) (gap-checked)."""
        d = x.shape[-1]
        f, rb = self.f, self.fx.rsqrt_bits_for(self.cfg.rms_norm_eps)
        if 4 * d * (1 << 14) >= 1 << 31:
            raise FixedPointRangeError(f"{name}: hidden size {d} too large for exact Σx²")
        self.check(name + ".in", x, im.limb_bound(4))
        xl = im.split_limbs(x, 4).astype(jnp.int8)
        pp = jnp.einsum("atd,btd->abt", xl, xl, preferred_element_type=jnp.int32)
        coeffs = im.sum_diagonals(pp)
        eps_q = round(self.cfg.rms_norm_eps * (1 << (2 * f))) * d
        c = coeffs + jnp.asarray(im.const_digits(eps_q, 7)).reshape(7, 1)
        v = im.normalize(c, 12)
        c2 = d << (2 * f + 2 * rb)
        c2d = im.const_digits(c2, v.shape[0] + 10)
        r = im.isqrt_gap(v, c2d, 31)
        self.check(name + ".rsqrt", r, im.limb_bound(4) - 1)
        lo, hi = im.rsqrt_gaps(v, r, c2d)
        y1, w1 = self.mul_rescale(name + ".normed", x, r[:, None], rb)
        y, w2 = self.mul_rescale(name + ".out", y1, g[None, :], f)
        wit = {
            "sum_sq": jnp.moveaxis(v, 0, -1),
            "rsqrt": r,
            "gap_lo": jnp.moveaxis(lo, 0, -1),
            "gap_hi": jnp.moveaxis(hi, 0, -1),
            "normed": w1["out"],
            "normed_rem": w1["rem"],
            "out": y,
            "out_rem": w2["rem"],
        }
        return y, wit

    def rope(self, name, x, pos):
        """out = rescale(x ⊙ cos + rotate_half(x) ⊙ sin, 2^f) with public tables at 2^f."""
        cos = self.t["rope_cos"][pos][None]
        sin = self.t["rope_sin"][pos][None]
        x1, x2 = jnp.split(x, 2, axis=-1)
        rot = jnp.concatenate([-x2, x1], axis=-1)
        c = im.exact_mul(x, cos, 4, 3) + im.exact_mul(rot, sin, 4, 3)
        q, r, est = im.rescale_wide(c, self.f)
        self.check(name + ".out", est, _INT32_SAFE)
        return q, {"out": q, "rem": r}

    def scores(self, q, k):
        """s = rescale(q·kᵀ, 2^f) per query head, key/value heads shared by GQA groups."""
        self._static_contraction("self_attn.scores", q.shape[-1])
        qg = _gqa_split(q, k.shape[0])
        c = im.exact_dot_general(qg, k, (((3,), (2,)), ((0,), (0,))), 4, 4)
        s, r, est = im.rescale_wide(c, self.f)
        h, t, tk = q.shape[0], q.shape[1], k.shape[1]
        s, r = s.reshape(h, t, tk), r.reshape(h, t, tk)
        self.check("self_attn.scores.out", est, float(1 << self.fx.max_score_bits))
        return s, {"out": s, "rem": r}

    def softmax(self, s, mask):
        """zkAttn softmax: digits of max − s through exp tables, then a per-row reciprocal."""
        fx, f = self.fx, self.f
        tk = s.shape[-1]
        if tk << f >= 1 << 31:
            raise FixedPointRangeError(f"softmax: {tk} keys overflow the int32 row sum")
        neg = jnp.int32(-(1 << 31))
        shift = jnp.max(jnp.where(mask, s, neg), axis=-1)
        x = jnp.where(mask, shift[..., None] - s, 0)
        # floor, not round-half-up: r0 >= 0 makes x = 2^R·u + r0 >= 0 on its own (the proof
        # needs no pieces of x); the exp tables sit at each bucket's midpoint instead
        u, r0 = x >> fx.softmax_round_bits, x & ((1 << fx.softmax_round_bits) - 1)
        digits, outs = [], []
        for tab, b in zip(self.t["exp"], fx.softmax_digit_bits):
            d = u & ((1 << b) - 1)
            u = u >> b
            digits.append(d)
            outs.append(tab[d])
        self.check("self_attn.softmax.digits_overflow", u, 0.5)  # u must be fully consumed
        e, prods = outs[0], []
        for o in outs[1:]:
            e, w = self.mul_rescale("self_attn.softmax.prod", e, o, f, 3)
            prods.append(w)
        e = jnp.where(mask, e, 0)
        z = jnp.sum(e, axis=-1)
        # one reciprocal per row, then a K-bit rescale per element: the remainder's range is a
        # power of two (two range pieces) where an exact division's [0, z) needed four
        kb = fx.softmax_recip_bits
        self.check("self_attn.softmax.row_sum", jnp.where(z >= 1, 0, 1), 0.5)  # z >= 1
        inv, inv_rem = im.recip_floor(jnp.maximum(z, 1), f + kb)
        self.check("self_attn.softmax.recip", inv.astype(jnp.float32), float(1 << 30))
        p, w = self.mul_rescale("self_attn.softmax.probs", e, inv[..., None], kb)
        wit = {
            "shift": shift,
            "x": x,
            "round_rem": r0,
            "digits": jnp.stack(digits),
            "table_out": jnp.stack(outs),
            "prod_out": _stack([w["out"] for w in prods], s.shape),
            "prod_rem": _stack([w["rem"] for w in prods], s.shape),
            "exp": e,
            "row_sum": z,
            "recip": inv,
            "recip_rem": inv_rem,
            "probs": p,
            "div_rem": w["rem"],
        }
        return p, wit

    def context(self, p, v):
        """o = rescale(p·v, 2^f), returned as (T, H·head_dim) like HF before o_proj."""
        qg = _gqa_split(p, v.shape[0])
        c = im.exact_dot_general(qg, v, (((3,), (1,)), ((0,), (0,))), 3, 4)
        o, r, est = im.rescale_wide(c, self.f)
        self.check("self_attn.context.out", est, _INT32_SAFE)
        h, t = p.shape[0], p.shape[1]
        o, r = o.reshape(h, t, -1), r.reshape(h, t, -1)
        flat = o.transpose(1, 0, 2).reshape(t, -1)
        return flat, {"out": o, "rem": r}

    def swiglu(self, gate, up):
        """act = SiLU_table[rescale(gate, 2^(f−step))]; out = rescale(act ⊙ up, 2^f)."""
        fx = self.fx
        idx, r = (
            im.rescale_int(gate, self.f - fx.silu_step_bits)
            if self.f > fx.silu_step_bits
            else (gate, jnp.zeros_like(gate))
        )
        half = 1 << (fx.silu_table_bits - 1)
        self.check("mlp.act_in", idx.astype(jnp.float32) + 0.5, float(half))
        act = self.t["silu"][jnp.clip(idx + half, 0, 2 * half - 1)]
        out, w = self.mul_rescale("mlp.hidden", act, up, self.f)
        return out, {
            "act_in": idx,
            "act_in_rem": r,
            "act": act,
            "hidden": w["out"],
            "hidden_rem": w["rem"],
        }

    def add(self, name, a, b):
        """Residual add (exact; checked to stay in the int32-safe range)."""
        y = a + b  # wraps on overflow, so the check adds in float
        self.check(name, a.astype(jnp.float32) + b.astype(jnp.float32), _INT32_SAFE)
        return y


def make_ops(mode: str, cfg: LlamaConfig, fx: FixedPointConfig, tables: dict | None):
    """`"float"` or `"fixed"` backend."""
    if mode == "float":
        return FloatOps(cfg, fx, tables)
    if mode == "fixed":
        return FixedOps(cfg, fx, tables)
    raise ValueError(f"unknown mode {mode!r} (expected 'float' or 'fixed')")


def numpy_checks(checks: dict) -> dict[str, np.ndarray]:
    """Device checks to host numpy."""
    return {k: np.asarray(v) for k, v in checks.items()}
