"""Fiat–Shamir transcript: bit-identical to a hashlib reimplementation, sensitive to every byte."""

from __future__ import annotations

import hashlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from py_ecc.bls.point_compression import compress_G1
from py_ecc.optimized_bls12_381 import G1 as PY_G1
from py_ecc.optimized_bls12_381 import multiply as py_mul

from zkllm_jax import curve, field, prng
from zkllm_jax.transcript import Transcript, bytes_to_field_be

R = field.R


class RefTranscript:
    """Independent reimplementation of the documented encoding with hashlib and Python ints."""

    def __init__(self, label: bytes, zk: bool = True):
        self.s = hashlib.sha256(b"zkllm-jax/transcript/v1" + self._lp(label)).digest()
        self.absorb_ints(b"zero-knowledge", [int(zk)])

    @staticmethod
    def _lp(b: bytes) -> bytes:
        return len(b).to_bytes(4, "big") + b

    def _absorb(self, label, kind, shape, payload):
        msg = (b"\x01" + self.s + self._lp(label) + bytes([kind]) + len(shape).to_bytes(4, "big")
               + b"".join(d.to_bytes(8, "big") for d in shape) + len(payload).to_bytes(8, "big")
               + self._digest_long(payload))
        self.s = hashlib.sha256(msg).digest()

    @staticmethod
    def _digest_long(p: bytes) -> bytes:
        while len(p) > 1 << 16:
            chunks = [p[i:i + (1 << 16)] for i in range(0, len(p), 1 << 16)]
            chunks[-1] = chunks[-1].ljust(1 << 16, b"\0")
            p = b"".join(hashlib.sha256(b"\x04" + c).digest() for c in chunks)
        return p

    def absorb_bytes(self, label, data):
        self._absorb(label, 0, (len(data),), data)

    def absorb_field(self, label, ints, shape):
        self._absorb(label, 1, shape, b"".join((v % R).to_bytes(32, "little") for v in ints))

    def absorb_points(self, label, encodings, shape):
        self._absorb(label, 2, shape, b"".join(encodings))

    def absorb_ints(self, label, vals):
        self._absorb(label, 3, (len(vals),), b"".join(v.to_bytes(8, "big") for v in vals))

    def challenges(self, label, n):
        self.s = hashlib.sha256(b"\x02" + self.s + self._lp(label) + n.to_bytes(4, "big")).digest()
        out = []
        for j in range(n):
            blk = b"".join(
                hashlib.sha256(b"\x03" + self.s + i.to_bytes(4, "big")).digest()
                for i in (2 * j, 2 * j + 1)
            )
            out.append(int.from_bytes(blk[:48], "big") % R)
        return out


def _py_compressed(k: int) -> bytes:
    return compress_G1(py_mul(PY_G1, k)).to_bytes(48, "big")


def _script(t: Transcript, f_vals, pts, raw: bytes):
    """The fixed script, parameterised by what it absorbs; returns all challenges."""
    outs = []
    t = t.begin(b"demo-protocol", [3, 7])
    t = t.absorb_bytes(b"raw", raw)
    c, t = t.challenge(b"c0")
    outs.append(c[None])
    t = t.absorb_field(b"vec", f_vals)
    cs, t = t.challenges(b"c1", 3)
    outs.append(cs)
    t = t.absorb_points(b"pts", pts)
    c, t = t.challenge(b"c2")
    outs.append(c[None])
    return jnp.concatenate(outs), t


def _ref_script(ref: RefTranscript, f_ints, shape, encodings, raw: bytes):
    outs = []
    ref.absorb_bytes(b"protocol", b"demo-protocol")
    ref.absorb_ints(b"shape", [3, 7])
    ref.absorb_bytes(b"raw", raw)
    outs += ref.challenges(b"c0", 1)
    ref.absorb_field(b"vec", f_ints, shape)
    outs += ref.challenges(b"c1", 3)
    ref.absorb_points(b"pts", encodings, (len(encodings),))
    outs += ref.challenges(b"c2", 1)
    return outs


