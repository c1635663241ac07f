"""Range checks over columns of different sizes are packed into blocks: honest proofs verify and
give true claims; a wrong packed value, an out-of-range element of a small column and a
tampered block are rejected."""

from __future__ import annotations

from itertools import pairwise

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gadget_harness import T0, assert_holds

from zkllm_jax import field
from zkllm_jax.claims import GadgetError
from zkllm_jax.gadgets import rangecheck
from zkllm_jax.gadgets.rangecheck import PackedLookup, Range

RNG = Range(-(1 << 7), 8)
SHAPES = {"a": (6, 20), "b": (3, 5), "c": (2, 2, 3), "d": (7,), "e": (1,)}


def _cols(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {n: jnp.asarray(rng.integers(-128, 128, s), jnp.int32) for n, s in SHAPES.items()}


def _prove(cols, check_witness=True):
    return rangecheck.prove(cols, dict.fromkeys(cols, RNG), T0, jax.random.PRNGKey(1),
                            check_witness=check_witness)


def test_plan_packs_and_skips():
    plan = rangecheck.packing(list(SHAPES.values()), RNG)
    assert plan is not None and len(plan) < len(SHAPES)
    assert sorted(i for blk in plan for i, _ in blk) == list(range(len(SHAPES)))
    assert rangecheck.packing([(4, 4), (4, 4)], RNG) is None  # equal sizes: nothing to gain
    assert rangecheck.packing(list(SHAPES.values()), Range(1, 4)) is None  # 0 not in range


def test_honest_packed_range_check():
    cols = _cols()
    cl, prfs, t = _prove(cols)
    assert isinstance(prfs[RNG.key], PackedLookup)
    assert_holds(cl, {n: np.asarray(v) for n, v in cols.items()})
    got, tv = rangecheck.verify(SHAPES, dict.fromkeys(SHAPES, RNG), prfs, T0)
    assert np.array_equal(np.asarray(tv.state), np.asarray(t.state))
    for n in SHAPES:
        assert np.array_equal(np.asarray(got[n][0].value), np.asarray(cl[n][0].value))


def test_wrong_packed_value_rejected():
    _, prfs, _ = _prove(_cols())
    p = prfs[RNG.key]
    bad = {RNG.key: p.replace(values=p.values.at[2].set(field.add(p.values[2], field.ones(()))))}
    with pytest.raises(GadgetError) as e:
        rangecheck.verify(SHAPES, dict.fromkeys(SHAPES, RNG), bad, T0)
    assert e.value.check == "packing"


def test_out_of_range_element_in_a_small_column():
    cols = _cols()
    cols["d"] = cols["d"].at[3].set(200)
    with pytest.raises(ValueError, match="d"):
        _prove(cols)
    _, prfs, _ = _prove(cols, check_witness=False)
    with pytest.raises(GadgetError):
        rangecheck.verify(SHAPES, dict.fromkeys(SHAPES, RNG), prfs, T0)


def test_unpacked_proof_where_packing_expected_rejected():
    _, prfs, _ = _prove(_cols())
    with pytest.raises(GadgetError, match="packed"):
        rangecheck.verify(SHAPES, dict.fromkeys(SHAPES, RNG), {RNG.key: prfs[RNG.key].lookup},
                          T0)


# --- chunks: a range longer than 2^MAX_LOOKUP_LOG is proven as several lookups ---------------


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(rangecheck, "MAX_LOOKUP_LOG", 6)  # "a" (2^8 entries) splits in 4 pieces


def test_plan_splits_long_columns_into_chunks(small_chunks):
    chunks, c = rangecheck.plan(list(SHAPES.values()), RNG)
    assert c == 6 and len(chunks) == 5 and all(ch.packed for ch in chunks)
    pieces = [p for ch in chunks for blk in ch.blocks for p in blk]
    assert sorted((p.col, p.piece) for p in pieces) == [(0, j) for j in range(4)] + [
        (i, 0) for i in range(1, 5)]
    for ch in chunks:  # one block per chunk of 2^6 entries, nothing overlapping
        for blk in ch.blocks:
            spans = sorted((p.offset, p.offset + (1 << p.vars)) for p in blk)
            assert all(a[1] <= b[0] for a, b in pairwise(spans)) and spans[-1][1] <= 64
    assert len(rangecheck.plan(list(SHAPES.values()), RNG)[0]) == 5
    with pytest.raises(ValueError, match="lacks 0"):
        rangecheck.plan(list(SHAPES.values()), Range(1, 8))


def test_honest_chunked_range_check(small_chunks):
    cols = _cols(3)
    cl, prfs, t = _prove(cols)
    assert sorted(prfs) == [f"{RNG.key}#{k}" for k in range(5)]
    assert len(cl["a"]) == 4 and all(len(cl[n]) == 1 for n in "bcde")
    assert_holds(cl, {n: np.asarray(v) for n, v in cols.items()})
    got, tv = rangecheck.verify(SHAPES, dict.fromkeys(SHAPES, RNG), prfs, T0)
    assert np.array_equal(np.asarray(tv.state), np.asarray(t.state))
    for n in SHAPES:
        assert len(got[n]) == len(cl[n])
        for g, c in zip(got[n], cl[n]):
            assert np.array_equal(np.asarray(g.value), np.asarray(c.value))
            assert np.array_equal(np.asarray(g.point), np.asarray(c.point))


def test_chunked_tampering_rejected(small_chunks):
    cols = _cols(4)
    _, prfs, _ = _prove(cols)
    shapes, rngs = SHAPES, dict.fromkeys(SHAPES, RNG)
    k1 = f"{RNG.key}#1"
    p = prfs[k1]
    bad = {**prfs, k1: p.replace(values=p.values.at[0].set(field.add(p.values[0], field.ones(()))))}
    with pytest.raises(GadgetError) as e:
        rangecheck.verify(shapes, rngs, bad, T0)
    assert e.value.check == "packing"
    swapped = {**prfs, k1: prfs[f"{RNG.key}#2"], f"{RNG.key}#2": prfs[k1]}
    with pytest.raises(GadgetError):
        rangecheck.verify(shapes, rngs, swapped, T0)
    with pytest.raises(GadgetError, match="expected"):
        rangecheck.verify(shapes, rngs, {k: v for k, v in prfs.items() if k != k1}, T0)
    # an out-of-range element in a piece of the split column
    cols["a"] = cols["a"].at[5, 19].set(300)
    with pytest.raises(ValueError, match="a"):
        _prove(cols)
    _, prfs, _ = _prove(cols, check_witness=False)
    with pytest.raises(GadgetError):
        rangecheck.verify(shapes, rngs, prfs, T0)
