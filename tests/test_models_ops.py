"""Every fixed-point op against exact Python-int arithmetic and against its float meaning."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from zkllm_jax.models import FixedPointConfig, LlamaConfig
from zkllm_jax.models import intmath as im
from zkllm_jax.models.ops import FixedOps, FloatOps
from zkllm_jax.models.tables import build_tables

FX = FixedPointConfig()
S = FX.scale
CFG = LlamaConfig(
    vocab_size=32,
    hidden_size=64,
    intermediate_size=96,
    num_hidden_layers=1,
    num_attention_heads=4,
    num_key_value_heads=2,
    rms_norm_eps=1e-5,
    max_position_embeddings=64,
)


def _py_rescale(y: int, k: int) -> tuple[int, int]:
    q = (y + (1 << (k - 1))) >> k
    return q, y - (q << k)


def _ops():
    return FixedOps(CFG, FX, build_tables(CFG, FX, 64)), FloatOps(CFG, FX, None)


def test_split_limbs_roundtrip_extremes():
    b4 = im.limb_bound(4)
    x = np.array([0, 1, -1, 127, -128, 128, -129, 2**24, -(2**24), b4, -b4, 123456789], np.int32)
    limbs = np.asarray(im.split_limbs(jnp.asarray(x), 4)).astype(np.int64)
    assert limbs.min() >= -128 and limbs.max() <= 127
    back = sum(limbs[i] * 256**i for i in range(4))
    np.testing.assert_array_equal(back, x)


@pytest.mark.parametrize("k", [1, 7, 8, 16, 20, 30])
def test_rescale_wide_matches_python(k):
    rng = np.random.default_rng(k)
    a = rng.integers(-(2**30), 2**30, 200).astype(np.int32)
    b = rng.integers(-(2**20), 2**20, 200).astype(np.int32)
    q, r, _ = im.rescale_wide(im.exact_mul(jnp.asarray(a), jnp.asarray(b)), k)
    for ai, bi, qi, ri in zip(
        a.tolist(), b.tolist(), np.asarray(q).tolist(), np.asarray(r).tolist()
    ):
        eq, er = _py_rescale(ai * bi, k)
        if abs(eq) < 2**31:
            assert (qi, ri) == (eq, er)
            assert -(1 << (k - 1)) <= ri < (1 << (k - 1))


def test_exact_matmul_vs_int64_and_jit():
    rng = np.random.default_rng(0)
    x = rng.integers(-(2**27), 2**27, (5, 300)).astype(np.int32)
    w = rng.integers(-(2**20), 2**20, (7, 300)).astype(np.int32)
    dn = (((1,), (1,)), ((), ()))
    c = jax.jit(lambda a, b: im.exact_dot_general(a, b, dn, 4, 3))(x, w)
    got = im.wide_to_int(np.moveaxis(np.asarray(c), 0, -1))
    want = x.astype(object) @ w.T.astype(object)  # Python ints: no overflow anywhere
    assert (got == want).all()
    assert np.abs(want).max() > 2**50  # the test exercises far beyond int32
    q, r, est = im.rescale_wide(c, 16)
    n_fit = 0
    for (i, j), v in np.ndenumerate(want):
        eq, er = _py_rescale(v, 16)
        if abs(eq) < 2**31 - 2**24:
            n_fit += 1
            assert (int(q[i, j]), int(r[i, j])) == (eq, er)
        else:  # the int32 result wrapped: the float estimate must flag it
            assert abs(float(est[i, j])) > 2**31 - 2**24
    assert 0 < n_fit < want.size


def test_rescale_int_range():
    x = jnp.arange(-70000, 70000, 37, dtype=jnp.int32)
    q, r = im.rescale_int(x, 8)
    np.testing.assert_array_equal(np.asarray(q) * 256 + np.asarray(r), np.asarray(x))
    assert np.asarray(r).min() >= -128 and np.asarray(r).max() < 128
    # round half up: 128 -> 1, -128 -> 0 (remainder -128), 127 -> 0
    q2, _ = im.rescale_int(jnp.asarray([128, -128, 127, -129], jnp.int32), 8)
    assert np.asarray(q2).tolist() == [1, 0, 0, -1]


def test_isqrt_gap_and_rsqrt_gaps():
    rng = np.random.default_rng(1)
    vals = [1, 2, 3, 10**6, 2**40 + 12345, 3 * 2**60, 2**75 - 1]
    vals += [int(v) for v in rng.integers(1, 2**62, 20)]
    c2 = 576 << 72
    v = jnp.stack(
        [im.normalize(jnp.asarray(im.const_digits(x, 12)).reshape(12, 1), 12)[:, 0] for x in vals],
        axis=1,
    )
    c2d = im.const_digits(c2, 22)
    r = np.asarray(im.isqrt_gap(v, c2d, 30))
    lo, hi = im.rsqrt_gaps(v, jnp.asarray(r), c2d)
    lo, hi = im.wide_to_int(np.asarray(lo), 0), im.wide_to_int(np.asarray(hi), 0)
    for i, x in enumerate(vals):
        want = min(math.isqrt(c2 // x), 2**30 - 1)
        while want * want * x > c2:
            want -= 1
        assert int(r[i]) == want, x
        if want < 2**30 - 1:
            assert lo[i] == c2 - want * want * x >= 0
            assert hi[i] == (want + 1) ** 2 * x - c2 - 1 >= 0


def test_recip_floor():
    rng = np.random.default_rng(2)
    z = rng.integers(1 << 16, 1 << 31, 500).astype(np.int64)
    z[:2] = (1 << 16, (1 << 31) - 1)  # 2^46 / 2^16 = 2^30 still fits int32
    for k in (40, 46):
        inv, rem = im.recip_floor(jnp.asarray(z, jnp.int32), k)
        for zi, qi, ri in zip(z.tolist(), np.asarray(inv).tolist(), np.asarray(rem).tolist()):
            assert (qi, ri) == divmod(2**k, zi)


def test_linear_vs_float():
    fo, _ = _ops()
    rng = np.random.default_rng(3)
    x = rng.normal(0, 3, (6, 64)).astype(np.float32)
    w = rng.normal(0, 0.1, (40, 64)).astype(np.float32)
    xi, wi = np.round(x * S).astype(np.int32), np.round(w * S).astype(np.int32)
    y, wit = fo.linear("t", jnp.asarray(xi), jnp.asarray(wi))
    exact = xi.astype(object) @ wi.T.astype(object)
    assert (np.asarray(y).astype(object) * S + np.asarray(wit["rem"]) == exact).all()
    ref = (xi.astype(np.float64) / S) @ (wi.astype(np.float64) / S).T
    assert np.abs(np.asarray(y) / S - ref).max() <= 0.5 / S + 1e-12


def test_rmsnorm_vs_float():
    fo, _ = _ops()
    rng = np.random.default_rng(4)
    x = rng.normal(0, 1, (5, 64)) * np.array([[0.001], [0.1], [1], [30], [3000]])
    g = rng.normal(1, 0.2, 64)
    xi, gi = np.round(x * S).astype(np.int32), np.round(g * S).astype(np.int32)
    y, wit = fo.rmsnorm("n", jnp.asarray(xi), jnp.asarray(gi))
    xf = xi / S
    ref = (gi / S) * xf / np.sqrt((xf**2).mean(-1, keepdims=True) + CFG.rms_norm_eps)
    err = np.abs(np.asarray(y) / S - ref)
    r = np.asarray(wit["rsqrt"]).astype(np.float64)[:, None]
    assert FX.rsqrt_bits_for(1e-5) == 22
    # r = floor(C/sqrt(v)) has relative error < 1/r; the two rescales add < 1 ulp each
    assert (err <= np.abs(ref) * (1.0 / r + 1e-6) + 2.0 / S).all(), err.max()
    assert err[:4].max() < 3 / S
    # the gap identities the prover checks
    v = im.wide_to_int(np.asarray(wit["sum_sq"]))
    r = np.asarray(wit["rsqrt"]).astype(object)
    c2 = 64 << (2 * 16 + 2 * FX.rsqrt_bits_for(1e-5))
    assert (im.wide_to_int(np.asarray(wit["gap_lo"])) == c2 - r * r * v).all()
    assert (im.wide_to_int(np.asarray(wit["gap_hi"])) == (r + 1) ** 2 * v - c2 - 1).all()
    assert (im.wide_to_int(np.asarray(wit["gap_lo"])) >= 0).all()
    assert (im.wide_to_int(np.asarray(wit["gap_hi"])) >= 0).all()
    eps_q = round(CFG.rms_norm_eps * 2**32) * 64
    assert (v == (xi.astype(object) ** 2).sum(-1) + eps_q).all()


def test_rope_vs_float():
    fo, fl = _ops()
    rng = np.random.default_rng(5)
    x = rng.normal(0, 2, (4, 10, 16)).astype(np.float32)
    xi = np.round(x * S).astype(np.int32)
    pos = jnp.arange(3, 13, dtype=jnp.int32)
    y, wit = fo.rope("r", jnp.asarray(xi), pos)
    ref, _ = fl.rope("r", jnp.asarray(xi / S, jnp.float32), pos)
    assert np.abs(np.asarray(y) / S - np.asarray(ref)).max() < 3e-4
    cos = np.asarray(fo.t["rope_cos"])[3:13].astype(object)
    sin = np.asarray(fo.t["rope_sin"])[3:13].astype(object)
    xo = xi.astype(object)
    rot = np.concatenate([-xo[..., 8:], xo[..., :8]], -1)
    raw = xo * cos[None] + rot * sin[None]
    assert (np.asarray(y).astype(object) * S + np.asarray(wit["rem"]) == raw).all()


def test_softmax_vs_float_and_witness():
    fo, fl = _ops()
    rng = np.random.default_rng(6)
    s = rng.normal(0, 20, (4, 12, 12))
    s[0, :, 0] = 500.0  # one dominant key: others underflow to 0
    si = np.round(s * S).astype(np.int32)
    mask = np.tril(np.ones((12, 12), bool))
    p, wit = fo.softmax(jnp.asarray(si), jnp.asarray(mask))
    ref, _ = fl.softmax(jnp.asarray(si / S, jnp.float32), jnp.asarray(mask))
    p = np.asarray(p)
    assert np.abs(p / S - np.asarray(ref)).max() < 2e-3
    assert (p[:, ~mask] == 0).all()  # causal mask
    rows = p.sum(-1)
    assert (np.abs(rows - S) <= 12).all()  # each row sums to 1 within rounding
    # witness identities the zkAttn proof checks
    x = np.asarray(wit["x"]).astype(np.int64)
    dig = np.asarray(wit["digits"]).astype(np.int64)
    u = (x - np.asarray(wit["round_rem"])) >> FX.softmax_round_bits
    pos, acc = 0, 0
    for k, b in enumerate(FX.softmax_digit_bits):
        assert dig[k].min() >= 0 and dig[k].max() < 2**b
        acc = acc + (dig[k] << pos)
        pos += b
    np.testing.assert_array_equal(acc, u)
    e, z = np.asarray(wit["exp"]).astype(np.int64), np.asarray(wit["row_sum"]).astype(np.int64)
    np.testing.assert_array_equal(e.sum(-1), z)
    kb = FX.softmax_recip_bits
    inv = np.asarray(wit["recip"]).astype(np.int64)
    irem = np.asarray(wit["recip_rem"]).astype(np.int64)
    np.testing.assert_array_equal(inv * z + irem, 1 << (FX.scale_bits + kb))
    assert (irem >= 0).all() and (irem < z).all()
    rho = np.asarray(wit["div_rem"]).astype(np.int64)
    np.testing.assert_array_equal(p.astype(np.int64) * (1 << kb) + rho, e * inv[..., None])
    assert (rho >= -(1 << (kb - 1))).all() and (rho < 1 << (kb - 1)).all()


def test_swiglu_vs_float():
    fo, fl = _ops()
    rng = np.random.default_rng(7)
    g = rng.normal(0, 4, (5, 96))
    u = rng.normal(0, 2, (5, 96))
    gi, ui = np.round(g * S).astype(np.int32), np.round(u * S).astype(np.int32)
    y, wit = fo.swiglu(jnp.asarray(gi), jnp.asarray(ui))
    ref, _ = fl.swiglu(jnp.asarray(gi / S), jnp.asarray(ui / S))
    # SiLU table step 2^-10: error <= 2^-11·max|SiLU'|·|up| plus rounding
    bound = 2.0**-11 * 1.1 * np.abs(ui / S) + 2.0 / S
    assert (np.abs(np.asarray(y) / S - np.asarray(ref)) <= bound).all()
    idx = np.asarray(wit["act_in"]).astype(np.int64)
    np.testing.assert_array_equal(idx * 64 + np.asarray(wit["act_in_rem"]), gi)


def test_fixed_ops_are_jittable_and_deterministic():
    fo, _ = _ops()
    rng = np.random.default_rng(8)
    x = jnp.asarray(np.round(rng.normal(0, 1, (3, 64)) * S).astype(np.int32))
    g = jnp.asarray(np.full(64, S, np.int32))
    eager = fo.rmsnorm("n", x, g)[0]
    jitted = jax.jit(lambda a, b: fo.rmsnorm("n", a, b)[0])(x, g)
    np.testing.assert_array_equal(np.asarray(eager), np.asarray(jitted))