F_INTS = [0, 1, R - 1, 2**255 % R, 123456789, 42]
KS = [1, 2, 987654321]


def _inputs():
    f_vals = field.encode(np.array(F_INTS, dtype=object).reshape(2, 3))
    pts = curve.scalar_mul(curve.generator((3,)), field.encode(KS))
    return f_vals, pts


def test_matches_hashlib_reference():
    f_vals, pts = _inputs()
    got, _ = _script(Transcript.new(b"zkllm-test"), f_vals, pts, b"hello\x00world")
    ref = _ref_script(RefTranscript(b"zkllm-test"), F_INTS, (2, 3),
                      [_py_compressed(k) for k in KS], b"hello\x00world")
    assert [int(v) for v in field.decode(got)] == ref


@pytest.mark.parametrize("n", [1 << 16, (1 << 16) + 1, 3 * (1 << 16) + 7, 2049 * (1 << 16)])
def test_long_payloads_match_the_reference(n):
    """Payloads over 2^16 bytes are absorbed through their chunks' digests (two levels for
    the largest: 2049 digests are themselves over 2^16 bytes); a changed byte in the first or
    last chunk, or one more zero byte, changes the state."""
    data = np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8)
    ref = RefTranscript(b"long")
    ref.absorb_bytes(b"p", data.tobytes())
    t = Transcript.new(b"long")
    got = t.absorb_bytes(b"p", data)
    assert bytes(np.asarray(got.state)) == ref.s
    for i in (0, n - 1):
        bad = data.copy()
        bad[i] ^= 1
        assert bytes(np.asarray(t.absorb_bytes(b"p", bad).state)) != ref.s
    longer = np.concatenate([data, np.zeros(1, np.uint8)])
    assert bytes(np.asarray(t.absorb_bytes(b"p", longer).state)) != ref.s


def test_long_field_payload_matches_the_reference():
    ints = [(7 ** i) % R for i in range(2049)]  # 2049·32 bytes: just over one chunk
    ref = RefTranscript(b"long")
    ref.absorb_field(b"f", ints, (2049,))
    got = Transcript.new(b"long").absorb_field(b"f", field.encode(np.array(ints, dtype=object)))
    assert bytes(np.asarray(got.state)) == ref.s


def test_jit_matches_eager():
    f_vals, pts = _inputs()
    t0 = Transcript.new(b"zkllm-test")
    eager, te = _script(t0, f_vals, pts, b"abc")
    jitted, tj = jax.jit(lambda t, f, p: _script(t, f, p, b"abc"))(t0, f_vals, pts)
    assert np.array_equal(np.asarray(eager), np.asarray(jitted))
    assert np.array_equal(np.asarray(te.state), np.asarray(tj.state))


@pytest.mark.parametrize("which", ["raw", "field", "points", "label", "shape"])
def test_any_changed_byte_changes_every_later_challenge(which):
    f_vals, pts = _inputs()
    t0 = Transcript.new(b"zkllm-test")
    base, _ = _script(t0, f_vals, pts, b"abc")
    if which == "raw":
        got, _ = _script(t0, f_vals, pts, b"abd")
        first = 0
    elif which == "field":
        got, _ = _script(t0, field.add(f_vals, field.ones((2, 3))), pts, b"abc")
        first = 1
    elif which == "points":
        got, _ = _script(t0, f_vals, curve.double(pts), b"abc")
        first = 4
    elif which == "label":
        got, _ = _script(Transcript.new(b"zkllm-tesu"), f_vals, pts, b"abc")
        first = 0
    else:  # same bytes, different shape
        got, _ = _script(t0, f_vals.reshape(3, 2, 8), pts, b"abc")
        first = 1
    base, got = field.decode(base), field.decode(got)
    assert list(base[:first]) == list(got[:first])
    assert all(a != b for a, b in zip(base[first:], got[first:]))


def test_challenge_reduction_is_big_endian_mod_r():
    b = bytes(range(200, 248))
    got = field.decode(bytes_to_field_be(jnp.asarray(np.frombuffer(b, np.uint8))))
    assert got == int.from_bytes(b, "big") % R


