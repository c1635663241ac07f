"""Range checks over columns of different sizes are packed into blocks: honest proofs verify and
give true claims; a wrong packed value, an out-of-range element of a small column and a
tampered block are rejected."""

from __future__ import annotations

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
