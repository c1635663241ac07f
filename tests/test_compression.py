"""ZCash 48-byte point encoding against arkworks, and rejection of every bad-encoding class."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import py_arkworks_bls12381 as ark
import pytest
from py_ecc.bls.point_compression import decompress_G1
from refs import our_points, random_ark_points

from zkllm_jax import curve, ffi

P = curve.P
R = curve.R
COFACTOR = 0x396C8C005555E1568C00AAAB0000AAAB  # #E(Fp) = COFACTOR * R


# Affine arithmetic with Python integers on y^2 = x^3 + 4 (None is the identity), to build points
# outside the prime-order subgroup independently of the code under test.
def ec_add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    (x1, y1), (x2, y2) = a, b
    if x1 == x2:
        if (y1 + y2) % P == 0:
            return None
        lam = 3 * x1 * x1 * pow(2 * y1, -1, P) % P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (lam * lam - x1 - x2) % P
    return x3, (lam * (x1 - x3) - y1) % P


def ec_mul(a, k):
    acc = None
    while k:
        if k & 1:
            acc = ec_add(acc, a)
        a, k = ec_add(a, a), k >> 1
    return acc


def sqrt(v):
    y = pow(v, (P + 1) // 4, P)
    return y if y * y % P == v % P else None


def curve_point(x0):
    """The first point of E(Fp) with x >= x0 (generally outside the subgroup)."""
    x = x0
    while (y := sqrt(x**3 + 4)) is None:
        x += 1
    return x, y


def encode(pt) -> bytes:
    """Reference ZCash encoding from affine integers."""
    if pt is None:
        return bytes([0xC0]) + bytes(47)
    x, y = pt
    b = bytearray(x.to_bytes(48, "big"))
    b[0] |= 0x80 | (0x20 if y > (P - 1) // 2 else 0)
    return bytes(b)


def raw(xy_list):
    return curve.from_affine(
        np.array([p[0] for p in xy_list], dtype=object),
        np.array([p[1] for p in xy_list], dtype=object),
        validate_points=False,
    )


def test_matches_arkworks_random_identity_generator(rng):
    pts = random_ark_points(rng, 24)
    pts += [-q for q in pts[:4]] + [ark.G1Point(), ark.G1Point.identity()]
    ours = our_points(pts[:-1])
    ours = jnp.concatenate([ours, curve.identity((1,))])
    got = np.asarray(curve.to_compressed(ours))
    assert got.shape == (len(pts), 48) and got.dtype == np.uint8
    assert [bytes(r) for r in got] == [bytes(q.to_compressed_bytes()) for q in pts]
    # Jacobian representatives with Z != 1 encode the same way.
    doubled = curve.double(ours[:5])
    assert [bytes(r) for r in np.asarray(curve.to_compressed(doubled))] == [
        bytes((q + q).to_compressed_bytes()) for q in pts[:5]
    ]


def test_roundtrip_and_arkworks_bytes(rng):
    pts = random_ark_points(rng, 16) + [ark.G1Point.identity(), ark.G1Point()]
    enc = [bytes(q.to_compressed_bytes()) for q in pts]
    dec = curve.from_compressed(enc)
    assert dec.shape == (len(pts), 3, 12)
    assert [bytes(r) for r in np.asarray(curve.to_compressed(dec))] == enc
    ours = jnp.concatenate([our_points(pts[:-2]), curve.identity((1,)), curve.generator((1,))])
    assert bool(jnp.all(curve.eq(dec, ours)))
    single = curve.from_compressed(enc[0])
    assert single.shape == (3, 12)


def non_subgroup_points():
    """Points on the curve outside G1: plain curve points, small-order ones, and G1 + torsion."""
    pts = [curve_point(x0) for x0 in (1, 5, 1000, 2**200 + 7)]
    t3 = (0, 2)  # order 3: an inflection point of y^2 = x^3 + 4
    # E(Fp)[11] is Z/11 x Z/11 (11^2 divides the cofactor), so clear everything else.
    t11 = next(t for t in (ec_mul(curve_point(x0), COFACTOR * R // 121) for x0 in range(2, 40))
               if t is not None)  # order 11
    g = (curve.GEN_X, curve.GEN_Y)
    assert t3 is not None and ec_mul(t3, 3) is None and ec_mul(t11, 11) is None
    pts += [t3, t11, ec_add(g, t3), ec_add(ec_mul(g, 12345), t11)]
    for q in pts:
        assert q is not None and ec_mul(q, R) is not None  # really outside the subgroup
    return pts


def test_wrong_subgroup_rejected_and_endomorphism_check_agrees_with_r_times_p():
    pts = non_subgroup_points()
    enc = [encode(q) for q in pts]
    for e in enc:  # arkworks rejects them as well, but accepts them without its subgroup check
        with pytest.raises(ValueError):
            ark.G1Point.from_compressed_bytes(e)
        ark.G1Point.from_compressed_bytes_unchecked(e)
    dec, status = curve.from_compressed_with_status(enc)
    assert list(np.asarray(status)) == [4] * len(pts)
    assert not np.any(np.asarray(curve.status_of(dec)))  # rejected entries decode to the identity
    # Our decoder uses sigma(P) = -X^2 P; validate() uses r P: both must reject the same points.
    assert list(np.asarray(curve.status_of(raw(pts)))) == [3] * len(pts)
    g = encode((curve.GEN_X, curve.GEN_Y))
    with pytest.raises(ValueError, match=r"index \(2,\): the point is not in the prime-order"):
        curve.from_compressed([g, g, enc[3], g])
    # Points inside the subgroup (torsion-free) pass both checks.
    good = [ec_mul((curve.GEN_X, curve.GEN_Y), k) for k in (1, 2, 3, 2**100, R - 1)]
    _, st = curve.from_compressed_with_status([encode(q) for q in good])
    assert not np.any(np.asarray(st))


def flip(b: bytes, i: int, mask: int) -> bytes:
    a = bytearray(b)
    a[i] ^= mask
    return bytes(a)


def test_each_bad_encoding_class_with_its_reason():
    good = encode((curve.GEN_X, curve.GEN_Y))
    inf = encode(None)
    x_off = 1
    while sqrt(x_off**3 + 4) is not None:
        x_off += 1
    # (encoding, status, reason, references that also reject it). arkworks accepts infinity
    # encodings with stray bits; py_ecc (like zkcrypto and blst) rejects them, and so do we.
    # py_ecc's decoder does no subgroup check, so that case is checked against arkworks.
    both, py_ecc_only, ark_only = ("ark", "py_ecc"), ("py_ecc",), ("ark",)
    cases = [
        (flip(good, 0, 0x80), 1, "bad flag", both),  # compression flag missing
        (bytes(48), 1, "bad flag", both),  # all zeros: uncompressed infinity, not accepted
        (flip(inf, 0, 0x20), 1, "bad flag", py_ecc_only),  # infinity with the sign bit
        (flip(inf, 47, 0x01), 1, "bad flag", py_ecc_only),  # infinity with x bits
        (flip(inf, 0, 0x01), 1, "bad flag", py_ecc_only),
        (bytes([0x80 | (P >> 376)]) + (P % 2**376).to_bytes(47, "big"), 2, "x >= p", both),
        (bytes([0x9F]) + b"\xff" * 47, 2, "x >= p", both),
        (encode((x_off, 0)), 3, "not the x-coordinate", both),
        (encode(curve_point(5)), 4, "not in the prime-order subgroup", ark_only),
    ]
    enc = [c[0] for c in cases]
    _, status = curve.from_compressed_with_status(enc)
    assert list(np.asarray(status)) == [c[1] for c in cases]
    for e, _, reason, refs in cases:
        with pytest.raises(ValueError, match=reason):
            curve.from_compressed(e)
        batch = [good, e, good]
        with pytest.raises(ValueError, match=rf"index \(1,\): .*{reason}"):
            curve.from_compressed(batch)
        if "ark" in refs:
            with pytest.raises(ValueError):
                ark.G1Point.from_compressed_bytes(e)
        if "py_ecc" in refs:
            with pytest.raises(ValueError):
                decompress_G1(int.from_bytes(e, "big"))
    # The sign flag selects between y and -y.
    neg = curve.from_compressed(flip(good, 0, 0x20))
    assert curve.to_affine(neg) == [(curve.GEN_X, P - curve.GEN_Y)]


def test_bad_shapes_and_dtypes():
    good = encode((curve.GEN_X, curve.GEN_Y))
    with pytest.raises(ValueError, match="48 bytes"):
        curve.from_compressed(good[:47])
    with pytest.raises(ValueError, match="48 bytes"):
        curve.from_compressed(np.zeros((2, 49), np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        curve.from_compressed(np.zeros((2, 48), np.int32))
    with pytest.raises(ValueError, match="equal lengths"):
        curve.from_compressed([good, good[:47]])
    with pytest.raises(ValueError, match="no encodings"):
        curve.from_compressed(np.zeros((0, 48), np.uint8))
    with pytest.raises(TypeError):
        curve.to_compressed(np.zeros((2, 48), np.uint8))


def test_jit_and_vmap(rng):
    pts = our_points(random_ark_points(rng, 6)).reshape(2, 3, 3, 12)
    enc = curve.to_compressed(pts)
    np.testing.assert_array_equal(np.asarray(jax.jit(curve.to_compressed)(pts)), np.asarray(enc))
    dec, st = jax.jit(curve.from_compressed_with_status)(enc)
    assert st.shape == (2, 3) and not np.any(np.asarray(st))
    assert bool(jnp.all(curve.eq(dec, pts)))
    assert bool(jnp.all(curve.eq(jax.jit(curve.from_compressed)(enc), pts)))
    vdec, vst = jax.vmap(curve.from_compressed_with_status, in_axes=1, out_axes=1)(enc)
    assert bool(jnp.all(curve.eq(vdec, pts))) and vst.shape == (2, 3)
    np.testing.assert_array_equal(np.asarray(jax.vmap(curve.to_compressed)(pts)), np.asarray(enc))
    # Under jit a bad encoding cannot raise: it shows up in the status.
    bad = enc.at[0, 1, 0].set(enc[0, 1, 0] ^ 0x80)
    _, st = jax.jit(curve.from_compressed_with_status)(bad)
    assert np.asarray(st).tolist() == [[0, 1, 0], [0, 0, 0]]


def _gpu():
    if not ffi.HAS_CUDA_MODULE:
        return None
    try:
        return jax.devices("gpu")[0]
    except RuntimeError:
        return None


@pytest.mark.gpu
@pytest.mark.skipif(_gpu() is None, reason="needs a CUDA device and the CUDA module")
def test_gpu_matches_cpu(rng):
    gpu, cpu = _gpu(), jax.devices("cpu")[0]
    pts = jnp.concatenate([our_points(random_ark_points(rng, 64)), curve.identity((1,))])
    pts = jnp.concatenate([pts, curve.double(pts)])
    enc_cpu = curve.to_compressed(jax.device_put(pts, cpu))
    enc_gpu = curve.to_compressed(jax.device_put(pts, gpu))
    np.testing.assert_array_equal(np.asarray(enc_gpu), np.asarray(enc_cpu))
    bad = [encode(curve_point(5)), bytes(48), bytes([0x9F]) + b"\xff" * 47]
    bad_rows = np.frombuffer(b"".join(bad), np.uint8).reshape(3, 48)
    allenc = np.concatenate([np.asarray(enc_cpu), bad_rows])
    d_cpu, s_cpu = curve.from_compressed_with_status(jax.device_put(allenc, cpu))
    d_gpu, s_gpu = curve.from_compressed_with_status(jax.device_put(allenc, gpu))
    np.testing.assert_array_equal(np.asarray(s_gpu), np.asarray(s_cpu))
    np.testing.assert_array_equal(np.asarray(d_gpu), np.asarray(d_cpu))
    assert np.asarray(s_cpu).tolist()[-3:] == [4, 1, 2]