def test_bad_inputs_are_named():
    t = Transcript.new(b"x")
    with pytest.raises(TypeError, match="labels"):
        t.absorb_bytes(123, b"a")
    with pytest.raises(ValueError, match="absorb_ints"):
        t.absorb_ints(b"n", [-1])
    with pytest.raises(ValueError, match="n must be"):
        t.challenges(b"c", 0)


def test_mode_is_absorbed_first_and_static():
    f_vals, pts = _inputs()
    zk, _ = _script(Transcript.new(b"zkllm-test"), f_vals, pts, b"abc")
    plain, _ = _script(Transcript.new(b"zkllm-test", zk=False), f_vals, pts, b"abc")
    ref = _ref_script(RefTranscript(b"zkllm-test", zk=False), F_INTS, (2, 3),
                      [_py_compressed(k) for k in KS], b"abc")
    assert [int(v) for v in field.decode(plain)] == ref
    assert all(a != b for a, b in zip(field.decode(zk), field.decode(plain)))
    assert Transcript.new(b"x").zk and not Transcript.new(b"x", zk=False).zk
    with pytest.raises(TypeError, match="zk must be a bool"):
        Transcript.new(b"x", zk=1)


def test_prover_key_is_not_absorbed_and_derives_fresh_randomness():
    import hashlib

    t = Transcript.new(b"x")
    key = prng.fresh()
    keyed = t.with_rng(key)
    assert np.array_equal(np.asarray(keyed.absorb_bytes(b"a", b"1").state),
                          np.asarray(t.absorb_bytes(b"a", b"1").state))
    k1 = keyed.secret_key(0)
    k2 = keyed.absorb_bytes(b"a", b"1").secret_key(0)
    k3 = keyed.secret_key(1)
    k4 = t.with_rng(prng.fresh()).secret_key(0)
    assert len({bytes(np.asarray(k)) for k in (k1, k2, k3, k4)}) == 4
    # the whole 256-bit key and the state enter one SHA-256 (prng.secret)
    want = hashlib.sha256(b"zkllm/prng/secret" + np.asarray(key).astype("<u4").tobytes()
                          + (1).to_bytes(4, "big") + bytes(np.asarray(t.state))).digest()
    assert np.asarray(k3).astype("<u4").tobytes() == want
    with pytest.raises(ValueError, match="with_rng"):
        t.secret_key(0)


def test_fork_and_join_match_the_reference():
    """Branches differ by (label, index); a join absorbs the branches' states in order."""
    import copy

    t = Transcript.new(b"zkllm-test")
    a, b = t.fork(b"layer", 0), t.fork(b"layer", 1)
    ref = RefTranscript(b"zkllm-test")
    ra, rb = copy.deepcopy(ref), copy.deepcopy(ref)
    ra.absorb_ints(b"fork/layer", [0])
    rb.absorb_ints(b"fork/layer", [1])
    assert bytes(np.asarray(a.state)) == ra.s and bytes(np.asarray(b.state)) == rb.s
    assert ra.s != rb.s != bytes(np.asarray(t.fork(b"head", 0).state))
    ref.absorb_bytes(b"join/members", ra.s + rb.s)
    assert bytes(np.asarray(t.join(b"members", [a, b]).state)) == ref.s
    assert bytes(np.asarray(t.join(b"members", [b, a]).state)) != ref.s
    with pytest.raises(ValueError, match="no branches"):
        t.join(b"members", [])


