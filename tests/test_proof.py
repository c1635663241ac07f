"""Proof bytes: round trips, a strict parser, and bit flips anywhere rejected by name."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from zkllm_jax import commit, curve, field, proof, sumcheck
from zkllm_jax.commit import OpeningError
from zkllm_jax.proof import ProofFormatError
from zkllm_jax.sumcheck import SumcheckError, SumcheckProof
from zkllm_jax.transcript import Transcript

T0 = Transcript.new(b"zkllm-test", zk=False)  # the flat proof format holds plain proofs


@pytest.fixture(scope="module")
def sc():
    tabs = field.random(jax.random.PRNGKey(1), (2, 16))
    u = field.random(jax.random.PRNGKey(2), (4,))
    fc, prf, _ = sumcheck.prove(tabs, T0, eq_point=u)
    return fc.claim, prf, u


@pytest.fixture(scope="module")
def op():
    gens = commit.setup(8, b"zkllm-test/proof")
    x = jax.random.randint(jax.random.PRNGKey(3), (4, 8), -1000, 1000)
    cm, w = commit.commit(x, gens, jax.random.PRNGKey(4))
    pt = field.random(jax.random.PRNGKey(5), (cm.num_vars,))
    vals, prf, _ = commit.prove_opening([cm], [w], pt, gens, T0, jax.random.PRNGKey(6))
    return gens, cm, pt, vals, prf


def _verify_sc(data, sc):
    claim, _, u = sc
    prf = proof.from_bytes(data, SumcheckProof)
    sumcheck.verify(claim, prf, T0, num_vars=4, num_tables=2, eq_point=u)


def _verify_op(data, op):
    gens, cm, pt, vals, _ = op
    prf = proof.from_bytes(data, commit.OpeningProof)
    commit.verify_opening([cm], pt, vals, prf, gens, T0)


def test_round_trips(sc, op):
    for prf in (sc[1], op[4]):
        data = proof.to_bytes(prf)
        back = proof.from_bytes(data)
        assert type(back) is type(prf)
        assert proof.to_bytes(back) == data
    _verify_sc(proof.to_bytes(sc[1]), sc)
    _verify_op(proof.to_bytes(op[4]), op)


def test_sumcheck_size_formula(sc):
    data = proof.to_bytes(sc[1])
    assert len(data) == proof.header_bytes(SumcheckProof) + 32 * (4 * 4 + 2)


def test_jit_prover_gives_the_same_bytes(sc):
    tabs = field.random(jax.random.PRNGKey(1), (2, 16))
    u = field.random(jax.random.PRNGKey(2), (4,))
    f = jax.jit(lambda t, tr, e: sumcheck.prove(t, tr, eq_point=e))
    assert proof.to_bytes(f(tabs, T0, u)[1]) == proof.to_bytes(sc[1])


def test_truncated_and_extended(sc):
    data = proof.to_bytes(sc[1])
    for cut in (0, 3, 9, 20, len(data) - 1):
        with pytest.raises(ProofFormatError, match="truncated|overruns"):
            proof.from_bytes(data[:cut])
    with pytest.raises(ProofFormatError, match="trailing"):
        proof.from_bytes(data + b"\x00")


def test_header_fields_named(sc, op):
    data = bytearray(proof.to_bytes(sc[1]))
    for pos, name in ((0, "magic"), (5, "version"), (7, "type"), (9, "nfields")):
        bad = bytearray(data)
        bad[pos] ^= 1
        with pytest.raises(ProofFormatError, match=name):
            proof.from_bytes(bytes(bad))
    with pytest.raises(ProofFormatError, match="expected a OpeningProof"):
        proof.from_bytes(bytes(data), commit.OpeningProof)


def test_noncanonical_scalar_rejected(sc):
    data = bytearray(proof.to_bytes(sc[1]))
    off = len(data) - 32  # the last final value
    data[off : off + 32] = (field.R + 5).to_bytes(32, "little")
    with pytest.raises(ProofFormatError, match="canonical"):
        proof.from_bytes(bytes(data))


def test_invalid_point_rejected(op):
    data = bytearray(proof.to_bytes(op[4]))
    start = data.index(b"left") + 4 + 2 + 4
    data[start : start + 48] = b"\xff" * 48
    with pytest.raises(ProofFormatError, match="left.*invalid"):
        proof.from_bytes(bytes(data))


def test_tree_points_decoded_together_errors_in_order(op, sc):
    """The tree parser decodes every G1 payload in one call, yet reports what a leaf-by-leaf
    reading would: the first invalid point by its leaf and offset, and an invalid point before
    a later format error (here a truncation) ahead of that error."""
    tree = {"a": op[4], "b": sc[1], "c": op[4]}
    like = jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), tree)
    data = proof.tree_to_bytes(tree)
    back = proof.tree_from_bytes(data, like)
    assert proof.tree_to_bytes(back) == data
    for k in ("a", "c"):
        assert bool(np.all(np.asarray(curve.eq(back[k].left, op[4].left))))

    def spoil(leaf, ndim):  # the first point of the leaf named `leaf` (ndim batch axes)
        d = bytearray(data)
        at = d.index(leaf.encode()) + len(leaf) + 2 + 4 * ndim
        d[at : at + 48] = b"\xff" * 48
        return d, at

    for leaf, ndim in (("['a'].right", 1), ("['c'].a", 0)):
        d, at = spoil(leaf, ndim)
        with pytest.raises(ProofFormatError, match=r"point 0 is invalid") as e:
            proof.tree_from_bytes(bytes(d), like)
        assert e.value.offset == at and leaf in str(e.value)
    d, at = spoil("['a'].right", 1)
    with pytest.raises(ProofFormatError, match="invalid") as e:
        proof.tree_from_bytes(bytes(d[:-40]), like)
    assert e.value.offset == at
    with pytest.raises(ProofFormatError, match="truncated"):
        proof.tree_from_bytes(data[:-40], like)


def _flip_positions(n, count, seed):
    rng = np.random.default_rng(seed)
    return sorted({int(p) for p in rng.integers(0, 8 * n, size=count)})


@pytest.mark.parametrize("which", ["sumcheck", "opening"])
def test_flipped_bit_anywhere_is_rejected(sc, op, which):
    data = proof.to_bytes(sc[1] if which == "sumcheck" else op[4])
    verify = (lambda d: _verify_sc(d, sc)) if which == "sumcheck" else (lambda d: _verify_op(d, op))
    checks = set()
    for bit in _flip_positions(len(data), 24, seed=len(data)):
        bad = bytearray(data)
        bad[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises((ProofFormatError, SumcheckError, OpeningError)) as e:
            verify(bytes(bad))
        checks.add(getattr(e.value, "check", None) or getattr(e.value, "field", None))
    assert checks  # every flip named a check or a field