def test_host_hashing_matches_the_jitted_path():
    """A verifier's transcript (no key, host arrays) hashes with hashlib on the host; a keyed
    one runs the jitted native path. Every operation gives the same states and challenges,
    long (chunked) payloads included."""
    rng = np.random.default_rng(5)
    host = Transcript.new(b"zkllm-test/host")
    dev = host.with_rng(jax.random.key(0))
    assert host.on_host() and not dev.on_host()
    pts = curve.generators(3, b"zkllm-test/host-points")
    ops = [
        lambda t: t.absorb_bytes(b"raw", rng_bytes),
        lambda t: t.absorb_bytes(b"long", long_bytes),  # > 2^16 bytes: through chunk digests
        lambda t: t.absorb_field(b"f", field.encode([[1, 2], [R - 1, 12345]])),
        lambda t: t.absorb_field(b"long-f", field.encode(list(range(3000)))),
        lambda t: t.absorb_points(b"p", pts),
        lambda t: t.absorb_points(b"one", pts[1]),
        lambda t: t.absorb_ints(b"shape", [3, 0, 1 << 40]),
        lambda t: t.begin(b"proto", [7]),
        lambda t: t.join(b"j", [t.fork(b"b", 0), t.fork(b"b", 1)]),
    ]
    rng_bytes = rng.integers(0, 256, 77, dtype=np.uint8)
    long_bytes = rng.integers(0, 256, 3 * (1 << 16) + 5, dtype=np.uint8)
    for op in ops:
        host, dev = op(host), op(dev)
        assert np.array_equal(np.asarray(host.state), np.asarray(dev.state))
        for n in (1, 3):
            ch, _ = host.challenges(b"c", n)
            cd, _ = dev.challenges(b"c", n)
            assert np.array_equal(np.asarray(ch), np.asarray(cd))
        c, host = host.challenge(b"x")
        _, dev = dev.challenge(b"x")
        assert np.array_equal(np.asarray(host.state), np.asarray(dev.state))
    assert 0 < field.decode(c) < R


def test_host_hashing_rejects_noncanonical_field_elements():
    """A verifier's host transcript refuses a field element whose limbs are >= r instead of
    absorbing its reduction (the jitted path cannot raise inside its trace)."""
    bad = jnp.asarray(np.stack([np.asarray(field.encode(3)), field._R_LIMBS]))
    host = Transcript.new(b"zkllm-test/host")
    with pytest.raises(ValueError, match=r"non-canonical field element \(limbs >= r\) at index"
                                         r" \(1,\)"):
        host.absorb_field(b"f", bad)
    host.absorb_field(b"f", bad[:1])  # the canonical row alone is absorbed


@pytest.mark.parametrize("shape,n", [((1,), 1), ((4,), 1), ((2, 3), 3), ((2048,), 2), ((2049,), 1)])
def test_fused_absorb_challenges_matches_the_two_steps(shape, n):
    """`absorb_challenges` (off the host: one `zk_transcript_step` call, eager or jitted) gives
    the state and challenges of `absorb_field` then `challenges` computed with hashlib on the
    host; 2049 elements (over 2^16 bytes) take the two steps. A changed element, label or
    challenge count changes the result."""
    size = int(np.prod(shape))
    ints = [(F_INTS[i % len(F_INTS)] + 7919 * i) % R for i in range(size)]
    x = field.encode(np.array(ints, dtype=object).reshape(shape))
    host = Transcript.new(b"zkllm-test/fused").absorb_ints(b"s", [size])
    dev = host.with_rng(jax.random.key(1))
    want_c, want_t = host.absorb_field(b"msg", x).challenges(b"ch", n)
    fused = jax.jit(lambda t, v: t.absorb_challenges(b"msg", v, b"ch", n))
    for got_c, got_t in (dev.absorb_challenges(b"msg", x, b"ch", n), fused(dev, x),
                         host.absorb_challenges(b"msg", x, b"ch", n)):
        assert got_c.shape == (n, field.LIMBS)
        np.testing.assert_array_equal(np.asarray(got_c), np.asarray(want_c))
        np.testing.assert_array_equal(np.asarray(got_t.state), np.asarray(want_t.state))
    changed = x.at[(0,) * (x.ndim - 1)].set(field.encode(ints[0] + 1))
    others = [dev.absorb_challenges(b"msg", changed, b"ch", n),
              dev.absorb_challenges(b"msh", x, b"ch", n),
              dev.absorb_challenges(b"msg", x, b"ci", n),
              dev.absorb_challenges(b"msg", x, b"ch", n + 1)]
    for c, t in others:
        assert not np.array_equal(np.asarray(t.state), np.asarray(want_t.state))
        assert not np.array_equal(np.asarray(c[0]), np.asarray(want_c[0]))
